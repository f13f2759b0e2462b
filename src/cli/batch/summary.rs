//! One table out of many runs: a row per job from its status file and report, written as
//! `summary.json` and `summary.csv` and shown as Markdown.

use super::plan::{Plan, State, TaskSpec};
use super::{REPORT_FILE, STATUS_FILE, Scheduler};
use anyhow::Context;
use serde_json::Value;
use splatstitch_stitch::Job;
use std::path::Path;

#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub job: String,
    pub name: String,
    /// ok, failed, or skipped (done by an earlier run and kept by `--resume`, or never started
    /// because the batch was stopped).
    pub status: String,
    pub error: Option<String>,
    pub slurm_job_id: Option<String>,
    pub array_index: Option<usize>,
    pub host: Option<String>,
    pub method: Value,
    pub parameters: Value,
    pub boundary: Option<u64>,
    pub metrics_before: Value,
    pub metrics_after: Value,
    pub timings_s: Value,
    /// The worker process's wall time (loading and writing included).
    pub wall_s: Option<f64>,
    pub outputs: Vec<String>,
    pub logs: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Summary {
    pub scheduler: Scheduler,
    pub out_dir: String,
    pub overrides: Vec<(String, String)>,
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    pub wall_s: f64,
    pub rows: Vec<Row>,
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// The last line a task printed on stderr: the error of a task that died without a status.
fn last_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().rev().find(|l| !l.trim().is_empty()).map(|l| l.trim().to_string())
}

fn logs_of(plan: &Plan, task: &TaskSpec) -> Vec<std::path::PathBuf> {
    let mut logs = vec![plan.logs.join(format!("{}.out", task.name)), plan.logs.join(format!("{}.err", task.name))];
    if let Ok(entries) = std::fs::read_dir(&plan.logs) {
        let suffix = format!("_{}.err", task.index);
        let mut slurm: Vec<_> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("slurm-")))
            .filter(|p| {
                p.to_string_lossy().ends_with(&suffix) || p.to_string_lossy().ends_with(&suffix.replace(".err", ".out"))
            })
            .collect();
        slurm.sort();
        logs.extend(slurm);
    }
    logs.retain(|p| p.exists());
    logs
}

fn row(plan: &Plan, state: &State, task: &TaskSpec) -> Row {
    let mut r = Row {
        job: task.job.display().to_string(),
        name: task.name.clone(),
        status: String::new(),
        error: None,
        slurm_job_id: None,
        array_index: None,
        host: None,
        method: Value::Null,
        parameters: Value::Null,
        boundary: None,
        metrics_before: Value::Null,
        metrics_after: Value::Null,
        timings_s: Value::Null,
        wall_s: None,
        outputs: vec![],
        logs: vec![],
    };
    if let State::Invalid(e) = state {
        r.status = "failed".into();
        r.error = Some(e.clone());
        return r;
    }
    if let Ok(job) = Job::load_with_overrides(&task.job, &task.set) {
        r.parameters = serde_json::to_value(&job.spec.blend).unwrap_or(Value::Null);
        r.method = r.parameters["method"].clone();
    }
    let logs = logs_of(plan, task);
    r.logs = logs.iter().map(|p| p.display().to_string()).collect();
    let status = read_json(&task.out_dir.join(STATUS_FILE));
    match (&status, state) {
        (Some(s), _) => {
            r.status =
                if *state == State::Done { "skipped".into() } else { s["status"].as_str().unwrap_or("failed").into() };
            r.error = s["error"].as_str().map(str::to_string);
            r.slurm_job_id = s["slurm_job_id"].as_str().map(str::to_string);
            r.array_index = s["array_index"].as_u64().map(|v| v as usize);
            r.host = s["host"].as_str().map(str::to_string);
            r.wall_s = s["wall_s"].as_f64();
        }
        (None, _) if logs.is_empty() => {
            r.status = "skipped".into();
            r.error = Some("not run: the batch was stopped before this job started".into());
        }
        (None, _) => {
            r.status = "failed".into();
            let last = logs.iter().rev().find_map(|p| last_line(p)).unwrap_or_default();
            r.error = Some(format!("no result: the task was stopped, timed out or killed before it finished ({last})"));
        }
    }
    if let Some(report) = read_json(&task.out_dir.join(REPORT_FILE)).filter(|_| r.status != "failed") {
        r.method = report["method"].clone();
        r.parameters = report["parameters"].clone();
        r.boundary = report["boundary"].as_u64();
        r.metrics_before = report["metrics_before"].clone();
        r.metrics_after = report["metrics_after"].clone();
        r.timings_s = report["timings_s"].clone();
        r.outputs = report["outputs"]
            .as_array()
            .map(|o| o.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
    }
    r
}

pub fn gather(plan: &Plan, scheduler: Scheduler, wall_s: f64) -> Summary {
    let rows: Vec<Row> = plan.jobs.iter().map(|j| row(plan, &j.state, &j.task)).collect();
    let count = |s: &str| rows.iter().filter(|r| r.status == s).count();
    Summary {
        scheduler,
        out_dir: plan.out_dir.display().to_string(),
        overrides: plan.set.clone(),
        ok: count("ok"),
        failed: count("failed"),
        skipped: count("skipped"),
        wall_s,
        rows,
    }
}

fn number(v: &Value, digits: usize) -> String {
    v.as_f64().map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

const CSV_HEADER: [&str; 20] = [
    "job",
    "name",
    "status",
    "error",
    "slurm_job_id",
    "array_index",
    "host",
    "method",
    "boundary",
    "seam_error_before",
    "seam_error_after",
    "detail_before",
    "detail_after",
    "palette_distance_before",
    "palette_distance_after",
    "stitch_s",
    "wall_s",
    "outputs",
    "logs",
    "parameters",
];

impl Summary {
    pub fn failed_names(&self) -> Vec<&str> {
        self.rows.iter().filter(|r| r.status == "failed").map(|r| r.name.as_str()).collect()
    }

    fn csv(&self) -> anyhow::Result<Vec<u8>> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(CSV_HEADER)?;
        for r in &self.rows {
            let (b, a) = (&r.metrics_before, &r.metrics_after);
            w.write_record([
                r.job.clone(),
                r.name.clone(),
                r.status.clone(),
                r.error.clone().unwrap_or_default(),
                r.slurm_job_id.clone().unwrap_or_default(),
                r.array_index.map(|i| i.to_string()).unwrap_or_default(),
                r.host.clone().unwrap_or_default(),
                r.method.as_str().unwrap_or_default().to_string(),
                r.boundary.map(|v| v.to_string()).unwrap_or_default(),
                number(&b["seam_error"], 6),
                number(&a["seam_error"], 6),
                number(&b["detail"], 6),
                number(&a["detail"], 6),
                number(&b["palette_distance"], 6),
                number(&a["palette_distance"], 6),
                number(&r.timings_s["total"], 3),
                r.wall_s.map(|v| format!("{v:.3}")).unwrap_or_default(),
                r.outputs.join(";"),
                r.logs.join(";"),
                if r.parameters.is_null() { String::new() } else { r.parameters.to_string() },
            ])?;
        }
        Ok(w.into_inner()?)
    }

    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        let json = dir.join("summary.json");
        splatstitch_core::formats::write_atomically(&json, serde_json::to_string_pretty(self)?.as_bytes())
            .with_context(|| format!("writing {}", json.display()))?;
        let csv = dir.join("summary.csv");
        splatstitch_core::formats::write_atomically(&csv, &self.csv()?)
            .with_context(|| format!("writing {}", csv.display()))?;
        Ok(())
    }

    pub fn markdown(&self) -> String {
        let mut s = String::from("| job | status | method | ∂B | seam error | detail | s | where | error |\n");
        s.push_str("|---|---|---|---|---|---|---|---|---|\n");
        for r in &self.rows {
            let (b, a) = (&r.metrics_before, &r.metrics_after);
            let seam = if a.is_null() {
                String::new()
            } else {
                format!("{} → {}", number(&b["seam_error"], 4), number(&a["seam_error"], 4))
            };
            let place = match (&r.slurm_job_id, r.array_index) {
                (Some(id), Some(i)) => format!("slurm {id}_{i}"),
                _ => r.host.clone().unwrap_or_default(),
            };
            let error = r.error.as_deref().unwrap_or("").replace('|', "\\|").replace('\n', " ");
            s.push_str(&format!(
                "| {} | {} | {} | {} | {seam} | {} | {} | {place} | {error} |\n",
                r.name,
                r.status,
                r.method.as_str().unwrap_or(""),
                r.boundary.map(|v| v.to_string()).unwrap_or_default(),
                number(&a["detail"], 4),
                r.wall_s.map(|v| format!("{v:.1}")).unwrap_or_default(),
            ));
        }
        s
    }
}
