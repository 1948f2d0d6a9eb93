//! The composition root: settings, logging, and the [`Application`] that opens every backend,
//! applies migrations and serves HTTP under one runtime; also the worker process's start-up.
//! The whole-app integration tests live in this crate's `tests/`.
//!
//! Nothing here implements a feature: it wires the crates below together from [`Settings`],
//! so that tests can build the same application with port 0 and a fresh database.

mod app;
pub mod files;
pub mod settings;
mod shutdown;
mod startup;
pub mod telemetry;

pub use app::Application;
pub use settings::{DEFAULT_CONFIG, SETTINGS, Settings, SettingsError};
pub use shutdown::shutdown_signal;
pub use startup::{create_user, migrate, run_worker};

/// Installs the process-wide TLS crypto provider (aws-lc-rs) before any TLS client starts.
/// Several dependencies can bring a provider; naming one avoids a start-up ambiguity.
pub fn install_crypto_provider() {
    // Fails only if a provider is already installed, which is what we want anyway.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}
