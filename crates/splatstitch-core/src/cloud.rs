//! The in-memory Gaussian cloud: structure-of-arrays, one `Vec` per attribute, so each column
//! can be uploaded to the GPU or handed to the optimizer without repacking.

use crate::sh;

/// PLY scalar type of an extra (non-standard) per-Gaussian property, kept so that a round trip
/// writes it back with the type it came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScalarKind {
    Char,
    UChar,
    Short,
    UShort,
    Int,
    UInt,
    Float,
    Double,
}

impl ScalarKind {
    pub fn size(self) -> usize {
        match self {
            Self::Char | Self::UChar => 1,
            Self::Short | Self::UShort => 2,
            Self::Int | Self::UInt | Self::Float => 4,
            Self::Double => 8,
        }
    }

    pub fn ply_name(self) -> &'static str {
        match self {
            Self::Char => "char",
            Self::UChar => "uchar",
            Self::Short => "short",
            Self::UShort => "ushort",
            Self::Int => "int",
            Self::UInt => "uint",
            Self::Float => "float",
            Self::Double => "double",
        }
    }
}

/// An unknown per-Gaussian property carried through load → save untouched.
/// `f64` holds every PLY scalar type exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct ExtraColumn {
    pub name: String,
    pub kind: ScalarKind,
    pub values: Vec<f64>,
}

/// N Gaussians as structure-of-arrays.
///
/// Conventions (those of the reference 3DGS implementation and its PLY files):
/// rotations are quaternions `(w, x, y, z)` kept exactly as stored — trained captures often hold
/// unnormalized ones, and an untouched layer must export bit-identically — so every consumer
/// normalizes (see [`GaussianCloud::normalize_rotations`]); scales are natural logarithms; opacities are
/// logits; `sh` holds `N × K × 3` coefficients (Gaussian-major, then coefficient, then RGB
/// channel) with `K = (degree + 1)²` and the DC term first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GaussianCloud {
    pub positions: Vec<[f32; 3]>,
    pub rotations: Vec<[f32; 4]>,
    pub log_scales: Vec<[f32; 3]>,
    pub opacities: Vec<f32>,
    pub sh_degree: u8,
    pub sh: Vec<f32>,
    /// `nx ny nz` when the source file had them (usually zeros; kept for round trips).
    pub normals: Option<Vec<[f32; 3]>>,
    pub extras: Vec<ExtraColumn>,
}

impl GaussianCloud {
    /// An empty cloud of the given SH degree (0..=3).
    pub fn new(sh_degree: u8) -> Self {
        assert!(sh_degree <= 3, "SH degree must be 0..=3");
        Self { sh_degree, ..Default::default() }
    }

    /// A cloud of `n` default Gaussians (origin, identity rotation, unit scale, opacity 0.5,
    /// grey), for callers that fill columns in place.
    pub fn with_len(n: usize, sh_degree: u8) -> Self {
        assert!(sh_degree <= 3, "SH degree must be 0..=3");
        let k = sh::coeff_count(sh_degree);
        Self {
            positions: vec![[0.0; 3]; n],
            rotations: vec![[1.0, 0.0, 0.0, 0.0]; n],
            log_scales: vec![[0.0; 3]; n],
            opacities: vec![0.0; n],
            sh_degree,
            sh: vec![0.0; n * k * 3],
            normals: None,
            extras: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// Coefficients per colour channel, `(degree + 1)²`.
    pub fn coeffs_per_channel(&self) -> usize {
        sh::coeff_count(self.sh_degree)
    }

    /// The `K × 3` SH block of Gaussian `i`.
    pub fn sh_of(&self, i: usize) -> &[f32] {
        let n = self.coeffs_per_channel() * 3;
        &self.sh[i * n..(i + 1) * n]
    }

    /// Gaussian `i`'s base colour: its SH degree-0 term, the colour without view dependence.
    pub fn base_colour(&self, i: usize) -> [f32; 3] {
        let dc = &self.sh_of(i)[..3];
        std::array::from_fn(|c| 0.5 + crate::sh::SH_C0 * dc[c])
    }

    pub fn sh_of_mut(&mut self, i: usize) -> &mut [f32] {
        let n = self.coeffs_per_channel() * 3;
        &mut self.sh[i * n..(i + 1) * n]
    }

    /// Column lengths all agree with the Gaussian count.
    pub fn is_consistent(&self) -> bool {
        let n = self.len();
        self.rotations.len() == n
            && self.log_scales.len() == n
            && self.opacities.len() == n
            && self.sh.len() == n * self.coeffs_per_channel() * 3
            && self.normals.as_ref().is_none_or(|v| v.len() == n)
            && self.extras.iter().all(|e| e.values.len() == n)
    }

    /// Keeps the Gaussians for which `keep(i)` is true, in order.
    pub fn retain_indices(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mask: Vec<bool> = (0..self.len()).map(&mut keep).collect();
        if mask.iter().all(|&k| k) {
            return;
        }
        *self = self.select(&mask);
    }

    /// A new cloud holding the Gaussians whose mask entry is true, in order.
    pub fn select(&self, mask: &[bool]) -> GaussianCloud {
        assert_eq!(mask.len(), self.len(), "mask length must equal the Gaussian count");
        fn pick<T: Clone>(v: &[T], mask: &[bool]) -> Vec<T> {
            v.iter().zip(mask).filter(|(_, k)| **k).map(|(x, _)| x.clone()).collect()
        }
        let stride = self.coeffs_per_channel() * 3;
        let mut sh = Vec::with_capacity(mask.iter().filter(|k| **k).count() * stride);
        for (block, _) in self.sh.chunks_exact(stride.max(1)).zip(mask).filter(|(_, k)| **k) {
            sh.extend_from_slice(block);
        }
        GaussianCloud {
            positions: pick(&self.positions, mask),
            rotations: pick(&self.rotations, mask),
            log_scales: pick(&self.log_scales, mask),
            opacities: pick(&self.opacities, mask),
            sh_degree: self.sh_degree,
            sh,
            normals: self.normals.as_ref().map(|n| pick(n, mask)),
            extras: self
                .extras
                .iter()
                .map(|e| ExtraColumn { name: e.name.clone(), kind: e.kind, values: pick(&e.values, mask) })
                .collect(),
        }
    }

    /// A new cloud holding the Gaussians `range` (a stretch of a large cloud, copied).
    pub fn rows(&self, range: std::ops::Range<usize>) -> GaussianCloud {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        let stride = self.coeffs_per_channel() * 3;
        GaussianCloud {
            positions: self.positions[start..end].to_vec(),
            rotations: self.rotations[start..end].to_vec(),
            log_scales: self.log_scales[start..end].to_vec(),
            opacities: self.opacities[start..end].to_vec(),
            sh_degree: self.sh_degree,
            sh: self.sh[start * stride..end * stride].to_vec(),
            normals: self.normals.as_ref().map(|n| n[start..end].to_vec()),
            extras: self
                .extras
                .iter()
                .map(|e| ExtraColumn { name: e.name.clone(), kind: e.kind, values: e.values[start..end].to_vec() })
                .collect(),
        }
    }

    /// Drops SH bands above `degree`; a no-op when the cloud already has no more than that.
    pub fn truncate_sh_degree(&mut self, degree: u8) {
        if degree >= self.sh_degree {
            return;
        }
        let old = self.coeffs_per_channel() * 3;
        let new = sh::coeff_count(degree) * 3;
        let mut sh = Vec::with_capacity(self.len() * new);
        for block in self.sh.chunks_exact(old) {
            sh.extend_from_slice(&block[..new]);
        }
        self.sh = sh;
        self.sh_degree = degree;
    }

    /// Appends all Gaussians of `other`. SH degrees must match; extras are kept only when both
    /// clouds carry the same extra columns (otherwise they are dropped), normals likewise.
    pub fn append(&mut self, other: &GaussianCloud) {
        assert_eq!(self.sh_degree, other.sh_degree, "append needs equal SH degrees");
        let extras_match = self.extras.len() == other.extras.len()
            && self.extras.iter().zip(&other.extras).all(|(a, b)| a.name == b.name && a.kind == b.kind);
        if extras_match {
            for (a, b) in self.extras.iter_mut().zip(&other.extras) {
                a.values.extend_from_slice(&b.values);
            }
        } else {
            self.extras.clear();
        }
        self.normals = match (self.normals.take(), &other.normals) {
            (Some(mut a), Some(b)) => {
                a.extend_from_slice(b);
                Some(a)
            }
            _ => None,
        };
        self.positions.extend_from_slice(&other.positions);
        self.rotations.extend_from_slice(&other.rotations);
        self.log_scales.extend_from_slice(&other.log_scales);
        self.opacities.extend_from_slice(&other.opacities);
        self.sh.extend_from_slice(&other.sh);
    }

    /// Axis-aligned box of the finite centres, or `None` when there are none.
    pub fn bounds(&self) -> Option<(glam::Vec3, glam::Vec3)> {
        let finite = self.positions.iter().map(|p| glam::Vec3::from(*p)).filter(|p| p.is_finite());
        finite.fold(None, |acc, p| match acc {
            None => Some((p, p)),
            Some((lo, hi)) => Some((lo.min(p), hi.max(p))),
        })
    }

    /// Indices of Gaussians that hold a NaN or infinite value in any standard attribute. An
    /// opacity logit of ±∞ is not damage but an opacity of exactly 1 or 0 (chunk-quantized files
    /// decode to them, splat-transform writes them): only a NaN opacity counts.
    pub fn non_finite_indices(&self) -> Vec<usize> {
        use rayon::prelude::*;
        let stride = self.coeffs_per_channel() * 3;
        (0..self.len())
            .into_par_iter()
            .filter(|&i| {
                !(self.positions[i].iter().all(|v| v.is_finite())
                    && self.rotations[i].iter().all(|v| v.is_finite())
                    && self.log_scales[i].iter().all(|v| v.is_finite())
                    && !self.opacities[i].is_nan()
                    && self.sh[i * stride..(i + 1) * stride].iter().all(|v| v.is_finite()))
            })
            .collect()
    }

    /// Normalizes every rotation quaternion; a zero quaternion becomes the identity.
    pub fn normalize_rotations(&mut self) {
        for q in &mut self.rotations {
            let n = (q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]).sqrt();
            if n > 0.0 && n.is_finite() {
                for c in q.iter_mut() {
                    *c /= n;
                }
            } else if n == 0.0 {
                *q = [1.0, 0.0, 0.0, 0.0];
            }
        }
    }
}

/// Logistic function: opacity logit → opacity.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Inverse of [`sigmoid`], with the input clamped away from 0 and 1.
pub fn logit(p: f32) -> f32 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_and_truncate_keep_columns_consistent() {
        let mut c = GaussianCloud::with_len(4, 3);
        for (i, v) in c.sh.iter_mut().enumerate() {
            *v = i as f32;
        }
        c.extras.push(ExtraColumn { name: "t".into(), kind: ScalarKind::UInt, values: vec![1.0, 2.0, 3.0, 4.0] });
        let s = c.select(&[true, false, true, false]);
        assert!(s.is_consistent());
        assert_eq!(s.len(), 2);
        assert_eq!(s.extras[0].values, vec![1.0, 3.0]);
        assert_eq!(s.sh_of(1)[0], (2 * 48) as f32);
        let mut t = s.clone();
        t.truncate_sh_degree(1);
        assert!(t.is_consistent());
        assert_eq!(t.sh_of(1), &s.sh_of(1)[..12]);
    }

    #[test]
    fn logit_inverts_sigmoid() {
        for x in [-5.0f32, -0.3, 0.0, 2.0, 7.0] {
            assert!((logit(sigmoid(x)) - x).abs() < 1e-3);
        }
    }
}
