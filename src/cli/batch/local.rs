//! The local scheduler: a pool of worker threads on this machine, each running one
//! `splatstitch batch-task` process at a time, with a progress bar over the jobs.

use super::Outcome;
use super::plan::Plan;
use anyhow::Context;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub fn run(plan: &Plan, workers: Option<u32>, quiet: bool) -> anyhow::Result<Outcome> {
    let todo = plan.to_run();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let workers = workers.map(|w| w as usize).unwrap_or(cores).min(todo.len()).max(1);
    // Several jobs at once share the cores rather than each spreading over all of them.
    let threads = (cores / workers).max(1);
    plan.write_tasks(threads)?;
    for &i in &todo {
        plan.clear_results(i)?;
    }
    let exe = std::env::current_exe().context("finding this executable")?;
    let bar = crate::cli::progress_bar(
        todo.len() as u64,
        "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} jobs {msg}",
        quiet,
    );
    if !quiet {
        eprintln!("batch: {} jobs on {workers} workers, {threads} threads each", todo.len());
    }

    let running: Arc<Mutex<Vec<u32>>> = Arc::default();
    // The children share our terminal's process group and see Ctrl-C themselves; a signal
    // sent to this process alone is passed on, so they stop cleanly and write nothing.
    let cancel = crate::cli::cancel_on_interrupt({
        let running = running.clone();
        move || {
            for &pid in running.lock().expect("pid list").iter() {
                // SAFETY: kill(2) with a pid we spawned and have not reaped; no memory involved.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
            }
        }
    });
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                while !cancel.load(Ordering::SeqCst) {
                    let Some(&i) = todo.get(next.fetch_add(1, Ordering::SeqCst)) else { break };
                    let task = &plan.jobs[i].task;
                    let spawned = (|| -> anyhow::Result<std::process::Child> {
                        let log = |ext: &str| {
                            let p = plan.logs.join(format!("{}.{ext}", task.name));
                            std::fs::File::create(&p).with_context(|| format!("creating {}", p.display()))
                        };
                        Command::new(&exe)
                            .arg("batch-task")
                            .arg("--tasks")
                            .arg(&plan.tasks_file)
                            .arg("--index")
                            .arg(i.to_string())
                            .stdin(Stdio::null())
                            .stdout(log("out")?)
                            .stderr(log("err")?)
                            .spawn()
                            .with_context(|| format!("starting {}", exe.display()))
                    })();
                    let mut child = match spawned {
                        Ok(c) => c,
                        Err(e) => {
                            failure.lock().expect("failure slot").get_or_insert(e);
                            cancel.store(true, Ordering::SeqCst);
                            break;
                        }
                    };
                    running.lock().expect("pid list").push(child.id());
                    let ok = child.wait().map(|s| s.success()).unwrap_or(false);
                    running.lock().expect("pid list").retain(|&p| p != child.id());
                    bar.inc(1);
                    bar.set_message(format!("{} {}", task.name, if ok { "ok" } else { "failed" }));
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = failure.into_inner().expect("failure slot") {
        return Err(e);
    }
    Ok(Outcome { cancelled: cancel.load(Ordering::SeqCst) })
}
