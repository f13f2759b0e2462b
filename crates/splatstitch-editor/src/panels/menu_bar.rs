//! The menu bar: File (jobs, layers, export), Edit (undo, redo), View (framing, gizmo, up axis).

use super::{Dock, Panel, PanelCtx};
use crate::camera::UpAxis;
use crate::file_dialogs;

pub struct MenuBar;

impl Panel for MenuBar {
    fn title(&self) -> &'static str {
        "menu"
    }

    fn dock(&self) -> Dock {
        Dock::Top
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &mut *cx.state;
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open job…").clicked() {
                    if let Some(p) = file_dialogs::pick_job() {
                        s.open_job(p);
                    }
                    ui.close();
                }
                if ui.button("Add layer…").clicked() {
                    if let Some(ps) = file_dialogs::pick_captures() {
                        s.add_files(ps);
                    }
                    ui.close();
                }
                ui.separator();
                if ui.add(egui::Button::new("Save job").shortcut_text("Ctrl+S")).clicked() {
                    file_dialogs::save_job(s, false);
                    ui.close();
                }
                if ui.button("Save job as…").clicked() {
                    file_dialogs::save_job(s, true);
                    ui.close();
                }
                if ui.button("Export composite…").clicked() {
                    if let Some(p) = file_dialogs::pick_export() {
                        s.export(&p);
                    }
                    ui.close();
                }
            });
            ui.menu_button("Edit", |ui| {
                if ui.add_enabled(s.history.can_undo(), egui::Button::new("Undo").shortcut_text("Ctrl+Z")).clicked() {
                    s.undo();
                    ui.close();
                }
                if ui
                    .add_enabled(s.history.can_redo(), egui::Button::new("Redo").shortcut_text("Ctrl+Shift+Z"))
                    .clicked()
                {
                    s.redo();
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                if ui.add(egui::Button::new("Frame all").shortcut_text("Home")).clicked() {
                    s.frame_all();
                    ui.close();
                }
                if ui.add(egui::Button::new("Focus selection").shortcut_text("F")).clicked() {
                    s.focus_selected();
                    ui.close();
                }
                ui.checkbox(&mut s.show_gizmo, "Transform gizmo");
                ui.separator();
                for up in UpAxis::ALL {
                    if ui.radio(s.camera.up == up, up.label()).clicked() {
                        s.camera.up = up;
                        s.mark_view_changed();
                    }
                }
            });
        });
    }
}
