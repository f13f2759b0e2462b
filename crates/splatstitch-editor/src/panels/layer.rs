//! The selected layer: its name, file and transform (typed fields, reset, gizmo mode).

use super::{Dock, Panel, PanelCtx};
use crate::gizmo::GizmoKind;
use crate::state::EditorState;
use splatstitch_stitch::job::TransformSpec;

const FIELD_LABELS: [&str; 7] =
    ["scale", "rotate x", "rotate y", "rotate z", "translate x", "translate y", "translate z"];

fn fields_of(t: &TransformSpec) -> [f32; 7] {
    [t.scale, t.rotate_deg[0], t.rotate_deg[1], t.rotate_deg[2], t.translate[0], t.translate[1], t.translate[2]]
}

fn with_field(t: &TransformSpec, i: usize, v: f32) -> TransformSpec {
    let mut t = t.clone();
    match i {
        0 => t.scale = v,
        1..=3 => t.rotate_deg[i - 1] = v,
        _ => t.translate[i - 4] = v,
    }
    t
}

/// Text being typed, kept until it is committed (focus lost or Enter).
#[derive(Default)]
pub struct LayerPanel {
    /// Layer and history version the transform fields show.
    fields_of: Option<(usize, u64)>,
    fields: [String; 7],
    name: (Option<usize>, String),
}

impl Panel for LayerPanel {
    fn title(&self) -> &'static str {
        "Layer"
    }

    fn dock(&self) -> Dock {
        Dock::Right
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &mut *cx.state;
        let Some((i, l)) = s.selected_layer() else {
            ui.weak("Select a layer to edit it.");
            return;
        };
        let file = l.file.display().to_string();
        self.rename_field(ui, s, i);
        ui.weak(file);
        ui.separator();
        ui.label("Transform (applied on export)");
        self.transform_fields(ui, s, i);
        if ui.button("Reset transform").clicked() {
            s.set_transform(i, TransformSpec::default());
        }
        ui.horizontal(|ui| {
            for k in GizmoKind::ALL {
                ui.selectable_value(&mut s.gizmo_kind, k, k.label());
            }
        });
    }
}

impl LayerPanel {
    fn rename_field(&mut self, ui: &mut egui::Ui, s: &mut EditorState, i: usize) {
        let current = s.doc.layers[i].name.clone();
        if self.name.0 != Some(i) {
            self.name = (Some(i), current.clone());
        }
        let label = ui.label("name");
        let r = ui.add(egui::TextEdit::singleline(&mut self.name.1)).labelled_by(label.id);
        let commit = r.lost_focus();
        if !r.has_focus() && !commit && self.name.1 != current {
            self.name.1 = current.clone();
        }
        if commit && !s.rename(i, &self.name.1) {
            self.name.1 = current;
        }
    }

    fn transform_fields(&mut self, ui: &mut egui::Ui, s: &mut EditorState, i: usize) {
        let current = s.doc.layers[i].transform.clone();
        let values = fields_of(&current);
        let stale = self.fields_of != Some((i, s.history.version));
        egui::Grid::new("transform").num_columns(2).show(ui, |ui| {
            for f in 0..7 {
                let label = ui.label(FIELD_LABELS[f]);
                let id = ui.make_persistent_id(("field", f));
                let focused = ui.memory(|m| m.has_focus(id));
                if stale && !focused {
                    self.fields[f] = format!("{}", values[f]);
                }
                let r = ui
                    .add(egui::TextEdit::singleline(&mut self.fields[f]).id(id).desired_width(90.0))
                    .labelled_by(label.id);
                if r.lost_focus() {
                    match self.fields[f].trim().parse::<f32>() {
                        Ok(v) if v.is_finite() && (f != 0 || v > 0.0) => {
                            if v != values[f] {
                                s.set_transform(i, with_field(&current, f, v));
                            }
                        }
                        _ => {
                            s.status = format!("{}: `{}` is not a valid number", FIELD_LABELS[f], self.fields[f]);
                            self.fields[f] = format!("{}", values[f]);
                        }
                    }
                }
                ui.end_row();
            }
        });
        if stale {
            self.fields_of = Some((i, s.history.version));
        }
    }
}
