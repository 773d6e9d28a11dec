//! Bank transfer on parking_lot locks: the same lock-ordering bug as
//! `bank_transfer`, in a codebase that uses `parking_lot::Mutex` (no
//! poisoning, guards returned directly). Only the `use` line differs from
//! plain parking_lot code.

use std::time::Duration;

use instrumented_sync::parking_lot::Mutex;
use instrumented_sync::thread;

/// An account: its number (the global lock order) and its balance.
struct Account {
    number: u32,
    balance: Mutex<i64>,
}

impl Account {
    fn new(number: u32, name: &'static str, balance: i64) -> Account {
        let balance = Mutex::new(balance);
        instrumented_sync::name(&balance, name);
        Account { number, balance }
    }
}

/// Naive: lock `from`, then `to`.
fn transfer_naive(from: &Account, to: &Account, amount: i64) {
    let mut source = from.balance.lock();
    let mut destination = to.balance.lock();
    *source -= amount;
    *destination += amount;
}

/// Ordered: lock the lower-numbered account first.
fn transfer_ordered(from: &Account, to: &Account, amount: i64) {
    let (first, second) = if from.number < to.number {
        (from, to)
    } else {
        (to, from)
    };
    let mut first_balance = first.balance.lock();
    let mut second_balance = second.balance.lock();
    let sign = if std::ptr::eq(first, from) { 1 } else { -1 };
    *first_balance -= sign * amount;
    *second_balance += sign * amount;
}

fn run(transfer: fn(&Account, &Account, i64)) {
    let alice = Account::new(1, "alice", 100);
    let bob = Account::new(2, "bob", 100);
    thread::scope(|s| {
        thread::Builder::new()
            .name("clerk-1".into())
            .spawn_scoped(s, || transfer(&alice, &bob, 10))
            .unwrap();
        thread::Builder::new()
            .name("clerk-2".into())
            .spawn_scoped(s, || {
                // Staggered so this run finishes; the analyzer predicts the other schedule.
                thread::sleep(Duration::from_millis(50));
                transfer(&bob, &alice, 20)
            })
            .unwrap();
    });
    assert_eq!(
        *alice.balance.lock() + *bob.balance.lock(),
        200,
        "money is conserved"
    );
}

/// Opposite lock orders on parking_lot mutexes: a predicted deadlock.
pub fn naive() {
    run(transfer_naive);
}

/// A global lock order: clean.
pub fn ordered() {
    run(transfer_ordered);
}
