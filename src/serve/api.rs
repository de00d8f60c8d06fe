//! The JSON API (docs/dashboard.md documents it): `/api/sweep`, `/api/trials`, `/api/curves`,
//! `/api/trial`, `/api/summary`. The numbers are those of `trials.csv` and `curves.csv`. Bad
//! query parameters get a 400 with a message, unknown trials a 404; nothing here writes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::snapshot::Snapshot;
use super::Dashboard;
use crate::report::summary::shell_quote;
use crate::store::Curves;

/// A JSON error: `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    ApiError(status, message.into()).into_response()
}

/// A refused request: its status and what to say.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type Answer = Result<Json<Value>, ApiError>;

/// Any other route.
pub async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page or API route")
}

fn snapshot(dashboard: &Dashboard) -> Result<Arc<Snapshot>, ApiError> {
    dashboard.snapshot().map_err(|e| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read the results folder: {e:#}"),
        )
    })
}

/// The query's parameters, checked against the `known` ones.
fn params(query: &HashMap<String, String>, known: &[&str]) -> Result<(), ApiError> {
    match query.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown query parameter `{k}`; expected {}",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// `GET /api/sweep`.
pub async fn sweep(State(dashboard): State<Arc<Dashboard>>) -> Answer {
    Ok(Json(snapshot(&dashboard)?.sweep.clone()))
}

/// `GET /api/trials`.
pub async fn trials(State(dashboard): State<Arc<Dashboard>>) -> Answer {
    Ok(Json(snapshot(&dashboard)?.trials.clone()))
}

/// The trial named by the `trial` (or `id`) parameter, which must be in the sweep.
fn trial_id(
    query: &HashMap<String, String>,
    key: &str,
    snapshot: &Snapshot,
) -> Result<String, ApiError> {
    let id = query.get(key).ok_or_else(|| {
        ApiError(
            StatusCode::BAD_REQUEST,
            format!("`{key}` is required: a trial id"),
        )
    })?;
    let known = snapshot.record.trials.iter().any(|t| &t.config.id == id)
        || snapshot.record.damaged.iter().any(|d| &d.id == id);
    if !known {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no trial `{id}` in this sweep"),
        ));
    }
    Ok(id.clone())
}

/// `GET /api/curves?trial=ID&since=STEP`: the trial's metric rows after step `since`
/// (default 0: all), as `curves.csv` has them.
pub async fn curves(
    State(dashboard): State<Arc<Dashboard>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    params(&query, &["trial", "since"])?;
    let since = match query.get("since") {
        None => 0,
        Some(s) => s.parse::<usize>().map_err(|_| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("`since` must be a step number (an integer ≥ 0), got `{s}`"),
            )
        })?,
    };
    let s = snapshot(&dashboard)?;
    let id = trial_id(&query, "trial", &s)?;
    let curves = s.curves(&id).unwrap_or_default();
    Ok(Json(curves_json(&id, &curves, since)))
}

/// A trial's rows after step `since`: step, each value its rows hold under its own name (the
/// built-in model's `train_loss`, `train_ppl`, `heldout_ppl`; every metric a program
/// reported, in name order), elapsed_s; a value a row did not report is null.
fn curves_json(id: &str, curves: &Curves, since: usize) -> Value {
    let names = curves.value_names();
    let after: Vec<Value> = curves
        .rows(&names)
        .into_iter()
        .filter(|(step, _, _)| *step > since)
        .map(|(step, elapsed, values)| {
            let mut row = vec![json!(step)];
            row.extend(values.into_iter().map(|v| json!(v)));
            row.push(json!(elapsed));
            Value::Array(row)
        })
        .collect();
    let mut columns = vec![json!("step")];
    columns.extend(names.iter().map(|n| json!(n)));
    columns.push(json!("elapsed_s"));
    json!({
        "trial": id,
        "columns": columns,
        "rows": after,
        "last_step": curves.last_step(),
    })
}

/// Hides the values of a program trial's environment in its configuration (`program.env`):
/// they may hold tokens, and the dashboard shows configurations to whoever reaches it.
pub fn redact_env(config: &mut Value) {
    if let Some(env) = config
        .get_mut("program")
        .and_then(|p| p.get_mut("env"))
        .and_then(Value::as_object_mut)
    {
        for value in env.values_mut() {
            *value = json!("(hidden)");
        }
    }
}

/// `GET /api/trial?id=ID`: the trial's configuration, result, stored sample, files, and the
/// commands that resume the sweep and sample the trial.
pub async fn trial(
    State(dashboard): State<Arc<Dashboard>>,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    params(&query, &["id"])?;
    let s = snapshot(&dashboard)?;
    let id = trial_id(&query, "id", &s)?;
    let dir = dashboard.store().trial(&id);
    let record = s.record.trials.iter().find(|t| t.config.id == id);
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let grid = s.record.manifest.grid_file.display().to_string();
    let out = s.sweep["results"].as_str().unwrap_or_default().to_string();
    let mut config = json!(record.map(|t| &t.config));
    redact_env(&mut config);
    let is_model = record.is_some_and(|t| t.config.program().is_none());
    Ok(Json(json!({
        "id": id,
        "label": record.map_or(id.clone(), |t| t.config.label.clone()),
        "status": record.map_or("damaged", |t| t.status().name()),
        "config": config,
        "result": record.and_then(|t| t.result()),
        "sample": dir.sample().ok().flatten(),
        "files": files,
        "resume_command": format!("sweep {} --out {}", shell_quote(&grid), shell_quote(&out)),
        "sample_command": is_model.then(|| format!("sweep sample {id} --out {}", shell_quote(&out))),
    })))
}

/// `GET /api/summary`: the summary's markdown.
pub async fn summary(State(dashboard): State<Arc<Dashboard>>) -> Answer {
    let s = snapshot(&dashboard)?;
    Ok(Json(json!({ "markdown": s.summary(dashboard.root()) })))
}
