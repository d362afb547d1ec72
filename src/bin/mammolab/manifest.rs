//! `mammolab manifest`:
//! Check a data manifest: structure, every named file present, every checksum right.

use std::path::PathBuf;

use mammolab::manifest::Manifest;

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
        let mut v = serde_json::json!({
            "manifest": file,
            "cohort": m.cohort.name,
            "tables": m.tables.len(),
            "sheets": m.sheets.len(),
            "image_roots": m.image_roots.len(),
            "checksums_verified": m.tables.iter().filter(|t| t.sha256.is_some()).count(),
            "ok": true,
        });
        if !m.sources.is_empty() {
            v["sources"] = serde_json::json!(m.sources.iter().map(|s| &s.name).collect::<Vec<_>>());
        }
        println!("{v}");
    } else if !m.sources.is_empty() {
        let names: Vec<&str> = m.sources.iter().map(|s| s.name.as_str()).collect();
        println!(
            "{}: cohort `{}` ok: {} sources ({}), {} with verified sha256, each source's manifest checked",
            file.display(),
            m.cohort.name,
            names.len(),
            names.join(", "),
            m.sources.iter().filter(|s| s.sha256.is_some()).count(),
        );
    } else {
        println!(
            "{}: cohort `{}` ok: {} tables ({} with verified sha256), {} sheets, {} image roots",
            file.display(),
            m.cohort.name,
            m.tables.len(),
            m.tables.iter().filter(|t| t.sha256.is_some()).count(),
            m.sheets.len(),
            m.image_roots.len()
        );
    }
    Ok(())
}
