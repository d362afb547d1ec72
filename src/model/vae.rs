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
//! - head: `[batch, latent]` -> `[batch, classes]` logits

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
}

/// Shape and loss of a [`Vae`]. Serialisable: saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VaeConfig {
    /// Input height and width.
    pub size: usize,
    /// Input channels.
    pub channels: usize,
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
}

impl VaeConfig {
    /// Encoder 32-64-64, latent 16, beta 1, MSE reconstruction, joint training with the
    /// class loss weighted 100.
    pub fn new(size: usize, channels: usize, classes: usize) -> Self {
        Self {
            size,
            channels,
            classes,
            filters: vec![32, 64, 64],
            latent: 16,
            beta: 1.0,
            reconstruction: Reconstruction::Mse,
            class_weight: 100.0,
            head: HeadTraining::Joint,
        }
    }

    /// Side of the encoder's last feature map, or an error.
    pub fn feature_side(&self) -> Result<usize> {
        let k = self.filters.len() as u32;
        let div = 1usize << k;
        if self.filters.is_empty() || self.size < div || !self.size.is_multiple_of(div) {
            return Err(Error::Param {
                name: "vae size",
                message: format!(
                    "{} must be a positive multiple of 2^{k} = {div} (one halving per encoder layer)",
                    self.size
                ),
            });
        }
        Ok(self.size / div)
    }

    /// Build the model with freshly initialised weights on `device`.
    pub fn init(&self, device: &Device) -> Result<Vae> {
        let side = self.feature_side()?;
        if self.channels == 0 || self.classes < 2 || self.latent == 0 || self.beta < 0.0 {
            return Err(Error::Param {
                name: "vae",
                message: format!(
                    "need >= 1 channel, >= 2 classes, latent >= 1, beta >= 0; got {} channels, {} classes, latent {}, beta {}",
                    self.channels, self.classes, self.latent, self.beta
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
        let mut inp = self.channels;
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
            .chain(std::iter::once(self.channels))
            .collect();
        let mut inp = last;
        for o in outs {
            decoder.push(up(inp, o));
            inp = o;
        }
        Ok(Vae {
            encoder,
            mu: LinearConfig::new(features, self.latent).init(device),
            log_var: LinearConfig::new(features, self.latent).init(device),
            expand: LinearConfig::new(self.latent, features).init(device),
            decoder,
            head: LinearConfig::new(self.latent, self.classes).init(device),
            shape: [last, side],
            sigmoid_out: self.reconstruction == Reconstruction::Bce,
        })
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
    /// Class logits `[batch, classes]` from the head on `mu`.
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
}

impl Vae {
    /// Latent mean and log-variance of `x`.
    pub fn encode(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let h: Tensor<2> = self.features(x).flatten(1, 3);
        (self.mu.forward(h.clone()), self.log_var.forward(h))
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

    /// Class logits from [`Vae::features`]: the latent mean, then the head.
    pub fn head_logits(&self, a: Tensor<4>) -> Tensor<2> {
        self.classify(self.mu.forward(a.flatten(1, 3)))
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
    pub fn trace(&self, x: Tensor<4>, layer: &str) -> Option<super::layers::Activation> {
        use super::layers::Activation;
        let mut x = x;
        for (i, c) in self.encoder.iter().enumerate() {
            x = relu(c.forward(x));
            if layer == format!("encoder.{i}") {
                return Some(Activation::Map(x));
            }
        }
        let mu = self.mu.forward(x.flatten(1, 3));
        match layer {
            "mu" => Some(Activation::Vector(mu)),
            "logits" => Some(Activation::Vector(self.classify(mu))),
            _ => None,
        }
    }

    /// Decode latent codes `[batch, latent]` to images.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        let [c, s] = self.shape;
        let b = z.dims()[0];
        let mut x: Tensor<4> = relu(self.expand.forward(z)).reshape([b, c, s, s]);
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

    /// Class logits of the head on latent means `[batch, latent]`.
    pub fn classify(&self, mu: Tensor<2>) -> Tensor<2> {
        self.head.forward(mu)
    }

    /// Full pass. `sample`: draw z = mu + sigma * eps (training); otherwise z = mu.
    pub fn forward(&self, x: Tensor<4>, sample: bool) -> VaeOutput {
        let (mu, log_var) = self.encode(x);
        let z = if sample {
            let eps = Tensor::<2>::random(mu.shape(), Distribution::Normal(0.0, 1.0), &mu.device());
            mu.clone() + (log_var.clone() * 0.5).exp() * eps
        } else {
            mu.clone()
        };
        VaeOutput {
            reconstruction: self.decode(z),
            logits: self.classify(mu.clone()),
            mu,
            log_var,
        }
    }
}
