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
    /// The whole window's frame time to keep to while moving: the subset halves (down to
    /// [`MIN_MOVING`]) while frames take longer, and doubles back while there is room (0: the
    /// subset stays at `gaussians`).
    pub target_ms: f32,
}

impl Default for MoveBudget {
    fn default() -> Self {
        MoveBudget { gaussians: 100_000, resolution: 0.35, slow_ms: 60.0, target_ms: 90.0 }
    }
}

/// The smallest subset the frame-time target may shrink to.
pub const MIN_MOVING: usize = 5_000;

/// The subset sizes the target chooses among: the budget, then halvings down to [`MIN_MOVING`].
pub fn levels(budget: usize) -> Vec<usize> {
    let mut out = vec![budget];
    while out.last().is_some_and(|&n| n / 2 >= MIN_MOVING) {
        out.push(out.last().unwrap() / 2);
    }
    out
}

/// The level (index into [`levels`]) of the next moving frame, from the last one's: `viewport_ms`
/// drawing the splats, `frame_ms` the whole window (UI, splats, drawing and presenting it). The
/// rest of the frame does not shrink with the subset, so the splats get what the target leaves
/// of it; a level down halves their cost, so a frame over budget drops as many levels as it
/// needs, and one with room for twice the splats climbs one.
pub fn next_level(level: usize, count: usize, viewport_ms: f32, frame_ms: f32, target_ms: f32) -> usize {
    let last = count.saturating_sub(1);
    if target_ms <= 0.0 || frame_ms <= 0.0 || viewport_ms <= 0.0 {
        return level.min(last);
    }
    let room = target_ms - (frame_ms - viewport_ms).max(0.0);
    if room <= 0.0 {
        return last;
    }
    let ratio = viewport_ms / room;
    if ratio > 1.0 {
        (level + ratio.log2().ceil() as usize).min(last)
    } else if ratio < 0.4 {
        level.saturating_sub(1).min(last)
    } else {
        level.min(last)
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
#[cfg(test)]
pub fn choose(layers: &[(&GaussianCloud, &[LayerFlags])], budget: usize) -> Vec<Vec<u32>> {
    choose_levels(layers, &[budget]).remove(0)
}

/// [`choose`] for each of `sizes` (largest first) at once: each a prefix of one ranking, so a
/// smaller level holds the most important of the larger one's Gaussians.
pub fn choose_levels(layers: &[(&GaussianCloud, &[LayerFlags])], sizes: &[usize]) -> Vec<Vec<Vec<u32>>> {
    let mut all: Vec<(f32, u32, u32)> = Vec::new();
    for (li, (cloud, flags)) in layers.iter().enumerate() {
        let imp = importance(cloud);
        let live = |i: usize| flags.get(i).is_none_or(|f| !f.has(LayerFlags::HIDDEN) && !f.has(LayerFlags::DELETED));
        all.extend((0..cloud.len()).filter(|&i| live(i)).map(|i| (imp[i], li as u32, i as u32)));
    }
    let budget = sizes.first().copied().unwrap_or(0);
    if all.len() > budget && budget > 0 {
        all.select_nth_unstable_by(budget - 1, |a, b| b.0.total_cmp(&a.0));
        all.truncate(budget);
    }
    if sizes.len() > 1 {
        all.sort_unstable_by(|a, b| b.0.total_cmp(&a.0));
    }
    sizes
        .iter()
        .map(|&n| {
            let mut out = vec![Vec::new(); layers.len()];
            for &(_, li, i) in &all[..if n == 0 { all.len() } else { n.min(all.len()) }] {
                out[li as usize].push(i);
            }
            out.iter_mut().for_each(|v| v.sort_unstable());
            out
        })
        .collect()
}

/// The subset for one layer, ready to draw.
struct Proxy {
    cloud: GaussianCloud,
    flags: Vec<LayerFlags>,
    transform: Similarity,
}

/// Subsets of the visible layers at each level, what they were chosen from (cloud and flags
/// identities), and the level the frame-time target picked.
#[derive(Default)]
pub(super) struct ProxyCache {
    key: Vec<(usize, usize)>,
    budget: usize,
    adaptive: bool,
    levels: Vec<Vec<Proxy>>,
    pub(super) level: usize,
    pub(super) drawn: usize,
    pub(super) total: usize,
}

impl EditorState {
    /// Gaussians in visible layers (hidden and deleted ones counted too; the renderer skips them).
    pub fn visible_gaussians(&self) -> usize {
        self.doc.layers.iter().filter(|l| l.visible).map(|l| l.len()).sum()
    }

    /// The subset level the frame-time target chose (0: the whole budget), part of what the
    /// viewport draws.
    pub fn move_level(&self) -> usize {
        self.proxy.level
    }

    /// Gaussians in the last subset drawn while moving, and in the scene it was chosen from.
    pub fn move_subset(&self) -> (usize, usize) {
        (self.proxy.drawn, self.proxy.total)
    }

    /// Whether moving draws a subset: more visible Gaussians than the budget, or, with a
    /// frame-time target, more than the smallest subset (a scene under the budget can still be
    /// too slow to move at the target; its first level is all of it).
    pub fn over_move_budget(&self) -> bool {
        let b = &self.move_budget;
        let visible = self.visible_gaussians();
        b.gaussians > 0 && (visible > b.gaussians || (b.target_ms > 0.0 && visible > MIN_MOVING))
    }

    /// After a moving frame: the level of the next one, from how long this one took (the splats
    /// `viewport_ms`, the whole window the frame before, [`EditorState::window_frame_ms`]).
    pub fn adapt_move_budget(&mut self, viewport_ms: f32) {
        let count = self.proxy.levels.len().max(1);
        self.proxy.level =
            next_level(self.proxy.level, count, viewport_ms, self.window_frame_ms, self.move_budget.target_ms);
    }

    /// The layers to draw while moving: the budgeted subset at the level the frame-time target
    /// chose (chosen once per scene; a new choice when a cloud, its flags or a visibility changes).
    pub fn moving_layers(&mut self) -> Vec<RenderLayer<'_>> {
        let visible: Vec<&crate::document::DocLayer> = self.doc.layers.iter().filter(|l| l.visible).collect();
        let key: Vec<(usize, usize)> =
            visible.iter().map(|l| (Arc::as_ptr(&l.cloud) as usize, Arc::as_ptr(&l.flags) as usize)).collect();
        let budget = self.move_budget.gaussians;
        let adaptive = self.move_budget.target_ms > 0.0;
        if self.proxy.key != key || self.proxy.budget != budget || self.proxy.adaptive != adaptive {
            let inputs: Vec<(&GaussianCloud, &[LayerFlags])> =
                visible.iter().map(|l| (&*l.cloud, l.flags.as_slice())).collect();
            let live: usize = visible.iter().map(|l| l.len()).sum();
            let sizes = if adaptive { levels(budget.min(live)) } else { vec![budget] };
            let chosen = choose_levels(&inputs, &sizes);
            // The first level is cut from the layers; each smaller one from the first (a subset
            // of it, so a pass over the budget instead of over the whole scene).
            let first: Vec<Proxy> = visible
                .iter()
                .zip(&chosen[0])
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
            let smaller: Vec<Vec<Proxy>> = chosen[1..]
                .iter()
                .map(|level| {
                    first
                        .iter()
                        .zip(chosen[0].iter().zip(level))
                        .map(|(p, (all, some))| {
                            // Both index lists are sorted: mark the first level's entries kept.
                            let mut keep = some.iter().peekable();
                            let mask: Vec<bool> = all.iter().map(|i| keep.next_if(|&&k| k == *i).is_some()).collect();
                            let flags = p.flags.iter().zip(&mask).filter(|(_, m)| **m).map(|(f, _)| *f).collect();
                            Proxy { cloud: p.cloud.select(&mask), flags, transform: p.transform }
                        })
                        .collect()
                })
                .collect();
            let levels: Vec<Vec<Proxy>> = std::iter::once(first).chain(smaller).collect();
            self.proxy = ProxyCache {
                key,
                budget,
                adaptive,
                level: self.proxy.level.min(levels.len() - 1),
                drawn: 0,
                total: visible.iter().map(|l| l.len()).sum(),
                levels,
            };
        }
        let proxies = &mut self.proxy.levels[self.proxy.level];
        self.proxy.drawn = proxies.iter().map(|p| p.cloud.len()).sum();
        // Transforms may change without a new choice (a gizmo drag moves the subset too).
        let transforms: Vec<Similarity> = visible.iter().map(|l| l.transform.similarity()).collect();
        for (p, t) in proxies.iter_mut().zip(transforms) {
            p.transform = t;
        }
        proxies.iter().map(|p| RenderLayer { cloud: &p.cloud, transform: p.transform, flags: Some(&p.flags) }).collect()
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
        let nested = choose_levels(&[(&c, &flags)], &[4, 2]);
        assert_eq!(nested[0], vec![vec![0, 2, 3, 4]]);
        assert_eq!(nested[1], vec![vec![2, 3]], "a smaller level keeps the most important of the larger");
    }

    #[test]
    fn levels_halve_down_to_the_floor() {
        assert_eq!(levels(100_000), vec![100_000, 50_000, 25_000, 12_500, 6_250]);
        assert_eq!(levels(3_000), vec![3_000]);
    }

    #[test]
    fn the_frame_time_target_moves_the_level_by_what_the_splats_cost() {
        // 72 ms of the frame is the rest of the window; 52 ms of splats where 18 ms are left of
        // 90: nearly three times too much, so two levels down.
        assert_eq!(next_level(0, 5, 52.0, 124.0, 90.0), 2);
        // 13 ms in a frame of 80 ms: room for 23 ms, not for twice 13, so it stays.
        assert_eq!(next_level(2, 5, 13.0, 80.0, 90.0), 2);
        // 5 ms where 30 ms are free: one level up.
        assert_eq!(next_level(2, 5, 5.0, 65.0, 90.0), 1);
        // The window alone is over the target: the smallest subset.
        assert_eq!(next_level(0, 5, 10.0, 120.0, 90.0), 4);
        // No target, or nothing measured yet: unchanged.
        assert_eq!(next_level(1, 5, 52.0, 124.0, 0.0), 1);
        assert_eq!(next_level(1, 5, 52.0, 0.0, 90.0), 1);
        assert_eq!(next_level(3, 1, 5.0, 10.0, 90.0), 0, "one level only");
    }
}
