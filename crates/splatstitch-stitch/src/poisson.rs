//! The `poisson` baseline (DESIGN §5, SeamlessNeRF-style gradient propagation): keep the
//! target's colour *differences* between neighbouring sample points, match the source's colour
//! where the two overlap. Colours are the radiance field's at 3D points — the opacity- and
//! falloff-weighted mix of the Gaussians covering a point — because single Gaussians' colours
//! are too noisy to compare (§6). The unknowns are per-Gaussian offsets of the view-independent
//! (DC) colour, so the field is linear in them and the whole objective is sparse gathers.

use crate::boundary::{Boundary, CentreIndex};
use crate::optimize::Adam;
use burn::tensor::{Device, Int, Tensor, TensorData};
use glam::{Mat3, Quat, Vec3};
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_core::cloud::sigmoid;
use splatstitch_core::sh::SH_C0;

/// Gaussians mixed into one field sample.
pub const FIELD_K: usize = 16;
/// Neighbouring sample points each point is tied to.
pub const EDGE_K: usize = 8;
/// A point whose summed (unnormalized) coverage is below this has no colour there.
pub const MIN_COVERAGE: f32 = 1e-3;
/// Width of the smoothed L1 `sqrt(x² + ε²)`.
const L1_EPS: f32 = 1e-3;

/// Sparse, row-normalized weights of a cloud's field at some points: row, Gaussian, weight.
#[derive(Debug, Default, Clone)]
pub struct FieldWeights {
    pub row: Vec<i64>,
    pub gaussian: Vec<i64>,
    pub weight: Vec<f32>,
    /// Rows (points) that kept a colour, in order; `row` indexes into this list.
    pub points: Vec<usize>,
}

impl FieldWeights {
    /// Field colour at each kept point, from per-Gaussian colours `N × 3`.
    pub fn apply(&self, colors: &[[f32; 3]]) -> Vec<[f32; 3]> {
        let mut out = vec![[0.0; 3]; self.points.len()];
        for e in 0..self.row.len() {
            let c = colors[self.gaussian[e] as usize];
            for ch in 0..3 {
                out[self.row[e] as usize][ch] += self.weight[e] * c[ch];
            }
        }
        out
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

/// The field of `cloud` at `points`, from its [`FIELD_K`] nearest Gaussians per point.
pub fn field_weights(cloud: &GaussianCloud, points: &[[f32; 3]]) -> FieldWeights {
    let Some(index) = CentreIndex::new(cloud) else { return FieldWeights::default() };
    let inv = inverse_covariances(cloud);
    let rows: Vec<Option<Vec<(u32, f32)>>> = points
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
            (total.is_finite() && total > MIN_COVERAGE).then(|| nn.into_iter().map(|(j, w)| (j, w / total)).collect())
        })
        .collect();
    let mut f = FieldWeights::default();
    for (i, r) in rows.into_iter().enumerate() {
        let Some(r) = r else { continue };
        let row = f.points.len() as i64;
        f.points.push(i);
        for (j, w) in r {
            f.row.push(row);
            f.gaussian.push(j as i64);
            f.weight.push(w);
        }
    }
    f
}

/// View-independent colour of every Gaussian (DC band only).
pub fn dc_colors(cloud: &GaussianCloud) -> Vec<[f32; 3]> {
    (0..cloud.len()).map(|i| cloud.base_colour(i)).collect()
}

/// Everything the baseline needs, fixed before the first iteration.
pub struct PoissonProblem {
    pub n: usize,
    /// The target's field at its own centres (the sample points).
    pub field: FieldWeights,
    /// Pairs of neighbouring sample points, as rows of `field`.
    pub edge_a: Vec<i64>,
    pub edge_b: Vec<i64>,
    /// The target's field at the overlap points and the source's colour there.
    pub overlap: FieldWeights,
    pub overlap_colors: Vec<[f32; 3]>,
    pub base: Vec<[f32; 3]>,
}

impl PoissonProblem {
    /// Samples at the target's centres; overlap points are the boundary members' centres where
    /// the source's field covers them too.
    pub fn new(target: &GaussianCloud, source: &GaussianCloud, boundary: &Boundary) -> Self {
        let field = field_weights(target, &target.positions);
        let kept: Vec<[f32; 3]> = field.points.iter().map(|&i| target.positions[i]).collect();
        let (mut edge_a, mut edge_b) = (Vec::new(), Vec::new());
        if let Some(index) = CentreIndex::from_points(&kept) {
            let pairs: Vec<(i64, i64)> = (0..kept.len())
                .into_par_iter()
                .flat_map_iter(|a| {
                    index
                        .nearest(&kept[a], EDGE_K + 1)
                        .into_iter()
                        .filter(move |(b, _)| *b as usize > a)
                        .map(move |(b, _)| (a as i64, b as i64))
                })
                .collect();
            (edge_a, edge_b) = pairs.into_iter().unzip();
        }
        let seam: Vec<[f32; 3]> = boundary.members.iter().map(|&m| target.positions[m as usize]).collect();
        let from_source = field_weights(source, &seam);
        let source_colors = from_source.apply(&dc_colors(source));
        let covered: Vec<[f32; 3]> = from_source.points.iter().map(|&i| seam[i]).collect();
        let overlap = field_weights(target, &covered);
        let overlap_colors = overlap.points.iter().map(|&i| source_colors[i]).collect();
        PoissonProblem { n: target.len(), field, edge_a, edge_b, overlap, overlap_colors, base: dc_colors(target) }
    }
}

fn floats(v: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v, shape), device)
}

fn ints(v: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

fn field(colors: Tensor<2>, f: &(Tensor<1, Int>, Tensor<1, Int>, Tensor<2>), rows: usize) -> Tensor<2> {
    let (row, gaussian, weight) = f;
    let device = colors.device();
    Tensor::zeros([rows, 3], &device).select_assign(
        0,
        row.clone(),
        colors.select(0, gaussian.clone()) * weight.clone(),
        burn::tensor::IndexingUpdateOp::Add,
    )
}

fn smooth_l1(x: Tensor<2>) -> Tensor<1> {
    (x.powi_scalar(2).add_scalar(L1_EPS * L1_EPS).sqrt().sub_scalar(L1_EPS)).mean()
}

/// Adam on the DC offsets; returns them (`N × 3`, colour units). `lambda` weights the gradient
/// term. `step` works as in [`crate::optimize::optimize`].
pub fn solve(
    p: &PoissonProblem,
    lambda: f32,
    iterations: usize,
    learning_rate: f32,
    device: &Device,
    mut step: impl FnMut(usize) -> bool,
) -> Vec<[f32; 3]> {
    let upload = |f: &FieldWeights| {
        (ints(&f.row, device), ints(&f.gaussian, device), floats(f.weight.clone(), [f.weight.len(), 1], device))
    };
    let (fw, ow) = (upload(&p.field), upload(&p.overlap));
    let (rows, overlap_rows) = (p.field.points.len(), p.overlap.points.len());
    let (ea, eb) = (ints(&p.edge_a, device), ints(&p.edge_b, device));
    let base = floats(p.base.iter().flatten().copied().collect(), [p.n, 3], device);
    let wanted = floats(p.overlap_colors.iter().flatten().copied().collect(), [overlap_rows, 3], device);
    // The offsets as an `N × 1 × 3` block, the optimizer's shape for SH coefficients.
    let shape = [p.n, 1, 3];
    let mut adam = Adam::new(&vec![0.0; p.n * 3], shape, device, true);
    for it in 0..iterations {
        let d = adam.params(shape, device).reshape([p.n, 3]).autodiff().require_grad();
        let mut loss: Tensor<1> = Tensor::zeros([1], device);
        if !p.edge_a.is_empty() && rows > 0 {
            let f = field(d.clone(), &fw, rows);
            loss = loss + smooth_l1(f.clone().select(0, ea.clone()) - f.select(0, eb.clone())).mul_scalar(lambda);
        }
        if overlap_rows > 0 {
            let f = field(base.clone() + d.clone(), &ow, overlap_rows);
            loss = loss + smooth_l1(f - wanted.clone());
        }
        let grads = loss.backward();
        let Some(g) = d.grad(&grads) else { break };
        adam.step(g.reshape(shape), (it + 1) as i32, learning_rate);
        if !step(it) {
            break;
        }
    }
    let flat = adam.into_vec();
    flat.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
}

/// Applies DC colour offsets to a cloud's SH (colour = 0.5 + C0·sh₀).
pub fn apply_offsets(cloud: &mut GaussianCloud, offsets: &[[f32; 3]]) {
    let k = cloud.coeffs_per_channel();
    for (i, o) in offsets.iter().enumerate() {
        for (c, v) in o.iter().enumerate() {
            cloud.sh[i * k * 3 + c] += v / SH_C0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(n: usize, x0: f32, dc: f32) -> GaussianCloud {
        let mut c = GaussianCloud::with_len(n, 0);
        for i in 0..n {
            c.positions[i] = [x0 + (i % 10) as f32 * 0.02, (i / 10) as f32 * 0.02, 0.0];
            c.log_scales[i] = [0.02f32.ln(); 3];
            c.opacities[i] = 4.0;
            c.rotations[i] = [1.0, 0.0, 0.0, 0.0];
            c.sh[i * 3] = dc;
        }
        c
    }

    #[test]
    fn field_of_a_uniform_cloud_is_its_colour() {
        let c = blob(100, 0.0, 0.3);
        let f = field_weights(&c, &c.positions);
        assert_eq!(f.points.len(), 100);
        let out = f.apply(&dc_colors(&c));
        assert!(out.iter().all(|v| (v[0] - (0.5 + SH_C0 * 0.3)).abs() < 1e-5));
        // Far from every Gaussian there is no colour.
        assert!(field_weights(&c, &[[100.0, 0.0, 0.0]]).points.is_empty());
    }

    #[test]
    fn offsets_carry_the_seam_colour_into_the_target() {
        // Source red-ish on the left, target darker on the right, overlapping by two columns.
        let source = blob(100, 0.0, 0.8);
        let target = blob(100, 0.16, -0.8);
        let members: Vec<u32> = (0..100).filter(|i| i % 10 < 3).collect();
        let b = Boundary { members, k: 4, ..Default::default() };
        let p = PoissonProblem::new(&target, &source, &b);
        assert!(!p.overlap.points.is_empty());
        let offsets = solve(&p, 1.0, 400, 0.02, &Device::flex(), |_| true);
        let want = SH_C0 * 1.6; // the source's colour minus the target's
        let mean: f32 = offsets.iter().map(|o| o[0]).sum::<f32>() / offsets.len() as f32;
        assert!((mean - want).abs() < 0.1 * want, "mean offset {mean}, want {want}");
        // The far side moved too (propagation), and uniformly (differences kept).
        let far: Vec<f32> = (0..100).filter(|i| i % 10 == 9).map(|i| offsets[i][0]).collect();
        let spread = far.iter().cloned().fold(f32::MIN, f32::max) - far.iter().cloned().fold(f32::MAX, f32::min);
        assert!(far[0] > 0.5 * want && spread < 0.05, "far {far:?}");
    }
}
