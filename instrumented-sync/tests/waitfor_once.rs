//! Live deadlock detection through `OnceLock`/`LazyLock` initialisation: a
//! waiter waits for the initialising thread, so an initialisation that waits
//! (through a lock) for one of its waiters, or re-enters itself, ends by itself
//! with the report; fixed twins pass silently. Also: the cells compile and
//! behave like std's.
#![cfg(not(feature = "passthrough"))]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use instrumented_sync::{Barrier, LazyLock, Mutex, OnceLock, thread};

mod scenario;

use scenario::{panic_text, run};

/// Thread `loader` initialises `config`, whose initialiser locks `registry`;
/// thread `reader` holds `registry` and asks for `config`. The barrier makes
/// both steps overlap: `loader` is initialising and `reader` holds the lock.
/// Fixed: `reader` asks for `config` before taking `registry`.
fn init_through_lock(fixed: bool) {
    let config = Arc::new(OnceLock::new().named("config"));
    let registry = Arc::new(Mutex::new(0u32).named("registry"));
    let barrier = Arc::new(Barrier::new(2));
    let (c2, r2, b2) = (
        Arc::clone(&config),
        Arc::clone(&registry),
        Arc::clone(&barrier),
    );
    let loader = thread::Builder::new()
        .name("loader".into())
        .spawn(move || {
            let v = c2.get_or_init(|| {
                b2.wait();
                *r2.lock().unwrap_or_else(PoisonError::into_inner) + 7
            });
            assert!(*v == 7 || *v == 1);
        })
        .unwrap();
    let reader = thread::Builder::new()
        .name("reader".into())
        .spawn(move || {
            if fixed {
                barrier.wait();
                let v = *config.get_or_init(|| 1);
                *registry.lock().unwrap() += v;
            } else {
                let mut g = registry.lock().unwrap();
                barrier.wait();
                *g += *config.get_or_init(|| 1);
            }
        })
        .unwrap();
    let results = [loader.join(), reader.join()];
    for r in results {
        if let Err(e) = r {
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn initialisation_waiting_on_a_lock_held_by_its_waiter_is_reported() {
    let msg = run(|| init_through_lock(false)).expect("the program must panic with the report");
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("loader") && msg.contains("reader"), "{msg}");
    assert!(msg.contains("config") && msg.contains("registry"), "{msg}");
    let observed = instrumented_sync::recorded().into_iter().any(|r| {
        matches!(r, sync_trace::Record::Observed { kind, json, .. }
            if kind == "observed-deadlock" && json.contains("config"))
    });
    assert!(observed, "the report is recorded into the trace");
}

#[test]
fn initialisation_before_locking_is_silent() {
    for _ in 0..3 {
        assert_eq!(run(|| init_through_lock(true)), None);
    }
}

#[test]
fn reentrant_initialisation_is_reported() {
    let msg = run(|| {
        let cell = OnceLock::new().named("settings");
        let _ = cell.get_or_init(|| *cell.get_or_init(|| 1) + 1);
    })
    .expect("re-entering the initialisation must panic");
    assert!(
        msg.contains("deadlock") && msg.contains("settings"),
        "{msg}"
    );
}

#[test]
fn reentrant_lazy_initialisation_is_reported() {
    static SELF_REF: LazyLock<u32> = LazyLock::new(|| *SELF_REF + 1);
    let msg = run(|| {
        let _ = *SELF_REF;
    })
    .expect("a LazyLock reading itself must panic");
    assert!(msg.contains("deadlock"), "{msg}");
}

#[test]
fn nested_distinct_cells_are_silent() {
    assert_eq!(
        run(|| {
            let inner = OnceLock::new();
            let outer = OnceLock::new();
            assert_eq!(*outer.get_or_init(|| *inner.get_or_init(|| 1) + 1), 2);
        }),
        None
    );
}

#[test]
fn a_slow_initialiser_is_not_a_deadlock_and_runs_once() {
    assert_eq!(
        run(|| {
            let runs = Arc::new(AtomicUsize::new(0));
            let cell = Arc::new(OnceLock::new());
            let handles: Vec<_> = (0..4)
                .map(|i| {
                    let (cell, runs) = (Arc::clone(&cell), Arc::clone(&runs));
                    thread::spawn(move || {
                        *cell.get_or_init(|| {
                            runs.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(300));
                            i
                        })
                    })
                })
                .collect();
            let seen: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(runs.load(Ordering::SeqCst), 1);
            assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
        }),
        None
    );
}

#[test]
fn a_panicking_initialiser_lets_a_waiter_initialise() {
    assert_eq!(
        run(|| {
            let cell = Arc::new(OnceLock::new());
            let barrier = Arc::new(Barrier::new(2));
            let (c2, b2) = (Arc::clone(&cell), Arc::clone(&barrier));
            let first = thread::spawn(move || {
                c2.get_or_init(|| {
                    b2.wait();
                    std::thread::sleep(Duration::from_millis(50));
                    panic!("initialiser failed")
                });
            });
            barrier.wait();
            assert_eq!(*cell.get_or_init(|| 5), 5);
            assert!(first.join().is_err());
        }),
        None
    );
}

#[test]
fn lazy_lock_initialiser_panic_poisons_it() {
    let lazy: LazyLock<u32> = LazyLock::new(|| panic!("no value"));
    let first = std::panic::catch_unwind(|| *lazy);
    let second = std::panic::catch_unwind(|| *lazy).unwrap_err();
    assert!(first.is_err());
    assert!(panic_text(&second).contains("poisoned"));
}

#[test]
fn wait_returns_once_another_thread_sets() {
    assert_eq!(
        run(|| {
            let cell = Arc::new(OnceLock::new());
            let c2 = Arc::clone(&cell);
            let setter = thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                c2.set(9).unwrap();
            });
            assert_eq!(*cell.wait(), 9);
            setter.join().unwrap();
        }),
        None
    );
}

/// The same code against std's cells and ours: it compiles unchanged and computes the same.
macro_rules! drop_in {
    ($($m:ident)::+) => {{
        use $($m)::+::{LazyLock, OnceLock};
        static GLOBAL: OnceLock<Vec<u8>> = OnceLock::new();
        static LAZY: LazyLock<String> = LazyLock::new(|| "lazy".to_owned());
        let mut out = Vec::new();
        out.push(format!("{:?}", GLOBAL.get()));
        out.push(format!("{:?}", GLOBAL.get_or_init(|| vec![1, 2])));
        out.push(format!("{:?}", GLOBAL.set(vec![3])));
        let mut local: OnceLock<String> = OnceLock::default();
        out.push(format!("{:?}", local.set("a".to_owned())));
        out.push(format!("{:?}", local.get_mut().map(|s| { s.push('b'); s.len() })));
        let cloned = local.clone();
        out.push(format!("{:?} {}", cloned, cloned == local));
        out.push(format!("{:?}", local.take()));
        out.push(format!("{:?}", local.get()));
        out.push(format!("{:?}", OnceLock::from(3).into_inner()));
        out.push(format!("{:?}", OnceLock::<u8>::new().into_inner()));
        out.push(format!("{} {}", *LAZY, LazyLock::force(&LAZY).len()));
        let captured = 4;
        let closure_lazy = LazyLock::new(move || captured * 2);
        out.push(format!("{}", *closure_lazy));
        let d: LazyLock<u8> = LazyLock::default();
        out.push(format!("{}", *d));
        out.push(format!("{:?}", OnceLock::<u8>::new()));
        out
    }};
}

#[test]
fn compiles_and_behaves_like_std() {
    let ours = drop_in!(instrumented_sync);
    let std = drop_in!(std::sync);
    assert_eq!(ours, std);
}

#[test]
fn cells_are_send_and_sync_like_std() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<OnceLock<Vec<u8>>>();
    send_sync::<LazyLock<String>>();
    send_sync::<LazyLock<u8, Box<dyn FnOnce() -> u8 + Send>>>();
}
