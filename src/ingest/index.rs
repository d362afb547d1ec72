//! The image index: each image folder walked once (in parallel), then every row's file
//! resolved by name or by a path written on another machine.
//!
//! seed 001 ran `os.walk` over the whole tree once per image; here the tree is read once
//! and lookups are hash-map hits.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::key::file_stem;
use crate::error::IoContext;
use crate::error::Result;

/// Every file below some folders, indexed by upper-case stem and extension.
#[derive(Debug, Clone, Default)]
pub struct ImageIndex {
    /// All files found, relative to the base folder given to [`ImageIndex::build`].
    pub files: Vec<PathBuf>,
    by_name: HashMap<(String, String), Vec<usize>>,
    /// Files by the upper-case first `_`-separated part of their name, and extension.
    by_prefix: HashMap<(String, String), Vec<usize>>,
    /// Files by the folder they are in directly below their root (lower case) and extension.
    by_folder: HashMap<(String, String), Vec<usize>>,
}

/// The result of looking a file up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Exactly one file.
    Found(PathBuf),
    /// No file of that name.
    Missing,
    /// Several files fit equally well (a file exported twice into different folders).
    Ambiguous(Vec<PathBuf>),
}

impl Lookup {
    /// The file, when exactly one was found.
    pub fn found(&self) -> Option<&Path> {
        match self {
            Lookup::Found(p) => Some(p),
            _ => None,
        }
    }
}

/// Every file below `dir` (folders walked in parallel; in no particular order).
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .at(dir)?
        .map(|e| e.map(|e| e.path()).at(dir))
        .collect::<Result<_>>()?;
    let nested: Vec<Vec<PathBuf>> = entries
        .into_par_iter()
        .map(|p| {
            if p.is_dir() {
                files_below(&p)
            } else {
                Ok(vec![p])
            }
        })
        .collect::<Result<_>>()?;
    Ok(nested.into_iter().flatten().collect())
}

/// The extension of `p` in lower case (empty when it has none).
pub fn ext_of(p: &Path) -> String {
    p.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_lowercase()
}

fn components(p: &str) -> Vec<String> {
    p.split(['/', '\\'])
        .filter(|c| !c.is_empty())
        .map(|c| c.to_lowercase())
        .collect()
}

/// The case folder a cell names: its first folder, surrounding white space and line breaks
/// ignored (`Mass-Training_P_00001_LEFT_CC` of `Mass-Training_P_00001_LEFT_CC/1.3.6.../
/// 000000.dcm\n`).
pub fn case_folder(cell: &str) -> Option<&str> {
    cell.trim().split(['/', '\\']).find(|c| !c.is_empty())
}

impl ImageIndex {
    /// Walk `roots` (relative to `base`) and index every file whose extension is in
    /// `extensions` (lower case, no dot; empty = all files).
    pub fn build(base: &Path, roots: &[PathBuf], extensions: &[String]) -> Result<Self> {
        // (file relative to base, its folder directly below the root)
        let mut files: Vec<(PathBuf, String)> = vec![];
        for r in roots {
            let root = base.join(r);
            let mut found = files_below(&root)?;
            found.retain(|p| extensions.is_empty() || extensions.contains(&ext_of(p)));
            files.extend(found.into_iter().map(|p| {
                let folder = p
                    .strip_prefix(&root)
                    .ok()
                    .filter(|rel| rel.components().count() > 1)
                    .and_then(|rel| rel.components().next())
                    .map(|c| c.as_os_str().to_string_lossy().to_lowercase())
                    .unwrap_or_default();
                let rel = p.strip_prefix(base).map(Path::to_path_buf).unwrap_or(p);
                (rel, folder)
            }));
        }
        files.sort();
        let mut by_folder: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, (f, folder)) in files.iter().enumerate() {
            if !folder.is_empty() {
                by_folder
                    .entry((folder.clone(), ext_of(f)))
                    .or_default()
                    .push(i);
            }
        }
        let files: Vec<PathBuf> = files.into_iter().map(|(f, _)| f).collect();
        let mut by_name: HashMap<(String, String), Vec<usize>> = HashMap::new();
        let mut by_prefix: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let stem = file_stem(name);
            let prefix = stem.split('_').next().unwrap_or("").to_string();
            by_prefix.entry((prefix, ext_of(f))).or_default().push(i);
            by_name.entry((stem, ext_of(f))).or_default().push(i);
        }
        Ok(Self {
            files,
            by_name,
            by_prefix,
            by_folder,
        })
    }

    /// The files with extension `ext` inside the case folder a cell names: the cell's first
    /// folder (`Mass-Training_P_00001_LEFT_CC` of `Mass-Training_P_00001_LEFT_CC/1.3.6.../
    /// 000000.dcm`, surrounding white space and line breaks ignored), a folder directly below
    /// an image root, compared case-insensitively. Sorted.
    pub fn in_case_folder(&self, cell: &str, ext: &str) -> Vec<PathBuf> {
        let Some(folder) = case_folder(cell) else {
            return vec![];
        };
        self.by_folder
            .get(&(folder.to_lowercase(), ext.to_lowercase()))
            .map(|v| v.iter().map(|&i| self.files[i].clone()).collect())
            .unwrap_or_default()
    }

    /// The one file with extension `ext` in the case folder a cell names (see
    /// [`ImageIndex::in_case_folder`]).
    pub fn by_case_folder(&self, cell: &str, ext: &str) -> Lookup {
        let mut found = self.in_case_folder(cell, ext);
        match found.len() {
            0 => Lookup::Missing,
            1 => Lookup::Found(found.remove(0)),
            _ => Lookup::Ambiguous(found),
        }
    }

    /// The file called `name` (any case, extension optional) with extension `ext`.
    pub fn by_file_name(&self, name: &str, ext: &str) -> Lookup {
        self.lookup(self.by_name.get(&(file_stem(name), ext.to_lowercase())))
    }

    /// The file with extension `ext` whose name's first `_`-separated part is `prefix` (any
    /// case): INbreast's `22678622` finds `22678622_6c613a14b80a8591_MG_R_CC_ANON.dcm`.
    pub fn by_prefix(&self, prefix: &str, ext: &str) -> Lookup {
        self.lookup(self.by_prefix.get(&(file_stem(prefix), ext.to_lowercase())))
    }

    fn lookup(&self, hits: Option<&Vec<usize>>) -> Lookup {
        match hits {
            None => Lookup::Missing,
            Some(v) if v.len() == 1 => Lookup::Found(self.files[v[0]].clone()),
            Some(v) => Lookup::Ambiguous(v.iter().map(|&i| self.files[i].clone()).collect()),
        }
    }

    /// The file a path from another machine (e.g. `C:\Users\...\Cancer\2. kısım\FILE0123.jpg`)
    /// refers to, with extension `ext`: among files with the same stem, the one sharing the
    /// longest run of trailing folder names (compared case-insensitively).
    pub fn by_foreign_path(&self, path: &str, ext: &str) -> Lookup {
        let want = components(path);
        let Some(name) = want.last() else {
            return Lookup::Missing;
        };
        let Some(cands) = self.by_name.get(&(file_stem(name), ext.to_lowercase())) else {
            return Lookup::Missing;
        };
        let shared = |f: &Path| {
            let have = components(&f.to_string_lossy());
            // The file name itself is known to match (up to extension): count folders.
            have.iter()
                .rev()
                .skip(1)
                .zip(want.iter().rev().skip(1))
                .take_while(|(a, b)| a == b)
                .count()
        };
        let scored: Vec<(usize, usize)> =
            cands.iter().map(|&i| (shared(&self.files[i]), i)).collect();
        let best = scored.iter().map(|s| s.0).max().unwrap_or(0);
        let top: Vec<PathBuf> = scored
            .iter()
            .filter(|s| s.0 == best)
            .map(|s| self.files[s.1].clone())
            .collect();
        if top.len() == 1 {
            Lookup::Found(top[0].clone())
        } else {
            Lookup::Ambiguous(top)
        }
    }

    /// Groups of files that share a stem and extension (the same image in two folders).
    pub fn duplicates(&self) -> Vec<Vec<PathBuf>> {
        let mut d: Vec<Vec<PathBuf>> = self
            .by_name
            .values()
            .filter(|v| v.len() > 1)
            .map(|v| v.iter().map(|&i| self.files[i].clone()).collect())
            .collect();
        d.sort();
        d
    }
}
