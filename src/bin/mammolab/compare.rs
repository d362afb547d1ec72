//! `mammolab compare`:
//! Is B better than A? Two run directories: DeLong's test of their test ROC AUCs (paired
//! when both scored the same images); two sweeps: the per-seed differences.

use std::path::PathBuf;

use mammolab::pipeline;

/// `mammolab compare`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// A run or sweep directory (the reference).
    a: PathBuf,
    /// A run or sweep directory of the same kind.
    b: PathBuf,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args { a, b, json } = args;
    let c = pipeline::compare(&a, &b)?;
    if json {
        let mut v = serde_json::to_value(&c)?;
        v["significant"] = serde_json::json!(c.significant());
        println!("{v}");
    } else {
        println!("{}", c.report(&a, &b));
    }
    Ok(())
}
