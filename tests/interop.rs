//! Interop with a real outside tool: `@playcanvas/splat-transform` 3.7.0 (installed into
//! `tests/interop/node_modules` by `.ci/run`, or found through `$SPLAT_TRANSFORM`).
//!
//! (a) files we write are read back by it with identical values, (b) our conversions of its
//! formats match its own, (c) our transforms equal its `-s/-r/-t`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn splat_transform() -> Option<PathBuf> {
    let p = std::env::var_os("SPLAT_TRANSFORM")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("tests/interop/node_modules/.bin/splat-transform"));
    if p.exists() {
        return Some(p);
    }
    let missing = format!("splat-transform not found at {}: run `npm ci --prefix tests/interop`", p.display());
    splatstitch_core::test_data::skip(splatstitch_core::test_data::SKIP_INTEROP, &missing);
    None
}

/// Runs `splat-transform -w -q INPUT ACTIONS... OUTPUT`.
fn st(tool: &Path, input: &Path, actions: &[&str], output: &Path) {
    let mut cmd = Command::new(tool);
    cmd.arg("-w").arg("-q").arg(input).args(actions).arg(output);
    run_ok(&mut cmd);
}

fn convert(input: &Path, output: &Path, extra: &[&str]) {
    run_ok(bin().arg("convert").arg(input).arg(output).args(extra));
}

#[test]
fn standard_ply_we_write_reads_back_identically_in_splat_transform() {
    let Some(tool) = splat_transform() else { return };
    let dir = tempfile::tempdir().unwrap();
    for name in ["fruit_drops_5k_sh3.ply", "flowers_27k_sh2.ply"] {
        let ours = dir.path().join("ours.ply");
        let theirs = dir.path().join("theirs.ply");
        convert(&data(name), &ours, &["--rotate-deg", "10,-20,30", "--translate", "0.1,0.2,-0.3"]);
        st(&tool, &ours, &[], &theirs);
        assert_identical(&load(&ours), &load(&theirs));
    }
}

#[test]
fn quantized_files_we_write_decode_the_same_in_splat_transform() {
    let Some(tool) = splat_transform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = data("flowers_27k_sh2.ply");
    // .compressed.ply: both sides dequantize the same bits.
    let ours = dir.path().join("ours.compressed.ply");
    convert(&src, &ours, &[]);
    let theirs = dir.path().join("theirs_c.ply");
    st(&tool, &ours, &[], &theirs);
    let d = diff(&load(&ours), &load(&theirs));
    eprintln!("compressed.ply: {d:?}");
    assert!(d.position < 1e-6 && d.rotation < 1e-6 && d.log_scale < 1e-5 && d.sh < 1e-5 && d.opacity < 1e-4, "{d:?}");
    // .spz v4, v3 and v2: its reader leaves the RUB axes unconverted, so flip its result.
    for v in ["2", "3", "4"] {
        let ours = dir.path().join(format!("ours{v}.spz"));
        convert(&src, &ours, &["--spz-version", v]);
        let theirs = dir.path().join(format!("theirs_spz{v}.ply"));
        st(&tool, &ours, &[], &theirs);
        let d = diff(&load(&ours), &flip_x(&load(&theirs)));
        eprintln!("spz v{v}: {d:?}");
        assert!(
            d.position < 1e-6 && d.rotation < 1e-5 && d.log_scale < 1e-5 && d.sh < 1e-5 && d.opacity < 1e-4,
            "{d:?}"
        );
    }
    // .splat: rotation bytes decode as (b-128)/128 here and b/127.5-1 there, hence the tolerance.
    let ours = dir.path().join("ours.splat");
    convert(&src, &ours, &[]);
    let theirs = dir.path().join("theirs_splat.ply");
    st(&tool, &ours, &[], &theirs);
    let d = diff(&load(&ours), &load(&theirs));
    eprintln!("splat: {d:?}");
    assert!(d.position == 0.0 && d.rotation < 0.02 && d.log_scale < 1e-5 && d.sh < 1e-4 && d.opacity < 1e-3, "{d:?}");
}

#[test]
fn our_conversions_of_its_formats_match_its_own() {
    let Some(tool) = splat_transform() else { return };
    let dir = tempfile::tempdir().unwrap();
    // .spz files written by splat-transform itself: version 3, and its default (version 4) at
    // SH degree 2 and 0 (five streams).
    let spz3 = dir.path().join("flowers3.spz");
    st(&tool, &data("flowers_27k_sh2.ply"), &["--spz-version", "3"], &spz3);
    let spz4 = dir.path().join("flowers4.spz");
    st(&tool, &data("flowers_27k_sh2.ply"), &[], &spz4);
    let spz4_sh0 = dir.path().join("guitar4.spz");
    st(&tool, &data("guitar_91k_sh0.compressed.ply"), &[], &spz4_sh0);
    let cases: Vec<(PathBuf, bool)> = vec![
        (data("guitar_91k_sh0.compressed.ply"), false),
        (data("plant_114k_sh0.splat"), false),
        (spz3, true),
        (spz4, true),
        (spz4_sh0, true),
    ];
    for (input, rub) in cases {
        let ours = dir.path().join("ours.ply");
        let theirs = dir.path().join("theirs.ply");
        convert(&input, &ours, &[]);
        st(&tool, &input, &[], &theirs);
        let theirs = if rub { flip_x(&load(&theirs)) } else { load(&theirs) };
        let d = diff(&load(&ours), &theirs);
        eprintln!("{}: {d:?}", input.display());
        let rot_tol = if input.extension().unwrap() == "splat" { 0.02 } else { 1e-5 };
        assert!(
            d.position < 1e-5 && d.rotation < rot_tol && d.log_scale < 1e-4 && d.sh < 1e-4 && d.opacity < 1e-3,
            "{d:?}"
        );
    }
}

#[test]
fn our_transform_equals_its_scale_rotate_translate() {
    let Some(tool) = splat_transform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = data("fruit_drops_5k_sh3.ply");
    // Its actions work in PlayCanvas space, which flips x and y: in file coordinates its
    // rotation is F·R·F and its translation F·t with F = diag(-1, -1, 1). For R = Rz·Ry·Rx,
    // F·Rx(a)·F = Rx(-a), F·Ry(b)·F = Ry(-b), F·Rz(c)·F = Rz(c).
    for (s, r, t) in [
        ("1", "0,0,37", "0,0,0"),
        ("1", "25,0,0", "0,0,0"),
        ("1", "0,-40,0", "0,0,0"),
        ("1.7", "30,-45,60", "0.5,-1,2"),
    ] {
        let [a, b, c]: [f32; 3] = parse3(r);
        let [x, y, z]: [f32; 3] = parse3(t);
        let ours = dir.path().join("ours.ply");
        let theirs = dir.path().join("theirs.ply");
        convert(
            &src,
            &ours,
            &[
                "--scale",
                s,
                "--rotate-deg",
                &format!("{},{},{}", -a, -b, c),
                "--translate",
                &format!("{},{},{}", -x, -y, z),
            ],
        );
        st(&tool, &src, &["-s", s, "-r", r, "-t", t], &theirs);
        let d = diff(&load(&ours), &load(&theirs));
        eprintln!("-s {s} -r {r} -t {t}: {d:?}");
        assert!(
            d.position < 1e-5 && d.rotation < 1e-5 && d.log_scale < 1e-5 && d.sh < 1e-4 && d.opacity == 0.0,
            "{d:?}"
        );
    }
}

fn parse3(s: &str) -> [f32; 3] {
    let v: Vec<f32> = s.split(',').map(|p| p.parse().unwrap()).collect();
    [v[0], v[1], v[2]]
}

#[test]
fn glb_it_writes_reads_here_as_its_own_ply_and_ours_matches_its_layout() {
    // splat-transform 3.7.0 writes .glb but does not read it: its .glb read here must equal its
    // own PLY of the same input, and our .glb of that input must read back as its .glb does.
    let Some(tool) = splat_transform() else { return };
    let dir = tempfile::tempdir().unwrap();
    for name in ["fruit_drops_5k_sh3.ply", "flowers_27k_sh2.ply", "guitar_91k_sh0.compressed.ply"] {
        let theirs_glb = dir.path().join("theirs.glb");
        let theirs_ply = dir.path().join("theirs.ply");
        st(&tool, &data(name), &[], &theirs_glb);
        st(&tool, &data(name), &[], &theirs_ply);
        let from_glb = dir.path().join("from_glb.ply");
        convert(&theirs_glb, &from_glb, &[]);
        let d = diff(&load(&from_glb), &load(&theirs_ply));
        eprintln!("{name}: its glb here vs its ply: {d:?}");
        assert!(
            d.position < 1e-6 && d.rotation < 1e-6 && d.log_scale < 1e-5 && d.sh < 1e-6 && d.opacity < 1e-3,
            "{d:?}"
        );
        let ours_glb = dir.path().join("ours.glb");
        convert(&data(name), &ours_glb, &[]);
        let d = diff(&load(&ours_glb), &load(&theirs_glb));
        eprintln!("{name}: our glb vs its glb: {d:?}");
        assert!(
            d.position < 1e-6 && d.rotation < 1e-6 && d.log_scale < 1e-5 && d.sh < 1e-6 && d.opacity < 1e-3,
            "{d:?}"
        );
    }
}

/// Runs `splat-transform -w -q -g cpu INPUTS... OUTPUT` (its SOG writer otherwise asks for a
/// WebGPU device, which a machine without a GPU does not give).
fn st_cpu(tool: &Path, inputs: &[&dyn AsRef<std::ffi::OsStr>], output: &Path) {
    let mut cmd = Command::new(tool);
    cmd.arg("-w").arg("-q").arg("-g").arg("cpu");
    for i in inputs {
        cmd.arg(i);
    }
    run_ok(cmd.arg(output));
}

fn assert_same_decode(what: &str, ours: &Path, theirs: &Path) {
    let d = diff(&load(ours), &load(theirs));
    eprintln!("{what}: {d:?}");
    assert!(
        d.position < 1e-6 && d.rotation < 1e-6 && d.log_scale < 1e-6 && d.sh < 1e-6 && d.opacity < 1e-5,
        "{what}: {d:?}"
    );
}

#[test]
fn sog_it_writes_reads_here_as_its_own_decode() {
    let Some(tool) = splat_transform() else { return };
    let dir = tempfile::tempdir().unwrap();
    let src = data("fruit_drops_5k_sh3.ply");
    let bundled = dir.path().join("its.sog");
    st_cpu(&tool, &[&src], &bundled);
    std::fs::create_dir(dir.path().join("its")).unwrap();
    let unbundled = dir.path().join("its/meta.json");
    st_cpu(&tool, &[&src], &unbundled);
    for input in [&bundled, &unbundled] {
        let (ours, theirs) = (dir.path().join("ours.ply"), dir.path().join("theirs.ply"));
        convert(input, &ours, &[]);
        st(&tool, input, &[], &theirs);
        assert_same_decode(&input.display().to_string(), &ours, &theirs);
    }
    // Streamed SOG: the capture as level 0, its more opaque half as level 1.
    let coarse = dir.path().join("coarse.ply");
    st(&tool, &src, &["-V", "opacity,gt,0.5"], &coarse);
    let lod = dir.path().join("lod/lod-meta.json");
    std::fs::create_dir(dir.path().join("lod")).unwrap();
    st_cpu(&tool, &[&src, &"-l", &"0", &coarse, &"-l", &"1"], &lod);
    for level in ["0", "1"] {
        let (ours, theirs) = (dir.path().join("ours.ply"), dir.path().join("theirs.ply"));
        convert(&lod, &ours, &["--lod", level]);
        st(&tool, &lod, &["-L", level], &theirs);
        assert_same_decode(&format!("lod-meta.json level {level}"), &ours, &theirs);
    }
    assert_eq!(load(&dir.path().join("ours.ply")).len(), load(&coarse).len());
}

#[test]
fn sog_we_write_reads_there_as_here() {
    let Some(tool) = splat_transform() else { return };
    let dir = tempfile::tempdir().unwrap();
    for name in ["fruit_drops_5k_sh3.ply", "flowers_27k_sh2.ply", "guitar_91k_sh0.compressed.ply"] {
        let bundled = dir.path().join("ours.sog");
        convert(&data(name), &bundled, &[]);
        std::fs::create_dir_all(dir.path().join("ours")).unwrap();
        let unbundled = dir.path().join("ours/meta.json");
        convert(&data(name), &unbundled, &[]);
        for ours in [&bundled, &unbundled] {
            let theirs = dir.path().join("theirs.ply");
            st(&tool, ours, &[], &theirs);
            assert_same_decode(&format!("{name} as {}", ours.display()), ours, &theirs);
        }
    }
}
