//! The recolor-recovery benchmark (DESIGN §6): a capture cut along a plane into two parts that
//! share a band of Gaussians, one part tinted; a blend should undo the tint. Measured in image
//! space against renders of the untinted truth.

use crate::metrics::{COVERED, detail};
use crate::run::render_views;
use splatstitch_core::GaussianCloud;
use splatstitch_core::sh::SH_C0;
use splatstitch_render::{Camera, Image};

/// Per-channel `colour ↦ gain·colour + offset`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Tint {
    pub gain: [f32; 3],
    pub offset: [f32; 3],
}

impl Tint {
    /// Applies the tint to every view-dependent colour: the DC term maps through the colour
    /// affinity, the higher bands scale by the gain.
    pub fn apply(&self, cloud: &mut GaussianCloud) {
        let k = cloud.coeffs_per_channel();
        for block in cloud.sh.chunks_exact_mut(k * 3) {
            for c in 0..3 {
                let colour = SH_C0 * block[c] + 0.5;
                block[c] = (self.gain[c] * colour + self.offset[c] - 0.5) / SH_C0;
                for j in 1..k {
                    block[j * 3 + c] *= self.gain[c];
                }
            }
        }
    }
}

/// Splits a capture at `x = split` into a part below `split + band/2` and a part above
/// `split − band/2`: they share the Gaussians of the band.
pub fn cut_with_band(cloud: &GaussianCloud, split: f32, band: f32) -> (GaussianCloud, GaussianCloud) {
    let below: Vec<bool> = cloud.positions.iter().map(|p| p[0] <= split + band * 0.5).collect();
    let above: Vec<bool> = cloud.positions.iter().map(|p| p[0] >= split - band * 0.5).collect();
    (cloud.select(&below), cloud.select(&above))
}

/// Mean absolute RGB error against the truth, over pixels the truth covers.
pub fn image_error(truth: &[Image], test: &[Image]) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for (t, x) in truth.iter().zip(test) {
        for (a, b) in t.rgba.iter().zip(&x.rgba) {
            if a[3] > COVERED {
                sum += (0..3).map(|c| (a[c] - b[c]).abs() as f64).sum::<f64>() / 3.0;
                n += 1;
            }
        }
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Recovery {
    pub error_before: f64,
    pub error_after: f64,
    /// `1 − E_after / E_before`.
    pub recovery: f64,
    pub detail: f64,
}

/// Scores a blended target against the truth: composites (source + target) before and after,
/// rendered from `cameras`, against the untinted composite.
pub fn score(
    source: &GaussianCloud,
    truth_target: &GaussianCloud,
    tinted_target: &GaussianCloud,
    blended_target: &GaussianCloud,
    cameras: &[Camera],
) -> Recovery {
    let truth = render_views(&[source, truth_target], cameras);
    let before = render_views(&[source, tinted_target], cameras);
    let after = render_views(&[source, blended_target], cameras);
    let (eb, ea) = (image_error(&truth, &before), image_error(&truth, &after));
    Recovery {
        error_before: eb,
        error_after: ea,
        recovery: if eb > 0.0 { 1.0 - ea / eb } else { 0.0 },
        // Sobel correlation with the truth, on the pixels the truth covers.
        detail: detail(&truth, &after) as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tint_maps_colours_affinely() {
        let mut c = GaussianCloud::with_len(1, 1);
        c.sh[0] = 0.4;
        c.sh[3] = 0.2;
        let before = splatstitch_core::sh::eval_color(1, c.sh_of(0), glam::Vec3::Z);
        Tint { gain: [0.8, 1.0, 1.2], offset: [0.05, 0.0, -0.1] }.apply(&mut c);
        let after = splatstitch_core::sh::eval_color(1, c.sh_of(0), glam::Vec3::Z);
        assert!((after[0] - (0.8 * before[0] + 0.05)).abs() < 1e-5);
        assert!((after[2] - (1.2 * before[2] - 0.1)).abs() < 1e-5);
    }
}
