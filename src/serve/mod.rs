//! `sweep serve`: a live dashboard of a results folder, read from the folder alone (so it
//! follows local and Slurm sweeps, and folders copied from a cluster), served on the loopback
//! interface unless told otherwise, read-only.
//!
//! [`snapshot`] reads the folder (at most once a second, whatever the number of clients;
//! metrics read on from where they were read last), [`api`] answers the JSON routes,
//! [`files`] serves the folder's known files and nothing else, [`assets`] the page itself,
//! embedded in the binary; [`idle`] closes connections that stall.

pub mod api;
pub mod assets;
pub mod files;
pub mod idle;
pub mod snapshot;

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

pub use snapshot::Dashboard;

/// The dashboard's routes over `dashboard`. With `loopback_only`, a request must name this
/// machine's loopback interface in its `Host` header (`localhost`, `127.0.0.1`, `[::1]`), so
/// that a web page elsewhere cannot read the results through a DNS name pointed at 127.0.0.1
/// (DNS rebinding).
pub fn router(dashboard: Arc<Dashboard>, loopback_only: bool) -> Router {
    let routes = Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*name}", get(assets::asset))
        .route("/api/sweep", get(api::sweep))
        .route("/api/trials", get(api::trials))
        .route("/api/curves", get(api::curves))
        .route("/api/trial", get(api::trial))
        .route("/api/summary", get(api::summary))
        .route("/files/{*path}", get(files::file))
        .fallback(api::not_found)
        .with_state(dashboard);
    if loopback_only {
        routes.layer(middleware::from_fn(loopback_host))
    } else {
        routes
    }
}

/// Refuses a request whose `Host` is not a name of the loopback interface.
async fn loopback_host(request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    if ["localhost", "127.0.0.1", "[::1]"].contains(&name) {
        next.run(request).await
    } else {
        api::error(
            StatusCode::FORBIDDEN,
            format!(
                "this dashboard answers requests for localhost only, not for `{host}` (serve \
                 with --host to allow other names)"
            ),
        )
    }
}

/// Serves `dashboard` on `listener` until `shutdown` completes (to loopback names only when
/// the listener is on the loopback interface).
pub async fn serve(
    listener: tokio::net::TcpListener,
    dashboard: Arc<Dashboard>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let loopback_only = listener.local_addr()?.ip().is_loopback();
    let listener = idle::IdleListener::new(listener, idle::IDLE);
    axum::serve(listener, router(dashboard, loopback_only))
        .with_graceful_shutdown(shutdown)
        .await
}
