//! Seed 001's CNN and the small CNNs built from the same blocks.
//!
//! [`CnnConfig::seed001`] is seed 001's network: three 3x3 convolutions (32, 64, 128
//! filters), each followed by ReLU and 2x2 max-pooling, a dense layer of 128 and one logit
//! per class (softmax them for probabilities). Its convolutions use no padding, as Keras'
//! `Conv2D` default, so a 224x224 input shrinks 222 -> 111 -> 109 -> 54 -> 52 -> 26 and the
//! dense layer sees 128 x 26 x 26 features (11.1 M weights, most of the model).
//!
//! The same [`ConvBlock`] with `same` padding, batch normalisation and dropout gives a
//! plain-convolution 50x50 patch classifier ([`CnnConfig::patch`]; seed 003's own network,
//! with separable convolutions, is [`super::cancernet`]) and, with `classes: 3`, the
//! normal / benign / malignant classifier of seed 002.
//!
//! # Shapes
//! - input: `[batch, channels, size, size]`
//! - output of [`Cnn::forward`]: `[batch, classes]` logits

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Shape and regularisation of a [`Cnn`]. Serialisable: saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CnnConfig {
    /// Number of classes (2: normal / cancer; 3: normal / benign / malignant).
    pub classes: usize,
    /// Filters of each conv block; each block halves the side.
    pub filters: Vec<usize>,
    /// Width of the dense layer.
    pub dense: usize,
    /// `true`: 3x3 convolutions keep the side ("same"); `false`: Keras' "valid" (-2 each).
    pub same_padding: bool,
    /// Batch normalisation after each convolution and after the dense layer.
    pub batch_norm: bool,
    /// Dropout after each block (and, doubled up to 0.5, before the last layer); 0 = none.
    pub dropout: f64,
}

impl Default for CnnConfig {
    /// [`CnnConfig::seed001`] with 2 classes.
    fn default() -> Self {
        Self::seed001(2)
    }
}

impl CnnConfig {
    /// Seed 001's network: conv 32-64-128 (valid 3x3, ReLU, 2x2 max-pool), dense 128.
    pub fn seed001(classes: usize) -> Self {
        Self {
            classes,
            filters: vec![32, 64, 128],
            dense: 128,
            same_padding: false,
            batch_norm: false,
            dropout: 0.0,
        }
    }

    /// A patch classifier (seed 003: 50 x 50 RGB patches) in CancerNet's widths with plain convolutions
    /// (seed 003's own network is [`super::cancernet`]): same-padded 3x3 blocks of 32, 64
    /// and 128 filters with batch norm, dropout 0.25, dense 256.
    pub fn patch(classes: usize) -> Self {
        Self {
            classes,
            filters: vec![32, 64, 128],
            dense: 256,
            same_padding: true,
            batch_norm: true,
            dropout: 0.25,
        }
    }

    /// Side of the last feature map for inputs `size` pixels a side, or an error when they
    /// are too small.
    pub fn feature_side(&self, size: usize) -> Result<usize> {
        let mut s = size;
        for _ in &self.filters {
            let after_conv = if self.same_padding {
                s
            } else {
                s.saturating_sub(2)
            };
            if after_conv < 2 {
                return Err(Error::Param {
                    name: "size",
                    message: format!(
                        "{size} is too small for {} conv+pool blocks",
                        self.filters.len()
                    ),
                });
            }
            s = after_conv / 2;
        }
        Ok(s)
    }

    /// Build the model for images of `channels` x `size` x `size` with freshly initialised
    /// weights on `device`.
    pub fn init(&self, channels: usize, size: usize, device: &Device) -> Result<Cnn> {
        let side = self.feature_side(size)?;
        if channels == 0 || self.classes < 2 || self.filters.is_empty() || self.dense == 0 {
            return Err(Error::Param {
                name: "cnn",
                message: format!(
                    "need >= 1 channel, >= 2 classes, >= 1 block and a dense layer, got {} channels, {} classes, {} blocks, dense {}",
                    channels,
                    self.classes,
                    self.filters.len(),
                    self.dense
                ),
            });
        }
        check_dropout(self.dropout)?;
        let mut blocks = Vec::with_capacity(self.filters.len());
        let mut inp = channels;
        for &f in &self.filters {
            blocks.push(ConvBlock::new(
                inp,
                f,
                self.same_padding,
                self.batch_norm,
                self.dropout,
                device,
            ));
            inp = f;
        }
        let last = *self.filters.last().expect("checked non-empty");
        Ok(Cnn {
            blocks,
            dense: LinearConfig::new(last * side * side, self.dense).init(device),
            dense_norm: self
                .batch_norm
                .then(|| BatchNormConfig::new(self.dense).init(device)),
            head_dropout: (self.dropout > 0.0)
                .then(|| DropoutConfig::new((self.dropout * 2.0).min(0.5)).init()),
            logits: LinearConfig::new(self.dense, self.classes).init(device),
        })
    }
}

pub(crate) fn check_dropout(p: f64) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::Param {
            name: "dropout",
            message: format!("{p} is not in [0, 1)"),
        });
    }
    Ok(())
}

/// 3x3 convolution (+ batch norm) + ReLU + 2x2 max-pool (+ dropout).
#[derive(Module, Debug)]
pub struct ConvBlock {
    conv: Conv2d,
    norm: Option<BatchNorm>,
    pool: MaxPool2d,
    dropout: Option<Dropout>,
}

impl ConvBlock {
    /// A block from `inp` to `out` channels.
    pub fn new(
        inp: usize,
        out: usize,
        same_padding: bool,
        batch_norm: bool,
        dropout: f64,
        device: &Device,
    ) -> Self {
        let padding = if same_padding {
            PaddingConfig2d::Same
        } else {
            PaddingConfig2d::Valid
        };
        Self {
            conv: Conv2dConfig::new([inp, out], [3, 3])
                .with_padding(padding)
                .init(device),
            norm: batch_norm.then(|| BatchNormConfig::new(out).init(device)),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            dropout: (dropout > 0.0).then(|| DropoutConfig::new(dropout).init()),
        }
    }

    /// `[b, inp, s, s]` -> `[b, out, s' / 2, s' / 2]` (s' = s, or s - 2 unpadded).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.reduce(self.activate(x))
    }

    /// Convolution (+ batch norm) + ReLU: `[b, out, s', s']`, before the pool.
    pub fn activate(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.conv.forward(x);
        if let Some(n) = &self.norm {
            x = n.forward(x);
        }
        relu(x)
    }

    /// The 2x2 max-pool (+ dropout) after [`ConvBlock::activate`].
    pub fn reduce(&self, x: Tensor<4>) -> Tensor<4> {
        let x = self.pool.forward(x);
        match &self.dropout {
            Some(d) => d.forward(x),
            None => x,
        }
    }
}

/// A [`CnnConfig`] network (see the module docs).
#[derive(Module, Debug)]
pub struct Cnn {
    blocks: Vec<ConvBlock>,
    dense: Linear,
    dense_norm: Option<BatchNorm>,
    head_dropout: Option<Dropout>,
    logits: Linear,
}

impl Cnn {
    /// Class logits `[batch, classes]` for images `[batch, channels, size, size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last convolution's activation (after its ReLU, before its pool; torch name
    /// `blocks.<last>.conv`): `[batch, filters.last, s', s']`, the layer Grad-CAM explains.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let (last, first) = self.blocks.split_last().expect("init checks >= 1 block");
        let mut x = x;
        for b in first {
            x = b.forward(x);
        }
        last.activate(x)
    }

    /// Logits from [`Cnn::features`]: the last pool, the dense layer and the classifier.
    pub fn head(&self, a: Tensor<4>) -> Tensor<2> {
        let last = self.blocks.last().expect("init checks >= 1 block");
        let mut x = self.embed(last.reduce(a));
        if let Some(d) = &self.head_dropout {
            x = d.forward(x);
        }
        self.logits.forward(x)
    }

    /// The dense layer (+ batch norm) + ReLU on the last block's pooled output: the
    /// `dense` layer of [`Cnn::trace`].
    fn embed(&self, pooled: Tensor<4>) -> Tensor<2> {
        let mut x = self.dense.forward(pooled.flatten(1, 3));
        if let Some(n) = &self.dense_norm {
            x = n.forward(x);
        }
        relu(x)
    }

    /// How many conv blocks (the last is `blocks.<n - 1>`).
    pub fn blocks(&self) -> usize {
        self.blocks.len()
    }

    /// The layers [`Cnn::trace`] can stop at: `blocks.<i>` (after the pool), `dense`
    /// (after ReLU), `logits`.
    pub fn layer_names(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.blocks.len())
            .map(|i| format!("blocks.{i}"))
            .collect();
        v.extend(["dense".into(), "logits".into()]);
        v
    }

    /// The output of layer `layer` (one of [`Cnn::layer_names`]) for `x`.
    pub fn trace(&self, x: Tensor<4>, layer: &str) -> Option<super::batch::Activation> {
        use super::batch::Activation;
        let mut x = x;
        for (i, b) in self.blocks.iter().enumerate() {
            x = b.forward(x);
            if layer == format!("blocks.{i}") {
                return Some(Activation::Map(x));
            }
        }
        let d = self.embed(x);
        match layer {
            "dense" => Some(Activation::Vector(d)),
            "logits" => Some(Activation::Vector(self.logits.forward(d))),
            _ => None,
        }
    }
}
