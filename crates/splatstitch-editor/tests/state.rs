//! The editor's state driven without a window or egui: layer edits, selection, grading and
//! saving, each one undo step, on the demo's real captures.

use splatstitch_core::{GaussianCloud, Grade, LayerFlags, Role};
use splatstitch_editor::document::{DocLayer, Document};
use splatstitch_editor::selection::Mode;
use splatstitch_editor::state::{EditorState, GradeScope};
use std::path::PathBuf;
use std::sync::Arc;

fn asset(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../assets").join(name)
}

/// The demo as a document: flowers (source) and fruit (target), opened like the editor does.
fn demo() -> EditorState {
    let doc = Document::open_job(&asset("demo.toml")).unwrap();
    EditorState::new(doc, None)
}

fn same_bits(a: &GaussianCloud, b: &GaussianCloud) -> bool {
    a.sh.len() == b.sh.len() && a.sh.iter().zip(&b.sh).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn a_new_target_demotes_the_old_one_in_one_step_and_names_stay_unique() {
    let mut s = demo();
    s.duplicate(1);
    assert_eq!(s.doc.layers[2].name, "fruit copy");
    assert_eq!(s.doc.layers[2].role, Role::Fixed, "a copy of the target is not a second target");
    s.set_role(2, Role::Target);
    assert_eq!((s.doc.layers[1].role, s.doc.layers[2].role), (Role::Fixed, Role::Target));
    s.undo();
    assert_eq!((s.doc.layers[1].role, s.doc.layers[2].role), (Role::Target, Role::Fixed), "one step");
    assert!(!s.rename(2, "flowers"), "taken");
    assert!(s.status.contains("unique"));
    assert!(!s.rename(2, "  "));
    assert!(s.rename(2, " pear "));
    assert_eq!(s.doc.layers[2].name, "pear");
    s.remove(2);
    assert_eq!(s.doc.layers.len(), 2);
    assert_eq!(s.selected, Some(1), "the selection follows a removed layer");
}

#[test]
fn selections_combine_by_mode_and_deleting_is_undone_in_one_step() {
    let mut s = demo();
    s.selected = Some(1);
    let n = s.doc.layers[1].len();
    let first: Vec<bool> = (0..n).map(|i| i < n / 2).collect();
    let evens: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
    s.select_hits(&first, Mode::Replace);
    s.select_hits(&evens, Mode::Intersect);
    let l = &s.doc.layers[1];
    assert_eq!(l.count(LayerFlags::SELECTED), (0..n).filter(|i| i < &(n / 2) && i % 2 == 0).count());
    s.hide_selected(LayerFlags::DELETED);
    let deleted = s.doc.layers[1].count(LayerFlags::DELETED);
    assert!(deleted > 0 && s.doc.layers[1].count(LayerFlags::SELECTED) == 0);
    assert_eq!(s.doc.baked_composite().unwrap().len(), s.doc.layers[0].len() + n - deleted);
    s.undo();
    assert_eq!(s.doc.layers[1].count(LayerFlags::DELETED), 0);
    assert_eq!(s.doc.layers[1].count(LayerFlags::SELECTED), deleted, "the selection comes back");
    s.selection_to_layer(true);
    assert_eq!(s.doc.layers[2].len(), deleted);
    assert_eq!(s.doc.layers[1].count(LayerFlags::DELETED), deleted);
    s.undo();
    assert_eq!(s.doc.layers.len(), 2);
    assert_eq!(s.doc.layers[1].count(LayerFlags::DELETED), 0);
}

#[test]
fn a_whole_layer_grade_previews_outside_the_history_and_commits_one_step() {
    let mut s = demo();
    s.selected = Some(1);
    s.grade.scope = GradeScope::WholeLayer;
    let original = s.doc.layers[1].cloud.clone();
    let steps = s.history.labels().0.len();
    let grade = Grade { exposure: 0.5, saturation: 0.5, ..Default::default() };
    for e in [0.1, 0.3, 0.5] {
        s.preview_grade(Grade { exposure: e, ..grade });
        assert_eq!(s.history.labels().0.len(), steps, "a preview is not a step");
    }
    assert!(!same_bits(&s.doc.layers[1].cloud, &original), "the preview is shown");
    s.commit_grade();
    assert_eq!(s.history.labels().0.len(), steps + 1);
    assert_eq!(s.doc.layers[1].active_grade(), grade);
    let mut expected = (*original).clone();
    grade.apply(&mut expected, |_| 1.0);
    assert!(same_bits(&s.doc.layers[1].cloud, &expected), "the grade of the loaded capture, not of the preview");
    // A second change replaces the grade (applied to the capture, not on top of the first).
    s.apply_grade(Grade { exposure: -1.0, ..Default::default() });
    let mut expected = (*original).clone();
    Grade { exposure: -1.0, ..Default::default() }.apply(&mut expected, |_| 1.0);
    assert!(same_bits(&s.doc.layers[1].cloud, &expected));
    s.undo();
    s.undo();
    assert!(same_bits(&s.doc.layers[1].cloud, &original), "undo restores every bit");
    assert!(s.doc.layers[1].active_grade().is_identity());
    // The other layer never moved.
    assert!(Arc::ptr_eq(&s.doc.layers[0].cloud, &s.doc.layers[0].original));
}

#[test]
fn a_selection_grade_fades_over_its_feather_and_leaves_the_rest() {
    let mut s = demo();
    s.selected = Some(1);
    let l = &s.doc.layers[1];
    let n = l.len();
    // The fruit's lower half (by y), feathered over a tenth of its height.
    let (lo, hi) = l.cloud.bounds().unwrap();
    let mid = 0.5 * (lo.y + hi.y);
    let hits: Vec<bool> = l.cloud.positions.iter().map(|p| p[1] < mid).collect();
    s.select_hits(&hits, Mode::Replace);
    s.grade.feather = 0.1 * (hi.y - lo.y);
    let before = s.doc.layers[1].cloud.clone();
    s.apply_grade(Grade { saturation: 0.0, ..Default::default() });
    let after = &s.doc.layers[1].cloud;
    let grey = |i: usize| {
        let [r, g, b] = after.base_colour(i);
        (r - g).abs() < 1e-4 && (g - b).abs() < 1e-4
    };
    let moved = |i: usize| before.sh_of(i) != after.sh_of(i);
    let far: Vec<usize> = (0..n).filter(|&i| after.positions[i][1] > mid + s.grade.feather * 1.01).collect();
    let edge: Vec<usize> =
        (0..n).filter(|&i| !hits[i] && after.positions[i][1] < mid + 0.5 * s.grade.feather).collect();
    assert!((0..n).filter(|&i| hits[i]).all(grey), "selected Gaussians are fully graded");
    assert!(!far.is_empty() && far.iter().all(|&i| !moved(i)), "beyond the feather nothing moves");
    assert!(!edge.is_empty() && edge.iter().filter(|&&i| moved(i) && !grey(i)).count() > edge.len() / 2);
    assert_eq!(s.history.labels().0.last().copied(), Some("grade selection (fruit)"));
    // The controls show the grade just made; changing them replaces it from its input.
    assert_eq!(s.shown_grade(1).saturation, 0.0);
    s.apply_grade(Grade { saturation: 0.5, ..Default::default() });
    let half = &s.doc.layers[1].cloud;
    let i = (0..n).find(|&i| hits[i]).unwrap();
    let [r0, g0, _] = before.base_colour(i);
    let [r1, g1, _] = half.base_colour(i);
    assert!(((r1 - g1) - 0.5 * (r0 - g0)).abs() < 1e-4, "saturation 0.5 of the original, not of grey");
}

#[test]
fn grades_save_as_the_key_or_as_the_layers_own_file_and_reopen_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = demo();
    s.selected = Some(1);
    s.grade.scope = GradeScope::WholeLayer;
    let grade = Grade { temperature: 0.4, contrast: 1.3, ..Default::default() };
    s.apply_grade(grade);
    let job = dir.path().join("scene.toml");
    assert!(s.save_job(Some(job.clone())), "{:?}", s.error);
    let text = std::fs::read_to_string(&job).unwrap();
    assert!(text.contains("temperature = 0.4") && !text.contains(".layer.ply"), "{text}");
    let reopened = Document::open_job(&job).unwrap();
    assert!(same_bits(&reopened.layers[1].cloud, &s.doc.layers[1].cloud));
    assert_eq!(reopened.layers[1].active_grade(), grade);

    // A selection grade changes part of the capture: the layer is written as its own PLY.
    s.selected = Some(0);
    s.grade.scope = GradeScope::Selection;
    let n = s.doc.layers[0].len();
    s.select_hits(&(0..n).map(|i| i % 3 == 0).collect::<Vec<_>>(), Mode::Replace);
    s.apply_grade(Grade { exposure: 1.0, ..Default::default() });
    assert!(s.save_job(Some(job.clone())), "{:?}", s.error);
    let text = std::fs::read_to_string(&job).unwrap();
    assert!(text.contains("flowers.layer.ply"), "{text}");
    let reopened = Document::open_job(&job).unwrap();
    assert!(same_bits(&reopened.layers[0].cloud, &s.doc.layers[0].cloud));
    assert!(reopened.layers[0].active_grade().is_identity(), "the file holds the grade, the key does not");
}

#[test]
fn a_layer_built_in_code_edits_like_a_loaded_one() {
    let mut c = GaussianCloud::with_len(10, 0);
    for (i, p) in c.positions.iter_mut().enumerate() {
        *p = [i as f32, 0.0, 0.0];
    }
    let layer = DocLayer::new("line".into(), PathBuf::from("/tmp/line.ply"), Role::Source, c);
    let mut s = EditorState::new(Document { layers: vec![layer], ..Default::default() }, None);
    assert_eq!(s.selected, Some(0));
    s.select_box(glam::Vec3::new(2.5, -1.0, -1.0), glam::Vec3::new(-0.5, 1.0, 1.0));
    assert_eq!(s.doc.layers[0].count(LayerFlags::SELECTED), 3, "a box given corner-first either way");
    s.grow_selection(1);
    assert_eq!(s.doc.layers[0].count(LayerFlags::SELECTED), 10, "every point has 1 or 2 among its 8 nearest");
    s.invert_selection();
    assert_eq!(s.doc.layers[0].count(LayerFlags::SELECTED), 0);
    assert!(s.is_idle() && s.has_unsaved_changes());
}

#[test]
fn a_job_opened_by_a_relative_path_keeps_absolute_capture_paths() {
    // Tests run in the crate's folder; the stitch worker writes the job elsewhere.
    let doc = Document::open_job(std::path::Path::new("../../assets/demo.toml")).unwrap();
    assert!(doc.layers.iter().all(|l| l.file.is_absolute() && l.file.exists()), "{:?}", doc.layers[0].file);
}

#[test]
fn a_capture_loading_in_the_background_counts_its_bytes_and_arrives_as_a_layer() {
    let mut s = demo();
    let path = asset("flowers_27k_sh2.ply");
    let size = std::fs::metadata(&path).unwrap().len();
    s.add_files(vec![path]);
    let (read, total) = s.loading_bytes().expect("a capture is loading");
    assert_eq!(total, size);
    assert!(read <= total);
    let started = std::time::Instant::now();
    while !s.is_idle() {
        assert!(started.elapsed().as_secs() < 120, "still loading");
        std::thread::sleep(s.poll().unwrap_or(std::time::Duration::from_millis(10)));
    }
    assert_eq!(s.loading_bytes(), None);
    assert_eq!(s.doc.layers.len(), 3);
    assert_eq!(s.doc.layers[2].cloud.len(), 26_895);
}
