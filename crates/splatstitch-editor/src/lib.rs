//! The desktop editor (docs/ARCHITECTURE.md §6): a winit window with egui panels around a splat viewport
//! drawn by the renderer on the window's own wgpu device. The state ([`state`]) is apart from
//! the panels that show it ([`panels`]); [`app`] wires them together and is separate from the
//! window ([`window`]), so UI tests drive it with the CPU renderer and state tests need no UI.

pub mod alignment;
pub mod app;
pub mod autosave;
pub mod camera;
pub mod document;
pub mod file_dialogs;
pub mod gizmo;
pub mod history;
pub mod lod_choice;
pub mod panels;
pub mod selection;
pub mod state;
pub mod stitching;
pub mod viewport;
pub mod window;

pub use app::EditorApp;
pub use document::Document;
pub use state::EditorState;
