//! Where the two layers show the same surface, and what colour each gives it there: the
//! correspondences a seam fit learns from.
//!
//! In image space: pixels that the source alone and the target alone both cover nearly fully,
//! at agreeing surface depths, from the job's cameras. A render averages many Gaussians per
//! pixel, so these colours are far less noisy than single Gaussians'. In point space: target
//! centres where both layers' radiance fields are dense, with each field's colour there.

use super::Pair;
use crate::field::{dc_colors, field_at};
use crate::views::SideView;
use glam::{Vec3, Vec4};
use splatstitch_core::GaussianCloud;
use splatstitch_render::Camera;

/// Coverage both sides must reach at a pixel for it to count.
pub const MIN_ALPHA: f32 = 0.8;
/// Surface depths agree within this fraction of L.
pub const DEPTH_TOLERANCE: f32 = 0.01;
/// Size of the spatial blocks that cross-validation holds out together, as a fraction of L.
pub const BLOCK: f32 = 1.0 / 12.0;
/// Image blocks (pixels square, at 256 px; scaled with the resolution) whose samples share a
/// residual cell.
pub const CELL_PIXELS: usize = 4;
/// Voxels (fraction of L) whose point samples share a residual cell.
pub const CELL_VOXEL: f32 = 1.0 / 200.0;
/// At most this many pairs are kept (evenly thinned).
pub const MAX_PAIRS: usize = 120_000;

/// Both sides' Gaussians in the overlap must make this share of a pixel: elsewhere a pixel
/// mixes in what lies behind or beside the shared surface on each side, which differs between
/// the sides for reasons other than their colour difference.
pub const MIN_OVERLAP_SHARE: f32 = 0.8;

/// Whether pixel `p` shows the same surface in both sides' renders: both nearly opaque at
/// agreeing depths, and with `by_overlap`, made mostly by Gaussians of the overlap (where the
/// views carry the shares).
pub fn same_surface(s: &SideView, t: &SideView, p: usize, size: f32, by_overlap: bool) -> bool {
    let (ps, pt, ds, dt) = (s.image.rgba[p], t.image.rgba[p], s.depth[p], t.depth[p]);
    let share = |v: &SideView| !by_overlap || v.overlap_share.get(p).is_none_or(|x| *x >= MIN_OVERLAP_SHARE);
    ps[3] >= MIN_ALPHA
        && pt[3] >= MIN_ALPHA
        && ds.is_finite()
        && dt.is_finite()
        && (ds - dt).abs() <= DEPTH_TOLERANCE * size
        && share(s)
        && share(t)
}

/// The spatial block of a world point: cross-validation folds hold out whole blocks.
pub fn block_of(p: Vec3, size: f32) -> u32 {
    let q = (p / size.max(1e-12)).floor();
    let (x, y, z) = (q.x as i64 as u64, q.y as i64 as u64, q.z as i64 as u64);
    let h = x.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ y.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ z.wrapping_mul(0x1656_67B1_9E37_79F9);
    (h ^ (h >> 29)) as u32
}

/// Corresponding pixels of the source's and the target's renders, averaged over blocks of
/// `block × block` pixels (blocks where at least half the pixels correspond): a render's pixel
/// still carries the noise of the few Gaussians it shows, and the mean over a block keeps a
/// colour map's relation while the noise averages out. `diagonal` is L. Pixels made by the
/// overlap's Gaussians on both sides are taken when there are enough of them, else every pixel
/// showing the same surface (a small or sparse overlap).
pub fn image_pairs(
    cameras: &[Camera],
    source: &[SideView],
    target: &[SideView],
    diagonal: f32,
    block: u32,
) -> Vec<Pair> {
    let pairs = image_pairs_where(cameras, source, target, diagonal, block, true);
    if pairs.len() >= super::MIN_PAIRS {
        return pairs;
    }
    image_pairs_where(cameras, source, target, diagonal, block, false)
}

fn image_pairs_where(
    cameras: &[Camera],
    source: &[SideView],
    target: &[SideView],
    diagonal: f32,
    block: u32,
    by_overlap: bool,
) -> Vec<Pair> {
    let block = block.max(1) as usize;
    let mut pairs = Vec::new();
    for (view, ((cam, s), t)) in cameras.iter().zip(source).zip(target).enumerate() {
        let to_world = cam.view.inverse();
        let (w, h) = (cam.width as usize, cam.height as usize);
        let (bw, bh) = (w.div_ceil(block), h.div_ceil(block));
        let cell = (CELL_PIXELS * w / 256).max(block);
        let cells_x = w.div_ceil(cell);
        let cells_per_view = cells_x * h.div_ceil(cell);
        // Per block: weighted sums of both colours, the world point, the weight, the count.
        let mut acc = vec![([0f32; 3], [0f32; 3], Vec3::ZERO, 0f32, 0u32); bw * bh];
        for (i, (ps, pt)) in s.image.rgba.iter().zip(&t.image.rgba).enumerate() {
            if !same_surface(s, t, i, diagonal, by_overlap) {
                continue;
            }
            let z = 0.5 * (s.depth[i] + t.depth[i]);
            let (px, py) = (i % w, i / w);
            let (x, y) = (px as f32 + 0.5, py as f32 + 0.5);
            let local = Vec4::new((x - cam.cx) / cam.fx * z, (y - cam.cy) / cam.fy * z, z, 1.0);
            let world = (to_world * local).truncate();
            let wgt = ps[3] * pt[3];
            let a = &mut acc[(py / block) * bw + px / block];
            for c in 0..3 {
                a.0[c] += wgt * pt[c] / pt[3];
                a.1[c] += wgt * ps[c] / ps[3];
            }
            a.2 += world * wgt;
            a.3 += wgt;
            a.4 += 1;
        }
        let needed = (block * block).div_ceil(2) as u32;
        for (b, (tc, sc, p, wgt, n)) in acc.into_iter().enumerate() {
            if n < needed || wgt <= 0.0 {
                continue;
            }
            let (x, y) = ((b % bw) * block, (b / bw) * block);
            pairs.push(Pair {
                target: tc.map(|v| v / wgt),
                source: sc.map(|v| v / wgt),
                weight: wgt,
                position: (p / wgt).to_array(),
                group: block_of(p / wgt, BLOCK * diagonal),
                cell: (view * cells_per_view + (y / cell) * cells_x + x / cell) as u32,
            });
        }
    }
    thin(pairs)
}

/// Field coverage (summed opacity-weighted falloff) a side must reach at a point.
pub const MIN_FIELD_COVERAGE: f32 = 0.5;

/// Target centres where both fields are dense, with the two fields' (view-independent) colours.
pub fn point_pairs(target: &GaussianCloud, source: &GaussianCloud, diagonal: f32) -> Vec<Pair> {
    let from_source = field_at(source, &target.positions, MIN_FIELD_COVERAGE);
    let dense: Vec<[f32; 3]> = from_source.points.iter().map(|&i| target.positions[i]).collect();
    let from_target = field_at(target, &dense, MIN_FIELD_COVERAGE);
    let s = from_source.apply(&dc_colors(source));
    let t = from_target.apply(&dc_colors(target));
    let pairs = from_target
        .points
        .iter()
        .zip(&t)
        .map(|(&row, tc)| Pair {
            target: *tc,
            source: s[row],
            weight: 1.0,
            position: dense[row],
            group: block_of(Vec3::from(dense[row]), BLOCK * diagonal),
            // Image cells count up from 0; point cells from the top, so both can be mixed.
            cell: u32::MAX - block_of(Vec3::from(dense[row]), CELL_VOXEL * diagonal) / 2,
        })
        .collect();
    thin(pairs)
}

/// Target Gaussians that are also in the source, bit for bit in place, shape and opacity (one
/// capture cut into two parts that overlap), with each copy's own (view-independent) colour:
/// whatever differs between the copies is the colour change itself, free of any texture noise.
pub fn exact_pairs(target: &GaussianCloud, source: &GaussianCloud, diagonal: f32) -> Vec<Pair> {
    use rayon::prelude::*;
    use std::collections::HashMap;
    let key = |c: &GaussianCloud, i: usize| -> [u32; 11] {
        let (p, s, r) = (c.positions[i], c.log_scales[i], c.rotations[i]);
        [p[0], p[1], p[2], s[0], s[1], s[2], r[0], r[1], r[2], r[3], c.opacities[i]].map(f32::to_bits)
    };
    let finite = |c: &GaussianCloud, i: usize| c.positions[i].iter().all(|v| v.is_finite());
    // The smaller cloud is hashed, the larger scanned: (target index, source index) pairs.
    let (small, large, small_is_target) =
        if target.len() <= source.len() { (target, source, true) } else { (source, target, false) };
    let hashed: HashMap<[u32; 11], usize> =
        (0..small.len()).filter(|&i| finite(small, i)).map(|i| (key(small, i), i)).collect();
    if hashed.is_empty() {
        return Vec::new();
    }
    let mut matches: Vec<(usize, usize)> = (0..large.len())
        .into_par_iter()
        .filter(|&j| finite(large, j))
        .filter_map(|j| hashed.get(&key(large, j)).map(|&i| if small_is_target { (i, j) } else { (j, i) }))
        .collect();
    matches.sort_unstable();
    matches.dedup_by_key(|m| m.0);
    let (tc, sc) = (dc_colors(target), dc_colors(source));
    let pairs = matches
        .into_iter()
        .map(|(i, j)| {
            let p = Vec3::from(target.positions[i]);
            Pair {
                target: tc[i],
                source: sc[j],
                // A faint Gaussian shows little of its colour in any image.
                weight: splatstitch_core::cloud::sigmoid(target.opacities[i]).max(1e-3),
                position: target.positions[i],
                group: block_of(p, BLOCK * diagonal),
                cell: u32::MAX - block_of(p, CELL_VOXEL * diagonal) / 2,
            }
        })
        .collect();
    thin(pairs)
}

fn thin(pairs: Vec<Pair>) -> Vec<Pair> {
    if pairs.len() <= MAX_PAIRS {
        return pairs;
    }
    let step = pairs.len() as f64 / MAX_PAIRS as f64;
    (0..MAX_PAIRS).map(|i| pairs[(i as f64 * step) as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cloud(n: usize, offset: f32) -> GaussianCloud {
        let mut c = GaussianCloud::with_len(n, 0);
        for i in 0..n {
            c.positions[i] = [i as f32 * 0.01 + offset, (i as f32).sin(), 0.0];
            c.sh[3 * i] = i as f32 * 0.001;
        }
        c
    }

    #[test]
    fn exact_pairs_are_the_gaussians_both_clouds_hold_with_each_copys_colour() {
        let source = cloud(500, 0.0);
        // The source's last 200 Gaussians, recoloured, and 100 of its own nearby.
        let mut target = source.rows(300..500);
        target.append(&cloud(100, 0.005));
        for v in target.sh.iter_mut().step_by(3) {
            *v += 0.5;
        }
        target.opacities[0] = 0.25;
        for (a, b) in [(&target, &source), (&source, &target)] {
            let pairs = exact_pairs(a, b, 1.0);
            assert_eq!(pairs.len(), 199, "a changed opacity is another Gaussian");
            for p in &pairs {
                assert!(p.position[0] >= 3.0 && p.position[0] < 5.0, "{p:?}");
                let shift = splatstitch_core::sh::SH_C0 * 0.5;
                let expected = if std::ptr::eq(a, &target) { shift } else { -shift };
                assert!((p.target[0] - p.source[0] - expected).abs() < 1e-5, "{p:?}");
            }
        }
    }
}
