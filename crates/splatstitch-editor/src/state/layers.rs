//! Layer edits (role, transform, name, visibility, duplicate, remove) and the views of the scene
//! they change (bounds, framing, what the renderer draws).

use super::EditorState;
use crate::document::unique_name;
use crate::history::Edit;
use glam::Vec3;
use splatstitch_core::Role;
use splatstitch_render::RenderLayer;
use splatstitch_stitch::job::TransformSpec;

impl EditorState {
    /// Sets a layer's role; a new target demotes the old one to fixed, in the same step.
    pub fn set_role(&mut self, layer: usize, role: Role) {
        let before = self.doc.layers[layer].role;
        if before == role {
            return;
        }
        let mut edits = vec![Edit::Role { layer, before, after: role }];
        if role == Role::Target {
            for (i, l) in self.doc.layers.iter().enumerate() {
                if i != layer && l.role == Role::Target {
                    edits.push(Edit::Role { layer: i, before: Role::Target, after: Role::Fixed });
                }
            }
        }
        let edit = if edits.len() == 1 {
            edits.pop().expect("one")
        } else {
            Edit::Batch { label: format!("{} is target", self.doc.layers[layer].name), edits }
        };
        self.apply(edit);
    }

    pub fn set_transform(&mut self, layer: usize, after: TransformSpec) {
        let before = self.doc.layers[layer].transform.clone();
        if before != after {
            self.apply(Edit::Transform { layer, before, after });
        }
    }

    pub fn set_visible(&mut self, layer: usize, visible: bool) {
        if self.doc.layers[layer].visible != visible {
            self.apply(Edit::Visible { layer, after: visible });
        }
    }

    /// Renames a layer; names must be unique and not empty (else the status says so and
    /// nothing changes).
    pub fn rename(&mut self, layer: usize, name: &str) -> bool {
        let new = name.trim().to_string();
        let before = self.doc.layers[layer].name.clone();
        if new.is_empty() || (new != before && self.doc.layers.iter().any(|l| l.name == new)) {
            self.status = format!("`{new}`: names must be unique and not empty");
            return false;
        }
        if new != before {
            self.apply(Edit::Rename { layer, before, after: new });
        }
        true
    }

    pub fn duplicate(&mut self, layer: usize) {
        let mut copy = self.doc.layers[layer].clone();
        copy.name = unique_name(&self.doc.layers, &format!("{} copy", copy.name));
        if copy.role == Role::Target {
            copy.role = Role::Fixed;
        }
        self.apply(Edit::Add { index: layer + 1, layer: Box::new(copy) });
        self.selected = Some(layer + 1);
    }

    pub fn remove(&mut self, layer: usize) {
        let l = self.doc.layers[layer].clone();
        self.apply(Edit::Remove { index: layer, layer: Box::new(l) });
    }

    /// The visible layers as the renderer sees them (transform and per-Gaussian flags).
    pub fn render_layers(&self) -> Vec<RenderLayer<'_>> {
        self.doc
            .layers
            .iter()
            .filter(|l| l.visible)
            .map(|l| RenderLayer { cloud: &l.cloud, transform: l.transform.similarity(), flags: Some(&l.flags) })
            .collect()
    }

    /// World-space bounds of a layer (or all visible layers).
    pub fn bounds(&self, layer: Option<usize>) -> Option<(Vec3, Vec3)> {
        let (mut lo, mut hi) = (Vec3::splat(f32::MAX), Vec3::splat(f32::MIN));
        for (i, l) in self.doc.layers.iter().enumerate() {
            if layer.is_some_and(|s| s != i) || (layer.is_none() && !l.visible) {
                continue;
            }
            let Some((a, b)) = l.cloud.bounds() else { continue };
            let t = l.transform.similarity();
            for corner in 0..8 {
                let p = Vec3::new(
                    if corner & 1 == 0 { a.x } else { b.x },
                    if corner & 2 == 0 { a.y } else { b.y },
                    if corner & 4 == 0 { a.z } else { b.z },
                );
                let w = t.transform_point(p);
                lo = lo.min(w);
                hi = hi.max(w);
            }
        }
        (lo.x <= hi.x).then_some((lo, hi))
    }

    pub fn frame_all(&mut self) {
        if let Some((lo, hi)) = self.bounds(None) {
            self.camera.frame_box(lo, hi);
            self.mark_view_changed();
        }
    }

    /// Frames the selected layer (everything when none is selected).
    pub fn focus_selected(&mut self) {
        if let Some((lo, hi)) = self.bounds(self.selected).or_else(|| self.bounds(None)) {
            self.camera.frame_box(lo, hi);
            self.mark_view_changed();
        }
    }
}
