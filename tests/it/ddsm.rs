//! The Kaggle DDSM Mammography twin and its reader: the download's nine files, patches that
//! read back as the ground truth says, the download's known quirks (cv10 calcifications
//! only, test10 masses only, three crops per ROI), and one-line errors for a damaged or
//! incomplete download. (tests/python/test_ddsm_twin.py reads the same layout with the
//! `tfrecord` package, `crc32c` and NumPy.)

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::sync::OnceLock;

use mammolab::ingest::ddsm_patches::{Download, Part, SIDE};
use mammolab::ingest::tfrecord::{encode_example, write_record, Example, Feature};
use mammolab::synth::ddsm::{self, DdsmOptions, DdsmSummary};
use mammolab::synth::{self, Profile};

use crate::files_below;

fn twin() -> &'static (tempfile::TempDir, DdsmSummary) {
    static TWIN: OnceLock<(tempfile::TempDir, DdsmSummary)> = OnceLock::new();
    TWIN.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let s = ddsm::generate(&DdsmOptions::new(Profile::Ci).unwrap(), dir.path())
            .expect("generate the ci twin");
        (dir, s)
    })
}

fn truth() -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_slice(&fs::read(twin().0.path().join(synth::TRUTH)).unwrap()).unwrap();
    v["patches"].as_array().unwrap().clone()
}

#[test]
fn the_twin_has_the_downloads_files_and_reads_back_as_its_truth() {
    let (dir, summary) = twin();
    let mut want: Vec<String> = ddsm::file_names();
    want.push(synth::TRUTH.into());
    want.sort();
    let have: Vec<String> = files_below(dir.path())
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    assert_eq!(have, want);

    let download = Download::find(dir.path()).unwrap();
    let audit = download.audit().unwrap();
    let truth = truth();
    assert_eq!(audit.patches, truth.len());
    let mut seen = 0;
    for (i, f) in download.files.iter().enumerate() {
        for p in download.patches(i).unwrap() {
            let p = p.unwrap();
            let t = &truth[seen];
            assert_eq!(t["file"], f.file.as_str());
            assert_eq!(t["index"], p.index);
            assert_eq!(t["label"], p.label);
            assert_eq!(p.pixels.len(), SIDE * SIDE);
            seen += 1;
        }
    }
    assert_eq!(seen, truth.len());
    let labels: usize = summary.labels.iter().sum();
    assert_eq!(labels, truth.len());
    // Two negatives for every positive at ci (six at default, the download's 86 %).
    let negative = summary.labels[0] as f64 / labels as f64;
    assert!((0.6..0.7).contains(&negative), "{negative}");
}

#[test]
fn the_twin_keeps_the_downloads_quirks() {
    let download = Download::find(twin().0.path()).unwrap();
    let audit = download.audit().unwrap();
    for f in &audit.files {
        let labels: BTreeSet<u8> = f.labels.keys().copied().collect();
        match f.file.part {
            Part::Cv => assert!(labels.is_subset(&[0, 1, 3].into()), "{labels:?}"),
            Part::Test => assert!(labels.is_subset(&[0, 2, 4].into()), "{labels:?}"),
            Part::Training => assert!(labels.contains(&0) && labels.len() >= 3),
        }
    }
    // Every ROI is three patches in one part: nothing in the files links them.
    let mut crops: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in truth().iter().filter(|t| t["label"] != 0) {
        let part = t["file"].as_str().unwrap().split('/').next().unwrap();
        let part = if part.starts_with("training") {
            "training"
        } else {
            part
        };
        crops
            .entry(t["origin"].as_str().unwrap().into())
            .or_default()
            .push(part.into());
    }
    assert!(!crops.is_empty());
    for (origin, parts) in crops {
        assert_eq!(parts.len(), 3, "{origin}");
        assert!(parts.iter().all(|p| *p == parts[0]), "{origin}: {parts:?}");
    }
}

#[test]
fn the_twin_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    ddsm::generate(&DdsmOptions::new(Profile::Ci).unwrap(), dir.path()).unwrap();
    for name in ddsm::file_names() {
        assert_eq!(
            fs::read(dir.path().join(&name)).unwrap(),
            fs::read(twin().0.path().join(&name)).unwrap(),
            "{name}"
        );
    }
}

/// The one-line error of auditing a damaged copy.
fn audit_error(dir: &std::path::Path) -> String {
    Download::find(dir)
        .unwrap()
        .audit()
        .unwrap_err()
        .to_string()
}

/// A copy of the twin to damage.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ddsm::file_names() {
        let to = dir.path().join(&name);
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(twin().0.path().join(&name), to).unwrap();
    }
    dir
}

#[test]
fn a_damaged_or_incomplete_download_is_one_line_naming_the_file() {
    let dir = copy();
    fs::remove_file(dir.path().join("cv10_labels.npy")).unwrap();
    let e = Download::find(dir.path()).unwrap_err().to_string();
    assert!(e.contains("missing cv10_labels.npy"), "{e}");

    let dir = copy();
    let shard = dir.path().join("training10_2/training10_2.tfrecords");
    let mut bytes = fs::read(&shard).unwrap();
    bytes[5000] ^= 0x40;
    fs::write(&shard, &bytes).unwrap();
    let e = audit_error(dir.path());
    assert!(
        e.contains("training10_2.tfrecords") && e.contains("record 0") && e.contains("checksum"),
        "{e}"
    );
    assert!(!e.contains('\n'));

    let dir = copy();
    let data = dir.path().join("test10_data/test10_data.npy");
    let bytes = fs::read(&data).unwrap();
    fs::write(&data, &bytes[..bytes.len() - SIDE]).unwrap();
    let e = audit_error(dir.path());
    assert!(
        e.contains("test10_data.npy") && e.contains("cut short"),
        "{e}"
    );

    // A record whose two labels disagree, and one with a label beyond 0-4.
    let dir = copy();
    let shard = dir.path().join("training10_0/training10_0.tfrecords");
    let mut out = vec![];
    for (label, normal) in [(2, 1), (2, 0)] {
        let mut ex = Example::new();
        ex.insert("label".into(), Feature::Int64(vec![label]));
        ex.insert("label_normal".into(), Feature::Int64(vec![normal]));
        ex.insert("image".into(), Feature::Bytes(vec![vec![0; SIDE * SIDE]]));
        write_record(&mut out, &encode_example(&ex)).unwrap();
    }
    fs::write(&shard, &out).unwrap();
    let e = audit_error(dir.path());
    assert!(
        e.contains("training10_0.tfrecords")
            && e.contains("record 1: label_normal 0 disagrees with label 2"),
        "{e}"
    );
    let labels = dir.path().join("cv10_labels.npy");
    let n = mammolab::ingest::npy::open(&labels).unwrap().len();
    let mut values = vec![0i64; n];
    values[3] = 7;
    mammolab::ingest::npy::write_i64(&labels, &values).unwrap();
    let d = Download::find(dir.path()).unwrap();
    let cv = d.files.iter().position(|f| f.part == Part::Cv).unwrap();
    let e = d
        .patches(cv)
        .unwrap()
        .find_map(|p| p.err())
        .unwrap()
        .to_string();
    assert!(
        e.contains("cv10_data.npy") && e.contains("item 3: label 7 is not one of 0-4"),
        "{e}"
    );
}

/// The ci twin unpacked once: PNGs, patches.csv and the manifest.
fn unpacked() -> &'static (tempfile::TempDir, mammolab::ingest::ddsm_patches::Unpacked) {
    static OUT: OnceLock<(tempfile::TempDir, mammolab::ingest::ddsm_patches::Unpacked)> =
        OnceLock::new();
    OUT.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let u = Download::find(twin().0.path())
            .unwrap()
            .unpack(&dir.path().join("unpacked"))
            .unwrap();
        (dir, u)
    })
}

#[test]
fn unpacked_patches_merge_and_split_as_the_download_divides_them() {
    use mammolab::dataset::{plan_merged, DataOptions};
    use mammolab::ingest::merge::merge;
    use mammolab::manifest::Manifest;
    let (_, u) = unpacked();
    let truth = truth();
    assert_eq!(u.patches, truth.len());
    let m = Manifest::open(&u.manifest).unwrap();
    m.verify().unwrap();
    // The committed template is this manifest without the table's checksum.
    let template =
        Manifest::open(crate::repo().join("data-manifests/ddsm-mammography.toml")).unwrap();
    let strip = |m: &Manifest| {
        (
            m.cohort.clone(),
            m.tables.iter().map(|t| t.path.clone()).collect::<Vec<_>>(),
            m.sheets.clone(),
            m.key.clone(),
            m.image_roots.clone(),
            m.split.clone(),
            m.classes.clone(),
        )
    };
    assert_eq!(strip(&template), strip(&m));

    let merged = merge(&m).unwrap();
    assert_eq!(merged.records.len(), truth.len());
    assert!(merged.records.iter().all(|r| r.jpg.is_some()));
    let negatives = truth.iter().filter(|t| t["label"] == 0).count();
    let unlabelled = merged.records.iter().filter(|r| r.label.is_empty()).count();
    assert_eq!(unlabelled, negatives);

    let plan = plan_merged(&m, &merged, &DataOptions::new(32)).unwrap();
    assert_eq!(plan.classes.names(), ["benign", "malignant"]);
    assert_eq!(plan.items.len(), truth.len() - negatives);
    assert_eq!(plan.left_out, negatives);
    let part_of = |i: usize| plan.items[i].split_value.clone().unwrap();
    assert!(plan.split.train.iter().all(|&i| part_of(i) == "training"));
    assert!(plan.split.val.iter().all(|&i| part_of(i) == "training"));
    assert!(!plan.split.val.is_empty());
    let test: BTreeSet<String> = plan.split.test.iter().map(|&i| part_of(i)).collect();
    assert_eq!(test, ["cv".to_string(), "test".to_string()].into());
    let n = plan.split.train.len() + plan.split.val.len() + plan.split.test.len();
    assert_eq!(n, plan.items.len());
    // Each PNG holds the patch's bytes.
    let d = Download::find(twin().0.path()).unwrap();
    let first = d.patches(0).unwrap().next().unwrap().unwrap();
    let png = image::open(u.out.join("patches/training10_0/training10_0_00000.png"))
        .unwrap()
        .to_luma8();
    assert_eq!(png.into_raw(), first.pixels);
}

#[test]
fn split_rules_are_checked() {
    use mammolab::manifest::Manifest;
    let base = std::fs::read_to_string(crate::repo().join("data-manifests/ddsm-mammography.toml"))
        .unwrap();
    let twice = base.replace(r#"test = ["cv", "test"]"#, r#"test = ["cv", "training"]"#);
    let e = Manifest::from_toml_str(&twice, "m.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`training` is listed for two parts"), "{e}");
    let none = base.replace(r#"test = ["cv", "test"]"#, "test = []");
    let e = Manifest::from_toml_str(&none, "m.toml")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("[split] needs values in `train` and in `test`"),
        "{e}"
    );
    let (_, u) = unpacked();
    let m = Manifest::open(&u.manifest).unwrap();
    let mut wrong = m.clone();
    wrong.split.as_mut().unwrap().train = vec!["train".into()];
    let merged = mammolab::ingest::merge::merge(&wrong).unwrap();
    let e =
        mammolab::dataset::plan_merged(&wrong, &merged, &mammolab::dataset::DataOptions::new(32))
            .unwrap_err()
            .to_string();
    assert!(
        e.contains("no image has a `part` value of [split] train [\"train\"]"),
        "{e}"
    );
}

#[test]
fn the_synth_report_counts_each_file_and_label() {
    let (_, s) = twin();
    let text = mammolab::pipeline::report::ddsm_twin(s);
    assert_eq!(text.lines().count(), 1 + s.files.len() + 5 + 1, "{text}");
    for (name, n) in &s.files {
        assert!(text.contains(&format!("  {name}: {n} patches\n")), "{text}");
    }
    assert!(
        text.contains(&format!("  label 0 (normal): {}\n", s.labels[0])),
        "{text}"
    );
}
