//! `splatstitch bench stitch`: the stitch speed job on several optimizer backends in one run,
//! time per stage, and each backend's optimization time as a ratio against the last one listed
//! (by default burn's `flex` CPU backend, the first optimizer path we wrote).

use super::BenchArgs;
use anyhow::{Context, bail};
use splatstitch_stitch::run::RunOptions;
use splatstitch_stitch::{BackendChoice, Job, run};

fn backend(name: &str) -> anyhow::Result<BackendChoice> {
    Ok(match name {
        "auto" => BackendChoice::Auto,
        "wgpu" => BackendChoice::Wgpu,
        "cpu" => BackendChoice::Cpu,
        "flex" => BackendChoice::Flex,
        "ndarray" => BackendChoice::Ndarray,
        other => bail!("--backends: unknown backend `{other}` (auto, wgpu, cpu, flex, ndarray)"),
    })
}

pub fn run_bench(a: &BenchArgs) -> anyhow::Result<()> {
    let choices = a.backends.iter().map(|b| backend(b)).collect::<anyhow::Result<Vec<_>>>()?;
    let Some(baseline) = a.backends.last() else { bail!("--backends: name at least one backend") };
    let mut job = Job::load(&a.job).with_context(|| format!("the speed job {}", a.job.display()))?;
    job.spec.blend.iterations = a.iterations;
    // The optimizer's own speed: every iteration runs, no checkpoints interrupt it.
    job.spec.blend.patience = 0;
    job.spec.blend.validation_views = 0;
    let scratch = match &a.scratch {
        Some(dir) => tempfile::tempdir_in(dir).with_context(|| dir.display().to_string())?,
        None => tempfile::tempdir()?,
    };
    println!(
        "{} ({} views at {} px, {} iterations); ratio = {baseline}'s optimization time / this one's",
        a.job.display(),
        job.spec.blend.views,
        job.spec.blend.resolution,
        a.iterations
    );
    println!(
        "{:<34} {:>10} {:>10} {:>8} {:>9} {:>8} {:>7}",
        "backend", "precompute", "optimize", "ms/it", "metrics", "total", "ratio"
    );
    let mut reports = Vec::new();
    for (name, &choice) in a.backends.iter().zip(&choices) {
        let opts = RunOptions { out_dir: Some(scratch.path().join(name)), backend: choice, ..Default::default() };
        let report = run(&job, &opts).with_context(|| format!("stitch on `{name}`"))?;
        reports.push(report);
    }
    let base = reports.last().map_or(1.0, |r| r.timings_s.optimize);
    for r in &reports {
        let t = &r.timings_s;
        println!(
            "{:<34} {:>10.2} {:>10.2} {:>8.1} {:>9.2} {:>8.2} {:>6.1}×",
            r.backend,
            t.precompute,
            t.optimize,
            t.optimize * 1e3 / a.iterations.max(1) as f64,
            t.metrics,
            t.total,
            base / t.optimize.max(1e-9)
        );
    }
    if let Some(p) = &a.json {
        splatstitch_core::formats::write_atomically(p, serde_json::to_string_pretty(&reports)?.as_bytes())?;
    }
    Ok(())
}
