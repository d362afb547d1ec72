//! The pipeline: a run written by `pipeline::run` carries everything needed to score new
//! images (the checkpoint's input recipe), run options are checked before any work, and
//! the helpers the notebooks use agree with the run.

use std::path::PathBuf;

use mammolab::dataset::Part;
use mammolab::ingest::frames::read_csv;
use mammolab::ingest::merge::Laterality;
use mammolab::manifest::Manifest;
use mammolab::model::inference::scores;
use mammolab::model::{ComputeDevice, ModelChoice, Predictor, Silent};
use mammolab::pipeline::{self, predict, RunInfo, RunOptions};

/// Set in the child process of [`checkpoint_alone_scores_as_the_run_did`].
const CHILD_RUN: &str = "MAMMOLAB_TEST_CHECKPOINT_CHILD";

fn ci_manifest() -> Manifest {
    Manifest::open(crate::ci_cohort().0.path().join("manifest.toml")).unwrap()
}

fn options() -> RunOptions {
    RunOptions::new(ModelChoice::Cnn)
        .with_size(32)
        .with_epochs(1)
        .with_seed(5)
}

fn score_column(path: &std::path::Path) -> Vec<f64> {
    let df = read_csv(path).unwrap();
    df.column("score")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect()
}

/// Train one epoch, then score the run's test images from the checkpoint alone, in a
/// fresh process (this test binary started again on the ignored child test below): the
/// scores equal `predictions.csv` exactly. The run's images were cached; the child decodes
/// them from the files with the recipe stored in the checkpoint.
#[test]
fn checkpoint_alone_scores_as_the_run_did() {
    let m = ci_manifest();
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let o = options().with_cache(Some(cache.path().to_path_buf()));
    let run = dir.path().join("run");
    pipeline::run(&m, &o, &run, &mut Silent).unwrap();

    // run.json carries the recipe too.
    let info: RunInfo =
        serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert_eq!(info.options, o);

    // The test images (paths and sides) of the same preparation.
    let data = pipeline::prepare(&m, &o).unwrap();
    let list: String = data
        .indices(Part::Test)
        .iter()
        .map(|&i| {
            let it = &data.items[i];
            format!(
                "{}\t{}\n",
                it.laterality.map_or("", |l| l.code()),
                it.path.display()
            )
        })
        .collect();
    std::fs::write(dir.path().join("files.tsv"), list).unwrap();

    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pipeline::checkpoint_child",
            "--ignored",
            "--test-threads",
            "1",
        ])
        .env(CHILD_RUN, dir.path())
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    let child: Vec<f64> = std::fs::read_to_string(dir.path().join("scores.txt"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let written = score_column(&run.join("predictions.csv"));
    assert_eq!(child.len(), written.len());
    assert_eq!(child, written, "scores from the checkpoint alone");

    // `pipeline::predict` on the run's test part (re-derived from run.json's options)
    // gives the same scores, labels the classes from the checkpoint, and reports a bad
    // file instead of failing: here a truncated JPG and a text file named .dcm appended.
    let p = Predictor::open(&run.join("checkpoint"), ComputeDevice::Cpu).unwrap();
    assert_eq!(p.classes().names(), ["normal", "cancer"]);
    assert_eq!(p.classes().positive_name(), Some("cancer"));
    let mut inputs =
        predict::inputs_from_manifest(&m, info.options.data(), Some(Part::Test)).unwrap();
    let clean = predict::predict(&p, inputs.clone(), None, &mut |_, _| {}).unwrap();
    assert_eq!(clean.scores(), written);
    assert!(clean.errors().is_empty());
    let jpg = std::fs::read(&inputs[0].file).unwrap();
    let cut = dir.path().join("cut.jpg");
    std::fs::write(&cut, &jpg[..jpg.len() / 3]).unwrap();
    let junk = dir.path().join("junk.dcm");
    std::fs::write(&junk, "not a DICOM file").unwrap();
    let (mut extra, skipped) = predict::inputs_from_paths(&[cut.clone(), junk.clone()]).unwrap();
    assert!(skipped.is_empty());
    inputs.append(&mut extra);
    let mixed = predict::predict(&p, inputs, None, &mut |_, _| {}).unwrap();
    assert_eq!(mixed.scores(), written, "the good files keep their scores");
    let errors = mixed.errors();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].error.contains("truncated"), "{errors:?}");
    assert!(errors[1].file.ends_with("junk.dcm"), "{errors:?}");
    assert!(!errors.iter().any(|e| e.error.contains('\n')));
    // The threshold chosen on validation flags; the summary counts it all.
    let s = mixed.summary(pipeline::Level::Patient).unwrap();
    assert_eq!((s.scored, s.failed), (written.len(), 2));
    assert_eq!(
        Some(s.threshold.threshold),
        info.threshold.map(|t| t.threshold)
    );
    let at = pipeline::evaluate(
        &run,
        s.threshold.threshold,
        pipeline::Level::Patient,
        mammolab::eval::Aggregate::Max,
    )
    .unwrap();
    assert_eq!(s.metrics.unwrap().confusion, at.confusion);
}

/// The child half of [`checkpoint_alone_scores_as_the_run_did`]: reads only the checkpoint
/// and the file list, writes one score per line (Rust's shortest round-trip formatting).
#[test]
#[ignore = "run by checkpoint_alone_scores_as_the_run_did in a child process"]
fn checkpoint_child() {
    let Some(dir) = std::env::var_os(CHILD_RUN).map(PathBuf::from) else {
        return;
    };
    let files: Vec<(PathBuf, Option<Laterality>)> = std::fs::read_to_string(dir.join("files.tsv"))
        .unwrap()
        .lines()
        .map(|l| {
            let (side, path) = l.split_once('\t').unwrap();
            (PathBuf::from(path), Laterality::parse(side))
        })
        .collect();
    let p = Predictor::open(&dir.join("run/checkpoint"), ComputeDevice::Cpu).unwrap();
    assert_eq!(p.preprocess().width, 32);
    let probs: Vec<Vec<f64>> = p
        .predict(&files)
        .unwrap()
        .into_iter()
        .collect::<mammolab::Result<_>>()
        .unwrap();
    let text: String = scores(&probs, 1).iter().map(|s| format!("{s}\n")).collect();
    std::fs::write(dir.join("scores.txt"), text).unwrap();
}

#[test]
fn run_options_are_checked_before_any_file_is_read() {
    let e = options().with_size(4).validate().unwrap_err().to_string();
    assert!(e.contains("size") && e.contains('4'), "{e}");
    let e = options()
        .with_learning_rate(-1.0)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("learning_rate"), "{e}");
    let e = options()
        .with_batch_size(0)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch_size"), "{e}");
    let e = RunOptions::new(ModelChoice::Vae)
        .with_vae(Some("head=positions".parse().unwrap()))
        .validate()
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs code=map"), "{e}");
    assert!(options().validate().is_ok());
    // The network is built for the recipe's shape: one that is not square is refused when
    // the trainer is built.
    let model = ModelChoice::Cnn.config(2);
    let recipe = mammolab::dataset::Preprocess::new(40, 32);
    let e = mammolab::model::Trainer::new(model, recipe, Default::default(), ComputeDevice::Cpu)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("square images, not 40 x 32"), "{e}");
}

/// `pipeline::fit` + `pipeline::scores` (what the notebooks call) give the run's numbers.
#[test]
fn notebook_helpers_reproduce_the_run() {
    let m = ci_manifest();
    let dir = tempfile::tempdir().unwrap();
    let o = options();
    let r = pipeline::run(&m, &o, dir.path(), &mut Silent).unwrap();
    let data = pipeline::prepare(&m, &o).unwrap();
    let t = pipeline::fit(&data, &o, &mut Silent).unwrap();
    let test = pipeline::scores(&t, &data, Part::Test).unwrap();
    assert_eq!(
        test.scores,
        score_column(&dir.path().join("predictions.csv"))
    );
    let s = test.summary(0.5).unwrap();
    assert_eq!(s, r.summary);
    assert_eq!(test.positives() as u64, s.positives);
    assert_eq!(test.prevalence(), s.positives as f64 / s.n as f64);
    let (lo, hi) = test
        .scores
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert_eq!(test.spread(), hi - lo);
    let train = data.train();
    let positives = train.labels.iter().filter(|&&l| l == 1).count();
    assert_eq!(train.prevalence(1), positives as f64 / train.len() as f64);
    assert_eq!(
        s.roc_point(),
        (1.0 - s.metrics.specificity, s.metrics.recall)
    );
    let text = pipeline::report::run(dir.path(), &r);
    assert!(
        text.contains("ROC AUC") && text.contains("test set"),
        "{text}"
    );
}

/// A run chooses its threshold on the validation part and saves it (run.json, the
/// checkpoint, metrics_chosen.json); `evaluate` and the predictor use it; a sweep writes
/// every seed and a summary; `compare` pairs runs that scored the same images.
#[test]
fn threshold_sweep_and_compare() {
    use mammolab::eval::ThresholdRule;
    use mammolab::pipeline::{Comparison, Level};
    let m = ci_manifest();
    let dir = tempfile::tempdir().unwrap();
    let o = options().with_threshold_rule(ThresholdRule::Sensitivity(0.8));
    let s = pipeline::sweep(&m, &o, &[5, 6], dir.path(), &mut Silent, &mut |_| {}).unwrap();
    assert_eq!(s.runs.len(), 2);
    assert!(s.failed().next().is_none(), "{}", s.report());
    let auc = s.get("roc_auc").unwrap();
    assert_eq!(auc.n, 2);
    assert!(auc.min <= auc.mean && auc.mean <= auc.max);
    assert!(s.report().contains("roc_auc"));
    let csv = read_csv(&dir.path().join("sweep.csv")).unwrap();
    assert_eq!(csv.height(), 2);
    assert_eq!(
        csv.get_column_names(),
        s.seeds_table().unwrap().get_column_names()
    );
    // The spread table: one row per metric, its mean that of the seeds' values in sweep.csv.
    let spread = s.spread_table().unwrap();
    assert_eq!(spread.height(), s.spread.len());
    let aucs: Vec<f64> = csv
        .column("roc_auc")
        .unwrap()
        .f64()
        .unwrap()
        .into_no_null_iter()
        .collect();
    let mean_row = spread
        .column("mean")
        .unwrap()
        .f64()
        .unwrap()
        .get(0)
        .unwrap();
    assert_eq!(
        spread.column("metric").unwrap().str().unwrap().get(0),
        Some("roc_auc")
    );
    assert!((mean_row - (aucs[0] + aucs[1]) / 2.0).abs() < 1e-12);
    // serde_json reads floats back to within an ulp or so.
    let back = pipeline::read_sweep(dir.path()).unwrap();
    for (a, b) in back.runs.iter().zip(&s.runs) {
        assert_eq!((a.seed, a.epochs, &a.error), (b.seed, b.epochs, &b.error));
        for (x, y) in a.metrics.iter().zip(&b.metrics) {
            assert!((x.unwrap() - y.unwrap()).abs() < 1e-12);
        }
    }

    let run5 = dir.path().join("seed-5");
    let chosen = pipeline::chosen_threshold(&run5).unwrap().expect("chosen");
    assert_eq!(chosen.rule, "sens:0.8");
    assert!(chosen.sensitivity >= 0.8, "{chosen:?}");
    assert!(chosen.positives > 0 && chosen.images > chosen.positives);
    let at: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run5.join("metrics_chosen.json")).unwrap())
            .unwrap();
    assert_eq!(at["threshold"].as_f64(), Some(chosen.threshold));
    let again = pipeline::evaluate(
        &run5,
        chosen.threshold,
        Level::Image,
        mammolab::eval::Aggregate::Max,
    )
    .unwrap();
    let again = serde_json::to_value(&again).unwrap();
    // Scores pass through predictions.csv: the counts are equal, sums within an ulp.
    assert_eq!(again["confusion"], at["confusion"]);
    assert!((again["brier"].as_f64().unwrap() - at["brier"].as_f64().unwrap()).abs() < 1e-12);
    let p = Predictor::open(&run5.join("checkpoint"), ComputeDevice::Cpu).unwrap();
    assert_eq!(p.threshold(), Some(&chosen));
    // The seed also seeds the split: 5 and 6 test different patients.
    let info: RunInfo =
        serde_json::from_str(&std::fs::read_to_string(run5.join("run.json")).unwrap()).unwrap();
    assert_eq!(
        info.options.threshold_rule(),
        ThresholdRule::Sensitivity(0.8)
    );

    // One class only: a rule needs both, a fixed threshold does not (0.25 flags 1 of the 3).
    let one = pipeline::Scored {
        part: Part::Validation,
        labels: vec![false; 3],
        scores: vec![0.1, 0.2, 0.3],
    };
    let e = one
        .choose_threshold(ThresholdRule::Youden)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs both classes in the validation part (3 images, 0 positive)"),
        "{e}"
    );
    assert_eq!(
        one.choose_threshold(ThresholdRule::Fixed(0.25))
            .unwrap()
            .specificity,
        2.0 / 3.0
    );

    match pipeline::compare(&run5, &run5).unwrap() {
        Comparison::Runs(t) => {
            assert!(t.paired);
            assert_eq!((t.difference, t.p_value), (0.0, 1.0));
        }
        c => panic!("{c:?}"),
    }
    match pipeline::compare(&run5, &dir.path().join("seed-6")).unwrap() {
        Comparison::Runs(t) => assert!(!t.paired, "different splits"),
        c => panic!("{c:?}"),
    }
    let c = pipeline::compare(dir.path(), dir.path()).unwrap();
    match &c {
        Comparison::Sweeps {
            difference, seeds, ..
        } => {
            assert_eq!(seeds, &[5, 6]);
            assert_eq!((difference.mean, difference.sd), (0.0, 0.0));
        }
        c => panic!("{c:?}"),
    }
    assert!(!c.significant());
    let e = pipeline::compare(dir.path(), &run5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("two runs or two sweeps"), "{e}");
}

/// `pipeline::lesion_contrast` on the ci cohort's test part: every image whose lesion
/// `ground_truth.json` records (read here with serde_json alone) is measured, lesions are
/// brighter than their ring in the input on left and on mirrored right breasts alike (a
/// circle carried to the wrong place would measure about 0), the input against itself
/// keeps all of each contrast with R^2 = 1, a flat grey none with R^2 <= 0, and an output
/// of another shape is one line.
#[test]
fn lesion_contrast_against_the_ground_truth() {
    let m = ci_manifest();
    let data = pipeline::prepare(&m, &options().with_size(64)).unwrap();
    let root = crate::ci_cohort().0.path().to_path_buf();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("ground_truth.json")).unwrap())
            .unwrap();
    let planted: std::collections::HashSet<&str> = truth["images"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["lesion"].is_null())
        .map(|i| i["file"].as_str().unwrap())
        .collect();
    let test = data.test();
    let expected = data
        .indices(Part::Test)
        .iter()
        .filter(|&&i| planted.contains(data.items[i].path.file_stem().unwrap().to_str().unwrap()))
        .count();
    let same = pipeline::lesion_contrast(&root, &data, Part::Test, &test).unwrap();
    assert!(expected >= 4, "{expected} test images with a lesion");
    assert_eq!(same.len(), expected);
    for l in &same {
        assert_eq!((l.kept(), l.explained), (1.0, 1.0), "{l:?}");
        assert!(l.pixels > 0, "{l:?}");
    }
    for right in [false, true] {
        let mut c: Vec<f64> = same
            .iter()
            .filter(|l| data.items[data.indices(Part::Test)[l.index]].is_right() == right)
            .map(|l| l.input)
            .collect();
        c.sort_by(f64::total_cmp);
        assert!(
            !c.is_empty() && c[c.len() / 2] > 0.1,
            "right {right}: {c:?}"
        );
    }
    let mut flat = test.clone();
    flat.data.fill(0.3);
    for l in pipeline::lesion_contrast(&root, &data, Part::Test, &flat).unwrap() {
        assert!(l.kept() == 0.0 && l.explained <= 0.0, "{l:?}");
    }
    let e = pipeline::lesion_contrast(&root, &data, Part::Validation, &test).unwrap_err();
    assert!(
        e.to_string().contains("is not the validation part's"),
        "{e}"
    );
}
