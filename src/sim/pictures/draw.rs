//! Pictures drawn from nothing: an item of a kind (phone, camera, bike…) on a soft backdrop,
//! an avatar, or a chat snapshot. Pure and deterministic: the same spec gives the same pixels,
//! so a URL always shows the same picture.

use image::{Rgb, RgbImage};

/// What a picture shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    Phone,
    Camera,
    Bike,
    Book,
    Bag,
    /// Anything else on sale: a parcel.
    Parcel,
    /// A person's head and shoulders.
    Avatar,
}

impl Subject {
    /// The subject for a demo item kind (`assets/demo_world.toml`).
    pub fn for_kind(kind: &str) -> Subject {
        match kind {
            "phone" | "digital" => Subject::Phone,
            "camera" => Subject::Camera,
            "bike" | "sports" => Subject::Bike,
            "book" => Subject::Book,
            "bag" | "clothes" | "shoes" => Subject::Bag,
            _ => Subject::Parcel,
        }
    }

    /// One of the item subjects, chosen by `seed`.
    pub fn any_item(seed: u64) -> Subject {
        const ITEMS: [Subject; 6] = [
            Subject::Phone,
            Subject::Camera,
            Subject::Bike,
            Subject::Book,
            Subject::Bag,
            Subject::Parcel,
        ];
        ITEMS[(seed % ITEMS.len() as u64) as usize]
    }
}

/// A picture to draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub subject: Subject,
    /// Varies the colours.
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    /// A scratch across the subject (what a buyer asks about).
    pub scratch: bool,
}

type Color = [f32; 3];

fn hue(seed: u64, shift: u64) -> Color {
    // A small palette of pleasant hues rather than arbitrary RGB.
    const PALETTE: [Color; 8] = [
        [0.93, 0.55, 0.36],
        [0.35, 0.62, 0.86],
        [0.45, 0.74, 0.52],
        [0.86, 0.42, 0.55],
        [0.95, 0.78, 0.30],
        [0.58, 0.48, 0.82],
        [0.30, 0.70, 0.72],
        [0.70, 0.70, 0.74],
    ];
    PALETTE[((seed.wrapping_add(shift)) % PALETTE.len() as u64) as usize]
}

fn mix(a: Color, b: Color, t: f32) -> Color {
    let t = t.clamp(0.0, 1.0);
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

fn scale(c: Color, k: f32) -> Color {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// Signed distance to a rounded rectangle centred at (cx, cy) with half sizes (hw, hh).
fn rounded_rect(x: f32, y: f32, cx: f32, cy: f32, hw: f32, hh: f32, r: f32) -> f32 {
    let qx = (x - cx).abs() - hw + r;
    let qy = (y - cy).abs() - hh + r;
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

fn circle(x: f32, y: f32, cx: f32, cy: f32, r: f32) -> f32 {
    ((x - cx).powi(2) + (y - cy).powi(2)).sqrt() - r
}

/// Distance to the segment (ax, ay)–(bx, by).
fn segment(x: f32, y: f32, a: (f32, f32), b: (f32, f32)) -> f32 {
    let (px, py) = (x - a.0, y - a.1);
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = (dx * dx + dy * dy).max(f32::EPSILON);
    let t = ((px * dx + py * dy) / len2).clamp(0.0, 1.0);
    ((px - dx * t).powi(2) + (py - dy * t).powi(2)).sqrt()
}

/// Coverage of a shape at signed distance `d` (one pixel of anti-aliasing).
fn cover(d: f32, px: f32) -> f32 {
    (0.5 - d / px).clamp(0.0, 1.0)
}

/// The subject's colour at (x, y) in unit coordinates (y down, aspect-corrected x), over `bg`.
fn subject_at(s: Subject, x: f32, y: f32, px: f32, main: Color, bg: Color) -> Color {
    let dark = [0.12, 0.13, 0.16];
    let light = [0.96, 0.96, 0.97];
    let mut c = bg;
    let layer = |c: &mut Color, d: f32, col: Color| *c = mix(*c, col, cover(d, px));
    match s {
        Subject::Phone => {
            layer(&mut c, rounded_rect(x, y, 0.0, 0.0, 0.22, 0.40, 0.06), dark);
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, 0.0, 0.195, 0.37, 0.04),
                main,
            );
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, -0.34, 0.05, 0.012, 0.01),
                dark,
            );
        }
        Subject::Camera => {
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, 0.05, 0.38, 0.24, 0.05),
                dark,
            );
            layer(
                &mut c,
                rounded_rect(x, y, -0.2, -0.22, 0.08, 0.04, 0.02),
                dark,
            );
            layer(&mut c, circle(x, y, 0.0, 0.06, 0.19), scale(main, 0.6));
            layer(&mut c, circle(x, y, 0.0, 0.06, 0.13), dark);
            layer(&mut c, circle(x, y, -0.04, 0.02, 0.035), light);
        }
        Subject::Bike => {
            // Within ±0.45 across: whole in an upright picture too.
            let ring = |cx: f32| circle(x, y, cx, 0.15, 0.17).abs() - 0.022;
            layer(&mut c, ring(-0.26), dark);
            layer(&mut c, ring(0.26), dark);
            let w = 0.02;
            let (rear, front, seat, bar, crank) = (
                (-0.26, 0.15),
                (0.26, 0.15),
                (-0.07, -0.12),
                (0.17, -0.14),
                (0.0, 0.15),
            );
            for (a, b) in [
                (rear, seat),
                (rear, crank),
                (seat, crank),
                (crank, bar),
                (seat, bar),
                (bar, front),
            ] {
                layer(&mut c, segment(x, y, a, b) - w, main);
            }
        }
        Subject::Book => {
            layer(
                &mut c,
                rounded_rect(x, y, 0.02, 0.02, 0.28, 0.36, 0.02),
                light,
            );
            layer(&mut c, rounded_rect(x, y, 0.0, 0.0, 0.28, 0.36, 0.02), main);
            layer(
                &mut c,
                rounded_rect(x, y, -0.25, 0.0, 0.03, 0.36, 0.0),
                scale(main, 0.7),
            );
            layer(
                &mut c,
                rounded_rect(x, y, 0.03, -0.15, 0.16, 0.03, 0.01),
                light,
            );
        }
        Subject::Bag => {
            let handle = circle(x, y, 0.0, -0.18, 0.15).abs() - 0.025;
            layer(&mut c, handle, dark);
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, 0.12, 0.32, 0.26, 0.06),
                main,
            );
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, 0.0, 0.32, 0.015, 0.0),
                scale(main, 0.75),
            );
        }
        Subject::Parcel => {
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, 0.05, 0.34, 0.28, 0.02),
                main,
            );
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, 0.05, 0.05, 0.28, 0.0),
                scale(main, 0.7),
            );
            layer(
                &mut c,
                rounded_rect(x, y, 0.0, -0.1, 0.34, 0.02, 0.0),
                scale(main, 0.85),
            );
        }
        Subject::Avatar => {
            layer(&mut c, circle(x, y, 0.0, 0.62, 0.42), main);
            layer(&mut c, circle(x, y, 0.0, -0.08, 0.22), scale(main, 0.8));
        }
    }
    c
}

/// Draws a picture.
pub fn draw(spec: &Spec) -> RgbImage {
    let (w, h) = (spec.width.max(1), spec.height.max(1));
    let unit = w.min(h) as f32;
    let px = 1.0 / unit;
    let main = hue(spec.seed, 0);
    let back_top = mix(hue(spec.seed, 3), [1.0, 1.0, 1.0], 0.75);
    let back_bottom = mix(back_top, [0.5, 0.5, 0.55], 0.35);
    RgbImage::from_fn(w, h, |ix, iy| {
        let x = (ix as f32 + 0.5 - w as f32 / 2.0) / unit;
        let y = (iy as f32 + 0.5 - h as f32 / 2.0) / unit;
        let bg = mix(back_top, back_bottom, iy as f32 / h as f32);
        // A soft shadow under the subject, then the subject.
        let shadow = (1.0 - ((x / 0.45).powi(2) + ((y - 0.42) / 0.05).powi(2))).clamp(0.0, 1.0);
        let bg = mix(bg, scale(bg, 0.8), shadow);
        let mut c = subject_at(spec.subject, x, y, px, main, bg);
        if spec.scratch {
            let d = segment(x, y, (-0.12, -0.1), (0.1, 0.06)) - 0.006;
            c = mix(c, [1.0, 1.0, 1.0], cover(d, px) * 0.9);
        }
        Rgb([
            (c[0] * 255.0).round().clamp(0.0, 255.0) as u8,
            (c[1] * 255.0).round().clamp(0.0, 255.0) as u8,
            (c[2] * 255.0).round().clamp(0.0, 255.0) as u8,
        ])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(subject: Subject, seed: u64) -> Spec {
        Spec {
            subject,
            seed,
            width: 120,
            height: 90,
            scratch: false,
        }
    }

    #[test]
    fn the_same_spec_draws_the_same_pixels_and_subjects_differ() {
        let a = draw(&spec(Subject::Camera, 3));
        assert_eq!(a, draw(&spec(Subject::Camera, 3)));
        assert_eq!(a.dimensions(), (120, 90));
        assert_ne!(a, draw(&spec(Subject::Phone, 3)));
        assert_ne!(a, draw(&spec(Subject::Camera, 4)));
    }

    #[test]
    fn the_subject_stands_out_from_the_backdrop() {
        let img = draw(&spec(Subject::Phone, 0));
        let centre = img.get_pixel(60, 45);
        let corner = img.get_pixel(2, 2);
        let diff: i32 = (0..3)
            .map(|i| (centre.0[i] as i32 - corner.0[i] as i32).abs())
            .sum();
        assert!(diff > 60, "centre {centre:?} corner {corner:?}");
    }
}
