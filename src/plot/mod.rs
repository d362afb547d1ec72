//! Charts drawn with plotters, and notebook display for charts and tables.
//!
//! Each chart is one function that draws on any plotters [`DrawingArea`], so the same code
//! makes a PNG for the CLI, an SVG for a paper and an inline image in a notebook. The chart
//! functions compute nothing that [`eval`](crate::eval) owns: they take its curves and
//! matrices as they are.
//!
//! ```no_run
//! use mammolab::eval;
//! use mammolab::plot::{self, Figure};
//!
//! # fn main() -> mammolab::Result<()> {
//! let labels = [false, false, true, false, true];
//! let scores = [0.1, 0.3, 0.35, 0.6, 0.9];
//! let roc = eval::roc_curve(&labels, &scores)?;
//! let fig = Figure::png(640, 480, |area| plot::roc(area, &[("model", &roc)], None))?;
//! fig.save("roc.png")?;
//! // In an evcxr notebook, `fig` as the last expression of a cell shows the chart inline.
//! # Ok(()) }
//! ```
//!
//! Text in bitmaps needs a TrueType font. plotters keeps fonts in a process-wide registry,
//! so the first bitmap chart registers one: the file given to [`use_font_file`], or else
//! the first of [`FONT_CANDIDATES`] that exists (DejaVu Sans on Debian and Ubuntu, from
//! the `fonts-dejavu-core` package).

mod charts;
mod metrics;
mod slide;
mod table;

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

pub use charts::{
    accuracy_paradox, augment_figure, augment_grid, calibration, class_roc, confusion_matrix,
    image_grid, latent_scatter, pr, roc, threshold_sweep, training_curves, CellValues, Tile,
};
pub use metrics::{binary_figures, multiclass_figures};
pub use slide::{slide_figure, slide_heatmap, SlideMap, SlidePatch};
pub use table::Table;

use crate::error::{Error, Result};

/// Font files tried, in order, when no font was set with [`use_font_file`].
pub const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation-sans/LiberationSans-Regular.ttf",
    "/Library/Fonts/Arial.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "C:\\Windows\\Fonts\\arial.ttf",
];

/// The font family name the charts ask for.
pub(crate) const FAMILY: &str = "sans-serif";

static FONT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();

/// Use this TrueType file for all chart text. Must be called before the first bitmap
/// chart; later calls are ignored (plotters' font registry is process-wide).
pub fn use_font_file(path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref().to_path_buf();
    let r = FONT.get_or_init(|| register(&path).map(|()| path.clone()));
    r.clone().map(|_| ()).map_err(|message| Error::Plot {
        chart: "font",
        message,
    })
}

fn register(path: &Path) -> std::result::Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    // plotters wants 'static font data; this happens once per process.
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font(FAMILY, style, bytes)
            .map_err(|_| format!("{}: not a TrueType font", path.display()))?;
    }
    Ok(())
}

fn ensure_font() -> Result<()> {
    let r = FONT.get_or_init(|| {
        FONT_CANDIDATES
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                "no TrueType font found; install fonts-dejavu-core or call plot::use_font_file"
                    .to_string()
            })
            .and_then(|p| register(p).map(|()| p.to_path_buf()))
    });
    r.clone().map(|_| ()).map_err(|message| Error::Plot {
        chart: "font",
        message,
    })
}

/// Turn a plotters error into ours, naming the chart.
pub(crate) fn drawing<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Plot {
        chart,
        message: e.to_string(),
    }
}

/// A rendered chart: PNG bytes or SVG text, ready to save or to show in a notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Figure {
    /// A PNG image.
    Png(Vec<u8>),
    /// An SVG document.
    Svg(String),
}

impl Figure {
    /// Draw `width` x `height` pixels with `draw` and encode them as PNG.
    pub fn png(
        width: u32,
        height: u32,
        draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<()>,
    ) -> Result<Self> {
        ensure_font()?;
        let mut rgb = vec![255u8; width as usize * height as usize * 3];
        {
            let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
            draw(&area)?;
            area.present().map_err(drawing("figure"))?;
        }
        let img = image::RgbImage::from_raw(width, height, rgb).ok_or_else(|| Error::Plot {
            chart: "figure",
            message: "bitmap has the wrong size".into(),
        })?;
        let mut png = Cursor::new(vec![]);
        img.write_to(&mut png, image::ImageFormat::Png)
            .map_err(|e| Error::Plot {
                chart: "figure",
                message: format!("cannot encode PNG: {e}"),
            })?;
        Ok(Figure::Png(png.into_inner()))
    }

    /// Draw `width` x `height` units with `draw` as SVG.
    pub fn svg(
        width: u32,
        height: u32,
        draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<()>,
    ) -> Result<Self> {
        ensure_font()?; // plotters measures text with the font to lay out the chart
        let mut text = String::new();
        {
            let area = SVGBackend::with_string(&mut text, (width, height)).into_drawing_area();
            draw(&area)?;
            area.present().map_err(drawing("figure"))?;
        }
        Ok(Figure::Svg(text))
    }

    /// Write the figure to `path` (use `.png` or `.svg` to match its kind).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        match self {
            Figure::Png(b) => crate::outlock::write_atomic(path, b),
            Figure::Svg(s) => crate::outlock::write_atomic(path, s.as_bytes()),
        }
    }

    /// A grey image as a 16-bit greyscale PNG: each value in [0, 1] becomes
    /// `round(value x 65535)`, so a display image keeps its precision (`mammolab dicom
    /// --png`; Pillow and numpy read it back as `uint16`).
    pub fn grey16(img: &crate::imaging::Gray) -> Result<Figure> {
        let data: Vec<u16> = img
            .pixels
            .iter()
            .map(|&v| (f64::from(v).clamp(0.0, 1.0) * 65535.0).round() as u16)
            .collect();
        let mut bytes = vec![];
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut bytes),
            &data
                .iter()
                .flat_map(|v| v.to_ne_bytes())
                .collect::<Vec<u8>>(),
            img.width as u32,
            img.height as u32,
            image::ExtendedColorType::L16,
        )
        .map_err(|e| Error::input("png", e.to_string()))?;
        Ok(Figure::Png(bytes))
    }

    /// The MIME type and payload of the evcxr display protocol.
    pub fn mime_payload(&self) -> (&'static str, String) {
        match self {
            Figure::Png(b) => (
                "image/png",
                base64::engine::general_purpose::STANDARD.encode(b),
            ),
            Figure::Svg(s) => ("image/svg+xml", s.clone()),
        }
    }

    /// Show the figure inline in an evcxr notebook. evcxr calls this for the value of a
    /// cell's last expression; it writes the display protocol to stdout, which is the one
    /// place the library prints.
    pub fn evcxr_display(&self) {
        let (mime, payload) = self.mime_payload();
        println!("EVCXR_BEGIN_CONTENT {mime}\n{payload}\nEVCXR_END_CONTENT");
    }
}
