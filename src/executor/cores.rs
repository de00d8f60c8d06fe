//! Sharing cores among running trials: while trials wait for a slot, each worker gets one
//! thread; once none wait (the tail of a sweep), the `jobs` cores are split among the trials
//! still running, so wall time approaches total work / cores. Workers hear their share on stdin
//! ([`super::protocol::OrchestratorMessage::Threads`]); their results do not depend on it.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// Threads each running worker may use.
pub fn threads_each(jobs: usize, waiting: usize, running: usize) -> usize {
    if waiting > 0 || running == 0 {
        1
    } else {
        (jobs / running).max(1)
    }
}

/// Counts of waiting and running trials, and the share they imply.
pub struct CoreShares {
    jobs: usize,
    counts: Mutex<(usize, usize)>,
    share: watch::Sender<usize>,
}

impl CoreShares {
    /// Shares for trials run at most `jobs` at a time (none waiting yet).
    pub fn new(jobs: usize) -> Arc<CoreShares> {
        Arc::new(CoreShares {
            jobs,
            counts: Mutex::new((0, 0)),
            share: watch::channel(1).0,
        })
    }

    /// The current share, updated as trials start and end.
    pub fn subscribe(&self) -> watch::Receiver<usize> {
        self.share.subscribe()
    }

    /// A trial runs until the returned guard is dropped.
    pub fn start(self: &Arc<Self>) -> Running {
        self.change(|(_, running)| *running += 1);
        Running(self.clone())
    }

    /// `count` trials wait for a slot (0 at the tail of a run, or when it stops).
    pub fn set_waiting(&self, count: usize) {
        self.change(|(waiting, _)| *waiting = count);
    }

    fn change(&self, f: impl FnOnce(&mut (usize, usize))) {
        let mut counts = self.counts.lock().expect("no panics while held");
        f(&mut counts);
        let (waiting, running) = *counts;
        self.share
            .send_replace(threads_each(self.jobs, waiting, running));
    }
}

/// A running trial; dropping it frees its cores for the others.
pub struct Running(Arc<CoreShares>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0
            .change(|(_, running)| *running = running.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cores_go_to_the_tail() {
        assert_eq!(threads_each(2, 3, 2), 1);
        assert_eq!(threads_each(2, 0, 2), 1);
        assert_eq!(threads_each(2, 0, 1), 2);
        assert_eq!(threads_each(8, 0, 3), 2);
        assert_eq!(threads_each(8, 0, 0), 1);
    }

    #[test]
    fn shares_follow_trials_starting_and_ending() {
        let shares = CoreShares::new(4);
        shares.set_waiting(3);
        let rx = shares.subscribe();
        let a = shares.start();
        let b = shares.start();
        shares.set_waiting(1);
        assert_eq!(*rx.borrow(), 1, "one trial still waits");
        let c = shares.start();
        shares.set_waiting(0);
        assert_eq!(*rx.borrow(), 1, "4 cores, 3 trials");
        drop(a);
        assert_eq!(*rx.borrow(), 2);
        drop(b);
        assert_eq!(*rx.borrow(), 4);
        drop(c);
        assert_eq!(*rx.borrow(), 1);
    }
}
