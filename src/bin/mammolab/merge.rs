//! `mammolab merge`:
//! Merge a cohort's sheets with its image listing and folders; write tables and audit.

use std::path::PathBuf;

use mammolab::ingest::merge::{merge, Status};
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
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        manifest,
        out,
        json,
    } = args;
    let m = Manifest::open(&manifest)?;
    let r = merge(&m)?;
    r.write(&out)?;
    if json {
        println!("{}", serde_json::to_string(&r.summary)?);
    } else {
        for (name, c) in &r.summary.sheets {
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
        if !r.summary.warnings.is_empty() {
            println!(
                "{} cells read other than their workbook typed them (summary.json `warnings`), e.g. {} {}: {}",
                r.summary.warnings.len(),
                r.summary.warnings[0].workbook,
                r.summary.warnings[0].sheet,
                r.summary.warnings[0].warning
            );
        }
        let i = &r.summary.images;
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
