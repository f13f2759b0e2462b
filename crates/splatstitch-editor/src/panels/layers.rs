//! The layer list: visibility, selection, role, size; add, duplicate and remove.

use super::{Dock, Panel, PanelCtx};
use crate::file_dialogs;
use crate::history::role_name;
use splatstitch_core::Role;

pub struct LayersPanel;

impl Panel for LayersPanel {
    fn title(&self) -> &'static str {
        "Layers"
    }

    fn dock(&self) -> Dock {
        Dock::Left
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &mut *cx.state;
        ui.horizontal(|ui| {
            if ui.button("Add…").on_hover_text("Add captures (or drop files on the window)").clicked()
                && let Some(ps) = file_dialogs::pick_captures()
            {
                s.add_files(ps);
            }
            let sel = s.selected;
            if ui.add_enabled(sel.is_some(), egui::Button::new("Duplicate")).clicked()
                && let Some(i) = sel
            {
                s.duplicate(i);
            }
            if ui.add_enabled(sel.is_some(), egui::Button::new("Remove")).clicked()
                && let Some(i) = sel
            {
                s.remove(i);
            }
        });
        ui.separator();
        let mut role_change = None;
        let mut visibility = None;
        for (i, l) in s.doc.layers.iter().enumerate() {
            ui.horizontal(|ui| {
                let mut v = l.visible;
                if ui.checkbox(&mut v, "").on_hover_text("visible").changed() {
                    visibility = Some((i, v));
                }
                if ui.selectable_label(s.selected == Some(i), &l.name).clicked() {
                    s.selected = Some(i);
                }
                let mut role = l.role;
                let combo = egui::ComboBox::from_id_salt(("role", i))
                    .width(70.0)
                    .selected_text(role_name(role))
                    .show_ui(ui, |ui| {
                        for r in [Role::Source, Role::Target, Role::Fixed] {
                            ui.selectable_value(&mut role, r, role_name(r));
                        }
                    });
                let name = format!("role of {}", l.name);
                combo.response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, name.clone()));
                if role != l.role {
                    role_change = Some((i, role));
                }
                ui.weak(format!("{}", l.len()));
            });
        }
        if let Some((i, v)) = visibility {
            s.set_visible(i, v);
        }
        if let Some((i, r)) = role_change {
            s.set_role(i, r);
        }
        if s.doc.layers.is_empty() {
            ui.weak("Drop .ply / .splat / .spz / .sog / .glb / .gltf files or a job (.toml) here.");
        }
    }
}
