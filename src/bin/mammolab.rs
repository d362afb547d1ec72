//! The `mammolab` command line: a thin layer over the library.
//!
//! Errors print as one line on stderr (`error: ...`) with exit code 1; usage errors (an
//! unknown option, a value not among the choices) print one line too and exit 2.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand, ValueEnum};
use mammolab::dataset::{
    default_image_cache, Augment, Channels, DataOptions, ImageSource, Input, Orient, Part,
};
use mammolab::eval::{BinarySummary, MulticlassSummary, PerClass, ThresholdRule};
use mammolab::imaging::{Filter, Gray};
use mammolab::ingest::dicom::{read_header, read_image_opt};
use mammolab::ingest::merge::{merge, Status};
use mammolab::ingest::sheets::{read_workbook, SheetOptions};
use mammolab::ingest::{ClassScoreTable, ScoreTable};
use mammolab::manifest::Manifest;
use mammolab::model::layers::Pool;
use mammolab::model::saliency::Method as SaliencyMethod;
use mammolab::model::{
    epoch_line, keep_freed_memory, ClassLoss, ClassWeights, ComputeDevice, EarlyStopping,
    EpochStats, ModelChoice, Monitor, Predictor, Progress, Sampler,
};
use mammolab::pipeline::{self, predict, report, Level, RunOptions};
use mammolab::plot::{self, Figure};
use mammolab::synth::{self, Profile, SynthOptions};

/// `--class-weights`: the two settings the CLI offers of [`ClassWeights`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Weights {
    /// `n / (k * n_c)` per class (scikit-learn's "balanced").
    #[value(alias = "balanced")]
    Auto,
    /// Every class weighs 1 (seed 001's setup).
    None,
}

/// `synth --profile`: which download the generated folder imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Twin {
    /// The hospital export at the ci scale.
    Ci,
    /// The hospital export at the default scale.
    Default,
    /// The hospital export at the large scale.
    Large,
    /// Seed 001's hospital export (`--scale`, default `default`).
    HospitalExport,
    /// The CBIS-DDSM download (`--scale ci|default`, default `default`).
    CbisDdsm,
    /// Kaggle's DDSM Mammography download, seed 004's (`--scale ci|default`): 299 x 299
    /// patches in five TFRecord shards and two NumPy array pairs.
    Ddsm,
    /// The mini-MIAS download, seed 002's third source (`--scale ci|default`): `Info.txt`
    /// and `all-mias/mdb001.pgm` ...
    MiniMias,
    /// The INbreast release, seed 002's second source (`--scale ci|default`): `INbreast.xls`
    /// and `AllDICOMs/<File Name>_<patient>_MG_<side>_<view>_ANON.dcm`.
    Inbreast,
    /// Kaggle's IDC histology patches, seed 003's (`--scale ci|default`):
    /// `IDC_regular_ps50_idx5/<patient>/<0|1>/<patient>_idx5_x<X>_y<Y>_class<0|1>.png`.
    Idc,
    /// Seed 002's cohort (`--scale ci|default`): the CBIS-DDSM, INbreast and mini-MIAS twins
    /// side by side and one manifest joining them in three classes.
    ThreeSources,
}

/// `--fractions`: three shares adding up to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FractionsArg(mammolab::dataset::Fractions);

impl std::str::FromStr for FractionsArg {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let v: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("`{s}` is not three numbers separated by commas"))?;
        let [train, val, test] = v[..] else {
            return Err(format!("`{s}` is not three numbers separated by commas"));
        };
        mammolab::dataset::Fractions::new(train, val, test)
            .map(Self)
            .map_err(|e| e.to_string())
    }
}

/// `--grad-clip`: a positive number, or `none`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Clip(Option<f64>);

impl std::str::FromStr for Clip {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(Self(None));
        }
        match s.parse::<f64>() {
            Ok(n) if n > 0.0 && n.is_finite() => Ok(Self(Some(n))),
            _ => Err(format!("`{s}` is not a positive number or `none`")),
        }
    }
}

/// `--seeds`: `1..5` (inclusive) or `1,4,9`.
#[derive(Debug, Clone, PartialEq)]
struct Seeds(Vec<u64>);

impl std::str::FromStr for Seeds {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim()
                .parse::<u64>()
                .map_err(|_| format!("`{t}` is not a seed (a whole number)"))
        };
        let seeds = match s.split_once("..") {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b.trim_start_matches('='))?);
                if b < a || b - a >= 1000 {
                    return Err(format!("`{s}`: give a rising range of at most 1000 seeds"));
                }
                (a..=b).collect()
            }
            None => s.split(',').map(num).collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Self(seeds))
    }
}

#[derive(Parser)]
#[command(
    name = "mammolab",
    version,
    about = "Breast-cancer imaging research: cohorts, ingest, models, evaluation"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `train` options that `--resume` takes from the interrupted run instead.
const RESUME_CONFLICTS: &[&str] = &[
    "manifest",
    "model",
    "device",
    "epochs",
    "seed",
    "seeds",
    "class_weights",
    "sampler",
    "focal",
    "size",
    "resize",
    "orient",
    "batch_size",
    "lr",
    "patience",
    "threshold_rule",
    "grad_clip",
    "warmup",
    "pretrained",
    "backbone_lr_factor",
    "freeze_backbone",
    "augment",
    "covariates",
    "dropout",
    "input",
    "allow_collapse",
    "holdout_source",
    "channels",
    "fractions",
    "dicom",
    "cache",
];

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic cohort shaped like seed 001's hospital export.
    Synth {
        /// What to imitate: hospital-export (seed 001's workbooks and image folders),
        /// cbis-ddsm (the TCIA download: four CSVs, DICOM folders) or ddsm (Kaggle's DDSM
        /// Mammography: TFRecord shards and NumPy arrays of patches); ci, default and large
        /// are short for hospital-export at that scale.
        #[arg(long, default_value = "default")]
        profile: Twin,
        /// ci (small, for tests and CI), default (seed 001's sizes; CBIS-DDSM: 2560 x 1600
        /// films) or large (hospital export only: 5x, for benchmarks).
        #[arg(long)]
        scale: Option<Profile>,
        /// Output folder (created; must be empty unless --force).
        #[arg(long)]
        out: PathBuf,
        /// Generator seed: the same profile and seed give byte-identical files.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Lesion contrast multiplier (1.0 = the profile's; lower is harder).
        #[arg(long)]
        conspicuity: Option<f32>,
        /// Replace a cohort already in --out (only the files synth writes).
        #[arg(long)]
        force: bool,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Read Kaggle's DDSM Mammography download (seed 004) and count its patches per file and
    /// label: every TFRecord checked against its CRC, every array against its header.
    Patches {
        /// The download's folder (holding training10_0/, cv10_data/, cv10_labels.npy, ...).
        root: PathBuf,
        /// Also write every patch as a PNG into this (empty) folder, with patches.csv and a
        /// manifest.toml that trains benign vs malignant on the download's own division.
        #[arg(long)]
        unpack: Option<PathBuf>,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List the sheets of a workbook with their rows, columns and dtypes.
    Sheets {
        /// The workbook (.xlsx, .xlsm, .xls, .xlsb, .ods), CSV file or whitespace-separated .txt table (one sheet, named by its stem).
        file: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// With --json: every data row's cells too (`cells`, in column order; numbers,
        /// text, booleans, dates as Excel's General format shows them, null for empty and
        /// error cells) and each row's spreadsheet row number (`row_numbers`).
        #[arg(long, requires = "json")]
        cells: bool,
    },
    /// Merge a cohort's sheets with its image listing and folders; write tables and audit.
    Merge {
        /// The data manifest.
        #[arg(long)]
        manifest: PathBuf,
        /// Output folder for merged.parquet, records.csv, audit.csv/.parquet/.xlsx, summary.json.
        #[arg(long)]
        out: PathBuf,
        /// Print the summary as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Preview --augment: each image as `train` prepares it, then random augmented copies,
    /// in one PNG (rows: images; captions: what each draw did).
    Augment {
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
    },
    /// Show a DICOM file's key header fields and stored-pixel statistics.
    Dicom {
        /// The DICOM file.
        file: PathBuf,
        /// Which frame of a multi-frame image (0-based).
        #[arg(long, default_value_t = 0)]
        frame: u32,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Evaluate scores against labels from a CSV: ROC AUC, AP, confusion matrix and more.
    Metrics {
        /// CSV file with a header row.
        #[arg(long)]
        csv: PathBuf,
        /// Column with the true label.
        #[arg(long)]
        label: String,
        /// Column with the model score (higher = more likely positive); for k classes, one
        /// column per class, comma-separated, in the order of --classes (each row's scores
        /// are class probabilities adding up to 1).
        #[arg(long)]
        score: String,
        /// The class names for k score columns (comma-separated, in the order of --score):
        /// the label column holds these names. Reports the k x k matrix, per-class rows and
        /// one-vs-rest / one-vs-one ROC AUC (scikit-learn's).
        #[arg(long, conflicts_with = "positive")]
        classes: Option<String>,
        /// Label value of the positive class (default: 1 or true).
        #[arg(long)]
        positive: Option<String>,
        /// Predict positive when score >= threshold.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Also draw roc, pr, confusion, calibration and threshold charts (PNG) into DIR.
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
        /// Print one JSON object instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Train a model on a manifest's cohort (patient-grouped split) and write a run directory:
    /// checkpoint, config, history, test-set predictions and metrics.
    Train {
        /// The cohort's manifest.
        #[arg(long, required_unless_present = "resume")]
        manifest: Option<PathBuf>,
        /// Continue the run that was training into --out when it was killed, from its last
        /// complete epoch, with the manifest and options it was started with (saved in
        /// OUT/in-progress/); it ends with the weights the uninterrupted run would have.
        #[arg(long, requires = "out", conflicts_with_all = RESUME_CONFLICTS)]
        resume: bool,
        /// cnn (seed 001), cnn-bn (the same with batch norm), vae (seed 000), resnet or plain
        /// (the skip-connection experiment), resnet18 or resnet50 (torchvision's, for
        /// --pretrained), cancernet (seed 003's histology-patch network; with --channels rgb).
        #[arg(long, value_enum, default_value_t = ModelChoice::Cnn)]
        model: ModelChoice,
        /// cpu, or cuda (needs a build with `--features cuda` and an NVIDIA GPU).
        #[arg(long, value_enum, default_value_t = ComputeDevice::Cpu)]
        device: ComputeDevice,
        /// Epochs (the maximum with --patience).
        #[arg(long, default_value_t = 10)]
        epochs: usize,
        /// Seed of the split, the weights and the sample order.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Train once per seed (`1..5`, inclusive, or `1,4,9`) into OUT/seed-<s>/, and write
        /// OUT/sweep.csv and OUT/sweep.json (each metric's mean, sd and bootstrap interval).
        #[arg(long, conflicts_with = "seed")]
        seeds: Option<Seeds>,
        /// auto: weight classes n / (k * n_c) in the loss; none: unweighted (seed 001's setup).
        #[arg(long, value_enum, default_value_t = Weights::Auto)]
        class_weights: Weights,
        /// shuffle, or balanced (oversample so classes are equally likely).
        #[arg(long, value_enum, default_value_t = Sampler::Shuffle)]
        sampler: Sampler,
        /// Focal loss with this gamma instead of cross-entropy.
        #[arg(long)]
        focal: Option<f64>,
        /// Image side in pixels.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// How images are shrunk to --size: max (the brightest pixel of each box: keeps
        /// calcifications that averaging dilutes), lanczos3, bilinear or nearest.
        #[arg(long, value_enum, default_value_t = Filter::Max)]
        resize: Filter,
        /// How every breast is made to face one way: laterality (mirror the films the record
        /// calls right) or pixels (mirror every film whose right half is brighter: for
        /// downloads that do not all say which breast a film shows, as mini-MIAS).
        #[arg(long, value_enum, default_value_t = Orient::Laterality)]
        orient: Orient,
        /// Images per step.
        #[arg(long, default_value_t = 16)]
        batch_size: usize,
        /// Adam learning rate.
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// Stop when validation ROC AUC has not improved for this many epochs (keeps the best).
        #[arg(long)]
        patience: Option<usize>,
        /// How to choose the decision threshold on the validation part: youden, f1, f2,
        /// fbeta:B, spec:S (most sensitive with specificity >= S), sens:S, or a number.
        #[arg(long, default_value = "youden")]
        threshold_rule: ThresholdRule,
        /// Clip each parameter's gradient to this L2 norm ("none": no clipping).
        #[arg(long, default_value = "none")]
        grad_clip: Clip,
        /// Warm the learning rate up linearly over this many epochs.
        #[arg(long, default_value_t = 0)]
        warmup: usize,
        /// Start from a torchvision ResNet state dict saved as safetensors (resnet18 /
        /// resnet50; a 1-channel model gets the RGB filters of conv1 summed, a new fc when
        /// the class count differs). Nothing is downloaded: see the README.
        #[arg(long)]
        pretrained: Option<PathBuf>,
        /// The backbone's learning rate as a fraction of --lr (resnet18 / resnet50): 0.1
        /// fine-tunes it ten times slower than the new head.
        #[arg(long, default_value_t = 1.0, conflicts_with = "freeze_backbone")]
        backbone_lr_factor: f64,
        /// Train only the new head (resnet18 / resnet50): the backbone's weights and batch
        /// norm statistics stay as loaded.
        #[arg(long)]
        freeze_backbone: bool,
        /// Random transforms of each training batch: none, standard (vertical flip, 10 degree
        /// rotation, 5 % shift, 10 % zoom, brightness / contrast / gamma jitter), or key=value
        /// settings on top (standard,crop=0.8; keys hflip, vflip, rotate, translate, zoom,
        /// crop, brightness, contrast, gamma). Seeded; saved in the checkpoint's config.
        #[arg(long, default_value = "none")]
        augment: Augment,
        /// Fuse these workbook columns (comma-separated, e.g. Age,BodyPartThickness) with the
        /// image: the CNN's dense features and the standardised columns feed one classifier,
        /// trained end to end (--model cnn or cnn-bn). Missing cells take the training mean.
        #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
        covariates: Vec<String>,
        /// Dropout after each conv block of seed 001's CNN (--model cnn or cnn-bn), doubled
        /// (at most 0.5) before its last layer; in [0, 1). Default: none (seed 001's setup).
        #[arg(long, value_name = "P")]
        dropout: Option<f64>,
        /// full: the whole image; roi: each lesion's cropped image (CBIS-DDSM: one sample
        /// per CSV row; needs a manifest whose image root has a roi_column); mask: the film
        /// cut to the box of each lesion's ROI mask, widened by half its size.
        #[arg(long, value_enum, default_value_t = Input::Full)]
        input: Input,
        /// Go on training when the network's outputs collapse to a constant (default: stop
        /// with an error at the first collapsed epoch).
        #[arg(long)]
        allow_collapse: bool,
        /// Leave one source out (a manifest of several downloads, `[[source]]`): test on every
        /// image of the source NAME, train and validate on the others.
        #[arg(long, value_name = "NAME")]
        holdout_source: Option<String>,
        /// grey (one channel: mammograms) or rgb (red, green and blue: histology, seed 003).
        #[arg(long, value_enum, default_value = "grey")]
        channels: Channels,
        /// Patient shares of train, validation and test, adding up to 1 (seed 003: 0.8,0.1,0.1).
        /// A manifest's own [split] decides train and test instead.
        #[arg(long, value_name = "TRAIN,VAL,TEST", default_value = "0.7,0.15,0.15")]
        fractions: FractionsArg,
        /// Decode images from DICOM instead of the JPG exports.
        #[arg(long)]
        dicom: bool,
        /// Folder for decoded-image caches (default: $MAMMOLAB_CACHE/images or ~/.cache/mammolab/images; "none": no cache).
        #[arg(long)]
        cache: Option<String>,
        /// The run directory to write.
        #[arg(long)]
        out: PathBuf,
        /// Print one JSON object (the test metrics and the run summary) at the end.
        #[arg(long)]
        json: bool,
    },
    /// Metrics of a run directory's test predictions (same JSON fields as `metrics`).
    Evaluate {
        /// A directory written by `mammolab train`.
        #[arg(long)]
        run: PathBuf,
        /// Predict positive when score >= threshold (default: the threshold the run chose on
        /// its validation part, else 0.5).
        #[arg(long)]
        threshold: Option<f64>,
        /// image, or breast / patient (each one's highest image score).
        #[arg(long, value_enum, default_value_t = Level::Image)]
        level: Level,
        /// Print one JSON object instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Score images with a trained model: new files, or a manifest's images (one part of
    /// the run's split with --part). Writes the image table to --out, the failures to
    /// <stem>.errors.csv (a bad file never stops the others), and the roll-up to
    /// <stem>.<level>.csv.
    Predict {
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
        /// Also roll up to breast or patient (each one's highest image score).
        #[arg(long, value_enum, default_value_t = Level::Image)]
        level: Level,
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
    },
    /// Is B better than A? Two run directories: DeLong's test of their test ROC AUCs (paired
    /// when both scored the same images); two sweeps: the per-seed differences.
    Compare {
        /// A run or sweep directory (the reference).
        a: PathBuf,
        /// A run or sweep directory of the same kind.
        b: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Check a data manifest: structure, every named file present, every checksum right.
    Manifest {
        /// The manifest TOML file.
        file: PathBuf,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // One line, like every other error: clap's message with its hint lines joined.
            let text = e.render().to_string();
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            let line = lines.join(" ");
            eprintln!("{}", line.trim_end());
            return ExitCode::from(2);
        }
    };
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the library's messages already name the file, sheet, row or tag, and
            // most already hold their cause; a cause is added only when it says more.
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            let msg = msg.replace('\n', " ");
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    if matches!(command, Command::Train { .. } | Command::Predict { .. }) {
        // Their tables carry pseudonyms: key them with the project's secret.
        mammolab::privacy::install_default(
            std::env::var_os("MAMMOLAB_KEY"),
            std::env::var_os("XDG_CONFIG_HOME"),
            std::env::var_os("HOME"),
        )?;
    }
    match command {
        Command::Synth {
            profile,
            scale,
            out,
            seed,
            conspicuity,
            force,
            json,
        } => {
            let (twin, scale) =
                match (profile, scale) {
                    (Twin::Ci | Twin::Default | Twin::Large, Some(_)) => anyhow::bail!(
                    "--profile {} names a scale already; use --profile hospital-export --scale ...",
                    profile.to_possible_value().expect("no skipped values").get_name()
                ),
                    (Twin::Ci, None) => (Twin::HospitalExport, Profile::Ci),
                    (Twin::Default, None) => (Twin::HospitalExport, Profile::Default),
                    (Twin::Large, None) => (Twin::HospitalExport, Profile::Large),
                    (t, s) => (t, s.unwrap_or(Profile::Default)),
                };
            if matches!(
                twin,
                Twin::Ddsm | Twin::MiniMias | Twin::Inbreast | Twin::ThreeSources | Twin::Idc
            ) && conspicuity.is_some()
            {
                anyhow::bail!("--conspicuity is for the hospital-export and cbis-ddsm twins");
            }
            let twin_opts =
                || synth::TwinOptions::new(scale).map(|o| o.with_seed(seed).with_overwrite(force));
            if twin == Twin::ThreeSources {
                let opts = twin_opts()?;
                synth_twin(
                    json,
                    || synth::sources::generate(&opts, &out),
                    mammolab::pipeline::report::three_sources,
                    |s| {
                        let files = s.cbis_ddsm.files + s.inbreast.files + s.mini_mias.files + 1;
                        let bytes = s.cbis_ddsm.bytes + s.inbreast.bytes + s.mini_mias.bytes;
                        (files, bytes)
                    },
                )?;
            } else if twin == Twin::Inbreast {
                let opts = twin_opts()?;
                synth_twin(
                    json,
                    || synth::inbreast::generate(&opts, &out),
                    mammolab::pipeline::report::inbreast_twin,
                    |s| (s.files, s.bytes),
                )?;
            } else if twin == Twin::Idc {
                let opts = twin_opts()?;
                synth_twin(
                    json,
                    || synth::idc::generate(&opts, &out),
                    mammolab::pipeline::report::idc_twin,
                    |s| (s.files, s.bytes),
                )?;
            } else if twin == Twin::MiniMias {
                let opts = twin_opts()?;
                synth_twin(
                    json,
                    || synth::mias::generate(&opts, &out),
                    mammolab::pipeline::report::mias_twin,
                    |s| (s.files, s.bytes),
                )?;
            } else if twin == Twin::Ddsm {
                synth_ddsm(&twin_opts()?, &out, json)?;
            } else if twin == Twin::CbisDdsm {
                let mut opts = synth::cbis::CbisOptions::of(twin_opts()?);
                if let Some(c) = conspicuity {
                    opts = opts.with_conspicuity(c);
                }
                synth_cbis(&opts, &out, json)?;
            } else {
                let mut opts = SynthOptions::new(scale)
                    .with_seed(seed)
                    .with_overwrite(force);
                if let Some(c) = conspicuity {
                    opts = opts.with_conspicuity(c);
                }
                synth_hospital(&opts, &out, json)?;
            }
        }
        Command::Patches { root, unpack, json } => {
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
                print!("{}", mammolab::pipeline::report::ddsm_download(&audit));
                if let Some(u) = &unpacked {
                    println!(
                        "unpacked {} patches into {} ({} parts); train with --manifest {} ({seconds:.1} s)",
                        u.patches,
                        u.out.display(),
                        u.parts.len(),
                        u.manifest.display()
                    );
                }
            }
        }
        Command::Sheets { file, json, cells } => {
            let book = read_workbook(&file, &SheetOptions::default())?;
            let sheets = &book.sheets;
            let summaries: Vec<_> = sheets.iter().map(|s| s.summary()).collect();
            if json {
                let unreadable: Vec<_> = book
                    .unreadable
                    .iter()
                    .map(|(name, error)| serde_json::json!({ "name": name, "error": error }))
                    .collect();
                let warnings: Vec<_> = sheets
                    .iter()
                    .flat_map(|s| {
                        s.warnings
                            .iter()
                            .map(|w| serde_json::json!({ "sheet": s.name, "warning": w }))
                    })
                    .collect();
                let mut sheet_values: Vec<serde_json::Value> = summaries
                    .iter()
                    .map(|s| serde_json::to_value(s).expect("a summary is JSON"))
                    .collect();
                if cells {
                    for (v, s) in sheet_values.iter_mut().zip(sheets) {
                        v["cells"] = s
                            .rows
                            .iter()
                            .map(|r| serde_json::Value::Array(r.iter().map(cell_json).collect()))
                            .collect();
                        v["row_numbers"] = serde_json::json!(s.row_numbers);
                    }
                }
                let v = serde_json::json!({ "file": file, "sheets": sheet_values, "unreadable": unreadable, "warnings": warnings });
                println!("{v}");
            } else {
                println!("{}", file.display());
                for (s, sum) in sheets.iter().zip(&summaries) {
                    println!(
                        "  {}: {} rows x {} columns (header on row {})",
                        s.name,
                        sum.rows,
                        sum.columns.len(),
                        s.header_row
                    );
                    for c in sum.columns.iter().take(12) {
                        println!("    {:<32} {}", c.name, c.dtype);
                    }
                    if sum.columns.len() > 12 {
                        println!("    ... {} more (--json lists all)", sum.columns.len() - 12);
                    }
                    for (raw, name) in &s.renamed {
                        println!("    renamed `{raw}` -> `{name}`");
                    }
                    for (col, n) in &s.error_cells {
                        println!("    {n} error cells read as null in `{col}`");
                    }
                    for w in s.warnings.iter().take(5) {
                        println!("    warning: {w}");
                    }
                    if s.warnings.len() > 5 {
                        println!(
                            "    ... {} more warnings (--json lists all)",
                            s.warnings.len() - 5
                        );
                    }
                }
                for (name, why) in &book.unreadable {
                    println!("  {name}: not readable: {why}");
                }
            }
        }
        Command::Merge {
            manifest,
            out,
            json,
        } => {
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
        }
        Command::Augment {
            images,
            augment,
            copies,
            size,
            seed,
            out,
        } => {
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
        }
        Command::Dicom { file, frame, json } => {
            let h = read_header(&file)?;
            let Some(img) = read_image_opt(&file, frame)? else {
                // A valid DICOM file that is not an image: its header, and that it has none.
                if json {
                    let mut v = serde_json::to_value(&h)?;
                    v["pixel_data"] = serde_json::json!(false);
                    println!("{v}");
                } else {
                    println!("{}", file.display());
                    println!(
                        "  no pixel data (7FE0,0010): SOP class {}, modality {}; header only",
                        h.sop_class.as_deref().unwrap_or("(none)"),
                        h.modality.as_deref().unwrap_or("(none)")
                    );
                    println!("  transfer syntax {}", h.transfer_syntax);
                    println!("  header {h:?}");
                }
                return Ok(());
            };
            if json {
                let mut v = serde_json::to_value(&img.info)?;
                v["frame"] = serde_json::json!(frame);
                v["stored_sha256"] = serde_json::json!(stored_sha256(&img.stored));
                println!("{v}");
            } else {
                let i = &img.info;
                println!("{}", file.display());
                println!("  transfer syntax {}", i.transfer_syntax);
                println!(
                    "  {} {}x{} x {} frame(s), {} bits allocated, {}",
                    i.modality.as_deref().unwrap_or("(no modality)"),
                    i.columns,
                    i.rows,
                    i.frames,
                    i.bits_allocated,
                    i.photometric_interpretation
                );
                println!(
                    "  stored values: min {} max {} mean {:.2}",
                    i.pixel.min, i.pixel.max, i.pixel.mean
                );
                println!("  rescale {:?}, VOI {:?}", img.rescale, img.voi);
                println!("  header {h:?}");
            }
        }
        Command::Metrics {
            csv,
            label,
            score,
            classes,
            positive,
            threshold,
            plots,
            json,
        } => {
            let columns: Vec<&str> = score.split(',').map(str::trim).collect();
            if columns.len() > 1 || classes.is_some() {
                let Some(classes) = classes else {
                    anyhow::bail!(
                        "--score names {} columns: name their classes with --classes A,B,...",
                        columns.len()
                    );
                };
                let names: Vec<&str> = classes.split(',').map(str::trim).collect();
                let t = ClassScoreTable::from_csv(&csv, &label, &columns, &names)?;
                let s = MulticlassSummary::new(&t.labels, &t.scores, &names)?;
                if let Some(dir) = plots {
                    plot::multiclass_figures(&dir, &t.labels, &t.scores, &names)?;
                }
                if json {
                    println!("{}", serde_json::to_string(&s)?);
                } else {
                    print!("{}", s.report());
                }
                return Ok(());
            }
            let t = ScoreTable::from_csv(&csv, &label, &score, positive.as_deref())?;
            let s = BinarySummary::new(&t.labels, &t.scores, threshold)?;
            if let Some(dir) = plots {
                plot::binary_figures(&dir, &t.labels, &t.scores, &t.positive, threshold)?;
            }
            if json {
                println!("{}", serde_json::to_string(&s)?);
            } else {
                println!("{}", report::summary(&csv, &label, &t.positive, &s));
            }
        }
        Command::Train {
            manifest,
            resume,
            model,
            device,
            epochs,
            seed,
            seeds,
            class_weights,
            sampler,
            focal,
            size,
            resize,
            orient,
            batch_size,
            lr,
            patience,
            threshold_rule,
            grad_clip,
            warmup,
            pretrained,
            backbone_lr_factor,
            freeze_backbone,
            augment,
            covariates,
            dropout,
            input,
            allow_collapse,
            holdout_source,
            channels,
            fractions,
            dicom,
            cache,
            out,
            json,
        } => {
            if std::env::var_os("GLIBC_TUNABLES").is_none() {
                keep_freed_memory();
            }
            let mut bar = ProgressBarSteps::new(json);
            // clap gives exactly one of --manifest and --resume.
            let r = match manifest.filter(|_| !resume) {
                None => pipeline::resume(&out, &mut bar)?,
                Some(manifest) => {
                    let m = Manifest::open(&manifest)?;
                    let cache_dir = match cache.as_deref() {
                        Some("none") => None,
                        Some(dir) => Some(PathBuf::from(dir)),
                        None => default_image_cache(
                            std::env::var_os("MAMMOLAB_CACHE"),
                            std::env::var_os("HOME"),
                        ),
                    };
                    let o = RunOptions::new(model)
                        .with_size(size)
                        .with_filter(resize)
                        .with_orient(orient)
                        .with_channels(channels)
                        .with_fractions(fractions.0)
                        .with_device(device)
                        .with_source(if dicom {
                            ImageSource::PreferDicom
                        } else {
                            ImageSource::PreferJpg
                        })
                        .with_cache(cache_dir)
                        .with_epochs(epochs)
                        .with_seed(seed)
                        .with_batch_size(batch_size)
                        .with_learning_rate(lr)
                        .with_class_weights(match class_weights {
                            Weights::Auto => ClassWeights::Balanced,
                            Weights::None => ClassWeights::None,
                        })
                        .with_sampler(sampler)
                        .with_loss(match focal {
                            Some(gamma) => ClassLoss::Focal { gamma },
                            None => ClassLoss::CrossEntropy,
                        })
                        .with_early_stopping(patience.map(|patience| EarlyStopping {
                            monitor: Monitor::ValRocAuc,
                            patience,
                        }))
                        .with_threshold_rule(threshold_rule)
                        .with_grad_clip(grad_clip.0)
                        .with_warmup_epochs(warmup)
                        .with_pretrained(pretrained)
                        .with_backbone_lr_factor(if freeze_backbone {
                            0.0
                        } else {
                            backbone_lr_factor
                        })
                        .with_augment(Some(augment))
                        .with_covariates(covariates)
                        .with_dropout(dropout)
                        .with_input(input)
                        .with_holdout_source(holdout_source)
                        .with_stop_on_collapse(!allow_collapse);
                    if let Some(Seeds(seeds)) = seeds {
                        let mut announce = |s: u64| {
                            if !json {
                                eprintln!("seed {s}: {}", out.join(format!("seed-{s}")).display());
                            }
                        };
                        let r = pipeline::sweep(&m, &o, &seeds, &out, &mut bar, &mut announce)?;
                        bar.finish();
                        if json {
                            println!("{}", serde_json::to_string(&r)?);
                        } else {
                            println!("{}: {}", out.display(), r.report());
                        }
                        return Ok(());
                    }
                    if m.positive_class()?.is_none() {
                        // k classes with no positive one: a k-class run.
                        let r = pipeline::run_classes(&m, &o, &out, &mut bar)?;
                        bar.finish();
                        if json {
                            let mut v = serde_json::to_value(&r.metrics)?;
                            v["run"] = serde_json::to_value(&r.info)?;
                            println!("{v}");
                        } else {
                            print!("{}", r.report(&out));
                        }
                        return Ok(());
                    }
                    pipeline::run(&m, &o, &out, &mut bar)?
                }
            };
            bar.finish();
            if json {
                println!("{}", report::run_json(&out, &r));
            } else {
                println!("{}", report::run(&out, &r));
            }
        }
        Command::Predict {
            run,
            checkpoint,
            images,
            manifest,
            part,
            out,
            level,
            threshold,
            saliency,
            saliency_method,
            saliency_class,
            heatmap,
            features,
            pool,
            json,
        } => predict_command(
            run,
            checkpoint,
            images,
            manifest,
            part,
            &out,
            level,
            threshold,
            saliency.map(|d| (d, saliency_method, saliency_class)),
            heatmap,
            features.map(|l| (l, pool)),
            json,
        )?,
        Command::Compare { a, b, json } => {
            let c = pipeline::compare(&a, &b)?;
            if json {
                let mut v = serde_json::to_value(&c)?;
                v["significant"] = serde_json::json!(c.significant());
                println!("{v}");
            } else {
                println!("{}", c.report(&a, &b));
            }
        }
        Command::Evaluate {
            run,
            threshold,
            level,
            json,
        } => {
            let info = pipeline::read_info(&run)?;
            if info.classes.positive().is_none() {
                // A k-class run: its metrics from predictions.csv, no threshold or level.
                let m = pipeline::evaluate_classes(&run, &info)?;
                if json {
                    println!("{}", serde_json::to_string(&m)?);
                } else {
                    print!("{}", m.report(info.classes.names()));
                }
                return Ok(());
            }
            let chosen = pipeline::chosen_threshold(&run)?;
            let (t, how) = match (threshold, &chosen) {
                (Some(t), _) => (t, "given".to_string()),
                (None, Some(c)) => (
                    c.threshold,
                    format!(
                        "chosen on validation by {} (sensitivity {:.4}, specificity {:.4})",
                        c.rule, c.sensitivity, c.specificity
                    ),
                ),
                (None, None) => (0.5, "the default: the run chose none".to_string()),
            };
            let s = pipeline::evaluate(&run, t, level)?;
            if json {
                let mut v = serde_json::to_value(&s)?;
                let rows = pipeline::per_class(&run, &s)?;
                v["per_class"] =
                    serde_json::to_value(rows.iter().map(PerClass::from).collect::<Vec<_>>())?;
                println!("{v}");
            } else {
                let csv = run.join("predictions.csv");
                let t = ScoreTable::from_csv(&csv, "label", "score", None)?;
                println!(
                    "metrics per {} at threshold {} ({how}):",
                    level.name(),
                    mammolab::eval::threshold_text(s.threshold)
                );
                println!("{}", report::summary(&csv, "label", &t.positive, &s));
            }
        }
        Command::Manifest { file, json } => {
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
                    v["sources"] =
                        serde_json::json!(m.sources.iter().map(|s| &s.name).collect::<Vec<_>>());
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
        }
    }
    Ok(())
}

/// sha256 of the frame's stored values (first sample of each pixel, row-major) as
/// little-endian i64: what numpy's `a[..., 0].astype("<i8").tobytes()` hashes to, so a
/// test can compare every value with pydicom's `pixel_array`, not only the statistics.
fn stored_sha256(stored: &[f64]) -> String {
    let bytes: Vec<u8> = stored
        .iter()
        .flat_map(|&v| (v as i64).to_le_bytes())
        .collect();
    mammolab::hash::sha256_bytes(&bytes)
}

/// `mammolab predict`: inputs from --images or a manifest, scored with a bar, written.
#[allow(clippy::too_many_arguments)]
fn predict_command(
    run: Option<PathBuf>,
    checkpoint: Option<PathBuf>,
    images: Vec<PathBuf>,
    manifest: Option<PathBuf>,
    part: Option<Part>,
    out: &std::path::Path,
    level: Level,
    threshold: Option<f64>,
    saliency: Option<(PathBuf, SaliencyMethod, Option<String>)>,
    heatmap: Option<PathBuf>,
    features: Option<(String, Pool)>,
    json: bool,
) -> anyhow::Result<()> {
    if part.is_some() && run.is_none() {
        anyhow::bail!("--part needs --run: the split is the run's (run.json)");
    }
    let info = run.as_deref().map(pipeline::read_info).transpose()?;
    let ckpt = match (&run, checkpoint) {
        (_, Some(c)) => c,
        (Some(r), None) => r.join("checkpoint"),
        (None, None) => anyhow::bail!("give --run or --checkpoint"),
    };
    let predictor = Predictor::open(&ckpt, ComputeDevice::Cpu)?;
    let (inputs, skipped) = if images.is_empty() {
        let path = match (manifest, &info) {
            (Some(m), _) => m,
            (None, Some(i)) => i.manifest.clone(),
            (None, None) => anyhow::bail!("give --images or --manifest to say what to score"),
        };
        let m = Manifest::open(&path)?;
        // The run's data options pick the same images and split; a checkpoint alone takes
        // the default options with its input recipe (the classes are the manifest's).
        let options = match &info {
            Some(i) => i.options.data().clone(),
            None => {
                let p = predictor.preprocess();
                DataOptions::new(p.width).with_preprocess(p.clone())
            }
        };
        let inputs = predict::inputs_from_manifest(&m, &options, part)?;
        let inputs = match predictor.covariates() {
            [] => inputs,
            columns => predict::with_covariates(&m, inputs, columns)?,
        };
        (inputs, vec![])
    } else {
        predict::inputs_from_paths(&images)?
    };
    predict::check_level(&inputs, level)?;
    let features = features.map(|(layer, pool)| match layer.as_str() {
        "embedding" => (predictor.embedding_layer().to_string(), pool),
        _ => (layer, pool),
    });
    if let Some((layer, _)) = &features {
        predictor.check_layer(layer)?;
    }
    let saliency = saliency
        .map(|(d, m, c)| predict::class_index(predictor.classes(), c.as_deref()).map(|k| (d, m, k)))
        .transpose()?;
    let total = inputs.len();
    let bar = if json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(total as u64)
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "scoring [{bar:30}] {pos}/{len} images  ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    let result = predict::predict(&predictor, inputs, threshold, &mut |done, _| {
        bar.set_position(done as u64)
    })?
    .with_skipped(skipped);
    bar.finish_and_clear();
    let written = result.write(out, level)?;
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
    let s = result.summary(level)?;
    let maps = match saliency {
        Some((dir, method, class)) => {
            bar.reset();
            bar.set_length(result.scored() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "saliency [{bar:30}] {pos}/{len} images  ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            let w =
                predict::write_saliency(&predictor, &result, class, method, &dir, &mut |d, _| {
                    bar.set_position(d as u64)
                })?;
            bar.finish_and_clear();
            Some(w)
        }
        None => None,
    };
    let heatmaps = heatmap
        .map(|dir| mammolab::pipeline::heatmap::write_heatmaps(&result, &dir))
        .transpose()?;
    let features = match features {
        Some((layer, pool)) => {
            bar.reset();
            bar.set_length(result.scored() as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "features [{bar:30}] {pos}/{len} images  ({per_sec}, eta {eta})",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            let mut df = result.features(&predictor, &layer, pool, &mut |d, _| {
                bar.set_position(d as u64)
            })?;
            bar.finish_and_clear();
            let stem = out
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "predictions".into());
            let path = out.with_file_name(format!("{stem}.features.parquet"));
            mammolab::ingest::frames::write_parquet(&mut df, &path)?;
            Some(serde_json::json!({
                "layer": layer,
                "pool": pool,
                "columns": df.width() - predict::FEATURE_ID_COLUMNS.len(),
                "rows": df.height(),
                "file": path,
            }))
        }
        None => None,
    };
    if json {
        let mut v = serde_json::to_value(&s)?;
        v["checkpoint"] = serde_json::json!(ckpt);
        v["written"] = serde_json::json!(written);
        v["saliency"] = serde_json::json!(maps);
        v["heatmaps"] = serde_json::json!(heatmaps);
        v["features"] = serde_json::json!(features);
        println!("{v}");
        return Ok(());
    }
    println!(
        "scored {} of {} files with {} in {:.1} s ({:.1} images/s)",
        s.scored,
        s.scored + s.failed,
        ckpt.display(),
        s.seconds,
        s.images_per_second
    );
    if s.failed > 0 {
        println!(
            "  {} not scored (unreadable, undecodable or not an image): see {errors_file}",
            s.failed
        );
    }
    if s.unknown_laterality > 0 {
        println!(
            "  warning: {} images have no laterality (no manifest row, no DICOM tag), so they were not mirrored as the model's right-breast training images were",
            s.unknown_laterality
        );
    }
    println!(
        "  {} of {} flagged {} at threshold {} ({})",
        s.flagged,
        s.scored,
        s.classes.positive_name().unwrap_or("positive"),
        mammolab::eval::threshold_text(s.threshold.threshold),
        s.threshold.source
    );
    if let Some(m) = &s.metrics {
        println!("  per {}: {}", level.name(), m.line());
    }
    for p in &written {
        println!("  wrote {}", p.display());
    }
    if let Some(f) = &features {
        println!(
            "  wrote {}: layer {} ({} pooling), {} images x {} values",
            f["file"].as_str().unwrap_or_default(),
            f["layer"].as_str().unwrap_or_default(),
            f["pool"].as_str().unwrap_or_default(),
            f["rows"],
            f["columns"]
        );
    }
    if let Some(h) = &heatmaps {
        println!(
            "  {} slides ({} patches) drawn in {} (one PNG per slide, slides.csv){}",
            h.slides,
            h.patches,
            h.dir.display(),
            match h.unplaced {
                0 => String::new(),
                n => format!("; {n} files name no place on a slide (_x<X>_y<Y>) and are not drawn"),
            }
        );
    }
    if let Some(w) = maps {
        println!(
            "  {} maps for class {} of {} images{} in {} (saliency.csv, saliency.safetensors, one PNG per image)",
            w.method,
            w.class,
            w.images,
            w.layer
                .as_deref()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default(),
            w.dir.display()
        );
    }
    Ok(())
}

/// An indicatif bar over the steps of each epoch; one line per finished epoch on stderr.
struct ProgressBarSteps {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
}

impl ProgressBarSteps {
    fn new(quiet: bool) -> Self {
        Self { bar: None, quiet }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for ProgressBarSteps {
    fn on_start(&mut self, _epochs: usize, steps: usize) {
        let bar = indicatif::ProgressBar::new(steps as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps  {msg}  ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        self.bar = Some(bar);
    }
    fn on_step(&mut self, epoch: usize, step: usize, loss: f64) {
        if let Some(b) = &self.bar {
            b.set_prefix(format!("epoch {epoch}"));
            b.set_position(step as u64);
            b.set_message(format!("loss {loss:.4}"));
        }
    }
    fn on_epoch(&mut self, s: &EpochStats) {
        if let Some(b) = &self.bar {
            if self.quiet {
            } else if b.is_hidden() {
                eprintln!("{}", epoch_line(s));
            } else {
                b.println(epoch_line(s));
            }
            b.set_position(0);
        }
    }
}

/// One cell for `sheets --json --cells`.
fn cell_json(v: &mammolab::ingest::sheets::Value) -> serde_json::Value {
    use mammolab::ingest::sheets::Value;
    match v {
        Value::Int(i) => serde_json::json!(i),
        Value::Float(f) => serde_json::json!(f),
        Value::Bool(b) => serde_json::json!(b),
        Value::Text(t) => serde_json::json!(t),
        Value::Excel(_) => serde_json::json!(v.to_text()),
        Value::Empty | Value::Error(_) => serde_json::Value::Null,
    }
}

/// `synth` for the hospital export: generate and report.
fn synth_hospital(opts: &SynthOptions, out: &std::path::Path, json: bool) -> anyhow::Result<()> {
    let t = Instant::now();
    let s = synth::generate(opts, out)?;
    let seconds = t.elapsed().as_secs_f64();
    if json {
        print_json_with_seconds(&s, seconds)?;
    } else {
        let c = &s.counts;
        println!(
            "synthetic cohort `{}` (seed {}) in {}",
            s.profile,
            s.seed,
            s.out.display()
        );
        println!(
            "  datacombined.xlsx: Cancer {} rows, Non-Cancer {} rows, {} columns",
            c.cancer_rows, c.non_cancer_rows, c.main_columns
        );
        println!(
            "  data_validation_x.xlsx: {} rows, {} columns",
            c.validation_rows, c.validation_columns
        );
        println!(
            "  exact UniqueKey matches: {} of {} Cancer rows; after normalising keys: {}",
            c.exact_key_matches, c.cancer_rows, c.normalised_key_matches
        );
        println!(
            "  {} patients, {} studies, {} images ({} DICOM, {} JPG files)",
            c.patients, c.studies, c.images, c.dicom_files, c.jpg_files
        );
        println!("  {} planted faults listed in ground_truth.json", s.faults);
        print_size(s.files, s.bytes, seconds);
    }
    Ok(())
}

/// `synth --profile cbis-ddsm`: generate and report.
fn synth_ddsm(
    opts: &synth::ddsm::DdsmOptions,
    out: &std::path::Path,
    json: bool,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let s = synth::ddsm::generate(opts, out)?;
    let seconds = t.elapsed().as_secs_f64();
    if json {
        print_json_with_seconds(&s, seconds)?;
        return Ok(());
    }
    println!(
        "DDSM Mammography twin `{}` (seed {}) in {}",
        s.profile,
        s.seed,
        s.out.display()
    );
    for (name, n) in &s.files {
        println!("  {name}: {n} patches");
    }
    for (label, n) in s.labels.iter().enumerate() {
        println!(
            "  label {label} ({}): {n}",
            synth::ddsm::describe(label as u8)
        );
    }
    println!(
        "  positives from {} lesions, three crops per ROI; each patch's origin in ground_truth.json",
        s.lesions
    );
    print_size(s.written, s.bytes, seconds);
    Ok(())
}

fn synth_cbis(
    opts: &synth::cbis::CbisOptions,
    out: &std::path::Path,
    json: bool,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let s = synth::cbis::generate(opts, out)?;
    let seconds = t.elapsed().as_secs_f64();
    if json {
        print_json_with_seconds(&s, seconds)?;
        return Ok(());
    }
    let c = &s.counts;
    println!(
        "CBIS-DDSM twin `{}` (seed {}) in {}",
        s.profile,
        s.seed,
        s.out.display()
    );
    for (name, rows) in &c.csv_rows {
        println!("  {name}: {rows} rows");
    }
    println!(
        "  CBIS-DDSM/: {} full mammograms, {} ROI mask series ({} crops in a series of their own), {} DICOM files",
        c.full_mammograms, c.roi_series, c.crop_series, c.dicom_files
    );
    println!(
        "  {} patients, {} lesions; every row's files in ground_truth.json",
        c.patients, c.lesions
    );
    print_size(s.files, s.bytes, seconds);
    Ok(())
}

/// `synth` of a public-download twin whose report lives in `pipeline::report`: generate,
/// then print the summary as JSON (with the seconds) or as `report`'s text and the size line
/// (`size`: files and bytes written).
fn synth_twin<S: serde::Serialize>(
    json: bool,
    generate: impl FnOnce() -> mammolab::Result<S>,
    report: impl Fn(&S) -> String,
    size: impl Fn(&S) -> (usize, u64),
) -> anyhow::Result<()> {
    let t = Instant::now();
    let s = generate()?;
    let seconds = t.elapsed().as_secs_f64();
    if json {
        return print_json_with_seconds(&s, seconds);
    }
    print!("{}", report(&s));
    let (files, bytes) = size(&s);
    print_size(files, bytes, seconds);
    Ok(())
}

/// `synth --json`: the summary as one JSON object, with the seconds it took.
fn print_json_with_seconds(summary: &impl serde::Serialize, seconds: f64) -> anyhow::Result<()> {
    let mut v = serde_json::to_value(summary)?;
    v["seconds"] = serde_json::json!((seconds * 100.0).round() / 100.0);
    println!("{v}");
    Ok(())
}

/// The last line of `synth`'s summary.
fn print_size(files: usize, bytes: u64, seconds: f64) {
    println!(
        "  {files} files, {:.1} MiB, {seconds:.1} s",
        bytes as f64 / (1024.0 * 1024.0)
    );
}
