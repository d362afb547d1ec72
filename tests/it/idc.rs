//! The IDC histology twin (seed 003) and the template that reads it: the download's layout
//! (`IDC_regular_ps50_idx5/<patient>/<0|1>/<patient>_idx5_x<X>_y<Y>_class<0|1>.png`, every
//! patient folder again at the top level), patches placed on their slide by x/y, the merge
//! reading the class from the folder and the name and accounting for every file, and the
//! audit lines for a patch whose folder and name disagree, an unreadable patch and a patch
//! that is not 50 x 50. (tests/python/test_idc_twin.py reads the same layout with Pillow.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use mammolab::ingest::histology::DownloadFolders;
use mammolab::ingest::merge::{merge, Status};
use mammolab::manifest::Manifest;
use mammolab::synth::idc::{self, IdcOptions, IdcSummary};
use mammolab::synth::{self, Profile};

use crate::files_below;

fn twin() -> &'static (tempfile::TempDir, IdcSummary) {
    static TWIN: OnceLock<(tempfile::TempDir, IdcSummary)> = OnceLock::new();
    TWIN.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let s = idc::generate(&IdcOptions::new(Profile::Ci).unwrap(), dir.path())
            .expect("generate the ci twin");
        (dir, s)
    })
}

/// A patch's name split into patient, x, y and class.
fn parse(name: &str) -> Option<(&str, usize, usize, u8)> {
    let stem = name.strip_suffix(".png")?;
    let (patient, rest) = stem.split_once("_idx5_x")?;
    let (x, rest) = rest.split_once("_y")?;
    let (y, class) = rest.split_once("_class")?;
    Some((
        patient,
        x.parse().ok()?,
        y.parse().ok()?,
        class.parse().ok()?,
    ))
}

#[test]
fn the_twin_has_the_download_layout_with_every_patch_twice() {
    let (dir, s) = twin();
    let c = &s.counts;
    let (mut inside, mut top) = (BTreeSet::new(), BTreeSet::new());
    let mut per_class = [0usize; 2];
    for rel in files_below(dir.path()) {
        let parts: Vec<String> = rel
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        match parts.len() {
            1 => assert!(
                [synth::TRUTH, synth::MANIFEST].contains(&parts[0].as_str()),
                "{rel:?}"
            ),
            3 => {
                top.insert(parts.clone());
            }
            4 => {
                assert_eq!(parts[0], idc::FOLDER, "{rel:?}");
                let (patient, x, y, class) = parse(&parts[3]).expect("published name");
                assert_eq!(patient, parts[1], "the name starts with the patient folder");
                assert!(
                    patient.parse::<u32>().is_ok(),
                    "numeric patient id {patient}"
                );
                assert_eq!(parts[2], class.to_string(), "class folder = name's class");
                assert_eq!((x % 50, y % 50), (1, 1), "1-based, 50 px apart: {rel:?}");
                per_class[class as usize] += 1;
                inside.insert(parts[1..].to_vec());
            }
            _ => panic!("unexpected file {rel:?}"),
        }
    }
    assert_eq!(inside, top, "every patient folder again at the top level");
    assert_eq!(per_class, [c.negative, c.positive]);
    assert_eq!(c.patches, c.negative + c.positive);
    assert_eq!(c.patients, 16);
    let share = c.positive as f64 / c.patches as f64;
    assert!((0.2..0.36).contains(&share), "IDC share {share}");
    assert!(c.edge_patches > 0 && c.edge_patches * 10 < c.patches);
    // What a notebook shows of the layout: a search from the top finds every patch twice.
    let folders = DownloadFolders::of(dir.path(), idc::FOLDER.as_ref(), "png").unwrap();
    assert_eq!(
        folders,
        DownloadFolders {
            patients: 16,
            top_level_copies: 16,
            patches: c.patches,
            found_from_top: 2 * c.patches,
        }
    );

    // One patch: 8-bit RGB, 50 x 50 unless the truth lists it at a slide's edge; the
    // top-level copy is the same bytes.
    let t: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join(synth::TRUTH)).unwrap()).unwrap();
    let slide = &t["slides"][1];
    let patient = slide["patient"].as_str().unwrap();
    let edge: BTreeSet<&str> = slide["edge_patches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for class in ["0", "1"] {
        let folder = dir.path().join(idc::FOLDER).join(patient).join(class);
        for e in fs::read_dir(&folder).into_iter().flatten() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let img = image::open(&p).unwrap();
            assert_eq!(img.color(), image::ColorType::Rgb8);
            let full = (img.width(), img.height()) == (50, 50);
            assert_eq!(!full, edge.contains(name.as_str()), "{name}");
            let copy = dir.path().join(patient).join(class).join(&name);
            assert_eq!(fs::read(&p).unwrap(), fs::read(copy).unwrap());
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let (dir, _) = twin();
    let again = tempfile::tempdir().unwrap();
    idc::generate(&IdcOptions::new(Profile::Ci).unwrap(), again.path()).unwrap();
    let files = files_below(dir.path());
    assert_eq!(files, files_below(again.path()));
    for rel in files
        .iter()
        .filter(|r| r.starts_with(idc::FOLDER))
        .step_by(37)
    {
        assert_eq!(
            fs::read(dir.path().join(rel)).unwrap(),
            fs::read(again.path().join(rel)).unwrap(),
            "{rel:?}"
        );
    }
}

#[test]
fn the_template_merges_every_patch_with_its_class_and_patient() {
    let (dir, s) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    m.verify().unwrap();
    let r = merge(&m).unwrap();
    let c = &s.counts;
    assert_eq!(r.records.len(), c.patches);
    assert_eq!(r.summary.images.resolved, c.patches);
    let sheet = r.summary.sheets["patches"];
    assert_eq!(
        (sheet.rows, sheet.matched, sheet.unmatched),
        (c.patches, c.patches, 0)
    );
    let mut by_class: BTreeMap<&str, usize> = BTreeMap::new();
    for rec in &r.records {
        let name = rec
            .jpg
            .as_ref()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let (patient, _, _, class) = parse(name).unwrap();
        assert_eq!(rec.patient_id, patient);
        assert_eq!(rec.label, ["normal", "cancer"][class as usize]);
        assert_eq!(rec.status, Status::ImageFound);
        *by_class.entry(rec.label.as_str()).or_default() += 1;
    }
    assert_eq!(by_class["cancer"], c.positive);
    // Every file of IDC_regular_ps50_idx5 has its line; the edge patches one more, and the
    // top-level copies are outside the image root.
    let count = |s: Status| r.audit.iter().filter(|a| a.status == s).count();
    assert_eq!(count(Status::ImageFound), c.patches);
    assert_eq!(count(Status::HeaderMismatch), c.edge_patches);
    assert_eq!(r.audit.len(), c.patches + c.edge_patches);
    let mismatch = r
        .audit
        .iter()
        .find(|a| a.status == Status::HeaderMismatch)
        .unwrap();
    assert!(
        mismatch.reason.contains("image_size is 50 x 50"),
        "{}",
        mismatch.reason
    );
    let classes = m
        .classes(r.records.iter().map(|r| r.label.as_str()))
        .unwrap();
    assert_eq!(classes.names(), ["normal", "cancer"]);
}

/// A copy of the twin's image folder and manifest, to damage.
fn copy_of_twin() -> tempfile::TempDir {
    let copy = tempfile::tempdir().unwrap();
    for rel in files_below(twin().0.path()) {
        if !(rel.starts_with(idc::FOLDER) || rel == Path::new(synth::MANIFEST)) {
            continue;
        }
        let to = copy.path().join(&rel);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(twin().0.path().join(&rel), to).unwrap();
    }
    // The manifest's truth file is not copied.
    let text = fs::read_to_string(copy.path().join(synth::MANIFEST)).unwrap();
    let text = text.split("[synth]").next().unwrap().to_string();
    fs::write(copy.path().join(synth::MANIFEST), text).unwrap();
    copy
}

#[test]
fn a_patch_whose_folder_and_name_disagree_or_that_cannot_be_read_is_an_audit_line() {
    let copy = copy_of_twin();
    let root = copy.path().join(idc::FOLDER);
    let patient = fs::read_dir(&root)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let negatives = root.join(&patient).join("0");
    let moved = fs::read_dir(&negatives)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    fs::create_dir_all(root.join(&patient).join("1")).unwrap();
    fs::rename(
        negatives.join(&moved),
        root.join(&patient).join("1").join(&moved),
    )
    .unwrap();
    let broken = format!("{}_idx5_x9951_y9951_class0.png", patient.to_str().unwrap());
    fs::write(negatives.join(&broken), b"not a png").unwrap();

    let m = Manifest::open(copy.path().join(synth::MANIFEST)).unwrap();
    let r = merge(&m).unwrap();
    let (dir, s) = twin();
    let _ = dir;
    assert_eq!(r.records.len(), s.counts.patches - 1);
    let line = |name: &str| {
        r.audit
            .iter()
            .find(|a| a.key == name.trim_end_matches(".png"))
            .unwrap_or_else(|| panic!("no audit line for {name}"))
    };
    let moved = moved.to_str().unwrap();
    let disagree = line(moved);
    assert_eq!(disagree.status, Status::Unmatched);
    assert_eq!(
        disagree.reason,
        format!(
            "the label rules disagree: folder `1` says cancer, file name `{moved}` says normal"
        )
    );
    let unreadable = line(&broken);
    assert_eq!(unreadable.status, Status::File);
    assert!(
        unreadable
            .reason
            .starts_with("cannot read the image's size"),
        "{}",
        unreadable.reason
    );
    assert_eq!(r.summary.sheets["patches"].unmatched, 2);
    assert_eq!(r.summary.unmatched.len(), 1);
}

#[test]
fn image_root_rules_are_checked_when_the_manifest_is_read() {
    let with = |root: &str, sheet: &str| {
        format!(
            "schema = 1\n[cohort]\nname = \"t\"\n[[table]]\nid = \"t\"\npath = \"t.csv\"\n\
             [[sheet]]\ntable = \"t\"\nname = \"t\"\n{sheet}\n[[image_root]]\nid = \"p\"\n\
             path = \"p\"\n{root}\n"
        )
    };
    let err = |text: String| {
        Manifest::from_toml_str(&text, "/d/manifest.toml")
            .unwrap_err()
            .to_string()
    };
    let e = err(with(
        "label = { rule = \"map\", column = \"c\", classes = { a = \"b\" } }",
        "",
    ));
    assert!(
        e.contains("image_root `p`: a `map` label rule reads a table's column"),
        "{e}"
    );
    let e = err(with(
        "",
        "label = { rule = \"folder\", level = 1, classes = { a = \"b\" } }",
    ));
    assert!(
        e.contains("sheet `t`: a `folder` rule reads an image's path"),
        "{e}"
    );
    let e = err(with(
        "label = { rule = \"folder\", level = 0, classes = { a = \"b\" } }",
        "",
    ));
    assert!(e.contains("folder levels count from 1"), "{e}");
    let e = err(with("patient_folder = 1", ""));
    assert!(e.contains("go with a `label` rule"), "{e}");
}
