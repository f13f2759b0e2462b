//! Opening jobs and captures (in the background), saving jobs and exporting the composite.

use super::{EditorState, Pending};
use crate::document::{DocLayer, Document, capture_name, default_role, load_capture_counted, unique_name};
use crate::history::Edit;
use splatstitch_core::GaussianCloud;
use splatstitch_core::formats::LoadProgress;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::{Duration, Instant};

pub(super) enum Loaded {
    Captures(Vec<(PathBuf, Option<u32>, GaussianCloud)>),
    // Boxed: a document (with its blend settings) is far larger than a list of captures.
    Document { doc: Box<Document>, recovered: bool },
}

pub(super) struct Loading {
    pub(super) what: String,
    pub(super) started: Instant,
    rx: Receiver<Result<Loaded, String>>,
    /// One per file being read (empty for a job: its layers are read as it opens).
    progress: Vec<Arc<LoadProgress>>,
}

impl EditorState {
    fn start_loading(
        &mut self,
        what: String,
        progress: Vec<Arc<LoadProgress>>,
        f: impl FnOnce() -> Result<Loaded, String> + Send + 'static,
    ) {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        self.status = format!("loading {what}…");
        self.loading = Some(Loading { what, started: Instant::now(), rx, progress });
    }

    /// What is loading and for how long, for the status bar.
    pub fn loading(&self) -> Option<(&str, Duration)> {
        self.loading.as_ref().map(|l| (l.what.as_str(), l.started.elapsed()))
    }

    /// Bytes read so far of the files loading, and their size (`None` while a job opens).
    pub fn loading_bytes(&self) -> Option<(u64, u64)> {
        let l = self.loading.as_ref().filter(|l| !l.progress.is_empty())?;
        Some(l.progress.iter().map(|p| p.bytes()).fold((0, 0), |(r, t), (a, b)| (r + a, t + b)))
    }

    /// Opens a job in the background; asks first when there are unsaved changes.
    pub fn open_job(&mut self, path: PathBuf) {
        if self.has_unsaved_changes() && !self.doc.layers.is_empty() {
            self.pending = Some(Pending::Open(path));
            return;
        }
        self.open_job_now(path, false);
    }

    /// Opens a job without asking; `recovered` marks an autosave (unsaved, no path).
    pub fn open_job_now(&mut self, path: PathBuf, recovered: bool) {
        let what = path.display().to_string();
        self.start_loading(what, Vec::new(), move || {
            let mut doc = Document::open_job(&path).map_err(|e| e.to_string())?;
            if recovered {
                doc.path = None;
            }
            Ok(Loaded::Document { doc: Box::new(doc), recovered })
        });
    }

    /// Adds captures as new layers (job files open instead), in the background.
    pub fn add_files(&mut self, paths: Vec<PathBuf>) {
        if let Some(job) = paths.iter().find(|p| p.extension().is_some_and(|e| e == "toml")) {
            self.open_job(job.clone());
            return;
        }
        if paths.is_empty() {
            return;
        }
        if let Some(choice) = crate::lod_choice::LodChoice::for_paths(&paths) {
            self.lod_choice = Some(choice);
            return;
        }
        self.add_files_at_levels(paths.into_iter().map(|p| (p, None)).collect());
    }

    /// Adds captures, each read at its level of detail (streamed SOG), in the background.
    pub fn add_files_at_levels(&mut self, requests: Vec<crate::lod_choice::Request>) {
        let progress: Vec<Arc<LoadProgress>> = requests
            .iter()
            .map(|(p, _)| Arc::new(LoadProgress::expecting(std::fs::metadata(p).map_or(0, |m| m.len()))))
            .collect();
        let bytes: u64 = progress.iter().map(|p| p.bytes().1).sum();
        let what = match requests.as_slice() {
            [(only, _)] => only.display().to_string(),
            _ => format!("{} files", requests.len()),
        };
        let what = format!("{what}, {:.1} MB", bytes as f64 / 1e6);
        let counters = progress.clone();
        self.start_loading(what, progress, move || {
            requests
                .into_iter()
                .zip(counters)
                .map(|((p, lod), n)| {
                    load_capture_counted(&p, None, lod, Some(n)).map(|c| (p, lod, c)).map_err(|e| e.to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Loaded::Captures)
        });
    }

    pub(super) fn poll_loading(&mut self) -> Option<Duration> {
        let l = self.loading.as_ref()?;
        let msg = match l.rx.try_recv() {
            Ok(m) => m,
            Err(TryRecvError::Empty) => return Some(Duration::from_millis(50)),
            Err(TryRecvError::Disconnected) => Err("the loader stopped unexpectedly".into()),
        };
        let l = self.loading.take().expect("checked above");
        match msg {
            Err(e) => self.error = Some(e),
            Ok(Loaded::Captures(captures)) => self.add_loaded(captures, &l),
            Ok(Loaded::Document { doc, recovered }) => {
                self.commit_grade();
                self.doc = *doc;
                self.history.clear();
                self.saved_version = if recovered { u64::MAX } else { self.history.version };
                self.selected = (!self.doc.layers.is_empty()).then_some(0);
                self.frame_all();
                self.status = format!(
                    "{} {} in {:.1} s",
                    if recovered { "recovered" } else { "opened" },
                    l.what,
                    l.started.elapsed().as_secs_f32()
                );
                self.doc_changed();
            }
        }
        None
    }

    fn add_loaded(&mut self, captures: Vec<(PathBuf, Option<u32>, GaussianCloud)>, l: &Loading) {
        let mut edits = Vec::new();
        let mut doc = self.doc.clone();
        for (path, lod, cloud) in captures {
            let mut layer = DocLayer::new(
                unique_name(&doc.layers, &capture_name(&path)),
                std::path::absolute(&path).unwrap_or(path),
                default_role(&doc.layers),
                cloud,
            );
            layer.lod = lod;
            let edit = Edit::Add { index: doc.layers.len(), layer: Box::new(layer) };
            edit.apply(&mut doc);
            edits.push(edit);
        }
        let label = format!("add {}", l.what);
        let first_new = self.doc.layers.len();
        let edit = if edits.len() == 1 { edits.pop().expect("one") } else { Edit::Batch { label, edits } };
        self.history.push(edit, &mut self.doc);
        self.selected = Some(first_new);
        if first_new == 0 {
            self.frame_all();
        }
        self.status = format!("loaded {} in {:.1} s", l.what, l.started.elapsed().as_secs_f32());
        self.doc_changed();
    }

    /// Saves the job to `path` (or the path it was opened from), reporting problems as the
    /// error. False when it was not saved (no path known: the caller asks for one).
    pub fn save_job(&mut self, path: Option<PathBuf>) -> bool {
        let Some(path) = path.or_else(|| self.doc.path.clone()) else { return false };
        self.commit_grade();
        match self.doc.save_job(&path) {
            Ok(warning) => {
                self.saved_version = self.history.version;
                self.status = warning.unwrap_or_else(|| format!("saved {}", path.display()));
                true
            }
            Err(e) => {
                self.error = Some(e.to_string());
                false
            }
        }
    }

    /// Exports the baked composite (format by extension).
    pub fn export(&mut self, path: &Path) -> bool {
        match self.doc.export(path) {
            Ok(n) => {
                self.status = format!("exported {n} Gaussians to {}", path.display());
                true
            }
            Err(e) => {
                self.error = Some(e.to_string());
                false
            }
        }
    }
}
