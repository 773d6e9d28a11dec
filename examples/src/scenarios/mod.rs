//! The scenarios, one module per seed-material example.

pub mod bank_transfer;
pub mod dining_philosophers;
