//! `splatstitch bench render`: frame times of the GPU rasterizer (whatever adapter this machine
//! has: lavapipe without a GPU) beside its CPU twin, at 256², 1280×720 and 1920×1080, on
//! flowers and generated SH3 clouds (`--render-generated 1000000,3000000,10000000`; loaded from
//! the files `bench generate` writes when they exist, so the load is timed too).

use super::{BenchArgs, best, generated_cloud, peak_rss_mb};
use anyhow::Context;
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_render::gpu::{GpuContext, GpuRenderer, GpuScene};
use splatstitch_render::{Camera, RenderLayer, RenderOptions, RenderScene, render_cpu};
use std::time::Instant;

#[derive(serde::Serialize)]
struct RenderResult {
    scene: String,
    gaussians: usize,
    width: u32,
    height: u32,
    cpu_ms: Option<f64>,
    gpu_ms: Option<f64>,
    /// The editor's frame: drawn into a texture on the device, no readback.
    viewport_ms: Option<f64>,
    /// One viewport frame waited for between stages (ms): projection and the tile-entry count,
    /// the entries' sort, rasterizing.
    stages_ms: Option<[f64; 3]>,
    cpu_over_gpu: Option<f64>,
    /// Loading the scene's file (a generated cloud only when `bench generate` wrote it).
    load_s: Option<f64>,
    /// Uploading the scene to the GPU, once per scene.
    upload_s: Option<f64>,
    peak_rss_mb: f64,
}

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let gpu = if a.no_gpu {
        None
    } else {
        match GpuContext::headless() {
            Ok(ctx) => {
                eprintln!("adapter: {}", ctx.describe());
                let t = Instant::now();
                let r = GpuRenderer::new(ctx);
                eprintln!("pipelines created in {:.2} s", t.elapsed().as_secs_f64());
                Some(r)
            }
            Err(e) => {
                eprintln!("{e}: GPU column stays empty");
                None
            }
        }
    };
    let flowers = a.capture("flowers_93k_sh2.ply")?;
    let mut results = Vec::new();
    println!(
        "{:<22} {:>10} {:>11} {:>10} {:>10} {:>11} {:>20} {:>9} {:>7} {:>9} {:>9}",
        "scene",
        "gaussians",
        "size",
        "CPU ms",
        "GPU ms",
        "viewport ms",
        "project/sort/raster",
        "CPU/GPU",
        "load s",
        "upload s",
        "RSS MB"
    );
    let generated_dir = a.scratch.clone().unwrap_or_else(|| std::path::PathBuf::from("bench-out/generated"));
    // One scene in memory at a time: the 10M cloud alone is 2.4 GB.
    let names = std::iter::once("flowers_93k_sh2".to_string())
        .chain(a.render_generated.iter().map(|n| format!("generated_{n}_sh3")));
    for (k, name) in names.enumerate() {
        let file = match k {
            0 => Some(flowers.clone()),
            _ => Some(generated_dir.join(format!("{name}.ply"))).filter(|p| p.is_file()),
        };
        let t = Instant::now();
        let (cloud, load_s) = match &file {
            Some(f) => (
                formats::load(f, &LoadOptions::default()).with_context(|| f.display().to_string())?.cloud,
                Some(t.elapsed().as_secs_f64()),
            ),
            None => (generated_cloud(a.render_generated[k - 1], 3), None),
        };
        let scene = RenderScene { layers: vec![RenderLayer::new(&cloud)] };
        let (lo, hi) = scene.bounds().context("empty scene")?;
        let t = Instant::now();
        let uploaded = gpu.as_ref().map(|r| GpuScene::upload(r.context(), &scene)).transpose()?;
        let upload_s = uploaded.as_ref().map(|_| t.elapsed().as_secs_f64());
        for (w, h) in [(256, 256), (1280, 720), (1920, 1080)] {
            let cam = Camera::framing(w, h, lo, hi)?;
            let opts = RenderOptions { background: [0.0; 3], sh_degree: 3 };
            let cpu_ms = if a.no_cpu {
                None
            } else {
                Some(best(a.repeat, || Ok(render_cpu(&scene, &cam, &opts)?))?.as_secs_f64() * 1e3)
            };
            let (gpu_ms, viewport_ms, stages_ms) = match (&gpu, &uploaded) {
                (Some(r), Some(s)) => {
                    r.render(s, &cam, &opts)?; // warm-up: first use of each buffer size
                    let readback = best(a.repeat, || Ok(r.render(s, &cam, &opts)?))?;
                    let target = r.viewport_target(w, h);
                    let frame = best(a.repeat, || {
                        r.render_to_texture(s, &cam, &opts, &target)?;
                        Ok(r.wait_idle()?)
                    })?;
                    let stages = r.profile_to_texture(s, &cam, &opts, &target)?;
                    (Some(readback.as_secs_f64() * 1e3), Some(frame.as_secs_f64() * 1e3), Some(stages))
                }
                _ => (None, None, None),
            };
            let r = RenderResult {
                scene: name.clone(),
                gaussians: cloud.len(),
                width: w,
                height: h,
                cpu_ms,
                gpu_ms,
                viewport_ms,
                stages_ms,
                cpu_over_gpu: cpu_ms.zip(gpu_ms).map(|(c, g)| c / g),
                load_s,
                upload_s,
                peak_rss_mb: peak_rss_mb(),
            };
            let f = |v: Option<f64>, p: usize| v.map_or("-".to_string(), |v| format!("{v:.p$}"));
            println!(
                "{:<22} {:>10} {:>11} {:>10} {:>10} {:>11} {:>20} {:>9} {:>7} {:>9} {:>9.0}",
                r.scene,
                r.gaussians,
                format!("{w}×{h}"),
                f(r.cpu_ms, 1),
                f(r.gpu_ms, 1),
                f(r.viewport_ms, 2),
                r.stages_ms.map_or("-".to_string(), |s| format!("{:.1}/{:.1}/{:.1}", s[0], s[1], s[2])),
                f(r.cpu_over_gpu, 2),
                f(r.load_s, 2),
                f(r.upload_s, 2),
                r.peak_rss_mb
            );
            results.push(r);
        }
    }
    if let Some(p) = &a.json {
        formats::write_atomically(p, serde_json::to_string_pretty(&results)?.as_bytes())
            .with_context(|| p.display().to_string())?;
    }
    Ok(())
}
