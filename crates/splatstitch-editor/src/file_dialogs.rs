//! The native file dialogs (rfd), in one place for the menu, the panels and the shortcuts.

use crate::state::EditorState;
use std::path::PathBuf;

pub fn pick_job() -> Option<PathBuf> {
    rfd::FileDialog::new().add_filter("splatstitch job", &["toml"]).pick_file()
}

pub fn pick_captures() -> Option<Vec<PathBuf>> {
    rfd::FileDialog::new().add_filter("splats", splatstitch_core::formats::EXTENSIONS).pick_files()
}

pub fn pick_export() -> Option<PathBuf> {
    rfd::FileDialog::new()
        .add_filter("PLY", &["ply"])
        .add_filter("compressed PLY", &["compressed.ply"])
        .add_filter("splat", &["splat"])
        .add_filter("spz", &["spz"])
        .add_filter("SOG", &["sog"])
        .add_filter("glTF (binary)", &["glb"])
        .add_filter("glTF", &["gltf"])
        .set_file_name("composite.ply")
        .save_file()
}

/// Saves the job where it was opened from, or asks where (Save job as… with `ask`).
pub fn save_job(state: &mut EditorState, ask: bool) -> bool {
    if !ask && state.doc.path.is_some() {
        return state.save_job(None);
    }
    match rfd::FileDialog::new().add_filter("splatstitch job", &["toml"]).set_file_name("scene.toml").save_file() {
        Some(p) => state.save_job(Some(p)),
        None => false,
    }
}
