//! Operator commands that work on the database without serving (the `serve`
//! command lives in `http`).

pub mod keys;
pub mod sessions;
