//! The run's seam transfer step: gather correspondences where the layers overlap, fit the
//! colour map ([`crate::seam_fit`]), weigh it by its confidence, fit the shading it leaves
//! ([`crate::seam_fit::shading`]), and apply them only when the validation views agree that
//! they lower the seam error.

use crate::params::{AutoOr, BlendSpec, TransferModel, TransferSamples};
use crate::report::{TransferReport, TransferStatus};
use crate::seam_fit::shading::{self, Shading};
use crate::seam_fit::{self, ModelKind, Pair, SampleKind, SeamFit, samples};
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

/// What the step changes in the target: the shading undone, then the global map.
#[derive(Debug, Clone)]
pub struct Transfer {
    pub map: Option<ColourMap>,
    pub shading: Option<Shading>,
}

impl Transfer {
    pub fn apply_to_cloud(&self, cloud: &mut GaussianCloud) {
        if let Some(s) = &self.shading {
            s.apply_to_cloud(cloud);
        }
        if let Some(m) = &self.map {
            m.apply_to_cloud(cloud);
        }
    }
}

/// The correspondences of one run, as the job's settings choose them.
struct Samples {
    image: Vec<Pair>,
    points: Vec<Pair>,
    both: Vec<Pair>,
    exact: Vec<Pair>,
}

impl Samples {
    fn gather(i: &TransferInputs, blend: &BlendSpec) -> Samples {
        let image = samples::image_pairs(i.cameras, i.source_views, i.target_views, i.size, blend.transfer_block);
        let points = match blend.transfer_samples {
            TransferSamples::Image | TransferSamples::Exact => Vec::new(),
            _ => samples::point_pairs(i.target, i.sources, i.size),
        };
        let exact = match blend.transfer_samples {
            TransferSamples::Auto | TransferSamples::Exact => samples::exact_pairs(i.target, i.sources, i.size),
            _ => Vec::new(),
        };
        let both: Vec<_> = match blend.transfer_samples {
            TransferSamples::Both => image.iter().chain(&points).copied().collect(),
            _ => Vec::new(),
        };
        Samples { image, points, both, exact }
    }

    /// Every target colour with the shading undone at its place.
    fn unshaded(&self, s: &Shading) -> Samples {
        let undo = |pairs: &[Pair]| -> Vec<Pair> {
            pairs.iter().map(|p| Pair { target: s.apply(p.target, p.position), ..*p }).collect()
        };
        Samples {
            image: undo(&self.image),
            points: undo(&self.points),
            both: undo(&self.both),
            exact: undo(&self.exact),
        }
    }

    /// The renders' correspondences judge every candidate, unless there are too few of them.
    fn evaluate(&self, blend: &BlendSpec) -> (SampleKind, &[Pair]) {
        if self.image.len() >= seam_fit::MIN_PAIRS || blend.transfer_samples == TransferSamples::Image {
            (SampleKind::Image, &self.image)
        } else if self.points.len() >= seam_fit::MIN_PAIRS || self.exact.len() < seam_fit::MIN_EXACT {
            (SampleKind::Points, &self.points)
        } else {
            (SampleKind::Exact, &self.exact)
        }
    }

    fn fit_sets(&self, blend: &BlendSpec) -> Vec<(SampleKind, &[Pair])> {
        match blend.transfer_samples {
            TransferSamples::Auto => vec![
                (SampleKind::Image, &self.image),
                (SampleKind::Points, &self.points),
                (SampleKind::Exact, &self.exact),
            ],
            TransferSamples::Image => vec![(SampleKind::Image, &self.image)],
            TransferSamples::Points => vec![(SampleKind::Points, &self.points)],
            TransferSamples::Both => vec![(SampleKind::Both, &self.both)],
            TransferSamples::Exact => vec![(SampleKind::Exact, &self.exact)],
        }
    }

    fn fit(&self, blend: &BlendSpec, colours: &[[f32; 3]]) -> Result<SeamFit, seam_fit::NoFit> {
        self.fit_on(blend, colours, &self.fit_sets(blend))
    }

    fn fit_on(
        &self,
        blend: &BlendSpec,
        colours: &[[f32; 3]],
        sets: &[(SampleKind, &[Pair])],
    ) -> Result<SeamFit, seam_fit::NoFit> {
        let models: &[ModelKind] = match blend.transfer_model {
            TransferModel::Auto => &ModelKind::ALL,
            TransferModel::GainOffset => &[ModelKind::GainOffset],
            TransferModel::Matrix => &[ModelKind::Matrix],
            TransferModel::Curve => &[ModelKind::Curve],
        };
        let mut fit = seam_fit::fit(self.evaluate(blend), sets, models, colours)?;
        if let AutoOr::Value(s) = blend.transfer_strength {
            fit.strength = s;
        }
        Ok(fit)
    }
}

/// Where the overlap's evidence is weak but the map plausible, asks the validation views: the
/// map at full strength on `base` (the target as the map would find it) against `base` itself,
/// whose seam error there `base_seam` gives. Their drop in seam error may raise the strength
/// ([`seam_fit::views_vouch`]); it never lowers it.
fn consult_views(
    fit: &mut SeamFit,
    v: Option<&Validation>,
    base: &GaussianCloud,
    base_seam: impl FnOnce(&Validation) -> f32,
    blend: &BlendSpec,
) {
    let Some(v) = v.filter(|v| v.sees_overlap()) else { return };
    if !matches!(blend.transfer_strength, AutoOr::Auto) || !seam_fit::views_may_vouch(&fit.confidence) {
        return;
    }
    let before = base_seam(v);
    let mut trial = base.clone();
    fit.map.apply_to_cloud(&mut trial);
    let after = v.score(&trial.sh).seam_error;
    let drop = if before > 0.0 { 1.0 - after / before } else { 0.0 };
    fit.confidence.views_drop = Some(drop);
    let vouched = seam_fit::views_vouch(drop);
    if vouched > fit.confidence.value {
        fit.confidence.value = vouched;
        fit.strength = vouched;
    }
}

fn describe(fit: &SeamFit) -> String {
    let c = fit.confidence;
    format!(
        "{} fitted on {} {} samples, held-out error {:.4} (none: {:.4}); confidence {:.2} (explains {:.0} %, \
         {:.1} standard errors from no change, informative {:.2}, moves colours by {:.3})",
        fit.model.label(),
        fit.pairs,
        match fit.samples {
            SampleKind::Image => "image",
            SampleKind::Points => "point",
            SampleKind::Both => "image and point",
            SampleKind::Exact => "exact (the same Gaussians in both layers)",
        },
        fit.fit_error,
        fit.identity_error,
        c.value,
        100.0 * c.explained.max(0.0),
        c.significance,
        c.informative,
        c.moves,
    ) + &match c.exact_explained {
        Some(e) if e < seam_fit::EXACT_VETO => format!(
            "; the Gaussians both layers hold differ in a way no colour map explains (the best explains {:.0} % \
             of their difference): likelier another material than another capture",
            100.0 * e.max(0.0)
        ),
        Some(e) => format!("; the best map explains {:.1} % of the exact copies' difference", 100.0 * e.max(0.0)),
        None => String::new(),
    } + &match c.views_drop {
        Some(d) => format!("; the map at full strength lowers the validation views' seam error by {:.1} %", 100.0 * d),
        None => String::new(),
    }
}

fn describe_shading(s: &Shading) -> String {
    let (what, across) = match s.fade {
        Some(_) => ("shading along the seam", String::new()),
        None => (
            "shading along and across the seam (measured on the Gaussians both layers hold)",
            format!(", {:.1} across it", s.significance[2]),
        ),
    };
    format!(
        "{what}: gain changes by up to {:.0} % ({:.1} and {:.1} standard errors along the seam's two axes{across}; \
         explains {:.0} % of what the map leaves on held-out blocks)",
        100.0 * s.largest_change,
        s.significance[0],
        s.significance[1],
        100.0 * s.explained.max(0.0)
    )
}

/// One way of changing the target, with the fit behind its map.
struct Way {
    transfer: Transfer,
    fit: SeamFit,
}

/// Fits and judges the transfer; returns the report and what to apply, if anything.
///
/// The global map is fitted first. When shading is asked for, it is fitted on what that map
/// leaves; where it is found, the map is fitted again on the target with the shading undone (a
/// gain drifting along the seam hides the global change from the first fit). Both ways — the map
/// alone, and the shading with the map refitted — are scored on the validation views.
pub fn seam_transfer(i: &TransferInputs, blend: &BlendSpec) -> (TransferReport, Option<Transfer>) {
    let samples = Samples::gather(i, blend);
    let mut report = TransferReport { status: TransferStatus::Skipped, ..TransferReport::off() };
    let colours = crate::field::dc_colors(i.target);
    let mut fit = match samples.fit(blend, &colours) {
        Ok(f) => f,
        Err(e) => {
            report.reason = format!("no seam transfer: {e}");
            return (report, None);
        }
    };
    report.status = TransferStatus::Rejected;
    // The untouched target's seam error on the validation views, scored once for both the
    // views' vouching and the final check.
    let target_seam = std::cell::OnceCell::new();
    let target_seam_on = |v: &Validation| *target_seam.get_or_init(|| v.score(&i.target.sh).seam_error);
    consult_views(&mut fit, i.validation, i.target, target_seam_on, blend);
    let map = (fit.strength >= MIN_STRENGTH).then(|| fit.applied());
    // Exact copies that no map explains rule out a capture difference; only a shading that
    // those same copies confirm may still be found.
    let vetoed = fit.confidence.exact_explained.is_some_and(|e| e < seam_fit::EXACT_VETO);
    // Fitted on each set of correspondences; the one that explains its own held-out blocks best
    // is kept (exact ones, where the same Gaussians lie in both layers, beat the renders').
    let shading = if blend.transfer_shading {
        samples
            .fit_sets(blend)
            .into_iter()
            .filter(|(kind, _)| !vetoed || *kind == SampleKind::Exact)
            .filter_map(|(kind, set)| {
                let exact = kind == SampleKind::Exact;
                // Exact copies are fitted as they are: the shading's own gain and offset take the
                // global part, and a map fitted on noisier samples would only add its errors.
                let mapped: Vec<Pair> = match &map {
                    Some(m) if !exact => set.iter().map(|p| Pair { target: m.apply(p.target), ..*p }).collect(),
                    _ => set.to_vec(),
                };
                shading::fit(&mapped, &i.target.positions, exact)
            })
            .max_by(|a, b| a.explained.total_cmp(&b.explained))
    } else {
        None
    };
    report.shading = shading.clone();
    // Shading measured in all three directions on exact copies knows the target's far side,
    // which the validation views cannot judge (they see the seam): the map alone is no rival,
    // the map after it is fitted on the same copies, and the copies held out are its test.
    let measured_across = shading.as_ref().is_some_and(|s| s.fade.is_none());
    let mut options: Vec<Way> = Vec::new();
    if let Some(s) = &shading {
        let unshaded: Vec<[f32; 3]> = colours.iter().zip(&i.target.positions).map(|(c, p)| s.apply(*c, *p)).collect();
        let unshaded_samples = samples.unshaded(s);
        let refit = if measured_across {
            unshaded_samples.fit_on(blend, &unshaded, &[(SampleKind::Exact, &unshaded_samples.exact)])
        } else {
            unshaded_samples.fit(blend, &unshaded)
        };
        // Where no map can be fitted after the shading, the first map follows it.
        let refit = match refit {
            Ok(mut r) => {
                let mut shaded_target = i.target.clone();
                s.apply_to_cloud(&mut shaded_target);
                consult_views(&mut r, i.validation, &shaded_target, |v| v.score(&shaded_target.sh).seam_error, blend);
                r
            }
            Err(_) => fit.clone(),
        };
        let refit_map = (refit.strength >= MIN_STRENGTH).then(|| refit.applied());
        options.push(Way { transfer: Transfer { shading: Some(s.clone()), map: refit_map }, fit: refit });
    }
    if let Some(m) = map.filter(|_| !measured_across) {
        options.push(Way { transfer: Transfer { map: Some(m), shading: None }, fit: fit.clone() });
    }
    if options.is_empty() {
        report.reason = format!("seam transfer not applied: {}", describe(&fit));
        report.fit = Some(fit);
        return (report, None);
    }
    let shaded = shading.as_ref().map(describe_shading).unwrap_or_default();
    let mut chosen = options.remove(0);
    let mut overruled = String::new();
    if let Some(v) = i.validation.filter(|v| v.sees_overlap()) {
        let before = target_seam_on(v);
        let mut scored: Vec<(f32, Way)> = std::iter::once(chosen)
            .chain(options)
            .map(|o| {
                let mut trial = i.target.clone();
                o.transfer.apply_to_cloud(&mut trial);
                (v.score(&trial.sh).seam_error, o)
            })
            .collect();
        scored.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (after, best) = scored.swap_remove(0);
        report.validation_before = Some(before);
        report.validation_after = Some(after);
        if after >= before && !measured_across {
            report.reason = format!(
                "seam transfer not applied: it does not lower the seam error on the validation views \
                 ({before:.4} → {after:.4}); {}{}",
                describe(&fit),
                if shaded.is_empty() { String::new() } else { format!("; {shaded}") }
            );
            report.fit = Some(fit);
            return (report, None);
        }
        if after >= before {
            report.validation_overruled = true;
            overruled = format!(
                "; applied although the validation views' seam error rose ({before:.4} → {after:.4}): \
                 the exact copies held out confirm it"
            );
        }
        chosen = best;
    }
    report.status = TransferStatus::Applied;
    report.shading_applied = chosen.transfer.shading.is_some();
    let Way { transfer, fit } = chosen;
    report.reason = match (&transfer.map, report.shading_applied) {
        (Some(_), true) => {
            format!(
                "seam transfer applied: {shaded} undone, then the map at strength {:.2}: {}",
                fit.strength,
                describe(&fit)
            )
        }
        (None, true) => format!("seam transfer: {shaded} undone; no map applied after it ({})", describe(&fit)),
        _ => format!(
            "seam transfer applied at strength {:.2}: {}{}",
            fit.strength,
            describe(&fit),
            if shaded.is_empty() {
                String::new()
            } else {
                format!("; {shaded} (not applied: the validation views prefer the map alone)")
            }
        ),
    };
    report.reason.push_str(&overruled);
    report.fit = Some(fit);
    (report, Some(transfer))
}
