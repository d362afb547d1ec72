//! Labelled images in memory, the unit every model trains and predicts on.

use super::tabular::Covariates;
use crate::error::{Error, Result};

/// Labelled images in memory: `[n, channels, height, width]` row-major plus one class
/// index per image.
///
/// # Shapes
/// `data.len() == n * channels * height * width`, `labels.len() == n`; `covariates`, when
/// set ([`Samples::with_covariates`]), hold `n` rows: the workbook columns a fusion model
/// ([`crate::model::fusion`]) takes beside the pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// `n * channels * height * width` values.
    pub data: Vec<f32>,
    /// `[n, channels, height, width]`.
    pub shape: [usize; 4],
    /// Class index of each image.
    pub labels: Vec<usize>,
    /// Standardised workbook columns of each image, for a fusion model.
    pub covariates: Option<Covariates>,
}

impl Samples {
    /// Check that `data` and `labels` fit `shape` and that every value is finite.
    pub fn new(data: Vec<f32>, shape: [usize; 4], labels: Vec<usize>) -> Result<Self> {
        let per: usize = shape[1..].iter().product();
        if data.len() != shape[0] * per || labels.len() != shape[0] || per == 0 {
            return Err(Error::input(
                "samples",
                format!(
                    "{} values and {} labels do not fit shape {shape:?}",
                    data.len(),
                    labels.len()
                ),
            ));
        }
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(
                "samples",
                format!("image {} has a non-finite pixel", i / per),
            ));
        }
        Ok(Self {
            data,
            shape,
            labels,
            covariates: None,
        })
    }

    /// The same images with one row of `covariates` each (finite values, one row per image).
    pub fn with_covariates(mut self, covariates: Covariates) -> Result<Self> {
        if covariates.len() != self.len() || covariates.width() == 0 {
            return Err(Error::input(
                "samples",
                format!(
                    "{} covariate rows of {} columns for {} images",
                    covariates.len(),
                    covariates.width(),
                    self.len()
                ),
            ));
        }
        if let Some(i) = covariates.values.iter().position(|v| !v.is_finite()) {
            return Err(Error::input(
                "samples",
                format!(
                    "image {} has a non-finite value of covariate {}",
                    i / covariates.width(),
                    covariates.columns[i % covariates.width()]
                ),
            ));
        }
        self.covariates = Some(covariates);
        Ok(self)
    }

    /// A single-channel [`ImageBatch`](super::ImageBatch) with its labels.
    pub fn from_batch(batch: super::ImageBatch, labels: Vec<usize>) -> Result<Self> {
        let shape = [batch.n, batch.channels, batch.height, batch.width];
        Self::new(batch.data, shape, labels)
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.shape[0] == 0
    }

    /// `[channels, height, width]` of one image: what a model built for these samples takes.
    pub fn image_shape(&self) -> [usize; 3] {
        [self.shape[1], self.shape[2], self.shape[3]]
    }

    fn per_image(&self) -> usize {
        self.shape[1..].iter().product()
    }

    /// The pixels of the images at `idx`, in that order (`idx.len() * c * h * w` values).
    pub fn gather(&self, idx: &[usize]) -> Vec<f32> {
        let per = self.per_image();
        let mut data = Vec::with_capacity(idx.len() * per);
        for &i in idx {
            data.extend_from_slice(&self.data[i * per..(i + 1) * per]);
        }
        data
    }

    /// The images at `idx`, in that order.
    pub fn subset(&self, idx: &[usize]) -> Samples {
        Samples {
            data: self.gather(idx),
            shape: [idx.len(), self.shape[1], self.shape[2], self.shape[3]],
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            covariates: self.covariates.as_ref().map(|c| Covariates {
                columns: c.columns.clone(),
                values: c.gather(idx),
            }),
        }
    }

    /// The share of images of class `class` (0 when there are none).
    pub fn prevalence(&self, class: usize) -> f64 {
        let n = self.labels.iter().filter(|&&l| l == class).count();
        n as f64 / self.len().max(1) as f64
    }

    /// Images per class (length `classes`).
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut c = vec![0; classes];
        for &l in &self.labels {
            if l < classes {
                c[l] += 1;
            }
        }
        c
    }
}
