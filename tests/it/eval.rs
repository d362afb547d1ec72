//! Metrics against scikit-learn 1.6.1, and the edge-case policy of `mammolab::eval`.
//!
//! Reference: tests/data/sklearn_reference.json, made by
//! tests/python/make_sklearn_reference.py (scikit-learn 1.6.1, numpy 2.2.1).
//! Tolerance: 1e-12 absolute for every real number (counts and text must be equal);
//! the only differences expected are in the order of floating-point summation.

use mammolab::eval::{self, *};
use serde_json::Value;

const TOL: f64 = 1e-12;

fn reference() -> Value {
    let path = crate::repo().join("tests/data/sklearn_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(case: &str, what: &str, got: f64, want: &Value) {
    let want = want
        .as_f64()
        .unwrap_or_else(|| panic!("{case}/{what} missing"));
    assert!(
        (got - want).abs() <= TOL,
        "{case}/{what}: mammolab {got:.17} vs scikit-learn {want:.17}"
    );
}

fn all_close(case: &str, what: &str, got: &[f64], want: &Value) {
    let want = floats(want);
    assert_eq!(got.len(), want.len(), "{case}/{what}: length");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= TOL, "{case}/{what}[{i}]: {g} vs {w}");
    }
}

fn case_data(c: &Value) -> (Vec<bool>, Vec<f64>) {
    let labels = c["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64() == Some(1))
        .collect();
    (labels, floats(&c["scores"]))
}

#[test]
fn binary_metrics_match_scikit_learn() {
    let r = reference();
    assert_eq!(r["sklearn_version"], "1.6.1");
    let cases = r["binary"].as_object().unwrap();
    assert_eq!(cases.len(), 6);
    for (name, c) in cases {
        let (y, s) = case_data(c);
        close(name, "roc_auc", roc_auc(&y, &s).unwrap(), &c["roc_auc"]);
        close(
            name,
            "average_precision",
            average_precision(&y, &s).unwrap(),
            &c["average_precision"],
        );

        let roc = roc_curve(&y, &s).unwrap();
        assert_eq!(roc.thresholds[0], f64::INFINITY);
        all_close(name, "roc.fpr", &roc.fpr, &c["roc_curve"]["fpr"]);
        all_close(name, "roc.tpr", &roc.tpr, &c["roc_curve"]["tpr"]);
        all_close(
            name,
            "roc.thresholds",
            &roc.thresholds[1..],
            &c["roc_curve"]["thresholds"],
        );

        // scikit-learn lists PR points by increasing threshold; mammolab by decreasing.
        let pr = pr_curve(&y, &s).unwrap();
        let rev = |v: &[f64]| v.iter().rev().copied().collect::<Vec<_>>();
        all_close(
            name,
            "pr.precision",
            &rev(&pr.precision),
            &c["pr_curve"]["precision"],
        );
        all_close(
            name,
            "pr.recall",
            &rev(&pr.recall),
            &c["pr_curve"]["recall"],
        );
        all_close(
            name,
            "pr.thresholds",
            &rev(&pr.thresholds),
            &c["pr_curve"]["thresholds"],
        );

        let cm = BinaryConfusion::at_threshold(&y, &s, c["threshold"].as_f64().unwrap()).unwrap();
        let want = &c["confusion"];
        assert_eq!(
            (cm.tn, cm.fp, cm.fn_, cm.tp),
            (
                want["tn"].as_u64().unwrap(),
                want["fp"].as_u64().unwrap(),
                want["fn"].as_u64().unwrap(),
                want["tp"].as_u64().unwrap()
            ),
            "{name}: confusion"
        );
        let m = cm.metrics();
        for (what, got) in [
            ("precision", m.precision),
            ("recall", m.recall),
            ("specificity", m.specificity),
            ("f1", m.f1),
            ("f2", cm.f_beta(2.0)),
            ("accuracy", m.accuracy),
            ("balanced_accuracy", m.balanced_accuracy),
            ("mcc", m.mcc),
            ("cohen_kappa", m.cohen_kappa),
            ("brier", brier_score(&y, &s).unwrap()),
            ("log_loss", log_loss(&y, &s).unwrap()),
        ] {
            close(name, what, got, &c[what]);
        }
        for (key, bins, binning) in [
            ("calibration_uniform_10", 10, Binning::Uniform),
            ("calibration_quantile_5", 5, Binning::Quantile),
        ] {
            let cc = calibration_curve(&y, &s, bins, binning).unwrap();
            all_close(name, key, &cc.prob_true, &c[key]["prob_true"]);
            all_close(name, key, &cc.prob_pred, &c[key]["prob_pred"]);
            assert_eq!(cc.counts.iter().sum::<u64>(), y.len() as u64);
        }
    }
}

#[test]
fn classification_report_matches_scikit_learn_text() {
    let r = reference();
    let m = &r["multiclass"];
    let idx = |k: &str| -> Vec<usize> {
        m[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect()
    };
    let classes: Vec<String> = m["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().into())
        .collect();
    let cm = ConfusionMatrix::from_indices(&idx("y_true"), &idx("y_pred"), &classes).unwrap();
    let want: Vec<Vec<u64>> = serde_json::from_value(m["confusion"].clone()).unwrap();
    assert_eq!(cm.counts, want);
    let report = ClassificationReport::new(&cm);
    assert_eq!(report.to_text(2), m["report_2"].as_str().unwrap());
    assert_eq!(report.to_text(4), m["report_4"].as_str().unwrap());
    // "malignant" is never predicted: its precision is undefined and reported as 0.
    assert!(report
        .undefined
        .contains(&"precision[malignant]".to_string()));
    close("multiclass", "accuracy", report.accuracy, &m["accuracy"]);
    close("multiclass", "mcc", cm.mcc(), &m["mcc"]);
    close(
        "multiclass",
        "cohen_kappa",
        cm.cohen_kappa(),
        &m["cohen_kappa"],
    );
    let df = report.to_dataframe().unwrap();
    assert_eq!(df.shape(), (5, 5));
}

#[test]
fn edge_cases_follow_the_written_policy() {
    // Empty, mismatched, non-finite: errors that say what is wrong.
    let e = roc_auc(&[], &[]).unwrap_err().to_string();
    assert_eq!(e, "roc_auc: no samples");
    let e = roc_auc(&[true], &[0.1, 0.2]).unwrap_err().to_string();
    assert_eq!(e, "roc_auc: 1 labels but 2 scores");
    let e = average_precision(&[true, false], &[f64::NAN, 0.2])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "average_precision: score 0 is NaN (scores must be finite)"
    );
    let e = BinaryConfusion::at_threshold(&[true, false], &[0.5, f64::INFINITY], 0.5).unwrap_err();
    assert!(e.to_string().contains("score 1 is inf"), "{e}");
    // One class only: curves are undefined.
    let e = roc_auc(&[false, false], &[0.1, 0.9])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "roc_auc: undefined with one class only (0 positives, 2 negatives)"
    );
    assert!(pr_curve(&[true, true], &[0.1, 0.9]).is_err());
    // Probabilities required.
    let e = brier_score(&[true, false], &[1.5, 0.2])
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs probabilities in [0, 1]"), "{e}");
    assert!(log_loss(&[true], &[-0.1]).is_err());

    // Zero division: 0 and named, never NaN.
    let cm = BinaryConfusion::at_threshold(&[false, false, true], &[0.1, 0.2, 0.3], 0.9).unwrap();
    let m = cm.metrics();
    assert_eq!(
        (m.precision, m.f1, m.mcc, m.cohen_kappa),
        (0.0, 0.0, 0.0, 0.0)
    );
    assert_eq!(m.undefined, vec!["precision", "mcc"]);
    // Kappa: predictions and labels both constant: chance agreement is 1.
    let m = BinaryConfusion::from_predictions(&[false, false], &[false, false])
        .unwrap()
        .metrics();
    assert_eq!(
        m.undefined,
        vec!["precision", "recall", "f1", "mcc", "cohen_kappa"]
    );
    assert_eq!(m.accuracy, 1.0);
    // Balanced accuracy with one class: the recall of the class present (scikit-learn).
    assert_eq!(m.balanced_accuracy, 1.0);
    for v in [
        m.precision,
        m.recall,
        m.specificity,
        m.f1,
        m.mcc,
        m.cohen_kappa,
    ] {
        assert!(v.is_finite());
    }
}

#[test]
fn threshold_rules_pick_the_documented_points() {
    let y = [false, false, false, false, true, false, true, true];
    let s = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
    let sweep = ThresholdSweep::new(&y, &s).unwrap();
    assert_eq!(sweep.thresholds.len(), 9);
    assert_eq!(sweep.thresholds[0], f64::INFINITY);
    // Best F1 at t = 0.5: tp 3, fp 1 -> F1 = 6 / 7.
    let p = sweep.best_f_beta(1.0).unwrap();
    assert_eq!(p.threshold, 0.5);
    assert!((p.confusion.f_beta(1.0) - 6.0 / 7.0).abs() < 1e-15);
    // Youden: sens 1, spec 0.8 at 0.5.
    assert_eq!(sweep.youden().threshold, 0.5);
    // Specificity >= 1: the lowest threshold with no false positive is 0.7.
    let p = sweep.at_specificity(1.0).unwrap();
    assert_eq!((p.threshold, p.sensitivity()), (0.7, 2.0 / 3.0));
    // Sensitivity >= 1: the highest threshold finding all three is 0.5.
    assert_eq!(sweep.at_sensitivity(1.0).unwrap().threshold, 0.5);
    assert!(sweep.at_sensitivity(1.5).is_err());
    assert!(sweep.best_f_beta(f64::NAN).is_err());
    let df = sweep.to_dataframe().unwrap();
    assert_eq!(df.shape(), (9, 9));
}

#[test]
fn bootstrap_is_seeded_and_respects_groups() {
    let r = reference();
    let (y, s) = case_data(&r["binary"]["wisconsin"]);
    let opts = BootstrapOptions::default().with_resamples(300).with_seed(3);
    let a = bootstrap_ci::<u8, _>(&y, &s, None, &opts, eval::roc_auc).unwrap();
    let b = bootstrap_ci::<u8, _>(&y, &s, None, &opts, eval::roc_auc).unwrap();
    assert_eq!(a, b, "same seed, same interval");
    assert!(
        a.lower <= a.estimate && a.estimate <= a.upper && a.upper <= 1.0,
        "{a:?}"
    );
    assert_eq!((a.resamples, a.skipped), (300, 0));
    let c = bootstrap_ci::<u8, _>(&y, &s, None, &opts.with_seed(4), eval::roc_auc).unwrap();
    assert_ne!(a, c, "another seed, another interval");

    // Patients with several near-identical images: resampling patients gives a wider
    // interval than pretending images are independent.
    let patients: Vec<usize> = (0..y.len()).map(|i| i / 4).collect();
    let (gy, gs): (Vec<bool>, Vec<f64>) = patients
        .iter()
        .map(|&p| (y[p * 4 % y.len()], s[p * 4 % y.len()]))
        .unzip();
    let by_image = bootstrap_ci::<usize, _>(&gy, &gs, None, &opts, eval::roc_auc).unwrap();
    let by_patient = bootstrap_ci(
        &gy,
        &gs,
        Some(&patients),
        &opts.with_resampling(Resampling::Groups),
        eval::roc_auc,
    )
    .unwrap();
    assert!(by_patient.upper - by_patient.lower > by_image.upper - by_image.lower);
    assert!(bootstrap_ci::<usize, _>(
        &gy,
        &gs,
        None,
        &opts.with_resampling(Resampling::Groups),
        eval::roc_auc
    )
    .is_err());
}

#[test]
fn rollup_and_probabilistic_f1() {
    let groups = ["p1", "p1", "p2", "p2", "p3"];
    let labels = [false, true, false, false, false];
    let scores = [0.2, 0.6, 0.1, 0.3, 0.9];
    let max = rollup(&groups, &labels, &scores, Aggregate::Max).unwrap();
    assert_eq!(max.groups, vec!["p1", "p2", "p3"]);
    assert_eq!(max.labels, vec![true, false, false]);
    assert_eq!(max.scores, vec![0.6, 0.3, 0.9]);
    assert_eq!(max.sizes, vec![2, 2, 1]);
    let mean = rollup(&groups, &labels, &scores, Aggregate::Mean).unwrap();
    assert!((mean.scores[0] - 0.4).abs() < 1e-15);

    // pTP = 0.6, pFP = 0.2 + 0.1 + 0.3 + 0.9 = 1.5; precision 0.6 / 2.1, recall 0.6.
    let (p, r) = (0.6 / 2.1, 0.6);
    let want = 2.0 * p * r / (p + r);
    assert!((probabilistic_f1(&labels, &scores).unwrap() - want).abs() < 1e-15);
    assert_eq!(probabilistic_f1(&[true, false], &[0.0, 0.5]).unwrap(), 0.0);
    assert!(probabilistic_f1(&[false], &[0.5]).is_err());

    // The summary carries it when the scores are probabilities, and not otherwise.
    let s = eval::BinarySummary::new(&labels, &scores, 0.5).unwrap();
    assert!((s.pf1.unwrap() - want).abs() < 1e-15);
    let json = serde_json::to_value(&s).unwrap();
    assert!((json["pf1"].as_f64().unwrap() - want).abs() < 1e-15);
    let logits = eval::BinarySummary::new(&labels, &[-1.0, 2.0, 0.1, 0.3, 0.9], 0.5).unwrap();
    assert_eq!((logits.pf1, logits.brier), (None, None));
}

/// `ThresholdRule`: text both ways, one-line errors, and each rule picks what the
/// `ThresholdSweep` method it names picks.
#[test]
fn threshold_rules_parse_print_and_choose() {
    for text in [
        "0.5",
        "youden",
        "f1",
        "f2",
        "fbeta:0.5",
        "spec:0.9",
        "sens:0.85",
    ] {
        let r: ThresholdRule = text.parse().unwrap();
        assert_eq!(r.to_string(), text);
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<ThresholdRule>(&json).unwrap(), r);
    }
    assert_eq!(
        "FBETA:1".parse::<ThresholdRule>().unwrap(),
        ThresholdRule::FBeta(1.0)
    );
    for bad in ["", "best", "spec:1.5", "fbeta:0", "sens:x", "top:3"] {
        let e = bad.parse::<ThresholdRule>().unwrap_err().to_string();
        assert!(
            e.contains("threshold rule") && !e.contains('\n'),
            "{bad}: {e}"
        );
    }
    let mut rng = mammolab::rng::Rng::new(4);
    let y: Vec<bool> = (0..300).map(|i| i % 7 == 0).collect();
    let s: Vec<f64> = y
        .iter()
        .map(|&p| ((rng.f64() + if p { 0.5 } else { 0.0 }) * 100.0).round() / 100.0)
        .collect();
    let sweep = ThresholdSweep::new(&y, &s).unwrap();
    let choose = |t: &str| t.parse::<ThresholdRule>().unwrap().choose(&y, &s).unwrap();
    assert_eq!(choose("youden"), sweep.youden());
    assert_eq!(choose("f2"), sweep.best_f_beta(2.0).unwrap());
    assert_eq!(choose("spec:0.9"), sweep.at_specificity(0.9).unwrap());
    assert_eq!(choose("sens:0.8"), sweep.at_sensitivity(0.8).unwrap());
    let fixed = choose("0.7");
    assert_eq!(fixed.threshold, 0.7);
    assert_eq!(
        fixed.confusion,
        BinaryConfusion::at_threshold(&y, &s, 0.7).unwrap()
    );
    // A fixed threshold needs no second class; the others do.
    assert!(ThresholdRule::Fixed(0.5)
        .choose(&[false, false], &[0.1, 0.9])
        .is_ok());
    assert!(ThresholdRule::Youden
        .choose(&[false, false], &[0.1, 0.9])
        .is_err());
}

/// erfc against values printed by scipy.special.erfc (1e-13 relative), DeLong on hand
/// computed cases (the pairwise reference over many samples is
/// tests/python/test_compare_cli.py), and the spread of repeated runs.
#[test]
fn delong_erfc_and_spread() {
    for (x, want) in [
        (0.0, 1.0),
        (0.5, 0.4795001221869535),
        (1.0, 0.15729920705028516),
        (2.0, 0.004677734981047266),
        (3.0, 2.2090496998585445e-05),
        (5.0, 1.5374597944280347e-12),
        (-1.0, 1.8427007929497148),
    ] {
        let got = erfc(x);
        assert!(
            ((got - want) / want).abs() < 1e-13,
            "erfc({x}) = {got}, want {want}"
        );
    }
    let y = [false, false, false, true, true, true];
    let a = [0.1, 0.4, 0.35, 0.8, 0.3, 0.9];
    let b = [0.1, 0.2, 0.3, 0.8, 0.7, 0.9];
    let t = delong_paired(&y, &a, &b).unwrap();
    assert!((t.auc_a - 7.0 / 9.0).abs() < 1e-15 && t.auc_b == 1.0);
    // V10(a) = [1, 1/3, 1], V01(a) = [1, 2/3, 2/3]: variances 12/81 and 3/81, each over
    // 3 samples; b's components are constant, so its variance and the covariances vanish.
    assert!(
        (t.std_error - (5.0f64 / 81.0).sqrt()).abs() < 1e-15,
        "{t:?}"
    );
    assert!(t.paired && t.p_value > 0.05 && t.lower < 0.0 && t.upper > 0.0);
    // The same scorer twice: no difference, p = 1.
    let same = delong_paired(&y, &a, &a).unwrap();
    assert_eq!(
        (same.difference, same.std_error, same.p_value),
        (0.0, 0.0, 1.0)
    );
    // Ties count half, as in the AUC.
    let tied = delong_paired(&y, &[0.5; 6], &b).unwrap();
    assert_eq!(tied.auc_a, 0.5);
    assert!(delong_paired(&[true, false, false], &[0.1, 0.2, 0.3], &[0.1, 0.2, 0.3]).is_err());
    let u = delong_unpaired(&y, &a, &y, &b).unwrap();
    assert!(!u.paired && (u.std_error - t.std_error).abs() < 1e-15);

    let s = Spread::of(&[1.0, 2.0, 3.0, 4.0]).unwrap();
    assert_eq!((s.n, s.mean, s.min, s.max), (4, 2.5, 1.0, 4.0));
    assert!((s.sd - 1.2909944487358056).abs() < 1e-15);
    assert!(s.lower >= 1.0 && s.lower < 2.5 && s.upper > 2.5 && s.upper <= 4.0);
    assert_eq!(Spread::of(&[1.0, 2.0, 3.0, 4.0]).unwrap(), s, "seeded");
    assert_eq!(Spread::of(&[0.7]).unwrap().sd, 0.0);
    assert!(Spread::of(&[]).is_err() && Spread::of(&[f64::NAN]).is_err());
    // Negative bounds read as such: "-0.0300 to -0.0100", not "-0.0300--0.0100".
    let d = Spread::of(&[-0.03, -0.01]).unwrap();
    assert!(
        d.line().contains("range -0.0300 to -0.0100; n 2"),
        "{}",
        d.line()
    );
}
