//! Code written against `std::sync::atomic` compiles unchanged against
//! `instrumented_sync::atomic` and computes the same results: one program,
//! expanded twice (once per `atomic` module), every stable method exercised.
//! Plus auto-trait parity of the atomics and `RaceCell`.

use std::cell::Cell;
use std::panic::{RefUnwindSafe, UnwindSafe};

/// A program using every stable method of the atomics through a module
/// called `atomic`, returning a log of every result.
macro_rules! program {
    () => {
        use atomic::{
            AtomicBool, AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicIsize, AtomicPtr,
            AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, Ordering, compiler_fence,
            fence,
        };

        static STATIC_COUNTER: AtomicUsize = AtomicUsize::new(0);

        /// Every integer method, for one integer type.
        macro_rules! ints {
            ($log:ident, $t:ident, $v:ty) => {{
                let a = $t::new(10);
                $log.push(format!("{:?}", a));
                $log.push(format!("{}", a.load(Ordering::SeqCst)));
                a.store(20, Ordering::Release);
                $log.push(format!("{}", a.swap(30, Ordering::AcqRel)));
                $log.push(format!(
                    "{:?}",
                    a.compare_exchange(1, 2, Ordering::SeqCst, Ordering::Relaxed)
                ));
                $log.push(format!(
                    "{:?}",
                    a.compare_exchange(30, 31, Ordering::AcqRel, Ordering::Acquire)
                ));
                let mut r = a.compare_exchange_weak(31, 32, Ordering::SeqCst, Ordering::SeqCst);
                while r.is_err() {
                    r = a.compare_exchange_weak(31, 32, Ordering::SeqCst, Ordering::SeqCst);
                }
                $log.push(format!("{r:?}"));
                $log.push(format!("{}", a.fetch_add(5, Ordering::Relaxed)));
                $log.push(format!("{}", a.fetch_sub(3, Ordering::Relaxed)));
                $log.push(format!("{}", a.fetch_and(0b1110, Ordering::Relaxed)));
                $log.push(format!("{}", a.fetch_nand(0b0110, Ordering::Relaxed)));
                $log.push(format!("{}", a.fetch_or(0b0001, Ordering::Relaxed)));
                $log.push(format!("{}", a.fetch_xor(0b0101, Ordering::Relaxed)));
                $log.push(format!("{}", a.fetch_max(7, Ordering::SeqCst)));
                $log.push(format!("{}", a.fetch_min(3, Ordering::SeqCst)));
                $log.push(format!(
                    "{:?}",
                    a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_add(1))
                ));
                $log.push(format!(
                    "{:?}",
                    a.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |_| None)
                ));
                // Wrapping arithmetic, like std.
                let m = $t::new(<$v>::MAX);
                $log.push(format!(
                    "{} {}",
                    m.fetch_add(1, Ordering::Relaxed),
                    m.load(Ordering::Relaxed)
                ));
                let mut owned = $t::default();
                *owned.get_mut() += 4;
                $log.push(format!("{}", owned.into_inner()));
                let from = $t::from(9);
                let raw: *mut $v = from.as_ptr();
                $log.push(format!(
                    "{} {}",
                    raw.is_aligned(),
                    from.load(Ordering::Relaxed)
                ));
                $log.push(format!("{}", a.into_inner()));
            }};
        }

        /// The log of every result.
        pub fn run() -> Vec<String> {
            let mut log = Vec::new();
            ints!(log, AtomicU8, u8);
            ints!(log, AtomicU16, u16);
            ints!(log, AtomicU32, u32);
            ints!(log, AtomicU64, u64);
            ints!(log, AtomicUsize, usize);
            ints!(log, AtomicI8, i8);
            ints!(log, AtomicI16, i16);
            ints!(log, AtomicI32, i32);
            ints!(log, AtomicI64, i64);
            ints!(log, AtomicIsize, isize);

            let b = AtomicBool::new(false);
            log.push(format!("{b:?} {}", b.load(Ordering::Acquire)));
            b.store(true, Ordering::Release);
            log.push(format!("{}", b.swap(false, Ordering::SeqCst)));
            log.push(format!(
                "{:?}",
                b.compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            ));
            log.push(format!(
                "{:?}",
                b.compare_exchange_weak(false, true, Ordering::AcqRel, Ordering::Relaxed)
            ));
            log.push(format!("{}", b.fetch_and(false, Ordering::SeqCst)));
            log.push(format!("{}", b.fetch_nand(true, Ordering::SeqCst)));
            log.push(format!("{}", b.fetch_or(false, Ordering::SeqCst)));
            log.push(format!("{}", b.fetch_xor(true, Ordering::SeqCst)));
            log.push(format!("{}", b.fetch_not(Ordering::SeqCst)));
            log.push(format!(
                "{:?}",
                b.fetch_update(Ordering::SeqCst, Ordering::Acquire, |v| Some(!v))
            ));
            let mut b2 = AtomicBool::from(true);
            *b2.get_mut() = false;
            log.push(format!(
                "{} {}",
                b2.into_inner(),
                AtomicBool::default().into_inner()
            ));
            log.push(format!("{}", b.into_inner()));

            let mut data = [1u32, 2, 3, 4];
            let base = data.as_mut_ptr();
            let p = AtomicPtr::new(base);
            let offset = |q: *mut u32| (q as usize - base as usize) / 4;
            log.push(format!("{}", offset(p.load(Ordering::Acquire))));
            p.store(base.wrapping_add(1), Ordering::Release);
            log.push(format!(
                "{}",
                offset(p.swap(base.wrapping_add(2), Ordering::AcqRel))
            ));
            log.push(format!(
                "{:?}",
                p.compare_exchange(base, base, Ordering::SeqCst, Ordering::SeqCst)
                    .map_err(offset)
            ));
            log.push(format!(
                "{:?}",
                p.compare_exchange(
                    base.wrapping_add(2),
                    base.wrapping_add(3),
                    Ordering::SeqCst,
                    Ordering::SeqCst
                )
                .map(offset)
            ));
            let r = p.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |q| {
                Some(q.wrapping_sub(3))
            });
            log.push(format!("{:?}", r.map(offset)));
            log.push(format!("{}", p.load(Ordering::SeqCst) == base));
            let mut p2 = AtomicPtr::<u32>::default();
            log.push(format!("{}", p2.get_mut().is_null()));
            *p2.get_mut() = base;
            log.push(format!(
                "{}",
                AtomicPtr::from(base).into_inner() == p2.into_inner()
            ));

            fence(Ordering::SeqCst);
            compiler_fence(Ordering::Release);
            STATIC_COUNTER.fetch_add(1, Ordering::Relaxed);
            log.push(format!("{}", STATIC_COUNTER.load(Ordering::Relaxed)));
            log
        }
    };
}

mod with_std {
    use std::sync::atomic;
    program!();
}

mod instrumented {
    use instrumented_sync::atomic;
    program!();
}

#[test]
fn std_atomic_code_compiles_unchanged_and_computes_the_same() {
    let expected = with_std::run();
    let got = instrumented::run();
    assert!(expected.len() > 200, "the program logs every call");
    assert_eq!(got, expected);
}

#[test]
#[allow(deprecated)]
fn the_deprecated_compare_and_swap_matches_std() {
    use instrumented_sync::atomic::{AtomicIsize, Ordering};
    let ours = AtomicIsize::new(1);
    let theirs = std::sync::atomic::AtomicIsize::new(1);
    for (cur, new, order) in [
        (1, 2, Ordering::SeqCst),
        (1, 3, Ordering::AcqRel),
        (2, 4, Ordering::Release),
        (4, 5, Ordering::Relaxed),
        (4, 6, Ordering::Acquire),
    ] {
        assert_eq!(
            ours.compare_and_swap(cur, new, order),
            theirs.compare_and_swap(cur, new, order)
        );
    }
    assert_eq!(ours.into_inner(), theirs.into_inner());
}

#[test]
fn pointer_arithmetic_matches_std_semantics() {
    use instrumented_sync::atomic::{AtomicPtr, Ordering};
    let mut data = [0u64; 8];
    let base = data.as_mut_ptr();
    let p = AtomicPtr::new(base);
    assert_eq!(p.fetch_ptr_add(3, Ordering::SeqCst), base);
    assert_eq!(p.fetch_ptr_sub(1, Ordering::SeqCst), base.wrapping_add(3));
    assert_eq!(p.fetch_byte_add(8, Ordering::SeqCst), base.wrapping_add(2));
    assert_eq!(p.fetch_byte_sub(16, Ordering::SeqCst), base.wrapping_add(3));
    assert_eq!(p.load(Ordering::SeqCst), base.wrapping_add(1));
    // Tag bits in the low (alignment) bits of the address.
    let tagged = p.fetch_or(1, Ordering::SeqCst);
    assert_eq!(tagged, base.wrapping_add(1));
    assert_eq!(
        p.load(Ordering::SeqCst) as usize,
        base.wrapping_add(1) as usize | 1
    );
    assert_eq!(p.fetch_xor(0b11, Ordering::SeqCst) as usize & 0b11, 1);
    assert_eq!(p.fetch_and(!0b11, Ordering::SeqCst) as usize & 0b11, 2);
    assert_eq!(p.load(Ordering::SeqCst), base.wrapping_add(1));
}

fn send<T: Send + ?Sized>() {}
fn sync<T: Sync + ?Sized>() {}
fn unwind_safe<T: UnwindSafe + RefUnwindSafe + ?Sized>() {}

#[test]
fn auto_traits_match_std() {
    use instrumented_sync::RaceCell;
    use instrumented_sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
    send::<AtomicUsize>();
    sync::<AtomicUsize>();
    sync::<AtomicU64>();
    sync::<AtomicBool>();
    unwind_safe::<AtomicBool>();
    unwind_safe::<AtomicUsize>();
    // Like std's, for any pointee.
    send::<AtomicPtr<Cell<u8>>>();
    sync::<AtomicPtr<Cell<u8>>>();
    // Sync whenever the value is Send (like a Mutex).
    send::<RaceCell<Cell<u8>>>();
    sync::<RaceCell<Cell<u8>>>();
    sync::<RaceCell<Vec<u8>>>();
}
