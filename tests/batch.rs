//! `splatstitch batch`: many jobs, a broken one among them, locally and through a real one-node
//! Slurm (`scripts/slurm_one_node.sh start`, which `.ci/run` runs), gathered into one summary.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A job over flowers_27k cut into two halves sharing a band, small enough to run in seconds.
fn write_job(path: &Path, capture: &Path, blend: &str) {
    let f = capture.display();
    let text = format!(
        r#"[[layer]]
name = "left"
file = "{f}"
role = "source"
crop = {{ box_min = [-1, -1, -1], box_max = [0.02, 1, 1] }}

[[layer]]
name = "right"
file = "{f}"
role = "target"
crop = {{ box_min = [-0.02, -1, -1], box_max = [1, 1, 1] }}

[blend]
{blend}

[output]
ply = "out/stitched.ply"
"#
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Two good jobs (one in a subfolder) and one naming a capture that does not exist.
fn jobs(dir: &Path) -> PathBuf {
    let jobs = dir.join("jobs");
    let flowers = data("flowers_27k_sh2.ply");
    write_job(&jobs.join("none_halves.toml"), &flowers, "method = \"none\"\nviews = 4\nresolution = 32");
    write_job(
        &jobs.join("more/stitch_halves.toml"),
        &flowers,
        "method = \"stitch\"\niterations = 10\nviews = 4\nresolution = 32\nvalidation_views = 2",
    );
    write_job(&jobs.join("broken.toml"), &dir.join("nowhere.ply"), "method = \"none\"");
    jobs
}

fn summary(out: &Path) -> (Value, std::collections::HashMap<String, Value>) {
    let s: Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let rows = s["rows"].as_array().unwrap().iter().map(|r| (r["name"].as_str().unwrap().to_string(), r.clone()));
    let rows = rows.collect();
    (s, rows)
}

fn finite(v: &Value) -> f64 {
    v.as_f64().filter(|x| x.is_finite()).unwrap_or_else(|| panic!("not a finite number: {v}"))
}

/// The good jobs' rows: ok (or `status`), metrics, outputs on disk, the `--set` value applied.
fn check_good_rows(rows: &std::collections::HashMap<String, Value>, status: &str, resolution: u64, out: &Path) {
    let out = out.canonicalize().unwrap();
    for name in ["none_halves", "stitch_halves"] {
        let r = &rows[name];
        assert_eq!(r["status"], status, "{r}");
        assert!(r["error"].is_null(), "{r}");
        assert!(r["boundary"].as_u64().unwrap() > 0, "{r}");
        assert!(finite(&r["metrics_after"]["seam_error"]) >= 0.0, "{r}");
        assert!(finite(&r["metrics_before"]["detail"]) > 0.99, "{r}");
        assert_eq!(r["parameters"]["resolution"], resolution, "--set applies to every job: {r}");
        let outputs = r["outputs"].as_array().unwrap();
        assert!(outputs.len() >= 2, "{r}");
        for o in outputs {
            let p = Path::new(o.as_str().unwrap());
            assert!(p.exists() && p.starts_with(out.join(name)), "{} is not in OUT_DIR/{name}", p.display());
        }
    }
    assert_eq!(rows["none_halves"]["method"], "none");
    assert_eq!(rows["stitch_halves"]["method"], "stitch");
}

fn check_broken_row(rows: &std::collections::HashMap<String, Value>) {
    let r = &rows["broken"];
    assert_eq!(r["status"], "failed");
    let e = r["error"].as_str().unwrap();
    assert!(e.contains("broken.toml") && e.contains("nowhere.ply"), "the error names the job and the file: {e}");
}

#[test]
fn local_batch_runs_every_job_and_a_broken_one_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs(dir.path());
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        bin().arg("batch").arg(&jobs).arg("--out-dir").arg(&out).args(["--workers", "2"]).args(extra).output().unwrap()
    };
    let o = run(&["--set", "resolution=40"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "a failed job makes the batch fail: {stdout}\n{stderr}");
    assert!(stderr.contains("1 of 3 jobs failed: broken"), "{stderr}");
    assert!(stdout.contains("| none_halves | ok | none |") && stdout.contains("| broken | failed |"), "{stdout}");
    let (s, rows) = summary(&out);
    assert_eq!((s["ok"].as_u64(), s["failed"].as_u64(), s["skipped"].as_u64()), (Some(2), Some(1), Some(0)));
    assert_eq!(s["overrides"][0], serde_json::json!(["resolution", "40"]));
    check_good_rows(&rows, "ok", 40, &out);
    check_broken_row(&rows);
    assert!(out.join("none_halves/stitched.ply").exists() && out.join("stitch_halves/report.json").exists());
    assert!(out.join("logs/stitch_halves.err").exists());
    let csv = std::fs::read_to_string(out.join("summary.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4, "{csv}");
    assert!(csv.starts_with("job,name,status,error,"), "{csv}");

    // --resume keeps what is done and re-runs the rest (the broken job fails again).
    let stamp = std::fs::metadata(out.join("none_halves/stitched.ply")).unwrap().modified().unwrap();
    let o = run(&["--set", "resolution=40", "--resume"]);
    assert_eq!(o.status.code(), Some(1));
    let (s, rows) = summary(&out);
    assert_eq!((s["ok"].as_u64(), s["failed"].as_u64(), s["skipped"].as_u64()), (Some(0), Some(1), Some(2)));
    check_good_rows(&rows, "skipped", 40, &out);
    assert_eq!(std::fs::metadata(out.join("none_halves/stitched.ply")).unwrap().modified().unwrap(), stamp);
    // Other `--set` values are other inputs: nothing to resume.
    let o = run(&["--set", "resolution=36", "--resume"]);
    assert_eq!(o.status.code(), Some(1));
    let (_, rows) = summary(&out);
    check_good_rows(&rows, "ok", 36, &out);
}

#[test]
fn batch_refuses_jobs_that_would_write_the_same_files() {
    let dir = tempfile::tempdir().unwrap();
    let flowers = data("flowers_27k_sh2.ply");
    write_job(&dir.path().join("a/job.toml"), &flowers, "method = \"none\"");
    write_job(&dir.path().join("b/job.toml"), &flowers, "method = \"none\"");
    let out = dir.path().join("out");
    let o = bin().arg("batch").arg(dir.path().join("a")).arg(dir.path().join("b")).arg("--out-dir").arg(&out).output();
    let o = o.unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("two jobs would write the same files") && err.contains("a/job.toml"), "{err}");
    assert!(!out.join("summary.json").exists() && !out.join("job").exists());
    // Nothing to run at all is an error too.
    let o = bin().arg("batch").arg(dir.path().join("nowhere")).arg("--out-dir").arg(&out).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Whether a Slurm controller answers with a usable node.
fn slurm_up() -> Result<(), String> {
    let o = std::process::Command::new("sinfo").args(["-h", "-o", "%T"]).output();
    let o = o.map_err(|e| format!("sinfo: {e} (apt-get install slurm-wlm munge)"))?;
    let states = String::from_utf8_lossy(&o.stdout);
    if o.status.success() && states.lines().any(|s| ["idle", "mixed", "allocated"].contains(&s.trim())) {
        Ok(())
    } else {
        Err(format!(
            "no Slurm node answers ({}{}): start one with `scripts/slurm_one_node.sh start` as root",
            states.trim(),
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

#[test]
fn slurm_batch_runs_the_jobs_as_one_array_and_gathers_them() {
    if let Err(missing) = slurm_up() {
        return splatstitch_core::test_data::skip(splatstitch_core::test_data::SKIP_SLURM, &missing);
    }
    let dir = tempfile::tempdir().unwrap();
    let jobs = jobs(dir.path());
    let out = dir.path().join("out");
    let o = bin()
        .arg("batch")
        .arg(&jobs)
        .arg("--out-dir")
        .arg(&out)
        .args(["--scheduler", "slurm", "--slurm-args", "--time=00:10:00 --job-name=splatstitch-test"])
        .args(["--set", "resolution=40"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    let (s, rows) = summary(&out);
    assert_eq!(s["scheduler"], "slurm");
    check_good_rows(&rows, "ok", 40, &out);
    check_broken_row(&rows);
    let mut indices = Vec::new();
    for name in ["none_halves", "stitch_halves"] {
        let r = &rows[name];
        let id = r["slurm_job_id"].as_str().unwrap_or_else(|| panic!("no Slurm job id: {r}"));
        indices.push(r["array_index"].as_u64().unwrap());
        assert!(stdout.contains(&format!("slurm {id}_")), "{stdout}");
        let logs = r["logs"].as_array().unwrap();
        assert!(logs.iter().any(|l| l.as_str().unwrap().contains(&format!("slurm-{id}_"))), "{r}");
    }
    indices.sort();
    indices.dedup();
    assert_eq!(indices.len(), 2, "one array task per job");
    assert!(out.join("batch/array.sh").exists() && out.join("batch/tasks.json").exists());
}
