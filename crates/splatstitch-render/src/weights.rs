//! Per-pixel blend weights for the optimizer (DESIGN §5, "Making it fast"): with geometry
//! frozen, a render is linear in the Gaussians' colours, `pixel = Σ w_i·c_i + T·bg` with
//! `w_i = α_i·T_i`. Computed once per camera, every later render is a sparse gather.

use crate::RenderError;
use crate::camera::Camera;
use crate::raster::{bin, composite_pixel};
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
}

/// Computes each pixel's weights on the CPU. Weights below `min_weight` are dropped (their
/// Gaussians still attenuate what lies behind them).
pub fn pixel_weights_cpu(
    scene: &RenderScene,
    cam: &Camera,
    sh_degree: u8,
    min_weight: f32,
) -> Result<PixelWeights, RenderError> {
    cam.validate()?;
    let binned = bin(scene, cam, sh_degree);
    let (w, h) = (cam.width as usize, cam.height as usize);
    let per_pixel: Vec<(Vec<(u32, f32)>, f32)> = (0..w * h)
        .into_par_iter()
        .map(|p| {
            let (x, y) = (p % w, p / w);
            let tile =
                (y / crate::preprocess::TILE as usize) * binned.tiles_x as usize + x / crate::preprocess::TILE as usize;
            let list = &binned.tile_items[binned.tile_ranges[tile] as usize..binned.tile_ranges[tile + 1] as usize];
            let mut entries = Vec::new();
            let (_, t) = composite_pixel(&binned.projected, list, x as f32 + 0.5, y as f32 + 0.5, |g, wt| {
                if wt >= min_weight {
                    entries.push((binned.projected[g].id, wt));
                }
            });
            (entries, t)
        })
        .collect();
    let mut offsets = Vec::with_capacity(w * h + 1);
    offsets.push(0u32);
    let total: usize = per_pixel.iter().map(|p| p.0.len()).sum();
    let (mut ids, mut weights) = (Vec::with_capacity(total), Vec::with_capacity(total));
    let mut transmittance = Vec::with_capacity(w * h);
    for (entries, t) in per_pixel {
        for (id, wt) in entries {
            ids.push(id);
            weights.push(wt);
        }
        offsets.push(ids.len() as u32);
        transmittance.push(t);
    }
    let mut colors = vec![[0.0; 3]; scene.len()];
    for p in &binned.projected {
        colors[p.id as usize] = p.color;
    }
    Ok(PixelWeights { width: cam.width, height: cam.height, offsets, ids, weights, transmittance, colors })
}
