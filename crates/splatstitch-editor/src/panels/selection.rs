//! Selecting Gaussians of the selected layer: the screen tools and their settings, grow and
//! shrink, world-space volumes, opacity and size ranges, and what to do with a selection.

use super::{Dock, Panel, PanelCtx};
use crate::state::{EditorState, PickKind, Tool};
use splatstitch_core::LayerFlags;

pub struct SelectionPanel;

impl Panel for SelectionPanel {
    fn title(&self) -> &'static str {
        "Selection"
    }

    fn dock(&self) -> Dock {
        Dock::Right
    }

    fn needs_layer(&self) -> bool {
        true
    }

    fn ui(&mut self, ui: &mut egui::Ui, cx: &mut PanelCtx<'_>) {
        let s = &mut *cx.state;
        let Some((i, l)) = s.selected_layer() else { return };
        let (sel, hidden, deleted) =
            (l.count(LayerFlags::SELECTED), l.count(LayerFlags::HIDDEN), l.count(LayerFlags::DELETED));
        ui.label(format!("{sel} selected, {hidden} hidden, {deleted} deleted"));
        tools(ui, s);
        ui.horizontal(|ui| {
            if ui.button("Grow").clicked() {
                s.grow_selection(1);
            }
            if ui.button("Shrink").clicked() {
                s.grow_selection(-1);
            }
        });
        ui.collapsing("Box / sphere (world units)", |ui| volumes(ui, s, i));
        ui.collapsing("By opacity and size", |ui| ranges(ui, s));
        ui.horizontal(|ui| {
            if ui.button("All").clicked() {
                s.select_all(true);
            }
            if ui.button("None").clicked() {
                s.select_all(false);
            }
            if ui.button("Invert").clicked() {
                s.invert_selection();
            }
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(sel > 0, egui::Button::new("Hide selected")).clicked() {
                s.hide_selected(LayerFlags::HIDDEN);
            }
            if ui.add_enabled(hidden > 0, egui::Button::new("Unhide all")).clicked() {
                s.unhide_all();
            }
            if ui.add_enabled(sel > 0, egui::Button::new("Delete selected")).clicked() {
                s.hide_selected(LayerFlags::DELETED);
            }
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(sel > 0, egui::Button::new("Separate to layer")).clicked() {
                s.selection_to_layer(true);
            }
            if ui.add_enabled(sel > 0, egui::Button::new("Duplicate to layer")).clicked() {
                s.selection_to_layer(false);
            }
        });
    }
}

/// The screen tools and the settings of the one in use.
fn tools(ui: &mut egui::Ui, s: &mut EditorState) {
    ui.horizontal_wrapped(|ui| {
        for (tool, label) in [
            (Tool::Rectangle, "Rectangle select (B)"),
            (Tool::Lasso, "Lasso"),
            (Tool::Brush, "Brush"),
            (Tool::Pick, "Pick"),
        ] {
            let mut on = s.tool == tool;
            if ui
                .toggle_value(&mut on, label)
                .on_hover_text("In the viewport. Shift adds, Ctrl subtracts, Shift+Ctrl intersects.")
                .changed()
            {
                s.tool = if on { tool } else { Tool::Orbit };
            }
        }
    });
    let st = &mut s.selection_settings;
    ui.checkbox(&mut st.visible_only, "Visible surface only")
        .on_hover_text("Rectangle, lasso and brush skip Gaussians hidden behind the rendered surface");
    match s.tool {
        Tool::Brush => {
            ui.add(egui::Slider::new(&mut st.brush_radius, 2.0..=200.0).text("brush radius (pt)"));
        }
        Tool::Pick => {
            ui.horizontal(|ui| {
                ui.radio_value(&mut st.pick, PickKind::ConnectedRegion, "connected region");
                ui.radio_value(&mut st.pick, PickKind::Colour, "same colour");
            });
            match st.pick {
                PickKind::ConnectedRegion => {
                    ui.add(
                        egui::Slider::new(&mut st.max_distance, 0.001..=0.2).logarithmic(true).text("distance jump"),
                    );
                    ui.add(egui::Slider::new(&mut st.max_colour_jump, 0.01..=1.0).text("colour jump"));
                }
                PickKind::Colour => {
                    ui.add(egui::Slider::new(&mut st.colour_tolerance, 0.01..=1.0).text("tolerance"));
                }
            }
        }
        _ => {}
    }
}

fn volumes(ui: &mut egui::Ui, s: &mut EditorState, layer: usize) {
    let st = &mut s.selection_settings;
    let row = |ui: &mut egui::Ui, label: &str, v: &mut [f32; 3]| {
        ui.horizontal(|ui| {
            ui.label(label);
            for x in v.iter_mut() {
                ui.add(egui::DragValue::new(x).speed(0.01));
            }
        });
    };
    row(ui, "box min", &mut st.box_min);
    row(ui, "box max", &mut st.box_max);
    row(ui, "centre", &mut st.sphere_centre);
    ui.add(egui::DragValue::new(&mut st.sphere_radius).range(0.0..=f32::MAX).speed(0.01).prefix("radius "));
    let (lo, hi, c, r) = (st.box_min, st.box_max, st.sphere_centre, st.sphere_radius);
    ui.horizontal(|ui| {
        if ui.button("Select box").clicked() {
            s.select_box(lo.into(), hi.into());
        } else if ui.button("Select sphere").clicked() {
            s.select_sphere(c.into(), r);
        } else if ui.button("Fit to layer").on_hover_text("box and sphere around the layer").clicked() {
            s.fit_volumes_to_layer(layer);
        }
    });
}

fn ranges(ui: &mut egui::Ui, s: &mut EditorState) {
    let st = &mut s.selection_settings;
    ui.horizontal(|ui| {
        ui.label("opacity");
        ui.add(egui::DragValue::new(&mut st.opacity.0).range(0.0..=1.0).speed(0.01));
        ui.add(egui::DragValue::new(&mut st.opacity.1).range(0.0..=1.0).speed(0.01));
    });
    ui.horizontal(|ui| {
        ui.label("size");
        ui.add(egui::DragValue::new(&mut st.size.0).range(0.0..=f32::MAX).speed(0.001));
        ui.add(egui::DragValue::new(&mut st.size.1).range(0.0..=f32::MAX).speed(0.001));
    });
    if ui.button("Select range").clicked() {
        s.select_range();
    }
}
