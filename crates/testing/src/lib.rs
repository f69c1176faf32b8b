//! What sso-bridge's tests and benchmarks share (a dev-dependency of the root
//! package only).
//!
//! The in-process tier: [`test_state::TestState`] (the real router over
//! `Services` with a mock clock and seeded randomness, on a database of its
//! own), [`test_browser::TestBrowser`], the scripted IdP
//! ([`scripted_idp`]) and the scripted homeserver
//! ([`scripted_homeserver`]), which plays Synapse's part behind the
//! [`homeserver::Homeserver`] trait.
//!
//! The end-to-end tier: the real peers ([`world`]: Synapse, the test IdPs,
//! Redis, the bridge binary), a cookie-keeping HTTP [`browser`], whole
//! [`login`]s and [`matrix`] calls; [`database`] gives both tiers SQLite or
//! PostgreSQL.

pub mod answer;
pub mod bench;
pub mod browser;
pub mod database;
pub mod homeserver;
pub mod inprocess;
pub mod jwt;
pub mod login;
pub mod matrix;
pub mod paths;
pub mod router;
pub mod saml_config;
pub mod scripted_homeserver;
pub mod scripted_idp;
pub mod spawn;
pub mod stand_in;
pub mod test_browser;
pub mod test_state;
pub mod wait;
pub mod world;
