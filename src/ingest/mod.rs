//! File formats at the edge: everything that reads a file and hands back in-memory values.
//!
//! - [`sheets`]: workbooks (calamine) and CSV files into typed cells and polars DataFrames.
//! - [`key`]: seed 001's `UniqueKey`, exact and normalised.
//! - [`index`]: image folders walked once, rows resolved to files.
//! - [`merge`]: the labelled sheets matched to the image listing, with an audit of every
//!   row and file.
//! - [`dicom`]: DICOM headers and pixels (dicom-rs), JPG/PNG (image); [`transfer_syntax`]:
//!   the transfer syntax UIDs it tells apart, named once.
//! - [`frames`]: DataFrames to and from CSV and Parquet files (the CSV and Parquet tables
//!   mammolab writes go through it), and [`ScoreTable`]: a CSV's label and score columns (what
//!   `mammolab metrics` reads).
//! - [`ddsm_patches`]: seed 004's Kaggle DDSM download (shards and arrays of 299 x 299 patches).
//! - [`npy`]: NumPy `.npy` arrays (header by npyz, sizes checked against the file).
//! - [`tfrecord`]: TensorFlow's TFRecord files (CRC-checked records, `tf.train.Example`).
pub mod ddsm_patches;
pub mod dicom;
mod dicom_bounds;
pub mod frames;
pub mod histology;
pub mod index;
pub mod key;
pub mod limits;
pub mod merge;
pub mod npy;
mod ods_repair;
mod sheet_bounds;
mod sheet_cache;
pub mod sheets;
pub mod tfrecord;
pub mod transfer_syntax;
pub(crate) mod xlsx_repair;
mod xlsx_split;
mod zip_rewrite;

pub use frames::{ClassScoreTable, ScoreTable};
