//! The stitch as the editor runs it: started on a worker (`crate::stitching`), its live preview
//! shown on the target outside the history, its result applied as one undo step, and the
//! before/after comparison.

use super::EditorState;
use crate::history::Edit;
use splatstitch_core::GaussianCloud;
use std::sync::Arc;
use std::time::Duration;

/// A finished stitch, for the before/after toggle and its metrics.
pub struct LastStitch {
    pub layer: usize,
    pub before: Arc<GaussianCloud>,
    pub after: Arc<GaussianCloud>,
    pub report: splatstitch_stitch::Report,
    pub showing_after: bool,
}

impl EditorState {
    /// Starts the stitch of the current document on a worker thread.
    pub fn start_stitch(&mut self) {
        if self.stitch_run.is_some() {
            return;
        }
        self.commit_grade();
        match crate::stitching::StitchRun::start(&self.doc, self.gpu.clone()) {
            Ok(r) => {
                self.status = "stitching…".into();
                self.stitch_run = Some(r);
            }
            Err(e) => self.error = Some(format!("cannot stitch: {e}")),
        }
    }

    pub fn cancel_stitch(&mut self) {
        if let Some(r) = &self.stitch_run {
            r.cancel();
        }
    }

    /// The running stitch's stage, its progress (0..1) and seconds so far.
    pub fn stitch_progress(&self) -> Option<(splatstitch_stitch::Stage, f32, f32)> {
        let run = self.stitch_run.as_ref()?;
        let (stage, f) = run.progress.lock().map(|g| *g).unwrap_or((splatstitch_stitch::Stage::Load, 0.0));
        Some((stage, f, run.started.elapsed().as_secs_f32()))
    }

    /// Shows the last stitch's input or its result on the target (colours only, no undo step).
    pub fn show_stitch_result(&mut self, after: bool) {
        let Some(last) = &mut self.last_stitch else { return };
        if after == last.showing_after || last.layer >= self.doc.layers.len() {
            return;
        }
        last.showing_after = after;
        self.doc.layers[last.layer].cloud = if after { last.after.clone() } else { last.before.clone() };
        self.colours_changed();
    }

    pub(super) fn poll_stitch(&mut self) -> Option<Duration> {
        let run = self.stitch_run.as_ref()?;
        let Some(result) = run.poll() else {
            // Live preview: shown on the target, outside the history until the run ends.
            let preview = run.preview.lock().ok().and_then(|mut g| g.take());
            let target = run.target;
            if let Some(cloud) = preview
                && let Some(l) = self.doc.layers.get_mut(target)
                && l.len() == cloud.len()
            {
                if self.stitch_before.is_none() {
                    self.stitch_before = Some((target, l.cloud.clone()));
                }
                l.cloud = Arc::new(cloud);
                self.colours_changed();
            }
            return Some(Duration::from_millis(100));
        };
        let secs = run.started.elapsed().as_secs_f32();
        self.stitch_run = None;
        if let Some((t, before)) = self.stitch_before.take()
            && let Some(l) = self.doc.layers.get_mut(t)
        {
            l.cloud = before;
            self.colours_changed();
        }
        match result {
            Err(e) if e.contains("cancelled") => self.status = "stitch cancelled; nothing changed".into(),
            Err(e) => self.error = Some(format!("stitch failed: {e}")),
            Ok(r) => {
                let before = self.doc.layers[r.target].cloud.clone();
                let after = Arc::new(r.blended);
                let label = format!("stitch ({:?})", r.report.method).to_lowercase();
                self.apply(Edit::Cloud { layer: r.target, label, before: before.clone(), after: after.clone() });
                self.status = format!("stitched in {secs:.1} s on {}", r.report.backend);
                if r.report.validation.kept_input {
                    self.status += "; kept the input's colours (nothing beat them on the validation views)";
                }
                self.last_stitch =
                    Some(LastStitch { layer: r.target, before, after, report: r.report, showing_after: true });
            }
        }
        None
    }
}
