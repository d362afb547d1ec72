//! From records to training data: labels, patient ids, and splits that do not leak.
//!
//! [`load_images`] turns image files into a batch tensor through a [`Preprocess`] with a
//! disk cache. Splits work on plain vectors (class index and group id per sample), so they serve a
//! merged spreadsheet, an image folder or a table of scores alike.
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

mod images;
mod split;

pub use images::{load_images, ImageBatch, Preprocess};

pub use split::{
    grouped_kfold, grouped_split, leakage, stratified_kfold, stratified_split, DuplicateImages,
    Fold, Fractions, LeakageReport, SharedGroup, Split,
};
