//! What a model looks at: Grad-CAM and occlusion sensitivity.
//!
//! **Grad-CAM** (Selvaraju et al. 2017) explains one class's logit `y` with the activation
//! `A` of the last convolutional layer ([`Model::features`]: `[k, h, w]` per image). Each
//! channel gets the weight `alpha_k = mean over (i, j) of dy / dA_k(i, j)`; the map is
//! `ReLU(sum_k alpha_k A_k)` at the feature map's resolution, resized to the model input with
//! [`upsample_bilinear`] (PyTorch's `F.interpolate(mode="bilinear", align_corners=False)`).
//! The gradient comes from burn's autodiff: `A` is computed on the plain device, then marked
//! as a leaf that requires a gradient, so only the head (pool, dense layers) is recorded.
//! `tests/torch/test_saliency.py` computes the same maps with `torch.autograd` on the exported
//! weights.
//!
//! **Occlusion sensitivity** (Zeiler & Fergus 2014) needs no gradient and works for any
//! model: a `patch x patch` square of the input is set to `fill` (the input value of black,
//! i.e. no tissue) at every `stride`, and each pixel's value is the mean drop of the class's
//! **log-odds** (`logit_c - logsumexp` of the other logits; `logit_1 - logit_0` for two
//! classes) over the squares that cover it. Positive: the region supports the class. The
//! log-odds rather than the probability because a confident model (p = 0.9999) barely moves
//! its probability when one square is hidden: on the default cohort, a probability-drop map had
//! no positive value for 7 of 16 test cancers. It costs one forward pass per square (225 for a
//! 64 px input, patch 8, stride 4).
//!
//! Both give maps at the model input's size; [`crate::dataset::Placement`] puts one back on the
//! decoded mammogram (crop, flip and resize undone), where the cohort's ground truth gives
//! lesion positions in pixels.
//!
//! # Reading the maps
//! Grad-CAM at the CNN's last convolution is coarse (12 x 12 cells for a 64 px input): it
//! says *where*, not the lesion's outline. A map that peaks on the image border, the label
//! or outside the breast says the model found a shortcut.

use burn::prelude::*;
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use super::batch::{covariates_tensor, images_tensor, values};
use super::Model;
use crate::dataset::Samples;
use crate::error::{Error, Result};
use crate::imaging::{upsample_bilinear, Gray};

/// One image's Grad-CAM.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCam {
    /// The class explained.
    pub class: usize,
    /// Softmax probability of that class.
    pub probability: f64,
    /// `alpha_k`, one per channel of the explained layer.
    pub weights: Vec<f32>,
    /// `[height, width]` of the explained layer.
    pub feature_size: [usize; 2],
    /// `sum_k alpha_k A_k`, before the ReLU, row-major at `feature_size`.
    pub raw: Vec<f32>,
    /// `ReLU(raw)` resized to the model input (not rescaled: compare maps of one model).
    pub map: Gray,
}

/// How [`occlusion`] covers the input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Occlusion {
    /// Side of the occluding square, input pixels.
    pub patch: usize,
    /// Step between squares (the last square of a row or column is moved to touch the edge).
    pub stride: usize,
    /// Value written into the square (model input units).
    pub fill: f32,
}

impl Occlusion {
    /// Squares of 1/8 of the input side, stride half of that, filled with `fill`.
    pub fn for_size(size: usize, fill: f32) -> Self {
        let patch = (size / 8).max(1);
        Self {
            patch,
            stride: (patch / 2).max(1),
            fill,
        }
    }
}

fn check_class(class: usize, k: usize) -> Result<()> {
    if class >= k {
        return Err(Error::Param {
            name: "class",
            message: format!("class {class} does not exist: the model has {k} classes"),
        });
    }
    Ok(())
}

/// Grad-CAM of `class` for the samples at `idx` (one batch: pass a few dozen at a time). The
/// model must be in inference mode (`valid()`) on the plain `device`.
pub fn grad_cam(
    model: &Model,
    samples: &Samples,
    idx: &[usize],
    class: usize,
    device: &Device,
) -> Result<Vec<GradCam>> {
    if idx.is_empty() {
        return Ok(vec![]);
    }
    model.check_covariates("explained", samples)?;
    let [_, _, ih, iw] = samples.shape;
    let a = model.features(images_tensor(samples, idx, device));
    let [b, k, h, w] = a.dims();
    let leaf = a.clone().autodiff().require_grad();
    // A fusion model's columns are held at their values: constants of the backward pass.
    let columns = covariates_tensor(samples, idx, device).map(|c| c.autodiff());
    let logits = model.head(leaf.clone(), columns);
    let classes = logits.dims()[1];
    check_class(class, classes)?;
    let probs = values(softmax(logits.clone().detach().inner(), 1))?;
    // The images are independent in inference mode, so the gradient of the sum of their
    // logits is each image's own gradient.
    let grads = logits.narrow(1, class, 1).sum().backward();
    let g = leaf.grad(&grads).ok_or_else(|| {
        Error::input(
            "saliency",
            "no gradient reached the explained layer (is the model in inference mode?)",
        )
    })?;
    let g = values(g)?;
    let a = values(a)?;
    let hw = h * w;
    (0..b)
        .map(|n| {
            let an = &a[n * k * hw..(n + 1) * k * hw];
            let gn = &g[n * k * hw..(n + 1) * k * hw];
            let weights: Vec<f32> = gn
                .chunks_exact(hw)
                .map(|c| (c.iter().map(|&v| v as f64).sum::<f64>() / hw as f64) as f32)
                .collect();
            let mut raw = vec![0f64; hw];
            for (ch, wk) in an.chunks_exact(hw).zip(&weights) {
                for (r, &v) in raw.iter_mut().zip(ch) {
                    *r += *wk as f64 * v as f64;
                }
            }
            let raw: Vec<f32> = raw.into_iter().map(|v| v as f32).collect();
            let relu: Vec<f32> = raw.iter().map(|v| v.max(0.0)).collect();
            Ok(GradCam {
                class,
                probability: probs[n * classes + class] as f64,
                weights,
                feature_size: [h, w],
                raw,
                map: upsample_bilinear(&relu, [h, w], [ih, iw])?,
            })
        })
        .collect()
}

/// `log(p_c / (1 - p_c))` of softmax(`logits`), computed stably from the logits.
fn log_odds(logits: &[f32], class: usize) -> f64 {
    let others = logits
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != class)
        .map(|(_, &v)| v as f64);
    let top = others.clone().fold(f64::NEG_INFINITY, f64::max);
    let lse = top + others.map(|v| (v - top).exp()).sum::<f64>().ln();
    logits[class] as f64 - lse
}

/// Top-left corners along one side: every `stride`, the last one moved to touch the edge.
fn starts(side: usize, patch: usize, stride: usize) -> Vec<usize> {
    let last = side.saturating_sub(patch);
    let mut v: Vec<usize> = (0..=last).step_by(stride.max(1)).collect();
    if v.last() != Some(&last) {
        v.push(last);
    }
    v
}

/// Occlusion sensitivity of `class` for each sample at `idx`: maps at the input size (see
/// the module docs). Occluded copies are scored `batch` at a time.
pub fn occlusion(
    model: &Model,
    samples: &Samples,
    idx: &[usize],
    class: usize,
    how: &Occlusion,
    batch: usize,
    device: &Device,
) -> Result<Vec<Gray>> {
    model.check_covariates("explained", samples)?;
    let [_, c, h, w] = samples.shape;
    if how.patch == 0 || how.patch > h.min(w) || how.stride == 0 {
        return Err(Error::Param {
            name: "occlusion",
            message: format!(
                "patch {} and stride {} must be >= 1, the patch at most the input side {}",
                how.patch,
                how.stride,
                h.min(w)
            ),
        });
    }
    let squares: Vec<(usize, usize)> = starts(h, how.patch, how.stride)
        .into_iter()
        .flat_map(|y| {
            starts(w, how.patch, how.stride)
                .into_iter()
                .map(move |x| (y, x))
        })
        .collect();
    let per = c * h * w;
    let batch = batch.max(1);
    let mut out = Vec::with_capacity(idx.len());
    for &i in idx {
        let image = samples.gather(&[i]);
        let score = |data: Vec<f32>, n: usize| -> Result<Vec<f64>> {
            let x = Tensor::<4>::from_data(TensorData::new(data, [n, c, h, w]), device);
            let logits = model.logits_with(x, covariates_tensor(samples, &vec![i; n], device));
            let k = logits.dims()[1];
            check_class(class, k)?;
            let l = values(logits)?;
            Ok(l.chunks_exact(k).map(|r| log_odds(r, class)).collect())
        };
        let base = score(image.clone(), 1)?[0];
        let mut drop = vec![0f64; h * w];
        let mut cover = vec![0u32; h * w];
        for chunk in squares.chunks(batch) {
            let mut data = Vec::with_capacity(chunk.len() * per);
            for &(y0, x0) in chunk {
                let mut img = image.clone();
                for ch in 0..c {
                    for y in y0..y0 + how.patch {
                        let row = ch * h * w + y * w;
                        img[row + x0..row + x0 + how.patch].fill(how.fill);
                    }
                }
                data.extend(img);
            }
            let p = score(data, chunk.len())?;
            for (&(y0, x0), pk) in chunk.iter().zip(p) {
                for y in y0..y0 + how.patch {
                    for x in x0..x0 + how.patch {
                        drop[y * w + x] += base - pk;
                        cover[y * w + x] += 1;
                    }
                }
            }
        }
        out.push(Gray {
            width: w,
            height: h,
            pixels: drop
                .iter()
                .zip(&cover)
                .map(|(d, &n)| (d / n.max(1) as f64) as f32)
                .collect(),
        });
    }
    Ok(out)
}

/// Which saliency method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Grad-CAM on [`Model::features`].
    #[default]
    GradCam,
    /// Occlusion sensitivity (model-agnostic, one forward pass per square).
    Occlusion,
}

impl Method {
    /// `grad_cam` or `occlusion`.
    pub fn name(self) -> &'static str {
        match self {
            Self::GradCam => "grad_cam",
            Self::Occlusion => "occlusion",
        }
    }
}

/// The position `(x, y)` of the largest value of `map` (the first one on ties).
pub fn peak(map: &Gray) -> (usize, usize) {
    let i = map
        .pixels
        .iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |(bi, bv), (i, &v)| {
            if v > bv {
                (i, v)
            } else {
                (bi, bv)
            }
        })
        .0;
    (i % map.width.max(1), i / map.width.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squares_reach_every_edge() {
        assert_eq!(starts(10, 4, 3), vec![0, 3, 6]);
        assert_eq!(starts(10, 4, 4), vec![0, 4, 6]);
        assert_eq!(starts(4, 4, 2), vec![0]);
    }

    #[test]
    fn log_odds_of_softmax() {
        let l = [0.5f32, 2.0, -1.0];
        let e: Vec<f64> = l.iter().map(|&v| (v as f64).exp()).collect();
        let p = e[1] / e.iter().sum::<f64>();
        assert!((log_odds(&l, 1) - (p / (1.0 - p)).ln()).abs() < 1e-12);
        assert!((log_odds(&[1.0, 4.0], 1) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn peak_is_the_first_maximum() {
        let g = Gray {
            width: 3,
            height: 2,
            pixels: vec![0.0, 1.0, 0.5, 2.0, 2.0, 0.0],
        };
        assert_eq!(peak(&g), (0, 1));
    }
}
