//! Workbook columns as features: one row per labelled spreadsheet row, with its class and
//! patient, for the tabular baselines and for image + tabular fusion.
//!
//! [`Standardiser`] is the one place where missing values and scale are handled: a column's
//! training mean and standard deviation, NaN replaced by the mean (0 once standardised). The
//! logistic baseline and the fusion model ([`crate::model::fusion`]) both use it, and the
//! fusion model saves it in its checkpoint. [`Covariates`] are standardised columns per image,
//! carried by [`Samples`](super::Samples).
//!
//! ```no_run
//! use mammolab::dataset::tabular::{FeatureColumns, Tabular};
//! # fn main() -> mammolab::Result<()> {
//! let manifest = mammolab::manifest::Manifest::open("data/synthetic-ci/manifest.toml")?;
//! let columns = FeatureColumns::new().with_prefix("original_").with_names(["Age", "BIRADS"]);
//! let all = Tabular::load(&manifest, &columns)?; // every labelled row of every sheet
//! let without_birads = all.without(&["BIRADS"])?;
//! # Ok(()) }
//! ```

use polars::prelude::{DataFrame, DataType};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ingest::merge::{file_column, row_label, PatientColumn};
use crate::ingest::sheets::{read_sheet, SheetOptions};
use crate::manifest::Manifest;
use crate::privacy::pseudonym;

/// Which columns of the labelled sheets become features: those starting with one of the
/// prefixes, and those named. Columns keep the first sheet's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureColumns {
    prefixes: Vec<String>,
    names: Vec<String>,
}

impl FeatureColumns {
    /// No columns yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every column whose name starts with `prefix` (e.g. seed 001's `original_` radiomics).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefixes.push(prefix.into());
        self
    }

    /// These columns (each must exist in every labelled sheet).
    pub fn with_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.names.extend(names.into_iter().map(Into::into));
        self
    }

    fn selects(&self, column: &str) -> bool {
        self.names.iter().any(|n| n == column)
            || self.prefixes.iter().any(|p| column.starts_with(p.as_str()))
    }
}

/// Numeric features of every labelled row of a manifest's sheets.
#[derive(Debug, Clone, PartialEq)]
pub struct Tabular {
    /// Feature names, the order of each row of `x`.
    pub columns: Vec<String>,
    /// One row per labelled row (nulls and empty cells as NaN).
    pub x: Vec<Vec<f64>>,
    /// Class of each row by the manifest's label rules.
    pub labels: Vec<String>,
    /// Sheet of each row.
    pub sheets: Vec<String>,
    /// Spreadsheet row number (header = 1) of each row, as [`ImageItem::row`](super::ImageItem::row).
    pub row_numbers: Vec<u32>,
    /// Normalised patient id of each row (trimmed, upper case). Never display it: use
    /// [`Tabular::pseudonyms`].
    patients: Vec<String>,
}

impl Tabular {
    /// Read the manifest's labelled sheets and keep the `columns` they select. The patient
    /// is the key's patient column, normalised as the merge does.
    pub fn load(manifest: &Manifest, columns: &FeatureColumns) -> Result<Self> {
        if manifest.key.is_none() && manifest.patient.is_none() {
            return Err(Error::Manifest {
                manifest: manifest.source.clone(),
                message: "no [key] or [patient] section: the patient column is unknown".into(),
            });
        }
        let patient = PatientColumn::of(manifest);
        if patient.is_some() && patient.as_ref().and_then(PatientColumn::column).is_none() {
            return Err(Error::Manifest {
                manifest: manifest.source.clone(),
                message: "[patient] file_name_part: the patient is in the image file names, which tabular features do not read; give a [patient] column".into(),
            });
        }
        let mut out = Tabular {
            columns: vec![],
            x: vec![],
            labels: vec![],
            sheets: vec![],
            row_numbers: vec![],
            patients: vec![],
        };
        for (i, spec) in manifest.sheets.iter().enumerate() {
            let table = manifest.table(&spec.table).ok_or_else(|| Error::Manifest {
                manifest: manifest.source.clone(),
                message: format!("sheet `{}` names no table `{}`", spec.name, spec.table),
            })?;
            let sheet = read_sheet(
                manifest.resolve(&table.path),
                &spec.name,
                &SheetOptions::default(),
            )?;
            if i == 0 {
                out.columns = sheet
                    .columns
                    .iter()
                    .filter(|c| columns.selects(c))
                    .cloned()
                    .collect();
                if let Some(n) = columns.names.iter().find(|n| !out.columns.contains(n)) {
                    sheet.column_index(n)?;
                }
            }
            let df = sheet.to_dataframe()?;
            let names: Vec<&str> = out.columns.iter().map(String::as_str).collect();
            let context = format!("{}: sheet `{}`", sheet.file.display(), sheet.name);
            out.x.extend(
                numeric_features(&df, &names).map_err(|e| {
                    Error::data(&sheet.file, format!("sheet `{}`: {e}", sheet.name))
                })?,
            );
            let file_col = file_column(manifest, spec, &sheet)?;
            let pc = patient
                .as_ref()
                .and_then(PatientColumn::column)
                .map(|c| sheet.column_index(c))
                .transpose()?;
            for r in 0..sheet.rows.len() {
                out.labels.push(row_label(spec, &sheet, r, file_col)?);
                out.sheets.push(sheet.name.clone());
                out.row_numbers.push(sheet.row_numbers[r]);
                let id = patient
                    .as_ref()
                    .map(|p| p.id(pc.map(|c| &sheet.rows[r][c]), None))
                    .unwrap_or_default();
                out.patients.push(id);
            }
            if out.x.len() != out.labels.len() {
                return Err(Error::input(
                    "tabular",
                    format!(
                        "{context}: {} feature rows for {} rows",
                        out.x.len(),
                        out.labels.len()
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.x.is_empty()
    }

    /// The same rows without the named feature columns (each must be one of them).
    pub fn without(&self, columns: &[&str]) -> Result<Self> {
        if let Some(c) = columns
            .iter()
            .find(|c| !self.columns.iter().any(|k| k == *c))
        {
            return Err(Error::Param {
                name: "columns",
                message: format!("{c:?} is not a feature column"),
            });
        }
        let keep: Vec<usize> = (0..self.columns.len())
            .filter(|&i| !columns.contains(&self.columns[i].as_str()))
            .collect();
        Ok(Self {
            columns: keep.iter().map(|&i| self.columns[i].clone()).collect(),
            x: self
                .x
                .iter()
                .map(|row| keep.iter().map(|&i| row[i]).collect())
                .collect(),
            ..self.clone()
        })
    }

    /// Feature rows `idx`, in that order.
    pub fn rows(&self, idx: &[usize]) -> Vec<Vec<f64>> {
        pick(&self.x, idx)
    }

    /// `true` for rows whose class is `positive`.
    pub fn is_positive(&self, positive: &str) -> Vec<bool> {
        self.labels.iter().map(|l| l == positive).collect()
    }

    /// Each row's patient as a shareable pseudonym (use as the groups of a split).
    pub fn pseudonyms(&self) -> Vec<String> {
        self.patients.iter().map(|p| pseudonym(p)).collect()
    }

    /// The feature row of each spreadsheet row `(sheet, row number)`, in that order: a row
    /// this table does not hold is an error naming it.
    pub fn rows_at(&self, rows: &[(&str, u32)]) -> Result<Vec<Vec<f64>>> {
        let mut at = std::collections::HashMap::with_capacity(self.len());
        for (i, (s, r)) in self.sheets.iter().zip(&self.row_numbers).enumerate() {
            at.entry((s.as_str(), *r)).or_insert(i);
        }
        rows.iter()
            .map(|key| {
                at.get(key).map(|&i| self.x[i].clone()).ok_or_else(|| {
                    Error::input(
                        "covariates",
                        format!(
                            "sheet `{}` row {} is not among the workbook rows read",
                            key.0, key.1
                        ),
                    )
                })
            })
            .collect()
    }
}

/// The workbook columns named by `spec` of the spreadsheet rows `rows` (sheet, row number),
/// read from the manifest's labelled sheets (NaN where a cell is empty): the column names in
/// the first sheet's order and one row of values per entry of `rows`, the raw input of
/// [`Covariates`]. A name ending in `*` stands for every column starting with the rest
/// (`original_*`: seed 001's radiomics); a name missing from a sheet, a prefix no column
/// has, or a column that is not numeric is a one-line error.
pub fn covariate_rows(
    manifest: &Manifest,
    rows: &[(&str, u32)],
    spec: &[String],
) -> Result<(Vec<String>, Vec<Vec<f64>>)> {
    let mut select = FeatureColumns::new();
    for s in spec {
        select = match s.strip_suffix('*') {
            Some(prefix) => select.with_prefix(prefix),
            None => select.with_names([s.as_str()]),
        };
    }
    let table = Tabular::load(manifest, &select)?;
    if let Some(p) = select
        .prefixes
        .iter()
        .find(|p| !table.columns.iter().any(|c| c.starts_with(p.as_str())))
    {
        return Err(Error::input(
            "covariates",
            format!("no workbook column starts with `{p}`"),
        ));
    }
    let values = table.rows_at(rows)?;
    Ok((table.columns, values))
}

/// Mean and standard deviation of each column on the training rows; [`Standardiser::apply`]
/// maps a value to `(v - mean) / sd` and a missing one (NaN) to 0, the training mean.
/// Serialisable: the fusion model keeps it in its checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardiser {
    /// Column names.
    pub columns: Vec<String>,
    /// Training mean of each column (over its present values).
    pub mean: Vec<f64>,
    /// Training standard deviation (population; 1 where the column is constant).
    pub sd: Vec<f64>,
    /// Training rows with the column missing (replaced by the mean).
    pub missing: Vec<usize>,
    /// Training rows it was fitted on.
    pub rows: usize,
}

impl Standardiser {
    /// Fit on `rows` (each `columns.len()` values, NaN = missing). A column with no value at
    /// all is an error naming it (`what` says which model).
    pub fn fit(rows: &[Vec<f64>], columns: &[String], what: &'static str) -> Result<Self> {
        let k = columns.len();
        check_rows(rows, k, what)?;
        let mut out = Self {
            columns: columns.to_vec(),
            mean: vec![0.0; k],
            sd: vec![1.0; k],
            missing: vec![0; k],
            rows: rows.len(),
        };
        for j in 0..k {
            let col: Vec<f64> = rows
                .iter()
                .map(|r| r[j])
                .filter(|v| v.is_finite())
                .collect();
            if col.is_empty() {
                return Err(Error::input(
                    what,
                    format!("column {} has no values in the training rows", columns[j]),
                ));
            }
            let m = col.iter().sum::<f64>() / col.len() as f64;
            let v = col.iter().map(|x| (x - m).powi(2)).sum::<f64>() / col.len() as f64;
            out.mean[j] = m;
            out.sd[j] = if v > 0.0 { v.sqrt() } else { 1.0 };
            out.missing[j] = rows.len() - col.len();
        }
        Ok(out)
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Column `j`'s standardised value of `v` (0 for a missing one).
    pub fn value(&self, j: usize, v: f64) -> f64 {
        if v.is_finite() {
            (v - self.mean[j]) / self.sd[j]
        } else {
            0.0
        }
    }

    /// Standardised rows, one after the other (`rows.len() * width` values).
    pub fn apply(&self, rows: &[Vec<f64>], what: &'static str) -> Result<Vec<f64>> {
        check_rows(rows, self.width(), what)?;
        Ok(rows
            .iter()
            .flat_map(|r| r.iter().enumerate().map(|(j, &v)| self.value(j, v)))
            .collect())
    }

    /// One line per column: its name, training mean and sd, and how many training rows
    /// missed it, e.g. `Age: mean 57.2, sd 9.8, 3 of 420 training rows missing (the mean used)`.
    pub fn describe(&self) -> Vec<String> {
        (0..self.width())
            .map(|j| {
                let missing = match self.missing[j] {
                    0 => String::new(),
                    m => format!(
                        ", {m} of {} training rows missing (the mean used)",
                        self.rows
                    ),
                };
                format!(
                    "{}: mean {:.4}, sd {:.4}{missing}",
                    self.columns[j], self.mean[j], self.sd[j]
                )
            })
            .collect()
    }
}

/// The first `show` names joined by commas, then how many more: `Age, original_x and 21
/// more` (for messages about long column lists).
pub fn name_list(names: &[String], show: usize) -> String {
    let shown = names[..names.len().min(show)].join(", ");
    match names.len().saturating_sub(show) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

fn check_rows(rows: &[Vec<f64>], width: usize, what: &'static str) -> Result<()> {
    if rows.is_empty() {
        return Err(Error::input(what, "no rows"));
    }
    if let Some(i) = rows.iter().position(|r| r.len() != width) {
        return Err(Error::input(
            what,
            format!("row {i} has {} values, expected {width}", rows[i].len()),
        ));
    }
    Ok(())
}

/// Standardised workbook columns of each image (`values`: `n * columns.len()`, row-major,
/// finite), the tabular input of a fusion model. Built by [`Covariates::new`] from raw rows
/// and a [`Standardiser`] fitted on the training images.
#[derive(Debug, Clone, PartialEq)]
pub struct Covariates {
    /// Column names.
    pub columns: Vec<String>,
    /// Standardised values, `n * columns.len()`.
    pub values: Vec<f32>,
}

impl Covariates {
    /// Standardise `rows` (one per image) with `scaler`.
    pub fn new(scaler: &Standardiser, rows: &[Vec<f64>]) -> Result<Self> {
        Ok(Self {
            columns: scaler.columns.clone(),
            values: scaler
                .apply(rows, "covariates")?
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        })
    }

    /// Number of columns.
    pub fn width(&self) -> usize {
        self.columns.len()
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.values.len() / self.width().max(1)
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The rows at `idx`, in that order (`idx.len() * width` values).
    pub fn gather(&self, idx: &[usize]) -> Vec<f32> {
        let k = self.width();
        idx.iter()
            .flat_map(|&i| self.values[i * k..(i + 1) * k].iter().copied())
            .collect()
    }
}

/// The values at `idx`, in that order.
pub fn pick<T: Clone>(values: &[T], idx: &[usize]) -> Vec<T> {
    idx.iter().map(|&i| values[i].clone()).collect()
}

/// The numeric columns `columns` of `df` as rows of f64 (nulls as NaN), for
/// [`Logistic`](crate::model::baseline::Logistic).
pub fn numeric_features(df: &DataFrame, columns: &[&str]) -> Result<Vec<Vec<f64>>> {
    let mut cols = Vec::with_capacity(columns.len());
    for name in columns {
        let c = df
            .column(name)
            .map_err(|e| Error::table(format!("feature column {name}"), e))?;
        if !c.dtype().is_primitive_numeric() && c.dtype() != &DataType::Boolean {
            return Err(Error::input(
                "features",
                format!("column {name} is {} and not numeric", c.dtype()),
            ));
        }
        let f = c
            .cast(&DataType::Float64)
            .map_err(|e| Error::table(format!("feature column {name}"), e))?;
        let v: Vec<f64> = f
            .f64()
            .map_err(|e| Error::table(format!("feature column {name}"), e))?
            .iter()
            .map(|x| x.unwrap_or(f64::NAN))
            .collect();
        cols.push(v);
    }
    Ok((0..df.height())
        .map(|i| cols.iter().map(|c| c[i]).collect())
        .collect())
}
