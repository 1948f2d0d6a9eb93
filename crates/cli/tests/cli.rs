//! The binary as an operator uses it: exit codes, messages, signals.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde_json::Value;
use variosync_store::testing;

const BIN: &str = env!("CARGO_BIN_EXE_variosync");

/// The binary with no `VARIOSYNC_*` variable inherited from the test's environment, a fresh
/// data directory and JSON logs (so tests can read them).
fn variosync(data_dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    for (key, _) in std::env::vars() {
        if key.starts_with("VARIOSYNC_") {
            command.env_remove(key);
        }
    }
    command
        .env("VARIOSYNC_DATA_DIR", data_dir)
        .env("VARIOSYNC_LISTEN", "127.0.0.1:0")
        .env("VARIOSYNC_LOG_FORMAT", "json");
    command
}

fn run(command: &mut Command) -> Output {
    command.stdin(Stdio::null()).output().expect("the binary runs")
}

/// A running process whose JSON log lines are read on a thread.
struct Running {
    child: Child,
    lines: mpsc::Receiver<Value>,
}

impl Running {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send(value);
                }
            }
        });
        Self { child, lines }
    }

    /// The first log line whose message contains `text`, within 60 s.
    fn wait_for_log(&self, text: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) if line["message"].as_str().is_some_and(|m| m.contains(text)) => {
                    return line;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        panic!("no log line containing {text:?}");
    }

    fn signal(&self, name: &str) {
        let status =
            Command::new("kill").args([format!("-{name}"), self.child.id().to_string()]).status();
        assert!(status.unwrap().success(), "kill -{name} failed");
    }

    /// The exit status, within `limit`.
    fn wait(mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the process did not exit within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `serve`, returns the process and its base URL.
fn serve(command: &mut Command) -> (Running, String) {
    let running = Running::start(command.arg("serve"));
    let line = running.wait_for_log("listening on");
    let address =
        line["address"].as_str().expect("the listening line names the address").to_owned();
    (running, format!("http://{address}"))
}

#[test]
fn a_bad_listen_address_exits_non_zero_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(variosync(dir.path()).env("VARIOSYNC_LISTEN", "nonsense").arg("serve"));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("VARIOSYNC_LISTEN"), "{stderr}");
    assert!(stderr.contains("\"nonsense\""), "{stderr}");
    assert!(stderr.contains("expected"), "{stderr}");
    assert!(!dir.path().join("variosync.db").exists(), "nothing was created");
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_creates_its_data_directory_answers_health_and_exits_zero_on_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("fresh-data");
    let (running, base) = serve(&mut variosync(&data_dir));
    assert!(data_dir.join("variosync.db").is_file());
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    running.signal("INT");
    assert_eq!(running.wait(Duration::from_secs(30)).code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_exits_zero_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (running, base) = serve(&mut variosync(dir.path()));
    assert_eq!(reqwest::get(format!("{base}/healthz")).await.unwrap().status(), 200);
    running.signal("TERM");
    running.wait_for_log("received SIGTERM");
    running.wait_for_log("stopped");
    assert_eq!(running.wait(Duration::from_secs(30)).code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_runs_on_postgres_and_redis_from_the_environment() {
    let Some(database) = testing::fresh_postgres().await else {
        return;
    };
    let Some(redis) = testing::fresh_redis() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (running, base) = serve(
        variosync(dir.path())
            .env("VARIOSYNC_DATABASE_URL", database.url.unwrap().expose_secret())
            .env("VARIOSYNC_REDIS_URL", redis.url.unwrap().expose_secret())
            .env("VARIOSYNC_REDIS_KEY_PREFIX", &redis.key_prefix),
    );
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    let backends: Vec<&str> =
        body["checks"].as_array().unwrap().iter().map(|c| c["backend"].as_str().unwrap()).collect();
    assert_eq!(backends, ["postgres", "local", "redis"]);
    assert!(
        !dir.path().join("variosync.db").exists(),
        "no SQLite file when PostgreSQL is configured"
    );
    running.signal("TERM");
    assert_eq!(running.wait(Duration::from_secs(30)).code(), Some(0));
}

#[test]
fn a_worker_starts_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let running = Running::start(variosync(dir.path()).arg("worker"));
    let started = running.wait_for_log("worker started");
    assert!(started["worker"].as_str().is_some_and(|id| id.starts_with("w-")));
    running.signal("TERM");
    running.wait_for_log("worker stopped");
    assert_eq!(running.wait(Duration::from_secs(30)).code(), Some(0));
}

#[test]
fn migrate_creates_the_database_and_says_which_backend() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(variosync(dir.path()).arg("migrate"));
    assert!(output.status.success(), "{output:?}");
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), "migrations applied (sqlite)");
    assert!(dir.path().join("variosync.db").is_file());
    let again = run(variosync(dir.path()).arg("migrate"));
    assert!(again.status.success(), "migrating twice is harmless: {again:?}");
}

#[test]
fn the_default_config_is_accepted_by_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(variosync(dir.path()).args(["config", "default"]));
    assert!(output.status.success());
    let config = dir.path().join("variosync.toml");
    std::fs::write(&config, &output.stdout).unwrap();
    let check = run(variosync(dir.path()).arg("--config").arg(&config).args(["config", "check"]));
    assert!(check.status.success(), "{check:?}");
    let report = String::from_utf8(check.stdout).unwrap();
    assert!(report.starts_with("configuration is valid"), "{report}");
    assert!(report.contains("database: SQLite"), "{report}");
}

#[test]
fn a_typo_in_the_config_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("variosync.toml");
    std::fs::write(&config, "lisen = \"127.0.0.1:1\"\n").unwrap();
    let output =
        run(variosync(dir.path()).env("VARIOSYNC_CONFIG", &config).args(["config", "check"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("unknown setting `lisen`"), "{stderr}");
}

#[test]
fn help_explains_every_command() {
    let output = run(Command::new(BIN).arg("--help"));
    let help = String::from_utf8(output.stdout).unwrap();
    for command in ["serve", "worker", "migrate", "config"] {
        assert!(help.contains(command), "--help does not mention {command}: {help}");
    }
    for command in ["serve", "worker", "migrate"] {
        let output = run(Command::new(BIN).args([command, "--help"]));
        assert!(output.status.success());
        assert!(
            String::from_utf8(output.stdout).unwrap().contains("SIGTERM") || command == "migrate"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_create_user_prints_a_one_time_link_that_signs_the_admin_in() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(variosync(dir.path()).args([
        "admin",
        "create-user",
        "--email",
        "Root@Example.com",
        "--admin",
    ]));
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(stdout.starts_with("created admin root@example.com"), "{stdout}");
    let link = stdout.lines().find_map(|line| line.trim().strip_prefix("http://")).expect("a link");
    let token = link.split("token=").nth(1).unwrap().to_owned();

    let (running, base) = serve(&mut variosync(dir.path()));
    let client = reqwest::Client::new();
    let confirm = |token: String| {
        client
            .post(format!("{base}/api/v1/auth/magic-link/confirm"))
            .json(&serde_json::json!({ "token": token }))
            .send()
    };
    let signed = confirm(token.clone()).await.unwrap();
    assert_eq!(signed.status(), 200);
    let body: Value = signed.json().await.unwrap();
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(confirm(token).await.unwrap().status(), 401, "the link works once");

    let duplicate =
        run(variosync(dir.path()).args(["admin", "create-user", "--email", "root@example.com"]));
    assert_eq!(duplicate.status.code(), Some(1));
    assert!(String::from_utf8(duplicate.stderr).unwrap().contains("already exists"));
    running.signal("TERM");
    assert_eq!(running.wait(Duration::from_secs(30)).code(), Some(0));
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../formats/tests/fixtures").join(name)
}

#[test]
fn inspect_convert_and_import_a_download() {
    let dir = tempfile::tempdir().unwrap();
    let inspected = run(variosync(dir.path()).arg("inspect").arg(fixture("stooq_nflx_head.txt")));
    assert!(inspected.status.success(), "{inspected:?}");
    let report = String::from_utf8(inspected.stdout).unwrap();
    assert!(report.contains("date column 3 (YYYYMMDD[ HHMMSS]) + time column 4"), "{report}");
    assert!(report.contains("column 8 -> close (number)"), "{report}");

    let out = dir.path().join("stocks.parquet");
    let converted =
        run(variosync(dir.path()).arg("convert").arg(fixture("stocks_daily_head.csv")).arg(&out));
    assert!(converted.status.success(), "{converted:?}");
    assert!(String::from_utf8(converted.stdout).unwrap().starts_with("39 rows, 1 series"));
    assert!(out.is_file());

    let created =
        run(variosync(dir.path()).args(["admin", "create-user", "--email", "ada@example.com"]));
    assert!(created.status.success());
    let imported = run(variosync(dir.path())
        .arg("import")
        .arg(fixture("yahoo_aapl_head.csv"))
        .args(["--user", "ada@example.com", "--name", "Apple"]));
    assert!(imported.status.success(), "{imported:?}");
    let line = String::from_utf8(imported.stdout).unwrap();
    assert!(line.contains("\"Apple\": 39 rows, 1 series"), "{line}");
    let nobody = run(variosync(dir.path())
        .arg("import")
        .arg(fixture("yahoo_aapl_head.csv"))
        .args(["--user", "x@example.com"]));
    assert_eq!(nobody.status.code(), Some(1));
    assert!(
        String::from_utf8(nobody.stderr).unwrap().contains("there is no account x@example.com")
    );

    let garbage = dir.path().join("garbage.csv");
    std::fs::write(&garbage, "a,b\nx,1\n").unwrap();
    let refused =
        run(variosync(dir.path()).arg("convert").arg(&garbage).arg(dir.path().join("g.parquet")));
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8(refused.stderr).unwrap().contains("no column holds timestamps"));
    assert!(!dir.path().join("g.parquet").exists(), "nothing is written for a refused file");
}

#[test]
fn prophet_takes_events_and_regressors_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let stocks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stocks_daily.csv");
    let events = dir.path().join("events.json");
    std::fs::write(
        &events,
        r#"[{"name": "year end", "dates": ["2019-12-31", "2020-12-31", "2021-12-31",
            "2022-12-30", "2023-12-29"], "before": 1}]"#,
    )
    .unwrap();
    let forecast = |regressor: &str| {
        run(variosync(dir.path())
            .arg("forecast")
            .arg(&stocks)
            .args(["--series", "AAPL", "--column", "close", "--horizon", "5"])
            .args(["--model", "prophet", "--windows", "1", "--regressor", regressor])
            .arg("--events")
            .arg(&events))
    };
    let output = forecast("volume=5e7,6e7,5e7,4e7,5e7");
    assert!(output.status.success(), "{output:?}");
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(report.contains("Prophet (1 event; regressors volume)"), "{report}");

    let short = forecast("volume=5e7,6e7,5e7");
    assert_eq!(short.status.code(), Some(1));
    let message = String::from_utf8(short.stderr).unwrap();
    assert!(
        message.contains("\"volume\" has 3 future values; the horizon is 5 steps"),
        "{message}"
    );
    let unknown = forecast("turnover=1,2,3,4,5");
    assert_eq!(unknown.status.code(), Some(1));
    let message = String::from_utf8(unknown.stderr).unwrap();
    assert!(message.contains("--regressor turnover"), "{message}");
}

#[test]
fn forecast_a_series_of_a_file_on_its_own_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let stocks = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/stocks_daily.csv");
    let csv = dir.path().join("aapl.csv");
    let output = run(variosync(dir.path())
        .arg("forecast")
        .arg(&stocks)
        .args(["--series", "AAPL", "--column", "close", "--horizon", "5", "--model", "auto"])
        .arg("--csv")
        .arg(&csv));
    assert!(output.status.success(), "{output:?}");
    let report = String::from_utf8(output.stdout).unwrap();
    assert!(report.contains("close of AAPL: 2699 values, one per business day"), "{report}");
    for model in ["naive", "seasonal_naive", "drift", "ets", "arima", "theta", "mstl", "prophet"] {
        assert!(report.lines().any(|l| l.trim_start().starts_with(model)), "{model}: {report}");
    }
    assert!(report.contains("auto (auto: "), "{report}");
    // Thursday 2023-09-21 was the last close: Friday, then Monday.
    assert!(report.contains("2023-09-22T00:00:00Z") && report.contains("2023-09-25T00:00:00Z"));
    let written = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(written.lines().count(), 1 + 5);

    // Several series and no choice: the error names them.
    let ambiguous = run(variosync(dir.path()).arg("forecast").arg(&stocks));
    assert_eq!(ambiguous.status.code(), Some(1));
    let message = String::from_utf8(ambiguous.stderr).unwrap();
    assert!(message.contains("choose one with --series (AAPL, AMZN"), "{message}");
    let unknown = run(variosync(dir.path())
        .arg("forecast")
        .arg(&stocks)
        .args(["--series", "AAPL", "--model", "lstm"]));
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8(unknown.stderr).unwrap().contains("unknown model \"lstm\""));
}

/// Converts `input` with the binary, answering its exit code, stdout and stderr.
fn convert_file(dir: &Path, input: &Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let out = dir.join("out.parquet");
    let _ = std::fs::remove_file(&out);
    let output = run(variosync(dir).arg("convert").arg(input).arg(&out).args(extra));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    (output.status.code(), stdout, stderr)
}

#[test]
fn workbooks_and_avro_are_decoded_in_a_child_that_cannot_take_the_process_down() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["stocks.xlsx", "stocks.xls", "stocks.ods", "stocks.avro"] {
        let (code, stdout, stderr) = convert_file(dir.path(), &fixture(name), &[]);
        assert_eq!(code, Some(0), "{name}: {stderr}");
        assert!(stdout.contains(" rows, 1 series"), "{name}: {stdout}");
    }
    // The child's refusals reach the person as they were made.
    let (code, _, stderr) = convert_file(dir.path(), &fixture("stocks.xlsx"), &["--sheet", "9"]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains("the workbook has no sheet \"9\""), "{stderr}");

    // A 10 KB sheet with two cells far apart, which the decoder would lay out densely in
    // tens of GB, is refused, and says why.
    let regressions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let (code, _, stderr) =
        convert_file(dir.path(), &regressions.join("workbook-dense-range.xls"), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("needs more memory than allowed"), "{stderr}");
    assert!(stderr.contains("save the sheet as CSV"), "{stderr}");

    // An Avro block that sends the decoder round forever is stopped.
    let (code, _, stderr) =
        convert_file(dir.path(), &regressions.join("avro-endless-block.avro"), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("without producing rows, so it was stopped"), "{stderr}");
    assert!(!dir.path().join("out.parquet").exists(), "nothing is written for a refused file");
}

#[test]
fn convert_writes_the_format_its_output_names_and_refuses_what_it_cannot_write() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("stocks_daily_head.csv");
    for name in ["out.csv", "out.tsv.gz", "out.json", "out.jsonl.zst", "out.arrow", "out.lp"] {
        let out = dir.path().join(name);
        let converted = run(variosync(dir.path()).arg("convert").arg(&input).arg(&out));
        assert!(converted.status.success(), "{name}: {converted:?}");
        assert!(String::from_utf8(converted.stdout).unwrap().starts_with("39 rows, 1 series"));
        // What was written reads back to the same rows.
        let back = dir.path().join(format!("{name}.parquet"));
        let reread = run(variosync(dir.path()).arg("convert").arg(&out).arg(&back));
        assert!(reread.status.success(), "{name} read back: {reread:?}");
        assert!(String::from_utf8(reread.stdout).unwrap().starts_with("39 rows, 1 series"));
    }
    let csv = std::fs::read_to_string(dir.path().join("out.csv")).unwrap();
    assert!(csv.starts_with("series_id,ts,"), "{csv}");
    // Local times, a decimal comma and its semicolon, by the options.
    let out = dir.path().join("local.csv");
    let converted = run(variosync(dir.path()).arg("convert").arg(&input).arg(&out).args([
        "--out-decimal",
        "comma",
        "--out-time",
        "%d.%m.%Y %H:%M",
        "--out-tz",
        "Europe/Berlin",
    ]));
    assert!(converted.status.success(), "{converted:?}");
    let local = std::fs::read_to_string(&out).unwrap();
    let first = local.lines().nth(1).unwrap();
    assert!(first.contains(";") && first.contains(" 01:00;") && first.contains(','), "{first}");
    // Only the output is left beside it: no working files.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.retain(|n| n.starts_with(".variosync"));
    assert!(names.is_empty(), "{names:?}");

    for (args, expected) in [
        (vec!["out.bin"], "the output's extension names no format"),
        (
            vec!["out.csv", "--out-decimal", "comma", "--out-delimiter", ","],
            "a decimal comma needs",
        ),
        (vec!["out.csv", "--out-time", "%Q"], "not a valid strftime pattern"),
        (vec!["out.csv", "--format", "xml"], "unknown export format \"xml\""),
        (vec!["out.csv", "--out-tz", "Mars/Base"], "is not a time zone"),
    ] {
        let output = run(variosync(dir.path())
            .arg("convert")
            .arg(&input)
            .arg(dir.path().join(args[0]))
            .args(&args[1..]));
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}
