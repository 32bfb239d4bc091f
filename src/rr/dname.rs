//! DNAME (RFC 6672) records. hickory-proto 0.26 has no typed DNAME RDATA, so tern keeps them as
//! RFC 3597 opaque RDATA holding the uncompressed target name (RFC 6672 §2.5 forbids
//! compressing it, so the bytes read off the wire are already in this form).

use hickory_proto::rr::rdata::NULL;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};

use super::label_count;

/// DNAME RDATA pointing at `target`.
pub fn rdata(target: &Name) -> RData {
    // A name always encodes; an empty rdata would only make the record unusable, not unsafe.
    let bytes = target.to_bytes().unwrap_or_default();
    RData::Unknown {
        code: RecordType::DNAME,
        rdata: NULL::with(bytes),
    }
}

/// The target of a DNAME record, or `None` if the record is not a well-formed DNAME.
pub(crate) fn target(record: &Record) -> Option<Name> {
    match &record.data {
        RData::Unknown { code, rdata } if *code == RecordType::DNAME => {
            let bytes = &rdata.anything;
            let mut decoder = BinDecoder::new(bytes);
            let name = Name::read(&mut decoder).ok()?;
            decoder.is_empty().then_some(name)
        }
        _ => None,
    }
}

/// A DNAME substitution whose result would exceed 255 octets (RFC 6672 §2.2: YXDOMAIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("DNAME substitution is longer than 255 octets")]
pub(crate) struct NameTooLong;

/// RFC 6672 §2.2: replace the `owner` suffix of `qname` with `target`.
pub(crate) fn substitute(qname: &Name, owner: &Name, target: &Name) -> Result<Name, NameTooLong> {
    let keep = label_count(qname).saturating_sub(label_count(owner));
    let prefix = Name::from_labels(qname.iter().take(keep)).map_err(|_| NameTooLong)?;
    let mut out = prefix.append_name(target).map_err(|_| NameTooLong)?;
    out.set_fqdn(true);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_replaces_suffix() {
        let q = Name::from_ascii("a.b.old.example.").expect("name");
        let o = Name::from_ascii("old.example.").expect("name");
        let t = Name::from_ascii("new.test.").expect("name");
        assert_eq!(
            substitute(&q, &o, &t),
            Ok(Name::from_ascii("a.b.new.test.").expect("name"))
        );
    }

    #[test]
    fn overlong_substitution_fails() {
        let prefix = vec!["a".repeat(60); 3].join(".");
        let q = Name::from_ascii(format!("{prefix}.o.test.")).expect("name");
        let o = Name::from_ascii("o.test.").expect("name");
        let t =
            Name::from_ascii(format!("{}.test.", vec!["b".repeat(60); 2].join("."))).expect("name");
        assert_eq!(substitute(&q, &o, &t), Err(NameTooLong));
    }

    #[test]
    fn rdata_round_trips() {
        let t = Name::from_ascii("target.test.").expect("name");
        let rec = Record::from_rdata(Name::from_ascii("o.test.").expect("name"), 60, rdata(&t));
        assert_eq!(target(&rec), Some(t));
    }
}
