//! `splatstitch info`.

use super::NonFiniteArg;
use anyhow::Context;
use clap::Args;
use splatstitch_core::formats;
use splatstitch_core::stats::{CloudStats, Summary};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// Splat file (.ply, .compressed.ply, .splat, .spz, .glb, .gltf, .sog, meta.json,
    /// lod-meta.json).
    pub file: PathBuf,
    /// For a streamed SOG (lod-meta.json): the level of detail to read, 0 (the finest, the
    /// default) to the coarsest; `info` lists the levels.
    #[arg(long, value_name = "N")]
    pub lod: Option<u32>,

    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// What to do with Gaussians holding NaN/Inf values.
    #[arg(long, value_enum, default_value_t)]
    pub non_finite: NonFiniteArg,
}

#[derive(serde::Serialize)]
struct InfoReport {
    file: String,
    format: &'static str,
    ply_encoding: Option<splatstitch_core::PlyEncoding>,
    format_version: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lod: Option<formats::sog_lod::LodSummary>,
    file_bytes: u64,
    non_finite_dropped: usize,
    non_finite_kept: usize,
    #[serde(flatten)]
    stats: CloudStats,
}

fn fmt_summary(s: &Option<Summary>) -> String {
    match s {
        Some(s) => format!("min {:.4}  median {:.4}  mean {:.4}  max {:.4}", s.min, s.median, s.mean, s.max),
        None => "-".into(),
    }
}

fn fmt_vec(v: &Option<[f32; 3]>) -> String {
    v.map_or("-".into(), |v| format!("{:.4}, {:.4}, {:.4}", v[0], v[1], v[2]))
}

pub fn run(args: InfoArgs) -> anyhow::Result<()> {
    let loaded = formats::load(&args.file, &args.non_finite.load_options(args.lod))?;
    let file_bytes = std::fs::metadata(&args.file).with_context(|| args.file.display().to_string())?.len();
    let report = InfoReport {
        file: args.file.display().to_string(),
        format: loaded.format.name(),
        ply_encoding: loaded.ply_encoding,
        format_version: loaded.format_version,
        lod: loaded.lod.clone(),
        file_bytes,
        non_finite_dropped: loaded.non_finite_dropped,
        non_finite_kept: loaded.non_finite_kept,
        stats: CloudStats::of(&loaded.cloud),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let s = &report.stats;
    let enc = report
        .ply_encoding
        .map(|e| format!(" ({})", serde_json::to_value(e).unwrap().as_str().unwrap_or("")))
        .or(report.format_version.map(|v| format!(" (version {v})")));
    println!("file:         {} ({} bytes)", report.file, report.file_bytes);
    println!("format:       {}{}", report.format, enc.unwrap_or_default());
    if let Some(l) = &report.lod {
        let levels: Vec<String> = l.counts.iter().enumerate().map(|(i, c)| format!("{i}: {c}")).collect();
        println!(
            "lod:          level {} of {} read (0 is the finest; Gaussians {})",
            l.level,
            l.counts.len(),
            levels.join(", ")
        );
    }
    println!("gaussians:    {}", s.count);
    println!("sh degree:    {}", s.sh_degree);
    println!("bbox min:     {}", fmt_vec(&s.bbox_min));
    println!("bbox max:     {}", fmt_vec(&s.bbox_max));
    println!("opacity:      {}", fmt_summary(&s.opacity));
    println!("scale:        {}", fmt_summary(&s.scale));
    println!("normals:      {}", if s.has_normals { "yes" } else { "no" });
    println!(
        "extra props:  {}",
        if s.extra_properties.is_empty() { "none".into() } else { s.extra_properties.join(", ") }
    );
    if report.non_finite_dropped > 0 {
        println!("non-finite:   {} Gaussians with NaN/Inf values dropped", report.non_finite_dropped);
    }
    if report.non_finite_kept > 0 {
        println!("non-finite:   {} Gaussians with NaN/Inf values kept", report.non_finite_kept);
    }
    Ok(())
}
