//! Deadlock prediction: lock dependencies, deadlock patterns, sync-preserving confirmation.
