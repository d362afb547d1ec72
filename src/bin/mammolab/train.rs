//! `mammolab train`:
//! Train a model on a manifest's cohort (patient-grouped split) and write a run directory:
//! checkpoint, config, history, test-set predictions and metrics.

use std::path::PathBuf;

use mammolab::dataset::{default_image_cache, Augment, Channels, ImageSource, Input, Orient};
use mammolab::eval::ThresholdRule;
use mammolab::imaging::Filter;
use mammolab::manifest::Manifest;
use mammolab::model::{
    keep_freed_memory, ClassLoss, ClassWeights, ComputeDevice, EarlyStopping, ModelChoice, Monitor,
    Sampler, VaeSettings, WeightedMean,
};
use mammolab::pipeline::{self, report, RunOptions};

use crate::args::{Clip, FractionsArg, Seeds, Weights};
use crate::progress::ProgressBarSteps;

/// `mammolab train`'s options.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// The cohort's manifest.
    #[arg(long, required_unless_present = "resume")]
    manifest: Option<PathBuf>,
    /// Continue the run that was training into --out when it was killed, from its last
    /// complete epoch, with the manifest and options it was started with (saved in
    /// OUT/in-progress/); it ends with the weights the uninterrupted run would have.
    #[arg(long, requires = "out", conflicts_with = "manifest")]
    resume: bool,
    #[command(flatten)]
    options: Options,
    /// The run directory to write.
    #[arg(long)]
    out: PathBuf,
    /// Print one JSON object (the test metrics and the run summary) at the end.
    #[arg(long)]
    json: bool,
}

/// The options of a new run: `--resume` takes all of them from the interrupted run instead
/// ([`resume_conflicts`]).
#[derive(clap::Args)]
pub(crate) struct Options {
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
    /// How a batch's class-weighted losses are averaged: batch (divided by the batch's
    /// sum of weights, PyTorch's) or dataset (by the batch size times the training set's
    /// mean weight: batches without a rare class no longer count as much as those with).
    #[arg(long, value_enum, default_value_t = WeightedMean::Batch)]
    weighted_mean: WeightedMean,
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
    /// The CNN-VAE's shape and loss (--model vae), key=value pairs joined by commas:
    /// latent (16), beta (1), class_weight (100), kl_warmup (epochs of a linear KL ramp, 0),
    /// pretrain (VAE-only epochs before the head learns alone; 0: joint), joint_after
    /// (VAE-only epochs before joint training), recon (mse or bce), filters (32-64-64),
    /// head (mu, features or positions), code (vector or map). E.g.
    /// latent=64,beta=0.1,kl_warmup=3.
    #[arg(long, value_name = "SETTINGS")]
    vae: Option<VaeSettings>,
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
}

/// `train`'s command with `--resume` conflicting with each of [`Options`]' arguments, read
/// from clap: a new option cannot be forgotten, and the error names the option given
/// ("the argument '--resume' cannot be used with '--epochs <EPOCHS>'"; a clap group would
/// list all of them).
pub(crate) fn resume_conflicts(train: clap::Command) -> clap::Command {
    use clap::Args as _;
    let options: Vec<clap::Id> = Options::augment_args(clap::Command::new("options"))
        .get_arguments()
        .map(|a| a.get_id().clone())
        .collect();
    train.mut_arg("resume", |a| a.conflicts_with_all(options))
}

pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    if std::env::var_os("GLIBC_TUNABLES").is_none() {
        keep_freed_memory();
    }
    let (out, json) = (&args.out, args.json);
    let mut bar = ProgressBarSteps::new(json);
    // clap gives exactly one of --manifest and --resume.
    let r = match args.manifest.as_ref().filter(|_| !args.resume) {
        None => pipeline::resume(out, &mut bar)?,
        Some(manifest) => {
            let m = Manifest::open(manifest)?;
            let o = args.options.run_options();
            if let Some(Seeds(seeds)) = &args.options.seeds {
                let mut announce = |s: u64| {
                    if !json {
                        eprintln!("seed {s}: {}", out.join(format!("seed-{s}")).display());
                    }
                };
                let r = pipeline::sweep(&m, &o, seeds, out, &mut bar, &mut announce)?;
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
                let r = pipeline::run_classes(&m, &o, out, &mut bar)?;
                bar.finish();
                if json {
                    let mut v = serde_json::to_value(&r.metrics)?;
                    v["run"] = serde_json::to_value(&r.info)?;
                    println!("{v}");
                } else {
                    print!("{}", r.report(out));
                }
                return Ok(());
            }
            pipeline::run(&m, &o, out, &mut bar)?
        }
    };
    bar.finish();
    if json {
        println!("{}", report::run_json(out, &r));
    } else {
        println!("{}", report::run(out, &r));
    }
    Ok(())
}

impl Options {
    /// The run these options describe (the image cache from `--cache`, else
    /// `MAMMOLAB_CACHE`, else the user's cache folder).
    fn run_options(&self) -> RunOptions {
        let cache_dir = match self.cache.as_deref() {
            Some("none") => None,
            Some(dir) => Some(PathBuf::from(dir)),
            None => {
                default_image_cache(std::env::var_os("MAMMOLAB_CACHE"), std::env::var_os("HOME"))
            }
        };
        RunOptions::new(self.model)
            .with_size(self.size)
            .with_filter(self.resize)
            .with_orient(self.orient)
            .with_channels(self.channels)
            .with_fractions(self.fractions.0)
            .with_device(self.device)
            .with_source(if self.dicom {
                ImageSource::PreferDicom
            } else {
                ImageSource::PreferJpg
            })
            .with_cache(cache_dir)
            .with_epochs(self.epochs)
            .with_seed(self.seed)
            .with_batch_size(self.batch_size)
            .with_learning_rate(self.lr)
            .with_class_weights(match self.class_weights {
                Weights::Auto => ClassWeights::Balanced,
                Weights::None => ClassWeights::None,
            })
            .with_sampler(self.sampler)
            .with_weighted_mean(self.weighted_mean)
            .with_loss(match self.focal {
                Some(gamma) => ClassLoss::Focal { gamma },
                None => ClassLoss::CrossEntropy,
            })
            .with_early_stopping(self.patience.map(|patience| EarlyStopping {
                monitor: Monitor::ValRocAuc,
                patience,
            }))
            .with_threshold_rule(self.threshold_rule)
            .with_grad_clip(self.grad_clip.0)
            .with_warmup_epochs(self.warmup)
            .with_pretrained(self.pretrained.clone())
            .with_backbone_lr_factor(if self.freeze_backbone {
                0.0
            } else {
                self.backbone_lr_factor
            })
            .with_augment(Some(self.augment.clone()))
            .with_covariates(self.covariates.clone())
            .with_dropout(self.dropout)
            .with_vae(self.vae.clone())
            .with_input(self.input)
            .with_holdout_source(self.holdout_source.clone())
            .with_stop_on_collapse(!self.allow_collapse)
    }
}
