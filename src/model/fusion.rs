//! Image + tabular fusion: seed 001's "image and Excel" model.
//!
//! A [`Fusion`] network is seed 001's CNN whose classifier also sees a few workbook columns
//! of the image's row (age, breast density, ...): the logits are one dense layer over the
//! concatenation `[dense features of the image (128) ; standardised columns (k)]`, trained
//! end to end with the CNN. It is written as the CNN's own classifier on its dense features
//! plus a bias-free linear map of the columns (`covariates.weight`, `[classes, k]`), which
//! is the same function with no weight left unused.
//!
//! The columns are standardised with the training images' mean and standard deviation and a
//! missing value becomes the training mean (0): the [`Standardiser`] is part of the
//! [`FusionConfig`], so a checkpoint carries it and scores new rows the same way.
//!
//! Grad-CAM explains the image branch's last convolution with the columns held at their
//! values; [`Model::layer_names`](super::Model::layer_names) lists the image branch's layers
//! as `image.blocks.<i>` and `image.dense`.
//!
//! # Shapes
//! - input: images `[batch, channels, size, size]` and columns `[batch, k]`
//! - output of [`Fusion::forward`]: `[batch, classes]` logits
//!
//! ```no_run
//! use mammolab::model::{ModelChoice, Silent};
//! use mammolab::pipeline::{self, RunOptions};
//! # fn main() -> mammolab::Result<()> {
//! let manifest = mammolab::manifest::Manifest::open("data/synthetic-ci/manifest.toml")?;
//! let options = RunOptions::new(ModelChoice::Cnn).with_covariates(["original_*", "Age"]);
//! let data = pipeline::prepare(&manifest, &options)?; // each image's row, standardised
//! let fused = pipeline::fit(&data, &options, &mut Silent)?; // a `fusion` model
//! let image_only = pipeline::fit(&data, &options.clone().with_covariates(Vec::<String>::new()), &mut Silent)?;
//! # Ok(()) }
//! ```

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::cnn::{Cnn, CnnConfig};
use crate::dataset::tabular::Standardiser;
use crate::error::{Error, Result};

/// A [`Fusion`] network: the image branch and how the columns are standardised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FusionConfig {
    /// The image branch (seed 001's CNN or a CNN of the same blocks).
    pub image: CnnConfig,
    /// The workbook columns, with their training means and standard deviations.
    pub scaler: Standardiser,
}

impl FusionConfig {
    /// The columns' names, in the order the model takes them.
    pub fn columns(&self) -> &[String] {
        &self.scaler.columns
    }

    /// Build the model for images of `channels` x `size` x `size` with freshly initialised
    /// weights on `device`.
    pub fn init(&self, channels: usize, size: usize, device: &Device) -> Result<Fusion> {
        let k = self.scaler.width();
        if k == 0 {
            return Err(Error::Param {
                name: "covariates",
                message: "a fusion model needs at least one workbook column".into(),
            });
        }
        Ok(Fusion {
            image: self.image.init(channels, size, device)?,
            covariates: LinearConfig::new(k, self.image.classes)
                .with_bias(false)
                .init(device),
        })
    }
}

/// A [`FusionConfig`] network (see the module docs).
#[derive(Module, Debug)]
pub struct Fusion {
    image: Cnn,
    covariates: Linear,
}

impl Fusion {
    /// Class logits `[batch, classes]` for images and their standardised columns `[batch, k]`.
    pub fn forward(&self, x: Tensor<4>, columns: Tensor<2>) -> Tensor<2> {
        self.head(self.image.features(x), columns)
    }

    /// The image branch's last convolution (after ReLU, before its pool), as
    /// [`Cnn::features`].
    pub fn features(&self, x: Tensor<4>) -> Tensor<4> {
        self.image.features(x)
    }

    /// Logits from [`Fusion::features`] and the columns.
    pub fn head(&self, a: Tensor<4>, columns: Tensor<2>) -> Tensor<2> {
        self.image.head(a) + self.covariates.forward(columns)
    }

    /// How many workbook columns it takes.
    pub fn covariate_width(&self) -> usize {
        self.covariates.weight.val().dims()[0]
    }

    /// The image branch.
    pub fn image(&self) -> &Cnn {
        &self.image
    }

    /// The image branch's layers, `image.blocks.<i>` and `image.dense`.
    pub fn layer_names(&self) -> Vec<String> {
        self.image
            .layer_names()
            .into_iter()
            .filter(|l| l != "logits")
            .map(|l| format!("image.{l}"))
            .collect()
    }

    /// The output of layer `layer` (one of [`Fusion::layer_names`]) for `x`.
    pub fn trace(&self, x: Tensor<4>, layer: &str) -> Option<super::batch::Activation> {
        let inner = layer.strip_prefix("image.")?;
        if inner == "logits" {
            return None;
        }
        self.image.trace(x, inner)
    }
}
