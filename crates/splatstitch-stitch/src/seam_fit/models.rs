//! Estimators of a colour map from corresponding colours, one per model family.
//!
//! Both sides of a correspondence are noisy: where two captures overlap, each renders the same
//! surface from its own Gaussians. Least squares of source on target then shrinks the slope
//! towards zero (regression dilution) and undoes only part of a colour change. The estimators
//! here are symmetric instead, exact when the target is the changed source plus noise of the
//! same kind (the noise changed with it):
//! - per-channel gain and offset: the ratio of standard deviations, signed by the correlation
//!   (reduced major axis), the mean onto the mean;
//! - a 3 × 3 matrix plus offset: the map `G` with `G·C_tt·Gᵀ = C_ss` and `G·C_ts` symmetric
//!   (the multivariate form of the same rule: covariances matched, the rotation that matching
//!   leaves open fixed by the cross-covariance);
//! - a monotone tone curve per channel: quantile matching of the two sides' colours.
//!
//! Each is fitted robustly: pairs whose residual is far above the median (misaligned surfaces,
//! two materials meeting) are dropped and the fit repeated.

use super::Pair;
use super::linalg::spd_power;
use glam::{DMat3, DVec3};
use splatstitch_core::ColourMap;

/// The model families a seam fit chooses among.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Per-channel gain and offset (exposure, white balance).
    GainOffset,
    /// 3 × 3 matrix plus offset (white balance with cross-talk between channels).
    Matrix,
    /// Per-channel monotone tone curves (exposure, gamma, camera response).
    Curve,
}

impl ModelKind {
    pub const ALL: [ModelKind; 3] = [ModelKind::GainOffset, ModelKind::Matrix, ModelKind::Curve];

    pub fn label(self) -> &'static str {
        match self {
            ModelKind::GainOffset => "gain + offset",
            ModelKind::Matrix => "3×3 matrix + offset",
            ModelKind::Curve => "tone curves",
        }
    }
}

/// Gains (and curve slopes) are kept inside `[1/MAX_GAIN, MAX_GAIN]`.
pub const MAX_GAIN: f64 = 4.0;
/// Pairs with a residual above this many times the median are outliers.
const OUTLIER_FACTOR: f32 = 3.0;
/// Robust refits after the first.
const ROUNDS: usize = 2;
/// Quantile levels of the tone curves.
const CURVE_KNOTS: usize = 17;
const CURVE_TAIL: f64 = 0.01;

/// Fits `kind` to `pairs` robustly; `None` when the pairs cannot determine it.
pub fn fit(kind: ModelKind, pairs: &[Pair]) -> Option<ColourMap> {
    let mut kept: Vec<Pair> = pairs.to_vec();
    let mut map = fit_once(kind, &kept)?;
    for _ in 0..ROUNDS {
        let residuals: Vec<f32> = pairs.iter().map(|p| residual(&map, p)).collect();
        let median = weighted_median(&residuals, pairs);
        if median.is_nan() || median <= 0.0 {
            break;
        }
        let limit = OUTLIER_FACTOR * median;
        kept = pairs.iter().zip(&residuals).filter(|(_, r)| **r <= limit).map(|(p, _)| *p).collect();
        map = fit_once(kind, &kept).unwrap_or(map);
    }
    Some(map)
}

/// Mean absolute RGB difference between the mapped target colour and the source colour.
pub fn residual(map: &ColourMap, p: &Pair) -> f32 {
    let m = map.apply(p.target);
    ((m[0] - p.source[0]).abs() + (m[1] - p.source[1]).abs() + (m[2] - p.source[2]).abs()) / 3.0
}

fn weighted_median(values: &[f32], pairs: &[Pair]) -> f32 {
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_finite()).collect();
    order.sort_unstable_by(|&a, &b| values[a].total_cmp(&values[b]));
    let total: f32 = order.iter().map(|&i| pairs[i].weight).sum();
    let mut acc = 0.0;
    for &i in &order {
        acc += pairs[i].weight;
        if acc >= total * 0.5 {
            return values[i];
        }
    }
    0.0
}

fn fit_once(kind: ModelKind, pairs: &[Pair]) -> Option<ColourMap> {
    let m = Moments::of(pairs)?;
    let map = match kind {
        ModelKind::GainOffset => gain_offset(&m),
        ModelKind::Matrix => matrix(&m)?,
        ModelKind::Curve => curve(pairs, &m)?,
    };
    finite(&map).then_some(map)
}

fn finite(map: &ColourMap) -> bool {
    match map {
        ColourMap::Affine { matrix, offset } => matrix.iter().flatten().chain(offset).all(|v| v.is_finite()),
        ColourMap::Curves { knots } => knots.iter().flatten().flatten().all(|v| v.is_finite()),
    }
}

/// Weighted means and covariances of the two sides.
struct Moments {
    mean_t: DVec3,
    mean_s: DVec3,
    /// `C_tt`, `C_ss`, and `C_ts = cov(t, s)` (rows: target channels).
    tt: DMat3,
    ss: DMat3,
    ts: DMat3,
}

impl Moments {
    fn of(pairs: &[Pair]) -> Option<Moments> {
        let total: f64 = pairs.iter().map(|p| p.weight as f64).sum();
        if pairs.len() < 8 || total.is_nan() || total <= 0.0 {
            return None;
        }
        let v = |c: [f32; 3]| DVec3::new(c[0] as f64, c[1] as f64, c[2] as f64);
        let mean_t = pairs.iter().map(|p| v(p.target) * p.weight as f64).sum::<DVec3>() / total;
        let mean_s = pairs.iter().map(|p| v(p.source) * p.weight as f64).sum::<DVec3>() / total;
        let outer = |a: DVec3, b: DVec3| DMat3::from_cols(a * b.x, a * b.y, a * b.z);
        let (mut tt, mut ss, mut ts) = (DMat3::ZERO, DMat3::ZERO, DMat3::ZERO);
        for p in pairs {
            let (dt, ds, w) = (v(p.target) - mean_t, v(p.source) - mean_s, p.weight as f64);
            tt += outer(dt, dt) * w;
            ss += outer(ds, ds) * w;
            ts += outer(dt, ds) * w;
        }
        Some(Moments { mean_t, mean_s, tt: tt * (1.0 / total), ss: ss * (1.0 / total), ts: ts * (1.0 / total) })
    }
}

fn affine(g: DMat3, m: &Moments) -> ColourMap {
    // g maps deviations from the target's mean onto deviations from the source's mean.
    let offset = m.mean_s - g * m.mean_t;
    let rows = g.transpose().to_cols_array_2d();
    ColourMap::Affine {
        matrix: rows.map(|r| r.map(|v| v as f32)),
        offset: [offset.x as f32, offset.y as f32, offset.z as f32],
    }
}

fn rma_gains(m: &Moments) -> DVec3 {
    let mut gain = DVec3::ONE;
    for c in 0..3 {
        let (vt, vs, cov) = (m.tt.col(c)[c], m.ss.col(c)[c], m.ts.col(c)[c]);
        if vt > 1e-12 && vs > 1e-12 && cov > 0.0 {
            gain[c] = (vs / vt).sqrt().clamp(1.0 / MAX_GAIN, MAX_GAIN);
        }
    }
    gain
}

fn gain_offset(m: &Moments) -> ColourMap {
    affine(DMat3::from_diagonal(rma_gains(m)), m)
}

/// `G = Σ_u·C_ts⁻¹` with `Σ_u⁻¹ = C_ss^{-½}·(C_ss^{½}·K·C_ss^{½})^{½}·C_ss^{-½}`,
/// `K = C_ts⁻¹·C_tt·C_ts⁻ᵀ` (target = A·(source + noise), noise independent of the surface).
fn matrix(m: &Moments) -> Option<ColourMap> {
    let (cts, ctt, css) = (m.ts, m.tt, m.ss);
    // The product of the canonical correlations: near zero, C_ts cannot be inverted reliably.
    let scale = (ctt.determinant().abs() * css.determinant().abs()).sqrt();
    let det = cts.determinant().abs();
    if det.is_nan() || det <= 1e-3 * scale {
        return None;
    }
    let cts_inv = cts.inverse();
    let k = cts_inv * ctt * cts_inv.transpose();
    let root = spd_power(css, 0.5)?;
    let inv_root = spd_power(css, -0.5)?;
    let b = inv_root * spd_power(root * k * root, 0.5)? * inv_root;
    let g = spd_power(b, -1.0)? * cts_inv;
    // A colour change between captures keeps each channel mostly itself.
    let diag = DVec3::new(g.col(0).x, g.col(1).y, g.col(2).z);
    if diag.min_element() < 1.0 / MAX_GAIN || diag.max_element() > MAX_GAIN {
        return None;
    }
    Some(affine(g, m))
}

/// Quantile matching per channel; outside the overlap's colour range the curve continues with
/// the gain of the per-channel fit.
fn curve(pairs: &[Pair], m: &Moments) -> Option<ColourMap> {
    let gains = rma_gains(m);
    let mut knots: [Vec<[f32; 2]>; 3] = Default::default();
    for c in 0..3 {
        let qt = weighted_quantiles(pairs, |p| p.target[c], CURVE_KNOTS);
        let qs = weighted_quantiles(pairs, |p| p.source[c], CURVE_KNOTS);
        let mut k: Vec<[f32; 2]> = Vec::with_capacity(CURVE_KNOTS + 2);
        for (x, y) in qt.into_iter().zip(qs) {
            match k.last_mut() {
                Some(last) if x <= last[0] + 1e-4 => last[1] = last[1].max(y),
                _ => k.push([x, y]),
            }
        }
        if k.len() < 2 {
            return None;
        }
        // Slopes inside stay within the gain limits.
        for i in 1..k.len() {
            let dx = (k[i][0] - k[i - 1][0]) as f64;
            let lo = k[i - 1][1] as f64 + dx / MAX_GAIN;
            let hi = k[i - 1][1] as f64 + dx * MAX_GAIN;
            k[i][1] = (k[i][1] as f64).clamp(lo, hi) as f32;
        }
        let g = gains[c] as f32;
        let (first, last) = (k[0], k[k.len() - 1]);
        k.insert(0, [first[0] - 1.0, first[1] - g]);
        k.push([last[0] + 1.0, last[1] + g]);
        knots[c] = k;
    }
    Some(ColourMap::Curves { knots })
}

fn weighted_quantiles(pairs: &[Pair], value: impl Fn(&Pair) -> f32, levels: usize) -> Vec<f32> {
    let mut order: Vec<(f32, f32)> = pairs.iter().map(|p| (value(p), p.weight)).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = order.iter().map(|o| o.1 as f64).sum();
    let mut out = Vec::with_capacity(levels);
    let (mut acc, mut i) = (0.0f64, 0usize);
    for l in 0..levels {
        let q = CURVE_TAIL + (1.0 - 2.0 * CURVE_TAIL) * l as f64 / (levels - 1) as f64;
        while i + 1 < order.len() && acc + (order[i].1 as f64) < q * total {
            acc += order[i].1 as f64;
            i += 1;
        }
        out.push(order[i].0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pairs of a textured surface: `source = u + noise`, `target = change(u + other noise)`.
    fn pairs(change: &ColourMap, noise: f32) -> Vec<Pair> {
        let mut state = 12345u64;
        let mut rnd = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32
        };
        (0..6000)
            .map(|i| {
                let base = rnd() * 0.6 + 0.2;
                let u = [base + rnd() * 0.2, base * 0.8 + rnd() * 0.2, 0.9 - base * 0.7 + rnd() * 0.2];
                let mut n = || (rnd() - 0.5) * 2.0 * noise;
                let s = [u[0] + n(), u[1] + n(), u[2] + n()];
                let t = change.apply([u[0] + n(), u[1] + n(), u[2] + n()]);
                Pair { target: t, source: s, weight: 1.0, position: [0.0; 3], group: (i % 5) as u32, cell: i as u32 }
            })
            .collect()
    }

    fn max_error(fitted: &ColourMap, change: &ColourMap) -> f32 {
        // Fitted ∘ change should be the identity over the colours that occur.
        let mut worst = 0f32;
        for a in 0..6 {
            for b in 0..6 {
                let c = [0.25 + a as f32 * 0.1, 0.2 + b as f32 * 0.1, 0.5];
                let back = fitted.apply(change.apply(c));
                worst = worst.max((0..3).map(|k| (back[k] - c[k]).abs()).fold(0.0, f32::max));
            }
        }
        worst
    }

    #[test]
    fn symmetric_fits_undo_changes_despite_noise_on_both_sides() {
        let gain = ColourMap::gain_offset([1.2, 0.85, 0.9], [0.03, -0.02, 0.05]);
        let cross = ColourMap::Affine {
            matrix: [[0.9, 0.12, 0.0], [0.05, 0.95, 0.05], [0.0, 0.15, 0.8]],
            offset: [0.02, 0.0, 0.04],
        };
        let tone = ColourMap::curves_from(0.0, 1.5, 61, |c, x| (1.1 * x).max(0.0).powf([0.8, 1.0, 1.25][c]));
        for noise in [0.0, 0.08] {
            let g = fit(ModelKind::GainOffset, &pairs(&gain, noise)).unwrap();
            assert!(max_error(&g, &gain) < 0.02, "gain/offset, noise {noise}: {}", max_error(&g, &gain));
            let m = fit(ModelKind::Matrix, &pairs(&cross, noise)).unwrap();
            assert!(max_error(&m, &cross) < 0.03, "matrix, noise {noise}: {}", max_error(&m, &cross));
            let t = fit(ModelKind::Curve, &pairs(&tone, noise)).unwrap();
            assert!(max_error(&t, &tone) < 0.03, "curve, noise {noise}: {}", max_error(&t, &tone));
        }
    }

    #[test]
    fn outliers_do_not_move_the_fit() {
        let gain = ColourMap::gain_offset([1.2, 0.85, 0.9], [0.03, -0.02, 0.05]);
        let mut p = pairs(&gain, 0.02);
        for q in p.iter_mut().step_by(8) {
            q.source = [0.1, 0.9, 0.1]; // a different material
        }
        let g = fit(ModelKind::GainOffset, &p).unwrap();
        assert!(max_error(&g, &gain) < 0.03, "{}", max_error(&g, &gain));
    }
}
