//! Colour grading the selected layer: the whole layer (saved as the job's `grade` key) or its
//! selection with a feathered edge (saved as the layer's own PLY). While a control is held the
//! grade is previewed on the layer outside the history; letting go commits it as one undo step.

use super::EditorState;
use crate::document::LayerGrade;
use crate::history::Edit;
use splatstitch_core::{GaussianCloud, Grade, LayerFlags};
use std::sync::Arc;

/// What a grade applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GradeScope {
    /// The selected Gaussians, fading out over the feather.
    #[default]
    Selection,
    WholeLayer,
}

/// The grade panel's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct GradeSettings {
    pub scope: GradeScope,
    /// Width of the soft edge around a selection, in world units.
    pub feather: f32,
}

impl Default for GradeSettings {
    fn default() -> Self {
        GradeSettings { scope: GradeScope::Selection, feather: 0.0 }
    }
}

/// The last grade committed on a selection: while the layer still shows its result for the
/// same selection, the controls show that grade and a change replaces it (from its input).
pub(super) struct SelectionGrade {
    layer: usize,
    flags: Arc<Vec<LayerFlags>>,
    feather: f32,
    input: Arc<GaussianCloud>,
    output: Arc<GaussianCloud>,
    weights: Arc<Vec<f32>>,
    grade: Grade,
}

/// A grade shown on a layer but not yet in the history.
pub(super) struct Preview {
    layer: usize,
    scope: GradeScope,
    /// The layer's cloud before the preview, put back when it ends.
    before: Arc<GaussianCloud>,
    /// What the grade applies to: the cloud before the grade the controls show.
    base: Arc<GaussianCloud>,
    /// Per-Gaussian weights (selection scope).
    weights: Option<Arc<Vec<f32>>>,
    feather: f32,
    grade: Grade,
}

impl EditorState {
    /// The grade the panel should show for `layer` in the current scope.
    pub fn shown_grade(&self, layer: usize) -> Grade {
        if let Some(p) = self.grade_preview.as_ref().filter(|p| p.layer == layer && p.scope == self.grade.scope) {
            return p.grade;
        }
        match self.grade.scope {
            GradeScope::WholeLayer => self.doc.layers.get(layer).map(|l| l.active_grade()).unwrap_or_default(),
            GradeScope::Selection => self.active_selection_grade(layer).map(|g| g.grade).unwrap_or_default(),
        }
    }

    fn active_selection_grade(&self, layer: usize) -> Option<&SelectionGrade> {
        let l = self.doc.layers.get(layer)?;
        self.last_selection_grade
            .as_ref()
            .filter(|g| g.layer == layer && Arc::ptr_eq(&g.output, &l.cloud) && Arc::ptr_eq(&g.flags, &l.flags))
    }

    /// Shows `grade` on the selected layer in the current scope, outside the history.
    pub fn preview_grade(&mut self, grade: Grade) {
        let Some((i, _)) = self.selected_layer() else { return };
        let scope = self.grade.scope;
        if self.grade_preview.as_ref().is_some_and(|p| p.layer != i || p.scope != scope) {
            self.commit_grade();
        }
        let l = &self.doc.layers[i];
        if self.grade_preview.is_none() {
            let feather = self.grade.feather;
            let (base, weights) = match scope {
                GradeScope::WholeLayer => (l.grade_base(), None),
                GradeScope::Selection => match self.active_selection_grade(i) {
                    Some(g) if g.feather == feather => (g.input.clone(), Some(g.weights.clone())),
                    last => {
                        let base = last.map_or_else(|| l.cloud.clone(), |g| g.input.clone());
                        let selected: Vec<bool> = l.flags.iter().map(|f| f.has(LayerFlags::SELECTED)).collect();
                        if !selected.iter().any(|s| *s) {
                            self.status = "select Gaussians to grade, or grade the whole layer".into();
                            return;
                        }
                        let local = feather / l.transform.scale.max(1e-12);
                        (base, Some(Arc::new(crate::selection::feathered(&l.cloud, &selected, local))))
                    }
                },
            };
            self.grade_preview =
                Some(Preview { layer: i, scope, before: l.cloud.clone(), base, weights, feather, grade });
        }
        let p = self.grade_preview.as_mut().expect("started above");
        p.grade = grade;
        let mut graded = (*p.base).clone();
        match &p.weights {
            Some(w) => grade.apply(&mut graded, |g| w[g]),
            None => grade.apply(&mut graded, |_| 1.0),
        }
        self.doc.layers[p.layer].cloud = Arc::new(graded);
        self.colours_changed();
    }

    /// Whether a grade is being previewed.
    pub fn grade_previewing(&self) -> bool {
        self.grade_preview.is_some()
    }

    /// Ends a preview, committing it as one undo step (nothing when it changed nothing). Other
    /// edits, saving and stitching call it first, so they never see a half-made grade.
    pub fn commit_grade(&mut self) {
        let Some(p) = self.grade_preview.take() else { return };
        let graded = self.doc.layers[p.layer].cloud.clone();
        self.doc.layers[p.layer].cloud = p.before.clone();
        let name = self.doc.layers[p.layer].name.clone();
        match p.scope {
            GradeScope::Selection => {
                if p.grade.is_identity() && Arc::ptr_eq(&p.base, &p.before) {
                    self.colours_changed();
                    return;
                }
                let after = if p.grade.is_identity() { p.base.clone() } else { graded };
                let flags = self.doc.layers[p.layer].flags.clone();
                let weights = p.weights.clone().unwrap_or_default();
                let label = "grade selection".to_string();
                self.apply(Edit::Cloud { layer: p.layer, label, before: p.before, after: after.clone() });
                self.last_selection_grade = Some(SelectionGrade {
                    layer: p.layer,
                    flags,
                    feather: p.feather,
                    input: p.base,
                    output: after,
                    weights,
                    grade: p.grade,
                });
                self.status = format!("graded the selection of {name}");
            }
            GradeScope::WholeLayer => {
                let before = self.doc.layers[p.layer].grade.clone();
                let after = (!p.grade.is_identity()).then(|| LayerGrade {
                    grade: p.grade,
                    input: p.base.clone(),
                    output: graded.clone(),
                });
                let cloud_after = if after.is_some() { graded } else { p.base };
                if before.as_ref().map(|g| g.grade) == after.as_ref().map(|g| g.grade)
                    && Arc::ptr_eq(&p.before, &cloud_after)
                {
                    self.colours_changed();
                    return;
                }
                self.apply(Edit::Grade {
                    layer: p.layer,
                    before: before.map(Box::new),
                    after: after.map(Box::new),
                    cloud_before: p.before,
                    cloud_after,
                });
                self.status = format!("graded {name}");
            }
        }
    }

    /// Grades the selected layer in the current scope as one step (a preview committed at once).
    pub fn apply_grade(&mut self, grade: Grade) {
        self.preview_grade(grade);
        self.commit_grade();
    }
}
