//! End-to-end: the real bridge binary against real peers (an OIDC IdP, a SAML2
//! IdP, three Synapses, Redis), all on 127.0.0.1 and started once for this binary.
//! Needs the peers `scripts/setup.sh` installs: built with `--features peers`
//! (`scripts/test.sh`).
#![cfg(feature = "peers")]

mod acs_flood;
mod clients;
mod doctor;
mod hardening;
mod introspection;
mod keys;
mod login;
mod logout;
