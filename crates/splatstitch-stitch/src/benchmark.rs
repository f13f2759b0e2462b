//! Blend benchmark cases with a known answer: a real capture cut along a plane into two parts
//! that overlap in a band, the target part's colours changed, the truth kept. A blend should
//! undo the change; it is scored in image space, from cameras the job never uses, against
//! renders of the untouched capture (docs/ARCHITECTURE.md §7: recovery = 1 − E_after/E_before).
//!
//! Only benchmarks and tests use this module; nothing on a stitch's path depends on it.

use crate::cameras::fibonacci_cameras_turned;
use crate::metrics::{COVERED, detail};
use crate::views::render_views;
use glam::Vec3;
use splatstitch_core::{ColourMap, GaussianCloud};
use splatstitch_render::{Camera, Image};

/// How the band's Gaussians are shared between the two parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BandKind {
    /// Every band Gaussian in both parts (one capture cut twice).
    Shared,
    /// Each band Gaussian in one part, at random: as where two captures of one place overlap,
    /// each side seeing the surface through its own Gaussians.
    Dealt,
}

/// The colour changes a capture-to-capture difference may bring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Per-channel gain and offset (exposure, white balance).
    GainOffset,
    /// A 3 × 3 matrix with cross-talk, plus offset.
    Matrix,
    /// Per-channel gamma after a common exposure.
    Tone,
    /// A smooth lighting gradient across the target (no global map explains it).
    Lighting,
    /// Another material: the target's colours shuffled among its Gaussians and their channels
    /// turned (R, G, B → G, B, R). No capture difference explains it, so a blend should leave
    /// the target as it is; scored by how much it moved it.
    Foreign,
}

impl BandKind {
    pub const ALL: [BandKind; 2] = [BandKind::Shared, BandKind::Dealt];
    pub fn name(self) -> &'static str {
        match self {
            BandKind::Shared => "shared",
            BandKind::Dealt => "dealt",
        }
    }
}

impl ChangeKind {
    pub const ALL: [ChangeKind; 5] =
        [ChangeKind::GainOffset, ChangeKind::Matrix, ChangeKind::Tone, ChangeKind::Lighting, ChangeKind::Foreign];
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::GainOffset => "gain_offset",
            ChangeKind::Matrix => "matrix",
            ChangeKind::Tone => "tone",
            ChangeKind::Lighting => "lighting",
            ChangeKind::Foreign => "foreign",
        }
    }
}

/// A deterministic generator: the same seed, the same case.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }

    /// A random unit vector.
    pub fn direction(&mut self) -> Vec3 {
        loop {
            let v = Vec3::new(self.range(-1.0, 1.0), self.range(-1.0, 1.0), self.range(-1.0, 1.0));
            let l = v.length();
            if l > 0.1 && l <= 1.0 {
                return v / l;
            }
        }
    }
}

/// Per axis, the value at quantile `q` of the centres.
fn quantile_box(cloud: &GaussianCloud, q: f32) -> (Vec3, Vec3) {
    let mut lo = Vec3::ZERO;
    let mut hi = Vec3::ZERO;
    for k in 0..3 {
        let mut v: Vec<f32> = cloud.positions.iter().map(|p| p[k]).filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            continue;
        }
        v.sort_unstable_by(f32::total_cmp);
        let at = |q: f32| v[((q * (v.len() - 1) as f32).round() as usize).min(v.len() - 1)];
        lo[k] = at(q);
        hi[k] = at(1.0 - q);
    }
    (lo, hi)
}

/// The plane of a cut: `p·normal = offset`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Plane {
    pub normal: [f32; 3],
    pub offset: f32,
    /// Width of the band both parts reach into.
    pub band: f32,
}

/// A random cut through the middle of the capture (its centres' median), the band
/// `band_fraction` of the robust diagonal wide.
pub fn random_plane(cloud: &GaussianCloud, rng: &mut Rng, band_fraction: f32) -> Plane {
    random_plane_at(cloud, rng, band_fraction, 0.5)
}

/// [`random_plane`] moved along its normal from the median by the distance between the
/// quantiles `at` and ½ of the centres' projections: at `at` = 0.3 about 30 % of the capture
/// lies below the plane (the source is the smaller part).
pub fn random_plane_at(cloud: &GaussianCloud, rng: &mut Rng, band_fraction: f32, at: f32) -> Plane {
    let (lo, hi) = quantile_box(cloud, 0.01);
    let (mlo, _) = quantile_box(cloud, 0.5);
    let n = rng.direction();
    let mut offset = n.dot(mlo);
    if at != 0.5 {
        let mut along: Vec<f32> =
            cloud.positions.iter().map(|p| Vec3::from(*p).dot(n)).filter(|x| x.is_finite()).collect();
        if !along.is_empty() {
            along.sort_unstable_by(f32::total_cmp);
            let q = |q: f32| along[(q.clamp(0.0, 1.0) * (along.len() - 1) as f32).round() as usize];
            offset += q(at) - q(0.5);
        }
    }
    Plane { normal: n.into(), offset, band: band_fraction * (hi - lo).length() }
}

/// Cuts `cloud` into `(source, target)`: the source below the plane up to half the band above
/// it, the target above down to half the band below. Band Gaussians go to both parts
/// ([`BandKind::Shared`]) or to one at random ([`BandKind::Dealt`]).
pub fn cut(cloud: &GaussianCloud, plane: &Plane, kind: BandKind, rng: &mut Rng) -> (GaussianCloud, GaussianCloud) {
    let n = Vec3::from(plane.normal);
    let half = plane.band * 0.5;
    let (mut in_source, mut in_target) = (vec![false; cloud.len()], vec![false; cloud.len()]);
    for (i, p) in cloud.positions.iter().enumerate() {
        let s = Vec3::from(*p).dot(n) - plane.offset;
        let in_band = s.abs() <= half;
        match (in_band, kind) {
            (true, BandKind::Shared) => (in_source[i], in_target[i]) = (true, true),
            (true, BandKind::Dealt) => {
                let to_source = rng.unit() < 0.5;
                (in_source[i], in_target[i]) = (to_source, !to_source);
            }
            (false, _) => (in_source[i], in_target[i]) = (s < 0.0, s > 0.0),
        }
    }
    (cloud.select(&in_source), cloud.select(&in_target))
}

/// A colour change, with the parameters drawn from `rng` (moderate, as between two captures).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    pub kind: ChangeKind,
    /// The change as a map (for `Lighting`, the map at the target's middle).
    pub map: ColourMap,
    /// `Lighting`: gain `1 + slope·t` with `t` in `[−½, ½]` across the target along `direction`.
    pub direction: [f32; 3],
    pub slope: [f32; 3],
}

impl Change {
    pub fn draw(kind: ChangeKind, rng: &mut Rng) -> Change {
        Self::draw_scaled(kind, rng, 1.0)
    }

    /// [`Change::draw`] with every departure from no change (gain and exposure away from 1,
    /// offsets, cross-talk, the gammas' logarithms, the light's slopes) times `strength`; the
    /// same seed draws the same case at `strength` 1.
    pub fn draw_scaled(kind: ChangeKind, rng: &mut Rng, strength: f32) -> Change {
        let k = strength;
        let s: [f32; 3] = std::array::from_fn(|_| if rng.unit() < 0.5 { -1.0 } else { 1.0 });
        let gain = |rng: &mut Rng, c: usize| 1.0 + s[c] * k * rng.range(0.08, 0.22);
        let offset = |rng: &mut Rng| k * rng.range(-0.05, 0.05);
        let none = ([0.0; 3], [0.0; 3]);
        let (map, (direction, slope)) = match kind {
            ChangeKind::GainOffset => {
                let g = [gain(rng, 0), gain(rng, 1), gain(rng, 2)];
                (ColourMap::gain_offset(g, [offset(rng), offset(rng), offset(rng)]), none)
            }
            ChangeKind::Matrix => {
                let mut matrix = [[0f32; 3]; 3];
                for (r, row) in matrix.iter_mut().enumerate() {
                    for (c, v) in row.iter_mut().enumerate() {
                        *v = if r == c { gain(rng, r) } else { k * rng.range(-0.12, 0.12) };
                    }
                }
                (ColourMap::Affine { matrix, offset: [offset(rng), offset(rng), offset(rng)] }, none)
            }
            ChangeKind::Tone => {
                let exposure = 1.0 + s[0] * k * rng.range(0.1, 0.25);
                let gamma: [f32; 3] = std::array::from_fn(|c| {
                    let g = rng.range(1.12, 1.4).powf(k);
                    if s[c] > 0.0 { g } else { 1.0 / g }
                });
                (ColourMap::curves_from(0.0, 2.0, 81, |c, x| (exposure * x).max(0.0).powf(gamma[c])), none)
            }
            ChangeKind::Foreign => {
                let turn = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]];
                (ColourMap::Affine { matrix: turn, offset: [0.0; 3] }, ([rng.unit(), 0.0, 0.0], [0.0; 3]))
            }
            ChangeKind::Lighting => {
                let d = rng.direction();
                let base = 1.0 + s[0] * k * rng.range(0.0, 0.1);
                let slope: [f32; 3] = std::array::from_fn(|_| s[1] * k * rng.range(0.3, 0.5));
                (ColourMap::gain_offset([base; 3], [0.0; 3]), (d.into(), slope))
            }
        };
        Change { kind, map, direction, slope }
    }

    /// The target with its colours changed.
    pub fn apply(&self, target: &GaussianCloud) -> GaussianCloud {
        let mut out = target.clone();
        if self.kind == ChangeKind::Foreign {
            let stride = out.coeffs_per_channel() * 3;
            let mut rng = Rng::new((self.direction[0] * 1e6) as u64);
            let mut order: Vec<usize> = (0..target.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, (rng.unit() * (i + 1) as f32) as usize % (i + 1));
            }
            for (i, &j) in order.iter().enumerate() {
                out.sh[i * stride..(i + 1) * stride].copy_from_slice(&target.sh[j * stride..(j + 1) * stride]);
            }
            self.map.apply_to_cloud(&mut out);
            return out;
        }
        if self.kind != ChangeKind::Lighting {
            self.map.apply_to_cloud(&mut out);
            return out;
        }
        let d = Vec3::from(self.direction);
        let along: Vec<f32> = target.positions.iter().map(|p| Vec3::from(*p).dot(d)).collect();
        let (mut lo, mut hi) = (f32::MAX, f32::MIN);
        for a in along.iter().filter(|a| a.is_finite()) {
            lo = lo.min(*a);
            hi = hi.max(*a);
        }
        let stride = out.coeffs_per_channel() * 3;
        let base = match &self.map {
            ColourMap::Affine { matrix, .. } => matrix[0][0],
            ColourMap::Curves { .. } => 1.0,
        };
        for (i, block) in out.sh.chunks_exact_mut(stride).enumerate() {
            let t = if hi > lo && along[i].is_finite() { (along[i] - lo) / (hi - lo) - 0.5 } else { 0.0 };
            let g: [f32; 3] = std::array::from_fn(|c| base * (1.0 + self.slope[c] * t));
            ColourMap::gain_offset(g, [0.0; 3]).apply_to_sh(block);
        }
        out
    }
}

/// Cameras that score a case: none of them is a job's working or validation camera.
pub fn scoring_cameras(source: &GaussianCloud, target: &GaussianCloud) -> Vec<Camera> {
    let mut both = source.clone();
    both.append(target);
    let (lo, hi) = quantile_box(&both, 0.01);
    fibonacci_cameras_turned(lo, hi, 9, 192, 2.2)
}

/// Mean absolute RGB error against the truth, over pixels the truth covers.
pub fn image_error(truth: &[Image], test: &[Image]) -> f64 {
    let (mut sum, mut n) = (0f64, 0usize);
    for (t, x) in truth.iter().zip(test) {
        for (a, b) in t.rgba.iter().zip(&x.rgba) {
            if a[3] > COVERED {
                sum += (0..3).map(|c| (a[c] - b[c]).abs() as f64).sum::<f64>() / 3.0;
                n += 1;
            }
        }
    }
    if n == 0 { 0.0 } else { sum / n as f64 }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Recovery {
    pub error_before: f64,
    pub error_after: f64,
    /// `1 − E_after / E_before`.
    pub recovery: f64,
    /// Sobel correlation of the blended composite's renders with the truth's.
    pub detail: f64,
    /// Mean absolute RGB change of the composite's renders, blended against unblended.
    pub moved: f64,
}

/// Scores blends of one case: composites (source + target) against the truth's renders.
pub struct Scorer<'a> {
    source: &'a GaussianCloud,
    cameras: Vec<Camera>,
    truth: Vec<Image>,
    before: Vec<Image>,
    error_before: f64,
}

impl<'a> Scorer<'a> {
    pub fn new(source: &'a GaussianCloud, truth_target: &GaussianCloud, changed_target: &GaussianCloud) -> Self {
        let cameras = scoring_cameras(source, truth_target);
        let truth = render_views(&[source, truth_target], &cameras);
        let before = render_views(&[source, changed_target], &cameras);
        let error_before = image_error(&truth, &before);
        Scorer { source, cameras, truth, before, error_before }
    }

    pub fn score(&self, blended_target: &GaussianCloud) -> Recovery {
        let after = render_views(&[self.source, blended_target], &self.cameras);
        let ea = image_error(&self.truth, &after);
        let eb = self.error_before;
        Recovery {
            error_before: eb,
            error_after: ea,
            recovery: if eb > 0.0 { 1.0 - ea / eb } else { 0.0 },
            detail: detail(&self.truth, &after) as f64,
            moved: image_error(&self.before, &after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(n: usize) -> GaussianCloud {
        let mut c = GaussianCloud::with_len(n * n, 1);
        for i in 0..n * n {
            c.positions[i] = [(i % n) as f32 / n as f32, (i / n) as f32 / n as f32, 0.0];
            c.sh[i * 12] = 0.2;
        }
        c
    }

    #[test]
    fn cuts_share_or_deal_the_band() {
        let c = grid(40);
        let plane = Plane { normal: [1.0, 0.0, 0.0], offset: 0.5, band: 0.1 };
        let (s, t) = cut(&c, &plane, BandKind::Shared, &mut Rng::new(1));
        let band = c.positions.iter().filter(|p| (p[0] - 0.5).abs() <= 0.05).count();
        assert_eq!(s.len() + t.len(), c.len() + band);
        let (s, t) = cut(&c, &plane, BandKind::Dealt, &mut Rng::new(1));
        assert_eq!(s.len() + t.len(), c.len());
        assert!(s.positions.iter().any(|p| p[0] > 0.5) && t.positions.iter().any(|p| p[0] < 0.5));
    }

    #[test]
    fn a_plane_at_a_quantile_leaves_that_share_of_the_capture_below_it() {
        let c = grid(40);
        for at in [0.3f32, 0.5, 0.8] {
            let p = random_plane_at(&c, &mut Rng::new(2), 0.0, at);
            let below = c.positions.iter().filter(|x| Vec3::from(**x).dot(Vec3::from(p.normal)) < p.offset).count();
            let share = below as f32 / c.len() as f32;
            assert!((share - at).abs() < 0.06, "at {at}: {share}");
        }
        assert_eq!(random_plane_at(&c, &mut Rng::new(2), 0.03, 0.5), random_plane(&c, &mut Rng::new(2), 0.03));
    }

    #[test]
    fn changes_are_drawn_reproducibly_and_lighting_varies_across_the_target() {
        for kind in ChangeKind::ALL {
            assert_eq!(Change::draw(kind, &mut Rng::new(3)), Change::draw(kind, &mut Rng::new(3)));
            assert_eq!(Change::draw(kind, &mut Rng::new(3)), Change::draw_scaled(kind, &mut Rng::new(3), 1.0));
        }
        let (mild, strong) = (
            Change::draw(ChangeKind::GainOffset, &mut Rng::new(3)),
            Change::draw_scaled(ChangeKind::GainOffset, &mut Rng::new(3), 2.0),
        );
        let (ColourMap::Affine { matrix: m1, offset: o1 }, ColourMap::Affine { matrix: m2, offset: o2 }) =
            (&mild.map, &strong.map)
        else {
            panic!("gain and offset is an affine map");
        };
        for c in 0..3 {
            assert!(((m2[c][c] - 1.0) - 2.0 * (m1[c][c] - 1.0)).abs() < 1e-6);
            assert!((o2[c] - 2.0 * o1[c]).abs() < 1e-6);
        }
        let c = grid(20);
        let mut light = Change::draw(ChangeKind::Lighting, &mut Rng::new(5));
        light.direction = [1.0, 0.0, 0.0];
        let lit = light.apply(&c);
        let (first, last) = (lit.base_colour(0), lit.base_colour(19));
        assert!((first[0] - last[0]).abs() > 0.05, "{first:?} {last:?}");
    }
}
