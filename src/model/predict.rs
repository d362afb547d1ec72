//! Inference: class probabilities per image, the VAE's latent codes and reconstructions.
//!
//! Pass a model in inference mode ([`Trainer::inference_model`](super::Trainer::inference_model)
//! or `model.valid()`) and the plain device. Roll image scores up to breasts or patients
//! with [`crate::eval::rollup`].

use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::train::{covariates_tensor, images_tensor};
use super::{ComputeDevice, Model};
use crate::dataset::tabular::Covariates;
use crate::dataset::{load_images, Placement, Preprocess, Samples};
use crate::error::{Error, Result};
use crate::imaging::Gray;
use crate::ingest::merge::Laterality;

/// The decision threshold chosen for a model on labelled data it was not trained on (a
/// validation part), saved in the checkpoint and the run directory so that every later
/// use of the model flags at the same operating point. `pipeline::run` chooses it with an
/// [`eval::ThresholdRule`](crate::eval::ThresholdRule).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DecisionThreshold {
    /// The rule as text (`youden`, `f2`, `spec:0.9`, `0.5`, ...).
    pub rule: String,
    /// Flag an image when its positive-class probability is `>=` this. A rule that could
    /// only be met by flagging nothing gives `f64::MAX`.
    pub threshold: f64,
    /// Images the rule saw, and how many were positive.
    pub images: usize,
    /// Positive images among them.
    pub positives: usize,
    /// Sensitivity on those images at the threshold.
    pub sensitivity: f64,
    /// Specificity on those images at the threshold.
    pub specificity: f64,
}

/// Index lists of `batch` consecutive samples (the last shorter) covering `0..n`.
pub(crate) fn batches(n: usize, batch: usize) -> impl Iterator<Item = Vec<usize>> {
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
    let data = out
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| Error::input("model output", format!("{e:?}")))?;
    Samples::new(data, dims, idx.iter().map(|&i| samples.labels[i]).collect())
}

/// A checkpoint ready to score image files: its weights and the input recipe it was
/// trained with, so new images are decoded, cropped, flipped, resized and normalised
/// exactly as the training images were.
///
/// ```no_run
/// use mammolab::model::{ComputeDevice, Predictor};
/// # fn main() -> mammolab::Result<()> {
/// let p = Predictor::open("runs/cnn/checkpoint".as_ref(), ComputeDevice::Cpu)?;
/// let probs = p.predict(&[("new/FILE0001.jpg".into(), None)])?; // [n][classes]
/// # Ok(()) }
/// ```
pub struct Predictor {
    info: super::checkpoint::CheckpointInfo,
    preprocess: Preprocess,
    model: Model,
    device: Device,
}

impl Predictor {
    /// Load a checkpoint written by [`Trainer::save`](super::Trainer::save) with an input
    /// recipe ([`Trainer::with_input`](super::Trainer::with_input); every `mammolab train`
    /// run has one).
    pub fn open(dir: &Path, compute: ComputeDevice) -> Result<Self> {
        let (info, model) = super::checkpoint::load_model(dir, compute)?;
        let preprocess = info.input.clone().ok_or_else(|| {
            Error::data(
                dir.join("config.json"),
                "no input recipe: this checkpoint cannot prepare images (train it with Trainer::with_input)",
            )
        })?;
        Ok(Self {
            info,
            preprocess,
            model,
            device: compute.device()?,
        })
    }

    /// The layer Grad-CAM explains ([`Model::features_layer`]).
    pub fn features_layer(&self) -> String {
        self.model.features_layer()
    }

    /// The checkpoint's `config.json`.
    pub fn info(&self) -> &super::checkpoint::CheckpointInfo {
        &self.info
    }

    /// The decision threshold chosen on the run's validation part (`None` for a
    /// checkpoint saved without one).
    pub fn threshold(&self) -> Option<&DecisionThreshold> {
        self.info.threshold.as_ref()
    }

    /// How images are prepared for this model.
    pub fn preprocess(&self) -> &Preprocess {
        &self.preprocess
    }

    /// Images at a time (the trainer's own inference batch, so scores match it exactly).
    fn batch(&self) -> usize {
        self.info.train.batch_size.max(32)
    }

    /// `files` (each with its breast's side, for the recipe's flip) decoded and prepared.
    /// Labels are all 0.
    pub fn samples(&self, files: &[(PathBuf, Option<Laterality>)]) -> Result<Samples> {
        let list: Vec<(PathBuf, bool)> = files
            .iter()
            .map(|(p, l)| (p.clone(), *l == Some(Laterality::Right)))
            .collect();
        let batch = load_images(&list, &self.preprocess, None, "")?;
        let c = self.info.model.input_shape()[0];
        let n = batch.n;
        let [h, w] = [batch.height, batch.width];
        Samples::new(batch.data, [n, c, h, w], vec![0; n])
    }

    /// Class probabilities `[n][classes]` of image files.
    pub fn predict(&self, files: &[(PathBuf, Option<Laterality>)]) -> Result<Vec<Vec<f64>>> {
        self.predict_samples(&self.samples(files)?)
    }

    /// The classes of the outputs, in output order, and the positive one (the checkpoint's).
    pub fn classes(&self) -> &crate::Classes {
        &self.info.classes
    }

    /// Class probabilities of each file, or why it could not be scored: one unreadable
    /// file does not stop the others. Files are decoded in parallel and scored in the
    /// trainer's inference batches (so the images of a run's part, in its order, get
    /// exactly the run's scores); `progress(done, total)` is called after each batch. The
    /// outer error is the model's (it cannot fail for one file).
    pub fn predict_each(
        &self,
        files: &[(PathBuf, Option<Laterality>)],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Result<Vec<f64>>>> {
        self.predict_each_with(files, None, progress)
    }

    /// The workbook columns the model takes beside each image (empty: image only; see
    /// [`super::fusion`]).
    pub fn covariates(&self) -> &[String] {
        self.info.model.covariates()
    }

    /// As [`Predictor::predict_each`], with each file's raw workbook values of
    /// [`Predictor::covariates`] (NaN = missing; standardised here as in training) for a
    /// fusion model. A fusion model without `columns` is a one-line error.
    pub fn predict_each_with(
        &self,
        files: &[(PathBuf, Option<Laterality>)],
        columns: Option<&[Vec<f64>]>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Result<Vec<f64>>>> {
        check_columns(columns, files.len())?;
        self.each(files, columns, progress, &|s| self.predict_samples(s))
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

    /// Layer `layer`'s activations of image files ([`super::layers`]), one row each.
    pub fn features(
        &self,
        files: &[(PathBuf, Option<Laterality>)],
        layer: &str,
        pool: super::layers::Pool,
    ) -> Result<Vec<Vec<f32>>> {
        self.features_samples(&self.samples(files)?, layer, pool)
    }

    /// As [`Predictor::features`] for each file, or why it could not be read (as
    /// [`Predictor::predict_each`]). An unknown layer is the outer error.
    pub fn features_each(
        &self,
        files: &[(PathBuf, Option<Laterality>)],
        layer: &str,
        pool: super::layers::Pool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Result<Vec<f32>>>> {
        self.check_layer(layer)?;
        self.each(files, None, progress, &|s| {
            self.features_samples(s, layer, pool)
        })
    }

    /// Layer activations of samples already prepared with [`Predictor::preprocess`].
    pub fn features_samples(
        &self,
        samples: &Samples,
        layer: &str,
        pool: super::layers::Pool,
    ) -> Result<Vec<Vec<f32>>> {
        super::layers::activations(
            &self.model,
            samples,
            layer,
            pool,
            self.batch(),
            &self.device,
        )
    }

    /// Decode `files` in parallel, a batch at a time, and run `f` on each batch's decoded
    /// images (with their rows of `columns`, standardised, when given): one result per
    /// file, in order.
    fn each<T>(
        &self,
        files: &[(PathBuf, Option<Laterality>)],
        columns: Option<&[Vec<f64>]>,
        progress: &mut dyn FnMut(usize, usize),
        f: &dyn Fn(&Samples) -> Result<Vec<T>>,
    ) -> Result<Vec<Result<T>>> {
        use rayon::prelude::*;
        let mut out = Vec::with_capacity(files.len());
        for (k, chunk) in files.chunks(self.batch()).enumerate() {
            let decoded: Vec<Result<Vec<Gray>>> = chunk
                .par_iter()
                .map(|(p, l)| self.preprocess.read_input(p, *l == Some(Laterality::Right)))
                .collect();
            let samples = self.stack(decoded.iter().filter_map(|d| d.as_ref().ok()))?;
            let samples = self.with_columns(
                samples,
                decoded.iter().map(Result::is_ok),
                columns.map(|c| &c[k * self.batch()..]),
            )?;
            let mut probs = if samples.is_empty() {
                vec![]
            } else {
                f(&samples)?
            }
            .into_iter();
            for d in decoded {
                out.push(match d {
                    Ok(_) => Ok(probs.next().ok_or_else(|| {
                        Error::input("model output", "fewer rows than decoded images")
                    })?),
                    Err(e) => Err(e),
                });
            }
            progress(out.len(), files.len());
        }
        Ok(out)
    }

    /// What the model looks at in each file when it scores `class` (see
    /// [`super::saliency`]): the map at the model input's size, the decoded image and how the
    /// input sits in it. As [`Predictor::predict_each`], one unreadable file does not stop
    /// the others. Occlusion fills its squares with the input value of black.
    pub fn saliency(
        &self,
        files: &[(PathBuf, Option<Laterality>)],
        class: usize,
        method: super::saliency::Method,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Result<Saliency>>> {
        self.saliency_with(files, None, class, method, progress)
    }

    /// As [`Predictor::saliency`], with each file's raw workbook values for a fusion model
    /// (as [`Predictor::predict_each_with`]; the columns are held at their values).
    pub fn saliency_with(
        &self,
        files: &[(PathBuf, Option<Laterality>)],
        columns: Option<&[Vec<f64>]>,
        class: usize,
        method: super::saliency::Method,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Result<Saliency>>> {
        use super::saliency::{grad_cam, occlusion, Method, Occlusion};
        use rayon::prelude::*;
        check_columns(columns, files.len())?;
        let [_, h, w] = self.info.model.input_shape();
        let (mean, std) = self.preprocess.normalise.unwrap_or((0.0, 1.0));
        let how = Occlusion::for_size(h.min(w), -mean / std);
        let mut out = Vec::with_capacity(files.len());
        for (k, chunk) in files.chunks(self.batch()).enumerate() {
            type Decoded = (Gray, Option<Vec<Gray>>, Vec<Gray>, Placement);
            let decoded: Vec<Result<Decoded>> = chunk
                .par_iter()
                .map(|(p, l)| {
                    let right = *l == Some(Laterality::Right);
                    let planes = self.preprocess.decode(p)?;
                    let input = self.preprocess.apply_planes(&planes, right)?;
                    // A grey image is its own display; a colour one is shown by its grey.
                    let (image, colour) = match <[Gray; 1]>::try_from(planes) {
                        Ok([image]) => (image, None),
                        Err(planes) => (crate::imaging::luma(&planes), Some(planes)),
                    };
                    let placement = self.preprocess.placement(&image, right);
                    Ok((image, colour, input, placement))
                })
                .collect();
            let samples = self.stack(
                decoded
                    .iter()
                    .filter_map(|d| d.as_ref().ok().map(|(_, _, input, _)| input)),
            )?;
            let samples = self.with_columns(
                samples,
                decoded.iter().map(Result::is_ok),
                columns.map(|c| &c[k * self.batch()..]),
            )?;
            let n = samples.len();
            let all: Vec<usize> = (0..n).collect();
            let probs = if n == 0 {
                vec![]
            } else {
                self.predict_samples(&samples)?
            };
            let (maps, cams): (Vec<Gray>, Vec<Option<super::saliency::GradCam>>) = match method {
                Method::GradCam => grad_cam(&self.model, &samples, &all, class, &self.device)?
                    .into_iter()
                    .map(|g| (g.map.clone(), Some(g)))
                    .unzip(),
                Method::Occlusion => occlusion(
                    &self.model,
                    &samples,
                    &all,
                    class,
                    &how,
                    self.batch(),
                    &self.device,
                )?
                .into_iter()
                .map(|m| (m, None))
                .unzip(),
            };
            let mut made = maps.into_iter().zip(cams).zip(probs);
            for d in decoded {
                out.push(match d {
                    Ok((image, colour, input, placement)) => {
                        let ((map, grad_cam), probabilities) = made.next().ok_or_else(|| {
                            Error::input("model output", "fewer maps than decoded images")
                        })?;
                        Ok(Saliency {
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
                        })
                    }
                    Err(e) => Err(e),
                });
            }
            progress(out.len(), files.len());
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
        let [c, h, w] = self.info.model.input_shape();
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

    /// Class probabilities `[n][classes]` of samples already prepared with
    /// [`Predictor::preprocess`].
    pub fn predict_samples(&self, samples: &Samples) -> Result<Vec<Vec<f64>>> {
        probabilities(&self.model, samples, self.batch(), &self.device)
    }
}

/// One row of workbook values per file, when given.
fn check_columns(columns: Option<&[Vec<f64>]>, files: usize) -> Result<()> {
    match columns {
        Some(c) if c.len() != files => Err(Error::input(
            "covariates",
            format!("{} rows of workbook columns for {files} files", c.len()),
        )),
        _ => Ok(()),
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
