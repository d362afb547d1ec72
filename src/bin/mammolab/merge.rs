//! `mammolab merge`:
//! Merge a cohort's sheets with its image listing and folders; write tables and audit.

use std::path::PathBuf;

use mammolab::ingest::merge::{merge, Ids, Status};
use mammolab::manifest::Manifest;

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
        for (name, c) in &summary.sheets {
            let how = match (
                r.count(name, Status::Exact),
                r.count(name, Status::Normalised),
            ) {
                (0, 0) => String::new(),
                (e, k) => format!(" ({e} by the exact key, {k} only after normalising)"),
            };
            println!(
                "{name}: {} rows, {} matched{how}, {} unmatched",
                c.rows, c.matched, c.unmatched
            );
        }
        if let Some(w) = summary.warnings.first() {
            println!(
                "{} cells read other than their workbook typed them (summary.json `warnings`), e.g. {} {}: {}",
                summary.warnings.len(),
                w.workbook,
                w.sheet,
                w.warning
            );
        }
        let i = &summary.images;
        println!(
            "images: {} resolved, {} missing, {} in several folders",
            i.resolved, i.missing, i.duplicates
        );
        println!(
            "{} audit entries ({} header mismatches) written to {}",
            r.audit.len(),
            r.audit
                .iter()
                .filter(|a| a.status == Status::HeaderMismatch)
                .count(),
            out.display()
        );
    }
    Ok(())
}
