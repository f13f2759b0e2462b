//! The editor's panels: one type and one file each, behind [`Panel`]. A panel draws part of the
//! [`EditorState`] and turns what the user does into calls on it; it keeps only UI-local state
//! (text being typed, a drag in progress). `crate::app` lists the panels and places them by
//! their [`Dock`]; adding a panel is a new file here and one line in that list.

pub mod align;
pub mod dialogs;
pub mod grade;
pub mod history;
pub mod layer;
pub mod layers;
pub mod menu_bar;
pub mod selection;
pub mod status_bar;
pub mod stitch;
pub mod stitch_settings;
pub mod viewport;

use crate::state::EditorState;
use crate::viewport::ViewportBackend;

/// Where a panel goes in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dock {
    Top,
    Bottom,
    /// The left side, one panel.
    Left,
    /// The right side's scrolling column, panels in list order under their titles.
    Right,
    /// What is left in the middle (the viewport).
    Centre,
    /// Floating windows (dialogs), shown over everything.
    Windows,
}

/// What a panel may touch this frame.
pub struct PanelCtx<'a> {
    pub state: &'a mut EditorState,
    pub viewport: &'a mut dyn ViewportBackend,
}

pub trait Panel {
    /// The heading (side panels) and the id of the panel's area.
    fn title(&self) -> &'static str;
    fn dock(&self) -> Dock;
    /// Shown only while a layer is selected (the panels that edit one; `Panel::ui` may then
    /// rely on `EditorState::selected_layer`).
    fn needs_layer(&self) -> bool {
        false
    }
    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>);
}
