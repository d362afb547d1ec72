//! Per-class precision, recall, F1 and support: scikit-learn's `classification_report`.

use polars::prelude::*;
use serde::Serialize;

use super::{ratio, ConfusionMatrix};
use crate::error::{Error, Result};

/// One row of a [`ClassificationReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassRow {
    /// Class name, or `macro avg` / `weighted avg` / `micro avg`.
    pub name: String,
    /// Precision.
    pub precision: f64,
    /// Recall.
    pub recall: f64,
    /// F1.
    pub f1: f64,
    /// Number of true samples of the class (all samples for the averages).
    pub support: u64,
}

/// Per-class metrics with their averages.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassificationReport {
    /// One row per class, in class order.
    pub classes: Vec<ClassRow>,
    /// Fraction of correct predictions (equal to micro-averaged precision, recall and F1
    /// for single-label data).
    pub accuracy: f64,
    /// Unweighted mean over classes: every class counts the same, however rare.
    pub macro_avg: ClassRow,
    /// Mean weighted by support: dominated by the majority class.
    pub weighted_avg: ClassRow,
    /// Metrics of the pooled counts.
    pub micro_avg: ClassRow,
    /// `"precision[class]"` etc. for each ratio with a zero denominator (reported as 0).
    pub undefined: Vec<String>,
}

impl ClassificationReport {
    /// The report of a confusion matrix.
    pub fn new(cm: &ConfusionMatrix) -> Self {
        let (support, predicted) = (cm.support(), cm.predicted());
        let mut undefined = vec![];
        let mut classes = vec![];
        for (i, name) in cm.classes.iter().enumerate() {
            let tp = cm.counts[i][i] as f64;
            let mut u = vec![];
            let precision = ratio(tp, predicted[i] as f64, "precision", &mut u);
            let recall = ratio(tp, support[i] as f64, "recall", &mut u);
            let f1 = ratio(2.0 * tp, (predicted[i] + support[i]) as f64, "f1", &mut u);
            undefined.extend(u.into_iter().map(|m| format!("{m}[{name}]")));
            classes.push(ClassRow {
                name: name.clone(),
                precision,
                recall,
                f1,
                support: support[i],
            });
        }
        let n = cm.total();
        let k = classes.len() as f64;
        let avg = |name: &str, w: &dyn Fn(&ClassRow) -> f64, den: f64| ClassRow {
            name: name.into(),
            precision: classes.iter().map(|c| w(c) * c.precision).sum::<f64>() / den,
            recall: classes.iter().map(|c| w(c) * c.recall).sum::<f64>() / den,
            f1: classes.iter().map(|c| w(c) * c.f1).sum::<f64>() / den,
            support: n,
        };
        let macro_avg = avg("macro avg", &|_| 1.0, k);
        let weighted_avg = avg("weighted avg", &|c| c.support as f64, n as f64);
        let accuracy = cm.accuracy();
        let micro_avg = ClassRow {
            name: "micro avg".into(),
            precision: accuracy,
            recall: accuracy,
            f1: accuracy,
            support: n,
        };
        Self {
            classes,
            accuracy,
            macro_avg,
            weighted_avg,
            micro_avg,
            undefined,
        }
    }

    /// The report as text laid out exactly like scikit-learn's `classification_report`
    /// with `digits` decimals (tested character for character against scikit-learn 1.6.1).
    pub fn to_text(&self, digits: usize) -> String {
        let width = self
            .classes
            .iter()
            .map(|c| c.name.chars().count())
            .chain(["weighted avg".len(), digits])
            .max()
            .unwrap_or(0);
        let mut s = format!(
            "{:>width$}  {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        let row = |s: &mut String, r: &ClassRow| {
            s.push_str(&format!(
                "{:>width$}  {:>9.digits$} {:>9.digits$} {:>9.digits$} {:>9}\n",
                r.name, r.precision, r.recall, r.f1, r.support
            ))
        };
        for r in &self.classes {
            row(&mut s, r);
        }
        s.push('\n');
        s.push_str(&format!(
            "{:>width$}  {:>9} {:>9} {:>9.digits$} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.macro_avg.support
        ));
        row(&mut s, &self.macro_avg);
        row(&mut s, &self.weighted_avg);
        s
    }

    /// One row per class, then `macro avg` and `weighted avg`; columns `class`,
    /// `precision`, `recall`, `f1`, `support`.
    pub fn to_dataframe(&self) -> Result<DataFrame> {
        let rows: Vec<&ClassRow> = self
            .classes
            .iter()
            .chain([&self.macro_avg, &self.weighted_avg])
            .collect();
        df!(
            "class" => rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            "precision" => rows.iter().map(|r| r.precision).collect::<Vec<_>>(),
            "recall" => rows.iter().map(|r| r.recall).collect::<Vec<_>>(),
            "f1" => rows.iter().map(|r| r.f1).collect::<Vec<_>>(),
            "support" => rows.iter().map(|r| r.support).collect::<Vec<_>>(),
        )
        .map_err(|e| Error::table("classification report", e))
    }
}
