//! The binary: JSON output and one-line errors with a non-zero exit code.

use std::process::Command;

fn mammolab(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mammolab"))
        .args(args)
        .output()
        .expect("run mammolab")
}

/// `train` on the ci cohort at 32 px without an image cache, into `out` (epochs and other
/// options added by the caller).
fn ci_train(out: &std::path::Path) -> Vec<String> {
    let cohort = crate::ci_cohort().0.path().join("manifest.toml");
    [
        "train",
        "--manifest",
        cohort.to_str().unwrap(),
        "--size",
        "32",
        "--cache",
        "none",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn synth_cbis_ddsm_twin_and_its_scale_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cbis");
    let out_s = out.to_str().unwrap();
    let o = mammolab(&[
        "synth",
        "--profile",
        "cbis-ddsm",
        "--scale",
        "ci",
        "--out",
        out_s,
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["profile"], "cbis-ddsm-ci");
    assert_eq!(
        v["counts"]["csv_rows"]["calc_case_description_test_set.csv"],
        8
    );
    let m = out.join("manifest.toml");
    let o = mammolab(&["manifest", m.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["checksums_verified"], 4);
    for (args, says) in [
        (
            vec!["--profile", "ci", "--scale", "ci"],
            "names a scale already",
        ),
        (
            vec!["--profile", "cbis-ddsm", "--scale", "large"],
            "scales ci and default",
        ),
    ] {
        let other = dir.path().join("other");
        let mut all = vec!["synth", "--out", other.to_str().unwrap()];
        all.extend(args);
        let o = mammolab(&all);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says) && err.lines().count() == 1, "{err}");
    }
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

/// `train --model vae --vae ...` trains the VAE those settings describe (saved in the
/// checkpoint's config and in run.json); for another model, or a shape the image size cannot
/// take, it is one line before any image is read.
#[test]
fn train_takes_vae_settings() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let base = ci_train(&out);
    let train = |extra: &[&str]| mammolab(&[&strs(&base)[..], &["--epochs", "2"], extra].concat());
    let r = train(&[
        "--model",
        "vae",
        "--vae",
        "latent=4,kl_warmup=2,class_weight=300",
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let config: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("checkpoint/config.json")).unwrap())
            .unwrap();
    let m = &config["model"];
    assert_eq!(
        (
            &m["latent"],
            &m["kl_warmup"],
            &m["class_weight"],
            &m["beta"]
        ),
        (
            &serde_json::json!(4),
            &serde_json::json!(2),
            &serde_json::json!(300.0),
            &serde_json::json!(1.0)
        ),
        "{config}"
    );
    let info: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["options"]["vae"]["latent"], 4, "{info}");
    // --resume takes every option from the interrupted run; the error names the one given.
    let r = mammolab(&[
        "train",
        "--resume",
        "--out",
        out.to_str().unwrap(),
        "--vae",
        "latent=4",
    ]);
    let err = String::from_utf8(r.stderr).unwrap();
    assert_eq!(r.status.code(), Some(2), "{err}");
    assert!(
        err.contains("the argument '--resume' cannot be used with '--vae <SETTINGS>'"),
        "{err}"
    );
    for (extra, says) in [
        (
            &["--vae", "latent=4"][..],
            "VAE settings are for seed 000's CNN-VAE (--model vae), not the cnn model",
        ),
        (
            &["--model", "vae", "--vae", "filters=8-8-8-8-8-8"][..],
            "32 must be a positive multiple of 2^6 = 64",
        ),
        (
            &["--model", "vae", "--vae", "beta=x"][..],
            "beta=`x` is not a number",
        ),
    ] {
        let r = train(extra);
        let err = String::from_utf8(r.stderr).unwrap();
        assert!(
            !r.status.success() && err.contains(says),
            "{extra:?}: {err}"
        );
        // One line (clap adds its "For more information, try '--help'." to a bad value).
        let lines = err.lines().filter(|l| !l.trim().is_empty()).count();
        assert!(lines <= 2, "{extra:?}: {err}");
    }
}

/// `kill -9` during `train` leaves nothing a later command trusts: no `predictions.csv` or
/// `run.json` (written only when the run is complete), a stale lock that the next `train`
/// into the same folder takes over, and `evaluate` says it is not a run in one line.
/// While a process holds the folder, a second writer refuses it.
#[test]
fn killed_train_leaves_nothing_trusted_and_writers_exclude_each_other() {
    use mammolab::outlock::{OutLock, LOCK_NAME};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = out.to_str().unwrap();
    let train = ci_train(&out);
    let args = strs(&train);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mammolab"))
        .args(&args)
        .args(["--epochs", "200"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it while it trains: the lock exists from the start, then merging and decoding
    // take about a second.
    let t = std::time::Instant::now();
    while !out.join(LOCK_NAME).exists() && t.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(3000));
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(
        out.join(LOCK_NAME).exists(),
        "the killed run's lock stays behind"
    );
    for f in ["predictions.csv", "run.json", "metrics.json", "checkpoint"] {
        assert!(
            !out.join(f).exists(),
            "{f} written by a run that did not finish"
        );
    }
    let e = mammolab(&["evaluate", "--run", o]);
    assert_eq!(e.status.code(), Some(1));
    let err = String::from_utf8(e.stderr).unwrap();
    assert!(
        err.lines().count() == 1 && err.contains("not a `mammolab train` run directory"),
        "{err}"
    );

    // Held by a live process (this one): another writer refuses, naming it.
    let held = OutLock::folder(&out).unwrap();
    let r = mammolab(&[&args[..], &["--epochs", "1"]].concat());
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(
        err.lines().count() == 1
            && err.contains(&format!(
                "another mammolab (process {})",
                std::process::id()
            )),
        "{err}"
    );
    drop(held);

    // Free again: a complete run, and no lock left behind.
    let r = mammolab(&[&args[..], &["--epochs", "1"]].concat());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(out.join("predictions.csv").is_file() && !out.join(LOCK_NAME).exists());
}

/// `kill -9` after a run's first epoch, then `train --resume`: the run continues from its
/// last complete epoch (`in-progress/checkpoint`) and ends with exactly the weights and test
/// scores of the same run left alone. Resuming a finished run, or with training options of
/// its own, is refused in one line.
#[test]
fn killed_train_resumes_to_the_weights_of_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, cut) = (dir.path().join("whole"), dir.path().join("cut"));
    let args = |out: &std::path::Path| -> Vec<String> {
        let mut a = ci_train(out);
        a.extend(["--epochs", "3"].map(String::from));
        a
    };
    let r = mammolab(&strs(&args(&whole)));
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(
        !whole.join("in-progress").exists(),
        "a finished run keeps no resume state"
    );

    let mut child = Command::new(env!("CARGO_BIN_EXE_mammolab"))
        .args(args(&cut))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let saved = cut.join("in-progress/checkpoint/config.json");
    let t = std::time::Instant::now();
    while !saved.exists() && t.elapsed().as_secs() < 600 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL, right after the first epoch's checkpoint
    child.wait().unwrap();
    assert!(
        !cut.join("run.json").exists(),
        "the killed run had not finished"
    );
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(&saved).unwrap()).unwrap();
    let done = info["history"]["epochs"].as_array().unwrap().len();
    assert!((1..3).contains(&done), "{done} epochs saved");

    let cut_s = cut.to_str().unwrap();
    for (extra, code, says) in [
        (vec!["--epochs", "5"], 2, "cannot be used with"),
        (vec![], 1, "nothing to resume: its run finished"),
    ] {
        let target = if code == 1 {
            whole.to_str().unwrap()
        } else {
            cut_s
        };
        let r = mammolab(&[&["train", "--resume", "--out", target][..], &extra].concat());
        let err = String::from_utf8(r.stderr).unwrap();
        assert_eq!(r.status.code(), Some(code), "{err}");
        assert!(err.contains(says), "{err}");
        if code == 1 {
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
    let r = mammolab(&["train", "--resume", "--out", cut_s]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!cut.join("in-progress").exists());
    // It continued, not started again: the saved epochs' records (their timings) are kept.
    let end: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cut.join("checkpoint/config.json")).unwrap())
            .unwrap();
    let epochs = end["history"]["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    assert_eq!(
        epochs[..done],
        info["history"]["epochs"].as_array().unwrap()[..],
        "the epochs trained before the kill were trained again"
    );
    assert!(
        std::fs::read(whole.join("predictions.csv")).unwrap()
            == std::fs::read(cut.join("predictions.csv")).unwrap(),
        "the resumed run scores the test images differently"
    );
    let f = "checkpoint/model.safetensors";
    assert!(
        tensors(&whole.join(f)) == tensors(&cut.join(f)),
        "the resumed run's weights differ from the uninterrupted run's"
    );
}

/// A safetensors file's tensor table (names, shapes, offsets) and data, bit for bit; the
/// `__metadata__` entry is left out (burn writes its keys in hash-map order, which differs
/// from process to process).
fn tensors(path: &std::path::Path) -> (serde_json::Value, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header.as_object_mut().unwrap().remove("__metadata__");
    (header, bytes[8 + n..].to_vec())
}

/// `mammolab augment` draws each image and its augmented copies into one PNG of the
/// documented size; a bad setting is one line naming it.
#[test]
fn augment_preview_writes_a_montage() {
    let (dir, _) = crate::ci_cohort();
    let mut jpgs: Vec<_> = crate::files_below(dir.path())
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .map(|p| dir.path().join(p))
        .collect();
    jpgs.sort();
    let out = tempfile::tempdir().unwrap();
    let png = out.path().join("aug.png");
    let o = mammolab(&[
        "augment",
        jpgs[0].to_str().unwrap(),
        jpgs[1].to_str().unwrap(),
        "--augment",
        "standard,crop=0.7",
        "--copies",
        "3",
        "--size",
        "64",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("2 images x 3 copies (vflip=0.5,"),
        "{stdout}"
    );
    let img = image::open(&png).unwrap();
    assert_eq!((img.width(), img.height()), (4 * 400, 2 * 420 + 40));
    let o = mammolab(&[
        "augment",
        jpgs[0].to_str().unwrap(),
        "--augment",
        "gamma=5",
        "--out",
        png.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("gamma=5 is not in [0, 2]"), "{err}");
}

/// `kill -9` while `synth` writes its images: the manifest, written last and whole, is
/// missing, so nothing downstream reads the half cohort (`merge` and `manifest` say so in one
/// line); a rerun refuses the non-empty folder unless `--force`, and then writes exactly the
/// cohort an uninterrupted run writes (the same manifest, every checksum right).
#[test]
fn killed_synth_leaves_no_manifest_and_a_forced_rerun_writes_the_whole_cohort() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let o = out.to_str().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mammolab"))
        .args(["synth", "--profile", "ci", "--out", o])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed as soon as the first image file appears (the ci cohort has hundreds).
    let has_image = || {
        out.is_dir()
            && crate::files_below(&out)
                .iter()
                .any(|f| f.extension().is_some_and(|e| e == "dcm" || e == "jpg"))
    };
    let t = std::time::Instant::now();
    while !has_image() && t.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let manifest = out.join("manifest.toml");
    assert!(
        !manifest.exists(),
        "a manifest from a synth that did not finish"
    );
    let m = manifest.to_str().unwrap();
    for args in [
        vec![
            "merge",
            "--manifest",
            m,
            "--out",
            dir.path().join("merge").to_str().unwrap(),
        ],
        vec!["manifest", m],
    ] {
        let r = mammolab(&args);
        assert_eq!(r.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(r.stderr).unwrap();
        assert!(
            err.lines().count() == 1 && err.contains("manifest.toml"),
            "{err}"
        );
    }
    let r = mammolab(&["synth", "--profile", "ci", "--out", o]);
    assert_eq!(r.status.code(), Some(1));
    let err = String::from_utf8(r.stderr).unwrap();
    assert!(
        err.contains("is not empty") && err.contains("--force"),
        "{err}"
    );

    let r = mammolab(&["synth", "--profile", "ci", "--out", o, "--force"]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let whole = crate::ci_cohort().0.path().join("manifest.toml");
    assert_eq!(
        std::fs::read_to_string(&manifest).unwrap(),
        std::fs::read_to_string(whole).unwrap()
    );
    assert_eq!(
        crate::files_below(&out),
        crate::files_below(crate::ci_cohort().0.path())
    );
    assert!(mammolab(&["manifest", m]).status.success());
}

/// While a process holds an output (this test holds it), `synth` and `merge` refuse that
/// folder and `predict` that file, each in one line naming the process; the files already
/// there are left as they were.
#[test]
fn synth_merge_and_predict_refuse_an_output_another_process_writes() {
    use mammolab::outlock::OutLock;
    let dir = tempfile::tempdir().unwrap();
    let cohort = crate::ci_cohort().0.path().join("manifest.toml");
    let held_by = format!("another mammolab (process {})", std::process::id());
    let refuses = |args: &[&str]| {
        let r = mammolab(args);
        assert_eq!(r.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8(r.stderr).unwrap();
        assert!(
            err.lines().count() == 1 && err.contains(&held_by),
            "{args:?}: {err}"
        );
    };
    for (name, args) in [
        ("synth", vec!["synth", "--profile", "ci", "--out"]),
        (
            "merge",
            vec!["merge", "--manifest", cohort.to_str().unwrap(), "--out"],
        ),
    ] {
        let out = dir.path().join(name);
        let _held = OutLock::folder(&out).unwrap();
        refuses(&[&args[..], &[out.to_str().unwrap()]].concat());
        let left: Vec<_> = crate::files_below(&out);
        assert_eq!(left.len(), 1, "{name} wrote {left:?}");
    }
    // predict: the file's lock is taken before the model is even read.
    let scores = dir.path().join("scores.csv");
    let _held = OutLock::file(&scores).unwrap();
    let image = crate::files_below(crate::ci_cohort().0.path())
        .into_iter()
        .find(|f| f.extension().is_some_and(|e| e == "dcm"))
        .unwrap();
    let image = crate::ci_cohort().0.path().join(image);
    refuses(&[
        "predict",
        "--run",
        dir.path().join("no-run").to_str().unwrap(),
        "--out",
        scores.to_str().unwrap(),
        "--images",
        image.to_str().unwrap(),
    ]);
    assert!(!scores.exists());
}
