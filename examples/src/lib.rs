//! Faithful Rust versions of the seed material's concurrency scenarios, each
//! with a correct twin and, where the material shows a bug, a buggy one that
//! the analyzer must catch. The `gallery` binary runs them all under
//! instrumentation and writes their reports into `reports/`.

pub mod scenarios;

/// What the analyzer is expected to say about a scenario.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// At least one finding fails the check.
    Flagged,
    /// Nothing fails the check.
    Clean,
}

/// One runnable scenario.
#[derive(Clone, Copy, Debug)]
pub struct Scenario {
    /// Directory name under `reports/`.
    pub name: &'static str,
    /// One sentence for the gallery index.
    pub description: &'static str,
    /// The program.
    pub run: fn(),
    /// What the analyzer must conclude.
    pub expect: Expect,
}

/// Every scenario, in gallery order.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "bank_transfer_naive",
        description: "Two clerks transfer between two accounts in opposite lock orders.",
        run: scenarios::bank_transfer::naive,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "bank_transfer_ordered",
        description: "The same transfers, always locking the lower account number first.",
        run: scenarios::bank_transfer::ordered,
        expect: Expect::Clean,
    },
    Scenario {
        name: "dining_philosophers_naive",
        description: "Five philosophers take their left fork, then their right: a 5-lock circular wait.",
        run: scenarios::dining_philosophers::naive,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "dining_philosophers_ordered",
        description: "Each philosopher takes the lower-numbered fork first: no cycle.",
        run: scenarios::dining_philosophers::ordered,
        expect: Expect::Clean,
    },
    Scenario {
        name: "shared_array_locked",
        description: "Four writers rewrite a shared array under one mutex; no snapshot is torn.",
        run: scenarios::shared_array::locked,
        expect: Expect::Clean,
    },
    Scenario {
        name: "counter_object",
        description: "A counter object whose methods take its own lock through a scoped guard.",
        run: scenarios::counter_object::scoped_guards,
        expect: Expect::Clean,
    },
    Scenario {
        name: "producer_consumer",
        description: "A producer notifies all; two consumers wait on a predicate and both consume.",
        run: scenarios::producer_consumer::notify_all,
        expect: Expect::Clean,
    },
    Scenario {
        name: "worker_pool",
        description: "Five workers drain a FIFO queue of 20 items; task_done/join, then one sentinel per worker.",
        run: scenarios::worker_pool::with_sentinels,
        expect: Expect::Clean,
    },
    Scenario {
        name: "racy_counter_unprotected",
        description: "Five threads increment a shared counter (RaceCell) 1,000 times each without a lock (the seed used 100,000).",
        run: scenarios::racy_counter::unprotected,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "racy_counter_atomic_load_store",
        description: "The same counter as an atomic incremented with x.store(x.load() + 1): a lost update, not a data race.",
        run: scenarios::racy_counter::atomic_load_store,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "racy_counter_locked",
        description: "The same increments under one mutex: exact and clean.",
        run: scenarios::racy_counter::locked,
        expect: Expect::Clean,
    },
    Scenario {
        name: "publish_fork_join",
        description: "Input prepared before spawning, per-thread result slots read after joining: ordered without locks.",
        run: scenarios::publish::fork_join,
        expect: Expect::Clean,
    },
    Scenario {
        name: "write_under_read_lock",
        description: "Two handlers increment a request counter while holding a shared config lock only for reading.",
        run: scenarios::publish::write_under_read_lock,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "parking_lot_transfer_naive",
        description: "The bank transfer on parking_lot mutexes (instrumented through lock_api): opposite lock orders.",
        run: scenarios::parking_lot_transfer::naive,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "parking_lot_transfer_ordered",
        description: "The parking_lot transfer with the lower account locked first: no cycle.",
        run: scenarios::parking_lot_transfer::ordered,
        expect: Expect::Clean,
    },
    Scenario {
        name: "async_lock_order_naive",
        description: "Two tokio tasks hold one warehouse's async mutex across an await and lock the other, in opposite orders.",
        run: scenarios::async_locks::lock_order_naive,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "async_lock_order_ordered",
        description: "The same tasks, both locking north before south: clean.",
        run: scenarios::async_locks::lock_order_ordered,
        expect: Expect::Clean,
    },
    Scenario {
        name: "pipeline_missing_close",
        description: "download → resize → upload over bounded channels; a spare resize sender is never closed, so two stages block forever and the live detector ends the run.",
        run: scenarios::pipeline::missing_close,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "pipeline_closed",
        description: "The same pipeline with every sender closed before joining: each stage drains and ends in turn.",
        run: scenarios::pipeline::closed,
        expect: Expect::Clean,
    },
    Scenario {
        name: "lost_wakeup",
        description: "The producer stocks the shelf but forgets to notify: both waiting consumers sleep forever (live detector).",
        run: scenarios::lost_wakeup::forgotten_notify,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "lost_wakeup_fixed",
        description: "The same producer notifies all: both consumers wake and consume.",
        run: scenarios::lost_wakeup::fixed,
        expect: Expect::Clean,
    },
    Scenario {
        name: "semaphore_leak",
        description: "Maintenance waits for a pooled connection while holding the cache lock every connection holder needs (live detector).",
        run: scenarios::semaphore::leak,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "semaphore_fixed",
        description: "Maintenance releases the cache before taking a connection.",
        run: scenarios::semaphore::fixed,
        expect: Expect::Clean,
    },
    Scenario {
        name: "barrier_abba",
        description: "Two clerks lock accounts in opposite orders with a barrier between their locks: the deadlock forms and is reported live.",
        run: scenarios::barrier_abba::abba,
        expect: Expect::Flagged,
    },
    Scenario {
        name: "barrier_ordered",
        description: "The barrier first, then both accounts in one order: clean.",
        run: scenarios::barrier_abba::ordered,
        expect: Expect::Clean,
    },
];

/// The scenario called `name`.
pub fn scenario(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}
