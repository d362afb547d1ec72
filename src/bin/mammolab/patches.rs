//! `mammolab patches`:
//! Read Kaggle's DDSM Mammography download (seed 004) and count its patches per file and
//! label: every TFRecord checked against its CRC, every array against its header.

use std::path::PathBuf;
use std::time::Instant;

use mammolab::pipeline::report;

use crate::output::print_json_with_seconds;

/// `mammolab patches`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The download's folder (holding training10_0/, cv10_data/, cv10_labels.npy, ...).
    root: PathBuf,
    /// Also write every patch as a PNG into this (empty) folder, with patches.csv and a
    /// manifest.toml that trains benign vs malignant on the download's own division.
    #[arg(long)]
    unpack: Option<PathBuf>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args { root, unpack, json } = args;
    let t = Instant::now();
    let download = mammolab::ingest::ddsm_patches::Download::find(&root)?;
    // Unpacking reads every patch once and counts them on the way.
    let unpacked = unpack.map(|out| download.unpack(&out)).transpose()?;
    let audit = match &unpacked {
        Some(u) => u.audit.clone(),
        None => download.audit()?,
    };
    let seconds = t.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(&audit)?;
        if let Some(u) = &unpacked {
            v["unpacked"] = serde_json::to_value(u)?;
        }
        print_json_with_seconds(&v, seconds)?;
    } else {
        print!("{}", report::ddsm_download(&audit));
        if let Some(u) = &unpacked {
            println!("{}", report::ddsm_unpacked(u, seconds));
        }
    }
    Ok(())
}
