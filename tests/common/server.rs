//! `sweep serve` in tests: the server process on a free loopback port, and plain HTTP GETs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `sweep serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
}

impl Server {
    /// Starts `sweep serve DIR --port 0 ARGS...` and waits for the URL it prints.
    pub fn start(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sweep"))
            .arg("serve")
            .arg(dir)
            .args(["--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"));
        Server {
            child,
            base: url.trim_end_matches('/').to_string(),
        }
    }

    /// `GET path` (with its query): the status code and the body.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.get_with_host(path, self.base.trim_start_matches("http://"))
    }

    /// `GET path` with `host` in the `Host` header.
    pub fn get_with_host(&self, path: &str, host: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.base.trim_start_matches("http://")).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {head:?}"));
        (status, body.to_string())
    }

    /// `GET path` answered 200 with JSON: the JSON.
    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Stops the server and returns what it wrote on stderr.
    pub fn stop(mut self) -> String {
        let _ = self.child.kill();
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        let _ = self.child.wait();
        err
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A value in the environment of the program sweeps of [`program_grid`]: no page or file the
/// dashboard serves may show it.
pub const SECRET: &str = "secret-value-123";

/// A program sweep's grid file: examples/stdlib-bigram/train.py on the repository's corpus
/// (absolute paths), metric `val_loss` with `mode` ("min" or "max"), [`SECRET`] in its
/// environment as `API_TOKEN`, and `base`, `grid` and `seeds` as given.
pub fn program_grid(
    name: &str,
    mode: &str,
    base: serde_json::Value,
    grid: serde_json::Value,
    seeds: serde_json::Value,
) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    serde_json::json!({
        "name": name,
        "program": {
            "command": ["python3", "train.py", "--corpus", format!("{root}/data/timemachine.txt")],
            "workdir": format!("{root}/examples/stdlib-bigram"),
            "env": { "API_TOKEN": SECRET },
        },
        "metric": { "name": "val_loss", "mode": mode },
        "base": base,
        "grid": grid,
        "seeds": seeds,
    })
    .to_string()
}
