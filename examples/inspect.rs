//! Using the core library directly: load a capture, place it, bake it, save it.
//!
//! `cargo run --release --example inspect -- assets/fruit_drops_5k_sh3.ply /tmp/placed.ply`

use splatstitch_core::formats::{self, LoadOptions, SaveOptions};
use splatstitch_core::stats::CloudStats;
use splatstitch_core::{Layer, Scene, Similarity};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1).map(PathBuf::from);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: inspect INPUT OUTPUT");
    };
    let loaded = formats::load(&input, &LoadOptions::default())?;
    println!("{:#?}", CloudStats::of(&loaded.cloud));
    // Two copies of the capture side by side, the second turned half round and halved.
    let mut right = Layer::new("right", loaded.cloud.clone());
    right.transform = Similarity::from_scale_euler_translation(0.5, [0.0, 180.0, 0.0], [1.0, 0.0, 0.0]);
    let scene = Scene { layers: vec![Layer::new("left", loaded.cloud), right] };
    let composite = scene.baked_composite();
    formats::save(&output, &composite, &SaveOptions::default())?;
    println!("wrote {} Gaussians to {}", composite.len(), output.display());
    Ok(())
}
