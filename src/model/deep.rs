//! Seed 001's skip-connection experiment: a plain deep CNN and the same depth with
//! residual blocks.
//!
//! Both networks are a stem (3x3 conv to `width` channels + 2x2 max-pool), `blocks` blocks
//! of two 3x3 same-padded convolutions each (a 2x2 max-pool after the first half of the
//! blocks), global average pooling and a linear layer: `2 * blocks + 2` weight layers.
//! The only difference is the skip: a residual block returns `relu(x + f(x))`, a plain
//! one `relu(f(x))`. With no batch normalisation (as in the experiment) and burn's
//! default initialisation, the plain network's signal and gradients fade with depth and it
//! stalls near chance while the residual one learns.
//!
//! # Shapes
//! - input: `[batch, channels, size, size]`
//! - output: `[batch, classes]` logits

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Shape of a [`DeepCnn`]. Serialisable: saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeepCnnConfig {
    /// Number of classes.
    pub classes: usize,
    /// Channels of every block.
    pub width: usize,
    /// Number of two-convolution blocks.
    pub blocks: usize,
    /// `true`: residual blocks (`relu(x + f(x))`); `false`: plain (`relu(f(x))`).
    pub residual: bool,
}

impl DeepCnnConfig {
    /// `blocks` blocks of `width` = 16 channels, residual or plain.
    pub fn new(classes: usize, blocks: usize, residual: bool) -> Self {
        Self {
            classes,
            width: 16,
            blocks,
            residual,
        }
    }

    /// Weight layers: stem + two per block + the classifier.
    pub fn depth(&self) -> usize {
        2 * self.blocks + 2
    }

    /// Build the model for images of `channels` x `size` x `size` with freshly initialised
    /// weights on `device`.
    pub fn init(&self, channels: usize, size: usize, device: &Device) -> Result<DeepCnn> {
        if size < 8 || channels == 0 || self.classes < 2 || self.width == 0 || self.blocks == 0 {
            return Err(Error::Param {
                name: "deep cnn",
                message: format!(
                    "need size >= 8, >= 1 channel, >= 2 classes, width and blocks >= 1; got size {size}, {channels} channels, {} classes, width {}, {} blocks",
                    self.classes, self.width, self.blocks
                ),
            });
        }
        let conv = |i: usize, o: usize| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        Ok(DeepCnn {
            stem: conv(channels, self.width),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            blocks: (0..self.blocks)
                .map(|_| Block {
                    conv1: conv(self.width, self.width),
                    conv2: conv(self.width, self.width),
                })
                .collect(),
            gap: AdaptiveAvgPool2dConfig::new([1, 1]).init(),
            logits: LinearConfig::new(self.width, self.classes).init(device),
            residual: self.residual,
        })
    }
}

/// Two 3x3 convolutions.
#[derive(Module, Debug)]
struct Block {
    conv1: Conv2d,
    conv2: Conv2d,
}

/// A plain or residual deep CNN (see the module docs).
#[derive(Module, Debug)]
pub struct DeepCnn {
    stem: Conv2d,
    pool: MaxPool2d,
    blocks: Vec<Block>,
    gap: AdaptiveAvgPool2d,
    logits: Linear,
    #[module(skip)]
    residual: bool,
}

impl DeepCnn {
    /// Class logits `[batch, classes]` for images `[batch, channels, size, size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last block's output (`blocks.<last>`, after its ReLU): `[batch, width, size / 4,
    /// size / 4]`, the layer Grad-CAM explains.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.stem_out(x);
        for i in 0..self.blocks.len() {
            x = self.block_out(i, x);
        }
        x
    }

    /// The stem: convolution, ReLU, 2x2 max-pool.
    fn stem_out(&self, x: Tensor<4>) -> Tensor<4> {
        self.pool.forward(relu(self.stem.forward(x)))
    }

    /// Block `i` on `x` (halving the size first at the middle block).
    fn block_out(&self, i: usize, x: Tensor<4>) -> Tensor<4> {
        let b = &self.blocks[i];
        let x = if i == self.blocks.len() / 2 && i > 0 {
            self.pool.forward(x)
        } else {
            x
        };
        let f = b.conv2.forward(relu(b.conv1.forward(x.clone())));
        if self.residual {
            relu(x + f)
        } else {
            relu(f)
        }
    }

    /// Logits from [`DeepCnn::features`]: global average pooling and the classifier.
    pub fn head(&self, a: Tensor<4>) -> Tensor<2> {
        let x: Tensor<2> = self.gap.forward(a).flatten(1, 3);
        self.logits.forward(x)
    }

    /// How many blocks (the last is `blocks.<n - 1>`).
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The layers [`DeepCnn::trace`] can stop at: `stem` (after ReLU and the pool),
    /// `blocks.<i>` (after ReLU), `gap` (the pooled last block), `logits`.
    pub fn layer_names(&self) -> Vec<String> {
        let mut v = vec!["stem".to_string()];
        v.extend((0..self.blocks.len()).map(|i| format!("blocks.{i}")));
        v.extend(["gap".into(), "logits".into()]);
        v
    }

    /// The output of layer `layer` (one of [`DeepCnn::layer_names`]) for `x`.
    pub fn trace(&self, x: Tensor<4>, layer: &str) -> Option<super::batch::Activation> {
        use super::batch::Activation;
        let mut x = self.stem_out(x);
        if layer == "stem" {
            return Some(Activation::Map(x));
        }
        for i in 0..self.blocks.len() {
            x = self.block_out(i, x);
            if layer == format!("blocks.{i}") {
                return Some(Activation::Map(x));
            }
        }
        let g: Tensor<2> = self.gap.forward(x).flatten(1, 3);
        match layer {
            "gap" => Some(Activation::Vector(g)),
            "logits" => Some(Activation::Vector(self.logits.forward(g))),
            _ => None,
        }
    }
}
