//! The bottom of the model wing: [`Samples`] into tensors, batch by batch, and a model's
//! output tensors (a layer's [`Activation`] too) back into values and rows. Training,
//! inference, saliency and layer activations all build on these, and this file imports
//! nothing else of the wing.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::Samples;
use crate::error::{Error, Result};

/// Index lists of `batch` consecutive samples (the last shorter) covering `0..n`.
pub fn batches(n: usize, batch: usize) -> impl Iterator<Item = Vec<usize>> {
    let b = batch.max(1);
    (0..n.div_ceil(b)).map(move |k| (k * b..((k + 1) * b).min(n)).collect())
}

/// The images at `idx` of `samples` as a tensor `[idx.len(), c, h, w]` on `device`.
pub fn images_tensor(samples: &Samples, idx: &[usize], device: &Device) -> Tensor<4> {
    let [_, c, h, w] = samples.shape;
    Tensor::<4>::from_data(
        TensorData::new(samples.gather(idx), [idx.len(), c, h, w]),
        device,
    )
}

/// The standardised workbook columns at `idx` of `samples` as a tensor `[idx.len(), k]`
/// on `device`, when the samples carry them (what a fusion model takes beside the images).
pub fn covariates_tensor(samples: &Samples, idx: &[usize], device: &Device) -> Option<Tensor<2>> {
    samples.covariates.as_ref().map(|c| {
        Tensor::<2>::from_data(
            TensorData::new(c.gather(idx), [idx.len(), c.width()]),
            device,
        )
    })
}

/// The class indices at `idx` of `samples` as a tensor `[idx.len()]` on `device`.
pub fn targets_tensor(samples: &Samples, idx: &[usize], device: &Device) -> Tensor<1, Int> {
    let t: Vec<i64> = idx.iter().map(|&i| samples.labels[i] as i64).collect();
    Tensor::<1, Int>::from_data(TensorData::new(t, [idx.len()]), device)
}

/// A model output's values, row-major.
pub fn values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::input("model output", format!("{e:?}")))
}

/// A model output `[n, k]` as `n` rows of `k` values.
pub fn rows(t: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let [_, k] = t.dims();
    Ok(values(t)?.chunks(k.max(1)).map(<[f32]>::to_vec).collect())
}

/// A layer's output: feature maps or a vector per image.
#[derive(Debug, Clone)]
pub enum Activation {
    /// `[batch, channels, h, w]`.
    Map(Tensor<4>),
    /// `[batch, width]`.
    Vector(Tensor<2>),
}

/// How a layer's feature maps become one row per image (vectors are kept as they are).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// Each channel's mean (global average pooling): one column per channel.
    #[default]
    Mean,
    /// Each channel's largest value: one column per channel.
    Max,
    /// Every value, `channels * h * w` columns (channel, then row, then column).
    Flatten,
}

impl Activation {
    /// One row per image.
    pub fn rows(self, pool: Pool) -> Tensor<2> {
        match self {
            Self::Vector(v) => v,
            Self::Map(m) => match pool {
                Pool::Flatten => m.flatten(1, 3),
                Pool::Mean => m.flatten::<3>(2, 3).mean_dim(2).flatten(1, 2),
                Pool::Max => m.flatten::<3>(2, 3).max_dim(2).flatten(1, 2),
            },
        }
    }
}
