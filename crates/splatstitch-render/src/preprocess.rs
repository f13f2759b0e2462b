//! Per-Gaussian preprocessing: cull, project the 3D covariance to a 2D conic (EWA splatting
//! with the +0.3 px low-pass), evaluate the view-dependent colour in the layer's own frame,
//! and bound the screen extent by where alpha can still reach 1/255.

use crate::camera::Camera;
use crate::scene::RenderScene;
use glam::{Mat3, Quat, Vec3};
use rayon::prelude::*;
use splatstitch_core::LayerFlags;
use splatstitch_core::cloud::sigmoid;

pub const TILE: u32 = 16;
pub const NEAR: f32 = 0.01;
pub const LOW_PASS: f32 = 0.3;
pub const ALPHA_MIN: f32 = 1.0 / 255.0;
pub const ALPHA_MAX: f32 = 0.999;
pub const T_MIN: f32 = 1e-4;
/// Colour mixed into selected Gaussians, half and half.
pub const HIGHLIGHT: [f32; 3] = [1.0, 0.75, 0.1];

/// A Gaussian as seen by one camera.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Projected {
    /// Global index: the layer's offset plus the index within the layer.
    pub id: u32,
    /// Centre in pixels (pixel `x` has its centre at `x + 0.5`).
    pub mean: [f32; 2],
    /// Inverse 2D covariance `(a, b, c)`: σ = ½(a·dx² + c·dy²) + b·dx·dy.
    pub conic: [f32; 3],
    pub depth: f32,
    pub opacity: f32,
    /// σ beyond which α falls under [`ALPHA_MIN`]: `ln(opacity / ALPHA_MIN)`. Testing it first
    /// spares the exponential (and its slow underflow path) for most of a tile's Gaussians.
    pub sigma_cutoff: f32,
    pub color: [f32; 3],
    /// Tiles touched, `[x0, y0, x1, y1)`.
    pub tiles: [u32; 4],
}

pub use splatstitch_core::sh::SH_C0;
pub const SH_C1: f32 = 0.488_602_5;
pub const SH_C2: [f32; 5] = [1.092_548_4, -1.092_548_4, 0.315_391_57, -1.092_548_4, 0.546_274_2];
pub const SH_C3: [f32; 7] =
    [-0.590_043_6, 2.890_611_4, -0.457_046, 0.373_176_34, -0.457_046, 1.445_305_7, -0.590_043_6];

/// The real SH basis up to degree 3 at unit direction `d` (all 16 values; a degree-`l` cloud
/// uses the first `(l+1)²`), in f32: the twin of the WGSL evaluation.
pub fn sh_basis(d: Vec3) -> [f32; 16] {
    let (x, y, z) = (d.x, d.y, d.z);
    let (xx, yy, zz) = (x * x, y * y, z * z);
    [
        SH_C0,
        -SH_C1 * y,
        SH_C1 * z,
        -SH_C1 * x,
        SH_C2[0] * x * y,
        SH_C2[1] * y * z,
        SH_C2[2] * (2.0 * zz - xx - yy),
        SH_C2[3] * x * z,
        SH_C2[4] * (xx - yy),
        SH_C3[0] * y * (3.0 * xx - yy),
        SH_C3[1] * x * y * z,
        SH_C3[2] * y * (4.0 * zz - xx - yy),
        SH_C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy),
        SH_C3[4] * x * (4.0 * zz - xx - yy),
        SH_C3[5] * z * (xx - yy),
        SH_C3[6] * x * (xx - 3.0 * yy),
    ]
}

/// `max(Σ B_k(d)·c_k + 0.5, 0)` in f32. `d` is a unit vector.
pub fn sh_color(degree: u8, coeffs: &[f32], d: Vec3) -> [f32; 3] {
    let b = sh_basis(d);
    let k = (degree as usize + 1).pow(2);
    let mut rgb = [0.5f32; 3];
    for (i, bi) in b.iter().enumerate().take(k) {
        for (c, out) in rgb.iter_mut().enumerate() {
            *out += bi * coeffs[i * 3 + c];
        }
    }
    rgb.map(|v| v.max(0.0))
}

/// Projects one Gaussian, or `None` when it is culled.
#[allow(clippy::too_many_arguments)]
pub fn project_one(
    cam: &Camera,
    cam_pos: Vec3,
    view_rot: Mat3,
    layer_rot: Mat3,
    layer: &crate::scene::RenderLayer,
    i: usize,
    sh_degree: u8,
    selected: bool,
) -> Option<Projected> {
    let cloud = layer.cloud;
    let t = layer.transform;
    let p_world = t.transform_point(Vec3::from(cloud.positions[i]));
    let p = cam.view.transform_point3(p_world);
    if !p.is_finite() || p.z <= NEAR {
        return None;
    }
    let opacity = sigmoid(cloud.opacities[i]);
    if opacity.is_nan() || opacity < ALPHA_MIN {
        return None;
    }
    let [w, qx, qy, qz] = cloud.rotations[i];
    let q = Quat::from_xyzw(qx, qy, qz, w);
    let len = q.length();
    let q = if len > 0.0 && len.is_finite() { q / len } else { Quat::IDENTITY };
    let s = Vec3::from(cloud.log_scales[i]).exp() * t.scale;
    // M = R_view · R_layer · R_q · S, so Σ_cam = M·Mᵀ.
    let m = view_rot * layer_rot * Mat3::from_quat(q) * Mat3::from_diagonal(s);
    // Clamp the Jacobian's evaluation point to a little beyond the image, as gsplat does, so
    // Gaussians far off-axis do not explode.
    let (tan_x, tan_y) = (0.5 * cam.width as f32 / cam.fx, 0.5 * cam.height as f32 / cam.fy);
    let lim_x_pos = (cam.width as f32 - cam.cx) / cam.fx + 0.3 * tan_x;
    let lim_x_neg = cam.cx / cam.fx + 0.3 * tan_x;
    let lim_y_pos = (cam.height as f32 - cam.cy) / cam.fy + 0.3 * tan_y;
    let lim_y_neg = cam.cy / cam.fy + 0.3 * tan_y;
    let tx = p.z * (p.x / p.z).clamp(-lim_x_neg, lim_x_pos);
    let ty = p.z * (p.y / p.z).clamp(-lim_y_neg, lim_y_pos);
    let (rz, rz2) = (1.0 / p.z, 1.0 / (p.z * p.z));
    let j0 = Vec3::new(cam.fx * rz, 0.0, -cam.fx * tx * rz2);
    let j1 = Vec3::new(0.0, cam.fy * rz, -cam.fy * ty * rz2);
    // Rows of T = J·M.
    let mt = m.transpose();
    let (t0, t1) = (mt * j0, mt * j1);
    let a = t0.dot(t0) + LOW_PASS;
    let b = t0.dot(t1);
    let c = t1.dot(t1) + LOW_PASS;
    let det = a * c - b * b;
    if !det.is_finite() || det <= 0.0 {
        return None;
    }
    let conic = [c / det, -b / det, a / det];
    let mean = [cam.fx * p.x * rz + cam.cx, cam.fy * p.y * rz + cam.cy];
    // alpha = o·e^(−σ) ≥ 1/255 ⇔ σ ≤ ln(255·o): that ellipse's bounding box.
    let sigma_cutoff = (opacity / ALPHA_MIN).ln();
    let k = 2.0 * sigma_cutoff;
    let (rx, ry) = ((k * a).sqrt(), (k * c).sqrt());
    let tiles_x = cam.width.div_ceil(TILE) as f32;
    let tiles_y = cam.height.div_ceil(TILE) as f32;
    let tile = TILE as f32;
    let x0 = ((mean[0] - rx - 0.5) / tile).floor().clamp(0.0, tiles_x);
    let x1 = (((mean[0] + rx - 0.5) / tile).floor() + 1.0).clamp(0.0, tiles_x);
    let y0 = ((mean[1] - ry - 0.5) / tile).floor().clamp(0.0, tiles_y);
    let y1 = (((mean[1] + ry - 0.5) / tile).floor() + 1.0).clamp(0.0, tiles_y);
    if !(x0 < x1 && y0 < y1) {
        return None;
    }
    let dir = (p_world - cam_pos).normalize_or_zero();
    let degree = sh_degree.min(cloud.sh_degree);
    let mut color = sh_color(degree, cloud.sh_of(i), layer_rot.transpose() * dir);
    if selected {
        for (ch, h) in color.iter_mut().zip(HIGHLIGHT) {
            *ch = 0.5 * *ch + 0.5 * h;
        }
    }
    Some(Projected {
        id: 0,
        mean,
        conic,
        depth: p.z,
        opacity,
        sigma_cutoff,
        color,
        tiles: [x0 as u32, y0 as u32, x1 as u32, y1 as u32],
    })
}

/// Projects every visible Gaussian of every layer (in parallel), in global-index order.
pub fn preprocess(scene: &RenderScene, cam: &Camera, sh_degree: u8) -> Vec<Projected> {
    let cam_pos = cam.position();
    let view_rot = Mat3::from_mat4(cam.view);
    let mut out = Vec::new();
    let mut offset = 0u32;
    for layer in &scene.layers {
        let layer_rot = Mat3::from_quat(layer.transform.rotation.normalize());
        let n = layer.cloud.len();
        let flags = layer.flags.filter(|f| f.len() == n);
        let projected: Vec<Projected> = (0..n)
            .into_par_iter()
            .filter_map(|i| {
                let f = flags.map_or(LayerFlags::default(), |f| f[i]);
                if f.has(LayerFlags::DELETED) || f.has(LayerFlags::HIDDEN) {
                    return None;
                }
                let mut p =
                    project_one(cam, cam_pos, view_rot, layer_rot, layer, i, sh_degree, f.has(LayerFlags::SELECTED))?;
                p.id = offset + i as u32;
                Some(p)
            })
            .collect();
        if out.is_empty() {
            out = projected;
        } else {
            out.extend(projected);
        }
        offset += n as u32;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_sh_matches_the_core_evaluation() {
        let coeffs: Vec<f32> = (0..48).map(|i| ((i * 37) % 11) as f32 * 0.07 - 0.35).collect();
        for d in [Vec3::X, Vec3::new(0.2, -0.7, 0.4).normalize(), Vec3::new(-0.5, 0.5, -0.7).normalize()] {
            for degree in 0..=3 {
                let a = sh_color(degree, &coeffs, d);
                let b = splatstitch_core::sh::eval_color(degree, &coeffs, d);
                for c in 0..3 {
                    assert!((a[c] - b[c]).abs() < 1e-5);
                }
            }
        }
    }
}
