//! The windows that ask something: the level of detail of a streamed SOG, a problem to
//! acknowledge, recovering an autosave, and dropping unsaved changes.

use super::{Dock, Panel, PanelCtx};
use crate::file_dialogs;
use crate::lod_choice::Answer;
use crate::state::{EditorState, Pending};

pub struct Dialogs;

impl Panel for Dialogs {
    fn title(&self) -> &'static str {
        "dialogs"
    }

    fn dock(&self) -> Dock {
        Dock::Windows
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let ctx = ui.ctx().clone();
        let s = &mut *cx.state;
        level_of_detail(&ctx, s);
        if let Some(e) = s.error.clone() {
            egui::Window::new("Problem").collapsible(false).resizable(false).show(&ctx, |ui| {
                ui.label(e);
                if ui.button("OK").clicked() {
                    s.error = None;
                }
            });
        }
        recovery(&ctx, s);
        unsaved_changes(&ctx, s);
    }
}

fn level_of_detail(ctx: &egui::Context, s: &mut EditorState) {
    let Some(choice) = &mut s.lod_choice else { return };
    match choice.ui(ctx) {
        Some(Answer::Open) => {
            let requests = s.lod_choice.take().map(|c| c.requests).unwrap_or_default();
            s.add_files_at_levels(requests);
        }
        Some(Answer::Cancel) => s.lod_choice = None,
        None => {}
    }
}

fn recovery(ctx: &egui::Context, s: &mut EditorState) {
    let Some(p) = s.recovery_offer.clone() else { return };
    egui::Window::new("Recover the last session?").collapsible(false).show(ctx, |ui| {
        ui.label(format!("The last session ended without closing cleanly. Its autosave is {}.", p.display()));
        ui.horizontal(|ui| {
            if ui.button("Recover").clicked() {
                s.recovery_offer = None;
                if s.has_unsaved_changes() && !s.doc.layers.is_empty() {
                    s.pending = Some(Pending::Recover(p.clone()));
                } else {
                    s.open_job_now(p.clone(), true);
                }
            }
            if ui.button("Discard").clicked() {
                s.recovery_offer = None;
                let _ = std::fs::remove_file(&p);
            }
        });
    });
}

fn unsaved_changes(ctx: &egui::Context, s: &mut EditorState) {
    let Some(pending) = &s.pending else { return };
    let text = match pending {
        Pending::Open(p) => format!("Open {} and drop the unsaved changes?", p.display()),
        Pending::Recover(p) => format!("Recover {} and drop the unsaved changes?", p.display()),
    };
    let mut answer = None;
    egui::Window::new("Unsaved changes").collapsible(false).show(ctx, |ui| {
        ui.label(text);
        ui.horizontal(|ui| {
            if ui.button("Save first").clicked() {
                answer = Some(file_dialogs::save_job(s, false));
            }
            if ui.button("Discard changes").clicked() {
                answer = Some(true);
            }
            if ui.button("Cancel").clicked() {
                answer = Some(false);
            }
        });
    });
    if let Some(go) = answer {
        match s.pending.take() {
            Some(Pending::Open(p)) if go => s.open_job_now(p, false),
            Some(Pending::Recover(p)) if go => s.open_job_now(p, true),
            _ => {}
        }
    }
}
