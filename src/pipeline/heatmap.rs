//! Slide heat maps (`mammolab predict --heatmap DIR`): patches that name their place on the
//! slide (seed 003's `8863_idx5_x451_y1451_class0.png`) put back together, one PNG per
//! slide with the mosaic, the annotation and the model's probability side by side, and
//! `slides.csv` with each slide's counts and ROC AUC.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::{Column, DataFrame};
use serde::Serialize;

use super::predict::Predictions;
use crate::error::{Error, Result};
use crate::ingest::dicom::read_display_rgb;
use crate::ingest::frames::write_csv;
use crate::ingest::histology::PatchName;
use crate::plot::{slide_figure, SlideMap, SlidePatch};
use crate::privacy::pseudonym;

/// A slide wider or taller than this many pixels is refused (a file name's coordinates
/// decide the size: no name may make the mosaic allocate without bound). The real IDC
/// slides are a few thousand pixels a side.
pub const MAX_SIDE: usize = 16_384;

/// What [`write_heatmaps`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeatmapsWritten {
    /// The folder.
    pub dir: PathBuf,
    /// Slides drawn (one PNG each).
    pub slides: usize,
    /// Patches placed on them.
    pub patches: usize,
    /// Scored files whose names give no place (`_x<X>_y<Y>`): not drawn.
    pub unplaced: usize,
}

/// One slide's row of `slides.csv`.
struct SlideRow {
    slide: String,
    patches: usize,
    positive: usize,
    mean_score: f64,
    roc_auc: Option<f64>,
    png: String,
}

/// One scored patch of a slide: where its name places it, its file, its annotation and its
/// score.
#[derive(Debug, Clone)]
struct Placed {
    place: PatchName,
    file: PathBuf,
    truth: Option<bool>,
    score: f64,
}

/// The slides of a set of predictions: each scored file whose name gives its place
/// ([`PatchName`]), grouped by slide, before any pixel is decoded. [`Slides::map`] builds one
/// slide's [`SlideMap`] at a time, so a test set of many slides never holds more than one
/// mosaic. It owns what it holds (no borrow of the predictions), so a notebook can keep it
/// from one cell to the next.
///
/// ```no_run
/// # use mammolab::prelude::*;
/// # fn f(predictions: &mammolab::pipeline::predict::Predictions) -> mammolab::Result<()> {
/// use mammolab::pipeline::heatmap::Slides;
/// let slides = Slides::of(predictions)?;
/// let first = &slides.names()[0];
/// let map = slides.map(first)?; // the mosaic, the annotation and the scores
/// let fig = plot::slide_figure(&map, &slides.title(first, &map))?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Slides {
    positive_name: String,
    slides: BTreeMap<String, Vec<Placed>>,
    /// Scored files whose names give no place (`_x<X>_y<Y>`): on no slide.
    pub unplaced: usize,
}

impl Slides {
    /// Group `predictions` by slide: the patient of a manifest's row (its pseudonym), else
    /// the pseudonym of the patient a file name starts with. A patch's annotation is its
    /// row's class, else the name's `_class1` / `_class0`. An error when the predictions'
    /// classes name no positive class.
    pub fn of(predictions: &Predictions) -> Result<Self> {
        let classes = predictions.classes();
        let positive = classes.require_positive("a heat map of its probability")?;
        let positive_name = &classes.names()[positive];
        let mut slides: BTreeMap<String, Vec<Placed>> = BTreeMap::new();
        let mut unplaced = 0;
        for (input, probs) in predictions.rows() {
            let Some(place) = PatchName::parse(&input.file.to_string_lossy()) else {
                unplaced += 1;
                continue;
            };
            let slide = input
                .patient
                .clone()
                .unwrap_or_else(|| pseudonym(&place.patient));
            let truth = match &input.class {
                Some(c) => Some(c == positive_name),
                None => place.class.map(|c| c == 1),
            };
            slides.entry(slide).or_default().push(Placed {
                place,
                file: input.file.clone(),
                truth,
                score: probs[positive],
            });
        }
        Ok(Self {
            positive_name: positive_name.clone(),
            slides,
            unplaced,
        })
    }

    /// The slides' names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.slides.keys().cloned().collect()
    }

    /// Patches on `slide` and how many of them are annotated positive, without decoding;
    /// `(0, 0)` for a name it lacks.
    pub fn counts(&self, slide: &str) -> (usize, usize) {
        let patches = self.slides.get(slide).map_or(&[][..], |v| v.as_slice());
        let positive = patches.iter().filter(|p| p.truth == Some(true)).count();
        (patches.len(), positive)
    }

    /// `slide` rebuilt: every patch decoded in colour and placed at its name's x and y with
    /// its annotation and score. A one-line error for a slide it lacks, a patch that cannot
    /// be read, or names that place patches beyond [`MAX_SIDE`] pixels.
    pub fn map(&self, slide: &str) -> Result<SlideMap> {
        let patches = self.slides.get(slide).ok_or_else(|| {
            Error::input(
                "heatmap",
                format!("no slide {slide} among the scored patches"),
            )
        })?;
        let mut decoded = Vec::with_capacity(patches.len());
        let (mut width, mut height) = (0, 0);
        for p in patches {
            let planes = read_display_rgb(&p.file)?;
            let (x, y) = (p.place.x as usize - 1, p.place.y as usize - 1);
            width = width.max(x + planes[0].width);
            height = height.max(y + planes[0].height);
            let patch = SlidePatch {
                x,
                y,
                width: planes[0].width,
                height: planes[0].height,
                truth: p.truth,
                score: p.score,
            };
            decoded.push((planes, patch));
        }
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(Error::input(
                "heatmap",
                format!(
                    "slide {slide}: its patches' names place them over {width} x {height} pixels, more than {MAX_SIDE} a side"
                ),
            ));
        }
        let mut map = SlideMap::new(width, height);
        for (planes, patch) in decoded {
            map.place(&planes, patch);
        }
        Ok(map)
    }

    /// The title `mammolab predict --heatmap` gives `slide`'s picture: the slide, what the
    /// score is, and its ROC AUC where both classes are on it.
    pub fn title(&self, slide: &str, map: &SlideMap) -> String {
        let p = &self.positive_name;
        match map.roc_auc() {
            Some(a) => format!("{slide}: p({p}) per patch, ROC AUC {a:.3}"),
            None => format!("{slide}: p({p}) per patch"),
        }
    }
}

/// Draw every slide of `predictions` into `dir`: `<slide>.png` (the slide's pseudonym, as
/// the predictions table names its patient; [`Slides`]) and `slides.csv`.
pub fn write_heatmaps(predictions: &Predictions, dir: &Path) -> Result<HeatmapsWritten> {
    let _lock = crate::outlock::OutLock::folder(dir)?;
    let slides = Slides::of(predictions)?;
    let mut rows = vec![];
    let mut placed = 0;
    for slide in slides.names() {
        let map = slides.map(&slide)?;
        let png = format!("{slide}.png");
        slide_figure(&map, &slides.title(&slide, &map))?.save(dir.join(&png))?;
        placed += map.patches.len();
        rows.push(SlideRow {
            patches: map.patches.len(),
            positive: map.positives(),
            mean_score: map.mean_score(),
            roc_auc: map.roc_auc(),
            slide,
            png,
        });
    }
    let mut table = DataFrame::new_infer_height(vec![
        Column::new(
            "slide".into(),
            rows.iter().map(|r| r.slide.clone()).collect::<Vec<_>>(),
        ),
        Column::new(
            "patches".into(),
            rows.iter().map(|r| r.patches as u64).collect::<Vec<_>>(),
        ),
        Column::new(
            format!("annotated_{}", slides.positive_name).into(),
            rows.iter().map(|r| r.positive as u64).collect::<Vec<_>>(),
        ),
        Column::new(
            "mean_score".into(),
            rows.iter().map(|r| r.mean_score).collect::<Vec<_>>(),
        ),
        Column::new(
            "roc_auc".into(),
            rows.iter().map(|r| r.roc_auc).collect::<Vec<_>>(),
        ),
        Column::new(
            "png".into(),
            rows.iter().map(|r| r.png.clone()).collect::<Vec<_>>(),
        ),
    ])
    .map_err(|e| Error::table("heatmap", e))?;
    write_csv(&mut table, &dir.join("slides.csv"))?;
    Ok(HeatmapsWritten {
        dir: dir.to_path_buf(),
        slides: rows.len(),
        patches: placed,
        unplaced: slides.unplaced,
    })
}
