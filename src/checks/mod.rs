//! `keydoctor doctor`'s checks beside the diagnosis: the decisions made from a cluster's answers,
//! in the words of `rules/checks/`.

pub mod doctor;
