//! What the notebooks rely on: the redactor, environment parameters, the merge's summary
//! tables, the prepared dataset and its pseudonymous predictions.

use std::collections::HashSet;

use mammolab::dataset::{stratified_split, Part};
use mammolab::ingest::merge::{merge, Status};
use mammolab::manifest::Manifest;
use mammolab::model::{History, ModelChoice};
use mammolab::notebook::{Redactor, Setup};
use mammolab::pipeline::{level_summary, prepare, Level, RunOptions};
use mammolab::privacy::pseudonym;
use mammolab::synth::Profile;
use polars::prelude::*;

fn ci_manifest() -> Manifest {
    Manifest::open(crate::ci_cohort().0.path().join("manifest.toml")).unwrap()
}

#[test]
fn redactor_replaces_ids_in_any_case_and_position() {
    let r = Redactor::new(["DIT123", " dit456 "]);
    assert_eq!(r.len(), 2);
    let p = pseudonym("DIT123");
    assert_eq!(r.text("DIT123"), p);
    assert_eq!(r.text(" dit123 "), format!(" {p} "));
    assert_eq!(
        r.text("FILE0004-20141225-112603-DIT123"),
        format!("FILE0004-20141225-112603-{p}")
    );
    assert_eq!(
        r.text("PatientID `dit456` vs `DIT456`"),
        format!("PatientID `{0}` vs `{0}`", pseudonym("DIT456"))
    );
    // A longer token that merely contains an id is not an id.
    assert_eq!(r.text("XDIT123 DIT1234"), "XDIT123 DIT1234");
    // An id holding a non-alphanumeric character, inside a longer name (CBIS-DDSM's).
    let cbis = Redactor::new(["P_00001", "P_0001"]);
    assert_eq!(
        cbis.text("Mass-Training_P_00001_LEFT_CC/p_0001"),
        format!(
            "Mass-Training_{}_LEFT_CC/{}",
            pseudonym("P_00001"),
            pseudonym("P_0001")
        )
    );
    let df = df!("key" => ["a-DIT123", "b"], "n" => [1, 2]).unwrap();
    let out = r.frame(&df).unwrap();
    let keys: Vec<String> = out
        .column("key")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.unwrap().to_string())
        .collect();
    assert_eq!(keys, vec![format!("a-{p}"), "b".to_string()]);
    assert_eq!(out.column("n").unwrap(), df.column("n").unwrap());
}

/// Executed notebooks must not show a patient id of the cohort: every id of the ground truth
/// and of the workbooks' rows is gone from the redacted audit.
#[test]
fn redacted_audit_holds_no_patient_id() {
    let m = ci_manifest();
    let r = merge(&m).unwrap();
    let redact = r.redactor();
    let ids: HashSet<String> = r
        .records
        .iter()
        .map(|rec| rec.patient_id.clone())
        .filter(|id| !id.is_empty())
        .collect();
    assert!(ids.len() > 300, "{} ids", ids.len());
    let audit = redact.frame(&r.audit_frame().unwrap()).unwrap();
    let mut text = String::new();
    for c in audit.columns() {
        if let Ok(s) = c.str() {
            for v in s.iter().flatten() {
                text.push_str(&v.to_uppercase());
                text.push('\n');
            }
        }
    }
    for id in &ids {
        assert!(
            !text.contains(id.as_str()),
            "{id} left in the redacted audit"
        );
    }
    assert!(text.contains("P-"), "pseudonyms present");
}

#[test]
fn status_frame_counts_every_audit_line() {
    let m = ci_manifest();
    let r = merge(&m).unwrap();
    let f = r.status_frame().unwrap();
    let total: u32 = f.column("total").unwrap().u32().unwrap().sum().unwrap();
    assert_eq!(total as usize, r.audit.len());
    let sheets: Vec<&str> = f
        .column("sheet")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    let cancer = sheets.iter().position(|s| *s == "Cancer").unwrap();
    let exact = f
        .column("exact")
        .unwrap()
        .u32()
        .unwrap()
        .get(cancer)
        .unwrap();
    // seed 001's exact UniqueKey join on the ci cohort: 17 of 30 (README table).
    assert_eq!(exact, 17);
    let unmatched = r.audit_frame_of(&[Status::Unmatched]).unwrap();
    let n = r
        .audit
        .iter()
        .filter(|e| e.status == Status::Unmatched)
        .count();
    assert_eq!(unmatched.height(), n);
    assert!(n > 0);
}

#[test]
fn setup_reads_the_environment_with_one_line_errors() {
    // One test touches these variables, so parallel tests do not race on them.
    std::env::set_var("MAMMOLAB_PROFILE", "ci");
    std::env::set_var("MAMMOLAB_DEVICE", "cpu");
    std::env::set_var("MAMMOLAB_DATA", "/tmp/somewhere");
    // The key file Setup installs, made on first use (not the user's own).
    let key_dir = tempfile::tempdir().unwrap();
    let key = key_dir.path().join("pseudonym.key");
    std::env::set_var("MAMMOLAB_KEY", &key);
    let s = Setup::from_env().unwrap();
    assert!(key.is_file(), "Setup made the pseudonym key");
    assert_eq!(s.profile, Profile::Ci);
    assert_eq!(s.data, std::path::PathBuf::from("/tmp/somewhere"));
    assert_eq!(s.run_options(ModelChoice::Cnn).train().epochs, s.epochs());
    std::env::set_var("MAMMOLAB_PROFILE", "huge");
    let e = Setup::from_env().unwrap_err().to_string();
    assert!(e.contains("MAMMOLAB_PROFILE") && e.contains("huge"), "{e}");
    assert!(!e.contains('\n'));
    std::env::set_var("MAMMOLAB_PROFILE", "ci");
    std::env::set_var("MAMMOLAB_DEVICE", "tpu");
    let e = Setup::from_env().unwrap_err().to_string();
    assert!(e.contains("MAMMOLAB_DEVICE") && e.contains("tpu"), "{e}");
    std::env::remove_var("MAMMOLAB_DATA");
    std::env::remove_var("MAMMOLAB_DEVICE");
    std::env::remove_var("MAMMOLAB_PROFILE");
    let s = Setup::from_env().unwrap();
    assert_eq!(s.profile, Profile::Default);
    assert!(s.data.ends_with("data/synthetic-default"), "{:?}", s.data);
}

/// `prepare` splits by patient, its tensors decode back to [0, 1] images, and its prediction
/// table carries pseudonyms that roll up by breast and patient.
#[test]
fn prepared_cohort_and_pseudonymous_predictions() {
    let m = ci_manifest();
    let o = RunOptions::new(ModelChoice::Cnn).with_size(16);
    let d = prepare(&m, &o).unwrap();
    assert_eq!(d.input_shape(), [1, 16, 16]);
    assert_eq!(d.classes.names(), ["normal", "cancer"]);
    assert_eq!(d.positive().unwrap(), 1);
    let parts = d.part_counts();
    let n: usize = parts.iter().flat_map(|p| p.images.iter()).sum();
    assert_eq!(n, d.items.len());
    let test: HashSet<String> = d.pseudonyms(&d.split.test).into_iter().collect();
    let train: HashSet<String> = d.pseudonyms(&d.split.train).into_iter().collect();
    assert!(test.is_disjoint(&train));
    let img = d.image(&d.test(), 0);
    assert_eq!((img.width, img.height), (16, 16));
    assert!(img.pixels.iter().all(|v| v.is_finite()));
    let labels = d.labels(Part::Test).unwrap();
    assert_eq!(labels, d.is_positive(&d.split.test).unwrap());
    let scores: Vec<f64> = labels
        .iter()
        .enumerate()
        .map(|(i, &l)| if l { 0.9 } else { (i % 10) as f64 / 20.0 })
        .collect();
    let p = d.predictions(Part::Test, &scores).unwrap();
    assert_eq!(p.height(), d.split.test.len());
    let patients = p.column("patient").unwrap().str().unwrap();
    assert!(patients.iter().flatten().all(|v| v.starts_with("P-")));
    let ids: HashSet<&str> = d.items.iter().map(|i| i.patient.as_str()).collect();
    assert!(patients.iter().flatten().all(|v| !ids.contains(v)));
    // Scores that rank every cancer first: AUC 1 at every level.
    for level in [Level::Image, Level::Breast, Level::Patient] {
        let s = level_summary(&p, 0.5, level).unwrap();
        assert_eq!(s.roc_auc, 1.0, "{level:?}");
    }
    assert!(d.predictions(Part::Test, &scores[1..]).is_err());

    // The patient split leaks nothing; an image-level split of the same items does.
    let clean = d.leak_of(&d.split).unwrap();
    assert_eq!(clean.shared_patients, 0);
    assert_eq!(clean.test_patients_in_train, 0);
    let classes: Vec<usize> = d.items.iter().map(|i| i.class).collect();
    let naive = stratified_split(&classes, d.options.fractions, 42).unwrap();
    let leak = d.leak_of(&naive).unwrap();
    assert!(
        leak.shared_patients > 0 && leak.test_patients_in_train > 0,
        "{leak:?}"
    );
    // Counted by hand from the items.
    let train: HashSet<&str> = naive
        .train
        .iter()
        .map(|&i| d.items[i].patient.as_str())
        .collect();
    let test: HashSet<&str> = naive
        .test
        .iter()
        .map(|&i| d.items[i].patient.as_str())
        .collect();
    assert_eq!(leak.test_patients, test.len());
    assert_eq!(
        leak.test_patients_in_train,
        test.intersection(&train).count()
    );
}

#[test]
fn history_series_and_comparison_table() {
    let h = History::default();
    assert!(h.series("val_roc_auc").unwrap().is_empty());
    let e = h.series("nope").unwrap_err().to_string();
    assert!(e.contains("nope"), "{e}");
    let a =
        mammolab::eval::BinarySummary::new(&[false, true, true], &[0.1, 0.8, 0.3], 0.5).unwrap();
    let t = mammolab::eval::compare(&[("m", &a), ("n", &a)]).unwrap();
    assert_eq!(t.height(), 2);
    let recall = t.column("recall").unwrap().f64().unwrap().get(0).unwrap();
    assert_eq!(recall, 0.5);
    let tp = t.column("tp").unwrap().u64().unwrap().get(0).unwrap();
    assert_eq!(tp, 1);
}

/// The notebooks' tile helpers on the ci cohort: galleries of one class with pseudonymous
/// captions, the header mismatches the audit found, the planted MONOCHROME1 file.
#[test]
fn tile_helpers_for_the_image_notebooks() {
    use mammolab::dataset::Preprocess;
    use mammolab::notebook::{first_dicom_with, gallery, header_mismatch_tiles};
    let m = ci_manifest();
    let r = merge(&m).unwrap();
    let pre = Preprocess::new(64, 64).with_crop(0.05).with_flip_right();
    let tiles = gallery(&r, "cancer", 8, &pre).unwrap();
    assert_eq!(tiles.len(), 8);
    assert!(tiles
        .iter()
        .all(|t| (t.width, t.height) == (64, 64) && t.caption.starts_with("P-")));
    let ids: HashSet<&str> = r.records.iter().map(|x| x.patient_id.as_str()).collect();
    assert!(tiles
        .iter()
        .all(|t| !ids.iter().any(|id| t.caption.contains(id))));
    let mismatches = r
        .audit
        .iter()
        .filter(|e| e.status == Status::HeaderMismatch && e.file.is_some())
        .count();
    assert!(mismatches > 0);
    assert_eq!(
        header_mismatch_tiles(&r, 4).unwrap().len(),
        mismatches.min(4)
    );
    let m1 = first_dicom_with(&r, "MONOCHROME1").unwrap();
    assert_eq!(m1.info.photometric_interpretation, "MONOCHROME1");
    // Every file is tried (the planted truncated one is passed over): none is palette colour.
    assert!(first_dicom_with(&r, "PALETTE COLOR").is_none());
}
