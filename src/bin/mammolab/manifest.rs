//! `mammolab manifest`:
//! Check a data manifest: structure, every named file present, every checksum right.

use std::path::PathBuf;

use mammolab::manifest::Manifest;
use mammolab::pipeline::report;

/// `mammolab manifest`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The manifest TOML file.
    file: PathBuf,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args { file, json } = args;
    let m = Manifest::open(&file)?;
    m.verify()?;
    if json {
        println!("{}", report::manifest_json(&file, &m));
    } else {
        println!("{}", report::manifest(&file, &m));
    }
    Ok(())
}
