//! The `poisson` baseline as SeamlessNeRF's published code does it, with the target's colours
//! as the unknowns. Samples lie on a grid over the scene; at each, both layers' radiance fields
//! give a density and a colour, and whichever is denser dominates the point. Two terms, each a
//! mean:
//! - `loss_diff`: over neighbouring samples `p, q = p + δ·e_axis` that are both target-
//!   dominated, `|(c(p) − c(q)) − (c̄(p) − c̄(q))|` — the target's colour differences kept;
//! - `loss_pin`: at source-dominated samples inside the target's coverage, `|c_T(p) − c_S(p)|`
//!   — where the source wins, the target takes its colour.
//!
//! `L = loss_pin + w·loss_diff`, Adam (β = 0.9, 0.99) on random batches of samples. The
//! differences from the authors' code: they train a residual copy of TensoRF's appearance
//! network, here each target Gaussian's view-independent colour gets an offset; their samples
//! lie on a dense grid over a continuous field, ours at the target's centres with their grid
//! neighbours `p + δ·e_axis` (Gaussians are small: a regular grid fine enough for them is mostly
//! empty space, and the Gaussians between its points would get no gradient); L1 as a plain sign
//! subgradient, as PyTorch takes it.

use crate::field::{Field, MIN_COVERAGE, dc_colors, field_at};
use glam::Vec3;
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_core::sh::SH_C0;

/// Adam's moment decay rates and denominator guard, as SeamlessNeRF trains.
const ADAM: (f32, f32, f32) = (0.9, 0.99, 1e-8);
/// A sample is inside a field's coverage above this density (SeamlessNeRF keeps alpha > 2e-3).
pub const MIN_DENSITY: f32 = 2e-3;

/// Everything the baseline needs, fixed before the first iteration.
pub struct PoissonProblem {
    /// Target Gaussians.
    pub n: usize,
    /// The target's field at the kept samples.
    field: Field,
    /// Original colour of the target's field at each kept sample.
    base: Vec<[f32; 3]>,
    /// Rows of `field`: neighbouring target-dominated samples.
    pub pairs: Vec<(u32, u32)>,
    /// Rows of `field`: source-dominated samples inside the target, with the source's colour.
    pub pins: Vec<(u32, [f32; 3])>,
    /// Grid spacing δ.
    pub spacing: f32,
}

impl PoissonProblem {
    /// Samples at every target centre and at `δ` from it along each axis, `δ` the longest side
    /// of `[lo, hi]` over `grid`: the grid's neighbour pairs, placed where the Gaussians are (a
    /// regular grid fine enough for small Gaussians would be mostly empty space).
    pub fn new(target: &GaussianCloud, source: &GaussianCloud, lo: Vec3, hi: Vec3, grid: u32) -> Self {
        let spacing = ((hi - lo).max_element() / grid.max(1) as f32).max(1e-9);
        let n = target.len();
        let mut points: Vec<[f32; 3]> = target.positions.clone();
        for p in &target.positions {
            for axis in 0..3 {
                let mut q = *p;
                q[axis] += spacing;
                points.push(q);
            }
        }
        let field = field_at(target, &points, MIN_DENSITY);
        let kept: Vec<[f32; 3]> = field.points.iter().map(|&i| points[i]).collect();
        let from_source = field_at(source, &kept, MIN_COVERAGE);
        let mut source_density = vec![0f32; kept.len()];
        for (row, &i) in from_source.points.iter().enumerate() {
            source_density[i] = from_source.coverage[row];
        }
        let source_colours = from_source.apply(&dc_colors(source));
        let base = field.apply(&dc_colors(target));
        // Where both are equally dense (the same Gaussians in both layers) the source wins: the
        // target is pinned there.
        let dominated = |row: usize| field.coverage[row] > source_density[row];
        let mut row_of = vec![u32::MAX; points.len()];
        for (row, &i) in field.points.iter().enumerate() {
            row_of[i] = row as u32;
        }
        let mut pairs = Vec::new();
        for i in 0..n {
            let a = row_of[i];
            if a == u32::MAX || !dominated(a as usize) {
                continue;
            }
            for axis in 0..3 {
                let b = row_of[n + 3 * i + axis];
                if b != u32::MAX && dominated(b as usize) {
                    pairs.push((a, b));
                }
            }
        }
        let pins = from_source
            .points
            .iter()
            .enumerate()
            .filter(|(_, i)| !dominated(**i) && field.points[**i] < n)
            .map(|(srow, &i)| (i as u32, source_colours[srow]))
            .collect();
        PoissonProblem { n, field, base, pairs, pins, spacing }
    }

    /// Samples inside the target's coverage.
    pub fn samples(&self) -> usize {
        self.field.len()
    }
}

/// A small deterministic generator for the batches.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n.max(1)
    }
}

/// The baseline's settings.
#[derive(Debug, Clone, Copy)]
pub struct PoissonSettings {
    /// w, the gradient term's weight.
    pub weight: f32,
    pub iterations: usize,
    pub learning_rate: f32,
    /// Samples per batch, per term.
    pub batch: usize,
    pub seed: u64,
}

/// Adam on the colour offsets; returns them (`N × 3`, colour units). `step(iteration)` returning
/// `false` stops early.
pub fn solve(p: &PoissonProblem, s: &PoissonSettings, mut step: impl FnMut(usize) -> bool) -> Vec<[f32; 3]> {
    let rows = p.field.len();
    // The field's weights by Gaussian, to gather each Gaussian's gradient in parallel.
    let mut offsets_t = vec![0u32; p.n + 1];
    for &id in &p.field.ids {
        offsets_t[id as usize + 1] += 1;
    }
    for g in 0..p.n {
        offsets_t[g + 1] += offsets_t[g];
    }
    let (mut rows_t, mut weights_t) = (vec![0u32; p.field.ids.len()], vec![0f32; p.field.ids.len()]);
    let mut cursor = offsets_t.clone();
    for r in 0..rows {
        for e in p.field.offsets[r] as usize..p.field.offsets[r + 1] as usize {
            let slot = &mut cursor[p.field.ids[e] as usize];
            rows_t[*slot as usize] = r as u32;
            weights_t[*slot as usize] = p.field.weights[e];
            *slot += 1;
        }
    }
    let mut offsets = vec![[0f32; 3]; p.n];
    let (mut m, mut v) = (vec![[0f32; 3]; p.n], vec![[0f32; 3]; p.n]);
    let mut rng = Lcg(s.seed ^ 0x5EED_0F50_1550);
    let (b1, b2, eps) = ADAM;
    let mut row_grad = vec![[0f32; 3]; rows];
    let mut grad = vec![[0f32; 3]; p.n];
    for it in 0..s.iterations {
        // Each term's batch: all of it when it fits, else a random draw.
        let mut draw = |len: usize| -> Vec<usize> {
            if len <= s.batch { (0..len).collect() } else { (0..s.batch).map(|_| rng.below(len)).collect() }
        };
        let (pair_batch, pin_batch) = (draw(p.pairs.len()), draw(p.pins.len()));
        // The offsets' field at every sample: (c − c̄) there.
        let field: Vec<[f32; 3]> = (0..rows).into_par_iter().map(|r| p.field.colour_at(r, &offsets)).collect();
        // dL/d(field colour) per sample, then through the field's weights to the offsets.
        let (diff_scale, pin_scale) =
            (s.weight / (3 * pair_batch.len()).max(1) as f32, 1.0 / (3 * pin_batch.len()).max(1) as f32);
        row_grad.fill([0.0; 3]);
        for &e in &pair_batch {
            let (a, b) = (p.pairs[e].0 as usize, p.pairs[e].1 as usize);
            for c in 0..3 {
                let g = diff_scale * sign(field[a][c] - field[b][c]);
                row_grad[a][c] += g;
                row_grad[b][c] -= g;
            }
        }
        for &e in &pin_batch {
            let (row, want) = p.pins[e];
            let r = row as usize;
            for c in 0..3 {
                row_grad[r][c] += pin_scale * sign(p.base[r][c] + field[r][c] - want[c]);
            }
        }
        grad.par_iter_mut().enumerate().for_each(|(g, out)| {
            let mut acc = [0f32; 3];
            for e in offsets_t[g] as usize..offsets_t[g + 1] as usize {
                let (r, w) = (rows_t[e] as usize, weights_t[e]);
                for c in 0..3 {
                    acc[c] += w * row_grad[r][c];
                }
            }
            *out = acc;
        });
        let t = (it + 1) as i32;
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        offsets.par_iter_mut().zip(m.par_iter_mut()).zip(v.par_iter_mut()).zip(&grad).for_each(|(((o, m), v), g)| {
            for c in 0..3 {
                m[c] = b1 * m[c] + (1.0 - b1) * g[c];
                v[c] = b2 * v[c] + (1.0 - b2) * g[c] * g[c];
                o[c] -= s.learning_rate * (m[c] / c1) / ((v[c] / c2).sqrt() + eps);
            }
        });
        if !step(it) {
            break;
        }
    }
    offsets
}

fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Applies colour offsets to a cloud's DC coefficients (colour = 0.5 + C0·sh₀).
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

    /// A 10 × 10 sheet of Gaussians of one colour, starting at x0.
    fn sheet(x0: f32, dc: f32) -> GaussianCloud {
        let mut c = GaussianCloud::with_len(100, 0);
        for i in 0..100 {
            c.positions[i] = [x0 + (i % 10) as f32 * 0.02, (i / 10) as f32 * 0.02, 0.0];
            c.log_scales[i] = [0.015f32.ln(); 3];
            c.opacities[i] = 4.0;
            c.rotations[i] = [1.0, 0.0, 0.0, 0.0];
            c.sh[i * 3] = dc;
        }
        c
    }

    #[test]
    fn the_source_colour_spreads_through_the_target_keeping_its_differences() {
        // The source (red-ish) overlaps the target's first columns; the target is darker.
        let source = sheet(-0.1, 0.8);
        let mut target = sheet(0.04, -0.8);
        for i in (0..100).filter(|i| i % 10 == 9) {
            target.sh[i * 3] += 0.4; // a stripe of texture to keep
        }
        let (lo, hi) = (Vec3::new(-0.12, -0.02, -0.02), Vec3::new(0.26, 0.2, 0.02));
        let p = PoissonProblem::new(&target, &source, lo, hi, 64);
        assert!(!p.pairs.is_empty() && !p.pins.is_empty(), "{} pairs, {} pins", p.pairs.len(), p.pins.len());
        let settings = PoissonSettings { weight: 1.0, iterations: 800, learning_rate: 0.01, batch: 65_536, seed: 0 };
        let offsets = solve(&p, &settings, |_| true);
        let want = SH_C0 * 1.6; // the source's colour minus the target's
        let mean = |cols: &mut dyn Iterator<Item = usize>| {
            let v: Vec<f32> = cols.map(|i| offsets[i][0]).collect();
            v.iter().sum::<f32>() / v.len() as f32
        };
        let near = mean(&mut (0..100).filter(|i| i % 10 == 0));
        let far = mean(&mut (0..100).filter(|i| i % 10 == 8));
        let stripe = mean(&mut (0..100).filter(|i| i % 10 == 9));
        assert!((near - want).abs() < 0.25 * want, "near {near}, want {want}");
        assert!(far > 0.5 * want, "the far side moved too: {far}");
        assert!((stripe - far).abs() < 0.15 * want, "differences kept: stripe {stripe}, far {far}");
    }
}
