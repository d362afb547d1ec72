//! Inference: class probabilities per image, the VAE's latent codes and reconstructions.
//!
//! Pass a model in inference mode ([`Trainer::inference_model`](super::Trainer::inference_model)
//! or `model.valid()`) and the plain device. Roll image scores up to breasts or patients
//! with [`crate::eval::rollup`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::batch::{batches, covariates_tensor, images_tensor, values};
use super::{ComputeDevice, Model};
use crate::dataset::tabular::Covariates;
use crate::dataset::{Placement, Preprocess, Samples};
use crate::error::{Error, Result};
use crate::imaging::Gray;
use crate::ingest::merge::Laterality;

/// A model output `[n, k]` as `n` rows of `k` probabilities (or codes).
fn rows(t: Tensor<2>) -> Result<Vec<Vec<f64>>> {
    let [_, k] = t.dims();
    Ok(values(t)?
        .chunks(k.max(1))
        .map(|r| r.iter().map(|&x| f64::from(x)).collect())
        .collect())
}

/// Softmax probabilities `[n][classes]`, `batch` images at a time.
pub fn probabilities(
    model: &Model,
    samples: &Samples,
    batch: usize,
    device: &Device,
) -> Result<Vec<Vec<f64>>> {
    model.check_covariates("scored", samples)?;
    let mut out = Vec::with_capacity(samples.len());
    for idx in batches(samples.len(), batch) {
        let logits = model.logits_with(
            images_tensor(samples, &idx, device),
            covariates_tensor(samples, &idx, device),
        );
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
        out.extend(rows(v.encode(images_tensor(samples, &idx, device)).0)?);
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
    let out = v
        .forward(images_tensor(samples, idx, device), false)
        .reconstruction;
    let dims = out.dims();
    Samples::new(
        values(out)?,
        dims,
        idx.iter().map(|&i| samples.labels[i]).collect(),
    )
}

/// A checkpoint ready to score image files: its weights and the input recipe it was
/// trained with, so new images are decoded, cropped, flipped, resized and normalised
/// exactly as the training images were.
///
/// It answers three questions about the files of a [`Request`], each file on its own (one
/// unreadable file is its own error, not the others'): [`Predictor::predict`] (class
/// probabilities), [`Predictor::features`] (a layer's activations) and
/// [`Predictor::saliency`] (where the model looks).
///
/// ```no_run
/// use mammolab::model::{ComputeDevice, Predictor, Request};
/// # fn main() -> mammolab::Result<()> {
/// let p = Predictor::open("runs/cnn/checkpoint".as_ref(), ComputeDevice::Cpu)?;
/// let files = [("new/FILE0001.jpg".into(), None)];
/// let each = p.predict(&files)?; // one Result<[classes]> per file
/// // All or nothing: the first file's error, or every file's probabilities.
/// let probs = each.into_iter().collect::<mammolab::Result<Vec<_>>>()?;
/// // A fusion model takes each file's workbook values; a progress callback is optional.
/// let columns = [vec![61.0, 1.0]];
/// let each = p.predict(Request::new(&files).with_columns(&columns).with_progress(
///     &mut |done, total| eprintln!("{done}/{total}"),
/// ))?;
/// # Ok(()) }
/// ```
pub struct Predictor {
    info: super::checkpoint::CheckpointInfo,
    model: Model,
    device: Device,
}

impl Predictor {
    /// Load a checkpoint written by [`Trainer::save`](super::Trainer::save): its input
    /// recipe prepares the images.
    pub fn open(dir: &Path, compute: ComputeDevice) -> Result<Self> {
        let (info, model) = super::checkpoint::load_model(dir, compute)?;
        Ok(Self {
            info,
            model,
            device: compute.device()?,
        })
    }

    /// The layer Grad-CAM explains ([`Model::features_layer`]).
    pub fn grad_cam_layer(&self) -> String {
        self.model.features_layer()
    }

    /// The checkpoint's `config.json`.
    pub fn info(&self) -> &super::checkpoint::CheckpointInfo {
        &self.info
    }

    /// The decision threshold chosen on the run's validation part (`None` for a
    /// checkpoint saved without one).
    pub fn threshold(&self) -> Option<&crate::eval::DecisionThreshold> {
        self.info.threshold.as_ref()
    }

    /// How images are prepared for this model.
    pub fn preprocess(&self) -> &Preprocess {
        &self.info.input
    }

    /// The classes of the outputs, in output order, and the positive one (the checkpoint's).
    pub fn classes(&self) -> &crate::Classes {
        &self.info.classes
    }

    /// The workbook columns the model takes beside each image (empty: image only; see
    /// [`super::fusion`]).
    pub fn covariates(&self) -> &[String] {
        self.info.model.covariates()
    }

    /// The layers [`Predictor::features`] can read ([`Model::layer_names`]).
    pub fn layer_names(&self) -> Vec<String> {
        self.model.layer_names()
    }

    /// Whether the model has layer `layer` ([`Model::check_layer`]).
    pub fn check_layer(&self, layer: &str) -> Result<()> {
        self.model.check_layer(layer)
    }

    /// The model's embedding layer ([`Model::embedding_layer`]).
    pub fn embedding_layer(&self) -> &'static str {
        self.model.embedding_layer()
    }

    /// Images at a time (the trainer's own inference batch, so scores match it exactly).
    fn batch(&self) -> usize {
        self.info.train.batch_size.max(32)
    }

    /// Class probabilities of each file of `request`, or why it could not be scored: one
    /// unreadable file does not stop the others. Files are decoded in parallel and scored
    /// in the trainer's inference batches (so the images of a run's part, in its order,
    /// get exactly the run's scores). The outer error is the request's or the model's.
    pub fn predict<'a>(&self, request: impl Into<Request<'a>>) -> Result<Vec<Result<Vec<f64>>>> {
        let found = self.each(
            request.into(),
            |p, right| self.info.input.read_input(p, right),
            |input| input,
            |s| probabilities(&self.model, s, self.batch(), &self.device),
        )?;
        Ok(found.into_iter().map(|r| r.map(|(_, p)| p)).collect())
    }

    /// Layer `layer`'s activations ([`super::layers`]) of each file of `request`, one row
    /// each, or why the file could not be read (as [`Predictor::predict`]). An unknown
    /// layer is the outer error.
    pub fn features<'a>(
        &self,
        request: impl Into<Request<'a>>,
        layer: &str,
        pool: super::layers::Pool,
    ) -> Result<Vec<Result<Vec<f32>>>> {
        self.check_layer(layer)?;
        let found = self.each(
            request.into(),
            |p, right| self.info.input.read_input(p, right),
            |input| input,
            |s| super::layers::activations(&self.model, s, layer, pool, self.batch(), &self.device),
        )?;
        Ok(found.into_iter().map(|r| r.map(|(_, row)| row)).collect())
    }

    /// What the model looks at in each file of `request` when it scores `class` (see
    /// [`super::saliency`]): the map at the model input's size, the decoded image and how
    /// the input sits in it. As [`Predictor::predict`], one unreadable file does not stop
    /// the others; a fusion model's columns are held at the file's values. Occlusion fills
    /// its squares with the input value of black.
    pub fn saliency<'a>(
        &self,
        request: impl Into<Request<'a>>,
        class: usize,
        method: super::saliency::Method,
    ) -> Result<Vec<Result<Saliency>>> {
        use super::saliency::{grad_cam, occlusion, GradCam, Method, Occlusion};
        let [_, h, w] = self.info.input.input_shape();
        let (mean, std) = self.info.input.normalise.unwrap_or((0.0, 1.0));
        let how = Occlusion::for_size(h.min(w), -mean / std);
        let decode = |p: &Path, right: bool| {
            let planes = self.info.input.decode(p)?;
            let input = self.info.input.apply_planes(&planes, right)?;
            // A grey image is its own display; a colour one is shown by its grey.
            let (image, colour) = match <[Gray; 1]>::try_from(planes) {
                Ok([image]) => (image, None),
                Err(planes) => (crate::imaging::luma(&planes), Some(planes)),
            };
            let placement = self.info.input.placement(&image, right);
            Ok((input, image, colour, placement))
        };
        // Each image's probabilities, map and Grad-CAM details.
        type Explained = (Vec<f64>, Gray, Option<GradCam>);
        let explain = |samples: &Samples| -> Result<Vec<Explained>> {
            let all: Vec<usize> = (0..samples.len()).collect();
            let probs = probabilities(&self.model, samples, self.batch(), &self.device)?;
            let maps: Vec<(Gray, Option<GradCam>)> = match method {
                Method::GradCam => grad_cam(&self.model, samples, &all, class, &self.device)?
                    .into_iter()
                    .map(|g| (g.map.clone(), Some(g)))
                    .collect(),
                Method::Occlusion => occlusion(
                    &self.model,
                    samples,
                    &all,
                    class,
                    &how,
                    self.batch(),
                    &self.device,
                )?
                .into_iter()
                .map(|m| (m, None))
                .collect(),
            };
            Ok(probs
                .into_iter()
                .zip(maps)
                .map(|(p, (map, cam))| (p, map, cam))
                .collect())
        };
        let found = self.each(request.into(), decode, |d| &d.0, explain)?;
        Ok(found
            .into_iter()
            .map(|r| {
                r.map(
                    |((input, image, colour, placement), (probabilities, map, grad_cam))| {
                        Saliency {
                            class,
                            method,
                            probabilities,
                            values: input
                                .iter()
                                .flat_map(|p| p.pixels.iter().copied())
                                .collect(),
                            input: crate::imaging::luma(&input),
                            map,
                            image,
                            colour,
                            placement,
                            grad_cam,
                        }
                    },
                )
            })
            .collect())
    }

    /// Decode the files of `request` in parallel, a batch at a time (`decode`, with whether
    /// the file is of a right breast), stack the model inputs of the decoded ones (`input`)
    /// with their rows of workbook values (standardised, when given), and run `f` on them:
    /// one result per file, in order, with what `decode` made of it.
    fn each<D: Send, R>(
        &self,
        mut request: Request<'_>,
        decode: impl Fn(&Path, bool) -> Result<D> + Sync,
        input: impl Fn(&D) -> &Vec<Gray>,
        f: impl Fn(&Samples) -> Result<Vec<R>>,
    ) -> Result<Vec<Result<(D, R)>>> {
        use rayon::prelude::*;
        let files = request.files;
        if let Some(c) = request.columns {
            if c.len() != files.len() {
                return Err(Error::input(
                    "covariates",
                    format!(
                        "{} rows of workbook columns for {} files",
                        c.len(),
                        files.len()
                    ),
                ));
            }
        }
        let mut out = Vec::with_capacity(files.len());
        for (k, chunk) in files.chunks(self.batch()).enumerate() {
            let decoded: Vec<Result<D>> = chunk
                .par_iter()
                .map(|(p, l)| decode(p, *l == Some(Laterality::Right)))
                .collect();
            let samples = self.stack(decoded.iter().filter_map(|d| d.as_ref().ok().map(&input)))?;
            let samples = self.with_columns(
                samples,
                decoded.iter().map(Result::is_ok),
                request.columns.map(|c| &c[k * self.batch()..]),
            )?;
            let mut made = if samples.is_empty() {
                vec![]
            } else {
                f(&samples)?
            }
            .into_iter();
            for d in decoded {
                out.push(match d {
                    Ok(d) => Ok((
                        d,
                        made.next().ok_or_else(|| {
                            Error::input("model output", "fewer rows than decoded images")
                        })?,
                    )),
                    Err(e) => Err(e),
                });
            }
            if let Some(progress) = request.progress.as_mut() {
                progress(out.len(), files.len());
            }
        }
        Ok(out)
    }

    /// `samples` (the decoded files among a chunk, `decoded` saying which were) with their
    /// rows of `columns` (the chunk's first file first), standardised as in training, when
    /// the model is a fusion model and columns are given.
    fn with_columns(
        &self,
        samples: Samples,
        decoded: impl Iterator<Item = bool>,
        columns: Option<&[Vec<f64>]>,
    ) -> Result<Samples> {
        let (Some(columns), super::ModelConfig::Fusion(c)) = (columns, &self.info.model) else {
            return Ok(samples);
        };
        let rows: Vec<Vec<f64>> = decoded
            .zip(columns)
            .filter(|(ok, _)| *ok)
            .map(|(_, r)| r.clone())
            .collect();
        if rows.is_empty() {
            return Ok(samples);
        }
        samples.with_covariates(Covariates::new(&c.scaler, &rows)?)
    }

    /// Prepared images (model input size) stacked into one [`Samples`], labels all 0.
    fn stack<'a>(&self, inputs: impl Iterator<Item = &'a Vec<Gray>>) -> Result<Samples> {
        let [c, h, w] = self.info.input.input_shape();
        let mut data = vec![];
        let mut n = 0;
        for planes in inputs {
            for g in planes {
                data.extend_from_slice(&g.pixels);
            }
            n += 1;
        }
        Samples::new(data, [n, c, h, w], vec![0; n])
    }
}

/// Image files for a [`Predictor`] (each with its breast's side, for the recipe's flip),
/// with what else each needs: a fusion model's workbook values (one row per file, raw; they
/// are standardised as in training) and, optionally, a progress callback
/// (`progress(done, total)` after each batch). A slice or array of files is a request on
/// its own.
pub struct Request<'a> {
    files: &'a [(PathBuf, Option<Laterality>)],
    columns: Option<&'a [Vec<f64>]>,
    progress: Option<&'a mut dyn FnMut(usize, usize)>,
}

impl<'a> Request<'a> {
    /// `files`, with no workbook values and no progress callback.
    pub fn new(files: &'a [(PathBuf, Option<Laterality>)]) -> Self {
        Self {
            files,
            columns: None,
            progress: None,
        }
    }

    /// Each file's raw workbook values, in the model's [`Predictor::covariates`] order (a
    /// model that takes none ignores them). Their count must be the files'.
    pub fn with_columns(mut self, columns: &'a [Vec<f64>]) -> Self {
        self.columns = Some(columns);
        self
    }

    /// Called as `progress(done, total)` after each batch.
    pub fn with_progress(mut self, progress: &'a mut dyn FnMut(usize, usize)) -> Self {
        self.progress = Some(progress);
        self
    }
}

impl<'a> From<&'a [(PathBuf, Option<Laterality>)]> for Request<'a> {
    fn from(files: &'a [(PathBuf, Option<Laterality>)]) -> Self {
        Self::new(files)
    }
}

impl<'a> From<&'a Vec<(PathBuf, Option<Laterality>)>> for Request<'a> {
    fn from(files: &'a Vec<(PathBuf, Option<Laterality>)>) -> Self {
        Self::new(files)
    }
}

impl<'a, const N: usize> From<&'a [(PathBuf, Option<Laterality>); N]> for Request<'a> {
    fn from(files: &'a [(PathBuf, Option<Laterality>); N]) -> Self {
        Self::new(files)
    }
}

/// One file's saliency map ([`Predictor::saliency`]).
#[derive(Debug, Clone)]
pub struct Saliency {
    /// The class explained.
    pub class: usize,
    /// How the map was made.
    pub method: super::saliency::Method,
    /// Class probabilities of the file.
    pub probabilities: Vec<f64>,
    /// The model input, as the model saw it (normalised when the recipe normalises:
    /// [`Preprocess::unapply`] shows it); of a colour input, its grey.
    pub input: Gray,
    /// The model input's values, every channel (`[channels, height, width]`): what the
    /// model saw, for checking against another framework.
    pub values: Vec<f32>,
    /// The map at the model input's size (Grad-CAM: >= 0; occlusion: drop of the log-odds).
    pub map: Gray,
    /// The decoded image (of a colour image, its grey).
    pub image: Gray,
    /// The decoded image's red, green and blue planes, for a colour recipe
    /// ([`Channels::Rgb`](crate::dataset::Channels::Rgb)).
    pub colour: Option<Vec<Gray>>,
    /// How the input sits in `image`.
    pub placement: Placement,
    /// Grad-CAM's channel weights and raw map (`None` for occlusion).
    pub grad_cam: Option<super::saliency::GradCam>,
}

impl Saliency {
    /// The map's peak in image pixels (continuous coordinates of the input pixel's centre),
    /// or `None` when no value is positive (Grad-CAM found no evidence for the class, or
    /// no square lowered its log-odds).
    pub fn peak(&self) -> Option<(f64, f64)> {
        let (u, v) = super::saliency::peak(&self.map);
        (self.map.pixels[v * self.map.width + u] > 0.0).then(|| self.placement.to_image(u, v))
    }

    /// The map laid over the decoded image (0 outside the crop), divided by its largest
    /// positive value so it is in [0, 1] for [`crate::plot::Tile::with_heat`] (all 0 when
    /// nothing is positive).
    pub fn on_image(&self) -> Result<Gray> {
        let mut g = self.placement.to_image_map(&self.map)?;
        let top = g.pixels.iter().copied().fold(0f32, f32::max);
        for v in &mut g.pixels {
            *v = if top > 0.0 { v.max(0.0) / top } else { 0.0 };
        }
        Ok(g)
    }
}
