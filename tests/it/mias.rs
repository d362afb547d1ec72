//! The mini-MIAS twin and the template that reads it: `Info.txt` as published (header with a
//! trailing space, short `NORM` lines, several lines for one film, calcifications without a
//! centre), 1024 x 1024 PGM films, the merge accounting for every line and file, patients
//! grouped in pairs, and one-line errors for an incomplete download.
//! (tests/python/test_mias_twin.py reads the same twin with pandas and Pillow.)

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use mammolab::ingest::merge::{merge, Status};
use mammolab::manifest::Manifest;
use mammolab::synth::mias::{self, MiasOptions, MiasSummary};
use mammolab::synth::{self, Profile};

use crate::files_below;

fn twin() -> &'static (tempfile::TempDir, MiasSummary) {
    static TWIN: OnceLock<(tempfile::TempDir, MiasSummary)> = OnceLock::new();
    TWIN.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let s = mias::generate(&MiasOptions::new(Profile::Ci).unwrap(), dir.path())
            .expect("generate the ci twin");
        (dir, s)
    })
}

fn truth(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join(synth::TRUTH)).unwrap()).unwrap()
}

/// A copy of the twin to damage.
fn copy_of_twin() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for rel in files_below(twin().0.path()) {
        let to = copy.path().join(&rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(twin().0.path().join(&rel), to).unwrap();
    }
    copy
}

#[test]
fn the_twin_has_the_published_layout_and_info_lines() {
    let (dir, s) = twin();
    let files: Vec<String> = files_below(dir.path())
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let mut want: Vec<String> = (1..=40)
        .map(|n| format!("all-mias/mdb{n:03}.pgm"))
        .collect();
    want.extend(
        [
            "Info.txt",
            "all-mias/Licence.txt",
            "all-mias/README",
            "ground_truth.json",
            "manifest.toml",
        ]
        .map(String::from),
    );
    want.sort();
    assert_eq!(files, want);

    let info = fs::read_to_string(dir.path().join(mias::INFO)).unwrap();
    let mut lines = info.lines();
    assert_eq!(lines.next(), Some("REFNUM BG CLASS SEVERITY X Y RADIUS "));
    let mut per_film: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut norm, mut unplaced) = (0, 0);
    for line in lines {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f[0].starts_with("mdb") && f[0].len() == 6, "{line:?}");
        assert!(["F", "G", "D"].contains(&f[1]), "{line:?}");
        *per_film.entry(f[0]).or_default() += 1;
        match f.len() {
            3 => {
                assert_eq!(f[2], "NORM");
                assert!(line.ends_with("NORM "), "{line:?}");
                norm += 1;
            }
            4 => {
                assert_eq!(f[2], "CALC", "only spread calcifications lack a centre");
                unplaced += 1;
            }
            7 => {
                assert!(["CALC", "CIRC", "SPIC", "MISC", "ARCH", "ASYM"].contains(&f[2]));
                assert!(["B", "M"].contains(&f[3]));
                for v in &f[4..] {
                    let v: u32 = v.parse().unwrap();
                    assert!(v < 1024, "{line:?}");
                }
            }
            _ => panic!("{line:?}"),
        }
    }
    let c = &s.counts;
    assert_eq!((c.images, c.patients, c.lines), (40, 20, 42));
    assert_eq!((c.normal, c.benign, c.malignant), (24, 8, 8));
    assert_eq!((norm, unplaced), (c.normal, c.unplaced));
    assert_eq!(per_film.len(), 40);
    assert!(per_film.values().any(|&n| n == 2), "a film with two lines");

    // PGM: binary, 1024 x 1024, 8 bits, black padding on both sides of the breast.
    let pgm = fs::read(dir.path().join("all-mias/mdb001.pgm")).unwrap();
    let header = b"P5\n1024 1024\n255\n";
    assert_eq!(&pgm[..header.len()], header);
    assert_eq!(pgm.len(), header.len() + 1024 * 1024);
    let px = &pgm[header.len()..];
    let row = &px[512 * 1024..513 * 1024];
    assert!(row[..100].iter().all(|&v| v == 0) && row[924..].iter().all(|&v| v == 0));
}

#[test]
fn lesion_centres_count_y_from_the_bottom_edge() {
    let (dir, _) = twin();
    let t = truth(dir.path());
    let mut checked = 0;
    for img in t["images"].as_array().unwrap() {
        let refnum = img["refnum"].as_str().unwrap();
        let pgm = fs::read(dir.path().join(format!("all-mias/{refnum}.pgm"))).unwrap();
        let px = &pgm[pgm.len() - 1024 * 1024..];
        for l in img["lesions"].as_array().unwrap() {
            let x = l["centre"][0].as_u64().unwrap() as usize;
            let y = l["centre"][1].as_u64().unwrap() as usize;
            let row = l["row"].as_u64().unwrap() as usize;
            assert_eq!(row, 1024 - y);
            // The centre lies on breast tissue, not on the black padding or air.
            assert!(px[row * 1024 + x] > 20, "{refnum} at ({x}, {row})");
            checked += 1;
        }
    }
    assert_eq!(checked, 42 - 24);
}

#[test]
fn the_template_merges_every_line_and_film_into_three_classes_and_pairs() {
    let (dir, s) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    m.verify().unwrap();
    // The twin's manifest is the template with checksums: the same rules.
    let template = Manifest::from_toml_str(mias::TEMPLATE, "mini-mias.toml").unwrap();
    assert_eq!(m.sheets, template.sheets);
    assert_eq!(m.patient, template.patient);
    assert_eq!(m.image_roots, template.image_roots);

    let r = merge(&m).unwrap();
    assert_eq!(r.records.len(), s.counts.lines);
    let kept: Vec<_> = r
        .records
        .iter()
        .filter(|r| r.status == Status::ImageFound)
        .collect();
    assert_eq!(kept.len(), s.counts.images);
    let repeated = r
        .audit
        .iter()
        .filter(|a| a.reason.starts_with("duplicate key: same study as row"))
        .count();
    assert_eq!(repeated, s.counts.lines - s.counts.images);
    // No film left over, none missing.
    assert!(
        r.audit.iter().all(|a| a.status != Status::File),
        "{:?}",
        r.audit
    );
    assert_eq!(r.summary.images.missing, 0);

    let t = truth(dir.path());
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for (rec, img) in kept.iter().zip(t["images"].as_array().unwrap()) {
        let refnum = img["refnum"].as_str().unwrap();
        assert_eq!(rec.key, refnum.to_uppercase());
        assert_eq!(rec.label, img["class"].as_str().unwrap(), "{refnum}");
        // mdb001 and mdb002 are one woman.
        let patient = img["patient"].as_str().unwrap().to_uppercase();
        assert_eq!(rec.patient_id, patient, "{refnum}");
        *classes.entry(rec.label.as_str()).or_default() += 1;
        let file = rec.jpg.as_ref().unwrap();
        assert!(file.ends_with(format!("all-mias/{refnum}.pgm")), "{file:?}");
    }
    assert_eq!(
        classes,
        BTreeMap::from([("benign", 8), ("malignant", 8), ("normal", 24)])
    );
    let c = m
        .classes(r.records.iter().map(|r| r.label.as_str()))
        .unwrap();
    assert_eq!(c.names(), ["normal", "benign", "malignant"]);
    assert_eq!(c.positive(), None);

    // A film decodes through the same reader training uses.
    let g = mammolab::ingest::dicom::read_display(kept[0].jpg.as_ref().unwrap()).unwrap();
    assert_eq!((g.width, g.height), (1024, 1024));
}

#[test]
fn an_incomplete_download_is_one_line_naming_what_is_missing() {
    // A missing film: its line is audited as not found; a stray film is listed.
    let copy = copy_of_twin();
    let root = copy.path();
    fs::rename(
        root.join("all-mias/mdb007.pgm"),
        root.join("all-mias/mdb999.pgm"),
    )
    .unwrap();
    let m = Manifest::open(root.join(synth::MANIFEST)).unwrap();
    let r = merge(&m).unwrap();
    let missing: Vec<_> = r
        .audit
        .iter()
        .filter(|a| a.reason == "image file not found")
        .map(|a| a.key.as_str())
        .collect();
    assert_eq!(missing, ["mdb007"]);
    let stray: Vec<_> = r
        .audit
        .iter()
        .filter(|a| a.status == Status::File)
        .filter_map(|a| a.file.as_ref())
        .collect();
    assert_eq!(stray.len(), 1);
    assert!(stray[0].ends_with("mdb999.pgm"), "{stray:?}");

    // A renamed column names itself.
    let info = fs::read_to_string(root.join(mias::INFO)).unwrap();
    fs::write(
        root.join(mias::INFO),
        info.replacen("SEVERITY", "SEVERTY", 1),
    )
    .unwrap();
    let mut m = Manifest::open(root.join(synth::MANIFEST)).unwrap();
    m.tables[0].sha256 = None;
    let e = merge(&m).unwrap_err().to_string();
    assert!(e.contains("Info.txt") && e.contains("SEVERITY"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");

    // A line with more fields than the header.
    fs::write(
        root.join(mias::INFO),
        format!("{info}mdb041 F CIRC B 1 2 3 4\n"),
    )
    .unwrap();
    let e = merge(&m).unwrap_err().to_string();
    assert!(e.contains("Info.txt") && e.contains("has 8 fields"), "{e}");

    // No Info.txt at all.
    fs::remove_file(root.join(mias::INFO)).unwrap();
    let e = Manifest::open(root.join(synth::MANIFEST))
        .unwrap()
        .verify()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Info.txt") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn the_twin_is_deterministic() {
    let again = tempfile::tempdir().unwrap();
    mias::generate(&MiasOptions::new(Profile::Ci).unwrap(), again.path()).unwrap();
    for rel in ["Info.txt", "all-mias/mdb003.pgm", "ground_truth.json"] {
        assert_eq!(
            fs::read(twin().0.path().join(rel)).unwrap(),
            fs::read(again.path().join(rel)).unwrap(),
            "{rel}"
        );
    }
}
