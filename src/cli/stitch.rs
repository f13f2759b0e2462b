//! `splatstitch stitch` and `splatstitch eval`: headless jobs and their metrics.

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_core::{GaussianCloud, Role};
use splatstitch_stitch::boundary::{BoundaryParams, find_boundary};
use splatstitch_stitch::compose::Composite;
use splatstitch_stitch::run::{Evaluation, RunOptions, Stage};
use splatstitch_stitch::views::render_views;
use splatstitch_stitch::{BackendChoice, Job, run};
use std::path::PathBuf;

#[derive(ValueEnum, Clone, Copy, Debug, Default)]
pub enum Backend {
    /// burn-wgpu on a hardware GPU adapter; the CPU on a software adapter (lavapipe, where
    /// burn-wgpu is ~60× slower) or none. The choice and its reason are printed.
    #[default]
    Auto,
    /// burn-wgpu on whatever adapter there is, software ones included.
    Wgpu,
    /// The fastest CPU path: native loops on all cores (4–5× faster than burn's CPU backends).
    Cpu,
    /// burn's `flex` CPU backend with autodiff, for comparisons.
    Flex,
    /// burn's `ndarray` CPU backend with autodiff, for comparisons.
    Ndarray,
}

impl From<Backend> for BackendChoice {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Auto => BackendChoice::Auto,
            Backend::Wgpu => BackendChoice::Wgpu,
            Backend::Cpu => BackendChoice::Cpu,
            Backend::Flex => BackendChoice::Flex,
            Backend::Ndarray => BackendChoice::Ndarray,
        }
    }
}

#[derive(Args, Debug)]
#[command(after_help = "The job format and every [blend] key are described in docs/ARCHITECTURE.md \
(\"Job files\"). Outputs are written only when the whole job succeeds (temporary files, then renames); \
Ctrl-C stops cleanly and writes nothing. A bad job (unknown key, wrong type, out-of-range value, missing \
file, no source or target, no boundary) exits with code 2 and names the key or file and line.\n\n\
Examples:\n  splatstitch stitch examples/jobs/flowers_lod_speed.toml\n  \
splatstitch stitch job.toml --set preset=paper            (the paper's method as stated)\n  \
splatstitch stitch job.toml --set seam_transfer=false --set iterations=1500")]
pub struct StitchArgs {
    /// Job file (TOML).
    pub job: PathBuf,
    /// Write the outputs into this folder instead of where the job says.
    #[arg(long)]
    pub out_dir: Option<PathBuf>,
    /// Optimizer backend.
    #[arg(long, value_enum, default_value_t)]
    pub backend: Backend,
    /// Set a `[blend]` key over the job's value, e.g. `--set iterations=800`, `--set preset=paper`,
    /// `--set transfer_model=matrix` (repeatable; validated like the file's keys).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
}

/// `KEY=VALUE` of `--set`.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    let (k, v) = s.split_once('=').ok_or_else(|| format!("expected KEY=VALUE, got `{s}`"))?;
    let k = k.trim();
    if !splatstitch_stitch::params::BLEND_KEYS.contains(&k) {
        return Err(format!(
            "unknown [blend] key `{k}`; the keys are: {}",
            splatstitch_stitch::params::BLEND_KEYS.join(", ")
        ));
    }
    Ok((k.to_string(), v.trim().to_string()))
}

pub fn run_stitch(a: StitchArgs, quiet: bool) -> anyhow::Result<()> {
    let job = Job::load_with_overrides(&a.job, &a.set)?;
    let cancel = crate::cli::cancel_on_interrupt(|| {});
    let bar = crate::cli::progress_bar(1000, "{spinner} [{elapsed_precise}] {bar:30} {percent:>3}% {msg}", quiet);
    // Blending is nearly all of a run's time: the bar follows its iterations.
    let progress = |s: Stage, f: f32| {
        bar.set_message(s.label());
        bar.set_position(match s {
            Stage::Load | Stage::Boundary | Stage::Precompute | Stage::Transfer => 0,
            Stage::Optimize => (f * 1000.0) as u64,
            Stage::Metrics | Stage::Export => 1000,
        });
    };
    let opts = RunOptions {
        out_dir: a.out_dir.clone(),
        cancel: Some(&cancel),
        progress: Some(&progress),
        backend: a.backend.into(),
        gpu: None,
        preview: None,
    };
    let report = run(&job, &opts);
    bar.finish_and_clear();
    let report = report?;
    if !quiet {
        let (b, f) = (&report.metrics_before, &report.metrics_after);
        let method = serde_json::to_value(report.method)?;
        println!("method {}: {} boundary Gaussians", method.as_str().unwrap_or("?"), report.boundary);
        if report.backend != "none" {
            let why =
                if report.backend_reason.is_empty() { String::new() } else { format!(": {}", report.backend_reason) };
            println!("optimizer   {}{why}", report.backend);
        }
        for note in &report.notes {
            println!("note        {note}");
        }
        if let Some(point) = report.validation.curve.last() {
            let v = &report.validation;
            let kept = match (v.kept_input, v.kept_iteration) {
                (true, _) => "the input's colours".to_string(),
                (false, Some(i)) => format!("iteration {i}"),
                (false, None) => "-".into(),
            };
            println!(
                "validation  {} views, {} checkpoints, last score {:.4}; kept {kept}",
                v.views,
                v.curve.len(),
                point.score.total
            );
        }
        println!("seam error  {:.4} → {:.4} ({:?} space)", b.seam_error, f.seam_error, f.seam_space);
        println!("detail      {:.4} → {:.4}", b.detail, f.detail);
        println!("palette     {:.4} → {:.4}", b.palette_distance, f.palette_distance);
        println!("total {:.2} s; wrote {}", report.timings_s.total, report.outputs.join(", "));
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// The composite before blending (layers in job order, e.g. from `method = "none"`).
    pub before: PathBuf,
    /// The composite after blending, by any tool, with the same Gaussians in the same order.
    pub after: PathBuf,
    /// The job that describes the layers, cameras and parameters.
    #[arg(long)]
    pub job: PathBuf,
}

/// Splits a composite file back into the job's layers by their Gaussian counts.
fn split(cloud: &GaussianCloud, counts: &[usize]) -> Vec<GaussianCloud> {
    let mut start = 0;
    counts
        .iter()
        .map(|&n| {
            let mask: Vec<bool> = (0..cloud.len()).map(|i| i >= start && i < start + n).collect();
            start += n;
            cloud.select(&mask)
        })
        .collect()
}

pub fn run_eval(a: EvalArgs) -> anyhow::Result<()> {
    let job = Job::load(&a.job)?;
    let mut composite = Composite::load(&job)?;
    let counts: Vec<usize> = composite.layers.iter().map(|l| l.cloud.len()).collect();
    let total: usize = counts.iter().sum();
    let before = formats::load(&a.before, &LoadOptions::default())?.cloud;
    let after = formats::load(&a.after, &LoadOptions::default())?.cloud;
    for (name, c) in [(&a.before, &before), (&a.after, &after)] {
        if c.len() != total {
            bail!("{}: {} Gaussians, but the job's layers hold {total}", name.display(), c.len());
        }
    }
    for (l, c) in composite.layers.iter_mut().zip(split(&before, &counts)) {
        l.cloud = c;
    }
    let ti = composite.target_index();
    let after_target = split(&after, &counts).swap_remove(ti);
    let blend = &job.spec.blend;
    let sources = composite.sources();
    let boundary = find_boundary(
        &composite.layers[ti].cloud,
        &sources,
        BoundaryParams { k: blend.k, beta: blend.beta, tau: blend.tau },
        composite.diagonal(),
    );
    let eval = Evaluation::new(&composite, sources, blend, boundary);
    let m_before = eval.metrics(&composite.layers[ti].cloud, &eval.target_before);
    let renders = render_views(&[&after_target], &eval.cameras);
    let m_after = eval.metrics(&after_target, &renders);
    let json = serde_json::json!({
        "job": job.path.display().to_string(),
        "target": composite.layers[ti].name,
        "sources": composite.layers.iter().filter(|l| l.role == Role::Source).map(|l| l.name.clone()).collect::<Vec<_>>(),
        "boundary": eval.boundary.len(),
        "views": eval.cameras.len(),
        "before": m_before,
        "after": m_after,
    });
    println!("{}", serde_json::to_string_pretty(&json).context("report")?);
    Ok(())
}
