//! Seed 000's CNN-VAE: a convolutional encoder to a latent mean and log-variance, the
//! reparameterisation trick, a transposed-convolution decoder, and a classification head
//! on the latent mean.
//!
//! Loss = reconstruction + `beta` x KL(q(z|x) || N(0, I)) (+ the class loss when the head
//! trains jointly). Reconstruction is the squared error summed over pixels (images may be
//! normalised, so not in [0, 1]) or binary cross-entropy for [0, 1] images; both are
//! averaged over the batch, as is the KL term.
//!
//! # Shapes
//! - input: `[batch, channels, size, size]`, `size` divisible by `2^filters.len()`
//! - encoder: `filters.len()` 4x4 stride-2 convolutions (+ ReLU), each halving the side,
//!   flattened to `filters.last() * (size / 2^k)^2` features -> `mu`, `log_var`: `[batch, latent]`
//! - decoder: linear back to that feature map, transposed convolutions doubling the side,
//!   the last one to `channels` (sigmoid for BCE) -> `[batch, channels, size, size]`
//! - head: `[batch, latent]` (`mu`; or the flattened features, [`HeadInput::Features`]) ->
//!   `[batch, classes]` logits (with [`HeadInput::Positions`]: each position's code scored,
//!   the highest score per class kept)
//!
//! With a latent map ([`Code::Map`]) `mu` and `log_var` are `latent` values at every
//! position of the last feature map (a 1 x 1 convolution, written as a linear layer over
//! the channels), flattened position by position to `[batch, side * side * latent]`; the
//! decoder maps each position's code back to `filters.last()` channels. The code then keeps
//! where things are, which a vector of 16 numbers cannot: a lesion a few pixels wide.

use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::Distribution;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the reconstruction is scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reconstruction {
    /// Squared error summed over pixels (any pixel range).
    Mse,
    /// Binary cross-entropy summed over pixels (pixels in [0, 1]; decoder ends in a sigmoid).
    Bce,
}

impl Reconstruction {
    /// Every kind, with its name in `--vae recon=NAME` (as serialised).
    pub const ALL: [(Self, &'static str); 2] = [(Self::Mse, "mse"), (Self::Bce, "bce")];
}

/// When the classification head learns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum HeadTraining {
    /// Every step minimises reconstruction + beta * KL + class loss.
    Joint,
    /// The first `epochs` epochs train the VAE alone; after that only the head learns, on
    /// the (fixed) latent means.
    Pretrain {
        /// Epochs of VAE-only training.
        epochs: usize,
    },
    /// The first `epochs` epochs train the VAE alone; after that every step is joint. The
    /// head then starts on a code that already describes the image (with a map code, where
    /// the lesion is) instead of on a random encoder's.
    JointAfter {
        /// Epochs of VAE-only training.
        epochs: usize,
    },
}

/// What the classification head reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HeadInput {
    /// The latent mean `mu` (seed 000's): the class must survive the bottleneck and the KL
    /// pull towards the prior, so reconstruction and classification compete for the code.
    #[default]
    Mu,
    /// The encoder's last feature map, flattened (before `mu`): the head shares the
    /// encoder with the VAE but not the code, so the code is free to reconstruct.
    Features,
    /// The latent mean of each position of a map code ([`Code::Map`] only): the head
    /// scores each position's `latent` numbers with one linear layer and the image takes
    /// each class's highest position score (max pooling, as a reader flags a film on its
    /// most suspicious spot). It finds a lesion wherever it is, which a linear layer over
    /// the whole flattened map must learn position by position.
    Positions,
}

impl HeadInput {
    /// Every input, with its name in `--vae head=NAME` (as serialised).
    pub const ALL: [(Self, &'static str); 3] = [
        (Self::Mu, "mu"),
        (Self::Features, "features"),
        (Self::Positions, "positions"),
    ];
}

/// The shape of the latent code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// One vector of `latent` numbers per image (seed 000's): linear layers from and back to
    /// the flattened feature map. Reconstructions keep the breast's outline and density, not
    /// a lesion a few pixels wide.
    #[default]
    Vector,
    /// `latent` numbers at each position of the encoder's last feature map (`size / 2^k`
    /// a side): the code keeps where things are, so a reconstruction can show the lesion.
    Map,
}

impl Code {
    /// Every shape, with its name in `--vae code=NAME` (as serialised).
    pub const ALL: [(Self, &'static str); 2] = [(Self::Vector, "vector"), (Self::Map, "map")];
}

/// The name `all` gives `value`.
fn name_of<T: PartialEq + Copy>(all: &[(T, &'static str)], value: T) -> &'static str {
    all.iter()
        .find(|(v, _)| *v == value)
        .map(|(_, n)| *n)
        .expect("every variant is listed")
}

/// The value `all` names `name`, or the names joined by " or ".
fn named<T: Copy>(all: &[(T, &'static str)], name: &str) -> std::result::Result<T, String> {
    all.iter()
        .find(|(_, n)| *n == name)
        .map(|(v, _)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|(_, n)| *n).collect();
            names.join(" or ")
        })
}

/// Shape and loss of a [`Vae`]. Serialisable: saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Number of classes of the head.
    pub classes: usize,
    /// Filters of the encoder's stride-2 convolutions (the decoder mirrors them).
    pub filters: Vec<usize>,
    /// Latent dimensions.
    pub latent: usize,
    /// Weight of the KL term.
    pub beta: f64,
    /// Reconstruction loss.
    pub reconstruction: Reconstruction,
    /// Weight of the class loss in joint training. The reconstruction is summed over pixels
    /// (hundreds per image at 64 x 64) while cross-entropy is about 0.7: without a weight
    /// the encoder ignores the classes.
    pub class_weight: f64,
    /// When the head learns.
    pub head: HeadTraining,
    /// Epochs over which the KL weight rises linearly from 0 to `beta` (0: `beta` from the
    /// first step). Epoch `e` (from 0) weighs the KL term `beta * min(1, e / kl_warmup)`, so
    /// the first epoch trains a plain autoencoder.
    #[serde(default)]
    pub kl_warmup: usize,
    /// What the head reads.
    #[serde(default)]
    pub head_input: HeadInput,
    /// The shape of the code.
    #[serde(default)]
    pub code: Code,
}

impl VaeConfig {
    /// Encoder 32-64-64, latent 16, beta 1, MSE reconstruction, joint training with the
    /// class loss weighted 100.
    pub fn new(classes: usize) -> Self {
        Self {
            classes,
            filters: vec![32, 64, 64],
            latent: 16,
            beta: 1.0,
            reconstruction: Reconstruction::Mse,
            class_weight: 100.0,
            head: HeadTraining::Joint,
            kl_warmup: 0,
            head_input: HeadInput::Mu,
            code: Code::Vector,
        }
    }

    /// The weight of the KL term in epoch `epoch` (from 0): `beta`, ramped up linearly
    /// over the first [`VaeConfig::kl_warmup`] epochs.
    pub fn beta_at(&self, epoch: usize) -> f64 {
        if epoch >= self.kl_warmup {
            self.beta
        } else {
            self.beta * epoch as f64 / self.kl_warmup as f64
        }
    }

    /// Whether the class loss is part of the joint loss in epoch `epoch` (from 0): always
    /// with [`HeadTraining::Joint`], from epoch `epochs` on with
    /// [`HeadTraining::JointAfter`], never with [`HeadTraining::Pretrain`] (whose head-only
    /// epochs train the head on its own).
    pub fn class_term_at(&self, epoch: usize) -> bool {
        match self.head {
            HeadTraining::Joint => true,
            HeadTraining::JointAfter { epochs } => epoch >= epochs,
            HeadTraining::Pretrain { .. } => false,
        }
    }

    /// Side of the encoder's last feature map for inputs `size` pixels a side, or an error.
    pub fn feature_side(&self, size: usize) -> Result<usize> {
        let k = self.filters.len() as u32;
        let div = 1usize << k;
        if self.filters.is_empty() || size < div || !size.is_multiple_of(div) {
            return Err(Error::Param {
                name: "vae size",
                message: format!(
                    "{size} must be a positive multiple of 2^{k} = {div} (one halving per encoder layer)"
                ),
            });
        }
        Ok(size / div)
    }

    /// Whether the head can read what the code gives: [`HeadInput::Positions`] needs a map
    /// code ([`Code::Map`]). Checked by [`VaeConfig::init`] and before a run reads any image.
    pub fn check_head(&self) -> Result<()> {
        if self.head_input == HeadInput::Positions && self.code != Code::Map {
            return Err(Error::Param {
                name: "vae",
                message: "head=positions scores each position of a map code: it needs code=map"
                    .into(),
            });
        }
        Ok(())
    }

    /// Build the model for images of `channels` x `size` x `size` with freshly initialised
    /// weights on `device`.
    pub fn init(&self, channels: usize, size: usize, device: &Device) -> Result<Vae> {
        let side = self.feature_side(size)?;
        self.check_head()?;
        if channels == 0 || self.classes < 2 || self.latent == 0 || self.beta < 0.0 {
            return Err(Error::Param {
                name: "vae",
                message: format!(
                    "need >= 1 channel, >= 2 classes, latent >= 1, beta >= 0; got {channels} channels, {} classes, latent {}, beta {}",
                    self.classes, self.latent, self.beta
                ),
            });
        }
        let down = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [4, 4])
                .with_stride([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        let up = |i: usize, o: usize| {
            ConvTranspose2dConfig::new([i, o], [4, 4])
                .with_stride([2, 2])
                .with_padding([1, 1])
                .init(device)
        };
        let mut encoder = vec![];
        let mut inp = channels;
        for &f in &self.filters {
            encoder.push(down(inp, f));
            inp = f;
        }
        let last = inp;
        let features = last * side * side;
        let mut decoder = vec![];
        let outs: Vec<usize> = self
            .filters
            .iter()
            .rev()
            .skip(1)
            .copied()
            .chain(std::iter::once(channels))
            .collect();
        let mut inp = last;
        for o in outs {
            decoder.push(up(inp, o));
            inp = o;
        }
        // A vector code maps the whole feature map; a map code each position's channels.
        let (from, code) = match self.code {
            Code::Vector => (features, self.latent),
            Code::Map => (last, self.latent * side * side),
        };
        Ok(Vae {
            encoder,
            mu: LinearConfig::new(from, self.latent).init(device),
            log_var: LinearConfig::new(from, self.latent).init(device),
            expand: LinearConfig::new(self.latent, from).init(device),
            decoder,
            head: LinearConfig::new(
                match self.head_input {
                    HeadInput::Mu => code,
                    HeadInput::Features => features,
                    HeadInput::Positions => self.latent,
                },
                self.classes,
            )
            .init(device),
            shape: [last, side],
            sigmoid_out: self.reconstruction == Reconstruction::Bce,
            head_input: self.head_input,
            code: self.code,
        })
    }
}

/// Changes to [`VaeConfig::new`]'s shape and loss, written `key=value` pairs joined by
/// commas (`mammolab train --model vae --vae latent=64,beta=0.1`); a key left out keeps
/// the default. Keys:
///
/// | key | sets | default |
/// |---|---|---|
/// | `latent` | [`VaeConfig::latent`] | 16 |
/// | `beta` | [`VaeConfig::beta`] | 1 |
/// | `class_weight` | [`VaeConfig::class_weight`] | 100 |
/// | `kl_warmup` | [`VaeConfig::kl_warmup`] (epochs) | 0 |
/// | `pretrain` | [`VaeConfig::head`]: `Pretrain { epochs }`; 0 is `Joint` | 0 |
/// | `joint_after` | [`VaeConfig::head`]: `JointAfter { epochs }`; 0 is `Joint` | 0 |
/// | `recon` | [`VaeConfig::reconstruction`]: `mse` or `bce` | `mse` |
/// | `filters` | [`VaeConfig::filters`], joined by `-` (`32-64-128`) | `32-64-64` |
/// | `head` | [`VaeConfig::head_input`]: `mu`, `features` or `positions` ([`HeadInput`]) | `mu` |
/// | `code` | [`VaeConfig::code`]: `vector` or `map` ([`Code`]) | `vector` |
///
/// ```
/// use mammolab::model::{VaeConfig, VaeSettings};
/// let s: VaeSettings = "latent=64,beta=0.1,kl_warmup=3".parse()?;
/// let mut c = VaeConfig::new(2);
/// s.apply(&mut c);
/// assert_eq!((c.latent, c.beta, c.kl_warmup, c.class_weight), (64, 0.1, 3, 100.0));
/// assert_eq!(s.to_string(), "latent=64,beta=0.1,kl_warmup=3");
/// # Ok::<(), mammolab::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VaeSettings {
    /// Latent dimensions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent: Option<usize>,
    /// Weight of the KL term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta: Option<f64>,
    /// Weight of the class loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_weight: Option<f64>,
    /// KL warm-up epochs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kl_warmup: Option<usize>,
    /// VAE-only epochs before the head learns alone (0: joint training).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pretrain: Option<usize>,
    /// VAE-only epochs before joint training (0: joint from the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint_after: Option<usize>,
    /// Reconstruction loss.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recon: Option<Reconstruction>,
    /// Encoder filters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<usize>>,
    /// What the head reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadInput>,
    /// The shape of the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Code>,
}

const VAE_KEYS: &str =
    "latent, beta, class_weight, kl_warmup, pretrain, joint_after, recon, filters, head, code";

impl VaeSettings {
    /// Write these settings into `config`.
    pub fn apply(&self, config: &mut VaeConfig) {
        if let Some(v) = self.latent {
            config.latent = v;
        }
        if let Some(v) = self.beta {
            config.beta = v;
        }
        if let Some(v) = self.class_weight {
            config.class_weight = v;
        }
        if let Some(v) = self.kl_warmup {
            config.kl_warmup = v;
        }
        // Both keys choose `head`; parsing refuses two non-zero counts, so a zero of one
        // never overrides the other's count.
        config.head = match (self.pretrain, self.joint_after) {
            (None, None) => config.head,
            (Some(epochs @ 1..), _) => HeadTraining::Pretrain { epochs },
            (_, Some(epochs @ 1..)) => HeadTraining::JointAfter { epochs },
            _ => HeadTraining::Joint,
        };
        if let Some(v) = self.recon {
            config.reconstruction = v;
        }
        if let Some(v) = &self.filters {
            config.filters = v.clone();
        }
        if let Some(v) = self.head {
            config.head_input = v;
        }
        if let Some(v) = self.code {
            config.code = v;
        }
    }
}

impl std::str::FromStr for VaeSettings {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |message: String| Error::Param {
            name: "vae",
            message,
        };
        let mut out = Self::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("`{part}` is not key=value (keys: {VAE_KEYS})")))?;
            let (key, value) = (key.trim(), value.trim());
            let count = |what: &str| {
                value
                    .parse::<usize>()
                    .map_err(|_| bad(format!("{key}=`{value}` is not {what}")))
            };
            let weight = || match value.parse::<f64>() {
                Ok(w) if w.is_finite() && w >= 0.0 => Ok(w),
                _ => Err(bad(format!("{key}=`{value}` is not a number >= 0"))),
            };
            match key {
                "latent" => match count("a whole number >= 1")? {
                    0 => return Err(bad("latent=0: the code needs at least one dimension".into())),
                    n => out.latent = Some(n),
                },
                "beta" => out.beta = Some(weight()?),
                "class_weight" => out.class_weight = Some(weight()?),
                "kl_warmup" => out.kl_warmup = Some(count("a number of epochs")?),
                "pretrain" => out.pretrain = Some(count("a number of epochs")?),
                "joint_after" => out.joint_after = Some(count("a number of epochs")?),
                "recon" => {
                    out.recon = Some(
                        named(&Reconstruction::ALL, value)
                            .map_err(|names| bad(format!("recon=`{value}` is not {names}")))?,
                    )
                }
                "filters" => {
                    let f: Option<Vec<usize>> = value
                        .split('-')
                        .map(|x| x.trim().parse().ok().filter(|&n: &usize| n > 0))
                        .collect();
                    out.filters = Some(f.ok_or_else(|| {
                        bad(format!(
                            "filters=`{value}` is not positive whole numbers joined by - (32-64-64)"
                        ))
                    })?);
                }
                "head" => {
                    out.head = Some(
                        named(&HeadInput::ALL, value)
                            .map_err(|names| bad(format!("head=`{value}` is not {names}")))?,
                    )
                }
                "code" => {
                    out.code = Some(
                        named(&Code::ALL, value)
                            .map_err(|names| bad(format!("code=`{value}` is not {names}")))?,
                    )
                }
                _ => return Err(bad(format!("unknown setting `{key}` (keys: {VAE_KEYS})"))),
            }
        }
        if out.pretrain.unwrap_or(0) > 0 && out.joint_after.unwrap_or(0) > 0 {
            return Err(bad(
                "pretrain and joint_after both say when the head learns: give one".into(),
            ));
        }
        Ok(out)
    }
}

impl std::fmt::Display for VaeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = vec![];
        if let Some(v) = self.latent {
            parts.push(format!("latent={v}"));
        }
        if let Some(v) = self.beta {
            parts.push(format!("beta={v}"));
        }
        if let Some(v) = self.class_weight {
            parts.push(format!("class_weight={v}"));
        }
        if let Some(v) = self.kl_warmup {
            parts.push(format!("kl_warmup={v}"));
        }
        if let Some(v) = self.pretrain {
            parts.push(format!("pretrain={v}"));
        }
        if let Some(v) = self.joint_after {
            parts.push(format!("joint_after={v}"));
        }
        if let Some(v) = self.recon {
            parts.push(format!("recon={}", name_of(&Reconstruction::ALL, v)));
        }
        if let Some(v) = &self.filters {
            let f: Vec<String> = v.iter().map(usize::to_string).collect();
            parts.push(format!("filters={}", f.join("-")));
        }
        if let Some(v) = self.head {
            parts.push(format!("head={}", name_of(&HeadInput::ALL, v)));
        }
        if let Some(v) = self.code {
            parts.push(format!("code={}", name_of(&Code::ALL, v)));
        }
        f.write_str(&parts.join(","))
    }
}

/// Everything one forward pass produces.
#[derive(Debug, Clone)]
pub struct VaeOutput {
    /// Reconstruction `[batch, channels, size, size]`.
    pub reconstruction: Tensor<4>,
    /// Latent means `[batch, latent]`.
    pub mu: Tensor<2>,
    /// Latent log-variances `[batch, latent]`.
    pub log_var: Tensor<2>,
    /// Class logits `[batch, classes]` from the head (on `mu`, or the features).
    pub logits: Tensor<2>,
}

/// Seed 000's CNN-VAE (see the module docs).
#[derive(Module, Debug)]
pub struct Vae {
    encoder: Vec<Conv2d>,
    mu: Linear,
    log_var: Linear,
    expand: Linear,
    decoder: Vec<ConvTranspose2d>,
    head: Linear,
    #[module(skip)]
    shape: [usize; 2],
    #[module(skip)]
    sigmoid_out: bool,
    #[module(skip)]
    head_input: HeadInput,
    #[module(skip)]
    code: Code,
}

impl Vae {
    /// Latent mean and log-variance of `x`.
    pub fn encode(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let h = self.features(x);
        (
            self.code_of(&self.mu, h.clone()),
            self.code_of(&self.log_var, h),
        )
    }

    /// `layer` (`mu` or `log_var`) on the feature map `a`: `[batch, latent]` for a vector
    /// code, `[batch, side * side * latent]` (position by position) for a map.
    fn code_of(&self, layer: &Linear, a: Tensor<4>) -> Tensor<2> {
        match self.code {
            Code::Vector => layer.forward(a.flatten::<2>(1, 3)),
            Code::Map => layer.forward(a.permute([0, 2, 3, 1])).flatten(1, 3),
        }
    }

    /// The encoder's last convolution after its ReLU (`encoder.<last>`): `[batch,
    /// filters.last, size / 2^k, size / 2^k]`, the layer Grad-CAM explains for the head.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = x;
        for c in &self.encoder {
            x = relu(c.forward(x));
        }
        x
    }

    /// Class logits from [`Vae::features`]: the head on the latent mean, or on the
    /// features themselves ([`HeadInput`]).
    pub fn head_logits(&self, a: Tensor<4>) -> Tensor<2> {
        self.classify(self.head_input_of(a))
    }

    /// What the head reads ([`HeadInput`]) for `x`: `[batch, latent]` or `[batch,
    /// features]`. Training the head alone detaches it, so the encoder stays as it is.
    pub fn head_input(&self, x: Tensor<4>) -> Tensor<2> {
        self.head_input_of(self.features(x))
    }

    /// Class logits of `x`.
    pub fn logits(&self, x: Tensor<4>) -> Tensor<2> {
        self.classify(self.head_input(x))
    }

    fn head_input_of(&self, a: Tensor<4>) -> Tensor<2> {
        match self.head_input {
            HeadInput::Features => a.flatten(1, 3),
            HeadInput::Mu | HeadInput::Positions => self.code_of(&self.mu, a),
        }
    }

    /// How many encoder convolutions.
    pub fn encoder_layers(&self) -> usize {
        self.encoder.len()
    }

    /// The layers [`Vae::trace`] can stop at: `encoder.<i>` (after ReLU), `mu` (the
    /// latent mean), `logits` (the head on it).
    pub fn layer_names(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.encoder.len())
            .map(|i| format!("encoder.{i}"))
            .collect();
        v.extend(["mu".into(), "logits".into()]);
        v
    }

    /// The output of layer `layer` (one of [`Vae::layer_names`]) for `x`.
    pub fn trace(&self, x: Tensor<4>, layer: &str) -> Option<super::batch::Activation> {
        use super::batch::Activation;
        let mut x = x;
        for (i, c) in self.encoder.iter().enumerate() {
            x = relu(c.forward(x));
            if layer == format!("encoder.{i}") {
                return Some(Activation::Map(x));
            }
        }
        match layer {
            "mu" => Some(Activation::Vector(self.code_of(&self.mu, x))),
            "logits" => Some(Activation::Vector(self.classify(self.head_input_of(x)))),
            _ => None,
        }
    }

    /// Decode latent codes `[batch, latent]` to images.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        let [c, s] = self.shape;
        let b = z.dims()[0];
        let mut x: Tensor<4> = match self.code {
            Code::Vector => relu(self.expand.forward(z)).reshape([b, c, s, s]),
            Code::Map => {
                let latent = z.dims()[1] / (s * s);
                let z: Tensor<4> = z.reshape([b, s, s, latent]);
                relu(self.expand.forward(z)).permute([0, 3, 1, 2])
            }
        };
        let n = self.decoder.len();
        for (i, d) in self.decoder.iter().enumerate() {
            x = d.forward(x);
            if i + 1 < n {
                x = relu(x);
            }
        }
        if self.sigmoid_out {
            sigmoid(x)
        } else {
            x
        }
    }

    /// Class logits of the head on what it reads ([`Vae::head_input`]): latent means
    /// `[batch, latent]` (or a map's, position by position), or flattened features. With
    /// [`HeadInput::Positions`] each position is scored and each class keeps its highest.
    pub fn classify(&self, input: Tensor<2>) -> Tensor<2> {
        match self.head_input {
            HeadInput::Positions => {
                let [b, n] = input.dims();
                let latent = self.head.weight.dims()[0];
                let scores: Tensor<3> = self.head.forward(input.reshape([b, n / latent, latent]));
                scores.max_dim(1).squeeze_dim(1)
            }
            _ => self.head.forward(input),
        }
    }

    /// Full pass. `sample`: draw z = mu + sigma * eps (training); otherwise z = mu.
    pub fn forward(&self, x: Tensor<4>, sample: bool) -> VaeOutput {
        let a = self.features(x);
        let (mu, log_var) = (
            self.code_of(&self.mu, a.clone()),
            self.code_of(&self.log_var, a.clone()),
        );
        // The head on this `mu` (not a second pass through the layer): one graph, so the
        // gradients sum as seed 000's model always did.
        let logits = self.classify(match self.head_input {
            HeadInput::Features => a.flatten(1, 3),
            HeadInput::Mu | HeadInput::Positions => mu.clone(),
        });
        let z = if sample {
            let eps = Tensor::<2>::random(mu.shape(), Distribution::Normal(0.0, 1.0), &mu.device());
            mu.clone() + (log_var.clone() * 0.5).exp() * eps
        } else {
            mu.clone()
        };
        VaeOutput {
            reconstruction: self.decode(z),
            logits,
            mu,
            log_var,
        }
    }
}
