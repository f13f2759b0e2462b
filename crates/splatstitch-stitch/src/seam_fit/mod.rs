//! The seam appearance fit: the colour map that takes the target's appearance onto the
//! source's, learnt where both layers show the same surface (the whole overlap, not only ∂B),
//! and applied to the target before the optimizer runs. Two captures of one place mostly differ
//! by exposure, white balance and camera response; a global map fixes that everywhere, which
//! propagating colours from a thin seam does poorly.
//!
//! The model (gain + offset, 3 × 3 matrix + offset, tone curves) is chosen by cross-validation
//! over spatial blocks of the overlap. How much of it is applied is its *confidence*: whether it
//! explains the overlap's difference on held-out blocks at all, and whether the target's colour
//! there tells anything about the source's beyond their means. Two materials meeting (a sign
//! standing in grass) differ for reasons no capture difference explains: their textures are
//! unrelated, so a map predicts the source no better than its mean colour does. Errors are
//! taken on small cells' mean residuals, so single samples' noise does not hide a real change.

pub mod linalg;
pub mod models;
pub mod samples;
pub mod shading;

pub use models::ModelKind;
use splatstitch_core::ColourMap;

/// One correspondence: the colours the target and the source give one surface point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    pub target: [f32; 3],
    pub source: [f32; 3],
    pub weight: f32,
    /// Where on the surface (world space): the significance test holds out stretches of the seam.
    pub position: [f32; 3],
    /// Spatial block (cross-validation holds out whole blocks).
    pub group: u32,
    /// A few neighbouring samples (one image block, one small voxel): errors are measured on
    /// the mean residual of each cell, so the noise of single samples averages out and what
    /// remains is what a map gets systematically wrong.
    pub cell: u32,
}

/// Cross-validation folds.
pub const FOLDS: usize = 5;
/// Fewer correspondences than this fit nothing.
pub const MIN_PAIRS: usize = 200;
/// Exact copies carry no sampling noise (and two different captures never share a Gaussian),
/// so fewer of them suffice: a narrow shared band on a small capture holds only dozens.
pub const MIN_EXACT: usize = 50;
/// Below this share of the exact copies' held-out difference explained by the best map, the
/// copies differ in a way no colour map explains (another material painted over the target):
/// nothing is applied, whatever the noisier samples say. Measured on the blend benchmark: real
/// capture differences 0.69–1.00 (the lowest a strong tone curve), other materials −0.14–0.26.
pub const EXACT_VETO: f32 = 0.5;

/// The fewest correspondences of a kind worth fitting.
pub fn min_pairs(kind: SampleKind) -> usize {
    if kind == SampleKind::Exact { MIN_EXACT } else { MIN_PAIRS }
}
/// A more complex model must beat the simpler ones by this fraction of held-out error.
const SIMPLER_BY: f32 = 0.03;
/// The largest residuals left out of an error (outliers), as a fraction.
const TRIM: f32 = 0.1;

/// Which correspondences a map was fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SampleKind {
    /// Pixels both layers' renders cover at agreeing depths.
    Image,
    /// Target centres where both radiance fields are dense.
    Points,
    /// Both sets pooled.
    Both,
    /// The same Gaussians in both layers (one capture cut into overlapping parts), each copy's
    /// own colour.
    Exact,
}

/// How far a model family, fitted on one set of correspondences, went on held-out blocks.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Candidate {
    pub model: ModelKind,
    pub samples: SampleKind,
    /// Mean absolute RGB error on held-out blocks of the evaluation samples (trimmed).
    pub cv_error: f32,
    /// `1 − E_model/E_none` on held-out blocks of the samples it was fitted on: near 1 when
    /// those correspondences are exact (the same Gaussians seen by both layers).
    pub self_explained: f32,
}

/// How much to trust a fit (each in [0, 1] but `explained`, which may be negative).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Confidence {
    /// `1 − E_model/E_none` on held-out blocks: the share of the overlap's colour difference
    /// the map explains.
    pub explained: f32,
    /// `1 − E_model/E_mean`, with `E_mean` the error of predicting every source colour by the
    /// source's mean: how much the target's colour tells about the source's at the same point.
    /// Near zero where two different materials meet (their textures are unrelated).
    pub informative: f32,
    /// Mean absolute RGB change the map makes to the target's colours.
    pub moves: f32,
    /// How far the change the map makes stands above its own uncertainty: the RMS change over
    /// the target's colours divided by its jackknife standard error over fits that each leave
    /// out one stretch of the seam (slabs along the overlap's longest axis). A noisy overlap
    /// (a sparse capture, two captures' own Gaussians) leaves a right map explaining little of
    /// each sample's error, yet every stretch finds the same map; a change that differs from
    /// one stretch of the seam to the next (a lighting gradient) gives each another map.
    pub significance: f32,
    /// The strength applied: `max(ramp(explained), vouched) · ramp(informative) · (1 − ramp(moves))`,
    /// where `vouched = z²/(1 + z²)` for significance `z` beyond [`SIGNIFICANT`] when the map
    /// explains more than the ramp's start and moves colours by [`SIGNIFICANT_MOVE`] or more. A
    /// map fitted on exact copies that explains [`EXACT_EXPLAINED`] of their held-out difference
    /// (and anything at all of the renders') is applied at `z²/(1 + z²)` alone; where exact
    /// copies exist and no map explains [`EXACT_VETO`] of their difference, 0.
    pub value: f32,
    /// The largest share of the exact copies' held-out difference any map explains (none: no
    /// exact copies).
    pub exact_explained: Option<f32>,
    /// Where the overlap's own evidence is weak but the map is plausible (informative, a modest
    /// change, no veto): how much the map at full strength lowers the validation views' seam
    /// error, `1 − E_after/E_before` (none: not consulted). See [`views_vouch`].
    pub views_drop: Option<f32>,
}

/// A fitted seam transfer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SeamFit {
    pub model: ModelKind,
    /// The correspondences the map was fitted on.
    pub samples: SampleKind,
    /// The map at full strength.
    pub map: ColourMap,
    /// The fraction of the map applied (the confidence unless the job fixes it).
    pub strength: f32,
    pub confidence: Confidence,
    /// Held-out error of the chosen model and of no map at all.
    pub fit_error: f32,
    pub identity_error: f32,
    pub candidates: Vec<Candidate>,
    /// Correspondences the map was fitted on, and the ones its errors were measured on.
    pub pairs: usize,
    pub evaluated_on: usize,
}

impl SeamFit {
    /// The map as applied: `c + strength·(map(c) − c)`.
    pub fn applied(&self) -> ColourMap {
        self.map.partial(self.strength)
    }
}

/// Why no fit was made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoFit {
    #[error("the layers share too little surface to fit a colour map ({found} corresponding samples, {needed} needed)")]
    TooFewPairs { found: usize, needed: usize },
    #[error("no colour model could be fitted to the overlap")]
    Degenerate,
}

/// Where the confidence ramps start and reach 1 (measured on the blend benchmark: real capture
/// differences explain 13–94 % and are 0.22–0.95 informative; unrelated materials −1.2–0.3).
const EXPLAINED: (f32, f32) = (0.03, 0.15);
const INFORMATIVE: (f32, f32) = (0.0, 0.15);
/// How far (mean absolute RGB change of the target's colours) a plausible capture difference
/// moves colours: exposure and white balance shift them by a fraction of their range; a map
/// that moves them by a third of it is likelier two different materials. Full trust up to the
/// first, none past the second.
const MOVES: (f32, f32) = (0.15, 0.3);
/// Below this significance the folds' fits disagree too much for it to vouch for a map.
pub const SIGNIFICANT: f32 = 2.0;
/// The least mean colour change (of the target's colours) that significance alone may apply.
pub const SIGNIFICANT_MOVE: f32 = 0.03;
/// Share of the exact copies' held-out difference a map must explain to count as exact.
pub const EXACT_EXPLAINED: f32 = 0.99;
/// Exact-copy fits this close to the best in held-out share explained count as equally good.
const EXACT_TIE: f32 = 0.002;
/// Where significance is capped (exact fits; keeps the report's numbers finite).
const MAX_SIGNIFICANCE: f32 = 1000.0;

/// Fits the seam transfer. Each model of `models` is fitted on each set of `fit_sets`, and all
/// are judged on held-out blocks of `evaluate` (the correspondences closest to what a viewer
/// sees: the renders'). Exact correspondences (the same Gaussians in both layers) make a point
/// set beat the pixels; noisy ones leave the pixels to win. `target_colours` are the colours the
/// map would move (its plausibility is how far it moves them).
pub fn fit(
    (evaluate_kind, evaluate): (SampleKind, &[Pair]),
    fit_sets: &[(SampleKind, &[Pair])],
    models: &[ModelKind],
    target_colours: &[[f32; 3]],
) -> Result<SeamFit, NoFit> {
    if evaluate.len() < min_pairs(evaluate_kind) {
        return Err(NoFit::TooFewPairs { found: evaluate.len(), needed: min_pairs(evaluate_kind) });
    }
    let by_block = spatial_folds(evaluate);
    let folds = |pairs: &[Pair]| -> Vec<u8> {
        if by_block {
            pairs.iter().map(|p| (p.group % FOLDS as u32) as u8).collect()
        } else {
            (0..pairs.len()).map(|i| (i % FOLDS) as u8).collect()
        }
    };
    let eval_folds = folds(evaluate);
    let judge = |train: &[Pair], fit: &dyn Fn(&[Pair]) -> Option<ColourMap>| {
        held_out_error(evaluate, &eval_folds, train, &folds(train), fit)
    };
    let identity_error = judge(evaluate, &|_| Some(ColourMap::identity())).unwrap_or(0.0);
    let mean_error = judge(evaluate, &|train| Some(mean_of_source(train))).unwrap_or(0.0);
    let mut candidates = Vec::new();
    for &(samples, set) in fit_sets.iter().filter(|(kind, set)| set.len() >= min_pairs(*kind)) {
        let set_folds = folds(set);
        let own = |fit: &dyn Fn(&[Pair]) -> Option<ColourMap>| held_out_error(set, &set_folds, set, &set_folds, fit);
        let own_identity = own(&|_| Some(ColourMap::identity())).unwrap_or(0.0);
        for &m in models {
            if let Some(e) = judge(set, &|train| models::fit(m, train)) {
                let own_error = own(&|train| models::fit(m, train)).unwrap_or(own_identity);
                let self_explained = if own_identity > 0.0 { 1.0 - own_error / own_identity } else { 0.0 };
                candidates.push(Candidate { model: m, samples, cv_error: e, self_explained });
            }
        }
    }
    let best = candidates.iter().map(|c| c.cv_error).fold(f32::INFINITY, f32::min);
    // The simplest model (in `models` order) within SIMPLER_BY of the best; among its fits, the
    // one whose own correspondences it explains best (exact ones beat noisy ones that the
    // renders' noise happens to favour).
    let rank = |m: ModelKind| models.iter().position(|x| *x == m).unwrap_or(usize::MAX);
    // A map that explains the exact copies (held out) is the change itself on those Gaussians:
    // it is taken over any fit of noisier samples, the simplest of the ones that explain them
    // as well as the best.
    let exact_best = candidates
        .iter()
        .filter(|c| c.samples == SampleKind::Exact)
        .map(|c| c.self_explained)
        .fold(f32::NEG_INFINITY, f32::max);
    let exact_choice = (exact_best >= EXACT_EXPLAINED)
        .then(|| {
            candidates
                .iter()
                .filter(|c| c.samples == SampleKind::Exact && c.self_explained >= exact_best - EXACT_TIE)
                .min_by_key(|c| rank(c.model))
        })
        .flatten();
    let chosen = *exact_choice
        .or_else(|| {
            candidates
                .iter()
                .filter(|c| c.cv_error <= best * (1.0 + SIMPLER_BY) + 1e-5)
                .min_by(|a, b| rank(a.model).cmp(&rank(b.model)).then(b.self_explained.total_cmp(&a.self_explained)))
        })
        .ok_or(NoFit::Degenerate)?;
    let set = fit_sets.iter().find(|(k, _)| *k == chosen.samples).map_or(evaluate, |(_, s)| *s);
    let map = models::fit(chosen.model, set).ok_or(NoFit::Degenerate)?;
    let explained = if identity_error > 0.0 { 1.0 - chosen.cv_error / identity_error } else { 0.0 };
    let informative = if mean_error > 0.0 { 1.0 - chosen.cv_error / mean_error } else { 0.0 };
    let moves = mean_move(&map, target_colours);
    let fold_maps: Vec<ColourMap> = {
        let set_folds = slabs(set);
        (0..FOLDS as u8).filter_map(|f| models::fit(chosen.model, &outside_fold(set, &set_folds, f))).collect()
    };
    let significance = significance(&map, &fold_maps, target_colours);
    // Significance vouches for a map only where it helps on held-out blocks at all and makes a
    // change worth making: a small significant shift on exact correspondences (a shared band)
    // can be a local lighting difference that a global map carries to the wrong places.
    // Exact copies that one map explains almost entirely (held out) show a global change, not a
    // local one and not two materials (whose copies no map explains): their significance alone
    // decides, however small the change, whatever the renders' noisier samples say.
    let exact = chosen.samples == SampleKind::Exact && chosen.self_explained >= EXACT_EXPLAINED && explained > 0.0;
    let vouched = if explained > EXPLAINED.0 && moves >= SIGNIFICANT_MOVE { shrink(significance) } else { 0.0 };
    let exact_explained =
        candidates.iter().filter(|c| c.samples == SampleKind::Exact).map(|c| c.self_explained).reduce(f32::max);
    let value = if exact_explained.is_some_and(|e| e < EXACT_VETO) {
        0.0
    } else if exact {
        shrink(significance)
    } else {
        ramp(explained, EXPLAINED.0, EXPLAINED.1).max(vouched)
            * ramp(informative, INFORMATIVE.0, INFORMATIVE.1)
            * (1.0 - ramp(moves, MOVES.0, MOVES.1))
    };
    Ok(SeamFit {
        model: chosen.model,
        samples: chosen.samples,
        map,
        strength: value,
        confidence: Confidence {
            explained,
            informative,
            moves,
            significance,
            value,
            exact_explained,
            views_drop: None,
        },
        fit_error: chosen.cv_error,
        identity_error,
        candidates,
        pairs: set.len(),
        evaluated_on: evaluate.len(),
    })
}

/// Where the validation views' drop in seam error starts to vouch for a map and where it
/// vouches fully. A narrow overlap between two captures holds a few hundred noisy
/// correspondences: the held-out blocks of so few say little (a right map can score below no
/// map there), while renders from cameras the fit never saw measure the whole map at once.
/// Measured on dealt bands (`bench blend`, seeds 1–4, bands 1 % and 3 %): right maps lowered
/// the views' seam error by 3–19 %, global maps of a lighting gradient by 0–9 %, and those that
/// made a case worse by at most 5.9 %.
pub const VIEWS_DROP: (f32, f32) = (0.06, 0.10);

/// Whether the validation views may vouch for a map the overlap does not: its colours say
/// something about the source's (fully informative), it moves colours as little as a capture
/// difference does, no exact copies rule it out, and the overlap's own test is inconclusive
/// (below [`SIGNIFICANT`]: where the overlap's stretches agree on a map, their verdict stands;
/// raising such a map to full strength made a lighting gradient worse).
pub fn views_may_vouch(c: &Confidence) -> bool {
    c.value < 1.0
        && c.significance < SIGNIFICANT
        && c.informative >= INFORMATIVE.1
        && c.moves < MOVES.0
        && !c.exact_explained.is_some_and(|e| e < EXACT_VETO)
}

/// The strength the validation views' drop in seam error vouches for.
pub fn views_vouch(drop: f32) -> f32 {
    if drop.is_nan() { 0.0 } else { ramp(drop, VIEWS_DROP.0, VIEWS_DROP.1) }
}

/// The pairs not in fold `fold`.
fn outside_fold(pairs: &[Pair], folds: &[u8], fold: u8) -> Vec<Pair> {
    pairs.iter().zip(folds).filter(|(_, k)| **k != fold).map(|(p, _)| *p).collect()
}

/// At most 4096 of `colours`, evenly spread (the colours a map's effect is measured on).
fn colour_sample(colours: &[[f32; 3]]) -> impl Iterator<Item = &[f32; 3]> {
    colours.iter().step_by((colours.len() / 4096).max(1))
}

/// Folds of contiguous stretches: equal-weight slabs along the pairs' principal axis.
fn slabs(pairs: &[Pair]) -> Vec<u8> {
    let total: f64 = pairs.iter().map(|p| p.weight as f64).sum();
    if pairs.is_empty() || total <= 0.0 {
        return vec![0; pairs.len()];
    }
    let pos = |p: &Pair| glam::DVec3::new(p.position[0] as f64, p.position[1] as f64, p.position[2] as f64);
    let mean = pairs.iter().map(|p| pos(p) * p.weight as f64).sum::<glam::DVec3>() / total;
    let mut cov = glam::DMat3::ZERO;
    for p in pairs {
        let d = pos(p) - mean;
        cov += glam::DMat3::from_cols(d * d.x, d * d.y, d * d.z) * p.weight as f64;
    }
    // The principal axis by power iteration, started on the widest coordinate.
    let widest = (0..3).max_by(|&a, &b| cov.col(a)[a].total_cmp(&cov.col(b)[b])).unwrap_or(0);
    let mut axis = glam::DVec3::ZERO;
    axis[widest] = 1.0;
    for _ in 0..32 {
        let next = cov * axis;
        if next.length_squared() <= 1e-300 {
            break;
        }
        axis = next.normalize();
    }
    let mut order: Vec<(f64, usize)> = pairs.iter().enumerate().map(|(i, p)| ((pos(p) - mean).dot(axis), i)).collect();
    order.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = vec![0u8; pairs.len()];
    let mut acc = 0f64;
    for (_, i) in order {
        out[i] = ((acc / total * FOLDS as f64) as usize).min(FOLDS - 1) as u8;
        acc += pairs[i].weight as f64;
    }
    out
}

/// The change `map` makes to `colours` over its jackknife standard error: with `k` fold fits
/// `m_f` (each leaving one slab out), `se² = (k − 1)/k · Σ_f (m_f(c) − m(c))²`, both as RMS
/// over the colours (at most 4096, evenly spread) and channels.
fn significance(map: &ColourMap, fold_maps: &[ColourMap], colours: &[[f32; 3]]) -> f32 {
    let k = fold_maps.len();
    if k < 2 {
        return 0.0;
    }
    let (mut change, mut spread) = (0f64, 0f64);
    for c in colour_sample(colours) {
        let m = map.apply(*c);
        for ch in 0..3 {
            change += ((m[ch] - c[ch]) as f64).powi(2);
        }
        for f in fold_maps {
            let mf = f.apply(*c);
            for ch in 0..3 {
                spread += ((mf[ch] - m[ch]) as f64).powi(2);
            }
        }
    }
    let se2 = spread * (k - 1) as f64 / k as f64;
    if se2 <= 0.0 {
        return if change > 0.0 { MAX_SIGNIFICANCE } else { 0.0 };
    }
    ((change / se2).sqrt() as f32).min(MAX_SIGNIFICANCE)
}

/// The share of a map worth applying at significance `z`: the posterior-mean shrinkage
/// `z²/(1 + z²)` of an estimate `z` standard errors from no change, nothing below
/// [`SIGNIFICANT`].
fn shrink(z: f32) -> f32 {
    if z.is_nan() || z < SIGNIFICANT {
        return 0.0;
    }
    z * z / (1.0 + z * z)
}

/// Mean absolute RGB change of `colours` under `map` (at most 4096 of them, evenly spread).
fn mean_move(map: &ColourMap, colours: &[[f32; 3]]) -> f32 {
    let (mut sum, mut n) = (0f64, 0usize);
    for c in colour_sample(colours) {
        let m = map.apply(*c);
        sum += ((m[0] - c[0]).abs() + (m[1] - c[1]).abs() + (m[2] - c[2]).abs()) as f64 / 3.0;
        n += 1;
    }
    if n == 0 { 0.0 } else { (sum / n as f64) as f32 }
}

/// The constant map onto the source's mean colour.
fn mean_of_source(pairs: &[Pair]) -> ColourMap {
    let total: f32 = pairs.iter().map(|p| p.weight).sum::<f32>().max(1e-12);
    let mean: [f32; 3] = std::array::from_fn(|c| pairs.iter().map(|p| p.source[c] * p.weight).sum::<f32>() / total);
    ColourMap::Affine { matrix: [[0.0; 3]; 3], offset: mean }
}

/// 0 below `lo`, 1 above `hi`, smooth between.
fn ramp(x: f32, lo: f32, hi: f32) -> f32 {
    let t = ((x - lo) / (hi - lo)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Whether the overlap spans enough spatial blocks to hold whole blocks out (else folds are
/// interleaved).
fn spatial_folds(pairs: &[Pair]) -> bool {
    let mut groups: Vec<u32> = pairs.iter().map(|p| p.group).collect();
    groups.sort_unstable();
    groups.dedup();
    groups.len() >= 2 * FOLDS
}

/// Held-out error: each fold of `evaluate` under the map fitted on the other folds of `train`,
/// as the trimmed mean over cells of the cell's mean residual.
fn held_out_error(
    evaluate: &[Pair],
    eval_folds: &[u8],
    train: &[Pair],
    train_folds: &[u8],
    fit: &dyn Fn(&[Pair]) -> Option<ColourMap>,
) -> Option<f32> {
    let mut cells: Vec<(f32, f32)> = Vec::new();
    for f in 0..FOLDS as u8 {
        let held: Vec<&Pair> = evaluate.iter().zip(eval_folds).filter(|(_, k)| **k == f).map(|(p, _)| p).collect();
        if held.is_empty() {
            continue;
        }
        let map = fit(&outside_fold(train, train_folds, f))?;
        cells.extend(cell_errors(&map, &held));
    }
    trimmed_mean(cells)
}

/// Per cell: the L1 norm (over channels, /3) of the weighted mean residual, and the cell's weight.
fn cell_errors(map: &ColourMap, pairs: &[&Pair]) -> Vec<(f32, f32)> {
    let mut by_cell: std::collections::HashMap<u32, ([f64; 3], f64)> = std::collections::HashMap::new();
    for p in pairs {
        let m = map.apply(p.target);
        let e = by_cell.entry(p.cell).or_default();
        for ((acc, m), s) in e.0.iter_mut().zip(m).zip(p.source) {
            *acc += ((m - s) * p.weight) as f64;
        }
        e.1 += p.weight as f64;
    }
    by_cell
        .into_values()
        .filter(|(_, w)| *w > 0.0)
        .map(|(r, w)| (((r[0].abs() + r[1].abs() + r[2].abs()) / (3.0 * w)) as f32, w as f32))
        .collect()
}

/// Weighted mean of `(value, weight)` without the largest [`TRIM`] of the weight.
fn trimmed_mean(mut r: Vec<(f32, f32)>) -> Option<f32> {
    r.retain(|v| v.0.is_finite());
    if r.is_empty() {
        return None;
    }
    r.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let total: f32 = r.iter().map(|v| v.1).sum();
    let keep = total * (1.0 - TRIM);
    let (mut acc, mut sum) = (0.0f32, 0.0f64);
    for (v, w) in r {
        if acc >= keep {
            break;
        }
        acc += w;
        sum += (v * w) as f64;
    }
    (acc > 0.0).then(|| (sum / acc as f64) as f32)
}

/// A seeded uniform generator in [0, 1) for the fits' tests.
#[cfg(test)]
pub(crate) fn lcg(seed: u64) -> impl FnMut() -> f32 {
    let mut state = seed;
    move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn colours(pairs: &[Pair]) -> Vec<[f32; 3]> {
        pairs.iter().map(|p| p.target).collect()
    }

    /// Correspondence `i` of `n`, laid along a seam on the x axis.
    fn along_seam(i: usize, n: usize, target: [f32; 3], source: [f32; 3], per_group: usize, per_cell: usize) -> Pair {
        Pair {
            target,
            source,
            weight: 1.0,
            position: [i as f32 / n as f32, 0.0, 0.0],
            group: (i / per_group) as u32,
            cell: (i / per_cell) as u32,
        }
    }

    /// A textured overlap seen by both layers, the target's colours changed by `change`.
    fn overlap(change: &ColourMap) -> Vec<Pair> {
        let mut rnd = lcg(7);
        (0..5000)
            .map(|i| {
                let u = [0.2 + 0.6 * rnd(), 0.2 + 0.5 * rnd(), 0.1 + 0.7 * rnd()];
                along_seam(i, 5000, change.apply(u), u, 50, 5)
            })
            .collect()
    }

    #[test]
    fn chooses_the_model_that_generalizes_and_trusts_it() {
        let cross = ColourMap::Affine {
            matrix: [[0.85, 0.15, 0.0], [0.0, 1.0, 0.1], [0.1, 0.0, 0.9]],
            offset: [0.05, 0.0, -0.03],
        };
        let pairs = overlap(&cross);
        let f = fit((SampleKind::Image, &pairs), &[(SampleKind::Image, &pairs)], &ModelKind::ALL, &colours(&pairs))
            .unwrap();
        assert_eq!(f.model, ModelKind::Matrix, "{f:?}");
        assert!(f.confidence.value > 0.95 && f.fit_error < 0.005, "{f:?}");
        let gain = ColourMap::gain_offset([1.1, 0.9, 1.2], [0.0, 0.05, -0.05]);
        let pairs = overlap(&gain);
        let f = fit((SampleKind::Image, &pairs), &[(SampleKind::Image, &pairs)], &ModelKind::ALL, &colours(&pairs))
            .unwrap();
        assert_eq!(f.model, ModelKind::GainOffset, "the simplest model that explains it: {f:?}");
    }

    #[test]
    fn a_consistent_map_under_heavy_noise_is_applied() {
        // Two captures' own Gaussians: both sides' samples carry texture noise far larger than
        // what a map explains per sample, but every stretch of the seam finds the same map.
        let change = ColourMap::gain_offset([0.84, 0.82, 1.12], [0.05, 0.01, 0.02]);
        let mut rnd = lcg(11);
        let pairs: Vec<Pair> = (0..20000)
            .map(|i| {
                let u = [0.2 + 0.5 * rnd(), 0.25 + 0.45 * rnd(), 0.2 + 0.5 * rnd()];
                let mut noisy = |c: [f32; 3]| c.map(|v| v + 0.3 * (rnd() - 0.5));
                let (s, t) = (noisy(u), noisy(u));
                along_seam(i, 20000, change.apply(t), s, 100, 1)
            })
            .collect();
        let f = fit(
            (SampleKind::Image, &pairs),
            &[(SampleKind::Image, &pairs)],
            &[ModelKind::GainOffset],
            &colours(&pairs),
        )
        .unwrap();
        let c = f.confidence;
        assert!(c.explained < EXPLAINED.1, "the noise hides the change sample by sample: {c:?}");
        assert!(c.significance > 5.0 && c.value > 0.9, "{c:?}");
    }

    #[test]
    fn a_map_that_changes_along_the_seam_is_not_significant() {
        // The gain drifts from one end of the seam to the other (light falling off): each
        // stretch of the seam fits another map.
        let mut rnd = lcg(13);
        let n = 20000;
        let pairs: Vec<Pair> = (0..n)
            .map(|i| {
                let x = i as f32 / n as f32;
                let u = [0.2 + 0.6 * rnd(), 0.2 + 0.5 * rnd(), 0.1 + 0.7 * rnd()];
                let g = 0.6 + 0.8 * x;
                along_seam(i, n, u.map(|v| v * g), u.map(|v| v + 0.2 * (rnd() - 0.5)), 100, 1)
            })
            .collect();
        let f = fit(
            (SampleKind::Image, &pairs),
            &[(SampleKind::Image, &pairs)],
            &[ModelKind::GainOffset],
            &colours(&pairs),
        )
        .unwrap();
        assert!(f.confidence.significance < SIGNIFICANT, "{:?}", f.confidence);
    }

    #[test]
    fn unrelated_colours_on_two_sides_get_no_confidence() {
        // Two materials: the source's colour has nothing to do with the target's, and differs
        // from one stretch of the seam to the next.
        let mut rnd = lcg(9);
        let pairs: Vec<Pair> = (0..5000)
            .map(|i| {
                let g = (i / 50) as u32;
                let hue = (g % 7) as f32 / 7.0;
                Pair {
                    target: [0.8 + 0.1 * rnd(), 0.3 + 0.1 * rnd(), 0.2 + 0.1 * rnd()],
                    source: [0.2 + 0.2 * hue + 0.1 * rnd(), 0.6 - 0.2 * hue + 0.1 * rnd(), 0.2 + 0.1 * rnd()],
                    weight: 1.0,
                    position: [i as f32 / 5000.0, 0.0, 0.0],
                    group: g,
                    cell: i as u32 / 5,
                }
            })
            .collect();
        let f = fit((SampleKind::Image, &pairs), &[(SampleKind::Image, &pairs)], &ModelKind::ALL, &colours(&pairs))
            .unwrap();
        assert!(f.confidence.value < 0.05, "{f:?}");
        let few = &pairs[..50];
        assert!(matches!(
            fit((SampleKind::Image, few), &[(SampleKind::Image, few)], &ModelKind::ALL, &[]),
            Err(NoFit::TooFewPairs { found: 50, needed: MIN_PAIRS })
        ));
    }

    /// A noisy overlap (two captures' renders) in which `change` explains the mean difference.
    fn noisy_overlap(change: &ColourMap, seed: u64) -> Vec<Pair> {
        let mut rnd = lcg(seed);
        (0..5000)
            .map(|i| {
                let u = [0.2 + 0.5 * rnd(), 0.25 + 0.45 * rnd(), 0.2 + 0.5 * rnd()];
                let mut noisy = |c: [f32; 3]| c.map(|v| v + 0.15 * (rnd() - 0.5));
                let (s, t) = (noisy(u), noisy(u));
                along_seam(i, 5000, change.apply(t), s, 50, 5)
            })
            .collect()
    }

    /// `n` Gaussians both layers hold, each copy's colour changed by `change` (exactly).
    fn exact_copies(n: usize, mut change: impl FnMut([f32; 3], usize) -> [f32; 3], seed: u64) -> Vec<Pair> {
        let mut rnd = lcg(seed);
        (0..n)
            .map(|i| {
                let u = [0.1 + 0.8 * rnd(), 0.1 + 0.8 * rnd(), 0.1 + 0.8 * rnd()];
                along_seam(i, n, change(u, i), u, 4, 1)
            })
            .collect()
    }

    #[test]
    fn a_map_that_explains_a_few_dozen_exact_copies_beats_the_noisy_renders() {
        let change = ColourMap::Affine {
            matrix: [[0.8, 0.1, 0.0], [0.05, 1.15, 0.0], [0.0, -0.1, 0.9]],
            offset: [0.04, -0.02, 0.03],
        };
        let image = noisy_overlap(&change, 21);
        let copies = exact_copies(60, |u, _| change.apply(u), 22);
        assert!(copies.len() < MIN_PAIRS && copies.len() >= MIN_EXACT);
        let sets = [(SampleKind::Image, image.as_slice()), (SampleKind::Exact, copies.as_slice())];
        let f = fit((SampleKind::Image, &image), &sets, &ModelKind::ALL, &colours(&image)).unwrap();
        assert_eq!((f.samples, f.model), (SampleKind::Exact, ModelKind::Matrix), "{f:?}");
        assert!(f.confidence.exact_explained.is_some_and(|e| e > 0.999), "{:?}", f.confidence);
        assert!(f.strength > 0.99, "{f:?}");
    }

    #[test]
    fn exact_copies_that_no_map_explains_veto_what_the_renders_suggest() {
        // The renders' blocks see a plausible gain, but the Gaussians both layers hold were
        // repainted one by one (another material): no capture difference does that.
        let gain = ColourMap::gain_offset([1.1, 0.95, 0.9], [0.02, 0.0, 0.0]);
        let image = noisy_overlap(&gain, 31);
        let mut rnd = lcg(32);
        let mut shuffled: Vec<[f32; 3]> = (0..400).map(|_| [rnd(), rnd(), rnd()]).collect();
        let copies = exact_copies(400, |_, i| std::mem::take(&mut shuffled[i]), 33);
        let sets = [(SampleKind::Image, image.as_slice()), (SampleKind::Exact, copies.as_slice())];
        let f = fit((SampleKind::Image, &image), &sets, &ModelKind::ALL, &colours(&image)).unwrap();
        assert!(f.confidence.exact_explained.is_some_and(|e| e < EXACT_VETO), "{:?}", f.confidence);
        assert_eq!(f.strength, 0.0, "{f:?}");
        let alone = fit((SampleKind::Image, &image), &sets[..1], &ModelKind::ALL, &colours(&image)).unwrap();
        assert!(alone.strength > 0.5, "without the copies the renders' gain is trusted: {alone:?}");
    }

    #[test]
    fn the_views_may_vouch_only_for_an_informative_modest_map_the_overlap_leaves_open() {
        let open = Confidence {
            explained: 0.02,
            informative: 0.55,
            moves: 0.03,
            significance: 1.4,
            value: 0.0,
            exact_explained: None,
            views_drop: None,
        };
        assert!(views_may_vouch(&open));
        let cases = [
            ("another material", Confidence { informative: 0.05, ..open }),
            ("a move larger than a capture difference", Confidence { moves: 0.2, ..open }),
            ("the stretches agree", Confidence { significance: 2.8, value: 0.89, ..open }),
            ("exact copies veto it", Confidence { exact_explained: Some(0.2), ..open }),
            ("already applied in full", Confidence { value: 1.0, ..open }),
        ];
        for (why, c) in cases {
            assert!(!views_may_vouch(&c), "{why}: {c:?}");
        }
        assert_eq!(views_vouch(0.03), 0.0, "a drop that lighting gradients also give");
        assert_eq!(views_vouch(VIEWS_DROP.0), 0.0);
        assert!((views_vouch(0.08) - 0.5).abs() < 1e-6);
        assert_eq!(views_vouch(0.15), 1.0);
        assert_eq!(views_vouch(f32::NAN), 0.0);
    }
}
