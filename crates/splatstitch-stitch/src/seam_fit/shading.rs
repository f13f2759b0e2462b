//! Shading: the part of a capture difference that varies in space. Light that falls off across
//! a room, or a vignette one capture baked in, changes the target's colours by a gain that is
//! not the same everywhere; a global map can only match it where it was learnt. Fitted after
//! the global map, on what the map left: per channel, the target is the source times
//! `1 + ρ·u`, with `u` the position in the overlap's principal frame (`u₀`, `u₁` along the
//! seam, `u₂` across it).
//!
//! Along the seam the overlap measures the gain directly and held-out blocks can test it. Across
//! the seam it does not: the band is thin, and within it each side's render (and radiance field)
//! mixes in its own Gaussians beyond the band more towards its own side, so the source/target
//! ratio drifts across the band for reasons other than light. On the blend benchmark the slopes
//! measured across were 3–20× the truth or of the opposite sign, with jackknife significance up
//! to 8. The across slope is therefore fitted (so it does not leak into the others) but never
//! applied. What is applied along the seam is exact only near it: farther into the target the
//! unknown slope across adds to it, and where the two partly cancelled, undoing one alone made a
//! case worse (guitar: −0.94 with the exact slopes along, measured on shared Gaussians). So the
//! correction fades with the distance from the seam, to 1/e at half the overlap's length.
//!
//! One kind of evidence does measure the slope across: the same Gaussians in both layers (one
//! capture cut into parts that overlap). Each copy keeps its own colour and nothing else differs,
//! so the pairs carry no texture noise and no mixing across the band; a gain that changes across
//! the band is read off them exactly. Fitted on such pairs, when the three slopes together
//! explain most of what the map leaves on held-out blocks, the shading is applied in all three
//! directions and without the fade.

use super::linalg::{solve, symmetric_eigen};
use super::{FOLDS, Pair};
use glam::{DMat3, DVec3, Vec3};
use splatstitch_core::{ColourMap, GaussianCloud};

/// Significance (standard errors) a slope along the seam needs.
pub const ALONG_SIGNIFICANT: f32 = 2.0;
/// Along the seam, the share of what the global map left that the slopes must explain on
/// held-out blocks.
pub const EXPLAINS: f32 = 0.03;
/// Shading that changes no target colour by more than this is not applied.
pub const MIN_CHANGE: f32 = 0.02;
/// Shading that changes a target colour's gain by more than this is likelier two materials than
/// light (the benchmark's light falls off by up to 25 % along an overlap); not asked of shading
/// measured on exact copies in all three directions.
pub const MAX_CHANGE: f32 = 0.5;
/// The gain it applies stays within `[1/MAX_GAIN, MAX_GAIN]`.
pub const MAX_GAIN: f32 = 2.0;
/// The correction fades to 1/e at this fraction of the overlap's length (along its longest axis)
/// from the seam.
pub const FADE: f32 = 0.5;
/// Across the seam, a slope fitted on exact pairs (the same Gaussians in both layers) needs this
/// significance...
pub const ACROSS_SIGNIFICANT: f32 = 10.0;
/// ...and the three slopes together must explain this share of what the map left on held-out
/// blocks: a gain that is linear in space, not a map's leftover that happens to trend.
pub const ACROSS_EXPLAINS: f32 = 0.5;
/// Positions along the seam are clamped to these quantiles of the overlap (of the target where
/// the slope across was measured): no gain is extrapolated past the evidence.
const CLAMP_QUANTILE: f32 = 0.02;
/// Pairs with a residual above this many times the median are left out of the refit.
const OUTLIER_FACTOR: f64 = 3.0;

/// A fitted shading correction (the slopes as applied, after shrinkage).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Shading {
    /// Where the correction is 1: the overlap's weighted centre (world space).
    pub centre: [f32; 3],
    /// The overlap's principal axes (unit, world space), widest first: the last runs across
    /// the seam.
    pub axes: [[f32; 3]; 3],
    /// Per channel and axis: the target's relative gain change per world unit, as applied (the
    /// last, across the seam, is 0 unless fitted on exact pairs).
    pub slopes: [[f32; 3]; 3],
    /// The same before the significance shrinkage.
    pub fitted: [[f32; 3]; 3],
    /// Per axis: the slopes over their jackknife standard error (RMS over channels).
    pub significance: [f32; 3],
    /// `1 − E_shaded/E_unshaded` on held-out blocks of the overlap.
    pub explained: f32,
    /// Positions are clamped to `[lo, hi]` along each axis.
    pub lo: [f32; 3],
    pub hi: [f32; 3],
    /// World distance from the seam (across it) at which the correction has faded to 1/e; `None`
    /// when the slope across was measured (exact pairs) and the correction holds everywhere.
    pub fade: Option<f32>,
    /// The largest change of any target colour's gain (`|1/h − 1|`, over the target's centres).
    pub largest_change: f32,
}

impl Shading {
    /// The gain that undoes the shading at world point `p`, per channel.
    pub fn gain_at(&self, p: [f32; 3]) -> [f32; 3] {
        let d = Vec3::from(p) - Vec3::from(self.centre);
        let u: [f32; 3] = std::array::from_fn(|k| {
            let v = d.dot(Vec3::from(self.axes[k]));
            if v.is_finite() { v.clamp(self.lo[k], self.hi[k]) } else { 0.0 }
        });
        let weight = self.weight_at(p);
        std::array::from_fn(|c| {
            let h = 1.0 + weight * (0..3).map(|k| self.slopes[c][k] * u[k]).sum::<f32>();
            (1.0 / h.clamp(1.0 / MAX_GAIN, MAX_GAIN)).clamp(1.0 / MAX_GAIN, MAX_GAIN)
        })
    }

    /// How much of the correction holds at world point `p`: 1 on the seam, fading with the
    /// distance across it.
    pub fn weight_at(&self, p: [f32; 3]) -> f32 {
        let Some(fade) = self.fade else { return 1.0 };
        let across = (Vec3::from(p) - Vec3::from(self.centre)).dot(Vec3::from(self.axes[2])).abs();
        if fade > 0.0 && across.is_finite() { (-across / fade).exp() } else { 0.0 }
    }

    /// Undoes the shading on every Gaussian of `cloud` (DC and higher bands alike).
    pub fn apply_to_cloud(&self, cloud: &mut GaussianCloud) {
        use rayon::prelude::*;
        let stride = cloud.coeffs_per_channel() * 3;
        let positions = &cloud.positions;
        cloud.sh.par_chunks_exact_mut(stride).zip(positions.par_iter()).for_each(|(block, p)| {
            ColourMap::gain_offset(self.gain_at(*p), [0.0; 3]).apply_to_sh(block);
        });
    }

    /// `colour` at `p` with the shading undone.
    pub fn apply(&self, colour: [f32; 3], p: [f32; 3]) -> [f32; 3] {
        let g = self.gain_at(p);
        std::array::from_fn(|c| g[c] * colour[c])
    }
}

/// Fits the shading left in `pairs` (their target colours already under the global map);
/// `targets` are the target's centres (what it would change); `exact`: the pairs are the same
/// Gaussians in both layers. `None` when nothing significant and worth applying is found.
pub fn fit(pairs: &[Pair], targets: &[[f32; 3]], exact: bool) -> Option<Shading> {
    if pairs.len() < if exact { super::MIN_EXACT } else { super::MIN_PAIRS } {
        return None;
    }
    let (centre, axes) = frame(pairs)?;
    let coords = |p: &[f32; 3]| -> [f64; 3] {
        let d = pos(p) - centre;
        std::array::from_fn(|k| d.dot(axes[k]))
    };
    let u: Vec<[f64; 3]> = pairs.iter().map(|p| coords(&p.position)).collect();
    let fitted = slopes(&model(pairs, &u, &|_| true)?)?;
    let by_block = super::spatial_folds(pairs);
    let fold_of = |i: usize| if by_block { (pairs[i].group % FOLDS as u32) as usize } else { i % FOLDS };
    // Each fold's model from the others: the jackknife's and the held-out tests'.
    let fold_models: Vec<Option<Model>> = (0..FOLDS).map(|f| model(pairs, &u, &|i| fold_of(i) != f)).collect();
    let fold_slopes: Vec<Option<[[f64; 3]; 3]>> = fold_models.iter().map(|m| m.as_ref().and_then(slopes)).collect();
    let folds: Vec<&[[f64; 3]; 3]> = fold_slopes.iter().flatten().collect();
    if folds.len() < 2 {
        return None;
    }
    let k = folds.len() as f64;
    let mut significance = [0f32; 3];
    let mut slope = [[0f64; 3]; 3];
    for axis in 0..3 {
        let (mut size, mut spread) = (0f64, 0f64);
        for c in 0..3 {
            size += fitted[c][axis].powi(2);
            spread += folds.iter().map(|f| (f[c][axis] - fitted[c][axis]).powi(2)).sum::<f64>() * (k - 1.0) / k;
        }
        let z = if spread > 0.0 {
            (size / spread).sqrt()
        } else if size > 0.0 {
            1e3
        } else {
            0.0
        };
        significance[axis] = z.min(1e3) as f32;
        let needed = if axis < 2 { ALONG_SIGNIFICANT } else { ACROSS_SIGNIFICANT };
        let measured = axis < 2 || exact;
        let kept = if measured && significance[axis] >= needed { z * z / (1.0 + z * z) } else { 0.0 };
        for c in 0..3 {
            slope[c][axis] = fitted[c][axis] * kept;
        }
    }
    // Held-out blocks must confirm the slopes: all three where the slope across was measured,
    // else the two along the seam.
    let in_3d = (exact && significance[2] >= ACROSS_SIGNIFICANT)
        .then(|| held_out_model_explained(pairs, &u, &fold_of, &fold_models))
        .filter(|e| *e >= ACROSS_EXPLAINS);
    let across = in_3d.is_some();
    let explained = in_3d.unwrap_or_else(|| held_out_explained(pairs, &u, &fold_of, &fold_slopes));
    if !across {
        for row in slope.iter_mut() {
            row[2] = 0.0;
        }
    }
    if explained < EXPLAINS {
        slope = [[0.0; 3]; 3];
    }
    let overlap_range = |k: usize| quantile_range(u.iter().map(|v| v[k]));
    // The target's own range, widened to the overlap's where the overlap reaches farther.
    let target_range = |k: usize| {
        let (t, o) = (quantile_range(targets.iter().map(|p| (pos(p) - centre).dot(axes[k]))), overlap_range(k));
        (t.0.min(o.0), t.1.max(o.1))
    };
    let ranges = if across {
        [target_range(0), target_range(1), target_range(2)]
    } else {
        [overlap_range(0), overlap_range(1), (0.0, 0.0)]
    };
    let mut shading = Shading {
        centre: centre.as_vec3().to_array(),
        axes: axes.map(|a| a.as_vec3().to_array()),
        slopes: slope.map(|r| r.map(|v| v as f32)),
        fitted: fitted.map(|r| r.map(|v| v as f32)),
        significance,
        explained,
        lo: ranges.map(|r| r.0 as f32),
        hi: ranges.map(|r| r.1 as f32),
        fade: (!across).then(|| FADE * (ranges[0].1 - ranges[0].0) as f32),
        largest_change: 0.0,
    };
    let step = (targets.len() / 4096).max(1);
    shading.largest_change =
        targets.iter().step_by(step).flat_map(|p| shading.gain_at(*p)).map(|g| (g - 1.0).abs()).fold(0.0, f32::max);
    // Light measured on exact copies, held out, is not two materials: the gain's bounds hold it.
    let most = if across { f32::INFINITY } else { MAX_CHANGE };
    (shading.largest_change >= MIN_CHANGE && shading.largest_change <= most).then_some(shading)
}

fn pos(p: &[f32; 3]) -> DVec3 {
    DVec3::new(p[0] as f64, p[1] as f64, p[2] as f64)
}

/// The pairs' weighted centre and principal axes, widest first.
fn frame(pairs: &[Pair]) -> Option<(DVec3, [DVec3; 3])> {
    let total: f64 = pairs.iter().map(|p| p.weight as f64).sum();
    if total.is_nan() || total <= 0.0 {
        return None;
    }
    let centre = pairs.iter().map(|p| pos(&p.position) * p.weight as f64).sum::<DVec3>() / total;
    let mut cov = DMat3::ZERO;
    for p in pairs {
        let d = pos(&p.position) - centre;
        cov += DMat3::from_cols(d * d.x, d * d.y, d * d.z) * (p.weight as f64 / total);
    }
    let (values, vectors) = symmetric_eigen(cov);
    let mut order = [0usize, 1, 2];
    order.sort_unstable_by(|&a, &b| values[b].total_cmp(&values[a]));
    if values[order[2]].is_nan() || values[order[2]] <= 0.0 {
        return None;
    }
    Some((centre, order.map(|i| vectors.col(i))))
}

/// Per channel, the coefficients of `target = β·source + γ + β·ρ·source·u`:
/// `[β, γ, βρ₀, βρ₁, βρ₂]`.
type Model = [[f64; 5]; 3];

fn features(p: &Pair, u: &[f64; 3], c: usize) -> [f64; 5] {
    let s = p.source[c] as f64;
    [s, 1.0, s * u[0], s * u[1], s * u[2]]
}

/// The model by weighted least squares over the pairs `keep` admits, refitted once without the
/// outliers.
fn model(pairs: &[Pair], u: &[[f64; 3]], keep: &dyn Fn(usize) -> bool) -> Option<Model> {
    let mut out = [[0f64; 5]; 3];
    for (c, row) in out.iter_mut().enumerate() {
        let solve_over = |admit: &dyn Fn(usize) -> bool| {
            least_squares(pairs, c, |i| keep(i) && admit(i), |i| features(&pairs[i], &u[i], c))
        };
        let first = solve_over(&|_| true)?;
        let residual = |i: usize, q: &[f64; 5]| {
            let x = features(&pairs[i], &u[i], c);
            (pairs[i].target[c] as f64 - (0..5).map(|k| q[k] * x[k]).sum::<f64>()).abs()
        };
        let mut r: Vec<f64> = (0..pairs.len()).filter(|&i| keep(i)).map(|i| residual(i, &first)).collect();
        r.sort_unstable_by(f64::total_cmp);
        let limit = OUTLIER_FACTOR * r.get(r.len() / 2).copied().unwrap_or(0.0);
        *row = if limit > 0.0 { solve_over(&|i| residual(i, &first) <= limit).unwrap_or(first) } else { first };
    }
    Some(out)
}

/// Weighted least squares of channel `c`'s target colour on `features(i)` over the pairs `admit`
/// takes.
fn least_squares<const N: usize>(
    pairs: &[Pair],
    c: usize,
    admit: impl Fn(usize) -> bool,
    features: impl Fn(usize) -> [f64; N],
) -> Option<[f64; N]> {
    let (mut a, mut b) = ([[0f64; N]; N], [0f64; N]);
    for i in (0..pairs.len()).filter(|&i| admit(i)) {
        let (x, y, w) = (features(i), pairs[i].target[c] as f64, pairs[i].weight as f64);
        for r in 0..N {
            for k in 0..N {
                a[r][k] += w * x[r] * x[k];
            }
            b[r] += w * x[r] * y;
        }
    }
    solve(a, b)
}

/// The relative slopes `ρ` per channel and axis; `None` where a channel's `β` is implausible.
fn slopes(m: &Model) -> Option<[[f64; 3]; 3]> {
    let mut out = [[0f64; 3]; 3];
    for (row, q) in out.iter_mut().zip(m) {
        if q[0].is_nan() || q[0] <= 0.1 {
            return None;
        }
        *row = [q[2] / q[0], q[3] / q[0], q[4] / q[0]];
    }
    Some(out)
}

/// `1 − E_model/E_affine` over held-out folds: each fold predicted by the model fitted without
/// it, against the same with no slopes (its own `β`, `γ` by least squares). Whether a gain
/// linear in space accounts for the pairs, whatever map came before.
fn held_out_model_explained(
    pairs: &[Pair],
    u: &[[f64; 3]],
    fold_of: &dyn Fn(usize) -> usize,
    fold_models: &[Option<Model>],
) -> f32 {
    let (mut full, mut affine) = (Vec::new(), Vec::new());
    for (f, m) in fold_models.iter().enumerate() {
        let Some(m) = m else { continue };
        let train = |i: usize| fold_of(i) != f;
        // `β`, `γ` alone: the model with its slope columns held at zero.
        let mut plain = [[0f64; 5]; 3];
        for (c, row) in plain.iter_mut().enumerate() {
            let Some([beta, gamma]) = least_squares(pairs, c, train, |i| [pairs[i].source[c] as f64, 1.0]) else {
                return 0.0;
            };
            *row = [beta, gamma, 0.0, 0.0, 0.0];
        }
        // Residuals as pairs whose target is the source plus the residual, for `cell_errors`.
        let residuals = |q: &Model| -> Vec<Pair> {
            (0..pairs.len())
                .filter(|&i| !train(i))
                .map(|i| {
                    let p = pairs[i];
                    let target = std::array::from_fn(|c| {
                        let x = features(&p, &u[i], c);
                        let predicted: f64 = (0..5).map(|k| q[c][k] * x[k]).sum();
                        p.source[c] + (p.target[c] as f64 - predicted) as f32
                    });
                    Pair { target, ..p }
                })
                .collect()
        };
        let identity = ColourMap::identity();
        full.extend(super::cell_errors(&identity, &residuals(m).iter().collect::<Vec<_>>()));
        affine.extend(super::cell_errors(&identity, &residuals(&plain).iter().collect::<Vec<_>>()));
    }
    match (super::trimmed_mean(full), super::trimmed_mean(affine)) {
        (Some(f), Some(a)) if a > 0.0 => 1.0 - f / a,
        _ => 0.0,
    }
}

/// `1 − E_shaded/E_unshaded` over held-out folds, each corrected by `fold_slopes[f]` (the slopes
/// fitted without it) along the seam.
fn held_out_explained(
    pairs: &[Pair],
    u: &[[f64; 3]],
    fold_of: &dyn Fn(usize) -> usize,
    fold_slopes: &[Option<[[f64; 3]; 3]>],
) -> f32 {
    let (mut shaded, mut plain) = (Vec::new(), Vec::new());
    for (f, s) in fold_slopes.iter().enumerate() {
        let Some(s) = s else { continue };
        let held: Vec<usize> = (0..pairs.len()).filter(|&i| fold_of(i) == f).collect();
        let corrected: Vec<Pair> = held
            .iter()
            .map(|&i| {
                let mut p = pairs[i];
                for (t, slope) in p.target.iter_mut().zip(s) {
                    let h = 1.0 + slope[0] * u[i][0] + slope[1] * u[i][1];
                    *t /= h.clamp(1.0 / MAX_GAIN as f64, MAX_GAIN as f64) as f32;
                }
                p
            })
            .collect();
        let identity = ColourMap::identity();
        shaded.extend(super::cell_errors(&identity, &corrected.iter().collect::<Vec<_>>()));
        plain.extend(super::cell_errors(&identity, &held.iter().map(|&i| &pairs[i]).collect::<Vec<_>>()));
    }
    match (super::trimmed_mean(shaded), super::trimmed_mean(plain)) {
        (Some(s), Some(p)) if p > 0.0 => 1.0 - s / p,
        _ => 0.0,
    }
}

/// The `[CLAMP_QUANTILE, 1 − CLAMP_QUANTILE]` range of `values`.
fn quantile_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_unstable_by(f64::total_cmp);
    let at = |q: f32| v[((q as f64 * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    (at(CLAMP_QUANTILE).min(0.0), at(1.0 - CLAMP_QUANTILE).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::super::lcg;
    use super::*;

    /// A seam band in the plane z = 0 (1 wide in x and y, `thickness` in z), the target's colour
    /// the source's times `gain(position)`, plus `noise` on both sides.
    fn band(gain: impl Fn([f32; 3]) -> f32, thickness: f32, noise: f32) -> Vec<Pair> {
        let mut rnd = lcg(21);
        (0..20000)
            .map(|i| {
                let p = [rnd(), rnd(), (rnd() - 0.5) * thickness];
                let u = [0.2 + 0.6 * rnd(), 0.2 + 0.5 * rnd(), 0.1 + 0.7 * rnd()];
                let mut n = |v: f32| v + noise * (rnd() - 0.5);
                let g = gain(p);
                let q = (p[0] * 10.0) as u32 * 10 + (p[1] * 10.0) as u32;
                Pair {
                    target: u.map(|v| n(v) * g),
                    source: u.map(&mut n),
                    weight: 1.0,
                    position: p,
                    group: q,
                    cell: i as u32 / 4,
                }
            })
            .collect()
    }

    /// The target's centres: the half-space z > 0, up to z = 1.
    fn target_centres() -> Vec<[f32; 3]> {
        let mut rnd = lcg(5);
        (0..5000).map(|_| [rnd(), rnd(), rnd()]).collect()
    }

    #[test]
    fn a_gain_that_drifts_along_the_seam_is_found_and_undone() {
        let pairs = band(|p| 0.8 + 0.4 * p[0], 0.03, 0.05);
        let s = fit(&pairs, &target_centres(), false).expect("shading found");
        assert!(s.explained > 0.3, "{s:?}");
        for x in [0.1, 0.5, 0.9] {
            // The gain relative to the overlap's centre (x = 0.5): the global map holds the level.
            let truth = 1.0 / (0.8 + 0.4 * x);
            let g = s.gain_at([x, 0.5, 0.0]);
            assert!(g.iter().all(|g| (g - truth).abs() < 0.03), "{x}: {g:?} vs {truth}");
            // Far into the target the slope across could be anything: the correction fades.
            let far = s.gain_at([x, 0.5, 0.9])[0];
            assert!((far - 1.0).abs() < 0.3 * (truth - 1.0).abs() + 1e-3, "{x}: {far} vs {truth}");
        }
    }

    #[test]
    fn a_gradient_across_the_seam_is_not_carried_into_the_target() {
        // Even measured exactly, a slope across a thin band is not extrapolated.
        let pairs = band(|p| 1.0 + 0.4 * p[2], 0.03, 0.0);
        if let Some(s) = fit(&pairs, &target_centres(), false) {
            assert_eq!(s.gain_at([0.5, 0.5, 0.95]), s.gain_at([0.5, 0.5, 0.0]), "{s:?}");
        }
    }

    #[test]
    fn on_exact_copies_a_gradient_across_the_seam_is_carried_into_the_target() {
        let gain = |p: [f32; 3]| 1.0 + 0.4 * p[2] + 0.1 * p[0];
        let s = fit(&band(gain, 0.03, 0.0), &target_centres(), true).expect("shading found");
        assert!(s.fade.is_none() && s.explained > 0.9, "{s:?}");
        for p in [[0.2, 0.5, 0.0], [0.5, 0.5, 0.5], [0.8, 0.3, 0.95]] {
            // Relative to the overlap's centre (0.5, 0.5, 0), where the global map holds the level.
            let truth = gain([0.5, 0.5, 0.0]) / gain(p);
            let g = s.gain_at(p);
            assert!(g.iter().all(|g| (g - truth).abs() < 0.01), "{p:?}: {g:?} vs {truth}");
        }
        // Copies whose difference is no gradient in space leave nothing to carry across.
        let noisy = band(|_| 1.0, 0.03, 0.2);
        assert!(fit(&noisy, &target_centres(), true).is_none_or(|s| s.slopes.iter().all(|r| r[2] == 0.0)));
    }

    #[test]
    fn noise_and_a_global_map_leave_no_shading() {
        let pairs = band(|_| 1.0, 0.03, 0.2);
        assert!(fit(&pairs, &target_centres(), false).is_none());
        let pairs = band(|_| 0.8, 0.03, 0.0);
        assert!(fit(&pairs, &target_centres(), false).is_none(), "a constant gain is the global map's");
    }
}
