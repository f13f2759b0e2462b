//! Helpers shared by the end-to-end tests: locating data and tools, running the binary,
//! comparing clouds.
#![allow(dead_code)]

use splatstitch_core::cloud::sigmoid;
use splatstitch_core::{GaussianCloud, LoadOptions, NonFinitePolicy, formats};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A real capture of the repository's test data (`tests/data/`, `assets/`, or `$SPLATSTITCH_DATA`).
pub fn data(name: &str) -> PathBuf {
    splatstitch_core::test_data::capture(name).unwrap_or_else(|e| panic!("{e}"))
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_splatstitch"))
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("failed to start command");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Loads keeping NaN/Inf values, so counts stay comparable with tools that write them
/// (splat-transform writes opacity ±∞ for alpha bytes 0 and 255).
pub fn load(p: &Path) -> GaussianCloud {
    let opts = LoadOptions { non_finite: NonFinitePolicy::Keep, ..Default::default() };
    formats::load(p, &opts).unwrap_or_else(|e| panic!("{e}")).cloud
}

/// Largest absolute difference between two clouds' standard attributes (positions, rotations
/// normalized and compared up to sign, log-scales, opacities after the sigmoid, SH), per attribute.
#[derive(Debug, Default, Clone, Copy)]
pub struct Diff {
    pub position: f32,
    pub rotation: f32,
    pub log_scale: f32,
    pub opacity: f32,
    pub sh: f32,
}

pub fn diff(a: &GaussianCloud, b: &GaussianCloud) -> Diff {
    assert_eq!(a.len(), b.len(), "Gaussian counts differ");
    assert_eq!(a.sh_degree, b.sh_degree, "SH degrees differ");
    let mut d = Diff::default();
    let m = |acc: &mut f32, x: f32, y: f32| *acc = acc.max((x - y).abs());
    for i in 0..a.len() {
        for c in 0..3 {
            m(&mut d.position, a.positions[i][c], b.positions[i][c]);
            m(&mut d.log_scale, a.log_scales[i][c], b.log_scales[i][c]);
        }
        let unit = |q: [f32; 4]| {
            let n = q.iter().map(|v| v * v).sum::<f32>().sqrt();
            if n > 0.0 { q.map(|v| v / n) } else { q }
        };
        let (qa, qb) = (unit(a.rotations[i]), unit(b.rotations[i]));
        let dot: f32 = qa.iter().zip(&qb).map(|(x, y)| x * y).sum();
        let s = if dot < 0.0 { -1.0 } else { 1.0 };
        for c in 0..4 {
            m(&mut d.rotation, qa[c], s * qb[c]);
        }
        m(&mut d.opacity, sigmoid(a.opacities[i]), sigmoid(b.opacities[i]));
    }
    for (x, y) in a.sh.iter().zip(&b.sh) {
        m(&mut d.sh, *x, *y);
    }
    d
}

/// Bit-for-bit equality of every column, extras and normals included; reports the first
/// mismatch only.
pub fn assert_identical(a: &GaussianCloud, b: &GaussianCloud) {
    assert_eq!(a.len(), b.len(), "Gaussian counts differ");
    assert_eq!(a.sh_degree, b.sh_degree, "SH degrees differ");
    fn same(what: &str, x: &[f32], y: &[f32]) {
        if let Some(i) = (0..x.len()).find(|&i| x[i].to_bits() != y[i].to_bits()) {
            panic!("{what} differ first at value {i}: {} vs {}", x[i], y[i]);
        }
    }
    same("positions", a.positions.as_flattened(), b.positions.as_flattened());
    same("rotations", a.rotations.as_flattened(), b.rotations.as_flattened());
    same("log-scales", a.log_scales.as_flattened(), b.log_scales.as_flattened());
    same("opacities", &a.opacities, &b.opacities);
    same("SH", &a.sh, &b.sh);
    assert_eq!(a.normals.is_some(), b.normals.is_some(), "normals present in one only");
    if let (Some(x), Some(y)) = (&a.normals, &b.normals) {
        same("normals", x.as_flattened(), y.as_flattened());
    }
    assert_eq!(a.extras.len(), b.extras.len(), "extra property count");
    for (x, y) in a.extras.iter().zip(&b.extras) {
        assert_eq!((&x.name, x.kind), (&y.name, y.kind));
        assert!(x.values.iter().zip(&y.values).all(|(p, q)| p.to_bits() == q.to_bits()), "extra `{}` differs", x.name);
    }
}

/// The 180° turn about x (RUB ↔ RDF) applied to a cloud, for comparing with tools that leave
/// SPZ axes unconverted.
pub fn flip_x(c: &GaussianCloud) -> GaussianCloud {
    let mut out = c.clone();
    splatstitch_core::Similarity {
        scale: 1.0,
        rotation: glam::Quat::from_xyzw(1.0, 0.0, 0.0, 0.0),
        translation: glam::Vec3::ZERO,
    }
    .bake(&mut out);
    out
}
