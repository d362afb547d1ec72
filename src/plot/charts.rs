//! One function per chart, each drawing on any plotters backend.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::element::BitMapElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{drawing, FAMILY};
use crate::error::{Error, Result};
use crate::eval::{
    BinaryMetrics, CalibrationCurve, ConfusionMatrix, PrCurve, RocCurve, ThresholdSweep,
};

/// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// A metric's display name and how to read it off [`BinaryMetrics`].
type NamedMetric = (&'static str, fn(&BinaryMetrics) -> f64);

const GREY: RGBColor = RGBColor(110, 110, 110);
const CAPTION: u32 = 22;
const LABEL: u32 = 14;
const DESC: u32 = 16;

/// Legend line sample for series `i`.
fn legend_line(c: RGBColor) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], c.stroke_width(3))
}

fn check_nonempty(chart: &'static str, n: usize, what: &str) -> Result<()> {
    if n == 0 {
        return Err(Error::input("plot", format!("{chart}: no {what} to draw")));
    }
    Ok(())
}

/// A white chart with a caption, f64 axes, descriptions and the house styles: the frame
/// that roc, pr, calibration, threshold_sweep and latent_scatter share.
fn xy_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    chart: &'static str,
    title: &str,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    x_desc: &str,
    y_desc: &str,
) -> Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>> {
    area.fill(&WHITE).map_err(drawing(chart))?;
    let mut c = ChartBuilder::on(area)
        .caption(title, (FAMILY, CAPTION))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)
        .map_err(drawing(chart))?;
    c.configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style((FAMILY, LABEL))
        .axis_desc_style((FAMILY, DESC))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(drawing(chart))?;
    Ok(c)
}

/// A thin dashed grey reference line (chance, perfect calibration) with a legend entry.
fn reference_line<'a, DB: DrawingBackend + 'a>(
    c: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    chart: &'static str,
    from: (f64, f64),
    to: (f64, f64),
    label: String,
) -> Result<()> {
    c.draw_series(DashedLineSeries::new(
        [from, to],
        6,
        4,
        GREY.stroke_width(1),
    ))
    .map_err(drawing(chart))?
    .label(label)
    .legend(legend_line(GREY));
    Ok(())
}

/// A coloured 2-pixel line with a legend entry.
fn labelled_line<'a, DB: DrawingBackend + 'a>(
    c: &mut ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    chart: &'static str,
    points: impl IntoIterator<Item = (f64, f64)>,
    col: RGBColor,
    label: String,
) -> Result<()> {
    c.draw_series(LineSeries::new(points, col.stroke_width(2)))
        .map_err(drawing(chart))?
        .label(label)
        .legend(legend_line(col));
    Ok(())
}

/// One one-vs-rest ROC curve per class (`"<class> vs rest"`, its AUC in the legend) of class
/// probabilities `scores` against class indices `labels`.
pub fn class_roc<DB: DrawingBackend, S: AsRef<str>>(
    area: &DrawingArea<DB, Shift>,
    labels: &[usize],
    scores: &[Vec<f64>],
    classes: &[S],
) -> Result<()> {
    let curves = crate::eval::ovr_roc_curves(labels, scores, classes.len())?;
    let named: Vec<String> = classes
        .iter()
        .map(|c| format!("{} vs rest", c.as_ref()))
        .collect();
    let pairs: Vec<(&str, &RocCurve)> = named.iter().map(String::as_str).zip(&curves).collect();
    roc(area, &pairs, None)
}

/// ROC curves with their AUC in the legend, the chance diagonal, and optionally one
/// operating point `(false positive rate, true positive rate)` marked on the first curve.
pub fn roc<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[(&str, &RocCurve)],
    operating_point: Option<(f64, f64)>,
) -> Result<()> {
    const C: &str = "roc";
    check_nonempty(C, curves.len(), "curves")?;
    let mut chart = xy_chart(
        area,
        C,
        "ROC curve",
        0f64..1f64,
        0f64..1.0f64,
        "False positive rate (1 - specificity)",
        "True positive rate (sensitivity)",
    )?;
    reference_line(
        &mut chart,
        C,
        (0.0, 0.0),
        (1.0, 1.0),
        "chance (AUC 0.50)".to_string(),
    )?;
    for (i, (name, c)) in curves.iter().enumerate() {
        let col = colour(i);
        labelled_line(
            &mut chart,
            C,
            c.fpr.iter().copied().zip(c.tpr.iter().copied()),
            col,
            format!("{name} (AUC {:.3})", c.auc),
        )?;
    }
    if let Some((x, y)) = operating_point {
        chart
            .draw_series([Circle::new((x, y), 6, colour(0).filled())])
            .map_err(drawing(C))?
            .label(format!(
                "operating point (sens {y:.2}, spec {:.2})",
                1.0 - x
            ))
            .legend(|(x, y)| Circle::new((x + 11, y), 5, colour(0).filled()));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(drawing(C))
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    pos: SeriesLabelPosition,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(pos)
        .label_font((FAMILY, LABEL))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .margin(12)
        .draw()
}

/// Precision-recall curves with average precision in the legend and the prevalence of
/// the first curve as the chance baseline (what a random scorer achieves).
pub fn pr<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[(&str, &PrCurve)],
) -> Result<()> {
    const C: &str = "pr";
    check_nonempty(C, curves.len(), "curves")?;
    let mut chart = xy_chart(
        area,
        C,
        "Precision-recall curve",
        0f64..1f64,
        0f64..1.02f64,
        "Recall (sensitivity)",
        "Precision (positive predictive value)",
    )?;
    let base = curves[0].1.prevalence;
    reference_line(
        &mut chart,
        C,
        (0.0, base),
        (1.0, base),
        format!("chance (prevalence {base:.3})"),
    )?;
    for (i, (name, c)) in curves.iter().enumerate() {
        let col = colour(i);
        labelled_line(
            &mut chart,
            C,
            c.recall.iter().copied().zip(c.precision.iter().copied()),
            col,
            format!("{name} (AP {:.3})", c.average_precision),
        )?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(drawing(C))
}

/// Reliability diagram: observed fraction of positives against mean predicted probability
/// per bin, with the diagonal of perfect calibration.
pub fn calibration<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[(&str, &CalibrationCurve)],
) -> Result<()> {
    const C: &str = "calibration";
    check_nonempty(C, curves.len(), "curves")?;
    let mut chart = xy_chart(
        area,
        C,
        "Calibration",
        0f64..1f64,
        0f64..1f64,
        "Mean predicted probability",
        "Fraction of positives",
    )?;
    reference_line(
        &mut chart,
        C,
        (0.0, 0.0),
        (1.0, 1.0),
        "perfectly calibrated".to_string(),
    )?;
    for (i, (name, c)) in curves.iter().enumerate() {
        let col = colour(i);
        let pts: Vec<(f64, f64)> = c
            .prob_pred
            .iter()
            .copied()
            .zip(c.prob_true.iter().copied())
            .collect();
        labelled_line(&mut chart, C, pts.clone(), col, name.to_string())?;
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, col.filled())))
            .map_err(drawing(C))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(drawing(C))
}

/// Precision, recall, specificity and F1 against the threshold, with an optional vertical
/// line at a chosen threshold.
pub fn threshold_sweep<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    sweep: &ThresholdSweep,
    chosen: Option<f64>,
) -> Result<()> {
    const C: &str = "threshold_sweep";
    let rows: Vec<(f64, BinaryMetrics)> = sweep
        .thresholds
        .iter()
        .zip(&sweep.confusion)
        .filter(|(t, _)| t.is_finite())
        .map(|(&t, c)| (t, c.metrics()))
        .collect();
    check_nonempty(C, rows.len(), "finite thresholds")?;
    let (lo, hi) = rows
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (t, _)| {
            (a.min(*t), b.max(*t))
        });
    let pad = ((hi - lo) * 0.02).max(1e-6);
    let mut chart = xy_chart(
        area,
        C,
        "Metrics by threshold (positive when score >= t)",
        lo - pad..hi + pad,
        0f64..1.02f64,
        "Threshold t",
        "Value",
    )?;
    let metrics: [NamedMetric; 4] = [
        ("precision", |m| m.precision),
        ("recall (sensitivity)", |m| m.recall),
        ("specificity", |m| m.specificity),
        ("F1", |m| m.f1),
    ];
    for (i, (name, f)) in metrics.iter().enumerate() {
        let col = colour(i);
        labelled_line(
            &mut chart,
            C,
            rows.iter().map(|(t, m)| (*t, f(m))),
            col,
            name.to_string(),
        )?;
    }
    if let Some(t) = chosen.filter(|t| t.is_finite()) {
        chart
            .draw_series(DashedLineSeries::new(
                [(t, 0.0), (t, 1.02)],
                6,
                4,
                BLACK.stroke_width(1),
            ))
            .map_err(drawing(C))?
            .label(format!("chosen t = {t:.3}"))
            .legend(legend_line(BLACK));
    }
    legend(&mut chart, SeriesLabelPosition::LowerLeft).map_err(drawing(C))
}

/// What the cells of a [`confusion_matrix`] chart show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellValues {
    /// Raw counts; colour by count.
    Counts,
    /// Each row as fractions of its true class (per-class recall on the diagonal), with
    /// the count in brackets; colour by fraction.
    RowNormalised,
}

/// Heatmap of a confusion matrix: true class down, predicted class across.
pub fn confusion_matrix<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    cm: &ConfusionMatrix,
    values: CellValues,
) -> Result<()> {
    const C: &str = "confusion_matrix";
    let k = cm.classes.len();
    check_nonempty(C, k, "classes")?;
    let norm = cm.row_normalised();
    let max = cm
        .counts
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let shade = |i: usize, j: usize| match values {
        CellValues::Counts => cm.counts[i][j] as f64 / max,
        CellValues::RowNormalised => norm[i][j],
    };
    let label_width = cm
        .classes
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(4) as u32;
    area.fill(&WHITE).map_err(drawing(C))?;
    let title = match values {
        CellValues::Counts => "Confusion matrix (counts)",
        CellValues::RowNormalised => "Confusion matrix (fraction of each true class)",
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FAMILY, CAPTION))
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(40 + 8 * label_width.min(20))
        // An integer range is inclusive in plotters: 0..k-1 holds k classes.
        .build_cartesian_2d(
            (0..k as i32 - 1).into_segmented(),
            (0..k as i32 - 1).into_segmented(),
        )
        .map_err(drawing(C))?;
    let name_at = |v: &SegmentValue<i32>, flip: bool| match v {
        SegmentValue::CenterOf(i) if (*i as usize) < k => {
            let i = if flip {
                k - 1 - *i as usize
            } else {
                *i as usize
            };
            cm.classes[i].clone()
        }
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("Predicted class")
        .y_desc("True class")
        .x_labels(k)
        .y_labels(k)
        .x_label_formatter(&|v| name_at(v, false))
        .y_label_formatter(&|v| name_at(v, true))
        .label_style((FAMILY, LABEL))
        .axis_desc_style((FAMILY, DESC))
        .draw()
        .map_err(drawing(C))?;
    let cells: Vec<(usize, usize)> = (0..k).flat_map(|i| (0..k).map(move |j| (i, j))).collect();
    // Row 0 is drawn at the top, like a printed matrix.
    let y = |i: usize| (k - 1 - i) as i32;
    chart
        .draw_series(cells.iter().map(|&(i, j)| {
            let s = shade(i, j);
            let c = RGBColor(
                (247.0 - s * 239.0) as u8,
                (251.0 - s * 203.0) as u8,
                (255.0 - s * 148.0) as u8,
            );
            Rectangle::new(
                [
                    (SegmentValue::Exact(j as i32), SegmentValue::Exact(y(i))),
                    (
                        SegmentValue::Exact(j as i32 + 1),
                        SegmentValue::Exact(y(i) + 1),
                    ),
                ],
                c.filled(),
            )
        }))
        .map_err(drawing(C))?;
    let size = if k > 6 { 12 } else { 16 };
    chart
        .draw_series(cells.iter().map(|&(i, j)| {
            let text = match values {
                CellValues::Counts => cm.counts[i][j].to_string(),
                CellValues::RowNormalised => format!("{:.2} ({})", norm[i][j], cm.counts[i][j]),
            };
            let ink = if shade(i, j) > 0.55 { WHITE } else { BLACK };
            Text::new(
                text,
                (
                    SegmentValue::CenterOf(j as i32),
                    SegmentValue::CenterOf(y(i)),
                ),
                (FAMILY, size)
                    .into_font()
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center)),
            )
        }))
        .map_err(drawing(C))?;
    Ok(())
}

/// Loss or metric per epoch, one line per series (e.g. `("train loss", &train)`,
/// `("val loss", &val)`).
pub fn training_curves<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &[(&str, &[f64])],
    y_label: &str,
) -> Result<()> {
    const C: &str = "training_curves";
    let epochs = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    check_nonempty(C, epochs, "epochs")?;
    let finite = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        return Err(Error::input("plot", format!("{C}: no finite values")));
    }
    let pad = ((hi - lo) * 0.05).max(1e-3);
    area.fill(&WHITE).map_err(drawing(C))?;
    let mut chart = ChartBuilder::on(area)
        .caption("Training history", (FAMILY, CAPTION))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(1f64..(epochs.max(2)) as f64, lo - pad..hi + pad)
        .map_err(drawing(C))?;
    chart
        .configure_mesh()
        .x_desc("Epoch")
        .y_desc(y_label)
        .x_labels(epochs.clamp(2, 12))
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .label_style((FAMILY, LABEL))
        .axis_desc_style((FAMILY, DESC))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(drawing(C))?;
    for (i, (name, v)) in series.iter().enumerate() {
        let col = colour(i);
        let pts: Vec<(f64, f64)> = v
            .iter()
            .enumerate()
            .filter(|(_, y)| y.is_finite())
            .map(|(e, &y)| ((e + 1) as f64, y))
            .collect();
        labelled_line(&mut chart, C, pts.clone(), col, name.to_string())?;
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, col.filled())))
            .map_err(drawing(C))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(drawing(C))
}

/// 2-D latent codes (e.g. the VAE's mean, or its first two principal components), one
/// colour per class.
pub fn latent_scatter<DB: DrawingBackend, S: AsRef<str>>(
    area: &DrawingArea<DB, Shift>,
    points: &[(f64, f64)],
    classes: &[usize],
    class_names: &[S],
) -> Result<()> {
    const C: &str = "latent_scatter";
    check_nonempty(C, points.len(), "points")?;
    if points.len() != classes.len() || classes.iter().any(|&c| c >= class_names.len()) {
        return Err(Error::input(
            "plot",
            format!(
                "{C}: {} points, {} classes, class indices must be below {}",
                points.len(),
                classes.len(),
                class_names.len()
            ),
        ));
    }
    let bounds = |f: fn(&(f64, f64)) -> f64| {
        let (a, b) = points
            .iter()
            .map(f)
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        let pad = ((b - a) * 0.05).max(1e-3);
        (a - pad)..(b + pad)
    };
    let (xr, yr) = (bounds(|p| p.0), bounds(|p| p.1));
    if !(xr.start.is_finite() && yr.start.is_finite()) {
        return Err(Error::input("plot", format!("{C}: no finite points")));
    }
    let mut chart = xy_chart(
        area,
        C,
        "Latent space",
        xr,
        yr,
        "latent dimension 1",
        "latent dimension 2",
    )?;
    for (c, name) in class_names.iter().enumerate() {
        let col = colour(c);
        let n = classes.iter().filter(|&&k| k == c).count();
        chart
            .draw_series(
                points
                    .iter()
                    .zip(classes)
                    .filter(|(p, &k)| k == c && p.0.is_finite() && p.1.is_finite())
                    .map(|(&p, _)| Circle::new(p, 3, col.mix(0.7).filled())),
            )
            .map_err(drawing(C))?
            .label(format!("{} (n = {n})", name.as_ref()))
            .legend(move |(x, y)| Circle::new((x + 11, y), 4, col.filled()));
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(drawing(C))
}

/// The accuracy paradox: accuracy, recall and F1 side by side for each model, e.g. the
/// majority-class baseline (accuracy 0.98, recall 0) against a CNN.
pub fn accuracy_paradox<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    models: &[(&str, &BinaryMetrics)],
) -> Result<()> {
    const C: &str = "accuracy_paradox";
    check_nonempty(C, models.len(), "models")?;
    let metrics: [NamedMetric; 4] = [
        ("accuracy", |m| m.accuracy),
        ("balanced accuracy", |m| m.balanced_accuracy),
        ("recall (cancer)", |m| m.recall),
        ("F1 (cancer)", |m| m.f1),
    ];
    area.fill(&WHITE).map_err(drawing(C))?;
    let mut chart = ChartBuilder::on(area)
        .caption("Accuracy hides missed cancers", (FAMILY, CAPTION))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(-0.5f64..metrics.len() as f64 - 0.5, 0f64..1.15f64)
        .map_err(drawing(C))?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(metrics.len())
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < metrics.len() {
                metrics[i as usize].0.to_string()
            } else {
                String::new()
            }
        })
        .y_desc("Value")
        .label_style((FAMILY, LABEL))
        .axis_desc_style((FAMILY, DESC))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(drawing(C))?;
    let w = 0.8 / models.len() as f64;
    for (mi, (name, m)) in models.iter().enumerate() {
        let col = colour(mi);
        let x0 = |k: usize| k as f64 - 0.4 + mi as f64 * w;
        chart
            .draw_series(metrics.iter().enumerate().map(|(k, (_, f))| {
                Rectangle::new(
                    [(x0(k) + 0.01, 0.0), (x0(k) + w - 0.01, f(m))],
                    col.filled(),
                )
            }))
            .map_err(drawing(C))?
            .label(name.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], col.filled()));
        chart
            .draw_series(metrics.iter().enumerate().map(|(k, (_, f))| {
                Text::new(
                    format!("{:.2}", f(m)),
                    (x0(k) + w / 2.0, f(m) + 0.01),
                    (FAMILY, 13)
                        .into_font()
                        .color(&BLACK)
                        .pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))
            .map_err(drawing(C))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(drawing(C))
}

/// One image of an [`image_grid`].
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// Grey values in [0, 1], row-major, `width * height` of them.
    pub pixels: Vec<f32>,
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Caption, e.g. `"cancer / pred normal / p=0.12"`.
    pub caption: String,
    /// `Some(true)` prints the caption green, `Some(false)` red (a wrong prediction).
    pub correct: Option<bool>,
    /// A heat map over the image (`width * height` values in [0, 1], e.g. a saliency map
    /// divided by its maximum), blended in with a blue-to-red colour scale; 0 leaves the
    /// pixel grey.
    pub heat: Option<Vec<f32>>,
    /// Circles `[x, y, radius]` in image pixels (e.g. the true lesion), drawn in green.
    pub circles: Vec<[f32; 3]>,
    /// A cross at `[x, y]` in image pixels (e.g. the saliency peak), drawn in white.
    pub cross: Option<[f32; 2]>,
    /// The image in colour, `[r, g, b]` in [0, 1] per pixel (`pixels` then holds its grey):
    /// drawn instead of the grey ([`Tile::colour`]).
    pub colour: Option<Vec<[f32; 3]>>,
}

impl Tile {
    /// A tile of `img` (values clamped to [0, 1]) with `caption`.
    pub fn new(img: &crate::imaging::Gray, caption: impl Into<String>) -> Self {
        Self {
            pixels: img.pixels.iter().map(|v| v.clamp(0.0, 1.0)).collect(),
            width: img.width,
            height: img.height,
            caption: caption.into(),
            correct: None,
            heat: None,
            circles: vec![],
            cross: None,
            colour: None,
        }
    }

    /// A tile of an image given as its red, green and blue planes (one size; values clamped
    /// to [0, 1]) with `caption`; any other number of planes is shown as their grey.
    pub fn colour(planes: &[crate::imaging::Gray], caption: impl Into<String>) -> Self {
        let mut tile = Self::new(&crate::imaging::luma(planes), caption);
        if let [r, g, b] = planes {
            tile.colour = Some(
                (0..r.pixels.len().min(g.pixels.len()).min(b.pixels.len()))
                    .map(|i| [r.pixels[i], g.pixels[i], b.pixels[i]].map(|v| v.clamp(0.0, 1.0)))
                    .collect(),
            );
        }
        tile
    }

    /// The same tile with `heat` (values clamped to [0, 1]) blended over it, or an error when
    /// it is not one value per pixel.
    pub fn with_heat(mut self, heat: &[f32]) -> Result<Self> {
        if heat.len() != self.width * self.height {
            return Err(Error::input(
                "plot",
                format!(
                    "tile: {} heat values for {}x{}",
                    heat.len(),
                    self.width,
                    self.height
                ),
            ));
        }
        self.heat = Some(heat.iter().map(|v| v.clamp(0.0, 1.0)).collect());
        Ok(self)
    }

    /// The same tile with a green circle at `(x, y)`, radius `r` (image pixels).
    pub fn with_circle(mut self, x: f32, y: f32, r: f32) -> Self {
        self.circles.push([x, y, r]);
        self
    }

    /// The same tile with a white cross at `(x, y)` (image pixels).
    pub fn with_cross(mut self, x: f32, y: f32) -> Self {
        self.cross = Some([x, y]);
        self
    }

    /// The same tile with its caption green (`true`) or red (`false`).
    pub fn marked(mut self, correct: bool) -> Self {
        self.correct = Some(correct);
        self
    }
}

/// Images in a grid of `cols` columns with captions: a class gallery, or the top losses
/// (most confident mistakes) of a model.
pub fn image_grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    tiles: &[Tile],
    cols: usize,
    title: &str,
) -> Result<()> {
    const C: &str = "image_grid";
    check_nonempty(C, tiles.len(), "images")?;
    if let Some((i, t)) = tiles.iter().enumerate().find(|(_, t)| {
        let n = t.width * t.height;
        n == 0
            || t.pixels.len() != n
            || t.heat.as_ref().is_some_and(|h| h.len() != n)
            || t.colour.as_ref().is_some_and(|c| c.len() != n)
    }) {
        return Err(Error::input(
            "plot",
            format!(
                "{C}: tile {i} has {} pixels ({} heat values) for {}x{}",
                t.pixels.len(),
                t.heat.as_ref().map_or(0, |h| h.len()),
                t.width,
                t.height
            ),
        ));
    }
    let cols = cols.clamp(1, tiles.len());
    let rows = tiles.len().div_ceil(cols);
    area.fill(&WHITE).map_err(drawing(C))?;
    let body = area.titled(title, (FAMILY, CAPTION)).map_err(drawing(C))?;
    for (cell, t) in body.split_evenly((rows, cols)).iter().zip(tiles) {
        let ink = match t.correct {
            Some(true) => RGBColor(0, 120, 60),
            Some(false) => RGBColor(200, 30, 30),
            None => BLACK,
        };
        let inner = cell
            .titled(&t.caption, (FAMILY, 13).into_font().color(&ink))
            .map_err(drawing(C))?;
        let (cw, ch) = inner.dim_in_pixel();
        let scale = ((cw as f64 - 4.0) / t.width as f64).min((ch as f64 - 4.0) / t.height as f64);
        if scale <= 0.0 {
            continue;
        }
        let (w, h) = (
            ((t.width as f64 * scale) as u32).max(1),
            ((t.height as f64 * scale) as u32).max(1),
        );
        let mut rgb = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            let sy = ((y as f64 / scale) as usize).min(t.height - 1);
            for x in 0..w {
                let sx = ((x as f64 / scale) as usize).min(t.width - 1);
                let i = sy * t.width + sx;
                let base = match &t.colour {
                    Some(c) => c[i],
                    None => [t.pixels[i].clamp(0.0, 1.0); 3],
                };
                let px = match &t.heat {
                    Some(heat) => {
                        let v = heat[i];
                        let a = 0.6 * ((v - 0.1) / 0.9).clamp(0.0, 1.0);
                        let h = heat_colour(v);
                        std::array::from_fn(|k| (1.0 - a) * base[k] + a * h[k])
                    }
                    None => base,
                };
                rgb.extend(px.map(|c| (c * 255.0).round() as u8));
            }
        }
        let pos = (((cw - w) / 2) as i32, ((ch - h) / 2) as i32);
        let elem =
            BitMapElement::with_owned_buffer(pos, (w, h), rgb).ok_or_else(|| Error::Plot {
                chart: C,
                message: "bitmap size mismatch".into(),
            })?;
        inner.draw(&elem).map_err(drawing(C))?;
        let at = |x: f32, y: f32| {
            (
                pos.0 + (x as f64 * scale) as i32,
                pos.1 + (y as f64 * scale) as i32,
            )
        };
        for &[x, y, r] in &t.circles {
            let ring = Circle::new(
                at(x, y),
                ((r as f64 * scale) as i32).max(3),
                RGBColor(40, 220, 90).stroke_width(2),
            );
            inner.draw(&ring).map_err(drawing(C))?;
        }
        if let Some([x, y]) = t.cross {
            inner
                .draw(&Cross::new(at(x, y), 6, WHITE.stroke_width(2)))
                .map_err(drawing(C))?;
        }
    }
    Ok(())
}

/// Blue (0) through cyan, yellow to red (1): the colour of a heat value.
fn heat_colour(v: f32) -> [f32; 3] {
    let band = |centre: f32| (1.5 - (4.0 * v - centre).abs()).clamp(0.0, 1.0);
    [band(3.0), band(2.0), band(1.0)]
}

/// [`augment_grid`] in a figure of its own: 400 x 420 pixels a tile, a row per image.
pub fn augment_figure(
    images: &[crate::imaging::Gray],
    augment: &crate::dataset::Augment,
    copies: usize,
    seed: u64,
) -> Result<super::Figure> {
    let (cols, rows) = (copies as u32 + 1, images.len() as u32);
    super::Figure::png(cols * 400, rows * 420 + 40, |area| {
        augment_grid(area, images, augment, copies, seed)
    })
}

/// What [`Augment`](crate::dataset::Augment) makes of each image: one row per image, the
/// image as prepared first, then `copies` random versions (image `i`'s copy `j` uses stream
/// `i * copies + j` of `seed`), each captioned with its draw. `images` are [0, 1] images of
/// one size (before normalisation).
pub fn augment_grid<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    images: &[crate::imaging::Gray],
    augment: &crate::dataset::Augment,
    copies: usize,
    seed: u64,
) -> Result<()> {
    let mut tiles = Vec::with_capacity(images.len() * (copies + 1));
    for (i, img) in images.iter().enumerate() {
        tiles.push(Tile::new(img, "as prepared"));
        for j in 0..copies {
            let mut rng = crate::rng::Rng::derive(seed, (i * copies + j) as u64);
            let draw = augment.draw(img.width, img.height, &mut rng);
            let mut pixels = img.pixels.clone();
            draw.apply(&mut pixels, [1, img.height, img.width], None);
            let out = crate::imaging::Gray {
                pixels,
                ..img.clone()
            };
            tiles.push(Tile::new(&out, draw.to_string()));
        }
    }
    image_grid(area, &tiles, copies + 1, &format!("augment: {augment}"))
}
