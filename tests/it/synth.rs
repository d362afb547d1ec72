//! The synthetic cohort: counts, layout, determinism, readability, planted faults.

use std::collections::BTreeSet;
use std::fs;

use dicom_dictionary_std::tags;
use mammolab::manifest::Manifest;
use mammolab::synth::truth::GroundTruth;
use mammolab::synth::{self, Profile, SynthOptions};

use crate::{ci_cohort, files_below};

fn truth(dir: &std::path::Path) -> GroundTruth {
    serde_json::from_slice(&fs::read(dir.join(synth::TRUTH)).unwrap()).unwrap()
}

#[test]
fn ci_counts_follow_the_profile() {
    let (dir, s) = ci_cohort();
    let spec = Profile::Ci.spec();
    let c = &s.counts;
    assert_eq!(c.cancer_rows, spec.cancer_rows);
    assert_eq!(c.non_cancer_rows, spec.non_cancer_rows);
    assert_eq!(c.validation_rows, spec.validation_rows);
    assert_eq!(c.exact_key_matches, spec.exact_matches());
    assert_eq!(
        c.normalised_key_matches,
        spec.exact_matches() + spec.format_faults
    );
    // About 2 % positive, as the notebooks' imbalance lessons need.
    let prevalence = c.cancer_rows as f64 / (c.cancer_rows + c.non_cancer_rows) as f64;
    assert!(
        (0.015..0.025).contains(&prevalence),
        "prevalence {prevalence}"
    );
    // Files on disk agree with the ground truth.
    let files = files_below(dir.path());
    let dcm = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dcm"))
        .count();
    let jpg = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .count();
    assert_eq!((dcm, jpg), (c.dicom_files, c.jpg_files));
    assert_eq!(s.files, files.len());
    // What `mammolab synth` prints: one line per fact, the counts as generated.
    let text = mammolab::pipeline::report::hospital_cohort(s);
    assert_eq!(text.lines().count(), 6, "{text}");
    assert!(
        text.contains(&format!(
            "exact UniqueKey matches: {} of {} Cancer rows; after normalising keys: {}",
            c.exact_key_matches, c.cancer_rows, c.normalised_key_matches
        )) && text.contains(&format!("{} planted faults", s.faults)),
        "{text}"
    );
}

#[test]
fn default_profile_mirrors_seed_001() {
    // Sizes only (generating the default cohort takes a minute; scripts/main.sh does it).
    let spec = Profile::Default.spec();
    assert_eq!(
        (spec.cancer_rows, spec.non_cancer_rows, spec.validation_rows),
        (105, 4998, 322)
    );
    assert_eq!(spec.exact_matches(), 87);
    assert_eq!(
        mammolab::synth::profile::MAIN_COLUMNS + spec.feature_columns,
        561
    );
    spec.validate().unwrap();
    let large = Profile::Large.spec();
    assert!(large.cancer_rows + large.non_cancer_rows >= 5 * (105 + 4998));
    large.validate().unwrap();
}

#[test]
fn layout_is_the_hospitals() {
    let (dir, _) = ci_cohort();
    let root = dir.path().join("acıbademsana");
    assert!(dir.path().join("datacombined.xlsx").is_file());
    assert!(dir.path().join("data_validation_x.xlsx").is_file());
    let cancer: BTreeSet<String> = fs::read_dir(root.join("Cancer"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        cancer,
        BTreeSet::from(["1. kisim".to_string(), "2. kısım".to_string()])
    );
    let batches: Vec<String> = fs::read_dir(root.join("Non-Cancer"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        batches.len(),
        5,
        "1470 images in batches of 300: {batches:?}"
    );
    assert!(batches.iter().all(|b| b.starts_with("batch_")));
}

#[test]
fn every_fault_kind_is_planted_and_on_disk() {
    let (dir, _) = ci_cohort();
    let t = truth(dir.path());
    let kinds: BTreeSet<&str> = t.faults.iter().map(|f| f.kind.as_str()).collect();
    for k in [
        "date_iso_text",
        "date_excel_serial",
        "date_dotted_text",
        "time_colon_text",
        "time_excel_fraction",
        "time_leading_zero",
        "id_whitespace",
        "id_case",
        "file_name_case",
        "no_counterpart",
        "duplicate_key",
        "file_name_whitespace",
        "missing_image",
        "corrupt_dicom",
        "header_mismatch",
        "duplicate_file",
        "patient_in_both_classes",
        "non_ascii_path",
    ] {
        assert!(
            kinds.contains(k),
            "fault kind {k} missing from ground truth"
        );
    }
    for f in &t.faults {
        match f.kind.as_str() {
            "missing_image" => {
                for p in &f.files {
                    assert!(!dir.path().join(p).exists(), "{p} should be missing");
                }
            }
            "duplicate_file" | "non_ascii_path" => {
                for p in &f.files {
                    assert!(dir.path().join(p).exists(), "{p} should exist");
                }
            }
            "corrupt_dicom" => {
                let p = dir.path().join(&f.files[0]);
                let err = dicom_object::open_file(&p)
                    .map_err(|e| e.to_string())
                    .and_then(|o| {
                        o.element(tags::PIXEL_DATA)
                            .map(|_| ())
                            .map_err(|e| e.to_string())
                    });
                assert!(
                    err.is_err(),
                    "truncated DICOM {} should not read fully",
                    p.display()
                );
            }
            "duplicate_key" => assert_eq!(f.cells.len(), 2, "{f:?}"),
            _ => {}
        }
        assert!(
            f.cells.iter().all(|c| c.row >= 2),
            "row numbers count the header as 1: {f:?}"
        );
    }
    // Both classes: at least one patient id appears as cancer and as normal.
    let both = t
        .faults
        .iter()
        .find(|f| f.kind == "patient_in_both_classes")
        .unwrap();
    let sheets: BTreeSet<&str> = both.cells.iter().map(|c| c.sheet.as_str()).collect();
    assert_eq!(sheets, BTreeSet::from(["Cancer", "Non-Cancer"]));
}

#[test]
fn dicom_headers_agree_with_the_ground_truth() {
    let (dir, _) = ci_cohort();
    let t = truth(dir.path());
    let skip: BTreeSet<&str> = t
        .faults
        .iter()
        .filter(|f| matches!(f.kind.as_str(), "missing_image" | "corrupt_dicom"))
        .flat_map(|f| f.files.iter().map(String::as_str))
        .collect();
    let mismatch: BTreeSet<&str> = t
        .faults
        .iter()
        .filter(|f| f.kind == "header_mismatch")
        .flat_map(|f| f.files.iter().map(String::as_str))
        .collect();
    let mut seen_m1 = 0;
    for img in t.images.iter().step_by(7) {
        if skip.contains(img.dicom.as_str()) {
            continue;
        }
        let obj = dicom_object::open_file(dir.path().join(&img.dicom)).unwrap();
        let get = |tag| {
            obj.element(tag)
                .unwrap()
                .to_str()
                .unwrap()
                .trim()
                .to_string()
        };
        assert_eq!(get(tags::MODALITY), "MG");
        assert_eq!(get(tags::PATIENT_ID), img.patient_id);
        assert_eq!(get(tags::ACCESSION_NUMBER), img.accession_number);
        assert_eq!(get(tags::PATIENT_BIRTH_DATE), img.birth_date);
        assert_eq!(get(tags::STUDY_DATE), img.study_date);
        assert_eq!(get(tags::VIEW_POSITION), img.view);
        assert_eq!(get(tags::PHOTOMETRIC_INTERPRETATION), img.photometric);
        if !mismatch.contains(img.dicom.as_str()) {
            assert_eq!(get(tags::IMAGE_LATERALITY), img.laterality);
        }
        assert_eq!(
            obj.element(tags::BITS_ALLOCATED)
                .unwrap()
                .to_int::<u16>()
                .unwrap(),
            16
        );
        let rows = obj.element(tags::ROWS).unwrap().to_int::<usize>().unwrap();
        let cols = obj
            .element(tags::COLUMNS)
            .unwrap()
            .to_int::<usize>()
            .unwrap();
        assert_eq!((rows, cols), (256, 208));
        let pixels = obj.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap();
        assert_eq!(pixels.len(), rows * cols * 2);
        seen_m1 += usize::from(img.photometric == "MONOCHROME1");
        // The JPG export decodes to the same size.
        let jpg = image::open(dir.path().join(&img.jpg)).unwrap();
        assert_eq!((jpg.height() as usize, jpg.width() as usize), (rows, cols));
    }
    assert!(seen_m1 > 0, "some images must be MONOCHROME1");
}

#[test]
fn cohort_manifest_verifies_and_catches_tampering() {
    let (dir, _) = ci_cohort();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    m.verify().unwrap();
    assert_eq!(m.synth.as_ref().unwrap().profile, "ci");

    // A copy with one byte changed in a workbook fails with a one-line checksum error.
    let copy = tempfile::tempdir().unwrap();
    for name in [
        synth::COMBINED,
        synth::LISTING,
        synth::TRUTH,
        synth::MANIFEST,
    ] {
        fs::copy(dir.path().join(name), copy.path().join(name)).unwrap();
    }
    fs::create_dir_all(copy.path().join("acıbademsana/Cancer")).unwrap();
    fs::create_dir_all(copy.path().join("acıbademsana/Non-Cancer")).unwrap();
    Manifest::open(copy.path().join(synth::MANIFEST))
        .unwrap()
        .verify()
        .unwrap();
    let listing = copy.path().join(synth::LISTING);
    let mut bytes = fs::read(&listing).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&listing, bytes).unwrap();
    let verify_error = || {
        Manifest::open(copy.path().join(synth::MANIFEST))
            .unwrap()
            .verify()
            .unwrap_err()
            .to_string()
    };
    let err = verify_error();
    assert!(
        err.contains("data_validation_x.xlsx") && err.contains("sha256"),
        "{err}"
    );
    assert!(!err.contains('\n'));
    // A missing table names the file.
    fs::remove_file(&listing).unwrap();
    let err = verify_error();
    assert!(
        err.contains("data_validation_x.xlsx") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let (dir, _) = ci_cohort();
    let again = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| synth::generate(&SynthOptions::new(Profile::Ci), again.path()))
        .unwrap();
    let a = files_below(dir.path());
    assert_eq!(a, files_below(again.path()));
    for f in &a {
        let (x, y) = (
            fs::read(dir.path().join(f)).unwrap(),
            fs::read(again.path().join(f)).unwrap(),
        );
        assert!(
            x == y,
            "{} differs between two runs with seed 1",
            f.display()
        );
    }
}

#[test]
fn committed_ci_manifest_pins_the_bytes() {
    // data-manifests/synthetic-ci.toml records the sha256 of the ci cohort (seed 1). A change
    // to the generator that changes any table must update it on purpose:
    //   mammolab synth --profile ci --out /tmp/ci && cp /tmp/ci/manifest.toml data-manifests/synthetic-ci.toml
    // (then restore its comment header).
    let (dir, _) = ci_cohort();
    let committed = Manifest::open(crate::repo().join("data-manifests/synthetic-ci.toml")).unwrap();
    let fresh = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    assert_eq!(committed.tables, fresh.tables, "ci cohort bytes changed");
    assert_eq!(committed.synth, fresh.synth);
    assert_eq!(committed.classes, fresh.classes);
}

#[test]
fn other_seed_other_cohort_and_refuses_a_non_empty_folder() {
    let a = tempfile::tempdir().unwrap();
    let err =
        synth::generate(&SynthOptions::new(Profile::Ci), &crate::repo().join("src")).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    let opts = SynthOptions::new(Profile::Ci)
        .with_seed(2)
        .with_conspicuity(0.5);
    let s = synth::generate(&opts, a.path()).unwrap();
    assert_eq!(s.counts.cancer_rows, 30);
    let (ci, _) = ci_cohort();
    assert_ne!(
        fs::read(a.path().join(synth::COMBINED)).unwrap(),
        fs::read(ci.path().join(synth::COMBINED)).unwrap()
    );
    // --force replaces only what synth wrote.
    fs::write(a.path().join("notes.txt"), "keep me").unwrap();
    synth::generate(&opts.clone().with_overwrite(true), a.path()).unwrap();
    assert!(a.path().join("notes.txt").exists());
    let bad = SynthOptions::new(Profile::Ci).with_conspicuity(-1.0);
    let err = synth::generate(&bad, tempfile::tempdir().unwrap().path()).unwrap_err();
    assert!(err.to_string().contains("conspicuity"), "{err}");
}
