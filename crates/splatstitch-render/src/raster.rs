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
    /// In scene order (layer by layer, index within the layer), the culled ones left out.
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
    let projected = preprocess(scene, cam, sh_degree);
    // Sorting 8-byte keys instead of the 64-byte Gaussians: the depth's bits in total order
    // above the position, which grows with the global index, so ties go by index as before.
    let mut order: Vec<u64> =
        projected.par_iter().enumerate().map(|(i, p)| ((depth_key(p.depth) as u64) << 32) | i as u64).collect();
    order.par_sort_unstable();
    let tiles_x = cam.width.div_ceil(TILE);
    let tiles_y = cam.height.div_ceil(TILE);
    let n_tiles = (tiles_x * tiles_y) as usize;
    let tiles_of = |key: u64| {
        let p = &projected[key as u32 as usize];
        (p.tiles[1]..p.tiles[3])
            .flat_map(move |ty| (p.tiles[0]..p.tiles[2]).map(move |tx| (ty * tiles_x + tx) as usize))
    };
    // A counting sort in parallel: each stretch of the depth order counts its entries per tile,
    // and writes them from where the stretches before it in that tile end.
    let per = order.len().div_ceil(rayon::current_num_threads().max(1)).max(1);
    let stretch_counts: Vec<Vec<u32>> = order
        .par_chunks(per)
        .map(|keys| {
            let mut c = vec![0u32; n_tiles];
            keys.iter().for_each(|&k| tiles_of(k).for_each(|t| c[t] += 1));
            c
        })
        .collect();
    let mut counts = vec![0u32; n_tiles + 1];
    let mut starts = vec![vec![0u32; n_tiles]; stretch_counts.len()];
    for t in 0..n_tiles {
        let mut at = counts[t];
        for (start, c) in starts.iter_mut().zip(&stretch_counts) {
            start[t] = at;
            at += c[t];
        }
        counts[t + 1] = at;
    }
    let items: Vec<std::sync::atomic::AtomicU32> =
        (0..counts[n_tiles]).map(|_| std::sync::atomic::AtomicU32::new(0)).collect();
    order.par_chunks(per).zip(starts).for_each(|(keys, mut cursor)| {
        for &k in keys {
            for t in tiles_of(k) {
                items[cursor[t] as usize].store(k as u32, std::sync::atomic::Ordering::Relaxed);
                cursor[t] += 1;
            }
        }
    });
    let items: Vec<u32> = items.into_iter().map(std::sync::atomic::AtomicU32::into_inner).collect();
    Binned { projected, tiles_x, tiles_y, tile_ranges: counts, tile_items: items }
}

/// `f32::total_cmp`'s order as unsigned integers.
fn depth_key(depth: f32) -> u32 {
    let b = depth.to_bits();
    if b >> 31 == 1 { !b } else { b | 0x8000_0000 }
}

/// One Gaussian of a tile's list as compositing reads it, gathered next to the others: every
/// pixel of the tile walks the list, so it is read from cache instead of from all over the
/// frame's projected Gaussians.
#[derive(Debug, Clone, Copy)]
pub struct TileSplat {
    pub mean: [f32; 2],
    pub conic: [f32; 3],
    pub opacity: f32,
    pub sigma_cutoff: f32,
    pub color: [f32; 3],
    /// Index into the frame's projected Gaussians.
    pub index: u32,
}

/// Tile `tile`'s Gaussians, front to back, into `out`.
pub fn gather_tile(binned: &Binned, tile: usize, out: &mut Vec<TileSplat>) {
    let list = &binned.tile_items[binned.tile_ranges[tile] as usize..binned.tile_ranges[tile + 1] as usize];
    out.clear();
    out.extend(list.iter().map(|&g| {
        let p = &binned.projected[g as usize];
        TileSplat {
            mean: p.mean,
            conic: p.conic,
            opacity: p.opacity,
            sigma_cutoff: p.sigma_cutoff,
            color: p.color,
            index: g,
        }
    }));
}

/// Front-to-back compositing of one pixel over a tile's gathered, depth-ordered list. Calls
/// `visit(index into projected, weight α·T)` for each contributing Gaussian; returns the colour
/// sum and the final transmittance.
#[inline]
pub fn composite_splats(splats: &[TileSplat], px: f32, py: f32, mut visit: impl FnMut(usize, f32)) -> ([f32; 3], f32) {
    let mut t = 1.0f32;
    let mut c = [0f32; 3];
    for p in splats {
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
        visit(p.index as usize, w);
        t = next;
    }
    (c, t)
}

/// Calls `pixel(x, y, tile's gathered list, output)` for every pixel of an image of `width`
/// columns stored row-major in `out`, one band of tile rows per task.
pub fn for_each_pixel<T: Send>(
    binned: &Binned,
    width: usize,
    out: &mut [T],
    pixel: impl Fn(usize, usize, &[TileSplat], &mut T) + Sync,
) {
    let tile = TILE as usize;
    out.par_chunks_mut(width * tile).enumerate().for_each_init(Vec::new, |splats, (ty, rows)| {
        for tx in 0..binned.tiles_x as usize {
            gather_tile(binned, ty * binned.tiles_x as usize + tx, splats);
            let x_end = ((tx + 1) * tile).min(width);
            for (r, row) in rows.chunks_mut(width).enumerate() {
                let y = ty * tile + r;
                for (x, out) in row.iter_mut().enumerate().take(x_end).skip(tx * tile) {
                    pixel(x, y, splats, out);
                }
            }
        }
    });
}

/// The surface depth of each pixel (row-major): the view-space depth of the Gaussian at which
/// the accumulated opacity first reaches one half (the median depth along the ray), or infinity
/// where it never does. The editor's "visible surface only" selections test against it.
pub fn depth_cpu(scene: &RenderScene, cam: &Camera, sh_degree: u8) -> Result<Vec<f32>, RenderError> {
    cam.validate()?;
    let binned = bin(scene, cam, sh_degree);
    let w = cam.width as usize;
    let mut depth = vec![f32::INFINITY; w * cam.height as usize];
    for_each_pixel(&binned, w, &mut depth, |x, y, splats, out| {
        let mut acc = 0.0f32;
        composite_splats(splats, x as f32 + 0.5, y as f32 + 0.5, |g, wt| {
            if acc < 0.5 && acc + wt >= 0.5 {
                *out = binned.projected[g].depth;
            }
            acc += wt;
        });
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
    for_each_pixel(&binned, w, &mut image.rgba, |x, y, splats, out| {
        let (c, t) = composite_splats(splats, x as f32 + 0.5, y as f32 + 0.5, |_, _| {});
        *out = [c[0] + t * bg[0], c[1] + t * bg[1], c[2] + t * bg[2], 1.0 - t];
    });
    Ok(image)
}
