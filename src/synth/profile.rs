//! Cohort sizes: `ci`, `default` (seed 001's numbers) and `large`.

use std::fmt;

use crate::error::{Error, Result};

/// A named cohort size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Profile {
    /// Small, for tests and the notebook suite in CI (about 2 % positive).
    Ci,
    /// Seed 001's hospital export: 105 cancer rows, 4998 non-cancer, 322 listing rows.
    Default,
    /// Five times `default`, for benchmarks.
    Large,
}

impl Profile {
    /// All profiles.
    pub const ALL: [Profile; 3] = [Profile::Ci, Profile::Default, Profile::Large];

    /// The profile's name.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Ci => "ci",
            Profile::Default => "default",
            Profile::Large => "large",
        }
    }

    /// The sizes of this profile.
    pub fn spec(self) -> ProfileSpec {
        match self {
            Profile::Ci => ProfileSpec {
                cancer_rows: 30,
                non_cancer_rows: 1470,
                validation_rows: 80,
                format_faults: 9,
                missing_counterparts: 2,
                both_class_patients: 1,
                rows: 256,
                cols: 208,
                feature_columns: 24,
                batch_size: 300,
                conspicuity: 1.0,
            },
            Profile::Default => ProfileSpec {
                cancer_rows: 105,
                non_cancer_rows: 4998,
                validation_rows: 322,
                format_faults: 11,
                missing_counterparts: 5,
                both_class_patients: 2,
                rows: 384,
                cols: 312,
                feature_columns: 561 - MAIN_COLUMNS,
                batch_size: 500,
                conspicuity: 1.0,
            },
            Profile::Large => ProfileSpec {
                cancer_rows: 525,
                non_cancer_rows: 24990,
                validation_rows: 1610,
                format_faults: 11,
                missing_counterparts: 5,
                both_class_patients: 5,
                rows: 384,
                cols: 312,
                feature_columns: 561 - MAIN_COLUMNS,
                batch_size: 1000,
                conspicuity: 1.0,
            },
        }
    }
}

/// Number of non-feature columns in the `Cancer` and `Non-Cancer` sheets.
pub const MAIN_COLUMNS: usize = 25;

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The numbers that make a cohort.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSpec {
    /// Rows of the `Cancer` sheet (one image exported twice counts twice).
    pub cancer_rows: usize,
    /// Rows of the `Non-Cancer` sheet (one image listed twice counts twice).
    pub non_cancer_rows: usize,
    /// Rows of the validation listing `data_validation_x.xlsx`.
    pub validation_rows: usize,
    /// `Cancer` rows whose key differs from the listing only in formatting.
    pub format_faults: usize,
    /// `Cancer` rows whose study is absent from the listing.
    pub missing_counterparts: usize,
    /// Cancer patients who also have a normal study in `Non-Cancer`.
    pub both_class_patients: usize,
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// Radiomics-style numeric columns after the main columns.
    pub feature_columns: usize,
    /// Images per `Non-Cancer/batch_NN` folder.
    pub batch_size: usize,
    /// Lesion contrast multiplier.
    pub conspicuity: f32,
}

impl ProfileSpec {
    /// `Cancer` rows that match the listing by seed 001's exact `UniqueKey`.
    pub fn exact_matches(&self) -> usize {
        self.cancer_rows - self.format_faults - self.missing_counterparts - 2
    }

    /// Check that the numbers can be planted together.
    pub fn validate(&self) -> Result<()> {
        let bad = |name, message: String| Err(Error::Param { name, message });
        if self.cancer_rows < self.format_faults + self.missing_counterparts + 3 {
            return bad(
                "cancer_rows",
                format!(
                    "{} rows cannot hold {} format faults, {} rows without counterpart, a duplicate pair and one exact match",
                    self.cancer_rows, self.format_faults, self.missing_counterparts
                ),
            );
        }
        if self.non_cancer_rows < 12 {
            return bad(
                "non_cancer_rows",
                format!("{} is below the minimum of 12", self.non_cancer_rows),
            );
        }
        // Listing: matched cancer rows + both breasts' other images + the duplicate row.
        let cancer_images = self.cancer_rows - 1;
        let other_side = 2 * cancer_images.div_ceil(2) * 2 - cancer_images;
        let minimum = self.cancer_rows - self.missing_counterparts - 2 + other_side + 1;
        if self.validation_rows < minimum {
            return bad(
                "validation_rows",
                format!(
                    "{} is below the minimum of {minimum} for these cancer rows",
                    self.validation_rows
                ),
            );
        }
        if self.rows < 64 || self.cols < 48 {
            return bad(
                "rows/cols",
                format!("{}x{} is below the minimum of 64x48", self.rows, self.cols),
            );
        }
        if self.batch_size == 0 || self.both_class_patients > cancer_images.div_ceil(2) {
            return bad("batch_size/both_class_patients", "out of range".into());
        }
        if !(self.conspicuity > 0.0 && self.conspicuity <= 4.0) {
            return bad(
                "conspicuity",
                format!("{} is outside (0, 4]", self.conspicuity),
            );
        }
        Ok(())
    }
}
