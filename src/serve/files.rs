//! `GET /files/{path}`: the results folder's known files (reports, charts, a trial's small
//! files), nothing else. A path with an empty, `.` or `..` segment (also when percent-encoded),
//! a backslash, or a name outside the known ones is refused; so is a file whose real path (after
//! symbolic links) leads outside the folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use super::api::error;
use super::Dashboard;

/// Files at the top of the results folder that may be served.
const TOP: &[&str] = &[
    "trials.csv",
    "curves.csv",
    "summary.md",
    "sweep.json",
    "rungs.jsonl",
    "proposals.jsonl",
];

/// Files of a trial folder that may be served.
const TRIAL: &[&str] = &[
    "config.json",
    "result.json",
    "metrics.csv",
    "sample.json",
    "metrics.jsonl",
    "program.log",
];

/// `GET /files/{path}`.
pub async fn file(
    State(dashboard): State<Arc<Dashboard>>,
    UrlPath(path): UrlPath<String>,
) -> Response {
    let root = dashboard.root();
    let resolved = match allowed(&path) {
        Ok(relative) => inside(root, &relative),
        Err(why) => Err(why),
    };
    let full = match resolved {
        Ok(full) => full,
        Err((status, why)) => return error(status, why),
    };
    let body = if path.ends_with("/config.json") {
        // Small, and read whole to hide its environment values.
        std::fs::read(&full).map(|b| {
            let b = redacted(&path, b);
            (b.len() as u64, Body::from(b))
        })
    } else {
        // Streamed: many readers of a large curves.csv hold a chunk each, not the file.
        streamed(&full).await
    };
    match body {
        Ok((len, body)) => (
            [
                (header::CONTENT_TYPE, content_type(&path).to_string()),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
                (header::CACHE_CONTROL, "no-cache".to_string()),
                (header::CONTENT_LENGTH, len.to_string()),
            ],
            body,
        )
            .into_response(),
        Err(_) => error(StatusCode::NOT_FOUND, format!("no file `{path}` here")),
    }
}

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

/// The file at `path` as it is now (its length, and a body that reads that much a chunk at a
/// time as the client takes it; what is appended meanwhile is left for the next request).
async fn streamed(path: &Path) -> std::io::Result<(u64, Body)> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path).await?;
    let len = file.metadata().await?.len();
    let file = file.take(len);
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Ok((len, Body::from_stream(chunks)))
}

/// The relative path of `path` if it names a known file of a results folder.
pub fn allowed(path: &str) -> Result<PathBuf, (StatusCode, String)> {
    let refuse = |why: &str| (StatusCode::FORBIDDEN, format!("`{path}`: {why}"));
    let segments: Vec<&str> = path.split('/').collect();
    if segments
        .iter()
        .any(|s| s.is_empty() || *s == "." || *s == ".." || s.contains(['\\', '\0']))
    {
        return Err(refuse(
            "only plain paths inside the results folder are served",
        ));
    }
    let chart = |name: &str| name.ends_with(".png") || name.ends_with(".svg");
    let known = match segments[..] {
        [name] => TOP.contains(&name) || chart(name),
        ["charts", name] => chart(name),
        ["trials", id, name] => {
            id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) && TRIAL.contains(&name)
        }
        _ => false,
    };
    if !known {
        return Err((
            StatusCode::NOT_FOUND,
            format!("`{path}` is not a file the dashboard serves"),
        ));
    }
    Ok(segments.iter().collect())
}

/// `relative` under `root`, if its real path is inside the real `root`.
fn inside(root: &Path, relative: &Path) -> Result<PathBuf, (StatusCode, String)> {
    let shown = relative.display().to_string();
    let not_found = || (StatusCode::NOT_FOUND, format!("no file `{shown}` here"));
    let real_root = root.canonicalize().map_err(|_| not_found())?;
    let real = root
        .join(relative)
        .canonicalize()
        .map_err(|_| not_found())?;
    if !real.starts_with(&real_root) {
        return Err((
            StatusCode::FORBIDDEN,
            format!("`{shown}` leads outside the results folder"),
        ));
    }
    Ok(real)
}

/// A trial's `config.json` with its program's environment values hidden (they may hold
/// tokens); any other file as it is.
fn redacted(path: &str, bytes: Vec<u8>) -> Vec<u8> {
    if !path.ends_with("/config.json") {
        return bytes;
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(mut config) => {
            super::api::redact_env(&mut config);
            serde_json::to_vec_pretty(&config).unwrap_or(bytes)
        }
        Err(_) => bytes,
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("csv") => "text/csv; charset=utf-8",
        Some("json") | Some("jsonl") => "application/json",
        Some("md") => "text/markdown; charset=utf-8",
        Some("log") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_files_by_plain_paths() {
        for ok in [
            "trials.csv",
            "curves.png",
            "charts/lr.svg",
            "trials/0123456789ab/metrics.csv",
        ] {
            assert!(allowed(ok).is_ok(), "{ok}");
        }
        for (bad, status) in [
            ("../etc/passwd", StatusCode::FORBIDDEN),
            ("charts/../../x.png", StatusCode::FORBIDDEN),
            ("trials//metrics.csv", StatusCode::FORBIDDEN),
            ("./trials.csv", StatusCode::FORBIDDEN),
            ("charts\\..\\x.png", StatusCode::FORBIDDEN),
            ("sweep.lock", StatusCode::NOT_FOUND),
            (
                "trials/0123456789ab/checkpoint.safetensors",
                StatusCode::NOT_FOUND,
            ),
            ("trials/zzz/metrics.csv", StatusCode::NOT_FOUND),
            ("etc/passwd", StatusCode::NOT_FOUND),
        ] {
            assert_eq!(allowed(bad).unwrap_err().0, status, "{bad}");
        }
    }

    #[test]
    fn a_symlink_out_of_the_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.png"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.png"), dir.path().join("a.png"))
            .unwrap();
        std::fs::write(dir.path().join("b.png"), "y").unwrap();
        assert_eq!(
            inside(dir.path(), Path::new("a.png")).unwrap_err().0,
            StatusCode::FORBIDDEN
        );
        assert!(inside(dir.path(), Path::new("b.png")).is_ok());
    }
}
