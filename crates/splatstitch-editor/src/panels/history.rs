//! The undo history: done steps, then undone ones (greyed) that redo brings back.

use super::{Dock, Panel, PanelCtx};

pub struct HistoryPanel;

impl Panel for HistoryPanel {
    fn title(&self) -> &'static str {
        "History"
    }

    fn dock(&self) -> Dock {
        Dock::Right
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        egui::ScrollArea::vertical().id_salt("history").max_height(200.0).show(ui, |ui| {
            let (done, undone) = cx.state.history.labels();
            if done.is_empty() && undone.is_empty() {
                ui.weak("No edits yet.");
            }
            for l in &done {
                ui.label(*l);
            }
            for l in &undone {
                ui.weak(format!("(undone) {l}"));
            }
        });
    }
}
