//! Whole-application tests in a real browser: headless Chromium driven over WebDriver
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs). Without a
//! `chromedriver` on the PATH they are skipped, unless `VARIOSYNC_REQUIRE_SERVICES` is set.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

mod dashboard;
mod forecast;
mod harness;
mod pages;
mod speed;
