//! `splatstitch render`: headless renders of one or more splat files as layers of one scene.

use super::{NonFiniteArg, parse_vec3};
use anyhow::{Context, bail};
use clap::Args;
use glam::{Mat4, Vec3};
use splatstitch_core::formats::{self, write_atomically};
use splatstitch_render::gpu::{GpuContext, GpuRenderer, GpuScene};
use splatstitch_render::{Camera, RenderLayer, RenderOptions, RenderScene, render_cpu};
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "Camera: OpenCV pinhole (x right, y down, z forward). Give either --viewmat \
(the 4×4 world-to-camera matrix, 16 numbers, row-major) or --eye/--target/--up; with neither, the \
camera frames the whole scene. Intrinsics default to fx = fy = max(width, height) and the image \
centre.\n\nExample:\n  splatstitch render assets/flowers_27k_sh2.ply --out flowers.png --width 512 --height 384")]
pub struct RenderArgs {
    /// Splat files, rendered together as layers of one scene.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Also write float32 H×W×4 (RGB over the background, then alpha) as NumPy .npy.
    #[arg(long)]
    pub npy: Option<PathBuf>,
    #[arg(long, default_value_t = 512)]
    pub width: u32,
    #[arg(long, default_value_t = 512)]
    pub height: u32,
    /// Focal length / principal point in pixels.
    #[arg(long, allow_hyphen_values = true)]
    pub fx: Option<f32>,
    #[arg(long, allow_hyphen_values = true)]
    pub fy: Option<f32>,
    #[arg(long, allow_hyphen_values = true)]
    pub cx: Option<f32>,
    #[arg(long, allow_hyphen_values = true)]
    pub cy: Option<f32>,
    /// World-to-camera matrix, 16 comma-separated numbers, row-major.
    #[arg(long, value_name = "M00,M01,...,M33", allow_hyphen_values = true, conflicts_with_all = ["eye", "target"])]
    pub viewmat: Option<String>,
    #[arg(long, value_name = "X,Y,Z", value_parser = parse_vec3, allow_hyphen_values = true, requires = "target")]
    pub eye: Option<[f32; 3]>,
    #[arg(long, value_name = "X,Y,Z", value_parser = parse_vec3, allow_hyphen_values = true, requires = "eye")]
    pub target: Option<[f32; 3]>,
    /// Up direction for --eye/--target (default −y, the COLMAP convention most captures use).
    #[arg(long, value_name = "X,Y,Z", value_parser = parse_vec3, allow_hyphen_values = true, default_value = "0,-1,0")]
    pub up: [f32; 3],
    /// Background colour, 0-1 per channel.
    #[arg(long, value_name = "R,G,B", value_parser = parse_vec3, default_value = "0,0,0")]
    pub bg: [f32; 3],
    /// Highest SH degree to evaluate.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub sh_degree: u8,
    /// Render on the CPU. By default a hardware GPU is used when there is one; with only a
    /// software adapter (such as lavapipe) or none, the CPU renderer is faster and is used.
    #[arg(long, conflicts_with = "gpu")]
    pub cpu: bool,
    /// Render with wgpu even on a software adapter (fails when there is no adapter at all).
    #[arg(long)]
    pub gpu: bool,
    #[arg(long, value_enum, default_value_t)]
    pub non_finite: NonFiniteArg,
    /// For a streamed SOG (lod-meta.json): the level of detail to read, 0 (the finest, the
    /// default) to the coarsest; `info` lists the levels.
    #[arg(long, value_name = "N")]
    pub lod: Option<u32>,
}

/// The GPU renderer when it is the better choice (or forced), `None` for the CPU renderer.
fn pick_gpu(force_cpu: bool, force_gpu: bool) -> anyhow::Result<Option<GpuRenderer>> {
    if force_cpu {
        return Ok(None);
    }
    match GpuContext::headless() {
        Ok(ctx) if force_gpu || !ctx.is_software() => {
            tracing::info!("rendering on {}", ctx.describe());
            Ok(Some(GpuRenderer::new(ctx)))
        }
        Ok(ctx) => {
            eprintln!(
                "note: only a software adapter ({}) is available; rendering on the CPU, which is faster there (--gpu to override)",
                ctx.info.name
            );
            Ok(None)
        }
        Err(e) if force_gpu => Err(e.into()),
        Err(e) => {
            eprintln!("note: {e}; rendering on the CPU");
            Ok(None)
        }
    }
}

fn parse_viewmat(s: &str) -> anyhow::Result<Mat4> {
    let v: Vec<f32> = s
        .split(',')
        .map(|p| p.trim().parse::<f32>().with_context(|| format!("--viewmat: `{p}` is not a number")))
        .collect::<anyhow::Result<_>>()?;
    if v.len() != 16 {
        bail!("--viewmat needs 16 numbers (row-major 4×4), got {}", v.len());
    }
    Ok(Mat4::from_cols_slice(&v).transpose())
}

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let opts = a.non_finite.load_options(a.lod);
    let clouds = a.files.iter().map(|f| formats::load(f, &opts).map(|l| l.cloud)).collect::<Result<Vec<_>, _>>()?;
    let scene = RenderScene { layers: clouds.iter().map(RenderLayer::new).collect() };
    let f = a.width.max(a.height) as f32;
    let (fx, fy) = (a.fx.unwrap_or(f), a.fy.unwrap_or(a.fx.unwrap_or(f)));
    let (cx, cy) = (a.cx.unwrap_or(a.width as f32 * 0.5), a.cy.unwrap_or(a.height as f32 * 0.5));
    let camera = if let Some(m) = &a.viewmat {
        let cam = Camera { width: a.width, height: a.height, fx, fy, cx, cy, view: parse_viewmat(m)? };
        cam.validate()?;
        cam
    } else if let (Some(eye), Some(target)) = (a.eye, a.target) {
        Camera::new(a.width, a.height, fx, fy, cx, cy).looking_at(eye.into(), target.into(), Vec3::from(a.up))?
    } else {
        let (lo, hi) = scene.bounds().unwrap_or((Vec3::splat(-1.0), Vec3::splat(1.0)));
        let mut cam = Camera::framing(a.width, a.height, lo, hi)?;
        (cam.fx, cam.fy, cam.cx, cam.cy) = (fx, fy, cx, cy);
        cam
    };
    let opts = RenderOptions { background: a.bg, sh_degree: a.sh_degree };
    let image = match pick_gpu(a.cpu, a.gpu)? {
        Some(gpu) => GpuScene::upload(gpu.context(), &scene).and_then(|s| gpu.render(&s, &camera, &opts)).map_err(
            |e| match e {
                splatstitch_render::gpu::GpuError::TooLarge(m) => {
                    anyhow::anyhow!("{m}; render it on the CPU (--cpu), which has no such limit, or crop the scene")
                }
                e => e.into(),
            },
        )?,
        None => render_cpu(&scene, &camera, &opts)?,
    };
    let png = image.to_png();
    write_atomically(&a.out, &png).with_context(|| a.out.display().to_string())?;
    if let Some(npy) = &a.npy {
        write_atomically(npy, &image.to_npy()).with_context(|| npy.display().to_string())?;
    }
    Ok(())
}
