//! Label rules evaluated, one evaluator for both things a rule can label: a row of a
//! labelled sheet (its cells, and the file name its file column gives) and a file of a
//! labelled image root (its name and the folders below the root).

use super::super::sheets::Sheet;
use crate::error::{Error, Result};
use crate::manifest::LabelRule;

/// What a label rule reads.
pub(crate) trait Subject {
    /// The text of `column` (an error naming it when there is no such column).
    fn cell(&self, column: &str) -> Result<String>;
    /// The image file's name (a row: its file column's cell), empty when there is none.
    fn file_name(&self) -> String;
    /// The name of the folder `level` below the image root (1 = directly below), when the
    /// subject is a file that deep.
    fn folder(&self, level: usize) -> Option<String>;
}

/// What a rule decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The class, empty when the rule gives none.
    Class(String),
    /// The rules of an `agree` give different classes: what each said.
    Disagree(String),
}

/// The class `rule` gives `subject`.
pub(crate) fn class_of(rule: &LabelRule, subject: &dyn Subject) -> Result<Verdict> {
    Ok(Verdict::Class(match rule {
        LabelRule::Constant { class } => class.clone(),
        LabelRule::Column {
            column,
            positive,
            positive_class,
            negative_class,
        } => {
            let v = subject.cell(column)?;
            if positive.iter().any(|p| p == v.trim()) {
                positive_class.clone()
            } else {
                negative_class.clone()
            }
        }
        LabelRule::Map { column, classes } => classes
            .get(subject.cell(column)?.trim())
            .cloned()
            .unwrap_or_default(),
        LabelRule::FileName { contains } => {
            let name = subject.file_name();
            contains
                .iter()
                .find(|(s, _)| name.contains(s.as_str()))
                .map(|(_, c)| c.clone())
                .unwrap_or_default()
        }
        LabelRule::Folder { level, classes } => subject
            .folder(*level)
            .and_then(|f| classes.get(&f).cloned())
            .unwrap_or_default(),
        LabelRule::First { rules } => {
            for r in rules {
                match class_of(r, subject)? {
                    Verdict::Class(c) if c.is_empty() => continue,
                    v => return Ok(v),
                }
            }
            String::new()
        }
        LabelRule::Agree { rules } => {
            let mut classes = Vec::with_capacity(rules.len());
            for r in rules {
                match class_of(r, subject)? {
                    Verdict::Class(c) => classes.push(c),
                    disagree => return Ok(disagree),
                }
            }
            if !classes.windows(2).all(|w| w[0] == w[1]) {
                let said: Vec<String> = rules
                    .iter()
                    .zip(&classes)
                    .map(|(r, c)| {
                        let c = if c.is_empty() { "no class" } else { c.as_str() };
                        format!("{} says {c}", what_it_read(r, subject))
                    })
                    .collect();
                return Ok(Verdict::Disagree(format!(
                    "the label rules disagree: {}",
                    said.join(", ")
                )));
            }
            classes.into_iter().next().unwrap_or_default()
        }
    }))
}

/// What a rule read, for an audit reason: "folder `1`", "file name `..._class0.png`".
fn what_it_read(rule: &LabelRule, subject: &dyn Subject) -> String {
    match rule {
        LabelRule::Folder { level, .. } => {
            format!("folder `{}`", subject.folder(*level).unwrap_or_default())
        }
        LabelRule::FileName { .. } => format!("file name `{}`", subject.file_name()),
        other => format!("rule `{}`", other.describe()),
    }
}

/// Row `r` of a labelled sheet; `file_col` names each row's image file.
pub(crate) struct Row<'a> {
    pub sheet: &'a Sheet,
    pub r: usize,
    pub file_col: Option<usize>,
}

impl Subject for Row<'_> {
    fn cell(&self, column: &str) -> Result<String> {
        let c = self.sheet.column_index(column)?;
        Ok(self.sheet.rows[self.r][c].to_text().unwrap_or_default())
    }

    fn file_name(&self) -> String {
        self.file_col
            .map(|c| self.sheet.rows[self.r][c].to_text().unwrap_or_default())
            .unwrap_or_default()
    }

    fn folder(&self, _level: usize) -> Option<String> {
        None
    }
}

/// A file of a labelled image root: its path below the root, one name per part.
pub(crate) struct File<'a> {
    pub below: &'a [String],
}

impl Subject for File<'_> {
    fn cell(&self, column: &str) -> Result<String> {
        // The manifest refuses column rules on image roots when it is read.
        Err(Error::input(
            "label",
            format!(
                "a file has no column `{column}`: an image root's rule reads its name and folders"
            ),
        ))
    }

    fn file_name(&self) -> String {
        self.below.last().cloned().unwrap_or_default()
    }

    fn folder(&self, level: usize) -> Option<String> {
        folder(self.below, level).map(str::to_string)
    }
}

/// The name of the folder `level` below the root (1 = directly below) of a file whose path
/// below the root is `below`, when it sits that deep.
pub(crate) fn folder(below: &[String], level: usize) -> Option<&str> {
    (level >= 1 && level < below.len()).then(|| below[level - 1].as_str())
}
