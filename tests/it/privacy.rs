//! Keyed pseudonyms: HMAC-SHA256 equal to RFC 4231's test vectors, one key gives one
//! pseudonym per id, another key another, and the key file is made once and kept.

use mammolab::privacy::{default_key_file, hmac_sha256, PseudonymKey};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn hmac_sha256_matches_rfc_4231() {
    // Test cases 1, 2 and 6 of RFC 4231 (6: a key longer than the 64-byte block).
    let cases: [(Vec<u8>, &[u8], &str); 3] = [
        (
            vec![0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?",
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
        ),
    ];
    for (key, msg, want) in cases {
        assert_eq!(hex(&hmac_sha256(&key, msg)), want);
    }
}

#[test]
fn one_key_one_pseudonym_another_key_another() {
    let a = PseudonymKey::from_bytes([1; 32]);
    let b = PseudonymKey::from_bytes([2; 32]);
    let id = "DIT758608684";
    assert_eq!(a.pseudonym(id), a.pseudonym(id));
    assert_ne!(a.pseudonym(id), b.pseudonym(id));
    assert_ne!(a.pseudonym(id), a.pseudonym("DIT758608685"));
    let p = a.pseudonym(id);
    assert!(p.starts_with("P-") && p.len() == 12, "{p}");
    // Not the unkeyed hash that could be reversed by trying every id.
    assert_ne!(
        p,
        format!("P-{}", &mammolab::hash::sha256_bytes(id.as_bytes())[..10])
    );
    assert_eq!(
        format!("{a:?}"),
        "PseudonymKey(..)",
        "Debug never prints the key"
    );
}

#[test]
fn the_key_file_is_made_once_private_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cfg/mammolab/pseudonym.key");
    let k1 = PseudonymKey::load_or_create(&path).unwrap();
    let k2 = PseudonymKey::load_or_create(&path).unwrap();
    assert_eq!(k1, k2);
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by others: {mode:o}");
    }
    let other = PseudonymKey::load_or_create(&dir.path().join("other.key")).unwrap();
    assert_ne!(k1, other, "a new file is a new random key");
    std::fs::write(&path, "not a key\n").unwrap();
    let e = PseudonymKey::load_or_create(&path).unwrap_err().to_string();
    assert!(
        e.contains("pseudonym.key") && e.contains("64 hexadecimal") && !e.contains('\n'),
        "{e}"
    );
}

#[test]
fn key_file_location() {
    let f = |a: Option<&str>, b: Option<&str>, c: Option<&str>| {
        default_key_file(a.map(Into::into), b.map(Into::into), c.map(Into::into))
    };
    assert_eq!(f(Some("/k"), Some("/x"), Some("/h")), Some("/k".into()));
    assert_eq!(
        f(None, Some("/x"), Some("/h")),
        Some("/x/mammolab/pseudonym.key".into())
    );
    assert_eq!(
        f(Some(""), None, Some("/h")),
        Some("/h/.config/mammolab/pseudonym.key".into())
    );
    assert_eq!(f(None, None, None), None);
}

/// Upper-cased runs of letters, digits and `_` in `text`: the tokens an id could be.
fn tokens(text: &str) -> std::collections::HashSet<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|t| !t.is_empty())
        .map(str::to_uppercase)
        .collect()
}

/// The merge's export shows pseudonyms: no patient id of the cohort (the ground truth's, the
/// workbooks' rows' and the merge's own list) is a token of records.csv, the audit tables or
/// summary.json; merged.parquet, the table asked for, is written as merged; with
/// `Ids::Raw` (`merge --raw-ids`) the records carry the ids again.
#[test]
fn the_merge_export_shows_pseudonyms_unless_raw_ids_are_asked_for() {
    use mammolab::ingest::merge::{merge, Ids};
    use mammolab::ingest::sheets::{read_sheet, SheetOptions};
    use polars::prelude::*;

    let root = crate::ci_cohort().0.path();
    let m = mammolab::manifest::Manifest::open(root.join("manifest.toml")).unwrap();
    let r = merge(&m).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("ground_truth.json")).unwrap())
            .unwrap();
    let mut ids: std::collections::HashSet<String> = truth["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["patient_id"].as_str().unwrap().to_uppercase())
        .collect();
    let from_truth = ids.len();
    ids.extend(r.patients.iter().map(|p| p.to_uppercase()));
    assert!(
        from_truth > 50 && ids.len() > from_truth,
        "{from_truth} / {}",
        ids.len()
    );

    let dir = tempfile::tempdir().unwrap();
    let (shown, raw) = (dir.path().join("shown"), dir.path().join("raw"));
    r.write(&shown, Ids::Pseudonyms).unwrap();
    r.write(&raw, Ids::Raw).unwrap();
    let text = |d: &std::path::Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    let xlsx = |d: &std::path::Path| {
        let s = read_sheet(d.join("audit.xlsx"), "audit", &SheetOptions::default()).unwrap();
        let mut t = s.columns.join(",");
        for row in &s.rows {
            for v in row {
                t.push(' ');
                t.push_str(&v.to_text().unwrap_or_default());
            }
        }
        t
    };
    for (name, t) in [
        ("records.csv", text(&shown, "records.csv")),
        ("audit.csv", text(&shown, "audit.csv")),
        ("summary.json", text(&shown, "summary.json")),
        ("audit.xlsx", xlsx(&shown)),
    ] {
        let found = tokens(&t);
        let left: Vec<&String> = found.intersection(&ids).collect();
        assert!(
            left.is_empty(),
            "{name} shows {} ids, e.g. {:?}",
            left.len(),
            left.first()
        );
        assert!(t.contains("P-"), "{name} shows no pseudonym");
    }
    // The audit's parquet copy is the CSV's table.
    let parquet = |p: std::path::PathBuf| {
        ParquetReader::new(std::fs::File::open(p).unwrap())
            .finish()
            .unwrap()
    };
    let audit = parquet(shown.join("audit.parquet"));
    let keys = audit.column("key").unwrap().str().unwrap();
    assert!(keys.iter().flatten().all(|k| tokens(k).is_disjoint(&ids)));
    // merged.parquet is the merged table, ids and all.
    assert!(parquet(shown.join("merged.parquet")).equals_missing(&r.merged));
    // --raw-ids: the workbooks' ids, as merged.
    let records = tokens(&text(&raw, "records.csv"));
    let patients: Vec<&String> = r.records.iter().map(|x| &x.patient_id).collect();
    assert!(patients
        .iter()
        .all(|p| p.is_empty() || records.contains(&p.to_uppercase())));
    assert_eq!(
        text(&raw, "summary.json"),
        serde_json::to_string_pretty(&r.summary).unwrap()
    );
}
