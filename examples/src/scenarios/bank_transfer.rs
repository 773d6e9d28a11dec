//! Bank transfer: the classic lock-ordering bug.
//!
//! Two accounts, each behind its own mutex. A transfer locks the source, then
//! the destination. Two clerks transferring in opposite directions can each
//! hold one account and wait for the other: a deadlock. The ordered version
//! always locks the account with the smaller number first.

use std::time::Duration;

use instrumented_sync::{Mutex, thread};

/// An account: its number (the global lock order) and its balance.
pub struct Account {
    number: u32,
    balance: Mutex<i64>,
}

impl Account {
    #[track_caller]
    fn new(number: u32, name: &'static str, balance: i64) -> Account {
        Account {
            number,
            balance: Mutex::new(balance).named(name),
        }
    }
}

/// Naive: lock `from`, then `to`.
fn transfer_naive(from: &Account, to: &Account, amount: i64) {
    let mut source = from.balance.lock().unwrap();
    let mut destination = to.balance.lock().unwrap();
    *source -= amount;
    *destination += amount;
}

/// Ordered: lock the lower-numbered account first, whichever direction the money goes.
fn transfer_ordered(from: &Account, to: &Account, amount: i64) {
    let (first, second) = if from.number < to.number {
        (from, to)
    } else {
        (to, from)
    };
    let mut first_balance = first.balance.lock().unwrap();
    let mut second_balance = second.balance.lock().unwrap();
    if std::ptr::eq(first, from) {
        *first_balance -= amount;
        *second_balance += amount;
    } else {
        *second_balance -= amount;
        *first_balance += amount;
    }
}

fn run(transfer: fn(&Account, &Account, i64)) -> (i64, i64) {
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
                // Staggered so this demonstration run finishes; the analyzer
                // predicts the deadlock that another schedule would hit.
                thread::sleep(Duration::from_millis(50));
                transfer(&bob, &alice, 20)
            })
            .unwrap();
    });
    let balances = (*alice.balance.lock().unwrap(), *bob.balance.lock().unwrap());
    assert_eq!(balances.0 + balances.1, 200, "money is conserved");
    balances
}

/// Transfers in opposite directions with per-transfer lock order: a predicted deadlock.
pub fn naive() {
    run(transfer_naive);
}

/// The same transfers with a global lock order: clean.
pub fn ordered() {
    run(transfer_ordered);
}
