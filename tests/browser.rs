//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver), against `sweep serve` on the loopback interface during a real sweep. The
//! page shows every trial's row and a drawn chart, a running trial's step advances without a
//! reload, a trial page opens, and text from user files (the sweep's name, the corpus file's
//! name, a sample) shows as text and runs nothing. `SCREENSHOT=path.png` saves a screenshot
//! (README's picture is of the main job's results instead: docs/dashboard.md says how).
//!
//! A program sweep's dashboard names its metric, not perplexity: in the table, the chart and the
//! trial page, with the best first by the metric's mode, and without the model's columns.
//!
//! A sweep with two objectives draws its trade-off front, marks it in the table, and a point
//! opens its trial; its verdict on the page is the summary's, word for word.
//!
//! Without chromium and chromedriver (`apt-get install chromium chromium-driver`) the tests say
//! they are skipped, unless `REQUIRE_BROWSER=1` (CI) makes that a failure; the program test is
//! also skipped without python3, unless `REQUIRE_PYTHON=1`.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::python_available;
use common::server::{program_grid, Server, SECRET};
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
    let (mut driver, client) = session().await;
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

/// chromedriver and a WebDriver session of headless Chromium with a 1400×1000 viewport.
async fn session() -> (tokio::process::Child, Client) {
    let (driver, driver_url) = chromedriver().await;
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
    (driver, client)
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
    wait(&client, "a drawn chart", |c| async move {
        painted(&c, "#curves canvas").await > 1000
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

/// The painted (not transparent) pixels of the first canvas `selector` finds; 0 without one.
async fn painted(client: &Client, selector: &str) -> u64 {
    client
        .execute(
            "const cv = document.querySelector(arguments[0]); if (!cv) return 0; \
             const d = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data; \
             let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;",
            vec![json!(selector)],
        )
        .await
        .unwrap()
        .as_u64()
        .unwrap_or(0)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_sweep_shows_its_metric_and_ranks_by_its_mode() {
    if !browser_available() || !python_available() {
        return;
    }
    // A sweep that minimises val_loss, followed live: 4 trials of about 3 s, 2 at a time.
    let live = Workspace::new();
    let grid = live.write(
        "grid.json",
        program_grid(
            "bigram-live",
            "min",
            json!({ "steps": 300, "eval_every": 100, "batch_size": 16, "step_delay_s": 0.01 }),
            json!({ "lr": [0.5, 5] }),
            json!([0, 1]),
        ),
    );
    let sweep = live.spawn(&grid, &[]);
    // A finished one that maximises it (highest is best).
    let max = Workspace::new();
    let max_grid = max.write(
        "grid.json",
        program_grid(
            "bigram-max",
            "max",
            json!({ "steps": 200, "eval_every": 100, "batch_size": 16 }),
            json!({ "lr": [0.1, 1, 5] }),
            json!([0]),
        ),
    );
    // Placed on GPU 0 (without a GPU: nothing needs it, the page says where each ran).
    max.sweep(&max_grid, &["--gpus", "0"]).expect_code(0);
    wait_until(60, "the sweep's manifest", || {
        live.results().join("sweep.json").exists()
    });
    let server = Server::start(&live.results(), &[]);
    let max_server = Server::start(&max.results(), &[]);
    let (mut driver, client) = session().await;
    let checks = tokio::spawn(check_program(
        client.clone(),
        (server.base.clone(), live.dir.path().to_path_buf(), sweep),
        (max_server.base.clone(), max.results()),
    ));
    let outcome = checks.await;
    client.close().await.ok();
    driver.kill().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// The page's visible text, without the paths it shows (a folder's name could hold any word).
async fn visible_text(client: &Client, paths: &[&Path]) -> String {
    let mut text = client
        .execute("return document.body.innerText", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    for path in paths {
        text = text.replace(path.to_str().unwrap(), "<path>");
    }
    text
}

/// No word of the built-in model's metric in the page's visible text.
async fn no_perplexity(client: &Client, paths: &[&Path], what: &str) {
    let text = visible_text(client, paths).await;
    let lower = text.to_lowercase();
    for word in ["perplexity", "ppl"] {
        assert!(!lower.contains(word), "{what} says {word}: {text}");
    }
}

/// JavaScript's answer as JSON.
async fn js(client: &Client, script: &str) -> Value {
    client.execute(script, vec![]).await.unwrap()
}

async fn check_program(
    client: Client,
    (base, workspace, sweep): (String, PathBuf, std::process::Child),
    (max_base, max_results): (String, PathBuf),
) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let paths = [workspace.as_path(), repo];
    client.goto(&format!("{base}/")).await.unwrap();
    wait(&client, "a row per trial", |c| async move {
        c.find_all(Locator::Css("#trials tbody tr[data-trial-id]"))
            .await
            .is_ok_and(|r| r.len() == 4)
    })
    .await;

    // The metric's name heads its columns; the model's own columns are gone.
    // Keyed by the metric's own name, as /api/trials names it.
    let header = "#trials thead tr.head-row th[data-col=last_val_loss]";
    wait(&client, "the metric's column", |c| async move {
        match c.find(Locator::Css(header)).await {
            Ok(th) => th.text().await.is_ok_and(|t| t.trim() == "val_loss"),
            Err(_) => false,
        }
    })
    .await;
    let best = client
        .find(Locator::Css(
            "#trials thead tr.head-row th[data-col=best_val_loss]",
        ))
        .await
        .unwrap();
    assert_eq!(best.text().await.unwrap().trim(), "best val_loss");
    assert!(client
        .find(Locator::Css("#trials th[data-col=train_ppl]"))
        .await
        .is_err());
    let title = client.find(Locator::Css("#curves-title")).await.unwrap();
    assert!(title.text().await.unwrap().contains("val_loss"));

    // A running trial's step advances, live: the last step its program reported.
    wait(&client, "a running trial that reported", |c| async move {
        js(
            &c,
            "return Array.from(document.querySelectorAll(\
             '#trials tbody tr[data-status=running] td[data-col=step]'))\
             .some((td) => parseInt(td.textContent, 10) > 0)",
        )
        .await
            == Value::Bool(true)
    })
    .await;

    // Every row shows its free-form parameters.
    let cells = js(
        &client,
        "return Array.from(document.querySelectorAll('#trials tbody tr[data-trial-id]'))\
         .map((tr) => [tr.querySelector('td[data-col=param-lr]').textContent, \
                       tr.querySelector('td[data-col=param-seed]').textContent])",
    )
    .await;
    let mut cells: Vec<(String, String)> = serde_json::from_value(cells).unwrap();
    cells.sort();
    assert_eq!(
        cells,
        [("0.5", "0"), ("0.5", "1"), ("5", "0"), ("5", "1")]
            .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // The curves: drawn, the metric on a linear y axis, with values.
    wait(&client, "a drawn chart with values", |c| async move {
        painted(&c, "#curves canvas").await > 1000
            && js(
                &c,
                "const u = window.sweepDashboard.chart; if (!u) return 0; \
                 return u.data.slice(1).reduce((n, s) => n + s.filter((v) => v != null).length, 0)",
            )
            .await
            .as_u64()
                > Some(0)
    })
    .await;
    let axis = js(
        &client,
        "const u = window.sweepDashboard.chart; return [u.axes[1].label, u.scales.y.distr]",
    )
    .await;
    assert_eq!(axis, json!(["val_loss", 1]));
    no_perplexity(&client, &paths, "the dashboard of a running program sweep").await;

    // The sweep ends; every row completes, live, and the summary is the program's.
    let out = sweep.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    wait(&client, "every trial completed", |c| async move {
        c.find_all(Locator::Css("#trials tbody tr[data-status=completed]"))
            .await
            .is_ok_and(|r| r.len() == 4)
    })
    .await;
    wait(&client, "the program's summary", |c| async move {
        match c.find(Locator::Css("#summary-body")).await {
            Ok(b) => b
                .text()
                .await
                .is_ok_and(|t| t.contains("Configurations by val_loss")),
            Err(_) => false,
        }
    })
    .await;
    no_perplexity(&client, &paths, "the dashboard of a finished program sweep").await;
    // Once the run has ended, how busy its two workers were.
    wait(&client, "the workers' busy share", |c| async move {
        match c.find(Locator::Css("#sweep-busy")).await {
            Ok(b) => b.text().await.is_ok_and(|t| {
                t.contains("workers busy ") && t.contains("% (") && t.contains("over 2 × ")
            }),
            Err(_) => false,
        }
    })
    .await;

    // A trial page: its metric, no sample, the environment's values hidden.
    let id = js(
        &client,
        "return document.querySelector('#trials tbody tr[data-trial-id]').getAttribute('data-trial-id')",
    )
    .await;
    let id = id.as_str().unwrap().to_string();
    client.goto(&format!("{base}/#/trial/{id}")).await.unwrap();
    wait(&client, "the trial page's configuration", |c| async move {
        match c.find(Locator::Css("#trial-page")).await {
            Ok(p) => p
                .text()
                .await
                .is_ok_and(|t| t.contains("API_TOKEN") && t.contains("Learning curve · val_loss")),
            Err(_) => false,
        }
    })
    .await;
    wait(&client, "the trial's drawn curve", |c| async move {
        painted(&c, "#trial-curve canvas").await > 1000
    })
    .await;
    let text = visible_text(&client, &paths).await;
    assert!(text.contains("(hidden)"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(text.contains("val_loss"), "{text}");
    let sample = client
        .find(Locator::Css("#trial-sample-card"))
        .await
        .unwrap();
    assert!(!sample.is_displayed().await.unwrap());
    no_perplexity(&client, &paths, "a program trial's page").await;

    // Higher is better: the metric's column sorts highest first, and the best line is drawn
    // last (on top, darkest) in the parallel coordinates.
    let mut last: Vec<(f64, String)> = std::fs::read_dir(max_results.join("trials"))
        .unwrap()
        .flatten()
        .map(|d| {
            let result: Value = serde_json::from_str(
                &std::fs::read_to_string(d.path().join("result.json")).unwrap(),
            )
            .unwrap();
            let id = d.file_name().to_string_lossy().into_owned();
            (result["metric"]["last"].as_f64().unwrap(), id)
        })
        .collect();
    last.sort_by(|a, b| b.0.total_cmp(&a.0));
    let highest = last[0].1.clone();
    client.goto(&format!("{max_base}/")).await.unwrap();
    wait(
        &client,
        "the maximised sweep's metric column",
        |c| async move {
            match c.find(Locator::Css(header)).await {
                Ok(th) => th.text().await.is_ok_and(|t| t.trim() == "val_loss"),
                Err(_) => false,
            }
        },
    )
    .await;
    wait(
        &client,
        "a row per trial, each with its metric",
        |c| async move {
            js(
            &c,
            "return Array.from(document.querySelectorAll('#trials tbody td[data-col=last_val_loss]'))\
             .filter((td) => td.textContent !== '—').length",
        )
        .await
            == json!(3)
        },
    )
    .await;
    let gpus = js(
        &client,
        "return [document.querySelector('#trials thead th[data-col=gpus]').textContent.trim(), \
         Array.from(document.querySelectorAll('#trials tbody td[data-col=gpus]')).map((td) => td.textContent)]",
    )
    .await;
    assert_eq!(
        gpus,
        json!(["GPU", ["0", "0", "0"]]),
        "where each trial ran"
    );
    let meta = client.find(Locator::Css("#sweep-meta")).await.unwrap();
    assert!(meta
        .text()
        .await
        .unwrap()
        .contains("metric val_loss (higher is better)"));
    client
        .find(Locator::Css(header))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let order = js(
        &client,
        "return Array.from(document.querySelectorAll('#trials tbody tr[data-trial-id]'))\
         .map((tr) => [tr.getAttribute('data-trial-id'), \
                       parseFloat(tr.querySelector('td[data-col=last_val_loss]').textContent)])",
    )
    .await;
    let order: Vec<(String, f64)> = serde_json::from_value(order).unwrap();
    assert_eq!(order[0].0, highest, "{order:?}");
    assert!(
        order.windows(2).all(|w| w[0].1 >= w[1].1),
        "highest first: {order:?}"
    );
    let sorted = client.find(Locator::Css(header)).await.unwrap();
    assert_eq!(
        sorted.attr("aria-sort").await.unwrap().as_deref(),
        Some("descending")
    );
    let on_top = js(
        &client,
        "const ps = document.querySelectorAll('#parallel-chart .pc-lines-on path.pc-line'); \
         return ps.length ? ps[ps.length - 1].getAttribute('data-trial-id') : null",
    )
    .await;
    assert_eq!(on_top, json!(highest));
    no_perplexity(
        &client,
        &[max_results.as_path(), repo],
        "a maximised sweep's dashboard",
    )
    .await;
}

/// A sweep with two objectives and a constraint (tests/programs/front.py, whose front is
/// known): the page draws every configuration, the front strong, the one that breaks the
/// constraint hollow; the trials table marks the front; clicking a point opens its trial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trade_off_front_is_drawn_and_a_point_opens_its_trial() {
    if !browser_available() || !python_available() {
        return;
    }
    let ws = Workspace::new();
    let grid = ws.write(
        "grid.json",
        json!({
            "name": "front",
            "program": { "command": ["python3", "front.py"],
                         "workdir": format!("{}/tests/programs", env!("CARGO_MANIFEST_DIR")) },
            "objectives": [{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}],
            "constraints": ["f2 <= 1"],
            "base": { "steps": 20, "eval_every": 10, "x": 0.5 },
            "grid": { "x": [0, 0.5, 1.0], "n": [0, 1] },
            "seeds": [0, 1],
        })
        .to_string(),
    );
    ws.sweep(&grid, &[]).expect_code(0);
    let server = Server::start(&ws.results(), &[]);
    let (mut driver, client) = session().await;
    let base = server.base.clone();
    let results = ws.results();
    let session_client = client.clone();
    let checks = tokio::spawn(async move {
        client.goto(&format!("{base}/")).await.unwrap();
        wait(&client, "a point per configuration", |c| async move {
            js(
                &c,
                "return document.querySelectorAll('#front-chart circle').length",
            )
            .await
                == json!(6)
        })
        .await;
        let states = js(
            &client,
            "const p = (s) => Array.from(document.querySelectorAll('#front-chart circle.' + s))\
               .map((c) => c.getAttribute('data-label')).sort();\
             return [p('on-front'), p('dominated'), p('infeasible'), \
               document.querySelector('#front-title').textContent, \
               document.querySelectorAll('#front-chart polyline').length]",
        )
        .await;
        // x=0: f2 ≈ 1.05 (n=0) and 1.35 (n=1) break f2 <= 1; n=1 is dominated by n=0.
        assert_eq!(
            states,
            json!([
                ["x=0.5 n=0", "x=1 n=0"],
                ["x=0.5 n=1", "x=1 n=1"],
                ["x=0 n=0", "x=0 n=1"],
                "Trade-off: f1 against f2",
                1
            ])
        );
        let column = js(
            &client,
            "return Array.from(document.querySelectorAll('#trials tbody tr[data-trial-id]'))\
               .map((tr) => tr.querySelector('td[data-col=front]').textContent).sort()",
        )
        .await;
        let mut want = vec!["infeasible"; 4];
        want.extend(["no"; 4]);
        want.extend(["yes"; 4]);
        assert_eq!(column, json!(want), "the trials table marks the front");
        client
            .find(Locator::Css("#front-chart circle[data-label='x=1 n=0']"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        wait(
            &client,
            "the trial page of the clicked point",
            |c| async move {
                match c.find(Locator::Css("#trial-page")).await {
                    Ok(p) => p.text().await.is_ok_and(|t| t.contains("x=1 n=0")),
                    Err(_) => false,
                }
            },
        )
        .await;
        let hash = js(&client, "return location.hash").await;
        assert!(hash.as_str().unwrap().starts_with("#/trial/"), "{hash}");
        // The dashboard's verdict is the summary's, word for word (its markup rendered).
        client.goto(&format!("{base}/")).await.unwrap();
        wait(&client, "the verdict", |c| async move {
            js(
                &c,
                "return document.querySelectorAll('#sweep-verdict li').length",
            )
            .await
            .as_u64()
            .is_some_and(|n| n >= 2)
        })
        .await;
        let shown = js(
            &client,
            "return Array.from(document.querySelectorAll('#sweep-verdict li')).map((li) => li.textContent)",
        )
        .await;
        let summary = std::fs::read_to_string(results.join("summary.md")).unwrap();
        let written: Vec<String> = summary
            .split("\n## ")
            .find(|s| s.starts_with("Verdict"))
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("- "))
            .map(|l| l.replace("**", "").replace('`', ""))
            .collect();
        assert_eq!(shown, json!(written), "the same verdict on the page");
        assert!(
            written[1].contains("Welch's t on log values"),
            "{written:?}"
        );
        assert_eq!(pwned(&client).await, Value::Null);
    });
    let outcome = checks.await;
    session_client.close().await.ok();
    driver.kill().await.ok();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
