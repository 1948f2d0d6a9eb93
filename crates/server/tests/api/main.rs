//! Whole-application tests: the real server on a random port, talking to real backends.

mod accounts;
mod admin;
mod backends;
mod billing;
mod datasets;
mod email;
mod exports;
mod external;
mod forecasts;
mod github;
mod hardening;
mod helpers;
mod http;
mod imports;
mod jobs;
mod oidc;
mod openapi;
mod pages;
mod preview;
mod smtp;
mod tokens;
mod uploads;
