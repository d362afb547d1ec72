//! Does a trained CNN-VAE's reconstruction show the lesion? The study behind the README's
//! "Seed 000's CNN-VAE against the CNN": for a run of `mammolab train --model vae` on a
//! synthetic cohort (whose `ground_truth.json` says where each lesion was planted), every
//! test image is reconstructed from its latent mean and each lesion's contrast (inside its
//! circle minus the ring around it) is compared with the input's, with the R^2 of the
//! reconstruction around the lesion ([`pipeline::lesion_contrast`]).
//!
//! Usage: `vae_lesions RUN_DIR [GRID.png]`: one line with the run's `--vae` settings, test
//! ROC AUC and last reconstruction error per image, then [`pipeline::lesion_contrast_table`].
//! GRID.png shows up to 8 test images with a lesion (cancers first) above their
//! reconstructions.
//!
//! `vae_lesions inputs MANIFEST SIZE...`: the lesions of a cohort's test part (split seed 1)
//! at each input size, before any model. The input is measured against itself, so only
//! the `pixels` and `input_contrast` columns say anything.

use std::path::Path;

use mammolab::dataset::{default_image_cache, Part};
use mammolab::eval::Aggregate;
use mammolab::manifest::Manifest;
use mammolab::model::{ComputeDevice, ModelChoice, Trainer};
use mammolab::pipeline::{self, LesionContrast, Level, RunOptions};
use mammolab::plot::{self, Figure, Tile};

/// `inputs MANIFEST SIZE...`.
fn inputs(args: &[String]) -> mammolab::Result<()> {
    let manifest = Manifest::open(&args[0])?;
    let root = manifest.source.parent().unwrap_or(Path::new("."));
    for size in &args[1..] {
        let size: usize = size.parse().expect("SIZE is a whole number");
        let options = RunOptions::new(ModelChoice::Vae)
            .with_size(size)
            .with_seed(1)
            .with_cache(default_image_cache(
                std::env::var_os("MAMMOLAB_CACHE"),
                std::env::var_os("HOME"),
            ));
        let data = pipeline::prepare(&manifest, &options)?;
        let test = data.test();
        let lesions = pipeline::lesion_contrast(root, &data, Part::Test, &test)?;
        println!("{size} px\n{}", pipeline::lesion_contrast_table(&lesions)?);
    }
    Ok(())
}

fn main() -> mammolab::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("inputs") && args.len() > 2 {
        return inputs(&args[1..]);
    }
    let Some(run) = args.first().map(Path::new) else {
        eprintln!("usage: vae_lesions RUN_DIR [GRID.png] | vae_lesions inputs MANIFEST SIZE...");
        std::process::exit(2);
    };
    let info = pipeline::read_info(run)?;
    let manifest = Manifest::open(&info.manifest)?;
    let data = pipeline::prepare(&manifest, &info.options)?;
    let trainer = Trainer::resume(&run.join("checkpoint"), Some(ComputeDevice::Cpu))?;
    let test = data.test();
    let all: Vec<usize> = (0..test.labels.len()).collect();
    let rec = trainer.reconstruct(&test, &all)?;
    let root = manifest.source.parent().unwrap_or(Path::new("."));
    let lesions = pipeline::lesion_contrast(root, &data, Part::Test, &rec)?;
    let summary = pipeline::evaluate(run, 0.5, Level::Image, Aggregate::Max)?;
    let reconstruction = trainer.history().series("reconstruction")?;
    println!(
        "{}: --vae {:?}, test ROC AUC {:.3}, reconstruction per image {:.1}",
        run.display(),
        info.options
            .vae()
            .map(|v| v.to_string())
            .unwrap_or_default(),
        summary.roc_auc,
        reconstruction.last().copied().unwrap_or(f64::NAN),
    );
    println!("{}", pipeline::lesion_contrast_table(&lesions)?);

    if let Some(png) = args.get(1) {
        let mut shown: Vec<&LesionContrast> = lesions.iter().collect();
        shown.sort_by_key(|l| l.lesion.starts_with("benign"));
        shown.truncate(8);
        let mut tiles: Vec<Tile> = shown
            .iter()
            .map(|l| Tile::new(&data.image(&test, l.index), l.lesion.replace('_', " ")))
            .collect();
        tiles.extend(shown.iter().map(|l| {
            Tile::new(
                &data.image(&rec, l.index),
                format!("kept {:.0} %, R2 {:.2}", 100.0 * l.kept(), l.explained),
            )
        }));
        Figure::png(1200, 380, |a| {
            plot::image_grid(
                a,
                &tiles,
                shown.len(),
                "test lesions and their reconstructions",
            )
        })?
        .save(png)?;
    }
    Ok(())
}
