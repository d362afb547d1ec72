//! Inference: class probabilities per image, the VAE's latent codes and reconstructions.
//!
//! Pass a model in inference mode ([`Trainer::inference_model`](super::Trainer::inference_model)
//! or `model.valid()`) and the plain device. Roll image scores up to breasts or patients
//! with [`crate::eval::rollup`].

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::{Model, Samples};
use crate::{Error, Result};

fn batches(n: usize, batch: usize) -> impl Iterator<Item = Vec<usize>> {
    let b = batch.max(1);
    (0..n.div_ceil(b)).map(move |k| (k * b..((k + 1) * b).min(n)).collect())
}

fn rows(t: Tensor<2>) -> Result<Vec<Vec<f64>>> {
    let [_, k] = t.dims();
    let v = t
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::input("model output", format!("{e:?}")))?;
    Ok(v.chunks(k)
        .map(|r| r.iter().map(|&x| x as f64).collect())
        .collect())
}

/// Softmax probabilities `[n][classes]`, `batch` images at a time.
pub fn probabilities(
    model: &Model,
    samples: &Samples,
    batch: usize,
    device: &Device,
) -> Result<Vec<Vec<f64>>> {
    let mut out = Vec::with_capacity(samples.len());
    for idx in batches(samples.len(), batch) {
        let logits = model.logits(samples.images(&idx, device));
        out.extend(rows(softmax(logits, 1))?);
    }
    Ok(out)
}

/// The probability of class `positive` for each image (e.g. 1 = cancer; for normal /
/// benign / malignant, 2 = malignant).
pub fn scores(probs: &[Vec<f64>], positive: usize) -> Vec<f64> {
    probs
        .iter()
        .map(|p| p.get(positive).copied().unwrap_or(0.0))
        .collect()
}

fn vae(model: &Model) -> Result<&super::Vae> {
    match model {
        Model::Vae(v) => Ok(v),
        _ => Err(Error::Param {
            name: "model",
            message: "latent codes and reconstructions need the vae model".into(),
        }),
    }
}

/// The VAE's latent means `[n][latent]` (for a latent-space scatter).
pub fn latent_means(
    model: &Model,
    samples: &Samples,
    batch: usize,
    device: &Device,
) -> Result<Vec<Vec<f64>>> {
    let v = vae(model)?;
    let mut out = Vec::with_capacity(samples.len());
    for idx in batches(samples.len(), batch) {
        out.extend(rows(v.encode(samples.images(&idx, device)).0)?);
    }
    Ok(out)
}

/// The VAE's reconstructions (from the latent mean) of the images at `idx`, as a
/// [`Samples`] with the same labels.
pub fn reconstructions(
    model: &Model,
    samples: &Samples,
    idx: &[usize],
    device: &Device,
) -> Result<Samples> {
    let v = vae(model)?;
    let out = v.forward(samples.images(idx, device), false).reconstruction;
    let dims = out.dims();
    let data = out
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::input("model output", format!("{e:?}")))?;
    Samples::new(data, dims, idx.iter().map(|&i| samples.labels[i]).collect())
}
