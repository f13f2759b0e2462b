//! Aligning the selected ("moving") layer to a fixed one: picked point pairs, a similarity fit
//! to them, and ICP refinement (each fit one undo step).

use super::EditorState;
use super::selecting::pick_centre;
use glam::{Vec2, Vec3};
use splatstitch_render::Camera;
use splatstitch_stitch::job::TransformSpec;

/// Point pairs picked for aligning the selected ("moving") layer to a fixed one.
#[derive(Debug, Clone, Default)]
pub struct AlignState {
    pub fixed: Option<usize>,
    /// Picked on the moving layer, in its own (untransformed) frame.
    pub moving_points: Vec<Vec3>,
    /// Picked on the fixed layer, in world space.
    pub fixed_points: Vec<Vec3>,
    pub last: Option<crate::alignment::Fit>,
}

/// A similarity as the job's transform fields.
fn spec_of(t: &splatstitch_core::Similarity) -> TransformSpec {
    TransformSpec {
        scale: t.scale,
        rotate_deg: crate::gizmo::quat_to_euler_deg(t.rotation),
        translate: t.translation.to_array(),
    }
}

impl EditorState {
    /// Adds a point picked at `p` (pixels): on the moving (selected) layer when the pairs are
    /// complete, else on the fixed layer.
    pub(super) fn pick_align_point(&mut self, p: Vec2, camera: &Camera, ppp: f32) {
        let (Some(moving), Some(fixed)) = (self.selected, self.align.fixed) else {
            self.status = "choose the fixed layer first".into();
            return;
        };
        let on_moving = self.align.moving_points.len() == self.align.fixed_points.len();
        let i = if on_moving { moving } else { fixed };
        let Some(l) = self.doc.layers.get(i) else { return };
        let t = l.transform.similarity();
        let projected = crate::selection::project(&l.cloud, &t, camera);
        let Some(g) = pick_centre(l, &projected, p, 6.0 * ppp) else {
            self.status = format!("no Gaussian of {} under the cursor", l.name);
            return;
        };
        let local = Vec3::from(l.cloud.positions[g]);
        if on_moving {
            self.align.moving_points.push(local);
        } else {
            self.align.fixed_points.push(t.transform_point(local));
        }
        self.status = format!("{} points picked", self.align.moving_points.len() + self.align.fixed_points.len());
    }

    pub fn clear_align_pairs(&mut self) {
        self.align.moving_points.clear();
        self.align.fixed_points.clear();
    }

    /// Fits the moving layer's transform to the picked pairs (one undo step).
    pub fn align_from_pairs(&mut self) {
        let Some(moving) = self.selected else { return };
        let n = self.align.fixed_points.len();
        match crate::alignment::fit_similarity(&self.align.moving_points[..n], &self.align.fixed_points) {
            Some(fit) => {
                self.set_transform(moving, spec_of(&fit.transform));
                self.status = format!("aligned from {} pairs: residual {:.4}", fit.pairs, fit.rms);
                self.align.last = Some(fit);
            }
            None => self.error = Some("alignment needs 3 or more point pairs, not all on one line".into()),
        }
    }

    /// Refines the moving layer's transform by ICP against the fixed layer (one undo step).
    pub fn align_icp(&mut self) {
        let (Some(moving), Some(fixed)) = (self.selected, self.align.fixed) else { return };
        let (m, f) = (&self.doc.layers[moving], &self.doc.layers[fixed]);
        let stride = (m.len() / 20_000).max(1);
        let moving_pts: Vec<Vec3> = m.cloud.positions.iter().step_by(stride).map(|p| Vec3::from(*p)).collect();
        let ft = f.transform.similarity();
        let fixed_pts: Vec<Vec3> = f.cloud.positions.iter().map(|p| ft.transform_point(Vec3::from(*p))).collect();
        let diag = self.bounds(Some(fixed)).map_or(1.0, |(a, b)| (b - a).length());
        match crate::alignment::icp(&moving_pts, &fixed_pts, m.transform.similarity(), 0.05 * diag, 30) {
            Some(fit) => {
                self.set_transform(moving, spec_of(&fit.transform));
                self.status = format!("ICP over {} pairs: residual {:.4}", fit.pairs, fit.rms);
                self.align.last = Some(fit);
            }
            None => self.error = Some("ICP found too few nearby Gaussian pairs: align roughly first".into()),
        }
    }
}
