//! Review probe: `notify_key`, the TSIG key a zone signs its NOTIFYs with, is read for primary
//! and secondary zones alike and checked against the `[[tsig_key]]` files as `transfer_key` is.

use super::*;
use crate::testing::Scratch;

const KEY: &str = "key \"notify-key\" {\n\talgorithm hmac-sha256;\n\t\
                   secret \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\";\n};\n";

fn replication(dir: &Scratch, zones: &str) -> Result<Replication, String> {
    std::fs::write(dir.join("k.key"), KEY).expect("key file");
    let text = format!("[[tsig_key]]\nfile = \"k.key\"\n{zones}");
    std::fs::write(dir.join("tern.toml"), text).expect("config");
    let config = Config::from_file(&dir.join("tern.toml")).map_err(|e| e.to_string())?;
    let keyring = config.keyring().map_err(|e| e.to_string())?;
    config.replication(&keyring).map_err(|e| e.to_string())
}

#[test]
fn notify_key_is_read_and_checked() {
    let dir = Scratch::new("rv-auth2-notify-key");
    let r = replication(
        &dir,
        "[[zone]]\norigin = \"p.test.\"\nfile = \"p.zone\"\nnotify = [\"127.0.0.212\"]\n\
         notify_key = \"notify-key\"\n\
         [[zone]]\norigin = \"s.test.\"\nfile = \"s.zone\"\nprimaries = [\"127.0.0.211\"]\n\
         notify = [\"127.0.0.214\"]\nnotify_key = \"notify-key\"\n\
         [[zone]]\norigin = \"u.test.\"\nfile = \"u.zone\"\nnotify = [\"127.0.0.215\"]\n",
    )
    .expect("valid");
    let keys: Vec<(String, Option<String>)> = r
        .announced()
        .iter()
        .map(|z| {
            let key = z.notify_key.as_ref().map(|k| k.name().to_ascii());
            (z.origin.to_ascii(), key)
        })
        .collect();
    let signed = Some("notify-key.".to_string());
    assert_eq!(
        keys,
        [
            ("p.test.".to_string(), signed.clone()),
            ("u.test.".to_string(), None),
            ("s.test.".to_string(), signed),
        ]
    );

    for (zone, why) in [
        (
            "notify = [\"127.0.0.212\"]\nnotify_key = \"nokey\"\n",
            "key nokey is in no [[tsig_key]] file",
        ),
        (
            "notify_key = \"notify-key\"\n",
            "notify_key needs notify targets",
        ),
    ] {
        let err = replication(
            &dir,
            &format!("[[zone]]\norigin = \"z.test.\"\nfile = \"z.zone\"\n{zone}"),
        )
        .expect_err(why);
        assert!(err.contains(why), "{err} (wanted {why})");
    }
}
