//! Outgoing e-mail: SMTP when a server is configured, otherwise `.eml` files in the data
//! directory's `outbox/`, so that a local install can sign in with no mail server at all.

use std::fmt;
use std::path::PathBuf;

use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use variosync_domain::Email;

use crate::error::{Error, Result};

/// Mail settings (the SMTP server's URL is a separate, secret setting).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    /// The sender, e.g. `Variosync <noreply@example.com>`.
    pub from: String,
    /// In outbox mode, also write each message's link to the log (convenient on a laptop;
    /// turn it off where logs are shared).
    pub log_outbox_links: bool,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self { from: "Variosync <noreply@localhost>".to_owned(), log_outbox_links: true }
    }
}

/// One message: plain text with one link the recipient is meant to follow.
#[derive(Clone)]
pub struct Mail {
    /// The recipient.
    pub to: Email,
    /// The subject line.
    pub subject: String,
    /// The body, plain text.
    pub body: String,
    /// The link in the body (logged in outbox mode only).
    pub link: String,
}

impl fmt::Debug for Mail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body and link carry one-time tokens.
        f.debug_struct("Mail").field("subject", &self.subject).finish_non_exhaustive()
    }
}

/// Sends mail.
#[derive(Clone)]
pub enum Mailer {
    /// Writes `.eml` files to a folder.
    Outbox {
        /// The folder.
        dir: PathBuf,
        /// The sender.
        from: Mailbox,
        /// Whether to log each message's link.
        log_links: bool,
    },
    /// Sends through an SMTP server.
    Smtp {
        /// The pooled connection.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The sender.
        from: Mailbox,
    },
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Outbox { dir, .. } => f.debug_struct("Mailer::Outbox").field("dir", dir).finish(),
            Self::Smtp { .. } => f.write_str("Mailer::Smtp"),
        }
    }
}

impl Mailer {
    /// Checks the settings without connecting or starting anything (no runtime needed):
    /// the sender parses as a mailbox and the SMTP URL, if any, as an SMTP URL.
    pub fn check(smtp_url: Option<&secrecy::SecretString>, settings: &MailSettings) -> Result<()> {
        use secrecy::ExposeSecret;
        settings.from.parse::<Mailbox>().map_err(|_| Error::MailConfig("VARIOSYNC_MAIL_FROM"))?;
        if let Some(url) = smtp_url {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                .map_err(|_| Error::MailConfig("VARIOSYNC_SMTP_URL"))?;
        }
        Ok(())
    }

    /// SMTP through `smtp_url` (`smtps://user:password@host:465`,
    /// `smtp://host:587?tls=required`) when given, otherwise the outbox in `data_dir/outbox`.
    pub fn from_settings(
        smtp_url: Option<&secrecy::SecretString>,
        settings: &MailSettings,
        data_dir: &std::path::Path,
    ) -> Result<Self> {
        use secrecy::ExposeSecret;
        let from: Mailbox =
            settings.from.parse().map_err(|_| Error::MailConfig("VARIOSYNC_MAIL_FROM"))?;
        match smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
                    .map_err(|_| Error::MailConfig("VARIOSYNC_SMTP_URL"))?
                    .build();
                Ok(Self::Smtp { transport, from })
            }
            None => Ok(Self::Outbox {
                dir: data_dir.join("outbox"),
                from,
                log_links: settings.log_outbox_links,
            }),
        }
    }

    /// Sends one message.
    #[tracing::instrument(skip_all, fields(subject = %mail.subject), err(level = "warn"))]
    pub async fn send(&self, mail: &Mail) -> Result<()> {
        let from = match self {
            Self::Outbox { from, .. } | Self::Smtp { from, .. } => from.clone(),
        };
        let to: Mailbox = mail.to.as_str().parse().map_err(|_| Error::MailConfig("recipient"))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|_| Error::MailConfig("message"))?;
        match self {
            Self::Smtp { transport, .. } => {
                transport
                    .send(message)
                    .await
                    .map_err(|error| Error::MailSend(error.to_string()))?;
            }
            Self::Outbox { dir, log_links, .. } => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| Error::MailSend(e.to_string()))?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ"),
                    uuid::Uuid::new_v4().simple()
                );
                let path = dir.join(name);
                // Written beside, then renamed: a reader never sees half a message.
                let partial = path.with_extension("eml.partial");
                tokio::fs::write(&partial, message.formatted())
                    .await
                    .map_err(|e| Error::MailSend(e.to_string()))?;
                tokio::fs::rename(&partial, &path)
                    .await
                    .map_err(|e| Error::MailSend(e.to_string()))?;
                if *log_links {
                    tracing::info!(path = %path.display(), link = %mail.link, "mail written to the outbox");
                } else {
                    tracing::info!(path = %path.display(), "mail written to the outbox");
                }
            }
        }
        Ok(())
    }
}
