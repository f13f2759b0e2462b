//! The real editor window under Xvfb on the software Vulkan driver: it opens the demo, draws
//! splats, and a screenshot of the screen shows them (README: "Screenshots of the editor").
//! Also: without a display the editor says so in one line and exits with code 2.

mod common;

use common::bin;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn tool(name: &str) -> bool {
    Command::new("which").arg(name).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

#[test]
fn without_a_display_the_editor_points_at_the_headless_commands() {
    let o = bin().env_remove("DISPLAY").env_remove("WAYLAND_DISPLAY").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("no display") && err.contains("splatstitch stitch"), "{err}");
}

/// On lavapipe the viewport uses the CPU twin by default (faster there); the GPU rasterizer's
/// viewport path is checked too.
#[test]
fn the_window_draws_the_demo_splats() {
    for viewport in ["auto", "gpu"] {
        window_draws_splats(viewport);
    }
}

fn window_draws_splats(viewport: &str) {
    use splatstitch_core::test_data::{SKIP_GPU, skip};
    if let Some(t) = ["Xvfb", "import"].into_iter().find(|t| !tool(t)) {
        return skip(SKIP_GPU, &format!("`{t}` is missing: apt-get install xvfb imagemagick"));
    }
    if let Err(e) = splatstitch_render::gpu::GpuContext::headless() {
        return skip(SKIP_GPU, &e.to_string());
    }
    let display = format!(":{}", 90 + std::process::id() % 100);
    let mut xvfb = Command::new("Xvfb")
        .args([display.as_str(), "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let dir = tempfile::tempdir().unwrap();
    let mut editor = bin()
        .args(["open", "--viewport", viewport])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("DISPLAY", &display)
        .env("SPLATSTITCH_RECOVERY_DIR", dir.path())
        .env("XDG_RUNTIME_DIR", dir.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = editor.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    let mut log = Vec::new();
    let drawn = loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) if l.contains("splats drawn") => break true,
            Ok(l) => log.push(l),
            Err(_) if start.elapsed() > Duration::from_secs(120) => break false,
            Err(_) => {}
        }
        if let Ok(Some(status)) = editor.try_wait() {
            panic!("the editor exited ({status}) before drawing: {log:#?}");
        }
    };
    assert!(drawn, "no frame with splats within 120 s: {log:#?}");
    std::thread::sleep(Duration::from_millis(1500));
    let shot = dir.path().join("editor.png");
    let ok = Command::new("import").args(["-display", &display, "-window", "root"]).arg(&shot).status().unwrap();
    let _ = editor.kill();
    let _ = editor.wait();
    let _ = xvfb.kill();
    let _ = xvfb.wait();
    assert!(ok.success(), "import failed");
    let img = image::open(&shot).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (1280, 800));
    // The viewport is the middle of the window: count pixels far from its grey background.
    let (mut colourful, mut total) = (0usize, 0usize);
    for y in 200..600 {
        for x in 400..880 {
            let p = img.get_pixel(x, y).0;
            let bg = (0.12f32 * 255.0) as i32;
            let d = p.iter().map(|&c| (c as i32 - bg).abs()).max().unwrap();
            colourful += (d > 40) as usize;
            total += 1;
        }
    }
    let share = colourful as f64 / total as f64;
    assert!(share > 0.05, "{viewport}: only {:.1} % of the viewport differs from the background", share * 100.0);
}
