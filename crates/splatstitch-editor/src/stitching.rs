//! Running a stitch from the editor: the document becomes a job (the same one "Save job"
//! writes), the engine runs it on a worker thread with progress and cancel, and the target's new
//! colours come back in the layer's own frame, ready to apply as one undo step.

use crate::document::Document;
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_core::{GaussianCloud, LayerFlags, Role};
use splatstitch_render::gpu::GpuContext;
use splatstitch_stitch::Report;
use splatstitch_stitch::run::{RunOptions, Stage};
use splatstitch_stitch::{BackendChoice, Job, run};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a finished run hands back.
pub struct StitchResult {
    pub target: usize,
    /// The target layer's cloud with the blended SH (geometry untouched).
    pub blended: GaussianCloud,
    pub report: Report,
}

/// A run in progress.
pub struct StitchRun {
    pub target: usize,
    pub progress: Arc<Mutex<(Stage, f32)>>,
    /// The latest preview of the target (layer frame), taken by the UI.
    pub preview: Arc<Mutex<Option<GaussianCloud>>>,
    pub cancel: Arc<AtomicBool>,
    pub started: Instant,
    rx: Receiver<Result<StitchResult, String>>,
}

impl StitchRun {
    /// Checks the document and starts the run on a worker thread.
    pub fn start(doc: &Document, gpu: Option<GpuContext>) -> Result<StitchRun, String> {
        let targets: Vec<usize> = (0..doc.layers.len()).filter(|&i| doc.layers[i].role == Role::Target).collect();
        let [target] = targets[..] else {
            return Err(format!("exactly one layer must be the target ({} now)", targets.len()));
        };
        if !doc.layers.iter().any(|l| l.role == Role::Source) {
            return Err("no layer is a source".into());
        }
        let dir = std::env::temp_dir().join(format!("splatstitch-editor-{}-{}", std::process::id(), rand_suffix()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let spec = doc.job_file_writing(None, &dir).map_err(|e| e.to_string())?;
        let text = toml::to_string(&spec).map_err(|e| e.to_string())?;
        let job = Job::parse(&dir.join("editor.toml"), &text).map_err(|e| e.to_string())?;
        let counts: Vec<usize> = doc.layers.iter().map(|l| l.len() - l.count(LayerFlags::DELETED)).collect();
        let layer = doc.layers[target].clone();
        let progress = Arc::new(Mutex::new((Stage::Load, 0.0)));
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let (p, c) = (progress.clone(), cancel.clone());
        let preview = Arc::new(Mutex::new(None));
        let preview_out = preview.clone();
        let preview_layer = layer.clone();
        std::thread::spawn(move || {
            lower_priority();
            let report_progress = move |s: Stage, f: f32| {
                if let Ok(mut g) = p.lock() {
                    *g = (s, f);
                }
            };
            let send_preview = move |sh: &[f32]| {
                if let Some(cloud) = to_layer(&preview_layer, sh)
                    && let Ok(mut g) = preview_out.lock()
                {
                    *g = Some(cloud);
                }
            };
            let opts = RunOptions {
                out_dir: Some(dir.clone()),
                cancel: Some(c.as_ref()),
                progress: Some(&report_progress),
                backend: BackendChoice::Auto,
                gpu,
                preview: Some(&send_preview),
            };
            let pool = background_pool();
            let stitch = || run(&job, &opts);
            let outcome = match &pool {
                Some(pool) => pool.install(stitch),
                None => stitch(),
            };
            let result = outcome.map_err(|e| e.to_string()).and_then(|report| {
                let out = dir.join(job.spec.output.ply.file_name().unwrap_or_default());
                let all = formats::load(&out, &LoadOptions::default()).map_err(|e| e.to_string())?.cloud;
                let start: usize = counts[..target].iter().sum();
                let mask: Vec<bool> = (0..all.len()).map(|i| i >= start && i < start + counts[target]).collect();
                let part = all.select(&mask);
                let blended = to_layer(&layer, &part.sh).ok_or("the stitched target does not match the layer")?;
                Ok(StitchResult { target, blended, report })
            });
            let _ = std::fs::remove_dir_all(&dir);
            let _ = tx.send(result);
        });
        Ok(StitchRun { target, progress, preview, cancel, started: Instant::now(), rx })
    }

    /// The result once the worker is done.
    pub fn poll(&self) -> Option<Result<StitchResult, String>> {
        match self.rx.try_recv() {
            Ok(r) => Some(r),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err("the stitch worker stopped unexpectedly".into())),
        }
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// The worker's own rayon pool, its threads at a lower scheduling priority. The viewport's CPU
/// renderer uses rayon's global pool, whose tasks would otherwise queue behind the optimizer's;
/// this way the UI gets the cores when it draws and the stitch has them the rest of the time.
fn background_pool() -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("stitch-{i}"))
        .start_handler(|_| lower_priority())
        .build()
        .map_err(|e| tracing::warn!("no separate thread pool for the stitch ({e}); it shares the UI's"))
        .ok()
}

/// Nice 10 for the calling thread (Linux nice values are per thread); elsewhere a no-op.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id; no memory is passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// The layer with new SH taken from the job's composite: `sh` holds the kept (not deleted)
/// Gaussians in the composite's frame; they are rotated back into the layer's frame (the job
/// baked its transform), deleted Gaussians keep their colours.
fn to_layer(layer: &crate::document::DocLayer, sh: &[f32]) -> Option<GaussianCloud> {
    let mut part = layer.kept();
    if part.sh.len() != sh.len() {
        return None;
    }
    part.sh.copy_from_slice(sh);
    layer.transform.similarity().inverse().bake(&mut part);
    let mut out = (*layer.cloud).clone();
    let k = out.coeffs_per_channel() * 3;
    let kept = (0..out.len()).filter(|&g| !layer.flags[g].has(LayerFlags::DELETED));
    for (row, g) in kept.enumerate() {
        out.sh[g * k..(g + 1) * k].copy_from_slice(&part.sh[row * k..(row + 1) * k]);
    }
    Some(out)
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64));
    h.finish()
}
