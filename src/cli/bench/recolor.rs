//! `splatstitch bench recolor`: the recolor-recovery benchmark (DESIGN §6) on a real capture.
//! Writes the two parts and the job files, runs each method through the ordinary `stitch`
//! pipeline, and scores the results in image space against the untinted truth.

use super::BenchArgs;
use anyhow::Context;
use splatstitch_core::formats::{self, LoadOptions, SaveOptions};
use splatstitch_stitch::cameras::fibonacci_cameras;
use splatstitch_stitch::recolor::{Tint, cut_with_band, score};
use splatstitch_stitch::run::RunOptions;
use splatstitch_stitch::{Job, run};
use std::path::Path;

const TINT: Tint = Tint { gain: [1.15, 0.9, 0.8], offset: [0.03, -0.02, 0.05] };

fn job_text(method: &str, a: &BenchArgs) -> String {
    format!(
        r#"# Recolor benchmark ({method}): flowers_93k cut at x = 0 into two parts sharing a 4 cm band;
# the right part tinted (gain {gain:?}, offset {offset:?}). Made by `splatstitch bench recolor`,
# which also writes the two .ply files next to this job.

[[layer]]
name = "left"
file = "left.ply"
role = "source"

[[layer]]
name = "right_tinted"
file = "right_tinted.ply"
role = "target"

[blend]
method = "{method}"
iterations = {iterations}
lambda_grad = {lambda_grad}
lambda_tune = {lambda_tune}
views = 16
resolution = 128

[output]
ply = "out/{method}.ply"
report = "out/{method}.json"
renders = "out/{method}_renders"
"#,
        gain = TINT.gain,
        offset = TINT.offset,
        iterations = a.iterations,
        lambda_grad = a.lambda_grad,
        lambda_tune = a.lambda_tune,
    )
}

pub fn run_bench(a: &BenchArgs) -> anyhow::Result<()> {
    let capture = formats::load(&a.data.join("flowers_93k_sh2.ply"), &LoadOptions::default())?.cloud;
    let (left, right) = cut_with_band(&capture, 0.0, 0.04);
    let mut tinted = right.clone();
    TINT.apply(&mut tinted);
    let dir = a.recolor_dir.clone();
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    formats::save(&dir.join("left.ply"), &left, &SaveOptions::default())?;
    formats::save(&dir.join("right_tinted.ply"), &tinted, &SaveOptions::default())?;
    let (lo, hi) = match (left.bounds(), right.bounds()) {
        (Some((a, b)), Some((c, d))) => (a.min(c), b.max(d)),
        _ => anyhow::bail!("the capture has no finite centres on one side of the cut"),
    };
    // Scored from views the optimizer did not use.
    let cameras = fibonacci_cameras(lo, hi, 7, 160);
    println!("{:<8} {:>10} {:>10} {:>9} {:>8} {:>9}", "method", "E before", "E after", "recovery", "detail", "time s");
    let mut results = Vec::new();
    for method in &a.methods {
        let method = method.as_str();
        if !["none", "poisson", "stitch"].contains(&method) {
            anyhow::bail!("--methods: unknown method `{method}` (none, poisson, stitch)");
        }
        let job_path = dir.join(format!("recolor_{method}.toml"));
        formats::write_atomically(&job_path, job_text(method, a).as_bytes())?;
        let job = Job::load(Path::new(&job_path))?;
        let report = run(&job, &RunOptions::default())?;
        let out = formats::load(&job.resolve(&job.spec.output.ply), &LoadOptions::default())?.cloud;
        let mask: Vec<bool> = (0..out.len()).map(|i| i >= left.len()).collect();
        let blended = out.select(&mask);
        let r = score(&left, &right, &tinted, &blended, &cameras);
        println!(
            "{:<8} {:>10.4} {:>10.4} {:>9.3} {:>8.3} {:>9.1}",
            method, r.error_before, r.error_after, r.recovery, r.detail, report.timings_s.total
        );
        results.push(serde_json::json!({ "method": method, "score": r, "report": report }));
    }
    if let Some(p) = &a.json {
        formats::write_atomically(p, serde_json::to_string_pretty(&results)?.as_bytes())?;
    }
    Ok(())
}
