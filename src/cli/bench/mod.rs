//! `splatstitch bench`: measurements reported as ratios against a baseline taken in the same
//! run (a memory copy, an outside tool, the CPU twin), so they survive a noisy machine.

mod blend;
mod formats;
mod render;
mod selection;
mod stitch;

use anyhow::Context;
use clap::{Args, ValueEnum};
use splatstitch_core::GaussianCloud;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum Suite {
    /// PLY load and write throughput, and whole-file conversion against splat-transform.
    Formats,
    /// Frame times of the GPU rasterizer and its CPU twin at three resolutions.
    Render,
    /// Blend quality: real captures cut with an overlapping band, the target's colours changed
    /// four ways, every method scored against the truth; plus the LOD pair.
    Blend,
    /// Editor selection tools (1M Gaussians), connected region and the seam search (200k).
    Selection,
    /// Stitch speed: one job on several optimizer backends, time per stage, ratios.
    Stitch,
    /// Writes the generated SH3 clouds of the other suites as PLY files (`--generate N,…` into
    /// `--scratch`, default bench-out/generated), e.g. for the editor's viewport benchmark.
    Generate,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum, default_value = "formats")]
    pub suite: Suite,
    /// Folder holding the real test captures (flowers_93k_sh2.ply, …); captures not found there
    /// are looked for in `assets/`. Paths are relative to the working folder: run from the
    /// repository root.
    #[arg(long, default_value = "tests/data")]
    pub data: PathBuf,
    /// splat-transform executable (default: tests/interop/node_modules/.bin/splat-transform).
    #[arg(long)]
    pub splat_transform: Option<PathBuf>,
    /// Size of the generated SH-degree-3 cloud.
    #[arg(long, default_value_t = 2_000_000)]
    pub generated: usize,
    /// Generate suite: the cloud sizes to write (e.g. 1000000,3000000,10000000).
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    pub generate: Vec<usize>,
    /// Sizes of the generated SH-degree-3 clouds of the render suite (e.g. 1000000,3000000,10000000;
    /// 10M needs about 7 GB of memory, and on a software adapter minutes a frame).
    #[arg(long, value_delimiter = ',', default_value = "1000000")]
    pub render_generated: Vec<usize>,
    /// Render suite: skip the GPU (or the CPU twin).
    #[arg(long)]
    pub no_gpu: bool,
    #[arg(long)]
    pub no_cpu: bool,
    /// Stitch suite: optimizer iterations (the speed job's 1500 unless told).
    #[arg(long, default_value_t = 1500)]
    pub iterations: usize,
    /// Stitch suite: the job to time.
    #[arg(long, default_value = "examples/jobs/flowers_lod_speed.toml")]
    pub job: PathBuf,
    /// Stitch suite: optimizer backends to compare; the last is the baseline of the ratios.
    #[arg(long, value_delimiter = ',', default_value = "cpu,flex")]
    pub backends: Vec<String>,
    /// Blend suite: the methods, in order (`none` is the unblended input, `paper` the paper's
    /// method as stated, `stitch` our defaults).
    #[arg(long, value_delimiter = ',', default_value = "none,poisson,stitch,paper")]
    pub methods: Vec<String>,
    /// Blend suite: captures (in --data or assets/).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "flowers_93k_sh2.ply,guitar_91k_sh0.compressed.ply,plant_114k_sh0.ply,playbot_31k_sh2.ply,fruit_drops_5k_sh3.ply"
    )]
    pub captures: Vec<String>,
    /// Blend suite: how the band is shared (shared, dealt).
    #[arg(long, value_delimiter = ',', default_value = "shared,dealt")]
    pub bands: Vec<String>,
    /// Blend suite: colour changes (gain_offset, matrix, tone, lighting; foreign: another
    /// material, which a blend should leave alone).
    #[arg(long, value_delimiter = ',', default_value = "gain_offset,matrix,tone,lighting,foreign")]
    pub changes: Vec<String>,
    /// Blend suite: case seeds (cut plane, colour change, dealing).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub seeds: Vec<u64>,
    /// Blend suite: the band both parts reach into, as a fraction of the capture's robust
    /// diagonal (0 < F ≤ 0.3).
    #[arg(long, default_value_t = 0.03, value_parser = fraction_in(0.0, 0.3))]
    pub band_width: f32,
    /// Blend suite: every colour change's departure from no change times this (gains and
    /// exposure away from 1, offsets, cross-talk, the gammas' logarithms, the light's slopes;
    /// 0 < F ≤ 3).
    #[arg(long, default_value_t = 1.0, value_parser = fraction_in(0.0, 3.0))]
    pub strength: f32,
    /// Blend suite: where the cut lies along its normal, as the share of the capture below it
    /// (the source side; 0.5 cuts through the middle, 0.1 ≤ Q ≤ 0.9).
    #[arg(long, default_value_t = 0.5, value_parser = fraction_in(0.1, 0.9))]
    pub cut_at: f32,
    /// Blend suite: each capture scaled by this about the origin before it is cut (other world
    /// units: a capture in centimetres is 100; 0.001 ≤ S ≤ 1000).
    #[arg(long, default_value_t = 1.0, value_parser = fraction_in(0.001, 1000.0))]
    pub world_scale: f32,
    /// Blend suite: `KEY=V1,V2,…` runs the `stitch` and `poisson` columns once per value (repeat
    /// for a grid).
    #[arg(long = "set", value_name = "KEY=V1,V2")]
    pub set: Vec<String>,
    /// Blend suite: every job at 16 views of 128 px and 4 validation views (for quick sweeps).
    #[arg(long)]
    pub quick: bool,
    /// Blend suite: skip the LOD pair.
    #[arg(long)]
    pub no_lod: bool,
    /// Blend suite: where cases, jobs, outputs and the tables go.
    #[arg(long, default_value = "bench-out/blend")]
    pub out: PathBuf,
    /// Repetitions per measurement; the best is reported.
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Folder for the generated cloud and the outputs (default: the system temp folder). Point it
    /// at a RAM disk such as /dev/shm to take the storage device out of the comparison.
    #[arg(long)]
    pub scratch: Option<PathBuf>,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl BenchArgs {
    /// The path of test capture `name`: in `--data`, else in `assets/`.
    pub fn capture(&self, name: &str) -> anyhow::Result<PathBuf> {
        let candidates = [self.data.join(name), PathBuf::from("assets").join(name)];
        candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "test capture {name} not found in {} or assets/ (run from the repository root, or point --data at \
                 the folder holding it)",
                self.data.display()
            )
        })
    }
}

pub fn run(a: BenchArgs) -> anyhow::Result<()> {
    match a.suite {
        Suite::Formats => formats::run(&a),
        Suite::Render => render::run(&a),
        Suite::Blend => blend::run_bench(&a),
        Suite::Selection => selection::run(&a),
        Suite::Stitch => stitch::run_bench(&a),
        Suite::Generate => generate(&a),
    }
}

/// The generated clouds as files, named by size: `generated_1000000_sh3.ply`.
fn generate(a: &BenchArgs) -> anyhow::Result<()> {
    let dir = a.scratch.clone().unwrap_or_else(|| PathBuf::from("bench-out/generated"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    for &n in &a.generate {
        anyhow::ensure!(n > 0, "--generate: a cloud needs at least one Gaussian");
        let path = dir.join(format!("generated_{n}_sh3.ply"));
        let t = Instant::now();
        splatstitch_core::formats::save(&path, &generated_cloud(n, 3), &Default::default())
            .with_context(|| format!("writing {}", path.display()))?;
        println!("{} ({n} Gaussians, SH degree 3) in {:.1} s", path.display(), t.elapsed().as_secs_f64());
    }
    Ok(())
}

fn best<T>(repeat: usize, mut f: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repeat.max(1) {
        let t = Instant::now();
        std::hint::black_box(f()?);
        best = best.min(t.elapsed());
    }
    Ok(best)
}

fn gb_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e9
}

/// A deterministic random cloud (positions in a unit cube, small scales, SH up to `degree`).
pub fn generated_cloud(n: usize, degree: u8) -> GaussianCloud {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    };
    let mut c = GaussianCloud::with_len(n, degree);
    for i in 0..n {
        c.positions[i] = [rnd(), rnd(), rnd()];
        c.rotations[i] = [rnd(), rnd(), rnd(), rnd()];
        c.log_scales[i] = [rnd() - 5.0, rnd() - 5.0, rnd() - 5.0];
        c.opacities[i] = rnd() * 4.0;
    }
    for v in &mut c.sh {
        *v = rnd() * 0.5;
    }
    c
}

pub use splatstitch_stitch::run::peak_rss_mb;

/// A clap parser for a number in `(lo, hi]` (or `[lo, hi]` when `lo` > 0).
fn fraction_in(lo: f32, hi: f32) -> impl Fn(&str) -> Result<f32, String> + Clone {
    move |text: &str| {
        let v: f32 = text.trim().parse().map_err(|_| format!("`{text}` is not a number"))?;
        let above = if lo > 0.0 { v >= lo } else { v > lo };
        if above && v <= hi && v.is_finite() {
            Ok(v)
        } else {
            Err(format!("{v} is outside {}{lo}, {hi}]", if lo > 0.0 { "[" } else { "(" }))
        }
    }
}
