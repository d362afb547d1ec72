//! From records to training data: labels, patient ids, and splits that do not leak.
//!
//! - [`prepare`] turns a manifest's merge into a [`Prepared`] cohort: one [`ImageItem`] per
//!   image file, a patient-grouped [`Split`] checked by [`leakage`], and every image decoded
//!   into [`Samples`] through the [`DataOptions`]' [`Preprocess`] (the recipe saved with
//!   every model).
//! - [`load_images`] turns image files into a batch through a [`Preprocess`] with a disk
//!   cache.
//! - Splits work on plain vectors (class index and group id per sample), so they serve a
//!   merged spreadsheet, an image folder or a table of scores alike.
//! - [`Augment`]: seeded random flips, rotation, zoom, crops and intensity jitter of
//!   training images, applied batch by batch by the trainer.
//! - [`tabular`]: workbook columns as a feature matrix per labelled row, for baselines, and
//!   as standardised [`Covariates`](tabular::Covariates) beside each image for a fusion model
//!   ([`Prepared::with_covariates`]).
//!
//! ```
//! use mammolab::dataset::{grouped_split, leakage, Fractions};
//!
//! # fn main() -> mammolab::Result<()> {
//! // Eight images of four patients; patient "c" has cancer in both images.
//! let labels = [0, 0, 0, 0, 1, 1, 0, 0];
//! let patients = ["a", "a", "b", "b", "c", "c", "d", "d"];
//! let split = grouped_split(&labels, &patients, Fractions::new(0.5, 0.0, 0.5)?, 7)?;
//! let report = leakage(&[("train", &split.train), ("test", &split.test)], &patients, None, 0)?;
//! assert!(report.is_clean()); // no patient on both sides
//! # Ok(()) }
//! ```

mod augment;
mod images;
mod prepare;
mod samples;
mod split;
pub mod tabular;

pub use augment::{Augment, Draw};
pub use images::{
    breast_on_right, default_image_cache, lesion_box, load_images, load_regions, Channels,
    ImageBatch, Orient, Placement, Preprocess,
};
pub use prepare::{
    plan_merged, prepare, prepare_merged, DataOptions, ImageItem, ImageSource, Input, Part,
    PartCounts, Plan, Prepared, SplitLeak, NORMALISE,
};
pub use samples::Samples;

pub use split::{
    grouped_kfold, grouped_split, leakage, stratified_kfold, stratified_split, DuplicateImages,
    Fold, Fractions, LeakageReport, SharedGroup, Split,
};
