//! The HTML account pages, driven as a browser without JavaScript would: forms, cookies,
//! redirects and the CSRF field.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::{PASSWORD, TestApp, spawn_app};

/// The value of the hidden `csrf_token` field on a page.
fn csrf_field(html: &str) -> String {
    let start = html.find("name=\"csrf_token\" value=\"").expect("a CSRF field") + 25;
    html[start..].split('"').next().unwrap().to_owned()
}

fn session_cookie(response: &reqwest::Response) -> String {
    let set = response.headers()[SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn form(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.post(app.url(path)).form(fields);
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, cookie);
    }
    request.send().await.unwrap()
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let response = app.client.get(app.url(path)).header(COOKIE, cookie).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_person_signs_up_manages_keys_and_signs_out_with_plain_forms_on_sqlite() {
    a_person_signs_up_manages_keys_and_signs_out_with_plain_forms(spawn_app().await).await;
}

#[tokio::test]
async fn a_person_signs_up_manages_keys_and_signs_out_with_plain_forms_on_postgres() {
    let Some(database) = variosync_store::testing::fresh_postgres().await else { return };
    let app = crate::helpers::spawn_app_with(|settings| settings.database = database).await;
    a_person_signs_up_manages_keys_and_signs_out_with_plain_forms(app).await;
}

async fn a_person_signs_up_manages_keys_and_signs_out_with_plain_forms(app: TestApp) {
    let signin = app.get("/signin").await;
    assert_eq!(signin.status(), StatusCode::OK);
    assert!(signin.text().await.unwrap().contains("action=\"/signin\""));

    let weak =
        form(&app, "/signup", None, &[("email", "ada@example.com"), ("password", "short")]).await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let html = weak.text().await.unwrap();
    assert!(html.contains("at least 10 characters"), "the error is shown next to the form");
    assert!(html.contains("value=\"ada@example.com\""), "the address is kept");

    let pending =
        form(&app, "/signup", None, &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(pending.status(), StatusCode::OK);
    assert!(pending.headers().get("set-cookie").is_none());
    assert!(pending.text().await.unwrap().contains("Check your mail"));
    let token = variosync_store::testing::outbox_link_to(
        app.data_dir.path(),
        "signup/confirm",
        "ada@example.com",
    );
    let (status, html) = page(&app, &format!("/signup/confirm?token={token}"), "").await;
    assert_eq!(status, StatusCode::OK, "the link opens a page with one button");
    assert!(html.contains("action=\"/signup/confirm\""), "{html}");
    let created = form(&app, "/signup/confirm", None, &[("token", &token)]).await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    assert_eq!(created.headers()[LOCATION], "/account");
    let cookie = session_cookie(&created);

    let (status, html) = page(&app, "/account", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("ada@example.com") && html.contains("1.000000 h"));
    let csrf = csrf_field(&html);

    let forged = form(
        &app,
        "/account/api-keys",
        Some(&cookie),
        &[("csrf_token", "forged"), ("name", "k"), ("scope", "read")],
    )
    .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let key = form(
        &app,
        "/account/api-keys",
        Some(&cookie),
        &[("csrf_token", &csrf), ("name", "laptop"), ("scope", "read")],
    )
    .await;
    assert_eq!(key.status(), StatusCode::CREATED);
    let html = key.text().await.unwrap();
    assert!(html.contains("shown this once") && html.contains("vsk_"));

    let change = form(
        &app,
        "/account/email",
        Some(&cookie),
        &[("csrf_token", &csrf), ("new_email", "ada@lovelace.org"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(change.status(), StatusCode::OK);
    assert!(change.text().await.unwrap().contains("confirmation link is on its way"));
    let token = variosync_store::testing::last_outbox_link(app.data_dir.path(), "change-email");
    let confirmed = form(&app, "/change-email", None, &[("token", &token)]).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let (_, html) = page(&app, "/account", &cookie).await;
    assert!(html.contains("ada@lovelace.org"));

    let out = form(&app, "/account/signout", Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = app.client.get(app.url("/account")).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "signed out: sent to the sign-in page");
    assert_eq!(after.headers()[LOCATION], "/signin");

    let wrong = form(
        &app,
        "/signin",
        None,
        &[("email", "ada@lovelace.org"), ("password", "not it at all")],
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let back =
        form(&app, "/signin", None, &[("email", "ada@lovelace.org"), ("password", PASSWORD)]).await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    let old =
        form(&app, "/signin", None, &[("email", "ada@example.com"), ("password", PASSWORD)]).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED, "the old address no longer signs in");
}

#[tokio::test]
async fn an_e_mailed_link_opens_a_page_whose_button_uses_it_once() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let sent = form(&app, "/magic-link/request", None, &[("email", "ada@example.com")]).await;
    assert_eq!(sent.status(), StatusCode::OK);
    assert!(sent.text().await.unwrap().contains("a link is on its way"));
    let token = variosync_store::testing::last_outbox_link(app.data_dir.path(), "magic-link");

    // Opening the link (as a mail scanner would) does not use it up.
    let opened = app.get(&format!("/magic-link?token={token}")).await;
    assert_eq!(opened.status(), StatusCode::OK);
    assert!(opened.text().await.unwrap().contains(&format!("value=\"{token}\"")));
    let signed = form(&app, "/magic-link", None, &[("token", &token)]).await;
    assert_eq!(signed.status(), StatusCode::SEE_OTHER);
    let (status, _) = page(&app, "/account", &session_cookie(&signed)).await;
    assert_eq!(status, StatusCode::OK);
    let reused = form(&app, "/magic-link", None, &[("token", &token)]).await;
    assert_eq!(reused.status(), StatusCode::GONE);

    // Password reset through the pages.
    form(&app, "/forgot-password", None, &[("email", "ada@example.com")]).await;
    let token = variosync_store::testing::last_outbox_link(app.data_dir.path(), "reset-password");
    let reset = form(
        &app,
        "/reset-password",
        None,
        &[("token", &token), ("new_password", "a fresh passphrase")],
    )
    .await;
    assert_eq!(reset.status(), StatusCode::OK);
    assert!(reset.text().await.unwrap().contains("Password changed"));
    assert_eq!(app.sign_in("ada@example.com", "a fresh passphrase").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_library_lists_searches_and_sorts_datasets_and_shows_hostile_names_as_text() {
    let app = spawn_app().await;
    let browser = app.sign_up("ada@example.com").await;
    let key = app.create_key(&browser, "write").await.0;
    let cookie = browser.cookie.clone();
    let (status, html) = page(&app, "/datasets", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No datasets yet"), "an empty library says what to do");

    let hostile = "<script>alert(1)</script>";
    let series = "\"\"\"><img src=x onerror=alert(2)>\"";
    let csv = format!("date,series,close\n2024-01-01,{series},1.5\n2024-01-02,{series},2.5\n");
    for (name, body) in [(hostile, csv.as_str()), ("Weather", "date,temp\n2024-01-01,3.5\n")] {
        let response = app
            .with_key(
                reqwest::Method::POST,
                &format!(
                    "/api/v1/datasets?name={}",
                    url::form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>()
                ),
                &key,
            )
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
    }
    let (_, html) = page(&app, "/datasets", &cookie).await;
    assert!(html.contains("2 datasets"), "{html}");
    assert!(!html.contains("<script>alert"), "user text is never markup");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;"), "but shown as text");
    assert!(!html.contains("<img src=x"), "a series name is text too");
    assert!(html.contains("&#60;img src=x onerror=alert(2)&#62;"), "the series, as text");
    let (_, found) = page(&app, "/datasets?q=ONERROR", &cookie).await;
    assert!(
        found.contains("1 dataset<") && found.contains("&#60;script&#62;"),
        "series are searched"
    );
    let (_, sorted) = page(&app, "/datasets?sort=name", &cookie).await;
    let weather = sorted.find(">Weather<").unwrap();
    let script = sorted.find("&#60;script&#62;").unwrap();
    assert!(script < weather, "sorted by name");
    let (_, none) = page(&app, "/datasets?q=nothing-like-it", &cookie).await;
    assert!(none.contains("No dataset or series matches"));
    let signed_out = app.client.get(app.url("/datasets")).send().await.unwrap();
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_sample_dataset_opens_its_page_with_statistics_quality_and_versions() {
    let app = spawn_app().await;
    let browser = app.sign_up("ada@example.com").await;
    let cookie = browser.cookie.clone();
    let (_, upload) = page(&app, "/upload", &cookie).await;
    let csrf = csrf_field(&upload);
    assert!(upload.contains("/samples/aapl-daily"), "samples are offered");

    let forged = form(&app, "/samples/aapl-daily", Some(&cookie), &[("csrf_token", "x")]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let made = form(&app, "/samples/aapl-daily", Some(&cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    let place = made.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(place.starts_with("/datasets/"), "{place}");

    let (status, html) = page(&app, &place, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("AAPL daily prices"), "{html}");
    assert!(html.contains("500 rows"), "the profile: {html}");
    assert!(html.contains("data-ohlc=\"true\""), "candles are offered for OHLC data");
    for column in ["open", "high", "low", "close", "volume", "adj_close"] {
        assert!(html.contains(&format!("value=\"{column}\"")), "{column} can be charted");
    }
    assert!(html.contains("business day") || html.contains("1d"), "the step: {html}");
    // The export form downloads what it says, as the browser submits it (blank fields for
    // the defaults, dates from its date fields).
    let id = place.trim_start_matches("/datasets/");
    assert!(html.contains(&format!("action=\"/api/v1/datasets/{id}/export\"")), "{html}");
    let submitted = format!(
        "/api/v1/datasets/{id}/export?version=1&format=tsv&compression=&series=&columns=close\
         &from=2000-01-01&to=&decimal=point&time=%25Y-%25m-%25d+%25H%3A%25M%3A%25S&tz=UTC"
    );
    let (status, tsv) = page(&app, &submitted, &cookie).await;
    assert_eq!(status, StatusCode::OK, "{tsv}");
    let lines: Vec<&str> = tsv.lines().collect();
    assert_eq!(lines[0], "series_id\tts\tclose", "{tsv}");
    assert_eq!(lines.len(), 501, "{tsv}");
    assert!(
        lines[1].split('\t').nth(1).is_some_and(|t| t.len() == 19 && t.as_bytes()[10] == b' '),
        "{tsv}"
    );
    let (status, quality) = page(&app, &format!("{place}/quality"), &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(quality.contains("Unusual jumps") && quality.contains("<td>close</td>"), "{quality}");

    // "Prepare a file" sends the same form to a job; the exports page shows it, then its
    // download link.
    let user: variosync_domain::UserId = browser.user_id.parse().unwrap();
    let grant = variosync_domain::Hours::from_hours_f64(1.0).unwrap();
    let owner = variosync_store::Owner::personal(user);
    let ledger = app.backends.ledger();
    ledger.apply(variosync_store::Access::System, owner, grant, "test grant", None).await.unwrap();
    assert!(html.contains(&format!("formaction=\"/datasets/{id}/exports\"")), "{html}");
    let csrf = csrf_field(&html);
    let fields = [
        ("version", "1"),
        ("format", "xlsx"),
        ("compression", ""),
        ("series", ""),
        ("columns", "close,volume"),
        ("from", ""),
        ("to", ""),
        ("sheets", "series"),
        ("csrf_token", csrf.as_str()),
    ];
    let forged = form(&app, &format!("/datasets/{id}/exports"), Some(&cookie), &fields[..8]).await;
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST, "no CSRF token, no export");
    let made = form(&app, &format!("/datasets/{id}/exports"), Some(&cookie), &fields).await;
    assert_eq!(made.status(), StatusCode::SEE_OTHER);
    assert_eq!(made.headers()[LOCATION], "/exports");
    let started = std::time::Instant::now();
    let exports = loop {
        let (status, exports) = page(&app, "/exports", &cookie).await;
        assert_eq!(status, StatusCode::OK);
        if !exports.contains("data-status=\"pending\"") {
            break exports;
        }
        assert!(started.elapsed().as_secs() < 60, "the export never ended: {exports}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(exports.contains("data-status=\"ready\""), "{exports}");
    let link_at = exports.find("href=\"/api/v1/exports/").unwrap() + "href=\"".len();
    let link = &exports[link_at..link_at + exports[link_at..].find('"').unwrap()];
    let link = link.replace("&#38;", "&").replace("&amp;", "&");
    let response = app.client.get(app.url(&link)).header(COOKIE, &cookie).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{link}");
    let workbook = response.bytes().await.unwrap();
    assert_eq!(&workbook[..2], b"PK", "an xlsx is a zip");
    let (_, others) = page(&app, "/exports", &app.sign_up("bob@example.com").await.cookie).await;
    assert!(others.contains("No exports yet"), "{others}");

    let (status, _) = page(&app, "/datasets/00000000-0000-7000-8000-000000000000", &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = page(&app, &format!("{place}?version=9"), &cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Another person cannot open it.
    let other = app.sign_up("eve@example.com").await;
    let (status, _) = page(&app, &place, &other.cookie).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hours_jobs_and_admin_pages_show_and_change_what_they_should() {
    let app = spawn_app().await;
    let admin = app.sign_up("admin@example.com").await;
    let ada = app.sign_up("ada@example.com").await;

    let (status, hours) = page(&app, "/usage", &ada.cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(hours.contains("Balance") && hours.contains("an admin can grant you hours"), "{hours}");
    let (status, jobs) = page(&app, "/jobs", &ada.cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(jobs.contains("No jobs yet"), "{jobs}");

    // Not an admin: no admin page.
    for path in ["/admin", "/admin/jobs", "/admin/audit"] {
        assert_eq!(page(&app, path, &ada.cookie).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    let id = admin.user_id.parse().unwrap();
    app.backends
        .users()
        .set_role(variosync_store::Access::System, id, variosync_domain::Role::Admin)
        .await
        .unwrap();
    let (status, users) = page(&app, "/admin", &admin.cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(users.contains("ada@example.com") && users.contains("2 accounts"), "{users}");
    let csrf = csrf_field(&users);

    // Grant hours, with a wrong amount first.
    let path = format!("/admin/users/{}/hours", ada.user_id);
    let fields = [("csrf_token", csrf.as_str()), ("hours", "lots"), ("reason", "welcome")];
    let refused = form(&app, &path, Some(&admin.cookie), &fields).await;
    assert!(refused.text().await.unwrap().contains("is not a number of hours"));
    let fields = [("csrf_token", csrf.as_str()), ("hours", "2.5"), ("reason", "welcome")];
    let granted = form(&app, &path, Some(&admin.cookie), &fields).await;
    let granted = granted.text().await.unwrap();
    assert!(granted.contains("the balance is now 3.500000 h"), "{granted}");
    let (_, hours) = page(&app, "/usage", &ada.cookie).await;
    assert!(hours.contains("welcome"), "the grant is in the ledger: {hours}");

    // Disable and enable; an admin cannot disable themselves.
    let path = format!("/admin/users/{}/disable", ada.user_id);
    let disabled = form(&app, &path, Some(&admin.cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(disabled.status(), StatusCode::SEE_OTHER);
    assert_ne!(page(&app, "/datasets", &ada.cookie).await.0, StatusCode::OK, "signed out");
    let path = format!("/admin/users/{}/enable", ada.user_id);
    let enabled = form(&app, &path, Some(&admin.cookie), &[("csrf_token", &csrf)]).await;
    assert_eq!(enabled.status(), StatusCode::SEE_OTHER);
    let path = format!("/admin/users/{}/disable", admin.user_id);
    let myself = form(&app, &path, Some(&admin.cookie), &[("csrf_token", &csrf)]).await;
    assert!(myself.text().await.unwrap().contains("class=\"error\""));

    let (status, audit) = page(&app, "/admin/audit", &admin.cookie).await;
    assert_eq!(status, StatusCode::OK);
    for action in ["hours_granted", "user_disabled", "user_enabled", "sign_up"] {
        assert!(audit.contains(action), "{action} in the audit log");
    }
    let (status, _) = page(&app, "/admin/jobs", &admin.cookie).await;
    assert_eq!(status, StatusCode::OK);
}
