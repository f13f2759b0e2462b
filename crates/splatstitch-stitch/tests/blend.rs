//! The blend on a real capture with a known answer (a small case of `bench blend`): the seam fit
//! undoes a colour change, leaves another material alone, and the validation views never return
//! something worse than the input.

use splatstitch_core::GaussianCloud;
use splatstitch_core::formats::{self, LoadOptions, SaveOptions};
use splatstitch_stitch::benchmark::{BandKind, Change, ChangeKind, Plane, Rng, Scorer, cut};
use splatstitch_stitch::report::TransferStatus;
use splatstitch_stitch::run::RunOptions;
use splatstitch_stitch::{Job, run};
use std::path::Path;

fn fruit() -> GaussianCloud {
    let path = splatstitch_core::test_data::capture("fruit_drops_5k_sh3.ply").unwrap_or_else(|e| panic!("{e}"));
    formats::load(&path, &LoadOptions::default()).unwrap().cloud
}

/// Cuts the fruit capture along x through its middle (band shared), changes the target, runs
/// a job with `blend` lines, and returns the report and the recovery.
fn case(kind: ChangeKind, blend: &str) -> (splatstitch_stitch::Report, f64, f64) {
    case_with(Change::draw(kind, &mut Rng::new(11)), blend)
}

fn case_with(change: Change, blend: &str) -> (splatstitch_stitch::Report, f64, f64) {
    let cloud = fruit();
    let mut xs: Vec<f32> = cloud.positions.iter().map(|p| p[0]).collect();
    xs.sort_unstable_by(f32::total_cmp);
    let plane = Plane { normal: [1.0, 0.0, 0.0], offset: xs[xs.len() / 2], band: 0.03 };
    let (source, truth) = cut(&cloud, &plane, BandKind::Shared, &mut Rng::new(1));
    let changed = change.apply(&truth);
    let dir = tempfile::tempdir().unwrap();
    formats::save(&dir.path().join("source.ply"), &source, &SaveOptions::default()).unwrap();
    formats::save(&dir.path().join("target.ply"), &changed, &SaveOptions::default()).unwrap();
    let text = format!(
        "[[layer]]\nname = \"s\"\nfile = \"source.ply\"\nrole = \"source\"\n\n[[layer]]\nname = \"t\"\nfile = \
         \"target.ply\"\nrole = \"target\"\n\n[blend]\nviews = 12\nresolution = 96\nvalidation_views = 4\n{blend}\n\n\
         [output]\nply = \"out.ply\"\n"
    );
    let job = Job::parse(&dir.path().join("job.toml"), &text).unwrap();
    let report = run(&job, &RunOptions::default()).unwrap();
    let out = formats::load(Path::new(&dir.path().join("out.ply")), &LoadOptions::default()).unwrap().cloud;
    assert_eq!(out.len(), source.len() + changed.len(), "every Gaussian kept");
    let blended = out.select(&(0..out.len()).map(|i| i >= source.len()).collect::<Vec<_>>());
    let score = Scorer::new(&source, &truth, &changed).score(&blended);
    (report, score.recovery, score.moved)
}

/// Light falling off along `direction` by 35–45 % across the target.
fn light_along(direction: [f32; 3]) -> Change {
    let mut light = Change::draw(ChangeKind::Lighting, &mut Rng::new(11));
    light.direction = direction;
    light.slope = [0.45, 0.4, 0.35];
    light
}

#[test]
fn the_seam_fit_undoes_a_colour_change_on_a_real_capture() {
    for kind in [ChangeKind::GainOffset, ChangeKind::Matrix] {
        let (report, recovery, _) = case(kind, "iterations = 0");
        assert_eq!(report.seam_transfer.status, TransferStatus::Applied, "{}", report.seam_transfer.reason);
        assert!(recovery > 0.8, "{kind:?}: recovery {recovery}; {}", report.seam_transfer.reason);
    }
}

#[test]
fn light_falling_off_along_the_seam_is_undone() {
    // The cut runs across x; the light falls off along y, along the seam: no global map explains
    // the overlap, the shading along the seam does.
    let light = light_along([0.0, 1.0, 0.0]);
    // From the renders alone, as where two captures overlap (no exact copies): the slope across
    // is not measured and only the slopes along are applied.
    let (report, recovery, _) = case_with(light.clone(), "iterations = 0\ntransfer_samples = \"image\"");
    let t = &report.seam_transfer;
    assert!(t.shading_applied, "{}", t.reason);
    let s = t.shading.as_ref().unwrap();
    assert!(s.significance[0].max(s.significance[1]) > 2.0 && s.slopes.iter().all(|r| r[2] == 0.0), "{s:?}");
    let (_, without, _) = case_with(light, "iterations = 0\ntransfer_samples = \"image\"\ntransfer_shading = false");
    assert!(
        recovery > 0.5 && recovery > without + 0.02,
        "recovery {recovery} (without shading {without}); {}",
        t.reason
    );
}

#[test]
fn light_falling_off_across_the_seam_is_undone_where_the_parts_share_gaussians() {
    // The cut runs across x and so does the light: the overlap sees only the target's near end.
    // One capture cut twice shares the band's Gaussians, whose two copies measure the gain's
    // change across the band exactly; a global map fitted there would double the error at the
    // target's far end.
    let light = light_along([1.0, 0.0, 0.0]);
    let (report, recovery, _) = case_with(light.clone(), "iterations = 0");
    let t = &report.seam_transfer;
    assert!(t.shading_applied, "{}", t.reason);
    let s = t.shading.as_ref().unwrap();
    assert!(s.fade.is_none() && s.slopes.iter().all(|r| r[2] != 0.0), "{s:?}");
    let (_, without, _) = case_with(light, "iterations = 0\ntransfer_samples = \"image\"");
    assert!(
        recovery > 0.8 && recovery > without + 0.3,
        "recovery {recovery} (image samples alone {without}); {}",
        t.reason
    );
}

#[test]
fn another_material_is_left_alone() {
    let (report, _, moved) = case(ChangeKind::Foreign, "iterations = 0");
    assert_ne!(report.seam_transfer.status, TransferStatus::Applied, "{}", report.seam_transfer.reason);
    assert!(moved < 1e-6, "the composite moved by {moved}");
}

#[test]
fn validation_keeps_the_best_checkpoint_and_never_returns_worse_than_the_input() {
    // The paper's losses at an absurd step wreck the colours; the validation views keep the
    // start (the input, with the transfer off) and say which iterate they kept.
    let (report, recovery, moved) =
        case(ChangeKind::GainOffset, "preset = \"paper\"\nkeep_best = true\niterations = 60\nlearning_rate = 1.0");
    let v = &report.validation;
    assert!(v.curve.len() >= 2, "{v:?}");
    assert_eq!(v.kept_iteration, Some(0), "{v:?}");
    assert!(moved < 1e-6 && recovery.abs() < 1e-6, "moved {moved}, recovery {recovery}");
    // The same without keep_best returns the wrecked last iterate.
    let (report, recovery, _) =
        case(ChangeKind::GainOffset, "preset = \"paper\"\niterations = 60\nlearning_rate = 1.0\npatience = 0");
    assert_eq!(report.validation.kept_iteration, Some(60));
    assert!(recovery < 0.0, "{recovery}");
}
