//! CancerNet, seed 003's network: the Keras model published with the IDC histology-patch
//! tutorial (PyImageSearch, 2019) that seed 003 trains on 48 x 48 RGB patches.
//!
//! Three stages of depthwise-separable 3x3 convolutions (Keras' `SeparableConv2D`: one
//! 3x3 filter per input channel without bias, then a 1x1 convolution with bias; `same`
//! padding), each convolution followed by ReLU and then batch normalisation (in that order,
//! as published), each stage ending in a 2x2 max-pool and dropout 0.25:
//!
//! | stage | separable convolutions | filters |
//! |---|---|---|
//! | 0 | 1 | 32 |
//! | 1 | 2 | 64 |
//! | 2 | 3 | 128 |
//!
//! then a dense layer of 256 (ReLU, batch norm, dropout 0.5) and one logit per class.
//! Batch normalisation uses Keras' epsilon, 1e-3, but PyTorch's momentum (the running
//! statistics take 10 % of each batch), not Keras' 0.99 (1 %): on the ci IDC twin (30 steps
//! an epoch) Keras' slow statistics left inference mode scoring every validation patch
//! positive after 5 epochs (validation ROC AUC 0.50, loss 12.1) where 0.1 gave 0.99; a
//! download of 277,524 patches has the thousands of steps Keras' setting needs.
//!
//! PyTorch names (the exported `model.safetensors`): `stages.<s>.units.<u>.depthwise`,
//! `.pointwise`, `.norm`; `dense`, `dense_norm`, `logits`. `tests/torch/test_roundtrip.py`
//! rebuilds the network in PyTorch from these names and checks the logits.
//!
//! # Shapes
//! - input: `[batch, channels, size, size]`, size >= 8 (48: the stages give 24, 12, 6)
//! - output of [`CancerNet::forward`]: `[batch, classes]` logits

use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d,
};
use burn::prelude::*;
use burn::tensor::activation::relu;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Each stage's separable convolutions and their filters.
const STAGES: [(usize, usize); 3] = [(1, 32), (2, 64), (3, 128)];
/// Width of the dense layer.
const DENSE: usize = 256;
/// Dropout after each stage, and after the dense layer.
const DROPOUT: [f64; 2] = [0.25, 0.5];
/// Batch normalisation: Keras' epsilon, and PyTorch's share of a batch in the running
/// statistics (see the module docs).
const NORM: (f64, f64) = (1e-3, 0.1);

/// The output of a [`CancerNet`] (the architecture itself is fixed; the input comes from
/// the images). Serialisable: saved beside every checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancerNetConfig {
    /// Number of classes (seed 003: 2).
    pub classes: usize,
}

impl CancerNetConfig {
    /// CancerNet with `classes` classes.
    pub fn new(classes: usize) -> Self {
        Self { classes }
    }

    /// Build for images of `channels` x `size` x `size` (seed 003: 3 x 48 x 48 H&E
    /// patches) with fresh weights on `device`.
    pub fn init(&self, channels: usize, size: usize, device: &Device) -> Result<CancerNet> {
        if size < 8 || channels == 0 || self.classes < 2 {
            return Err(Error::Param {
                name: "model",
                message: format!(
                    "CancerNet needs size >= 8, >= 1 channel and >= 2 classes; got size {size}, {channels} channels, {} classes",
                    self.classes
                ),
            });
        }
        let mut inp = channels;
        let stages = STAGES
            .iter()
            .map(|&(n, out)| {
                let units = (0..n)
                    .map(|_| {
                        let u = SeparableUnit::new(inp, out, device);
                        inp = out;
                        u
                    })
                    .collect();
                Stage {
                    units,
                    pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
                    dropout: DropoutConfig::new(DROPOUT[0]).init(),
                }
            })
            .collect();
        // Each stage halves the side, rounding down.
        let side = size >> STAGES.len();
        Ok(CancerNet {
            stages,
            dense: LinearConfig::new(inp * side * side, DENSE).init(device),
            dense_norm: norm(DENSE, device),
            dropout: DropoutConfig::new(DROPOUT[1]).init(),
            logits: LinearConfig::new(DENSE, self.classes).init(device),
        })
    }
}

fn norm(features: usize, device: &Device) -> BatchNorm {
    BatchNormConfig::new(features)
        .with_epsilon(NORM.0)
        .with_momentum(NORM.1)
        .init(device)
}

/// One separable convolution, ReLU, batch norm.
#[derive(Module, Debug)]
pub struct SeparableUnit {
    depthwise: Conv2d,
    pointwise: Conv2d,
    norm: BatchNorm,
}

impl SeparableUnit {
    fn new(inp: usize, out: usize, device: &Device) -> Self {
        Self {
            depthwise: Conv2dConfig::new([inp, inp], [3, 3])
                .with_groups(inp)
                .with_bias(false)
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            pointwise: Conv2dConfig::new([inp, out], [1, 1]).init(device),
            norm: norm(out, device),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.norm
            .forward(relu(self.pointwise.forward(self.depthwise.forward(x))))
    }
}

/// Separable units, then a 2x2 max-pool and dropout.
#[derive(Module, Debug)]
pub struct Stage {
    units: Vec<SeparableUnit>,
    pool: MaxPool2d,
    dropout: Dropout,
}

impl Stage {
    fn units(&self, x: Tensor<4>) -> Tensor<4> {
        self.units.iter().fold(x, |x, u| u.forward(x))
    }

    fn reduce(&self, x: Tensor<4>) -> Tensor<4> {
        self.dropout.forward(self.pool.forward(x))
    }
}

/// A [`CancerNetConfig`] network (see the module docs).
#[derive(Module, Debug)]
pub struct CancerNet {
    stages: Vec<Stage>,
    dense: Linear,
    dense_norm: BatchNorm,
    dropout: Dropout,
    logits: Linear,
}

impl CancerNet {
    /// Class logits `[batch, classes]` for images `[batch, channels, size, size]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.head(self.features(x))
    }

    /// The last separable unit's output (after its ReLU and batch norm, before the last
    /// pool; torch name `stages.2.units.2`): `[batch, 128, s, s]`, the layer Grad-CAM
    /// explains.
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        let (last, first) = self.stages.split_last().expect("three stages");
        let x = first.iter().fold(x, |x, s| s.reduce(s.units(x)));
        last.units(x)
    }

    /// Logits from [`CancerNet::features`]: the last pool, the dense layer and the classifier.
    pub fn head(&self, a: Tensor<4>) -> Tensor<2> {
        let last = self.stages.last().expect("three stages");
        let x = self.embed(last.reduce(a));
        self.logits.forward(self.dropout.forward(x))
    }

    /// The dense layer, ReLU and batch norm on the last stage's pooled output: the `dense`
    /// layer of [`CancerNet::trace`].
    fn embed(&self, pooled: Tensor<4>) -> Tensor<2> {
        self.dense_norm
            .forward(relu(self.dense.forward(pooled.flatten(1, 3))))
    }

    /// The layers [`CancerNet::trace`] can stop at: `stages.<i>` (after the pool), `dense`
    /// (after ReLU and batch norm), `logits`.
    pub fn layer_names(&self) -> Vec<String> {
        let mut v: Vec<String> = (0..self.stages.len())
            .map(|i| format!("stages.{i}"))
            .collect();
        v.extend(["dense".into(), "logits".into()]);
        v
    }

    /// The output of layer `layer` (one of [`CancerNet::layer_names`]) for `x`.
    pub fn trace(&self, x: Tensor<4>, layer: &str) -> Option<super::batch::Activation> {
        use super::batch::Activation;
        let mut x = x;
        for (i, s) in self.stages.iter().enumerate() {
            x = s.reduce(s.units(x));
            if layer == format!("stages.{i}") {
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
