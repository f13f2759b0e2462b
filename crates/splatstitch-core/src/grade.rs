//! Colour grading as artists know it: exposure, white balance, levels, contrast and saturation.
//! Every control is affine in RGB, so a grade composes into one [`ColourMap::Affine`] and acts
//! on all SH bands at once (the affine part on the DC colour, the linear part on the higher
//! coefficients): a graded Gaussian looks graded the same way from every side.

use crate::GaussianCloud;
use crate::colour_map::{ColourMap, IDENTITY3};
use serde::{Deserialize, Serialize};

/// Rec. 709 luma weights: saturation keeps this brightness.
const LUMA: [f32; 3] = [0.2126, 0.7152, 0.0722];
/// Stops of red/blue (temperature) or green (tint) gain at the end of each control's range.
const BALANCE_STOPS: f32 = 0.5;

/// A grade. Every field is optional in a job (`grade = { exposure = 1.0 }`); the defaults change
/// nothing.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Grade {
    /// Stops: colours × 2^exposure.
    pub exposure: f32,
    /// −1 cooler (bluer) … 1 warmer (redder).
    pub temperature: f32,
    /// −1 greener … 1 more magenta.
    pub tint: f32,
    /// 0 grey, 1 unchanged, above 1 more colourful (luma kept).
    pub saturation: f32,
    /// Around mid grey (0.5): 0 flat, 1 unchanged.
    pub contrast: f32,
    /// The input level that becomes black.
    pub black: f32,
    /// The input level that becomes white.
    pub white: f32,
}

impl Default for Grade {
    fn default() -> Self {
        Grade { exposure: 0.0, temperature: 0.0, tint: 0.0, saturation: 1.0, contrast: 1.0, black: 0.0, white: 1.0 }
    }
}

/// A grade value out of its range: the key and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct GradeError {
    pub key: &'static str,
    pub message: String,
}

impl Grade {
    /// Each control, its range (inclusive) and a getter/setter, in the order panels show them.
    pub const CONTROLS: [(&'static str, f32, f32); 7] = [
        ("exposure", -5.0, 5.0),
        ("temperature", -1.0, 1.0),
        ("tint", -1.0, 1.0),
        ("saturation", 0.0, 3.0),
        ("contrast", 0.0, 3.0),
        ("black", -0.5, 0.9),
        ("white", 0.1, 2.0),
    ];

    pub fn get(&self, key: &str) -> Option<f32> {
        Some(match key {
            "exposure" => self.exposure,
            "temperature" => self.temperature,
            "tint" => self.tint,
            "saturation" => self.saturation,
            "contrast" => self.contrast,
            "black" => self.black,
            "white" => self.white,
            _ => return None,
        })
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut f32> {
        Some(match key {
            "exposure" => &mut self.exposure,
            "temperature" => &mut self.temperature,
            "tint" => &mut self.tint,
            "saturation" => &mut self.saturation,
            "contrast" => &mut self.contrast,
            "black" => &mut self.black,
            "white" => &mut self.white,
            _ => return None,
        })
    }

    pub fn is_identity(&self) -> bool {
        *self == Grade::default()
    }

    /// Every value finite and in its range, and the white point above the black point.
    pub fn validate(&self) -> Result<(), GradeError> {
        for (key, lo, hi) in Self::CONTROLS {
            let v = self.get(key).expect("every control has a field");
            if !(v.is_finite() && (lo..=hi).contains(&v)) {
                return Err(GradeError { key, message: format!("{v} is outside {lo}..={hi}") });
            }
        }
        if self.white - self.black < 0.05 {
            return Err(GradeError {
                key: "white",
                message: format!("the white point ({}) must be at least 0.05 above black ({})", self.white, self.black),
            });
        }
        Ok(())
    }

    /// The grade as one affine colour map: exposure, white balance, levels, contrast, saturation,
    /// applied in that order.
    pub fn colour_map(&self) -> ColourMap {
        let e = self.exposure.exp2();
        let balance = [
            (BALANCE_STOPS * (self.temperature + 0.5 * self.tint)).exp2(),
            (-BALANCE_STOPS * self.tint).exp2(),
            (BALANCE_STOPS * (-self.temperature + 0.5 * self.tint)).exp2(),
        ];
        // Levels then contrast, per channel: a·c + o.
        let levels = 1.0 / (self.white - self.black);
        let a = self.contrast * levels;
        let o = self.contrast * (-self.black * levels - 0.5) + 0.5;
        let s = self.saturation;
        // Saturation: s·I + (1 − s)·1·lumaᵀ, after the per-channel gains g = a·e·balance.
        let mut matrix = [[0.0; 3]; 3];
        let mut offset = [0.0; 3];
        for r in 0..3 {
            for (k, m) in matrix[r].iter_mut().enumerate() {
                let mix = s * IDENTITY3[r][k] + (1.0 - s) * LUMA[k];
                *m = mix * a * e * balance[k];
            }
            // The saturation matrix's rows sum to 1, so a grey offset stays grey.
            offset[r] = o;
        }
        ColourMap::Affine { matrix, offset }
    }

    /// Grades every Gaussian of `cloud` by `weight(i)` of the way (1 everywhere for a whole
    /// layer; a feathered selection fades to 0). The identity leaves the cloud's bits alone.
    pub fn apply(&self, cloud: &mut GaussianCloud, weight: impl Fn(usize) -> f32 + Sync) {
        if self.is_identity() {
            return;
        }
        self.colour_map().apply_weighted(cloud, weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sh::{SH_C0, ShRotation, coeff_count, eval_color};
    use glam::{Mat3, Vec3};

    fn cloud(sh_degree: u8, n: usize) -> GaussianCloud {
        let mut c = GaussianCloud::with_len(n, sh_degree);
        let mut x = 0.37f32;
        for v in c.sh.iter_mut() {
            x = (x * 7.13 + 0.29).fract();
            *v = 0.2 * (x - 0.5);
        }
        c
    }

    fn colour_of(c: &GaussianCloud, i: usize, dir: Vec3) -> [f32; 3] {
        eval_color(c.sh_degree, c.sh_of(i), dir)
    }

    #[test]
    fn one_stop_of_exposure_doubles_a_known_colour_and_its_view_dependence() {
        let mut c = GaussianCloud::with_len(1, 1);
        let dc = (0.2 - 0.5) / SH_C0;
        c.sh_of_mut(0)[..3].copy_from_slice(&[dc, dc, dc]);
        c.sh_of_mut(0)[3..6].copy_from_slice(&[0.1, -0.05, 0.02]);
        Grade { exposure: 1.0, ..Default::default() }.apply(&mut c, |_| 1.0);
        for ch in c.base_colour(0) {
            assert!((ch - 0.4).abs() < 1e-5, "{ch}");
        }
        let rest = &c.sh_of(0)[3..6];
        assert!((rest[0] - 0.2).abs() < 1e-6 && (rest[1] + 0.1).abs() < 1e-6 && (rest[2] - 0.04).abs() < 1e-6);
    }

    #[test]
    fn saturation_zero_gives_equal_channels_from_every_side() {
        let mut c = cloud(3, 20);
        Grade { saturation: 0.0, ..Default::default() }.apply(&mut c, |_| 1.0);
        for i in 0..c.len() {
            for dir in [Vec3::X, Vec3::new(0.3, -0.8, 0.5).normalize(), Vec3::NEG_Z] {
                let [r, g, b] = colour_of(&c, i, dir);
                assert!((r - g).abs() < 1e-5 && (g - b).abs() < 1e-5, "{r} {g} {b}");
            }
        }
    }

    #[test]
    fn the_identity_leaves_every_bit_unchanged() {
        let before = cloud(3, 50);
        let mut after = before.clone();
        Grade::default().apply(&mut after, |_| 1.0);
        assert!(before.sh.iter().zip(&after.sh).all(|(a, b)| a.to_bits() == b.to_bits()));
        // Also as a map, to rounding: the default's matrix is the identity.
        let ColourMap::Affine { matrix, offset } = Grade::default().colour_map() else { panic!("affine") };
        assert!(matrix.iter().flatten().zip(IDENTITY3.iter().flatten()).all(|(a, b)| (a - b).abs() < 1e-6));
        assert!(offset.iter().all(|o| o.abs() < 1e-6));
    }

    #[test]
    fn a_grade_looks_the_same_from_every_side_and_commutes_with_rotating_the_sh() {
        let grade = Grade {
            exposure: 0.4,
            temperature: 0.3,
            tint: -0.2,
            saturation: 1.4,
            contrast: 1.2,
            black: 0.05,
            white: 0.9,
        };
        let map = grade.colour_map();
        let before = cloud(3, 30);
        let mut graded = before.clone();
        grade.apply(&mut graded, |_| 1.0);
        // From any direction the graded colour is the map of the ungraded one.
        for i in 0..before.len() {
            for dir in [Vec3::Y, Vec3::new(-0.6, 0.2, 0.77).normalize()] {
                let want = map.apply(colour_of(&before, i, dir));
                let got = colour_of(&graded, i, dir);
                for ch in 0..3 {
                    assert!((want[ch] - got[ch]).abs() < 1e-4, "{want:?} {got:?}");
                }
            }
        }
        // Rotating the Gaussians (their SH) before or after grading gives the same coefficients.
        let rot = ShRotation::new(Mat3::from_euler(glam::EulerRot::XYZ, 0.7, -0.4, 1.9));
        let k = coeff_count(3) * 3;
        let mut rotate_then_grade = before.clone();
        rotate_then_grade.sh.chunks_exact_mut(k).for_each(|b| rot.apply(3, b));
        grade.apply(&mut rotate_then_grade, |_| 1.0);
        let mut grade_then_rotate = graded.clone();
        grade_then_rotate.sh.chunks_exact_mut(k).for_each(|b| rot.apply(3, b));
        for (a, b) in rotate_then_grade.sh.iter().zip(&grade_then_rotate.sh) {
            assert!((a - b).abs() < 1e-4, "{a} {b}");
        }
    }

    #[test]
    fn a_weight_grades_in_part_and_zero_leaves_a_gaussian_alone() {
        let before = cloud(1, 3);
        let mut c = before.clone();
        let g = Grade { exposure: 1.0, ..Default::default() };
        g.apply(&mut c, |i| [0.0, 0.5, 1.0][i]);
        assert_eq!(c.sh_of(0), before.sh_of(0));
        let half = before.base_colour(1)[0] * 1.5;
        assert!((c.base_colour(1)[0] - half).abs() < 1e-5, "{} {half}", c.base_colour(1)[0]);
        let full = before.base_colour(2)[0] * 2.0;
        assert!((c.base_colour(2)[0] - full).abs() < 1e-5, "{} {full}", c.base_colour(2)[0]);
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        assert_eq!(Grade { saturation: -1.0, ..Default::default() }.validate().unwrap_err().key, "saturation");
        assert_eq!(Grade { exposure: f32::NAN, ..Default::default() }.validate().unwrap_err().key, "exposure");
        let err = Grade { black: 0.5, white: 0.5, ..Default::default() }.validate().unwrap_err();
        assert_eq!(err.key, "white");
        assert!(Grade::default().validate().is_ok());
    }

    #[test]
    fn the_black_and_white_points_map_to_black_and_white() {
        let map = Grade { black: 0.1, white: 0.8, ..Default::default() }.colour_map();
        let lo = map.apply([0.1; 3]);
        let hi = map.apply([0.8; 3]);
        assert!(lo.iter().all(|v| v.abs() < 1e-5) && hi.iter().all(|v| (v - 1.0).abs() < 1e-5), "{lo:?} {hi:?}");
    }
}
