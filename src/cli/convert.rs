//! `splatstitch convert`.

use super::{NonFiniteArg, PlyEncodingArg, parse_scale, parse_vec3};
use anyhow::{Context, bail};
use clap::Args;
use splatstitch_core::Similarity;
use splatstitch_core::formats::{self, Format, SaveOptions};
use splatstitch_core::transform::crop_to_box;
use std::path::PathBuf;

#[derive(Args, Debug)]
#[command(after_help = "The transform acts in the input file's own coordinates: scale, then rotate \
(R = Rz·Ry·Rx, degrees), then translate. Rotation turns SH bands 1-3 exactly. The crop box is \
also in the input's coordinates and is applied before the transform.")]
pub struct ConvertArgs {
    /// Input splat file.
    pub input: PathBuf,
    /// Output file; its extension picks the format.
    pub output: PathBuf,
    /// Uniform scale factor (> 0).
    #[arg(long, value_parser = parse_scale)]
    pub scale: Option<f32>,
    /// Rotation as X,Y,Z Euler angles in degrees (R = Rz·Ry·Rx).
    #[arg(long, value_name = "RX,RY,RZ", value_parser = parse_vec3, allow_hyphen_values = true)]
    pub rotate_deg: Option<[f32; 3]>,
    /// Translation X,Y,Z.
    #[arg(long, value_name = "X,Y,Z", value_parser = parse_vec3, allow_hyphen_values = true)]
    pub translate: Option<[f32; 3]>,
    /// Keep Gaussians whose centre is inside the box from here...
    #[arg(long, value_name = "X,Y,Z", value_parser = parse_vec3, allow_hyphen_values = true, requires = "crop_max")]
    pub crop_min: Option<[f32; 3]>,
    /// ...to here (inclusive).
    #[arg(long, value_name = "X,Y,Z", value_parser = parse_vec3, allow_hyphen_values = true, requires = "crop_min")]
    pub crop_max: Option<[f32; 3]>,
    /// Drop SH bands above this degree (0-3).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=3))]
    pub sh_degree: Option<u8>,
    /// Encoding of a .ply output.
    #[arg(long, value_enum, default_value_t)]
    pub ply_encoding: PlyEncodingArg,
    /// SPZ version of a .spz output: 4 (zstd streams; what splat-transform and SuperSplat write
    /// today), or 3 / 2 (gzip) for readers from before 2025.
    #[arg(long, default_value_t = splatstitch_core::formats::spz::DEFAULT_VERSION,
          value_parser = clap::value_parser!(u32).range(2..=4))]
    pub spz_version: u32,
    /// k-means rounds for a SOG output's SH palette (more: a little lower SH error, slower).
    /// The rounds after the first assign approximately and cost far less than splat-transform's
    /// exact ones, hence twice its default.
    #[arg(long, default_value_t = splatstitch_core::formats::sog::DEFAULT_SH_ITERATIONS,
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub sh_iterations: u32,
    /// What to do with Gaussians holding NaN/Inf values.
    #[arg(long, value_enum, default_value_t)]
    pub non_finite: NonFiniteArg,
    /// For a streamed SOG (lod-meta.json): the level of detail to read, 0 (the finest, the
    /// default) to the coarsest; `info` lists the levels.
    #[arg(long, value_name = "N")]
    pub lod: Option<u32>,
}

pub fn run(a: ConvertArgs, quiet: bool) -> anyhow::Result<()> {
    let out_format = Format::from_path(&a.output)?;
    if let (Ok(i), Ok(o)) = (a.input.canonicalize(), a.output.canonicalize())
        && i == o
    {
        bail!("{}: output is the input file; write to another path", a.output.display());
    }
    let loaded = formats::load(&a.input, &a.non_finite.load_options(a.lod))?;
    let mut cloud = loaded.cloud;
    if let (Some(lo), Some(hi)) = (a.crop_min, a.crop_max) {
        if (0..3).any(|i| lo[i] > hi[i]) {
            bail!("--crop-min must not exceed --crop-max on any axis");
        }
        crop_to_box(&mut cloud, lo.into(), hi.into());
    }
    let t = Similarity::from_scale_euler_translation(
        a.scale.unwrap_or(1.0),
        a.rotate_deg.unwrap_or([0.0; 3]),
        a.translate.unwrap_or([0.0; 3]),
    );
    t.bake(&mut cloud);
    if let Some(d) = a.sh_degree {
        cloud.truncate_sh_degree(d);
    }
    if cloud.sh_degree > out_format.max_sh_degree() {
        tracing::warn!(
            "{} stores SH degree {} at most: higher bands dropped",
            out_format.name(),
            out_format.max_sh_degree()
        );
        cloud.truncate_sh_degree(out_format.max_sh_degree());
    }
    if out_format != Format::Ply && (!cloud.extras.is_empty() || cloud.normals.is_some()) {
        let names: Vec<&str> = cloud.extras.iter().map(|e| e.name.as_str()).collect();
        tracing::warn!(
            "{} has no place for normals or extra properties{}: they are not written",
            out_format.name(),
            if names.is_empty() { String::new() } else { format!(" ({})", names.join(", ")) }
        );
    }
    let opts = SaveOptions {
        ply_encoding: a.ply_encoding.into(),
        spz_version: a.spz_version,
        sog: formats::sog::SogOptions { sh_iterations: a.sh_iterations },
    };
    formats::save(&a.output, &cloud, &opts).context("writing the output")?;
    if quiet {
        return Ok(());
    }
    println!("wrote {} Gaussians (SH degree {}) to {}", cloud.len(), cloud.sh_degree, a.output.display());
    Ok(())
}
