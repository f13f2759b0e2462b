//! The 3 × 3 symmetric-matrix algebra the colour-matrix estimator needs (f64): eigenvectors by
//! Jacobi rotations, matrix square roots and their inverses.

use glam::{DMat3, DVec3};

/// Eigenvalues and eigenvectors (columns) of a symmetric matrix, by cyclic Jacobi rotations.
pub fn symmetric_eigen(m: DMat3) -> (DVec3, DMat3) {
    // Indexed [row][column]; symmetric, so glam's column arrays read the same.
    let mut a = m.to_cols_array_2d();
    let mut v = DMat3::IDENTITY.to_cols_array_2d();
    for _ in 0..32 {
        let off = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
        if off < 1e-30 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q].abs() < 1e-300 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
            // a ← Jᵀ a J with J the rotation in the (p, q) plane (a is symmetric: columns = rows).
            for row in a.iter_mut() {
                let (akp, akq) = (row[p], row[q]);
                row[p] = c * akp - s * akq;
                row[q] = s * akp + c * akq;
            }
            let (rp, rq) = (a[p], a[q]);
            for k in 0..3 {
                a[p][k] = c * rp[k] - s * rq[k];
                a[q][k] = s * rp[k] + c * rq[k];
            }
            for row in v.iter_mut() {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    // `v[k]` is row k of V, whose columns are the eigenvectors.
    let vectors = DMat3::from_cols_array_2d(&v).transpose();
    (DVec3::new(a[0][0], a[1][1], a[2][2]), vectors)
}

/// `S^{power}` of a symmetric positive-definite matrix, or `None` if it is not positive definite.
pub fn spd_power(m: DMat3, power: f64) -> Option<DMat3> {
    let sym = (m + m.transpose()) * 0.5;
    let (values, vectors) = symmetric_eigen(sym);
    let largest = values.max_element();
    if largest.is_nan() || largest <= 0.0 || values.min_element() <= largest * 1e-9 {
        return None;
    }
    let d = DMat3::from_diagonal(DVec3::new(values.x.powf(power), values.y.powf(power), values.z.powf(power)));
    Some(vectors * d * vectors.transpose())
}

/// Solves `a·x = b` (N × N, row-major) by Gaussian elimination with partial pivoting; `None`
/// when `a` is singular to working precision.
pub fn solve<const N: usize>(mut a: [[f64; N]; N], mut b: [f64; N]) -> Option<[f64; N]> {
    let scale = a.iter().flatten().fold(0f64, |m, v| m.max(v.abs()));
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col];
        for row in col + 1..N {
            let f = a[row][col] / pivot_row[col];
            for (v, p) in a[row].iter_mut().zip(&pivot_row).skip(col) {
                *v -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0f64; N];
    for row in (0..N).rev() {
        let tail: f64 = (row + 1..N).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - tail) / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigen_and_square_roots_reconstruct() {
        let m = DMat3::from_cols_array_2d(&[[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]);
        let (values, vectors) = symmetric_eigen(m);
        let back = vectors * DMat3::from_diagonal(values) * vectors.transpose();
        assert!((back - m).to_cols_array().iter().all(|d| d.abs() < 1e-9), "{back:?}");
        let root = spd_power(m, 0.5).unwrap();
        assert!(((root * root) - m).to_cols_array().iter().all(|d| d.abs() < 1e-9));
        let inv_root = spd_power(m, -0.5).unwrap();
        assert!(((inv_root * root) - DMat3::IDENTITY).to_cols_array().iter().all(|d| d.abs() < 1e-9));
        let singular = DMat3::from_cols_array_2d(&[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]);
        assert!(spd_power(singular, 0.5).is_none());
    }
}
