//! Helpers shared by the end-to-end tests: locating data and tools, running the binary,
//! comparing clouds.
#![allow(dead_code)]

use splatstitch_core::{formats, GaussianCloud, LoadOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data` beside the checkout (or `$SPLATSTITCH_DATA`).
pub fn data(name: &str) -> PathBuf {
    let dir = std::env::var_os("SPLATSTITCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/data"));
    let p = dir.join(name);
    assert!(p.exists(), "test data {} is missing (set SPLATSTITCH_DATA to the shared data folder)", p.display());
    p
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

pub fn load(p: &Path) -> GaussianCloud {
    formats::load(p, &LoadOptions::default()).unwrap_or_else(|e| panic!("{e}")).cloud
}

/// Largest absolute difference between two clouds' standard attributes (positions, rotations
/// compared up to sign, log-scales, opacity logits, SH), per attribute.
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
        let (qa, qb) = (a.rotations[i], b.rotations[i]);
        let dot: f32 = qa.iter().zip(&qb).map(|(x, y)| x * y).sum();
        let s = if dot < 0.0 { -1.0 } else { 1.0 };
        for c in 0..4 {
            m(&mut d.rotation, qa[c], s * qb[c]);
        }
        m(&mut d.opacity, a.opacities[i], b.opacities[i]);
    }
    for (x, y) in a.sh.iter().zip(&b.sh) {
        m(&mut d.sh, *x, *y);
    }
    d
}

/// Bit-for-bit equality of every column, extras and normals included.
pub fn assert_identical(a: &GaussianCloud, b: &GaussianCloud) {
    assert_eq!(a.len(), b.len());
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(a.positions.as_flattened()), bits(b.positions.as_flattened()), "positions");
    assert_eq!(bits(a.rotations.as_flattened()), bits(b.rotations.as_flattened()), "rotations");
    assert_eq!(bits(a.log_scales.as_flattened()), bits(b.log_scales.as_flattened()), "log-scales");
    assert_eq!(bits(&a.opacities), bits(&b.opacities), "opacities");
    assert_eq!(bits(&a.sh), bits(&b.sh), "SH");
    assert_eq!(a.normals, b.normals, "normals");
    assert_eq!(a.extras, b.extras, "extra properties");
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
