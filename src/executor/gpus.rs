//! Placing trials on GPUs: which GPUs a run may use (`--gpus 0,1` or `all`, found with
//! `nvidia-smi`), and a pool of places, each a trial's own share of them, taken when an attempt
//! starts and given back when it ends. A trial sees only its place, through
//! `CUDA_VISIBLE_DEVICES` (and `SWEEP_GPUS`) set on its worker.

use std::process::Command;

use crate::spec::GpuShare;

/// What CUDA (PyTorch, JAX, …) lets a placed worker's program see; `SWEEP_GPUS`
/// ([`super::protocol::GPUS_ENV`]) holds the same ids.
pub const CUDA_VISIBLE_DEVICES: &str = "CUDA_VISIBLE_DEVICES";

/// Which GPUs `--gpus` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GpuList {
    /// Every GPU `nvidia-smi` lists.
    All,
    /// These indices, in this order.
    Ids(Vec<u32>),
}

impl std::str::FromStr for GpuList {
    type Err = String;

    /// `all`, or indices separated by commas (`0,1,3`), each once.
    fn from_str(s: &str) -> Result<GpuList, String> {
        if s.trim() == "all" {
            return Ok(GpuList::All);
        }
        let mut ids = Vec::new();
        for part in s.split(',') {
            let id: u32 = part
                .trim()
                .parse()
                .map_err(|_| format!("expected GPU indices such as 0,1,2 or `all`, got `{s}`"))?;
            if ids.contains(&id) {
                return Err(format!("GPU {id} is named twice in `{s}`"));
            }
            ids.push(id);
        }
        Ok(GpuList::Ids(ids))
    }
}

/// The GPUs of this machine, as `nvidia-smi` lists them; an error saying what is missing.
pub fn discover() -> Result<Vec<u32>, String> {
    let out = Command::new("nvidia-smi")
        .args(["--query-gpu=index", "--format=csv,noheader"])
        .output()
        .map_err(|e| {
            format!(
                "cannot list this machine's GPUs: nvidia-smi cannot be run ({e}); is the NVIDIA \
                 driver installed?"
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "cannot list this machine's GPUs: nvidia-smi failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let ids: Result<Vec<u32>, _> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().parse::<u32>())
        .collect();
    match ids {
        Ok(ids) if !ids.is_empty() => Ok(ids),
        Ok(_) => Err("nvidia-smi lists no GPU on this machine".into()),
        Err(_) => Err(format!(
            "cannot read nvidia-smi's list of GPUs: {}",
            text.trim()
        )),
    }
}

/// The GPUs a run uses: `--gpus all` is what `nvidia-smi` lists; named ids are checked against
/// that list when there is one (without `nvidia-smi` they are taken as given, with a note).
pub fn resolve(list: &GpuList) -> Result<(Vec<u32>, Option<String>), String> {
    match list {
        GpuList::All => discover()
            .map(|ids| (ids, None))
            .map_err(|e| format!("--gpus all: {e}")),
        GpuList::Ids(ids) => match discover() {
            Ok(known) => match ids.iter().find(|id| !known.contains(id)) {
                Some(id) => Err(format!(
                    "--gpus: GPU {id} is not on this machine (nvidia-smi lists {})",
                    join(&known)
                )),
                None => Ok((ids.clone(), None)),
            },
            Err(why) => Ok((
                ids.clone(),
                Some(format!("{why}; using --gpus {} as given", join(ids))),
            )),
        },
    }
}

/// Whether a failure's reason says the program ran out of GPU memory (PyTorch's
/// `torch.OutOfMemoryError: CUDA out of memory`, CUDA's `CUDA_ERROR_OUT_OF_MEMORY`, JAX's
/// `RESOURCE_EXHAUSTED: Out of memory`).
pub fn out_of_memory(reason: &str) -> bool {
    [
        "CUDA out of memory",
        "CUDA_ERROR_OUT_OF_MEMORY",
        "OutOfMemoryError",
        "RESOURCE_EXHAUSTED",
    ]
    .iter()
    .any(|p| reason.contains(p))
}

/// `0,1`.
pub fn join(ids: &[u32]) -> String {
    ids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The places trials can take on some GPUs, each a set of GPU ids; at most one trial per place.
/// A trial that ran out of memory on a share can be given a whole GPU alone: it reserves one
/// GPU, whose places no other trial takes, and starts once all of them are free.
#[derive(Debug, Clone)]
pub struct GpuPool {
    share: GpuShare,
    places: Vec<Vec<u32>>,
    taken: Vec<bool>,
    /// The trial each place is kept for (a whole GPU for one trial).
    reserved: Vec<Option<usize>>,
}

impl GpuPool {
    /// The places of `share` on `gpus`: k places per GPU for 1/k of one (in turn over the GPUs,
    /// so the first trials get a GPU each), or consecutive groups of n GPUs for n whole ones;
    /// an error when a trial needs more GPUs than there are.
    pub fn new(gpus: &[u32], share: GpuShare) -> Result<GpuPool, String> {
        let each = share.gpus_each() as usize;
        if gpus.is_empty() || each > gpus.len() {
            return Err(format!(
                "each trial needs {} GPU{} (`resources.gpus` {}) but --gpus gives {} ({})",
                each,
                if each == 1 { "" } else { "s" },
                share.describe(),
                gpus.len(),
                if gpus.is_empty() {
                    "none".into()
                } else {
                    join(gpus)
                }
            ));
        }
        let places: Vec<Vec<u32>> = match share {
            GpuShare::Fraction(k) => (0..k).flat_map(|_| gpus.iter().map(|&g| vec![g])).collect(),
            GpuShare::Whole(_) => gpus.chunks_exact(each).map(<[u32]>::to_vec).collect(),
        };
        Ok(GpuPool {
            share,
            taken: vec![false; places.len()],
            reserved: vec![None; places.len()],
            places,
        })
    }

    /// How many trials can run at once, `alone` of them on a whole GPU each.
    pub fn capacity(&self, alone: usize) -> usize {
        let k = self.share.per_gpu() as usize;
        self.places.len().saturating_sub(alone * (k - 1))
    }

    /// Whether trials share GPUs (so one that ran out of memory could have one alone).
    pub fn shared(&self) -> bool {
        self.share.per_gpu() > 1
    }

    /// Takes the first place free and kept for no one: its index and GPU ids.
    pub fn take(&mut self) -> Option<(usize, Vec<u32>)> {
        let i = (0..self.places.len()).find(|&i| !self.taken[i] && self.reserved[i].is_none())?;
        self.taken[i] = true;
        Some((i, self.places[i].clone()))
    }

    /// A whole GPU for `owner` alone: its places and id once every place of the GPU kept for it
    /// is free; `None` while it waits (the GPU with the fewest trials on it is kept for it, so
    /// no other trial starts there meanwhile).
    pub fn take_whole(&mut self, owner: usize) -> Option<(Vec<usize>, Vec<u32>)> {
        if !self.reserved.contains(&Some(owner)) {
            let gpu = self
                .places_by_gpu()
                .into_iter()
                .filter(|(_, places)| places.iter().all(|&i| self.reserved[i].is_none()))
                .min_by_key(|(_, places)| places.iter().filter(|&&i| self.taken[i]).count())?
                .0;
            for i in 0..self.places.len() {
                if self.places[i] == [gpu] {
                    self.reserved[i] = Some(owner);
                }
            }
        }
        let mine: Vec<usize> = (0..self.places.len())
            .filter(|&i| self.reserved[i] == Some(owner))
            .collect();
        if mine.iter().any(|&i| self.taken[i]) {
            return None;
        }
        for &i in &mine {
            self.taken[i] = true;
            self.reserved[i] = None;
        }
        Some((mine.clone(), self.places[mine[0]].clone()))
    }

    /// The GPU kept for `owner`, while it waits for it to empty.
    pub fn kept_for(&self, owner: usize) -> Option<u32> {
        let i = self.reserved.iter().position(|r| *r == Some(owner))?;
        Some(self.places[i][0])
    }

    /// Each GPU of a shared pool with its places, in id order.
    fn places_by_gpu(&self) -> Vec<(u32, Vec<usize>)> {
        let mut by: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
        for (i, p) in self.places.iter().enumerate() {
            by.entry(p[0]).or_default().push(i);
        }
        by.into_iter().collect()
    }

    /// Frees place `i`.
    pub fn give_back(&mut self, i: usize) {
        self.taken[i] = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gpu_list_is_all_or_indices_each_once() {
        assert_eq!("all".parse(), Ok(GpuList::All));
        assert_eq!("0, 1,3".parse(), Ok(GpuList::Ids(vec![0, 1, 3])));
        assert!("0,x"
            .parse::<GpuList>()
            .unwrap_err()
            .contains("0,1,2 or `all`"));
        assert!("1,1"
            .parse::<GpuList>()
            .unwrap_err()
            .contains("named twice"));
        assert!("".parse::<GpuList>().is_err());
    }

    #[test]
    fn shares_fill_each_gpu_in_turn_and_whole_gpus_go_in_groups() {
        let mut half = GpuPool::new(&[0, 1], GpuShare::Fraction(2)).unwrap();
        assert_eq!(half.capacity(0), 4);
        let taken: Vec<Vec<u32>> = (0..4).map(|_| half.take().unwrap().1).collect();
        assert_eq!(taken, [vec![0], vec![1], vec![0], vec![1]]);
        assert_eq!(half.take(), None, "no GPU holds more than two");
        half.give_back(1);
        assert_eq!(half.take(), Some((1, vec![1])));

        let mut two = GpuPool::new(&[0, 1, 2], GpuShare::Whole(2)).unwrap();
        assert_eq!(two.capacity(0), 1, "GPU 2 alone cannot hold a trial");
        assert_eq!(two.take(), Some((0, vec![0, 1])));
        let err = GpuPool::new(&[0], GpuShare::Whole(2)).unwrap_err();
        assert!(
            err.contains("needs 2 GPUs") && err.contains("--gpus gives 1 (0)"),
            "{err}"
        );
    }

    #[test]
    fn a_trial_alone_waits_for_a_whole_gpu_that_no_one_else_takes_meanwhile() {
        let mut pool = GpuPool::new(&[0, 1], GpuShare::Fraction(2)).unwrap();
        let a = pool.take().unwrap(); // GPU 0
        let b = pool.take().unwrap(); // GPU 1
        let c = pool.take().unwrap(); // GPU 0
        assert_eq!((a.1[0], b.1[0], c.1[0]), (0, 1, 0));
        assert_eq!(
            pool.capacity(1),
            3,
            "one trial alone holds both places of its GPU"
        );
        // Trial 7 needs a GPU alone: GPU 1 has the fewest trials, so it is kept for it.
        assert_eq!(pool.take_whole(7), None, "b still runs on GPU 1");
        assert_eq!(pool.kept_for(7), Some(1));
        assert_eq!(pool.take(), None, "GPU 1's free place is kept for trial 7");
        pool.give_back(b.0);
        let (places, ids) = pool.take_whole(7).unwrap();
        assert_eq!(ids, [1]);
        assert_eq!(places.len(), 2);
        for i in places {
            pool.give_back(i);
        }
        assert!(
            pool.take().is_some() && pool.take().is_some(),
            "GPU 1 is shared again"
        );
    }
}
