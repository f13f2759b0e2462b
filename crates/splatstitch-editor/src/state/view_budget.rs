//! Drawing big scenes while the camera moves: a budgeted subset of the visible Gaussians (the
//! ones that matter most to the image: opaque and large, chosen once per scene) at reduced
//! resolution while moving, the full scene once it stops (issue 15).

use super::EditorState;
use splatstitch_core::cloud::sigmoid;
use splatstitch_core::{GaussianCloud, LayerFlags, Similarity};
use splatstitch_render::RenderLayer;
use std::sync::Arc;

/// How the viewport draws while the camera moves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoveBudget {
    /// At most this many Gaussians while moving (0: always the whole scene).
    pub gaussians: usize,
    /// Draw at this fraction of the viewport's resolution while moving when a full frame takes
    /// longer than `slow_ms`.
    pub resolution: f32,
    pub slow_ms: f32,
}

impl Default for MoveBudget {
    fn default() -> Self {
        MoveBudget { gaussians: 100_000, resolution: 0.35, slow_ms: 60.0 }
    }
}

/// How important each Gaussian is to an image from anywhere: its opacity times its footprint
/// (the product of its two largest axes).
pub fn importance(cloud: &GaussianCloud) -> Vec<f32> {
    (0..cloud.len())
        .map(|i| {
            let mut s = cloud.log_scales[i];
            s.sort_by(f32::total_cmp);
            let area = (s[1] + s[2]).exp();
            let w = sigmoid(cloud.opacities[i]) * area;
            if w.is_finite() { w } else { 0.0 }
        })
        .collect()
}

/// The `budget` most important live Gaussians over all `layers` (cloud, flags), as sorted index
/// lists per layer.
pub fn choose(layers: &[(&GaussianCloud, &[LayerFlags])], budget: usize) -> Vec<Vec<u32>> {
    let mut all: Vec<(f32, u32, u32)> = Vec::new();
    for (li, (cloud, flags)) in layers.iter().enumerate() {
        let imp = importance(cloud);
        let live = |i: usize| flags.get(i).is_none_or(|f| !f.has(LayerFlags::HIDDEN) && !f.has(LayerFlags::DELETED));
        all.extend((0..cloud.len()).filter(|&i| live(i)).map(|i| (imp[i], li as u32, i as u32)));
    }
    if all.len() > budget && budget > 0 {
        all.select_nth_unstable_by(budget - 1, |a, b| b.0.total_cmp(&a.0));
        all.truncate(budget);
    }
    let mut out = vec![Vec::new(); layers.len()];
    for (_, li, i) in all {
        out[li as usize].push(i);
    }
    out.iter_mut().for_each(|v| v.sort_unstable());
    out
}

/// The subset for one layer, ready to draw.
struct Proxy {
    cloud: GaussianCloud,
    flags: Vec<LayerFlags>,
    transform: Similarity,
}

/// Subsets of the visible layers, and what they were chosen from (cloud and flags identities).
#[derive(Default)]
pub(super) struct ProxyCache {
    key: Vec<(usize, usize)>,
    budget: usize,
    proxies: Vec<Proxy>,
    pub(super) drawn: usize,
    pub(super) total: usize,
}

impl EditorState {
    /// Gaussians in visible layers (hidden and deleted ones counted too; the renderer skips them).
    pub fn visible_gaussians(&self) -> usize {
        self.doc.layers.iter().filter(|l| l.visible).map(|l| l.len()).sum()
    }

    /// Gaussians in the last subset drawn while moving, and in the scene it was chosen from.
    pub fn move_subset(&self) -> (usize, usize) {
        (self.proxy.drawn, self.proxy.total)
    }

    /// Whether moving needs a subset: more visible Gaussians than the budget.
    pub fn over_move_budget(&self) -> bool {
        self.move_budget.gaussians > 0 && self.visible_gaussians() > self.move_budget.gaussians
    }

    /// The layers to draw while moving: the budgeted subset (chosen once per scene; a new
    /// choice when a cloud, its flags or a visibility changes).
    pub fn moving_layers(&mut self) -> Vec<RenderLayer<'_>> {
        let visible: Vec<&crate::document::DocLayer> = self.doc.layers.iter().filter(|l| l.visible).collect();
        let key: Vec<(usize, usize)> =
            visible.iter().map(|l| (Arc::as_ptr(&l.cloud) as usize, Arc::as_ptr(&l.flags) as usize)).collect();
        let budget = self.move_budget.gaussians;
        if self.proxy.key != key || self.proxy.budget != budget {
            let inputs: Vec<(&GaussianCloud, &[LayerFlags])> =
                visible.iter().map(|l| (&*l.cloud, l.flags.as_slice())).collect();
            let chosen = choose(&inputs, budget);
            let proxies: Vec<Proxy> = visible
                .iter()
                .zip(&chosen)
                .map(|(l, idx)| {
                    let mut mask = vec![false; l.len()];
                    idx.iter().for_each(|&i| mask[i as usize] = true);
                    Proxy {
                        cloud: l.cloud.select(&mask),
                        flags: idx.iter().map(|&i| l.flags[i as usize]).collect(),
                        transform: l.transform.similarity(),
                    }
                })
                .collect();
            self.proxy = ProxyCache {
                key,
                budget,
                drawn: chosen.iter().map(Vec::len).sum(),
                total: visible.iter().map(|l| l.len()).sum(),
                proxies,
            };
        }
        // Transforms may change without a new choice (a gizmo drag moves the subset too).
        let transforms: Vec<Similarity> = visible.iter().map(|l| l.transform.similarity()).collect();
        for (p, t) in self.proxy.proxies.iter_mut().zip(transforms) {
            p.transform = t;
        }
        self.proxy
            .proxies
            .iter()
            .map(|p| RenderLayer { cloud: &p.cloud, transform: p.transform, flags: Some(&p.flags) })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_keeps_the_most_opaque_and_largest_and_skips_deleted_ones() {
        let mut c = GaussianCloud::with_len(6, 0);
        c.opacities = vec![4.0, -4.0, 4.0, 4.0, 0.0, 4.0];
        for (i, s) in c.log_scales.iter_mut().enumerate() {
            *s = [-3.0, -2.0 + i as f32 * 0.1, -2.0];
        }
        let mut flags = vec![LayerFlags::default(); 6];
        flags[5].set(LayerFlags::DELETED, true);
        let chosen = choose(&[(&c, &flags)], 3);
        assert_eq!(chosen, vec![vec![0, 2, 3]], "opaque ones, largest first; the deleted one never");
        let everything = choose(&[(&c, &flags), (&c, &[])], 100);
        assert_eq!(everything.iter().map(Vec::len).sum::<usize>(), 5 + 6);
    }
}
