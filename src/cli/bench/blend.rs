//! `splatstitch bench blend`: blend quality on cases with a known answer. Each real capture is
//! cut along a random plane into two parts that overlap in a band (the band's Gaussians in both
//! parts, or dealt between them), the target part's colours changed four ways; every method
//! runs through the ordinary `stitch` pipeline and is scored from cameras no job uses against
//! the untouched capture. The LOD pair (one place captured twice) is scored by seam error and
//! detail. `--set KEY=V1,V2` runs the `stitch` column as a grid over `[blend]` values.

use super::BenchArgs;
use anyhow::{Context, bail};
use splatstitch_core::GaussianCloud;
use splatstitch_core::Similarity;
use splatstitch_core::formats::{self, LoadOptions, SaveOptions, write_atomically};
use splatstitch_stitch::benchmark::{BandKind, Change, ChangeKind, Rng, Scorer, cut, random_plane_at};
use splatstitch_stitch::run::RunOptions;
use splatstitch_stitch::{Job, Report, run};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// One column of the table: a method with its `[blend]` lines.
struct Variant {
    label: String,
    blend: Vec<(String, String)>,
}

/// One measured cell.
#[derive(serde::Serialize)]
struct Row {
    case: String,
    /// The colour change (none for the LOD pair).
    change: Option<&'static str>,
    variant: String,
    recovery: Option<f64>,
    /// Mean absolute change of the composite's renders (what a blend did at all).
    moved: f64,
    detail: f64,
    seam_before: f32,
    seam_after: f32,
    seconds: f64,
    decided: String,
}

impl Row {
    fn is(&self, change: &str) -> bool {
        self.change == Some(change)
    }
}

fn variants(a: &BenchArgs) -> anyhow::Result<Vec<Variant>> {
    let mut grid: Vec<Vec<(String, String)>> = vec![vec![]];
    for s in &a.set {
        let (k, values) = s.split_once('=').with_context(|| format!("--set {s}: expected KEY=V1,V2,…"))?;
        let k = k.trim();
        if !splatstitch_stitch::params::BLEND_KEYS.contains(&k) {
            bail!("--set {s}: unknown [blend] key `{k}`");
        }
        grid = grid
            .into_iter()
            .flat_map(|combo| {
                values.split(',').map(move |v| {
                    let mut c = combo.clone();
                    c.push((k.to_string(), v.trim().to_string()));
                    c
                })
            })
            .collect();
    }
    let mut out = Vec::new();
    for m in &a.methods {
        match m.as_str() {
            "none" => out.push(Variant { label: m.clone(), blend: vec![("method".into(), m.clone())] }),
            "paper" => out.push(Variant {
                label: "paper".into(),
                blend: vec![("method".into(), "stitch".into()), ("preset".into(), "paper".into())],
            }),
            "stitch" | "poisson" => {
                for combo in &grid {
                    let label = if combo.is_empty() {
                        m.clone()
                    } else {
                        format!("{m} {}", combo.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
                    };
                    let mut blend = vec![("method".to_string(), m.clone())];
                    if m == "poisson" {
                        // The baseline as SeamlessNeRF publishes it: no seam transfer first.
                        blend.push(("seam_transfer".into(), "false".into()));
                    }
                    blend.extend(combo.iter().cloned());
                    out.push(Variant { label, blend });
                }
            }
            other => bail!("--methods: unknown method `{other}` (none, poisson, stitch, paper)"),
        }
    }
    Ok(out)
}

/// A `[blend]` value as TOML: numbers and booleans bare, words quoted.
fn toml_value(v: &str) -> String {
    if v.parse::<f64>().is_ok() || v == "true" || v == "false" || v.starts_with('"') {
        v.to_string()
    } else {
        format!("\"{v}\"")
    }
}

fn write_job(dir: &Path, name: &str, layers: &str, v: &Variant, quick: bool) -> anyhow::Result<PathBuf> {
    let mut blend = String::new();
    let mut keys: Vec<(String, String)> = Vec::new();
    if quick {
        for (k, val) in [("views", "16"), ("resolution", "128"), ("validation_views", "4")] {
            keys.push((k.into(), val.into()));
        }
    }
    for (k, val) in &v.blend {
        keys.retain(|(o, _)| o != k);
        keys.push((k.clone(), val.clone()));
    }
    for (k, val) in &keys {
        writeln!(blend, "{k} = {}", toml_value(val))?;
    }
    let text = format!(
        "# Made by `splatstitch bench blend`.\n{layers}\n[blend]\n{blend}\n[output]\nply = \"out/{name}.ply\"\n\
         report = \"out/{name}.json\"\n"
    );
    let path = dir.join(format!("{name}.toml"));
    write_atomically(&path, text.as_bytes())?;
    Ok(path)
}

fn file_name(label: &str) -> String {
    label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect()
}

/// Runs a job; returns the report and the stitched target (the rows after `source_len`).
fn stitch(job: &Path, source_len: usize) -> anyhow::Result<(Report, GaussianCloud)> {
    let job = Job::load(job)?;
    let report = run(&job, &RunOptions::default()).with_context(|| job.path.display().to_string())?;
    let out = formats::load(&job.resolve(&job.spec.output.ply), &LoadOptions::default())?.cloud;
    let mask: Vec<bool> = (0..out.len()).map(|i| i >= source_len).collect();
    Ok((report, out.select(&mask)))
}

/// What the stitch decided, in one short cell: the transfer's status and strength, then its
/// confidence (`e` explained, `z` significance, `i` informative, `m` moves, `v` the validation
/// views' drop in seam error where they were asked), model and samples; the shading; the
/// checkpoint kept.
fn decided(r: &Report) -> String {
    let mut parts = Vec::new();
    if let Some(f) = &r.seam_transfer.fit {
        let c = f.confidence;
        parts.push(format!(
            "{:?} {:.2} (e {:.2} z {:.1} i {:.2} m {:.2}{}){}{}",
            r.seam_transfer.status,
            f.strength,
            c.explained,
            c.significance,
            c.informative,
            c.moves,
            c.views_drop.map_or(String::new(), |d| format!(" v {d:.2}")),
            match f.model {
                splatstitch_stitch::seam_fit::ModelKind::GainOffset => " go",
                splatstitch_stitch::seam_fit::ModelKind::Matrix => " mx",
                splatstitch_stitch::seam_fit::ModelKind::Curve => " cv",
            },
            match f.samples {
                splatstitch_stitch::seam_fit::SampleKind::Image => "/im",
                splatstitch_stitch::seam_fit::SampleKind::Points => "/pt",
                splatstitch_stitch::seam_fit::SampleKind::Both => "/both",
                splatstitch_stitch::seam_fit::SampleKind::Exact => "/ex",
            }
        ));
    }
    if let Some(s) = &r.seam_transfer.shading {
        parts.push(format!(
            "shading{}{} {:.2} (z {:.1}/{:.1}/{:.1} e {:.2})",
            if s.fade.is_none() { " 3d" } else { "" },
            if r.seam_transfer.shading_applied { "" } else { " rejected" },
            s.largest_change,
            s.significance[0],
            s.significance[1],
            s.significance[2],
            s.explained
        ));
    }
    if r.validation.kept_input {
        parts.push("input kept".into());
    } else if let Some(i) = r.validation.kept_iteration.filter(|_| !r.validation.curve.is_empty()) {
        parts.push(format!("it {i}"));
    }
    parts.join(", ").to_lowercase()
}

/// A capture's name in case names: its first word (`flowers`), with the second where another
/// capture of the run shares the first (`flowers_27k`), so no two cases share a folder.
fn short_name(capture: &str, all: &[String]) -> String {
    let first = |c: &str| c.split('_').next().unwrap_or(c).to_string();
    if all.iter().filter(|c| first(c) == first(capture)).count() > 1 {
        capture.split('_').take(2).collect::<Vec<_>>().join("_")
    } else {
        first(capture)
    }
}

/// How the cases depart from the suite's (band 3 %, strength 1, cut through the middle, the
/// capture's own units), for the case names.
fn case_suffix(a: &BenchArgs) -> String {
    let mut s = String::new();
    for (name, value, default) in
        [("band", a.band_width, 0.03), ("x", a.strength, 1.0), ("cut", a.cut_at, 0.5), ("scale", a.world_scale, 1.0)]
    {
        if value != default {
            let _ = write!(s, " {name}{value}");
        }
    }
    s
}

const CAPTURE_LAYERS: &str = "[[layer]]\nname = \"source\"\nfile = \"source.ply\"\nrole = \"source\"\n\n\
[[layer]]\nname = \"target\"\nfile = \"target.ply\"\nrole = \"target\"\n";

pub fn run_bench(a: &BenchArgs) -> anyhow::Result<()> {
    let variants = variants(a)?;
    let bands: Vec<BandKind> = a
        .bands
        .iter()
        .map(|b| match b.as_str() {
            "shared" => Ok(BandKind::Shared),
            "dealt" => Ok(BandKind::Dealt),
            o => bail!("--bands: unknown band kind `{o}` (shared, dealt)"),
        })
        .collect::<anyhow::Result<_>>()?;
    let changes: Vec<ChangeKind> = a
        .changes
        .iter()
        .map(|c| {
            ChangeKind::ALL
                .into_iter()
                .find(|k| k.name() == c)
                .with_context(|| format!("--changes: unknown change `{c}` (gain_offset, matrix, tone, lighting)"))
        })
        .collect::<anyhow::Result<_>>()?;
    std::fs::create_dir_all(&a.out).with_context(|| a.out.display().to_string())?;
    let mut rows: Vec<Row> = Vec::new();
    let print_row = |r: &Row| {
        println!(
            "{:<34} {:<30} {:>8} {:>7.4} {:>6.3} {:>7.4} {:>7.4} {:>6.1}  {}",
            r.case,
            r.variant,
            r.recovery.map_or("-".into(), |v| format!("{v:.3}")),
            r.moved,
            r.detail,
            r.seam_before,
            r.seam_after,
            r.seconds,
            r.decided
        )
    };
    println!(
        "{:<34} {:<30} {:>8} {:>7} {:>6} {:>7} {:>7} {:>6}  decided",
        "case", "variant", "recovery", "moved", "detail", "seam0", "seam1", "s"
    );
    for capture in &a.captures {
        let path = a.capture(capture)?;
        let mut cloud = formats::load(&path, &LoadOptions::default())?.cloud;
        Similarity { scale: a.world_scale, ..Similarity::IDENTITY }.bake(&mut cloud);
        let short = short_name(capture, &a.captures);
        for &seed in &a.seeds {
            for &band in &bands {
                let mut rng = Rng::new(seed * 1000 + capture.len() as u64);
                let plane = random_plane_at(&cloud, &mut rng, a.band_width, a.cut_at);
                let (source, truth) = cut(&cloud, &plane, band, &mut rng);
                for &change_kind in &changes {
                    let mut rng = Rng::new(seed * 7919 + change_kind as u64);
                    let change = Change::draw_scaled(change_kind, &mut rng, a.strength);
                    let changed = change.apply(&truth);
                    let case = format!("{short} s{seed} {} {}{}", band.name(), change_kind.name(), case_suffix(a));
                    let dir = a.out.join(file_name(&case));
                    std::fs::create_dir_all(&dir)?;
                    formats::save(&dir.join("source.ply"), &source, &SaveOptions::default())?;
                    formats::save(&dir.join("target.ply"), &changed, &SaveOptions::default())?;
                    let about = serde_json::json!({ "plane": plane, "band": band, "change": change });
                    write_atomically(&dir.join("case.json"), serde_json::to_string_pretty(&about)?.as_bytes())?;
                    let scorer = Scorer::new(&source, &truth, &changed);
                    for v in &variants {
                        let job = write_job(&dir, &file_name(&v.label), CAPTURE_LAYERS, v, a.quick)?;
                        let (report, blended) = stitch(&job, source.len())?;
                        let s = scorer.score(&blended);
                        let row = Row {
                            case: case.clone(),
                            change: Some(change_kind.name()),
                            variant: v.label.clone(),
                            recovery: Some(s.recovery),
                            moved: s.moved,
                            detail: s.detail,
                            seam_before: report.metrics_before.seam_error,
                            seam_after: report.metrics_after.seam_error,
                            seconds: report.timings_s.total,
                            decided: decided(&report),
                        };
                        print_row(&row);
                        rows.push(row);
                    }
                }
            }
        }
    }
    if !a.no_lod {
        let dir = a.out.join("lod_pair");
        std::fs::create_dir_all(&dir)?;
        let (lod3, lod2) = (a.capture("flowers_27k_sh2.ply")?, a.capture("flowers_93k_sh2.ply")?);
        let layers = format!(
            "[[layer]]\nname = \"flowers_lod3\"\nfile = \"{}\"\nrole = \"source\"\n\
             crop = {{ box_min = [-1.0, -1.0, -1.0], box_max = [0.0, 1.0, 1.0] }}\n\n\
             [[layer]]\nname = \"flowers_lod2\"\nfile = \"{}\"\nrole = \"target\"\n",
            std::path::absolute(lod3)?.display(),
            std::path::absolute(lod2)?.display()
        );
        for v in &variants {
            let job = write_job(&dir, &file_name(&v.label), &layers, v, a.quick)?;
            let report = run(&Job::load(&job)?, &RunOptions::default())?;
            let row = Row {
                case: "lod pair (flowers 27k | 93k)".into(),
                change: None,
                variant: v.label.clone(),
                recovery: None,
                moved: 0.0,
                detail: report.metrics_after.detail as f64,
                seam_before: report.metrics_before.seam_error,
                seam_after: report.metrics_after.seam_error,
                seconds: report.timings_s.total,
                decided: decided(&report),
            };
            print_row(&row);
            rows.push(row);
        }
    }
    let (md, csv) = tables(&rows, &variants, a);
    println!("\n{md}");
    write_atomically(&a.out.join("blend.md"), md.as_bytes())?;
    write_atomically(&a.out.join("blend.csv"), csv.as_bytes())?;
    if let Some(p) = &a.json {
        write_atomically(p, serde_json::to_string_pretty(&rows)?.as_bytes())?;
    }
    println!("tables written to {} (blend.md, blend.csv)", a.out.display());
    Ok(())
}

/// The Markdown summary (per variant) and full table, and the CSV of every cell.
fn tables(rows: &[Row], variants: &[Variant], a: &BenchArgs) -> (String, String) {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Cases: {} × seeds {:?} × bands {:?} × changes {:?}; band {} of the diagonal, strength {}, cut at {}, \
         world scale {}{}; recovery scored on 9 other views at 192 px.\n",
        a.captures.join(", "),
        a.seeds,
        a.bands,
        a.changes,
        a.band_width,
        a.strength,
        a.cut_at,
        a.world_scale,
        if a.quick { " (--quick: 16 views at 128 px, 4 validation views)" } else { "" }
    );
    md.push_str(
        "| variant | mean recovery (gain, matrix, tone) | mean recovery (lighting) | min recovery | cases < 0 | \
         mean detail | min detail | moved (foreign) | LOD seam before → after | mean time s |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for v in variants {
        let mine: Vec<&Row> = rows.iter().filter(|r| r.variant == v.label).collect();
        let rec = |f: &dyn Fn(&Row) -> bool| {
            let x: Vec<f64> = mine.iter().filter(|r| f(r)).filter_map(|r| r.recovery).collect();
            (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
        };
        let global = rec(&|r: &Row| !r.is("lighting") && !r.is("foreign"));
        let lighting = rec(&|r: &Row| r.is("lighting"));
        let foreign: Vec<f64> = mine.iter().filter(|r| r.is("foreign")).map(|r| r.moved).collect();
        let foreign = (!foreign.is_empty()).then(|| foreign.iter().sum::<f64>() / foreign.len() as f64);
        let all: Vec<f64> = mine.iter().filter(|r| !r.is("foreign")).filter_map(|r| r.recovery).collect();
        let min = all.iter().copied().fold(f64::INFINITY, f64::min);
        let below = all.iter().filter(|r| **r < 0.0).count();
        // A foreign case's truth is another material: its detail against it says nothing.
        let detail: Vec<f64> =
            mine.iter().filter(|r| r.recovery.is_some() && !r.is("foreign")).map(|r| r.detail).collect();
        let min_detail = detail.iter().copied().fold(f64::INFINITY, f64::min);
        let lod = mine.iter().find(|r| r.recovery.is_none());
        let time = mine.iter().map(|r| r.seconds).sum::<f64>() / mine.len().max(1) as f64;
        let f = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.3}"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {below} | {} | {} | {} | {} | {time:.1} |",
            v.label,
            f(global),
            f(lighting),
            if all.is_empty() { "-".into() } else { format!("{min:.3}") },
            f((!detail.is_empty()).then(|| detail.iter().sum::<f64>() / detail.len() as f64)),
            f((!detail.is_empty()).then_some(min_detail)),
            foreign.map_or("-".into(), |m| format!("{m:.4}")),
            lod.map_or("-".into(), |r| format!("{:.4} → {:.4} (detail {:.3})", r.seam_before, r.seam_after, r.detail)),
        );
    }
    md.push_str(
        "\n| case | variant | recovery | moved | detail | seam before | seam after | time s | decided |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    let mut csv = String::from("case,variant,recovery,moved,detail,seam_before,seam_after,seconds,decided\n");
    for r in rows {
        let rec = r.recovery.map_or(String::new(), |v| format!("{v:.4}"));
        let _ = writeln!(
            md,
            "| {} | {} | {} | {:.4} | {:.3} | {:.4} | {:.4} | {:.1} | {} |",
            r.case,
            r.variant,
            if rec.is_empty() { "-" } else { &rec },
            r.moved,
            r.detail,
            r.seam_before,
            r.seam_after,
            r.seconds,
            r.decided
        );
        let _ = writeln!(
            csv,
            "{},{},{rec},{:.5},{:.4},{:.5},{:.5},{:.2},{}",
            r.case,
            r.variant,
            r.moved,
            r.detail,
            r.seam_before,
            r.seam_after,
            r.seconds,
            r.decided.replace(',', ";")
        );
    }
    (md, csv)
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn captures_that_share_a_first_word_keep_their_second_in_case_names() {
        let all: Vec<String> =
            ["flowers_93k_sh2.ply", "guitar_91k_sh0.compressed.ply", "flowers_27k_sh2.ply"].map(String::from).into();
        assert_eq!(short_name("guitar_91k_sh0.compressed.ply", &all), "guitar");
        assert_eq!(short_name("flowers_93k_sh2.ply", &all), "flowers_93k");
        assert_eq!(short_name("flowers_27k_sh2.ply", &all), "flowers_27k");
        assert_eq!(short_name("flowers_27k_sh2.ply", &all[2..]), "flowers");
    }
}
