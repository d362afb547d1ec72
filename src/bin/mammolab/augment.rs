//! `mammolab augment`:
//! Preview --augment: each image as `train` prepares it, then random augmented copies,
//! in one PNG (rows: images; captions: what each draw did).

use std::path::PathBuf;

use mammolab::dataset::{load_images, Augment, DataOptions};
use mammolab::pipeline::report;
use mammolab::plot;

/// `mammolab augment`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// Image files (DICOM, JPG, PNG, PGM).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// The augmentation, as `train --augment` takes it.
    #[arg(long, default_value = "standard")]
    augment: Augment,
    /// Random copies per image.
    #[arg(long, default_value_t = 4)]
    copies: usize,
    /// Image side in pixels (as `train --size`; shrunk with `--resize max`, cropped to
    /// the breast).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Seed of the draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// The PNG to write.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let Args {
        images,
        augment,
        copies,
        size,
        seed,
        out,
    } = args;
    // The training recipe's images ([0, 1], so not normalised), then the augmented copies.
    let mut pre = DataOptions::new(size).preprocess;
    pre.normalise = None;
    let files: Vec<(PathBuf, bool)> = images.iter().map(|p| (p.clone(), false)).collect();
    let grays = load_images(&files, &pre, None, "augment")?.grey_images()?;
    plot::augment_figure(&grays, &augment, copies, seed)?.save(&out)?;
    println!(
        "{}",
        report::augment_preview(&out, grays.len(), copies, &augment)
    );
    Ok(())
}
