//! Data manifests: what a cohort is and where its files are.
//!
//! A manifest is a TOML file (see `data-manifests/` in the repository) that names the
//! cohort's tables (workbooks or CSV files), which sheet holds which class, the columns
//! that build the study key, the image roots and the provenance of it all. Paths are
//! relative to the manifest's folder. Every file may carry a `sha256`; [`Manifest::verify`]
//! checks that each named file exists and has that checksum, so a result can always be
//! traced back to the exact bytes it was computed from.
//!
//! ```
//! # fn main() -> mammolab::Result<()> {
//! let text = r#"
//! schema = 1
//! [cohort]
//! name = "tiny"
//! [[table]]
//! id = "combined"
//! path = "datacombined.xlsx"
//! [[sheet]]
//! table = "combined"
//! name = "Cancer"
//! label = { rule = "constant", class = "cancer" }
//! "#;
//! let m = mammolab::manifest::Manifest::from_toml_str(text, "/data/tiny/manifest.toml")?;
//! assert_eq!(m.resolve(&m.tables[0].path), std::path::Path::new("/data/tiny/datacombined.xlsx"));
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};

/// The manifest format version this crate reads and writes.
pub const SCHEMA: u32 = 1;

/// A parsed data manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Format version; must be [`SCHEMA`].
    pub schema: u32,
    /// Let table, image-root and truth paths leave the manifest's folder (absolute, or
    /// with `..`). Off by default, so a manifest cannot point a run at files elsewhere on
    /// the machine without saying so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_outside: bool,
    /// Name, description, licence and provenance.
    pub cohort: Cohort,
    /// Spreadsheets and CSV files.
    #[serde(default, rename = "table", skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    /// Which sheet of which table holds which rows, and how they are labelled.
    #[serde(default, rename = "sheet", skip_serializing_if = "Vec::is_empty")]
    pub sheets: Vec<Sheet>,
    /// The columns whose values, joined, identify a study image (seed 001's `UniqueKey`).
    #[serde(default)]
    pub key: Option<Key>,
    /// Where a row's patient comes from when no key column says it (`[patient]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient: Option<PatientRule>,
    /// How the labelled sheets are matched to an image listing.
    #[serde(default)]
    pub merge: Option<Merge>,
    /// Folders that hold the images.
    #[serde(default, rename = "image_root")]
    pub image_roots: Vec<ImageRoot>,
    /// Other manifests whose cohorts this one joins (`[[source]]`): a cohort of several
    /// downloads. Such a manifest has no tables, sheets, key or image roots of its own.
    #[serde(default, rename = "source", skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
    /// The download's own train / validation / test division, by a column's values or by
    /// sheet ([`SplitRule`]); without it, runs split by patient at random.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<SplitRule>,
    /// The class vocabulary: names in index order and the positive class
    /// ([`Manifest::classes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<ClassList>,
    /// Present when `mammolab synth` generated the cohort.
    #[serde(default)]
    pub synth: Option<SynthInfo>,
    /// Folder the manifest was read from; relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// The manifest file itself (for error messages).
    #[serde(skip)]
    pub source: PathBuf,
}

/// Who made the cohort and under which terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// Short name, used in cache keys and reports.
    pub name: String,
    /// What the cohort is.
    #[serde(default)]
    pub description: String,
    /// Licence or data-use terms.
    #[serde(default)]
    pub licence: String,
    /// Where the data came from (URL, export, generator command).
    #[serde(default)]
    pub provenance: String,
}

/// One download of a cohort of several (`[[source]]`): its own manifest, read and merged as
/// it stands, its records tagged with the source's name and its patient ids prefixed with it
/// (`inbreast/8D288A1295CA3801`), so that two downloads never share a patient by accident.
/// The classes are the joining manifest's `[classes]`; each source's label rule must give
/// names among them. Seed 002's three sources:
///
/// ```toml
/// [[source]]
/// name = "cbis-ddsm"
/// manifest = "cbis-ddsm/manifest.toml"
///
/// [[source]]
/// name = "inbreast"
/// manifest = "inbreast/manifest.toml"
///
/// [classes]
/// names = ["normal", "benign", "malignant"]
/// ```
///
/// The joined cohort is split by patient at random; a source's own `[split]` is not used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The name its records carry (`cbis-ddsm`, `inbreast`, `mini-mias`).
    pub name: String,
    /// Its manifest, relative to this one.
    pub manifest: PathBuf,
    /// Expected sha256 of that manifest (which holds its tables' checksums), if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// A spreadsheet (.xlsx/.xlsm/.xls/.ods) or CSV file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Identifier used by [`Sheet::table`] and [`Merge::listing`].
    pub id: String,
    /// Path relative to the manifest.
    pub path: PathBuf,
    /// Expected sha256 (lower-case hex) of the file, if recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One sheet of a table and the class of its rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sheet {
    /// The [`Table::id`] this sheet belongs to.
    pub table: String,
    /// Sheet name (a CSV table has one sheet, named by the file's stem).
    pub name: String,
    /// How a row's class is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelRule>,
    /// The [`ImageRoot::id`] where this sheet's images live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_root: Option<String>,
}

/// How the class of a row is decided.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case", deny_unknown_fields)]
pub enum LabelRule {
    /// Every row of the sheet has this class (seed 001: the `Cancer` sheet).
    Constant {
        /// The class name.
        class: String,
    },
    /// The class is read from a column; values listed in `positive` mean `positive_class`.
    Column {
        /// The column.
        column: String,
        /// Cell values (as text) that mean the positive class.
        positive: Vec<String>,
        /// Name of the positive class.
        #[serde(default = "default_positive")]
        positive_class: String,
        /// Name of the other class.
        #[serde(default = "default_negative")]
        negative_class: String,
    },
    /// The class is read from a column through a table of values: a value the table does
    /// not list gives the row no class, and it is left out of training (counted with the
    /// rows left out). Kaggle's DDSM patches: `classes = { "1" = "benign", "2" = "benign",
    /// "3" = "malignant", "4" = "malignant" }` leaves the negatives (`0`) out.
    Map {
        /// The column.
        column: String,
        /// Cell value (as text, trimmed) -> class.
        classes: BTreeMap<String, String>,
    },
    /// The first of several rules that gives the row a class (a `map` rule gives none for a
    /// value it does not list). mini-MIAS: `CLASS` `NORM` is normal, else `SEVERITY` says
    /// benign or malignant:
    ///
    /// ```toml
    /// label = { rule = "first", rules = [
    ///   { rule = "map", column = "CLASS", classes = { NORM = "normal" } },
    ///   { rule = "map", column = "SEVERITY", classes = { B = "benign", M = "malignant" } },
    /// ] }
    /// ```
    First {
        /// The rules, tried in order.
        rules: Vec<LabelRule>,
    },
    /// The class is read from the image file name (seed 003's IDC patches end in `class1.png`).
    FileName {
        /// Substring of the file name -> class.
        contains: BTreeMap<String, String>,
    },
    /// The class is the name of a folder an image sits in, `level` folders below its image
    /// root (1: the folder directly below it). Only for an `[[image_root]]`'s own rule: seed
    /// 003's `IDC_regular_ps50_idx5/8863/1/...` is `level = 2, classes = { "0" = "normal",
    /// "1" = "cancer" }`.
    Folder {
        /// Which folder below the image root (1 = directly below).
        level: usize,
        /// Folder name -> class.
        classes: BTreeMap<String, String>,
    },
    /// Every rule must give the same class: a row (or file) where they differ gets none and
    /// an audit line naming what each rule said. Seed 003's patches carry the class twice,
    /// in the folder and in the name:
    ///
    /// ```toml
    /// label = { rule = "agree", rules = [
    ///   { rule = "folder", level = 2, classes = { "0" = "normal", "1" = "cancer" } },
    ///   { rule = "file_name", contains = { "_class0." = "normal", "_class1." = "cancer" } },
    /// ] }
    /// ```
    Agree {
        /// The rules, all of which must agree.
        rules: Vec<LabelRule>,
    },
}

impl LabelRule {
    /// The rule, or one inside it, that reads a column (`column` or `map`).
    fn reads_column(&self) -> Option<&'static str> {
        match self {
            LabelRule::Column { .. } => Some("column"),
            LabelRule::Map { .. } => Some("map"),
            LabelRule::First { rules } | LabelRule::Agree { rules } => {
                rules.iter().find_map(LabelRule::reads_column)
            }
            _ => None,
        }
    }

    /// The rule, or one inside it, that needs the image's path below a root (`folder`).
    fn reads_path(&self) -> Option<&'static str> {
        match self {
            LabelRule::Folder { .. } => Some("folder"),
            LabelRule::First { rules } | LabelRule::Agree { rules } => {
                rules.iter().find_map(LabelRule::reads_path)
            }
            _ => None,
        }
    }

    /// The folder levels the rule reads.
    fn folder_levels(&self) -> Box<dyn Iterator<Item = usize> + '_> {
        match self {
            LabelRule::Folder { level, .. } => Box::new(std::iter::once(*level)),
            LabelRule::First { rules } | LabelRule::Agree { rules } => {
                Box::new(rules.iter().flat_map(LabelRule::folder_levels))
            }
            _ => Box::new(std::iter::empty()),
        }
    }

    /// The rule in one line, each class with the values that give it (to show several
    /// downloads' vocabularies side by side): `Bi-Rads: 1 = normal; 2, 3 = benign; ...`.
    pub fn describe(&self) -> String {
        // Values grouped by class, classes in their first value's order.
        fn by_class(pairs: &BTreeMap<String, String>) -> String {
            let mut classes: Vec<(&str, Vec<&str>)> = vec![];
            for (value, class) in pairs {
                match classes.iter_mut().find(|(c, _)| c == class) {
                    Some((_, values)) => values.push(value),
                    None => classes.push((class, vec![value])),
                }
            }
            classes
                .iter()
                .map(|(c, v)| format!("{} = {c}", v.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        }
        match self {
            LabelRule::Constant { class } => format!("every row = {class}"),
            LabelRule::Column {
                column,
                positive,
                positive_class,
                negative_class,
            } => format!(
                "{column}: {} = {positive_class}; any other = {negative_class}",
                positive.join(", ")
            ),
            LabelRule::Map { column, classes } => format!("{column}: {}", by_class(classes)),
            LabelRule::First { rules } => rules
                .iter()
                .map(LabelRule::describe)
                .collect::<Vec<_>>()
                .join(", else "),
            LabelRule::FileName { contains } => {
                format!("file name contains {}", by_class(contains))
            }
            LabelRule::Folder { level, classes } => {
                format!("folder {level} below the root: {}", by_class(classes))
            }
            LabelRule::Agree { rules } => rules
                .iter()
                .map(LabelRule::describe)
                .collect::<Vec<_>>()
                .join(", and "),
        }
    }
}

/// The `[split]` table: which rows train, validate and test, by the values of one column
/// or by sheet, when a download comes divided (Kaggle's DDSM patches: `part` = `training`,
/// `cv`, `test`; CBIS-DDSM: the `*_train_set` and `*_test_set` CSVs, by sheet name). A row
/// whose value no list names is left out. With `validation` empty, the validation part is
/// drawn from the training rows at random with the run's validation fraction, grouped by
/// patient and balanced by class; where rows carry no patient id (Kaggle's patches) each
/// image is its own group, so validation may share a lesion with training and its scores are
/// optimistic. Test stays as the download divided it.
///
/// ```toml
/// [split]
/// column = "part"
/// train = ["training"]
/// test = ["cv", "test"]
/// ```
///
/// ```toml
/// [split]   # no column: sheet names
/// train = ["mass_case_description_train_set", "calc_case_description_train_set"]
/// test = ["mass_case_description_test_set", "calc_case_description_test_set"]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRule {
    /// The column; without one, the values are sheet names (CBIS-DDSM's official division
    /// is its `*_train_set` and `*_test_set` CSVs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Values whose rows train.
    pub train: Vec<String>,
    /// Values whose rows validate (empty: drawn from the training rows).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validation: Vec<String>,
    /// Values whose rows test.
    pub test: Vec<String>,
}

/// The `[classes]` table: which classes the label rules produce, in which order, and which
/// one is positive. The one place a manifest names them; see [`Manifest::classes`].
///
/// ```toml
/// [classes]
/// names = ["normal", "cancer"]   # optional: index order (default: sorted, the positive last)
/// positive = "cancer"            # optional: leave out for k classes with no positive one
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassList {
    /// Class names in index order (the model's output order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub names: Option<Vec<String>>,
    /// The positive class (what a score is the probability of, what a label `1` means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positive: Option<String>,
}

fn default_positive() -> String {
    "cancer".into()
}
fn default_negative() -> String {
    "normal".into()
}

/// The study key: columns joined with a separator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    /// Columns in key order.
    pub columns: Vec<String>,
    /// Separator between parts (seed 001 used `-`).
    #[serde(default = "default_separator")]
    pub separator: String,
}

fn default_separator() -> String {
    "-".into()
}

/// The `[patient]` table: the column that says whose image a row is, when the key has no
/// column named for the patient (which is the default). Patient-grouped splits keep each
/// patient's images on one side; a download without patient ids groups each image alone.
///
/// ```toml
/// # mini-MIAS numbers each woman's films in pairs, left then right: mdb001 and mdb002 are
/// # one patient (its README, note 1), whose id is the pair's first reference number.
/// [patient]
/// column = "REFNUM"
/// group_of = 2
/// ```
///
/// ```toml
/// # INbreast: the patient is the second part of the image file's name.
/// [patient]
/// file_name_part = 1
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatientRule {
    /// The column (or give `file_name_part`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The patient is this `_`-separated part (from 0) of the name of the row's image file,
    /// instead of a column: INbreast's table says `removed` for every patient, and its files
    /// are named `<File Name>_<patient>_MG_<side>_<view>_ANON.dcm` (`file_name_part = 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name_part: Option<usize>,
    /// Values numbered in runs of this many are one patient: the value's number `n` (its
    /// last run of digits, counting from 1) belongs to the run starting at
    /// `n - (n - 1) % group_of`, and the patient id is the value with that number in place
    /// of `n`, at the same width.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_of: Option<u32>,
}

/// Matching a labelled sheet to an image listing that carries paths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    /// Name of the labelled sheet whose rows are matched (seed 001: `Cancer`).
    pub sheet: String,
    /// The [`Table::id`] of the listing (seed 001: `data_validation_x`).
    pub listing: String,
    /// Sheet of the listing.
    pub listing_sheet: String,
    /// Column of the listing holding image paths from the machine that made it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_column: Option<String>,
}

/// A folder of images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageRoot {
    /// Identifier used by [`Sheet::image_root`].
    pub id: String,
    /// Folder relative to the manifest.
    pub path: PathBuf,
    /// File extensions present, e.g. `["dcm", "jpg"]`.
    #[serde(default)]
    pub formats: Vec<String>,
    /// Column whose value names an image file (without extension).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_column: Option<String>,
    /// How a `file_column` value finds its file (`match = "file_name"`, the default,
    /// `"case_folder"` or `"prefix"`).
    #[serde(
        default,
        rename = "match",
        skip_serializing_if = "FileMatch::is_file_name"
    )]
    pub match_by: FileMatch,
    /// Column whose value names a row's lesion folder (CBIS-DDSM's `ROI mask file path`,
    /// matched by its case folder like `match = "case_folder"`): the folder's two images
    /// are the ROI mask (the one the size of the row's image) and the lesion crop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roi_column: Option<String>,
    /// Class rule for images that no table lists (seed 003's patches carry it in the folder
    /// and the name): with it, every file below the root is a row of its own (see
    /// [`ImageRoot::patient_folder`] and [`ImageRoot::image_size`]). Rules that read a
    /// column (`column`, `map`) need a table and are refused here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<LabelRule>,
    /// With `label`: which folder below the root names the patient (1 = directly below;
    /// seed 003's `IDC_regular_ps50_idx5/8863/...`). Without it each image is its own
    /// patient (a split can then put one slide's patches on both sides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_folder: Option<usize>,
    /// With `label`: every image's expected `[width, height]` in pixels, read from the file's
    /// header. An image of another size is an audit line (`header_mismatch`) and is still
    /// used (the recipe resizes every image); seed 003's patches at a slide's edge are
    /// smaller than `[50, 50]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<[u32; 2]>,
}

/// How a table cell finds its image file below an image root.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileMatch {
    /// By the file name without folders or extension, in any case, anywhere below the root
    /// (seed 001's `FILE0004`; a path from another machine is cut to its name).
    #[default]
    FileName,
    /// By the value's first folder: the one image file inside the folder of that name
    /// directly below the root (CBIS-DDSM: the cell
    /// `Mass-Training_P_00001_LEFT_CC/<UID>/<UID>/000000.dcm` names no file of the download,
    /// whose file is `Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-74994/1.000000-full
    /// mammogram images-24515/1-1.dcm`).
    CaseFolder,
    /// By the file name's first `_`-separated part, in any case, anywhere below the root
    /// (INbreast: the cell `22678622` names
    /// `AllDICOMs/22678622_6c613a14b80a8591_MG_R_CC_ANON.dcm`).
    Prefix,
}

impl FileMatch {
    fn is_file_name(&self) -> bool {
        *self == FileMatch::FileName
    }
}

/// How a synthetic cohort was generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthInfo {
    /// `ci`, `default` or `large` (the hospital export), `cbis-ddsm-ci` or
    /// `cbis-ddsm-default` (the CBIS-DDSM twin).
    pub profile: String,
    /// The generator seed.
    pub seed: u64,
    /// The version of mammolab that wrote the cohort.
    pub generator: String,
    /// The ground-truth file listing planted faults, relative to the manifest.
    pub truth: PathBuf,
    /// Its sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth_sha256: Option<String>,
}

impl Manifest {
    /// Read and check a manifest file (structure only; see [`Manifest::verify`] for files).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).at(path)?;
        Self::from_toml_str(&text, path)
    }

    /// Parse manifest text as if it had been read from `path`.
    pub fn from_toml_str(text: &str, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let err = |message: String| Error::Manifest {
            manifest: path.to_path_buf(),
            message,
        };
        let mut m: Manifest = toml::from_str(text).map_err(|e| {
            // toml's message spans several lines (with a caret); keep the first and the span.
            let span = e
                .span()
                .map(|s| {
                    let line = text[..s.start].matches('\n').count() + 1;
                    format!("line {line}: ")
                })
                .unwrap_or_default();
            err(format!("{span}{}", e.message().replace('\n', " ")))
        })?;
        m.source = path.to_path_buf();
        m.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        m.check_structure().map_err(err)?;
        Ok(m)
    }

    fn check_structure(&self) -> std::result::Result<(), String> {
        if self.schema != SCHEMA {
            return Err(format!(
                "schema {} is not supported (this mammolab reads schema {SCHEMA})",
                self.schema
            ));
        }
        if let Some(ClassList {
            names: Some(names),
            positive,
        }) = &self.classes
        {
            crate::Classes::new(names.clone(), positive.as_deref())
                .map_err(|e| format!("[classes]: {e}"))?;
        }
        let table_ids: Vec<&str> = self.tables.iter().map(|t| t.id.as_str()).collect();
        let root_ids: Vec<&str> = self.image_roots.iter().map(|r| r.id.as_str()).collect();
        for (i, id) in table_ids.iter().enumerate() {
            if table_ids[..i].contains(id) {
                return Err(format!("table id `{id}` is used twice"));
            }
        }
        for s in &self.sheets {
            if !table_ids.contains(&s.table.as_str()) {
                return Err(format!(
                    "sheet `{}` names table `{}`, which is not defined (tables: {})",
                    s.name,
                    s.table,
                    table_ids.join(", ")
                ));
            }
            if let Some(r) = &s.image_root {
                if !root_ids.contains(&r.as_str()) {
                    return Err(format!(
                        "sheet `{}` names image_root `{r}`, which is not defined (image roots: {})",
                        s.name,
                        root_ids.join(", ")
                    ));
                }
            }
        }
        for s in &self.sheets {
            if let Some(rule) = &s.label {
                if let Some(kind) = rule.reads_path() {
                    return Err(format!(
                        "sheet `{}`: a `{kind}` rule reads an image's path; give it to the [[image_root]] (the sheet's rows name their own class)",
                        s.name
                    ));
                }
            }
        }
        for r in &self.image_roots {
            let what = format!("image_root `{}`", r.id);
            match &r.label {
                Some(rule) => {
                    if let Some(kind) = rule.reads_column() {
                        return Err(format!(
                            "{what}: a `{kind}` label rule reads a table's column; an image root's rule reads the file's name or folders (`file_name`, `folder`)"
                        ));
                    }
                    if rule.folder_levels().any(|l| l == 0) || r.patient_folder == Some(0) {
                        return Err(format!(
                            "{what}: folder levels count from 1 (the folder directly below the root)"
                        ));
                    }
                }
                None if r.patient_folder.is_some() || r.image_size.is_some() => {
                    return Err(format!(
                        "{what}: `patient_folder` and `image_size` go with a `label` rule (files that are rows of their own)"
                    ));
                }
                None => {}
            }
        }
        if let Some(m) = &self.merge {
            if !table_ids.contains(&m.listing.as_str()) {
                return Err(format!(
                    "merge.listing names table `{}`, which is not defined",
                    m.listing
                ));
            }
            if !self.sheets.iter().any(|s| s.name == m.sheet) {
                return Err(format!(
                    "merge.sheet `{}` is not one of the [[sheet]] entries",
                    m.sheet
                ));
            }
        }
        if !self.allow_outside {
            let paths = self
                .tables
                .iter()
                .map(|t| (format!("table `{}`", t.id), &t.path))
                .chain(
                    self.image_roots
                        .iter()
                        .map(|r| (format!("image_root `{}`", r.id), &r.path)),
                )
                .chain(
                    self.synth
                        .iter()
                        .map(|s| ("synth.truth".to_string(), &s.truth)),
                )
                .chain(
                    self.sources
                        .iter()
                        .map(|s| (format!("source `{}`", s.name), &s.manifest)),
                );
            for (what, p) in paths {
                let leaves = p.is_absolute()
                    || p.has_root()
                    || p.components().any(|c| {
                        matches!(
                            c,
                            std::path::Component::ParentDir | std::path::Component::Prefix(_)
                        )
                    });
                if leaves {
                    return Err(format!(
                        "{what}: path `{}` leaves the manifest's folder; give it relative to the manifest, or set `allow_outside = true` at the top of the manifest",
                        p.display()
                    ));
                }
            }
        }
        if let Some(k) = &self.key {
            if k.columns.is_empty() {
                return Err("key.columns is empty".into());
            }
        }
        if let Some(p) = &self.patient {
            if p.group_of == Some(0) {
                return Err("[patient] group_of must be 1 or more".into());
            }
            if p.column.is_some() == p.file_name_part.is_some() {
                return Err("[patient] needs one of `column` and `file_name_part`".into());
            }
        }
        if !self.sources.is_empty() {
            let own = [
                (!self.tables.is_empty(), "[[table]]"),
                (!self.sheets.is_empty(), "[[sheet]]"),
                (self.key.is_some(), "[key]"),
                (self.merge.is_some(), "[merge]"),
                (!self.image_roots.is_empty(), "[[image_root]]"),
                (self.patient.is_some(), "[patient]"),
                (self.split.is_some(), "[split]"),
            ];
            if let Some((_, what)) = own.iter().find(|(has, _)| *has) {
                return Err(format!(
                    "a manifest with [[source]] entries joins their cohorts and has no {what} of its own (put it in the source's manifest)"
                ));
            }
            let mut names = std::collections::BTreeSet::new();
            for s in &self.sources {
                if s.name.trim().is_empty() || s.name.contains('/') {
                    return Err(format!(
                        "[[source]] name {:?} must be non-empty and have no `/`",
                        s.name
                    ));
                }
                if !names.insert(s.name.as_str()) {
                    return Err(format!("[[source]] `{}` is named twice", s.name));
                }
            }
        }
        if let Some(s) = &self.split {
            if s.train.is_empty() || s.test.is_empty() {
                return Err("[split] needs values in `train` and in `test`".into());
            }
            let mut seen = std::collections::BTreeSet::new();
            for v in s.train.iter().chain(&s.validation).chain(&s.test) {
                if !seen.insert(v.as_str()) {
                    return Err(format!("[split]: `{v}` is listed for two parts"));
                }
            }
        }
        let all_sha = self
            .tables
            .iter()
            .filter_map(|t| t.sha256.as_deref())
            .chain(self.synth.iter().filter_map(|s| s.truth_sha256.as_deref()))
            .chain(self.sources.iter().filter_map(|s| s.sha256.as_deref()));
        for sha in all_sha {
            if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("sha256 `{sha}` is not 64 hexadecimal digits"));
            }
        }
        Ok(())
    }

    /// A path from the manifest, resolved against the manifest's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The positive class the manifest names: `[classes] positive` when the manifest has a
    /// `[classes]` table (none there: k classes without a positive one), else the
    /// `positive_class` of its column rules (which must agree), else none.
    pub fn positive_class(&self) -> Result<Option<String>> {
        if let Some(c) = &self.classes {
            return Ok(c.positive.clone());
        }
        let mut named: Vec<&str> = vec![];
        for s in &self.sheets {
            if let Some(LabelRule::Column { positive_class, .. }) = &s.label {
                if !named.contains(&positive_class.as_str()) {
                    named.push(positive_class);
                }
            }
        }
        match named.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one.to_string())),
            many => Err(Error::Manifest {
                manifest: self.source.clone(),
                message: format!(
                    "the column rules name different positive classes {many:?}: say which in [classes] positive"
                ),
            }),
        }
    }

    /// The classes of a cohort whose rows carry `labels` (the merge's, each once or more):
    /// `[classes] names` in their order when given (a label outside them is an error naming
    /// it), else the labels sorted with the positive class last; the positive class as
    /// [`Manifest::positive_class`] says.
    pub fn classes<'a>(&self, labels: impl IntoIterator<Item = &'a str>) -> Result<crate::Classes> {
        // A row with no class (a `map` rule's unlisted value) is left out, not a class.
        let seen: std::collections::BTreeSet<&str> =
            labels.into_iter().filter(|l| !l.is_empty()).collect();
        let positive = self.positive_class()?;
        let err = |message: String| Error::Manifest {
            manifest: self.source.clone(),
            message,
        };
        let names: Vec<String> = match self.classes.as_ref().and_then(|c| c.names.as_ref()) {
            Some(names) => {
                if let Some(l) = seen.iter().find(|l| !names.iter().any(|n| n == *l)) {
                    return Err(err(format!(
                        "rows are labelled {l:?}, which is not one of [classes] names {names:?}"
                    )));
                }
                names.clone()
            }
            None => {
                let mut names: Vec<String> = seen.iter().map(|l| l.to_string()).collect();
                if let Some(p) = &positive {
                    let Some(i) = names.iter().position(|n| n == p) else {
                        return Err(err(format!(
                            "the positive class {p:?} labels no row (the rows' classes are {names:?})"
                        )));
                    };
                    let p = names.remove(i);
                    names.push(p);
                }
                names
            }
        };
        crate::Classes::new(names, positive.as_deref()).map_err(|e| err(e.to_string()))
    }

    /// The table with this id.
    pub fn table(&self, id: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.id == id)
    }

    /// Check that every named file and folder exists and that recorded checksums match.
    pub fn verify(&self) -> Result<()> {
        let missing = |what: &str, p: &Path| Error::Manifest {
            manifest: self.source.clone(),
            message: format!("{what} {} does not exist", p.display()),
        };
        let mut files: Vec<(&str, &Path, Option<&str>)> = self
            .tables
            .iter()
            .map(|t| ("table", t.path.as_path(), t.sha256.as_deref()))
            .collect();
        if let Some(s) = &self.synth {
            files.push(("truth file", s.truth.as_path(), s.truth_sha256.as_deref()));
        }
        for s in &self.sources {
            files.push(("source manifest", s.manifest.as_path(), s.sha256.as_deref()));
        }
        for (what, rel, sha) in files {
            let p = self.resolve(rel);
            if !p.is_file() {
                return Err(missing(what, &p));
            }
            if let Some(expected) = sha {
                let actual = crate::hash::sha256_file(&p)?;
                if !actual.eq_ignore_ascii_case(expected) {
                    return Err(Error::Checksum {
                        manifest: self.source.clone(),
                        file: p,
                        expected: expected.to_string(),
                        actual,
                    });
                }
            }
        }
        for r in &self.image_roots {
            let p = self.resolve(&r.path);
            if !p.is_dir() {
                return Err(missing("image_root folder", &p));
            }
        }
        for s in &self.sources {
            self.source(s)?.verify()?;
        }
        Ok(())
    }

    /// The manifest of one of this manifest's `[[source]]` entries, opened (a source that
    /// joins sources of its own is refused: one level only).
    pub fn source(&self, s: &Source) -> Result<Manifest> {
        let m = Manifest::open(self.resolve(&s.manifest))?;
        if !m.sources.is_empty() {
            return Err(Error::Manifest {
                manifest: m.source.clone(),
                message: format!(
                    "source `{}` joins sources of its own; a cohort joins downloads one level deep",
                    s.name
                ),
            });
        }
        Ok(m)
    }

    /// The manifest as TOML text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Serialise {
            path: self.source.clone(),
            message: e.to_string(),
        })
    }
}
