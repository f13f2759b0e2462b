//! The stitch panel's "Advanced" settings (the research keys of `[blend]`, the same values a
//! job file holds) and the outcome of the last run: what the seam transfer fitted and how far it
//! was trusted, which iterate the validation views kept, and the metrics.

use splatstitch_stitch::Report;
use splatstitch_stitch::params::{
    AutoOr, BlendSpec, Cloning, FeatureReference, Preset, SizeMeasure, TransferModel, TransferSamples, TuneWeighting,
};
use splatstitch_stitch::report::TransferStatus;

/// Radio buttons for one enum-valued key.
fn choice<T: PartialEq + Copy>(ui: &mut egui::Ui, label: &str, value: &mut T, options: &[(T, &str)]) {
    ui.horizontal(|ui| {
        ui.label(label);
        for (v, name) in options {
            ui.radio_value(value, *v, *name);
        }
    });
}

/// The research keys, grouped; "Reset to" loads a preset's values.
pub fn advanced(ui: &mut egui::Ui, b: &mut BlendSpec) {
    ui.horizontal(|ui| {
        ui.label("Reset to");
        if ui.button("our defaults").clicked() {
            *b = BlendSpec { method: b.method, ..BlendSpec::of_preset(Preset::Default) };
        }
        if ui.button("the paper's").on_hover_text("Exactly what 3D Gaussian Stitching states").clicked() {
            *b = BlendSpec { method: b.method, ..BlendSpec::of_preset(Preset::Paper) };
        }
    });
    ui.label(format!("started from the {:?} preset", b.preset).to_lowercase());
    ui.add(egui::Slider::new(&mut b.views, 1..=64).text("views"));
    ui.add(egui::Slider::new(&mut b.resolution, 32..=512).text("resolution"));
    choice(
        ui,
        "L",
        &mut b.size,
        &[(SizeMeasure::RobustDiagonal, "robust diagonal"), (SizeMeasure::Diagonal, "diagonal")],
    );
    ui.add(egui::Slider::new(&mut b.min_boundary, 0..=4096).logarithmic(true).text("min seam Gaussians"))
        .on_hover_text("When τ leaves fewer, τ is lowered to the overlap's opacity quantile that keeps this many");
    ui.separator();
    ui.label("Seam colour transfer");
    choice(
        ui,
        "model",
        &mut b.transfer_model,
        &[
            (TransferModel::Auto, "auto"),
            (TransferModel::GainOffset, "gain+offset"),
            (TransferModel::Matrix, "matrix"),
            (TransferModel::Curve, "curves"),
        ],
    );
    choice(
        ui,
        "samples",
        &mut b.transfer_samples,
        &[
            (TransferSamples::Auto, "auto"),
            (TransferSamples::Image, "pixels"),
            (TransferSamples::Points, "points"),
            (TransferSamples::Both, "both"),
            (TransferSamples::Exact, "exact copies"),
        ],
    );
    ui.checkbox(&mut b.transfer_shading, "undo shading that drifts along the seam").on_hover_text(
        "A gain that changes along the seam (light falling off), fitted where it is significant; the colour map is then fitted again",
    );
    let mut auto = b.transfer_strength == AutoOr::Auto;
    ui.horizontal(|ui| {
        ui.checkbox(&mut auto, "strength from confidence");
        let mut v = match b.transfer_strength {
            AutoOr::Value(v) => v,
            AutoOr::Auto => 1.0,
        };
        if !auto {
            ui.add(egui::Slider::new(&mut v, 0.0..=1.0).text("strength"));
        }
        b.transfer_strength = if auto { AutoOr::Auto } else { AutoOr::Value(v) };
    });
    ui.separator();
    ui.label("Optimizer");
    for (value, label, hi) in [
        (&mut b.lambda_feature, "λ feature", 100.0),
        (&mut b.lambda_color, "λ colour", 100.0),
        (&mut b.lambda_grad, "λ grad", 100.0),
        (&mut b.lambda_tune, "λ tune", 100.0),
    ] {
        ui.add(egui::Slider::new(value, 0.0..=hi).logarithmic(true).text(label));
    }
    ui.add(egui::Slider::new(&mut b.tune_from, 0.0..=1.0).text("L_tune from"));
    ui.add(egui::Slider::new(&mut b.learning_rate, 1e-5..=0.1).logarithmic(true).text("learning rate"));
    choice(
        ui,
        "L_tune weights",
        &mut b.tune_weighting,
        &[(TuneWeighting::Proportion, "palette share"), (TuneWeighting::Uniform, "uniform")],
    );
    choice(
        ui,
        "L_feature towards",
        &mut b.feature_reference,
        &[(FeatureReference::Field, "field difference"), (FeatureReference::Neighbours, "neighbours' SH")],
    );
    choice(ui, "L_color clones", &mut b.cloning, &[(Cloning::Changes, "changes"), (Cloning::Colours, "colours")]);
    ui.add(egui::Slider::new(&mut b.gamma, 0.0..=100.0).text("γ (jitter)"));
    ui.add(egui::Slider::new(&mut b.jitter_amplitude, 0.0..=2.0).text("jitter amplitude"));
    ui.separator();
    ui.label("Poisson baseline");
    ui.add(egui::Slider::new(&mut b.poisson_weight, 0.0..=10.0).logarithmic(true).text("w (gradient term)"));
    ui.add(egui::Slider::new(&mut b.poisson_iterations, 0..=20_000).logarithmic(true).text("iterations"));
    ui.separator();
    ui.label("Validation");
    ui.add(egui::Slider::new(&mut b.validation_views, 0..=32).text("validation views"));
    ui.checkbox(&mut b.keep_best, "keep the best checkpoint (never worse than the input)");
    ui.add(egui::Slider::new(&mut b.checkpoint_every, 1..=500).logarithmic(true).text("checkpoint every"));
    ui.add(egui::Slider::new(&mut b.far_weight, 0.0..=10.0).text("far-change weight"));
    ui.add(egui::Slider::new(&mut b.min_improvement, 0.0..=0.5).text("improvement a checkpoint must bring"));
}

/// The last run's decisions and metrics.
pub fn outcome(ui: &mut egui::Ui, r: &Report) {
    let t = &r.seam_transfer;
    match (&t.status, &t.fit) {
        (TransferStatus::Off, _) => {}
        (status, Some(f)) => {
            let verdict = match status {
                TransferStatus::Applied => format!("applied at {:.0} %", 100.0 * f.strength),
                _ => "not applied".into(),
            };
            ui.label(format!(
                "colour transfer: {} {verdict}; fit error {:.4} (none {:.4}), confidence {:.2}",
                f.model.label(),
                f.fit_error,
                f.identity_error,
                f.confidence.value
            ))
            .on_hover_text(&t.reason);
        }
        (_, None) => {
            ui.label(&t.reason);
        }
    }
    if let Some(s) = &t.shading {
        let verdict = if t.shading_applied { "undone" } else { "found, not applied" };
        let where_ = if s.fade.is_none() { "along and across the seam" } else { "along the seam" };
        ui.label(format!(
            "shading {where_} {verdict}: gain changes by up to {:.0} % ({:.1} and {:.1} standard errors)",
            100.0 * s.largest_change,
            s.significance[0],
            s.significance[1]
        ))
        .on_hover_text(&t.reason);
    }
    if let Some(a) = &r.tau_adaptation {
        ui.label(format!(
            "τ {} left {} seam Gaussians: lowered to {:.3} ({} Gaussians)",
            a.tau_asked, a.found, a.tau_used, r.boundary
        ));
    }
    let v = &r.validation;
    if v.kept_input {
        ui.label("kept the input's colours: nothing beat them on the validation views");
    } else if let Some(it) = v.kept_iteration.filter(|_| !v.curve.is_empty()) {
        ui.label(format!(
            "kept iteration {it} (best of {} checkpoints on {} validation views)",
            v.curve.len(),
            v.views
        ));
    }
    let (mb, ma) = (&r.metrics_before, &r.metrics_after);
    ui.label(format!("seam error {:.4} -> {:.4}", mb.seam_error, ma.seam_error));
    ui.label(format!("detail {:.3}, palette {:.4} -> {:.4}", ma.detail, mb.palette_distance, ma.palette_distance));
}
