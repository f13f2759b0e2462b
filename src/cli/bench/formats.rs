//! `splatstitch bench formats`: throughput of the format code, against a memory copy and
//! against `@playcanvas/splat-transform` in the same run, so the figures are ratios that survive
//! a noisy machine.

use super::{BenchArgs, best, gb_s, generated_cloud};
use anyhow::{Context, bail};
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

fn run_timed(cmd: &mut Command, repeat: usize) -> anyhow::Result<Duration> {
    best(repeat, || {
        let out = cmd.output().with_context(|| format!("starting {cmd:?}"))?;
        if !out.status.success() {
            bail!("{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    })
}

fn measure(path: &Path, tool: Option<&Path>, scratch: &Path, repeat: usize) -> anyhow::Result<FileResult> {
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
    Ok(FileResult {
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
    })
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
    let files = [a.capture("flowers_93k_sh2.ply")?, generated];
    let mut results = Vec::new();
    for f in &files {
        eprintln!("measuring {}...", f.display());
        results.push(measure(f, tool.as_deref(), scratch.path(), a.repeat)?);
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
    if let Some(p) = &a.json {
        formats::write_atomically(p, serde_json::to_string_pretty(&results)?.as_bytes())
            .with_context(|| p.display().to_string())?;
    }
    Ok(())
}
