//! The one integration test binary (see shared/STYLE.md 3.8).

mod bad_input;
mod bundle;
mod cli;
mod cluster;
mod corpus;
mod correlation;
mod differential;
mod doctor;
mod impact;
mod keys;
mod matrix;
mod pastes;
mod plans;
mod report;
mod robustness;
mod rules;
mod scan;
mod secrets;
mod share;
mod silence;
mod support;
mod terminal;
mod tls;
mod tuning;
mod two_sided;
mod variants;
