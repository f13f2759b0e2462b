//! Validation views: cameras the optimizer never sees, which score each checkpoint so that the
//! stitch returns its best iterate, and the input's colours when nothing beats them.
//!
//! A checkpoint's score is the seam error there plus `far_weight` times how much the target
//! changed, since the start of the optimization, where it lies far from the seam: a change
//! there is not what the seam asks for, and no view can check it against anything. The seam
//! error here counts only pixels where both layers show the same surface (both nearly opaque,
//! surface depths agreeing, as the seam fit's samples), averaged over small blocks first so
//! that what it measures is the systematic difference, not the noise of single pixels.
//! Geometry is frozen, so each view's render is a sparse product with weights computed once, as
//! for the optimizer.

use crate::seam_fit::samples::{CELL_PIXELS, same_surface};
use crate::views::{SideView, render_side_with_weights, unpremultiplied};
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_render::preprocess::sh_basis;
use splatstitch_render::{Camera, PixelWeights};

/// Coverage above which a pixel shows a side (as the metrics count it).
const COVERED: f32 = 0.5;
/// Fewer shared pixels than this over all views make no seam error.
const MIN_SHARED_PIXELS: usize = 64;
/// A pixel is "far" when this share of its weight comes from Gaussians far from the seam.
const FAR_SHARE: f32 = 0.9;

/// One validation camera.
struct View {
    weights: PixelWeights,
    /// SH basis of every target Gaussian's direction from this camera, `N × K`.
    basis: Vec<f32>,
    /// Pixels where both layers show the same surface: pixel, block, the source's colour there.
    /// Where they share none, pixels both merely cover (one in front of the other), each its
    /// own block: the seam error of the metrics.
    shared: Vec<(u32, u32, [f32; 3])>,
    /// Pixels the target covers that are far from the seam.
    far: Vec<bool>,
}

/// A checkpoint's score (lower is better).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Score {
    /// Mean absolute RGB difference between source and target where both show the same
    /// surface (block means first).
    pub seam_error: f32,
    /// Mean absolute RGB change of the target, far from the seam, since the reference.
    pub far_change: f32,
    /// `seam_error + far_weight · far_change`.
    pub total: f32,
}

/// One point of the validation curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CurvePoint {
    /// Iterations done (0: the optimizer's start).
    pub iteration: usize,
    pub score: Score,
}

pub struct Validation {
    views: Vec<View>,
    k: usize,
    far_weight: f32,
    /// Each view's render of the reference colours (the optimizer's start).
    reference: Vec<Vec<[f32; 3]>>,
    /// The source's renders from the validation cameras.
    pub source_views: Vec<SideView>,
    pub cameras: Vec<Camera>,
}

impl Validation {
    /// `far[i]`: target Gaussian `i` lies far from the seam; `target_in_overlap[i]`: it lies
    /// near the source. `source_views` are the source's renders from `cameras` (with their
    /// overlap shares); `size` is L.
    pub fn new(
        target: &GaussianCloud,
        target_in_overlap: &[bool],
        cameras: Vec<Camera>,
        source_views: Vec<SideView>,
        far: &[bool],
        far_weight: f32,
        size: f32,
    ) -> Validation {
        let k = target.coeffs_per_channel();
        let sides: Vec<(SideView, PixelWeights)> =
            cameras.par_iter().map(|cam| render_side_with_weights(target, cam, Some(target_in_overlap))).collect();
        // Pixels where both show the same surface, made by the overlap's Gaussians; where too
        // few over all views, any showing the same surface; else the pixels both merely cover
        // (the metrics' seam), each its own block.
        let shared_where = |by_overlap: bool| -> Vec<Vec<(u32, u32, [f32; 3])>> {
            cameras
                .iter()
                .zip(&source_views)
                .zip(&sides)
                .map(|((cam, s), (t, _))| {
                    let w = cam.width as usize;
                    let cell = (CELL_PIXELS * w / 256).max(1);
                    let cells_x = w.div_ceil(cell);
                    (0..s.image.rgba.len())
                        .filter(|&p| same_surface(s, t, p, size, by_overlap))
                        .map(|p| {
                            (
                                p as u32,
                                ((p / w / cell) * cells_x + (p % w) / cell) as u32,
                                unpremultiplied(s.image.rgba[p]),
                            )
                        })
                        .collect()
                })
                .collect()
        };
        let enough = |v: &Vec<Vec<(u32, u32, [f32; 3])>>| v.iter().map(Vec::len).sum::<usize>() >= MIN_SHARED_PIXELS;
        let mut shared = shared_where(true);
        if !enough(&shared) {
            shared = shared_where(false);
        }
        if !enough(&shared) {
            for ((list, s), (t, _)) in shared.iter_mut().zip(&source_views).zip(&sides) {
                let n = s.image.rgba.len() as u32;
                *list = (0..n)
                    .filter(|&p| s.image.rgba[p as usize][3] > COVERED && t.image.rgba[p as usize][3] > COVERED)
                    .map(|p| (p, n + p, unpremultiplied(s.image.rgba[p as usize])))
                    .collect();
            }
        }
        let views = cameras
            .par_iter()
            .zip(sides)
            .zip(shared)
            .map(|((cam, (side, weights)), shared)| {
                let eye = cam.position();
                let mut basis = vec![0f32; target.len() * k];
                basis.par_chunks_mut(k).enumerate().for_each(|(i, out)| {
                    let d = (glam::Vec3::from(target.positions[i]) - eye).normalize_or_zero();
                    out.copy_from_slice(&sh_basis(d)[..k]);
                });
                let covered: Vec<bool> = side.image.rgba.iter().map(|p| p[3] > COVERED).collect();
                let far = (0..covered.len())
                    .map(|p| {
                        let (all, from_far) = weights.weight_split(p, far);
                        covered[p] && all > 0.0 && from_far >= FAR_SHARE * all
                    })
                    .collect();
                View { weights, basis, shared, far }
            })
            .collect();
        let mut v = Validation { views, k, far_weight, reference: Vec::new(), source_views, cameras };
        v.reference = v.renders(&target.sh);
        v
    }

    /// The optimizer's start, against which far changes are measured.
    pub fn set_reference(&mut self, sh: &[f32]) {
        self.reference = self.renders(sh);
    }

    /// Each view's render of the target with coefficients `sh` (colour where covered).
    fn renders(&self, sh: &[f32]) -> Vec<Vec<[f32; 3]>> {
        let k = self.k;
        self.views
            .par_iter()
            .map(|v| {
                let n = v.basis.len() / k.max(1);
                let colours: Vec<[f32; 3]> = (0..n)
                    .map(|i| {
                        let (s, b) = (&sh[i * k * 3..(i + 1) * k * 3], &v.basis[i * k..(i + 1) * k]);
                        let mut c = [0.5f32; 3];
                        for (j, bj) in b.iter().enumerate() {
                            for ch in 0..3 {
                                c[ch] += s[j * 3 + ch] * bj;
                            }
                        }
                        c.map(|x| x.max(0.0))
                    })
                    .collect();
                let w = &v.weights;
                (0..w.transmittance.len())
                    .map(|p| {
                        let mut acc = [0f32; 3];
                        for e in w.offsets[p] as usize..w.offsets[p + 1] as usize {
                            let c = colours[w.ids[e] as usize];
                            for ch in 0..3 {
                                acc[ch] += w.weights[e] * c[ch];
                            }
                        }
                        let a = (1.0 - w.transmittance[p]).max(1e-6);
                        acc.map(|x| x / a)
                    })
                    .collect()
            })
            .collect()
    }

    /// The score of coefficients `sh`.
    pub fn score(&self, sh: &[f32]) -> Score {
        let renders = self.renders(sh);
        let l1 = |a: [f32; 3], b: [f32; 3]| ((a[0] - b[0]).abs() + (a[1] - b[1]).abs() + (a[2] - b[2]).abs()) / 3.0;
        let (mut seam, mut seam_n, mut far, mut far_n) = (0f64, 0usize, 0f64, 0usize);
        for ((v, r), reference) in self.views.iter().zip(&renders).zip(&self.reference) {
            let mut blocks: std::collections::HashMap<u32, ([f64; 3], usize)> = std::collections::HashMap::new();
            for &(p, block, s) in &v.shared {
                let e = blocks.entry(block).or_default();
                for c in 0..3 {
                    e.0[c] += (r[p as usize][c] - s[c]) as f64;
                }
                e.1 += 1;
            }
            for (d, n) in blocks.into_values() {
                seam += (d[0].abs() + d[1].abs() + d[2].abs()) / 3.0;
                seam_n += n;
            }
            for p in 0..r.len() {
                if v.far[p] {
                    far += l1(reference[p], r[p]) as f64;
                    far_n += 1;
                }
            }
        }
        let seam_error = if seam_n > 0 { (seam / seam_n as f64) as f32 } else { 0.0 };
        let far_change = if far_n > 0 { (far / far_n as f64) as f32 } else { 0.0 };
        Score { seam_error, far_change, total: seam_error + self.far_weight * far_change }
    }

    /// Whether the validation views see the two layers meet at all (else their seam error
    /// says nothing).
    pub fn sees_overlap(&self) -> bool {
        self.views.iter().map(|v| v.shared.len()).sum::<usize>() >= MIN_SHARED_PIXELS
    }
}
