//! A whole stitch, headless: compose → seam → renders of each side → seam transfer → blend with
//! checkpoints scored on validation views → metrics → outputs, written only when everything
//! succeeded.

use crate::backend::{self, BackendChoice, BackendError, Engine};
use crate::boundary::{Boundary, BoundaryParams, find_boundary_adaptive, nearest_source_distance};
use crate::cameras::{VALIDATION_TURN, fibonacci_cameras_turned};
use crate::compose::{Composite, concatenate, with_sh_degree};
use crate::driving::{Jitter, driving_points};
use crate::explicit::optimize_explicit;
use crate::job::{Job, JobError};
use crate::metrics::{Metrics, Palette, SeamSpace, detail, seam_error_image, seam_error_points};
use crate::native::optimize_native;
use crate::optimize::{CameraTerms, Problem, SobelTaps, Weights, camera_terms_with_renders, optimize};
use crate::params::{BlendSpec, Cloning, FeatureReference, GradientPath, Method, TuneWeighting};
use crate::poisson::{PoissonProblem, PoissonSettings, apply_offsets, solve};
use crate::report::{LayerCount, Report, Timings, TransferReport, TransferStatus, ValidationReport};
use crate::transfer::{TransferInputs, seam_transfer};
use crate::validation::{CurvePoint, Validation};
use crate::views::{SideView, render_side, render_views};
use splatstitch_core::GaussianCloud;
use splatstitch_core::formats::{self, SaveOptions, write_atomically};
use splatstitch_render::gpu::GpuContext;
use splatstitch_render::{Camera, Image};
use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// A target Gaussian is far from the seam (for the validation score) beyond this many β·L from
/// every source Gaussian.
const FAR_FROM_SEAM: f32 = 3.0;

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
    Transfer,
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
            Stage::Transfer => "matching colours across the seam",
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

/// What the metrics need that does not change with the target's colours.
pub struct Evaluation<'a> {
    pub cameras: Vec<Camera>,
    pub source_renders: Vec<Image>,
    pub target_before: Vec<Image>,
    pub palette: Palette,
    pub boundary: Boundary,
    pub sources: Cow<'a, GaussianCloud>,
}

/// The job's working cameras (docs/ARCHITECTURE.md §5.1), around the composite without its floaters.
pub fn working_cameras(composite: &Composite, blend: &BlendSpec) -> Vec<Camera> {
    let (lo, hi) = composite.robust_bounds();
    fibonacci_cameras_turned(lo, hi, blend.views, blend.resolution, 0.0)
}

/// The validation cameras: as many as the job asks, looking from between the working ones.
pub fn validation_cameras(composite: &Composite, blend: &BlendSpec) -> Vec<Camera> {
    let (lo, hi) = composite.robust_bounds();
    fibonacci_cameras_turned(lo, hi, blend.validation_views, blend.resolution, VALIDATION_TURN)
}

impl<'a> Evaluation<'a> {
    /// `sources` is the composite's sources merged ([`Composite::sources`]).
    pub fn new(
        composite: &Composite,
        sources: Cow<'a, GaussianCloud>,
        blend: &BlendSpec,
        boundary: Boundary,
    ) -> Evaluation<'a> {
        let cameras = working_cameras(composite, blend);
        let source = render_side(&sources, &cameras, None);
        let target = render_side(&composite.target().cloud, &cameras, None);
        Self::from_views(cameras, &source, &target, sources, boundary)
    }

    /// From renders of each side made already.
    pub fn from_views(
        cameras: Vec<Camera>,
        source: &[SideView],
        target: &[SideView],
        sources: Cow<'a, GaussianCloud>,
        boundary: Boundary,
    ) -> Evaluation<'a> {
        let source_renders: Vec<Image> = source.iter().map(|v| v.image.clone()).collect();
        let target_before = target.iter().map(|v| v.image.clone()).collect();
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

/// The optimizer's loss weights and switches from `[blend]`.
fn weights(blend: &BlendSpec) -> Weights {
    Weights {
        lambda_feature: blend.lambda_feature,
        lambda_color: blend.lambda_color,
        lambda_grad: blend.lambda_grad,
        lambda_tune: blend.lambda_tune,
        tune_from: blend.tune_from,
        iterations: blend.iterations,
        learning_rate: blend.learning_rate,
        clone_offsets: blend.cloning == Cloning::Changes,
    }
}

/// Runs a job end to end and returns its report (also written when the job names a path).
pub fn run(job: &Job, opts: &RunOptions) -> Result<Report, StitchError> {
    let start = Instant::now();
    let mut t = Timings::default();
    let mut notes: Vec<String> = Vec::new();
    let cancelled = || opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed));
    let check = || if cancelled() { Err(StitchError::Cancelled) } else { Ok(()) };
    let progress = |s: Stage, f: f32| {
        if let Some(p) = opts.progress {
            p(s, f)
        }
    };
    let blend = &job.spec.blend;
    let optimizes = blend.method == Method::Stitch && blend.iterations > 0;
    let device = if optimizes {
        let d = backend::select(opts.backend, opts.gpu.as_ref())?;
        tracing::info!(
            "optimizer: {}{}",
            d.name,
            if d.reason.is_empty() { String::new() } else { format!(" ({})", d.reason) }
        );
        Some(d)
    } else {
        None
    };

    progress(Stage::Load, 0.0);
    let lap = Instant::now();
    let composite = Composite::load(job)?;
    t.load = lap.elapsed().as_secs_f64();
    check()?;

    progress(Stage::Boundary, 0.0);
    let lap = Instant::now();
    let ti = composite.target_index();
    let target = &composite.layers[ti].cloud;
    let sources = composite.sources();
    let size = composite.size(blend.size);
    let params = BoundaryParams { k: blend.k, beta: blend.beta, tau: blend.tau };
    let (boundary, tau_adaptation) = find_boundary_adaptive(target, &sources, params, size, blend.min_boundary);
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
                    blend.beta * size
                ),
            )
            .into());
    }
    if let Some(a) = &tau_adaptation {
        notes.push(format!(
            "tau = {} left {} seam Gaussians (fewer than min_boundary = {}): lowered to {:.3}, the {:.0}th \
             percentile of the opacities of the {} target Gaussians within beta·L of the source: {} seam Gaussians",
            a.tau_asked,
            a.found,
            blend.min_boundary,
            a.tau_used,
            100.0 * a.quantile,
            a.overlap,
            boundary.len()
        ));
    } else if boundary.len() < 256 {
        notes.push(format!(
            "only {} seam Gaussians at tau = {}: the blend has little to go on",
            boundary.len(),
            blend.tau
        ));
    }
    t.boundary = lap.elapsed().as_secs_f64();

    progress(Stage::Precompute, 0.0);
    let lap = Instant::now();
    let cameras = working_cameras(&composite, blend);
    // Which Gaussians of each side lie in the overlap (within β·L of the other layer), and which
    // target Gaussians lie far from the seam.
    let seam_radius = blend.beta * size;
    let target_distance = nearest_source_distance(target, &sources);
    let target_in_overlap: Vec<bool> = target_distance.iter().map(|d| *d < seam_radius).collect();
    let source_in_overlap: Vec<bool> =
        nearest_source_distance(&sources, target).iter().map(|d| *d < seam_radius).collect();
    let (terms, target_views) = if optimizes {
        let (terms, taps, views) = camera_terms_with_renders(target, &cameras, Some(&target_in_overlap));
        (Some((terms, taps)), views)
    } else {
        (None, render_side(target, &cameras, Some(&target_in_overlap)))
    };
    let source_views = render_side(&sources, &cameras, Some(&source_in_overlap));
    progress(Stage::Precompute, 0.7);
    let mut validation = (blend.method != Method::None && blend.validation_views > 0).then(|| {
        let cams = validation_cameras(&composite, blend);
        let views = render_side(&sources, &cams, Some(&source_in_overlap));
        let far: Vec<bool> = target_distance.iter().map(|d| *d > FAR_FROM_SEAM * seam_radius).collect();
        Validation::new(target, &target_in_overlap, cams, views, &far, blend.far_weight, size)
    });
    t.precompute = lap.elapsed().as_secs_f64();
    check()?;

    progress(Stage::Transfer, 0.0);
    let lap = Instant::now();
    let mut initial = target.clone();
    let transfer = if blend.method != Method::None && blend.seam_transfer {
        let inputs = TransferInputs {
            target,
            sources: &sources,
            cameras: &cameras,
            source_views: &source_views,
            target_views: &target_views,
            size,
            validation: validation.as_ref(),
        };
        let (report, transfer) = seam_transfer(&inputs, blend);
        if let Some(t) = transfer {
            t.apply_to_cloud(&mut initial);
        }
        notes.push(report.reason.clone());
        report
    } else {
        TransferReport::off()
    };
    if let Some(v) = validation.as_mut() {
        v.set_reference(&initial.sh);
    }
    t.transfer = lap.elapsed().as_secs_f64();
    check()?;

    progress(Stage::Optimize, 0.0);
    let lap = Instant::now();
    let eval = Evaluation::from_views(cameras, &source_views, &target_views, sources, boundary);
    let mut blended = initial.clone();
    let mut vreport =
        ValidationReport { views: validation.as_ref().map_or(0, |v| v.cameras.len()), ..Default::default() };
    let iterations = blend.iterations as f32;
    if blend.method == Method::Poisson && blend.poisson_iterations > 0 {
        let (lo, hi) = composite.robust_bounds();
        let problem = PoissonProblem::new(&initial, &eval.sources, lo, hi, blend.poisson_grid);
        tracing::info!(
            "poisson: {} samples (δ = {:.4}), {} neighbour pairs, {} pinned samples",
            problem.samples(),
            problem.spacing,
            problem.pairs.len(),
            problem.pins.len()
        );
        let settings = PoissonSettings {
            weight: blend.poisson_weight,
            iterations: blend.poisson_iterations,
            learning_rate: blend.poisson_learning_rate,
            batch: blend.poisson_batch,
            seed: blend.seed,
        };
        let offsets = solve(&problem, &settings, |it| {
            progress(Stage::Optimize, (it + 1) as f32 / blend.poisson_iterations as f32);
            !cancelled()
        });
        check()?;
        apply_offsets(&mut blended, &offsets);
        if let Some(v) = &validation {
            vreport.curve.push(CurvePoint { iteration: 0, score: v.score(&initial.sh) });
            vreport.curve.push(CurvePoint { iteration: blend.poisson_iterations, score: v.score(&blended.sh) });
        }
    }
    if let Some((mut terms, taps)) = terms {
        let device = device.as_ref().expect("a device for every optimizing method");
        if transfer.status == TransferStatus::Applied {
            let (k, px) = (target.coeffs_per_channel(), (blend.resolution * blend.resolution) as usize);
            for c in terms.iter_mut() {
                c.set_gradient_reference(&initial.sh, k, &taps, px);
            }
        }
        let problem = stitch_problem(&initial, &eval, size, blend, terms, taps);
        let w = weights(blend);
        let mut best: Option<(f32, usize, Vec<f32>)> = None;
        // The score a checkpoint must beat to replace the start, and the best seen at all
        // (which keeps the run going while it improves).
        let (mut must_beat, mut best_seen) = (f32::INFINITY, f32::INFINITY);
        if let Some(v) = &validation {
            let s = v.score(&initial.sh);
            vreport.curve.push(CurvePoint { iteration: 0, score: s });
            best = Some((s.total, 0, initial.sh.clone()));
            (must_beat, best_seen) = (s.total * (1.0 - blend.min_improvement), s.total);
        }
        let mut last_preview = Instant::now();
        let every = blend.checkpoint_every.max(1);
        // Checkpoints in a row that did not beat the best.
        let mut stale = 0usize;
        let step = |it: usize, _, current: &dyn Fn() -> Vec<f32>| {
            progress(Stage::Optimize, (it + 1) as f32 / iterations);
            let done = it + 1;
            if let Some(v) = &validation
                && (done.is_multiple_of(every) || done == blend.iterations)
            {
                let sh = current();
                let s = v.score(&sh);
                vreport.curve.push(CurvePoint { iteration: done, score: s });
                if best.as_ref().is_some_and(|b| s.total < b.0 && s.total <= must_beat) {
                    best = Some((s.total, done, sh));
                }
                if s.total < best_seen {
                    best_seen = s.total;
                    stale = 0;
                } else {
                    stale += 1;
                }
                if blend.patience > 0 && stale >= blend.patience {
                    vreport.stopped_early = Some(done);
                    return false;
                }
            }
            if let Some(preview) = opts.preview
                && last_preview.elapsed().as_secs_f32() >= 0.5
            {
                preview(&current());
                last_preview = Instant::now();
            }
            !cancelled()
        };
        let last = match &device.engine {
            Engine::Native => optimize_native(&problem, &w, step),
            Engine::Burn(d) if use_autodiff(device, blend.gradient) => optimize(&problem, &w, d, true, step),
            Engine::Burn(d) => optimize_explicit(&problem, &w, d, !device.is_gpu(), step),
        };
        check()?;
        blended.sh = match best {
            Some((_, iteration, sh)) if blend.keep_best => {
                vreport.kept_iteration = Some(iteration);
                if iteration < blend.iterations {
                    let stopped = vreport
                        .stopped_early
                        .map(|s| format!(" (stopped at {s}: {} checkpoints without a better one)", blend.patience))
                        .unwrap_or_default();
                    let margin = if blend.min_improvement > 0.0 && iteration > 0 {
                        format!(", better than the start by {:.0} % or more", 100.0 * blend.min_improvement)
                    } else if blend.min_improvement > 0.0 {
                        format!(" (a checkpoint must beat it by {:.0} %)", 100.0 * blend.min_improvement)
                    } else {
                        String::new()
                    };
                    notes.push(format!(
                        "kept iteration {iteration} of {}: the best on the {} validation views{margin}{stopped}",
                        blend.iterations, vreport.views
                    ));
                }
                sh
            }
            _ => {
                vreport.kept_iteration = Some(vreport.stopped_early.unwrap_or(blend.iterations));
                last
            }
        };
    }
    // Never worse than the input: the validation views' seam error decides. (The poisson
    // baseline stays as published: its curve is reported, nothing is chosen.)
    if let Some(v) = &validation
        && blend.method != Method::None
        && v.sees_overlap()
    {
        let input = v.score(&target.sh);
        vreport.input = Some(input);
        let result = v.score(&blended.sh);
        // Where exact copies overruled the views on the transfer, the transferred start (the
        // curve's first point) is what the result must not fall behind.
        let overruled = transfer.validation_overruled;
        let (start, bar) = match vreport.curve.first() {
            Some(first) if overruled => (&initial, first.score),
            _ => (target, input),
        };
        if blended.sh != start.sh
            && blend.method == Method::Stitch
            && blend.keep_best
            && result.seam_error >= bar.seam_error
        {
            blended = start.clone();
            vreport.kept_input = !overruled;
            vreport.kept_iteration = overruled.then_some(0);
            let what =
                if overruled { "the seam transfer's colours: no iterate" } else { "the input's colours: no result" };
            notes.push(format!(
                "kept {what} beat them on the validation views (seam error {:.4}, best {:.4})",
                bar.seam_error, result.seam_error
            ));
        }
    }
    t.optimize = lap.elapsed().as_secs_f64();
    check()?;

    progress(Stage::Metrics, 0.0);
    let lap = Instant::now();
    let before = eval.metrics(target, &eval.target_before);
    let after_renders = render_views(&[&blended], &eval.cameras);
    let after = eval.metrics(&blended, &after_renders);
    t.metrics = lap.elapsed().as_secs_f64();
    check()?;

    progress(Stage::Export, 0.0);
    let lap = Instant::now();
    let boundary_count = eval.boundary.len();
    let shown: Vec<Camera> = eval.cameras.iter().step_by((eval.cameras.len() / 4).max(1)).take(4).copied().collect();
    // With several source layers the evaluation holds their merged copy; with millions of
    // Gaussians the export needs that memory for the one concatenated scene it writes.
    drop(eval);
    let blended_out = with_sh_degree(&blended, target.sh_degree);
    let after_scene: Vec<&GaussianCloud> =
        composite.layers.iter().enumerate().map(|(i, l)| if i == ti { &blended_out } else { &l.cloud }).collect();
    let out = &job.spec.output;
    let ply = output_path(job, &opts.out_dir, &out.ply);
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    if let Some(dir) = &out.renders {
        let dir = output_path(job, &opts.out_dir, dir);
        let before_scene: Vec<&GaussianCloud> = composite.layers.iter().map(|l| &l.cloud).collect();
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
        backend: device
            .as_ref()
            .map_or(if blend.method == Method::Poisson { "native CPU" } else { "none" }.into(), |d| d.name.clone()),
        backend_reason: device.as_ref().map_or(String::new(), |d| d.reason.clone()),
        parameters: blend.clone(),
        layers: composite
            .layers
            .iter()
            .map(|l| LayerCount { name: l.name.clone(), role: l.role, loaded: l.loaded, kept: l.cloud.len() })
            .collect(),
        size,
        boundary: boundary_count,
        tau_adaptation,
        seam_transfer: transfer,
        validation: vreport,
        metrics_before: before,
        metrics_after: after,
        notes,
        timings_s: t,
        peak_memory_mb: peak_rss_mb(),
        outputs: std::iter::once(&ply).chain(files.iter().map(|f| &f.0)).map(|p| p.display().to_string()).collect(),
    };
    check()?;
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
    formats::save(&ply, &concatenate(&after_scene), &SaveOptions::default())
        .map_err(|e| StitchError::Output(e.to_string()))?;
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

/// Which gradient a burn device uses (`[blend] gradient`).
fn use_autodiff(device: &backend::OptimizerDevice, path: GradientPath) -> bool {
    match path {
        GradientPath::Autodiff => true,
        GradientPath::Explicit => false,
        // burn-wgpu's scatter-add (autodiff's backward of every gather) runs serially there.
        GradientPath::Auto => !device.is_gpu(),
    }
}

/// The stitch optimizer's fixed inputs, starting from `initial`'s colours.
fn stitch_problem(
    initial: &GaussianCloud,
    eval: &Evaluation,
    size: f32,
    blend: &BlendSpec,
    cameras: Vec<CameraTerms>,
    taps: SobelTaps,
) -> Problem {
    let jitter = Jitter { gamma: blend.gamma, amplitude: blend.jitter_amplitude, units: blend.jitter_units };
    let (interior, driving, driving_k) = driving_points(initial, &eval.boundary, size, blend.k, jitter);
    let boundary = &eval.boundary;
    Problem {
        sh: initial.sh.clone(),
        n: initial.len(),
        k: initial.coeffs_per_channel(),
        boundary: boundary.members.iter().map(|&m| m as i64).collect(),
        reference: match blend.feature_reference {
            FeatureReference::Neighbours => boundary.reference_sh.clone(),
            FeatureReference::Field => boundary.field_reference(initial, &eval.sources),
        },
        interior,
        driving,
        driving_k,
        cameras,
        taps,
        pixels: (blend.resolution * blend.resolution) as usize,
        palette: eval.palette.colors.clone(),
        palette_weights: match blend.tune_weighting {
            TuneWeighting::Proportion => eval.palette.proportions.clone(),
            TuneWeighting::Uniform => vec![1.0; eval.palette.colors.len()],
        },
    }
}
