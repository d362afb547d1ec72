//! `mammolab evaluate`:
//! Metrics of a run directory's test predictions (same JSON fields as `metrics`).

use std::path::PathBuf;

use mammolab::eval::{Aggregate, PerClass};
use mammolab::ingest::ScoreTable;
use mammolab::pipeline::{self, report, Level};

/// `mammolab evaluate`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// A directory written by `mammolab train`.
    #[arg(long)]
    run: PathBuf,
    /// Predict positive when score >= threshold (default: the threshold the run chose on
    /// its validation part, else 0.5).
    #[arg(long)]
    threshold: Option<f64>,
    /// image, or breast / patient (each one's images rolled up by --aggregate; breast is
    /// what the RSNA screening competition scores).
    #[arg(long, value_enum, default_value_t = Level::Image)]
    level: Level,
    /// How a breast's or patient's image scores become one: max (one suspicious view flags
    /// it) or mean.
    #[arg(long, value_enum, default_value_t = Aggregate::Max)]
    aggregate: Aggregate,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        run,
        threshold,
        level,
        aggregate,
        json,
    } = args;
    let info = pipeline::read_info(&run)?;
    if info.classes.positive().is_none() {
        // A k-class run: its metrics from predictions.csv, no threshold or level.
        let m = pipeline::evaluate_classes(&run, &info)?;
        if json {
            println!("{}", serde_json::to_string(&m)?);
        } else {
            print!("{}", m.report(info.classes.names()));
        }
        return Ok(());
    }
    let chosen = pipeline::chosen_threshold(&run)?;
    let (t, how) = match (threshold, &chosen) {
        (Some(t), _) => (t, "given".to_string()),
        (None, Some(c)) => (
            c.threshold,
            format!(
                "chosen on validation by {} (sensitivity {:.4}, specificity {:.4})",
                c.rule, c.sensitivity, c.specificity
            ),
        ),
        (None, None) => (0.5, "the default: the run chose none".to_string()),
    };
    let s = pipeline::evaluate(&run, t, level, aggregate)?;
    if json {
        let mut v = serde_json::to_value(&s)?;
        let rows = pipeline::per_class(&run, &s)?;
        v["per_class"] = serde_json::to_value(rows.iter().map(PerClass::from).collect::<Vec<_>>())?;
        println!("{v}");
    } else {
        let csv = run.join("predictions.csv");
        let t = ScoreTable::from_csv(&csv, "label", "score", None)?;
        let text = report::evaluation(&csv, &t.positive, &s, level, aggregate, &how);
        println!("{text}");
    }
    Ok(())
}
