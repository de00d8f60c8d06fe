//! `sweep serve [DIR]`: the live dashboard of a results folder, until Ctrl-C.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;

use super::exit;
use crate::serve::{self, Dashboard};
use crate::store::Store;

/// Serves the dashboard of `dir` on `host:port` (port 0: any free port); prints the URL.
pub fn run(dir: &Path, host: IpAddr, port: u16) -> anyhow::Result<u8> {
    // A folder a sweep is about to write is served too: the page waits for its sweep.json.
    let store = match Store::open(dir) {
        Ok(store) => store,
        Err(_) if dir.is_dir() => {
            eprintln!(
                "note: {} has no sweep.json yet; the dashboard shows the sweep once one is \
                 started there",
                dir.display()
            );
            Store::at(dir)
        }
        Err(e) => return Err(e),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let addr = SocketAddr::new(host, port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let bound = listener.local_addr()?;
        if !host.is_loopback() {
            eprintln!(
                "warning: listening on {host}, not the loopback interface: anyone who can reach \
                 this machine on port {} can read the results folder's reports and metrics",
                bound.port()
            );
        }
        let shown = match bound.ip() {
            IpAddr::V6(ip) => format!("[{ip}]"),
            IpAddr::V4(ip) => ip.to_string(),
        };
        println!(
            "serving {} at http://{shown}:{}/ (Ctrl-C to stop)",
            dir.display(),
            bound.port()
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        let dashboard = Arc::new(Dashboard::new(store));
        serve::serve(listener, dashboard, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
        Ok(exit::OK)
    })
}
