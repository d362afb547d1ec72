//! Models and training on [burn](https://burn.dev) 0.22.
//!
//! A burn 0.22 tensor is not generic over a backend type: the [`Device`] chosen at run time
//! decides where it lives, so every model here runs unchanged on the CPU or a GPU.
//! [`ComputeDevice`] picks one:
//!
//! - `cpu` (default): burn's **Flex** backend, pure Rust, multi-threaded (rayon) with SIMD
//!   matrix kernels (gemm). Candidates measured on this project's 2-core machine, training
//!   step of seed 001's CNN (224 x 224 x 1, batch 16, Adam): Flex 7.2 images/s against the
//!   deprecated NdArray backend's 0.3 images/s (both single-threaded builds); burn's other
//!   CPU backend (`cpu`, CubeCL on MLIR/LLVM) downloads an LLVM bundle from GitHub at build
//!   time and cannot be built where only package registries are reachable. With rayon, SIMD
//!   and [`keep_freed_memory`], Flex trains at 18.3 images/s; PyTorch 2.9.1 on the same
//!   machine at 22.4 (`bash scripts/bench.sh p5`).
//! - `cuda` (feature `cuda`): burn-cuda, kernels compiled at run time with NVRTC, CUDA
//!   libraries loaded at run time. Without the feature, or without a GPU, asking for it is
//!   a one-line error.
//!
//! The modules follow the data: [`cnn`], [`deep`], [`vae`] and [`resnet`] (torchvision's
//! ResNets, for PyTorch weights) define networks (configs are
//! serde-serialisable and saved with every checkpoint; [`ModelChoice`] names them and
//! builds one for the data's input shape), [`loss`] the losses, [`config`] how to train
//! (optimisers, schedule, early stopping, class weights, balanced sampling, focal loss),
//! [`history`] what training reports (per-epoch statistics, progress callbacks), [`train`]
//! the loop (and the [`Trainer`]'s checkpoints), [`checkpoint`] safetensors + JSON on disk
//! (with the input recipe), and [`inference`] scores per image and the [`Predictor`] that
//! scores files from a checkpoint, [`layers`] the activations of any named layer
//! (embeddings for other models), [`saliency`] what a network looks at (Grad-CAM on
//! [`Model::features`], occlusion). [`batch`] turns samples into tensors, batch by batch,
//! for all of them.
//!
//! [`fusion`] puts workbook columns beside the image (seed 001's image-and-Excel model).
//! [`baseline`] holds the majority-class and logistic-regression baselines a CNN must beat.
//!
//! The files import each other one way, from the bottom: `batch` (tensors, rows and a
//! layer's [`batch::Activation`]) and `history`; `checkpoint` (reads and writes files only,
//! through this file's [`Model`] and [`ModelConfig`]); the networks (`cnn`, `deep`, `vae`,
//! `resnet` with checkpoint's tensor readers, `cancernet`, `fusion` over `cnn`); `layers`
//! (any layer of any [`Model`]); `loss`, `config`; `saliency`; `inference`; `train`. A new
//! network goes beside `cnn.rs`, into [`ModelConfig`] and [`Model`], and imports `batch`
//! only; nothing below `train` may import `train`.
//!
//! ```no_run
//! use mammolab::dataset::{Preprocess, Samples};
//! use mammolab::model::{CnnConfig, ComputeDevice, ModelConfig, Silent, TrainConfig, Trainer};
//! # fn main() -> mammolab::Result<()> {
//! let samples = Samples::new(vec![0.0; 8 * 32 * 32], [8, 1, 32, 32], vec![0, 1, 0, 1, 0, 1, 0, 1])?;
//! let model = ModelConfig::Cnn(CnnConfig::seed001(2));
//! // The input recipe (here 32 x 32 grey) gives the network its input shape.
//! let input = Preprocess::new(32, 32);
//! let mut trainer = Trainer::new(model, input, TrainConfig::default(), ComputeDevice::Cpu)?;
//! trainer.fit(&samples, None, &mut Silent)?;
//! let probs = trainer.predict(&samples)?; // [n][classes]
//! # Ok(()) }
//! ```
pub mod baseline;
pub mod batch;
pub mod cancernet;
pub mod checkpoint;
pub mod cnn;
pub mod config;
pub mod deep;
pub mod fusion;
pub mod history;
pub mod inference;
pub mod layers;
pub mod loss;
pub mod resnet;
pub mod saliency;
pub mod train;
pub mod vae;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

pub use cancernet::{CancerNet, CancerNetConfig};
pub use cnn::{Cnn, CnnConfig};
pub use config::{
    resolve_weights, ClassWeights, EarlyStopping, Monitor, OptimizerKind, Sampler, Schedule,
    TrainConfig,
};
pub use deep::{DeepCnn, DeepCnnConfig};
pub use fusion::{Fusion, FusionConfig};
pub use history::{
    epoch_line, EpochLines, EpochStats, History, OnEpoch, Progress, Silent, Validation,
    ValidationMetrics,
};
pub use inference::{Predictor, Request, Saliency};
pub use loss::{ClassLoss, LossWeights, WeightedMean};
pub use resnet::{load_torchvision, ResNet, ResNetConfig, TorchvisionLoad};
pub use train::{epoch_order, Trainer};
pub use vae::{Code, HeadInput, HeadTraining, Reconstruction, Vae, VaeConfig, VaeSettings};

use crate::error::{Error, Result};

/// Where tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ComputeDevice {
    /// burn's Flex CPU backend.
    #[default]
    Cpu,
    /// The first CUDA GPU (needs the `cuda` feature and an NVIDIA driver).
    #[value(alias = "gpu")]
    Cuda,
}

/// Which network to build: the names `mammolab train --model` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ModelChoice {
    /// Seed 001's CNN.
    Cnn,
    /// Seed 001's CNN with batch norm after each convolution (steadier under class
    /// weights; not the seed's exact setup).
    #[serde(rename = "cnn_bn")]
    #[value(name = "cnn-bn")]
    CnnBn,
    /// Seed 000's CNN-VAE.
    Vae,
    /// The residual deep CNN (8 blocks, 18 layers).
    Resnet,
    /// The same depth without skips.
    Plain,
    /// torchvision's ResNet-18 (11.2 M weights; `model::resnet`), for transfer from PyTorch
    /// weights (`mammolab train --pretrained`).
    Resnet18,
    /// torchvision's ResNet-50 (23.5 M weights, bottleneck blocks).
    Resnet50,
    /// Seed 003's CancerNet (`model::cancernet`): depthwise-separable convolutions in three
    /// stages, for histology patches.
    #[serde(rename = "cancernet")]
    #[value(name = "cancernet")]
    CancerNet,
}

impl ModelChoice {
    /// The network for `classes` classes. Its input shape is not part of it: the
    /// trainer takes it from the input recipe ([`Trainer::new`]).
    pub fn config(self, classes: usize) -> ModelConfig {
        match self {
            Self::Cnn => ModelConfig::Cnn(CnnConfig::seed001(classes)),
            Self::CnnBn => ModelConfig::Cnn(CnnConfig {
                batch_norm: true,
                ..CnnConfig::seed001(classes)
            }),
            Self::Vae => ModelConfig::Vae(VaeConfig::new(classes)),
            Self::Resnet => ModelConfig::Deep(DeepCnnConfig::new(classes, 8, true)),
            Self::Plain => ModelConfig::Deep(DeepCnnConfig::new(classes, 8, false)),
            Self::Resnet18 => ModelConfig::ResNet(ResNetConfig::new(18, classes)),
            Self::Resnet50 => ModelConfig::ResNet(ResNetConfig::new(50, classes)),
            Self::CancerNet => ModelConfig::CancerNet(CancerNetConfig::new(classes)),
        }
    }
}

impl ComputeDevice {
    /// The burn device (without autodiff), checked to work: a CUDA device that cannot
    /// start (no driver, no GPU) is an error here rather than a panic later.
    pub fn device(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::flex()),
            Self::Cuda => cuda_device(),
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_device() -> Result<Device> {
    // burn-cuda loads libcuda and compiles kernels lazily and panics when it cannot: run one
    // tiny operation here, with the panic caught, so the caller gets one clear line.
    let probe = std::panic::catch_unwind(|| {
        let d = Device::cuda(0);
        let t = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 2.0], [2]), &d);
        let v: f32 = t.sum().into_scalar::<f32>();
        (d, v)
    });
    match probe {
        Ok((d, v)) if (v - 3.0).abs() < 1e-6 => Ok(d),
        Ok((_, v)) => Err(Error::Param {
            name: "device",
            message: format!("CUDA device 0 computed 1 + 2 = {v}"),
        }),
        Err(p) => {
            let why = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown error".into());
            let why = why.lines().next().unwrap_or("").to_string();
            Err(Error::Param {
                name: "device",
                message: format!(
                    "cuda: no usable NVIDIA GPU (the driver's libcuda.so must be loadable and a GPU present): {why}"
                ),
            })
        }
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_device() -> Result<Device> {
    Err(Error::Param {
        name: "device",
        message: "cuda: this mammolab was built without the `cuda` feature; rebuild with `cargo build --release --features cuda`".into(),
    })
}

/// Keep freed memory in the heap (glibc only; once per process).
///
/// burn's Flex backend allocates and frees tensors of up to ~100 MB in every operation
/// (seed 001's first feature map at 224 x 224, batch 16). glibc serves blocks above its
/// mmap threshold with fresh `mmap`s and returns them with `munmap` on free, so every
/// operation paid page faults and cross-core TLB shootdowns: 25 % of a training step was
/// kernel time (perf). Setting `M_MMAP_MAX = 0` and a 1 GiB trim threshold keeps that
/// memory for the next operation: training throughput of seed 001's CNN went from 9.4 to
/// 17.4 images/s on this project's 2-core machine. The cost is that the process keeps its
/// peak heap. It changes the whole process, so the library never calls it: the binary and
/// [`notebook::Setup::from_env`](crate::notebook::Setup::from_env) do, unless the user
/// tunes malloc through `GLIBC_TUNABLES`. No effect on other C libraries.
pub fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            // SAFETY: mallopt only changes glibc's allocation parameters; it is called once,
            // before the heavy allocations it is meant for. Failure leaves the defaults.
            unsafe {
                libc::mallopt(libc::M_MMAP_MAX, 0);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        }
    });
}

/// burn's CPU random number generator is one per process: hold this while seeding it and
/// drawing from it (initialising weights, one training epoch), so trainers in other threads
/// cannot interleave their draws and runs stay reproducible.
static RNG_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub(crate) fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    RNG_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Any of the networks, as configured. Serialised (tagged by `kind`) into every checkpoint.
///
/// A configuration holds no input shape: the same network is built for any image size and
/// channel count it can take, and [`ModelConfig::init`] is given the shape of the images,
/// which the trainer and a checkpoint take from their input recipe
/// ([`Preprocess::input_shape`](crate::dataset::Preprocess::input_shape)), the one place the
/// size is held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ModelConfig {
    /// Seed 001's CNN or a CNN of the same blocks.
    Cnn(CnnConfig),
    /// The plain / residual deep CNN.
    Deep(DeepCnnConfig),
    /// Seed 000's CNN-VAE.
    Vae(VaeConfig),
    /// torchvision's ResNet.
    #[serde(rename = "resnet")]
    ResNet(ResNetConfig),
    /// A CNN whose classifier also takes workbook columns.
    Fusion(FusionConfig),
    /// Seed 003's CancerNet.
    #[serde(rename = "cancernet")]
    CancerNet(CancerNetConfig),
}

impl ModelConfig {
    /// Number of classes.
    pub fn classes(&self) -> usize {
        match self {
            Self::Cnn(c) => c.classes,
            Self::Deep(c) => c.classes,
            Self::Vae(c) => c.classes,
            Self::ResNet(c) => c.classes,
            Self::Fusion(c) => c.image.classes,
            Self::CancerNet(c) => c.classes,
        }
    }

    /// Why `classes` cannot label this network's outputs (one name per output), if they
    /// cannot: what [`Trainer::with_classes`] and a checkpoint's reader both check.
    pub(crate) fn class_mismatch(&self, classes: &crate::Classes) -> Option<String> {
        let k = self.classes();
        (classes.len() != k).then(|| {
            format!(
                "{} classes {:?} for a model with {k} outputs",
                classes.len(),
                classes.names()
            )
        })
    }

    /// The workbook columns the model takes beside the image (empty for image-only models).
    pub fn covariates(&self) -> &[String] {
        match self {
            Self::Fusion(c) => c.columns(),
            _ => &[],
        }
    }

    /// A short name: `cnn`, `plain`, `resnet`, `vae`, `fusion`, `cancernet` or `resnet18` / `resnet50` / ...
    pub fn name(&self) -> &'static str {
        match self {
            Self::Cnn(_) => "cnn",
            Self::Deep(c) if c.residual => "resnet",
            Self::Deep(_) => "plain",
            Self::Vae(_) => "vae",
            Self::ResNet(c) => match c.depth {
                18 => "resnet18",
                34 => "resnet34",
                50 => "resnet50",
                101 => "resnet101",
                _ => "resnet152",
            },
            Self::Fusion(_) => "fusion",
            Self::CancerNet(_) => "cancernet",
        }
    }

    /// `(channels, side)` of `input`, or an error when it is not square.
    pub(crate) fn square(&self, input: [usize; 3]) -> Result<(usize, usize)> {
        let [c, h, w] = input;
        if h != w {
            return Err(Error::input(
                "model input",
                format!(
                    "the {} model takes square images, not {w} x {h}",
                    self.name()
                ),
            ));
        }
        Ok((c, h))
    }

    /// Build the network for images of shape `input` (`[channels, size, size]`: every
    /// network takes square images) with fresh weights on `device`.
    pub fn init(&self, input: [usize; 3], device: &Device) -> Result<Model> {
        let (c, h) = self.square(input)?;
        Ok(match self {
            Self::Cnn(m) => Model::Cnn(m.init(c, h, device)?),
            Self::Deep(m) => Model::Deep(m.init(c, h, device)?),
            Self::Vae(m) => Model::Vae(m.init(c, h, device)?),
            Self::ResNet(m) => Model::ResNet(m.init(c, h, device)?),
            Self::Fusion(m) => Model::Fusion(m.init(c, h, device)?),
            Self::CancerNet(m) => Model::CancerNet(m.init(c, h, device)?),
        })
    }
}

/// A built network of any kind.
#[derive(Module, Debug)]
pub enum Model {
    /// See [`Cnn`].
    Cnn(Cnn),
    /// See [`DeepCnn`].
    Deep(DeepCnn),
    /// See [`Vae`].
    Vae(Vae),
    /// See [`ResNet`].
    ResNet(ResNet),
    /// See [`Fusion`].
    Fusion(Fusion),
    /// See [`CancerNet`].
    CancerNet(CancerNet),
}

impl Model {
    /// Class logits `[batch, classes]` (the VAE's head on the latent mean) of an image-only
    /// model: [`Model::logits_with`] without columns.
    ///
    /// # Panics
    /// For a [`Fusion`] model, which needs its columns.
    pub fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.logits_with(x, None)
    }

    /// Class logits `[batch, classes]` of images `x` and, for a [`Fusion`] model, their
    /// standardised workbook columns `[batch, k]` (other models ignore them).
    ///
    /// # Panics
    /// For a [`Fusion`] model without columns (the trainer and the predictors check
    /// [`Samples::covariates`](crate::dataset::Samples::covariates) before they get here).
    pub fn logits_with(&self, x: Tensor<4>, columns: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Self::Cnn(m) => m.forward(x),
            Self::Deep(m) => m.forward(x),
            Self::Vae(m) => m.logits(x),
            Self::ResNet(m) => m.forward(x),
            Self::Fusion(m) => m.forward(x, columns.expect(FUSION_NEEDS_COLUMNS)),
            Self::CancerNet(m) => m.forward(x),
        }
    }

    /// The activation [`saliency::grad_cam`] explains, `[batch, k, h, w]`: the last
    /// convolution of the CNN (after ReLU, before its pool), the residual / plain net's last
    /// block, the VAE encoder's last convolution, torchvision ResNet's `layer4`, CancerNet's
    /// last separable convolution (after ReLU and batch norm). `self.head(self.features(x))` equals
    /// `self.logits(x)`.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Cnn(m) => m.features(x),
            Self::Deep(m) => m.features(x),
            Self::Vae(m) => m.features(x),
            Self::ResNet(m) => m.features(x),
            Self::Fusion(m) => m.features(x),
            Self::CancerNet(m) => m.features(x),
        }
    }

    /// Class logits `[batch, classes]` from [`Model::features`] (and, for a [`Fusion`]
    /// model, the columns: see [`Model::logits_with`]).
    ///
    /// # Panics
    /// For a [`Fusion`] model without columns.
    pub fn head(&self, a: Tensor<4>, columns: Option<Tensor<2>>) -> Tensor<2> {
        match self {
            Self::Cnn(m) => m.head(a),
            Self::Deep(m) => m.head(a),
            Self::Vae(m) => m.head_logits(a),
            Self::ResNet(m) => m.head(a),
            Self::Fusion(m) => m.head(a, columns.expect(FUSION_NEEDS_COLUMNS)),
            Self::CancerNet(m) => m.head(a),
        }
    }

    /// The PyTorch name of the module whose output [`Model::features`] is (in the layout
    /// of the exported `model.safetensors`), e.g. `blocks.2.conv` (then ReLU).
    pub fn features_layer(&self) -> String {
        match self {
            Self::Cnn(m) => format!(
                "blocks.{}.conv (after ReLU, before the pool)",
                m.blocks() - 1
            ),
            Self::Deep(m) => format!("blocks.{} (output, after ReLU)", m.blocks() - 1),
            Self::Vae(m) => format!("encoder.{} (after ReLU)", m.encoder_layers() - 1),
            Self::ResNet(_) => "layer4 (output, after ReLU)".into(),
            Self::Fusion(m) => format!(
                "image.blocks.{}.conv (after ReLU, before the pool)",
                m.image().blocks() - 1
            ),
            Self::CancerNet(_) => {
                "stages.2.units.2 (after ReLU and batch norm, before the pool)".into()
            }
        }
    }

    /// How many workbook columns the model takes beside the image (0: image only).
    pub fn covariate_width(&self) -> usize {
        match self {
            Self::Fusion(m) => m.covariate_width(),
            _ => 0,
        }
    }

    /// Whether `samples` carry what the model takes: a one-line error when a fusion model
    /// gets no columns or the wrong number of them (`what`: which images).
    pub fn check_covariates(&self, what: &str, samples: &crate::dataset::Samples) -> Result<()> {
        let want = self.covariate_width();
        let have = samples.covariates.as_ref().map_or(0, |c| c.width());
        if want == 0 || want == have {
            return Ok(());
        }
        Err(Error::input(
            "covariates",
            format!(
                "the fusion model takes {want} workbook columns beside each image, but the {what} images carry {have}: give it images from a manifest whose rows hold those columns"
            ),
        ))
    }
}

const FUSION_NEEDS_COLUMNS: &str =
    "a fusion model needs its workbook columns: call logits_with / head with Some(columns)";
