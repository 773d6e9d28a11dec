//! Deadlock prediction and race detection over lock traces.
