//! The desktop editor (docs/ARCHITECTURE.md §6): a winit window with egui panels around a splat viewport
//! drawn by the renderer on the window's own wgpu device. The UI logic ([`app`]) is separate
//! from the window ([`window`]) so UI tests drive it with the CPU renderer.

pub mod alignment;
pub mod app;
pub mod autosave;
pub mod camera;
pub mod document;
pub mod gizmo;
pub mod history;
pub mod lod_choice;
pub mod selection;
pub mod stitch_settings;
pub mod stitching;
pub mod viewport;
pub mod window;

pub use app::EditorApp;
pub use document::Document;
