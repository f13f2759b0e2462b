//! A cloud's radiance field at 3D points: the opacity- and falloff-weighted mix of the Gaussians
//! covering each point. Single Gaussians' colours are too noisy to compare between captures
//! (docs/ARCHITECTURE.md §7); the field averages them as a render would.

use crate::centres::CentreIndex;
use glam::{Mat3, Quat, Vec3};
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_core::cloud::sigmoid;

/// Gaussians mixed into one field sample.
pub const FIELD_K: usize = 16;
/// Below this summed (unnormalized) coverage a point has no colour.
pub const MIN_COVERAGE: f32 = 1e-3;

/// Row-normalized weights of a cloud's field at the points that kept a colour, as compressed
/// rows: point `r`'s Gaussians are `ids[offsets[r]..offsets[r+1]]` with `weights`.
#[derive(Debug, Default, Clone)]
pub struct Field {
    pub offsets: Vec<u32>,
    pub ids: Vec<u32>,
    pub weights: Vec<f32>,
    /// Summed opacity × falloff before normalization (≈ the field's density), per kept point.
    pub coverage: Vec<f32>,
    /// Index (into the queried points) of each kept point.
    pub points: Vec<usize>,
}

impl Field {
    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The field's colour at each kept point from per-Gaussian colours.
    pub fn apply(&self, colours: &[[f32; 3]]) -> Vec<[f32; 3]> {
        (0..self.len()).map(|r| self.colour_at(r, colours)).collect()
    }

    #[inline]
    pub fn colour_at(&self, row: usize, colours: &[[f32; 3]]) -> [f32; 3] {
        let mut acc = [0f32; 3];
        for e in self.offsets[row] as usize..self.offsets[row + 1] as usize {
            let c = colours[self.ids[e] as usize];
            for k in 0..3 {
                acc[k] += self.weights[e] * c[k];
            }
        }
        acc
    }
}

/// Each Gaussian's inverse covariance, for the falloff `exp(−½ dᵀ Σ⁻¹ d)`.
fn inverse_covariances(cloud: &GaussianCloud) -> Vec<Mat3> {
    (0..cloud.len())
        .into_par_iter()
        .map(|i| {
            let [w, x, y, z] = cloud.rotations[i];
            let q = Quat::from_xyzw(x, y, z, w);
            let r = Mat3::from_quat(if q.length_squared() > 0.0 { q.normalize() } else { Quat::IDENTITY });
            let s = Vec3::from(cloud.log_scales[i]).exp().max(Vec3::splat(1e-8));
            r * Mat3::from_diagonal(1.0 / (s * s)) * r.transpose()
        })
        .collect()
}

/// One point's normalised neighbour weights and its coverage (their sum before normalising).
type FieldRow = (Vec<(u32, f32)>, f32);

/// The field of `cloud` at `points` from its [`FIELD_K`] nearest Gaussians, keeping the points
/// whose coverage reaches `min_coverage`.
pub fn field_at(cloud: &GaussianCloud, points: &[[f32; 3]], min_coverage: f32) -> Field {
    let Some(index) = CentreIndex::new(cloud) else { return Field::default() };
    let inv = inverse_covariances(cloud);
    let rows: Vec<Option<FieldRow>> = points
        .par_iter()
        .map(|p| {
            let mut nn = index.nearest(p, FIELD_K);
            let x = Vec3::from(*p);
            for (j, w) in nn.iter_mut() {
                let d = x - Vec3::from(cloud.positions[*j as usize]);
                let m = d.dot(inv[*j as usize] * d);
                *w = sigmoid(cloud.opacities[*j as usize]) * (-0.5 * m).exp();
            }
            let total: f32 = nn.iter().map(|n| n.1).sum();
            (total.is_finite() && total >= min_coverage.max(MIN_COVERAGE))
                .then(|| (nn.into_iter().map(|(j, w)| (j, w / total)).collect(), total))
        })
        .collect();
    let mut f = Field { offsets: vec![0], ..Default::default() };
    for (i, r) in rows.into_iter().enumerate() {
        let Some((r, total)) = r else { continue };
        f.points.push(i);
        f.coverage.push(total);
        for (j, w) in r {
            f.ids.push(j);
            f.weights.push(w);
        }
        f.offsets.push(f.ids.len() as u32);
    }
    f
}

/// The opacity-weighted mean view-independent colour of each point's `k` nearest Gaussians of
/// `cloud`: the cloud's colour there at a coarse scale (texture averaged out).
pub fn local_means(cloud: &GaussianCloud, points: &[[f32; 3]], k: usize) -> Vec<Option<[f32; 3]>> {
    let Some(index) = CentreIndex::new(cloud) else { return vec![None; points.len()] };
    let colours = dc_colors(cloud);
    points
        .par_iter()
        .map(|p| {
            let (mut acc, mut total) = ([0f32; 3], 0f32);
            for (j, _) in index.nearest(p, k) {
                let w = sigmoid(cloud.opacities[j as usize]);
                for c in 0..3 {
                    acc[c] += w * colours[j as usize][c];
                }
                total += w;
            }
            (total > 1e-6).then(|| acc.map(|v| v / total))
        })
        .collect()
}

/// View-independent colour of every Gaussian (DC band only).
pub fn dc_colors(cloud: &GaussianCloud) -> Vec<[f32; 3]> {
    (0..cloud.len()).map(|i| cloud.base_colour(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use splatstitch_core::sh::SH_C0;

    #[test]
    fn field_of_a_uniform_sheet_is_its_colour_and_empty_far_away() {
        let mut c = GaussianCloud::with_len(100, 0);
        for i in 0..100 {
            c.positions[i] = [(i % 10) as f32 * 0.02, (i / 10) as f32 * 0.02, 0.0];
            c.log_scales[i] = [0.02f32.ln(); 3];
            c.opacities[i] = 4.0;
            c.rotations[i] = [1.0, 0.0, 0.0, 0.0];
            c.sh[i * 3] = 0.3;
        }
        let f = field_at(&c, &c.positions, MIN_COVERAGE);
        assert_eq!(f.len(), 100);
        assert!(f.apply(&dc_colors(&c)).iter().all(|v| (v[0] - (0.5 + SH_C0 * 0.3)).abs() < 1e-5));
        assert!(f.coverage.iter().all(|&v| v > 0.9));
        assert!(field_at(&c, &[[100.0, 0.0, 0.0]], MIN_COVERAGE).is_empty());
    }
}
