//! The peak resident memory of one workload, for the policy benches' memory children
//! (`policy.rs`, `smollm2_shapes.rs`): reset the kernel's peak-RSS counter, run the workload,
//! read the peak back (Linux only). Included by each bench with `#[path]`: Cargo gives a bench
//! no library of its own to share code through.

/// `VmRSS` or `VmHWM` of this process in KiB, from /proc/self/status.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `workload` between a reset of the peak-RSS counter and a read of it; the line says the
/// peak, and how far it rose above the resident size before `workload`, which it calls `before`.
pub fn measure(before_what: &str, workload: impl FnOnce()) -> String {
    let before = status_kib("VmRSS").expect("/proc/self/status");
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS");
    workload();
    let peak = status_kib("VmHWM").expect("/proc/self/status");
    let mib = |kib: u64| kib as f64 / 1024.0;
    format!(
        "{:.0} MiB peak RSS, {:.0} MiB above the {:.0} MiB {before_what}",
        mib(peak),
        mib(peak.saturating_sub(before)),
        mib(before)
    )
}
