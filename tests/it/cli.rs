//! The binary: JSON output and one-line errors with a non-zero exit code.

use std::process::Command;

fn mammolab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mammolab"))
        .args(args)
        .output()
        .expect("run mammolab")
}

#[test]
fn synth_json_and_manifest_check() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let o = mammolab(&[
        "synth",
        "--profile",
        "ci",
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "3",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["profile"], "ci");
    assert_eq!(v["seed"], 3);
    assert_eq!(v["counts"]["cancer_rows"], 30);
    assert!(v["seconds"].as_f64().unwrap() > 0.0);
    let m = out.join("manifest.toml");
    let o = mammolab(&["manifest", m.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["checksums_verified"], 2);
}

#[test]
fn bad_input_is_one_line_on_stderr_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "schema = 1\n[cohort\n").unwrap();
    for args in [
        vec!["manifest", missing.to_str().unwrap()],
        vec!["manifest", bad.to_str().unwrap()],
        vec![
            "synth",
            "--profile",
            "ci",
            "--out",
            env!("CARGO_MANIFEST_DIR"),
        ],
    ] {
        let o = mammolab(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(o.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // The cause is said once (it used to be repeated after the message).
    let o = mammolab(&["manifest", missing.to_str().unwrap()]);
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
    let o = mammolab(&["synth", "--profile", "huge", "--out", "x"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("ci, default, large"));
}
