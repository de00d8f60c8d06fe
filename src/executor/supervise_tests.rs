//! The lifecycle against a scripted backend: attempts that complete, crash, fail, disappear,
//! hang until stopped or are left running, without processes, Slurm or real timing.

use std::collections::{HashMap, VecDeque};

use super::*;
use crate::spec::{CorpusRef, RunOptions, TrainParams, TrialKind};

/// What one scripted attempt does.
#[derive(Debug, Clone)]
enum Attempt {
    /// Writes a completed result.json, then ends.
    Completes,
    /// Writes a failed result.json (as a NaN loss does), then ends.
    Fails(&'static str),
    /// Ends without a result, described so.
    Ends(&'static str),
    /// Writes a damaged result.json, then ends.
    Damages,
    /// Runs until the run is stopped, then ends without a result.
    Hangs,
    /// Never starts (a queued task cancelled alone): ends without a Started event.
    NeverStarts(&'static str),
}

/// A backend that plays a script per trial and records what it was asked.
struct Fake {
    store: Store,
    ids: Vec<String>,
    capacity: usize,
    script: HashMap<usize, VecDeque<Attempt>>,
    pending: VecDeque<BackendEvent>,
    hanging: Vec<usize>,
    launches: Vec<(Vec<usize>, bool)>,
    settled: Vec<usize>,
    /// What the supervisor said waits, each time it said it.
    waiting: Vec<usize>,
    /// Trials whose attempts were live before the run.
    already: Vec<usize>,
    after_stop: AfterStop,
}

impl Fake {
    fn new(store: &Store, trials: &[TrialConfig], capacity: usize) -> Fake {
        Fake {
            store: store.clone(),
            ids: trials.iter().map(|t| t.id.clone()).collect(),
            capacity,
            script: HashMap::new(),
            pending: VecDeque::new(),
            hanging: Vec::new(),
            launches: Vec::new(),
            settled: Vec::new(),
            waiting: Vec::new(),
            already: Vec::new(),
            after_stop: AfterStop::WaitForAttempts,
        }
    }

    fn script(mut self, index: usize, attempts: &[Attempt]) -> Fake {
        self.script
            .insert(index, attempts.iter().cloned().collect());
        self
    }
}

fn result(status: TrialStatus, reason: Option<&str>) -> TrialResult {
    TrialResult {
        status,
        reason: reason.map(String::from),
        steps_done: 10,
        parameters: Some(100),
        final_train_ppl: Some(7.0),
        final_heldout_ppl: Some(8.0),
        best_heldout_ppl: Some(8.0),
        steps_per_sec: Some(100.0),
        wall_seconds: 0.1,
        peak_memory_mb: None,
        gpu: None,
        vocab_size: Some(44),
        metric: None,
    }
}

impl Backend for Fake {
    fn capacity(&self) -> usize {
        self.capacity
    }

    fn add(&mut self, index: usize, _trial: &TrialConfig, _reporter: &mut dyn Reporter) -> bool {
        self.already.contains(&index)
    }

    async fn launch(
        &mut self,
        indices: &[usize],
        retry: bool,
        _reporter: &mut dyn Reporter,
    ) -> anyhow::Result<()> {
        self.launches.push((indices.to_vec(), retry));
        for &index in indices {
            let dir = self.store.trial(&self.ids[index]);
            let attempt = self
                .script
                .get_mut(&index)
                .and_then(VecDeque::pop_front)
                .unwrap_or(Attempt::Completes);
            if let Attempt::NeverStarts(how) = attempt {
                self.pending.push_back(BackendEvent::Ended {
                    index,
                    how: how.into(),
                });
                continue;
            }
            self.pending
                .push_back(BackendEvent::Trial(TrialEvent::Started {
                    index,
                    steps: 10,
                    resumed_from: 0,
                }));
            let how = match attempt {
                Attempt::Completes => {
                    dir.write_result(&result(TrialStatus::Completed, None))?;
                    "worker exited with code 0"
                }
                Attempt::Fails(reason) => {
                    dir.write_result(&result(TrialStatus::Failed, Some(reason)))?;
                    "worker exited with code 1"
                }
                Attempt::Ends(how) => how,
                Attempt::Damages => {
                    std::fs::write(dir.result_path(), "{\"status\": \"comp")?;
                    "worker exited with code 0"
                }
                Attempt::Hangs => {
                    self.hanging.push(index);
                    continue;
                }
                Attempt::NeverStarts(_) => unreachable!("handled above"),
            };
            self.pending.push_back(BackendEvent::Ended {
                index,
                how: how.into(),
            });
        }
        Ok(())
    }

    async fn next(&mut self) -> anyhow::Result<Option<BackendEvent>> {
        tokio::task::yield_now().await;
        Ok(self.pending.pop_front())
    }

    fn settled(&mut self, index: usize) {
        self.settled.push(index);
    }

    fn waiting(&mut self, count: usize) {
        self.waiting.push(count);
    }

    async fn stop(&mut self, _level: Stop, _reporter: &mut dyn Reporter) -> AfterStop {
        for index in self.hanging.drain(..) {
            self.pending.push_back(BackendEvent::Ended {
                index,
                how: "worker exited with code 3".into(),
            });
        }
        self.after_stop
    }
}

/// Collects the events and notices of a run.
#[derive(Default)]
struct Recorder {
    events: Vec<TrialEvent>,
}

impl Reporter for Recorder {
    fn event(&mut self, event: &TrialEvent) {
        self.events.push(event.clone());
    }
    fn notice(&mut self, _message: &str) {}
}

struct Setup {
    _dir: tempfile::TempDir,
    store: Store,
    trials: Vec<TrialConfig>,
}

fn setup(n: usize, max_retries: u32) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let trials: Vec<TrialConfig> = (0..n)
        .map(|i| TrialConfig {
            id: format!("t{i}"),
            label: format!("trial {i}"),
            kind: TrialKind::Model {
                params: TrainParams::default(),
                corpus: CorpusRef {
                    name: "timemachine".into(),
                    path: None,
                    sha256: "x".into(),
                },
            },
            run: RunOptions {
                max_retries,
                ..RunOptions::default()
            },
        })
        .collect();
    for t in &trials {
        store.trial(&t.id).prepare(t).unwrap();
    }
    Setup {
        _dir: dir,
        store,
        trials,
    }
}

/// Runs the supervisor over `fake`; `stop` sends that many stop requests up front.
fn run(s: &Setup, fake: &mut Fake, running: &[usize], stops: usize) -> (RunReport, Recorder) {
    fake.already = running.to_vec();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    for _ in 0..stops {
        tx.send(()).unwrap();
    }
    let mut requests = StopRequests::from_channel(rx);
    let mut recorder = Recorder::default();
    let report = rt
        .block_on(supervise(
            fake,
            &s.store,
            &s.trials,
            &mut requests,
            &mut recorder,
        ))
        .unwrap();
    (report, recorder)
}

fn retries(events: &[TrialEvent]) -> Vec<(usize, String, u32)> {
    events
        .iter()
        .filter_map(|e| match e {
            TrialEvent::Retrying {
                index,
                reason,
                attempt,
                ..
            } => Some((*index, reason.clone(), *attempt)),
            _ => None,
        })
        .collect()
}

#[test]
fn trials_launch_at_most_capacity_at_a_time_in_order_and_complete() {
    let s = setup(5, 2);
    let mut fake = Fake::new(&s.store, &s.trials, 2);
    let (report, rec) = run(&s, &mut fake, &[], 0);
    assert!(!report.interrupted);
    assert!(report
        .outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Completed(_))));
    let launched: Vec<usize> = fake.launches.iter().flat_map(|l| l.0.clone()).collect();
    assert_eq!(launched, [0, 1, 2, 3, 4]);
    assert!(fake.launches.iter().all(|l| l.0.len() <= 2 && !l.1));
    assert_eq!(fake.launches[0].0, [0, 1]);
    let finished = rec
        .events
        .iter()
        .filter(|e| matches!(e, TrialEvent::Finished { .. }))
        .count();
    assert_eq!(finished, 5);
    fake.settled.sort();
    assert_eq!(fake.settled, [0, 1, 2, 3, 4]);
}

#[test]
fn a_crashed_attempt_is_retried_first_and_then_completes() {
    let s = setup(3, 2);
    let crash = Attempt::Ends("worker was killed by signal 9");
    let mut fake = Fake::new(&s.store, &s.trials, 1).script(0, &[crash.clone(), crash]);
    let (report, rec) = run(&s, &mut fake, &[], 0);
    assert!(matches!(report.outcomes[0], Outcome::Completed(_)));
    assert_eq!(
        retries(&rec.events),
        [
            (0, "worker was killed by signal 9".to_string(), 1),
            (0, "worker was killed by signal 9".to_string(), 2)
        ]
    );
    // The retry takes the freed slot before the queue goes on.
    assert_eq!(
        fake.launches,
        [
            (vec![0], false),
            (vec![0], true),
            (vec![0], true),
            (vec![1], false),
            (vec![2], false)
        ]
    );
}

#[test]
fn retries_run_out_into_one_recorded_failure_with_one_wording() {
    let s = setup(2, 1);
    let gone = Attempt::Ends("Slurm task 41_0 no longer listed by squeue without a result");
    let mut fake = Fake::new(&s.store, &s.trials, 2).script(1, &[gone.clone(), gone]);
    let (report, _) = run(&s, &mut fake, &[], 0);
    let want = "Slurm task 41_0 no longer listed by squeue without a result (after 1 retry)";
    assert_eq!(report.outcomes[1], Outcome::Failed(want.into()));
    let stored = s.store.trial("t1").result().unwrap().unwrap();
    assert_eq!(stored.status, TrialStatus::Failed);
    assert_eq!(stored.reason.as_deref(), Some(want));
    // Without retries the reason has no count.
    let s = setup(1, 0);
    let mut fake = Fake::new(&s.store, &s.trials, 1)
        .script(0, &[Attempt::Ends("worker exited with code 2: boom")]);
    let (report, rec) = run(&s, &mut fake, &[], 0);
    assert_eq!(
        report.outcomes[0],
        Outcome::Failed("worker exited with code 2: boom".into())
    );
    assert!(retries(&rec.events).is_empty());
}

#[test]
fn a_recorded_failure_is_final_without_retries() {
    let s = setup(1, 3);
    let nan = "training loss became NaN at step 8";
    let mut fake = Fake::new(&s.store, &s.trials, 1).script(0, &[Attempt::Fails(nan)]);
    let (report, rec) = run(&s, &mut fake, &[], 0);
    assert_eq!(report.outcomes[0], Outcome::Failed(nan.into()));
    assert!(retries(&rec.events).is_empty());
    assert_eq!(fake.launches.len(), 1);
}

#[test]
fn a_damaged_result_is_reported_as_such_not_retried() {
    let s = setup(1, 3);
    let mut fake = Fake::new(&s.store, &s.trials, 1).script(0, &[Attempt::Damages]);
    let (report, _) = run(&s, &mut fake, &[], 0);
    let Outcome::Failed(reason) = &report.outcomes[0] else {
        panic!("{:?}", report.outcomes[0]);
    };
    assert!(
        reason.contains("its result.json cannot be read"),
        "{reason}"
    );
    assert!(reason.contains("result.json is damaged"), "{reason}");
    assert_eq!(fake.launches.len(), 1);
}

#[test]
fn a_stop_interrupts_the_running_trials_and_launches_nothing_more() {
    let s = setup(4, 2);
    let mut fake = Fake::new(&s.store, &s.trials, 2)
        .script(0, &[Attempt::Hangs])
        .script(1, &[Attempt::Hangs]);
    let (report, rec) = run(&s, &mut fake, &[], 1);
    assert!(report.interrupted);
    assert_eq!(report.outcomes, vec![Outcome::Interrupted; 4]);
    assert_eq!(fake.launches, [(vec![0, 1], false)]);
    assert_eq!(fake.waiting.first(), Some(&2), "trials 2 and 3 wait");
    assert_eq!(fake.waiting.last(), Some(&0), "and never start");
    assert!(
        retries(&rec.events).is_empty(),
        "a stopped attempt is not retried"
    );
    let finished: Vec<&TrialEvent> = rec
        .events
        .iter()
        .filter(|e| matches!(e, TrialEvent::Finished { .. }))
        .collect();
    assert_eq!(finished.len(), 2, "{finished:?}");
}

#[test]
fn a_backend_that_leaves_its_attempts_running_returns_at_once() {
    let s = setup(2, 2);
    let mut fake = Fake::new(&s.store, &s.trials, 2)
        .script(0, &[Attempt::Hangs])
        .script(1, &[Attempt::Hangs]);
    fake.after_stop = AfterStop::Return;
    let (report, _) = run(&s, &mut fake, &[], 1);
    assert!(report.interrupted);
    assert_eq!(report.outcomes, vec![Outcome::Interrupted; 2]);
}

#[test]
fn trials_already_running_are_followed_not_launched() {
    let s = setup(3, 2);
    let mut fake = Fake::new(&s.store, &s.trials, 8);
    // Trial 1's attempt from an earlier run ends with a result.
    s.store
        .trial("t1")
        .write_result(&result(TrialStatus::Completed, None))
        .unwrap();
    fake.pending.push_back(BackendEvent::Ended {
        index: 1,
        how: "Slurm task 7_1 ended COMPLETED".into(),
    });
    let (report, _) = run(&s, &mut fake, &[1], 0);
    assert_eq!(fake.launches, [(vec![0, 2], false)]);
    assert!(report
        .outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Completed(_))));
}

#[test]
fn a_late_end_of_a_concluded_attempt_changes_nothing() {
    let s = setup(1, 2);
    let mut fake = Fake::new(&s.store, &s.trials, 1);
    // An end is reported before the attempt's own (as a Slurm task seen ending twice): the
    // trial is concluded once, from its folder.
    fake.pending.push_back(BackendEvent::Ended {
        index: 0,
        how: "Slurm task 7_0 ended COMPLETED".into(),
    });
    let (report, rec) = run(&s, &mut fake, &[], 0);
    assert!(matches!(report.outcomes[0], Outcome::Completed(_)));
    let finished = rec
        .events
        .iter()
        .filter(|e| matches!(e, TrialEvent::Finished { .. }))
        .count();
    assert_eq!(finished, 1);
}

#[test]
fn cancelled_and_never_started_attempts_are_retried_like_crashes() {
    let s = setup(2, 2);
    let mut fake = Fake::new(&s.store, &s.trials, 2)
        .script(
            0,
            &[Attempt::Ends(
                "Slurm task 9_0 ended CANCELLED without a result",
            )],
        )
        .script(
            1,
            &[Attempt::NeverStarts(
                "Slurm task 9_1 no longer listed by squeue without a result",
            )],
        );
    let (report, rec) = run(&s, &mut fake, &[], 0);
    assert!(report
        .outcomes
        .iter()
        .all(|o| matches!(o, Outcome::Completed(_))));
    let mut retried: Vec<usize> = retries(&rec.events).iter().map(|r| r.0).collect();
    retried.sort();
    assert_eq!(retried, [0, 1]);
    // Trial 1 started only once: on its retry.
    let started = |i: usize| {
        rec.events
            .iter()
            .filter(|e| matches!(e, TrialEvent::Started { index, .. } if *index == i))
            .count()
    };
    assert_eq!((started(0), started(1)), (2, 1));
}
