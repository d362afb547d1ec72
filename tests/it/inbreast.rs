//! The INbreast twin and the template that reads it: `INbreast.xls` (BIFF8, read by
//! calamine), films named `<File Name>_<patient>_MG_<side>_<view>_ANON.dcm` found by prefix,
//! the patient taken from the file name (the sheet says `removed`), 14-bit MONOCHROME1 and 2,
//! the two rows below the table audited, and one-line errors for an incomplete download.
//! (tests/python/test_inbreast_twin.py reads the same twin with xlrd, olefile and pydicom.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::sync::OnceLock;

use mammolab::ingest::dicom::{read_display, read_image};
use mammolab::ingest::merge::{merge, Status};
use mammolab::ingest::sheets::{read_sheet, SheetOptions, Value};
use mammolab::manifest::Manifest;
use mammolab::synth::inbreast::{self, InbreastOptions, InbreastSummary};
use mammolab::synth::{self, Profile};

use crate::files_below;

fn twin() -> &'static (tempfile::TempDir, InbreastSummary) {
    static TWIN: OnceLock<(tempfile::TempDir, InbreastSummary)> = OnceLock::new();
    TWIN.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let s = inbreast::generate(&InbreastOptions::new(Profile::Ci).unwrap(), dir.path())
            .expect("generate the ci twin");
        (dir, s)
    })
}

fn truth() -> serde_json::Value {
    serde_json::from_slice(&fs::read(twin().0.path().join(synth::TRUTH)).unwrap()).unwrap()
}

#[test]
fn the_twin_has_the_release_layout_and_sheet() {
    let (dir, s) = twin();
    let files: Vec<String> = files_below(dir.path())
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let films: Vec<&String> = files.iter().filter(|f| f.ends_with(".dcm")).collect();
    assert_eq!(films.len(), s.counts.films);
    assert_eq!(
        files.len(),
        films.len() + 3,
        "INbreast.xls, ground_truth.json, manifest.toml: {files:?}"
    );
    for f in &films {
        let name = f.strip_prefix("AllDICOMs/").expect("in AllDICOMs");
        let parts: Vec<&str> = name.trim_end_matches(".dcm").split('_').collect();
        assert_eq!(parts.len(), 6, "{name}");
        assert!(parts[0].len() == 8 && parts[0].bytes().all(|b| b.is_ascii_digit()));
        assert!(parts[1].len() == 16 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!((parts[2], parts[5]), ("MG", "ANON"));
        assert!(["L", "R"].contains(&parts[3]) && ["CC", "ML"].contains(&parts[4]));
    }

    let sheet = read_sheet(
        dir.path().join(inbreast::TABLE),
        "Sheet1",
        &SheetOptions::default(),
    )
    .unwrap();
    assert_eq!(sheet.columns, inbreast::COLUMNS);
    assert_eq!(sheet.rows.len(), s.counts.films + 2);
    let col = |name: &str| sheet.column_index(name).unwrap();
    let mut birads = BTreeSet::new();
    for row in &sheet.rows[..s.counts.films] {
        assert_eq!(row[col("Patient ID")], Value::Text("removed".into()));
        assert_eq!(row[col("Patient age")], Value::Text("removed".into()));
        assert!(matches!(
            row[col("File Name")],
            Value::Float(_) | Value::Int(_)
        ));
        assert!(["CC", "MLO"].contains(&row[col("View")].to_text().unwrap().as_str()));
        let yyyymm: u32 = row[col("Acquisition date")]
            .to_text()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=12).contains(&(yyyymm % 100)), "month of {yyyymm}");
        birads.insert(row[col("Bi-Rads")].to_text().unwrap());
    }
    assert!(birads.is_subset(
        &["1", "2", "3", "4a", "4b", "4c", "5", "6"]
            .map(String::from)
            .into()
    ));
    // Numbers where the category is a whole number, text for 4a-4c.
    assert!(sheet
        .rows
        .iter()
        .any(|r| r[col("Bi-Rads")] == Value::Float(2.0) || r[col("Bi-Rads")] == Value::Int(2)));
    assert_eq!(s.counts.patients, 10);
    assert_eq!(s.counts.films, 8 * 4 + 2 * 2);
}

#[test]
fn films_are_14_bit_without_a_patient_id_and_display_the_same_way_up() {
    let (dir, _) = twin();
    let t = truth();
    let mut photometric = BTreeMap::new();
    for f in t["films"].as_array().unwrap() {
        let path = dir.path().join(f["file"].as_str().unwrap());
        let img = read_image(&path, 0).unwrap();
        assert_eq!(img.info.bits_allocated, 16, "{path:?}");
        assert!(img.stored.iter().all(|&v| v < 16384.0), "14 bits stored");
        *photometric
            .entry(img.info.photometric_interpretation.clone())
            .or_insert(0usize) += 1;
        let h = mammolab::ingest::dicom::read_header(&path).unwrap();
        assert_eq!(
            h.patient_id.unwrap_or_default(),
            "",
            "the patient is only in the file name"
        );
        // Displayed, breast tissue is bright on either photometric.
        if let Some(b) = f["bbox"].as_array() {
            let b: Vec<usize> = b.iter().map(|v| v.as_u64().unwrap() as usize).collect();
            let g = read_display(&path).unwrap();
            let (cx, cy) = ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2);
            assert!(g.pixels[cy * g.width + cx] > 0.2, "{path:?}");
        }
    }
    assert!(photometric.len() == 2, "{photometric:?}");
}

#[test]
fn the_template_merges_every_row_by_prefix_with_the_patient_from_the_file_name() {
    let (dir, s) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    m.verify().unwrap();
    let template = Manifest::from_toml_str(inbreast::TEMPLATE, "inbreast.toml").unwrap();
    assert_eq!(m.sheets, template.sheets);
    assert_eq!(m.patient, template.patient);
    assert_eq!(m.image_roots, template.image_roots);

    let r = merge(&m).unwrap();
    assert_eq!(r.records.len(), s.counts.rows);
    let t = truth();
    let films = t["films"].as_array().unwrap();
    let found: Vec<_> = r
        .records
        .iter()
        .filter(|r| r.status == Status::ImageFound)
        .collect();
    assert_eq!(found.len(), films.len());
    for (rec, f) in found.iter().zip(films) {
        assert_eq!(rec.key, f["file_name"].to_string());
        assert_eq!(rec.label, f["class"].as_str().unwrap());
        assert_eq!(
            rec.patient_id,
            f["patient"].as_str().unwrap().to_uppercase()
        );
        let file = rec.dicom.as_ref().unwrap();
        assert!(file.ends_with(f["file"].as_str().unwrap()), "{file:?}");
    }
    let patients: BTreeSet<&str> = found.iter().map(|r| r.patient_id.as_str()).collect();
    assert_eq!(patients.len(), s.counts.patients);
    // The two rows below the table: audited, no class.
    let rest: Vec<_> = r
        .records
        .iter()
        .filter(|r| r.status != Status::ImageFound)
        .collect();
    assert_eq!(rest.len(), 2);
    assert!(rest.iter().all(|r| r.label.is_empty()));
    let reasons: Vec<&str> = r
        .audit
        .iter()
        .filter(|a| a.status == Status::Unmatched)
        .map(|a| a.reason.as_str())
        .collect();
    assert_eq!(reasons, ["`File Name` is empty: the row names no image"; 2]);
    let c = m
        .classes(r.records.iter().map(|r| r.label.as_str()))
        .unwrap();
    assert_eq!(c.names(), ["normal", "benign", "malignant"]);
    let per_class = |name: &str| found.iter().filter(|r| r.label == name).count();
    assert_eq!(
        [
            per_class("normal"),
            per_class("benign"),
            per_class("malignant")
        ],
        s.counts.classes
    );
}

#[test]
fn an_incomplete_release_is_one_line_naming_what_is_missing() {
    let copy = tempfile::tempdir().unwrap();
    for rel in files_below(twin().0.path()) {
        let to = copy.path().join(&rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(twin().0.path().join(&rel), to).unwrap();
    }
    let root = copy.path();
    let gone = truth()["films"][3]["file"].as_str().unwrap().to_string();
    fs::remove_file(root.join(&gone)).unwrap();
    let m = Manifest::open(root.join(synth::MANIFEST)).unwrap();
    let r = merge(&m).unwrap();
    let missing: Vec<_> = r
        .audit
        .iter()
        .filter(|a| a.reason == "image file not found")
        .collect();
    assert_eq!(missing.len(), 1);
    assert!(
        gone.contains(&missing[0].key),
        "{} in {gone}",
        missing[0].key
    );

    fs::remove_dir_all(root.join(inbreast::FOLDER)).unwrap();
    let e = m.verify().unwrap_err().to_string();
    assert!(
        e.contains("AllDICOMs") && e.contains("does not exist"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1);

    let mut m = m;
    m.tables[0].path = "INbreast.csv".into();
    let e = m.verify().unwrap_err().to_string();
    assert!(
        e.contains("INbreast.csv") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn the_twin_is_deterministic() {
    let again = tempfile::tempdir().unwrap();
    inbreast::generate(&InbreastOptions::new(Profile::Ci).unwrap(), again.path()).unwrap();
    let first = truth()["films"][0]["file"].as_str().unwrap().to_string();
    for rel in [inbreast::TABLE, synth::TRUTH, first.as_str()] {
        assert_eq!(
            fs::read(twin().0.path().join(rel)).unwrap(),
            fs::read(again.path().join(rel)).unwrap(),
            "{rel}"
        );
    }
}
