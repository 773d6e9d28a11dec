//! Drop-in instrumented replacements for `std::sync`.
