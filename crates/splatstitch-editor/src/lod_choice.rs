//! Choosing the level of detail of streamed SOG files (`lod-meta.json`) before they open: the
//! file dialog cannot ask, so a small window lists each file's levels.

use splatstitch_core::formats::{Format, sog_lod};
use std::path::PathBuf;

/// A file to open and the level to read from it (`None`: not a streamed SOG, or the finest).
pub type Request = (PathBuf, Option<u32>);

/// Files waiting for their levels to be chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct LodChoice {
    /// Every file of the batch, in order, with its level.
    pub requests: Vec<Request>,
    /// For each streamed SOG among them: its index in `requests` and its Gaussians per level.
    pub levels: Vec<(usize, Vec<u64>)>,
}

/// What the window's buttons said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Open,
    Cancel,
}

impl LodChoice {
    /// A choice when some of `paths` is a streamed SOG with more than one level; `None` when
    /// every file can open as it is. A manifest that cannot be read is left for the loader to
    /// report.
    pub fn for_paths(paths: &[PathBuf]) -> Option<LodChoice> {
        let requests: Vec<Request> = paths.iter().map(|p| (p.clone(), None)).collect();
        let levels: Vec<(usize, Vec<u64>)> = paths
            .iter()
            .enumerate()
            .filter(|(_, p)| Format::from_path(p).ok() == Some(Format::SogLod))
            .filter_map(|(i, p)| Some((i, sog_lod::level_counts(&std::fs::read(p).ok()?).ok()?)))
            .filter(|(_, counts)| counts.len() > 1)
            .collect();
        if levels.is_empty() {
            return None;
        }
        let mut choice = LodChoice { requests, levels };
        for (i, _) in choice.levels.clone() {
            choice.requests[i].1 = Some(0);
        }
        Some(choice)
    }

    /// Sets the level of the `n`-th streamed SOG (clamped to its levels).
    pub fn set_level(&mut self, n: usize, level: u32) {
        if let Some((i, counts)) = self.levels.get(n) {
            self.requests[*i].1 = Some(level.min(counts.len() as u32 - 1));
        }
    }

    pub fn ui(&mut self, ctx: &egui::Context) -> Option<Answer> {
        let mut answer = None;
        egui::Window::new("Level of detail").collapsible(false).resizable(false).show(ctx, |ui| {
            ui.label("Streamed SOG holds several levels of detail; 0 is the finest.");
            for n in 0..self.levels.len() {
                let (i, counts) = self.levels[n].clone();
                let name = self.requests[i].0.display().to_string();
                let mut level = self.requests[i].1.unwrap_or(0);
                let text = |l: u32| format!("level {l}: {} Gaussians", counts[l as usize]);
                egui::ComboBox::from_label(name).selected_text(text(level)).show_ui(ui, |ui| {
                    for l in 0..counts.len() as u32 {
                        ui.selectable_value(&mut level, l, text(l));
                    }
                });
                self.set_level(n, level);
            }
            ui.horizontal(|ui| {
                if ui.button("Open").clicked() {
                    answer = Some(Answer::Open);
                }
                if ui.button("Cancel").clicked() {
                    answer = Some(Answer::Cancel);
                }
            });
        });
        answer
    }
}
