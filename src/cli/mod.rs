//! Command-line interface: argument definitions and dispatch.

mod batch;
mod bench;
mod convert;
mod editor;
mod info;
mod render;
mod stitch;

use clap::{Parser, Subcommand, ValueEnum};
use splatstitch_core::{LoadOptions, NonFinitePolicy, PlyEncoding};

#[derive(Parser, Debug)]
#[command(
    name = "splatstitch",
    version,
    about = "Build new 3D Gaussian Splatting models out of parts of captured ones",
    long_about = "splatstitch loads captured 3D Gaussian Splatting scenes, cuts and places parts of \
them, and blends their appearance across the seams (3D Gaussian Stitching, Gao et al., CVPR 2025).\n\n\
Formats, chosen by extension: .ply (standard 3DGS, binary or ASCII), .compressed.ply (SuperSplat), \
.splat (antimatter15), .spz (Niantic, versions 2 to 4), .glb / .gltf (glTF 2.0 with KHR_gaussian_splatting).",
    after_help = "Examples:\n  splatstitch info assets/flowers_27k_sh2.ply\n  \
splatstitch convert scene.spz scene.ply --rotate-deg 180,0,0\n  \
splatstitch convert big.ply part.compressed.ply --crop-min -1,-1,-1 --crop-max 1,1,1 --sh-degree 1\n  \
splatstitch                      (the editor, on the bundled demo)\n  \
splatstitch open a.ply b.spz     (the editor, on your captures)"
)]
pub struct Cli {
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Without a command the editor opens on the bundled demo.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open the editor on captures or a job file (no files: the bundled demo).
    Open(editor::OpenArgs),
    /// Show what a splat file holds: count, SH degree, format, bounds, opacity and scale statistics.
    Info(info::InfoArgs),
    /// Convert between formats, optionally cropping, transforming and dropping SH bands.
    Convert(convert::ConvertArgs),
    /// Render splat files headlessly to PNG (and .npy).
    Render(render::RenderArgs),
    /// Run a stitching job headlessly (the job format: docs/ARCHITECTURE.md §8).
    Stitch(stitch::StitchArgs),
    /// Run many stitching jobs locally or as a Slurm job array, with one summary.
    Batch(batch::BatchArgs),
    /// One job of a batch (run by `batch`'s workers and Slurm array tasks).
    #[command(name = "batch-task", hide = true)]
    BatchTask(batch::TaskArgs),
    /// Compute seam error, detail and palette distance for a before/after pair of composites.
    Eval(stitch::EvalArgs),
    /// Benchmarks: formats (vs splat-transform), render, blend (quality), selection, stitch (speed).
    Bench(bench::BenchArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Open(editor::OpenArgs::of(vec![]))) {
        Command::Open(a) => editor::run(a),
        Command::Info(a) => info::run(a),
        Command::Convert(a) => convert::run(a, cli.quiet),
        Command::Render(a) => render::run(a),
        Command::Stitch(a) => stitch::run_stitch(a, cli.quiet),
        Command::Eval(a) => stitch::run_eval(a),
        Command::Batch(a) => batch::run(a, cli.quiet),
        Command::BatchTask(a) => batch::run_task(a),
        Command::Bench(a) => bench::run(a),
    }
}

/// A progress bar on stderr with `template`, steadily ticking; hidden when `quiet` or when
/// stderr is not a terminal.
pub fn progress_bar(len: u64, template: &str, quiet: bool) -> indicatif::ProgressBar {
    let bar = if quiet || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(len)
    };
    bar.set_style(indicatif::ProgressStyle::with_template(template).expect("valid template"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// A flag that Ctrl-C (and SIGTERM, as `scancel` sends) raises so work stops between steps and
/// writes nothing; `on_first` runs on that first signal (e.g. passing it on to children). A
/// second signal exits at once with status 130.
pub fn cancel_on_interrupt(on_first: impl Fn() + Send + 'static) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    // Fails only when a handler is already installed in this process, which then serves.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        on_first();
    });
    cancel
}

/// A command line that cannot be carried out as given (exit code 2, like a bad argument).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// What to do with Gaussians that hold NaN or infinite values.
#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum NonFiniteArg {
    /// Remove them and report how many.
    #[default]
    Drop,
    /// Fail with an error.
    Reject,
    /// Keep them unchanged.
    Keep,
}

impl NonFiniteArg {
    /// Load options with this policy, and for streamed SOG the level `lod`.
    pub fn load_options(self, lod: Option<u32>) -> LoadOptions {
        LoadOptions {
            non_finite: match self {
                Self::Drop => NonFinitePolicy::Drop,
                Self::Reject => NonFinitePolicy::Reject,
                Self::Keep => NonFinitePolicy::Keep,
            },
            lod,
            progress: None,
        }
    }
}

#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum PlyEncodingArg {
    #[default]
    BinaryLe,
    BinaryBe,
    Ascii,
}

impl From<PlyEncodingArg> for PlyEncoding {
    fn from(a: PlyEncodingArg) -> Self {
        match a {
            PlyEncodingArg::BinaryLe => PlyEncoding::BinaryLittleEndian,
            PlyEncodingArg::BinaryBe => PlyEncoding::BinaryBigEndian,
            PlyEncodingArg::Ascii => PlyEncoding::Ascii,
        }
    }
}

/// Parses `X,Y,Z` into three finite floats.
pub fn parse_vec3(s: &str) -> Result<[f32; 3], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    if parts.len() != 3 {
        return Err(format!("expected three comma-separated numbers like 1,0,-2.5, got `{s}`"));
    }
    let mut out = [0f32; 3];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = p.parse().map_err(|_| format!("`{p}` is not a number"))?;
        if !o.is_finite() {
            return Err(format!("`{p}` is not a finite number"));
        }
    }
    Ok(out)
}

/// Parses a positive finite scale factor.
pub fn parse_scale(s: &str) -> Result<f32, String> {
    let v: f32 = s.trim().parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v > 0.0 { Ok(v) } else { Err(format!("scale must be a positive finite number, got `{s}`")) }
}
