//! Deadlock prediction and race detection over lock traces.
//!
//! The data flows one way: [`trace`] loads files into the [`model`]; the
//! analyses ([`graph`], [`predict`]) turn the model into [`finding`]s; the
//! renderers in [`report`] turn findings into text, JSON and DOT. Renderers
//! never analyse and analyses never print.

pub mod finding;
pub mod model;
