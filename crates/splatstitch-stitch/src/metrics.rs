//! Metrics of docs/ARCHITECTURE.md §7, taken on renders where many Gaussians average out (single Gaussians'
//! colours are too noisy to judge a blend by).

use crate::boundary::Boundary;
use splatstitch_core::GaussianCloud;
use splatstitch_core::cloud::sigmoid;
use splatstitch_core::sh::SH_C0;
use splatstitch_render::Image;

/// Coverage above which a pixel counts as showing a layer.
pub const COVERED: f32 = 0.5;

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeamSpace {
    /// Pixels both layers cover, over all cameras.
    Image,
    /// No camera sees an overlap: boundary Gaussians against their source neighbours.
    Points,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metrics {
    /// Mean absolute RGB difference between source and target where both cover a pixel.
    pub seam_error: f32,
    pub seam_space: SeamSpace,
    /// Pearson correlation of the target's Sobel magnitudes against the original (1 = kept).
    pub detail: f32,
    /// Mean distance of the target's covered pixels to the nearest source palette colour.
    pub palette_distance: f32,
}

fn unpremultiplied(p: [f32; 4]) -> [f32; 3] {
    let a = p[3].max(1e-6);
    [p[0] / a, p[1] / a, p[2] / a]
}

fn l1(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).abs() + (a[1] - b[1]).abs() + (a[2] - b[2]).abs()) / 3.0
}

/// Image-space seam error over pixels both layers cover, or `None` when none do. Renders must
/// be over a black background.
pub fn seam_error_image(sources: &[Image], targets: &[Image]) -> Option<f32> {
    let (mut sum, mut n) = (0f64, 0usize);
    for (s, t) in sources.iter().zip(targets) {
        for (ps, pt) in s.rgba.iter().zip(&t.rgba) {
            if ps[3] > COVERED && pt[3] > COVERED {
                sum += l1(unpremultiplied(*ps), unpremultiplied(*pt)) as f64;
                n += 1;
            }
        }
    }
    (n > 0).then(|| (sum / n as f64) as f32)
}

/// Point-space fallback: each boundary Gaussian's DC colour against the opacity-weighted mean DC
/// colour of its source neighbours.
pub fn seam_error_points(b: &Boundary, target: &GaussianCloud, source: &GaussianCloud) -> f32 {
    if b.is_empty() {
        return 0.0;
    }
    let dc = |c: &GaussianCloud, i: usize| -> [f32; 3] {
        let s = c.sh_of(i);
        [SH_C0 * s[0] + 0.5, SH_C0 * s[1] + 0.5, SH_C0 * s[2] + 0.5]
    };
    let mut sum = 0f64;
    for (m, &i) in b.members.iter().enumerate() {
        let (mut acc, mut w) = ([0f32; 3], 0f32);
        for &j in &b.neighbours[m * b.k..(m + 1) * b.k] {
            let o = sigmoid(source.opacities[j as usize]);
            let c = dc(source, j as usize);
            for k in 0..3 {
                acc[k] += o * c[k];
            }
            w += o;
        }
        let mean = acc.map(|v| v / w.max(1e-6));
        sum += l1(dc(target, i as usize), mean) as f64;
    }
    (sum / b.len() as f64) as f32
}

fn luminance(p: [f32; 4]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
}

/// Sobel gradient magnitude of the luminance, per pixel (zero on the border).
pub fn sobel_magnitude(img: &Image) -> Vec<f32> {
    let (w, h) = (img.width as usize, img.height as usize);
    let l: Vec<f32> = img.rgba.iter().map(|p| luminance(*p)).collect();
    let mut out = vec![0.0; w * h];
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let at = |dx: isize, dy: isize| l[(y as isize + dy) as usize * w + (x as isize + dx) as usize];
            let gx = at(1, -1) + 2.0 * at(1, 0) + at(1, 1) - at(-1, -1) - 2.0 * at(-1, 0) - at(-1, 1);
            let gy = at(-1, 1) + 2.0 * at(0, 1) + at(1, 1) - at(-1, -1) - 2.0 * at(0, -1) - at(1, -1);
            out[y * w + x] = (gx * gx + gy * gy).sqrt();
        }
    }
    out
}

/// Pearson correlation of Sobel magnitudes, before against after, on pixels the target covers
/// before; 1 when nothing is covered or nothing varies.
pub fn detail(before: &[Image], after: &[Image]) -> f32 {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (x, y) in before.iter().zip(after) {
        let (sx, sy) = (sobel_magnitude(x), sobel_magnitude(y));
        for (i, p) in x.rgba.iter().enumerate() {
            if p[3] > COVERED {
                a.push(sx[i] as f64);
                b.push(sy[i] as f64);
            }
        }
    }
    pearson(&a, &b).unwrap_or(1.0) as f32
}

pub fn pearson(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len() as f64;
    if a.len() < 2 {
        return None;
    }
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

/// A colour palette clustered online (docs/ARCHITECTURE.md §5, L_tune): start with 3 centres, add one when a
/// sample is far from all, drop centres that win too few samples for 20 rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Palette {
    pub colors: Vec<[f32; 3]>,
    /// Each colour's proportion of the samples (summing to 1).
    pub proportions: Vec<f32>,
}

const NEW_CENTRE_DISTANCE: f32 = 0.15;
const MAX_CENTRES: usize = 32;
const ROUND: usize = 512;
const IDLE_ROUNDS: usize = 20;

impl Palette {
    /// Clusters samples in the order given (deterministic).
    pub fn cluster(samples: &[[f32; 3]]) -> Palette {
        if samples.is_empty() {
            return Palette { colors: Vec::new(), proportions: Vec::new() };
        }
        let third = samples.len() / 3;
        let mut centres: Vec<([f32; 3], f32, usize, usize)> =
            [0, third, 2 * third].iter().map(|&i| (samples[i], 1.0, 0usize, 0usize)).collect();
        for (n, s) in samples.iter().enumerate() {
            let (best, d) = Palette::nearest_of(centres.iter().map(|c| c.0), *s);
            if d > NEW_CENTRE_DISTANCE && centres.len() < MAX_CENTRES {
                centres.push((*s, 1.0, 1, 0));
            } else {
                let c = &mut centres[best];
                c.1 += 1.0;
                let count = c.1;
                for (ck, sk) in c.0.iter_mut().zip(s) {
                    *ck += (sk - *ck) / count;
                }
                c.2 += 1;
            }
            if (n + 1) % ROUND == 0 {
                // A centre winning under 1% of a round is idle; idle for 20 rounds, it goes.
                for c in centres.iter_mut() {
                    c.3 = if c.2 * 100 < ROUND { c.3 + 1 } else { 0 };
                    c.2 = 0;
                }
                if centres.len() > 1 {
                    centres.retain(|c| c.3 < IDLE_ROUNDS);
                }
            }
        }
        let total: f32 = centres.iter().map(|c| c.1).sum();
        Palette {
            colors: centres.iter().map(|c| c.0).collect(),
            proportions: centres.iter().map(|c| c.1 / total).collect(),
        }
    }

    fn nearest_of(colors: impl Iterator<Item = [f32; 3]>, c: [f32; 3]) -> (usize, f32) {
        colors
            .enumerate()
            .map(|(i, p)| (i, ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt()))
            .fold((0, f32::MAX), |a, b| if b.1 < a.1 { b } else { a })
    }

    pub fn nearest(&self, c: [f32; 3]) -> (usize, f32) {
        Palette::nearest_of(self.colors.iter().copied(), c)
    }

    /// From the covered pixels of renders (every `step`-th, to bound the work).
    pub fn from_renders(renders: &[Image], step: usize) -> Palette {
        let samples: Vec<[f32; 3]> = renders
            .iter()
            .flat_map(|r| r.rgba.iter().filter(|p| p[3] > COVERED).map(|p| unpremultiplied(*p)))
            .step_by(step.max(1))
            .collect();
        Palette::cluster(&samples)
    }

    /// Mean distance of covered pixels to their nearest palette colour.
    pub fn distance(&self, renders: &[Image]) -> f32 {
        let (mut sum, mut n) = (0f64, 0usize);
        for p in renders.iter().flat_map(|r| &r.rgba).filter(|p| p[3] > COVERED) {
            sum += self.nearest(unpremultiplied(*p)).1 as f64;
            n += 1;
        }
        if n == 0 || self.colors.is_empty() { 0.0 } else { (sum / n as f64) as f32 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn palette_finds_the_clusters() {
        let mut samples = Vec::new();
        for i in 0..3000 {
            let j = (i % 7) as f32 * 0.005;
            samples.push(match i % 3 {
                0 => [0.9 + j, 0.1, 0.1],
                1 => [0.1, 0.8 + j, 0.2],
                _ => [0.2, 0.2, 0.9 - j],
            });
        }
        let p = Palette::cluster(&samples);
        assert_eq!(p.colors.len(), 3, "{:?}", p.colors);
        assert!(p.nearest([0.92, 0.1, 0.1]).1 < 0.05);
        assert!(p.proportions.iter().all(|w| (w - 1.0 / 3.0).abs() < 0.01), "{:?}", p.proportions);
    }

    #[test]
    fn pearson_and_sobel() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.5]).unwrap() - 0.999).abs() < 0.01);
        let mut img = Image::new(8, 8);
        for y in 0..8 {
            for x in 4..8 {
                img.rgba[y * 8 + x] = [1.0, 1.0, 1.0, 1.0];
            }
        }
        let s = sobel_magnitude(&img);
        assert!(s[3 * 8 + 4] > 1.0 && s[3 * 8 + 1] == 0.0);
    }
}
