//! What a batch will do, decided before anything runs: the job files, each job's output folder,
//! the jobs that cannot run (named with their error), the ones `--resume` leaves alone, and the
//! task list the worker processes read.

use super::{BatchArgs, REPORT_FILE, STATUS_FILE};
use crate::cli::UsageError;
use anyhow::Context;
use clap::ValueEnum;
use splatstitch_stitch::Job;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One job as a worker process runs it (`OUT_DIR/batch/tasks.json` holds them all).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct TaskSpec {
    pub index: usize,
    pub name: String,
    pub job: PathBuf,
    pub out_dir: PathBuf,
    pub set: Vec<(String, String)>,
    pub backend: String,
    /// Worker threads for this job (0: all cores, or the CPUs Slurm gave the task).
    pub threads: usize,
    /// Identifies the job file's text and the `--set` values, so `--resume` re-runs a job
    /// whose inputs changed.
    pub fingerprint: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// To be run.
    Run,
    /// Refused before running (bad key, missing file, …): the job's error.
    Invalid(String),
    /// `--resume` found its report from the same inputs.
    Done,
}

pub struct Planned {
    pub task: TaskSpec,
    pub state: State,
}

pub struct Plan {
    pub out_dir: PathBuf,
    pub jobs: Vec<Planned>,
    pub tasks_file: PathBuf,
    pub logs: PathBuf,
    pub set: Vec<(String, String)>,
}

impl Plan {
    pub fn new(a: &BatchArgs) -> anyhow::Result<Plan> {
        std::fs::create_dir_all(&a.out_dir).with_context(|| format!("creating {}", a.out_dir.display()))?;
        let out_dir = a.out_dir.canonicalize().with_context(|| a.out_dir.display().to_string())?;
        let files = discover(&a.jobs, &out_dir)?;
        let names = unique_names(&files)?;
        let backend = a.backend.to_possible_value().expect("no hidden backends").get_name().to_string();
        let mut jobs = Vec::with_capacity(files.len());
        for (index, (file, name)) in files.iter().zip(names).enumerate() {
            let out = out_dir.join(&name);
            let text = std::fs::read(file).unwrap_or_default();
            let task = TaskSpec {
                index,
                name,
                job: file.clone(),
                out_dir: out,
                set: a.set.clone(),
                backend: backend.clone(),
                threads: 0,
                fingerprint: fingerprint(&text, &a.set),
            };
            let state = match Job::load_with_overrides(file, &a.set) {
                Err(e) => State::Invalid(e.to_string()),
                Ok(job) => match clashing_outputs(&job) {
                    Some(clash) => State::Invalid(clash),
                    None if a.resume && finished(&task) => State::Done,
                    None => State::Run,
                },
            };
            jobs.push(Planned { task, state });
        }
        let logs = out_dir.join("logs");
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        let tasks_file = out_dir.join("batch").join("tasks.json");
        let plan = Plan { out_dir, jobs, tasks_file, logs, set: a.set.clone() };
        Ok(plan)
    }

    /// Writes the task list with each job's thread count.
    pub fn write_tasks(&self, threads: usize) -> anyhow::Result<()> {
        let tasks: Vec<TaskSpec> = self.jobs.iter().map(|j| TaskSpec { threads, ..j.task.clone() }).collect();
        let dir = self.tasks_file.parent().expect("tasks file in a folder");
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        splatstitch_core::formats::write_atomically(&self.tasks_file, serde_json::to_string_pretty(&tasks)?.as_bytes())
            .with_context(|| format!("writing {}", self.tasks_file.display()))?;
        Ok(())
    }

    pub fn to_run(&self) -> Vec<usize> {
        self.jobs.iter().filter(|j| j.state == State::Run).map(|j| j.task.index).collect()
    }

    /// Clears what an earlier run of a job left (status, report), so a stale result cannot be
    /// mistaken for this run's.
    pub fn clear_results(&self, index: usize) -> anyhow::Result<()> {
        let task = &self.jobs[index].task;
        let mut stale = vec![
            task.out_dir.join(STATUS_FILE),
            task.out_dir.join(REPORT_FILE),
            self.logs.join(format!("{}.out", task.name)),
            self.logs.join(format!("{}.err", task.name)),
        ];
        // Slurm's logs of this array index from earlier submissions.
        if let Ok(entries) = std::fs::read_dir(&self.logs) {
            let ends = [format!("_{index}.out"), format!("_{index}.err")];
            stale.extend(entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| {
                let n = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                n.starts_with("slurm-") && ends.iter().any(|e| n.ends_with(e.as_str()))
            }));
        }
        for f in stale {
            match std::fs::remove_file(&f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", f.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Job files named on the command line, and `*.toml` under the folders named (sorted; the
/// batch's own output folder is not searched).
fn discover(paths: &[PathBuf], out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| UsageError(format!("{}: {e}", p.display())))?;
        let p = p.canonicalize().with_context(|| p.display().to_string())?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(&p, out_dir, &mut found).with_context(|| format!("searching {}", p.display()))?;
            if found.is_empty() {
                return Err(UsageError(format!("{}: no *.toml job files in this folder", p.display())).into());
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p);
        }
    }
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(f.clone()));
    Ok(files)
}

fn walk(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if dir == skip {
        return Ok(());
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, skip, out)?;
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
    Ok(())
}

/// Each job's output folder is named after its file; two files of one name would write the
/// same outputs, so the batch is refused before anything runs.
fn unique_names(files: &[PathBuf]) -> anyhow::Result<Vec<String>> {
    let names: Vec<String> =
        files.iter().map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()).collect();
    let mut by_name: BTreeMap<&str, Vec<&Path>> = BTreeMap::new();
    for (n, f) in names.iter().zip(files) {
        by_name.entry(n).or_default().push(f);
    }
    let clashes: Vec<String> = by_name
        .iter()
        .filter(|(_, fs)| fs.len() > 1)
        .map(|(n, fs)| {
            let list: Vec<String> = fs.iter().map(|f| f.display().to_string()).collect();
            format!("`{n}/` would be written by {}", list.join(" and "))
        })
        .collect();
    if !clashes.is_empty() {
        return Err(UsageError(format!(
            "two jobs would write the same files (each job writes into OUT_DIR/<job file name>/): {}; rename one",
            clashes.join("; ")
        ))
        .into());
    }
    Ok(names)
}

/// Two outputs of one job that land on the same file in its output folder (outputs keep only
/// their file names there).
fn clashing_outputs(job: &Job) -> Option<String> {
    let o = &job.spec.output;
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut outputs = vec![("output.ply", name(&o.ply)), ("the batch report", REPORT_FILE.to_string())];
    if let Some(r) = &o.renders {
        outputs.push(("output.renders", name(r)));
    }
    outputs.push(("the batch status", STATUS_FILE.to_string()));
    for (i, (what, n)) in outputs.iter().enumerate() {
        if let Some((other, _)) = outputs[..i].iter().find(|(_, m)| m == n) {
            return Some(format!(
                "{}: {what} and {other} would both be written to `{n}` in the job's output folder",
                job.path.display()
            ));
        }
    }
    None
}

/// A job done by an earlier run with the same inputs: its status says ok, its report parses and
/// every output it lists is there.
fn finished(task: &TaskSpec) -> bool {
    let read = |f: &str| -> Option<serde_json::Value> {
        serde_json::from_slice(&std::fs::read(task.out_dir.join(f)).ok()?).ok()
    };
    let (Some(status), Some(report)) = (read(STATUS_FILE), read(REPORT_FILE)) else { return false };
    status["status"] == "ok"
        && status["fingerprint"] == task.fingerprint.as_str()
        && report["metrics_after"].is_object()
        && report["outputs"]
            .as_array()
            .is_some_and(|o| o.iter().all(|p| p.as_str().is_some_and(|p| Path::new(p).exists())))
}

/// FNV-1a over the job's bytes and the overrides: stable across runs and platforms.
fn fingerprint(text: &[u8], set: &[(String, String)]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b {
            h ^= x as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(text);
    for (k, v) in set {
        eat(k.as_bytes());
        eat(v.as_bytes());
    }
    format!("{h:016x}")
}
