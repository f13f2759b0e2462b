//! What a stitch reports: counts, what it decided and why (the seam transfer, τ's adaptation,
//! the validation curve and the iterate kept), metrics, timings. Written as JSON next to the
//! outputs; the CLI and the editor show the same facts.

use crate::boundary::TauAdaptation;
use crate::metrics::Metrics;
use crate::params::{BlendSpec, Method};
use crate::seam_fit::SeamFit;
use crate::seam_fit::shading::Shading;
use crate::validation::{CurvePoint, Score};
use splatstitch_core::Role;

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
    pub transfer: f64,
    pub optimize: f64,
    pub metrics: f64,
    pub export: f64,
    pub total: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferStatus {
    /// `seam_transfer = false`, or the method does not blend.
    Off,
    /// Nothing to fit on (no overlap), said why.
    Skipped,
    /// Fitted but not applied (no confidence, or it did not lower the validation seam error).
    Rejected,
    Applied,
}

/// The seam appearance fit's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TransferReport {
    pub status: TransferStatus,
    /// One line on what happened.
    pub reason: String,
    pub fit: Option<SeamFit>,
    /// The shading correction fitted after the map, and whether it was applied.
    pub shading: Option<Shading>,
    pub shading_applied: bool,
    /// Seam error on the validation views without and with the transfer.
    pub validation_before: Option<f32>,
    pub validation_after: Option<f32>,
    /// Applied although the validation views' seam error rose: exact copies held out measured
    /// the change (shading across the seam), which the views, seeing only the seam, cannot judge.
    /// The result is then held against the transferred start, not the input.
    pub validation_overruled: bool,
}

impl TransferReport {
    pub fn off() -> Self {
        TransferReport {
            status: TransferStatus::Off,
            reason: "off".into(),
            fit: None,
            shading: None,
            shading_applied: false,
            validation_before: None,
            validation_after: None,
            validation_overruled: false,
        }
    }
}

/// The validation views' verdict on the optimization.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ValidationReport {
    pub views: usize,
    /// The unblended input's score.
    pub input: Option<Score>,
    /// Each checkpoint's score (iteration 0 is the optimizer's start, after any transfer).
    pub curve: Vec<CurvePoint>,
    /// The iteration whose colours were kept (`None`: the input's, or no optimization).
    pub kept_iteration: Option<usize>,
    /// Nothing beat the input on the validation views: its colours are the result.
    pub kept_input: bool,
    /// The iteration at which the optimization stopped because `patience` checkpoints in a row
    /// did not beat the best one.
    pub stopped_early: Option<usize>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    pub job: String,
    pub method: Method,
    pub backend: String,
    /// Why `auto` chose that backend (empty when chosen by hand or not needed).
    pub backend_reason: String,
    /// Every `[blend]` value the run used (preset, then the job's keys).
    pub parameters: BlendSpec,
    pub layers: Vec<LayerCount>,
    /// L.
    pub size: f32,
    /// |∂B|.
    pub boundary: usize,
    /// How τ was lowered because it left too few seam Gaussians.
    pub tau_adaptation: Option<TauAdaptation>,
    pub seam_transfer: TransferReport,
    pub validation: ValidationReport,
    pub metrics_before: Metrics,
    pub metrics_after: Metrics,
    /// What the run decided, one line each, in order (the CLI prints them, the editor shows them).
    pub notes: Vec<String>,
    pub timings_s: Timings,
    pub peak_memory_mb: f64,
    pub outputs: Vec<String>,
}
