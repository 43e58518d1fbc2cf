//! The connector's shutdown signal: what `disconnect` fires at its deadline to end the calls still in
//! flight, and what every call races its attempts against.
//!
//! Every call looks at it, so its common case touches no shared lock: whether it fired is an atomic
//! load, and a call that must wait registers on one of a few wait lists, picked per thread, instead
//! of one list all calls share. (A `CancellationToken` locks its node for each look and its waiters'
//! list for each registration; at concurrency 64 on two cores, those locks were shared by every call.)
//!
//! Epochs stand in for the token `connect` used to replace: each `connect` opens a new epoch, a call
//! remembers the epoch it began in, and `fire` ends every call of the current epoch and earlier ones.
//! A call that began before a disconnect stays cancelled after a later connect.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

/// Wait lists: a few, so the two or more worker threads of a busy runtime rarely share one.
const LISTS: usize = 8;

pub(crate) struct Halt {
    /// The current epoch: 1 at first, one more at each [`Halt::reopen`].
    opened: AtomicU64,
    /// The last epoch fired (0: none).
    fired: AtomicU64,
    lists: [Notify; LISTS],
}

impl Default for Halt {
    fn default() -> Self {
        Halt {
            opened: AtomicU64::new(1),
            fired: AtomicU64::new(0),
            lists: std::array::from_fn(|_| Notify::new()),
        }
    }
}

impl Halt {
    /// The epoch a call beginning now belongs to.
    pub(crate) fn epoch(&self) -> u64 {
        self.opened.load(Ordering::SeqCst)
    }

    /// Whether calls of `epoch` are to end.
    pub(crate) fn has_fired(&self, epoch: u64) -> bool {
        self.fired.load(Ordering::SeqCst) >= epoch
    }

    /// A new epoch, for the calls after a `connect`.
    pub(crate) fn reopen(&self) {
        self.opened.fetch_add(1, Ordering::SeqCst);
    }

    /// End the calls of the current epoch and of every earlier one: those waiting are woken, later
    /// looks see it.
    pub(crate) fn fire(&self) {
        self.fired
            .fetch_max(self.opened.load(Ordering::SeqCst), Ordering::SeqCst);
        for list in &self.lists {
            list.notify_waiters();
        }
    }

    /// What a call races its attempts against: resolves once calls of `epoch` are to end.
    ///
    /// Made for being polled at every wake-up of a call that is not ending: it registers with its
    /// wait list on the first poll and again only when polled with another waker; every other poll
    /// is one atomic load. (A `Notified` polled while waiting locks its list, and a call is woken
    /// several times per exchange.)
    pub(crate) fn watch(&self, epoch: u64) -> Watch<'_> {
        Watch {
            halt: self,
            epoch,
            waker: None,
            notified: self.lists[list_of_this_thread()].notified(),
        }
    }
}

pin_project_lite::pin_project! {
    /// See [`Halt::watch`].
    pub(crate) struct Watch<'a> {
        halt: &'a Halt,
        epoch: u64,
        // The waker `notified` holds, once registered.
        waker: Option<Waker>,
        #[pin]
        notified: Notified<'a>,
    }
}

impl Future for Watch<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            // Registered with this very waker: a `fire` wakes it after setting what this reads.
            return if this.halt.has_fired(*this.epoch) {
                Poll::Ready(())
            } else {
                Poll::Pending
            };
        }
        loop {
            // Registered (or its waker replaced) before looking, so a `fire` after the look wakes
            // this waker, and one before it is seen by the look (both go through the list's lock).
            let notified = this.notified.as_mut().poll(cx);
            if this.halt.has_fired(*this.epoch) {
                return Poll::Ready(());
            }
            if notified.is_pending() {
                *this.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            // Woken without a fire of this epoch (not something `fire` does): wait again.
            let list = &this.halt.lists[list_of_this_thread()];
            this.notified.set(list.notified());
        }
    }
}

/// The wait list of the current thread: threads are dealt lists in turn, once each.
fn list_of_this_thread() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static LIST: Cell<Option<usize>> = const { Cell::new(None) };
    }
    LIST.with(|l| match l.get() {
        Some(i) => i,
        None => {
            let i = NEXT.fetch_add(1, Ordering::Relaxed) % LISTS;
            l.set(Some(i));
            i
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    /// One poll, as a runtime would make it first.
    fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// A waker that counts its wake-ups.
    struct Counting(std::sync::atomic::AtomicUsize);

    impl std::task::Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Counting>, Waker) {
        let c = Arc::new(Counting(AtomicUsize::new(0)));
        (c.clone(), Waker::from(c))
    }

    #[test]
    fn a_watch_wakes_the_waker_it_was_last_polled_with_and_ends_with_its_epoch() {
        let halt = Halt::default();
        let epoch = halt.epoch();
        let (first, first_waker) = counting();
        let (second, second_waker) = counting();
        let mut watch = std::pin::pin!(halt.watch(epoch));
        let mut poll = |w: &Waker| watch.as_mut().poll(&mut Context::from_waker(w));
        assert!(poll(&first_waker).is_pending());
        assert!(poll(&first_waker).is_pending());
        // Polled by another waker (the call moved to another task): that one is woken, not the first.
        assert!(poll(&second_waker).is_pending());
        halt.fire();
        assert_eq!(second.0.load(Ordering::SeqCst), 1);
        assert_eq!(first.0.load(Ordering::SeqCst), 0);
        assert!(poll(&second_waker).is_ready());

        // A watch of a fired epoch ends at once; one of the next epoch waits for its own fire.
        assert!(poll_once(std::pin::pin!(halt.watch(epoch))).is_ready());
        halt.reopen();
        let (third, third_waker) = counting();
        let mut next = std::pin::pin!(halt.watch(halt.epoch()));
        let mut poll = |w: &Waker| next.as_mut().poll(&mut Context::from_waker(w));
        assert!(poll(&third_waker).is_pending());
        assert!(poll(&third_waker).is_pending());
        assert_eq!(third.0.load(Ordering::SeqCst), 0);
        halt.fire();
        assert_eq!(third.0.load(Ordering::SeqCst), 1);
        assert!(poll(&third_waker).is_ready());
    }

    #[tokio::test]
    async fn fire_wakes_waiters_of_its_epoch_and_earlier_only() {
        let halt = Arc::new(Halt::default());
        let first = halt.epoch();
        assert!(!halt.has_fired(first));
        // Waiters on several threads, so several lists.
        let mut waiting = Vec::new();
        for _ in 0..LISTS + 2 {
            let h = halt.clone();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let t = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap()
                    .block_on(async {
                        let wait = h.watch(first);
                        tokio::pin!(wait);
                        // Registered (polled once) before saying so.
                        assert!(poll_once(wait.as_mut()).is_pending());
                        tx.send(()).unwrap();
                        wait.await;
                    })
            });
            rx.await.unwrap();
            waiting.push(t);
        }
        halt.fire();
        for t in waiting {
            t.join().unwrap();
        }
        assert!(halt.has_fired(first));

        // A new epoch is not fired by the old one's firing; the old one stays fired.
        halt.reopen();
        let second = halt.epoch();
        assert!(second > first);
        assert!(!halt.has_fired(second));
        assert!(halt.has_fired(first));
        let wait = halt.watch(second);
        tokio::pin!(wait);
        assert!(poll_once(wait.as_mut()).is_pending());
        // An already fired epoch resolves at once.
        halt.watch(first).await;
        halt.fire();
        wait.await;
        assert!(halt.has_fired(second));
    }
}
