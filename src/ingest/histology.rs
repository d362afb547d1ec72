//! Histology patches that name their place on the slide: seed 003's IDC download calls a
//! patch `8863_idx5_x451_y1451_class0.png`, the patch whose top-left pixel is column 451,
//! row 1451 (1-based) of patient 8863's whole-slide image.
//!
//! [`DownloadFolders`] counts the download's folders the two ways a researcher reads them:
//! the archive holds every patient folder twice, so a search from the top finds each patch
//! twice.

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use super::index::{ext_of, files_below};
use crate::error::{IoContext, Result};

/// What an IDC patch's file name says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchName {
    /// The patient (the slide): the name's first `_`-separated part.
    pub patient: String,
    /// Column of the patch's top-left pixel on the slide (1-based, as in the name).
    pub x: u32,
    /// Row of the patch's top-left pixel (1-based).
    pub y: u32,
    /// The class the name ends in (`_class0` / `_class1`), if it says one.
    pub class: Option<u8>,
}

impl PatchName {
    /// Read a file name (with or without its folders and extension); `None` when it names
    /// no `_x<X>_y<Y>` place (a coordinate of 0 is not a place: they count from 1).
    ///
    /// ```
    /// use mammolab::ingest::histology::PatchName;
    /// let p = PatchName::parse("IDC_regular_ps50_idx5/8863/0/8863_idx5_x451_y1451_class0.png").unwrap();
    /// assert_eq!((p.patient.as_str(), p.x, p.y, p.class), ("8863", 451, 1451, Some(0)));
    /// assert!(PatchName::parse("mdb001.pgm").is_none());
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
        let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
        let parts: Vec<&str> = stem.split('_').collect();
        let number = |prefix: char| -> Option<u32> {
            parts
                .iter()
                .filter_map(|p| p.strip_prefix(prefix))
                .find_map(|v| v.parse::<u32>().ok())
                .filter(|&n| n > 0)
        };
        let class = parts
            .iter()
            .filter_map(|p| p.strip_prefix("class"))
            .find_map(|v| v.parse::<u8>().ok());
        Some(Self {
            patient: parts.first().filter(|p| !p.is_empty())?.to_string(),
            x: number('x')?,
            y: number('y')?,
            class,
        })
    }
}

/// A patch download's folders counted two ways ([`DownloadFolders::of`]): the patch folder
/// the manifest reads, and the recursive search from the download's top that seed 003's
/// tutorial runs (`glob("**/*.png")`), which also finds the patient folders the archive
/// holds again at its top level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownloadFolders {
    /// Patient folders inside the patch folder (`IDC_regular_ps50_idx5/<patient>/`).
    pub patients: usize,
    /// Of those, how many are in the download's top level again.
    pub top_level_copies: usize,
    /// Patch files (the extension asked for) under the patch folder: one per patch.
    pub patches: usize,
    /// Patch files a recursive search from the download's top finds.
    pub found_from_top: usize,
}

impl DownloadFolders {
    /// Count `download`'s patch folder `folder` (its sub-folders are the patients) and the
    /// files with extension `ext` (any case) below each; a one-line error naming the folder
    /// when one cannot be read.
    ///
    /// ```no_run
    /// use mammolab::ingest::histology::DownloadFolders;
    /// let f = DownloadFolders::of("data/idc".as_ref(), "IDC_regular_ps50_idx5".as_ref(), "png")?;
    /// assert_eq!(f.found_from_top, 2 * f.patches); // every patient folder twice
    /// # Ok::<(), mammolab::Error>(())
    /// ```
    pub fn of(download: &Path, folder: &Path, ext: &str) -> Result<Self> {
        let ext = ext.to_lowercase();
        let subfolders = |dir: &Path| -> Result<HashSet<String>> {
            let mut names = HashSet::new();
            for e in std::fs::read_dir(dir).at(dir)? {
                let e = e.at(dir)?;
                if e.path().is_dir() {
                    names.insert(e.file_name().to_string_lossy().into_owned());
                }
            }
            Ok(names)
        };
        let root = download.join(folder);
        let patients = subfolders(&root)?;
        let top = subfolders(download)?;
        // One walk from the top: the patch folder's files are among them.
        let found: Vec<_> = files_below(download)?
            .into_iter()
            .filter(|p| ext_of(p) == ext)
            .collect();
        Ok(Self {
            patients: patients.len(),
            top_level_copies: patients.intersection(&top).count(),
            patches: found.iter().filter(|p| p.starts_with(&root)).count(),
            found_from_top: found.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{DownloadFolders, PatchName};

    #[test]
    fn a_search_from_the_top_finds_the_copies_too() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for (folder, files) in [
            (
                "IDC/8863/0",
                &["8863_idx5_x1_y1_class0.png", "notes.txt"][..],
            ),
            ("IDC/8863/1", &["8863_idx5_x51_y1_class1.PNG"][..]),
            ("IDC/9123/0", &["9123_idx5_x1_y1_class0.png"][..]),
            ("8863/0", &["8863_idx5_x1_y1_class0.png"][..]),
            ("8863/1", &["8863_idx5_x51_y1_class1.PNG"][..]),
        ] {
            std::fs::create_dir_all(d.join(folder)).unwrap();
            for f in files {
                std::fs::write(d.join(folder).join(f), b"x").unwrap();
            }
        }
        let f = DownloadFolders::of(d, "IDC".as_ref(), "png").unwrap();
        assert_eq!(
            f,
            DownloadFolders {
                patients: 2,
                top_level_copies: 1,
                patches: 3,
                found_from_top: 5
            }
        );
        let e = DownloadFolders::of(d, "missing".as_ref(), "png").unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn names_with_and_without_a_place() {
        let p = PatchName::parse("10253_idx5_x1351_y1101_class1.png").unwrap();
        assert_eq!((p.x, p.y, p.class), (1351, 1101, Some(1)));
        assert_eq!(p.patient, "10253");
        let p = PatchName::parse("C:\\data\\9123\\1\\9123_idx5_x1_y51_class1.png").unwrap();
        assert_eq!((p.patient.as_str(), p.x, p.y), ("9123", 1, 51));
        assert_eq!(
            PatchName::parse("9123_idx5_x51_y51.png").unwrap().class,
            None
        );
        for bad in [
            "FILE0004.jpg",
            "9123_idx5_x0_y51_class1.png",
            "9123_idx5_xa_y51.png",
            "_x1_y1.png",
        ] {
            assert!(PatchName::parse(bad).is_none(), "{bad}");
        }
    }
}
