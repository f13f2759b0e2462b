//! The burn optimizer's building blocks on real data, on burn's CPU backend.

use burn::tensor::{Device, Int, Tensor, TensorData};
use glam::Vec3;
use splatstitch_core::GaussianCloud;
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_render::{Camera, RenderLayer, RenderOptions, RenderScene, render_cpu};
use splatstitch_stitch::optimize::{Problem, Weights, camera_terms, optimize, sparse_render};
use std::path::PathBuf;

fn cpu_device() -> Device {
    Device::flex()
}

fn fruit() -> GaussianCloud {
    let dir = std::env::var_os("SPLATSTITCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
    formats::load(&dir.join("fruit_drops_5k_sh3.ply"), &LoadOptions::default()).unwrap().cloud
}

fn camera() -> Camera {
    let c = Vec3::new(0.75, 0.12, -2.13);
    Camera::new(48, 48, 80.0, 80.0, 24.0, 24.0).looking_at(c + Vec3::new(0.3, -0.2, 0.3), c, Vec3::NEG_Y).unwrap()
}

#[test]
fn sparse_tensor_render_matches_the_rasterizer() {
    let cloud = fruit();
    let cam = camera();
    let (terms, _) = camera_terms(&cloud, &[cam]);
    let t = &terms[0];
    let (n, k) = (cloud.len(), cloud.coeffs_per_channel());
    // Colours from the basis, as the optimizer forms them.
    let mut colors = vec![0f32; n * 3];
    for i in 0..n {
        for c in 0..3 {
            let v: f32 = (0..k).map(|j| t.basis[i * k + j] * cloud.sh_of(i)[j * 3 + c]).sum::<f32>() + 0.5;
            colors[i * 3 + c] = v.max(0.0);
        }
    }
    let device = cpu_device();
    let ints = |v: &[i64]| Tensor::<1, Int>::from_data(TensorData::new(v.to_vec(), [v.len()]), &device);
    let render = sparse_render(
        Tensor::from_data(TensorData::new(colors, [n, 3]), &device),
        &ints(&t.gaussian),
        &Tensor::from_data(TensorData::new(t.weight.clone(), [t.weight.len(), 1]), &device),
        &ints(&t.pixel),
        48 * 48,
    )
    .into_data()
    .try_to_vec::<f32>()
    .unwrap();
    let scene = RenderScene { layers: vec![RenderLayer::new(&cloud)] };
    let img = render_cpu(&scene, &cam, &RenderOptions { background: [0.0; 3], sh_degree: 3 }).unwrap();
    let worst = img
        .rgba
        .iter()
        .enumerate()
        .flat_map(|(p, px)| (0..3).map(move |c| (p, c, px[c])))
        .map(|(p, c, v)| (v - render[p * 3 + c]).abs())
        .fold(0.0, f32::max);
    // Only weights under 1e-4 are missing from the sparse lists.
    assert!(worst < 2e-3, "sparse render differs from the rasterizer by {worst}");
    assert!(img.rgba.iter().filter(|p| p[3] > 0.5).count() > 200);
}

#[test]
fn feature_loss_pulls_boundary_sh_to_the_reference() {
    let cloud = fruit();
    let (n, k) = (cloud.len(), cloud.coeffs_per_channel());
    let (cameras, taps) = camera_terms(&cloud, &[camera()]);
    // Every Gaussian a boundary member whose reference is its own SH shifted by 0.3.
    let reference: Vec<f32> = cloud.sh.iter().map(|v| v + 0.3).collect();
    let problem = Problem {
        sh: cloud.sh.clone(),
        n,
        k,
        boundary: (0..n as i64).collect(),
        reference: reference.clone(),
        interior: vec![],
        driving: vec![],
        driving_k: 1,
        cameras,
        taps,
        pixels: 48 * 48,
        palette: vec![],
    };
    let w = Weights {
        lambda_feature: 1.0,
        lambda_color: 1.0,
        lambda_grad: 0.0,
        lambda_tune: 0.0,
        tune_from: 1.0,
        iterations: 150,
        learning_rate: 0.01,
        clone_offsets: false,
    };
    let mut first = None;
    let mut last = 0.0;
    let out = optimize(&problem, &w, &cpu_device(), |_, l| {
        first.get_or_insert(l.feature);
        last = l.feature;
        true
    });
    assert!(last < first.unwrap() * 0.05, "feature loss {} → {last}", first.unwrap());
    let err = out.iter().zip(&reference).map(|(a, b)| (a - b).abs()).sum::<f32>() / out.len() as f32;
    assert!(err < 0.05, "mean distance to the reference {err}");
}
