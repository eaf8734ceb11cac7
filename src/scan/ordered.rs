//! Work on many items on every core, with each result handed on in the items' order as soon as
//! the ones before it are done.
//!
//! - **In**: a slice of items, a function run on each (on worker threads), a sink run on each
//!   result, in item order, one call at a time.
//! - **Out**: nothing but what the sink does.
//! - **Never**: hold more than `window` results at once (a worker waits while it is that far
//!   ahead of the sink), or hang when a worker panics (the others stop, the panic is raised
//!   again on the calling thread).
//!
//! A scan of a hundred thousand small files used to collect every file's result before folding
//! any of them: memory grew with the number of files. Folded as they come, it stays flat.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

/// Run `f` on every item on `workers` threads (the calling one among them) and call `sink`
/// with each result in item order. At most `window` results are computed ahead of the sink.
/// The sink runs on whichever worker completes the run of results it waits for, one at a time.
pub(super) fn map_in_order<T, R>(
    items: &[T],
    workers: usize,
    window: usize,
    f: impl Fn(&T) -> R + Sync,
    sink: impl FnMut(R) + Send,
) where
    T: Sync,
    R: Send,
{
    let workers = workers.clamp(1, items.len().max(1));
    let window = window.max(workers);
    if workers == 1 {
        items.iter().map(&f).for_each(sink);
        return;
    }
    let run = Run {
        items,
        window,
        f: &f,
        next: AtomicUsize::new(0),
        folded: AtomicUsize::new(0),
        waiters: AtomicUsize::new(0),
        bell: Mutex::new(()),
        moved: Condvar::new(),
        stop: AtomicBool::new(false),
        fold: Mutex::new(Fold {
            waiting: BTreeMap::new(),
            want: 0,
            sink,
        }),
    };
    std::thread::scope(|scope| {
        for _ in 1..workers {
            scope.spawn(|| run.work());
        }
        run.work();
    });
}

/// What the workers share.
struct Run<'a, T, R, F, S> {
    items: &'a [T],
    window: usize,
    f: &'a F,
    /// The next item to take.
    next: AtomicUsize,
    /// How many results the sink has taken.
    folded: AtomicUsize,
    /// Workers too far ahead wait on `moved`, counted, under `bell`; the bell is rung only
    /// when one waits, so most items pass without a lock or a system call.
    waiters: AtomicUsize,
    bell: Mutex<()>,
    moved: Condvar,
    /// Set when a worker panics: the others stop instead of waiting for its result.
    stop: AtomicBool,
    fold: Mutex<Fold<R, S>>,
}

/// Results done ahead of their turn, and the sink.
struct Fold<R, S> {
    waiting: BTreeMap<usize, R>,
    want: usize,
    sink: S,
}

impl<T, R, F, S> Run<'_, T, R, F, S>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
    S: FnMut(R) + Send,
{
    fn work(&self) {
        let _guard = StopOnPanic {
            stop: &self.stop,
            bell: &self.bell,
            moved: &self.moved,
        };
        loop {
            let i = self.next.fetch_add(1, Ordering::SeqCst);
            if i >= self.items.len() || self.stop.load(Ordering::SeqCst) {
                return;
            }
            let too_far = || {
                i >= self.folded.load(Ordering::SeqCst) + self.window
                    && !self.stop.load(Ordering::SeqCst)
            };
            if too_far() {
                let mut held = self.bell.lock().unwrap_or_else(|e| e.into_inner());
                self.waiters.fetch_add(1, Ordering::SeqCst);
                while too_far() {
                    held = self.moved.wait(held).unwrap_or_else(|e| e.into_inner());
                }
                self.waiters.fetch_sub(1, Ordering::SeqCst);
            }
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            let r = (self.f)(&self.items[i]);
            let mut fold = self.fold.lock().unwrap_or_else(|e| e.into_inner());
            let fold = &mut *fold;
            fold.waiting.insert(i, r);
            while let Some(r) = fold.waiting.remove(&fold.want) {
                (fold.sink)(r);
                fold.want += 1;
            }
            self.folded.store(fold.want, Ordering::SeqCst);
            // A waiter counted itself under the bell's lock before it last looked at `folded`:
            // taking that lock here means it is asleep on the bell, or will see the new count.
            if self.waiters.load(Ordering::SeqCst) > 0 {
                let _held = self.bell.lock().unwrap_or_else(|e| e.into_inner());
                self.moved.notify_all();
            }
        }
    }
}

struct StopOnPanic<'a> {
    stop: &'a AtomicBool,
    bell: &'a Mutex<()>,
    moved: &'a Condvar,
}

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.store(true, Ordering::SeqCst);
            let _held = self.bell.lock().unwrap_or_else(|e| e.into_inner());
            self.moved.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn results_come_in_item_order_whatever_order_they_finish_in() {
        let items: Vec<u64> = (0..500).collect();
        let mut out = Vec::new();
        // Early items are slow: later ones finish first and must wait their turn.
        map_in_order(
            &items,
            4,
            16,
            |&i| {
                if i % 50 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                i * 2
            },
            |r| out.push(r),
        );
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }

    #[test]
    fn no_more_than_the_window_is_held_ahead_of_the_sink() {
        let items: Vec<usize> = (0..400).collect();
        let computed = AtomicUsize::new(0);
        let mut most_ahead = 0usize;
        let mut taken = 0usize;
        map_in_order(
            &items,
            3,
            8,
            |&i| {
                computed.fetch_add(1, Ordering::SeqCst);
                i
            },
            |_| {
                taken += 1;
                // A slow sink: the workers must wait for it rather than run ahead.
                std::thread::sleep(std::time::Duration::from_micros(200));
                let ahead = computed.load(Ordering::SeqCst) - taken;
                most_ahead = most_ahead.max(ahead);
            },
        );
        assert_eq!(taken, 400);
        // The window, plus one item each worker may have started as the bell rang.
        assert!(
            most_ahead <= 8 + 3,
            "{most_ahead} results ahead of the sink"
        );
    }

    #[test]
    fn a_panicking_worker_is_raised_again_and_nothing_hangs() {
        let items: Vec<usize> = (0..1000).collect();
        let result = std::panic::catch_unwind(|| {
            map_in_order(
                &items,
                2,
                4,
                |&i| {
                    assert!(i != 10, "item 10 cannot be done");
                    i
                },
                |_| {},
            );
        });
        assert!(result.is_err());
    }

    #[test]
    fn one_worker_or_no_items_is_a_plain_loop() {
        let mut out = Vec::new();
        map_in_order(&[1, 2, 3], 1, 1, |x| x + 1, |r| out.push(r));
        assert_eq!(out, [2, 3, 4]);
        map_in_order(&[] as &[u8], 4, 4, |x| *x, |_| panic!("no item"));
    }
}
