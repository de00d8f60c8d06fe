//! `sweep serve`: a live dashboard of a results folder, read from the folder alone (so it
//! follows local and Slurm sweeps, and folders copied from a cluster), served on the loopback
//! interface unless told otherwise, read-only.
//!
//! [`snapshot`] reads the folder (at most once a second, whatever the number of clients;
//! metrics read on from where they were read last), [`api`] answers the JSON routes,
//! [`files`] serves the folder's known files and nothing else, [`assets`] the page itself,
//! embedded in the binary.

pub mod api;
pub mod assets;
pub mod files;
pub mod snapshot;

use std::future::Future;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;

pub use snapshot::Dashboard;

/// The dashboard's routes over `dashboard`.
pub fn router(dashboard: Arc<Dashboard>) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*name}", get(assets::asset))
        .route("/api/sweep", get(api::sweep))
        .route("/api/trials", get(api::trials))
        .route("/api/curves", get(api::curves))
        .route("/api/trial", get(api::trial))
        .route("/api/summary", get(api::summary))
        .route("/files/{*path}", get(files::file))
        .fallback(api::not_found)
        .with_state(dashboard)
}

/// Serves `dashboard` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    dashboard: Arc<Dashboard>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(dashboard))
        .with_graceful_shutdown(shutdown)
        .await
}
