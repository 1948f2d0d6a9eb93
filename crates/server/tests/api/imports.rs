//! Every import is metered: a file sent to `POST /api/v1/datasets` up to the inline
//! threshold is imported on the request and charged its measured CPU time, a larger one
//! becomes an `import` job (202) charged when it ends, a balance that cannot cover the
//! import is refused (402) before anything is stored, and the command line's import goes
//! through the same use case and leaves the same charge.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use variosync_domain::WorkspaceId;
use variosync_domain::{Hours, UploadId, UserId};
use variosync_store::Owner;
use variosync_store::{Access, LedgerEntry, ObjectKey};

use crate::helpers::{TestApp, spawn_app_with};
use crate::jobs::json_of;

/// A CSV of about `bytes` bytes: one series of minute bars, no two rows alike.
fn minute_bars(bytes: usize) -> Vec<u8> {
    let mut out = String::from("timestamp,open,high,low,close,volume\n");
    let start = chrono::DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z").unwrap();
    let mut i = 0i64;
    while out.len() < bytes {
        let at = (start + chrono::Duration::minutes(i)).format("%Y-%m-%dT%H:%M:%SZ");
        let price = 100.0 + (i % 977) as f64 / 10.0;
        let line = format!(
            "{at},{price:.2},{:.2},{:.2},{price:.2},{}\n",
            price + 1.0,
            price - 1.0,
            i % 5000
        );
        out.push_str(&line);
        i += 1;
    }
    out.into_bytes()
}

fn rows_of(csv: &[u8]) -> u64 {
    csv.iter().filter(|&&b| b == b'\n').count() as u64 - 1
}

async fn ledger(app: &TestApp, user: UserId) -> Vec<LedgerEntry> {
    app.backends
        .ledger()
        .entries(Access::person(user), WorkspaceId::personal(user), None, 100)
        .await
        .unwrap()
}

/// The import charges in `user`'s ledger: entries of `job ... (import)` that took hours.
async fn import_charges(app: &TestApp, user: UserId) -> Vec<LedgerEntry> {
    let entries = ledger(app, user).await;
    let charge = |e: &LedgerEntry| e.reason.starts_with("job ") && e.reason.ends_with("(import)");
    entries.into_iter().filter(|e| charge(e) && e.delta < Hours::ZERO).collect()
}

/// Polls the job until it ends (a worker inside the server runs it), for up to two minutes.
async fn ended_job(app: &TestApp, key: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (status, _, job) = json_of(
            app.with_key(Method::GET, &format!("/api/v1/jobs/{id}"), key).send().await.unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if ["succeeded", "failed", "cancelled"].contains(&job["status"].as_str().unwrap()) {
            return job;
        }
        assert!(tokio::time::Instant::now() < deadline, "the job did not end: {job}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_large_upload_becomes_a_metered_job_and_a_short_balance_stores_nothing() {
    let app = spawn_app_with(|settings| settings.accounts.free_grant_hours = 0.0).await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();
    let file = minute_bars(20 << 20);
    assert!(file.len() as u64 > variosync_app::JobsSettings::default().inline_import_bytes);
    let post = || {
        app.with_key(Method::POST, "/api/v1/datasets?name=Bars", &key)
            .header("content-type", "text/csv")
            .body(file.clone())
    };

    // No hours: refused before anything is received or stored.
    let (status, _, body) = json_of(post().send().await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("insufficient_hours")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("the balance is 0"), "{body}");
    let datasets = app
        .backends
        .datasets()
        .list(Access::person(user), WorkspaceId::personal(user), None, 10)
        .await
        .unwrap();
    assert!(datasets.is_empty(), "no dataset: {datasets:?}");
    assert!(app.backends.jobs().list(Access::person(user), None, 10).await.unwrap().is_empty());
    assert_eq!(
        app.backends
            .uploads()
            .open_count(Access::person(user), WorkspaceId::personal(user))
            .await
            .unwrap(),
        0,
        "no upload kept"
    );
    assert!(app.scratch_files().is_empty(), "nothing left: {:?}", app.scratch_files());

    let grant = Hours::from_hours_f64(1.0).unwrap();
    app.backends
        .ledger()
        .apply(Access::System, Owner::personal(user), grant, "test grant", None)
        .await
        .unwrap();
    let (status, headers, job) = json_of(post().send().await.unwrap()).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["kind"], "import");
    assert!(job["reserved"].as_f64().unwrap() > 0.0, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(headers["location"], format!("/api/v1/jobs/{id}").as_str());

    let ended = ended_job(&app, &key, &id).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
    assert_eq!(ended["result"]["dataset"]["name"], "Bars");
    assert_eq!(ended["result"]["version"]["row_count"], rows_of(&file));
    assert!(ended["charged"].as_f64().unwrap() > 0.0, "charged on completion: {ended}");
    let charges = import_charges(&app, user).await;
    assert_eq!(charges.len(), 1, "one charge: {charges:?}");
    assert!(charges[0].reason.contains(&id), "{charges:?}");
    assert_eq!(
        app.backends
            .uploads()
            .open_count(Access::person(user), WorkspaceId::personal(user))
            .await
            .unwrap(),
        0,
        "the upload is gone"
    );
    let balance = app
        .backends
        .ledger()
        .balance(Access::person(user), WorkspaceId::personal(user))
        .await
        .unwrap();
    assert!(balance < grant && balance > Hours::ZERO, "the rest is back: {balance}");
}

#[tokio::test]
async fn an_inline_import_and_the_command_line_import_make_the_same_dataset_and_both_are_charged() {
    let app = spawn_app_with(|_| {}).await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let user: UserId = browser.user_id.parse().unwrap();
    let file = minute_bars(200_000);
    let path = app.data_dir.path().join("bars.csv");
    std::fs::write(&path, &file).unwrap();

    let (status, _, posted) = json_of(
        app.with_key(Method::POST, "/api/v1/datasets?name=bars", &key)
            .header("content-type", "text/csv")
            .body(file.clone())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let charges = import_charges(&app, user).await;
    assert_eq!(charges.len(), 1, "the inline import is charged: {charges:?}");
    let jobs = app.backends.jobs().list(Access::person(user), None, 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "recorded as a job: {jobs:?}");
    assert_eq!((jobs[0].kind.as_str(), jobs[0].charged), ("import", Some(-charges[0].delta)));
    assert!(jobs[0].cpu_micros.unwrap() > 0, "its CPU time was measured: {jobs:?}");

    let settings = variosync_server::Settings {
        data_dir: app.data_dir.path().to_owned(),
        ..variosync_server::Settings::default()
    };
    let options = variosync_server::files::FileOptions {
        lenient: false,
        zone: "UTC".to_owned(),
        duplicates: Default::default(),
        mapping: Default::default(),
    };
    let report =
        variosync_server::files::import(&settings, "ada@example.com", &path, None, &options)
            .await
            .unwrap();
    assert!(report.contains(&format!("{} rows", rows_of(&file))), "{report}");
    assert_eq!(import_charges(&app, user).await.len(), 2, "the command line's import is charged");

    let datasets = app
        .backends
        .datasets()
        .list(Access::person(user), WorkspaceId::personal(user), None, 10)
        .await
        .unwrap();
    assert_eq!(datasets.len(), 2);
    let mut versions = Vec::new();
    for dataset in &datasets {
        let found = app
            .backends
            .datasets()
            .versions(Access::person(user), WorkspaceId::personal(user), dataset.id)
            .await;
        versions.push(found.unwrap().remove(0));
    }
    let (a, b) = (&versions[0], &versions[1]);
    assert_eq!(datasets[0].name, datasets[1].name, "both named after the file");
    assert_eq!(
        (a.row_count, &a.series, a.time_from, a.time_to),
        (b.row_count, &b.series, b.time_from, b.time_to)
    );
    assert_eq!(a.profile, b.profile, "the same profile, column by column");
    assert_eq!(posted["version"]["row_count"], a.row_count);
}

#[tokio::test]
async fn workers_delete_every_accounts_expired_uploads_with_their_chunks() {
    let app = spawn_app_with(|settings| settings.jobs.sweep_secs = 1).await;
    let browser = app.sign_up("ada@example.com").await;
    let user: UserId = browser.user_id.parse().unwrap();
    let uploads = app.backends.uploads();
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    let expired = uploads
        .create(
            Access::person(user),
            WorkspaceId::personal(user),
            UploadId::new(),
            "old.csv",
            5,
            past,
        )
        .await
        .unwrap();
    let key = ObjectKey::upload_chunk(WorkspaceId::personal(user), expired.id, 0, 1);
    app.backends.objects.put(&key, b"a,b\n1".to_vec().into()).await.unwrap();
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let open = uploads
        .create(
            Access::person(user),
            WorkspaceId::personal(user),
            UploadId::new(),
            "new.csv",
            5,
            later,
        )
        .await
        .unwrap();

    // Nobody of that account starts another upload: the workers' sweep finds it.
    // The row goes first, then the chunks: wait for both.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let row = uploads
            .get(Access::person(user), WorkspaceId::personal(user), expired.id)
            .await
            .unwrap();
        let chunk = app.backends.objects.get(&key).await;
        let chunk_gone = matches!(chunk, Err(variosync_store::Error::ObjectNotFound(_)));
        if row.is_none() && chunk_gone {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not swept: row {row:?}, chunk {chunk:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        uploads
            .get(Access::person(user), WorkspaceId::personal(user), open.id)
            .await
            .unwrap()
            .is_some(),
        "the open one stays"
    );
}

/// Every layout fixture sent to `POST /api/v1/datasets` with no mapping imports with the
/// rows, series and first time `testdata/layouts/expected.json` gives, and says why it was
/// read as it was; the file that cannot be told apart is refused with the explanation.
#[tokio::test]
async fn real_layouts_import_through_the_api_with_no_mapping_given() {
    let app = spawn_app_with(|_| {}).await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/layouts");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(folder.join("expected.json")).unwrap())
            .unwrap();
    let mut wrong = Vec::new();
    for (name, want) in expected.as_object().unwrap() {
        let (status, _, body) = json_of(
            app.with_key(Method::POST, &format!("/api/v1/datasets?name={name}"), &key)
                .header("content-type", "text/csv")
                .body(std::fs::read(folder.join(name)).unwrap())
                .send()
                .await
                .unwrap(),
        )
        .await;
        if want.get("error").is_some() {
            let explained = body["message"].as_str().is_some_and(|m| m.contains("misread"));
            if status != StatusCode::BAD_REQUEST || body["code"] != "repeated_rows" || !explained {
                wrong.push(format!("{name}: {status} {body}"));
            }
            continue;
        }
        if status != StatusCode::CREATED {
            wrong.push(format!("{name}: {status} {body}"));
            continue;
        }
        let version = &body["version"];
        let got = (
            version["row_count"].as_u64(),
            version["series"].as_array().map(Vec::len),
            version["time_from"].as_str().map(|t| t.replace("+00:00", "Z")),
        );
        let want = (
            want["rows"].as_u64(),
            want["series"].as_u64().map(|n| n as usize),
            want["first"].as_str().map(str::to_owned),
        );
        if got != want {
            wrong.push(format!("{name}: {got:?}, expected {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
