//! Maps of RGB colour applied to Gaussians' view-dependent colour. The seam fit estimates one
//! between two captures, benchmarks apply them as known colour changes.
//!
//! A Gaussian's colour seen along `v` is `C0·sh₀ + 0.5 + Σ_j basis_j(v)·sh_j`. An affine map
//! `c ↦ M·c + b` therefore acts exactly on the coefficients: the DC term through the whole map,
//! every higher coefficient (a vector over the three channels) through `M` alone — so the map
//! looks the same from every side. A tone curve is not linear; it maps the DC colour through the
//! curve and the higher coefficients through its slope there (the first-order term).

use crate::GaussianCloud;
use crate::sh::SH_C0;
use rayon::prelude::*;

/// A colour map: affine, or one monotone tone curve per channel.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColourMap {
    /// `c ↦ matrix·c + offset` (rows are output channels).
    Affine { matrix: [[f32; 3]; 3], offset: [f32; 3] },
    /// Per channel, a piecewise-linear curve through `(x, y)` knots with ascending `x`, extended
    /// past the end knots along the end segments' slopes.
    Curves { knots: [Vec<[f32; 2]>; 3] },
}

pub const IDENTITY3: [[f32; 3]; 3] = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];

impl ColourMap {
    pub fn identity() -> Self {
        ColourMap::Affine { matrix: IDENTITY3, offset: [0.0; 3] }
    }

    /// Per-channel `gain·c + offset`.
    pub fn gain_offset(gain: [f32; 3], offset: [f32; 3]) -> Self {
        let mut matrix = [[0.0; 3]; 3];
        for c in 0..3 {
            matrix[c][c] = gain[c];
        }
        ColourMap::Affine { matrix, offset }
    }

    /// Per channel `y = f_c(x)` sampled at `samples` points evenly over `[lo, hi]`.
    pub fn curves_from(lo: f32, hi: f32, samples: usize, f: impl Fn(usize, f32) -> f32) -> Self {
        let samples = samples.max(2);
        let knots = std::array::from_fn(|c| {
            (0..samples)
                .map(|i| {
                    let x = lo + (hi - lo) * i as f32 / (samples - 1) as f32;
                    [x, f(c, x)]
                })
                .collect()
        });
        ColourMap::Curves { knots }
    }

    /// The colour `c` maps to.
    pub fn apply(&self, c: [f32; 3]) -> [f32; 3] {
        match self {
            ColourMap::Affine { matrix, offset } => {
                std::array::from_fn(|r| matrix[r][0] * c[0] + matrix[r][1] * c[1] + matrix[r][2] * c[2] + offset[r])
            }
            ColourMap::Curves { knots } => std::array::from_fn(|ch| curve_at(&knots[ch], c[ch]).0),
        }
    }

    /// The map's derivative at `c` (rows are output channels).
    pub fn jacobian(&self, c: [f32; 3]) -> [[f32; 3]; 3] {
        match self {
            ColourMap::Affine { matrix, .. } => *matrix,
            ColourMap::Curves { knots } => {
                let mut j = [[0.0; 3]; 3];
                for ch in 0..3 {
                    j[ch][ch] = curve_at(&knots[ch], c[ch]).1;
                }
                j
            }
        }
    }

    /// `c ↦ c + strength·(f(c) − c)`: the map applied in part (0 = identity, 1 = the map).
    pub fn partial(&self, strength: f32) -> Self {
        match self {
            ColourMap::Affine { matrix, offset } => ColourMap::Affine {
                matrix: std::array::from_fn(|r| {
                    std::array::from_fn(|k| IDENTITY3[r][k] + strength * (matrix[r][k] - IDENTITY3[r][k]))
                }),
                offset: offset.map(|o| strength * o),
            },
            ColourMap::Curves { knots } => ColourMap::Curves {
                knots: std::array::from_fn(|c| knots[c].iter().map(|[x, y]| [*x, x + strength * (y - x)]).collect()),
            },
        }
    }

    /// Whether this is the identity map.
    pub fn is_identity(&self) -> bool {
        match self {
            ColourMap::Affine { matrix, offset } => *matrix == IDENTITY3 && *offset == [0.0; 3],
            ColourMap::Curves { knots } => knots.iter().all(|k| k.iter().all(|[x, y]| x == y)),
        }
    }

    /// Maps one Gaussian's SH block (`K × 3`, coefficient-major) in place.
    pub fn apply_to_sh(&self, block: &mut [f32]) {
        let k = block.len() / 3;
        if k == 0 {
            return;
        }
        let dc = [SH_C0 * block[0] + 0.5, SH_C0 * block[1] + 0.5, SH_C0 * block[2] + 0.5];
        let mapped = self.apply(dc);
        let j = self.jacobian(dc);
        for c in 0..3 {
            block[c] = (mapped[c] - 0.5) / SH_C0;
        }
        for coeff in block[3..].chunks_exact_mut(3) {
            let v = [coeff[0], coeff[1], coeff[2]];
            for r in 0..3 {
                coeff[r] = j[r][0] * v[0] + j[r][1] * v[1] + j[r][2] * v[2];
            }
        }
    }

    /// Maps every Gaussian of `cloud`.
    pub fn apply_to_cloud(&self, cloud: &mut GaussianCloud) {
        let stride = cloud.coeffs_per_channel() * 3;
        cloud.sh.par_chunks_exact_mut(stride).for_each(|b| self.apply_to_sh(b));
    }

    /// Maps Gaussian `i` by `weight(i)` of the way (0 leaves it, 1 maps it; a feathered
    /// selection): its SH become `(1 − w)·sh + w·mapped(sh)`.
    pub fn apply_weighted(&self, cloud: &mut GaussianCloud, weight: impl Fn(usize) -> f32 + Sync) {
        let stride = cloud.coeffs_per_channel() * 3;
        cloud.sh.par_chunks_exact_mut(stride).enumerate().for_each(|(i, b)| {
            let w = weight(i);
            if w <= 0.0 {
                return;
            }
            let mut before = [0f32; 48];
            before[..b.len()].copy_from_slice(b);
            self.apply_to_sh(b);
            if w < 1.0 {
                for (x, y) in b.iter_mut().zip(before) {
                    *x = y + w * (*x - y);
                }
            }
        });
    }
}

/// Value and slope of a piecewise-linear curve at `x`.
fn curve_at(knots: &[[f32; 2]], x: f32) -> (f32, f32) {
    match knots.len() {
        0 => (x, 1.0),
        1 => (x - knots[0][0] + knots[0][1], 1.0),
        n => {
            // The segment holding x, or the end segment it extends.
            let i = knots.partition_point(|k| k[0] <= x).clamp(1, n - 1);
            let ([x0, y0], [x1, y1]) = (knots[i - 1], knots[i]);
            let slope = if x1 > x0 { (y1 - y0) / (x1 - x0) } else { 0.0 };
            (y0 + slope * (x - x0), slope)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sh::eval_color;
    use glam::Vec3;

    fn sh3_gaussian() -> GaussianCloud {
        let mut c = GaussianCloud::with_len(1, 3);
        for (i, v) in c.sh.iter_mut().enumerate() {
            *v = ((i * 37 % 11) as f32 - 5.0) * 0.03;
        }
        c.sh[0] = 0.3;
        c
    }

    #[test]
    fn affine_maps_every_view_direction_exactly() {
        let mut c = sh3_gaussian();
        let before: Vec<[f32; 3]> = [Vec3::X, Vec3::Y, Vec3::new(0.3, -0.5, 0.8).normalize()]
            .iter()
            .map(|d| eval_color(3, c.sh_of(0), *d))
            .collect();
        let m = ColourMap::Affine {
            matrix: [[0.9, 0.1, 0.0], [0.05, 1.1, -0.05], [0.0, 0.2, 0.8]],
            offset: [0.02, -0.03, 0.05],
        };
        m.apply_to_cloud(&mut c);
        for (i, d) in [Vec3::X, Vec3::Y, Vec3::new(0.3, -0.5, 0.8).normalize()].iter().enumerate() {
            let after = eval_color(3, c.sh_of(0), *d);
            let want = m.apply(before[i]);
            for ch in 0..3 {
                assert!((after[ch] - want[ch]).abs() < 1e-5, "{after:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn curves_interpolate_extend_and_partial_blends() {
        let m = ColourMap::curves_from(0.0, 1.0, 11, |_, x| x * x);
        let y = m.apply([0.5, 0.25, 1.2]);
        assert!((y[0] - 0.25).abs() < 1e-5 && (y[1] - 0.065).abs() < 1e-5, "{y:?}");
        // Past the last knot the end segment's slope (0.9² → 1: slope 1.9) continues.
        assert!((y[2] - (1.0 + 0.2 * 1.9)).abs() < 1e-4, "{y:?}");
        assert!((m.jacobian([0.55, 0.0, 0.0])[0][0] - 1.1).abs() < 1e-4);
        let half = m.partial(0.5);
        assert!((half.apply([0.5; 3])[0] - 0.375).abs() < 1e-5);
        assert!(m.partial(0.0).is_identity());
        assert!(ColourMap::identity().is_identity());
    }

    #[test]
    fn identity_leaves_coefficients_unchanged_and_weights_blend() {
        let mut c = sh3_gaussian();
        let original = c.sh.clone();
        ColourMap::identity().apply_to_cloud(&mut c);
        for (a, b) in c.sh.iter().zip(&original) {
            assert!((a - b).abs() < 1e-6);
        }
        let gain = ColourMap::gain_offset([2.0; 3], [0.0; 3]);
        gain.apply_weighted(&mut c, |_| 0.5);
        // Half of a gain of 2 on the higher bands: 1.5×.
        assert!((c.sh[5] - 1.5 * original[5]).abs() < 1e-6);
    }
}
