//! The optimization of [`crate::optimize::optimize`] as plain Rust loops over the CPU's cores:
//! the CPU twin of the explicit gradient that runs on burn-wgpu ([`crate::explicit`]), and the
//! fastest CPU path. burn's CPU backends run each tensor op as its own pass with its own
//! temporaries (about forty per iteration, several over all `N × K × 3` coefficients); here an
//! iteration is six passes, each touching its data once: colours, render, Sobel residuals, the
//! render's gradient, the colours' gradient, and Adam fused with the next view's colours.
//! Measured on the speed job in docs/BENCHMARKS.md; the tests check it against burn's autodiff.

use crate::optimize::{LOSS_EVERY, Losses, Problem, SobelTaps, Weights};
use rayon::prelude::*;

/// Adam's moment decay rates and denominator guard (as [`crate::optimize`]'s).
const ADAM: (f32, f32, f32) = (0.9, 0.999, 1e-8);
/// Stencil slots per pixel: the Sobel operator has eight non-zero taps.
const TAPS: usize = 8;
/// Rows per parallel task: large enough to amortize scheduling, small enough to balance.
const CHUNK: usize = 2048;
const NONE: u32 = u32::MAX;

/// One camera's sparse render, by pixel and by Gaussian.
struct View<'a> {
    basis: &'a [f32],
    /// `ids[offsets[p]..offsets[p+1]]`: the Gaussians of pixel `p`, with `weights`.
    offsets: Vec<u32>,
    ids: Vec<u32>,
    weights: Vec<f32>,
    /// The same entries ordered by Gaussian: `pixels_t[offsets_t[g]..offsets_t[g+1]]`.
    offsets_t: Vec<u32>,
    pixels_t: Vec<u32>,
    weights_t: Vec<f32>,
    sx0: &'a [f32],
    sy0: &'a [f32],
    tune: Vec<bool>,
    tune_count: usize,
}

impl<'a> View<'a> {
    fn new(c: &'a crate::optimize::CameraTerms, n: usize, pixels: usize) -> Self {
        let mut offsets = vec![0u32; pixels + 1];
        for &p in &c.pixel {
            offsets[p as usize + 1] += 1;
        }
        for p in 0..pixels {
            offsets[p + 1] += offsets[p];
        }
        // Entries arrive grouped by pixel (the renderer emits them so); a counting sort keeps
        // this correct for any order.
        let mut cursor = offsets.clone();
        let (mut ids, mut weights) = (vec![0u32; c.pixel.len()], vec![0f32; c.pixel.len()]);
        for e in 0..c.pixel.len() {
            let slot = &mut cursor[c.pixel[e] as usize];
            ids[*slot as usize] = c.gaussian[e] as u32;
            weights[*slot as usize] = c.weight[e];
            *slot += 1;
        }
        let mut offsets_t = vec![0u32; n + 1];
        for &g in &ids {
            offsets_t[g as usize + 1] += 1;
        }
        for g in 0..n {
            offsets_t[g + 1] += offsets_t[g];
        }
        let mut cursor = offsets_t.clone();
        let (mut pixels_t, mut weights_t) = (vec![0u32; ids.len()], vec![0f32; ids.len()]);
        for p in 0..pixels {
            for e in offsets[p] as usize..offsets[p + 1] as usize {
                let slot = &mut cursor[ids[e] as usize];
                pixels_t[*slot as usize] = p as u32;
                weights_t[*slot as usize] = weights[e];
                *slot += 1;
            }
        }
        let mut tune = vec![false; pixels];
        for &p in &c.tune_pixels {
            tune[p as usize] = true;
        }
        View {
            basis: &c.basis,
            offsets,
            ids,
            weights,
            offsets_t,
            pixels_t,
            weights_t,
            sx0: &c.sobel_x0,
            sy0: &c.sobel_y0,
            tune,
            tune_count: c.tune_pixels.len(),
        }
    }
}

/// A stencil as `TAPS` slots per pixel (unused slots point at `NONE`).
struct Stencil {
    index: Vec<u32>,
    wx: Vec<f32>,
    wy: Vec<f32>,
}

impl Stencil {
    /// Groups taps by `key` pixel: the forward Sobel keys on the output, its transpose on the
    /// input.
    fn new(key: &[i64], other: &[i64], taps: &SobelTaps, pixels: usize) -> Self {
        let mut s =
            Stencil { index: vec![NONE; pixels * TAPS], wx: vec![0.0; pixels * TAPS], wy: vec![0.0; pixels * TAPS] };
        let mut used = vec![0usize; pixels];
        for t in 0..key.len() {
            let p = key[t] as usize;
            let slot = p * TAPS + used[p];
            used[p] += 1;
            s.index[slot] = other[t] as u32;
            s.wx[slot] = taps.wx[t];
            s.wy[slot] = taps.wy[t];
        }
        s
    }

    /// `Σ wx·x[other]` and `Σ wy·y[other]` for pixel `p`, per channel.
    #[inline]
    fn apply(&self, p: usize, x: &[[f32; 3]], y: &[[f32; 3]]) -> [f32; 3] {
        let mut out = [0.0f32; 3];
        for s in p * TAPS..(p + 1) * TAPS {
            let q = self.index[s];
            if q == NONE {
                continue;
            }
            let (a, b) = (x[q as usize], y[q as usize]);
            for c in 0..3 {
                out[c] += self.wx[s] * a[c] + self.wy[s] * b[c];
            }
        }
        out
    }
}

/// Colours of every Gaussian seen with `basis`: `max(Σ_k sh·basis + 0.5, 0)` and whether the
/// clamp let the gradient through.
fn colours_into(sh: &[f32], basis: &[f32], k: usize, colours: &mut [[f32; 3]], active: &mut [[bool; 3]]) {
    colours.par_chunks_mut(CHUNK).zip(active.par_chunks_mut(CHUNK)).enumerate().for_each(|(chunk, (col, act))| {
        for (j, (c, a)) in col.iter_mut().zip(act.iter_mut()).enumerate() {
            let i = chunk * CHUNK + j;
            let (c3, a3) = colour_of(&sh[i * k * 3..(i + 1) * k * 3], &basis[i * k..(i + 1) * k]);
            *c = c3;
            *a = a3;
        }
    });
}

/// Row `row` of a sparse matrix in compressed rows times `values`: `Σ weight·values[index]`.
#[inline]
fn row_sum(offsets: &[u32], index: &[u32], weights: &[f32], values: &[[f32; 3]], row: usize) -> [f32; 3] {
    let mut acc = [0.0f32; 3];
    for e in offsets[row] as usize..offsets[row + 1] as usize {
        let v = values[index[e] as usize];
        for c in 0..3 {
            acc[c] += weights[e] * v[c];
        }
    }
    acc
}

#[inline]
fn colour_of(sh: &[f32], basis: &[f32]) -> ([f32; 3], [bool; 3]) {
    let mut v = [0.5f32; 3];
    for (j, b) in basis.iter().enumerate() {
        for c in 0..3 {
            v[c] += sh[j * 3 + c] * b;
        }
    }
    ([v[0].max(0.0), v[1].max(0.0), v[2].max(0.0)], [v[0] > 0.0, v[1] > 0.0, v[2] > 0.0])
}

/// The palette colour nearest to `c` and its L_tune weight.
fn nearest(palette: &[[f32; 3]], weights: &[f32], c: [f32; 3]) -> ([f32; 3], f32) {
    let mut best = (f32::INFINITY, 0);
    for (i, q) in palette.iter().enumerate() {
        let d = (c[0] - q[0]).powi(2) + (c[1] - q[1]).powi(2) + (c[2] - q[2]).powi(2);
        if d < best.0 {
            best = (d, i);
        }
    }
    (palette[best.1], weights[best.1])
}

fn sq(v: [f32; 3]) -> f64 {
    v.iter().map(|x| (*x as f64) * (*x as f64)).sum()
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f32; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// See the module comment; same arguments (less the burn device) and result as
/// [`crate::optimize::optimize`].
pub fn optimize_native(
    p: &Problem,
    w: &Weights,
    mut step: impl FnMut(usize, Losses, &dyn Fn() -> Vec<f32>) -> bool,
) -> Vec<f32> {
    let (n, k, px) = (p.n, p.k, p.pixels);
    if n == 0 || p.cameras.is_empty() || w.iterations == 0 {
        return p.sh.clone();
    }
    let views: Vec<View> = p.cameras.par_iter().map(|c| View::new(c, n, px)).collect();
    let sobel = Stencil::new(&p.taps.out, &p.taps.input, &p.taps, px);
    let sobel_t = Stencil::new(&p.taps.input, &p.taps.out, &p.taps, px);
    let mut boundary_row = vec![NONE; n];
    for (row, &b) in p.boundary.iter().enumerate() {
        boundary_row[b as usize] = row as u32;
    }
    let mut interior_row = vec![NONE; n];
    for (row, &i) in p.interior.iter().enumerate() {
        interior_row[i as usize] = row as u32;
    }
    let dk = p.driving_k.max(1);
    let driving: Vec<u32> = p.driving.iter().map(|&d| d as u32).collect();
    let palette = &p.palette;
    let p_weights = &p.palette_weights;

    let nb = (p.boundary.len() * k * 3).max(1) as f32;
    let ni = (p.interior.len() * 3).max(1) as f32;
    let np = (px * 3) as f32;
    let (feature_scale, color_scale, grad_scale) =
        (2.0 * w.lambda_feature / nb, 2.0 * w.lambda_color / ni, 2.0 * w.lambda_grad / np);
    let tune_start = (w.tune_from * w.iterations as f32) as usize;

    let mut sh = p.sh.clone();
    let (mut m, mut v2) = (vec![0f32; sh.len()], vec![0f32; sh.len()]);
    let mut colours = vec![[0f32; 3]; n];
    let mut active = vec![[false; 3]; n];
    let mut original = if w.clone_offsets { vec![[0f32; 3]; n] } else { Vec::new() };
    let mut original_active = vec![[false; 3]; if w.clone_offsets { n } else { 0 }];
    let mut render = vec![[0f32; 3]; px];
    let (mut ex, mut ey) = (vec![[0f32; 3]; px], vec![[0f32; 3]; px]);
    let mut d_render = vec![[0f32; 3]; px];
    let mut d_colours = vec![[0f32; 3]; n];
    colours_into(&sh, views[0].basis, k, &mut colours, &mut active);

    let mut losses = Losses::default();
    for it in 0..w.iterations {
        let v = &views[it % views.len()];
        if w.clone_offsets {
            colours_into(&p.sh, v.basis, k, &mut original, &mut original_active);
        }
        // The render, then the Sobel residuals against the original target's.
        render.par_chunks_mut(CHUNK).enumerate().for_each(|(chunk, out)| {
            for (j, r) in out.iter_mut().enumerate() {
                let p = chunk * CHUNK + j;
                *r = row_sum(&v.offsets, &v.ids, &v.weights, &colours, p);
            }
        });
        let grad_sum: f64 = ex
            .par_chunks_mut(CHUNK)
            .zip(ey.par_chunks_mut(CHUNK))
            .enumerate()
            .map(|(chunk, (ox, oy))| {
                let mut s = 0.0f64;
                for j in 0..ox.len() {
                    let p = chunk * CHUNK + j;
                    let (mut gx, mut gy) = ([0.0f32; 3], [0.0f32; 3]);
                    for t in p * TAPS..(p + 1) * TAPS {
                        let q = sobel.index[t];
                        if q == NONE {
                            continue;
                        }
                        let r = render[q as usize];
                        for c in 0..3 {
                            gx[c] += sobel.wx[t] * r[c];
                            gy[c] += sobel.wy[t] * r[c];
                        }
                    }
                    ox[j] = sub(gx, [v.sx0[p * 3], v.sx0[p * 3 + 1], v.sx0[p * 3 + 2]]);
                    oy[j] = sub(gy, [v.sy0[p * 3], v.sy0[p * 3 + 1], v.sy0[p * 3 + 2]]);
                    s += sq(ox[j]) + sq(oy[j]);
                }
                s
            })
            .sum();
        // The render's gradient: the Sobel term through the transposed stencil, and L_tune.
        let use_tune = it >= tune_start && v.tune_count > 0 && !palette.is_empty();
        let tune_scale = 2.0 * w.lambda_tune / (v.tune_count * 3).max(1) as f32;
        let tune_sum: f64 = d_render
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(chunk, out)| {
                let mut s = 0.0f64;
                for (j, d) in out.iter_mut().enumerate() {
                    let p = chunk * CHUNK + j;
                    let g = sobel_t.apply(p, &ex, &ey);
                    *d = [g[0] * grad_scale, g[1] * grad_scale, g[2] * grad_scale];
                    if use_tune && v.tune[p] {
                        let (colour, weight) = nearest(palette, p_weights, render[p]);
                        let r = sub(render[p], colour);
                        s += weight as f64 * sq(r);
                        for c in 0..3 {
                            d[c] += tune_scale * weight * r[c];
                        }
                    }
                }
                s
            })
            .sum();
        // The colours' gradient: `Wᵀ` of the render's, plus L_color, through the clamp.
        let color_sum: f64 = d_colours
            .par_chunks_mut(CHUNK)
            .enumerate()
            .map(|(chunk, out)| {
                let mut s = 0.0f64;
                for (j, d) in out.iter_mut().enumerate() {
                    let g = chunk * CHUNK + j;
                    let mut acc = row_sum(&v.offsets_t, &v.pixels_t, &v.weights_t, &d_render, g);
                    let row = interior_row[g];
                    if row != NONE {
                        let mut mean = [0.0f32; 3];
                        for &dp in &driving[row as usize * dk..(row as usize + 1) * dk] {
                            let c = if w.clone_offsets {
                                sub(colours[dp as usize], original[dp as usize])
                            } else {
                                colours[dp as usize]
                            };
                            for ch in 0..3 {
                                mean[ch] += c[ch];
                            }
                        }
                        let mut target = mean.map(|x| x / dk as f32);
                        if w.clone_offsets {
                            for ch in 0..3 {
                                target[ch] += original[g][ch];
                            }
                        }
                        let r = sub(colours[g], target);
                        s += sq(r);
                        for c in 0..3 {
                            acc[c] += color_scale * r[c];
                        }
                    }
                    for c in 0..3 {
                        d[c] = if active[g][c] { acc[c] } else { 0.0 };
                    }
                }
                s
            })
            .sum();
        // Adam on every coefficient (the gradient formed in place: colours' gradient through
        // the basis, plus L_feature), then the next view's colours from the new SH.
        let next = &views[(it + 1) % views.len()];
        let (b1, b2, eps) = ADAM;
        let t = (it + 1) as i32;
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        let lr = w.learning_rate;
        let row_len = k * 3;
        let feature_sum: f64 = sh
            .par_chunks_mut(CHUNK * row_len)
            .zip(m.par_chunks_mut(CHUNK * row_len))
            .zip(v2.par_chunks_mut(CHUNK * row_len))
            .zip(colours.par_chunks_mut(CHUNK).zip(active.par_chunks_mut(CHUNK)))
            .enumerate()
            .map(|(chunk, (((s, m), vv), (col, act)))| {
                let mut fs = 0.0f64;
                for j in 0..col.len() {
                    let g = chunk * CHUNK + j;
                    let row = j * row_len..(j + 1) * row_len;
                    let (s, m, vv) = (&mut s[row.clone()], &mut m[row.clone()], &mut vv[row]);
                    let b = &v.basis[g * k..(g + 1) * k];
                    let dc = d_colours[g];
                    let reference = match boundary_row[g] {
                        NONE => None,
                        r => Some(&p.reference[r as usize * row_len..(r as usize + 1) * row_len]),
                    };
                    for i in 0..row_len {
                        let mut grad = dc[i % 3] * b[i / 3];
                        if let Some(reference) = reference {
                            let r = s[i] - reference[i];
                            fs += (r as f64) * (r as f64);
                            grad += feature_scale * r;
                        }
                        m[i] = b1 * m[i] + (1.0 - b1) * grad;
                        vv[i] = b2 * vv[i] + (1.0 - b2) * grad * grad;
                        s[i] -= lr * (m[i] / c1) / ((vv[i] / c2).sqrt() + eps);
                    }
                    let (c3, a3) = colour_of(s, &next.basis[g * k..(g + 1) * k]);
                    col[j] = c3;
                    act[j] = a3;
                }
                fs
            })
            .sum();
        if it % LOSS_EVERY == 0 || it + 1 == w.iterations {
            let feature = (feature_sum / nb as f64) as f32;
            let color = (color_sum / ni as f64) as f32;
            let grad = (grad_sum / np as f64) as f32;
            let tune = if use_tune { (tune_sum / (v.tune_count * 3) as f64) as f32 } else { 0.0 };
            losses = Losses::weighted(feature, color, grad, tune, w, use_tune);
            tracing::debug!("iteration {it}: {losses:?}");
        }
        if !step(it, losses, &|| sh.clone()) {
            break;
        }
    }
    sh
}
