//! Colour grading the selected layer (exposure, white balance, saturation, contrast, levels):
//! the selected Gaussians with a feathered edge, or the whole layer. Dragging a control previews
//! the grade live; letting go makes it one undo step.

use super::{Dock, Panel, PanelCtx};
use crate::state::GradeScope;
use splatstitch_core::{Grade, LayerFlags};

/// Slider labels, in [`Grade::CONTROLS`] order.
const LABELS: [&str; 7] =
    ["exposure (stops)", "temperature", "tint", "saturation", "contrast", "black point", "white point"];

pub struct GradePanel;

impl Panel for GradePanel {
    fn title(&self) -> &'static str {
        "Colour grade"
    }

    fn dock(&self) -> Dock {
        Dock::Right
    }

    fn needs_layer(&self) -> bool {
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &mut *cx.state;
        let Some((i, l)) = s.selected_layer() else { return };
        let selected = l.count(LayerFlags::SELECTED);
        let before = s.grade.clone();
        ui.horizontal(|ui| {
            ui.radio_value(&mut s.grade.scope, GradeScope::Selection, format!("Selected ({selected})"));
            ui.radio_value(&mut s.grade.scope, GradeScope::WholeLayer, "Whole layer");
        });
        if s.grade.scope == GradeScope::Selection {
            ui.add(
                egui::DragValue::new(&mut s.grade.feather)
                    .range(0.0..=f32::MAX)
                    .speed(0.005)
                    .prefix("feather ")
                    .suffix(" (world units)"),
            )
            .on_hover_text("Gaussians this close to the selection are graded in part, fading to none");
        }
        if s.grade != before {
            s.commit_grade();
        }
        let enabled = s.grade.scope == GradeScope::WholeLayer || selected > 0;
        let mut grade = s.shown_grade(i);
        let (mut changed, mut held) = (false, false);
        ui.add_enabled_ui(enabled, |ui| {
            for ((key, lo, hi), label) in Grade::CONTROLS.into_iter().zip(LABELS) {
                let v = grade.get_mut(key).expect("every control has a field");
                let r = ui.add(egui::Slider::new(v, lo..=hi).text(label));
                changed |= r.changed();
                held |= r.dragged() || r.is_pointer_button_down_on();
            }
        });
        if changed {
            s.preview_grade(grade);
        }
        // Letting go (or a typed value) ends the change: one undo step.
        if s.grade_previewing() && !held && !ui.input(|i| i.pointer.primary_down()) {
            s.commit_grade();
        }
        ui.horizontal(|ui| {
            let neutral = grade.is_identity();
            if ui.add_enabled(!neutral, egui::Button::new("Reset grade")).clicked() {
                s.apply_grade(Grade::default());
            }
            if !enabled {
                ui.weak("Select Gaussians, or grade the whole layer.");
            }
        });
    }
}
