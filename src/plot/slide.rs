//! A whole slide put back together from its patches (seed 003's IDC patches name their place):
//! the mosaic, the annotation and the model's probability side by side.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::charts::{image_grid, Tile};
use super::Figure;
use crate::error::{Error, Result};
use crate::imaging::Gray;

/// One patch of a [`SlideMap`]: where it lies, its class and its score.
#[derive(Debug, Clone, PartialEq)]
pub struct SlidePatch {
    /// Column of its top-left pixel on the slide (0-based).
    pub x: usize,
    /// Row of its top-left pixel (0-based).
    pub y: usize,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Whether it is annotated positive (`None`: not known).
    pub truth: Option<bool>,
    /// The model's probability of the positive class.
    pub score: f64,
}

/// A slide rebuilt from patches: its mosaic (red, green and blue planes, black where no
/// patch was kept) and each patch.
#[derive(Debug, Clone, PartialEq)]
pub struct SlideMap {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// The red, green and blue planes (`width x height` each).
    pub mosaic: Vec<Gray>,
    /// Every patch placed on it.
    pub patches: Vec<SlidePatch>,
}

impl SlideMap {
    /// An empty `width x height` slide.
    pub fn new(width: usize, height: usize) -> Self {
        let plane = Gray {
            width,
            height,
            pixels: vec![0.0; width * height],
        };
        Self {
            width,
            height,
            mosaic: vec![plane.clone(), plane.clone(), plane],
            patches: vec![],
        }
    }

    /// Paste a patch (its planes, clipped to the slide) and record it.
    pub fn place(&mut self, planes: &[Gray], patch: SlidePatch) {
        if patch.x >= self.width || patch.y >= self.height {
            return;
        }
        for (to, from) in self.mosaic.iter_mut().zip(planes) {
            for r in 0..from.height.min(self.height.saturating_sub(patch.y)) {
                let w = from.width.min(self.width.saturating_sub(patch.x));
                let at = (patch.y + r) * self.width + patch.x;
                to.pixels[at..at + w]
                    .copy_from_slice(&from.pixels[r * from.width..r * from.width + w]);
            }
        }
        self.patches.push(patch);
    }

    /// Patches annotated positive.
    pub fn positives(&self) -> usize {
        self.patches
            .iter()
            .filter(|p| p.truth == Some(true))
            .count()
    }

    /// The mean of the patches' scores (0 with none).
    pub fn mean_score(&self) -> f64 {
        self.patches.iter().map(|p| p.score).sum::<f64>() / self.patches.len().max(1) as f64
    }

    /// The patches' ROC AUC against their annotation; `None` when a patch's class is not
    /// known or the slide holds one class only.
    pub fn roc_auc(&self) -> Option<f64> {
        let labels: Option<Vec<bool>> = self.patches.iter().map(|p| p.truth).collect();
        let scores: Vec<f64> = self.patches.iter().map(|p| p.score).collect();
        crate::eval::roc_auc(&labels?, &scores).ok()
    }

    /// One value per slide pixel: each patch's `value`, 0 where there is none.
    fn per_pixel(&self, value: impl Fn(&SlidePatch) -> f32) -> Vec<f32> {
        let mut out = vec![0f32; self.width * self.height];
        for p in &self.patches {
            let v = value(p);
            for r in p.y..(p.y + p.height).min(self.height) {
                let row = r * self.width;
                out[row + p.x.min(self.width)..row + (p.x + p.width).min(self.width)].fill(v);
            }
        }
        out
    }
}

/// [`slide_heatmap`] as a PNG 1,000 pixels wide, as tall as the slide's shape asks.
pub fn slide_figure(slide: &SlideMap, title: &str) -> Result<Figure> {
    let aspect = slide.height as f64 / slide.width.max(1) as f64;
    let h = (330.0 * aspect).clamp(160.0, 1000.0) as u32 + 70;
    Figure::png(1000, h, |a| slide_heatmap(a, slide, title))
}

/// Three panels of one slide: the mosaic, the annotation (positive patches in red) and the
/// model's probability of the positive class per patch (blue to red over the mosaic; below
/// 0.1 leaves the tissue as it is).
pub fn slide_heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    slide: &SlideMap,
    title: &str,
) -> Result<()> {
    if slide.patches.is_empty() || slide.width == 0 || slide.height == 0 {
        return Err(Error::input(
            "plot",
            "slide_heatmap: a slide without patches",
        ));
    }
    let truth = slide.per_pixel(|p| if p.truth == Some(true) { 1.0 } else { 0.0 });
    let score = slide.per_pixel(|p| p.score as f32);
    let positives = slide.positives();
    let tiles = [
        Tile::colour(&slide.mosaic, format!("{} patches", slide.patches.len())),
        Tile::colour(&slide.mosaic, format!("annotated positive: {positives}"))
            .with_heat(&truth)?,
        Tile::colour(&slide.mosaic, "model probability").with_heat(&score)?,
    ];
    image_grid(area, &tiles, 3, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(value: f32, w: usize, h: usize) -> Vec<Gray> {
        let g = Gray {
            width: w,
            height: h,
            pixels: vec![value; w * h],
        };
        vec![g.clone(), g.clone(), g]
    }

    #[test]
    fn patches_land_where_their_names_place_them() {
        let mut s = SlideMap::new(6, 4);
        let at = |x, y, width, height, score| SlidePatch {
            x,
            y,
            width,
            height,
            truth: Some(score > 0.5),
            score,
        };
        s.place(&patch(0.25, 2, 2), at(0, 0, 2, 2, 0.2));
        // An edge patch narrower than the rest, clipped to the slide where it overhangs.
        s.place(&patch(0.75, 3, 3), at(4, 2, 3, 3, 0.9));
        // Off the slide: ignored by the mosaic.
        s.place(&patch(1.0, 2, 2), at(9, 9, 2, 2, 1.0));
        let red = &s.mosaic[0].pixels;
        assert_eq!(red[..6], [0.25, 0.25, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(red[2 * 6..3 * 6], [0.0, 0.0, 0.0, 0.0, 0.75, 0.75]);
        assert_eq!(red[3 * 6..], [0.0, 0.0, 0.0, 0.0, 0.75, 0.75]);
        let score = s.per_pixel(|p| p.score as f32);
        assert_eq!(score[6..12], [0.2, 0.2, 0.0, 0.0, 0.0, 0.0]);
        assert_eq!(score[18..], [0.0, 0.0, 0.0, 0.0, 0.9, 0.9]);
        // The patch off the slide is not recorded either.
        assert_eq!(s.positives(), 1);
        assert!((s.mean_score() - 0.55).abs() < 1e-12);
        assert_eq!(s.roc_auc(), Some(1.0));
        let mut unknown = s.clone();
        unknown.patches[0].truth = None;
        assert_eq!(unknown.roc_auc(), None);
        let png = slide_figure(&s, "t").unwrap();
        assert!(matches!(png, crate::plot::Figure::Png(b) if b.len() > 1000));
        let png = crate::plot::Figure::png(600, 300, |a| slide_heatmap(a, &s, "t")).unwrap();
        assert!(matches!(png, crate::plot::Figure::Png(b) if b.len() > 1000));
        let empty = SlideMap::new(4, 4);
        assert!(crate::plot::Figure::png(600, 300, |a| slide_heatmap(a, &empty, "t")).is_err());
    }
}
