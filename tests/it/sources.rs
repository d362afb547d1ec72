//! A cohort of several downloads (`[[source]]`): seed 002's three twins side by side, each
//! merged by its own manifest, joined in three classes with every record tagged by its
//! source and patients kept apart by source; a patient-grouped split of the joined cohort.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use mammolab::dataset::{plan_merged, DataOptions};
use mammolab::ingest::merge::{merge, MergeResult, Status};
use mammolab::manifest::Manifest;
use mammolab::synth::sources::{self, SourcesSummary};
use mammolab::synth::{self, Profile, TwinOptions};

fn cohort() -> &'static (tempfile::TempDir, SourcesSummary, Manifest, MergeResult) {
    static COHORT: OnceLock<(tempfile::TempDir, SourcesSummary, Manifest, MergeResult)> =
        OnceLock::new();
    COHORT.get_or_init(|| {
        let dir = crate::shared_tempdir();
        let s = sources::generate(&TwinOptions::new(Profile::Ci).unwrap(), dir.path())
            .expect("three twins");
        let m = Manifest::open(dir.path().join(synth::MANIFEST)).unwrap();
        let r = merge(&m).unwrap();
        (dir, s, m, r)
    })
}

#[test]
fn each_source_merges_by_its_own_manifest_and_the_cohort_joins_them() {
    let (_, s, m, r) = cohort();
    m.verify().unwrap();
    let mut per_source: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for rec in &r.records {
        let source = rec
            .source
            .as_deref()
            .expect("every record names its source");
        let e = per_source.entry(source).or_default();
        e.0 += 1;
        if rec.status == Status::ImageFound {
            e.1.insert(rec.label.as_str());
            assert!(
                rec.patient_id.starts_with(&format!("{source}/")),
                "{}",
                rec.patient_id
            );
        }
    }
    let rows: usize = s.cbis_ddsm.counts.csv_rows.values().sum();
    assert_eq!(per_source["cbis-ddsm"].0, rows);
    assert_eq!(per_source["inbreast"].0, s.inbreast.counts.rows);
    assert_eq!(per_source["mini-mias"].0, s.mini_mias.counts.lines);
    // CBIS-DDSM has no normal films: the normal class comes from the other two.
    assert_eq!(
        per_source["cbis-ddsm"].1,
        BTreeSet::from(["benign", "malignant"])
    );
    for other in ["inbreast", "mini-mias"] {
        assert_eq!(
            per_source[other].1,
            BTreeSet::from(["benign", "malignant", "normal"])
        );
    }
    // Audit lines and sheet counts say which source they belong to.
    assert!(r.summary.sheets.keys().all(|k| sources::FOLDERS
        .iter()
        .any(|f| k.starts_with(&format!("{f}/")))));
    assert!(r.audit.iter().all(|a| a
        .workbook
        .split('/')
        .next()
        .is_some_and(|f| sources::FOLDERS.contains(&f))));
    let classes = m
        .classes(r.records.iter().map(|r| r.label.as_str()))
        .unwrap();
    assert_eq!(classes.names(), ["normal", "benign", "malignant"]);
}

#[test]
fn the_joined_cohort_splits_by_patient_across_sources() {
    let (_, _, m, r) = cohort();
    let plan = plan_merged(m, r, &DataOptions::new(64)).unwrap();
    let part_of = |i: usize| {
        [&plan.split.train, &plan.split.val, &plan.split.test]
            .iter()
            .position(|p| p.contains(&i))
    };
    let mut parts: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, item) in plan.items.iter().enumerate() {
        assert!(item.source.is_some());
        if let Some(p) = part_of(i) {
            parts.entry(item.patient.as_str()).or_default().insert(p);
        }
    }
    assert!(
        parts.values().all(|p| p.len() == 1),
        "a patient in two parts"
    );
    let test_sources: BTreeSet<&str> = plan
        .split
        .test
        .iter()
        .filter_map(|&i| plan.items[i].source.as_deref())
        .collect();
    assert_eq!(test_sources.len(), 3, "{test_sources:?}");
}

#[test]
fn leaving_a_source_out_tests_on_all_of_it_and_trains_on_the_others() {
    let (_, _, m, r) = cohort();
    for held in sources::FOLDERS {
        let options = DataOptions::new(64).with_holdout_source(Some(held.to_string()));
        let plan = plan_merged(m, r, &options).unwrap();
        let s = &plan.split;
        let of = |i: &usize| plan.items[*i].source.as_deref().unwrap();
        assert!(s.test.iter().all(|i| of(i) == held), "{held}");
        let in_source = plan
            .items
            .iter()
            .filter(|i| i.source.as_deref() == Some(held));
        assert_eq!(s.test.len(), in_source.count(), "every image of {held}");
        for part in [&s.train, &s.val] {
            let seen: BTreeSet<&str> = part.iter().map(of).collect();
            let others: BTreeSet<&str> = sources::FOLDERS
                .iter()
                .copied()
                .filter(|f| *f != held)
                .collect();
            assert_eq!(
                seen, others,
                "{held}: train and validation hold both others"
            );
        }
        // The validation share of train + validation (15 / 85), patient-grouped.
        let share = s.val.len() as f64 / (s.train.len() + s.val.len()) as f64;
        assert!((share - 0.15 / 0.85).abs() < 0.08, "{held}: {share}");
        assert_eq!(s.train.len() + s.val.len() + s.test.len(), plan.items.len());
    }
    let (dir, _, _, _) = cohort();
    let one = Manifest::open(dir.path().join("inbreast").join("manifest.toml")).unwrap();
    let one_merged = merge(&one).unwrap();
    for (manifest, merged, name, want) in [
        (
            m,
            r,
            "inbreast2",
            "no source is named `inbreast2` (the cohort's: cbis-ddsm, inbreast, mini-mias)",
        ),
        (
            &one,
            &one_merged,
            "inbreast",
            "`inbreast`: the cohort is one download",
        ),
    ] {
        let options = DataOptions::new(64).with_holdout_source(Some(name.to_string()));
        let e = plan_merged(manifest, merged, &options)
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
}

#[test]
fn leaving_out_a_source_without_normal_films_reports_it_per_source() {
    let (dir, _, m, _) = cohort();
    let out = dir.path().join("holdout-cbis");
    let options = mammolab::pipeline::RunOptions::new(mammolab::model::ModelChoice::Cnn)
        .with_size(32)
        .with_epochs(1)
        .with_cache(None)
        .with_holdout_source(Some("cbis-ddsm".into()));
    let r =
        mammolab::pipeline::run_classes(m, &options, &out, &mut mammolab::model::Silent).unwrap();
    assert_eq!(r.metrics.holdout_source.as_deref(), Some("cbis-ddsm"));
    assert!(
        r.metrics.summary.is_none(),
        "no normal film: no 3-class summary"
    );
    let cbis = &r.metrics.per_source["cbis-ddsm"];
    assert_eq!(r.metrics.per_source.len(), 1);
    assert_eq!(cbis.n, r.info.split[2].images.iter().sum::<usize>());
    assert_eq!(cbis.missing_classes, ["normal"]);
    assert_eq!(cbis.roc_auc_per_class[0], None);
    assert!(cbis.roc_auc_per_class[1..].iter().all(Option::is_some));
    let info = mammolab::pipeline::read_info(&out).unwrap();
    assert_eq!(info.options.holdout_source(), Some("cbis-ddsm"));
    let again = mammolab::pipeline::evaluate_classes(&out, &info).unwrap();
    assert_eq!(again.per_source["cbis-ddsm"].confusion, cbis.confusion);
    assert_eq!(again.holdout_source, r.metrics.holdout_source);
    let text = r.report(&out);
    assert!(
        text.contains("tested on every image of cbis-ddsm")
            && text.contains("one-vs-rest AUC: normal n/a"),
        "{text}"
    );
}

#[test]
fn a_joining_manifest_has_nothing_of_its_own_and_names_each_source_once() {
    let base = "schema = 1\n[cohort]\nname = \"x\"\n[[source]]\nname = \"a\"\nmanifest = \"a/manifest.toml\"\n";
    let cases = [
        (
            format!("{base}[[table]]\nid = \"t\"\npath = \"t.csv\"\n"),
            "no [[table]] of its own",
        ),
        (
            format!("{base}[[source]]\nname = \"a\"\nmanifest = \"b/manifest.toml\"\n"),
            "`a` is named twice",
        ),
        (
            base.replace("a/manifest.toml", "../a/manifest.toml"),
            "leaves the manifest's folder",
        ),
    ];
    for (text, want) in cases {
        let e = Manifest::from_toml_str(&text, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("x.toml"), base).unwrap();
    let e = Manifest::open(dir.path().join("x.toml"))
        .unwrap()
        .verify()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("source manifest") && e.contains("does not exist"),
        "{e}"
    );
}

#[test]
fn a_three_class_run_writes_class_probabilities_and_per_source_metrics() {
    let (dir, _, m, _) = cohort();
    let out = dir.path().join("run");
    let options = mammolab::pipeline::RunOptions::new(mammolab::model::ModelChoice::Cnn)
        .with_size(32)
        .with_epochs(2)
        .with_cache(None);
    let r =
        mammolab::pipeline::run_classes(m, &options, &out, &mut mammolab::model::Silent).unwrap();
    let s = r
        .metrics
        .summary
        .as_ref()
        .expect("every class in the test part");
    assert_eq!(s.classes, ["normal", "benign", "malignant"]);
    assert_eq!(r.metrics.holdout_source, None);
    let test: usize = r.info.split[2].images.iter().sum();
    assert_eq!(s.n, test);
    assert_eq!(
        r.metrics.per_source.values().map(|p| p.n).sum::<usize>(),
        test
    );
    assert_eq!(
        r.metrics.per_source["cbis-ddsm"].missing_classes,
        ["normal"],
        "CBIS-DDSM has no normal films"
    );
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap();
    assert!(run["positive"].is_null());
    let text = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "patient,source,sheet,row,class,p_normal,p_benign,p_malignant,predicted"
    );
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let p: f64 = f[5..8].iter().map(|v| v.parse::<f64>().unwrap()).sum();
        assert!((p - 1.0).abs() < 1e-5, "{line}");
    }
    assert!(out.join("checkpoint").is_dir() && out.join("metrics.json").is_file());
}

#[test]
fn the_notebook_shows_the_sources_side_by_side() {
    let (_, _, m, r) = cohort();
    let table = mammolab::notebook::sources_table(m).unwrap();
    let text = table.to_html();
    for want in [
        "INbreast.xls",
        "Bi-Rads: 1 = normal; 2, 3 = benign; 4a, 4b, 4c, 5, 6 = malignant",
        "CLASS: NORM = normal, else SEVERITY: B = benign; M = malignant",
        "pathology: MALIGNANT = malignant; any other = benign",
    ] {
        assert!(text.contains(want), "{want} not in\n{text}");
    }
    let names: Vec<String> = ["normal", "benign", "malignant"].map(String::from).to_vec();
    let counts = mammolab::notebook::classes_by_source(r, &names).unwrap();
    let found = r
        .records
        .iter()
        .filter(|x| x.status == Status::ImageFound)
        .count();
    let df = counts.frame();
    let films: u32 = df
        .column("films")
        .unwrap()
        .u32()
        .unwrap()
        .into_no_null_iter()
        .sum();
    assert_eq!(films as usize, found);
    let cbis_normal = df.column("normal").unwrap().u32().unwrap().get(0);
    assert_eq!(cbis_normal, Some(0), "CBIS-DDSM has no normal films");
    let fig = mammolab::notebook::source_montage(r, "mini-mias", &names, 2).unwrap();
    let (mime, payload) = fig.mime_payload();
    assert_eq!(mime, "image/png");
    assert!(payload.len() > 1000);
}

#[test]
fn films_face_one_way_by_their_pixels_where_the_record_does_not_say() {
    use mammolab::dataset::{breast_on_right, Orient, Preprocess};
    use mammolab::ingest::dicom::read_display;
    let (_, _, _, r) = cohort();
    let by_laterality = Preprocess::new(64, 64).with_crop(0.05).with_flip_right();
    let by_pixels = by_laterality.clone().with_orient(Orient::Pixels);
    let mut unmirrored = BTreeMap::<&str, usize>::new();
    for rec in r.records.iter().filter(|x| x.status == Status::ImageFound) {
        let source = rec.source.as_deref().unwrap();
        let file = rec.jpg.as_ref().or(rec.dicom.as_ref()).unwrap();
        let img = read_display(file).unwrap();
        let right = rec.laterality == Some(mammolab::ingest::merge::Laterality::Right);
        let p = by_pixels.apply(&img, right).unwrap();
        assert!(!breast_on_right(&p), "{source}: {}", file.display());
        assert_eq!(
            by_pixels.placement(&img, right).flipped,
            breast_on_right(&img)
        );
        if rec.laterality.is_some() {
            // Where the record says (INbreast), the pixels agree with it.
            assert_eq!(breast_on_right(&img), right, "{}", file.display());
        }
        if breast_on_right(&by_laterality.apply(&img, right).unwrap()) {
            *unmirrored.entry(source).or_default() += 1;
        }
    }
    // By laterality, the sources whose records do not say keep their right breasts as
    // filmed: an orientation that differs by source.
    assert!(!unmirrored.contains_key("inbreast"), "{unmirrored:?}");
    assert!(
        unmirrored["mini-mias"] > 0 && unmirrored["cbis-ddsm"] > 0,
        "{unmirrored:?}"
    );
}
