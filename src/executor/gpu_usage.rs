//! What a program trial used of the GPUs it was placed on, measured through NVML while it runs:
//! the peak GPU memory of its processes (its process group) and the mean utilisation of its
//! GPUs (the whole GPU's, shared with the trials beside it). NVML is loaded at run time: where
//! there is no NVIDIA driver, nothing is measured and the worker runs as before.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use nvml_wrapper::enums::device::UsedGpuMemory;
use nvml_wrapper::Nvml;

use crate::store::GpuUsed;

/// How often the GPUs are read.
const EVERY: Duration = Duration::from_millis(500);

/// Samples of memory and utilisation, folded as they come.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    peak_bytes: u64,
    total_bytes: u64,
    util_sum: f64,
    count: usize,
}

impl Samples {
    /// One reading: the bytes the trial's processes hold, the GPUs' utilisation (percent) and
    /// the memory of one of its GPUs.
    pub fn add(&mut self, used_bytes: u64, utilisation: f64, total_bytes: u64) {
        self.peak_bytes = self.peak_bytes.max(used_bytes);
        self.total_bytes = total_bytes;
        self.util_sum += utilisation;
        self.count += 1;
    }

    /// What the trial used, `None` without a reading.
    pub fn used(&self) -> Option<GpuUsed> {
        (self.count > 0).then(|| GpuUsed {
            peak_memory_mb: self.peak_bytes as f64 / (1024.0 * 1024.0),
            memory_total_mb: self.total_bytes as f64 / (1024.0 * 1024.0),
            mean_utilisation: self.util_sum / self.count as f64,
        })
    }
}

/// A thread reading the GPUs `ids` (NVML indices) for the process group `pgid` until stopped.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Samples>,
}

impl Sampler {
    /// Starts reading, or `None` where NVML cannot be loaded (no driver) or `ids` is empty.
    pub fn start(ids: &[u32], pgid: i32) -> Option<Sampler> {
        if ids.is_empty() {
            return None;
        }
        let nvml = Nvml::init().ok()?;
        let ids = ids.to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut samples = Samples::default();
            while !flag.load(Ordering::SeqCst) {
                if let Some((used, util, total)) = read(&nvml, &ids, pgid) {
                    samples.add(used, util, total);
                }
                std::thread::sleep(EVERY);
            }
            samples
        });
        Some(Sampler { stop, thread })
    }

    /// Stops reading; what was measured.
    pub fn finish(self) -> Option<GpuUsed> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().ok()?.used()
    }
}

/// One reading of GPUs `ids`: bytes used by the processes of group `pgid`, mean utilisation and
/// the memory of the first GPU.
fn read(nvml: &Nvml, ids: &[u32], pgid: i32) -> Option<(u64, f64, u64)> {
    let (mut used, mut util, mut total) = (0u64, 0.0, 0u64);
    for &id in ids {
        let device = nvml.device_by_index(id).ok()?;
        for p in device.running_compute_processes().ok()? {
            if let (true, UsedGpuMemory::Used(bytes)) = (in_group(p.pid, pgid), p.used_gpu_memory) {
                used += bytes;
            }
        }
        util += f64::from(device.utilization_rates().ok()?.gpu);
        if total == 0 {
            total = device.memory_info().ok()?.total;
        }
    }
    Some((used, util / ids.len() as f64, total))
}

/// Whether process `pid` belongs to process group `pgid` (from `/proc/<pid>/stat`).
pub fn in_group(pid: u32, pgid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        // The command name is in parentheses and may hold spaces: fields follow the last `)`.
        stat.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2)?.parse::<i32>().ok())
            == Some(pgid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_keep_the_peak_and_the_mean() {
        let mut s = Samples::default();
        assert_eq!(s.used(), None);
        let mib = 1024 * 1024;
        s.add(100 * mib, 50.0, 80_000 * mib);
        s.add(300 * mib, 70.0, 80_000 * mib);
        s.add(200 * mib, 90.0, 80_000 * mib);
        let used = s.used().unwrap();
        assert_eq!(used.peak_memory_mb, 300.0);
        assert_eq!(used.memory_total_mb, 80_000.0);
        assert!((used.mean_utilisation - 70.0).abs() < 1e-12);
    }

    #[test]
    fn a_process_group_is_read_from_proc() {
        // This process leads no group of its own id unless it is its group's leader; its own
        // group is what /proc says.
        let me = std::process::id();
        // SAFETY: getpgrp(2) has no preconditions.
        let group = unsafe { libc::getpgrp() };
        assert!(in_group(me, group));
        assert!(!in_group(me, group + 1));
        assert!(!in_group(u32::MAX, group), "no such process");
    }

    #[test]
    fn without_a_driver_nothing_is_measured() {
        if Nvml::init().is_err() {
            assert!(Sampler::start(&[0], 1).is_none());
        }
        assert!(Sampler::start(&[], 1).is_none());
    }
}
