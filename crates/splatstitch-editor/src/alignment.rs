//! Aligning one layer to another: a similarity transform from three or more picked point pairs
//! (closed form: Horn's quaternion method, the same optimum as Umeyama's), then optional ICP on
//! nearby Gaussian centres, with the residual reported.

use glam::{DMat3, DQuat, DVec3, Quat, Vec3};
use splatstitch_core::Similarity;
use splatstitch_stitch::boundary::CentreIndex;

/// The fitted transform and its root-mean-square residual over the pairs used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub transform: Similarity,
    pub rms: f32,
    pub pairs: usize,
}

/// Eigenvector of the largest eigenvalue of a symmetric 4×4 matrix (cyclic Jacobi).
fn top_eigenvector(mut a: [[f64; 4]; 4]) -> [f64; 4] {
    let mut v = [[0.0; 4]; 4];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _ in 0..64 {
        let off: f64 = (0..4)
            .flat_map(|i| (0..4).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i][j] * a[i][j])
            .sum();
        if off < 1e-24 {
            break;
        }
        for p in 0..4 {
            for q in p + 1..4 {
                if a[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for row in a.iter_mut() {
                    let (akp, akq) = (row[p], row[q]);
                    row[p] = c * akp - s * akq;
                    row[q] = s * akp + c * akq;
                }
                let (rp, rq) = (a[p], a[q]);
                for k in 0..4 {
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
    }
    let best = (0..4).max_by(|&i, &j| a[i][i].total_cmp(&a[j][j])).expect("four eigenvalues");
    [v[0][best], v[1][best], v[2][best], v[3][best]]
}

/// The similarity `T` minimizing `Σ |T(src_i) − dst_i|²`; `None` for fewer than 3 pairs or
/// degenerate (collinear) ones.
pub fn fit_similarity(src: &[Vec3], dst: &[Vec3]) -> Option<Fit> {
    let n = src.len().min(dst.len());
    if n < 3 {
        return None;
    }
    let s: Vec<DVec3> = src[..n].iter().map(|p| p.as_dvec3()).collect();
    let d: Vec<DVec3> = dst[..n].iter().map(|p| p.as_dvec3()).collect();
    let (cs, cd) = (s.iter().sum::<DVec3>() / n as f64, d.iter().sum::<DVec3>() / n as f64);
    let mut m = DMat3::ZERO; // Σ s' d'ᵀ
    let mut ss = 0.0;
    for (a, b) in s.iter().zip(&d) {
        let (a, b) = (*a - cs, *b - cd);
        m += DMat3::from_cols(a * b.x, a * b.y, a * b.z);
        ss += a.length_squared();
    }
    if ss < 1e-18 {
        return None;
    }
    let (sxx, sxy, sxz) = (m.x_axis.x, m.y_axis.x, m.z_axis.x);
    let (syx, syy, syz) = (m.x_axis.y, m.y_axis.y, m.z_axis.y);
    let (szx, szy, szz) = (m.x_axis.z, m.y_axis.z, m.z_axis.z);
    let k = [
        [sxx + syy + szz, syz - szy, szx - sxz, sxy - syx],
        [syz - szy, sxx - syy - szz, sxy + syx, szx + sxz],
        [szx - sxz, sxy + syx, -sxx + syy - szz, syz + szy],
        [sxy - syx, szx + sxz, syz + szy, -sxx - syy + szz],
    ];
    let [w, x, y, z] = top_eigenvector(k);
    let q = DQuat::from_xyzw(x, y, z, w).normalize();
    if !q.is_finite() {
        return None;
    }
    let dot: f64 = s.iter().zip(&d).map(|(a, b)| (*b - cd).dot(q * (*a - cs))).sum();
    let scale = dot / ss;
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    let translation = cd - q * (cs * scale);
    let transform = Similarity {
        scale: scale as f32,
        rotation: Quat::from_xyzw(q.x as f32, q.y as f32, q.z as f32, q.w as f32),
        translation: translation.as_vec3(),
    };
    let rms = (s.iter().zip(&d).map(|(a, b)| (q * (*a * scale) + translation - *b).length_squared()).sum::<f64>()
        / n as f64)
        .sqrt() as f32;
    Some(Fit { transform, rms, pairs: n })
}

/// Refines `start` by iterative closest points: `moving`'s centres (world = `start` applied)
/// matched to `fixed`'s nearest centres within `max_distance`, a similarity refit each round.
pub fn icp(moving: &[Vec3], fixed: &[Vec3], start: Similarity, max_distance: f32, rounds: usize) -> Option<Fit> {
    let index = CentreIndex::from_points(&fixed.iter().map(|p| p.to_array()).collect::<Vec<_>>())?;
    let mut current = start;
    let mut last = None;
    for _ in 0..rounds {
        let (mut src, mut dst) = (Vec::new(), Vec::new());
        for p in moving {
            let w = current.transform_point(*p);
            if let Some((j, d)) = index.nearest(&w.to_array(), 1).first().copied()
                && d <= max_distance
            {
                src.push(*p);
                dst.push(fixed[j as usize]);
            }
        }
        let fit = fit_similarity(&src, &dst)?;
        let done = last.is_some_and(|l: Fit| (l.rms - fit.rms).abs() <= 1e-6 * l.rms.max(1e-12));
        current = fit.transform;
        last = Some(fit);
        if done {
            break;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;
    use splatstitch_core::transform::euler_deg_to_quat;

    fn points(n: usize, seed: u32) -> Vec<Vec3> {
        let mut x = seed;
        let mut r = || {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        (0..n).map(|_| Vec3::new(r(), r(), r())).collect()
    }

    #[test]
    fn recovers_a_known_similarity_from_noisy_picks() {
        let truth = Similarity {
            scale: 1.7,
            rotation: euler_deg_to_quat([20.0, -35.0, 110.0]),
            translation: Vec3::new(0.3, -1.2, 2.0),
        };
        let src = points(6, 1);
        let noise = points(6, 2);
        let dst: Vec<Vec3> = src.iter().zip(&noise).map(|(p, e)| truth.transform_point(*p) + *e * 0.01).collect();
        let fit = fit_similarity(&src, &dst).unwrap();
        let angle = fit.transform.rotation.angle_between(truth.rotation).to_degrees();
        let scale_err = (fit.transform.scale / truth.scale - 1.0).abs();
        let t_err = (fit.transform.translation - truth.translation).length();
        eprintln!(
            "6 picks, 1 cm noise: rotation error {angle:.3}°, scale {scale_err:.4}, translation {t_err:.4}, rms {:.4}",
            fit.rms
        );
        assert!(angle < 1.5 && scale_err < 0.02 && t_err < 0.03 && fit.rms < 0.02);
        // Exact pairs: exact fit.
        let exact: Vec<Vec3> = src.iter().map(|p| truth.transform_point(*p)).collect();
        let f = fit_similarity(&src, &exact).unwrap();
        assert!(f.rms < 1e-5 && f.transform.rotation.angle_between(truth.rotation) < 1e-3);
        assert!(fit_similarity(&src[..2], &exact[..2]).is_none());
    }

    #[test]
    fn icp_refines_a_rough_alignment() {
        let cloud = points(2000, 3);
        let truth = Similarity {
            scale: 1.0,
            rotation: euler_deg_to_quat([0.0, 0.0, 8.0]),
            translation: Vec3::new(0.05, 0.0, 0.0),
        };
        let fixed: Vec<Vec3> = cloud.iter().map(|p| truth.transform_point(*p)).collect();
        let rough = Similarity {
            scale: 1.0,
            rotation: euler_deg_to_quat([0.0, 0.0, 5.0]),
            translation: Vec3::new(0.03, 0.01, 0.0),
        };
        let fit = icp(&cloud, &fixed, rough, 0.2, 50).unwrap();
        let err = cloud
            .iter()
            .map(|p| (fit.transform.transform_point(*p) - truth.transform_point(*p)).length())
            .fold(0.0, f32::max);
        assert!(err < 1e-3, "ICP error {err}, rms {}", fit.rms);
    }
}
