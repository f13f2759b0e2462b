//! Formats on the real captures of `tests/data/` and `assets/`: lossless round trips, every PLY encoding,
//! the same capture in different formats, quantization error bounds, and the CLI's transforms.

mod common;

use common::*;
use glam::Vec3;
use splatstitch_core::formats::{self, Format, PlyEncoding, SaveOptions};
use splatstitch_core::sh::eval_color;
use splatstitch_core::{GaussianCloud, Similarity};

fn reencode(c: &GaussianCloud, format: Format, enc: PlyEncoding) -> GaussianCloud {
    let opts = SaveOptions { ply_encoding: enc, ..Default::default() };
    let bytes = formats::encode(c, format, &opts).unwrap();
    formats::decode(&bytes, format, &Default::default()).unwrap().cloud
}

#[test]
fn ply_round_trips_bit_for_bit_in_every_encoding() {
    for name in ["fruit_drops_5k_sh3.ply", "flowers_27k_sh2.ply", "plant_114k_sh0.ply", "playbot_31k_sh2.ply"] {
        let c = load(&data(name));
        for enc in [PlyEncoding::BinaryLittleEndian, PlyEncoding::BinaryBigEndian, PlyEncoding::Ascii] {
            assert_identical(&c, &reencode(&c, Format::Ply, enc));
        }
    }
}

#[test]
fn unknown_properties_and_normals_survive_a_round_trip() {
    let c = load(&data("fruit_drops_5k_sh3.ply"));
    assert_eq!(c.sh_degree, 3);
    assert!(c.normals.is_some());
    assert_eq!(c.extras.len(), 1);
    assert_eq!(c.extras[0].name, "transform");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("copy.ply");
    run_ok(bin().arg("convert").arg(data("fruit_drops_5k_sh3.ply")).arg(&out));
    assert_identical(&c, &load(&out));
}

#[test]
fn property_order_does_not_matter() {
    // flowers_27k stores x y z rot scale opacity f_dc f_rest; our writer uses the reference order.
    let c = load(&data("flowers_27k_sh2.ply"));
    assert_eq!((c.len(), c.sh_degree), (26_895, 2));
    assert_identical(&c, &reencode(&c, Format::Ply, PlyEncoding::BinaryLittleEndian));
    let bytes = std::fs::read(data("flowers_27k_sh2.ply")).unwrap();
    let header = String::from_utf8_lossy(&bytes[..2000]);
    assert!(header.find("rot_0").unwrap() < header.find("f_dc_0").unwrap());
}

#[test]
fn splat_and_ply_of_the_same_capture_agree() {
    let ply = load(&data("plant_114k_sh0.ply"));
    let splat = load(&data("plant_114k_sh0.splat"));
    let d = diff(&ply, &splat);
    // The .ply was made from the .splat: positions and scales are exact, colours and
    // rotations carry the .splat's 8-bit quantization.
    assert!(d.position == 0.0 && d.log_scale < 1e-5, "{d:?}");
    assert!(d.sh < 0.5 / 255.0 / 0.2820948 + 1e-4 && d.opacity < 0.6 / 255.0 && d.rotation < 0.01, "{d:?}");
}

#[test]
fn spz_and_ply_of_the_same_capture_load_to_the_same_coordinates() {
    let ply = load(&data("flowers_93k_sh2.ply"));
    for version in [2, 3, 4] {
        let opts = SaveOptions { spz_version: version, ..Default::default() };
        let bytes = formats::encode(&ply, Format::Spz, &opts).unwrap();
        let spz = formats::decode(&bytes, Format::Spz, &Default::default()).unwrap().cloud;
        let d = diff(&clamp_to_spz_range(&ply), &spz);
        // 12 fractional bits, 1/16 log-scale steps, 8-bit colour and alpha, ≤5-bit SH. Version 2
        // stores x y z of the quaternion in 8 bits and derives w, which loses more.
        assert!(d.position <= 0.5 / 4096.0 + 1e-7, "v{version}: {d:?}");
        assert!(d.log_scale <= 1.0 / 32.0 + 1e-5, "v{version}: {d:?}");
        assert!(d.rotation < if version == 2 { 0.2 } else { 0.003 }, "v{version}: {d:?}");
        assert!(d.opacity <= 0.5 / 255.0 + 1e-6, "v{version}: {d:?}");
        assert!(d.sh <= 8.5 / 128.0 + 1e-5, "v{version}: {d:?}");
        // Mean position: a flipped axis would move it by the capture's extent.
        let mean = |c: &GaussianCloud| c.positions.iter().map(|p| Vec3::from(*p)).sum::<Vec3>() / c.len() as f32;
        assert!((mean(&ply) - mean(&spz)).length() < 1e-4);
    }
}

/// What SPZ can represent: log-scales in [-10, 5.9375], DC within ±127.5/(0.15·255), SH rest
/// within [-1, 127/128], unit quaternions.
fn clamp_to_spz_range(c: &GaussianCloud) -> GaussianCloud {
    let mut c = c.clone();
    c.normalize_rotations();
    for s in c.log_scales.iter_mut().flatten() {
        *s = s.clamp(-10.0, 255.0 / 16.0 - 10.0);
    }
    let stride = c.coeffs_per_channel() * 3;
    let dc = 127.5 / (0.15 * 255.0);
    for (i, v) in c.sh.iter_mut().enumerate() {
        *v = if i % stride < 3 { v.clamp(-dc, dc) } else { v.clamp(-1.0, 127.0 / 128.0) };
    }
    c
}

#[test]
fn compressed_ply_round_trip_stays_within_its_quantization() {
    let c = load(&data("flowers_27k_sh2.ply"));
    let bytes = formats::encode(&c, Format::CompressedPly, &Default::default()).unwrap();
    let back = formats::decode(&bytes, Format::CompressedPly, &Default::default()).unwrap().cloud;
    assert_eq!((back.len(), back.sh_degree), (c.len(), c.sh_degree));
    // The writer reorders Gaussians along a Morton curve: match them through that order.
    let order = formats::compressed_ply::morton_order(&c);
    let mask = vec![true; c.len()];
    let mut sorted = c.select(&mask);
    for (dst, &src) in order.iter().enumerate() {
        sorted.positions[dst] = c.positions[src];
        sorted.rotations[dst] = c.rotations[src];
        sorted.log_scales[dst] = c.log_scales[src];
        sorted.opacities[dst] = c.opacities[src];
        sorted.sh_of_mut(dst).copy_from_slice(c.sh_of(src));
    }
    let d = diff(&sorted, &back);
    let extent = 0.84; // largest bounding-box side of this capture
    assert!(d.position < extent / 1023.0, "{d:?}");
    assert!(d.rotation < 0.002 && d.opacity <= 0.5 / 255.0 + 1e-6, "{d:?}");
    // Log-scales (11-10-11 bits) and DC colours (8 bits) are quantized within each chunk's
    // bounds: half a step of that chunk's range, after the writer's clamp of log-scales to ±20.
    // SH rest bytes: (v / 8 + 0.5)·256 truncated, read back as byte / 255, at most 8/255 off.
    let (stride, c0) = (c.coeffs_per_channel() * 3, splatstitch_core::sh::SH_C0);
    let (mut worst_scale, mut worst_dc, mut worst_rest) = (0f32, 0f32, 0f32);
    for (chunk, start) in (0..c.len()).step_by(256).enumerate() {
        let members = start..(start + 256).min(c.len());
        for axis in 0..3 {
            let steps = if axis == 1 { 1023.0 } else { 2047.0 };
            let scale = |i: usize| sorted.log_scales[i][axis].clamp(-20.0, 20.0);
            let dc = |i: usize| sorted.sh[i * stride + axis] * c0 + 0.5;
            let range = |f: &dyn Fn(usize) -> f32| {
                let (lo, hi) = members.clone().map(f).fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(v), b.max(v)));
                hi - lo
            };
            let (scale_step, dc_step) = (range(&scale) / steps, range(&dc) / 255.0);
            for i in members.clone() {
                let e = (back.log_scales[i][axis] - scale(i)).abs();
                assert!(e <= 0.5 * scale_step + 1e-4, "chunk {chunk}, Gaussian {i}: log-scale off by {e}");
                worst_scale = worst_scale.max(e / scale_step.max(1e-12));
                let e = (back.sh[i * stride + axis] * c0 + 0.5 - dc(i)).abs();
                assert!(e <= 0.5 * dc_step + 1e-5, "chunk {chunk}, Gaussian {i}: DC colour off by {e}");
                worst_dc = worst_dc.max(e / dc_step.max(1e-12));
            }
        }
    }
    for i in 0..c.len() {
        for j in 3..stride {
            worst_rest = worst_rest.max((back.sh[i * stride + j] - sorted.sh[i * stride + j].clamp(-4.0, 4.0)).abs());
        }
    }
    assert!(worst_rest <= 8.0 / 255.0 + 1e-5, "SH rest off by {worst_rest}");
    eprintln!(
        "compressed.ply: log-scale {worst_scale:.3} steps, DC {worst_dc:.3} steps, SH rest {worst_rest:.4} (bound {:.4}); {d:?}",
        8.0 / 255.0
    );
}

#[test]
fn guitar_compressed_ply_loads() {
    let c = load(&data("guitar_91k_sh0.compressed.ply"));
    assert_eq!((c.len(), c.sh_degree), (90_854, 0));
    assert!(c.positions.iter().flatten().all(|v| v.is_finite() && v.abs() < 10.0));
    for q in &c.rotations {
        assert!((q.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn convert_rotation_keeps_view_dependent_colour_attached_on_real_sh3_data() {
    let src = data("fruit_drops_5k_sh3.ply");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rotated.ply");
    run_ok(bin().arg("convert").arg(&src).arg(&out).args([
        "--rotate-deg",
        "33,-71,140",
        "--scale",
        "2",
        "--translate",
        "1,2,3",
    ]));
    let (a, b) = (load(&src), load(&out));
    let t = Similarity::from_scale_euler_translation(2.0, [33.0, -71.0, 140.0], [1.0, 2.0, 3.0]);
    let dirs = [Vec3::X, Vec3::new(0.3, -0.8, 0.5).normalize(), Vec3::new(-0.6, 0.1, -0.79).normalize()];
    let mut worst = 0f32;
    for i in 0..a.len() {
        let p = t.transform_point(Vec3::from(a.positions[i]));
        assert!((p - Vec3::from(b.positions[i])).length() < 1e-4);
        for v in dirs {
            let before = eval_color(3, a.sh_of(i), v);
            let after = eval_color(3, b.sh_of(i), t.rotation * v);
            for c in 0..3 {
                worst = worst.max((before[c] - after[c]).abs());
            }
        }
    }
    assert!(worst < 1e-4, "largest colour change {worst}");
}

#[test]
fn convert_crops_in_file_coordinates_and_drops_sh_bands() {
    let src = data("flowers_93k_sh2.ply");
    let c = load(&src);
    let (lo, hi) = (Vec3::new(-0.1, -0.2, -0.1), Vec3::new(0.15, 0.05, 0.2));
    let expected =
        c.positions.iter().filter(|p| Vec3::from(**p).cmpge(lo).all() && Vec3::from(**p).cmple(hi).all()).count();
    assert!(expected > 1000 && expected < c.len());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("crop.ply");
    run_ok(bin().arg("convert").arg(&src).arg(&out).args([
        "--crop-min",
        "-0.1,-0.2,-0.1",
        "--crop-max",
        "0.15,0.05,0.2",
        "--sh-degree",
        "1",
    ]));
    let cropped = load(&out);
    assert_eq!(cropped.len(), expected);
    assert_eq!(cropped.sh_degree, 1);
    assert_eq!(
        cropped.sh_of(0),
        &c.sh_of(
            c.positions.iter().position(|p| Vec3::from(*p).cmpge(lo).all() && Vec3::from(*p).cmple(hi).all()).unwrap()
        )[..12]
    );
}

#[test]
fn info_json_reports_the_capture() {
    let out = run_ok(bin().args(["info", "--json"]).arg(data("fruit_drops_5k_sh3.ply")));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["count"], 4721);
    assert_eq!(v["sh_degree"], 3);
    assert_eq!(v["format"], "ply");
    assert_eq!(v["extra_properties"][0], "transform (float)");
    assert!(v["opacity"]["max"].as_f64().unwrap() <= 1.0);
    let text = run_ok(bin().arg("info").arg(data("guitar_91k_sh0.compressed.ply")));
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("90854") && text.contains("compressed.ply"), "{text}");
}

#[test]
fn gltf_files_of_a_capture_load_to_the_same_gaussians() {
    // .glb, and .gltf with its buffer written beside it as <name>.bin, through save and load.
    let dir = tempfile::tempdir().unwrap();
    for name in ["fruit_drops_5k_sh3.ply", "flowers_27k_sh2.ply"] {
        let ply = load(&data(name));
        for file in ["c.glb", "c.gltf"] {
            let path = dir.path().join(file);
            formats::save(&path, &ply, &SaveOptions::default()).unwrap();
            let back = formats::load(&path, &Default::default()).unwrap();
            assert_eq!(back.format.name(), &file[2..]);
            let d = diff(&ply, &back.cloud);
            assert!(d.position == 0.0 && d.sh == 0.0 && d.rotation < 1e-6 && d.log_scale < 1e-5, "{file}: {d:?}");
        }
        assert!(dir.path().join("c.bin").exists(), "the .gltf's buffer lies beside it");
    }
}

#[test]
fn sog_of_a_capture_keeps_every_gaussian_within_its_quantization() {
    // .sog and meta.json through save and load; SOG reorders, so each Gaussian is compared
    // with the one read back at its centre.
    let dir = tempfile::tempdir().unwrap();
    let ply = load(&data("flowers_27k_sh2.ply"));
    let diag = {
        let (lo, hi) = ply.bounds().unwrap();
        (hi - lo).length()
    };
    std::fs::create_dir(dir.path().join("unbundled")).unwrap();
    for file in ["c.sog", "unbundled/meta.json"] {
        let path = dir.path().join(file);
        formats::save(&path, &ply, &SaveOptions::default()).unwrap();
        let back = formats::load(&path, &Default::default()).unwrap();
        assert_eq!(back.format_version, Some(2));
        let back = back.cloud;
        assert_eq!((back.len(), back.sh_degree), (ply.len(), ply.sh_degree));
        let index = splatstitch_stitch::centres::CentreIndex::new(&back).unwrap();
        let k = ply.coeffs_per_channel() * 3;
        let (mut worst_pos, mut worst_dc, mut sq_rest, mut sq_truth) = (0f32, 0f32, 0f64, 0f64);
        for i in 0..ply.len() {
            let (j, d) = index.nearest(&ply.positions[i], 1)[0];
            let j = j as usize;
            worst_pos = worst_pos.max(d);
            for c in 0..3 {
                worst_dc = worst_dc.max((ply.sh_of(i)[c] - back.sh_of(j)[c]).abs());
            }
            for c in 3..k {
                sq_rest += f64::from(ply.sh_of(i)[c] - back.sh_of(j)[c]).powi(2);
                sq_truth += f64::from(ply.sh_of(i)[c]).powi(2);
            }
            let o = |c: &GaussianCloud, i: usize| 1.0 / (1.0 + (-c.opacities[i]).exp());
            assert!((o(&ply, i) - o(&back, j)).abs() < 0.5 / 255.0 + 1e-4, "opacity of {i}");
        }
        let rest = (sq_rest / sq_truth).sqrt();
        eprintln!("{file}: position {worst_pos:.2e} (diag {diag:.2}), DC {worst_dc:.4}, SH rest relative {rest:.3}");
        assert!(worst_pos < 1e-3 * diag, "{file}: position error {worst_pos}");
        assert!(worst_dc < 0.05, "{file}: DC error {worst_dc}");
        // The palette has 16,384 entries for 27k Gaussians: most keep their own bands closely.
        assert!(rest < 0.5, "{file}: SH bands 1–2 error {rest} of their size");
    }
}

#[test]
fn info_and_convert_read_the_level_of_a_streamed_sog_they_are_told() {
    let dir = tempfile::tempdir().unwrap();
    let fruit = load(&data("fruit_drops_5k_sh3.ply"));
    let coarse = fruit.select(&(0..fruit.len()).map(|i| i % 3 == 0).collect::<Vec<_>>());
    for (folder, cloud) in [("0_0", &fruit), ("1_0", &coarse)] {
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        formats::save(&dir.path().join(folder).join("meta.json"), cloud, &SaveOptions::default()).unwrap();
    }
    let bundle = dir.path().join("1_0.sog");
    formats::save(&bundle, &coarse, &SaveOptions::default()).unwrap();
    let (f, c) = (fruit.len(), coarse.len());
    // Level 1 names its unit twice over: as folder and as bundle, half of it each.
    let half = c / 2;
    let manifest = format!(
        r#"{{"version":1,"counts":[{f},{c}],"lodLevels":2,"filenames":["0_0/meta.json","1_0/meta.json","1_0.sog"],
        "tree":{{"lods":{{"0":{{"file":0,"offset":0,"count":{f}}}}},"children":[
          {{"lods":{{"1":{{"file":1,"offset":0,"count":{half}}}}}}},
          {{"lods":{{"1":{{"file":2,"offset":{half},"count":{}}}}}}}]}}}}"#,
        c - half
    );
    let path = dir.path().join("lod-meta.json");
    std::fs::write(&path, manifest).unwrap();
    let text = String::from_utf8(run_ok(bin().arg("info").arg(&path)).stdout).unwrap();
    assert!(text.contains("lod-meta.json") && text.contains(&format!("gaussians:    {f}")), "{text}");
    assert!(text.contains(&format!("0: {f}, 1: {c}")), "{text}");
    let out = dir.path().join("level1.ply");
    run_ok(bin().arg("convert").arg(&path).arg(&out).arg("--lod").arg("1"));
    assert_eq!(load(&out).len(), c);
    let err = bin().arg("info").arg(&path).arg("--lod").arg("2").output().unwrap();
    assert!(!err.status.success());
    assert!(String::from_utf8_lossy(&err.stderr).contains("levels 0–1"));
}
