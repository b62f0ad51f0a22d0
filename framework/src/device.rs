//! Choosing the compute device. Burn 0.22 picks the backend at run time through `Device`; the
//! CPU backend (`flex`) is always there, GPU backends only when their cargo feature is on.

use crate::error::{Error, Result};
pub use burn::tensor::Device;

crate::config_enum! {
    /// The compute device.
    pub enum DeviceKind {
        /// Burn's `flex` CPU backend (always available).
        Cpu = "cpu",
        /// wgpu (Vulkan/Metal/DX12); needs the `wgpu` cargo feature.
        Wgpu = "wgpu",
        /// CUDA; needs the `cuda` cargo feature.
        Cuda = "cuda",
    }
}

/// The inference device of a kind, or an error saying which cargo feature is missing.
pub fn device(kind: DeviceKind) -> Result<Device> {
    match kind {
        DeviceKind::Cpu => Ok(Device::flex()),
        #[cfg(feature = "wgpu")]
        DeviceKind::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => Ok(Device::cuda(0)),
        #[allow(unreachable_patterns)]
        other => Err(Error::field(
            "device",
            format!(
                "device {other:?} needs quill built with `--features {other}`; this build has cpu only"
            ),
        )),
    }
}

/// The same device with autodiff switched on, for training.
pub fn training_device(kind: DeviceKind) -> Result<Device> {
    Ok(device(kind)?.autodiff())
}

/// Threads of the pool the CPU backend computes on (rayon's global pool: `RAYON_NUM_THREADS`,
/// else one per core). Runs record it beside their speed figures, which depend on it; their
/// metrics do not (the quickstart gives the same results.csv on one thread and on two, in
/// debug and release builds).
pub fn cpu_threads() -> usize {
    rayon::current_num_threads()
}
