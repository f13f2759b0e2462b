//! The editor's window contents: the [`EditorState`] and the panels that show it, wired
//! together once a frame. The window (GPU) and the UI tests (CPU) drive the same
//! [`EditorApp::ui`].

use crate::autosave::Autosave;
use crate::document::Document;
use crate::file_dialogs;
use crate::gizmo::GizmoKind;
use crate::panels::{self, Dock, Panel, PanelCtx};
use crate::state::{EditorState, Tool};
use crate::viewport::ViewportBackend;
use splatstitch_core::LayerFlags;
use std::path::PathBuf;

pub struct EditorApp {
    pub state: EditorState,
    panels: Vec<Box<dyn Panel>>,
}

impl EditorApp {
    pub fn new(doc: Document, autosave: Option<Autosave>) -> Self {
        // Side panels show in this order; one line per panel.
        let panels: Vec<Box<dyn Panel>> = vec![
            Box::new(panels::menu_bar::MenuBar),
            Box::new(panels::status_bar::StatusBar),
            Box::new(panels::layers::LayersPanel),
            Box::new(panels::layer::LayerPanel::default()),
            Box::new(panels::selection::SelectionPanel),
            Box::new(panels::align::AlignPanel),
            Box::new(panels::grade::GradePanel),
            Box::new(panels::stitch::StitchPanel),
            Box::new(panels::history::HistoryPanel),
            Box::new(panels::viewport::ViewportPanel::default()),
            Box::new(panels::dialogs::Dialogs),
        ];
        EditorApp { state: EditorState::new(doc, autosave), panels }
    }

    /// One frame of the whole UI (the root `ui` of the window). `viewport` draws the splats.
    pub fn ui(&mut self, ui: &mut egui::Ui, viewport: &mut dyn ViewportBackend) {
        let ctx = ui.ctx().clone();
        if let Some(after) = self.state.poll() {
            ctx.request_repaint_after(after);
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect());
        if !dropped.is_empty() {
            self.state.add_files(dropped);
        }
        shortcuts(&ctx, &mut self.state);
        let mut cx = PanelCtx { state: &mut self.state, viewport };
        // egui places panels outside in: bars, then the sides, then the middle, then windows.
        for dock in [Dock::Top, Dock::Bottom, Dock::Left, Dock::Right, Dock::Centre, Dock::Windows] {
            show_dock(ui, dock, &mut self.panels, &mut cx);
        }
        self.state.tick_autosave();
    }
}

fn show_dock(ui: &mut egui::Ui, dock: Dock, panels: &mut [Box<dyn Panel>], cx: &mut PanelCtx<'_>) {
    let mut here: Vec<&mut Box<dyn Panel>> = panels.iter_mut().filter(|p| p.dock() == dock).collect();
    match dock {
        Dock::Top | Dock::Bottom => {
            for p in here {
                let panel =
                    if dock == Dock::Top { egui::Panel::top(p.title()) } else { egui::Panel::bottom(p.title()) };
                panel.show(ui, |ui| p.ui(ui, cx));
            }
        }
        Dock::Left => {
            for p in here {
                egui::Panel::left(p.title()).default_size(250.0).show(ui, |ui| {
                    ui.heading(p.title());
                    p.ui(ui, cx);
                });
            }
        }
        Dock::Right => {
            egui::Panel::right("properties").default_size(280.0).show(ui, |ui| {
                egui::ScrollArea::vertical().id_salt("properties scroll").show(ui, |ui| {
                    let mut first = true;
                    for p in here.iter_mut() {
                        if p.needs_layer() && cx.state.selected_layer().is_none() {
                            continue;
                        }
                        if !first {
                            ui.separator();
                        }
                        first = false;
                        ui.heading(p.title());
                        p.ui(ui, cx);
                    }
                });
            });
        }
        Dock::Centre => {
            if let Some(p) = here.pop() {
                egui::CentralPanel::default().frame(egui::Frame::NONE).show(ui, |ui| p.ui(ui, cx));
            }
        }
        Dock::Windows => here.into_iter().for_each(|p| p.ui(ui, cx)),
    }
}

/// Keyboard shortcuts that work anywhere: undo, redo, save; outside text fields the gizmo
/// modes, the rectangle tool and deleting the selection.
fn shortcuts(ctx: &egui::Context, s: &mut EditorState) {
    use egui::{Key, KeyboardShortcut, Modifiers};
    let undo = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
    let redo = KeyboardShortcut::new(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    let redo_y = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
    let save = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
    // Redo first: Ctrl+Shift+Z would also match Ctrl+Z's logical shortcut.
    if ctx.input_mut(|i| i.consume_shortcut(&redo) || i.consume_shortcut(&redo_y)) {
        s.redo();
    }
    if ctx.input_mut(|i| i.consume_shortcut(&undo)) {
        s.undo();
    }
    if ctx.input_mut(|i| i.consume_shortcut(&save)) {
        file_dialogs::save_job(s, false);
    }
    if ctx.egui_wants_keyboard_input() {
        return;
    }
    ctx.input(|i| {
        if i.key_pressed(Key::G) {
            s.gizmo_kind = GizmoKind::Translate;
        }
        if i.key_pressed(Key::R) {
            s.gizmo_kind = GizmoKind::Rotate;
        }
        if i.key_pressed(Key::T) {
            s.gizmo_kind = GizmoKind::Scale;
        }
        if i.key_pressed(Key::B) {
            s.tool = if s.tool == Tool::Rectangle { Tool::Orbit } else { Tool::Rectangle };
        }
        if i.key_pressed(Key::Delete) {
            s.hide_selected(LayerFlags::DELETED);
        }
    });
}
