//! `splatstitch bench selection`: the editor's selection tools and the seam search at the sizes
//! of issue 6's goals, each beside a baseline pass over the same data (one parallel read of the
//! centres) so the figure survives a noisy machine.

use super::{BenchArgs, best, generated_cloud};
use glam::{Vec2, Vec3};
use rayon::prelude::*;
use splatstitch_core::Similarity;
use splatstitch_editor::selection::{KnnGraph, brush, lasso, project, rectangle};
use splatstitch_render::Camera;
use splatstitch_stitch::boundary::{BoundaryParams, find_boundary};

pub fn run(a: &BenchArgs) -> anyhow::Result<()> {
    let n = a.render_generated.first().copied().unwrap_or(1_000_000);
    let cloud = generated_cloud(n, 0);
    let t = Similarity::IDENTITY;
    let cam = Camera::new(1280, 720, 900.0, 900.0, 640.0, 360.0).looking_at(
        Vec3::new(0.5, 0.5, -2.5),
        Vec3::splat(0.5),
        Vec3::NEG_Y,
    )?;
    let baseline = best(a.repeat, || Ok(cloud.positions.par_iter().map(|p| p[0] + p[1] + p[2]).sum::<f32>()))?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!("{n} Gaussians; baseline (one parallel pass over the centres): {:.1} ms", ms(baseline));
    let proj = best(a.repeat, || Ok(project(&cloud, &t, &cam)))?;
    let p = project(&cloud, &t, &cam);
    let rect = best(a.repeat, || Ok(rectangle(&p, Vec2::new(300.0, 200.0), Vec2::new(900.0, 500.0))))?;
    let polygon: Vec<Vec2> = (0..64)
        .map(|i| {
            let a = i as f32 / 64.0 * std::f32::consts::TAU;
            Vec2::new(640.0 + 300.0 * a.cos(), 360.0 + 200.0 * a.sin() * (1.0 + 0.3 * (3.0 * a).sin()))
        })
        .collect();
    let las = best(a.repeat, || Ok(lasso(&p, &polygon)))?;
    let stroke: Vec<Vec2> = (0..40).map(|i| Vec2::new(300.0 + i as f32 * 15.0, 360.0)).collect();
    let bru = best(a.repeat, || Ok(brush(&p, &stroke, 20.0)))?;
    println!(
        "projection {:.1} ms; + rectangle {:.1} ms, lasso (64 points) {:.1} ms, brush (40 dabs) {:.1} ms  (goal ≤ 50 ms with projection)",
        ms(proj),
        ms(rect),
        ms(las),
        ms(bru)
    );
    let m = 200_000.min(n);
    let small = generated_cloud(m, 0);
    let graph_time = best(1, || Ok(KnnGraph::new(&small, 8)))?;
    let graph = KnnGraph::new(&small, 8);
    let region = best(a.repeat, || Ok(graph.connected_region(&small, 0, 0.05, 2.0)))?;
    let size = graph.connected_region(&small, 0, 0.05, 2.0).iter().filter(|b| **b).count();
    println!(
        "{m} Gaussians: KNN graph (K = 8, once per layer) {:.0} ms; connected region {:.1} ms, {size} reached (goal ≤ 300 ms)",
        ms(graph_time),
        ms(region)
    );
    let mut other = generated_cloud(m, 0);
    for p in &mut other.positions {
        p[0] += 0.9;
    }
    let seam = best(a.repeat.min(3), || {
        Ok(find_boundary(&small, &other, BoundaryParams { k: 16, beta: 0.05, tau: 0.0 }, 3f32.sqrt()))
    })?;
    let b = find_boundary(&small, &other, BoundaryParams { k: 16, beta: 0.05, tau: 0.0 }, 3f32.sqrt());
    println!("boundary {m} × {m} (K = 16, β = 0.05): {:.0} ms, |∂B| = {} (goal ≤ 1 s)", ms(seam), b.len());
    Ok(())
}
