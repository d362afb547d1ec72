//! Slide heat maps (`mammolab predict --heatmap DIR`): patches that name their place on the
//! slide (seed 003's `8863_idx5_x451_y1451_class0.png`) put back together, one PNG per
//! slide with the mosaic, the annotation and the model's probability side by side, and
//! `slides.csv` with each slide's counts and ROC AUC.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::{Column, DataFrame};
use serde::Serialize;

use super::predict::{Input, Predictions};
use crate::error::{Error, Result};
use crate::ingest::dicom::read_display_rgb;
use crate::ingest::frames::write_csv;
use crate::ingest::histology::PatchName;
use crate::plot::{slide_heatmap, Figure, SlideMap, SlidePatch};
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

/// Draw every slide of `predictions` into `dir`: `<slide>.png` (the slide's pseudonym, as
/// the predictions table names its patient) and `slides.csv`. A slide is the patient of a
/// manifest's row, else the pseudonym of the patient a file name starts with.
pub fn write_heatmaps(predictions: &Predictions, dir: &Path) -> Result<HeatmapsWritten> {
    let _lock = crate::outlock::OutLock::folder(dir)?;
    let classes = predictions.classes();
    let positive = classes.require_positive("a heat map of its probability")?;
    let positive_name = classes.names()[positive].clone();
    let mut slides: BTreeMap<String, Vec<(PatchName, &Input, f64)>> = BTreeMap::new();
    let mut unplaced = 0;
    for (input, probs) in predictions.rows() {
        let name = input.file.to_string_lossy();
        let Some(place) = PatchName::parse(&name) else {
            unplaced += 1;
            continue;
        };
        let slide = input
            .patient
            .clone()
            .unwrap_or_else(|| pseudonym(&place.patient));
        slides
            .entry(slide)
            .or_default()
            .push((place, input, probs[positive]));
    }
    let mut rows = vec![];
    let mut placed = 0;
    for (slide, patches) in &slides {
        let mut decoded = Vec::with_capacity(patches.len());
        let (mut width, mut height) = (0, 0);
        for (place, input, score) in patches {
            let planes = read_display_rgb(&input.file)?;
            let (x, y) = (place.x as usize - 1, place.y as usize - 1);
            width = width.max(x + planes[0].width);
            height = height.max(y + planes[0].height);
            let truth = match &input.class {
                Some(c) => Some(*c == positive_name),
                None => place.class.map(|c| c == 1),
            };
            let patch = SlidePatch {
                x,
                y,
                width: planes[0].width,
                height: planes[0].height,
                truth,
                score: *score,
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
        let labels: Vec<bool> = map.patches.iter().map(|p| p.truth == Some(true)).collect();
        let scores: Vec<f64> = map.patches.iter().map(|p| p.score).collect();
        let known = map.patches.iter().all(|p| p.truth.is_some());
        let roc_auc = known
            .then(|| crate::eval::roc_auc(&labels, &scores).ok())
            .flatten();
        let title = match roc_auc {
            Some(a) => format!("{slide}: p({positive_name}) per patch, ROC AUC {a:.3}"),
            None => format!("{slide}: p({positive_name}) per patch"),
        };
        let png = format!("{slide}.png");
        let aspect = height as f64 / width.max(1) as f64;
        let h = (330.0 * aspect).clamp(160.0, 1000.0) as u32 + 70;
        Figure::png(1000, h, |a| slide_heatmap(a, &map, &title))?.save(dir.join(&png))?;
        placed += map.patches.len();
        rows.push(SlideRow {
            slide: slide.clone(),
            patches: map.patches.len(),
            positive: labels.iter().filter(|&&l| l).count(),
            mean_score: scores.iter().sum::<f64>() / scores.len().max(1) as f64,
            roc_auc,
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
            format!("annotated_{positive_name}").into(),
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
        unplaced,
    })
}
