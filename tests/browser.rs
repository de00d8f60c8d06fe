//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver), against `sweep serve` on the loopback interface during a real sweep. The
//! page shows every trial's row and a drawn chart, a running trial's step advances without a
//! reload, a trial page opens, and text from user files (the sweep's name, the corpus file's
//! name, a sample) shows as text and runs nothing. `SCREENSHOT=docs/dashboard.png` saves the
//! screenshot README shows.
//!
//! Without chromium and chromedriver (`apt-get install chromium chromium-driver`) the test says
//! it is skipped, unless `REQUIRE_BROWSER=1` (CI) makes that a failure.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::server::Server;
use common::{wait_until, Workspace};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A name and a corpus file name that would run script if they reached the page as markup.
const NAME: &str = "<b>live</b><script>window.pwned = 1</script>";
const CORPUS: &str = "<img src=x onerror=window.pwned=2>.txt";

fn browser_available() -> bool {
    let there = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !there {
        assert!(
            std::env::var("REQUIRE_BROWSER").is_err(),
            "REQUIRE_BROWSER is set but {CHROMEDRIVER} or {CHROMIUM} is missing"
        );
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the browser test: no {CHROMEDRIVER} or {CHROMIUM} (apt-get install chromium \
             chromium-driver)"
        );
    }
    there
}

/// chromedriver on a port of its choosing, and its URL once it listens.
async fn chromedriver() -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new(CHROMEDRIVER)
        .arg("--port=0")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromedriver starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // "ChromeDriver was started successfully on port 37573."
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                return rest.trim_end_matches('.').parse::<u16>().unwrap();
            }
        }
        panic!("chromedriver exited before it listened");
    })
    .await
    .expect("chromedriver listens within 20 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://127.0.0.1:{port}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_follows_a_sweep_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let ws = Workspace::new();
    std::fs::write(ws.path(CORPUS), include_str!("../data/timemachine.txt")).unwrap();
    let grid = ws.write(
        "grid.json",
        json!({
            "name": NAME,
            "corpus": CORPUS,
            "base": { "hidden": 192, "batch_size": 32, "steps": 1200, "eval_every": 100 },
            "grid": { "lr": [0.01, 0.003] },
            "seeds": [0, 1]
        })
        .to_string(),
    );
    let sweep = ws.spawn(&grid, &[]);
    wait_until(60, "the sweep's manifest", || {
        ws.results().join("sweep.json").exists()
    });
    let server = Server::start(&ws.results(), &[]);
    let (mut driver, driver_url) = chromedriver().await;
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1400,1000"],
            // The viewport (and the screenshot) exactly 1400×1000, desktop user agent.
            "mobileEmulation": { "deviceMetrics": {
                "width": 1400, "height": 1000, "pixelRatio": 1.0, "mobile": false,
                "touch": false } }
        }
    });
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps.as_object().unwrap().clone())
        .connect(&driver_url)
        .await
        .expect("a WebDriver session");
    // The checks run in a task of their own, so that a failed one still ends the session
    // (chromium outlives chromedriver otherwise).
    let checks = tokio::spawn(check(
        client.clone(),
        server.base.clone(),
        ws.results(),
        sweep,
    ));
    let outcome = checks.await;
    client.close().await.ok();
    driver.kill().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn check(client: Client, base: String, results: PathBuf, sweep: std::process::Child) {
    client.goto(&format!("{base}/")).await.unwrap();
    let rows = "#trials tbody tr[data-trial-id]";
    wait(&client, "a row per trial", |c| async move {
        c.find_all(Locator::Css(rows))
            .await
            .is_ok_and(|r| r.len() == 4)
    })
    .await;

    // A running trial's step advances, without a reload.
    let running = "#trials tbody tr[data-trial-id][data-status=running] td[data-col=step]";
    wait(&client, "a running trial", |c| async move {
        c.find(Locator::Css(running)).await.is_ok()
    })
    .await;
    let row = client.find(Locator::Css(running)).await.unwrap();
    let id = row
        .find(Locator::XPath(".."))
        .await
        .unwrap()
        .attr("data-trial-id")
        .await
        .unwrap()
        .unwrap();
    let step_of = |text: String| -> usize {
        text.split('/')
            .next()
            .unwrap()
            .trim()
            .replace(',', "")
            .parse()
            .unwrap_or(0)
    };
    let cell = format!("#trials tr[data-trial-id='{id}'] td[data-col=step]");
    let first = step_of(
        client
            .find(Locator::Css(&cell))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    wait(&client, "the step to advance", |c| {
        let cell = cell.clone();
        async move {
            let text = c
                .find(Locator::Css(&cell))
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            step_of(text) > first
        }
    })
    .await;

    // A drawn chart: the curves' canvas has painted pixels.
    let painted = |c: Client| async move {
        c.execute(
            "const cv = document.querySelector('#curves canvas'); if (!cv) return 0; \
             const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data; \
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;",
            vec![],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0)
    };
    wait(&client, "a drawn chart", |c| async move {
        painted(c).await > 1000
    })
    .await;

    // Text from user files is text.
    let page = client
        .execute("return document.body.innerText", vec![])
        .await
        .unwrap();
    let page = page.as_str().unwrap();
    assert!(page.contains(NAME), "the name as text: {page}");
    assert!(
        page.contains("<img src=x onerror=window.pwned=2>"),
        "{page}"
    );
    assert_eq!(pwned(&client).await, Value::Null);

    // The sweep ends; every row completes, live.
    let out = sweep.wait_with_output().unwrap();
    assert!(out.status.success());
    wait(&client, "every trial completed", |c| async move {
        c.find_all(Locator::Css("#trials tbody tr[data-status=completed]"))
            .await
            .is_ok_and(|r| r.len() == 4)
    })
    .await;
    let screenshot = std::env::var("SCREENSHOT")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png"));
    tokio::time::sleep(Duration::from_millis(800)).await; // the progress bar's transition
    let png = client.screenshot().await.unwrap();
    assert_eq!(&png[1..4], b"PNG");
    std::fs::write(&screenshot, &png).unwrap();

    // A trial page, with a sample that would run script if it were markup.
    let sample_path = results.join("trials").join(&id).join("sample.json");
    let mut sample: Value =
        serde_json::from_str(&std::fs::read_to_string(&sample_path).unwrap()).unwrap();
    sample["text"] = json!("the time <script>window.pwned = 3</script> traveller");
    std::fs::write(&sample_path, sample.to_string()).unwrap();
    client.goto(&format!("{base}/#/trial/{id}")).await.unwrap();
    wait(&client, "the trial page's sample", |c| async move {
        match c.find(Locator::Css("#trial-page")).await {
            Ok(p) => p
                .text()
                .await
                .is_ok_and(|t| t.contains("<script>window.pwned = 3</script>")),
            Err(_) => false,
        }
    })
    .await;
    let text = client
        .find(Locator::Css("#trial-page"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(&id), "{text}");
    assert!(text.contains("sweep sample "), "{text}");
    assert_eq!(pwned(&client).await, Value::Null);
}

async fn pwned(client: &Client) -> Value {
    client
        .execute(
            "return window.pwned === undefined ? null : window.pwned",
            vec![],
        )
        .await
        .unwrap()
}

/// Polls `condition` every 100 ms for up to 30 s.
async fn wait<F, Fut>(client: &Client, what: &str, condition: F)
where
    F: Fn(Client) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    while !condition(client.clone()).await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
