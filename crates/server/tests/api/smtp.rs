//! Mail over SMTP to a real SMTP server (aiosmtpd, a Python package that `.ci/run`
//! installs), instead of the outbox.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::spawn_app_with;

struct SmtpServer {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts aiosmtpd with the Python of `VARIOSYNC_TEST_SMTP_PYTHON`, storing mail in a
/// maildir; `None` (skipped) when the variable is unset.
async fn start_smtp() -> Option<SmtpServer> {
    let python = variosync_store::testing::service_url("VARIOSYNC_TEST_SMTP_PYTHON")?;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let maildir = tempfile::tempdir().unwrap();
    let child = Command::new(python)
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir.path().join("mail"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd starts");
    // Owned (and so killed on drop) before anything can fail.
    let server = SmtpServer { child, port, maildir };
    // A deadline by the clock, not a count of tries: Python starts slowly on a busy machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Some(server);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("aiosmtpd did not start listening within 30 s");
}

/// The verification token in the one message of the maildir.
fn delivered_token(server: &SmtpServer) -> String {
    let new = server.maildir.path().join("mail/new");
    let message =
        std::fs::read_dir(&new).unwrap().next().expect("one delivered message").unwrap().path();
    let text = std::fs::read_to_string(message).unwrap();
    assert!(text.contains("To: ada@example.com"), "{text}");
    variosync_store::testing::link_token(&text, "signup/confirm").expect("a sign-up link")
}

#[tokio::test]
async fn mail_goes_through_a_configured_smtp_server() {
    let Some(server) = start_smtp().await else { return };
    let app = spawn_app_with(|settings| {
        settings.smtp_url = Some(format!("smtp://127.0.0.1:{}", server.port).into());
        settings.mail.from = "Variosync <noreply@variosync.test>".into();
    })
    .await;
    let started = app
        .client
        .post(app.url("/api/v1/auth/signup"))
        .json(&json!({ "email": "ada@example.com", "password": crate::helpers::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), StatusCode::ACCEPTED);
    assert!(!app.data_dir.path().join("outbox").exists(), "nothing went to the outbox");
    let token = delivered_token(&server);
    let signed = app
        .client
        .post(app.url("/api/v1/auth/signup/confirm"))
        .json(&json!({ "token": token }))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), StatusCode::CREATED);
    assert!(signed.json::<Value>().await.unwrap()["user"]["email_verified_at"].is_string());
}
