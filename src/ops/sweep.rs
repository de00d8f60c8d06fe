//! Training a whole plan the way its grid file asks: every trial to its end, successive
//! halving or Hyperband (in rungs), asynchronous successive halving or Hyperband (as results
//! come in), TPE in waves or pipelined; `sweep.json` follows the trials a TPE search plans.

use std::cell::RefCell;

use super::training::Training;
use super::triage::{triage, Triage};
use crate::schedule::asha_search::{AshaSearch, Shape};
use crate::schedule::scoring::Scoring;
use crate::schedule::tpe::TpeSearch;
use crate::schedule::tpe_pipeline::TpePipeline;
use crate::schedule::{self, Ended};
use crate::spec::{Plan, TrialConfig};
use crate::store::Manifest;

/// Trains `plan` (triaged as `t`) with the search and early stopping of `training.spec`;
/// `tpe` is the TPE search when the grid file asks for one. `manifest` is rewritten as a TPE
/// search plans more trials.
pub fn train_plan(
    training: &Training,
    plan: &Plan,
    tpe: Option<&TpeSearch>,
    t: &Triage,
    manifest: &mut Manifest,
) -> anyhow::Result<Ended> {
    let (store, spec) = (training.store, training.spec);
    let (retry_failed, on_slurm) = (training.retry_failed, training.on_slurm);
    Ok(match (tpe, &spec.early_stopping) {
        (Some(search), Some(es)) if !es.method.is_async() => search.run(
            |planned| {
                manifest.trials = planned.iter().map(|t| t.id.clone()).collect();
                store.write_manifest(manifest)
            },
            |wave| {
                let wave = Plan {
                    trials: wave.to_vec(),
                    ..plan.clone()
                };
                let t = triage(store, &wave, retry_failed, on_slurm);
                training.train_all(&t)
            },
            |to_run| training.train(to_run),
        )?,
        (Some(search), _) => {
            let manifest = RefCell::new(manifest);
            let prepare = |trials: &[TrialConfig]| {
                let some = Plan {
                    trials: trials.to_vec(),
                    ..plan.clone()
                };
                let t = triage(store, &some, retry_failed, on_slurm);
                training.prepare_all(&t)?;
                Ok(t.to_run)
            };
            let proposed = |planned: &[TrialConfig]| {
                let mut manifest = manifest.borrow_mut();
                manifest.trials = planned.iter().map(|t| t.id.clone()).collect();
                store.write_manifest(&manifest)
            };
            let mut pipeline = TpePipeline::new(search, Box::new(prepare), Box::new(proposed))?;
            let ended = training.train_feed(&mut pipeline)?;
            if ended == Ended::Done {
                pipeline.finish()?;
            }
            ended
        }
        (None, None) => training.train_all(t)?,
        (None, Some(es)) if es.method.is_async() => {
            let shape = Shape::of(&plan.trials, &spec.objectives);
            let mut search = AshaSearch::new(store, &plan.trials, es, 0, shape)?;
            let ended = training.train_feed(&mut search)?;
            if ended == Ended::Done {
                search.finish()?;
            }
            ended
        }
        (None, Some(es)) => {
            let scoring = Scoring::new(&spec.objectives);
            schedule::successive_halving(store, &plan.trials, es, &scoring, 0, |to_run| {
                training.train(to_run)
            })?
        }
    })
}
