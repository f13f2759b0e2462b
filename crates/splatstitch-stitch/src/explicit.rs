//! The optimization of [`crate::optimize::optimize`] with its gradient written out, using only
//! gathers and dense sums (see [`crate::segment`] for why: burn-wgpu's scatter-add, which
//! autodiff needs for the backward of every gather, is serial and wrong at this size). Every
//! loss is at most quadratic in the colours and the render is linear in them, so the gradient
//! is short: `∂L/∂c = Wᵀ ∂L/∂R + ∂L_color/∂c`, then through the clamp and the SH basis. The
//! CPU tests check it against burn's autodiff of the same losses.

use crate::optimize::{Adam, LOSS_EVERY, Losses, Problem, Weights, floats, ints, nearest_in_palette, scalar};
use crate::segment::SegmentSum;
use burn::tensor::{Device, Int, Tensor};

/// A stencil as a dense `P × TAPS` gather into an image with one zero row appended.
struct Stencil {
    index: Tensor<1, Int>,
    wx: Tensor<3>,
    wy: Tensor<3>,
}

const TAPS: usize = 8;

impl Stencil {
    /// Groups taps `(key, other, wx, wy)` by key pixel: the forward Sobel keys on the output,
    /// its transpose on the input.
    fn new(key: &[i64], other: &[i64], wx: &[f32], wy: &[f32], pixels: usize, device: &Device) -> Self {
        let mut index = vec![pixels as i64; pixels * TAPS];
        let (mut x, mut y) = (vec![0.0; pixels * TAPS], vec![0.0; pixels * TAPS]);
        let mut used = vec![0usize; pixels];
        for t in 0..key.len() {
            let p = key[t] as usize;
            let slot = p * TAPS + used[p];
            used[p] += 1;
            index[slot] = other[t];
            x[slot] = wx[t];
            y[slot] = wy[t];
        }
        Stencil {
            index: ints(&index, device),
            wx: floats(&x, [pixels, TAPS, 1], device),
            wy: floats(&y, [pixels, TAPS, 1], device),
        }
    }

    fn apply(&self, img: Tensor<2>, weights: &Tensor<3>) -> Tensor<2> {
        let [p, c] = img.dims();
        let padded = Tensor::cat(vec![img.clone(), Tensor::zeros([1, c], &img.device())], 0);
        let taps: Tensor<3> = padded.select(0, self.index.clone()).reshape([p, TAPS, c]);
        (taps * weights.clone()).sum_dim(1).reshape([p, c])
    }
}

/// One camera's sparse render in both directions.
struct View {
    basis: Tensor<3>,
    gaussian: Tensor<1, Int>,
    weight: Tensor<2>,
    per_pixel: SegmentSum,
    /// The same entries ordered by Gaussian, for `Wᵀ`.
    pixel_t: Tensor<1, Int>,
    weight_t: Tensor<2>,
    per_gaussian: SegmentSum,
    sx0: Tensor<2>,
    sy0: Tensor<2>,
    tune_mask: Tensor<2>,
    tune_count: usize,
}

/// See the module comment; same arguments and result as [`crate::optimize::optimize`].
pub fn optimize_explicit(
    p: &Problem,
    w: &Weights,
    device: &Device,
    fused_adam: bool,
    mut step: impl FnMut(usize, Losses, &dyn Fn() -> Vec<f32>) -> bool,
) -> Vec<f32> {
    let (n, k, px) = (p.n, p.k, p.pixels);
    let shape = [n, k, 3];
    let views: Vec<View> = p
        .cameras
        .iter()
        .map(|c| {
            let segment_of: Vec<u32> = c.pixel.iter().map(|&v| v as u32).collect();
            let mut order: Vec<usize> = (0..c.gaussian.len()).collect();
            order.sort_by_key(|&e| c.gaussian[e]);
            let by_gaussian: Vec<u32> = order.iter().map(|&e| c.gaussian[e] as u32).collect();
            let pixel_t: Vec<i64> = order.iter().map(|&e| c.pixel[e]).collect();
            let weight_t: Vec<f32> = order.iter().map(|&e| c.weight[e]).collect();
            let mut mask = vec![0.0f32; px];
            for &t in &c.tune_pixels {
                mask[t as usize] = 1.0;
            }
            View {
                basis: floats(&c.basis, [n, k, 1], device),
                gaussian: ints(&c.gaussian, device),
                weight: floats(&c.weight, [c.weight.len(), 1], device),
                per_pixel: SegmentSum::new(&segment_of, px, device),
                pixel_t: ints(&pixel_t, device),
                weight_t: floats(&weight_t, [weight_t.len(), 1], device),
                per_gaussian: SegmentSum::new(&by_gaussian, n, device),
                sx0: floats(&c.sobel_x0, [px, 3], device),
                sy0: floats(&c.sobel_y0, [px, 3], device),
                tune_mask: floats(&mask, [px, 1], device),
                tune_count: c.tune_pixels.len(),
            }
        })
        .collect();
    let sobel = Stencil::new(&p.taps.out, &p.taps.input, &p.taps.wx, &p.taps.wy, px, device);
    let sobel_t = Stencil::new(&p.taps.input, &p.taps.out, &p.taps.wx, &p.taps.wy, px, device);

    // L_feature as a dense mask over all Gaussians.
    let mut reference = vec![0.0f32; n * k * 3];
    let mut bmask = vec![0.0f32; n];
    for (row, &b) in p.boundary.iter().enumerate() {
        let b = b as usize;
        reference[b * k * 3..(b + 1) * k * 3].copy_from_slice(&p.reference[row * k * 3..(row + 1) * k * 3]);
        bmask[b] = 1.0;
    }
    let reference = floats(&reference, shape, device);
    let bmask = floats(&bmask, [n, 1, 1], device);
    // L_color likewise: interior rows gather their driving points, other rows themselves.
    let dk = p.driving_k.max(1);
    let mut driving: Vec<i64> = (0..n as i64).flat_map(|i| std::iter::repeat_n(i, dk)).collect();
    let mut imask = vec![0.0f32; n];
    for (row, &i) in p.interior.iter().enumerate() {
        let i = i as usize;
        driving[i * dk..(i + 1) * dk].copy_from_slice(&p.driving[row * dk..(row + 1) * dk]);
        imask[i] = 1.0;
    }
    let driving = ints(&driving, device);
    let imask = floats(&imask, [n, 1], device);
    let palette_colors: Vec<f32> = p.palette.iter().flatten().copied().collect();
    let palette = (!p.palette.is_empty()).then(|| floats(&palette_colors, [p.palette.len(), 3], device));
    let palette_weights = floats(&p.palette_weights, [p.palette_weights.len(), 1], device);

    let sh0 = floats(&p.sh, shape, device);
    let mut adam = Adam::new(&p.sh, shape, device, fused_adam);
    let tune_start = (w.tune_from * w.iterations as f32) as usize;
    let nb = (p.boundary.len() * k * 3).max(1) as f32;
    let ni = (p.interior.len() * 3).max(1) as f32;
    let np = (px * 3) as f32;
    let mut losses = Losses::default();
    for it in 0..w.iterations {
        let v = &views[it % views.len()];
        let sh = adam.params(shape, device);
        let pre: Tensor<2> = (sh.clone() * v.basis.clone()).sum_dim(1).reshape([n, 3]).add_scalar(0.5);
        let active = pre.clone().greater_elem(0.0).float();
        let colors = pre.clamp_min(0.0);
        let render = v.per_pixel.apply(colors.clone().select(0, v.gaussian.clone()) * v.weight.clone());

        let ex = sobel.apply(render.clone(), &sobel.wx) - v.sx0.clone();
        let ey = sobel.apply(render.clone(), &sobel.wy) - v.sy0.clone();
        let mut d_render = (sobel_t.apply(ex.clone(), &sobel_t.wx) + sobel_t.apply(ey.clone(), &sobel_t.wy))
            .mul_scalar(2.0 * w.lambda_grad / np);
        let use_tune = it >= tune_start && v.tune_count > 0 && palette.is_some();
        let tune_residual = match (&palette, use_tune) {
            (Some(pal), true) => {
                let (nearest, weight) = nearest_in_palette(render.clone(), pal, &palette_weights);
                let r = (render.clone() - nearest) * v.tune_mask.clone();
                let weighted = r.clone() * weight;
                d_render = d_render + weighted.clone().mul_scalar(2.0 * w.lambda_tune / (v.tune_count * 3) as f32);
                Some((r, weighted))
            }
            _ => None,
        };
        let mut d_colors = v.per_gaussian.apply(d_render.select(0, v.pixel_t.clone()) * v.weight_t.clone());
        let color_residual = (!p.interior.is_empty()).then(|| {
            let source = if w.clone_offsets {
                let original: Tensor<2> =
                    (sh0.clone() * v.basis.clone()).sum_dim(1).reshape([n, 3]).add_scalar(0.5).clamp_min(0.0);
                let change: Tensor<3> =
                    (colors.clone() - original.clone()).select(0, driving.clone()).reshape([n, dk, 3]);
                change.mean_dim(1).reshape([n, 3]) + original
            } else {
                let picked: Tensor<3> = colors.clone().select(0, driving.clone()).reshape([n, dk, 3]);
                picked.mean_dim(1).reshape([n, 3])
            };
            (colors.clone() - source) * imask.clone()
        });
        if let Some(r) = &color_residual {
            d_colors = d_colors + r.clone().mul_scalar(2.0 * w.lambda_color / ni);
        }
        let d_colors = d_colors * active;
        let feature_residual = (sh.clone() - reference.clone()) * bmask.clone();
        let d_sh = d_colors.reshape([n, 1, 3]) * v.basis.clone()
            + feature_residual.clone().mul_scalar(2.0 * w.lambda_feature / nb);
        adam.step(d_sh, (it + 1) as i32, w.learning_rate);

        if it % LOSS_EVERY == 0 || it + 1 == w.iterations {
            let sum = |t: Tensor<2>| scalar(t.powi_scalar(2).sum().reshape([1]));
            let feature = scalar(feature_residual.powi_scalar(2).sum().reshape([1])) / nb;
            let color = color_residual.map_or(0.0, sum) / ni;
            let grad = (sum(ex) + sum(ey)) / np;
            let tune = tune_residual
                .map_or(0.0, |(r, weighted)| scalar((r * weighted).sum().reshape([1])) / (v.tune_count * 3) as f32);
            losses = Losses::weighted(feature, color, grad, tune, w, use_tune);
            tracing::debug!("iteration {it}: {losses:?}");
        }
        if !step(it, losses, &|| adam.current()) {
            break;
        }
    }
    adam.into_vec()
}
