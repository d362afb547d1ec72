//! Workbook columns as features: one row per labelled spreadsheet row, with its class and
//! patient, for the tabular baselines (and, later, image + tabular fusion).
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

use super::pseudonym;
use crate::error::{Error, Result};
use crate::ingest::key::PartKind;
use crate::ingest::merge::{file_column, patient_part, row_label};
use crate::ingest::sheets::{read_sheet, SheetOptions};
use crate::manifest::Manifest;

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
    /// Normalised patient id of each row (trimmed, upper case). Never display it: use
    /// [`Tabular::pseudonyms`].
    patients: Vec<String>,
}

impl Tabular {
    /// Read the manifest's labelled sheets and keep the `columns` they select. The patient
    /// is the key's patient column, normalised as the merge does.
    pub fn load(manifest: &Manifest, columns: &FeatureColumns) -> Result<Self> {
        let key = manifest.key.as_ref().ok_or_else(|| Error::Manifest {
            manifest: manifest.source.clone(),
            message: "no [key] section: the patient column is unknown".into(),
        })?;
        let kinds: Vec<PartKind> = key.columns.iter().map(|c| PartKind::guess(c)).collect();
        let patient_col = patient_part(&key.columns, &kinds).map(|p| key.columns[p].clone());
        let mut out = Tabular {
            columns: vec![],
            x: vec![],
            labels: vec![],
            sheets: vec![],
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
            let pc = patient_col
                .as_ref()
                .map(|c| sheet.column_index(c))
                .transpose()?;
            for r in 0..sheet.rows.len() {
                out.labels.push(row_label(spec, &sheet, r, file_col)?);
                out.sheets.push(sheet.name.clone());
                let id = pc
                    .and_then(|c| PartKind::Id.normalise(&sheet.rows[r][c]).ok())
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
