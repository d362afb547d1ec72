//! `mammolab augment`:
//! Preview --augment: each image as `train` prepares it, then random augmented copies,
//! in one PNG (rows: images; captions: what each draw did).

use std::path::PathBuf;

use mammolab::dataset::{Augment, DataOptions};
use mammolab::imaging::Gray;
use mammolab::plot::{self, Figure};

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
    let mut pre = DataOptions::new(size).preprocess;
    pre.normalise = None;
    let files: Vec<(PathBuf, bool)> = images.iter().map(|p| (p.clone(), false)).collect();
    let batch = mammolab::dataset::load_images(&files, &pre, None, "augment")?;
    let grays: Vec<Gray> = batch
        .data
        .chunks(size * size)
        .map(|px| Gray {
            width: size,
            height: size,
            pixels: px.to_vec(),
        })
        .collect();
    let cols = copies as u32 + 1;
    let fig = Figure::png(cols * 400, grays.len() as u32 * 420 + 40, |area| {
        plot::augment_grid(area, &grays, &augment, copies, seed)
    })?;
    fig.save(&out)?;
    println!(
        "{}: {} images x {copies} copies ({augment})",
        out.display(),
        grays.len()
    );
    Ok(())
}
