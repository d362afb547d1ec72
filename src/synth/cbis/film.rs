//! Digitised-film mammograms for the CBIS-DDSM twin: pure pixel math, no I/O.
//!
//! DDSM's films were scanned (LUMISYS, HOWTEK, DBA scanners) and CBIS-DDSM stores them as
//! 16-bit images that use the whole range. What a scanned film shows besides the breast, and
//! what a model must learn to ignore: bright bands where the film edge or the scanner's
//! mask shows, a burned-in label with text in the air beside the breast, film grain and a
//! faint scanner streak on some films.
//!
//! The abnormalities: masses (irregular or spiculated with an ill-defined edge, or round,
//! oval or lobulated with a sharp one) and calcification clusters (many fine, elongated,
//! pleomorphic specks, or fewer coarse round ones, some with a lucent centre). Which look a
//! lesion gets follows its pathology only in probability (the plan decides it), and sizes
//! and contrasts of both looks overlap: the task is learnable, not trivial.

use std::f64::consts::TAU;

use super::super::phantom::{self, fbm, for_box, smoothstep, Density, LesionSite, View};
use crate::rng::Rng;

/// What one abnormality looks like on the film.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Look {
    /// Irregular mass with an ill-defined margin, usually spiculated.
    SuspiciousMass,
    /// Round, oval or lobulated mass with a sharp margin.
    BenignMass,
    /// A tight cluster of many fine, elongated specks of varied size (pleomorphic).
    SuspiciousCalcifications,
    /// The same specks along a line or a segment (linear or segmental distribution).
    LinearCalcifications,
    /// Fewer, coarse, round specks, some with a lucent centre, scattered wider.
    BenignCalcifications,
}

impl Look {
    /// Whether this is a mass (else calcifications).
    pub fn is_mass(self) -> bool {
        matches!(self, Look::SuspiciousMass | Look::BenignMass)
    }
}

/// Everything that decides one film.
#[derive(Debug, Clone)]
pub struct FilmSpec {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Breast density.
    pub density: Density,
    /// View.
    pub view: View,
    /// Right breast: the chest wall is on the right edge.
    pub right: bool,
    /// The abnormalities in abnormality-id order: each one's look and contrast multiplier
    /// (1.0 = the twin's usual contrast).
    pub lesions: Vec<(Look, f32)>,
    /// The burned-in label's two lines (letters of `LEFT RIGHT CC MLO`, digits, `-`, space).
    pub label: [String; 2],
    /// A scanned film (border bands, the burned-in label, grain, streaks); `false` for a
    /// full-field digital mammogram, which has none of these.
    pub scanned: bool,
}

/// One abnormality's outline.
#[derive(Debug, Clone)]
pub struct Mask {
    /// `rows * cols` values, 255 inside the outline and 0 outside (CBIS-DDSM's ROI masks).
    pub pixels: Vec<u8>,
    /// Bounding box `[x0, y0, x1, y1)` of the outline in image pixels.
    pub bbox: [usize; 4],
}

/// A rendered film.
#[derive(Debug, Clone)]
pub struct Film {
    /// Row-major 16-bit values (0 = black), `rows * cols`.
    pub stored: Vec<u16>,
    /// One outline per abnormality, in the order of [`FilmSpec::lesions`].
    pub masks: Vec<Mask>,
}

/// Render a film.
pub fn render(spec: &FilmSpec, rng: &mut Rng) -> Film {
    let (h, w) = (spec.rows, spec.cols);
    let breast = phantom::render_breast(
        &phantom::PhantomSpec {
            rows: h,
            cols: w,
            density: spec.density,
            view: spec.view,
            lesion: None,
            conspicuity: 1.0,
        },
        rng,
    );
    let (mut px, inside) = (breast.px, breast.inside);
    let mut sites: Vec<LesionSite> = vec![];
    let mut masks = vec![];
    for &(look, contrast) in &spec.lesions {
        let site = place(spec, rng, &inside, &sites, look);
        let mut mask = vec![0u8; h * w];
        if look.is_mass() {
            draw_mass(&mut px, &mut mask, w, h, &site, look, contrast, rng);
        } else {
            let scale = h as f32 / 640.0;
            draw_calcifications(&mut px, &mut mask, w, h, &site, look, contrast, scale, rng);
        }
        sites.push(site);
        masks.push(mask);
    }
    if spec.right {
        for row in px.chunks_mut(w) {
            row.reverse();
        }
        for m in masks.iter_mut() {
            for row in m.chunks_mut(w) {
                row.reverse();
            }
        }
    }
    let air_on_right = !spec.right;
    if spec.scanned {
        scan(&mut px, w, h, &spec.label, air_on_right, rng);
    }
    let stored = px
        .iter()
        .map(|&b| (b.clamp(0.0, 1.0) * 65535.0).round() as u16)
        .collect();
    let masks = masks
        .into_iter()
        .map(|pixels| {
            let bbox = bounding_box(&pixels, w, h);
            Mask { pixels, bbox }
        })
        .collect();
    Film { stored, masks }
}

/// A centre well inside the breast, clear of the pectoral corner and of earlier lesions.
fn place(
    spec: &FilmSpec,
    rng: &mut Rng,
    inside: &[f32],
    taken: &[LesionSite],
    look: Look,
) -> LesionSite {
    let (h, w) = (spec.rows, spec.cols);
    let radius = match look {
        Look::SuspiciousMass => rng.range_f64(0.026, 0.05),
        Look::BenignMass => rng.range_f64(0.024, 0.046),
        Look::SuspiciousCalcifications | Look::LinearCalcifications => rng.range_f64(0.018, 0.032),
        Look::BenignCalcifications => rng.range_f64(0.022, 0.04),
    } as f32
        * h as f32;
    let mut best = LesionSite {
        x: 0.4 * w as f32,
        y: (0.3 + 0.2 * taken.len() as f32) * h as f32,
        radius,
    };
    let mut inside_breast = None;
    for _ in 0..300 {
        let x = rng.range_f64(0.12, 0.68) * w as f64;
        let y = rng.range_f64(0.15, 0.85) * h as f64;
        let rho = inside[y as usize * w + x as usize];
        let clear_of_pectoral = spec.view == View::Cc || x > 0.45 * w as f64;
        let clear_of_others = taken.iter().all(|t| {
            let (dx, dy) = (t.x - x as f32, t.y - y as f32);
            (dx * dx + dy * dy).sqrt() > 3.2 * (t.radius + radius)
        });
        let site = LesionSite {
            x: x as f32,
            y: y as f32,
            radius,
        };
        if rho < 0.7 && clear_of_others {
            if clear_of_pectoral {
                return site;
            }
            // A shallow breast may leave no room outside the pectoral band: keep the first
            // centre inside the breast rather than fall back to one in the air.
            inside_breast.get_or_insert(site);
        }
        best.x = x as f32;
    }
    inside_breast.unwrap_or(best)
}

#[allow(clippy::too_many_arguments)]
fn draw_mass(
    px: &mut [f32],
    mask: &mut [u8],
    w: usize,
    h: usize,
    site: &LesionSite,
    look: Look,
    conspicuity: f32,
    rng: &mut Rng,
) {
    let suspicious = look == Look::SuspiciousMass;
    let aspect = rng.range_f64(1.0, if suspicious { 1.3 } else { 1.7 }) as f32;
    let tilt = rng.range_f64(0.0, TAU) as f32;
    let lobes: Vec<(f32, f32, f32)> = if suspicious {
        vec![
            (
                3.0,
                rng.range_f64(0.0, TAU) as f32,
                rng.range_f64(0.12, 0.24) as f32,
            ),
            (
                5.0,
                rng.range_f64(0.0, TAU) as f32,
                rng.range_f64(0.06, 0.14) as f32,
            ),
            (
                8.0,
                rng.range_f64(0.0, TAU) as f32,
                rng.range_f64(0.03, 0.07) as f32,
            ),
        ]
    } else if rng.chance(0.35) {
        // lobulated
        vec![(
            4.0,
            rng.range_f64(0.0, TAU) as f32,
            rng.range_f64(0.06, 0.1) as f32,
        )]
    } else {
        vec![(2.0, rng.range_f64(0.0, TAU) as f32, 0.02)]
    };
    let spicules: Vec<(f32, f32)> = if suspicious && rng.chance(0.7) {
        (0..rng.range_i64(8, 17))
            .map(|_| {
                (
                    rng.range_f64(0.0, TAU) as f32,
                    rng.range_f64(1.5, 2.8) as f32,
                )
            })
            .collect()
    } else {
        vec![]
    };
    let contrast = if suspicious {
        rng.range_f64(0.12, 0.19)
    } else {
        rng.range_f64(0.10, 0.17)
    } as f32
        * conspicuity;
    let edge = if suspicious {
        rng.range_f64(0.18, 0.32)
    } else {
        rng.range_f64(0.05, 0.14)
    } as f32;
    let (ct, st) = (tilt.cos(), tilt.sin());
    for_box(w, h, site, site.radius * 3.0, |i, dx, dy| {
        let u = (dx * ct + dy * st) / aspect;
        let v = -dx * st + dy * ct;
        let r = (u * u + v * v).sqrt();
        let phi = v.atan2(u);
        let margin = site.radius
            * (1.0
                + lobes
                    .iter()
                    .map(|(k, p, a)| a * (k * phi + p).sin())
                    .sum::<f32>());
        // Denser toward the centre (a dome, not a flat disc).
        let dome = 0.7 + 0.3 * (1.0 - (r / margin).min(1.0).powi(2)).sqrt();
        let mut add = contrast * dome * smoothstep(margin * (1.0 + edge), margin * (1.0 - edge), r);
        for (angle, len) in &spicules {
            let along = dx * angle.cos() + dy * angle.sin();
            let across = -dx * angle.sin() + dy * angle.cos();
            let end = site.radius * len;
            // From the margin outward: spicules that met at the centre would add up to a
            // bright point no real mass has.
            if along > 0.6 * site.radius && along < end {
                let width = (0.9 + 1.2 * (1.0 - along / end)) * (h as f32 / 640.0).max(1.0);
                let fade = 1.0 - along / end;
                add += 0.45 * contrast * fade * (-(across * across) / (width * width)).exp();
            }
        }
        px[i] += add;
        if r <= margin {
            mask[i] = 255;
        }
    });
}

#[allow(clippy::too_many_arguments)]
fn draw_calcifications(
    px: &mut [f32],
    mask: &mut [u8],
    w: usize,
    h: usize,
    site: &LesionSite,
    look: Look,
    conspicuity: f32,
    scale: f32,
    rng: &mut Rng,
) {
    let suspicious = look != Look::BenignCalcifications;
    let n = if suspicious {
        rng.range_i64(12, 32)
    } else {
        rng.range_i64(5, 14)
    };
    // A line (segmental or linear distribution) for some suspicious clusters.
    let line = (look == Look::LinearCalcifications).then(|| rng.range_f64(0.0, TAU) as f32);
    let mut far = 0.0f32;
    for _ in 0..n {
        let (ox, oy) = match line {
            Some(a) => {
                let t = rng.range_f64(-1.0, 1.0) as f32 * site.radius * 1.3;
                let j = 0.15 * site.radius * rng.normal() as f32;
                (t * a.cos() - j * a.sin(), t * a.sin() + j * a.cos())
            }
            None => {
                let a = rng.range_f64(0.0, TAU) as f32;
                let d = rng.f64().sqrt() as f32 * site.radius;
                (d * a.cos(), d * a.sin())
            }
        };
        far = far.max((ox * ox + oy * oy).sqrt());
        let centre = LesionSite {
            x: site.x + ox,
            y: site.y + oy,
            radius: 0.0,
        };
        if suspicious {
            // fine, elongated, of varied size and brightness (pleomorphic)
            let len = rng.range_f64(1.2, 3.6) as f32 * scale.max(0.7);
            let wid = rng.range_f64(0.45, 0.9) as f32 * scale.max(0.7);
            let a = rng.range_f64(0.0, TAU) as f32;
            let c = rng.range_f64(0.22, 0.4) as f32 * conspicuity;
            for_box(w, h, &centre, len * 2.5, |i, dx, dy| {
                let along = dx * a.cos() + dy * a.sin();
                let across = -dx * a.sin() + dy * a.cos();
                let r2 = (along / len).powi(2) + (across / wid).powi(2);
                px[i] += c * (-r2).exp();
            });
        } else {
            let r = rng.range_f64(1.0, 2.4) as f32 * scale.max(0.7);
            let c = rng.range_f64(0.26, 0.42) as f32 * conspicuity;
            let lucent = rng.chance(0.4);
            for_box(w, h, &centre, r * 2.5, |i, dx, dy| {
                let r2 = (dx * dx + dy * dy) / (r * r);
                let mut v = (-r2 * r2).exp();
                if lucent {
                    v *= 1.0 - 0.75 * (-r2 * 4.0).exp();
                }
                px[i] += c * v;
            });
        }
    }
    let outline = LesionSite {
        radius: far + 4.0 * scale.max(1.0),
        ..*site
    };
    for_box(w, h, &outline, outline.radius, |i, dx, dy| {
        if (dx * dx + dy * dy).sqrt() <= outline.radius {
            mask[i] = 255;
        }
    });
}

/// Smallest `[x0, y0, x1, y1)` holding every non-zero pixel (the whole image if none).
fn bounding_box(mask: &[u8], w: usize, h: usize) -> [usize; 4] {
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    for (i, &m) in mask.iter().enumerate() {
        if m != 0 {
            let (x, y) = (i % w, i / w);
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x + 1);
            y1 = y1.max(y + 1);
        }
    }
    if x1 == 0 {
        [0, 0, w, h]
    } else {
        [x0, y0, x1, y1]
    }
}

/// What the scanner adds: an uneven film base in the air, bright bands at some film edges,
/// the burned-in label, a faint streak on some films, and grain.
fn scan(
    px: &mut [f32],
    w: usize,
    h: usize,
    label: &[String; 2],
    air_on_right: bool,
    rng: &mut Rng,
) {
    let base_seed = rng.next_u64();
    let base = rng.range_f64(0.02, 0.07) as f32;
    for (i, p) in px.iter_mut().enumerate() {
        let (x, y) = ((i % w) as f32 / w as f32, (i / w) as f32 / h as f32);
        // Only where the film is dark (air) is the uneven base visible.
        let air = smoothstep(0.12, 0.04, *p);
        *p += air * (base + 0.04 * (fbm(x * 3.0, y * 3.0, base_seed, 2) - 0.5));
    }
    // Bands along some edges: [top, bottom, left, right].
    for edge in 0..4 {
        if !rng.chance(0.5) {
            continue;
        }
        let along_len = if edge < 2 { w } else { h };
        let across_len = if edge < 2 { h } else { w };
        let width = rng.range_f64(0.006, 0.03) as f32 * across_len as f32;
        let level = rng.range_f64(0.82, 0.97) as f32;
        let seed = rng.next_u64();
        for t in 0..along_len {
            let ragged =
                width * (0.7 + 0.6 * fbm(t as f32 / along_len as f32 * 12.0, 0.5, seed, 2));
            let depth = (ragged.ceil() as usize + 2).min(across_len);
            for d in 0..depth {
                let (x, y) = match edge {
                    0 => (t, d),
                    1 => (t, h - 1 - d),
                    2 => (d, t),
                    _ => (w - 1 - d, t),
                };
                let m = smoothstep(ragged + 1.5, ragged - 0.5, d as f32);
                let i = y * w + x;
                px[i] = px[i] * (1.0 - m) + level * m;
            }
        }
    }
    draw_label(px, w, h, label, air_on_right, rng);
    if rng.chance(0.3) {
        let x = rng.range_f64(0.05, 0.95) * w as f64;
        let amp = rng.range_f64(0.01, 0.03) as f32;
        let width = rng.range_f64(1.0, 3.0) as f32 * (w as f32 / 400.0).max(1.0);
        for y in 0..h {
            for (dx, p) in px[y * w..(y + 1) * w].iter_mut().enumerate() {
                let d = (dx as f32 - x as f32) / width;
                *p += amp * (-d * d).exp();
            }
        }
    }
    for p in px.iter_mut() {
        *p += 0.006 * rng.normal() as f32;
    }
}

/// The film's label: a bright plate with dark text in a corner on the air side.
fn draw_label(
    px: &mut [f32],
    w: usize,
    h: usize,
    label: &[String; 2],
    air_on_right: bool,
    rng: &mut Rng,
) {
    let chars = label
        .iter()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
        .max(1);
    // Glyph cells are 6 x 9 units (5 x 7 plus spacing); the plate is about 30 % of the width.
    let unit = ((0.3 * w as f32) / (6.0 * chars as f32 + 2.0))
        .floor()
        .max(1.0) as usize;
    let plate_w = unit * (6 * chars + 2);
    let plate_h = unit * (9 * 2 + 2);
    if plate_w + 4 > w || plate_h + 4 > h {
        return;
    }
    let margin = (0.03 * w as f32) as usize + 2;
    let x0 = if air_on_right {
        w - plate_w - margin
    } else {
        margin
    };
    let y0 = if rng.chance(0.5) {
        (0.04 * h as f32) as usize
    } else {
        h - plate_h - (0.04 * h as f32) as usize
    };
    let plate = rng.range_f64(0.8, 0.93) as f32;
    let ink = rng.range_f64(0.08, 0.25) as f32;
    for y in y0..y0 + plate_h {
        for x in x0..x0 + plate_w {
            px[y * w + x] = plate;
        }
    }
    for (line, text) in label.iter().enumerate() {
        for (k, c) in text.chars().enumerate() {
            let rows = glyph(c);
            for (gy, bits) in rows.iter().enumerate() {
                for gx in 0..5 {
                    if bits & (0b10000 >> gx) == 0 {
                        continue;
                    }
                    let cx = x0 + unit * (1 + 6 * k + gx);
                    let cy = y0 + unit * (1 + 9 * line + gy);
                    for y in cy..cy + unit {
                        for x in cx..cx + unit {
                            px[y * w + x] = ink;
                        }
                    }
                }
            }
        }
    }
}

/// 5 x 7 bitmaps (one `u8` per row, high bit left) of the characters labels use.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'E' => [31, 16, 16, 30, 16, 16, 31],
        'F' => [31, 16, 16, 30, 16, 16, 16],
        'G' => [14, 17, 16, 23, 17, 17, 15],
        'H' => [17, 17, 17, 31, 17, 17, 17],
        'I' => [14, 4, 4, 4, 4, 4, 14],
        'L' => [16, 16, 16, 16, 16, 16, 31],
        'M' => [17, 27, 21, 21, 17, 17, 17],
        'O' => [14, 17, 17, 17, 17, 17, 14],
        'R' => [30, 17, 17, 30, 20, 18, 17],
        'T' => [31, 4, 4, 4, 4, 4, 4],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(looks: Vec<Look>, right: bool) -> FilmSpec {
        let lesions = looks.into_iter().map(|l| (l, 1.0)).collect();
        FilmSpec {
            rows: 320,
            cols: 200,
            density: Density::B,
            view: View::Mlo,
            right,
            lesions,
            label: ["LEFT MLO".into(), "0412-1".into()],
            scanned: true,
        }
    }

    #[test]
    fn masks_outline_each_lesion_on_the_breast_side() {
        let looks = vec![Look::SuspiciousMass, Look::BenignCalcifications];
        for right in [false, true] {
            let film = render(&spec(looks.clone(), right), &mut Rng::new(7));
            assert_eq!(film.stored.len(), 320 * 200);
            assert_eq!(film.masks.len(), 2);
            for m in &film.masks {
                let [x0, y0, x1, y1] = m.bbox;
                assert!(x0 < x1 && y0 < y1 && x1 <= 200 && y1 <= 320);
                assert!(m.pixels.iter().all(|&v| v == 0 || v == 255));
                let inside = m.pixels.iter().filter(|&&v| v == 255).count();
                assert!(inside > 20 && inside < (x1 - x0) * (y1 - y0) + 1);
                // The chest wall is on the left for a left breast, on the right otherwise.
                let cx = (x0 + x1) / 2;
                assert_eq!(cx > 100, right, "lesion centre column {cx}");
            }
            // Lesions are brighter than the tissue around them on average.
            let m = &film.masks[0];
            let mean = |sel: &dyn Fn(usize) -> bool| {
                let v: Vec<f64> = (0..film.stored.len())
                    .filter(|&i| sel(i))
                    .map(|i| film.stored[i] as f64)
                    .collect();
                v.iter().sum::<f64>() / v.len() as f64
            };
            let [x0, y0, x1, y1] = m.bbox;
            let in_box = |i: usize| (x0..x1).contains(&(i % 200)) && (y0..y1).contains(&(i / 200));
            assert!(mean(&|i| m.pixels[i] == 255) > mean(&|i| in_box(i) && m.pixels[i] == 0));
        }
    }

    #[test]
    fn same_stream_same_film() {
        let a = render(&spec(vec![Look::BenignMass], false), &mut Rng::new(3));
        let b = render(&spec(vec![Look::BenignMass], false), &mut Rng::new(3));
        assert_eq!(a.stored, b.stored);
        let c = render(&spec(vec![Look::BenignMass], false), &mut Rng::new(4));
        assert_ne!(a.stored, c.stored);
    }

    #[test]
    fn the_label_is_a_plate_with_ink_on_the_air_side() {
        let (w, h) = (200, 320);
        let mut px = vec![0.0f32; w * h];
        let label = ["RIGHT CC".to_string(), "0412-1".to_string()];
        draw_label(&mut px, w, h, &label, false, &mut Rng::new(1));
        let lit: Vec<usize> = (0..w * h).filter(|&i| px[i] > 0.0).collect();
        assert!(!lit.is_empty());
        // air on the left: the plate sits in the left half
        assert!(lit.iter().all(|&i| i % w < w / 2));
        let plate = lit.iter().map(|&i| px[i]).fold(0.0f32, f32::max);
        let ink = lit.iter().filter(|&&i| px[i] < plate).count();
        // "RIGHT CC" + "0412-1": a few hundred glyph units of ink
        assert!(ink > 100 && ink < lit.len() / 2, "{ink} of {}", lit.len());
    }
}
