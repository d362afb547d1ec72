//! The figures `mammolab metrics --plots DIR` writes: one file per chart, PNG.

use std::path::{Path, PathBuf};

use super::{
    calibration, class_roc, confusion_matrix, pr, roc, threshold_sweep, CellValues, Figure,
};
use crate::error::{IoContext, Result};
use crate::eval::{self, BinaryConfusion, Binning, ConfusionMatrix, ThresholdSweep};

const SIZE: (u32, u32) = (800, 600);

fn save(dir: &Path, name: &str, figure: Figure, out: &mut Vec<PathBuf>) -> Result<()> {
    let p = dir.join(name);
    figure.save(&p)?;
    out.push(p);
    Ok(())
}

/// `confusion.png`: the matrix, each row as fractions of its true class.
fn save_confusion(dir: &Path, matrix: &ConfusionMatrix, out: &mut Vec<PathBuf>) -> Result<()> {
    let (w, h) = SIZE;
    let f = Figure::png(w, h, |a| {
        confusion_matrix(a, matrix, CellValues::RowNormalised)
    })?;
    save(dir, "confusion.png", f, out)
}

/// `roc.png`, `pr.png`, `confusion.png` (row-normalised, at `threshold`), `thresholds.png`
/// and, when every score is a probability, `calibration.png`, of one score column against
/// binary labels (`positive` names the positive class on the matrix). Returns the files.
pub fn binary_figures(
    dir: &Path,
    labels: &[bool],
    scores: &[f64],
    positive: &str,
    threshold: f64,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).at(dir)?;
    let (w, h) = SIZE;
    let roc_curve = eval::roc_curve(labels, scores)?;
    let pr_curve = eval::pr_curve(labels, scores)?;
    let cm = BinaryConfusion::at_threshold(labels, scores, threshold)?;
    let op = cm.metrics().roc_point();
    let matrix = cm.matrix_named("negative", &format!("positive ({positive})"));
    let sweep = ThresholdSweep::new(labels, scores)?;
    let mut out = vec![];
    let f = Figure::png(w, h, |a| roc(a, &[("scores", &roc_curve)], Some(op)))?;
    save(dir, "roc.png", f, &mut out)?;
    save(
        dir,
        "pr.png",
        Figure::png(w, h, |a| pr(a, &[("scores", &pr_curve)]))?,
        &mut out,
    )?;
    save_confusion(dir, &matrix, &mut out)?;
    let f = Figure::png(w, h, |a| threshold_sweep(a, &sweep, Some(threshold)))?;
    save(dir, "thresholds.png", f, &mut out)?;
    if scores.iter().all(|v| (0.0..=1.0).contains(v)) {
        let cal = eval::calibration_curve(labels, scores, 10, Binning::Uniform)?;
        let f = Figure::png(w, h, |a| calibration(a, &[("scores", &cal)]))?;
        save(dir, "calibration.png", f, &mut out)?;
    }
    Ok(out)
}

/// `confusion.png` (k x k, arg-max, row-normalised) and `roc.png` (one one-vs-rest curve per
/// class) of class probabilities against class indices. Returns the files.
pub fn multiclass_figures<S: AsRef<str>>(
    dir: &Path,
    labels: &[usize],
    scores: &[Vec<f64>],
    classes: &[S],
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).at(dir)?;
    let (w, h) = SIZE;
    let matrix = ConfusionMatrix::from_indices(labels, &eval::argmax(scores), classes)?;
    let mut out = vec![];
    save(
        dir,
        "roc.png",
        Figure::png(w, h, |a| class_roc(a, labels, scores, classes))?,
        &mut out,
    )?;
    save_confusion(dir, &matrix, &mut out)?;
    Ok(out)
}
