//! `splatstitch batch`: many stitch jobs through one command, on this machine's cores or as a
//! Slurm job array, gathered into one summary. Every job runs as a separate process of this
//! binary (`splatstitch batch-task`), the same way under both schedulers, so a job that crashes
//! or is killed takes nothing else with it.

mod local;
mod plan;
mod slurm;
mod summary;
mod task;

use crate::cli::stitch::{Backend, parse_key_value};
use clap::{Args, ValueEnum};
use std::path::PathBuf;

pub use task::{TaskArgs, run_task};

#[derive(ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheduler {
    /// A pool of worker processes on this machine.
    #[default]
    Local,
    /// One Slurm job array (`sbatch --array`), waited for and gathered.
    Slurm,
}

#[derive(Args, Debug)]
#[command(after_help = "Each job runs as `splatstitch stitch` would, writing its outputs (and always a \
report.json) under OUT_DIR/<job file name>/; logs go to OUT_DIR/logs/. The summary is \
OUT_DIR/summary.json and OUT_DIR/summary.csv, a row per job, and a Markdown table on stdout. A \
broken job fails alone; the exit code is 1 when any job failed, 2 when the batch itself is wrong \
(two jobs would write the same file), 130 when stopped with Ctrl-C.\n\n\
Slurm: the binary, the job files, their captures and OUT_DIR must be on a filesystem every node \
sees (docs/ARCHITECTURE.md, \"Batch stitching\").\n\n\
Examples:\n  splatstitch batch examples/jobs --out-dir runs/today\n  \
splatstitch batch jobs/ --set preset=paper --out-dir runs/paper      (a method comparison)\n  \
splatstitch batch jobs/ --scheduler slurm --slurm-args \"--partition=gpu --time=00:30:00 --mem=8G\"\n  \
splatstitch batch jobs/ --out-dir runs/today --resume                 (re-run what did not finish)")]
pub struct BatchArgs {
    /// Job files (TOML), or folders searched recursively for `*.toml`.
    #[arg(required = true)]
    pub jobs: Vec<PathBuf>,
    /// Where each job's outputs, the logs and the summary go.
    #[arg(long, default_value = "batch-out")]
    pub out_dir: PathBuf,
    /// Where the jobs run.
    #[arg(long, value_enum, default_value_t)]
    pub scheduler: Scheduler,
    /// Local scheduler: jobs at once (default: one per core, at most the number of jobs); each
    /// job gets cores / workers threads.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub workers: Option<u32>,
    /// Skip jobs whose report in OUT_DIR is present and valid, made from the same job file and
    /// `--set` values; run the rest.
    #[arg(long)]
    pub resume: bool,
    /// Slurm scheduler: extra `sbatch` arguments, split like a shell would, e.g.
    /// "--partition=gpu --time=00:30:00 --mem=8G --gres=gpu:1 --cpus-per-task=8".
    #[arg(long, default_value = "", allow_hyphen_values = true)]
    pub slurm_args: String,
    /// Set a `[blend]` key for every job (repeatable; validated like a job file's keys).
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
    /// Optimizer backend of every job.
    #[arg(long, value_enum, default_value_t)]
    pub backend: Backend,
}

pub fn run(a: BatchArgs, quiet: bool) -> anyhow::Result<()> {
    let plan = plan::Plan::new(&a)?;
    let started = std::time::Instant::now();
    let outcome = match a.scheduler {
        Scheduler::Local => local::run(&plan, a.workers, quiet)?,
        Scheduler::Slurm => slurm::run(&plan, &a.slurm_args, quiet)?,
    };
    let summary = summary::gather(&plan, a.scheduler, started.elapsed().as_secs_f64());
    summary.write(&plan.out_dir)?;
    if !quiet {
        print!("{}", summary.markdown());
        println!(
            "{} ok, {} failed, {} skipped in {:.1} s; summary in {}",
            summary.ok,
            summary.failed,
            summary.skipped,
            summary.wall_s,
            plan.out_dir.join("summary.json").display()
        );
    }
    if outcome.cancelled {
        eprintln!("stopped: the jobs not finished are listed as failed (or skipped when they never started)");
        std::process::exit(130);
    }
    if summary.failed > 0 {
        anyhow::bail!(
            "{} of {} jobs failed: {}",
            summary.failed,
            summary.rows.len(),
            summary.failed_names().join(", ")
        );
    }
    Ok(())
}

/// What a scheduler run ended with.
pub struct Outcome {
    pub cancelled: bool,
}

/// The status file a task leaves in its job's output folder.
pub const STATUS_FILE: &str = "batch-status.json";
/// The report every batch job writes, whatever its `[output]` says.
pub const REPORT_FILE: &str = "report.json";
