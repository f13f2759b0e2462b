//! The headless `render` command end to end.

mod common;

use common::*;

fn npy_shape_and_pixel(bytes: &[u8], x: usize, y: usize) -> ((usize, usize), [f32; 4]) {
    assert!(bytes.starts_with(b"\x93NUMPY\x01\x00"));
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + hlen]).unwrap();
    assert!(header.contains("'descr': '<f4'") && (10 + hlen).is_multiple_of(64), "{header}");
    let dims: Vec<usize> = header
        .split("'shape': (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    let (h, w) = (dims[0], dims[1]);
    let o = 10 + hlen + (y * w + x) * 16;
    let px = std::array::from_fn(|c| f32::from_le_bytes(bytes[o + c * 4..o + c * 4 + 4].try_into().unwrap()));
    ((h, w), px)
}

#[test]
fn renders_png_and_npy_with_background_and_coverage() {
    let dir = tempfile::tempdir().unwrap();
    let (png, npy) = (dir.path().join("f.png"), dir.path().join("f.npy"));
    run_ok(bin().arg("render").arg(data("flowers_27k_sh2.ply")).arg("--out").arg(&png).arg("--npy").arg(&npy).args([
        "--width",
        "96",
        "--height",
        "64",
        "--bg",
        "0.2,0.4,0.6",
        "--cpu",
    ]));
    let img = image::open(&png).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (96, 64));
    let bytes = std::fs::read(&npy).unwrap();
    let ((h, w), corner) = npy_shape_and_pixel(&bytes, 0, 0);
    assert_eq!((h, w), (64, 96));
    // The framing camera leaves the corner empty: pure background, zero alpha.
    assert!((corner[0] - 0.2).abs() < 1e-6 && (corner[2] - 0.6).abs() < 1e-6 && corner[3] == 0.0, "{corner:?}");
    let (_, centre) = npy_shape_and_pixel(&bytes, 48, 32);
    assert!(centre[3] > 0.5, "the scene should cover the centre: {centre:?}");
}

#[test]
fn viewmat_and_eye_target_cameras_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.npy"), dir.path().join("b.npy"));
    let common = ["--width", "40", "--height", "30", "--fx", "35", "--fy", "35", "--cx", "20", "--cy", "15", "--cpu"];
    // Camera at (0, 0, -1.5) looking at the origin with −y up is the identity rotation.
    run_ok(
        bin()
            .arg("render")
            .arg(data("fruit_drops_5k_sh3.ply"))
            .arg("--out")
            .arg(dir.path().join("a.png"))
            .arg("--npy")
            .arg(&a)
            .args(common)
            .args(["--eye", "0.75,0.12,-3.5", "--target", "0.75,0.12,-2.13"]),
    );
    run_ok(
        bin()
            .arg("render")
            .arg(data("fruit_drops_5k_sh3.ply"))
            .arg("--out")
            .arg(dir.path().join("b.png"))
            .arg("--npy")
            .arg(&b)
            .args(common)
            .args(["--viewmat", "1,0,0,-0.75, 0,1,0,-0.12, 0,0,1,3.5, 0,0,0,1"]),
    );
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let fa: Vec<f32> = ba[128..].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let fb: Vec<f32> = bb[128..].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    let worst = fa.iter().zip(&fb).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-4, "{worst}");
    assert!(fa.chunks(4).filter(|p| p[3] > 0.5).count() > 20);
}

#[test]
fn bad_render_requests_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.png");
    for args in [
        vec!["--width", "16384", "--height", "16384"],
        vec!["--viewmat", "1,2,3"],
        vec!["--eye", "0,0,0", "--target", "0,0,0"],
        vec!["--fx", "-5"],
    ] {
        let o = bin()
            .arg("render")
            .arg(data("fruit_drops_5k_sh3.ply"))
            .arg("--out")
            .arg(&out)
            .arg("--cpu")
            .args(&args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(!err.contains("panicked") && !out.exists(), "{args:?}: {err}");
    }
}

#[test]
fn several_files_render_as_layers_of_one_scene() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("two.png");
    run_ok(
        bin()
            .arg("render")
            .arg(data("fruit_drops_5k_sh3.ply"))
            .arg(data("flowers_27k_sh2.ply"))
            .arg("--out")
            .arg(&out)
            .args(["--width", "64", "--height", "48", "--cpu"]),
    );
    assert_eq!(image::open(&out).unwrap().to_rgba8().dimensions(), (64, 48));
}

#[test]
fn gpu_and_cpu_renders_agree_through_the_cli() {
    if let Err(e) = splatstitch_render::gpu::GpuContext::headless() {
        return splatstitch_core::test_data::skip(splatstitch_core::test_data::SKIP_GPU, &e.to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let read = |p: &std::path::Path| -> Vec<f32> {
        std::fs::read(p).unwrap()[128..].chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
    };
    let mut outs = Vec::new();
    for engine in ["--cpu", "--gpu"] {
        let npy = dir.path().join(format!("{}.npy", &engine[2..]));
        run_ok(
            bin()
                .arg("render")
                .arg(data("fruit_drops_5k_sh3.ply"))
                .arg("--out")
                .arg(dir.path().join("x.png"))
                .arg("--npy")
                .arg(&npy)
                .args(["--width", "64", "--height", "40", "--bg", "0.1,0.2,0.3", engine]),
        );
        outs.push(read(&npy));
    }
    let worst = outs[0].iter().zip(&outs[1]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst <= 1.0 / 255.0 + 1e-4, "CLI GPU and CPU renders differ by {worst}");
}
