//! The seam ∂B of the current scene, shown in the viewport: recomputed only when the layers, K,
//! β or τ change (not when colours do).

use super::EditorState;
use crate::document::DocLayer;
use splatstitch_core::{GaussianCloud, Role};
use splatstitch_stitch::compose::with_sh_degree;

/// What a cached seam was computed for: layer count, scene version, K and β, τ.
type SeamKey = (usize, u64, u32, u32);

/// World positions of ∂B's members, and what they were computed for.
#[derive(Default)]
pub(super) struct SeamCache(Option<(SeamKey, Vec<glam::Vec3>)>);

impl EditorState {
    /// ∂B of the current scene and parameters (cached): the target's Gaussians at the seam, in
    /// world space. Empty without exactly one target and a source.
    pub fn boundary_points(&mut self) -> &[glam::Vec3] {
        let b = &self.doc.blend;
        let key = (self.doc.layers.len(), self.seam_version, b.beta.to_bits() ^ (b.k as u32), b.tau.to_bits());
        if self.seam.0.as_ref().is_none_or(|(k, _)| *k != key) {
            let points = self.compute_boundary();
            self.seam.0 = Some((key, points));
        }
        &self.seam.0.as_ref().expect("computed above").1
    }

    fn compute_boundary(&self) -> Vec<glam::Vec3> {
        let layers = &self.doc.layers;
        let targets: Vec<usize> = (0..layers.len()).filter(|&i| layers[i].role == Role::Target).collect();
        let [t] = targets[..] else { return Vec::new() };
        let bake = |l: &DocLayer| {
            let mut c = l.kept();
            l.transform.similarity().bake(&mut c);
            c
        };
        let target = bake(&layers[t]);
        let mut sources: Option<GaussianCloud> = None;
        for l in layers.iter().filter(|l| l.role == Role::Source) {
            let c = with_sh_degree(&bake(l), target.sh_degree);
            match &mut sources {
                Some(s) => s.append(&c),
                None => sources = Some(c),
            }
        }
        let Some(sources) = sources else { return Vec::new() };
        let (lo, hi) = match (target.bounds(), sources.bounds()) {
            (Some((a, b)), Some((c, d))) => (a.min(c), b.max(d)),
            _ => return Vec::new(),
        };
        let b = &self.doc.blend;
        let params = splatstitch_stitch::BoundaryParams { k: b.k, beta: b.beta, tau: b.tau };
        let found = splatstitch_stitch::find_boundary(&target, &sources, params, (hi - lo).length());
        found.members.iter().map(|&m| glam::Vec3::from(target.positions[m as usize])).collect()
    }
}
