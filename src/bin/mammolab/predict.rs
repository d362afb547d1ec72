//! `mammolab predict`:
//! Score images with a trained model: new files, or a manifest's images (one part of
//! the run's split with --part). Writes the image table to --out, the failures to
//! <stem>.errors.csv (a bad file never stops the others), and the roll-up to
//! <stem>.<level>.csv.

use std::path::PathBuf;

use mammolab::dataset::{DataOptions, Part};
use mammolab::eval::Aggregate;
use mammolab::manifest::Manifest;
use mammolab::model::layers::Pool;
use mammolab::model::saliency::Method as SaliencyMethod;
use mammolab::model::{ComputeDevice, Predictor};
use mammolab::pipeline::heatmap::HeatmapsWritten;
use mammolab::pipeline::{self, predict, Level, RunInfo};

use crate::progress::count_bar;

/// `mammolab predict`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// A directory written by `mammolab train` (its checkpoint; its manifest and split
    /// when no --images are given).
    #[arg(
        long,
        required_unless_present = "checkpoint",
        conflicts_with = "checkpoint"
    )]
    run: Option<PathBuf>,
    /// A checkpoint directory (instead of --run).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Image files or folders (DICOM, JPG, PNG, PGM; folders searched recursively).
    #[arg(long, num_args = 1.., conflicts_with = "manifest")]
    images: Vec<PathBuf>,
    /// A data manifest: score its labelled images (default with --run: the run's).
    #[arg(long)]
    manifest: Option<PathBuf>,
    /// Only this part of the run's split (needs --run): `test` scores the run's test
    /// images again.
    #[arg(long, value_enum, conflicts_with = "images")]
    part: Option<Part>,
    /// Output CSV (one row per scored image).
    #[arg(long)]
    out: PathBuf,
    /// Also roll up to breast or patient (each one's images' scores by --aggregate).
    #[arg(long, value_enum, default_value_t = Level::Image)]
    level: Level,
    /// How a breast's or patient's image scores become one (roll-up, metrics,
    /// --submission): max (one suspicious view flags it) or mean.
    #[arg(long, value_enum, default_value_t = Aggregate::Max)]
    aggregate: Aggregate,
    /// Also write the RSNA screening competition's submission to FILE: `prediction_id,cancer`,
    /// one row per breast, `prediction_id = <patient_id>_<laterality>` from each DICOM's
    /// Patient ID and laterality (the real ids, not pseudonyms), `cancer` rolled up by
    /// --aggregate.
    #[arg(long, value_name = "FILE")]
    submission: Option<PathBuf>,
    /// Flag images with score >= this (default: the threshold chosen on validation,
    /// else 0.5).
    #[arg(long)]
    threshold: Option<f64>,
    /// Also write what the model looks at into DIR: one PNG overlay per scored image,
    /// saliency.csv (each map's peak in image pixels) and saliency.safetensors (inputs
    /// and maps).
    #[arg(long, value_name = "DIR")]
    saliency: Option<PathBuf>,
    /// grad-cam (the last convolutional layer) or occlusion (model-agnostic; one
    /// forward pass per occluded square, ~225 per image).
    #[arg(long, value_enum, default_value_t = SaliencyMethod::GradCam, requires = "saliency")]
    saliency_method: SaliencyMethod,
    /// The class the maps explain (default: the positive class).
    #[arg(long, requires = "saliency")]
    saliency_class: Option<String>,
    /// Also put patches that name their place on the slide (seed 003's
    /// `<patient>_idx5_x<X>_y<Y>_class<C>.png`) back together: one PNG per slide in DIR
    /// (the mosaic, the annotation, the probability) and slides.csv.
    #[arg(long, value_name = "DIR")]
    heatmap: Option<PathBuf>,
    /// Also write the activations of this layer (`--features` alone: the embedding
    /// before the classifier: dense, gap, mu or avgpool; a wrong name lists the
    /// model's layers) to <out stem>.features.parquet, one row per scored image.
    #[arg(long, num_args = 0..=1, default_missing_value = "embedding", value_name = "LAYER")]
    features: Option<String>,
    /// How --features turns a convolutional layer's maps into columns: mean or max per
    /// channel, or flatten (every value).
    #[arg(long, value_enum, default_value_t = Pool::Mean, requires = "features")]
    pool: Pool,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    if args.part.is_some() && args.run.is_none() {
        anyhow::bail!("--part needs --run: the split is the run's (run.json)");
    }
    // Refused now, not after scoring, when another process writes the same --out
    // (`write` takes the lock for good at the end).
    drop(mammolab::outlock::OutLock::file(&args.out)?);
    let info = args.run.as_deref().map(pipeline::read_info).transpose()?;
    let ckpt = match (&args.run, &args.checkpoint) {
        (_, Some(c)) => c.clone(),
        (Some(r), None) => r.join("checkpoint"),
        (None, None) => anyhow::bail!("give --run or --checkpoint"),
    };
    let predictor = Predictor::open(&ckpt, ComputeDevice::Cpu)?;
    let (inputs, skipped) = inputs(&args, info.as_ref(), &predictor)?;
    predict::check_level(&inputs, args.level)?;
    let features = args.features.as_ref().map(|layer| match layer.as_str() {
        "embedding" => predictor.embedding_layer().to_string(),
        _ => layer.clone(),
    });
    if let Some(layer) = &features {
        predictor.check_layer(layer)?;
    }
    let saliency_class = args
        .saliency
        .as_ref()
        .map(|_| predict::class_index(predictor.classes(), args.saliency_class.as_deref()))
        .transpose()?;
    let bar = count_bar("scoring", inputs.len(), args.json);
    let result = predict::predict(&predictor, inputs, args.threshold, &mut |done, _| {
        bar.set_position(done as u64)
    })?
    .with_skipped(skipped)
    .with_aggregate(args.aggregate);
    bar.finish_and_clear();
    let written = result.write(&args.out, args.level)?;
    // `write` puts the errors table last.
    let errors_file = written
        .last()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if result.scored() == 0 {
        anyhow::bail!(
            "none of the {} files could be scored: see {errors_file}",
            result.errors().len()
        );
    }
    if let Some(path) = &args.submission {
        result.write_submission(path)?;
    }
    let s = result.summary(args.level)?;
    let maps = match (&args.saliency, saliency_class) {
        (Some(dir), Some(class)) => {
            let bar = count_bar("saliency", result.scored(), args.json);
            let method = args.saliency_method;
            let w =
                predict::write_saliency(&predictor, &result, class, method, dir, &mut |d, _| {
                    bar.set_position(d as u64)
                })?;
            bar.finish_and_clear();
            Some(w)
        }
        _ => None,
    };
    let heatmaps = args
        .heatmap
        .as_ref()
        .map(|dir| pipeline::heatmap::write_heatmaps(&result, dir))
        .transpose()?;
    let features = features
        .map(|layer| write_features(&args, &predictor, &result, layer))
        .transpose()?;
    if args.json {
        let mut v = serde_json::to_value(&s)?;
        v["checkpoint"] = serde_json::json!(ckpt);
        v["written"] = serde_json::json!(written);
        v["saliency"] = serde_json::json!(maps);
        v["heatmaps"] = serde_json::json!(heatmaps);
        v["features"] = serde_json::json!(features);
        v["submission"] = serde_json::json!(args.submission);
        println!("{v}");
        return Ok(());
    }
    let mut text = summary_text(&s, &ckpt, args.level, &errors_file);
    for p in written.iter().chain(&args.submission) {
        text.push_str(&format!("\n  wrote {}", p.display()));
    }
    text.push_str(&outputs_text(
        features.as_ref(),
        heatmaps.as_ref(),
        maps.as_ref(),
    ));
    println!("{text}");
    Ok(())
}

/// What to score: `--images`, else the manifest's images (`--manifest`, else the run's),
/// chosen by the run's data options (`--part` of its split) or, for a checkpoint alone,
/// the default options with its input recipe; a fusion model's workbook columns added.
fn inputs(
    args: &Args,
    info: Option<&RunInfo>,
    predictor: &Predictor,
) -> anyhow::Result<(Vec<predict::Input>, Vec<predict::Failure>)> {
    if !args.images.is_empty() {
        return Ok(predict::inputs_from_paths(&args.images)?);
    }
    let path = match (&args.manifest, info) {
        (Some(m), _) => m.clone(),
        (None, Some(i)) => i.manifest.clone(),
        (None, None) => anyhow::bail!("give --images or --manifest to say what to score"),
    };
    let m = Manifest::open(&path)?;
    // The run's data options pick the same images and split; a checkpoint alone takes
    // the default options with its input recipe (the classes are the manifest's).
    let options = match info {
        Some(i) => i.options.data().clone(),
        None => DataOptions::for_recipe(predictor.preprocess().clone()),
    };
    let inputs = predict::inputs_from_manifest(&m, &options, args.part)?;
    let inputs = match predictor.covariates() {
        [] => inputs,
        columns => predict::with_covariates(&m, inputs, columns)?,
    };
    Ok((inputs, vec![]))
}

/// `--features LAYER`: the layer's pooled values per scored image in
/// `<out stem>.features.parquet`; what `--json` says of it.
fn write_features(
    args: &Args,
    predictor: &Predictor,
    result: &predict::Predictions,
    layer: String,
) -> anyhow::Result<serde_json::Value> {
    let bar = count_bar("features", result.scored(), args.json);
    let mut df = result.features(predictor, &layer, args.pool, &mut |d, _| {
        bar.set_position(d as u64)
    })?;
    bar.finish_and_clear();
    let stem = args
        .out
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "predictions".into());
    let path = args.out.with_file_name(format!("{stem}.features.parquet"));
    mammolab::ingest::frames::write_parquet(&mut df, &path)?;
    Ok(serde_json::json!({
        "layer": layer,
        "pool": args.pool,
        "columns": df.width() - predict::FEATURE_ID_COLUMNS.len(),
        "rows": df.height(),
        "file": path,
    }))
}

/// The first lines `predict` prints: how many files were scored, failed, not mirrored and
/// flagged, and the metrics at `level` when the images have classes.
fn summary_text(
    s: &predict::PredictSummary,
    ckpt: &std::path::Path,
    level: Level,
    errors_file: &str,
) -> String {
    let mut text = format!(
        "scored {} of {} files with {} in {:.1} s ({:.1} images/s)",
        s.scored,
        s.scored + s.failed,
        ckpt.display(),
        s.seconds,
        s.images_per_second
    );
    if s.failed > 0 {
        text.push_str(&format!(
            "\n  {} not scored (unreadable, undecodable or not an image): see {errors_file}",
            s.failed
        ));
    }
    if s.unknown_laterality > 0 {
        text.push_str(&format!(
            "\n  warning: {} images have no laterality (no manifest row, no DICOM tag), so they were not mirrored as the model's right-breast training images were",
            s.unknown_laterality
        ));
    }
    text.push_str(&format!(
        "\n  {} of {} flagged {} at threshold {} ({})",
        s.flagged,
        s.scored,
        s.classes.positive_name().unwrap_or("positive"),
        mammolab::eval::threshold_text(s.threshold.threshold),
        s.threshold.source
    ));
    if let Some(m) = &s.metrics {
        text.push_str(&format!("\n  per {}: {}", level.name(), m.line()));
    }
    text
}

/// The lines about what `--features`, `--heatmap` and `--saliency` wrote.
fn outputs_text(
    features: Option<&serde_json::Value>,
    heatmaps: Option<&HeatmapsWritten>,
    maps: Option<&predict::SaliencyWritten>,
) -> String {
    let mut text = String::new();
    if let Some(f) = features {
        text.push_str(&format!(
            "\n  wrote {}: layer {} ({} pooling), {} images x {} values",
            f["file"].as_str().unwrap_or_default(),
            f["layer"].as_str().unwrap_or_default(),
            f["pool"].as_str().unwrap_or_default(),
            f["rows"],
            f["columns"]
        ));
    }
    if let Some(h) = heatmaps {
        text.push_str(&format!(
            "\n  {} slides ({} patches) drawn in {} (one PNG per slide, slides.csv){}",
            h.slides,
            h.patches,
            h.dir.display(),
            match h.unplaced {
                0 => String::new(),
                n => format!("; {n} files name no place on a slide (_x<X>_y<Y>) and are not drawn"),
            }
        ));
    }
    if let Some(w) = maps {
        text.push_str(&format!(
            "\n  {} maps for class {} of {} images{} in {} (saliency.csv, saliency.safetensors, one PNG per image)",
            w.method,
            w.class,
            w.images,
            w.layer
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default(),
            w.dir.display()
        ));
    }
    text
}
