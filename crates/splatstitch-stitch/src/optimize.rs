//! Step 5 of the method: Adam on the target's SH coefficients, in burn. Geometry is frozen, so
//! each camera's render of the target is linear in the Gaussians' colours: the per-pixel
//! weights are computed once by the renderer, and every iteration's render is a gather and a
//! scatter-add of plain tensor ops whose backward burn's autodiff derives.

use crate::views::{SideView, render_side_with_weights};
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_render::Camera;
use splatstitch_render::preprocess::sh_basis;

pub use crate::views::MIN_WEIGHT;
/// Target coverage above which a pixel takes part in `L_tune`.
pub const TUNE_ALPHA: f32 = 0.95;

/// What one camera contributes, computed once.
pub struct CameraTerms {
    /// SH basis of every target Gaussian's view direction, `N × K`.
    pub basis: Vec<f32>,
    /// Entries of the sparse render: pixel, Gaussian, weight.
    pub pixel: Vec<i64>,
    pub gaussian: Vec<i64>,
    pub weight: Vec<f32>,
    /// Sobel x and y of the original target render, `P × 3` each.
    pub sobel_x0: Vec<f32>,
    pub sobel_y0: Vec<f32>,
    /// Pixels the target covers with alpha above [`TUNE_ALPHA`].
    pub tune_pixels: Vec<i64>,
}

/// The Sobel operator as taps `(output pixel, input pixel, x weight, y weight)`.
pub struct SobelTaps {
    pub out: Vec<i64>,
    pub input: Vec<i64>,
    pub wx: Vec<f32>,
    pub wy: Vec<f32>,
}

impl SobelTaps {
    pub fn new(w: usize, h: usize) -> Self {
        let mut t = SobelTaps { out: vec![], input: vec![], wx: vec![], wy: vec![] };
        for y in 1..h.saturating_sub(1) {
            for x in 1..w.saturating_sub(1) {
                for dy in -1i64..=1 {
                    for dx in -1i64..=1 {
                        let wx = dx as f32 * if dy == 0 { 2.0 } else { 1.0 };
                        let wy = dy as f32 * if dx == 0 { 2.0 } else { 1.0 };
                        if wx == 0.0 && wy == 0.0 {
                            continue;
                        }
                        t.out.push((y * w + x) as i64);
                        t.input.push((y as i64 + dy) * w as i64 + x as i64 + dx);
                        t.wx.push(wx);
                        t.wy.push(wy);
                    }
                }
            }
        }
        t
    }

    /// Applies the taps to a `P × 3` image held on the CPU.
    pub fn apply(&self, img: &[f32], pixels: usize) -> (Vec<f32>, Vec<f32>) {
        let (mut gx, mut gy) = (vec![0.0; pixels * 3], vec![0.0; pixels * 3]);
        for t in 0..self.out.len() {
            let (o, i) = (self.out[t] as usize, self.input[t] as usize);
            for c in 0..3 {
                gx[o * 3 + c] += self.wx[t] * img[i * 3 + c];
                gy[o * 3 + c] += self.wy[t] * img[i * 3 + c];
            }
        }
        (gx, gy)
    }
}

/// Per-camera weights, view bases and reference gradients of the target alone.
pub fn camera_terms(target: &GaussianCloud, cameras: &[Camera]) -> (Vec<CameraTerms>, SobelTaps) {
    let (terms, taps, _) = camera_terms_with_renders(target, cameras, None);
    (terms, taps)
}

/// [`camera_terms`] and each camera's exact render of the target alone (colour over black and
/// surface depth), from the same rasterizer pass: the metrics and the seam fit need both.
pub fn camera_terms_with_renders(
    target: &GaussianCloud,
    cameras: &[Camera],
    in_overlap: Option<&[bool]>,
) -> (Vec<CameraTerms>, SobelTaps, Vec<SideView>) {
    let (w, h) = (cameras[0].width as usize, cameras[0].height as usize);
    let taps = SobelTaps::new(w, h);
    let (terms, renders) = cameras
        .par_iter()
        .map(|cam| {
            let (side, pw) = render_side_with_weights(target, cam, in_overlap);
            let eye = cam.position();
            let k = target.coeffs_per_channel();
            let mut basis = vec![0.0f32; target.len() * k];
            basis.par_chunks_mut(k).enumerate().for_each(|(i, out)| {
                let d = (glam::Vec3::from(target.positions[i]) - eye).normalize_or_zero();
                out.copy_from_slice(&sh_basis(d)[..k]);
            });
            let mut pixel = Vec::with_capacity(pw.ids.len());
            for p in 0..pw.transmittance.len() {
                pixel.extend(std::iter::repeat_n(p as i64, (pw.offsets[p + 1] - pw.offsets[p]) as usize));
            }
            // The reference gradients come from the sparse render itself, so L_grad starts at 0.
            let render: Vec<f32> = pw.recompose(&pw.colors, [0.0; 3]).into_iter().flatten().collect();
            let (sobel_x0, sobel_y0) = taps.apply(&render, w * h);
            let tune_pixels =
                (0..w * h).filter(|&p| 1.0 - pw.transmittance[p] > TUNE_ALPHA).map(|p| p as i64).collect();
            let terms = CameraTerms {
                basis,
                pixel,
                gaussian: pw.ids.iter().map(|&i| i as i64).collect(),
                weight: pw.weights,
                sobel_x0,
                sobel_y0,
                tune_pixels,
            };
            (terms, side)
        })
        .unzip();
    (terms, taps, renders)
}

impl CameraTerms {
    /// This camera's sparse render of coefficients `sh` (`N × k × 3`), over black, `P × 3`.
    pub fn render(&self, sh: &[f32], k: usize, pixels: usize) -> Vec<f32> {
        let n = self.basis.len() / k.max(1);
        let colours: Vec<[f32; 3]> = (0..n)
            .map(|i| {
                let (s, b) = (&sh[i * k * 3..(i + 1) * k * 3], &self.basis[i * k..(i + 1) * k]);
                let mut c = [0.5f32; 3];
                for (j, bj) in b.iter().enumerate() {
                    for ch in 0..3 {
                        c[ch] += s[j * 3 + ch] * bj;
                    }
                }
                c.map(|x| x.max(0.0))
            })
            .collect();
        let mut out = vec![0f32; pixels * 3];
        for e in 0..self.pixel.len() {
            let (p, c) = (self.pixel[e] as usize, colours[self.gaussian[e] as usize]);
            for ch in 0..3 {
                out[p * 3 + ch] += self.weight[e] * c[ch];
            }
        }
        out
    }

    /// Makes L_grad's reference the Sobel gradients of coefficients `sh` (the optimizer's start
    /// when a seam transfer recoloured the target first).
    pub fn set_gradient_reference(&mut self, sh: &[f32], k: usize, taps: &SobelTaps, pixels: usize) {
        let render = self.render(sh, k, pixels);
        (self.sobel_x0, self.sobel_y0) = taps.apply(&render, pixels);
    }
}

/// Everything the optimizer needs, fixed before the first iteration.
pub struct Problem {
    pub sh: Vec<f32>,
    pub n: usize,
    pub k: usize,
    pub boundary: Vec<i64>,
    pub reference: Vec<f32>,
    pub interior: Vec<i64>,
    /// `interior.len() × driving_k` indices of target Gaussians (boundary members).
    pub driving: Vec<i64>,
    pub driving_k: usize,
    pub cameras: Vec<CameraTerms>,
    pub taps: SobelTaps,
    pub pixels: usize,
    pub palette: Vec<[f32; 3]>,
    /// L_tune's weight of a pixel pulled to each palette colour (its proportion, or 1).
    pub palette_weights: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
pub struct Weights {
    /// 1 in the paper.
    pub lambda_feature: f32,
    pub lambda_color: f32,
    pub lambda_grad: f32,
    pub lambda_tune: f32,
    pub tune_from: f32,
    pub iterations: usize,
    pub learning_rate: f32,
    /// `L_color` variant (`cloning = "changes"`): clone the driving points' colour *change*
    /// (current − start) instead of their colour, so the interior's own texture survives.
    pub clone_offsets: bool,
}

/// Losses of the last iteration, for progress and reports.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Losses {
    pub feature: f32,
    pub color: f32,
    pub grad: f32,
    pub tune: f32,
    pub total: f32,
}

impl Losses {
    /// The four losses and their weighted total (`L_tune` counts only once it is on).
    pub(crate) fn weighted(feature: f32, color: f32, grad: f32, tune: f32, w: &Weights, use_tune: bool) -> Self {
        let total = w.lambda_feature * feature
            + w.lambda_color * color
            + w.lambda_grad * grad
            + if use_tune { w.lambda_tune * tune } else { 0.0 };
        Losses { feature, color, grad, tune, total }
    }
}

pub(crate) fn floats<const D: usize>(v: &[f32], shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(v.to_vec(), shape), device)
}

pub(crate) fn ints(v: &[i64], device: &Device) -> Tensor<1, Int> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len()]), device)
}

pub(crate) fn scalar(t: Tensor<1>) -> f32 {
    t.into_data().try_to_vec::<f32>().map(|v| v[0]).unwrap_or(f32::NAN)
}

/// `Σ weight · colour[gaussian]` into each entry's pixel: the render as a gather and a
/// scatter-add (background black), `P × 3`.
pub fn sparse_render(
    colors: Tensor<2>,
    gaussian: &Tensor<1, Int>,
    weight: &Tensor<2>,
    pixel: &Tensor<1, Int>,
    pixels: usize,
) -> Tensor<2> {
    let device = colors.device();
    let contrib = colors.select(0, gaussian.clone()) * weight.clone();
    Tensor::zeros([pixels, 3], &device).select_assign(0, pixel.clone(), contrib, IndexingUpdateOp::Add)
}

/// Adam's moment decay rates and denominator guard.
const ADAM: (f32, f32, f32) = (0.9, 0.999, 1e-8);

/// How often the losses are read back (each read waits for the device).
pub(crate) const LOSS_EVERY: usize = 25;

/// Adam's state. On the CPU one fused pass over plain vectors replaces the dozen tensor
/// temporaries of the tensor form (the step is most of an iteration there); on a GPU the tensor
/// form stays on the device.
pub(crate) enum Adam {
    Fused { sh: Vec<f32>, m: Vec<f32>, v: Vec<f32> },
    Tensors { sh: Box<Tensor<3>>, m: Box<Tensor<3>>, v: Box<Tensor<3>> },
}

impl Adam {
    pub(crate) fn new(sh: &[f32], shape: [usize; 3], device: &Device, fused: bool) -> Self {
        if fused {
            Adam::Fused { sh: sh.to_vec(), m: vec![0.0; sh.len()], v: vec![0.0; sh.len()] }
        } else {
            Adam::Tensors {
                sh: Box::new(floats(sh, shape, device)),
                m: Box::new(Tensor::zeros(shape, device)),
                v: Box::new(Tensor::zeros(shape, device)),
            }
        }
    }

    pub(crate) fn params(&self, shape: [usize; 3], device: &Device) -> Tensor<3> {
        match self {
            Adam::Fused { sh, .. } => floats(sh, shape, device),
            Adam::Tensors { sh, .. } => (**sh).clone(),
        }
    }

    pub(crate) fn step(&mut self, g: Tensor<3>, t: i32, lr: f32) {
        let (b1, b2, eps) = ADAM;
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        match self {
            Adam::Fused { sh, m, v } => {
                let g = g.into_data().try_into_vec::<f32>().expect("f32 gradient");
                sh.par_chunks_mut(4096)
                    .zip(m.par_chunks_mut(4096))
                    .zip(v.par_chunks_mut(4096))
                    .zip(g.par_chunks(4096))
                    .for_each(|(((s, m), v), g)| {
                        for i in 0..s.len() {
                            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                            s[i] -= lr * (m[i] / c1) / ((v[i] / c2).sqrt() + eps);
                        }
                    });
            }
            Adam::Tensors { sh, m, v } => {
                **m = (**m).clone().mul_scalar(b1) + g.clone().mul_scalar(1.0 - b1);
                **v = (**v).clone().mul_scalar(b2) + g.powi_scalar(2).mul_scalar(1.0 - b2);
                let m_hat = (**m).clone().div_scalar(c1);
                let v_hat = (**v).clone().div_scalar(c2);
                **sh = (**sh).clone() - (m_hat / v_hat.sqrt().add_scalar(eps)).mul_scalar(lr);
            }
        }
    }

    /// A copy of the current parameters (a read-back on a GPU).
    pub(crate) fn current(&self) -> Vec<f32> {
        match self {
            Adam::Fused { sh, .. } => sh.clone(),
            Adam::Tensors { sh, .. } => (**sh).clone().into_data().try_into_vec::<f32>().expect("f32 tensor"),
        }
    }

    pub(crate) fn into_vec(self) -> Vec<f32> {
        match self {
            Adam::Fused { sh, .. } => sh,
            Adam::Tensors { sh, .. } => sh.into_data().try_into_vec::<f32>().expect("f32 tensor"),
        }
    }
}

/// Each row of `px` replaced by its nearest palette colour, and that colour's L_tune weight
/// (`P × 1`), on the device (no read-back).
pub(crate) fn nearest_in_palette(px: Tensor<2>, palette: &Tensor<2>, weights: &Tensor<2>) -> (Tensor<2>, Tensor<2>) {
    let [m, _] = px.dims();
    let [k, _] = palette.dims();
    let d: Tensor<3> = (px.unsqueeze_dim::<3>(1) - palette.clone().unsqueeze_dim::<3>(0)).powi_scalar(2);
    let nearest = d.sum_dim(2).reshape([m, k]).argmin(1).reshape([m]);
    (palette.clone().select(0, nearest.clone()), weights.clone().select(0, nearest))
}

/// Runs Adam for `w.iterations`, one camera per iteration in turn. `step` is called after each
/// iteration with its index, the latest losses read back (every [`LOSS_EVERY`] iterations and at
/// the end) and a function giving the current SH (for previews); returning `false` stops early. `fused_adam` does the Adam step on
/// the CPU (right for CPU backends, wrong for a GPU).
pub fn optimize(
    p: &Problem,
    w: &Weights,
    device: &Device,
    fused_adam: bool,
    mut step: impl FnMut(usize, Losses, &dyn Fn() -> Vec<f32>) -> bool,
) -> Vec<f32> {
    let (n, k) = (p.n, p.k);
    let shape = [n, k, 3];
    let boundary = ints(&p.boundary, device);
    let reference = floats(&p.reference, [p.boundary.len(), k, 3], device);
    let interior = ints(&p.interior, device);
    let driving = ints(&p.driving, device);
    let palette_colors: Vec<f32> = p.palette.iter().flatten().copied().collect();
    let palette = (!p.palette.is_empty()).then(|| floats(&palette_colors, [p.palette.len(), 3], device));
    let palette_weights = floats(&p.palette_weights, [p.palette_weights.len(), 1], device);
    let cams: Vec<_> = p
        .cameras
        .iter()
        .map(|c| {
            (
                floats(&c.basis, [n, k, 1], device),
                ints(&c.pixel, device),
                ints(&c.gaussian, device),
                floats(&c.weight, [c.weight.len(), 1], device),
                floats(&c.sobel_x0, [p.pixels, 3], device),
                floats(&c.sobel_y0, [p.pixels, 3], device),
                ints(&c.tune_pixels, device),
            )
        })
        .collect();
    let tap_out = ints(&p.taps.out, device);
    let tap_in = ints(&p.taps.input, device);
    let tap_wx = floats(&p.taps.wx, [p.taps.wx.len(), 1], device);
    let tap_wy = floats(&p.taps.wy, [p.taps.wy.len(), 1], device);
    let sh0: Tensor<3> = floats(&p.sh, shape, device);
    let mut adam = Adam::new(&p.sh, shape, device, fused_adam);
    let tune_start = (w.tune_from * w.iterations as f32) as usize;
    let mut losses = Losses::default();
    for it in 0..w.iterations {
        let param = adam.params(shape, device).autodiff().require_grad();
        let (basis, pixel, gaussian, weight, sx0, sy0, tune_px) = &cams[it % cams.len()];
        let colors: Tensor<2> =
            (param.clone() * basis.clone()).sum_dim(1).reshape([n, 3]).add_scalar(0.5).clamp_min(0.0);
        let feature = if p.boundary.is_empty() {
            Tensor::zeros([1], device)
        } else {
            (param.clone().select(0, boundary.clone()) - reference.clone()).powi_scalar(2).mean()
        };
        let color = if p.interior.is_empty() {
            Tensor::zeros([1], device)
        } else {
            // Only the offsets variant needs the original colours.
            let original = w.clone_offsets.then(|| -> Tensor<2> {
                (sh0.clone() * basis.clone()).sum_dim(1).reshape([n, 3]).add_scalar(0.5).clamp_min(0.0)
            });
            let source = match &original {
                Some(o) => colors.clone().detach() - o.clone(),
                None => colors.clone().detach(),
            };
            let mut targets: Tensor<2> = source
                .select(0, driving.clone())
                .reshape([p.interior.len(), p.driving_k, 3])
                .mean_dim(1)
                .reshape([p.interior.len(), 3]);
            if let Some(o) = original {
                targets = targets + o.select(0, interior.clone());
            }
            (colors.clone().select(0, interior.clone()) - targets).powi_scalar(2).mean()
        };
        let render = sparse_render(colors.clone(), gaussian, weight, pixel, p.pixels);
        let taps = render.clone().select(0, tap_in.clone());
        let gx: Tensor<2> = Tensor::zeros([p.pixels, 3], device).select_assign(
            0,
            tap_out.clone(),
            taps.clone() * tap_wx.clone(),
            IndexingUpdateOp::Add,
        );
        let gy: Tensor<2> = Tensor::zeros([p.pixels, 3], device).select_assign(
            0,
            tap_out.clone(),
            taps * tap_wy.clone(),
            IndexingUpdateOp::Add,
        );
        let grad = ((gx - sx0.clone()).powi_scalar(2) + (gy - sy0.clone()).powi_scalar(2)).mean();
        let use_tune = it >= tune_start && tune_px.dims()[0] > 0;
        let tune = match (&palette, use_tune) {
            (Some(pal), true) => {
                let px = render.clone().select(0, tune_px.clone());
                let (nearest, weight) = nearest_in_palette(px.clone().detach(), pal, &palette_weights);
                ((px - nearest).powi_scalar(2) * weight).mean()
            }
            _ => Tensor::zeros([1], device),
        };
        let total = feature.clone().mul_scalar(w.lambda_feature)
            + color.clone().mul_scalar(w.lambda_color)
            + grad.clone().mul_scalar(w.lambda_grad)
            + tune.clone().mul_scalar(if use_tune { w.lambda_tune } else { 0.0 });
        let grads = total.backward();
        let g = param.grad(&grads).expect("the SH require gradients");
        adam.step(g, (it + 1) as i32, w.learning_rate);
        if it % LOSS_EVERY == 0 || it + 1 == w.iterations {
            losses = Losses {
                feature: scalar(feature.detach()),
                color: scalar(color.detach()),
                grad: scalar(grad.detach()),
                tune: scalar(tune.detach()),
                total: scalar(total.detach()),
            };
            tracing::debug!("iteration {it}: {losses:?}");
        }
        if !step(it, losses, &|| adam.current()) {
            break;
        }
    }
    adam.into_vec()
}
