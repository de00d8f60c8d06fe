//! Where a run's trials may run on GPUs: `--gpus` against the grid file's `resources.gpus`,
//! checked before anything runs (a built-in model sweep trains on the CPU; a share of a GPU
//! needs the GPUs named; a trial cannot need more GPUs than are given).

use crate::executor::gpus::{self, GpuList, GpuPool};
use crate::spec::{GpuShare, GridSpec};

/// The GPU places of a local run, `None` when trials are not placed on GPUs; and a note to
/// print (GPU ids that could not be checked).
pub fn local_gpus(
    spec: &GridSpec,
    list: Option<&GpuList>,
) -> anyhow::Result<(Option<GpuPool>, Option<String>)> {
    let share = spec.resources.gpus;
    let Some(list) = list else {
        if let Some(share) = share {
            anyhow::bail!(
                "{}: `resources.gpus` is {}: say which GPUs the trials may use with --gpus 0,1 \
                 (or --gpus all)",
                spec.path.display(),
                share.describe()
            );
        }
        return Ok((None, None));
    };
    if spec.program.is_none() {
        anyhow::bail!(
            "--gpus: the built-in model trains on the CPU; GPUs are for a `program`'s trials"
        );
    }
    let (ids, note) = gpus::resolve(list).map_err(anyhow::Error::msg)?;
    let pool =
        GpuPool::new(&ids, share.unwrap_or(GpuShare::Whole(1))).map_err(anyhow::Error::msg)?;
    Ok((Some(pool), note))
}

/// The GPUs of each Slurm task (`--gres=gpu:N`) and how many trials share a task (k for a
/// share 1/k of a GPU: they run side by side on the task's GPU); `(None, 1)` when trials need
/// no GPU. An error for `--gpus`: Slurm places the tasks itself.
pub fn slurm_gpus(spec: &GridSpec, list: Option<&GpuList>) -> anyhow::Result<(Option<u32>, u32)> {
    if list.is_some() {
        anyhow::bail!(
            "--gpus is for local runs: on Slurm, `resources.gpus` asks each task for its GPUs \
             and Slurm chooses them"
        );
    }
    Ok(match spec.resources.gpus {
        None => (None, 1),
        Some(GpuShare::Whole(n)) => (Some(n), 1),
        Some(GpuShare::Fraction(k)) => (Some(1), k),
    })
}
