//! Logging set-up.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::settings::{LogFormat, LogSettings};

/// Installs the global subscriber: human-readable or JSON lines on standard output, filtered
/// by `settings.level`. Calling it twice is harmless (the second call does nothing).
pub fn init(settings: &LogSettings) {
    // The level was validated with the settings; fall back to `info` rather than fail here.
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        LogFormat::Text => registry
            .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal()))
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true),
            )
            .try_init(),
    };
}
