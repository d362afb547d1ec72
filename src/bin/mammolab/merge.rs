//! `mammolab merge`:
//! Merge a cohort's sheets with its image listing and folders; write tables and audit.

use std::path::PathBuf;

use mammolab::ingest::merge::{merge, Ids};
use mammolab::manifest::Manifest;
use mammolab::pipeline::report;

/// `mammolab merge`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The data manifest.
    #[arg(long)]
    manifest: PathBuf,
    /// Output folder for merged.parquet, records.csv, audit.csv/.parquet/.xlsx, summary.json.
    #[arg(long)]
    out: PathBuf,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Keep the workbooks' patient ids in records.csv, the audit tables and summary.json
    /// (by default they show keyed pseudonyms, P-...; merged.parquet keeps its columns
    /// either way): a working copy that stays with the data.
    #[arg(long)]
    raw_ids: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        manifest,
        out,
        json,
        raw_ids,
    } = args;
    let ids = if raw_ids { Ids::Raw } else { Ids::Pseudonyms };
    let m = Manifest::open(&manifest)?;
    let r = merge(&m)?;
    r.write(&out, ids)?;
    let summary = r.summary_for(ids);
    if json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", report::merge(&r, &summary, &out));
    }
    Ok(())
}
