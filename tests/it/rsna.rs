//! The RSNA screening twin and the template that reads it: `train.csv` with the published
//! columns, `train_images/<patient_id>/<image_id>.dcm` in the two sites' codecs (JPEG 2000
//! lossless, JPEG lossless SV1), MONOCHROME1 and SIGMOID, the merge finding every image by
//! its id, and one-line errors for an incomplete download.
//! (tests/python/test_rsna_twin.py reads the same twin with pandas and pydicom.)

use std::collections::BTreeSet;
use std::fs;
use std::sync::OnceLock;

use mammolab::ingest::dicom::read_image;
use mammolab::ingest::merge::{merge, Status};
use mammolab::manifest::Manifest;
use mammolab::synth::rsna::{self, RsnaOptions, RsnaSummary};
use mammolab::synth::{self, Profile};

use crate::files_below;

fn twin() -> &'static (tempfile::TempDir, RsnaSummary) {
    static TWIN: OnceLock<(tempfile::TempDir, RsnaSummary)> = OnceLock::new();
    TWIN.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let s = rsna::generate(&RsnaOptions::new(Profile::Ci).unwrap(), dir.path())
            .expect("generate the ci twin");
        (dir, s)
    })
}

fn truth() -> serde_json::Value {
    serde_json::from_slice(&fs::read(twin().0.path().join(synth::TRUTH)).unwrap()).unwrap()
}

#[test]
fn the_twin_has_the_competition_layout() {
    let (dir, s) = twin();
    let files: BTreeSet<String> = files_below(dir.path())
        .iter()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
        .collect();
    let train = fs::read_to_string(dir.path().join(rsna::TRAIN)).unwrap();
    let mut lines = train.lines();
    assert_eq!(lines.next().unwrap(), rsna::TRAIN_COLUMNS.join(","));
    let mut patients = vec![];
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 14, "{line}");
        assert!(
            files.contains(&format!("train_images/{}/{}.dcm", f[1], f[2])),
            "{line}"
        );
        assert!(["1", "2"].contains(&f[0]) && ["L", "R"].contains(&f[3]));
        assert!(
            ["CC", "MLO", "LM", "ML", "AT", "LMO"].contains(&f[4]),
            "{line}"
        );
        assert!(f[5].is_empty() || f[5].ends_with(".0"), "age {line}");
        assert!(["", "0", "1", "2"].contains(&f[9]) && ["", "A", "B", "C", "D"].contains(&f[11]));
        if f[0] == "2" {
            assert!(
                f[9].is_empty() && f[11].is_empty(),
                "site 2 has no BIRADS or density: {line}"
            );
        }
        assert!(["True", "False"].contains(&f[13]));
        patients.push(f[1].parse::<u32>().unwrap());
    }
    assert!(
        patients.windows(2).all(|w| w[0] <= w[1]),
        "rows in patient order"
    );
    assert_eq!(patients.len(), s.counts.images);
    let dcm = files.iter().filter(|f| f.ends_with(".dcm")).count();
    assert_eq!(dcm, s.counts.images + s.counts.test_images);
    assert_eq!(
        files.len(),
        dcm + 5,
        "tables, truth and manifest: {files:?}"
    );

    let test = fs::read_to_string(dir.path().join(rsna::TEST)).unwrap();
    assert_eq!(test.lines().next().unwrap(), rsna::TEST_COLUMNS.join(","));
    let breasts: BTreeSet<&str> = test
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    let submission = fs::read_to_string(dir.path().join(rsna::SUBMISSION)).unwrap();
    let mut sub = submission.lines();
    assert_eq!(sub.next(), Some("prediction_id,cancer"));
    let listed: BTreeSet<&str> = sub.map(|l| l.strip_suffix(",0.021").unwrap()).collect();
    assert_eq!((listed, s.counts.test_images), (breasts, 4));
}

#[test]
fn every_image_decodes_in_its_sites_codec_with_its_photometric_and_voi() {
    let (dir, _) = twin();
    let truth = truth();
    let images = truth["images"].as_array().unwrap();
    let mut seen = BTreeSet::new();
    for t in images {
        let path = dir.path().join(t["file"].as_str().unwrap());
        let image = read_image(&path, 0).unwrap();
        let site = t["site_id"].as_u64().unwrap() as u8;
        assert_eq!(image.info.transfer_syntax, rsna::transfer_syntax_of(site));
        let mono1 = t["monochrome1"].as_bool().unwrap();
        let photometric = if mono1 { "MONOCHROME1" } else { "MONOCHROME2" };
        assert_eq!(image.info.photometric_interpretation, photometric);
        let sigmoid = matches!(image.voi, mammolab::imaging::Voi::Sigmoid { .. });
        assert_eq!(sigmoid, t["sigmoid"].as_bool().unwrap(), "{path:?}");
        assert!(image.info.pixel.max < 4096.0, "12 bits stored");
        // The breast is bright on screen whatever the photometric interpretation.
        let display = image.display().unwrap();
        let (w, h) = (display.width, display.height);
        let middle = display.pixels[h / 2 * w
            + if t["laterality"] == "L" {
                w / 4
            } else {
                3 * w / 4
            }];
        let air = display.pixels[h / 2 * w + if t["laterality"] == "L" { w - 2 } else { 1 }];
        assert!(middle > air + 0.2, "{path:?}: breast {middle} air {air}");
        // What `mammolab dicom` prints: the codec by name, the window and its function,
        // the header's fields, and no Rust debug output.
        let header = mammolab::ingest::dicom::read_header(&path).unwrap();
        let text = mammolab::pipeline::report::dicom(&path, &header, Some(&image));
        let codec = if site == 1 {
            "(JPEG 2000 lossless)"
        } else {
            "(JPEG lossless SV1)"
        };
        let window = t["window"].as_array().unwrap();
        let function = if sigmoid { "SIGMOID" } else { "LINEAR" };
        for want in [
            codec.to_string(),
            format!("12 stored, {photometric}"),
            format!(
                "window centre {} width {} ({function})",
                window[0].as_f64().unwrap(),
                window[1].as_f64().unwrap()
            ),
            format!(
                "patient {}, laterality {}, view {}",
                t["patient_id"],
                t["laterality"].as_str().unwrap(),
                t["view"].as_str().unwrap()
            ),
        ] {
            assert!(text.contains(&want), "{want}: {text}");
        }
        assert!(!text.contains("Some(") && !text.contains('{'), "{text}");
        seen.insert((site, mono1, sigmoid));
    }
    for want in [
        (1, false, false),
        (1, true, false),
        (1, false, true),
        (2, false, false),
        (2, true, false),
    ] {
        assert!(seen.contains(&want), "{want:?} missing: {seen:?}");
    }
}

#[test]
fn the_template_finds_every_image_by_its_id() {
    let (dir, s) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    let r = merge(&m).unwrap();
    assert_eq!(r.records.len(), s.counts.images);
    assert!(
        r.records.iter().all(|x| x.status == Status::ImageFound),
        "{:?}",
        r.summary
    );
    let positives = r.records.iter().filter(|x| x.label == "cancer").count();
    assert_eq!(positives, s.counts.cancer_images);
    for x in &r.records {
        let file = x
            .dicom
            .as_ref()
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        assert!(
            file.ends_with(&format!("{}.dcm", x.key)),
            "{file} for {}",
            x.key
        );
        assert!(x.laterality.is_some() && x.view.is_some(), "{x:?}");
    }
}

#[test]
fn an_incomplete_download_is_one_clear_line() {
    let (dir, _) = twin();
    let copy = crate::shared_tempdir();
    for name in [rsna::TRAIN, synth::MANIFEST] {
        fs::copy(dir.path().join(name), copy.path().join(name)).unwrap();
    }
    // No train_images at all: one error naming the folder.
    let m = Manifest::open(copy.path().join(synth::MANIFEST)).unwrap();
    let err = merge(&m).unwrap_err().to_string();
    assert!(
        !err.contains('\n') && err.contains("train_images") && err.contains("No such file"),
        "{err}"
    );
    // One patient's folder missing: each of its rows is an audit line, the rest match.
    let (_, s) = twin();
    let kept = fs::read_to_string(copy.path().join(rsna::TRAIN)).unwrap();
    let gone = kept
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(1)
        .unwrap()
        .to_string();
    for f in files_below(dir.path()) {
        let f = f.to_string_lossy().replace('\\', "/");
        if f.starts_with(rsna::TRAIN_IMAGES)
            && !f.starts_with(&format!("{}/{gone}/", rsna::TRAIN_IMAGES))
        {
            fs::create_dir_all(copy.path().join(&f).parent().unwrap()).unwrap();
            fs::copy(dir.path().join(&f), copy.path().join(&f)).unwrap();
        }
    }
    let r = merge(&m).unwrap();
    let missing: Vec<_> = r
        .audit
        .iter()
        .filter(|a| a.status != Status::ImageFound)
        .collect();
    let rows = kept
        .lines()
        .filter(|l| l.split(',').nth(1) == Some(gone.as_str()))
        .count();
    assert_eq!(missing.len(), rows);
    assert!(missing
        .iter()
        .all(|a| a.reason == "image file not found" && a.key.starts_with(&gone)));
    assert_eq!(r.records.len(), s.counts.images, "every row stays a record");
    // A renamed column: the error names the table, the column and the one that is there.
    let train = fs::read_to_string(copy.path().join(rsna::TRAIN)).unwrap();
    fs::write(
        copy.path().join(rsna::TRAIN),
        train.replacen("image_id", "imageid", 1),
    )
    .unwrap();
    let err = merge(&m).unwrap_err().to_string();
    assert!(!err.contains('\n'), "{err}");
    assert!(
        err.contains("train.csv") && err.contains("`image_id`") && err.contains("imageid"),
        "{err}"
    );
}

#[test]
fn dicom_kinds_count_every_image_by_codec_photometric_and_voi() {
    let (dir, s) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    let kinds = mammolab::notebook::DicomKinds::of(&merge(&m).unwrap()).unwrap();
    assert_eq!(kinds.len(), 5, "{kinds:?}");
    assert_eq!(
        kinds.kinds.iter().map(|k| k.images).sum::<usize>(),
        s.counts.images
    );
    let truth = truth();
    for k in &kinds.kinds {
        let expected = truth["images"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["split"] == "train")
            .filter(|t| t["transfer_syntax"] == k.transfer_syntax.as_str())
            .filter(|t| t["monochrome1"] == (k.photometric == "MONOCHROME1"))
            .filter(|t| t["sigmoid"] == (k.voi_lut_function == "SIGMOID"))
            .count();
        assert_eq!(k.images, expected, "{k:?}");
        assert_eq!(k.bits_stored, Some(rsna::BITS_STORED));
    }
    let table = kinds.table().unwrap();
    assert_eq!(table.frame().height(), 5);
    assert_eq!(kinds.tiles().unwrap().len(), 10);
}

#[test]
fn cohort_counts_and_empty_cells_match_the_twin() {
    let (dir, s) = twin();
    let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
    let c = mammolab::notebook::CohortCounts::of(&merge(&m).unwrap(), "cancer");
    assert_eq!(
        (
            c.images,
            c.found,
            c.patients,
            c.class_images,
            c.class_breasts
        ),
        (
            s.counts.images,
            s.counts.images,
            s.counts.patients,
            s.counts.cancer_images,
            s.counts.cancer_breasts
        )
    );
    assert!(
        c.breasts == 2 * s.counts.patients,
        "every woman has both breasts imaged"
    );
    assert!(c
        .report()
        .contains(&format!("cancer: {} images", s.counts.cancer_images)));

    let sheet = mammolab::ingest::sheets::read_sheet(
        dir.path().join(rsna::TRAIN),
        "train",
        &mammolab::ingest::sheets::SheetOptions::default(),
    )
    .unwrap();
    let text = fs::read_to_string(dir.path().join(rsna::TRAIN)).unwrap();
    let by_split: Vec<usize> = (0..rsna::TRAIN_COLUMNS.len())
        .map(|k| {
            text.lines()
                .skip(1)
                .filter(|l| l.split(',').nth(k) == Some(""))
                .count()
        })
        .collect();
    assert_eq!(sheet.empty_cells(), by_split);
    assert!(
        by_split[9] > 0 && by_split[11] > 0,
        "BIRADS and density have empty cells"
    );
}
