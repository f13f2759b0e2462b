//! The Slurm scheduler: the jobs to run become one job array (`sbatch --array --wait`), each
//! array task a `splatstitch batch-task` of this same binary. Slurm does the placing; this waits,
//! shows progress from the status files the tasks leave, and `scancel`s on Ctrl-C.
//! Assumes a filesystem every node sees holding the binary, the jobs, their captures and OUT_DIR.

use super::plan::Plan;
use super::{Outcome, STATUS_FILE};
use crate::cli::UsageError;
use anyhow::Context;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

pub fn run(plan: &Plan, slurm_args: &str, quiet: bool) -> anyhow::Result<Outcome> {
    let todo = plan.to_run();
    if todo.is_empty() {
        return Ok(Outcome { cancelled: false });
    }
    let extra = shlex::split(slurm_args)
        .ok_or_else(|| UsageError(format!("--slurm-args `{slurm_args}`: unbalanced quotes")))?;
    // 0: each task takes the CPUs Slurm allocated it (`--cpus-per-task`, else one).
    plan.write_tasks(0)?;
    for &i in &todo {
        plan.clear_results(i)?;
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    let script = plan.out_dir.join("batch").join("array.sh");
    let quote = |p: &std::path::Path| {
        shlex::try_quote(&p.to_string_lossy()).map(|q| q.into_owned()).unwrap_or_else(|_| p.display().to_string())
    };
    let text = format!(
        "#!/bin/sh\n# Written by `splatstitch batch`: array task N runs job N of the task list.\nexec {} batch-task --tasks {}\n",
        quote(&exe),
        quote(&plan.tasks_file)
    );
    splatstitch_core::formats::write_atomically(&script, text.as_bytes())
        .with_context(|| format!("writing {}", script.display()))?;

    let array = ranges(&todo);
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable")
        .arg("--wait")
        .arg(format!("--array={array}"))
        .arg("--job-name=splatstitch-batch")
        .arg(format!("--chdir={}", plan.out_dir.display()))
        .arg(format!("--output={}", plan.logs.join("slurm-%A_%a.out").display()))
        .arg(format!("--error={}", plan.logs.join("slurm-%A_%a.err").display()))
        .args(&extra)
        .arg(&script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        anyhow::anyhow!("cannot run sbatch ({e}): install Slurm's client tools, or use --scheduler local")
    })?;
    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let err_text = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // `--parsable` prints "JOBID[;CLUSTER]" at submission; `--wait` then holds until the end.
    let (id_tx, id_rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        if let Some(Ok(l)) = lines.next() {
            let _ = id_tx.send(l.split(';').next().unwrap_or("").trim().to_string());
        }
        lines.for_each(drop);
    });

    let cancel = crate::cli::cancel_on_interrupt(|| {});
    let bar = crate::cli::progress_bar(
        todo.len() as u64,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} array tasks {msg}",
        quiet,
    );
    let mut job_id: Option<String> = None;
    let mut cancelled_sent = false;
    let status = loop {
        if job_id.is_none()
            && let Ok(id) = id_rx.try_recv()
        {
            if !quiet {
                bar.suspend(|| eprintln!("batch: Slurm job {id}, array {array} ({} tasks)", todo.len()));
            }
            job_id = Some(id);
        }
        if cancel.load(Ordering::SeqCst) && !cancelled_sent {
            match &job_id {
                Some(id) => {
                    let _ = Command::new("scancel").arg(id).status();
                    cancelled_sent = true;
                }
                None => {
                    let _ = child.kill();
                    cancelled_sent = true;
                }
            }
        }
        let done = todo.iter().filter(|&&i| plan.jobs[i].task.out_dir.join(STATUS_FILE).exists()).count();
        bar.set_position(done as u64);
        if let Some(s) = child.try_wait().context("waiting for sbatch")? {
            break s;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    bar.finish_and_clear();
    let err_text = err_text.join().unwrap_or_default();
    if job_id.is_none() {
        job_id = id_rx.try_recv().ok();
    }
    if job_id.is_none() && !cancel.load(Ordering::SeqCst) {
        anyhow::bail!("sbatch refused the job array ({status}): {}", err_text.trim());
    }
    Ok(Outcome { cancelled: cancel.load(Ordering::SeqCst) })
}

/// `0-3,5,7-8` for the indices 0 1 2 3 5 7 8 (sorted, distinct).
fn ranges(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        while i + 1 < indices.len() && indices[i + 1] == indices[i] + 1 {
            i += 1;
        }
        parts.push(if indices[i] == start { start.to_string() } else { format!("{start}-{}", indices[i]) });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    #[test]
    fn array_ranges_compress_runs() {
        assert_eq!(super::ranges(&[0, 1, 2, 3, 5, 7, 8]), "0-3,5,7-8");
        assert_eq!(super::ranges(&[4]), "4");
    }
}
