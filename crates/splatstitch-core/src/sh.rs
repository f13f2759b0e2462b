//! Real spherical harmonics in the convention of the reference 3DGS implementation, and their
//! exact rotation.
//!
//! Rotating a Gaussian by R must leave its appearance attached to it: the colour seen along
//! `R·v` afterwards equals the colour seen along `v` before. Each band `l` is a
//! (2l+1)-dimensional space closed under rotation, so the rotated coefficients are
//! `c' = D_l(R)·c` for an exact matrix `D_l`. We obtain `D_l` from the basis polynomials
//! themselves: for fixed directions `p_j` spread over the sphere, `Y·D = Y_R` with
//! `Y[j] = B_l(p_j)` and `Y_R[j] = B_l(Rᵀ·p_j)`, solved in f64 through the pseudo-inverse of
//! `Y` (computed once). Because the band is closed under rotation this system is consistent, so
//! its solution is the representation matrix itself (to f64 rounding), not a fit; it also
//! sidesteps the sign conventions of Wigner-D recursions.

use glam::{DMat3, DVec3, Mat3};
use std::sync::OnceLock;

pub const SH_C0: f32 = 0.282_094_8;
const C0: f64 = 0.282_094_791_773_878_14;
const C1: f64 = 0.488_602_511_902_919_9;
const C2: [f64; 5] = [
    1.092_548_430_592_079_2,
    -1.092_548_430_592_079_2,
    0.315_391_565_252_520_05,
    -1.092_548_430_592_079_2,
    0.546_274_215_296_039_6,
];
const C3: [f64; 7] = [
    -0.590_043_589_926_643_5,
    2.890_611_442_640_554,
    -0.457_045_799_464_465_8,
    0.373_176_332_590_115_4,
    -0.457_045_799_464_465_8,
    1.445_305_721_320_277,
    -0.590_043_589_926_643_5,
];

/// Coefficients per colour channel for SH degree `d`: `(d + 1)²`.
pub const fn coeff_count(degree: u8) -> usize {
    let d = degree as usize + 1;
    d * d
}

/// SH degree for a number of PLY `f_rest_*` properties (0, 9, 24, 45).
pub fn degree_for_rest_count(rest: usize) -> Option<u8> {
    match rest {
        0 => Some(0),
        9 => Some(1),
        24 => Some(2),
        45 => Some(3),
        _ => None,
    }
}

/// The basis functions of band `l` at unit direction `v`, in coefficient order.
fn band_basis(l: usize, v: DVec3, out: &mut [f64]) {
    let (x, y, z) = (v.x, v.y, v.z);
    match l {
        0 => out[0] = C0,
        1 => {
            out[0] = -C1 * y;
            out[1] = C1 * z;
            out[2] = -C1 * x;
        }
        2 => {
            let (xx, yy, zz) = (x * x, y * y, z * z);
            out[0] = C2[0] * x * y;
            out[1] = C2[1] * y * z;
            out[2] = C2[2] * (2.0 * zz - xx - yy);
            out[3] = C2[3] * x * z;
            out[4] = C2[4] * (xx - yy);
        }
        3 => {
            let (xx, yy, zz) = (x * x, y * y, z * z);
            out[0] = C3[0] * y * (3.0 * xx - yy);
            out[1] = C3[1] * x * y * z;
            out[2] = C3[2] * y * (4.0 * zz - xx - yy);
            out[3] = C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy);
            out[4] = C3[4] * x * (4.0 * zz - xx - yy);
            out[5] = C3[5] * z * (xx - yy);
            out[6] = C3[6] * x * (xx - 3.0 * yy);
        }
        _ => unreachable!("SH bands above 3 are not supported"),
    }
}

/// All basis values up to `degree` at unit direction `v` (length `(degree+1)²`).
pub fn basis(degree: u8, v: DVec3) -> Vec<f64> {
    let mut out = vec![0.0; coeff_count(degree)];
    for l in 0..=degree as usize {
        band_basis(l, v, &mut out[l * l..(l + 1) * (l + 1)]);
    }
    out
}

/// Colour of one Gaussian seen along unit direction `dir` (camera → Gaussian): the 3DGS rule
/// `max(Σ B_k(dir)·c_k + 0.5, 0)`. `coeffs` is the `K × 3` block of [`crate::GaussianCloud::sh`].
pub fn eval_color(degree: u8, coeffs: &[f32], dir: glam::Vec3) -> [f32; 3] {
    let b = basis(degree, dir.as_dvec3().normalize());
    let mut rgb = [0.5f64; 3];
    for (k, bk) in b.iter().enumerate() {
        for (c, out) in rgb.iter_mut().enumerate() {
            *out += bk * coeffs[k * 3 + c] as f64;
        }
    }
    rgb.map(|v| v.max(0.0) as f32)
}

/// Fixed directions spread over the sphere (Fibonacci points), several times more than the
/// band's dimension so `Y` has full column rank with a good condition number.
fn probe_directions(n: usize) -> Vec<DVec3> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|i| {
            let y = 1.0 - 2.0 * (i as f64 + 0.5) / n as f64;
            let r = (1.0 - y * y).sqrt();
            let t = golden * i as f64 + 0.3;
            DVec3::new(r * t.cos(), y, r * t.sin()).normalize()
        })
        .collect()
}

/// Row-major `n × n` inverse by Gauss–Jordan elimination with partial pivoting.
fn invert(mut a: Vec<f64>, n: usize) -> Vec<f64> {
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    for col in 0..n {
        let pivot =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs())).expect("non-empty range");
        assert!(a[pivot * n + col].abs() > 1e-9, "SH probe matrix is singular");
        for k in 0..n {
            a.swap(col * n + k, pivot * n + k);
            inv.swap(col * n + k, pivot * n + k);
        }
        let p = a[col * n + col];
        for k in 0..n {
            a[col * n + k] /= p;
            inv[col * n + k] /= p;
        }
        for row in 0..n {
            if row != col {
                let f = a[row * n + col];
                if f != 0.0 {
                    for k in 0..n {
                        a[row * n + k] -= f * a[col * n + k];
                        inv[row * n + k] -= f * inv[col * n + k];
                    }
                }
            }
        }
    }
    inv
}

struct BandProbe {
    dirs: Vec<DVec3>,
    /// `(YᵀY)⁻¹Yᵀ`, row-major `n × m`.
    pinv: Vec<f64>,
}

fn probes() -> &'static [BandProbe; 3] {
    static PROBES: OnceLock<[BandProbe; 3]> = OnceLock::new();
    PROBES.get_or_init(|| {
        std::array::from_fn(|i| {
            let l = i + 1;
            let n = 2 * l + 1;
            let m = 4 * n;
            let dirs = probe_directions(m);
            let mut y = vec![0.0; m * n];
            for (j, d) in dirs.iter().enumerate() {
                band_basis(l, *d, &mut y[j * n..(j + 1) * n]);
            }
            let mut yty = vec![0.0; n * n];
            for a in 0..n {
                for b in 0..n {
                    yty[a * n + b] = (0..m).map(|j| y[j * n + a] * y[j * n + b]).sum();
                }
            }
            let inv = invert(yty, n);
            let mut pinv = vec![0.0; n * m];
            for a in 0..n {
                for j in 0..m {
                    pinv[a * m + j] = (0..n).map(|b| inv[a * n + b] * y[j * n + b]).sum();
                }
            }
            BandProbe { dirs, pinv }
        })
    })
}

/// The exact rotation matrices `D_1, D_2, D_3` (row-major, (2l+1)² each) for rotation `r`.
#[derive(Debug, Clone)]
pub struct ShRotation {
    bands: [Vec<f64>; 3],
}

impl ShRotation {
    pub fn new(r: Mat3) -> Self {
        let rt: DMat3 = r.as_dmat3().transpose();
        let bands = std::array::from_fn(|i| {
            let l = i + 1;
            let n = 2 * l + 1;
            let probe = &probes()[i];
            let m = probe.dirs.len();
            let mut yr = vec![0.0; m * n];
            for (j, d) in probe.dirs.iter().enumerate() {
                band_basis(l, rt * *d, &mut yr[j * n..(j + 1) * n]);
            }
            let mut d = vec![0.0; n * n];
            for row in 0..n {
                for col in 0..n {
                    d[row * n + col] = (0..m).map(|k| probe.pinv[row * m + k] * yr[k * n + col]).sum();
                }
            }
            d
        });
        Self { bands }
    }

    /// The matrix of band `l` (1..=3), row-major.
    pub fn band(&self, l: usize) -> &[f64] {
        &self.bands[l - 1]
    }

    /// Rotates one Gaussian's `K × 3` coefficient block in place (bands 1..=degree).
    pub fn apply(&self, degree: u8, coeffs: &mut [f32]) {
        let mut tmp = [0f64; 7];
        for l in 1..=degree as usize {
            let n = 2 * l + 1;
            let base = l * l;
            let d = &self.bands[l - 1];
            for c in 0..3 {
                for (row, t) in tmp.iter_mut().enumerate().take(n) {
                    *t = (0..n).map(|k| d[row * n + k] * coeffs[(base + k) * 3 + c] as f64).sum();
                }
                for (row, t) in tmp.iter().enumerate().take(n) {
                    coeffs[(base + row) * 3 + c] = *t as f32;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glam::{EulerRot, Quat, Vec3};

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    #[test]
    fn rotated_gaussian_seen_along_rotated_direction_keeps_its_colour() {
        let mut seed = 7u64;
        for degree in 1..=3u8 {
            let k = coeff_count(degree);
            for trial in 0..20 {
                let coeffs: Vec<f32> = (0..k * 3).map(|_| lcg(&mut seed) * 0.5).collect();
                let q = Quat::from_euler(
                    EulerRot::ZYX,
                    lcg(&mut seed) * 3.1,
                    lcg(&mut seed) * 1.5,
                    lcg(&mut seed) * 3.1 + trial as f32 * 0.01,
                );
                let r = Mat3::from_quat(q);
                let mut rotated = coeffs.clone();
                ShRotation::new(r).apply(degree, &mut rotated);
                for _ in 0..16 {
                    let v = Vec3::new(lcg(&mut seed), lcg(&mut seed), lcg(&mut seed)).normalize();
                    let before = eval_color(degree, &coeffs, v);
                    let after = eval_color(degree, &rotated, r * v);
                    for c in 0..3 {
                        assert!((before[c] - after[c]).abs() < 1e-5, "degree {degree}: {before:?} vs {after:?}");
                    }
                }
            }
        }
    }

    #[test]
    // R is f32 (as everywhere in the cloud), so D is orthogonal to f32 precision.
    fn band_matrices_are_orthogonal_and_compose() {
        let a = Mat3::from_quat(Quat::from_euler(EulerRot::XYZ, 0.3, -1.2, 2.0));
        let b = Mat3::from_quat(Quat::from_euler(EulerRot::XYZ, -0.7, 0.4, 0.9));
        let (da, db, dab) = (ShRotation::new(a), ShRotation::new(b), ShRotation::new(a * b));
        for l in 1..=3 {
            let n = 2 * l + 1;
            let (ma, mb, mab) = (da.band(l), db.band(l), dab.band(l));
            for i in 0..n {
                for j in 0..n {
                    let dot: f64 = (0..n).map(|k| ma[i * n + k] * ma[j * n + k]).sum();
                    assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 2e-6, "l={l} i={i} j={j} dot={dot}");
                    let prod: f64 = (0..n).map(|k| ma[i * n + k] * mb[k * n + j]).sum();
                    assert!((prod - mab[i * n + j]).abs() < 2e-6);
                }
            }
        }
    }

    #[test]
    fn identity_leaves_coefficients_unchanged() {
        let coeffs: Vec<f32> = (0..48).map(|i| i as f32 * 0.01 - 0.2).collect();
        let mut out = coeffs.clone();
        ShRotation::new(Mat3::IDENTITY).apply(3, &mut out);
        for (a, b) in coeffs.iter().zip(&out) {
            assert!((a - b).abs() < 1e-6);
        }
    }
}
