//! A run of k classes with no positive one (seed 002's normal / benign / malignant): the same
//! preparation, network and training as a binary run ([`super::run`]), then the test part
//! scored as one probability per class and evaluated as [`MulticlassSummary`] (confusion
//! k x k, per-class rows, one-vs-rest and one-vs-one AUCs, accuracy, balanced accuracy,
//! kappa), overall and per source for a cohort of several downloads. No decision threshold:
//! the predicted class is the most probable one.
//!
//! Leave one source out ([`RunOptions::with_holdout_source`], `--holdout-source`): the test
//! part is every image of one source, so the per-source rows say whether what the network
//! learned carries to a scanner it has not seen; a held-out source without a class
//! (CBIS-DDSM has no normal film) has no overall summary, only its per-source numbers.
//! [`super::sweep()`] repeats a k-class run over seeds ([`ClassMetrics::named_values`]).
//!
//! The run directory holds what a binary run's does, with k-class files: `checkpoint/`,
//! `history.csv`, `predictions.csv` (`patient` pseudonym, `source`, `sheet`, `row`, `class`,
//! one `p_<class>` column per class, `predicted`), `metrics.json` (the summary with
//! `per_source`) and `run.json` (`"positive": null`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use polars::prelude::{Column, DataFrame};
use serde::Serialize;

use super::{prepare, train_on, trainer_for, Progress, RunInfo, RunOptions};
use crate::dataset::{Part, Prepared};
use crate::error::{Error, Result};
use crate::eval::{
    argmax, confusion_text, roc_auc_ovr, roc_auc_ovr_per_class, Average, ConfusionMatrix,
    MulticlassSummary,
};
use crate::ingest::frames::{read_csv, text_column, ClassScoreTable};
use crate::manifest::Manifest;
use crate::model::History;
use crate::outlock::write_json;

/// One source's test images in a k-class run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceMetrics {
    /// Test images from the source.
    pub n: usize,
    /// Fraction predicted right.
    pub accuracy: f64,
    /// Mean recall over the classes the source's test images have (scikit-learn's
    /// `balanced_accuracy_score`).
    pub balanced_accuracy: f64,
    /// `confusion[true][predicted]`, in the run's class order.
    pub confusion: Vec<Vec<u64>>,
    /// One-vs-rest ROC AUC of each class on this source's images (scikit-learn's
    /// `roc_auc_score(class == c, p_c)`), in class order; `None` for a class the images lack
    /// or when every image is of that class.
    pub roc_auc_per_class: Vec<Option<f64>>,
    /// One-vs-rest ROC AUC, macro; `None` when the source's test images lack a class.
    pub roc_auc_ovr_macro: Option<f64>,
    /// Classes with no test image from this source (CBIS-DDSM has no normal films).
    pub missing_classes: Vec<String>,
}

/// `metrics.json` of a k-class run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassMetrics {
    /// The test part's summary; `None` only when a held-out source's images lack a class
    /// (CBIS-DDSM has no normal films): [`ClassMetrics::per_source`] then has its numbers.
    #[serde(flatten)]
    pub summary: Option<MulticlassSummary>,
    /// The source the run left out and tested on (`--holdout-source`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holdout_source: Option<String>,
    /// The same per source (empty for a single download).
    pub per_source: BTreeMap<String, SourceMetrics>,
}

/// What [`run_classes`] returns.
#[derive(Debug, Clone)]
pub struct ClassRun {
    /// `run.json`.
    pub info: RunInfo,
    /// The training history.
    pub history: History,
    /// `metrics.json`.
    pub metrics: ClassMetrics,
    /// The test images' classes (indices into the run's classes), in `predictions.csv`'s
    /// order.
    pub labels: Vec<usize>,
    /// Their class probabilities, a row per image (for a chart: [`plot::class_roc`](crate::plot::class_roc)).
    pub probabilities: Vec<Vec<f64>>,
}

/// Train as `mammolab train` does on a manifest whose classes name no positive one, and write
/// the run directory `out` (see the module docs); [`super::sweep()`] repeats it over seeds.
/// `--resume` and threshold rules are binary-run features and are not offered here.
pub fn run_classes(
    manifest: &Manifest,
    options: &RunOptions,
    out: &Path,
    progress: &mut dyn Progress,
) -> Result<ClassRun> {
    options.validate()?;
    options.device.device()?;
    let _lock = crate::outlock::OutLock::folder(out)?;
    let data = prepare(manifest, options)?;
    if let Some(p) = data.classes.positive_name() {
        return Err(Error::input(
            "classes",
            format!("the manifest names a positive class ({p}): train it as a binary run"),
        ));
    }
    let t1 = Instant::now();
    let trainer = train_on(&data, trainer_for(&data, options)?, progress)?;
    let train_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let probs = trainer.predict(&data.samples(Part::Test))?;
    let predict_s = t2.elapsed().as_secs_f64();
    let labels: Vec<usize> = data
        .indices(Part::Test)
        .iter()
        .map(|&i| data.items[i].class)
        .collect();
    let metrics = class_metrics(&data, &labels, &probs)?;
    let info = RunInfo::of(manifest, options, &data, [train_s, predict_s], None);
    let mut predictions = class_predictions(&data, &probs)?;
    super::rundir::write_results(out, &trainer, &mut predictions, &metrics)?;
    write_json(&info, &out.join("run.json"))?;
    Ok(ClassRun {
        info,
        history: trainer.history().clone(),
        metrics,
        labels,
        probabilities: probs,
    })
}

/// The test part's summary (its classes `labels`, in sample order) and the same per source.
fn class_metrics(data: &Prepared, labels: &[usize], probs: &[Vec<f64>]) -> Result<ClassMetrics> {
    let idx = data.indices(Part::Test);
    let sources: Vec<Option<&str>> = idx
        .iter()
        .map(|&i| data.items[i].source.as_deref())
        .collect();
    let holdout = data.options.holdout_source.as_deref();
    metrics_of(labels, probs, &sources, data.classes.names(), holdout)
}

/// [`ClassMetrics`] of `labels` against `probs` (class probabilities), per source where
/// `sources` names one. A class with no image is an error naming the counts, unless the
/// test part is the held-out source `holdout` (then the overall summary is `None`).
pub fn metrics_of(
    labels: &[usize],
    probs: &[Vec<f64>],
    sources: &[Option<&str>],
    names: &[String],
    holdout: Option<&str>,
) -> Result<ClassMetrics> {
    let counts = class_counts(labels, names.len());
    let summary = match (counts.contains(&0), holdout) {
        (false, _) => Some(MulticlassSummary::new(labels, probs, names)?),
        (true, Some(_)) if !labels.is_empty() => None,
        (true, _) => {
            let listed: Vec<String> = names
                .iter()
                .zip(&counts)
                .map(|(n, k)| format!("{k} {n}"))
                .collect();
            return Err(Error::input(
                "test part",
                format!(
                    "the test part lacks a class ({}): its one-vs-rest AUC is undefined; use a larger cohort or a larger test fraction",
                    listed.join(", ")
                ),
            ));
        }
    };
    let mut by_source: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (k, s) in sources.iter().enumerate() {
        if let Some(s) = s.filter(|s| !s.is_empty()) {
            by_source.entry(s).or_default().push(k);
        }
    }
    let mut per_source = BTreeMap::new();
    for (source, rows) in by_source {
        let l: Vec<usize> = rows.iter().map(|&k| labels[k]).collect();
        let p: Vec<Vec<f64>> = rows.iter().map(|&k| probs[k].clone()).collect();
        per_source.insert(source.to_string(), source_metrics(&l, &p, names)?);
    }
    Ok(ClassMetrics {
        summary,
        holdout_source: holdout.map(str::to_string),
        per_source,
    })
}

/// [`SourceMetrics`] of one source's test images.
fn source_metrics(labels: &[usize], probs: &[Vec<f64>], names: &[String]) -> Result<SourceMetrics> {
    let cm = ConfusionMatrix::from_indices(labels, &argmax(probs), names)?;
    let counts = class_counts(labels, names.len());
    let missing_classes: Vec<String> = counts
        .iter()
        .zip(names)
        .filter(|(&n, _)| n == 0)
        .map(|(_, name)| name.clone())
        .collect();
    let k = names.len();
    let roc_auc_per_class = roc_auc_ovr_per_class(labels, probs, k)?;
    let roc_auc_ovr_macro = match missing_classes.is_empty() {
        true => Some(roc_auc_ovr(labels, probs, k, Average::Macro)?),
        false => None,
    };
    Ok(SourceMetrics {
        n: labels.len(),
        accuracy: cm.accuracy(),
        balanced_accuracy: cm.balanced_accuracy(),
        confusion: cm.counts,
        roc_auc_per_class,
        roc_auc_ovr_macro,
        missing_classes,
    })
}

/// The per-source metrics of several k-class runs of the classes `names` as one table, a
/// row per run and source: `run` (the label given with it), `source`, `images`, `accuracy`,
/// `balanced accuracy`, `macro OvR AUC`, `AUC <class>` for each class (null where
/// undefined), `missing classes`. Puts a mixed split's per-source numbers beside the
/// leave-one-source-out runs'.
pub fn per_source_frame(runs: &[(&str, &ClassMetrics)], names: &[String]) -> Result<DataFrame> {
    let rows: Vec<(&str, &String, &SourceMetrics)> = runs
        .iter()
        .flat_map(|(run, m)| m.per_source.iter().map(move |(s, p)| (*run, s, p)))
        .collect();
    let float = |name: String, f: &dyn Fn(&SourceMetrics) -> Option<f64>| {
        Column::new(name.into(), rows.iter().map(|r| f(r.2)).collect::<Vec<_>>())
    };
    let text = |name: &str, f: &dyn Fn(&(&str, &String, &SourceMetrics)) -> String| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let mut cols = vec![
        text("run", &|r| r.0.to_string()),
        text("source", &|r| r.1.clone()),
        Column::new(
            "images".into(),
            rows.iter().map(|r| r.2.n as u64).collect::<Vec<_>>(),
        ),
        float("accuracy".into(), &|m| Some(m.accuracy)),
        float("balanced accuracy".into(), &|m| Some(m.balanced_accuracy)),
        float("macro OvR AUC".into(), &|m| m.roc_auc_ovr_macro),
    ];
    for (c, name) in names.iter().enumerate() {
        cols.push(float(format!("AUC {name}"), &|m| m.roc_auc_per_class[c]));
    }
    cols.push(text("missing classes", &|r| r.2.missing_classes.join(", ")));
    DataFrame::new_infer_height(cols).map_err(|e| Error::table("per source", e))
}

/// Images per class index, for `k` classes.
fn class_counts(labels: &[usize], k: usize) -> Vec<usize> {
    let mut n = vec![0; k];
    for &l in labels {
        n[l] += 1;
    }
    n
}

/// The metrics of the k-class run directory `dir` whose `run.json` is `info`, recomputed
/// from its `predictions.csv` (what `mammolab evaluate` prints for such a run).
pub fn evaluate_classes(dir: &Path, info: &RunInfo) -> Result<ClassMetrics> {
    let names = info.classes.names();
    let csv = dir.join("predictions.csv");
    let df = read_csv(&csv)?;
    let columns: Vec<String> = names.iter().map(|n| format!("p_{n}")).collect();
    let t = ClassScoreTable::from_frame(&df, &csv, "class", &columns, names)?;
    let sources = text_column(&df, &csv, "source")?;
    let sources: Vec<Option<&str>> = sources.iter().map(|s| Some(s.as_str())).collect();
    let holdout = info.options.holdout_source();
    metrics_of(&t.labels, &t.scores, &sources, names, holdout)
}

/// `predictions.csv` of a k-class run.
fn class_predictions(data: &Prepared, probs: &[Vec<f64>]) -> Result<DataFrame> {
    let items: Vec<_> = data
        .indices(Part::Test)
        .iter()
        .map(|&i| &data.items[i])
        .collect();
    let names = data.classes.names();
    let text = |name: &str, v: Vec<String>| Column::new(name.into(), v);
    let mut cols = vec![
        text("patient", items.iter().map(|it| it.pseudonym()).collect()),
        text(
            "source",
            items
                .iter()
                .map(|it| it.source.clone().unwrap_or_default())
                .collect(),
        ),
        text("sheet", items.iter().map(|it| it.sheet.clone()).collect()),
        Column::new(
            "row".into(),
            items.iter().map(|it| it.row).collect::<Vec<_>>(),
        ),
        text(
            "class",
            items.iter().map(|it| names[it.class].clone()).collect(),
        ),
    ];
    for (c, name) in names.iter().enumerate() {
        cols.push(Column::new(
            format!("p_{name}").into(),
            probs.iter().map(|p| p[c]).collect::<Vec<_>>(),
        ));
    }
    cols.push(text(
        "predicted",
        argmax(probs)
            .into_iter()
            .map(|c| names[c].clone())
            .collect(),
    ));
    DataFrame::new_infer_height(cols).map_err(|e| Error::table("predictions", e))
}

impl ClassMetrics {
    /// Every number as `(name, value)`, for a sweep over seeds: `accuracy`,
    /// `balanced_accuracy`, `roc_auc_ovr_macro`, `roc_auc_ovr_weighted`,
    /// `roc_auc_ovo_macro`, `roc_auc_ovo_weighted`, `cohen_kappa` (when the test part has
    /// every class), then for each source `<source>/accuracy`, `<source>/balanced_accuracy`,
    /// `<source>/roc_auc_ovr_macro` and `<source>/roc_auc_<class>` for each of `names`
    /// (`None` where undefined).
    pub fn named_values(&self, names: &[String]) -> Vec<(String, Option<f64>)> {
        let mut v: Vec<(String, Option<f64>)> = vec![];
        if let Some(s) = &self.summary {
            for (name, x) in [
                ("accuracy", s.accuracy),
                ("balanced_accuracy", s.balanced_accuracy),
                ("roc_auc_ovr_macro", s.roc_auc_ovr_macro),
                ("roc_auc_ovr_weighted", s.roc_auc_ovr_weighted),
                ("roc_auc_ovo_macro", s.roc_auc_ovo_macro),
                ("roc_auc_ovo_weighted", s.roc_auc_ovo_weighted),
                ("cohen_kappa", s.cohen_kappa),
            ] {
                v.push((name.to_string(), Some(x)));
            }
        }
        for (source, m) in &self.per_source {
            v.push((format!("{source}/accuracy"), Some(m.accuracy)));
            v.push((
                format!("{source}/balanced_accuracy"),
                Some(m.balanced_accuracy),
            ));
            v.push((format!("{source}/roc_auc_ovr_macro"), m.roc_auc_ovr_macro));
            for (class, auc) in names.iter().zip(&m.roc_auc_per_class) {
                v.push((format!("{source}/roc_auc_{class}"), *auc));
            }
        }
        v
    }

    /// The report as text, for a run of the classes `names`: the summary (k x k matrix,
    /// per-class rows, AUCs), then a line per source; when a held-out source lacks a class,
    /// its matrix and per-class AUCs instead of the summary.
    pub fn report(&self, names: &[String]) -> String {
        let mut text = String::new();
        if let Some(h) = &self.holdout_source {
            text.push_str(&format!(
                "leave one source out: trained on the other sources, tested on every image of {h}\n"
            ));
        }
        let auc = |a: Option<f64>| a.map_or_else(|| "n/a".to_string(), |a| format!("{a:.4}"));
        if let Some(s) = &self.summary {
            text.push_str(&s.report());
        }
        for (source, m) in &self.per_source {
            text.push_str(&format!(
                "  source {source}: {} test images, accuracy {:.4}, balanced accuracy {:.4}, macro OvR AUC {}{}\n",
                m.n,
                m.accuracy,
                m.balanced_accuracy,
                auc(m.roc_auc_ovr_macro),
                match m.missing_classes.is_empty() {
                    true => String::new(),
                    false => format!(" (no test images of {})", m.missing_classes.join(", ")),
                }
            ));
            if self.summary.is_none() {
                text.push_str(&confusion_text(names, &m.confusion));
                let per: Vec<String> = names
                    .iter()
                    .zip(&m.roc_auc_per_class)
                    .map(|(n, a)| format!("{n} {}", auc(*a)))
                    .collect();
                text.push_str(&format!("  one-vs-rest AUC: {}\n", per.join(", ")));
            }
        }
        text
    }
}

impl ClassRun {
    /// What `mammolab train` prints for a k-class run.
    pub fn report(&self, out: &Path) -> String {
        let c = &self.info.split;
        format!(
            "{}: {} classes, images train {} / validation {} / test {}\n{}",
            out.display(),
            self.info.classes.len(),
            c[0].images.iter().sum::<usize>(),
            c[1].images.iter().sum::<usize>(),
            c[2].images.iter().sum::<usize>(),
            self.metrics.report(self.info.classes.names())
        )
    }
}
