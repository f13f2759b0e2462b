//! Per-pixel blend weights for the optimizer (docs/ARCHITECTURE.md §9): with geometry
//! frozen, a render is linear in the Gaussians' colours, `pixel = Σ w_i·c_i + T·bg` with
//! `w_i = α_i·T_i`. Computed once per camera, every later render is a sparse gather.

use crate::RenderError;
use crate::camera::Camera;
use crate::image::Image;
use crate::preprocess::TILE;
use crate::raster::{TileSplat, bin, composite_splats, gather_tile};
use crate::scene::RenderScene;
use rayon::prelude::*;

/// Compressed sparse rows: pixel `p`'s entries are `ids[offsets[p]..offsets[p+1]]` with the
/// matching `weights`. Ids are global Gaussian indices (layer offset + index in layer).
#[derive(Debug, Clone, PartialEq)]
pub struct PixelWeights {
    pub width: u32,
    pub height: u32,
    pub offsets: Vec<u32>,
    pub ids: Vec<u32>,
    pub weights: Vec<f32>,
    /// Final transmittance per pixel.
    pub transmittance: Vec<f32>,
    /// The view-dependent colour each Gaussian had from this camera, by global id (zero for
    /// Gaussians that were culled), so `Σ w·colour + T·bg` reproduces the render.
    pub colors: Vec<[f32; 3]>,
}

impl PixelWeights {
    /// Pixel `p`'s total weight and the part of it from the Gaussians that `flags` marks.
    pub fn weight_split(&self, p: usize, flags: &[bool]) -> (f32, f32) {
        let (mut all, mut marked) = (0f32, 0f32);
        for e in self.offsets[p] as usize..self.offsets[p + 1] as usize {
            all += self.weights[e];
            if flags[self.ids[e] as usize] {
                marked += self.weights[e];
            }
        }
        (all, marked)
    }

    /// `Σ w·colour + T·bg` for every pixel, RGB.
    pub fn recompose(&self, colors: &[[f32; 3]], bg: [f32; 3]) -> Vec<[f32; 3]> {
        (0..self.transmittance.len())
            .map(|p| {
                let t = self.transmittance[p];
                let mut c = [t * bg[0], t * bg[1], t * bg[2]];
                for e in self.offsets[p] as usize..self.offsets[p + 1] as usize {
                    let col = colors[self.ids[e] as usize];
                    for k in 0..3 {
                        c[k] += self.weights[e] * col[k];
                    }
                }
                c
            })
            .collect()
    }

    /// The surface depth of each pixel, as [`crate::depth_cpu`] defines it (the depth at which
    /// the accumulated weight first reaches one half; infinity where it never does), from each
    /// Gaussian's view-space depth `depth_of` by global id. Entries are in compositing order.
    pub fn median_depth(&self, depth_of: &[f32]) -> Vec<f32> {
        (0..self.transmittance.len())
            .map(|p| {
                let mut acc = 0.0f32;
                for e in self.offsets[p] as usize..self.offsets[p + 1] as usize {
                    acc += self.weights[e];
                    if acc >= 0.5 {
                        return depth_of[self.ids[e] as usize];
                    }
                }
                f32::INFINITY
            })
            .collect()
    }
}

/// Each Gaussian's view-space depth (z) from `cam`, by global id over the scene's layers.
pub fn view_depths(scene: &RenderScene, cam: &Camera) -> Vec<f32> {
    let mut out = Vec::with_capacity(scene.len());
    for layer in &scene.layers {
        let t = layer.transform;
        out.extend(
            layer.cloud.positions.iter().map(|p| cam.view.transform_point3(t.transform_point(glam::Vec3::from(*p))).z),
        );
    }
    out
}

/// Computes each pixel's weights on the CPU. Weights below `min_weight` are dropped (their
/// Gaussians still attenuate what lies behind them).
pub fn pixel_weights_cpu(
    scene: &RenderScene,
    cam: &Camera,
    sh_degree: u8,
    min_weight: f32,
) -> Result<PixelWeights, RenderError> {
    render_with_weights_cpu(scene, cam, sh_degree, min_weight).map(|(w, _)| w)
}

/// One band of tile rows: its entries' ids and weights, and per pixel the entry count and the
/// final transmittance.
type Band = (Vec<u32>, Vec<f32>, Vec<(u32, f32)>);

/// [`pixel_weights_cpu`] and, from the same pass, the exact render over black (all weights,
/// as [`crate::render_cpu`] draws it): the optimizer needs both for every camera.
pub fn render_with_weights_cpu(
    scene: &RenderScene,
    cam: &Camera,
    sh_degree: u8,
    min_weight: f32,
) -> Result<(PixelWeights, Image), RenderError> {
    cam.validate()?;
    let binned = bin(scene, cam, sh_degree);
    let (w, h) = (cam.width as usize, cam.height as usize);
    let mut image = Image::new(cam.width, cam.height);
    let rows_per_band = TILE as usize;
    // One band of tile rows per task, its entries in one vector: no allocation per pixel.
    let bands: Vec<Band> = image
        .rgba
        .par_chunks_mut(w * rows_per_band)
        .enumerate()
        .map(|(ty, rows)| {
            let (mut ids, mut weights, mut counts) = (Vec::new(), Vec::new(), Vec::with_capacity(rows.len()));
            // The band's tile lists gathered first, so pixels still go in raster order.
            let tiles: Vec<Vec<TileSplat>> = (0..binned.tiles_x as usize)
                .map(|tx| {
                    let mut list = Vec::new();
                    gather_tile(&binned, ty * binned.tiles_x as usize + tx, &mut list);
                    list
                })
                .collect();
            for (r, row) in rows.chunks_mut(w).enumerate() {
                let y = ty * rows_per_band + r;
                for (x, out) in row.iter_mut().enumerate() {
                    let list = &tiles[x / TILE as usize];
                    let before = ids.len();
                    let (c, t) = composite_splats(list, x as f32 + 0.5, y as f32 + 0.5, |g, wt| {
                        if wt >= min_weight {
                            ids.push(binned.projected[g].id);
                            weights.push(wt);
                        }
                    });
                    *out = [c[0], c[1], c[2], 1.0 - t];
                    counts.push(((ids.len() - before) as u32, t));
                }
            }
            (ids, weights, counts)
        })
        .collect();
    let total: usize = bands.iter().map(|b| b.0.len()).sum();
    let mut offsets = Vec::with_capacity(w * h + 1);
    offsets.push(0u32);
    let (mut ids, mut weights) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let mut transmittance = Vec::with_capacity(w * h);
    for (band_ids, band_weights, counts) in bands {
        for (c, t) in counts {
            offsets.push(offsets.last().copied().unwrap_or(0) + c);
            transmittance.push(t);
        }
        ids.extend(band_ids);
        weights.extend(band_weights);
    }
    let mut colors = vec![[0.0; 3]; scene.len()];
    for p in &binned.projected {
        colors[p.id as usize] = p.color;
    }
    let weights = PixelWeights { width: cam.width, height: cam.height, offsets, ids, weights, transmittance, colors };
    Ok((weights, image))
}
