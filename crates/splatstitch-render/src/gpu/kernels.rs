//! Compute pipelines for the WGSL kernels, and small helpers to bind and dispatch them.
//!
//! The projected splats (64 bytes a Gaussian) are more than one storage binding holds past
//! 2,097,152 Gaussians on lavapipe, so they are paged: the kernels that read or write them see
//! `pages` bindings in group 1 and reach splat `g` through `projected_load` / `projected_store`,
//! generated here for each page count a scene needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// The kernels that touch projected splats, built for one page count.
pub struct PagedKernels {
    pub preprocess: wgpu::ComputePipeline,
    pub count_band: wgpu::ComputePipeline,
    pub depth_keys: wgpu::ComputePipeline,
    pub gather_counts: wgpu::ComputePipeline,
    pub emit: wgpu::ComputePipeline,
    pub ranges: wgpu::ComputePipeline,
    pub rasterize: wgpu::ComputePipeline,
}

pub struct Kernels {
    pub scan_blocks: wgpu::ComputePipeline,
    pub add_offsets: wgpu::ComputePipeline,
    pub radix_count: wgpu::ComputePipeline,
    pub radix_scatter: wgpu::ComputePipeline,
    pub present: wgpu::ComputePipeline,
    /// Projected splats per page.
    page: u32,
    paged: Mutex<HashMap<u32, Arc<PagedKernels>>>,
}

fn pipeline(device: &wgpu::Device, module: &wgpu::ShaderModule, entry: &str) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry),
        layout: None,
        module,
        entry_point: Some(entry),
        compilation_options: Default::default(),
        cache: None,
    })
}

fn module(device: &wgpu::Device, label: &str, src: &str) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(src.into()),
    })
}

/// WGSL declaring `pages` bindings of projected splats in group 1, `page` splats each, and
/// the accessors the kernels use; read-only unless `writable` (then only a store is given).
pub fn projected_pages(pages: u32, page: u32, writable: bool) -> String {
    let access = if writable { "read_write" } else { "read" };
    let mut s = format!("\nconst PROJECTED_PAGE: u32 = {page}u;\n");
    for k in 0..pages {
        s += &format!("@group(1) @binding({k}) var<storage, {access}> projected_{k}: array<Projected>;\n");
    }
    let cases = |body: &dyn Fn(u32) -> String| {
        let mut c = String::from("    switch g / PROJECTED_PAGE {\n");
        for k in 1..pages {
            c += &format!("        case {k}u: {{ {} }}\n", body(k));
        }
        c += &format!("        default: {{ {} }}\n    }}\n", body(0));
        c
    };
    if writable {
        s += "fn projected_store(g: u32, v: Projected) {\n    let i = g % PROJECTED_PAGE;\n";
        s += &cases(&|k| format!("projected_{k}[i] = v;"));
        s += "}\n";
    } else {
        s += "fn projected_load(g: u32) -> Projected {\n    let i = g % PROJECTED_PAGE;\n    var p: Projected;\n";
        s += &cases(&|k| format!("p = projected_{k}[i];"));
        s += "    return p;\n}\n";
    }
    s
}

impl Kernels {
    /// The kernels for a renderer whose pages hold `page` projected splats each; those for one
    /// page are built now, others when a scene first needs them.
    pub fn new(device: &wgpu::Device, page: u32) -> Self {
        let scan = module(device, "scan", include_str!("../../../../shaders/scan.wgsl"));
        let radix = module(device, "radix_sort", include_str!("../../../../shaders/radix_sort.wgsl"));
        let present = module(device, "present", include_str!("../../../../shaders/present.wgsl"));
        let k = Self {
            scan_blocks: pipeline(device, &scan, "scan_blocks"),
            add_offsets: pipeline(device, &scan, "add_offsets"),
            radix_count: pipeline(device, &radix, "count"),
            radix_scatter: pipeline(device, &radix, "scatter"),
            present: pipeline(device, &present, "main"),
            page: page.max(1),
            paged: Mutex::new(HashMap::new()),
        };
        k.paged(device, 1);
        k
    }

    /// Projected splats per page.
    pub fn page(&self) -> u32 {
        self.page
    }

    /// The paged kernels for `pages` pages, built on first use.
    pub fn paged(&self, device: &wgpu::Device, pages: u32) -> Arc<PagedKernels> {
        let mut cache = self.paged.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(pages)
            .or_insert_with(|| {
                // WGSL has no includes: the shared declarations are prepended.
                let common = include_str!("../../../../shaders/common.wgsl");
                let src = |writable: bool, body: &str| {
                    format!("{common}{}{body}", projected_pages(pages, self.page, writable))
                };
                let pre = module(device, "preprocess", &src(true, include_str!("../../../../shaders/preprocess.wgsl")));
                let binning = module(device, "binning", &src(false, include_str!("../../../../shaders/binning.wgsl")));
                let raster =
                    module(device, "rasterize", &src(false, include_str!("../../../../shaders/rasterize.wgsl")));
                Arc::new(PagedKernels {
                    preprocess: pipeline(device, &pre, "main"),
                    count_band: pipeline(device, &binning, "count_band"),
                    depth_keys: pipeline(device, &binning, "depth_keys"),
                    gather_counts: pipeline(device, &binning, "gather_counts"),
                    emit: pipeline(device, &binning, "emit"),
                    ranges: pipeline(device, &binning, "ranges"),
                    rasterize: pipeline(device, &raster, "main"),
                })
            })
            .clone()
    }
}

/// Workgroup counts for `groups` workgroups, folded into two dimensions past the 65535 limit
/// (kernels recover the flat index as `x + y · num_workgroups.x`).
pub fn grid(groups: u32) -> (u32, u32) {
    const MAX: u32 = 65535;
    if groups <= MAX { (groups.max(1), 1) } else { (MAX, groups.div_ceil(MAX)) }
}

pub fn uniform<T: bytemuck::Pod>(device: &wgpu::Device, value: &T) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("params"),
        contents: bytemuck::bytes_of(value),
        usage: wgpu::BufferUsages::UNIFORM,
    })
}

/// A bind group for group `index` of `pipeline`.
pub fn bind_group(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    index: u32,
    entries: &[(u32, wgpu::BindingResource<'_>)],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = entries
        .iter()
        .map(|(binding, resource)| wgpu::BindGroupEntry { binding: *binding, resource: resource.clone() })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(index),
        entries: &entries,
    })
}

/// A bind group for group 0 of `pipeline`.
pub fn bind(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    entries: &[(u32, wgpu::BindingResource<'_>)],
) -> wgpu::BindGroup {
    bind_group(device, pipeline, 0, entries)
}

/// Group 1 of a paged kernel: every page of projected splats.
pub fn bind_pages(device: &wgpu::Device, pipeline: &wgpu::ComputePipeline, pages: &[wgpu::Buffer]) -> wgpu::BindGroup {
    let entries: Vec<_> = pages.iter().enumerate().map(|(k, b)| (k as u32, b.as_entire_binding())).collect();
    bind_group(device, pipeline, 1, &entries)
}

/// Records one dispatch with `groups` bound as groups 0, 1, ….
pub fn dispatch(
    encoder: &mut wgpu::CommandEncoder,
    pipeline: &wgpu::ComputePipeline,
    groups: &[&wgpu::BindGroup],
    (x, y): (u32, u32),
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: None, timestamp_writes: None });
    pass.set_pipeline(pipeline);
    for (i, g) in groups.iter().enumerate() {
        pass.set_bind_group(i as u32, *g, &[]);
    }
    pass.dispatch_workgroups(x, y, 1);
}

#[cfg(test)]
mod tests {
    use super::projected_pages;

    #[test]
    fn paged_accessors_reach_every_page() {
        let load = projected_pages(3, 1000, false);
        assert!(load.contains("var<storage, read> projected_2: array<Projected>"));
        assert!(load.contains("case 2u: { p = projected_2[i]; }") && load.contains("default: { p = projected_0[i]; }"));
        assert!(!load.contains("projected_store"));
        let store = projected_pages(1, 64, true);
        assert!(store.contains("read_write> projected_0") && store.contains("default: { projected_0[i] = v; }"));
        assert!(!store.contains("case"));
    }
}
