//! Mammogram-like image content: pure pixel math, no I/O.
//!
//! The phantom is drawn in "display brightness" (0 = air, black; 1 = densest tissue, white)
//! with the chest wall at the left edge; the caller mirrors it for right breasts and maps it
//! to stored DICOM values. What a CNN has to learn is deliberately not trivial:
//! - every image has a breast silhouette with a soft skin line, a thickness fall-off toward the
//!   edge, and fibroglandular texture (multi-octave value noise) whose amount follows the
//!   breast density category A-D, so dense breasts hide lesions as in real screening;
//! - MLO views carry the pectoral muscle, a bright wedge in the upper chest-wall corner;
//! - cancers show a spiculated mass (core plus radiating spicules) or a cluster of small
//!   calcifications, whose contrast is scaled by the conspicuity knob;
//! - some normals carry a benign, smooth, round mass, so "any blob" is not the answer.

use std::f64::consts::TAU;

use super::rng::Rng;

/// BI-RADS breast density category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Density {
    /// Almost entirely fatty.
    A,
    /// Scattered fibroglandular densities.
    B,
    /// Heterogeneously dense.
    C,
    /// Extremely dense.
    D,
}

impl Density {
    /// The letter as written in reports.
    pub fn letter(self) -> &'static str {
        match self {
            Density::A => "A",
            Density::B => "B",
            Density::C => "C",
            Density::D => "D",
        }
    }

    /// 0 for A up to 3 for D.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Mammographic view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Cranio-caudal.
    Cc,
    /// Medio-lateral oblique (shows the pectoral muscle).
    Mlo,
}

impl View {
    /// DICOM ViewPosition code.
    pub fn code(self) -> &'static str {
        match self {
            View::Cc => "CC",
            View::Mlo => "MLO",
        }
    }
}

/// What abnormality an image shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lesion {
    /// Malignant: irregular mass with spicules.
    SpiculatedMass,
    /// Malignant: cluster of fine bright calcifications.
    Calcifications,
    /// Benign: smooth, round, well-circumscribed mass.
    BenignMass,
}

impl Lesion {
    /// Name used in the ground truth.
    pub fn name(self) -> &'static str {
        match self {
            Lesion::SpiculatedMass => "spiculated_mass",
            Lesion::Calcifications => "calcifications",
            Lesion::BenignMass => "benign_mass",
        }
    }
}

/// Everything that decides one phantom image.
#[derive(Debug, Clone)]
pub struct PhantomSpec {
    /// Image height in pixels.
    pub rows: usize,
    /// Image width in pixels.
    pub cols: usize,
    /// Density category.
    pub density: Density,
    /// View.
    pub view: View,
    /// Lesion, if any.
    pub lesion: Option<Lesion>,
    /// Contrast multiplier for lesions (1.0 = the default cohort's).
    pub conspicuity: f32,
}

/// Where the lesion was drawn, in pixel coordinates of the unmirrored image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LesionSite {
    /// Column of the centre.
    pub x: f32,
    /// Row of the centre.
    pub y: f32,
    /// Radius in pixels.
    pub radius: f32,
}

/// Draw a phantom; returns row-major brightness in [0, 1] and the lesion site.
///
/// # Shapes
/// Output length is `rows * cols`, indexed `[row * cols + col]`, chest wall at column 0.
pub fn render(spec: &PhantomSpec, rng: &mut Rng) -> (Vec<f32>, Option<LesionSite>) {
    let Breast { mut px, inside } = render_breast(spec, rng);
    let (h, w) = (spec.rows, spec.cols);
    let site = spec.lesion.map(|lesion| {
        let site = place_lesion(spec, rng, &inside, lesion);
        draw_lesion(&mut px, w, h, &site, lesion, spec.conspicuity, rng);
        site
    });

    // Quantum-like noise, then clamp.
    for p in px.iter_mut() {
        *p = (*p + 0.008 * rng.normal() as f32).clamp(0.0, 1.0);
    }
    (px, site)
}

/// A breast with no lesion and no noise yet, as [`render`] starts from it.
pub struct Breast {
    /// Row-major brightness, chest wall at column 0 (not clamped).
    pub px: Vec<f32>,
    /// The radial coordinate of each pixel in the silhouette: below 1 inside the breast,
    /// 1 or more in the air around it.
    pub inside: Vec<f32>,
}

/// Draw the breast of `spec` (silhouette, tissue, skin line, pectoral muscle); `spec.lesion`
/// and `spec.conspicuity` are not used.
pub fn render_breast(spec: &PhantomSpec, rng: &mut Rng) -> Breast {
    let (h, w) = (spec.rows, spec.cols);
    let (hf, wf) = (h as f32, w as f32);
    let noise_seed = rng.next_u64();
    let fine_seed = rng.next_u64();

    // Silhouette: a half-ellipse on the chest wall, with a gentle wobble of the outline.
    let depth = rng.range_f64(0.62, 0.86) as f32 * wf;
    let (centre_y, half_h) = match spec.view {
        View::Cc => (
            rng.range_f64(0.47, 0.53) as f32 * hf,
            rng.range_f64(0.36, 0.44) as f32 * hf,
        ),
        View::Mlo => (
            rng.range_f64(0.52, 0.60) as f32 * hf,
            rng.range_f64(0.40, 0.46) as f32 * hf,
        ),
    };
    let wobble: [(f32, f32, f32); 3] = [
        (2.0, rng.range_f64(0.0, TAU) as f32, 0.03),
        (3.0, rng.range_f64(0.0, TAU) as f32, 0.02),
        (5.0, rng.range_f64(0.0, TAU) as f32, 0.01),
    ];
    // Pectoral wedge on MLO: the line from (pec_x, 0) to (0, pec_y).
    let pec_x = rng.range_f64(0.22, 0.38) as f32 * wf;
    let pec_y = rng.range_f64(0.35, 0.55) as f32 * hf;
    let pec_level = rng.range_f64(0.62, 0.74) as f32;

    let threshold = [0.70f32, 0.58, 0.47, 0.36][spec.density.index()];
    let gland_gain = rng.range_f64(0.30, 0.38) as f32;
    let fat_level = rng.range_f64(0.22, 0.30) as f32;
    let base_freq = 3.0 / wf;

    let mut px = vec![0.0f32; h * w];
    let mut inside = vec![0.0f32; h * w]; // radial coordinate, >= 1 outside the breast
    for y in 0..h {
        for x in 0..w {
            let u = x as f32 / depth;
            let v = (y as f32 - centre_y) / half_h;
            let theta = v.atan2(u);
            let scale = 1.0
                + wobble
                    .iter()
                    .map(|(k, p, a)| a * (k * theta + p).sin())
                    .sum::<f32>();
            let rho = (u * u + v * v).sqrt() / scale;
            inside[y * w + x] = rho;
            let i = y * w + x;
            if rho >= 1.0 {
                px[i] = 0.03;
                continue;
            }
            // Compressed thickness is flat in the middle and falls off toward the skin.
            let thickness = smoothstep(1.0, 0.80, rho);
            // Tissue runs in streaks that converge on the nipple: sample the noise in polar
            // coordinates around it, stretched along the radius.
            let (nx, ny) = (x as f32 - depth, (y as f32 - centre_y) * 1.3);
            let (nr, na) = ((nx * nx + ny * ny).sqrt() * base_freq, ny.atan2(-nx));
            let n = fbm(nr * 1.2, na * 5.0, noise_seed, 5);
            let gland =
                smoothstep(threshold - 0.14, threshold + 0.14, n) * (1.0 - rho.powf(1.6)).max(0.0);
            let streak = fbm(nr * 2.0, na * 40.0, fine_seed, 3);
            let fine = fbm(
                x as f32 * base_freq * 10.0,
                y as f32 * base_freq * 10.0,
                fine_seed ^ 1,
                2,
            );
            let mut b = 0.04
                + thickness
                    * (fat_level
                        + gland_gain * gland * (0.75 + 0.5 * streak)
                        + 0.05 * (streak - 0.5)
                        + 0.04 * (fine - 0.5));
            // Skin line: a thin, slightly denser rim.
            b += 0.10 * smoothstep(0.955, 0.985, rho) * smoothstep(1.0, 0.985, rho);
            if spec.view == View::Mlo {
                let d = 1.0 - (x as f32 / pec_x + y as f32 / pec_y); // > 0 inside the wedge
                let m = smoothstep(0.0, 0.04, d);
                b = b * (1.0 - m) + m * (pec_level + 0.08 * (streak - 0.5) + 0.03 * (fine - 0.5));
            }
            px[i] = b;
        }
    }
    Breast { px, inside }
}

fn place_lesion(spec: &PhantomSpec, rng: &mut Rng, inside: &[f32], lesion: Lesion) -> LesionSite {
    let (h, w) = (spec.rows, spec.cols);
    let radius = match lesion {
        Lesion::SpiculatedMass => rng.range_f64(0.028, 0.05),
        Lesion::Calcifications => rng.range_f64(0.025, 0.04),
        Lesion::BenignMass => rng.range_f64(0.025, 0.045),
    } as f32
        * h as f32;
    // Rejection-sample a centre well inside the breast and outside the pectoral corner.
    for _ in 0..200 {
        let x = rng.range_f64(0.12, 0.7) * w as f64;
        let y = rng.range_f64(0.15, 0.85) * h as f64;
        let (xi, yi) = (x as usize, y as usize);
        let rho = inside[yi * w + xi];
        let clear_of_pectoral = spec.view == View::Cc || xi as f32 > 0.45 * w as f32;
        if rho < 0.72 && clear_of_pectoral {
            return LesionSite {
                x: x as f32,
                y: y as f32,
                radius,
            };
        }
    }
    LesionSite {
        x: 0.4 * w as f32,
        y: 0.5 * h as f32,
        radius,
    }
}

fn draw_lesion(
    px: &mut [f32],
    w: usize,
    h: usize,
    site: &LesionSite,
    lesion: Lesion,
    conspicuity: f32,
    rng: &mut Rng,
) {
    let c = conspicuity;
    match lesion {
        Lesion::SpiculatedMass | Lesion::BenignMass => {
            let spiculated = lesion == Lesion::SpiculatedMass;
            let n_spicules = if spiculated { rng.range_i64(9, 16) } else { 0 };
            let spicules: Vec<(f32, f32)> = (0..n_spicules)
                .map(|_| {
                    (
                        rng.range_f64(0.0, TAU) as f32,
                        rng.range_f64(1.6, 3.0) as f32,
                    )
                })
                .collect();
            // Irregular margin for malignant masses, a crisp circle for benign ones.
            let lobes = [
                (
                    rng.range_f64(0.0, TAU) as f32,
                    if spiculated { 0.18 } else { 0.03 },
                ),
                (
                    rng.range_f64(0.0, TAU) as f32,
                    if spiculated { 0.10 } else { 0.0 },
                ),
            ];
            let contrast = if spiculated { 0.15 } else { 0.14 } * c;
            let edge = if spiculated { 0.35 } else { 0.08 };
            let reach = site.radius * 3.2;
            for_box(w, h, site, reach, |i, dx, dy| {
                let r = (dx * dx + dy * dy).sqrt();
                let phi = dy.atan2(dx);
                let margin = site.radius
                    * (1.0
                        + lobes[0].1 * (3.0 * phi + lobes[0].0).sin()
                        + lobes[1].1 * (5.0 * phi + lobes[1].0).sin());
                let mut add =
                    contrast * smoothstep(margin * (1.0 + edge), margin * (1.0 - edge), r);
                for (angle, len) in &spicules {
                    let along = dx * angle.cos() + dy * angle.sin();
                    let across = -dx * angle.sin() + dy * angle.cos();
                    let end = site.radius * len;
                    if along > 0.0 && along < end {
                        let width = 0.9 + 1.2 * (1.0 - along / end);
                        let fade = 1.0 - along / end;
                        add +=
                            0.45 * contrast * fade * (-(across * across) / (width * width)).exp();
                    }
                }
                px[i] += add;
            });
        }
        Lesion::Calcifications => {
            let n = rng.range_i64(6, 16);
            let dots: Vec<(f32, f32, f32)> = (0..n)
                .map(|_| {
                    let a = rng.range_f64(0.0, TAU) as f32;
                    let d = rng.f64().sqrt() as f32 * site.radius;
                    let size = rng.range_f64(0.6, 1.4) as f32;
                    (site.x + d * a.cos(), site.y + d * a.sin(), size)
                })
                .collect();
            let contrast = 0.32 * c;
            for (x, y, size) in dots {
                let dot = LesionSite { x, y, radius: size };
                for_box(w, h, &dot, size * 3.0, |i, dx, dy| {
                    let r2 = (dx * dx + dy * dy) / (size * size);
                    px[i] += contrast * (-r2).exp();
                });
            }
        }
    }
}

/// Visit the pixels within `reach` of the site's centre: `(index, dx, dy)`.
pub(super) fn for_box(
    w: usize,
    h: usize,
    site: &LesionSite,
    reach: f32,
    mut f: impl FnMut(usize, f32, f32),
) {
    let x0 = (site.x - reach).floor().max(0.0) as usize;
    let x1 = ((site.x + reach).ceil() as usize).min(w.saturating_sub(1));
    let y0 = (site.y - reach).floor().max(0.0) as usize;
    let y1 = ((site.y + reach).ceil() as usize).min(h.saturating_sub(1));
    for y in y0..=y1 {
        for x in x0..=x1 {
            f(y * w + x, x as f32 - site.x, y as f32 - site.y);
        }
    }
}

/// Hermite step from 0 at `e0` to 1 at `e1` (either order).
pub(super) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Lattice value in [0, 1) from integer coordinates and a seed (a stateless hash).
fn lattice(ix: i32, iy: i32, seed: u64) -> f32 {
    let mut z = seed ^ ((ix as u32 as u64) << 32 | iy as u32 as u64);
    z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    z ^= z >> 33;
    (z >> 40) as f32 / (1u64 << 24) as f32
}

fn value_noise(x: f32, y: f32, seed: u64) -> f32 {
    let (xf, yf) = (x.floor(), y.floor());
    let (ix, iy) = (xf as i32, yf as i32);
    let (tx, ty) = (x - xf, y - yf);
    let (sx, sy) = (tx * tx * (3.0 - 2.0 * tx), ty * ty * (3.0 - 2.0 * ty));
    let a = lattice(ix, iy, seed);
    let b = lattice(ix + 1, iy, seed);
    let c = lattice(ix, iy + 1, seed);
    let d = lattice(ix + 1, iy + 1, seed);
    let top = a + (b - a) * sx;
    let bottom = c + (d - c) * sx;
    top + (bottom - top) * sy
}

/// Fractal (multi-octave) value noise, normalised to about [0, 1].
pub(super) fn fbm(x: f32, y: f32, seed: u64, octaves: u32) -> f32 {
    let (mut sum, mut amp, mut norm, mut f) = (0.0, 1.0, 0.0, 1.0);
    for o in 0..octaves {
        sum += amp * value_noise(x * f, y * f, seed.wrapping_add(o as u64 * 0x9E37));
        norm += amp;
        amp *= 0.5;
        f *= 2.0;
    }
    sum / norm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(lesion: Option<Lesion>, view: View) -> PhantomSpec {
        PhantomSpec {
            rows: 128,
            cols: 104,
            density: Density::B,
            view,
            lesion,
            conspicuity: 1.0,
        }
    }

    #[test]
    fn silhouette_pectoral_and_lesion_are_where_they_should_be() {
        let (px, site) = render(
            &spec(Some(Lesion::SpiculatedMass), View::Mlo),
            &mut Rng::new(5),
        );
        assert_eq!(px.len(), 128 * 104);
        assert!(px.iter().all(|p| (0.0..=1.0).contains(p)));
        // Far corner (away from the chest wall, top right) is air.
        assert!(px[103] < 0.1, "top-right corner should be background");
        // Near the chest wall, high up, an MLO shows pectoral muscle: bright.
        let pec = px[25 * 104 + 5];
        assert!(pec > 0.5, "pectoral wedge missing: {pec}");
        let s = site.expect("lesion site");
        let centre = px[s.y as usize * 104 + s.x as usize];
        assert!(centre > 0.3, "lesion centre should be dense, got {centre}");
    }

    #[test]
    fn same_stream_same_pixels() {
        let a = render(
            &spec(Some(Lesion::Calcifications), View::Cc),
            &mut Rng::new(9),
        );
        let b = render(
            &spec(Some(Lesion::Calcifications), View::Cc),
            &mut Rng::new(9),
        );
        assert_eq!(a.0, b.0);
        let c = render(&spec(None, View::Cc), &mut Rng::new(10));
        assert_ne!(a.0, c.0);
    }
}
