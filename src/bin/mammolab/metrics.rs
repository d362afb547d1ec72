//! `mammolab metrics`:
//! Evaluate scores against labels from a CSV: ROC AUC, AP, confusion matrix and more.

use std::path::PathBuf;

use mammolab::eval::{BinarySummary, MulticlassSummary};
use mammolab::ingest::{ClassScoreTable, ScoreTable};
use mammolab::pipeline::report;
use mammolab::plot;

/// `mammolab metrics`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// CSV file with a header row.
    #[arg(long)]
    csv: PathBuf,
    /// Column with the true label.
    #[arg(long)]
    label: String,
    /// Column with the model score (higher = more likely positive); for k classes, one
    /// column per class, comma-separated, in the order of --classes (each row's scores
    /// are class probabilities adding up to 1).
    #[arg(long)]
    score: String,
    /// The class names for k score columns (comma-separated, in the order of --score):
    /// the label column holds these names. Reports the k x k matrix, per-class rows and
    /// one-vs-rest / one-vs-one ROC AUC (scikit-learn's).
    #[arg(long, conflicts_with = "positive")]
    classes: Option<String>,
    /// Label value of the positive class (default: 1 or true).
    #[arg(long)]
    positive: Option<String>,
    /// Predict positive when score >= threshold.
    #[arg(long, default_value_t = 0.5)]
    threshold: f64,
    /// Also draw roc, pr, confusion, calibration and threshold charts (PNG) into DIR.
    #[arg(long, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        csv,
        label,
        score,
        classes,
        positive,
        threshold,
        plots,
        json,
    } = args;
    let columns: Vec<&str> = score.split(',').map(str::trim).collect();
    if columns.len() > 1 || classes.is_some() {
        let Some(classes) = classes else {
            anyhow::bail!(
                "--score names {} columns: name their classes with --classes A,B,...",
                columns.len()
            );
        };
        let names: Vec<&str> = classes.split(',').map(str::trim).collect();
        let t = ClassScoreTable::from_csv(&csv, &label, &columns, &names)?;
        let s = MulticlassSummary::new(&t.labels, &t.scores, &names)?;
        if let Some(dir) = plots {
            plot::multiclass_figures(&dir, &t.labels, &t.scores, &names)?;
        }
        if json {
            println!("{}", serde_json::to_string(&s)?);
        } else {
            print!("{}", s.report());
        }
        return Ok(());
    }
    let t = ScoreTable::from_csv(&csv, &label, &score, positive.as_deref())?;
    let s = BinarySummary::new(&t.labels, &t.scores, threshold)?;
    if let Some(dir) = plots {
        plot::binary_figures(&dir, &t.labels, &t.scores, &t.positive, threshold)?;
    }
    if json {
        println!("{}", serde_json::to_string(&s)?);
    } else {
        println!("{}", report::summary(&csv, &label, &t.positive, &s));
    }
    Ok(())
}
