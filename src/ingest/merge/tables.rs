//! The merge's tables and files: the audit, its counts per status, the records, the
//! merged sheet, and `MergeResult::write` (CSV, Parquet, an Excel copy of the audit).

use std::collections::BTreeMap;
use std::path::Path;

use polars::prelude::*;

use super::stages::{Inputs, SheetMatch};
use super::{AuditEntry, Ids, MergeResult, MergeSummary, Record, Status};
use crate::error::{Error, Result};
use crate::ingest::sheets::Sheet;
use crate::manifest::Manifest;

/// The merge sheet's matched rows with all columns of both sides (listing columns that
/// clash get `_listing`), plus `match` and `image_path`; empty without a listing.
pub(super) fn merged_frame(
    manifest: &Manifest,
    inputs: &Inputs,
    matched: &[SheetMatch],
    records: &[Record],
) -> Result<DataFrame> {
    let (Some(l), Some(name)) = (&inputs.listing, manifest.merge.as_ref().map(|m| &m.sheet)) else {
        return Ok(DataFrame::empty());
    };
    let Some((ks, m)) = inputs
        .sheets
        .iter()
        .zip(matched)
        .find(|(ks, _)| &ks.sheet.name == name)
    else {
        return Ok(DataFrame::empty());
    };
    let s = &ks.sheet;
    let pick = |sheet: &Sheet, rows: Vec<usize>, suffix: &str, taken: &[String]| {
        let sub = Sheet {
            rows: rows.iter().map(|&r| sheet.rows[r].clone()).collect(),
            row_numbers: rows.iter().map(|&r| sheet.row_numbers[r]).collect(),
            ..sheet.clone()
        };
        let df = sub.to_dataframe()?;
        Ok::<_, Error>(
            df.columns()
                .iter()
                .map(|c| {
                    let mut c = c.clone();
                    if taken.iter().any(|t| t.as_str() == c.name().as_str()) {
                        c.rename(format!("{}{suffix}", c.name()).into());
                    }
                    c
                })
                .collect::<Vec<_>>(),
        )
    };
    let pairs = &m.pairs;
    let mut cols = pick(s, pairs.iter().map(|p| p.0).collect(), "", &[])?;
    cols.extend(pick(
        l.sheet(),
        pairs.iter().map(|p| p.1).collect(),
        "_listing",
        &s.columns,
    )?);
    let base = records.iter().position(|r| r.sheet == s.name).unwrap_or(0);
    cols.push(Column::new(
        "match".into(),
        pairs.iter().map(|p| p.2.as_str()).collect::<Vec<_>>(),
    ));
    cols.push(Column::new(
        "image_path".into(),
        pairs
            .iter()
            .map(|p| {
                let r = &records[base + p.0];
                r.dicom.as_ref().or(r.jpg.as_ref()).map(|f| {
                    f.strip_prefix(&manifest.base_dir)
                        .unwrap_or(f)
                        .display()
                        .to_string()
                })
            })
            .collect::<Vec<_>>(),
    ));
    DataFrame::new(pairs.len(), cols).map_err(|e| Error::table("merged table", e))
}

impl MergeResult {
    /// Audit lines as a table: workbook, sheet, row, key, status, reason, counterpart_row,
    /// file (relative to the manifest's folder).
    fn audit_rows(&self, a: &[&AuditEntry]) -> Result<DataFrame> {
        df!(
            "workbook" => a.iter().map(|e| e.workbook.as_str()).collect::<Vec<_>>(),
            "sheet" => a.iter().map(|e| e.sheet.as_str()).collect::<Vec<_>>(),
            "row" => a.iter().map(|e| e.row).collect::<Vec<_>>(),
            "key" => a.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            "status" => a.iter().map(|e| e.status.as_str()).collect::<Vec<_>>(),
            "reason" => a.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
            "counterpart_row" => a.iter().map(|e| e.counterpart_row).collect::<Vec<_>>(),
            "file" => a.iter().map(|e| e.file.as_deref().map(|f| self.shown_path(f))).collect::<Vec<_>>(),
        )
        .map_err(|e| Error::table("audit", e))
    }

    /// The audit as a DataFrame: `workbook, sheet, row, key, status, reason,
    /// counterpart_row, file`.
    pub fn audit_frame(&self) -> Result<DataFrame> {
        self.audit_rows(&self.audit.iter().collect::<Vec<_>>())
    }

    /// The audit lines whose status is one of `statuses`, as [`MergeResult::audit_frame`]
    /// has them: e.g. `&[Status::Unmatched]` for the rows that found nothing.
    pub fn audit_frame_of(&self, statuses: &[Status]) -> Result<DataFrame> {
        let keep: Vec<&AuditEntry> = self
            .audit
            .iter()
            .filter(|e| statuses.contains(&e.status))
            .collect();
        self.audit_rows(&keep)
    }

    /// Audit lines of `sheet` with status `status`.
    pub fn count(&self, sheet: &str, status: Status) -> usize {
        self.audit
            .iter()
            .filter(|a| a.sheet == sheet && a.status == status)
            .count()
    }

    /// How many audit lines each sheet (or `files`) has per status: one row per sheet, one
    /// column per status, and `total`.
    pub fn status_frame(&self) -> Result<DataFrame> {
        let mut counts: BTreeMap<String, [u32; 6]> = BTreeMap::new();
        for e in &self.audit {
            let name = if e.sheet.is_empty() {
                "(files)".to_string()
            } else {
                e.sheet.clone()
            };
            let i = Status::ALL
                .iter()
                .position(|s| *s == e.status)
                .expect("every status is listed in ALL");
            counts.entry(name).or_default()[i] += 1;
        }
        let mut cols = vec![Column::new(
            "sheet".into(),
            counts.keys().cloned().collect::<Vec<_>>(),
        )];
        for (i, s) in Status::ALL.iter().enumerate() {
            cols.push(Column::new(
                s.as_str().into(),
                counts.values().map(|c| c[i]).collect::<Vec<_>>(),
            ));
        }
        cols.push(Column::new(
            "total".into(),
            counts
                .values()
                .map(|c| c.iter().sum::<u32>())
                .collect::<Vec<_>>(),
        ));
        DataFrame::new_infer_height(cols).map_err(|e| Error::table("status counts", e))
    }

    /// The records as a DataFrame (one row per labelled row; paths relative to the
    /// manifest's folder, laterality as `L` / `R`; a `source` column for a cohort of
    /// several downloads; `roi_mask` and `roi_crop` columns when the manifest names ROI
    /// files).
    pub fn records_frame(&self) -> Result<DataFrame> {
        let r = &self.records;
        let path = |p: &Option<std::path::PathBuf>| p.as_deref().map(|p| self.shown_path(p));
        let mut df = df!(
            "sheet" => r.iter().map(|e| e.sheet.as_str()).collect::<Vec<_>>(),
            "row" => r.iter().map(|e| e.row).collect::<Vec<_>>(),
            "label" => r.iter().map(|e| e.label.as_str()).collect::<Vec<_>>(),
            "patient_id" => r.iter().map(|e| e.patient_id.as_str()).collect::<Vec<_>>(),
            "key" => r.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            "status" => r.iter().map(|e| e.status.as_str()).collect::<Vec<_>>(),
            "listing_row" => r.iter().map(|e| e.listing_row).collect::<Vec<_>>(),
            "dicom" => r.iter().map(|e| path(&e.dicom)).collect::<Vec<_>>(),
            "jpg" => r.iter().map(|e| path(&e.jpg)).collect::<Vec<_>>(),
            "laterality" => r.iter().map(|e| e.laterality.map(|l| l.code())).collect::<Vec<_>>(),
            "view" => r.iter().map(|e| e.view.clone()).collect::<Vec<_>>(),
        )
        .map_err(|e| Error::table("records", e))?;
        if r.iter().any(|e| e.source.is_some()) {
            let source: Vec<Option<&str>> = r.iter().map(|e| e.source.as_deref()).collect();
            df.with_column(Column::new("source".into(), source))
                .map_err(|e| Error::table("records", e))?;
        }
        if r.iter().any(|e| e.roi_mask.is_some()) {
            let mask: Vec<Option<String>> = r.iter().map(|e| path(&e.roi_mask)).collect();
            let crop: Vec<Option<String>> = r.iter().map(|e| path(&e.roi_crop)).collect();
            for (name, values) in [("roi_mask", mask), ("roi_crop", crop)] {
                df.with_column(Column::new(name.into(), values))
                    .map_err(|e| Error::table("records", e))?;
            }
        }
        Ok(df)
    }

    /// The summary as the export shows it: with [`Ids::Pseudonyms`], each unmatched row's
    /// key and reason and each cell warning's text with patient ids replaced by pseudonyms.
    pub fn summary_for(&self, ids: Ids) -> MergeSummary {
        let mut s = self.summary.clone();
        if ids == Ids::Pseudonyms {
            let r = self.redactor();
            for u in &mut s.unmatched {
                u.key = r.text(&u.key);
                u.reason = r.text(&u.reason);
            }
            for w in &mut s.warnings {
                w.warning = r.text(&w.warning);
            }
        }
        s
    }

    /// Write `merged.parquet`, `records.csv`, `audit.csv`, `audit.parquet`, `audit.xlsx`
    /// and `summary.json` into `dir` (created). With [`Ids::Pseudonyms`] every text column of
    /// the records and the audit and the summary's keys show pseudonyms (file paths too:
    /// `train_images/P-.../1234.dcm`); `merged.parquet`, the table asked for, is written as
    /// merged.
    pub fn write(&self, dir: &Path, ids: Ids) -> Result<()> {
        let _lock = crate::outlock::OutLock::folder(dir)?;
        let redactor = (ids == Ids::Pseudonyms).then(|| self.redactor());
        let shown = |df: DataFrame| match &redactor {
            Some(r) => r.frame(&df),
            None => Ok(df),
        };
        let write_csv =
            |df: &mut DataFrame, name: &str| crate::ingest::frames::write_csv(df, &dir.join(name));
        let write_parquet = |df: &mut DataFrame, name: &str| {
            crate::ingest::frames::write_parquet(df, &dir.join(name))
        };
        let mut merged = self.merged.clone();
        write_parquet(&mut merged, "merged.parquet")?;
        write_csv(&mut shown(self.records_frame()?)?, "records.csv")?;
        let mut audit = shown(self.audit_frame()?)?;
        write_csv(&mut audit, "audit.csv")?;
        write_parquet(&mut audit, "audit.parquet")?;
        write_xlsx(&audit, &dir.join("audit.xlsx"), "audit")?;
        // Written last and whole: a summary.json means the other files are complete.
        crate::outlock::write_json(&self.summary_for(ids), &dir.join("summary.json"))
    }
}

/// Write a DataFrame as one worksheet (header row, then values; nulls left empty), for
/// people who open the audit in Excel.
pub fn write_xlsx(df: &DataFrame, path: &Path, sheet: &str) -> Result<()> {
    let err = |e: rust_xlsxwriter::XlsxError| Error::WorkbookWrite {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name(sheet).map_err(err)?;
    for (c, col) in df.columns().iter().enumerate() {
        let c = c as u16;
        ws.write_string(0, c, col.name().as_str()).map_err(err)?;
        for r in 0..df.height() {
            let row = r as u32 + 1;
            match col.get(r).unwrap_or(AnyValue::Null) {
                AnyValue::Null => {}
                AnyValue::String(s) => {
                    ws.write_string(row, c, s).map_err(err)?;
                }
                v => match v.extract::<f64>() {
                    Some(x) => {
                        ws.write_number(row, c, x).map_err(err)?;
                    }
                    None => {
                        ws.write_string(row, c, v.to_string()).map_err(err)?;
                    }
                },
            }
        }
    }
    // Made in memory, then written whole under a temporary name and renamed.
    let bytes = wb.save_to_buffer().map_err(err)?;
    crate::outlock::write_atomic(path, &bytes)
}
