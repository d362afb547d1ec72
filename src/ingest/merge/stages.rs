//! The stages of [`merge`](super::merge), each a function from typed inputs to typed
//! outputs: [`KeyPlan`] (what a key is), [`Inputs::read`] (the workbooks, keyed),
//! [`Images::index`] (the image folders), [`match_sheet`] (one labelled sheet against the
//! listing and the images), [`account_listing`] (every listing row), [`header_checks`]
//! (DICOM headers against their rows) and [`unreferenced_files`].

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{AuditEntry, ImageCounts, Laterality, Record, SheetCounts, Status};
use crate::error::{Error, Result};
use crate::ingest::dicom::{read_header, read_size};
use crate::ingest::index::{case_folder, ImageIndex, Lookup};
use crate::ingest::key::{exact_key, PartKind};
use crate::ingest::sheets::{read_sheet, Sheet, SheetOptions, Value};
use crate::manifest::{self, FileMatch, Manifest};

/// The manifest's study key: its columns, how each part is normalised, the separator, and
/// which part is the patient.
#[derive(Debug, Clone)]
pub(crate) struct KeyPlan {
    pub names: Vec<String>,
    pub kinds: Vec<PartKind>,
    pub sep: String,
    pub patient: Option<usize>,
}

/// The key part that holds the patient: an id column whose name says `patient`.
pub(crate) fn patient_part(names: &[String], kinds: &[PartKind]) -> Option<usize> {
    kinds
        .iter()
        .zip(names)
        .position(|(k, n)| *k == PartKind::Id && n.to_lowercase().contains("patient"))
}

/// Where each row's patient id comes from: the manifest's `[patient]` (a column, or a part
/// of the image file's name), else the key part whose column name says `patient`. A column's
/// id is normalised as a key's id part is (trimmed, upper case), then grouped as `[patient]
/// group_of` says; a file name's part is upper-cased.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PatientColumn {
    Column { name: String, group_of: Option<u32> },
    FileNamePart(usize),
}

impl PatientColumn {
    pub fn of(manifest: &Manifest) -> Option<Self> {
        if let Some(p) = &manifest.patient {
            return Some(match (&p.column, p.file_name_part) {
                (Some(name), _) => Self::Column {
                    name: name.clone(),
                    group_of: p.group_of,
                },
                (None, part) => Self::FileNamePart(part.unwrap_or(0)),
            });
        }
        let key = manifest.key.as_ref()?;
        let kinds: Vec<PartKind> = key.columns.iter().map(|c| PartKind::guess(c)).collect();
        patient_part(&key.columns, &kinds).map(|p| Self::Column {
            name: key.columns[p].clone(),
            group_of: None,
        })
    }

    /// The column that holds the patient, when one does.
    pub fn column(&self) -> Option<&str> {
        match self {
            Self::Column { name, .. } => Some(name),
            Self::FileNamePart(_) => None,
        }
    }

    /// The patient id of a row: from its cell in [`PatientColumn::column`], else from its
    /// image file's name (empty when neither is there).
    pub fn id(&self, cell: Option<&Value>, file: Option<&Path>) -> String {
        match self {
            Self::Column { group_of, .. } => {
                let id = cell
                    .and_then(|c| PartKind::Id.normalise(c).ok())
                    .unwrap_or_default();
                match group_of {
                    Some(n) if *n > 1 => group_number(&id, u64::from(*n)),
                    _ => id,
                }
            }
            Self::FileNamePart(k) => file
                .and_then(|f| f.file_stem())
                .and_then(|s| s.to_str())
                .and_then(|s| s.split('_').nth(*k))
                .map(str::to_uppercase)
                .unwrap_or_default(),
        }
    }
}

/// `id` with its last run of digits `k` replaced by the first number of its run of `n`
/// (`MDB004`, 2 -> `MDB003`); unchanged without digits.
fn group_number(id: &str, n: u64) -> String {
    let Some(end) = id.rfind(|c: char| c.is_ascii_digit()).map(|i| i + 1) else {
        return id.to_string();
    };
    let start = id[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let Ok(k) = id[start..end].parse::<u64>() else {
        return id.to_string();
    };
    let first = k - k.saturating_sub(1) % n;
    let width = end - start;
    format!("{}{first:0width$}{}", &id[..start], &id[end..])
}

impl KeyPlan {
    pub fn of(manifest: &Manifest) -> Result<Self> {
        let key = manifest.key.as_ref().ok_or_else(|| Error::Manifest {
            manifest: manifest.source.clone(),
            message: "no [key] section".into(),
        })?;
        let names = key.columns.clone();
        let kinds: Vec<PartKind> = names.iter().map(|c| PartKind::guess(c)).collect();
        Ok(Self {
            patient: patient_part(&names, &kinds),
            names,
            kinds,
            sep: key.separator.clone(),
        })
    }

    /// Every row's exact and normalised key.
    fn keyed(&self, sheet: &Sheet) -> Result<Keyed> {
        let cols: Vec<usize> = self
            .names
            .iter()
            .map(|c| sheet.column_index(c))
            .collect::<Result<_>>()?;
        let mut k = Keyed {
            cols,
            exact: Vec::with_capacity(sheet.rows.len()),
            norm: Vec::with_capacity(sheet.rows.len()),
            by_norm: HashMap::new(),
        };
        for r in &sheet.rows {
            let parts: Vec<&Value> = k.cols.iter().map(|&c| &r[c]).collect();
            k.exact.push(exact_key(&parts, &self.sep));
            k.norm.push(
                parts
                    .iter()
                    .zip(&self.kinds)
                    .zip(&self.names)
                    .map(|((v, kind), name)| kind.normalise(v).map_err(|e| format!("{name} {e}")))
                    .collect(),
            );
        }
        for (i, n) in k.norm.iter().enumerate() {
            if let Ok(n) = n {
                k.by_norm.entry(n.clone()).or_default().push(i);
            }
        }
        Ok(k)
    }
}

/// Every patient id of a merge ([`MergeResult::patients`](super::MergeResult::patients)):
/// the records', and every id part of every audited key (an id part that is the key's last
/// may itself hold the separator: it runs to the key's end).
pub(crate) fn patient_ids(
    plan: &KeyPlan,
    records: &[super::Record],
    audit: &[super::AuditEntry],
) -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = records
        .iter()
        .filter(|r| !r.patient_id.is_empty())
        .map(|r| r.patient_id.clone())
        .collect();
    let last = plan.names.len().saturating_sub(1);
    for e in audit.iter().filter(|e| !e.key.is_empty()) {
        let split: Vec<&str> = e.key.split(plan.sep.as_str()).collect();
        for (p, _) in plan
            .kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == PartKind::Id)
        {
            let part = if p == last && split.len() > p {
                split[p..].join(&plan.sep)
            } else {
                split.get(p).map(|v| v.to_string()).unwrap_or_default()
            };
            if !part.trim().is_empty() {
                ids.insert(part.trim().to_string());
            }
        }
    }
    ids
}

/// The keys of one sheet's rows.
pub(crate) struct Keyed {
    /// Column index of each key part.
    cols: Vec<usize>,
    /// Exact key per row (as pandas would build it).
    exact: Vec<String>,
    /// Normalised parts per row, or why the key cannot be read.
    norm: Vec<std::result::Result<Vec<String>, String>>,
    /// Rows per readable normalised key.
    by_norm: HashMap<Vec<String>, Vec<usize>>,
}

/// A sheet with its keys.
pub(crate) struct KeyedSheet {
    pub sheet: Sheet,
    keys: Keyed,
}

/// The image listing (seed 001's `data_validation_x`), keyed.
pub(crate) struct Listing {
    table: KeyedSheet,
    /// The labelled sheet matched against it.
    merge_sheet: String,
    /// Column of foreign image paths.
    path_col: Option<usize>,
}

/// Stage 1: the labelled sheets and the listing, read in parallel and keyed.
pub(crate) struct Inputs {
    /// The labelled sheets, in manifest order.
    pub sheets: Vec<KeyedSheet>,
    pub listing: Option<Listing>,
}

impl Listing {
    /// The listing's rows.
    pub fn sheet(&self) -> &Sheet {
        &self.table.sheet
    }
}

impl Inputs {
    pub fn read(manifest: &Manifest, plan: &KeyPlan) -> Result<Self> {
        let table_path = |id: &str| -> Result<PathBuf> {
            manifest
                .table(id)
                .map(|t| manifest.resolve(&t.path))
                .ok_or_else(|| Error::Manifest {
                    manifest: manifest.source.clone(),
                    message: format!("no table `{id}`"),
                })
        };
        let keyed = |sheet: Sheet| -> Result<KeyedSheet> {
            Ok(KeyedSheet {
                keys: plan.keyed(&sheet)?,
                sheet,
            })
        };
        let read_listing = || -> Result<Option<Listing>> {
            let Some(m) = &manifest.merge else {
                return Ok(None);
            };
            let sheet = read_sheet(
                table_path(&m.listing)?,
                &m.listing_sheet,
                &SheetOptions::default(),
            )?;
            let path_col = m
                .path_column
                .as_ref()
                .map(|c| sheet.column_index(c))
                .transpose()?;
            Ok(Some(Listing {
                table: keyed(sheet)?,
                merge_sheet: m.sheet.clone(),
                path_col,
            }))
        };
        let read_labelled = || -> Result<Vec<KeyedSheet>> {
            manifest
                .sheets
                .par_iter()
                .map(|s| {
                    keyed(read_sheet(
                        table_path(&s.table)?,
                        &s.name,
                        &SheetOptions::default(),
                    )?)
                })
                .collect()
        };
        // Each is its own workbook parse.
        let (sheets, listing) = rayon::join(read_labelled, read_listing);
        Ok(Self {
            sheets: sheets?,
            listing: listing?,
        })
    }

    /// Every cell warning of the sheets read, the labelled sheets first, then the listing.
    pub fn cell_warnings(&self) -> Vec<super::CellWarning> {
        self.sheets
            .iter()
            .chain(self.listing.as_ref().map(|l| &l.table))
            .flat_map(|k| {
                k.sheet.warnings.iter().map(|w| super::CellWarning {
                    workbook: workbook_name(&k.sheet.file),
                    sheet: k.sheet.name.clone(),
                    warning: w.clone(),
                })
            })
            .collect()
    }

    /// Whether `sheet` is the one matched against the listing.
    fn is_merge_sheet(&self, sheet: &Sheet) -> bool {
        self.listing
            .as_ref()
            .is_some_and(|l| l.merge_sheet == sheet.name)
    }
}

/// Stage 2: every image root walked once.
pub(crate) struct Images {
    index: ImageIndex,
    /// The extensions indexed (lower case, sorted).
    exts: Vec<String>,
    base: PathBuf,
}

impl Images {
    pub fn index(manifest: &Manifest) -> Result<Self> {
        let roots: Vec<PathBuf> = manifest
            .image_roots
            .iter()
            .map(|r| r.path.clone())
            .collect();
        let mut exts: Vec<String> = manifest
            .image_roots
            .iter()
            .flat_map(|r| r.formats.iter().map(|f| f.to_lowercase()))
            .collect();
        exts.sort();
        exts.dedup();
        Ok(Self {
            index: ImageIndex::build(&manifest.base_dir, &roots, &exts)?,
            exts,
            base: manifest.base_dir.clone(),
        })
    }

    /// Every file indexed, relative to the manifest's folder, sorted.
    pub fn files(&self) -> &[PathBuf] {
        &self.index.files
    }

    /// The manifest's folder.
    pub fn base(&self) -> &Path {
        &self.base
    }

    fn resolve(&self, found: &Lookup) -> Option<PathBuf> {
        found.found().map(|p| self.base.join(p))
    }
}

/// What matching one labelled sheet produced.
pub(crate) struct SheetMatch {
    pub records: Vec<Record>,
    pub audit: Vec<AuditEntry>,
    pub counts: SheetCounts,
    pub images: ImageCounts,
    /// (sheet row index, listing row index, status) of each merged pair.
    pub pairs: Vec<(usize, usize, Status)>,
    /// Listing rows (index) claimed by a row of this sheet (row number).
    hits: Vec<(usize, u32)>,
    is_merge: bool,
}

fn workbook_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn joined(rows: impl IntoIterator<Item = u32>) -> String {
    rows.into_iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The class of row `r` of `sheet` by the manifest's rule for it (`file_col`: the column
/// naming the row's image file, for [`manifest::LabelRule::FileName`]); empty when the rule gives
/// none, or when the rules of an `agree` disagree.
pub(crate) fn row_label(
    spec: &manifest::Sheet,
    sheet: &Sheet,
    r: usize,
    file_col: Option<usize>,
) -> Result<String> {
    let Some(rule) = &spec.label else {
        return Ok(String::new());
    };
    let row = super::label::Row { sheet, r, file_col };
    Ok(match super::label::class_of(rule, &row)? {
        super::label::Verdict::Class(c) => c,
        super::label::Verdict::Disagree(_) => String::new(),
    })
}

/// The column of `sheet` that names each row's image file (its image root's
/// `file_column`), if the manifest gives one.
pub(crate) fn file_column(
    manifest: &Manifest,
    spec: &manifest::Sheet,
    sheet: &Sheet,
) -> Result<Option<usize>> {
    spec.image_root
        .as_ref()
        .and_then(|id| manifest.image_roots.iter().find(|r| &r.id == id))
        .and_then(|r| r.file_column.as_ref())
        .map(|c| sheet.column_index(c))
        .transpose()
}

/// A row's match against the listing: status, reason, counterpart row and listing index.
struct ListingMatch {
    status: Status,
    reason: String,
    counterpart: Option<u32>,
    index: Option<usize>,
}

/// Row `r` of the merge sheet against the listing (`dup`: other rows of the sheet with
/// the same key). Records the pair and the listing rows it claims in `m`.
fn match_listing_row(
    plan: &KeyPlan,
    ks: &KeyedSheet,
    listing: &Listing,
    r: usize,
    dup: &[u32],
    m: &mut SheetMatch,
) -> ListingMatch {
    let (sheet, k) = (&ks.sheet, &ks.keys);
    let (l, lk) = (&listing.table.sheet, &listing.table.keys);
    let row_no = sheet.row_numbers[r];
    let mut out = ListingMatch {
        status: Status::Unmatched,
        reason: String::new(),
        counterpart: None,
        index: None,
    };
    let n = match &k.norm[r] {
        Err(e) => {
            out.reason = format!("key unreadable: {e}");
            return out;
        }
        Ok(n) => n,
    };
    match lk.by_norm.get(n) {
        Some(ls) if dup.is_empty() => {
            let li = ls[0];
            out.index = Some(li);
            out.counterpart = Some(l.row_numbers[li]);
            if lk.exact[li] == k.exact[r] {
                out.status = Status::Exact;
            } else {
                out.status = Status::Normalised;
                let text = |s: &Sheet, row: usize, col: usize| s.rows[row][col].to_text();
                let differ: Vec<String> = (0..plan.names.len())
                    .filter(|&p| text(sheet, r, k.cols[p]) != text(l, li, lk.cols[p]))
                    .map(|p| {
                        format!(
                            "{} `{}` vs `{}`",
                            plan.names[p],
                            text(sheet, r, k.cols[p]).unwrap_or_default(),
                            text(l, li, lk.cols[p]).unwrap_or_default()
                        )
                    })
                    .collect();
                out.reason = format!("formatting differs: {}", differ.join("; "));
            }
            if ls.len() > 1 {
                let prefix = if out.reason.is_empty() {
                    String::new()
                } else {
                    format!("{}; ", out.reason)
                };
                out.reason = format!(
                    "{prefix}listing has this key {} times (rows {})",
                    ls.len(),
                    joined(ls.iter().map(|&i| l.row_numbers[i]))
                );
            }
            m.hits.extend(ls.iter().map(|&li| (li, row_no)));
            m.pairs.push((r, li, out.status));
        }
        Some(_) => {
            out.reason = format!(
                "duplicate key: rows {} of `{}` share it, so the listing row cannot be assigned",
                joined(std::iter::once(row_no).chain(dup.iter().copied())),
                sheet.name
            )
        }
        None => {
            out.reason = near_miss(n, lk, l, &plan.names);
            if !dup.is_empty() {
                out.reason = format!(
                    "{}; duplicate key (also row {})",
                    out.reason,
                    joined(dup.iter().copied())
                );
            }
        }
    }
    out
}

/// Stage 3: one labelled sheet's rows matched to the listing (the merge sheet) or to their
/// image files (the other sheets), each row audited and turned into a [`Record`].
pub(crate) fn match_sheet(
    manifest: &Manifest,
    plan: &KeyPlan,
    inputs: &Inputs,
    images: &Images,
    spec: &manifest::Sheet,
    ks: &KeyedSheet,
) -> Result<SheetMatch> {
    let (sheet, k) = (&ks.sheet, &ks.keys);
    let listing = inputs
        .listing
        .as_ref()
        .filter(|_| inputs.is_merge_sheet(sheet));
    let wb = workbook_name(&sheet.file);
    let file_col = file_column(manifest, spec, sheet)?;
    let root = spec
        .image_root
        .as_ref()
        .and_then(|id| manifest.image_roots.iter().find(|r| &r.id == id));
    let match_by = root.map_or(FileMatch::FileName, |r| r.match_by);
    let by_folder = match_by == FileMatch::CaseFolder;
    let roi_col = root
        .and_then(|r| r.roi_column.as_ref())
        .map(|c| sheet.column_index(c))
        .transpose()?;
    let patient = PatientColumn::of(manifest);
    let patient_col = patient
        .as_ref()
        .and_then(PatientColumn::column)
        .map(|c| sheet.column_index(c))
        .transpose()?;
    // The [split] value: a column's cell, or the sheet's name when the rule names none.
    let split_col = manifest
        .split
        .as_ref()
        .map(|s| s.column.as_ref().map(|c| sheet.column_index(c)).transpose())
        .transpose()?;
    let mut m = SheetMatch {
        records: Vec::with_capacity(sheet.rows.len()),
        audit: Vec::with_capacity(sheet.rows.len()),
        counts: SheetCounts::default(),
        images: ImageCounts::default(),
        pairs: vec![],
        hits: vec![],
        is_merge: listing.is_some(),
    };
    let primary_dicom = images.exts.iter().any(|e| e == "dcm");
    // The raster export: JPG (seed 001), or the image roots' other format (PNG for
    // unpacked patches, PGM for mini-MIAS).
    let raster = ["png", "pgm"]
        .into_iter()
        .find(|r| images.exts.iter().any(|e| e == r))
        .unwrap_or("jpg");
    for r in 0..sheet.rows.len() {
        let row_no = sheet.row_numbers[r];
        let norm_key = k.norm[r]
            .as_ref()
            .map(|v| v.join(&plan.sep))
            .unwrap_or_default();
        // Other rows of this sheet with the same normalised key.
        let dup: Vec<u32> = k.norm[r]
            .as_ref()
            .ok()
            .and_then(|n| k.by_norm.get(n))
            .map(|v| {
                v.iter()
                    .filter(|&&o| o != r)
                    .map(|&o| sheet.row_numbers[o])
                    .collect()
            })
            .unwrap_or_default();
        let ListingMatch {
            mut status,
            mut reason,
            counterpart,
            index: listing_idx,
        } = match listing {
            Some(l) => match_listing_row(plan, ks, l, r, &dup, &mut m),
            None => ListingMatch {
                status: Status::Unmatched,
                reason: String::new(),
                counterpart: None,
                index: None,
            },
        };
        // Images: through the listing's path when matched, else by file name.
        let lookup = |ext: &str| -> Lookup {
            if let (Some(li), Some(l)) = (listing_idx, listing) {
                if let Some(p) = l.path_col.and_then(|c| l.table.sheet.rows[li][c].to_text()) {
                    let found = images.index.by_foreign_path(&p, ext);
                    if found != Lookup::Missing {
                        return found;
                    }
                }
            }
            match file_col.and_then(|c| sheet.rows[r][c].to_text()) {
                Some(name) => match match_by {
                    FileMatch::CaseFolder => images.index.by_case_folder(&name, ext),
                    FileMatch::Prefix => images.index.by_prefix(&name, ext),
                    FileMatch::FileName => images.index.by_file_name(&name, ext),
                },
                None => Lookup::Missing,
            }
        };
        let dcm = lookup("dcm");
        let jpg = lookup(raster);
        let image = if primary_dicom { &dcm } else { &jpg };
        let roi = roi_col
            .and_then(|c| sheet.rows[r][c].to_text())
            .map(|cell| {
                let ext = if primary_dicom { "dcm" } else { raster };
                lesion_files(images, &cell, ext, images.resolve(image))
            });
        match image {
            Lookup::Found(_) => m.images.resolved += 1,
            Lookup::Missing => m.images.missing += 1,
            Lookup::Ambiguous(_) => m.images.duplicates += 1,
        }
        if listing.is_none() {
            let earlier = dup.iter().copied().filter(|&o| o < row_no).min();
            if let Some(first) = earlier {
                // The same study twice: keep the first row, so one image is not counted
                // (or split) twice.
                reason = format!("duplicate key: same study as row {first}, kept there");
            } else {
                if !dup.is_empty() {
                    reason = format!(
                        "duplicate key: row {} repeats this study (this row is kept)",
                        joined(dup.iter().copied())
                    );
                }
                match image {
                    Lookup::Found(_) => status = Status::ImageFound,
                    Lookup::Missing if by_folder => {
                        let cell = file_col.and_then(|c| sheet.rows[r][c].to_text());
                        reason = format!(
                            "image file not found: no folder `{}` with an image below `{}`",
                            cell.as_deref().and_then(case_folder).unwrap_or_default(),
                            root.map(|r| r.path.display().to_string())
                                .unwrap_or_default()
                        )
                    }
                    Lookup::Missing => {
                        let empty = file_col.filter(|&c| {
                            sheet.rows[r][c]
                                .to_text()
                                .is_none_or(|t| t.trim().is_empty())
                        });
                        reason = match empty {
                            Some(c) => {
                                format!("`{}` is empty: the row names no image", sheet.columns[c])
                            }
                            None => "image file not found".into(),
                        }
                    }
                    Lookup::Ambiguous(v) => {
                        reason = format!(
                            "image name found {} times: {}",
                            v.len(),
                            v.iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                }
            }
        }
        if let Some(Err(why)) = &roi {
            if reason.is_empty() {
                reason = why.clone();
            }
        }
        let (roi_mask, roi_crop) = match roi {
            Some(Ok((mask, crop))) => (Some(mask), Some(crop)),
            _ => (None, None),
        };
        m.counts.add(status);
        // The row's own column, else its listing counterpart's.
        // The first of `cols` that the row's sheet has, else that its listing row has
        // (seed 001's `Laterality`/`ViewPosition`; RSNA's `laterality`/`view`).
        let own_or_listing = |cols: &[&str]| -> Option<String> {
            if let Some(ci) = cols.iter().find_map(|c| sheet.column_index(c).ok()) {
                return sheet.rows[r][ci].to_text();
            }
            let l = &listing?.table.sheet;
            cols.iter()
                .find_map(|c| l.column_index(c).ok())
                .and_then(|ci| l.rows[listing_idx?][ci].to_text())
        };
        m.audit.push(AuditEntry {
            workbook: wb.clone(),
            sheet: sheet.name.clone(),
            row: row_no,
            key: k.exact[r].clone(),
            status,
            reason,
            counterpart_row: counterpart,
            file: images.resolve(image),
        });
        m.records.push(Record {
            sheet: sheet.name.clone(),
            row: row_no,
            label: row_label(spec, sheet, r, file_col)?,
            patient_id: patient
                .as_ref()
                .map(|p| {
                    let file = images.resolve(image);
                    p.id(patient_col.map(|c| &sheet.rows[r][c]), file.as_deref())
                })
                .unwrap_or_default(),
            key: norm_key,
            status,
            listing_row: counterpart,
            dicom: images.resolve(&dcm),
            jpg: images.resolve(&jpg),
            roi_mask,
            roi_crop,
            laterality: own_or_listing(&["Laterality", "laterality"])
                .and_then(|t| Laterality::parse(&t)),
            view: own_or_listing(&["ViewPosition", "view"]),
            split_value: split_col.map(|c| match c {
                Some(c) => sheet.rows[r][c]
                    .to_text()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                None => sheet.name.clone(),
            }),
            source: None,
        });
    }
    Ok(m)
}

/// Stage 4: every listing row accounted for: matched (by the merge sheet's rows), or why
/// not. Returns the listing's sheet name, counts and audit lines.
pub(crate) fn account_listing(
    plan: &KeyPlan,
    inputs: &Inputs,
    matched: &[SheetMatch],
) -> Option<(String, SheetCounts, Vec<AuditEntry>)> {
    let listing = inputs.listing.as_ref()?;
    let (l, lk) = (&listing.table.sheet, &listing.table.keys);
    let merge = matched.iter().zip(&inputs.sheets).find(|(m, _)| m.is_merge);
    let mut claimed: Vec<Option<u32>> = vec![None; l.rows.len()];
    let mut exact = vec![false; l.rows.len()];
    if let Some((m, _)) = merge {
        for &(li, row) in &m.hits {
            claimed[li] = Some(row);
        }
        for &(_, li, s) in &m.pairs {
            exact[li] |= s == Status::Exact;
        }
    }
    let wb = workbook_name(&l.file);
    let mut counts = SheetCounts::default();
    let mut audit = Vec::with_capacity(l.rows.len());
    for i in 0..l.rows.len() {
        let (status, reason, counterpart) = match (claimed[i], &lk.norm[i]) {
            (Some(row), _) => {
                let s = if exact[i] {
                    Status::Exact
                } else {
                    Status::Normalised
                };
                (s, String::new(), Some(row))
            }
            (None, Err(e)) => (Status::Unmatched, format!("key unreadable: {e}"), None),
            (None, Ok(n)) => {
                let same = lk.by_norm.get(n).map(Vec::as_slice).unwrap_or(&[]);
                let reason = if same.len() > 1 {
                    format!(
                        "duplicate key (rows {})",
                        joined(same.iter().map(|&j| l.row_numbers[j]))
                    )
                } else if let Some((_, ms)) = merge {
                    format!(
                        "no row in `{}`: {}",
                        ms.sheet.name,
                        near_miss(n, &ms.keys, &ms.sheet, &plan.names)
                    )
                } else {
                    "no labelled sheet to match".into()
                };
                (Status::Unmatched, reason, None)
            }
        };
        counts.add(status);
        audit.push(AuditEntry {
            workbook: wb.clone(),
            sheet: l.name.clone(),
            row: l.row_numbers[i],
            key: lk.exact[i].clone(),
            status,
            reason,
            counterpart_row: counterpart,
            file: None,
        });
    }
    Some((l.name.clone(), counts, audit))
}

/// Why a normalised key has no counterpart: the closest key on the other side that
/// differs in one part, or "no counterpart".
fn near_miss(key: &[String], other: &Keyed, sheet: &Sheet, names: &[String]) -> String {
    for (i, o) in other.norm.iter().enumerate() {
        let Ok(o) = o else { continue };
        let mut differ = o.iter().zip(key).enumerate().filter(|(_, (a, b))| a != b);
        if let (Some((p, (theirs, ours))), None) = (differ.next(), differ.next()) {
            return format!(
                "near miss: {} differs from row {} of `{}` (`{ours}` vs `{theirs}`)",
                names[p], sheet.row_numbers[i], sheet.name
            );
        }
    }
    "no counterpart".into()
}

/// Stage 5: each record's DICOM header against its row, in parallel.
pub(crate) fn header_checks(plan: &KeyPlan, records: &[Record]) -> Vec<AuditEntry> {
    records
        .par_iter()
        .map(|rec| header_check(plan, rec))
        .flatten()
        .collect()
}

fn header_check(plan: &KeyPlan, rec: &Record) -> Vec<AuditEntry> {
    let Some(dcm) = &rec.dicom else { return vec![] };
    let entry = |status: Status, reason: String| AuditEntry {
        workbook: String::new(),
        sheet: rec.sheet.clone(),
        row: rec.row,
        key: rec.key.clone(),
        status,
        reason,
        counterpart_row: rec.listing_row,
        file: Some(dcm.clone()),
    };
    let h = match read_header(dcm) {
        Ok(h) => h,
        Err(e) => return vec![entry(Status::File, format!("unreadable DICOM: {e}"))],
    };
    let parts: Vec<&str> = rec.key.split(plan.sep.as_str()).collect();
    let mut out = vec![];
    if let Some(t) = &h.truncated {
        out.push(entry(Status::File, format!("unreadable DICOM: {t}")));
    }
    for (p, (name, kind)) in plan.names.iter().zip(&plan.kinds).enumerate() {
        let (tag, value) = match kind {
            PartKind::Date => ("StudyDate (0008,0020)", &h.study_date),
            PartKind::Time => ("StudyTime (0008,0030)", &h.study_time),
            PartKind::Id if plan.patient == Some(p) => ("PatientID (0010,0020)", &h.patient_id),
            _ => continue,
        };
        let want = parts.get(p).copied().unwrap_or("");
        let got = value.as_ref().map(|v| {
            kind.normalise(&Value::Text(v.clone()))
                .unwrap_or_else(|_| v.clone())
        });
        // TCIA's downloads (CBIS-DDSM) put the subject, i.e. the case folder the file is in
        // (`Mass-Training_P_00001_LEFT_CC`), in PatientID: it holds the patient's id.
        let tcia_subject = plan.patient == Some(p)
            && value.as_deref().is_some_and(|v| {
                let v = v.trim();
                dcm.components().any(|c| c.as_os_str() == v)
                    && format!("_{}_", v.to_uppercase()).contains(&format!("_{want}_"))
            });
        if got.as_deref() != Some(want) && !tcia_subject {
            out.push(entry(
                Status::HeaderMismatch,
                format!(
                    "{tag} is `{}` but {name} says `{want}`",
                    value.clone().unwrap_or_default()
                ),
            ));
        }
    }
    if let (Some(v), Some(w)) = (&h.laterality, rec.laterality) {
        if Laterality::parse(v) != Some(w) {
            out.push(entry(
                Status::HeaderMismatch,
                format!("ImageLaterality (0020,0062) is `{v}` but the sheet says `{w}`"),
            ));
        }
    }
    if let (Some(v), Some(w)) = (&h.view, &rec.view) {
        if v.trim().to_uppercase() != w.trim().to_uppercase() {
            out.push(entry(
                Status::HeaderMismatch,
                format!("ViewPosition (0018,5101) is `{v}` but the sheet says `{w}`"),
            ));
        }
    }
    out
}

/// A lesion's ROI mask and crop: the two images of the case folder `cell` names, the mask
/// being the one the size of the row's image (without it, the larger one). Else why not.
fn lesion_files(
    images: &Images,
    cell: &str,
    ext: &str,
    image: Option<PathBuf>,
) -> std::result::Result<(PathBuf, PathBuf), String> {
    let folder = case_folder(cell).unwrap_or_default();
    let found = images.index.in_case_folder(cell, ext);
    let [a, b] = &found[..] else {
        return Err(format!(
            "ROI folder `{folder}`: {} .{ext} files, expected two (mask and crop)",
            found.len()
        ));
    };
    let (a, b) = (images.base.join(a), images.base.join(b));
    let size = |p: &Path| read_size(p).map_err(|e| format!("ROI folder `{folder}`: {e}"));
    let (sa, sb) = (size(&a)?, size(&b)?);
    let full = image.as_deref().map(size).transpose()?;
    let area = |(r, c): (u32, u32)| r as u64 * c as u64;
    let a_is_mask = match full {
        Some(f) if (sa == f) != (sb == f) => sa == f,
        Some(f) => {
            return Err(format!(
                "ROI folder `{folder}`: cannot tell the mask from the crop (sizes {}x{} and {}x{}, the image {}x{})",
                sa.0, sa.1, sb.0, sb.1, f.0, f.1
            ))
        }
        None => area(sa) >= area(sb),
    };
    Ok(if a_is_mask { (a, b) } else { (b, a) })
}

/// Stage 6: image files that no record refers to, each an audit line; files below
/// `accounted` (the labelled image roots, whose every file already has its line) are
/// skipped.
pub(crate) fn unreferenced_files(
    images: &Images,
    records: &[Record],
    accounted: &[PathBuf],
) -> Vec<AuditEntry> {
    let referenced: HashSet<&Path> = records
        .iter()
        .flat_map(|r| {
            [&r.dicom, &r.jpg, &r.roi_mask, &r.roi_crop]
                .into_iter()
                .filter_map(|p| p.as_deref())
        })
        .collect();
    images
        .index
        .files
        .iter()
        .filter(|f| !accounted.iter().any(|a| f.starts_with(a)))
        .map(|f| images.base.join(f))
        .filter(|f| !referenced.contains(f.as_path()))
        .map(|f| AuditEntry {
            workbook: String::new(),
            sheet: String::new(),
            row: 0,
            key: String::new(),
            status: Status::File,
            reason: "no row refers to this file".into(),
            counterpart_row: None,
            file: Some(f),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::group_number;

    #[test]
    fn numbered_ids_group_in_runs() {
        // mini-MIAS: mdb001 and mdb002 are one woman, mdb003 and mdb004 the next.
        assert_eq!(group_number("MDB001", 2), "MDB001");
        assert_eq!(group_number("MDB002", 2), "MDB001");
        assert_eq!(group_number("MDB004", 2), "MDB003");
        assert_eq!(group_number("MDB322", 2), "MDB321");
        assert_eq!(group_number("CASE-10-B", 4), "CASE-09-B");
        assert_eq!(group_number("X9", 2), "X9");
        assert_eq!(group_number("X10", 2), "X09");
        assert_eq!(group_number("NONE", 2), "NONE");
        assert_eq!(group_number("P0", 2), "P0");
    }
}
