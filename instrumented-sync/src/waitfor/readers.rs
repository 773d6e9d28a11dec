//! Which reader-writer locks each thread holds for reading.
//!
//! A lock names its exclusive holder in one word ([`super::HolderWord`]), but
//! readers are many. So, as lockdep keeps held locks per task, each thread
//! lists its own read holds in a small fixed table: taking or releasing a read
//! hold stores into the thread's own table only (no shared cache line, no
//! allocation), and the detector reads every thread's table under the
//! registry lock when a writer waits.
//!
//! The stores are relaxed: the detector trusts only the tables of threads
//! blocked in a registered wait, whose registration (under the registry lock)
//! orders every earlier store before the detector's reads. A running thread's
//! table may be stale, but a running thread is never part of a deadlock.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use sync_trace::SiteId;

/// Read holds tracked per thread; more at once are counted, not named.
const SLOTS: usize = 8;

/// One thread's read holds: lock keys (0 = free slot) and acquisition sites.
#[derive(Debug, Default)]
pub(crate) struct ReadHolds {
    locks: [AtomicUsize; SLOTS],
    sites: [AtomicU32; SLOTS],
    /// Holds that found no free slot: the table is then incomplete.
    overflow: AtomicU32,
}

impl ReadHolds {
    /// The owning thread took the lock `key` for reading at `site`.
    #[inline]
    pub(crate) fn enter(&self, key: usize, site: SiteId) {
        for (lock, s) in self.locks.iter().zip(&self.sites) {
            if lock.load(Ordering::Relaxed) == 0 {
                s.store(site.0, Ordering::Relaxed);
                lock.store(key, Ordering::Relaxed);
                return;
            }
        }
        // Only the owner writes: a load and a store, no read-modify-write.
        let n = self.overflow.load(Ordering::Relaxed);
        self.overflow.store(n.saturating_add(1), Ordering::Relaxed);
    }

    /// The owning thread released one read hold of `key`.
    #[inline]
    pub(crate) fn exit(&self, key: usize) {
        // The latest hold first: nested reads release innermost first.
        for lock in self.locks.iter().rev() {
            if lock.load(Ordering::Relaxed) == key {
                lock.store(0, Ordering::Relaxed);
                return;
            }
        }
        let n = self.overflow.load(Ordering::Relaxed);
        self.overflow.store(n.saturating_sub(1), Ordering::Relaxed);
    }

    /// The site of one read hold of `key`, if this table names one.
    pub(crate) fn holds(&self, key: usize) -> Option<SiteId> {
        self.locks
            .iter()
            .zip(&self.sites)
            .find(|(l, _)| l.load(Ordering::Relaxed) == key)
            .map(|(_, s)| SiteId(s.load(Ordering::Relaxed)))
    }

    /// Whether some read holds are not named in the table.
    pub(crate) fn incomplete(&self) -> bool {
        self.overflow.load(Ordering::Relaxed) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_reads_are_listed_until_their_last_release() {
        let t = ReadHolds::default();
        t.enter(10, SiteId(1));
        t.enter(20, SiteId(2));
        t.enter(10, SiteId(3));
        assert_eq!(t.holds(20), Some(SiteId(2)));
        t.exit(10);
        assert!(t.holds(10).is_some(), "one read of lock 10 is still held");
        t.exit(10);
        assert_eq!(t.holds(10), None);
        t.exit(20);
        assert_eq!(t.holds(20), None);
        assert!(!t.incomplete());
    }

    #[test]
    fn holds_past_the_table_make_it_incomplete_until_released() {
        let t = ReadHolds::default();
        for k in 1..=SLOTS + 2 {
            t.enter(k, SiteId(0));
        }
        assert!(t.incomplete());
        assert_eq!(t.holds(SLOTS + 1), None, "not named: counted only");
        // Releases of unnamed holds bring the count back.
        t.exit(SLOTS + 2);
        t.exit(SLOTS + 1);
        assert!(!t.incomplete());
        for k in 1..=SLOTS {
            t.exit(k);
            assert_eq!(t.holds(k), None);
        }
    }
}
