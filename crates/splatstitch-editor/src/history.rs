//! Undo/redo: every change to the document is an [`Edit`] that knows how to apply and revert
//! itself. A gizmo drag becomes one edit when the mouse is released.

use crate::document::{DocLayer, Document, LayerGrade};
use splatstitch_core::{LayerFlags, Role};
use splatstitch_stitch::job::TransformSpec;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub enum Edit {
    Transform {
        layer: usize,
        before: TransformSpec,
        after: TransformSpec,
    },
    Rename {
        layer: usize,
        before: String,
        after: String,
    },
    Role {
        layer: usize,
        before: Role,
        after: Role,
    },
    Visible {
        layer: usize,
        after: bool,
    },
    /// New colours for a layer (a stitch result).
    Cloud {
        layer: usize,
        label: String,
        before: Arc<splatstitch_core::GaussianCloud>,
        after: Arc<splatstitch_core::GaussianCloud>,
    },
    /// A whole-layer grade set, changed or removed, with the colours it gives.
    Grade {
        layer: usize,
        before: Option<Box<LayerGrade>>,
        after: Option<Box<LayerGrade>>,
        cloud_before: Arc<splatstitch_core::GaussianCloud>,
        cloud_after: Arc<splatstitch_core::GaussianCloud>,
    },
    /// Selection, hiding and deleting of Gaussians.
    Flags {
        layer: usize,
        label: String,
        before: Arc<Vec<LayerFlags>>,
        after: Arc<Vec<LayerFlags>>,
    },
    Add {
        index: usize,
        layer: Box<DocLayer>,
    },
    Remove {
        index: usize,
        layer: Box<DocLayer>,
    },
    /// Several edits as one step (e.g. a new target demotes the old one).
    Batch {
        label: String,
        edits: Vec<Edit>,
    },
}

impl Edit {
    pub fn apply(&self, doc: &mut Document) {
        match self {
            Edit::Transform { layer, after, .. } => doc.layers[*layer].transform = after.clone(),
            Edit::Rename { layer, after, .. } => doc.layers[*layer].name = after.clone(),
            Edit::Role { layer, after, .. } => doc.layers[*layer].role = *after,
            Edit::Visible { layer, after } => doc.layers[*layer].visible = *after,
            Edit::Flags { layer, after, .. } => doc.layers[*layer].flags = after.clone(),
            Edit::Cloud { layer, after, .. } => doc.layers[*layer].cloud = after.clone(),
            Edit::Grade { layer, after, cloud_after, .. } => {
                let l = &mut doc.layers[*layer];
                l.grade = after.as_deref().cloned();
                l.cloud = cloud_after.clone();
            }
            Edit::Add { index, layer } => doc.layers.insert(*index, (**layer).clone()),
            Edit::Remove { index, .. } => {
                doc.layers.remove(*index);
            }
            Edit::Batch { edits, .. } => edits.iter().for_each(|e| e.apply(doc)),
        }
    }

    pub fn revert(&self, doc: &mut Document) {
        match self {
            Edit::Transform { layer, before, .. } => doc.layers[*layer].transform = before.clone(),
            Edit::Rename { layer, before, .. } => doc.layers[*layer].name = before.clone(),
            Edit::Role { layer, before, .. } => doc.layers[*layer].role = *before,
            Edit::Visible { layer, after } => doc.layers[*layer].visible = !after,
            Edit::Flags { layer, before, .. } => doc.layers[*layer].flags = before.clone(),
            Edit::Cloud { layer, before, .. } => doc.layers[*layer].cloud = before.clone(),
            Edit::Grade { layer, before, cloud_before, .. } => {
                let l = &mut doc.layers[*layer];
                l.grade = before.as_deref().cloned();
                l.cloud = cloud_before.clone();
            }
            Edit::Add { index, .. } => {
                doc.layers.remove(*index);
            }
            Edit::Remove { index, layer } => doc.layers.insert(*index, (**layer).clone()),
            Edit::Batch { edits, .. } => edits.iter().rev().for_each(|e| e.revert(doc)),
        }
    }

    /// One line for the history list.
    pub fn describe(&self, doc: &Document) -> String {
        let name = |i: &usize| doc.layers.get(*i).map_or("?".to_string(), |l| l.name.clone());
        match self {
            Edit::Transform { layer, .. } => format!("transform {}", name(layer)),
            Edit::Rename { before, after, .. } => format!("rename {before} to {after}"),
            Edit::Role { layer, after, .. } => format!("{} is {}", name(layer), role_name(*after)),
            Edit::Visible { layer, after } => format!("{} {}", if *after { "show" } else { "hide" }, name(layer)),
            Edit::Flags { layer, label, .. } => format!("{label} ({})", name(layer)),
            Edit::Cloud { layer, label, .. } => format!("{label} ({})", name(layer)),
            Edit::Grade { layer, after, .. } => match after {
                Some(_) => format!("grade {}", name(layer)),
                None => format!("reset the grade of {}", name(layer)),
            },
            Edit::Add { layer, .. } => format!("add {}", layer.name),
            Edit::Remove { layer, .. } => format!("remove {}", layer.name),
            Edit::Batch { label, .. } => label.clone(),
        }
    }
}

pub fn role_name(r: Role) -> &'static str {
    match r {
        Role::Source => "source",
        Role::Target => "target",
        Role::Fixed => "fixed",
    }
}

#[derive(Debug, Default)]
pub struct History {
    done: Vec<(Edit, String)>,
    undone: Vec<(Edit, String)>,
    /// Bumped on every change, so views know when to redraw and autosave when to write.
    pub version: u64,
}

impl History {
    /// Applies `edit` and records it.
    pub fn push(&mut self, edit: Edit, doc: &mut Document) {
        edit.apply(doc);
        self.record(edit, doc);
    }

    /// Records an edit already applied (a finished drag).
    pub fn record(&mut self, edit: Edit, doc: &Document) {
        let label = edit.describe(doc);
        self.done.push((edit, label));
        self.undone.clear();
        self.version += 1;
    }

    pub fn undo(&mut self, doc: &mut Document) -> Option<String> {
        let (edit, label) = self.done.pop()?;
        edit.revert(doc);
        self.undone.push((edit, label.clone()));
        self.version += 1;
        Some(label)
    }

    pub fn redo(&mut self, doc: &mut Document) -> Option<String> {
        let (edit, label) = self.undone.pop()?;
        edit.apply(doc);
        self.done.push((edit, label.clone()));
        self.version += 1;
        Some(label)
    }

    pub fn can_undo(&self) -> bool {
        !self.done.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.undone.is_empty()
    }

    /// Labels of done steps (oldest first) and of undone ones (next redo first).
    pub fn labels(&self) -> (Vec<&str>, Vec<&str>) {
        (
            self.done.iter().map(|(_, l)| l.as_str()).collect(),
            self.undone.iter().rev().map(|(_, l)| l.as_str()).collect(),
        )
    }

    /// Forgets everything (a new document).
    pub fn clear(&mut self) {
        self.done.clear();
        self.undone.clear();
        self.version += 1;
    }
}
