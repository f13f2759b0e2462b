//! Tile binning and front-to-back compositing on the CPU: the reference the WGSL kernels are
//! tested against, and the fallback when no GPU adapter exists.

use crate::RenderError;
use crate::camera::Camera;
use crate::image::Image;
use crate::preprocess::{ALPHA_MAX, ALPHA_MIN, Projected, T_MIN, TILE, preprocess};
use crate::scene::RenderScene;
use rayon::prelude::*;

#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// Composited under the splats.
    pub background: [f32; 3],
    /// Highest SH degree evaluated (lower bands only when below the data's degree).
    pub sh_degree: u8,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { background: [0.0; 3], sh_degree: 3 }
    }
}

/// Projected Gaussians binned per tile, each tile's list front to back.
pub struct Binned {
    pub projected: Vec<Projected>,
    pub tiles_x: u32,
    pub tiles_y: u32,
    /// `tile_ranges[t]..tile_ranges[t+1]` indexes `tile_items` for tile `t`.
    pub tile_ranges: Vec<u32>,
    /// Indices into `projected`.
    pub tile_items: Vec<u32>,
}

/// One depth order over all layers together (ties broken by global index, so the result is
/// deterministic), then a counting sort by tile that keeps that order within each tile.
pub fn bin(scene: &RenderScene, cam: &Camera, sh_degree: u8) -> Binned {
    let mut projected = preprocess(scene, cam, sh_degree);
    projected.par_sort_unstable_by(|a, b| a.depth.total_cmp(&b.depth).then(a.id.cmp(&b.id)));
    let tiles_x = cam.width.div_ceil(TILE);
    let tiles_y = cam.height.div_ceil(TILE);
    let n_tiles = (tiles_x * tiles_y) as usize;
    let mut counts = vec![0u32; n_tiles + 1];
    for p in &projected {
        for ty in p.tiles[1]..p.tiles[3] {
            for tx in p.tiles[0]..p.tiles[2] {
                counts[(ty * tiles_x + tx) as usize + 1] += 1;
            }
        }
    }
    for t in 0..n_tiles {
        counts[t + 1] += counts[t];
    }
    let mut cursor = counts.clone();
    let mut items = vec![0u32; counts[n_tiles] as usize];
    for (g, p) in projected.iter().enumerate() {
        for ty in p.tiles[1]..p.tiles[3] {
            for tx in p.tiles[0]..p.tiles[2] {
                let t = (ty * tiles_x + tx) as usize;
                items[cursor[t] as usize] = g as u32;
                cursor[t] += 1;
            }
        }
    }
    Binned { projected, tiles_x, tiles_y, tile_ranges: counts, tile_items: items }
}

/// Front-to-back compositing of one pixel over a depth-ordered list. Calls `visit(index into
/// projected, weight α·T)` for each contributing Gaussian; returns the colour sum and the final
/// transmittance.
#[inline]
pub fn composite_pixel(
    projected: &[Projected],
    list: &[u32],
    px: f32,
    py: f32,
    mut visit: impl FnMut(usize, f32),
) -> ([f32; 3], f32) {
    let mut t = 1.0f32;
    let mut c = [0f32; 3];
    for &g in list {
        let p = &projected[g as usize];
        let dx = p.mean[0] - px;
        let dy = p.mean[1] - py;
        let sigma = 0.5 * (p.conic[0] * dx * dx + p.conic[2] * dy * dy) + p.conic[1] * dx * dy;
        if !(0.0..=p.sigma_cutoff).contains(&sigma) {
            continue;
        }
        let alpha = (p.opacity * (-sigma).exp()).min(ALPHA_MAX);
        if alpha < ALPHA_MIN {
            continue;
        }
        let next = t * (1.0 - alpha);
        if next <= T_MIN {
            break;
        }
        let w = alpha * t;
        for (ck, pk) in c.iter_mut().zip(p.color) {
            *ck += pk * w;
        }
        visit(g as usize, w);
        t = next;
    }
    (c, t)
}

/// The surface depth of each pixel (row-major): the view-space depth of the Gaussian at which
/// the accumulated opacity first reaches one half (the median depth along the ray), or infinity
/// where it never does. The editor's "visible surface only" selections test against it.
pub fn depth_cpu(scene: &RenderScene, cam: &Camera, sh_degree: u8) -> Result<Vec<f32>, RenderError> {
    cam.validate()?;
    let binned = bin(scene, cam, sh_degree);
    let w = cam.width as usize;
    let mut depth = vec![f32::INFINITY; w * cam.height as usize];
    depth.par_chunks_mut(w * TILE as usize).enumerate().for_each(|(ty, rows)| {
        for (r, row) in rows.chunks_mut(w).enumerate() {
            let y = ty * TILE as usize + r;
            for (x, out) in row.iter_mut().enumerate() {
                let tile = ty * binned.tiles_x as usize + x / TILE as usize;
                let list = &binned.tile_items[binned.tile_ranges[tile] as usize..binned.tile_ranges[tile + 1] as usize];
                let mut acc = 0.0f32;
                composite_pixel(&binned.projected, list, x as f32 + 0.5, y as f32 + 0.5, |g, wt| {
                    if acc < 0.5 && acc + wt >= 0.5 {
                        *out = binned.projected[g].depth;
                    }
                    acc += wt;
                });
            }
        }
    });
    Ok(depth)
}

/// Renders the scene on the CPU (all cores).
pub fn render_cpu(scene: &RenderScene, cam: &Camera, opts: &RenderOptions) -> Result<Image, RenderError> {
    cam.validate()?;
    let binned = bin(scene, cam, opts.sh_degree);
    let mut image = Image::new(cam.width, cam.height);
    let w = cam.width as usize;
    let bg = opts.background;
    image.rgba.par_chunks_mut(w * TILE as usize).enumerate().for_each(|(ty, rows)| {
        for (r, row) in rows.chunks_mut(w).enumerate() {
            let y = ty * TILE as usize + r;
            for (x, out) in row.iter_mut().enumerate() {
                let tile = ty * binned.tiles_x as usize + x / TILE as usize;
                let list = &binned.tile_items[binned.tile_ranges[tile] as usize..binned.tile_ranges[tile + 1] as usize];
                let (c, t) = composite_pixel(&binned.projected, list, x as f32 + 0.5, y as f32 + 0.5, |_, _| {});
                *out = [c[0] + t * bg[0], c[1] + t * bg[1], c[2] + t * bg[2], 1.0 - t];
            }
        }
    });
    Ok(image)
}
