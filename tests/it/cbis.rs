//! The CBIS-DDSM twin: the published layout, the DICOM as the download stores it, the
//! ground truth against the files, determinism, and the manifest.
//! (tests/python/test_cbis_twin.py reads the same twin with pandas and pydicom.)

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use dicom_dictionary_std::tags;
use mammolab::ingest::dicom::read_image;
use mammolab::manifest::Manifest;
use mammolab::synth::cbis::{self, plan, CbisOptions, CbisSummary};
use mammolab::synth::{self, Profile};

use crate::files_below;

fn twin() -> &'static (tempfile::TempDir, CbisSummary) {
    static TWIN: OnceLock<(tempfile::TempDir, CbisSummary)> = OnceLock::new();
    TWIN.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let s = cbis::generate(&CbisOptions::new(Profile::Ci).unwrap(), dir.path())
            .expect("generate the ci twin");
        (dir, s)
    })
}

fn truth(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join(synth::TRUTH)).unwrap()).unwrap()
}

/// The header line and the data rows of a CSV (rows may hold quoted line breaks).
fn read_csv(path: &Path) -> (String, Vec<Vec<String>>) {
    let text = fs::read_to_string(path).unwrap();
    let (header, body) = text.split_once('\n').unwrap();
    let mut rows = vec![];
    let (mut row, mut cell, mut quoted) = (vec![], String::new(), false);
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    (header.to_string(), rows)
}

#[test]
fn csvs_have_the_published_columns_and_vocabularies() {
    let (dir, s) = twin();
    for (name, columns) in [
        ("mass_case_description_train_set.csv", plan::MASS_COLUMNS),
        ("mass_case_description_test_set.csv", plan::MASS_COLUMNS),
        ("calc_case_description_train_set.csv", plan::CALC_COLUMNS),
        ("calc_case_description_test_set.csv", plan::CALC_COLUMNS),
    ] {
        let (header, rows) = read_csv(&dir.path().join(name));
        assert_eq!(header, columns.join(","), "{name}");
        assert_eq!(rows.len(), s.counts.csv_rows[name], "{name}");
        let mut newline = 0;
        for r in &rows {
            assert_eq!(r.len(), 14, "{name}: {r:?}");
            assert!(r[0].starts_with("P_") && r[0].len() == 7, "{}", r[0]);
            assert!(["1", "2", "3", "4"].contains(&r[1].as_str()));
            assert!(["LEFT", "RIGHT"].contains(&r[2].as_str()));
            assert!(["CC", "MLO"].contains(&r[3].as_str()));
            let expected_type = if name.starts_with("mass") {
                "mass"
            } else {
                "calcification"
            };
            assert_eq!(r[5], expected_type);
            assert!(["MALIGNANT", "BENIGN", "BENIGN_WITHOUT_CALLBACK"].contains(&r[9].as_str()));
            // UID paths: <case>/<study UID>/<series UID>/00000n.dcm, never the TCIA folders.
            let case = format!(
                "{}-{}_{}_{}_{}",
                if name.starts_with("mass") {
                    "Mass"
                } else {
                    "Calc"
                },
                if name.contains("train") {
                    "Training"
                } else {
                    "Test"
                },
                r[0],
                r[2],
                r[3]
            );
            let full: Vec<&str> = r[11].split('/').collect();
            assert_eq!(full.len(), 4);
            assert_eq!(full[0], case);
            assert!(full[1].starts_with("2.25.") && full[2].starts_with("2.25."));
            assert_eq!(full[3], "000000.dcm");
            assert!(r[12].starts_with(&format!("{case}_{}/", r[4])));
            newline += r[13].ends_with('\n') as usize;
        }
        assert!(newline > 0, "{name}: no ROI path ends in a newline");
    }
}

#[test]
fn every_row_names_files_that_exist_and_nothing_else_is_written() {
    let (dir, s) = twin();
    let t = truth(dir.path());
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(rows.len(), s.counts.csv_rows.values().sum::<usize>());
    let mut named = BTreeSet::new();
    for r in rows {
        for k in ["full", "mask", "crop"] {
            let f = r[k].as_str().unwrap();
            assert!(dir.path().join(f).is_file(), "{f}");
            named.insert(f.to_string());
        }
    }
    let on_disk: BTreeSet<String> = files_below(&dir.path().join(plan::DOWNLOAD_ROOT))
        .into_iter()
        .map(|p| format!("{}/{}", plan::DOWNLOAD_ROOT, p.display()))
        .collect();
    assert_eq!(on_disk, named);
    assert_eq!(on_disk.len(), s.counts.dicom_files);
    assert_eq!(
        s.counts.dicom_files,
        s.counts.full_mammograms + 2 * s.counts.roi_series
    );
    assert!(s.counts.crop_series >= 1);
    assert!(on_disk
        .iter()
        .any(|f| f.contains("/1.000000-cropped images-")));
    // Several abnormalities on one film, and one lesion on both views.
    assert!(rows.iter().any(|r| r["abnormality_id"] == 2));
    assert!(s.counts.lesions < rows.len());
}

#[test]
fn dicom_is_stored_as_the_download_stores_it() {
    let (dir, _) = twin();
    let t = truth(dir.path());
    for r in t["rows"].as_array().unwrap().iter().step_by(3) {
        let full = r["full"].as_str().unwrap();
        let obj = dicom_object::open_file(dir.path().join(full)).unwrap();
        assert_eq!(
            obj.meta().transfer_syntax().trim_end_matches('\0'),
            "1.2.840.10008.1.2",
            "{full}: Implicit VR Little Endian"
        );
        let get = |o: &dicom_object::DefaultDicomObject, tag| {
            o.element(tag).unwrap().to_str().unwrap().trim().to_string()
        };
        let case = r["case"].as_str().unwrap();
        assert_eq!(get(&obj, tags::PATIENT_ID), case);
        assert_eq!(get(&obj, tags::SOP_CLASS_UID), "1.2.840.10008.5.1.4.1.1.7");
        assert_eq!(get(&obj, tags::SERIES_DESCRIPTION), "full mammogram images");
        // The folder names end in the last five digits of the study and series UIDs.
        let parts: Vec<&str> = full.split('/').collect();
        let tail = |s: String| s[s.len() - 5..].to_string();
        assert!(parts[2].ends_with(&tail(get(&obj, tags::STUDY_INSTANCE_UID))));
        assert!(parts[3].ends_with(&tail(get(&obj, tags::SERIES_INSTANCE_UID))));

        let img = read_image(dir.path().join(full), 0).unwrap();
        assert_eq!((img.info.rows, img.info.columns), (640, 400));
        assert_eq!(img.info.bits_allocated, 16);
        let mask = read_image(dir.path().join(r["mask"].as_str().unwrap()), 0).unwrap();
        assert_eq!(mask.info.bits_allocated, 8);
        assert_eq!((mask.info.rows, mask.info.columns), (640, 400));
        assert!(mask.stored.iter().all(|&v| v == 0.0 || v == 255.0));
        // The truth's box is the mask's.
        let b: Vec<usize> = r["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let lit: Vec<usize> = (0..mask.stored.len())
            .filter(|&i| mask.stored[i] > 0.0)
            .collect();
        assert_eq!(lit.iter().map(|i| i % 400).min(), Some(b[0]));
        assert_eq!(lit.iter().map(|i| i / 400).min(), Some(b[1]));
        assert_eq!(lit.iter().map(|i| i % 400).max(), Some(b[2] - 1));
        assert_eq!(lit.iter().map(|i| i / 400).max(), Some(b[3] - 1));
        // The crop is 16-bit, holds the box, and its pixels are the full film's.
        let crop = read_image(dir.path().join(r["crop"].as_str().unwrap()), 0).unwrap();
        assert_eq!(crop.info.bits_allocated, 16);
        let (ch, cw) = (crop.info.rows as usize, crop.info.columns as usize);
        assert!(cw >= b[2] - b[0] && ch >= b[3] - b[1]);
        let first = crop.stored[0];
        let at = (0..img.stored.len()).find(|&i| {
            img.stored[i] == first
                && (0..cw.min(8))
                    .all(|k| i + k < img.stored.len() && img.stored[i + k] == crop.stored[k])
        });
        assert!(at.is_some(), "crop of {full} is not cut from it");
    }
}

#[test]
fn same_seed_same_bytes_and_the_manifest_verifies() {
    let (dir, _) = twin();
    let again = tempfile::tempdir().unwrap();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    pool.install(|| cbis::generate(&CbisOptions::new(Profile::Ci).unwrap(), again.path()))
        .unwrap();
    let a = files_below(dir.path());
    assert_eq!(a, files_below(again.path()));
    for f in &a {
        assert!(
            fs::read(dir.path().join(f)).unwrap() == fs::read(again.path().join(f)).unwrap(),
            "{} differs between two runs with seed 1",
            f.display()
        );
    }
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    m.verify().unwrap();
    assert_eq!(m.tables.len(), 4);
    assert_eq!(m.sheets.len(), 4);
    assert_eq!(m.positive_class().unwrap().as_deref(), Some("malignant"));
    // The committed template is the twin's manifest without its checksums and synth block.
    let template = Manifest::open(crate::repo().join("data-manifests/cbis-ddsm.toml")).unwrap();
    let strip = |m: &Manifest| {
        let tables: Vec<_> = m
            .tables
            .iter()
            .map(|t| (t.id.clone(), t.path.clone()))
            .collect();
        (
            tables,
            m.sheets.clone(),
            m.key.clone(),
            m.image_roots.clone(),
            m.classes.clone(),
            m.split.clone(),
        )
    };
    assert_eq!(strip(&template), strip(&m));
    // Refuses a non-empty folder; a large twin is refused.
    let err = cbis::generate(
        &CbisOptions::new(Profile::Ci).unwrap(),
        &crate::repo().join("src"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert!(CbisOptions::new(Profile::Large).is_err());
}

/// A copy of the ci twin to break.
fn twin_copy() -> tempfile::TempDir {
    let (dir, _) = twin();
    let copy = tempfile::tempdir().unwrap();
    for f in files_below(dir.path()) {
        let to = copy.path().join(&f);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(dir.path().join(&f), to).unwrap();
    }
    copy
}

#[test]
fn merge_finds_every_rows_film_mask_and_crop_by_case_folder() {
    let (dir, s) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    let r = mammolab::ingest::merge::merge(&m).unwrap();
    let t = truth(dir.path());
    let rows = t["rows"].as_array().unwrap();
    assert_eq!(r.records.len(), rows.len());
    assert_eq!(r.summary.images.resolved, rows.len());
    // Every CSV row has its audit line; no file is left over; no header contradicts a row
    // (PatientID holds the case folder, TCIA's subject).
    assert!(
        r.audit.iter().all(|a| a.reason.is_empty()),
        "{:?}",
        r.audit.iter().find(|a| !a.reason.is_empty())
    );
    assert_eq!(r.audit.len(), rows.len());
    let shown = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
    };
    for rec in &r.records {
        let truth = rows
            .iter()
            .find(|t| {
                t["csv"].as_str().unwrap().trim_end_matches(".csv") == rec.sheet
                    && t["row"] == rec.row
            })
            .unwrap();
        assert_eq!(shown(&rec.dicom).as_deref(), truth["full"].as_str());
        assert_eq!(shown(&rec.roi_mask).as_deref(), truth["mask"].as_str());
        assert_eq!(shown(&rec.roi_crop).as_deref(), truth["crop"].as_str());
        let malignant = truth["pathology"] == "MALIGNANT";
        assert_eq!(rec.label, if malignant { "malignant" } else { "benign" });
        assert!(rec.patient_id.starts_with("P_"), "{}", rec.patient_id);
    }
    assert_eq!(
        s.counts.dicom_files,
        3 * rows.len() - (rows.len() - s.counts.full_mammograms)
    );
}

#[test]
fn an_incomplete_download_is_named_row_by_row() {
    let copy = twin_copy();
    let t = truth(copy.path());
    let row = &t["rows"][0];
    // The first row's film folder is missing and the ROI folder of the second holds one file.
    let full = copy.path().join(row["full"].as_str().unwrap());
    let case = full.ancestors().nth(3).unwrap().to_path_buf();
    fs::remove_dir_all(&case).unwrap();
    let second = &t["rows"][1];
    fs::remove_file(copy.path().join(second["crop"].as_str().unwrap())).unwrap();
    let m = Manifest::open(copy.path().join(synth::MANIFEST)).unwrap();
    let r = mammolab::ingest::merge::merge(&m).unwrap();
    let reason = |csv: &serde_json::Value, n: &serde_json::Value| {
        r.audit
            .iter()
            .find(|a| a.sheet == csv.as_str().unwrap().trim_end_matches(".csv") && *n == a.row)
            .unwrap()
            .reason
            .clone()
    };
    let folder = case.file_name().unwrap().to_str().unwrap();
    assert_eq!(
        reason(&row["csv"], &row["row"]),
        format!("image file not found: no folder `{folder}` with an image below `CBIS-DDSM`")
    );
    let why = reason(&second["csv"], &second["row"]);
    assert!(why.contains("1 .dcm files, expected two"), "{why}");
    // A renamed column is one line naming the file and the column.
    let csv = copy.path().join("calc_case_description_test_set.csv");
    let text = fs::read_to_string(&csv)
        .unwrap()
        .replacen("image file path", "image_file_path", 1);
    fs::write(&csv, text).unwrap();
    let mut m = Manifest::open(copy.path().join(synth::MANIFEST)).unwrap();
    m.tables.iter_mut().for_each(|t| t.sha256 = None);
    let err = mammolab::ingest::merge::merge(&m).unwrap_err().to_string();
    assert!(
        err.contains("calc_case_description_test_set.csv")
            && err.contains("no column `image file path`"),
        "{err}"
    );
}

/// `mammolab train` on the twin in `dir` (DICOM films, 1 epoch, 32 px, no cache) into `out`,
/// with `extra` arguments.
fn train_twin(dir: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let manifest = dir.join(synth::MANIFEST);
    let mut a = vec![
        "train",
        "--manifest",
        manifest.to_str().unwrap(),
        "--epochs",
        "1",
        "--size",
        "32",
        "--dicom",
        "--cache",
        "none",
        "--out",
        out.to_str().unwrap(),
        "--json",
    ];
    a.extend(extra);
    std::process::Command::new(env!("CARGO_BIN_EXE_mammolab"))
        .args(a)
        .output()
        .unwrap()
}

#[test]
fn train_on_the_twin_with_dropout_and_evaluate_per_class() {
    let (dir, _) = twin();
    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("run");
    let bin = env!("CARGO_BIN_EXE_mammolab");
    let args = |out: &Path, extra: &[&str]| train_twin(dir.path(), out, extra);
    let o = args(&out, &["--dropout", "0.3"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["classes"], serde_json::json!(["benign", "malignant"]));
    assert_eq!(v["positive"], "malignant");
    let config: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("checkpoint/config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["dropout"], 0.3, "{config}");
    let o = std::process::Command::new(bin)
        .args(["evaluate", "--run", out.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let per_class = e["per_class"].as_array().unwrap();
    assert_eq!(per_class[0]["class"], "benign");
    assert_eq!(per_class[1]["class"], "malignant");
    let support: u64 = per_class
        .iter()
        .map(|c| c["support"].as_u64().unwrap())
        .sum();
    assert_eq!(support, e["n"].as_u64().unwrap());
    assert_eq!(per_class[1]["recall"], e["recall"]);
    assert_eq!(per_class[0]["recall"], e["specificity"]);
    // The lesion crops instead of the films: one sample per CSV row, each a crop file.
    let roi = run.path().join("roi");
    let o = args(&roi, &["--input", "roi"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let info: serde_json::Value =
        serde_json::from_slice(&fs::read(roi.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["options"]["data"]["input"], "roi", "{info}");
    let t = truth(dir.path());
    let rows = t["rows"].as_array().unwrap();
    let images: u64 = info["split"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["images"].as_array().unwrap())
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(images as usize, rows.len());
    // The test part scores each of its rows once (sheet and row name the CSV row).
    let predictions = fs::read_to_string(roi.join("predictions.csv")).unwrap();
    let scored: BTreeSet<(String, String)> = predictions
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            (c[1].to_string(), c[2].to_string())
        })
        .collect();
    let test: u64 = info["split"][2]["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(scored.len() as u64, test);
    // Dropout is a setting of seed 001's CNN: one line for another model.
    let o = args(&out, &["--model", "resnet", "--dropout", "0.3"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.lines().count() == 1, "{err}");
    assert!(
        err.contains("dropout is a setting of seed 001's CNN"),
        "{err}"
    );
}

#[test]
fn a_film_with_a_malignant_lesion_is_a_malignant_film() {
    use mammolab::dataset::{prepare, DataOptions, ImageSource};
    let (dir, _) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    let data = prepare(
        &m,
        &DataOptions::new(16)
            .with_source(ImageSource::PreferDicom)
            .with_cache(None),
    )
    .unwrap();
    let t = truth(dir.path());
    let rows = t["rows"].as_array().unwrap();
    let films: BTreeSet<&str> = rows.iter().map(|r| r["full"].as_str().unwrap()).collect();
    assert_eq!(data.items.len(), films.len());
    assert_eq!(data.rows, rows.len());
    let mut mixed = 0;
    for item in &data.items {
        let film = item
            .path
            .strip_prefix(dir.path())
            .unwrap()
            .display()
            .to_string();
        let its: Vec<&serde_json::Value> =
            rows.iter().filter(|r| r["full"] == film.as_str()).collect();
        let malignant = its.iter().any(|r| r["pathology"] == "MALIGNANT");
        mixed += (malignant && its.iter().any(|r| r["pathology"] != "MALIGNANT")) as usize;
        assert_eq!(
            data.classes.names()[item.class],
            if malignant { "malignant" } else { "benign" }
        );
    }
    // The ci twin (seed 1) has films with a benign and a malignant lesion: the rule is used.
    assert!(mixed >= 1);
}

#[test]
fn the_official_division_trains_on_the_train_set_csvs_and_tests_on_the_test_set_csvs() {
    use mammolab::dataset::{plan_merged, DataOptions, ImageSource};
    let (dir, _) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    let merged = mammolab::ingest::merge::merge(&m).unwrap();
    let options = DataOptions::new(32).with_source(ImageSource::PreferDicom);
    let plan = plan_merged(&m, &merged, &options).unwrap();
    let sheet = |i: usize| plan.items[i].sheet.clone();
    assert!(plan
        .split
        .train
        .iter()
        .chain(&plan.split.val)
        .all(|&i| sheet(i).ends_with("_train_set")));
    assert!(plan
        .split
        .test
        .iter()
        .all(|&i| sheet(i).ends_with("_test_set")));
    assert!(!plan.split.val.is_empty() && !plan.split.test.is_empty());
    // Validation is drawn from the training rows by patient: no patient on two sides.
    let patients = |idx: &[usize]| -> BTreeSet<String> {
        idx.iter().map(|&i| plan.items[i].patient.clone()).collect()
    };
    let (train, val, test) = (
        patients(&plan.split.train),
        patients(&plan.split.val),
        patients(&plan.split.test),
    );
    assert!(train.is_disjoint(&val) && train.is_disjoint(&test) && val.is_disjoint(&test));
}

#[test]
fn a_lesion_box_from_the_roi_mask_holds_the_planted_lesion() {
    use mammolab::dataset::{lesion_box, plan_merged, DataOptions, Input};
    let (dir, _) = twin();
    let t = truth(dir.path());
    for row in t["rows"].as_array().unwrap() {
        let mask =
            mammolab::ingest::dicom::read_display(dir.path().join(row["mask"].as_str().unwrap()))
                .unwrap();
        let (x0, y0, x1, y1) = lesion_box(&mask).expect("a mask marks its lesion");
        let b: Vec<usize> = row["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert!(
            x0 <= b[0] && y0 <= b[1] && x1 >= b[2] && y1 >= b[3],
            "{row}: box {:?}",
            (x0, y0, x1, y1)
        );
        // A cut around the lesion, not the film.
        assert!(
            (x1 - x0) * (y1 - y0) < mask.width * mask.height / 2,
            "{row}"
        );
    }
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    let r = mammolab::ingest::merge::merge(&m).unwrap();
    let options = DataOptions::new(32).with_input(Input::Mask);
    let plan = plan_merged(&m, &r, &options).unwrap();
    // One sample per lesion (row), each a film with its own mask.
    assert_eq!(plan.items.len(), t["rows"].as_array().unwrap().len());
    assert!(plan.items.iter().all(|i| i.mask.is_some()));
}

#[test]
fn train_on_lesion_boxes_and_predict_says_it_cannot_rescore_them() {
    let (dir, _) = twin();
    let run = tempfile::tempdir().unwrap();
    let out = run.path().join("run");
    let bin = env!("CARGO_BIN_EXE_mammolab");
    let o = train_twin(dir.path(), &out, &["--input", "mask"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run_json: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("run.json")).unwrap()).unwrap();
    assert_eq!(run_json["options"]["data"]["input"], "mask");
    let o = std::process::Command::new(bin)
        .args([
            "predict",
            "--run",
            out.to_str().unwrap(),
            "--part",
            "test",
            "--out",
            run.path().join("p.csv").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--input mask"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn an_empty_or_misfit_roi_mask_is_one_line_naming_it() {
    use mammolab::dataset::{lesion_box, Preprocess};
    use mammolab::imaging::Gray;
    let blank = Gray {
        width: 64,
        height: 48,
        pixels: vec![0.0; 64 * 48],
    };
    assert_eq!(lesion_box(&blank), None);
    let (dir, _) = twin();
    let t = truth(dir.path());
    let row = &t["rows"][0];
    let film = dir.path().join(row["full"].as_str().unwrap());
    // The download's crop is not the film's size: refused, naming both.
    let crop = dir.path().join(row["crop"].as_str().unwrap());
    let e = Preprocess::new(32, 32)
        .read_region(&film, &crop, false)
        .unwrap_err()
        .to_string();
    let name = crop.file_name().unwrap().to_string_lossy().into_owned();
    assert!(e.contains(&name) && e.contains("but its film"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn the_synth_report_counts_rows_series_and_patients() {
    let (_, s) = twin();
    let c = &s.counts;
    let text = mammolab::pipeline::report::cbis_twin(s);
    assert_eq!(text.lines().count(), 1 + c.csv_rows.len() + 2, "{text}");
    for (name, rows) in &c.csv_rows {
        assert!(text.contains(&format!("  {name}: {rows} rows\n")), "{text}");
    }
    assert!(
        text.contains(&format!("{} patients, {} lesions", c.patients, c.lesions)),
        "{text}"
    );
}
