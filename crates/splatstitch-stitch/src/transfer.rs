//! The run's seam transfer step: gather correspondences where the layers overlap, fit the
//! colour map ([`crate::seam_fit`]), weigh it by its confidence, and apply it only when the
//! validation views agree that it lowers the seam error.

use crate::params::{AutoOr, BlendSpec, TransferModel, TransferSamples};
use crate::report::{TransferReport, TransferStatus};
use crate::seam_fit::{self, ModelKind, SampleKind, samples};
use crate::validation::Validation;
use crate::views::SideView;
use splatstitch_core::{ColourMap, GaussianCloud};
use splatstitch_render::Camera;

/// Below this strength a map is not worth applying.
const MIN_STRENGTH: f32 = 0.02;

/// What the step sees.
pub struct TransferInputs<'a> {
    pub target: &'a GaussianCloud,
    pub sources: &'a GaussianCloud,
    pub cameras: &'a [Camera],
    pub source_views: &'a [SideView],
    pub target_views: &'a [SideView],
    /// L.
    pub size: f32,
    pub validation: Option<&'a Validation>,
}

/// Fits and judges the transfer; returns the report and the map to apply, if any.
pub fn seam_transfer(i: &TransferInputs, blend: &BlendSpec) -> (TransferReport, Option<ColourMap>) {
    let image = samples::image_pairs(i.cameras, i.source_views, i.target_views, i.size, blend.transfer_block);
    let points = match blend.transfer_samples {
        TransferSamples::Image => Vec::new(),
        _ => samples::point_pairs(i.target, i.sources, i.size),
    };
    let both: Vec<_> = match blend.transfer_samples {
        TransferSamples::Both => image.iter().chain(&points).copied().collect(),
        _ => Vec::new(),
    };
    // The renders' correspondences judge every candidate, unless there are too few of them.
    let evaluate = if image.len() >= seam_fit::MIN_PAIRS || blend.transfer_samples == TransferSamples::Image {
        &image
    } else {
        &points
    };
    let fit_sets: Vec<(SampleKind, &[seam_fit::Pair])> = match blend.transfer_samples {
        TransferSamples::Auto => vec![(SampleKind::Image, &image), (SampleKind::Points, &points)],
        TransferSamples::Image => vec![(SampleKind::Image, &image)],
        TransferSamples::Points => vec![(SampleKind::Points, &points)],
        TransferSamples::Both => vec![(SampleKind::Both, &both)],
    };
    let models: &[ModelKind] = match blend.transfer_model {
        TransferModel::Auto => &ModelKind::ALL,
        TransferModel::GainOffset => &[ModelKind::GainOffset],
        TransferModel::Matrix => &[ModelKind::Matrix],
        TransferModel::Curve => &[ModelKind::Curve],
    };
    let mut report = TransferReport { status: TransferStatus::Skipped, ..TransferReport::off() };
    let colours = crate::field::dc_colors(i.target);
    let mut fit = match seam_fit::fit(evaluate, &fit_sets, models, &colours) {
        Ok(f) => f,
        Err(e) => {
            report.reason = format!("no seam transfer: {e}");
            return (report, None);
        }
    };
    if let AutoOr::Value(s) = blend.transfer_strength {
        fit.strength = s;
    }
    let c = fit.confidence;
    let described = format!(
        "{} fitted on {} {} samples, held-out error {:.4} (none: {:.4}); confidence {:.2} (explains {:.0} %, \
         {:.1} standard errors from no change, informative {:.2}, moves colours by {:.3})",
        fit.model.label(),
        fit.pairs,
        match fit.samples {
            SampleKind::Image => "image",
            SampleKind::Points => "point",
            SampleKind::Both => "image and point",
        },
        fit.fit_error,
        fit.identity_error,
        c.value,
        100.0 * c.explained.max(0.0),
        c.significance,
        c.informative,
        c.moves,
    );
    report.status = TransferStatus::Rejected;
    if fit.strength < MIN_STRENGTH {
        report.reason = format!("seam transfer not applied: {described}");
        report.fit = Some(fit);
        return (report, None);
    }
    let map = fit.applied();
    if let Some(v) = i.validation.filter(|v| v.sees_overlap()) {
        let before = v.score(&i.target.sh).seam_error;
        let mut trial = i.target.clone();
        map.apply_to_cloud(&mut trial);
        let after = v.score(&trial.sh).seam_error;
        report.validation_before = Some(before);
        report.validation_after = Some(after);
        if after >= before {
            report.reason = format!(
                "seam transfer not applied: it does not lower the seam error on the validation views \
                 ({before:.4} → {after:.4}); {described}"
            );
            report.fit = Some(fit);
            return (report, None);
        }
    }
    report.status = TransferStatus::Applied;
    report.reason = format!("seam transfer applied at strength {:.2}: {described}", fit.strength);
    report.fit = Some(fit);
    (report, Some(map))
}
