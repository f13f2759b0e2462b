//! Aligning the selected layer to another: pick point pairs in the viewport, fit, refine by ICP.

use super::{Dock, Panel, PanelCtx};
use crate::state::Tool;

pub struct AlignPanel;

impl Panel for AlignPanel {
    fn title(&self) -> &'static str {
        "Alignment"
    }

    fn dock(&self) -> Dock {
        Dock::Right
    }

    fn needs_layer(&self) -> bool {
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &mut *cx.state;
        let Some((i, _)) = s.selected_layer() else { return };
        ui.collapsing("Align to another layer", |ui| {
            let names: Vec<(usize, String)> =
                s.doc.layers.iter().enumerate().filter(|(j, _)| *j != i).map(|(j, l)| (j, l.name.clone())).collect();
            let current = s.align.fixed.and_then(|f| names.iter().find(|(j, _)| *j == f)).map(|(_, n)| n.clone());
            let combo = egui::ComboBox::from_id_salt("align fixed")
                .selected_text(current.unwrap_or_else(|| "choose…".into()))
                .show_ui(ui, |ui| {
                    for (j, n) in &names {
                        if ui.selectable_label(s.align.fixed == Some(*j), n).clicked() {
                            s.align.fixed = Some(*j);
                        }
                    }
                });
            combo.response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "fixed layer"));
            let mut on = s.tool == Tool::Align;
            if ui
                .toggle_value(&mut on, "Pick point pairs")
                .on_hover_text(
                    "Click a point on this layer, then the same point on the fixed layer; three pairs or more.",
                )
                .changed()
            {
                s.tool = if on { Tool::Align } else { Tool::Orbit };
            }
            let pairs = s.align.fixed_points.len();
            let half = if s.align.moving_points.len() > pairs { " + 1 point" } else { "" };
            ui.label(format!("{pairs} pairs{half}"));
            ui.horizontal(|ui| {
                if ui.add_enabled(pairs >= 3, egui::Button::new("Align")).clicked() {
                    s.align_from_pairs();
                }
                if ui.add_enabled(s.align.fixed.is_some(), egui::Button::new("Refine (ICP)")).clicked() {
                    s.align_icp();
                }
                if ui.button("Clear pairs").clicked() {
                    s.clear_align_pairs();
                }
            });
            if let Some(f) = s.align.last {
                ui.label(format!("residual {:.5} over {} pairs", f.rms, f.pairs));
            }
        });
    }
}
