//! The CPU pipeline against an independent, straightforward per-pixel implementation of the
//! reference 3DGS / gsplat rules (f64, no tiles, no culling beyond the rules themselves), on
//! real captures at awkward cameras.

use glam::{DMat3, DQuat, DVec3, Mat4, Quat, Vec3};
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_core::{GaussianCloud, Similarity};
use splatstitch_render::{Camera, Image, RenderLayer, RenderOptions, RenderScene, pixel_weights_cpu, render_cpu};
use std::path::PathBuf;

fn data(name: &str) -> GaussianCloud {
    let dir = std::env::var_os("SPLATSTITCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    formats::load(&dir.join(name), &LoadOptions::default()).unwrap().cloud
}

/// One Gaussian after projection, in f64.
struct Splat {
    depth: f64,
    mean: [f64; 2],
    conic: [f64; 3],
    opacity: f64,
    color: [f64; 3],
}

fn sh_basis(d: DVec3) -> [f64; 16] {
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
fn project(layers: &[(&GaussianCloud, Similarity)], cam: &Camera, sh_degree: u8) -> Vec<Splat> {
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

fn reference_render(layers: &[(&GaussianCloud, Similarity)], cam: &Camera, bg: [f32; 3], sh_degree: u8) -> Image {
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

fn ours(layers: &[(&GaussianCloud, Similarity)], cam: &Camera, bg: [f32; 3], sh_degree: u8) -> Image {
    let scene = RenderScene {
        layers: layers.iter().map(|(c, t)| RenderLayer { cloud: c, transform: *t, flags: None }).collect(),
    };
    render_cpu(&scene, cam, &RenderOptions { background: bg, sh_degree }).unwrap()
}

fn orbit(w: u32, h: u32, f: f32, cx: f32, cy: f32, center: Vec3, eye_offset: Vec3) -> Camera {
    Camera::new(w, h, f, f * 1.1, cx, cy).looking_at(center + eye_offset, center, Vec3::NEG_Y).unwrap()
}

fn check(name: &str, layers: &[(&GaussianCloud, Similarity)], cam: &Camera, bg: [f32; 3], sh: u8) {
    let a = ours(layers, cam, bg, sh);
    let b = reference_render(layers, cam, bg, sh);
    let covered = a.rgba.iter().filter(|p| p[3] > 0.5).count();
    assert!(covered > a.rgba.len() / 20, "{name}: camera sees too little ({covered} px)");
    let psnr = a.psnr(&b);
    eprintln!("{name}: PSNR {psnr:.1} dB, max diff {:.2e}", a.max_abs_diff(&b));
    assert!(psnr >= 45.0, "{name}: PSNR {psnr:.1} dB against the reference");
}

#[test]
fn flowers_sh2_oblique_non_square_off_centre_coloured_background() {
    let cloud = data("flowers_27k_sh2.ply");
    let id = Similarity::IDENTITY;
    let cam = orbit(96, 64, 90.0, 40.0, 37.0, Vec3::new(0.0, 0.05, 0.0), Vec3::new(0.5, -0.45, -0.5));
    check("flowers oblique", &[(&cloud, id)], &cam, [0.2, 0.4, 0.9], 2);
    let cam = orbit(64, 80, 70.0, 30.0, 45.0, Vec3::ZERO, Vec3::new(-0.2, -0.9, 0.3));
    check("flowers from above", &[(&cloud, id)], &cam, [1.0, 1.0, 1.0], 2);
}

#[test]
fn fruit_drops_sh3_view_dependence() {
    let cloud = data("fruit_drops_5k_sh3.ply");
    let c = Vec3::new(0.75, 0.12, -2.13);
    for (i, off) in [Vec3::new(0.3, -0.2, 0.25), Vec3::new(-0.35, -0.1, -0.2)].into_iter().enumerate() {
        let cam = orbit(80, 60, 150.0, 44.0, 27.0, c, off);
        check(&format!("fruit sh3 #{i}"), &[(&cloud, Similarity::IDENTITY)], &cam, [0.0, 0.0, 0.0], 3);
    }
}

#[test]
fn two_overlapping_transformed_layers_interleave() {
    let a = data("playbot_31k_sh2.ply");
    let b = data("fruit_drops_5k_sh3.ply");
    let ta = Similarity { scale: 0.5, rotation: Quat::from_rotation_y(0.6), translation: Vec3::new(0.1, 0.0, 0.0) };
    // Move the fruit into the robot's space, turned and enlarged.
    let tb = Similarity {
        scale: 1.5,
        rotation: Quat::from_euler(glam::EulerRot::XYZ, 0.3, -0.8, 0.2),
        translation: Vec3::new(-1.1, -0.3, 3.2),
    };
    let mut b2 = b.clone();
    b2.truncate_sh_degree(2);
    let cam = orbit(96, 72, 80.0, 50.0, 33.0, Vec3::new(0.0, -0.2, 0.0), Vec3::new(0.9, -0.7, -1.1));
    check("two layers", &[(&a, ta), (&b2, tb)], &cam, [0.5, 0.5, 0.5], 2);
}

#[test]
fn weights_reproduce_the_render() {
    let cloud = data("flowers_27k_sh2.ply");
    let scene = RenderScene { layers: vec![RenderLayer::new(&cloud)] };
    let cam = orbit(64, 48, 60.0, 30.0, 25.0, Vec3::ZERO, Vec3::new(0.4, -0.5, -0.5));
    let bg = [0.1, 0.7, 0.3];
    let img = render_cpu(&scene, &cam, &RenderOptions { background: bg, sh_degree: 2 }).unwrap();
    let w = pixel_weights_cpu(&scene, &cam, 2, 0.0).unwrap();
    let recomposed = w.recompose(&w.colors, bg);
    let mut worst = 0f32;
    for (p, q) in img.rgba.iter().zip(&recomposed) {
        for k in 0..3 {
            worst = worst.max((p[k] - q[k]).abs());
        }
    }
    assert!(worst < 1e-5, "recomposed render differs by {worst}");
    for (p, t) in img.rgba.iter().zip(&w.transmittance) {
        assert!((p[3] - (1.0 - t)).abs() < 1e-6);
    }
    assert!(w.ids.len() > 1000);
}

#[test]
fn degenerate_input_renders_or_errors_cleanly() {
    let cam = Camera::new(32, 24, 30.0, 30.0, 16.0, 12.0)
        .looking_at(Vec3::new(0.0, 0.0, -2.0), Vec3::ZERO, Vec3::NEG_Y)
        .unwrap();
    let empty = GaussianCloud::new(0);
    let img = ours(&[(&empty, Similarity::IDENTITY)], &cam, [0.3, 0.2, 0.1], 0);
    assert!(img.rgba.iter().all(|p| *p == [0.3, 0.2, 0.1, 0.0]));
    let mut c = GaussianCloud::with_len(6, 1);
    c.opacities = vec![5.0; 6];
    c.positions = vec![
        [0.0, 0.0, 0.0],      // fine, but zero-size below
        [f32::NAN, 0.0, 0.0], // NaN position
        [0.0, 0.0, -3.0],     // behind the camera
        [0.0, 0.0, -2.0],     // on the camera centre
        [0.1, 0.0, -1.995],   // straddling the near plane
        [0.2, 0.1, 0.5],
    ];
    c.log_scales = vec![[f32::NEG_INFINITY; 3], [0.0; 3], [0.0; 3], [0.0; 3], [0.5, 0.5, 0.5], [-3.0; 3]];
    c.rotations[5] = [0.0; 4]; // zero quaternion
    let img = ours(&[(&c, Similarity::IDENTITY)], &cam, [0.0; 3], 1);
    assert!(img.rgba.iter().flatten().all(|v| v.is_finite()));
    let r = reference_render(&[(&c, Similarity::IDENTITY)], &cam, [0.0; 3], 1);
    assert!(img.psnr(&r) > 45.0);
    let mut huge = cam;
    (huge.width, huge.height) = (16384, 16384);
    let scene = RenderScene { layers: vec![RenderLayer::new(&c)] };
    assert!(render_cpu(&scene, &huge, &RenderOptions::default()).is_err());
    let mut bad = cam;
    bad.view = Mat4::from_cols_array(&[f32::NAN; 16]);
    assert!(render_cpu(&scene, &bad, &RenderOptions::default()).is_err());
}
