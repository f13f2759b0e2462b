//! Selecting Gaussians (docs/ARCHITECTURE.md §6): screen-space shapes (rectangle, lasso, brush), 3D volumes
//! (box, sphere), colour similarity, opacity and size ranges, and the KNN-graph tools — grow and
//! shrink by neighbourhood rings, and the connected region that floods from one Gaussian and
//! stops at distance and colour jumps. Each tool yields "hits" that a [`Mode`] combines with the
//! current selection. All work on one layer's cloud with its transform, in parallel.

use glam::{Vec2, Vec3};
use rayon::prelude::*;
use splatstitch_core::GaussianCloud;
use splatstitch_core::cloud::sigmoid;
use splatstitch_core::transform::Similarity;
use splatstitch_render::Camera;
use splatstitch_stitch::boundary::CentreIndex;

/// How a tool's hits combine with the selection: plain, Shift, Ctrl, Shift+Ctrl.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Replace,
    Add,
    Subtract,
    Intersect,
}

pub fn combine(selection: &mut [bool], hits: &[bool], mode: Mode) {
    selection.par_iter_mut().zip(hits.par_iter()).for_each(|(s, &h)| {
        *s = match mode {
            Mode::Replace => h,
            Mode::Add => *s || h,
            Mode::Subtract => *s && !h,
            Mode::Intersect => *s && h,
        }
    });
}

/// Pixel position and depth of every centre (None behind the camera or off the near plane).
pub fn project(cloud: &GaussianCloud, t: &Similarity, cam: &Camera) -> Vec<Option<(Vec2, f32)>> {
    cloud
        .positions
        .par_iter()
        .map(|p| {
            let c = cam.view.transform_point3(t.transform_point(Vec3::from(*p)));
            (c.z > 1e-4 && c.is_finite())
                .then(|| (Vec2::new(cam.fx * c.x / c.z + cam.cx, cam.fy * c.y / c.z + cam.cy), c.z))
        })
        .collect()
}

/// Centres inside the pixel rectangle spanned by two corners.
pub fn rectangle(projected: &[Option<(Vec2, f32)>], a: Vec2, b: Vec2) -> Vec<bool> {
    let (lo, hi) = (a.min(b), a.max(b));
    projected.par_iter().map(|p| p.is_some_and(|(q, _)| q.cmpge(lo).all() && q.cmple(hi).all())).collect()
}

/// Centres inside a polygon (even-odd rule), in pixels.
pub fn lasso(projected: &[Option<(Vec2, f32)>], polygon: &[Vec2]) -> Vec<bool> {
    if polygon.len() < 3 {
        return vec![false; projected.len()];
    }
    let (lo, hi) = polygon.iter().fold((Vec2::MAX, Vec2::MIN), |(l, h), p| (l.min(*p), h.max(*p)));
    projected
        .par_iter()
        .map(|p| {
            let Some((q, _)) = p else { return false };
            if q.cmplt(lo).any() || q.cmpgt(hi).any() {
                return false;
            }
            let mut inside = false;
            let mut j = polygon.len() - 1;
            for i in 0..polygon.len() {
                let (a, b) = (polygon[i], polygon[j]);
                if (a.y > q.y) != (b.y > q.y) && q.x < (b.x - a.x) * (q.y - a.y) / (b.y - a.y) + a.x {
                    inside = !inside;
                }
                j = i;
            }
            inside
        })
        .collect()
}

/// Centres within `radius` pixels of any point of a brush stroke.
pub fn brush(projected: &[Option<(Vec2, f32)>], stroke: &[Vec2], radius: f32) -> Vec<bool> {
    let r2 = radius * radius;
    projected.par_iter().map(|p| p.is_some_and(|(q, _)| stroke.iter().any(|s| s.distance_squared(q) <= r2))).collect()
}

/// Keeps only hits on the visible surface: a hit whose depth is more than `tolerance` (relative)
/// behind the rendered depth at its pixel is dropped. `depth` is row-major, `width` wide, with
/// non-finite values where nothing was drawn.
pub fn visible_only(hits: &mut [bool], projected: &[Option<(Vec2, f32)>], depth: &[f32], width: usize, tolerance: f32) {
    let height = depth.len() / width.max(1);
    hits.par_iter_mut().zip(projected.par_iter()).for_each(|(h, p)| {
        if !*h {
            return;
        }
        let Some((q, z)) = p else { return };
        let (x, y) = (q.x.floor() as isize, q.y.floor() as isize);
        if x < 0 || y < 0 || x as usize >= width || y as usize >= height {
            *h = false;
            return;
        }
        let d = depth[y as usize * width + x as usize];
        *h = d.is_finite() && *z <= d * (1.0 + tolerance);
    });
}

/// Centres inside a world-space box.
pub fn in_box(cloud: &GaussianCloud, t: &Similarity, lo: Vec3, hi: Vec3) -> Vec<bool> {
    cloud
        .positions
        .par_iter()
        .map(|p| {
            let w = t.transform_point(Vec3::from(*p));
            w.cmpge(lo).all() && w.cmple(hi).all()
        })
        .collect()
}

/// Centres inside a world-space sphere.
pub fn in_sphere(cloud: &GaussianCloud, t: &Similarity, centre: Vec3, radius: f32) -> Vec<bool> {
    let r2 = radius * radius;
    cloud.positions.par_iter().map(|p| t.transform_point(Vec3::from(*p)).distance_squared(centre) <= r2).collect()
}

/// View-independent (DC) colour of Gaussian `i`.
pub fn base_colour(cloud: &GaussianCloud, i: usize) -> Vec3 {
    Vec3::from(cloud.base_colour(i))
}

/// Gaussians whose base colour is within `tolerance` (RGB distance, 0–√3) of `colour`.
pub fn by_colour(cloud: &GaussianCloud, colour: Vec3, tolerance: f32) -> Vec<bool> {
    (0..cloud.len()).into_par_iter().map(|i| base_colour(cloud, i).distance(colour) <= tolerance).collect()
}

/// Gaussians with opacity in `opacity` and largest world-space scale in `size`.
pub fn by_opacity_and_size(cloud: &GaussianCloud, t: &Similarity, opacity: (f32, f32), size: (f32, f32)) -> Vec<bool> {
    (0..cloud.len())
        .into_par_iter()
        .map(|i| {
            let a = sigmoid(cloud.opacities[i]);
            let s = Vec3::from(cloud.log_scales[i]).exp().max_element() * t.scale;
            a >= opacity.0 && a <= opacity.1 && s >= size.0 && s <= size.1
        })
        .collect()
}

/// Per-Gaussian weights for an edit of the selection with a soft edge: 1 on selected Gaussians,
/// falling linearly to 0 at `feather` (layer units) from the nearest selected centre.
pub fn feathered(cloud: &GaussianCloud, selected: &[bool], feather: f32) -> Vec<f32> {
    let inside: Vec<[f32; 3]> = cloud.positions.iter().zip(selected).filter(|(_, s)| **s).map(|(p, _)| *p).collect();
    let index = (feather > 0.0).then(|| CentreIndex::from_points(&inside)).flatten();
    (0..cloud.len())
        .into_par_iter()
        .map(|i| {
            if selected.get(i).copied().unwrap_or(false) {
                return 1.0;
            }
            let Some(index) = &index else { return 0.0 };
            let d = index.nearest(&cloud.positions[i], 1).first().map_or(f32::INFINITY, |n| n.1);
            (1.0 - d / feather).max(0.0)
        })
        .collect()
}

/// The K-nearest-neighbour graph of a cloud's centres, built once per layer.
pub struct KnnGraph {
    pub k: usize,
    /// `len × k` neighbour indices (fewer real ones in tiny clouds: padded with the node itself).
    pub neighbours: Vec<u32>,
    /// Distances matching `neighbours`.
    pub distances: Vec<f32>,
}

impl KnnGraph {
    pub fn new(cloud: &GaussianCloud, k: usize) -> Self {
        let Some(index) = CentreIndex::new(cloud) else { return KnnGraph { k, neighbours: vec![], distances: vec![] } };
        let rows: Vec<(Vec<u32>, Vec<f32>)> = (0..cloud.len())
            .into_par_iter()
            .map(|i| {
                let mut nn: Vec<(u32, f32)> =
                    index.nearest(&cloud.positions[i], k + 1).into_iter().filter(|(j, _)| *j as usize != i).collect();
                nn.truncate(k);
                nn.resize(k, (i as u32, 0.0));
                nn.into_iter().unzip()
            })
            .collect();
        let (mut neighbours, mut distances) =
            (Vec::with_capacity(cloud.len() * k), Vec::with_capacity(cloud.len() * k));
        for (n, d) in rows {
            neighbours.extend(n);
            distances.extend(d);
        }
        KnnGraph { k, neighbours, distances }
    }

    fn of(&self, i: usize) -> &[u32] {
        &self.neighbours[i * self.k..(i + 1) * self.k]
    }

    /// Adds every neighbour of a selected Gaussian, `rings` times.
    pub fn grow(&self, selection: &[bool], rings: usize) -> Vec<bool> {
        let mut s = selection.to_vec();
        for _ in 0..rings {
            let next: Vec<bool> =
                (0..s.len()).into_par_iter().map(|i| s[i] || self.of(i).iter().any(|&j| s[j as usize])).collect();
            s = next;
        }
        s
    }

    /// Drops every selected Gaussian with an unselected neighbour, `rings` times.
    pub fn shrink(&self, selection: &[bool], rings: usize) -> Vec<bool> {
        let mut s = selection.to_vec();
        for _ in 0..rings {
            let next: Vec<bool> =
                (0..s.len()).into_par_iter().map(|i| s[i] && self.of(i).iter().all(|&j| s[j as usize])).collect();
            s = next;
        }
        s
    }

    /// Floods from `seed` over edges no longer than `max_distance` whose endpoints' base colours
    /// differ by at most `max_colour_jump`: a one-click cut-out of a connected object.
    pub fn connected_region(
        &self,
        cloud: &GaussianCloud,
        seed: usize,
        max_distance: f32,
        max_colour_jump: f32,
    ) -> Vec<bool> {
        let n = cloud.len();
        let mut region = vec![false; n];
        if seed >= n || self.neighbours.is_empty() {
            return region;
        }
        let colours: Vec<Vec3> = (0..n).into_par_iter().map(|i| base_colour(cloud, i)).collect();
        // KNN graphs of clustered points split into islands; the reverse edges (j lists i)
        // join what one-way edges miss.
        let mut reverse: Vec<Vec<(u32, f32)>> = vec![Vec::new(); n];
        for i in 0..n {
            for slot in 0..self.k {
                let j = self.neighbours[i * self.k + slot] as usize;
                if j != i {
                    reverse[j].push((i as u32, self.distances[i * self.k + slot]));
                }
            }
        }
        region[seed] = true;
        let mut stack = vec![seed];
        while let Some(i) = stack.pop() {
            let forward = self.of(i).iter().enumerate().map(|(slot, &j)| (j, self.distances[i * self.k + slot]));
            for (j, d) in forward.chain(reverse[i].iter().copied()) {
                let j = j as usize;
                if region[j] || d > max_distance {
                    continue;
                }
                if colours[i].distance(colours[j]) > max_colour_jump {
                    continue;
                }
                region[j] = true;
                stack.push(j);
            }
        }
        region
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two 10×10 sheets, 1 unit apart, one red, one blue, 0.05 spacing.
    fn two_sheets() -> GaussianCloud {
        let mut c = GaussianCloud::with_len(200, 0);
        for i in 0..200 {
            let (sheet, j) = (i / 100, i % 100);
            c.positions[i] = [(j % 10) as f32 * 0.05 + sheet as f32, (j / 10) as f32 * 0.05, 0.0];
            c.log_scales[i] = [0.01f32.ln(); 3];
            c.opacities[i] = if j % 2 == 0 { 2.0 } else { -2.0 };
            c.rotations[i] = [1.0, 0.0, 0.0, 0.0];
            c.sh[i * 3 + if sheet == 0 { 0 } else { 2 }] = 1.5;
        }
        c
    }

    fn count(v: &[bool]) -> usize {
        v.iter().filter(|b| **b).count()
    }

    #[test]
    fn a_feather_fades_from_the_selection_to_nothing_at_its_width() {
        let c = two_sheets();
        // The first sheet's left column (x = 0) selected; columns are 0.05 apart.
        let selected: Vec<bool> = (0..200).map(|i| i < 100 && i % 10 == 0).collect();
        let w = feathered(&c, &selected, 0.2);
        for (i, w) in w[..100].iter().enumerate() {
            let want = (1.0 - (i % 10) as f32 * 0.05 / 0.2).max(0.0);
            assert!((w - want).abs() < 1e-5, "column {}: {w} vs {want}", i % 10);
        }
        assert!(w[100..].iter().all(|w| *w == 0.0), "the other sheet is a unit away");
        assert_eq!(feathered(&c, &selected, 0.0), selected.iter().map(|s| *s as u8 as f32).collect::<Vec<_>>());
    }

    #[test]
    fn screen_tools_match_a_direct_projection() {
        let c = two_sheets();
        let cam = Camera::new(200, 100, 100.0, 100.0, 100.0, 50.0)
            .looking_at(Vec3::new(0.725, 0.225, -2.0), Vec3::new(0.725, 0.225, 0.0), Vec3::NEG_Y)
            .unwrap();
        let p = project(&c, &Similarity::IDENTITY, &cam);
        // The left half of the image holds the first sheet exactly.
        let left = rectangle(&p, Vec2::ZERO, Vec2::new(100.0, 100.0));
        let direct = (0..200).filter(|&i| p[i].unwrap().0.x <= 100.0).count();
        assert_eq!(count(&left), direct);
        assert_eq!(count(&left), 100);
        let square = [Vec2::new(0.0, 0.0), Vec2::new(100.0, 0.0), Vec2::new(100.0, 100.0), Vec2::new(0.0, 100.0)];
        assert_eq!(lasso(&p, &square), left);
        let one = brush(&p, &[p[0].unwrap().0], 0.5);
        assert_eq!(count(&one), 1);
        let mut sel = left.clone();
        combine(&mut sel, &brush(&p, &[p[150].unwrap().0], 0.5), Mode::Add);
        assert_eq!(count(&sel), 101);
        combine(&mut sel, &left, Mode::Subtract);
        assert_eq!(count(&sel), 1);
        combine(&mut sel, &left, Mode::Intersect);
        assert_eq!(count(&sel), 0);
        // Depth test: a depth map just in front of everything hides it all.
        let mut hits = left.clone();
        visible_only(&mut hits, &p, &vec![1.0; 200 * 100], 200, 0.01);
        assert_eq!(count(&hits), 0);
    }

    #[test]
    fn volumes_colours_ranges() {
        let c = two_sheets();
        let t = Similarity::IDENTITY;
        assert_eq!(count(&in_box(&c, &t, Vec3::new(-0.1, -0.1, -0.1), Vec3::new(0.5, 0.5, 0.1))), 100);
        assert_eq!(count(&in_sphere(&c, &t, Vec3::ZERO, 0.051)), 3);
        let red = base_colour(&c, 0);
        assert_eq!(count(&by_colour(&c, red, 0.1)), 100);
        assert_eq!(count(&by_opacity_and_size(&c, &t, (0.5, 1.0), (0.0, 1.0))), 100);
        assert_eq!(count(&by_opacity_and_size(&c, &t, (0.0, 1.0), (0.02, 1.0))), 0);
    }

    #[test]
    fn knn_tools_grow_shrink_and_flood_one_object() {
        let c = two_sheets();
        let g = KnnGraph::new(&c, 8);
        let mut seed = vec![false; 200];
        seed[55] = true;
        let grown = g.grow(&seed, 1);
        assert_eq!(count(&grown), 9, "the 8 nearest around an interior point");
        assert_eq!(g.shrink(&grown, 1), seed);
        let region = g.connected_region(&c, 55, 0.2, 0.3);
        assert_eq!(count(&region), 100, "floods the red sheet, stops at the gap");
        assert!(region[..100].iter().all(|b| *b));
        // A colour jump stops it too: recolour half the red sheet.
        let mut c2 = c.clone();
        for i in 0..50 {
            c2.sh[i * 3 + 1] = 1.5;
        }
        assert_eq!(count(&g.connected_region(&c2, 55, 0.2, 0.3)), 50);
    }
}
