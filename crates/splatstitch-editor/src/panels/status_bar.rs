//! The status bar: Gaussian count, frame time, the adapter drawing the viewport, and what is
//! happening (loading with a spinner, or the last message).

use super::{Dock, Panel, PanelCtx};

pub struct StatusBar;

impl Panel for StatusBar {
    fn title(&self) -> &'static str {
        "status"
    }

    fn dock(&self) -> Dock {
        Dock::Bottom
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &*cx.state;
        ui.horizontal(|ui| {
            ui.label(format!("{} Gaussians", s.visible_gaussians()));
            ui.separator();
            ui.label(format!("frame {:.1} ms", s.frame_ms));
            ui.separator();
            ui.label(cx.viewport.adapter());
            ui.separator();
            if !s.view_note.is_empty() {
                ui.label(&s.view_note);
                ui.separator();
            }
            if let Some((what, for_how_long)) = s.loading() {
                ui.spinner();
                let read = match s.loading_bytes() {
                    Some((read, total)) if total > 0 && read < total => {
                        format!(": {:.0} of {:.0} MB read", read as f64 / 1e6, total as f64 / 1e6)
                    }
                    Some((_, total)) if total > 0 => ": read, decoding".into(),
                    _ => String::new(),
                };
                ui.label(format!("loading {what}{read} ({:.0} s)", for_how_long.as_secs_f32()));
            } else {
                ui.label(&s.status);
            }
        });
    }
}
