//! `std::sync::mpsc` with recorded sends and receives and deadlock detection.
//!
//! Every message is numbered per channel: the sender records `Send { seq }`
//! before the message becomes visible and the receiver `Recv { seq }`, so the
//! analyzer orders each send before its receive. Blocking `recv` and `send` on
//! a full [`sync_channel`] are untimed waits the watchdog knows of; the
//! `_timeout` and `try_` forms never count as deadlocked. Errors are std's.
//!
//! A disconnection synchronises as in std, where the handle counts are
//! acquire-release: each sender's drop records a `Send` (receiving the
//! previous drop's, as std's count decrement does) and the receiver that sees
//! every sender gone records the `Recv` of the last one. The other way, the
//! receiver's drop records one `Send` per live sender handle, and each thread
//! whose send then fails records the `Recv` of one of them (the first time;
//! more failing threads than handles at the drop get none).
//!
//! ```
//! use instrumented_sync::{mpsc, thread};
//!
//! let (tx, rx) = mpsc::sync_channel(1);
//! let h = thread::spawn(move || for i in 0..3 { tx.send(i).unwrap() });
//! assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
//! h.join().unwrap();
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::panic::Location;
use std::sync::{Arc, Condvar as StdCondvar, Mutex as StdMutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
use sync_trace::{ObjectKind, Op, SiteId, ThreadId};

use crate::recorder::{self, ObjectMeta, record_at};
use crate::waitfor::{self, Resource, Wakers};

struct Chan<T> {
    meta: ObjectMeta,
    state: StdMutex<State<T>>,
    /// Signalled when a message arrives or the last sender leaves.
    arrived: StdCondvar,
    /// Signalled when a message is taken or the receiver leaves.
    taken: StdCondvar,
    /// `None`: unbounded; `Some(0)`: rendezvous.
    bound: Option<usize>,
}

struct State<T> {
    queue: VecDeque<(T, u64)>,
    senders: usize,
    receiver: bool,
    /// Sequence numbers handed out so far (messages and disconnections share them).
    sent: u64,
    /// The `seq` of the last message received (messages leave in `seq` order).
    last_received: u64,
    /// Receivers blocked in `recv` (a rendezvous `try_send` needs one).
    receiving: usize,
    /// The `seq` of the latest sender drop, not yet received by the receiver.
    senders_left: Option<u64>,
    /// `seq`s of the receiver's drop not yet received by a failing sender.
    receiver_left: Vec<u64>,
    /// Threads that received one of `receiver_left` (once per thread is enough).
    saw_receiver_left: Vec<ThreadId>,
}

impl<T> Chan<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Plain data, never left inconsistent by a panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(
        &self,
        cv: &StdCondvar,
        state: MutexGuard<'a, State<T>>,
        dur: Duration,
    ) -> MutexGuard<'a, State<T>> {
        cv.wait_timeout(state, dur)
            .unwrap_or_else(PoisonError::into_inner)
            .0
    }

    /// Registers a wait with the detector; call with the state lock held.
    fn register(&self, site: SiteId) -> waitfor::WaitGuard<'_> {
        waitfor::block_on(
            Resource {
                kind: ObjectKind::Channel,
                label: self.meta.label(),
                // Called with the state lock held, having found the wait
                // must happen: any send, receive or disconnection from now
                // on moves the counter.
                wakers: Wakers::progress(self.meta.progress()),
                wakeable: true,
            },
            site,
        )
    }

    /// Whether a sender must wait before queueing.
    fn full(&self, s: &State<T>) -> bool {
        match self.bound {
            None => false,
            Some(0) => !s.queue.is_empty(),
            Some(n) => s.queue.len() >= n,
        }
    }

    fn push(&self, s: &mut State<T>, t: T, site: SiteId) -> u64 {
        let seq = self.record_send(s, site);
        s.queue.push_back((t, seq));
        self.meta.advance();
        self.arrived.notify_one();
        seq
    }

    /// Numbers and records a send-like event (a message or a disconnection).
    fn record_send(&self, s: &mut State<T>, site: SiteId) -> u64 {
        s.sent += 1;
        let seq = s.sent;
        record_at(
            Op::Send {
                channel: self.meta.id(),
                seq,
            },
            site,
        );
        seq
    }

    fn record_recv(&self, seq: u64, site: SiteId) {
        record_at(
            Op::Recv {
                channel: self.meta.id(),
                seq,
            },
            site,
        );
    }

    /// A sender handle leaves: its drop is ordered after the previous drops
    /// and before the receiver's sight of the disconnection. Call with the state lock held.
    fn sender_leaves(&self, s: &mut State<T>, site: SiteId) {
        // Nobody can observe the disconnection once the receiver is gone.
        if !s.receiver || !recorder::enabled() {
            return;
        }
        if let Some(previous) = s.senders_left.take() {
            self.record_recv(previous, site);
        }
        s.senders_left = Some(self.record_send(s, site));
    }

    /// The receiver found every sender gone (its `Err`): it receives their drops.
    fn saw_senders_gone(&self, s: &mut State<T>, site: SiteId) {
        if let Some(seq) = s.senders_left.take() {
            self.record_recv(seq, site);
        }
    }

    /// The receiver leaves: one send-like event per sender handle alive now.
    fn receiver_leaves(&self, s: &mut State<T>, site: SiteId) {
        if !recorder::enabled() {
            return;
        }
        for _ in 0..s.senders {
            let seq = self.record_send(s, site);
            s.receiver_left.push(seq);
        }
    }

    /// A send failed because the receiver is gone: this thread receives the drop, once.
    fn saw_receiver_gone(&self, s: &mut State<T>, site: SiteId) {
        if s.receiver_left.is_empty() {
            return;
        }
        let me = recorder::this_thread();
        if s.saw_receiver_left.contains(&me) {
            return;
        }
        if let Some(seq) = s.receiver_left.pop() {
            self.record_recv(seq, site);
            s.saw_receiver_left.push(me);
        }
    }

    fn pop(&self, s: &mut State<T>, site: SiteId) -> Option<T> {
        let (t, seq) = s.queue.pop_front()?;
        s.last_received = seq;
        self.record_recv(seq, site);
        self.meta.advance();
        self.taken.notify_all();
        Some(t)
    }

    /// Blocking send (waits while full; a rendezvous also waits until taken).
    fn send(&self, t: T, site: SiteId) -> Result<(), SendError<T>> {
        waitfor::touch();
        let mut s = self.lock();
        let mut wait = None;
        while s.receiver && self.full(&s) {
            if wait.is_none() {
                wait = Some(self.register(site));
                continue;
            }
            s = self.wait(&self.taken, s, waitfor::SLICE);
            if let Some(w) = &wait {
                if s.receiver && self.full(&s) {
                    w.rearm();
                }
                drop(s);
                w.check();
                s = self.lock();
            }
        }
        if !s.receiver {
            self.saw_receiver_gone(&mut s, site);
            return Err(SendError(t));
        }
        let seq = self.push(&mut s, t, site);
        if self.bound == Some(0) {
            while s.last_received < seq && s.receiver {
                if wait.is_none() {
                    wait = Some(self.register(site));
                    continue;
                }
                s = self.wait(&self.taken, s, waitfor::SLICE);
                if let Some(w) = &wait {
                    if s.last_received < seq && s.receiver {
                        w.rearm();
                    }
                    drop(s);
                    w.check();
                    s = self.lock();
                }
            }
            if s.last_received < seq
                && let Some(i) = s.queue.iter().position(|m| m.1 == seq)
                && let Some((t, _)) = s.queue.remove(i)
            {
                self.saw_receiver_gone(&mut s, site);
                return Err(SendError(t));
            }
        }
        Ok(())
    }

    fn recv_until(&self, deadline: Option<Instant>, site: SiteId) -> Result<T, RecvTimeoutError> {
        let mut s = self.lock();
        let mut wait = None;
        loop {
            if let Some(t) = self.pop(&mut s, site) {
                return Ok(t);
            }
            if s.senders == 0 {
                self.saw_senders_gone(&mut s, site);
                return Err(RecvTimeoutError::Disconnected);
            }
            let slice = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return Err(RecvTimeoutError::Timeout),
                },
                None => {
                    if wait.is_none() {
                        wait = Some(self.register(site));
                        continue;
                    }
                    waitfor::SLICE
                }
            };
            s.receiving += 1;
            s = self.wait(&self.arrived, s, slice);
            s.receiving -= 1;
            if let Some(w) = &wait
                && s.queue.is_empty()
            {
                if s.senders > 0 {
                    w.rearm();
                }
                drop(s);
                w.check();
                s = self.lock();
            }
        }
    }
}

/// The sending half of a [`channel`]; cloneable.
pub struct Sender<T> {
    chan: Arc<Chan<T>>,
    /// Where this handle was made (its drop has no caller location).
    site: SiteId,
}

/// The sending half of a [`sync_channel`]; cloneable.
pub struct SyncSender<T> {
    chan: Arc<Chan<T>>,
    /// Where this handle was made (its drop has no caller location).
    site: SiteId,
}

/// The receiving half of a channel.
pub struct Receiver<T> {
    chan: Arc<Chan<T>>,
    /// Where the channel was made (the drop has no caller location).
    site: SiteId,
}

#[track_caller]
fn new_chan<T>(bound: Option<usize>) -> Arc<Chan<T>> {
    Arc::new(Chan {
        meta: ObjectMeta::new(ObjectKind::Channel),
        state: StdMutex::new(State {
            queue: VecDeque::new(),
            senders: 1,
            receiver: true,
            sent: 0,
            last_received: 0,
            receiving: 0,
            senders_left: None,
            receiver_left: Vec::new(),
            saw_receiver_left: Vec::new(),
        }),
        arrived: StdCondvar::new(),
        taken: StdCondvar::new(),
        bound,
    })
}

/// An unbounded channel, like `std::sync::mpsc::channel`.
#[track_caller]
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = new_chan(None);
    let site = recorder::site(Location::caller());
    (
        Sender {
            chan: Arc::clone(&chan),
            site,
        },
        Receiver { chan, site },
    )
}

/// A channel holding at most `bound` messages (0: every send waits for its
/// receive), like `std::sync::mpsc::sync_channel`.
#[track_caller]
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = new_chan(Some(bound));
    let site = recorder::site(Location::caller());
    (
        SyncSender {
            chan: Arc::clone(&chan),
            site,
        },
        Receiver { chan, site },
    )
}

impl<T> Sender<T> {
    /// Sends without blocking.
    ///
    /// # Errors
    /// The message back, if the receiver is gone.
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.chan.send(t, recorder::site(Location::caller()))
    }
}

impl<T> SyncSender<T> {
    /// Sends, waiting while the channel is full (for a rendezvous channel: until received).
    ///
    /// # Errors
    /// The message back, if the receiver is gone.
    #[track_caller]
    pub fn send(&self, t: T) -> Result<(), SendError<T>> {
        self.chan.send(t, recorder::site(Location::caller()))
    }

    /// Sends if there is room now (for a rendezvous channel: a receiver waiting).
    ///
    /// # Errors
    /// `Full` or `Disconnected`, with the message.
    #[track_caller]
    pub fn try_send(&self, t: T) -> Result<(), TrySendError<T>> {
        let site = recorder::site(Location::caller());
        let mut s = self.chan.lock();
        if !s.receiver {
            self.chan.saw_receiver_gone(&mut s, site);
            return Err(TrySendError::Disconnected(t));
        }
        let room = match self.chan.bound {
            Some(0) => s.queue.is_empty() && s.receiving > 0,
            _ => !self.chan.full(&s),
        };
        if !room {
            return Err(TrySendError::Full(t));
        }
        self.chan.push(&mut s, t, site);
        Ok(())
    }
}

impl<T> Receiver<T> {
    /// Waits for a message.
    ///
    /// # Errors
    /// When the channel is empty and every sender is gone.
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan
            .recv_until(None, recorder::site(Location::caller()))
            .map_err(|_| RecvError)
    }

    /// Takes a message if one is queued.
    ///
    /// # Errors
    /// `Empty`, or `Disconnected` when every sender is gone.
    #[track_caller]
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let site = recorder::site(Location::caller());
        let mut s = self.chan.lock();
        match self.chan.pop(&mut s, site) {
            Some(t) => Ok(t),
            None if s.senders == 0 => {
                self.chan.saw_senders_gone(&mut s, site);
                Err(TryRecvError::Disconnected)
            }
            None => Err(TryRecvError::Empty),
        }
    }

    /// Waits for a message at most `timeout` (a timed wait: never a deadlock).
    ///
    /// # Errors
    /// `Timeout`, or `Disconnected` when every sender is gone.
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.chan.recv_until(
            Some(Instant::now() + timeout),
            recorder::site(Location::caller()),
        )
    }

    /// Iterates over messages until every sender is gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Iterates over the messages queued now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

/// Blocking iterator over a [`Receiver`]'s messages.
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Non-blocking iterator over a [`Receiver`]'s queued messages.
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Owning blocking iterator over a [`Receiver`]'s messages.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

macro_rules! sender_impls {
    ($ty:ident) => {
        impl<T> Clone for $ty<T> {
            #[track_caller]
            fn clone(&self) -> $ty<T> {
                let site = recorder::site(Location::caller());
                self.chan.lock().senders += 1;
                $ty {
                    chan: Arc::clone(&self.chan),
                    site,
                }
            }
        }

        impl<T> Drop for $ty<T> {
            fn drop(&mut self) {
                let mut s = self.chan.lock();
                self.chan.sender_leaves(&mut s, self.site);
                s.senders -= 1;
                if s.senders == 0 {
                    self.chan.meta.advance();
                    self.chan.arrived.notify_all();
                }
            }
        }

        impl<T> fmt::Debug for $ty<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty)).finish_non_exhaustive()
            }
        }
    };
}

sender_impls!(Sender);
sender_impls!(SyncSender);

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let mut s = self.chan.lock();
        s.receiver = false;
        self.chan.receiver_leaves(&mut s, self.site);
        // Under the state lock, like every other move of the counter.
        self.chan.meta.advance();
        drop(s);
        self.chan.taken.notify_all();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}
