//! `splatstitch batch-task`: one job of a batch, run by a local worker or a Slurm array task.
//! It runs the job as `stitch` does (outputs written atomically, nothing on failure) and leaves
//! a status file beside the outputs: the only thing the batch reads back, under both schedulers.

use super::plan::TaskSpec;
use super::{REPORT_FILE, STATUS_FILE};
use crate::cli::stitch::Backend;
use anyhow::Context;
use clap::{Args, ValueEnum};
use splatstitch_stitch::run::RunOptions;
use splatstitch_stitch::{Job, run};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TaskArgs {
    /// The batch's task list (OUT_DIR/batch/tasks.json).
    #[arg(long)]
    pub tasks: PathBuf,
    /// Which task; under Slurm, `SLURM_ARRAY_TASK_ID` when not given.
    #[arg(long)]
    pub index: Option<usize>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct TaskStatus {
    pub status: String,
    pub error: Option<String>,
    pub fingerprint: String,
    pub slurm_job_id: Option<String>,
    pub array_index: Option<usize>,
    pub host: String,
    pub threads: usize,
    pub wall_s: f64,
}

fn slurm_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

pub fn run_task(a: TaskArgs) -> anyhow::Result<()> {
    let text = std::fs::read(&a.tasks).with_context(|| format!("reading {}", a.tasks.display()))?;
    let tasks: Vec<TaskSpec> =
        serde_json::from_slice(&text).with_context(|| format!("{}: not a batch task list", a.tasks.display()))?;
    let index = match a.index {
        Some(i) => i,
        None => slurm_var("SLURM_ARRAY_TASK_ID")
            .context("no --index and no SLURM_ARRAY_TASK_ID")?
            .parse()
            .context("SLURM_ARRAY_TASK_ID is not a number")?,
    };
    let task = tasks.get(index).with_context(|| format!("task {index} is not in {}", a.tasks.display()))?;
    // Under Slurm the job gets the CPUs of its allocation; locally the worker said how many.
    let threads = match (task.threads, slurm_var("SLURM_CPUS_PER_TASK").and_then(|v| v.parse().ok())) {
        (0, Some(cpus)) => cpus,
        (0, None) if slurm_var("SLURM_JOB_ID").is_some() => 1,
        (t, _) => t,
    };
    if threads > 0 {
        // Fails only if a pool exists already, which cannot happen this early in the process.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global();
    }
    let started = std::time::Instant::now();
    let result = run_one(task);
    let status = TaskStatus {
        status: if result.is_ok() { "ok" } else { "failed" }.into(),
        error: result.as_ref().err().map(|e| format!("{e:#}")),
        fingerprint: task.fingerprint.clone(),
        slurm_job_id: slurm_var("SLURM_ARRAY_JOB_ID").or_else(|| slurm_var("SLURM_JOB_ID")),
        array_index: slurm_var("SLURM_ARRAY_TASK_ID").and_then(|v| v.parse().ok()),
        host: hostname(),
        threads: rayon::current_num_threads(),
        wall_s: started.elapsed().as_secs_f64(),
    };
    std::fs::create_dir_all(&task.out_dir).with_context(|| format!("creating {}", task.out_dir.display()))?;
    let path = task.out_dir.join(STATUS_FILE);
    splatstitch_core::formats::write_atomically(&path, serde_json::to_string_pretty(&status)?.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    result
}

fn run_one(task: &TaskSpec) -> anyhow::Result<()> {
    let mut job = Job::load_with_overrides(&task.job, &task.set)?;
    job.spec.output.report = Some(PathBuf::from(REPORT_FILE));
    // Ctrl-C locally, or `scancel` (SIGTERM after SIGCONT) under Slurm.
    let cancel = crate::cli::cancel_on_interrupt(|| {});
    let backend = Backend::from_str(&task.backend, true).map_err(|e| anyhow::anyhow!("backend: {e}"))?;
    let opts = RunOptions {
        out_dir: Some(task.out_dir.clone()),
        cancel: Some(&cancel),
        progress: None,
        backend: backend.into(),
        gpu: None,
        preview: None,
    };
    let report = run(&job, &opts)?;
    eprintln!(
        "{}: |∂B| {}, seam error {:.4} → {:.4}, {:.1} s; wrote {}",
        task.name,
        report.boundary,
        report.metrics_before.seam_error,
        report.metrics_after.seam_error,
        report.timings_s.total,
        report.outputs.join(", ")
    );
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}
