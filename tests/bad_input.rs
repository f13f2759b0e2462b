//! Bad input never panics: every malformed file gets a one-line error naming the file and the
//! problem, and a non-zero exit code.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Runs `splatstitch info FILE ARGS`, expects failure (not a panic) and returns stderr.
fn info_fails(file: &Path, args: &[&str]) -> String {
    let out = bin().arg("info").arg(file).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "expected a clean failure for {}, got {:?}: {stderr}",
        file.display(),
        out.status
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.contains(&file.display().to_string()), "error does not name the file: {stderr}");
    stderr
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn replace(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    let pos = bytes.windows(from.len()).position(|w| w == from.as_bytes()).expect("pattern present");
    [&bytes[..pos], to.as_bytes(), &bytes[pos + from.len()..]].concat()
}

#[test]
fn malformed_ply_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let ply = std::fs::read(data("flowers_27k_sh2.ply")).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated.ply", ply[..ply.len() * 3 / 5].to_vec(), "truncated"),
        ("mismatch.ply", replace(&ply, "element vertex 26895", "element vertex 26995"), "truncated"),
        ("absurd.ply", replace(&ply, "element vertex 26895", "element vertex 999999999999"), "absurd element count"),
        // Fewer rows declared than the body holds: the header and body disagree.
        ("fewer.ply", replace(&ply, "element vertex 26895", "element vertex 26795"), "room for 100 more `vertex` rows"),
        ("padded.ply", [&ply[..], &[0u8; 7][..]].concat(), "7 bytes follow the last row the header declares"),
        // A second `x` would shift every column after it.
        (
            "duplicate.ply",
            replace(&ply, "property float x\n", "property float x\nproperty float x\n"),
            "declares property `x` twice in element `vertex`",
        ),
        (
            "duplicate_element.ply",
            replace(&ply, "end_header\n", "element vertex 0\nend_header\n"),
            "declares element `vertex` twice",
        ),
        (
            "missing.ply",
            replace(&ply, "property float f_dc_0", "property float f_xx_0"),
            "missing required property `f_dc_0`",
        ),
        ("nonply.ply", b"\x89PNG\r\n\x1a\n not a splat at all".to_vec(), "not a PLY file"),
        ("empty.ply", Vec::new(), "not a PLY file"),
        ("noend.ply", b"ply\nformat binary_little_endian 1.0\nelement vertex 3\n".to_vec(), "no end_header"),
        (
            "badformat.ply",
            replace(&ply, "format binary_little_endian 1.0", "format binary_middle_endian 1.0"),
            "header is malformed",
        ),
        ("shcount.ply", replace(&ply, "property float f_rest_23", "property float f_rust_23"), "SH rest coefficients"),
        (
            "listvertex.ply",
            replace(&ply, "property float opacity", "property list uchar float opacity"),
            "list property",
        ),
    ];
    for (name, bytes, expect) in cases {
        let err = info_fails(&write(dir.path(), name, &bytes), &[]);
        assert!(err.contains(expect), "{name}: expected `{expect}` in: {err}");
    }
}

#[test]
fn malformed_ascii_ply_reports_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ply");
    run_ok(bin().arg("convert").arg(data("fruit_drops_5k_sh3.ply")).arg(&good).args(["--ply-encoding", "ascii"]));
    let text = std::fs::read_to_string(&good).unwrap();
    let body_start = text.find("end_header\n").unwrap() + 11;
    let broken = format!("{}1.0 banana{}", &text[..body_start], &text[body_start + 3..]);
    let err = info_fails(&write(dir.path(), "bad_ascii.ply", broken.as_bytes()), &[]);
    assert!(err.contains("body line 1"), "{err}");
    let short: String = text.lines().take(120).map(|l| format!("{l}\n")).collect();
    let err = info_fails(&write(dir.path(), "short_ascii.ply", short.as_bytes()), &[]);
    assert!(err.contains("vertex rows") || err.contains("absurd"), "{err}");
    // More rows than declared: the last row again.
    let last = text.lines().last().unwrap();
    let long = format!("{text}{last}\n");
    let err = info_fails(&write(dir.path(), "long_ascii.ply", long.as_bytes()), &[]);
    assert!(err.contains("a row beyond the 4721 the header declares for `vertex`"), "{err}");
}

#[test]
fn nan_and_inf_are_reported_and_dropped_or_rejected_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let ply = std::fs::read(data("fruit_drops_5k_sh3.ply")).unwrap();
    let body = ply.windows(11).position(|w| w == b"end_header\n").unwrap() + 11;
    let mut bad = ply.clone();
    bad[body..body + 4].copy_from_slice(&f32::NAN.to_le_bytes()); // x of Gaussian 0
    let row = (ply.len() - body) / 4721;
    bad[body + 7 * row + 4..body + 7 * row + 8].copy_from_slice(&f32::INFINITY.to_le_bytes()); // y of 7
    let p = write(dir.path(), "nan.ply", &bad);

    let out = run_ok(bin().arg("info").arg(&p));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("4719") && stdout.contains("2 Gaussians with NaN/Inf values dropped"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dropped 2 Gaussians"));

    let err = info_fails(&p, &["--non-finite", "reject"]);
    assert!(err.contains("2 Gaussians have NaN or infinite values (first at index 0)"), "{err}");

    let out = run_ok(bin().arg("info").arg(&p).args(["--non-finite", "keep", "--json"]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["count"].as_u64(), v["non_finite_kept"].as_u64()), (Some(4721), Some(2)));

    let conv = dir.path().join("clean.ply");
    run_ok(bin().arg("convert").arg(&p).arg(&conv));
    assert_eq!(load(&conv).len(), 4719);
}

#[test]
fn malformed_splat_spz_and_compressed_files_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let splat = std::fs::read(data("plant_114k_sh0.splat")).unwrap();
    let err = info_fails(&write(dir.path(), "cut.splat", &splat[..1000 * 32 + 7]), &[]);
    assert!(err.contains("not a multiple of 32"), "{err}");

    let spz_path = dir.path().join("good.spz");
    run_ok(bin().arg("convert").arg(data("flowers_27k_sh2.ply")).arg(&spz_path));
    let spz = std::fs::read(&spz_path).unwrap();
    let err = info_fails(&write(dir.path(), "cut.spz", &spz[..spz.len() / 2]), &[]);
    assert!(err.contains("SPZ") || err.contains("truncated"), "{err}");
    // An uncompressed header claiming four billion points in a 16-byte file.
    let mut huge = 0x5053_474eu32.to_le_bytes().to_vec();
    huge.extend_from_slice(&3u32.to_le_bytes());
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    huge.extend_from_slice(&[3, 12, 0, 0]);
    let err = info_fails(&write(dir.path(), "huge.spz", &huge), &[]);
    assert!(err.contains("absurd"), "{err}");
    let mut v9 = huge.clone();
    v9[4] = 9;
    let err = info_fails(&write(dir.path(), "v9.spz", &v9), &[]);
    assert!(err.contains("unsupported version 9"), "{err}");
    let err = info_fails(&write(dir.path(), "scene.sog", b"PK"), &[]);
    assert!(err.contains("scene.sog") && err.contains("not a SOG zip"), "{err}");
    // A meta.json whose textures are not beside it names the one it looked for.
    let sog_dir = dir.path().join("sog");
    std::fs::create_dir(&sog_dir).unwrap();
    run_ok(bin().arg("convert").arg(data("fruit_drops_5k_sh3.ply")).arg(sog_dir.join("meta.json")));
    std::fs::remove_file(sog_dir.join("quats.webp")).unwrap();
    let err = info_fails(&sog_dir.join("meta.json"), &[]);
    assert!(err.contains("meta.json") && err.contains("quats.webp"), "{err}");
    let err = info_fails(&write(dir.path(), "junk.spz", b"\x1f\x8bnot really gzip"), &[]);
    assert!(err.contains("SPZ"), "{err}");
    // Version 4, what `convert` writes by default: header, table of contents, zstd frames.
    assert_eq!(spz[4..8], 4u32.to_le_bytes());
    let mut sizes = spz.clone();
    sizes[32 + 8] ^= 1; // the positions stream's uncompressed size
    let err = info_fails(&write(dir.path(), "sizes.spz", &sizes), &[]);
    assert!(err.contains("positions stream holds"), "{err}");
    let mut streams = spz.clone();
    streams[15] = 3;
    let err = info_fails(&write(dir.path(), "streams.spz", &streams), &[]);
    assert!(err.contains("3 streams"), "{err}");
    let mut toc = spz.clone();
    toc[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let err = info_fails(&write(dir.path(), "toc.spz", &toc), &[]);
    assert!(err.contains("table of contents"), "{err}");
    let mut frame = spz.clone();
    frame[32 + 6 * 16..32 + 6 * 16 + 4].fill(0); // the first frame's magic number
    let err = info_fails(&write(dir.path(), "frame.spz", &frame), &[]);
    assert!(err.contains("corrupt positions stream"), "{err}");
    let err = info_fails(&write(dir.path(), "short4.spz", &spz[..24]), &[]);
    assert!(err.contains("32-byte"), "{err}");

    let comp = std::fs::read(data("guitar_91k_sh0.compressed.ply")).unwrap();
    // Fewer chunks declared than stored: the rows no longer add up to the body.
    let fewer = replace(&comp, "element chunk 355", "element chunk 300");
    let err = info_fails(&write(dir.path(), "fewer.compressed.ply", &fewer), &[]);
    assert!(err.contains("3960 bytes follow the last row the header declares"), "{err}");
    // And with the 55 chunk rows (72 bytes each) gone too: too few chunks for the Gaussians.
    let body = fewer.windows(11).position(|w| w == b"end_header\n").unwrap() + 11;
    let few = [&fewer[..body], &fewer[body + 55 * 72..]].concat();
    let err = info_fails(&write(dir.path(), "few.compressed.ply", &few), &[]);
    assert!(err.contains("chunks cannot hold"), "{err}");
    let err = info_fails(&write(dir.path(), "cut.compressed.ply", &comp[..comp.len() - 100]), &[]);
    assert!(err.contains("truncated"), "{err}");
    let err = info_fails(
        &write(dir.path(), "nopos.compressed.ply", &replace(&comp, "packed_position", "packed_pasition")),
        &[],
    );
    assert!(err.contains("packed_position"), "{err}");
}

#[test]
fn unknown_extension_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let err = info_fails(&write(dir.path(), "scene.obj", b"v 0 0 0"), &[]);
    assert!(err.contains("unknown file extension"), "{err}");
    let err = info_fails(&dir.path().join("nowhere.ply"), &[]);
    assert!(err.contains("No such file"), "{err}");
}

#[test]
fn compressed_ply_named_as_plain_ply_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let comp = std::fs::read(data("guitar_91k_sh0.compressed.ply")).unwrap();
    let err = info_fails(&write(dir.path(), "guitar.ply", &comp), &[]);
    assert!(err.contains("compressed PLY"), "{err}");
}

#[test]
fn convert_rejects_bad_arguments_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.ply");
    for args in [
        vec!["--scale", "0"],
        vec!["--scale", "-2"],
        vec!["--rotate-deg", "1,2"],
        vec!["--translate", "a,b,c"],
        vec!["--crop-min", "0,0,0"],
        vec!["--sh-degree", "4"],
        vec!["--spz-version", "5"],
    ] {
        let o = bin().arg("convert").arg(data("fruit_drops_5k_sh3.ply")).arg(&out).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!out.exists());
    }
    let o = bin()
        .arg("convert")
        .arg(data("fruit_drops_5k_sh3.ply"))
        .arg(&out)
        .args(["--crop-min", "1,1,1", "--crop-max", "0,0,0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(!out.exists());
    let same = dir.path().join("same.ply");
    std::fs::copy(data("fruit_drops_5k_sh3.ply"), &same).unwrap();
    let o = bin().arg("convert").arg(&same).arg(&same).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("output is the input"));
}

#[test]
fn infinite_opacity_logits_are_valid_data_and_kept_by_info_convert_and_stitch() {
    // Opacity exactly 1 or 0 is stored as a logit of ±∞ (chunk-quantized files decode to them).
    let dir = tempfile::tempdir().unwrap();
    let mut c = load(&data("fruit_drops_5k_sh3.ply"));
    let n = c.len();
    for i in (0..n).step_by(5) {
        c.opacities[i] = if i % 2 == 0 { f32::INFINITY } else { f32::NEG_INFINITY };
    }
    let p = dir.path().join("saturated.ply");
    splatstitch_core::formats::save(&p, &c, &Default::default()).unwrap();
    let out = run_ok(bin().args(["info", "--json"]).arg(&p));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!((v["count"].as_u64(), v["non_finite_dropped"].as_u64()), (Some(n as u64), Some(0)), "{v}");
    let conv = dir.path().join("converted.ply");
    let out = run_ok(bin().arg("convert").arg(&p).arg(&conv));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("dropped"));
    let back = load(&conv);
    assert_eq!(back.len(), n);
    assert_eq!(back.opacities[0], f32::INFINITY);
    assert_eq!(back.opacities[5], f32::NEG_INFINITY);
    // A stitch holds every input Gaussian, the saturated ones included.
    let job = dir.path().join("job.toml");
    std::fs::write(
        &job,
        "[[layer]]\nname = \"a\"\nfile = \"saturated.ply\"\nrole = \"source\"\ncrop = { box_min = [-9, -9, -9], box_max = [0.76, 9, 9] }\n\n\
         [[layer]]\nname = \"b\"\nfile = \"saturated.ply\"\nrole = \"target\"\ncrop = { box_min = [0.74, -9, -9], box_max = [9, 9, 9] }\n\n\
         [blend]\nmethod = \"stitch\"\niterations = 20\nviews = 4\nresolution = 32\n\n[output]\nply = \"out.ply\"\n",
    )
    .unwrap();
    run_ok(bin().arg("stitch").arg(&job));
    let parts = load(&dir.path().join("out.ply"));
    let expected =
        c.positions.iter().filter(|p| p[0] <= 0.76).count() + c.positions.iter().filter(|p| p[0] >= 0.74).count();
    assert_eq!(parts.len(), expected);
    assert!(parts.opacities.contains(&f32::INFINITY) && parts.opacities.contains(&f32::NEG_INFINITY));
}
