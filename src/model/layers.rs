//! The activations of any named layer, one row per image: embeddings to fit other models
//! on (linfa, scikit-learn), to plot, or to cluster.
//!
//! Layers carry the names of the exported `model.safetensors` (PyTorch's): seed 001's CNN
//! `blocks.<i>` (after its pool), `dense` (after ReLU: Keras' `layers[-3].output` that
//! seed 001 reached for) and `logits`; the deep CNNs `stem`, `blocks.<i>`, `gap`,
//! `logits`; the CNN-VAE `encoder.<i>`, `mu`, `logits`; torchvision ResNets `maxpool`,
//! `layer1` .. `layer4`, `avgpool`, `fc`. A convolutional layer's maps `[c, h, w]` become
//! one value per channel ([`Pool::Mean`] or [`Pool::Max`]) or every value
//! ([`Pool::Flatten`], `c * h * w` columns, in PyTorch's `flatten` order).
//!
//! ```no_run
//! use mammolab::model::{ComputeDevice, Predictor};
//! use mammolab::model::layers::Pool;
//! # fn main() -> mammolab::Result<()> {
//! let p = Predictor::open("runs/cnn/checkpoint".as_ref(), ComputeDevice::Cpu)?;
//! println!("{:?}", p.layer_names()); // ["blocks.0", "blocks.1", "blocks.2", "dense", "logits"]
//! let rows = p.features(&[("new/FILE0001.jpg".into(), None)], "dense", Pool::Mean)?;
//! assert_eq!(rows[0].as_ref().map(Vec::len).ok(), Some(128));
//! # Ok(()) }
//! ```

use burn::prelude::*;

use super::batch::{batches, images_tensor, rows};
pub use super::batch::{Activation, Pool};
use super::Model;
use crate::dataset::Samples;
use crate::error::{Error, Result};

impl Model {
    /// The layers [`Model::activation`] can read, input to output.
    pub fn layer_names(&self) -> Vec<String> {
        match self {
            Self::Cnn(m) => m.layer_names(),
            Self::Deep(m) => m.layer_names(),
            Self::Vae(m) => m.layer_names(),
            Self::ResNet(m) => m.layer_names(),
            Self::Fusion(m) => m.layer_names(),
            Self::CancerNet(m) => m.layer_names(),
        }
    }

    /// The embedding layer: the last before the classifier (`dense`, `gap`, `mu`,
    /// `avgpool`; a fusion model's `image.dense`).
    pub fn embedding_layer(&self) -> &'static str {
        match self {
            Self::Cnn(_) => "dense",
            Self::Deep(_) => "gap",
            Self::Vae(_) => "mu",
            Self::ResNet(_) => "avgpool",
            Self::Fusion(_) => "image.dense",
            Self::CancerNet(_) => "dense",
        }
    }

    /// Whether `layer` is one of [`Model::layer_names`]: else a one-line error listing them.
    pub fn check_layer(&self, layer: &str) -> Result<()> {
        if self.layer_names().iter().any(|l| l == layer) {
            return Ok(());
        }
        Err(Error::Param {
            name: "layer",
            message: format!(
                "this model has no layer `{layer}`; it has {}",
                self.layer_names().join(", ")
            ),
        })
    }

    /// Layer `layer`'s output for `x` (an error as [`Model::check_layer`]'s for another name).
    pub fn activation(&self, x: Tensor<4>, layer: &str) -> Result<Activation> {
        self.check_layer(layer)?;
        let traced = match self {
            Self::Cnn(m) => m.trace(x, layer),
            Self::Deep(m) => m.trace(x, layer),
            Self::Vae(m) => m.trace(x, layer),
            Self::ResNet(m) => m.trace(x, layer),
            Self::Fusion(m) => m.trace(x, layer),
            Self::CancerNet(m) => m.trace(x, layer),
        };
        traced.ok_or_else(|| Error::input("layer", format!("`{layer}` was not reached")))
    }
}

/// Layer `layer`'s activations of `samples`, pooled by `pool`: `[n][width]`, `batch` images
/// at a time. `model` in inference mode (`valid()`), on `device`.
pub fn activations(
    model: &Model,
    samples: &Samples,
    layer: &str,
    pool: Pool,
    batch: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>> {
    let mut out = Vec::with_capacity(samples.len());
    for idx in batches(samples.len(), batch) {
        let t = model.activation(images_tensor(samples, &idx, device), layer)?;
        out.extend(rows(t.rows(pool))?);
    }
    Ok(out)
}
