//! The scenarios, one module per seed-material example.

pub mod async_locks;
pub mod bank_transfer;
pub mod barrier_abba;
pub mod counter_object;
pub mod dining_philosophers;
pub mod lost_wakeup;
pub mod parking_lot_transfer;
pub mod pipeline;
pub mod producer_consumer;
pub mod publish;
pub mod racy_counter;
pub mod semaphore;
pub mod shared_array;
pub mod worker_pool;
