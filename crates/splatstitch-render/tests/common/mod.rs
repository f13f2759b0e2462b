//! Shared by the render tests: real data, and an independent, straightforward per-pixel
//! implementation of the reference 3DGS / gsplat rules (f64, no tiles, no culling beyond the
//! rules themselves) to compare both rasterizers against.
#![allow(dead_code)]

use glam::{DMat3, DQuat, DVec3};
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_core::{GaussianCloud, Similarity};
use splatstitch_render::{Camera, Image};

pub fn data(name: &str) -> GaussianCloud {
    let path = splatstitch_core::test_data::capture(name).unwrap_or_else(|e| panic!("{e}"));
    formats::load(&path, &LoadOptions::default()).unwrap().cloud
}

/// One Gaussian after projection, in f64.
pub struct Splat {
    depth: f64,
    mean: [f64; 2],
    conic: [f64; 3],
    opacity: f64,
    color: [f64; 3],
}

pub fn sh_basis(d: DVec3) -> [f64; 16] {
    let (x, y, z) = (d.x, d.y, d.z);
    let (xx, yy, zz) = (x * x, y * y, z * z);
    [
        0.28209479177387814,
        -0.4886025119029199 * y,
        0.4886025119029199 * z,
        -0.4886025119029199 * x,
        1.0925484305920792 * x * y,
        -1.0925484305920792 * y * z,
        0.31539156525252005 * (2.0 * zz - xx - yy),
        -1.0925484305920792 * x * z,
        0.5462742152960396 * (xx - yy),
        -0.5900435899266435 * y * (3.0 * xx - yy),
        2.890611442640554 * x * y * z,
        -0.4570457994644658 * y * (4.0 * zz - xx - yy),
        0.3731763325901154 * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
        -0.4570457994644658 * x * (4.0 * zz - xx - yy),
        1.445305721320277 * z * (xx - yy),
        -0.5900435899266435 * x * (xx - 3.0 * yy),
    ]
}

/// The rules, written out plainly: EWA projection with gsplat's Jacobian clamp and the 0.3 px
/// low-pass, SH colour with the view direction in the layer's frame, near plane 0.01.
pub fn project(layers: &[(&GaussianCloud, Similarity)], cam: &Camera, sh_degree: u8) -> Vec<Splat> {
    let view = cam.view.as_dmat4();
    let w = DMat3::from_mat4(view);
    let cam_pos = view.inverse().transform_point3(DVec3::ZERO);
    let (fx, fy, cx, cy) = (cam.fx as f64, cam.fy as f64, cam.cx as f64, cam.cy as f64);
    let (width, height) = (cam.width as f64, cam.height as f64);
    let mut out = Vec::new();
    for (cloud, t) in layers {
        let lr = DMat3::from_quat(t.rotation.as_dquat().normalize());
        for i in 0..cloud.len() {
            let pw = lr * DVec3::from(cloud.positions[i].map(f64::from)) * t.scale as f64 + t.translation.as_dvec3();
            let p = w * pw + view.w_axis.truncate();
            if !p.is_finite() || p.z <= 0.01 {
                continue;
            }
            let [qw, qx, qy, qz] = cloud.rotations[i].map(f64::from);
            // A zero quaternion carries no orientation: it counts as the identity.
            let q = DQuat::from_xyzw(qx, qy, qz, qw);
            let q = if q.length() > 0.0 { q.normalize() } else { DQuat::IDENTITY };
            let s = DVec3::from(cloud.log_scales[i].map(f64::from)).exp() * t.scale as f64;
            let m = lr * DMat3::from_quat(q) * DMat3::from_diagonal(s);
            let sigma = w * (m * m.transpose()) * w.transpose();
            let lim = |size: f64, f: f64, c: f64| ((size - c) / f + 0.3 * 0.5 * size / f, c / f + 0.3 * 0.5 * size / f);
            let (xp, xn) = lim(width, fx, cx);
            let (yp, yn) = lim(height, fy, cy);
            let tx = p.z * (p.x / p.z).clamp(-xn, xp);
            let ty = p.z * (p.y / p.z).clamp(-yn, yp);
            let j = DMat3::from_cols(
                DVec3::new(fx / p.z, 0.0, 0.0),
                DVec3::new(0.0, fy / p.z, 0.0),
                DVec3::new(-fx * tx / (p.z * p.z), -fy * ty / (p.z * p.z), 0.0),
            );
            let c2 = j * sigma * j.transpose();
            let (a, b, c) = (c2.x_axis.x + 0.3, c2.y_axis.x, c2.y_axis.y + 0.3);
            let det = a * c - b * b;
            if det <= 0.0 {
                continue;
            }
            let dir = lr.transpose() * (pw - cam_pos).normalize();
            let basis = sh_basis(dir);
            let k = (sh_degree.min(cloud.sh_degree) as usize + 1).pow(2);
            let coeffs = cloud.sh_of(i);
            let color = std::array::from_fn(|ch| {
                (0.5 + (0..k).map(|j| basis[j] * coeffs[j * 3 + ch] as f64).sum::<f64>()).max(0.0)
            });
            out.push(Splat {
                depth: p.z,
                mean: [fx * p.x / p.z + cx, fy * p.y / p.z + cy],
                conic: [c / det, -b / det, a / det],
                opacity: 1.0 / (1.0 + (-cloud.opacities[i] as f64).exp()),
                color,
            });
        }
    }
    out.sort_by(|a, b| a.depth.total_cmp(&b.depth));
    out
}

pub fn reference_render(layers: &[(&GaussianCloud, Similarity)], cam: &Camera, bg: [f32; 3], sh_degree: u8) -> Image {
    let splats = project(layers, cam, sh_degree);
    let mut img = Image::new(cam.width, cam.height);
    for y in 0..cam.height {
        for x in 0..cam.width {
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let mut t = 1.0f64;
            let mut c = [0.0f64; 3];
            for s in &splats {
                let (dx, dy) = (s.mean[0] - px, s.mean[1] - py);
                let sigma = 0.5 * (s.conic[0] * dx * dx + s.conic[2] * dy * dy) + s.conic[1] * dx * dy;
                if sigma < 0.0 {
                    continue;
                }
                let alpha = (s.opacity * (-sigma).exp()).min(0.999);
                if alpha < 1.0 / 255.0 {
                    continue;
                }
                let next = t * (1.0 - alpha);
                if next <= 1e-4 {
                    break;
                }
                for (ck, sk) in c.iter_mut().zip(s.color) {
                    *ck += sk * alpha * t;
                }
                t = next;
            }
            img.rgba[(y * cam.width + x) as usize] = [
                (c[0] + t * bg[0] as f64) as f32,
                (c[1] + t * bg[1] as f64) as f32,
                (c[2] + t * bg[2] as f64) as f32,
                (1.0 - t) as f32,
            ];
        }
    }
    img
}
