//! A whole stitch, headless: compose → boundary → cameras and reference renders → blend →
//! metrics before and after → outputs, written only when everything succeeded.

use crate::backend::{self, BackendChoice, BackendError, Engine};
use crate::boundary::{Boundary, BoundaryParams, find_boundary};
use crate::cameras::fibonacci_cameras;
use crate::compose::{Composite, with_sh_degree};
use crate::driving::driving_points;
use crate::explicit::optimize_explicit;
use crate::job::{BlendSpec, Job, JobError, Method};
use crate::metrics::{Metrics, Palette, SeamSpace, detail, seam_error_image, seam_error_points};
use crate::native::optimize_native;
use crate::optimize::{Problem, Weights, camera_terms_with_renders, optimize};
use crate::poisson::{PoissonProblem, apply_offsets, solve};
use splatstitch_core::formats::{self, SaveOptions, write_atomically};
use splatstitch_core::{GaussianCloud, Role};
use splatstitch_render::gpu::GpuContext;
use splatstitch_render::{Camera, Image, RenderLayer, RenderOptions, RenderScene, render_cpu};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Adam's step size on the SH coefficients.
pub const LEARNING_RATE: f32 = 0.01;

/// Switches for studying the method's losses without changing the job format (the ablations in
/// docs/BENCHMARKS.md): `SPLATSTITCH_LAMBDA_FEATURE` and `SPLATSTITCH_LAMBDA_COLOR` weight
/// L_feature and L_color (1 in the method), `SPLATSTITCH_CLONE_OFFSETS=1` makes L_color clone
/// colour changes instead of colours, `SPLATSTITCH_LEARNING_RATE` sets Adam's step (0.01).
/// `SPLATSTITCH_INIT=affine` (= [`RunOptions::seam_transfer`]) and
/// `SPLATSTITCH_FEATURE_REFERENCE=field` act in [`run`]. Each one in
/// use is logged.
pub fn research_overrides(w: &mut Weights) {
    let number = |key: &str| std::env::var(key).ok().and_then(|v| v.parse::<f32>().ok()).filter(|v| v.is_finite());
    if let Some(v) = number("SPLATSTITCH_LAMBDA_FEATURE") {
        tracing::warn!("research switch: lambda_feature = {v}");
        w.lambda_feature = v;
    }
    if let Some(v) = number("SPLATSTITCH_LAMBDA_COLOR") {
        tracing::warn!("research switch: lambda_color = {v}");
        w.lambda_color = v;
    }
    if let Some(v) = number("SPLATSTITCH_LEARNING_RATE").filter(|v| *v > 0.0) {
        tracing::warn!("research switch: learning rate = {v}");
        w.learning_rate = v;
    }
    if std::env::var_os("SPLATSTITCH_CLONE_OFFSETS").is_some() {
        tracing::warn!("research switch: L_color clones colour changes");
        w.clone_offsets = true;
    }
}

/// Which gradient a burn device uses: the explicit one (gathers only) on a GPU, where burn's
/// autodiff needs a scatter that burn-wgpu does serially; on burn's CPU backends whichever
/// measured faster (docs/BENCHMARKS.md). `SPLATSTITCH_GRADIENT=autodiff|explicit` overrides, for
/// comparisons.
fn use_autodiff(device: &backend::OptimizerDevice) -> bool {
    match std::env::var("SPLATSTITCH_GRADIENT").as_deref() {
        Ok("autodiff") => true,
        Ok("explicit") => false,
        _ => !device.is_gpu() && CPU_AUTODIFF,
    }
}

/// Measured on the speed job: see docs/BENCHMARKS.md.
const CPU_AUTODIFF: bool = true;

#[derive(Debug, thiserror::Error)]
pub enum StitchError {
    /// The job is wrong (exit code 2): bad key, missing file, no boundary.
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("cancelled; nothing was written")]
    Cancelled,
    #[error("{0}")]
    Output(String),
}

/// Stages, for progress reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Load,
    Boundary,
    Precompute,
    Optimize,
    Metrics,
    Export,
}

/// Receives the target's current SH during an optimization.
pub type PreviewFn = dyn Fn(&[f32]) + Sync;

impl Stage {
    /// What the stage does, for progress bars.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Load => "loading layers",
            Stage::Boundary => "finding the seam",
            Stage::Precompute => "rendering reference views",
            Stage::Optimize => "blending",
            Stage::Metrics => "measuring",
            Stage::Export => "writing outputs",
        }
    }
}

#[derive(Default)]
pub struct RunOptions<'a> {
    /// Write outputs here instead of where the job says (file names kept).
    pub out_dir: Option<PathBuf>,
    /// Set from another thread (Ctrl-C) to stop between stages and iterations.
    pub cancel: Option<&'a AtomicBool>,
    /// Called with each stage as it starts and a fraction done within it.
    pub progress: Option<&'a (dyn Fn(Stage, f32) + Sync)>,
    /// Where the optimizer runs (`auto` unless told).
    pub backend: BackendChoice,
    /// Called about twice a second during the `stitch` optimization with the target's current
    /// SH (composite frame, the target's layout): live previews in the editor.
    pub preview: Option<&'a PreviewFn>,
    /// The renderer's GPU context, when the caller has one (the editor): the optimizer then
    /// shares its device instead of making another.
    pub gpu: Option<GpuContext>,
    /// Before blending, map the target's colours with the per-channel gain and offset fitted on
    /// the seam ([`crate::transfer`]). Not part of the paper's method; it corrects exposure and
    /// white-balance differences between captures (docs/BENCHMARKS.md). `SPLATSTITCH_INIT=affine`
    /// turns it on too.
    pub seam_transfer: bool,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerCount {
    pub name: String,
    pub role: Role,
    pub loaded: usize,
    pub kept: usize,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Timings {
    pub load: f64,
    pub boundary: f64,
    pub precompute: f64,
    pub optimize: f64,
    pub metrics: f64,
    pub export: f64,
    pub total: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub job: String,
    pub method: Method,
    pub backend: String,
    /// Why `auto` chose that backend (empty when chosen by hand or not needed).
    pub backend_reason: String,
    pub parameters: BlendSpec,
    pub layers: Vec<LayerCount>,
    pub boundary: usize,
    /// The colour transfer applied before blending (`RunOptions::seam_transfer`), if any.
    pub seam_transfer: Option<crate::recolor::Tint>,
    pub metrics_before: Metrics,
    pub metrics_after: Metrics,
    pub timings_s: Timings,
    pub peak_memory_mb: f64,
    pub outputs: Vec<String>,
}

/// Peak resident memory of this process so far, in MB (Linux; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1).map(String::from))
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Renders each camera's view of `clouds` together, over black.
pub fn render_views(clouds: &[&GaussianCloud], cameras: &[Camera]) -> Vec<Image> {
    let scene = RenderScene { layers: clouds.iter().map(|c| RenderLayer::new(c)).collect() };
    let opts = RenderOptions { background: [0.0; 3], sh_degree: 3 };
    cameras.iter().map(|c| render_cpu(&scene, c, &opts).expect("working cameras are valid")).collect()
}

/// What the metrics need that does not change with the target's colours.
pub struct Evaluation {
    pub cameras: Vec<Camera>,
    pub source_renders: Vec<Image>,
    pub target_before: Vec<Image>,
    pub palette: Palette,
    pub boundary: Boundary,
    pub sources: GaussianCloud,
}

/// The job's working cameras (DESIGN §5 step 4).
pub fn working_cameras(composite: &Composite, blend: &BlendSpec) -> Vec<Camera> {
    let (lo, hi) = composite.bounds();
    fibonacci_cameras(lo, hi, blend.views, blend.resolution)
}

impl Evaluation {
    /// `sources` is the composite's sources merged ([`Composite::sources`]), which the caller
    /// has already made for the seam search.
    pub fn new(composite: &Composite, sources: GaussianCloud, blend: &BlendSpec, boundary: Boundary) -> Evaluation {
        Self::with_target_renders(composite, sources, working_cameras(composite, blend), boundary, None)
    }

    /// As [`Evaluation::new`] with `cameras`, reusing the target's renders from them when the
    /// caller already has them.
    pub fn with_target_renders(
        composite: &Composite,
        sources: GaussianCloud,
        cameras: Vec<Camera>,
        boundary: Boundary,
        target_before: Option<Vec<Image>>,
    ) -> Evaluation {
        let source_renders = render_views(&[&sources], &cameras);
        let target_before = target_before.unwrap_or_else(|| render_views(&[&composite.target().cloud], &cameras));
        let palette = Palette::from_renders(&source_renders, 7);
        Evaluation { cameras, source_renders, target_before, palette, boundary, sources }
    }

    /// Metrics of a target with these colours (same geometry as the original).
    pub fn metrics(&self, target: &GaussianCloud, renders: &[Image]) -> Metrics {
        let (seam_error, seam_space) = match seam_error_image(&self.source_renders, renders) {
            Some(e) => (e, SeamSpace::Image),
            None => (seam_error_points(&self.boundary, target, &self.sources), SeamSpace::Points),
        };
        Metrics {
            seam_error,
            seam_space,
            detail: detail(&self.target_before, renders),
            palette_distance: self.palette.distance(renders),
        }
    }
}

fn output_path(job: &Job, out_dir: &Option<PathBuf>, p: &Path) -> PathBuf {
    match out_dir {
        Some(d) => d.join(p.file_name().unwrap_or(p.as_os_str())),
        None => job.resolve(p),
    }
}

/// Runs a job end to end and returns its report (also written when the job names a path).
pub fn run(job: &Job, opts: &RunOptions) -> Result<Report, StitchError> {
    let start = Instant::now();
    let mut t = Timings::default();
    let cancelled = || opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let progress = |s: Stage, f: f32| {
        if let Some(p) = opts.progress {
            p(s, f)
        }
    };
    let blend = &job.spec.blend;
    let device = match blend.method {
        Method::None => None,
        // The baseline's field gathers need autodiff's scatter-add, which burn-wgpu does
        // serially and wrongly past 65,535 rows (see segment.rs): it runs on the CPU.
        Method::Poisson => Some(match opts.backend {
            BackendChoice::Ndarray => backend::burn_cpu(true),
            BackendChoice::Flex => backend::burn_cpu(false),
            _ => backend::OptimizerDevice {
                reason: "the poisson baseline runs on burn's CPU backend (burn-wgpu's scatter-add is serial)".into(),
                ..backend::burn_cpu(false)
            },
        }),
        _ => {
            let d = backend::select(opts.backend, opts.gpu.as_ref())?;
            tracing::info!(
                "optimizer: {}{}",
                d.name,
                if d.reason.is_empty() { String::new() } else { format!(" ({})", d.reason) }
            );
            Some(d)
        }
    };

    progress(Stage::Load, 0.0);
    let lap = Instant::now();
    let composite = Composite::load(job)?;
    t.load = lap.elapsed().as_secs_f64();
    if cancelled() {
        return Err(StitchError::Cancelled);
    }

    progress(Stage::Boundary, 0.0);
    let lap = Instant::now();
    let ti = composite.target_index();
    let target = &composite.layers[ti].cloud;
    let sources = composite.sources();
    let params = BoundaryParams { k: blend.k, beta: blend.beta, tau: blend.tau };
    let boundary = find_boundary(target, &sources, params, composite.diagonal());
    if boundary.is_empty() {
        return Err(job
            .layer_error(
                ti,
                "role",
                format!(
                    "target `{}` has no boundary with the sources: none of its Gaussians with opacity above \
                     tau = {} lies within beta·L = {:.4} of them (are the layers far apart?)",
                    composite.layers[ti].name,
                    blend.tau,
                    blend.beta * composite.diagonal()
                ),
            )
            .into());
    }
    t.boundary = lap.elapsed().as_secs_f64();

    progress(Stage::Precompute, 0.0);
    let lap = Instant::now();
    let mut initial = target.clone();
    let warm_start = blend.method != Method::None
        && (opts.seam_transfer || std::env::var("SPLATSTITCH_INIT").as_deref() == Ok("affine"));
    let mut seam_transfer = None;
    if warm_start {
        match crate::transfer::fit(target, &sources, &boundary) {
            Some(tint) => {
                tracing::info!("seam colour transfer before blending: {tint:?}");
                tint.apply(&mut initial);
                seam_transfer = Some(tint);
            }
            None => tracing::warn!(
                "no seam colour transfer: fewer than {} of the {} seam points lie where the source is \
                 (do the layers overlap?)",
                crate::transfer::MIN_POINTS,
                boundary.len()
            ),
        }
    }
    let cameras = working_cameras(&composite, blend);
    let terms = (blend.method == Method::Stitch).then(|| camera_terms_with_renders(&initial, &cameras));
    let (problem, target_before) = match terms {
        Some((camera_terms, taps, renders)) => {
            let (interior, driving, driving_k) = driving_points(&initial, &boundary, composite.diagonal(), blend.k);
            let problem = Problem {
                sh: initial.sh.clone(),
                n: target.len(),
                k: target.coeffs_per_channel(),
                boundary: boundary.members.iter().map(|&m| m as i64).collect(),
                reference: if std::env::var("SPLATSTITCH_FEATURE_REFERENCE").as_deref() == Ok("field") {
                    tracing::warn!("research switch: L_feature references from the two fields at each seam point");
                    crate::transfer::field_reference(&initial, &sources, &boundary)
                } else {
                    boundary.reference_sh.clone()
                },
                interior,
                driving,
                driving_k,
                cameras: camera_terms,
                taps,
                pixels: (blend.resolution * blend.resolution) as usize,
                palette: Vec::new(),
            };
            // The optimizer's renders are the target's own unless a warm start recoloured it.
            (Some(problem), (!warm_start).then_some(renders))
        }
        None => (None, None),
    };
    let eval = Evaluation::with_target_renders(&composite, sources, cameras, boundary, target_before);
    let problem = problem.map(|p| Problem { palette: eval.palette.colors.clone(), ..p });
    t.precompute = lap.elapsed().as_secs_f64();
    if cancelled() {
        return Err(StitchError::Cancelled);
    }

    progress(Stage::Optimize, 0.0);
    let lap = Instant::now();
    let mut blended = initial.clone();
    let iterations = blend.iterations as f32;
    if blend.method == Method::Poisson {
        let device = device.as_ref().expect("a device for every optimizing method");
        let problem = PoissonProblem::new(&initial, &eval.sources, &eval.boundary);
        let burn_device = device.burn_device().expect("the poisson baseline runs on a burn device");
        let offsets = solve(&problem, blend.lambda_grad, blend.iterations, LEARNING_RATE, burn_device, |it| {
            progress(Stage::Optimize, (it + 1) as f32 / iterations);
            !cancelled()
        });
        if cancelled() {
            return Err(StitchError::Cancelled);
        }
        apply_offsets(&mut blended, &offsets);
    }
    if let Some(problem) = &problem {
        let device = device.as_ref().expect("a device for every optimizing method");
        let mut weights = Weights {
            lambda_feature: 1.0,
            lambda_color: 1.0,
            lambda_grad: blend.lambda_grad,
            lambda_tune: blend.lambda_tune,
            tune_from: blend.tune_from,
            iterations: blend.iterations,
            learning_rate: LEARNING_RATE,
            clone_offsets: false,
        };
        research_overrides(&mut weights);
        let mut last_preview = Instant::now();
        let step = |it: usize, _, current: &dyn Fn() -> Vec<f32>| {
            progress(Stage::Optimize, (it + 1) as f32 / iterations);
            if let Some(preview) = opts.preview
                && last_preview.elapsed().as_secs_f32() >= 0.5
            {
                preview(&current());
                last_preview = Instant::now();
            }
            !cancelled()
        };
        blended.sh = match &device.engine {
            Engine::Native => optimize_native(problem, &weights, step),
            Engine::Burn(d) if use_autodiff(device) => optimize(problem, &weights, d, true, step),
            Engine::Burn(d) => optimize_explicit(problem, &weights, d, !device.is_gpu(), step),
        };
        if cancelled() {
            return Err(StitchError::Cancelled);
        }
    }
    t.optimize = lap.elapsed().as_secs_f64();

    progress(Stage::Metrics, 0.0);
    let lap = Instant::now();
    let before = eval.metrics(target, &eval.target_before);
    let after_renders = render_views(&[&blended], &eval.cameras);
    let after = eval.metrics(&blended, &after_renders);
    t.metrics = lap.elapsed().as_secs_f64();
    if cancelled() {
        return Err(StitchError::Cancelled);
    }

    progress(Stage::Export, 0.0);
    let lap = Instant::now();
    let mut result = composite.clone();
    result.layers[ti].cloud = with_sh_degree(&blended, target.sh_degree);
    let out = &job.spec.output;
    let ply = output_path(job, &opts.out_dir, &out.ply);
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if let Some(dir) = &out.renders {
        let dir = output_path(job, &opts.out_dir, dir);
        let before_scene: Vec<&GaussianCloud> = composite.layers.iter().map(|l| &l.cloud).collect();
        let after_scene: Vec<&GaussianCloud> = result.layers.iter().map(|l| &l.cloud).collect();
        let shown: Vec<Camera> =
            eval.cameras.iter().step_by((eval.cameras.len() / 4).max(1)).take(4).copied().collect();
        for (i, (b, a)) in
            render_views(&before_scene, &shown).iter().zip(render_views(&after_scene, &shown)).enumerate()
        {
            files.push((dir.join(format!("view{i:02}_before.png")), b.to_png()));
            files.push((dir.join(format!("view{i:02}_after.png")), a.to_png()));
        }
    }
    let mut report = Report {
        job: job.path.display().to_string(),
        method: blend.method,
        backend: device.as_ref().map_or("none".into(), |d| d.name.clone()),
        backend_reason: device.as_ref().map_or(String::new(), |d| d.reason.clone()),
        parameters: blend.clone(),
        layers: composite
            .layers
            .iter()
            .map(|l| LayerCount { name: l.name.clone(), role: l.role, loaded: l.loaded, kept: l.cloud.len() })
            .collect(),
        boundary: eval.boundary.len(),
        seam_transfer,
        metrics_before: before,
        metrics_after: after,
        timings_s: t,
        peak_memory_mb: peak_rss_mb(),
        outputs: std::iter::once(&ply).chain(files.iter().map(|f| &f.0)).map(|p| p.display().to_string()).collect(),
    };
    if cancelled() {
        return Err(StitchError::Cancelled);
    }
    // Everything is computed: now write, each file via a temporary and a rename.
    let io = |p: &Path, e: std::io::Error| StitchError::Output(format!("{}: {e}", p.display()));
    for (p, bytes) in &files {
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        write_atomically(p, bytes).map_err(|e| io(p, e))?;
    }
    if let Some(d) = ply.parent() {
        std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
    }
    formats::save(&ply, &result.to_cloud(), &SaveOptions::default()).map_err(|e| StitchError::Output(e.to_string()))?;
    report.timings_s.export = lap.elapsed().as_secs_f64();
    report.timings_s.total = start.elapsed().as_secs_f64();
    if let Some(r) = &out.report {
        let r = output_path(job, &opts.out_dir, r);
        if let Some(d) = r.parent() {
            std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
        }
        report.outputs.push(r.display().to_string());
        let json = serde_json::to_string_pretty(&report).map_err(|e| StitchError::Output(e.to_string()))?;
        write_atomically(&r, json.as_bytes()).map_err(|e| io(&r, e))?;
    }
    progress(Stage::Export, 1.0);
    Ok(report)
}
