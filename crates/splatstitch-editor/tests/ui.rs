//! The editor's UI driven through egui_kittest (accessibility tree, simulated input), with the
//! CPU renderer behind the viewport: open the demo, transform a layer by typing, undo and redo
//! from the keyboard, save, reopen, export, and recover an autosaved session.

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use splatstitch_core::formats::{self, LoadOptions};
use splatstitch_editor::autosave::Autosave;
use splatstitch_editor::viewport::CpuViewport;
use splatstitch_editor::{Document, EditorApp};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct State {
    app: EditorApp,
    viewport: CpuViewport,
}

fn demo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets/demo.toml")
}

/// The demo with its flowers layer selected, then the button `label` clicked.
fn demo_on_flowers(label: &str) -> Harness<'static, State> {
    let mut h = open(&demo(), None);
    h.get_by_label("flowers").click();
    h.run_steps(2);
    h.get_by_label(label).click();
    h.run_steps(2);
    h
}

fn harness(app: EditorApp) -> Harness<'static, State> {
    Harness::builder().with_size([1100.0, 700.0]).build_ui_state(
        |ui, s: &mut State| s.app.ui(ui, &mut s.viewport),
        State { app, viewport: CpuViewport::default() },
    )
}

/// Steps until background loading is done.
fn wait_idle(h: &mut Harness<'static, State>) {
    let start = Instant::now();
    loop {
        h.step();
        if h.state().app.state.is_idle() {
            h.run_steps(3);
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "loading did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn open(path: &Path, autosave: Option<Autosave>) -> Harness<'static, State> {
    let mut app = EditorApp::new(Document::default(), autosave);
    app.state.add_files(vec![path.to_path_buf()]);
    let mut h = harness(app);
    wait_idle(&mut h);
    h
}

/// Presses the primary button at the first of `points` and moves through the rest, holding.
fn hold(h: &mut Harness<'static, State>, points: &[egui::Pos2]) {
    h.hover_at(points[0]);
    h.run_steps(1);
    h.drag_at(points[0]);
    h.run_steps(1);
    for p in &points[1..] {
        h.hover_at(*p);
        h.run_steps(1);
    }
}

/// A primary-button gesture through `points` as a mouse makes it: press at the first, move
/// through the rest, release at the last (one point: a click).
fn gesture(h: &mut Harness<'static, State>, points: &[egui::Pos2]) {
    hold(h, points);
    h.drop_at(*points.last().expect("at least one point"));
    h.run_steps(3);
}

/// Clicks a widget of the (scrolling) properties panel after scrolling it into view.
fn click_panel(h: &mut Harness<'static, State>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    // Let the scroll animation settle before clicking where the widget now is.
    h.run_steps(30);
    h.get_by_label(label).click();
    h.run_steps(1);
}

/// Types `text` into the text field labelled `label` and commits it with Enter.
fn type_into(h: &mut Harness<'static, State>, label: &str, text: &str) {
    h.get_by_role_and_label(Role::TextInput, label).click();
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(Role::TextInput, label).type_text(text);
    h.run_steps(1);
    h.key_press(egui::Key::Enter);
    h.run_steps(3);
}

#[test]
fn demo_opens_with_its_layers_and_draws() {
    let h = open(&demo(), None);
    let app = &h.state().app;
    assert_eq!(app.state.doc.layers.len(), 2);
    assert!(app.state.first_frame.is_some(), "the viewport drew a frame");
    h.get_by_label("flowers");
    h.get_by_label("fruit");
    h.get_by_label_contains("31616 Gaussians");
}

#[test]
fn transform_by_typing_then_undo_redo_from_the_keyboard() {
    let mut h = open(&demo(), None);
    h.get_by_label("fruit").click();
    h.run_steps(2);
    assert_eq!(h.state().app.state.selected, Some(1));
    type_into(&mut h, "translate x", "0.5");
    assert_eq!(h.state().app.state.doc.layers[1].transform.translate[0], 0.5);
    type_into(&mut h, "scale", "2");
    assert_eq!(h.state().app.state.doc.layers[1].transform.scale, 2.0);
    // A bad number is refused and said so; nothing changes.
    type_into(&mut h, "scale", "-1");
    assert_eq!(h.state().app.state.doc.layers[1].transform.scale, 2.0);
    assert!(h.state().app.state.status.contains("not a valid number"), "{}", h.state().app.state.status);

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[1].transform.scale, 1.0);
    assert_eq!(h.state().app.state.doc.layers[1].transform.translate[0], 0.5);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[1].transform.translate[0], -0.29);
    h.key_press_modifiers(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[1].transform.translate[0], 0.5);
    h.get_by_label("(undone) transform fruit");
}

#[test]
fn save_reopen_and_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = open(&demo(), None);
    h.get_by_label("fruit").click();
    h.run_steps(2);
    type_into(&mut h, "rotate z", "30");
    type_into(&mut h, "name", "fruit bowl");
    assert_eq!(h.state().app.state.doc.layers[1].name, "fruit bowl");

    let job = dir.path().join("scene.toml");
    assert!(h.state_mut().app.state.save_job(Some(job.clone())));
    assert!(!h.state().app.state.has_unsaved_changes());
    // The saved job is a valid headless job.
    splatstitch_stitch::Job::load(&job).unwrap();

    let h2 = open(&job, None);
    let a = h.state().app.state.doc.clone();
    let b = &h2.state().app.state.doc;
    assert_eq!(b.layers.len(), 2);
    assert_eq!(b.layers[1].name, "fruit bowl");
    assert_eq!(b.layers[1].transform, a.layers[1].transform);
    assert_eq!(b.blend, a.blend);

    let out = dir.path().join("composite.ply");
    assert!(h.state_mut().app.state.export(&out));
    let cloud = formats::load(&out, &LoadOptions::default()).unwrap().cloud;
    assert_eq!(cloud.len(), 26895 + 4721);
    let mut fruit = (*a.layers[1].cloud).clone();
    a.layers[1].transform.similarity().bake(&mut fruit);
    assert_eq!(cloud.positions[26895..], fruit.positions[..], "export holds the baked transform");
    // Never over an input capture.
    let input = a.layers[0].file.clone();
    assert!(!h.state_mut().app.state.export(&input));
    assert!(h.state().app.state.error.as_ref().unwrap().contains("input capture"));
}

#[test]
fn autosave_is_offered_back_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let recovery = dir.path().join("recovery.toml");
    let mut h = open(&demo(), Some(Autosave::new(recovery.clone())));
    h.get_by_label("fruit").click();
    h.run_steps(2);
    type_into(&mut h, "translate y", "0.25");
    assert_eq!(h.state_mut().app.state.autosave_now(), Ok(true));
    assert!(recovery.is_file());
    drop(h); // a crash: no on_exit, the recovery file stays

    let mut h = harness(EditorApp::new(Document::default(), Some(Autosave::new(recovery.clone()))));
    h.run_steps(2);
    h.get_by_label("Recover").click();
    wait_idle(&mut h);
    let app = &h.state().app;
    assert_eq!(app.state.doc.layers.len(), 2);
    assert_eq!(app.state.doc.layers[1].transform.translate[1], 0.25);
    assert!(app.state.doc.path.is_none(), "a recovered session is saved under a new name");
    h.state_mut().app.state.on_exit();
    assert!(!recovery.exists(), "a clean exit removes the recovery file");
}

#[test]
fn rectangle_select_delete_undo_and_export_without_deleted() {
    use splatstitch_core::LayerFlags;
    use splatstitch_editor::selection::{project, rectangle};
    let dir = tempfile::tempdir().unwrap();
    let mut h = demo_on_flowers("Rectangle select (B)");
    // Drag over the middle of the viewport, in steps, as a mouse would.
    let (a, b) = (egui::pos2(400.0, 250.0), egui::pos2(700.0, 450.0));
    let path: Vec<egui::Pos2> = (0..=4).map(|t| a + (b - a) * t as f32 / 4.0).collect();
    gesture(&mut h, &path);
    let app = &h.state().app;
    let selected = app.state.doc.layers[0].count(LayerFlags::SELECTED);
    // The same rectangle computed directly from the camera the viewport used.
    let [w, hgt] = app.state.viewport_size;
    let cam = app.state.camera.to_camera(w, hgt).unwrap();
    let layer = &app.state.doc.layers[0];
    let p = project(&layer.cloud, &layer.transform.similarity(), &cam);
    let (o, ppp) = (app.state.viewport_rect.min, h.ctx.pixels_per_point());
    let px = |q: egui::Pos2| glam::Vec2::new(q.x - o.x, q.y - o.y) * ppp;
    let expected = rectangle(&p, px(a), px(b)).iter().filter(|x| **x).count();
    assert!(selected > 100, "a real part of the flowers was selected ({selected})");
    assert_eq!(selected, expected, "the same as a direct rectangle test with the viewport's camera");

    h.get_by_label("Delete selected").click();
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[0].count(LayerFlags::DELETED), selected);
    let out = dir.path().join("cut.ply");
    assert!(h.state_mut().app.state.export(&out));
    let n = formats::load(&out, &LoadOptions::default()).unwrap().cloud.len();
    assert_eq!(n, 26895 + 4721 - selected);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[0].count(LayerFlags::DELETED), 0);
    assert_eq!(h.state().app.state.doc.layers[0].count(LayerFlags::SELECTED), selected, "undo restores the selection");
}

#[test]
fn lasso_grow_shrink_and_connected_region_pick() {
    use splatstitch_core::LayerFlags;
    use splatstitch_editor::selection::{lasso, project};
    let mut h = demo_on_flowers("Lasso");
    let pts = [egui::pos2(450.0, 250.0), egui::pos2(650.0, 260.0), egui::pos2(600.0, 450.0), egui::pos2(430.0, 400.0)];
    gesture(&mut h, &pts);
    let app = &h.state().app;
    let selected = app.state.doc.layers[0].count(LayerFlags::SELECTED);
    let [w, hh] = app.state.viewport_size;
    let cam = app.state.camera.to_camera(w, hh).unwrap();
    let l = &app.state.doc.layers[0];
    let p = project(&l.cloud, &l.transform.similarity(), &cam);
    let (o, ppp) = (app.state.viewport_rect.min, h.ctx.pixels_per_point());
    let poly: Vec<glam::Vec2> = pts.iter().map(|q| glam::Vec2::new(q.x - o.x, q.y - o.y) * ppp).collect();
    let expected = lasso(&p, &poly).iter().filter(|x| **x).count();
    assert!(selected > 100);
    assert_eq!(selected, expected, "lasso = direct polygon test with the viewport's camera");

    h.get_by_label("Grow").click();
    h.run_steps(2);
    let grown = h.state().app.state.doc.layers[0].count(LayerFlags::SELECTED);
    assert!(grown > selected, "{grown} > {selected}");
    h.get_by_label("Shrink").click();
    h.run_steps(2);
    assert!(h.state().app.state.doc.layers[0].count(LayerFlags::SELECTED) < grown);

    // Pick: a click in the middle of the flowers floods a connected part of them.
    h.get_by_label("Pick").click();
    h.run_steps(2);
    let centre = h.state().app.state.viewport_rect.center();
    gesture(&mut h, &[centre]);
    let picked = h.state().app.state.doc.layers[0].count(LayerFlags::SELECTED);
    assert!(picked > 0 && picked < 26895, "connected region picked {picked}");
}

#[test]
fn stitch_panel_runs_a_tiny_job_and_cancels_a_long_one() {
    let mut h = open(&demo(), None);
    {
        let b = &mut h.state_mut().app.state.doc.blend;
        b.iterations = 20;
        b.views = 2;
        b.resolution = 32;
        b.validation_views = 2;
        // The panel's mechanics, whatever the validation views would keep.
        b.keep_best = false;
    }
    let before = h.state().app.state.doc.layers[1].cloud.sh.clone();
    let geometry = {
        let c = &h.state().app.state.doc.layers[1].cloud;
        (c.positions.clone(), c.log_scales.clone(), c.rotations.clone(), c.opacities.clone())
    };
    click_panel(&mut h, "Run stitch");
    h.run_steps(1);
    wait_idle(&mut h);
    let app = &h.state().app;
    assert!(app.state.error.is_none(), "{:?}", app.state.error);
    let last = app.state.last_stitch.as_ref().unwrap_or_else(|| panic!("no stitch; status: {}", app.state.status));
    assert!(last.report.boundary > 0);
    assert_ne!(app.state.doc.layers[1].cloud.sh, before, "the target got new colours");
    let c = &app.state.doc.layers[1].cloud;
    assert!(
        (&c.positions, &c.log_scales, &c.rotations, &c.opacities)
            == (&geometry.0, &geometry.1, &geometry.2, &geometry.3),
        "the stitch leaves the target's geometry alone"
    );
    click_panel(&mut h, "Before");
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[1].cloud.sh, before, "before/after toggle");
    click_panel(&mut h, "After");
    h.run_steps(2);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[1].cloud.sh, before, "the stitch is one undo step");

    // The seam colour transfer is on by default; the demo's two captures touch without sharing
    // any surface, so nothing could be fitted, and the panel says why (the CLI test covers a
    // fitted one).
    assert!(h.state().app.state.doc.blend.seam_transfer);
    let transfer = &h.state().app.state.last_stitch.as_ref().unwrap().report.seam_transfer;
    assert_eq!(transfer.status, splatstitch_stitch::report::TransferStatus::Skipped, "{}", transfer.reason);
    assert!(h.query_all_by_label_contains("share too little surface").next().is_some());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    click_panel(&mut h, "Match colours across the seam first");
    h.run_steps(1);
    assert!(!h.state().app.state.doc.blend.seam_transfer);
    // With the validation views deciding, a stitch that beats nothing keeps the input and says so.
    h.state_mut().app.state.doc.blend.keep_best = true;
    h.state_mut().app.state.doc.blend.iterations = 5;
    click_panel(&mut h, "Run stitch");
    h.run_steps(1);
    wait_idle(&mut h);
    let last = h.state().app.state.last_stitch.as_ref().unwrap();
    assert_eq!(last.report.seam_transfer.status, splatstitch_stitch::report::TransferStatus::Off);
    if last.report.validation.kept_input {
        assert!(h.query_all_by_label_contains("kept the input's colours").next().is_some());
    }
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);

    h.state_mut().app.state.doc.blend.iterations = 100_000;
    // No early stop: the run must still be going when the preview is looked at and cancelled.
    h.state_mut().app.state.doc.blend.patience = 0;
    click_panel(&mut h, "Run stitch");
    h.run_steps(2);
    let start = Instant::now();
    while h.query_by_label_contains("blending").is_none() {
        assert!(start.elapsed() < Duration::from_secs(60), "the run never reached the blending stage");
        std::thread::sleep(Duration::from_millis(50));
        h.step();
    }
    // Live preview: the target's colours change while the optimizer runs.
    let start = Instant::now();
    while h.state().app.state.doc.layers[1].cloud.sh == before {
        assert!(start.elapsed() < Duration::from_secs(90), "no live preview within 90 s");
        std::thread::sleep(Duration::from_millis(100));
        h.step();
    }
    click_panel(&mut h, "Cancel");
    wait_idle(&mut h);
    assert!(h.state().app.state.status.contains("cancelled"), "{}", h.state().app.state.status);
    assert_eq!(h.state().app.state.doc.layers[1].cloud.sh, before, "a cancelled run changes nothing");
}

#[test]
fn separate_selection_into_a_layer_and_save_it_as_a_job() {
    use splatstitch_core::LayerFlags;
    let dir = tempfile::tempdir().unwrap();
    let mut h = demo_on_flowers("Rectangle select (B)");
    let (a, b) = (egui::pos2(420.0, 300.0), egui::pos2(640.0, 520.0));
    gesture(&mut h, &[a, b]);
    let selected = h.state().app.state.doc.layers[0].count(LayerFlags::SELECTED);
    assert!(selected > 100, "{selected}");
    click_panel(&mut h, "Separate to layer");
    h.run_steps(2);
    let app = &h.state().app;
    assert_eq!(app.state.doc.layers.len(), 3);
    assert_eq!(app.state.doc.layers[1].len(), selected);
    assert_eq!(app.state.doc.layers[0].count(LayerFlags::DELETED), selected);

    let job = dir.path().join("parts.toml");
    assert!(h.state_mut().app.state.save_job(Some(job.clone())), "{:?}", h.state().app.state.error);
    splatstitch_stitch::Job::load(&job).unwrap();
    let h2 = open(&job, None);
    let counts: Vec<usize> = h2.state().app.state.doc.layers.iter().map(|l| l.len()).collect();
    assert_eq!(counts, vec![26895 - selected, selected, 4721], "the job holds the separated parts");
    // Saving again after reopening never writes over the layer files it reads.
    let mut h2 = h2;
    assert!(h2.state_mut().app.state.save_job(Some(dir.path().join("again.toml"))));

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers.len(), 2);
    assert_eq!(h.state().app.state.doc.layers[0].count(LayerFlags::DELETED), 0);
}

#[test]
fn box_and_sphere_volumes_select_in_world_space() {
    use splatstitch_core::LayerFlags;
    let mut h = open(&demo(), None);
    h.get_by_label("fruit").click();
    h.run_steps(2);
    click_panel(&mut h, "Box / sphere (world units)");
    h.run_steps(2);
    click_panel(&mut h, "Fit to layer");
    h.run_steps(2);
    click_panel(&mut h, "Select box");
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[1].count(LayerFlags::SELECTED), 4721, "the layer's own box holds it all");
    click_panel(&mut h, "Select sphere");
    h.run_steps(2);
    let app = &h.state().app;
    let l = &app.state.doc.layers[1];
    let st = &app.state.selection_settings;
    let expected = splatstitch_editor::selection::in_sphere(
        &l.cloud,
        &l.transform.similarity(),
        st.sphere_centre.into(),
        st.sphere_radius,
    )
    .iter()
    .filter(|x| **x)
    .count();
    assert!(expected > 0 && expected < 4721);
    assert_eq!(l.count(LayerFlags::SELECTED), expected);
}

#[test]
fn alignment_recovers_a_known_transform_from_clicked_pairs() {
    use splatstitch_editor::selection::project;
    let mut h = demo_on_flowers("Duplicate");
    // The copy (now selected) moved off by a known similarity.
    type_into(&mut h, "rotate y", "12");
    type_into(&mut h, "translate x", "0.15");
    type_into(&mut h, "scale", "1.1");
    click_panel(&mut h, "Align to another layer");
    h.run_steps(2);
    // Fixed layer: the original flowers (the combo's entry shares its label with the layer row).
    h.get_by_label("fixed layer");
    h.state_mut().app.state.align.fixed = Some(0);
    assert_eq!(h.state().app.state.selected, Some(1));
    click_panel(&mut h, "Pick point pairs");
    h.run_steps(2);
    assert_eq!(h.state().app.state.tool, splatstitch_editor::state::Tool::Align);
    // Click the same six well-spread Gaussians in both layers where the viewport shows them.
    let app = &h.state().app;
    let [w, hh] = app.state.viewport_size;
    let cam = app.state.camera.to_camera(w, hh).unwrap();
    let (o, ppp) = (app.state.viewport_rect.min, h.ctx.pixels_per_point());
    let (moving, fixed) = (&app.state.doc.layers[1], &app.state.doc.layers[0]);
    let pm = project(&moving.cloud, &moving.transform.similarity(), &cam);
    let pf = project(&fixed.cloud, &fixed.transform.similarity(), &cam);
    let n = fixed.len();
    let inside = |q: &Option<(glam::Vec2, f32)>| {
        q.is_some_and(|(q, _)| q.x > 20.0 && q.y > 20.0 && q.x < w as f32 - 20.0 && q.y < hh as f32 - 20.0)
    };
    // Well-spread, opaque Gaussians that are in front at their pixel in both views (what a user
    // clicks on is the visible surface).
    let opaque: Vec<bool> = fixed.cloud.opacities.iter().map(|o| splatstitch_core::cloud::sigmoid(*o) > 0.5).collect();
    let front = |p: &[Option<(glam::Vec2, f32)>], g: usize| {
        let (q, z) = p[g].unwrap();
        p.iter().zip(&opaque).all(|(o, op)| !op || o.is_none_or(|(o, oz)| o.distance(q) > 3.0 || oz >= z * 0.99))
    };
    let chosen: Vec<usize> = (0..n)
        .step_by(n / 2000)
        .filter(|&g| {
            splatstitch_core::cloud::sigmoid(fixed.cloud.opacities[g]) > 0.9
                && inside(&pm[g])
                && inside(&pf[g])
                && front(&pm, g)
                && front(&pf, g)
        })
        .take(8)
        .collect();
    assert!(chosen.len() >= 4, "{chosen:?}");
    let to_screen = |q: glam::Vec2| egui::pos2(o.x + q.x / ppp, o.y + q.y / ppp);
    let clicks: Vec<egui::Pos2> =
        chosen.iter().flat_map(|&g| [to_screen(pm[g].unwrap().0), to_screen(pf[g].unwrap().0)]).collect();
    for c in clicks {
        gesture(&mut h, &[c]);
    }
    assert_eq!(h.state().app.state.align.fixed_points.len(), chosen.len(), "{}", h.state().app.state.status);
    click_panel(&mut h, "Align");
    h.run_steps(2);
    let t = h.state().app.state.doc.layers[1].transform.similarity();
    let truth = h.state().app.state.doc.layers[0].transform.similarity();
    let angle = t.rotation.angle_between(truth.rotation).to_degrees();
    let moved = (t.translation - truth.translation).length();
    let fit = h.state().app.state.align.last.unwrap();
    eprintln!(
        "{} clicked pairs: rotation error {angle:.2}°, scale {:.4}, translation {moved:.4}, residual {:.4}",
        fit.pairs, t.scale, fit.rms
    );
    assert!(angle < 3.0 && (t.scale - 1.0).abs() < 0.05 && moved < 0.03, "alignment off");
    // ICP then tightens it on the Gaussian centres.
    click_panel(&mut h, "Refine (ICP)");
    h.run_steps(2);
    let t = h.state().app.state.doc.layers[1].transform.similarity();
    let angle = t.rotation.angle_between(truth.rotation).to_degrees();
    eprintln!(
        "after ICP: rotation error {angle:.3}°, scale {:.5}, residual {:.5}",
        t.scale,
        h.state().app.state.align.last.unwrap().rms
    );
    assert!(angle < 0.5 && (t.scale - 1.0).abs() < 0.01);
    // One undo step each.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().app.state.doc.layers[1].transform.scale, 1.1);
}

#[test]
fn seam_follows_the_parameters_and_brush_colour_range_tools_select() {
    use splatstitch_core::LayerFlags;
    use splatstitch_editor::selection::{brush, by_colour, project};
    let mut h = open(&demo(), None);
    h.run_steps(2);
    let seam = h.state_mut().app.state.boundary_points().len();
    assert!(seam > 0, "the demo's layers touch");
    h.get_by_label_contains(&format!("{seam} Gaussians"));
    h.state_mut().app.state.doc.blend.beta = 0.01;
    h.run_steps(2);
    let narrow = h.state_mut().app.state.boundary_points().len();
    assert!(narrow < seam, "a smaller β gives a thinner seam ({narrow} vs {seam})");

    // Brush: one dab in the middle of the flowers, checked against the direct computation.
    h.get_by_label("flowers").click();
    h.run_steps(2);
    click_panel(&mut h, "Brush");
    let c = h.state().app.state.viewport_rect.center();
    gesture(&mut h, &[c, c + egui::vec2(30.0, 0.0)]);
    let app = &h.state().app;
    let [w, hh] = app.state.viewport_size;
    let cam = app.state.camera.to_camera(w, hh).unwrap();
    let (o, ppp) = (app.state.viewport_rect.min, h.ctx.pixels_per_point());
    let l = &app.state.doc.layers[0];
    let p = project(&l.cloud, &l.transform.similarity(), &cam);
    let px = |q: egui::Pos2| glam::Vec2::new(q.x - o.x, q.y - o.y) * ppp;
    let r = app.state.selection_settings.brush_radius * ppp;
    // The stroke's recorded points: press, then the moves (2 px apart at least).
    let strokes = [vec![px(c), px(c + egui::vec2(30.0, 0.0))]];
    let expected = brush(&p, &strokes[0], r).iter().filter(|x| **x).count();
    let selected = l.count(LayerFlags::SELECTED);
    assert!(selected > 0 && selected == expected, "brush {selected} vs direct {expected}");

    // Same colour: pick a Gaussian, everything within the tolerance of its colour.
    click_panel(&mut h, "Pick");
    click_panel(&mut h, "same colour");
    gesture(&mut h, &[c]);
    let app = &h.state().app;
    let l = &app.state.doc.layers[0];
    let selected = l.count(LayerFlags::SELECTED);
    let tol = app.state.selection_settings.colour_tolerance;
    // Some Gaussian's colour explains the selection exactly.
    let explained = (0..l.len()).filter(|&g| l.flags[g].has(LayerFlags::SELECTED)).any(|g| {
        by_colour(&l.cloud, splatstitch_editor::selection::base_colour(&l.cloud, g), tol).iter().filter(|x| **x).count()
            == selected
    });
    assert!(selected > 0 && explained, "colour pick selected {selected}");

    // Opacity range: the selection is exactly the Gaussians above 0.5.
    h.state_mut().app.state.selection_settings.opacity = (0.5, 1.0);
    click_panel(&mut h, "By opacity and size");
    click_panel(&mut h, "Select range");
    let l = &h.state().app.state.doc.layers[0];
    let expected = l.cloud.opacities.iter().filter(|o| splatstitch_core::cloud::sigmoid(**o) >= 0.5).count();
    assert_eq!(l.count(LayerFlags::SELECTED), expected);
}

#[test]
fn connected_region_cuts_out_one_of_two_separated_objects() {
    use splatstitch_core::LayerFlags;
    // One capture holding two copies of the fruit, 2 units apart.
    let dir = tempfile::tempdir().unwrap();
    let fruit = formats::load(&demo().with_file_name("fruit_drops_5k_sh3.ply"), &LoadOptions::default()).unwrap().cloud;
    let mut two = fruit.clone();
    let mut moved = fruit.clone();
    moved.positions.iter_mut().for_each(|p| p[0] += 2.0);
    two.append(&moved);
    let path = dir.path().join("two_fruits.ply");
    formats::save(&path, &two, &Default::default()).unwrap();
    let mut h = open(&path, None);
    h.run_steps(2);
    // Pick the front-most opaque Gaussian of the first copy where the viewport shows it.
    let app = &h.state().app;
    let [w, hh] = app.state.viewport_size;
    let cam = app.state.camera.to_camera(w, hh).unwrap();
    let l = &app.state.doc.layers[0];
    let p = splatstitch_editor::selection::project(&l.cloud, &l.transform.similarity(), &cam);
    let g = (0..fruit.len())
        .filter(|&g| {
            splatstitch_core::cloud::sigmoid(l.cloud.opacities[g]) > 0.9
                && p[g]
                    .is_some_and(|(q, _)| q.x > 40.0 && q.y > 40.0 && q.x < w as f32 - 40.0 && q.y < hh as f32 - 40.0)
        })
        .min_by(|a, b| p[*a].unwrap().1.total_cmp(&p[*b].unwrap().1))
        .unwrap();
    let (o, ppp) = (app.state.viewport_rect.min, h.ctx.pixels_per_point());
    let q = p[g].unwrap().0 / ppp;
    let at = egui::pos2(o.x + q.x, o.y + q.y);
    // Distance alone decides here: jumps up to 8 % of the layer's diagonal (0.2 units) stay
    // inside an object; the copies are 1.5 units apart.
    h.state_mut().app.state.selection_settings.max_colour_jump = 2.0;
    h.state_mut().app.state.selection_settings.max_distance = 0.08;
    click_panel(&mut h, "Pick");
    gesture(&mut h, &[at]);
    let flags = &h.state().app.state.doc.layers[0].flags;
    let first = flags[..fruit.len()].iter().filter(|f| f.has(LayerFlags::SELECTED)).count();
    let second = flags[fruit.len()..].iter().filter(|f| f.has(LayerFlags::SELECTED)).count();
    eprintln!(
        "connected region: {first} of {} in the picked object, {second} in the other; status: {}",
        fruit.len(),
        h.state().app.state.status
    );
    assert!(first > fruit.len() / 2, "most of the picked object ({first})");
    assert_eq!(second, 0, "nothing of the other object");
}

#[test]
fn visible_surface_only_skips_what_is_behind() {
    use splatstitch_core::LayerFlags;
    let mut h = open(&demo(), None);
    h.get_by_label("flowers").click();
    h.run_steps(2);
    click_panel(&mut h, "Rectangle select (B)");
    let r = h.state().app.state.viewport_rect;
    let drag = |h: &mut Harness<'static, State>| {
        let (a, b) = (r.min + egui::vec2(10.0, 10.0), r.max - egui::vec2(10.0, 10.0));
        gesture(h, &[a, b]);
        h.state().app.state.doc.layers[0].count(LayerFlags::SELECTED)
    };
    let all = drag(&mut h);
    click_panel(&mut h, "Visible surface only");
    let visible = drag(&mut h);
    eprintln!("whole viewport: {all} Gaussians, {visible} on the visible surface");
    assert!(visible > 100 && visible < all, "{visible} of {all}");
}

#[test]
fn a_streamed_sog_asks_for_its_level_and_opens_the_one_chosen() {
    let dir = tempfile::tempdir().unwrap();
    let fruit = formats::load(&demo().with_file_name("fruit_drops_5k_sh3.ply"), &LoadOptions::default()).unwrap().cloud;
    let coarse = fruit.select(&(0..fruit.len()).map(|i| i % 4 == 0).collect::<Vec<_>>());
    for (folder, cloud) in [("0_0", &fruit), ("1_0", &coarse)] {
        std::fs::create_dir(dir.path().join(folder)).unwrap();
        formats::save(&dir.path().join(folder).join("meta.json"), cloud, &Default::default()).unwrap();
    }
    let (fine_n, coarse_n) = (fruit.len(), coarse.len());
    let manifest = format!(
        r#"{{"version":1,"counts":[{fine_n},{coarse_n}],"lodLevels":2,"filenames":["0_0/meta.json","1_0/meta.json"],
        "tree":{{"lods":{{"0":{{"file":0,"offset":0,"count":{fine_n}}},"1":{{"file":1,"offset":0,"count":{coarse_n}}}}}}}}}"#
    );
    let scene = dir.path().join("scene");
    std::fs::create_dir(&scene).unwrap();
    for folder in ["0_0", "1_0"] {
        std::fs::rename(dir.path().join(folder), scene.join(folder)).unwrap();
    }
    let path = scene.join("lod-meta.json");
    std::fs::write(&path, manifest).unwrap();

    let mut app = EditorApp::new(Document::default(), None);
    app.state.add_files(vec![path.clone()]);
    assert!(app.state.lod_choice.is_some(), "the file asks for its level before loading");
    let mut h = harness(app);
    h.run_steps(2);
    h.get_by_role(Role::ComboBox).click();
    h.run_steps(2);
    h.get_by_label(&format!("level 1: {coarse_n} Gaussians")).click();
    h.run_steps(2);
    h.get_by_label("Open").click();
    wait_idle(&mut h);
    let layers = &h.state().app.state.doc.layers;
    assert_eq!(layers.len(), 1);
    assert_eq!(layers[0].name, "scene", "a lod-meta.json layer is named after its folder");
    assert_eq!((layers[0].len(), layers[0].lod), (coarse_n, Some(1)));
}

#[test]
fn grade_panel_previews_while_a_slider_is_dragged_and_commits_one_step() {
    let mut h = open(&demo(), None);
    h.get_by_label("fruit").click();
    h.run_steps(2);
    click_panel(&mut h, "Whole layer");
    let original = h.state().app.state.doc.layers[1].cloud.clone();
    let steps = h.state().app.state.history.labels().0.len();
    let slider = "exposure (stops)";
    h.get_by_role_and_label(Role::Slider, slider).scroll_to_me();
    h.run_steps(30);
    let r = h.get_by_role_and_label(Role::Slider, slider).rect();
    // Press at the rail's middle (about 0 stops) and drag right, holding.
    let (from, to) = (r.center(), r.center() + egui::vec2(r.width() * 0.3, 0.0));
    hold(&mut h, &[from, to]);
    h.run_steps(1);
    let s = &h.state().app.state;
    assert!(s.grade_previewing(), "held: a preview");
    assert!(!std::sync::Arc::ptr_eq(&s.doc.layers[1].cloud, &original), "the preview is shown while dragging");
    assert_eq!(s.history.labels().0.len(), steps, "no undo step while dragging");
    h.drop_at(to);
    h.run_steps(3);
    let s = &h.state().app.state;
    assert!(!s.grade_previewing());
    assert_eq!(s.history.labels().0.len(), steps + 1, "one step for the whole drag");
    assert_eq!(s.history.labels().0.last().copied(), Some("grade fruit"));
    let exposure = s.doc.layers[1].active_grade().exposure;
    assert!(exposure > 1.0, "dragged right: brighter ({exposure})");
    let (was, now) = (original.base_colour(0)[0], s.doc.layers[1].cloud.base_colour(0)[0]);
    assert!((now - was * exposure.exp2()).abs() < 1e-3, "{was} → {now}");
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!(std::sync::Arc::ptr_eq(&h.state().app.state.doc.layers[1].cloud, &original), "undone");
}

#[test]
fn menu_bar_undoes_redoes_and_frames_the_scene() {
    let mut h = open(&demo(), None);
    h.get_by_label("fruit").click();
    h.run_steps(2);
    type_into(&mut h, "translate x", "0.5");
    let menu = |h: &mut Harness<'static, State>, top: &str, item: &str| {
        h.get_by_label(top).click();
        h.run_steps(2);
        h.get_by_label_contains(item).click();
        h.run_steps(2);
    };
    menu(&mut h, "Edit", "Undo");
    assert_eq!(h.state().app.state.doc.layers[1].transform.translate[0], -0.29);
    menu(&mut h, "Edit", "Redo");
    assert_eq!(h.state().app.state.doc.layers[1].transform.translate[0], 0.5);
    h.state_mut().app.state.camera.distance *= 7.0;
    let far = h.state().app.state.camera.distance;
    menu(&mut h, "View", "Frame all");
    assert!(h.state().app.state.camera.distance < far, "framed");
}

#[test]
fn a_window_over_its_frame_time_target_draws_a_smaller_subset_while_moving() {
    let mut h = open(&demo(), None);
    h.state_mut().app.state.move_budget.gaussians = 20_000;
    // Three orbit steps, as if drawing and presenting the window took 200 ms each: far over
    // the 90 ms target. Returns the status note.
    let slow_orbit = |h: &mut Harness<'static, State>| {
        for _ in 0..3 {
            h.state_mut().app.state.window_frame_ms = 200.0;
            h.state_mut().app.state.camera.yaw += 0.05;
            h.run_steps(1);
        }
        h.state().app.state.view_note.clone()
    };
    let note = slow_orbit(&mut h);
    assert!(note.starts_with("moving: 5000 of 31616 Gaussians"), "{note}");
    // With the budget fixed (no target) the same frames keep the whole budget.
    h.state_mut().app.state.move_budget.target_ms = 0.0;
    let note = slow_orbit(&mut h);
    assert!(note.starts_with("moving: 20000 of 31616 Gaussians"), "{note}");
}

#[test]
fn while_orbiting_a_big_scene_the_viewport_draws_a_subset_and_says_so() {
    let mut h = open(&demo(), None);
    h.state_mut().app.state.move_budget.gaussians = 1000;
    // Every full frame counts as slow, so moving also lowers the resolution.
    h.state_mut().app.state.move_budget.slow_ms = 0.0;
    // The camera turns a little every frame, as an orbit does (the orbit benchmark's way).
    for _ in 0..3 {
        h.state_mut().app.state.camera.yaw += 0.05;
        h.run_steps(1);
    }
    let note = h.state().app.state.view_note.clone();
    assert!(note.starts_with("moving: 1000 of 31616 Gaussians at 35 % resolution"), "{note}");
    h.get_by_label_contains("moving: 1000 of 31616");
    h.state_mut().app.state.full_frame_ms = -1.0;
    // Still for longer than the moving window: the whole scene again, at full resolution.
    std::thread::sleep(Duration::from_millis(300));
    h.run_steps(3);
    assert_eq!(h.state().app.state.view_note, "", "full quality once the camera stops");
    let full = h.state().app.state.full_frame_ms;
    assert!(full > 0.0, "a full frame was drawn and timed ({full} ms)");
}
