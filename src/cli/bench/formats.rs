//! `splatstitch bench formats`: throughput of the format code, against a memory copy and
//! against `@playcanvas/splat-transform` in the same run, so the figures are ratios that survive
//! a noisy machine.

use super::{BenchArgs, best, gb_s, generated_cloud};
use anyhow::{Context, bail};
use splatstitch_core::GaussianCloud;
use splatstitch_core::formats::{self, LoadOptions, SaveOptions};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(serde::Serialize)]
struct FileResult {
    file: String,
    gaussians: usize,
    bytes: u64,
    memcpy_gb_s: f64,
    load_gb_s: f64,
    /// Decoding bytes already in memory (load = read + decode).
    decode_gb_s: f64,
    /// Reading the file into memory alone.
    read_gb_s: f64,
    write_gb_s: f64,
    convert_s: f64,
    splat_transform_convert_s: Option<f64>,
    speedup_vs_splat_transform: Option<f64>,
}

/// One file written in one of the compressed exchange formats and read back, ours against
/// splat-transform's CLI (which writes `.glb` but cannot read it).
#[derive(serde::Serialize)]
struct CodecResult {
    file: String,
    format: &'static str,
    gaussians: usize,
    /// Size of our output.
    bytes: u64,
    /// In-process encode + write, and read + decode.
    write_s: f64,
    load_s: f64,
    /// Whole-process `convert` from the PLY and back to PLY.
    convert_to_s: f64,
    convert_from_s: f64,
    splat_transform_to_s: Option<f64>,
    splat_transform_from_s: Option<f64>,
    splat_transform_bytes: Option<u64>,
    /// RMS error of the higher SH bands after a round trip (Gaussians matched by centre, as
    /// SOG reorders them), ours and splat-transform's output read here.
    sh_rms: Option<f64>,
    splat_transform_sh_rms: Option<f64>,
}

/// Splat-transform's SOG encode runs its k-means in JavaScript on the CPU: hours for millions
/// of SH3 Gaussians, so above this many its SOG column stays empty.
const SPLAT_TRANSFORM_SOG_LIMIT: usize = 500_000;

/// RMS difference of the higher SH bands of `decoded` from `original`, each decoded Gaussian
/// matched to the original one at the nearest centre.
fn sh_rms(original: &GaussianCloud, decoded: &GaussianCloud) -> Option<f64> {
    if original.sh_degree == 0 || decoded.sh_degree != original.sh_degree {
        return None;
    }
    let index = splatstitch_stitch::centres::CentreIndex::new(original)?;
    let k = original.coeffs_per_channel() * 3;
    let (sum, count) = (0..decoded.len())
        .map(|i| {
            let j = index.nearest(&decoded.positions[i], 1)[0].0 as usize;
            let e: f64 =
                decoded.sh_of(i)[3..].iter().zip(&original.sh_of(j)[3..]).map(|(a, b)| f64::from(a - b).powi(2)).sum();
            (e, k - 3)
        })
        .fold((0.0, 0usize), |(s, c), (e, n)| (s + e, c + n));
    Some((sum / count.max(1) as f64).sqrt())
}

fn measure_codec(
    path: &Path,
    cloud: &GaussianCloud,
    extension: &'static str,
    tool: Option<&Path>,
    scratch: &Path,
    repeat: usize,
) -> anyhow::Result<CodecResult> {
    let opts = LoadOptions::default();
    let ours = scratch.join(format!("ours.{extension}"));
    let write = best(repeat, || Ok(formats::save(&ours, cloud, &SaveOptions::default())?))?;
    let load = best(repeat, || Ok(formats::load(&ours, &opts)?))?;
    let exe = std::env::current_exe()?;
    let convert_to = run_timed(Command::new(&exe).arg("convert").arg(path).arg(&ours), repeat)?;
    let back = scratch.join("back.ply");
    let convert_from = run_timed(Command::new(&exe).arg("convert").arg(&ours).arg(&back), repeat)?;
    let ours_sh_rms = sh_rms(cloud, &formats::load(&ours, &opts)?.cloud);
    let (mut st_to, mut st_from, mut st_bytes, mut st_sh_rms) = (None, None, None, None);
    let sog = extension == "sog";
    let tool = tool.filter(|_| !(sog && cloud.len() > SPLAT_TRANSFORM_SOG_LIMIT));
    if sog && tool.is_none() && cloud.len() > SPLAT_TRANSFORM_SOG_LIMIT {
        eprintln!("  splat-transform's CPU SOG encode of {} Gaussians is skipped (hours)", cloud.len());
    }
    if let Some(t) = tool {
        let theirs = scratch.join(format!("theirs.{extension}"));
        let mut cmd = Command::new(t);
        cmd.arg("-w").arg("-q");
        if sog {
            // Its default asks for a WebGPU device, which this machine's driver does not give.
            cmd.arg("-g").arg("cpu");
        }
        st_to = Some(run_timed(cmd.arg(path).arg(&theirs), repeat.min(3))?.as_secs_f64());
        st_bytes = Some(std::fs::metadata(&theirs)?.len());
        st_sh_rms = sh_rms(cloud, &formats::load(&theirs, &opts)?.cloud);
        if extension == "spz" || sog {
            let theirs_back = scratch.join("theirs_back.ply");
            st_from = Some(
                run_timed(Command::new(t).arg("-w").arg("-q").arg(&theirs).arg(&theirs_back), repeat.min(3))?
                    .as_secs_f64(),
            );
        }
    }
    Ok(CodecResult {
        file: path.display().to_string(),
        format: extension,
        gaussians: cloud.len(),
        bytes: std::fs::metadata(&ours)?.len(),
        write_s: write.as_secs_f64(),
        load_s: load.as_secs_f64(),
        convert_to_s: convert_to.as_secs_f64(),
        convert_from_s: convert_from.as_secs_f64(),
        splat_transform_to_s: st_to,
        splat_transform_from_s: st_from,
        splat_transform_bytes: st_bytes,
        sh_rms: ours_sh_rms,
        splat_transform_sh_rms: st_sh_rms,
    })
}

fn print_codecs(results: &[CodecResult]) {
    println!();
    println!(
        "{:<28} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "file",
        "format",
        "MB",
        "write",
        "load",
        "ply→",
        "→ply",
        "st ply→",
        "st →ply",
        "st MB",
        "speedup",
        "SH rms",
        "st SH"
    );
    println!(
        "{:<28} {:>6} {:>8} {:>8} {:>8} {:>9} {:>9} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "", "", "", "s", "s", "s", "s", "s", "s", "", "ply→ ×", "", "rms"
    );
    let opt = |v: Option<f64>| v.map_or("-".into(), |s| format!("{s:.3}"));
    for r in results {
        let name = Path::new(&r.file).file_name().unwrap().to_string_lossy();
        println!(
            "{:<28} {:>6} {:>8.2} {:>8.3} {:>8.3} {:>9.3} {:>9.3} {:>10} {:>10} {:>8} {:>8} {:>8} {:>8}",
            name,
            r.format,
            r.bytes as f64 / 1e6,
            r.write_s,
            r.load_s,
            r.convert_to_s,
            r.convert_from_s,
            opt(r.splat_transform_to_s),
            opt(r.splat_transform_from_s),
            r.splat_transform_bytes.map_or("-".into(), |b| format!("{:.2}", b as f64 / 1e6)),
            r.splat_transform_to_s.map_or("-".into(), |t| format!("{:.1}", t / r.convert_to_s)),
            r.sh_rms.map_or("-".into(), |e| format!("{e:.4}")),
            r.splat_transform_sh_rms.map_or("-".into(), |e| format!("{e:.4}")),
        );
    }
}

fn run_timed(cmd: &mut Command, repeat: usize) -> anyhow::Result<Duration> {
    best(repeat, || {
        let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    })
}

/// The PLY row, and the cloud loaded from it (which the codec rows write).
fn measure(
    path: &Path,
    tool: Option<&Path>,
    scratch: &Path,
    repeat: usize,
) -> anyhow::Result<(FileResult, GaussianCloud)> {
    let bytes = std::fs::metadata(path)?.len();
    let raw = std::fs::read(path)?; // also warms the page cache
    let mut copy = vec![0u8; raw.len()];
    let memcpy = best(repeat, || {
        copy.copy_from_slice(std::hint::black_box(&raw));
        Ok(())
    })?;
    drop(copy);
    let opts = LoadOptions::default();
    let load = best(repeat, || Ok(formats::load(path, &opts)?))?;
    let decode = best(repeat, || Ok(formats::decode(&raw, formats::Format::from_path(path)?, &opts)?))?;
    let read = best(repeat, || Ok(std::fs::read(path)?))?;
    let cloud = formats::load(path, &opts)?.cloud;
    let out = scratch.join("written.ply");
    let write = best(repeat, || Ok(formats::save(&out, &cloud, &SaveOptions::default())?))?;
    let written = std::fs::metadata(&out)?.len();
    let exe = std::env::current_exe()?;
    let ours_out = scratch.join("ours.ply");
    let convert = run_timed(Command::new(&exe).arg("convert").arg(path).arg(&ours_out), repeat)?;
    let theirs = match tool {
        Some(t) => {
            let theirs_out = scratch.join("theirs.ply");
            Some(run_timed(Command::new(t).arg("-w").arg("-q").arg(path).arg(&theirs_out), repeat.min(3))?)
        }
        None => None,
    };
    let result = FileResult {
        file: path.display().to_string(),
        gaussians: cloud.len(),
        bytes,
        memcpy_gb_s: gb_s(bytes, memcpy),
        load_gb_s: gb_s(bytes, load),
        decode_gb_s: gb_s(bytes, decode),
        read_gb_s: gb_s(bytes, read),
        write_gb_s: gb_s(written, write),
        convert_s: convert.as_secs_f64(),
        splat_transform_convert_s: theirs.map(|d| d.as_secs_f64()),
        speedup_vs_splat_transform: theirs.map(|d| d.as_secs_f64() / convert.as_secs_f64()),
    };
    Ok((result, cloud))
}

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let tool = a
        .splat_transform
        .clone()
        .or_else(|| Some(PathBuf::from("tests/interop/node_modules/.bin/splat-transform")))
        .filter(|p| p.exists());
    if tool.is_none() {
        eprintln!("splat-transform not found (npm ci --prefix tests/interop): its column stays empty");
    }
    let scratch = match &a.scratch {
        Some(dir) => tempfile::tempdir_in(dir).with_context(|| dir.display().to_string())?,
        None => tempfile::tempdir()?,
    };
    let generated = scratch.path().join(format!("generated_{}_sh3.ply", a.generated));
    eprintln!("generating {} Gaussians with SH degree 3...", a.generated);
    formats::save(&generated, &generated_cloud(a.generated, 3), &SaveOptions::default())?;
    let files = [a.capture("flowers_93k_sh2.ply")?, a.capture("plant_114k_sh0.ply")?, generated];
    let mut results = Vec::new();
    let mut clouds = Vec::new();
    for f in &files {
        eprintln!("measuring {}...", f.display());
        let (result, cloud) = measure(f, tool.as_deref(), scratch.path(), a.repeat)?;
        results.push(result);
        clouds.push(cloud);
    }
    println!(
        "{:<28} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>10} {:>8}",
        "file", "gaussians", "MB", "memcpy", "read", "decode", "load", "write", "convert", "splat-tr.", "speedup"
    );
    println!(
        "{:<28} {:>10} {:>7} {:>7} {:>7} {:>7} {:>7} {:>7} {:>8} {:>10} {:>8}",
        "", "", "", "GB/s", "GB/s", "GB/s", "GB/s", "GB/s", "s", "s", "×"
    );
    for r in &results {
        let name = Path::new(&r.file).file_name().unwrap().to_string_lossy();
        println!(
            "{:<28} {:>10} {:>7.1} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>8.3} {:>10} {:>8}",
            name,
            r.gaussians,
            r.bytes as f64 / 1e6,
            r.memcpy_gb_s,
            r.read_gb_s,
            r.decode_gb_s,
            r.load_gb_s,
            r.write_gb_s,
            r.convert_s,
            r.splat_transform_convert_s.map_or("-".into(), |s| format!("{s:.3}")),
            r.speedup_vs_splat_transform.map_or("-".into(), |s| format!("{s:.1}")),
        );
    }
    let mut codecs = Vec::new();
    for (f, cloud) in files.iter().zip(&clouds) {
        for extension in ["spz", "glb", "sog"] {
            eprintln!("measuring {} as .{extension}...", f.display());
            codecs.push(measure_codec(f, cloud, extension, tool.as_deref(), scratch.path(), a.repeat)?);
        }
    }
    print_codecs(&codecs);
    if let Some(p) = &a.json {
        let all = serde_json::json!({ "ply": results, "codecs": codecs });
        formats::write_atomically(p, serde_json::to_string_pretty(&all)?.as_bytes())
            .with_context(|| p.display().to_string())?;
    }
    Ok(())
}
