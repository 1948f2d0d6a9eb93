//! One test body per storage concern, run against every backend that implements it:
//! SQLite and PostgreSQL, the local folder and a real S3 server over HTTP, memory and Redis.

mod api_keys;
mod audit;
mod auth_tokens;
mod backends;
mod cache;
mod datasets;
mod jobs;
mod ledger;
mod objects;
mod payments;
mod pubsub;
mod rate_limit;
mod sessions;
mod uploads;
mod users;
mod workspaces;
