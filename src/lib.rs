//! sso-bridge: one university login for many departmental Matrix homeservers
//! (MSC1731, with MSC1730 for clients that ignore `homeserver`).
//!
//! Calls go one way: `http` → `flow` → {`upstream`, `provider`, `identity`} → `store`;
//! `tests/architecture.rs` checks every import against the layers of docs/architecture.md.

// Nothing from outside is unwrapped: errors are answered (unit tests may panic).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod client_auth;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crypto;
pub mod doctor;
pub mod encoding;
pub mod flow;
pub mod homeserver;
pub mod homeserver_config;
pub mod homeserver_versions;
pub mod http;
pub mod identity;
pub mod ids;
pub mod introspection;
pub mod logging;
pub mod logout;
pub mod metrics;
pub mod outbound;
pub mod provider;
pub mod random;
pub mod rate_limit;
pub mod request_context;
pub mod routes;
pub mod services;
pub mod store;
pub mod upstream;
