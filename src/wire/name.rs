//! hickory's name comparisons, with its answers, done front to back. Its `==` lowercases
//! byte by byte from the last label (it orders names as RFC 4034 §6.1 does, and equality
//! takes the same walk), and `zone_of` compares labels through a function pointer: some 800
//! and 400 instructions for a four-label name, a dozen times on every cache miss.

use hickory_proto::rr::Name;

/// `a == b` as hickory has it: the same labels, ignoring ASCII case, and both fully
/// qualified or both not.
pub(crate) fn same_name(a: &Name, b: &Name) -> bool {
    a.is_fqdn() == b.is_fqdn()
        && a.len() == b.len()
        && a.iter().len() == b.iter().len()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| x == y || x.eq_ignore_ascii_case(y))
}

/// `zone.zone_of(name)` as hickory has it: `name` is `zone` or below it, ignoring ASCII case
/// (and whether either is fully qualified); the root holds every name.
pub(crate) fn within(name: &Name, zone: &Name) -> bool {
    let (labels, zone_labels) = (name.iter(), zone.iter());
    if zone_labels.len() == 0 {
        return true;
    }
    let Some(skip) = labels.len().checked_sub(zone_labels.len()) else {
        return false;
    };
    labels
        .skip(skip)
        .zip(zone_labels)
        .all(|(x, y)| x == y || x.eq_ignore_ascii_case(y))
}

/// Whether `name` is written `wire` (uncompressed, ending in the root label): the same
/// labels, case and all, checked against bytes already written without encoding the name.
pub(crate) fn spelled(name: &Name, wire: &[u8]) -> bool {
    let mut at = 0;
    for label in name.iter() {
        let end = at + 1 + label.len();
        let same = wire.get(at).map(|&len| usize::from(len)) == Some(label.len())
            && wire.get(at + 1..end) == Some(label);
        if !same {
            return false;
        }
        at = end;
    }
    wire.get(at..) == Some(&[0][..])
}

/// Where the name at `at` in `wire` ends, if it is `name` (ignoring ASCII case) written
/// without compression, as hickory reads a name off the wire: fully qualified. `None` for a
/// pointer, another name, or bytes that do not walk.
pub(crate) fn written_at(wire: &[u8], mut at: usize, name: &Name) -> Option<usize> {
    if !name.is_fqdn() {
        return None;
    }
    for label in name.iter() {
        let len = usize::from(*wire.get(at)?);
        if len != label.len() || len > 63 || len == 0 {
            return None;
        }
        let written = wire.get(at + 1..at + 1 + len)?;
        if !written.eq_ignore_ascii_case(label) {
            return None;
        }
        at += 1 + len;
    }
    (*wire.get(at)? == 0).then_some(at + 1)
}

/// The name at `at` in `wire` in lowercase wire form, compression pointers followed (each
/// strictly backwards, so the walk ends); `None` when it does not walk or is longer than 255
/// octets (RFC 1035 §3.1). Written into `out`, so that nothing is allocated for a name only
/// compared.
pub(crate) fn lowercase_into<'o>(
    wire: &[u8],
    mut at: usize,
    out: &'o mut [u8; 256],
) -> Option<&'o [u8]> {
    let mut written = 0;
    loop {
        let len = *wire.get(at)?;
        match len {
            0 => break,
            l if l & 0xC0 == 0xC0 => {
                let target = usize::from(u16::from_be_bytes([l & 0x3F, *wire.get(at + 1)?]));
                if target >= at {
                    return None;
                }
                at = target;
            }
            l if l < 64 => {
                let label = wire.get(at..at + 1 + usize::from(l))?;
                // The root label's octet must still fit.
                let end = written + label.len();
                out.get_mut(written..end)
                    .filter(|_| end < 256)?
                    .copy_from_slice(label);
                written = end;
                at += label.len();
            }
            _ => return None,
        }
    }
    out[written] = 0;
    let name = &mut out[..=written];
    name.make_ascii_lowercase();
    Some(name)
}

/// How many labels `name` (wire form) has, if `name` is `of` or one of its ancestors, label
/// for label (both lowercase wire form).
pub(crate) fn ancestor_labels(name: &[u8], of: &[u8]) -> Option<usize> {
    let total = super::labels(name).count();
    let mut at = 0;
    loop {
        if of.get(at..) == Some(name) {
            return Some(total);
        }
        let len = usize::from(*of.get(at)?);
        if len == 0 {
            return None;
        }
        at += 1 + len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_as_hickory_does() {
        let names = [
            ".",
            "test.",
            "TEST.",
            "test",
            "a.test.",
            "A.Test.",
            "a.test",
            "b.a.test.",
            "ab.test.",
            "b.test.",
            "a.tesT.",
            "x.y.a.test.",
            "*.a.test.",
            "a.b.",
            "",
        ];
        let names = parsed(&names);
        for a in &names {
            for b in &names {
                assert_eq!(same_name(a, b), a == b, "{a:?} == {b:?}");
                assert_eq!(within(a, b), b.zone_of(a), "{a:?} within {b:?}");
            }
        }
    }

    fn parsed(names: &[&str]) -> Vec<Name> {
        names
            .iter()
            .map(|n| Name::from_ascii(n).expect("name"))
            .collect()
    }

    #[test]
    fn a_name_written_out_is_read_as_hickory_reads_it() {
        use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable};
        let names = [
            "a.test.",
            "A.Test.",
            "b.a.test.",
            "test.",
            ".",
            "a.test",
            "ab.test.",
        ];
        let names = parsed(&names);
        for written in names.iter().filter(|n| n.is_fqdn()) {
            let mut wire = vec![7, 7];
            wire.extend(written.to_bytes().expect("encodes"));
            wire.push(9);
            let read = Name::read(&mut BinDecoder::new(&wire[2..])).expect("reads");
            for name in &names {
                let end = written_at(&wire, 2, name);
                assert_eq!(end.is_some(), same_name(&read, name), "{written} as {name}");
                assert!(end.is_none_or(|end| end == wire.len() - 1));
            }
        }
        let lowercase_at =
            |wire: &[u8], at| lowercase_into(wire, at, &mut [0; 256]).map(<[u8]>::to_vec);
        // Read with its pointers followed and lowercased, the name is hickory's, and the
        // question's ancestors are known by their label counts.
        let mut wire = vec![0; 12];
        wire.extend(
            Name::from_ascii("B.a.Test.")
                .expect("name")
                .to_bytes()
                .expect("encodes"),
        );
        wire.extend([3, b'N', b's', b'1', 0xC0, 14, 0xC0, 14]);
        let ns1 = lowercase_at(&wire, 22).expect("walks");
        assert_eq!(ns1, b"\x03ns1\x01a\x04test\x00");
        let apex = lowercase_at(&wire, 28).expect("walks");
        assert_eq!(
            ancestor_labels(&apex, &lowercase_at(&wire, 12).expect("q")),
            Some(2)
        );
        assert_eq!(
            ancestor_labels(&ns1, &lowercase_at(&wire, 12).expect("q")),
            None
        );
        assert_eq!(ancestor_labels(b"\x00", &ns1), Some(0));
        assert_eq!(lowercase_at(&[0xC0, 0], 0), None, "a pointer to itself");
        assert_eq!(lowercase_at(&[0, 0xC0, 2], 1), None, "a pointer forwards");
        let long: Vec<u8> = (0..5).flat_map(|_| [63; 64]).collect();
        assert_eq!(lowercase_at(&long, 0), None, "past 255 octets");
        // A pointer, or a name cut short, is not the name.
        let name = Name::from_ascii("a.test.").expect("name");
        assert_eq!(written_at(&[0xC0, 12], 0, &name), None);
        assert_eq!(written_at(&[1, b'a', 4, b't', b'e'], 0, &name), None);
    }
}
