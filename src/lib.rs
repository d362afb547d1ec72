//! # mammolab
//!
//! Breast-cancer imaging research in Rust: hospital spreadsheets and image folders in,
//! honest imbalance-aware evaluation out.
//!
//! Data flows one way:
//!
//! ```text
//! manifest -> ingest -> dataset -> model -> eval -> plot
//! ```
//!
//! - [`manifest`]: a TOML file that says what a cohort is: its workbooks, which sheet holds
//!   which class, the key columns, the image folders, and checksums of the inputs.
//! - [`synth`]: a synthetic cohort shaped like seed 001's hospital export (105 cancer rows,
//!   4998 normal rows, a 322-row image listing, DICOM + JPG folders) with planted faults and
//!   a ground-truth file, so every stage can be tested against known answers.
//!
//! Ingest, dataset, model, eval and plot modules follow the same rule: functions take
//! values and return values; nothing below the binary prints, panics on bad data, or reads
//! environment variables.
//!
//! ## A first session
//!
//! ```no_run
//! use mammolab::prelude::*;
//!
//! # fn main() -> mammolab::Result<()> {
//! // Generate the small CI cohort and check it against its own manifest.
//! let out = std::path::Path::new("data/ci");
//! let summary = synth::generate(&SynthOptions::new(Profile::Ci).with_seed(1), out)?;
//! assert_eq!(summary.counts.cancer_rows, 30);
//! let manifest = Manifest::open(out.join("manifest.toml"))?;
//! manifest.verify()?; // every file present, every checksum right
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod error;
pub mod manifest;
pub mod synth;

pub use error::{Error, Result};

/// Everything a notebook needs in one `use`.
pub mod prelude {
    pub use crate::error::{Error, Result};
    pub use crate::manifest::Manifest;
    pub use crate::synth::{self, Profile, SynthOptions, SynthSummary};
}
