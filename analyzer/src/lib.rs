//! Deadlock prediction and race detection over lock traces.
//!
//! The data flows one way: [`trace`] loads files into the [`model`]; the
//! analyses ([`graph`], [`predict`]) turn the model into [`finding`]s, gathered
//! by [`analysis`]; the renderers in [`report`] turn them into text, JSON and
//! DOT. Renderers never analyse and analyses never print.

pub mod analysis;
pub mod explain;
pub mod finding;
pub mod generate;
pub mod graph;
pub mod model;
pub mod predict;
pub mod race;
pub mod report;
pub mod trace;
