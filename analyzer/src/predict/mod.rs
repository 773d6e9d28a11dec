//! Deadlock prediction: lock dependencies, deadlock patterns, happens-before
//! and sync-preserving confirmation (Tunç, Mathur, Pavlogiannis, Viswanathan,
//! PLDI 2023).
//!
//! Algorithms here are free functions over the [`crate::model::Trace`]; they
//! know nothing of findings or output formats.

pub mod dependencies;
pub mod hb;
pub mod patterns;
pub mod sync_preserving;

pub use dependencies::{
    DEFAULT_MAX_HELD, Dependencies, DependencyInstance, LockDependency, NestingEvent,
    lock_dependencies, lock_dependencies_bounded,
};
pub use hb::HappensBefore;
pub use patterns::{
    DeadlockPattern, PatternSearch, deadlock_patterns, is_pattern, modes_conflict, waits_for,
};
pub use sync_preserving::{ClosureIndex, Witness, confirm};
