//! Job files (docs/ARCHITECTURE.md §8): what to stitch, how, and where the results go. The editor saves and
//! opens the same format, so a scene prepared by hand re-runs headless.
//!
//! Every problem is reported with the job file, the line and the key, before anything runs.

pub use crate::params::{BlendSpec, Method};
use serde::{Deserialize, Serialize};
use splatstitch_core::{Grade, Role, Similarity};
use std::path::{Path, PathBuf};

/// A problem with a job file: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {}{message}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default(), key.as_ref().map(|k| format!("`{k}`: ")).unwrap_or_default())]
pub struct JobError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub key: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CropSpec {
    pub box_min: [f32; 3],
    pub box_max: [f32; 3],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransformSpec {
    pub scale: f32,
    pub rotate_deg: [f32; 3],
    pub translate: [f32; 3],
}

impl Default for TransformSpec {
    fn default() -> Self {
        Self { scale: 1.0, rotate_deg: [0.0; 3], translate: [0.0; 3] }
    }
}

impl TransformSpec {
    pub fn similarity(&self) -> Similarity {
        Similarity::from_scale_euler_translation(self.scale, self.rotate_deg, self.translate)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    pub name: String,
    /// Relative to the job file, or absolute.
    pub file: PathBuf,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crop: Option<CropSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<TransformSpec>,
    /// For a streamed SOG (`lod-meta.json`): the level of detail to read (0, the finest,
    /// unless told).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lod: Option<u32>,
    /// A colour grade of the whole layer, applied when the job is composed (every key
    /// optional, the defaults change nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<Grade>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// The stitched composite, relative to the job file.
    pub ply: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<PathBuf>,
    /// Folder for before/after PNGs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renders: Option<PathBuf>,
}

/// A job as written in the file (paths as written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobFile {
    #[serde(rename = "layer")]
    pub layers: Vec<LayerSpec>,
    #[serde(default)]
    pub blend: BlendSpec,
    pub output: OutputSpec,
}

/// A validated job with paths resolved against the job file's folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub path: PathBuf,
    pub spec: JobFile,
    /// The file's text, for pointing later errors (a missing capture, say) at their line.
    pub text: String,
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Line of `key = ...` inside the table whose header line is `header` (the n-th occurrence for
/// arrays of tables), for errors found after parsing.
fn key_line(text: &str, header: &str, nth: usize, key: &str) -> Option<usize> {
    let mut seen = 0usize;
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == header && {
                seen += 1;
                seen == nth + 1
            };
            continue;
        }
        if inside {
            let k = t.split('=').next().unwrap_or("").trim();
            if k == key || t.starts_with(&format!("{key} ")) || t.starts_with(&format!("{key}=")) {
                return Some(i + 1);
            }
            // Inline tables: `crop = { box_min = ... }` holds the nested key.
            if t.contains(&format!("{key} =")) || t.contains(&format!("{key}=")) {
                return Some(i + 1);
            }
        }
    }
    None
}

impl Job {
    pub fn load(path: &Path) -> Result<Job, JobError> {
        let text = std::fs::read_to_string(path).map_err(|e| JobError {
            file: path.into(),
            line: None,
            key: None,
            message: format!("cannot read the job file: {e}"),
        })?;
        Job::parse(path, &text)
    }

    /// [`Job::load`] with `[blend]` keys set from elsewhere (the command line's `--set KEY=VALUE`):
    /// each value is read as TOML (a bare word as a string) and replaces the file's.
    pub fn load_with_overrides(path: &Path, overrides: &[(String, String)]) -> Result<Job, JobError> {
        let job = Job::load(path)?;
        if overrides.is_empty() {
            return Ok(job);
        }
        let err = |key: Option<String>, message: String| JobError { file: path.into(), line: None, key, message };
        let mut table: toml::Table = toml::from_str(&job.text).map_err(|e| err(None, e.to_string()))?;
        let blend = table.entry("blend").or_insert_with(|| toml::Value::Table(Default::default()));
        let toml::Value::Table(blend) = blend else {
            return Err(err(Some("blend".into()), "`blend` must be a table".into()));
        };
        for (key, value) in overrides {
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.clone()));
            blend.insert(key.clone(), parsed);
        }
        let text = toml::to_string(&table).map_err(|e| err(None, e.to_string()))?;
        Job::parse(path, &text).map_err(|mut e| {
            // Lines of the rewritten text mean nothing to the user; the override names the key.
            if let Some(k) = e.key.as_ref().and_then(|k| k.strip_prefix("blend.")).map(String::from)
                && overrides.iter().any(|(o, _)| *o == k)
            {
                e.line = None;
                e.message = format!("{} (set by --set {k}=…)", e.message);
            } else if overrides.iter().any(|(o, _)| e.message.contains(&format!("`{o}`"))) {
                e.line = None;
            }
            e
        })
    }

    /// Parses and validates a job; `path` names it in errors and anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Job, JobError> {
        let spec: JobFile = toml::from_str(text).map_err(|e| JobError {
            file: path.into(),
            line: e.span().map(|s| line_of(text, s.start)),
            key: None,
            message: e.message().trim().to_string(),
        })?;
        let job = Job { path: path.into(), spec, text: text.to_string() };
        job.validate(text)?;
        Ok(job)
    }

    fn validate(&self, text: &str) -> Result<(), JobError> {
        let err = |header: &str, nth: usize, key: &str, message: String| JobError {
            file: self.path.clone(),
            line: key_line(text, header, nth, key.rsplit('.').next().unwrap_or(key)),
            key: Some(key.to_string()),
            message,
        };
        let s = &self.spec;
        if s.layers.is_empty() {
            return Err(err("", 0, "layer", "the job has no [[layer]]".into()));
        }
        let mut names = std::collections::HashSet::new();
        for (i, l) in s.layers.iter().enumerate() {
            let at = |key: &str, m: String| err("[[layer]]", i, &format!("layer.{key}"), m);
            if l.name.trim().is_empty() {
                return Err(at("name", "layer names must not be empty".into()));
            }
            if !names.insert(l.name.as_str()) {
                return Err(at("name", format!("two layers are named `{}`", l.name)));
            }
            if let Some(c) = &l.crop
                && (0..3).any(|k| c.box_min[k].is_nan() || c.box_max[k].is_nan() || c.box_min[k] > c.box_max[k])
            {
                return Err(at("crop", format!("layer `{}`: box_min must not exceed box_max", l.name)));
            }
            if let Some(t) = &l.transform {
                if !(t.scale.is_finite() && t.scale > 0.0) {
                    return Err(at("transform.scale", format!("layer `{}`: scale must be positive", l.name)));
                }
                if !t.rotate_deg.iter().chain(&t.translate).all(|v| v.is_finite()) {
                    return Err(at("transform", format!("layer `{}`: values must be finite", l.name)));
                }
            }
            if let Some(g) = &l.grade {
                g.validate()
                    .map_err(|e| at(&format!("grade.{}", e.key), format!("layer `{}`: {}", l.name, e.message)))?;
            }
        }
        let count = |r: Role| s.layers.iter().filter(|l| l.role == r).count();
        if count(Role::Source) == 0 {
            return Err(err("", 0, "layer.role", "no layer has role = \"source\"".into()));
        }
        if count(Role::Target) != 1 {
            return Err(err(
                "",
                0,
                "layer.role",
                format!("exactly one layer must have role = \"target\" ({} found)", count(Role::Target)),
            ));
        }
        let b = &s.blend;
        let blend = |key: &str, m: String| err("[blend]", 0, &format!("blend.{key}"), m);
        let range = |key: &str, v: f64, lo: f64, hi: f64| {
            if v.is_finite() && v >= lo && v <= hi {
                Ok(())
            } else {
                Err(blend(key, format!("{v} is outside {lo}..={hi}")))
            }
        };
        range("k", b.k as f64, 1.0, 256.0)?;
        range("beta", b.beta as f64, 1e-6, 1.0)?;
        range("tau", b.tau as f64, 0.0, 1.0)?;
        range("iterations", b.iterations as f64, 0.0, 1e6)?;
        range("views", b.views as f64, 1.0, 1024.0)?;
        range("resolution", b.resolution as f64, 16.0, 4096.0)?;
        range("min_boundary", b.min_boundary as f64, 0.0, 1e7)?;
        for (key, v) in [
            ("lambda_feature", b.lambda_feature),
            ("lambda_color", b.lambda_color),
            ("lambda_grad", b.lambda_grad),
            ("lambda_tune", b.lambda_tune),
            ("far_weight", b.far_weight),
            ("poisson_weight", b.poisson_weight),
        ] {
            range(key, v as f64, 0.0, 1e6)?;
        }
        range("tune_from", b.tune_from as f64, 0.0, 1.0)?;
        range("min_improvement", b.min_improvement as f64, 0.0, 0.99)?;
        range("learning_rate", b.learning_rate as f64, 1e-9, 10.0)?;
        range("poisson_learning_rate", b.poisson_learning_rate as f64, 1e-9, 10.0)?;
        range("gamma", b.gamma as f64, 0.0, 1e6)?;
        range("jitter_amplitude", b.jitter_amplitude as f64, 0.0, 1e6)?;
        if let crate::params::AutoOr::Value(v) = b.transfer_strength {
            range("transfer_strength", v as f64, 0.0, 1.0)?;
        }
        range("transfer_block", b.transfer_block as f64, 1.0, 64.0)?;
        range("validation_views", b.validation_views as f64, 0.0, 1024.0)?;
        range("patience", b.patience as f64, 0.0, 1e6)?;
        range("checkpoint_every", b.checkpoint_every as f64, 1.0, 1e6)?;
        range("poisson_iterations", b.poisson_iterations as f64, 0.0, 1e7)?;
        range("poisson_grid", b.poisson_grid as f64, 8.0, 1024.0)?;
        range("poisson_batch", b.poisson_batch as f64, 64.0, 1e8)?;
        Ok(())
    }

    /// An error about key `key` (e.g. `file`) of the `index`-th layer.
    pub fn layer_error(&self, index: usize, key: &str, message: String) -> JobError {
        JobError {
            file: self.path.clone(),
            line: key_line(&self.text, "[[layer]]", index, key),
            key: Some(format!("layer.{key}")),
            message,
        }
    }

    /// A path from the job resolved against the job file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_path_buf() } else { self.path.parent().unwrap_or(Path::new(".")).join(p) }
    }

    /// Writes the job as TOML (atomically).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.spec).expect("a job always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[layer]]
name = "body"
file = "body.ply"
role = "source"

[[layer]]
name = "head"
file = "/abs/head.ply"
role = "target"
crop = { box_min = [-1, -1, -1], box_max = [1, 1, 1] }
transform = { scale = 2.0, rotate_deg = [0, 90, 0], translate = [1, 0, 0] }

[blend]
method = "stitch"
k = 8

[output]
ply = "out/stitched.ply"
report = "out/report.json"
renders = "out/renders"
"#;

    fn parse(text: &str) -> Result<Job, JobError> {
        Job::parse(Path::new("/jobs/demo.toml"), text)
    }

    #[test]
    fn parses_defaults_and_resolves_paths() {
        let job = parse(GOOD).unwrap();
        assert_eq!(job.spec.blend.k, 8);
        assert_eq!(job.spec.blend.iterations, crate::params::BlendSpec::default().iterations);
        assert!(job.spec.blend.seam_transfer && job.spec.blend.keep_best, "our defaults");
        assert_eq!(job.resolve(&job.spec.layers[0].file), PathBuf::from("/jobs/body.ply"));
        assert_eq!(job.resolve(&job.spec.layers[1].file), PathBuf::from("/abs/head.ply"));
        assert_eq!(job.spec.layers[1].transform.as_ref().unwrap().scale, 2.0);
        let again = parse(&job.to_toml()).unwrap();
        assert_eq!(again.spec, job.spec);
    }

    #[test]
    fn presets_fill_every_key_and_keys_override_them() {
        let paper = parse(&GOOD.replace("k = 8", "preset = \"paper\"\nlearning_rate = 0.005")).unwrap().spec.blend;
        assert_eq!(paper.preset, crate::params::Preset::Paper);
        assert!(!paper.seam_transfer && !paper.keep_best);
        assert_eq!(paper.jitter_units, crate::params::JitterUnits::World);
        assert_eq!((paper.jitter_amplitude, paper.gamma, paper.beta, paper.tau), (1.0, 10.0, 0.05, 0.95));
        assert_eq!(paper.learning_rate, 0.005, "a key written in the job overrides the preset");
        // The resolved values round-trip: a saved job re-opens to the same parameters.
        let again = parse(&parse(&GOOD.replace("k = 8", "preset = \"paper\"")).unwrap().to_toml()).unwrap();
        assert_eq!(again.spec.blend.preset, crate::params::Preset::Paper);
        let e = parse(&GOOD.replace("k = 8", "transfer_strength = \"lots\"")).unwrap_err();
        assert!(e.message.contains("expected \"auto\" or a number"), "{e}");
    }

    #[test]
    fn errors_name_key_and_line() {
        let e = parse(&GOOD.replace("k = 8", "k = 8\nkk = 3")).unwrap_err();
        assert_eq!(e.line, Some(17), "{e}");
        assert!(e.message.contains("unknown field `kk`"), "{e}");
        let e = parse(&GOOD.replace("k = 8", "k = \"eight\"")).unwrap_err();
        assert_eq!(e.line, Some(16), "{e}");
        let e = parse(&GOOD.replace("k = 8", "k = 0")).unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("blend.k"), Some(16)), "{e}");
        assert!(e.to_string().starts_with("/jobs/demo.toml:16: `blend.k`: 0 is outside"), "{e}");
        let e = parse(&GOOD.replace("tau = 0.95", "").replace("k = 8", "tau = 1.5")).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("blend.tau"));
        let e = parse(&GOOD.replace("role = \"source\"", "role = \"fixed\"")).unwrap_err();
        assert!(e.message.contains("no layer has role = \"source\""), "{e}");
        let e = parse(&GOOD.replace("role = \"target\"", "role = \"source\"")).unwrap_err();
        assert!(e.message.contains("exactly one layer"), "{e}");
        let e = parse(&GOOD.replace("scale = 2.0", "scale = -1.0")).unwrap_err();
        assert_eq!((e.key.as_deref(), e.line), (Some("layer.transform.scale"), Some(12)), "{e}");
        let e = parse(&GOOD.replace("box_max = [1, 1, 1]", "box_max = [1, -2, 1]")).unwrap_err();
        assert_eq!(e.line, Some(11), "{e}");
        let e = parse(&GOOD.replace("method = \"stitch\"", "method = \"magic\"")).unwrap_err();
        assert!(e.message.contains("unknown variant `magic`"), "{e}");
        let e = parse(&GOOD.replace("[output]\nply = \"out/stitched.ply\"", "[output]")).unwrap_err();
        assert!(e.message.contains("missing field `ply`"), "{e}");
    }

    #[test]
    fn a_layer_grade_takes_any_subset_of_its_keys_and_names_a_bad_one() {
        let graded = |g: &str| GOOD.replace("\n[blend]", &format!("[layer.grade]\n{g}\n\n[blend]"));
        let job = parse(&graded("exposure = 1.0\nsaturation = 0.8")).unwrap();
        let g = job.spec.layers[1].grade.unwrap();
        assert_eq!((g.exposure, g.saturation, g.contrast), (1.0, 0.8, 1.0), "unset keys are the identity");
        assert_eq!(parse(&job.to_toml()).unwrap().spec, job.spec, "round trip");
        let inline = GOOD.replace("role = \"target\"", "role = \"target\"\ngrade = { tint = 0.2, contrast = 9.0 }");
        let e = parse(&inline).unwrap_err();
        assert_eq!(e.key.as_deref(), Some("layer.grade.contrast"), "{e}");
        assert!(e.message.contains("9 is outside 0..=3"), "{e}");
        assert!(e.line.is_some(), "{e}");
        let e = parse(&graded("glow = 1.0")).unwrap_err();
        assert!(e.message.contains("unknown field `glow`"), "{e}");
    }
}
