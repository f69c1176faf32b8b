//! The end-to-end harness: real peers, a scripted browser, Matrix helpers.
#![allow(dead_code)]

pub mod browser;
pub mod database;
pub mod inprocess;
pub mod login;
pub mod matrix;
pub mod saml_config;
pub mod spawn;
pub mod stand_in;
pub mod world;
