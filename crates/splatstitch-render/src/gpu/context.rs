//! Device creation. The editor shares its wgpu device (from egui-wgpu) through
//! [`GpuContext::from_device`]; headless tools create their own.

use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no GPU adapter found (install a Vulkan driver, e.g. mesa-vulkan-drivers, or use --cpu)")]
    NoAdapter,
    #[error("the GPU adapter refused a device: {0}")]
    Device(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("reading results back from the GPU failed: {0}")]
    Readback(String),
    #[error(transparent)]
    Render(#[from] crate::RenderError),
}

/// A device and queue plus the instance and adapter they came from (the optimizer registers
/// all four with burn so that it runs on this very device).
#[derive(Clone)]
pub struct GpuContext {
    pub instance: wgpu::Instance,
    pub adapter: wgpu::Adapter,
    pub device: Arc<wgpu::Device>,
    pub queue: Arc<wgpu::Queue>,
    pub info: wgpu::AdapterInfo,
}

impl GpuContext {
    /// Creates a device on the best available adapter, with every limit and feature the adapter
    /// offers (the renderer sizes its buffers by what the device reports; burn's kernels use
    /// subgroups and f16 where present).
    pub fn headless() -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: wgpu::Backends::VULKAN | wgpu::Backends::METAL | wgpu::Backends::DX12,
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        }))
        .map_err(|_| GpuError::NoAdapter)?;
        Self::request(instance, adapter, "splatstitch")
    }

    /// Asks `adapter` for a device with every limit and feature it offers (see
    /// [`Self::wanted_features`]); the window uses this too, for the device it shares.
    pub fn request(instance: wgpu::Instance, adapter: wgpu::Adapter, label: &str) -> Result<Self, GpuError> {
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some(label),
            required_features: Self::wanted_features(&adapter),
            required_limits: adapter.limits(),
            memory_hints: wgpu::MemoryHints::MemoryUsage,
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device(e.to_string()))?;
        let info = adapter.get_info();
        Ok(Self { instance, adapter, device: Arc::new(device), queue: Arc::new(queue), info })
    }

    /// The features to ask a device for: see [`device_features`].
    pub fn wanted_features(adapter: &wgpu::Adapter) -> wgpu::Features {
        device_features(adapter.features())
    }

    /// Wraps a device made elsewhere (the editor's, from egui-wgpu).
    pub fn from_device(
        instance: wgpu::Instance,
        adapter: wgpu::Adapter,
        device: Arc<wgpu::Device>,
        queue: Arc<wgpu::Queue>,
    ) -> Self {
        let info = adapter.get_info();
        Self { instance, adapter, device, queue, info }
    }

    /// True on a CPU-emulated adapter such as lavapipe.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// One line naming the adapter, for status bars and logs.
    pub fn describe(&self) -> String {
        format!("{} ({:?}, {:?})", self.info.name, self.info.backend, self.info.device_type)
    }
}

/// Of the features an adapter offers, those a device is asked for: all but mappable primary
/// buffers (slow on discrete GPUs, and burn avoids them) and wgpu's experimental ones, which a
/// device refuses unless experimental features are switched on (NVIDIA's driver offers mesh
/// shaders and ray-tracing pipelines; asking for them left the H200 with no device at all).
pub fn device_features(offered: wgpu::Features) -> wgpu::Features {
    offered.difference(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS).difference(wgpu::Features::all_experimental_mask())
}

#[cfg(test)]
mod tests {
    use super::device_features;

    #[test]
    fn experimental_and_mappable_primary_features_are_never_asked_for() {
        let asked = device_features(wgpu::Features::all());
        assert!(!asked.intersects(wgpu::Features::all_experimental_mask()));
        assert!(!asked.contains(wgpu::Features::MAPPABLE_PRIMARY_BUFFERS));
        assert!(
            asked.contains(wgpu::Features::SUBGROUP | wgpu::Features::SHADER_F16 | wgpu::Features::TIMESTAMP_QUERY)
        );
    }
}
