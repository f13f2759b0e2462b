//! The stitch: method, the settings an artist needs (the research keys under "Advanced"), the
//! seam shown live, running with progress and cancel, and the outcome with a before/after toggle.

use super::{Dock, Panel, PanelCtx, stitch_settings};
use splatstitch_stitch::{Method, Stage};

pub struct StitchPanel;

impl Panel for StitchPanel {
    fn title(&self) -> &'static str {
        "Stitch"
    }

    fn dock(&self) -> Dock {
        Dock::Right
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &mut *cx.state;
        let b = &mut s.doc.blend;
        ui.horizontal(|ui| {
            for (m, label) in [(Method::Stitch, "stitch"), (Method::Poisson, "poisson"), (Method::None, "none")] {
                ui.radio_value(&mut b.method, m, label);
            }
        });
        ui.checkbox(&mut b.seam_transfer, "Match colours across the seam first").on_hover_text(
            "Fit the colour change between the layers where they overlap (gain and offset, a colour matrix or \
             tone curves, chosen by cross-validation) and apply it, as far as the fit is trusted, before \
             blending: exposure, white balance and camera response between captures.",
        );
        ui.add(egui::Slider::new(&mut b.iterations, 0..=5000).logarithmic(true).text("iterations"));
        ui.add(egui::Slider::new(&mut b.k, 1..=64).text("K"));
        let seam = s.show_boundary.then(|| s.boundary_points().len());
        let b = &mut s.doc.blend;
        ui.add(egui::Slider::new(&mut b.beta, 0.001..=0.5).logarithmic(true).text("β"));
        ui.add(egui::Slider::new(&mut b.tau, 0.0..=1.0).text("τ"));
        ui.horizontal(|ui| {
            ui.checkbox(&mut s.show_boundary, "Show the seam (boundary)");
            if let Some(n) = seam {
                ui.label(format!("{n} Gaussians"));
            }
        });
        ui.collapsing("Advanced", |ui| stitch_settings::advanced(ui, &mut s.doc.blend));
        if let Some((stage, f, secs)) = s.stitch_progress() {
            let shown = if stage == Stage::Optimize { f } else { 0.0 };
            ui.add(egui::ProgressBar::new(shown).show_percentage().text(format!("{} ({secs:.0} s)", stage.label())));
            if ui.button("Cancel").clicked() {
                s.cancel_stitch();
            }
        } else if ui.button("Run stitch").clicked() {
            s.start_stitch();
        }
        if let Some(last) = &s.last_stitch {
            stitch_settings::outcome(ui, &last.report);
            let mut after = last.showing_after;
            ui.horizontal(|ui| {
                ui.selectable_value(&mut after, false, "Before");
                ui.selectable_value(&mut after, true, "After");
            });
            s.show_stitch_result(after);
        }
    }
}
