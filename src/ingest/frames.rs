//! DataFrames to and from files: [`read_csv`], [`write_csv`] and [`write_parquet`] (each
//! written whole under a temporary name and renamed), and [`ScoreTable`], the label and
//! score columns of a CSV (a model's predictions or a spreadsheet export).

use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};

/// Labels and scores read from two columns of a CSV file.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreTable {
    /// `true` where the label column equals the positive value.
    pub labels: Vec<bool>,
    /// The score column as f64.
    pub scores: Vec<f64>,
    /// The label value taken as positive.
    pub positive: String,
}

/// A CSV file with a header row, every column's type inferred from all its rows.
pub fn read_csv(path: &Path) -> Result<DataFrame> {
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(None)
        .try_into_reader_with_file_path(Some(PathBuf::from(path)))
        .and_then(|r| r.finish())
        .map_err(|e| Error::table(path.display().to_string(), e))
}

/// Write `df` as CSV with a header row (fields quoted where needed).
pub fn write_csv(df: &mut DataFrame, path: &Path) -> Result<()> {
    write_whole(path, |f| CsvWriter::new(f).finish(df).map(|_| ()))
}

/// Write `df` as Parquet (whole, as [`write_csv`]).
pub fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    write_whole(path, |f| ParquetWriter::new(f).finish(df).map(|_| ()))
}

/// Write a table under a temporary name, then rename it: a killed process never leaves a
/// half table under the real name.
fn write_whole(path: &Path, write: impl FnOnce(std::fs::File) -> PolarsResult<()>) -> Result<()> {
    let tmp = crate::outlock::partial_path(path);
    let f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    write(f).map_err(|e| Error::table(path.display().to_string(), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Find `name` among the frame's columns, or say which similar names exist.
pub(crate) fn column<'a>(df: &'a DataFrame, file: &Path, name: &str) -> Result<&'a Column> {
    df.column(name).map_err(|_| {
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let lower = name.to_lowercase();
        let similar: Vec<&String> = names
            .iter()
            .filter(|c| {
                let c = c.to_lowercase();
                c.contains(&lower) || lower.contains(&c)
            })
            .collect();
        let hint = if similar.is_empty() {
            format!("columns are: {}", names.join(", "))
        } else {
            format!(
                "similar: {}",
                similar
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Error::data(file, format!("no column `{name}` ({hint})"))
    })
}

/// Line numbers as a text editor shows them: the header is line 1.
fn line(row: usize) -> usize {
    row + 2
}

/// A numeric column as finite f64 values; an empty or infinite cell is an error naming the
/// line.
fn finite_column(df: &DataFrame, file: &Path, name: &str) -> Result<Vec<f64>> {
    let s = column(df, file, name)?;
    if !s.dtype().is_primitive_numeric() {
        return Err(Error::data(
            file,
            format!("column `{name}` is {}, not numeric", s.dtype()),
        ));
    }
    let s = s
        .cast(&DataType::Float64)
        .map_err(|e| Error::table(file.display().to_string(), e))?;
    let mut out = Vec::with_capacity(df.height());
    for (row, v) in s.f64().expect("cast to f64").iter().enumerate() {
        match v {
            Some(x) if x.is_finite() => out.push(x),
            Some(x) => {
                return Err(Error::data(
                    file,
                    format!(
                        "line {}: `{name}` is {x} (scores must be finite)",
                        line(row)
                    ),
                ))
            }
            None => {
                return Err(Error::data(
                    file,
                    format!("line {}: `{name}` is empty", line(row)),
                ))
            }
        }
    }
    Ok(out)
}

/// The text of column `name` of `df` (read from `file`), numbers as written; an empty cell
/// is an error naming the line.
pub fn text_column(df: &DataFrame, file: &Path, name: &str) -> Result<Vec<String>> {
    let l = column(df, file, name)?
        .cast(&DataType::String)
        .map_err(|e| Error::table(file.display().to_string(), e))?;
    l.str()
        .expect("cast to string")
        .iter()
        .enumerate()
        .map(|(row, v)| {
            v.map(str::to_string)
                .ok_or_else(|| Error::data(file, format!("line {}: `{name}` is empty", line(row))))
        })
        .collect()
}

/// A CSV's label column and one score column per class: what `mammolab metrics --score
/// P1,P2,P3 --classes A,B,C` reads.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScoreTable {
    /// Each row's class, as an index into the classes.
    pub labels: Vec<usize>,
    /// Each row's scores, in class order.
    pub scores: Vec<Vec<f64>>,
}

/// One score column per class.
fn check_score_columns<S>(scores: &[S], classes: &[S]) -> Result<()> {
    if scores.len() != classes.len() {
        return Err(Error::input(
            "metrics",
            format!(
                "{} score columns for {} classes: give one score column per class, in the order of --classes",
                scores.len(),
                classes.len()
            ),
        ));
    }
    Ok(())
}

impl ClassScoreTable {
    /// Read `label` (values among `classes`) and the `scores` columns (one per class, in the
    /// same order) of a CSV with a header row; a label outside `classes`, an empty cell or
    /// a non-numeric score is an error naming the line.
    pub fn from_csv<S: AsRef<str>>(
        path: impl AsRef<Path>,
        label: &str,
        scores: &[S],
        classes: &[S],
    ) -> Result<Self> {
        let path = path.as_ref();
        // Before reading: a wrong count is the caller's, whatever the file holds.
        check_score_columns(scores, classes)?;
        Self::from_frame(&read_csv(path)?, path, label, scores, classes)
    }

    /// [`ClassScoreTable::from_csv`] on a CSV already read into `df` (from `path`, which
    /// errors name).
    pub fn from_frame<S: AsRef<str>>(
        df: &DataFrame,
        path: &Path,
        label: &str,
        scores: &[S],
        classes: &[S],
    ) -> Result<Self> {
        check_score_columns(scores, classes)?;
        let columns: Vec<Vec<f64>> = scores
            .iter()
            .map(|c| finite_column(df, path, c.as_ref()))
            .collect::<Result<_>>()?;
        let names: Vec<&str> = classes.iter().map(AsRef::as_ref).collect();
        let labels = text_column(df, path, label)?
            .iter()
            .enumerate()
            .map(|(row, v)| {
                names.iter().position(|c| c == v).ok_or_else(|| {
                    Error::data(
                        path,
                        format!(
                            "line {}: `{label}` is `{v}`, not one of the classes {}",
                            line(row),
                            names.join(", ")
                        ),
                    )
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        let scores = (0..labels.len())
            .map(|i| columns.iter().map(|c| c[i]).collect())
            .collect();
        Ok(Self { labels, scores })
    }
}

impl ScoreTable {
    /// Read `label` and `score` columns of a CSV with a header row.
    ///
    /// `positive` is the label value of the positive class; without it a label column of
    /// 0/1 or true/false takes 1/true as positive, and anything else is an error that lists
    /// the values found. Empty cells and non-numeric scores are errors naming the line.
    pub fn from_csv(
        path: impl AsRef<Path>,
        label: &str,
        score: &str,
        positive: Option<&str>,
    ) -> Result<Self> {
        let path = path.as_ref();
        Self::from_frame(&read_csv(path)?, path, label, score, positive)
    }

    /// The same from a DataFrame already in memory (`file` is only used in messages).
    pub fn from_frame(
        df: &DataFrame,
        file: &Path,
        label: &str,
        score: &str,
        positive: Option<&str>,
    ) -> Result<Self> {
        let scores = finite_column(df, file, score)?;
        let owned = text_column(df, file, label)?;
        let values: Vec<&str> = owned.iter().map(String::as_str).collect();
        let (positive, labels): (String, Vec<bool>) = match positive {
            Some(p) => (p.to_string(), values.iter().map(|v| *v == p).collect()),
            None => {
                const TRUE: [&str; 3] = ["1", "1.0", "true"];
                const FALSE: [&str; 3] = ["0", "0.0", "false"];
                if let Some(v) = values
                    .iter()
                    .find(|v| !TRUE.contains(v) && !FALSE.contains(v))
                {
                    return Err(Error::data(
                        file,
                        format!(
                            "column `{label}` is not 0/1 or true/false (found `{v}`); name the positive class with --positive"
                        ),
                    ));
                }
                (
                    "1".into(),
                    values.iter().map(|v| TRUE.contains(v)).collect(),
                )
            }
        };
        if !labels.contains(&true) && !values.is_empty() {
            let mut distinct = values.clone();
            distinct.sort_unstable();
            distinct.dedup();
            distinct.truncate(10);
            return Err(Error::data(
                file,
                format!(
                    "no row has `{label}` = {positive} (values: {})",
                    distinct.join(", ")
                ),
            ));
        }
        Ok(Self {
            labels,
            scores,
            positive,
        })
    }
}
