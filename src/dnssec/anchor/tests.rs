use std::path::PathBuf;

use hickory_proto::dnssec::TrustAnchors;

use super::*;
use crate::dnssec::testing::name;

/// The IANA root KSKs as Unbound's `root.key` (from unbound-anchor) carries them.
const ROOT_KEYS: &str = "\
; the root zone's key-signing keys
. IN DNSKEY 257 3 8 AwEAAaz/tAm8yTn4Mfeh5eyI96WSVexTBAvkMgJzkKTOiW1vkIbzxeF3+/4RgWOq7HrxRixHlFlExOLAJr5emLvN7SWXgnLh4+B5xQlNVz8Og8kvArMtNROxVQuCaSnIDdD5LKyWbRd2n9WGe2R8PzgCmr3EgVLrjyBxWezF0jLHwVN8efS3rCj/EWgvIWgb9tarpVUDK/b58Da+sqqls3eNbuv7pr+eoZG+SrDK6nWeL3c6H5Apxz7LjVc1uTIdsIXxuOLYA4/ilBmSVIzuDWfdRUfhHdY6+cn8HFRm+2hM8AnXGXws9555KrUB5qihylGa8subX2Nn6UwNR1AkUTV74bU= ; keytag 20326
.	172800	IN	DNSKEY	257 3 8 (
	AwEAAa96jeuknZlaeSrvyAJj6ZHv28hhOKkx3rLGXVaC6rXTsDc449/cidltpkyGwCJNnOAlFNKF2jBosZBU5eeHspaQWOmOElZsjICMQMC3aeHbGiShvZsx4wMYSjH8e7Vrhbu6irwCzVBApESjbUdpWWmEnhathWu1jo+siFUiRAAxm9qyJNg/wOZqqzL/dL/q8PkcRU5oUKEpUge71M3ej2/7CPqpdVwuMoTvoB+ZOT4YeGyxMvHmbrxlFzGOHOijtzN+u1TQNatX2XBuzZNQ1K+s2CXkPIZo7s6JgZyvaBevYtxPvYLw4z9mR7K2vaF18UYH9Z9GNUUeayffKC73PYc=
	) ; KSK-2024, keytag 38696
";

fn file() -> PathBuf {
    PathBuf::from("anchors.key")
}

#[test]
fn builtin_root_anchors_are_the_digests_of_the_iana_keys() {
    let builtin = Anchors::builtin();
    let root = builtin.get(&Name::root()).unwrap();
    let tags: Vec<u16> = root.ds.iter().map(|d| d.key_tag()).collect();
    assert_eq!(tags, [20326, 38696]);
    // hickory compiles in the same two keys as raw public keys: our DS digests must be theirs
    let hickory = TrustAnchors::default();
    for (i, ds) in root.ds.iter().enumerate() {
        let key = DNSKEY::with_flags(257, hickory.get(i).unwrap().clone());
        assert_eq!(key.calculate_key_tag().unwrap(), ds.key_tag());
        assert_eq!(ds.digest().len(), 32);
        assert!(
            ds.covers(&Name::root(), &key).unwrap(),
            "KSK {}",
            ds.key_tag()
        );
    }
    // and the DNSKEY lines of an Unbound root.key give the same key tags
    let parsed = Anchors::parse(ROOT_KEYS, &file()).unwrap();
    let keys = &parsed.get(&Name::root()).unwrap().dnskeys;
    let tags: Vec<u16> = keys
        .iter()
        .map(|k| k.calculate_key_tag().unwrap())
        .collect();
    assert_eq!(tags, [20326, 38696]);
    for (ds, key) in root.ds.iter().zip(keys) {
        assert!(ds.covers(&Name::root(), key).unwrap());
    }
}

#[test]
fn a_file_of_ds_and_dnskey_lines_parses() {
    let text = format!(
        "; trust anchors\n\
         . IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
         \n\
         example.  3600 IN DS 31589 13 2 ( 3490A6806D47F17A34C29E2CE80E8A999FFBE4BE\n\
                                        E6B0E2F6E0E0C2A5E6E0B0D0 )\n\
         example. DS 1 13 4 AAAA\n\
         {ROOT_KEYS}"
    );
    let anchors = Anchors::parse(&text, &file()).unwrap();
    let root = anchors.get(&Name::root()).unwrap();
    assert_eq!((root.ds.len(), root.dnskeys.len()), (1, 2));
    let example = anchors.get(&name("example.")).unwrap();
    assert_eq!(example.ds.len(), 2);
    assert_eq!(example.ds[0].digest().len(), 32);
    assert_eq!(anchors.iter().count(), 2);
}

#[test]
fn errors_name_the_file_and_line() {
    let cases = [
        (
            ". IN DS 20326 8 2 E06D\nexample. IN A 192.0.2.1\n",
            "anchors.key:2: A is not a trust anchor",
        ),
        ("; c\n\n. IN DS 20326 x 2 E06D\n", "anchors.key:3:"),
        (
            "example. IN DNSKEY 256 3 8 AwEAAQ==\n. IN DNSKEY 0 3 8 AwEAAQ==\n",
            "anchors.key:2: DNSKEY without the Zone Key flag",
        ),
        ("; nothing\n", "anchors.key: no DS or DNSKEY records"),
        (
            "\n. IN DS ( 20326 8 2\n E06D\n",
            "anchors.key:2: '(' is never closed",
        ),
        (
            "$INCLUDE other.key\n",
            "anchors.key:1: $INCLUDE is not supported",
        ),
        (" IN DS 1 8 2 AA\n", "anchors.key:1: record has no owner"),
        ("www IN DS 1 8 2\n", "anchors.key:1: bad DS"),
    ];
    for (text, want) in cases {
        let err = Anchors::parse(text, &file()).unwrap_err().to_string();
        assert!(err.starts_with(want), "{err:?} should start with {want:?}");
    }
}

#[test]
fn from_file_reads_and_reports_missing_files() {
    let dir = std::env::temp_dir().join(format!("tern-anchor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("root.key");
    std::fs::write(&path, ROOT_KEYS).unwrap();
    let anchors = Anchors::from_file(&path).unwrap();
    assert_eq!(anchors.get(&Name::root()).unwrap().dnskeys.len(), 2);
    let err = Anchors::from_file(&dir.join("absent.key"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("absent.key: cannot read"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_closest_anchor_above_a_name_is_chosen() {
    let mut anchors = Anchors::builtin();
    let extra = Anchors::parse("$ORIGIN example.\n@ IN DS 1 13 2 AAAA\n", &file()).unwrap();
    anchors.extend(&extra);
    anchors.extend(&Anchors::builtin());
    assert_eq!(anchors.get(&Name::root()).unwrap().ds.len(), 2);
    assert_eq!(
        anchors.closest(&name("www.example.")).unwrap().zone,
        name("example.")
    );
    assert_eq!(
        anchors.closest(&name("example.")).unwrap().zone,
        name("example.")
    );
    assert_eq!(
        anchors.closest(&name("www.example.org.")).unwrap().zone,
        Name::root()
    );
    assert!(extra.closest(&name("org.")).is_none());
    assert!(Anchors::default().is_empty());
}

#[test]
fn only_ds_and_dnskey_records_of_the_zone_join_an_anchor() {
    let mut anchor = TrustAnchor::new(&name("example."));
    let ds = Anchors::parse("example. IN DS 1 13 2 AAAA\n", &file()).unwrap();
    let record = Record::from_rdata(
        name("example."),
        0,
        ds.get(&name("example.")).unwrap().ds[0]
            .clone()
            .into_rdata(),
    );
    assert!(anchor.add(&record));
    assert!(anchor.add(&record)); // twice is once
    assert_eq!(anchor.ds.len(), 1);
    let mut elsewhere = record.clone();
    elsewhere.name = name("other.");
    assert!(!anchor.add(&elsewhere));
}
