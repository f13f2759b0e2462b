//! Headless jobs end to end: outputs, bit-identical untouched layers, reports, bad jobs.

mod common;

use common::*;
use splatstitch_core::{GaussianCloud, Similarity};
use std::path::Path;

/// A job over flowers_27k cut into two halves sharing a band; `extra` is appended to the source
/// layer's table, `blend` replaces the [blend] table's body.
fn write_job(dir: &Path, source_extra: &str, blend: &str) -> std::path::PathBuf {
    let data_path = data("flowers_27k_sh2.ply");
    let text = format!(
        r#"[[layer]]
name = "left"
file = "{f}"
role = "source"
crop = {{ box_min = [-1, -1, -1], box_max = [0.02, 1, 1] }}
{source_extra}

[[layer]]
name = "right"
file = "{f}"
role = "target"
crop = {{ box_min = [-0.02, -1, -1], box_max = [1, 1, 1] }}

[blend]
{blend}

[output]
ply = "out/stitched.ply"
report = "out/report.json"
renders = "out/renders"
"#,
        f = data_path.display()
    );
    let p = dir.join("job.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const FAST: &str = "method = \"none\"\nviews = 6\nresolution = 48";

fn crop(c: &GaussianCloud, lo: [f32; 3], hi: [f32; 3]) -> GaussianCloud {
    let mut c = c.clone();
    splatstitch_core::transform::crop_to_box(&mut c, lo.into(), hi.into());
    c
}

#[test]
fn compose_only_job_writes_outputs_and_keeps_layers_bit_identical() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), "", FAST);
    run_ok(bin().arg("stitch").arg(&job));
    let out = load(&dir.path().join("out/stitched.ply"));
    let src = load(&data("flowers_27k_sh2.ply"));
    let left = crop(&src, [-1.0; 3], [0.02, 1.0, 1.0]);
    let right = crop(&src, [-0.02, -1.0, -1.0], [1.0; 3]);
    let mut expected = left.clone();
    expected.append(&right);
    assert_identical(&out, &expected);
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/report.json")).unwrap()).unwrap();
    assert_eq!(report["layers"][0]["kept"], left.len());
    assert_eq!(report["layers"][1]["kept"], right.len());
    assert_eq!(report["layers"][1]["loaded"], src.len());
    assert!(report["boundary"].as_u64().unwrap() > 100);
    assert_eq!(report["metrics_before"], report["metrics_after"]);
    assert_eq!(report["metrics_after"]["seam_space"], "image");
    for stage in ["load", "boundary", "precompute", "optimize", "metrics", "export", "total"] {
        assert!(report["timings_s"][stage].as_f64().is_some(), "{stage}");
    }
    assert!(dir.path().join("out/renders/view00_before.png").exists());
}

#[test]
fn a_transformed_source_is_exactly_its_baked_transform() {
    let dir = tempfile::tempdir().unwrap();
    let job =
        write_job(dir.path(), "transform = { scale = 1.0, rotate_deg = [0, 0, 0], translate = [0.001, 0, 0] }", FAST);
    run_ok(bin().arg("stitch").arg(&job).arg("--out-dir").arg(dir.path().join("elsewhere")));
    let out = load(&dir.path().join("elsewhere/stitched.ply"));
    let mut left = crop(&load(&data("flowers_27k_sh2.ply")), [-1.0; 3], [0.02, 1.0, 1.0]);
    Similarity::from_scale_euler_translation(1.0, [0.0; 3], [0.001, 0.0, 0.0]).bake(&mut left);
    let head = out.select(&(0..out.len()).map(|i| i < left.len()).collect::<Vec<_>>());
    assert_identical(&head, &left);
    assert!(!dir.path().join("out").exists(), "--out-dir must redirect every output");
}

#[test]
fn a_layer_grade_is_applied_headless_to_that_layer_alone() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), "grade = { exposure = 0.5, saturation = 0.0 }", FAST);
    run_ok(bin().arg("stitch").arg(&job));
    let out = load(&dir.path().join("out/stitched.ply"));
    let src = load(&data("flowers_27k_sh2.ply"));
    let mut left = crop(&src, [-1.0; 3], [0.02, 1.0, 1.0]);
    let right = crop(&src, [-0.02, -1.0, -1.0], [1.0; 3]);
    let grade = splatstitch_core::Grade { exposure: 0.5, saturation: 0.0, ..Default::default() };
    grade.apply(&mut left, |_| 1.0);
    let mut expected = left.clone();
    expected.append(&right);
    assert_identical(&out, &expected);
    // Saturation 0: every graded Gaussian is grey from every side, the ungraded half is not.
    let grey = |c: &GaussianCloud, i: usize| {
        let [r, g, b] = c.base_colour(i);
        (r - g).abs() < 1e-4 && (g - b).abs() < 1e-4
    };
    assert!((0..left.len()).all(|i| grey(&out, i)));
    assert!(!(left.len()..out.len()).all(|i| grey(&out, i)));
}

#[test]
fn bad_jobs_exit_2_name_the_problem_and_write_nothing() {
    let cases: Vec<(&str, &str, &str)> = vec![
        ("", "method = \"none\"\nwobble = 3", "unknown field `wobble`"),
        ("", "method = \"none\"\nviews = \"many\"", "invalid type"),
        ("", "method = \"none\"\nbeta = 7.0", "`blend.beta`"),
        ("", "method = \"none\"\nk = 0", "`blend.k`"),
        ("", "method = \"none\"\ntransfer_model = \"spline\"", "unknown variant `spline`"),
        ("", "method = \"none\"\ntransfer_strength = 1.5", "`blend.transfer_strength`"),
        ("", "method = \"none\"\npreset = \"mine\"", "unknown variant `mine`"),
        ("transform = { translate = [100, 0, 0] }", FAST, "no boundary"),
        ("grade = { saturation = -2.0 }", FAST, "`layer.grade.saturation`"),
        ("grade = { sparkle = 1.0 }", FAST, "unknown field `sparkle`"),
    ];
    for (extra, blend, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let job = write_job(dir.path(), extra, blend);
        let o = bin().arg("stitch").arg(&job).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{expect}: {err}");
        assert!(err.contains(expect) && err.contains("job.toml"), "expected `{expect}` in: {err}");
        assert!(!dir.path().join("out").exists(), "{expect}: something was written");
    }
    // A bad `--set` names the key: unknown keys are refused by the argument parser (exit 2),
    // bad values by the job's validation.
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), "", FAST);
    let o = bin().arg("stitch").arg(&job).args(["--set", "wobble=3"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown [blend] key `wobble`"));
    let o = bin().arg("stitch").arg(&job).args(["--set", "tau=2"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("`blend.tau`") && err.contains("--set tau"), "{err}");
    // A missing capture names the file and its line in the job.
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), "", FAST);
    let text = std::fs::read_to_string(&job).unwrap().replacen("flowers_27k_sh2.ply", "nowhere.ply", 1);
    std::fs::write(&job, text).unwrap();
    let o = bin().arg("stitch").arg(&job).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("job.toml:3") && err.contains("nowhere.ply"), "{err}");
    // No source.
    let text = std::fs::read_to_string(&job).unwrap().replace("role = \"source\"", "role = \"fixed\"");
    std::fs::write(&job, text).unwrap();
    let o = bin().arg("stitch").arg(&job).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no layer has role = \"source\""));
}

#[test]
fn eval_measures_any_before_after_pair() {
    let dir = tempfile::tempdir().unwrap();
    let job = write_job(dir.path(), "", FAST);
    run_ok(bin().arg("stitch").arg(&job));
    let before = dir.path().join("out/stitched.ply");
    // "After": the target recoloured by hand (a flat grey) — detail and seam change.
    let mut after = load(&before);
    let n = after.len();
    let right_start = n - load(&before).len() / 2; // most of the target
    for i in right_start..n {
        let s = after.sh_of_mut(i);
        s.iter_mut().for_each(|v| *v = 0.0);
    }
    let after_path = dir.path().join("after.ply");
    splatstitch_core::formats::save(&after_path, &after, &Default::default()).unwrap();
    let o = run_ok(bin().arg("eval").arg(&before).arg(&after_path).arg("--job").arg(&job));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["target"], "right");
    let (b, a) = (&v["before"], &v["after"]);
    assert!(b["detail"].as_f64().unwrap() > 0.999);
    assert!(a["detail"].as_f64().unwrap() < 0.9, "{a}");
    assert_ne!(finite(&b["seam_error"], "seam error before"), finite(&a["seam_error"], "seam error after"));
    // Mismatched files are refused.
    let o =
        bin().arg("eval").arg(data("fruit_drops_5k_sh3.ply")).arg(&after_path).arg("--job").arg(&job).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("Gaussians, but the job's layers hold"));
}

/// The capture difference the tests put on the target half.
fn tint() -> splatstitch_core::ColourMap {
    splatstitch_core::ColourMap::gain_offset([1.2, 0.9, 0.8], [0.05, 0.0, 0.0])
}

/// A metric from a report as a finite number: serde writes NaN as `null`, and a comparison of
/// `Option`s would let `None` through.
fn finite(v: &serde_json::Value, what: &str) -> f64 {
    match v.as_f64() {
        Some(x) if x.is_finite() => x,
        _ => panic!("{what} is not a finite number: {v}"),
    }
}

/// Both blending methods on a tinted right half: the target's colours change, its geometry and
/// the source do not, the seam error drops.
fn blends_the_target_and_leaves_the_rest_alone(method: &str, extra_args: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    // The right part tinted, so there is a seam to blend.
    let src = load(&data("flowers_27k_sh2.ply"));
    let mut right = crop(&src, [-0.02, -1.0, -1.0], [1.0; 3]);
    tint().apply_to_cloud(&mut right);
    let tinted = dir.path().join("right_tinted.ply");
    splatstitch_core::formats::save(&tinted, &right, &Default::default()).unwrap();
    let job = write_job(dir.path(), "", &format!("method = \"{method}\"\niterations = 40\nviews = 6\nresolution = 64"));
    let text = std::fs::read_to_string(&job).unwrap();
    let second = text.rfind(&data("flowers_27k_sh2.ply").display().to_string()).unwrap();
    let text = format!(
        "{}{}{}",
        &text[..second],
        tinted.display(),
        &text[second + data("flowers_27k_sh2.ply").display().to_string().len()..]
    )
    .replace("crop = { box_min = [-0.02, -1, -1], box_max = [1, 1, 1] }", "");
    std::fs::write(&job, text).unwrap();
    run_ok(bin().arg("stitch").arg(&job).args(extra_args));
    let out = load(&dir.path().join("out/stitched.ply"));
    let left = crop(&src, [-1.0; 3], [0.02, 1.0, 1.0]);
    let n = left.len();
    let head = out.select(&(0..out.len()).map(|i| i < n).collect::<Vec<_>>());
    let tail = out.select(&(0..out.len()).map(|i| i >= n).collect::<Vec<_>>());
    assert_identical(&head, &left);
    assert_eq!(tail.positions, right.positions, "the target's geometry is frozen");
    assert_eq!(tail.opacities, right.opacities);
    assert_ne!(tail.sh, right.sh, "the target's colours were optimized");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/report.json")).unwrap()).unwrap();
    let (b, a) = (&report["metrics_before"], &report["metrics_after"]);
    let (before, after) = (finite(&b["seam_error"], "seam error before"), finite(&a["seam_error"], "seam error after"));
    assert!(after < before, "seam error {b} → {a}");
    assert!(finite(&a["detail"], "detail after") > 0.8, "{a}");
    report
}

#[test]
fn stitch_method_blends_the_target_and_leaves_the_rest_alone() {
    let report = blends_the_target_and_leaves_the_rest_alone("stitch", &["--backend", "cpu"]);
    assert!(report["backend"].as_str().unwrap().starts_with("native CPU"), "{}", report["backend"]);
    assert_eq!(report["backend_reason"], "", "chosen by hand");
}

#[test]
fn seam_transfer_runs_before_blending_and_is_reported() {
    // On by default: a tint of one half is a capture difference the fit explains.
    let report = blends_the_target_and_leaves_the_rest_alone("stitch", &[]);
    let t = &report["seam_transfer"];
    assert_eq!(t["status"], "applied", "{t}");
    let fit = &t["fit"];
    assert!(fit["model"].is_string() && fit["strength"].as_f64() > Some(0.9), "{fit}");
    assert!(finite(&fit["fit_error"], "fit error") < finite(&fit["identity_error"], "identity error"), "{fit}");
    // The map undoes the tint: on the target's own colours, map(tint(c)) lands near c.
    let map: splatstitch_core::ColourMap = serde_json::from_value(fit["map"].clone()).expect("the fitted map");
    let map = map.partial(finite(&fit["strength"], "strength") as f32);
    let right = crop(&load(&data("flowers_27k_sh2.ply")), [-0.02, -1.0, -1.0], [1.0; 3]);
    let (mut residual, mut tinted) = (0.0f64, 0.0f64);
    for i in 0..right.len() {
        let c: [f32; 3] = std::array::from_fn(|k| 0.5 + splatstitch_core::sh::SH_C0 * right.sh_of(i)[k]);
        let t = tint().apply(c);
        let m = map.apply(t);
        residual += (0..3).map(|k| (m[k] - c[k]).abs() as f64).sum::<f64>();
        tinted += (0..3).map(|k| (t[k] - c[k]).abs() as f64).sum::<f64>();
    }
    let (residual, tinted) = (residual / (3 * right.len()) as f64, tinted / (3 * right.len()) as f64);
    eprintln!("mean |map(tint(c)) − c| = {residual:.2e}, |tint(c) − c| = {tinted:.4}");
    // Measured below 5e-5 of the tint's 0.094 on 2026-12-02 (the fit recovers the affine map).
    assert!(residual < 2e-3, "the map leaves {residual:.5} of the tint's {tinted:.4}");
    assert!(report["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("seam transfer applied")));
    assert!(!report["validation"]["curve"].as_array().unwrap().is_empty(), "the validation curve");
    // `--set seam_transfer=false` turns it off (and with no margin the optimizer's best checkpoint
    // is kept: 40 iterations lower the seam error by less than the default 3 %); the paper's
    // preset turns it off too, and keeps the last iterate.
    let report = blends_the_target_and_leaves_the_rest_alone(
        "stitch",
        &["--set", "seam_transfer=false", "--set", "min_improvement=0"],
    );
    assert_eq!(report["seam_transfer"]["status"], "off");
    assert_eq!(report["parameters"]["min_improvement"], 0.0);
    let report = blends_the_target_and_leaves_the_rest_alone("stitch", &["--set", "preset=paper"]);
    assert_eq!(report["seam_transfer"]["status"], "off");
    assert_eq!(report["parameters"]["preset"], "paper");
    assert_eq!(report["parameters"]["feature_reference"], "neighbours");
    assert_eq!(report["validation"]["kept_iteration"], 40, "no selection in the paper's method");
}

#[test]
fn stitch_method_runs_on_burns_cpu_backend_too() {
    let report = blends_the_target_and_leaves_the_rest_alone("stitch", &["--backend", "flex"]);
    assert_eq!(report["backend"], "burn flex (CPU)");
}

#[test]
fn poisson_baseline_blends_the_target_and_leaves_the_rest_alone() {
    let report = blends_the_target_and_leaves_the_rest_alone("poisson", &[]);
    assert_eq!(report["method"], "poisson");
    assert_eq!(report["backend"], "native CPU");
}
