//! The scan's progress line on a terminal's stderr.
//!
//! The work runs on a scoped thread; the calling thread, which owns the [`Io`] writers, draws
//! the line through the same `stderr` every other message goes through. No other thread ever
//! writes to the terminal, so nothing can wait on a lock the caller holds (a progress bar on
//! its own thread, drawing to the process's stderr while the caller held its lock, hung every
//! scan in a terminal).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::Io;
use crate::model::human_bytes;

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(100);
/// Nothing is drawn for work that ends sooner than this (no flicker on small inputs).
const QUIET_START: Duration = Duration::from_millis(250);

const SPINNER: [char; 4] = ['|', '/', '-', '\\'];

/// Run `work` on a scoped thread; while it runs, and when `show` is true, redraw a progress
/// line on `io.stderr` from `counter` (bytes done of `total`), and clear it at the end.
pub(super) fn with_progress<T: Send>(
    io: &mut Io<'_>,
    show: bool,
    total: u64,
    counter: &AtomicU64,
    work: impl FnOnce() -> T + Send,
) -> T {
    std::thread::scope(|s| {
        let handle = s.spawn(work);
        if show {
            let started = Instant::now();
            let mut drawn = false;
            let mut tick = 0usize;
            let mut last_draw: Option<Instant> = None;
            let width = super::width(io, None);
            while !handle.is_finished() {
                std::thread::sleep(Duration::from_millis(20));
                let now = Instant::now();
                if now.duration_since(started) < QUIET_START
                    || last_draw.is_some_and(|t| now.duration_since(t) < REDRAW)
                    || handle.is_finished()
                {
                    continue;
                }
                let done = counter.load(Ordering::Relaxed).min(total);
                let text = line(done, total, now.duration_since(started), width, tick);
                // A terminal that went away must not stop the scan: drawing is best effort.
                let _ = write!(io.stderr, "\r{text}\x1b[K");
                let _ = io.stderr.flush();
                drawn = true;
                tick += 1;
                last_draw = Some(now);
            }
            if drawn {
                let _ = write!(io.stderr, "\r\x1b[K");
                let _ = io.stderr.flush();
            }
        }
        match handle.join() {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// One progress line, at most `width - 1` columns (a line that fills the last column makes
/// some terminals wrap, and `\r` then redraws on the next row).
pub(super) fn line(done: u64, total: u64, elapsed: Duration, width: usize, tick: usize) -> String {
    let spin = SPINNER[tick % SPINNER.len()];
    let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let eta = if done == 0 || done >= total {
        String::new()
    } else {
        let left = (total - done) as f64 / rate.max(1.0);
        format!(" eta {}", short_duration(left))
    };
    let tail = format!(
        " {}/{} {}/s{eta}",
        human_bytes(as_usize(done)),
        human_bytes(as_usize(total)),
        human_bytes(rate as usize),
    );
    let head = format!("{spin} scanning ");
    let room = width.saturating_sub(1);
    let bar_width = room.saturating_sub(head.len() + tail.len() + 2).min(30);
    let text = if bar_width >= 5 {
        let filled = done
            .saturating_mul(bar_width as u64)
            .checked_div(total)
            .map_or(bar_width, as_usize)
            .min(bar_width);
        format!(
            "{head}[{}{}]{tail}",
            "#".repeat(filled),
            "-".repeat(bar_width - filled)
        )
    } else {
        format!("{head}{}", tail.trim_start())
    };
    text.chars().take(room).collect()
}

fn short_duration(secs: f64) -> String {
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_fits_the_width_and_shows_the_counts() {
        let l = line(512 * 1024, 2 * 1024 * 1024, Duration::from_secs(1), 80, 0);
        assert!(l.chars().count() < 80, "{l}");
        assert!(
            l.contains("512.0 KiB/2.0 MiB") && l.contains("eta 3s"),
            "{l}"
        );
        assert!(l.contains("[#######-"), "{l}");
        let narrow = line(1, 10, Duration::from_secs(1), 40, 1);
        assert!(narrow.chars().count() < 40, "{narrow}");
    }

    #[test]
    fn with_progress_returns_the_work_and_draws_only_through_io() {
        let mut err = Vec::new();
        let mut io = Io {
            stdin: Box::new(std::io::empty()),
            stdout: Box::new(std::io::sink()),
            stderr: Box::new(&mut err),
            stdin_is_terminal: false,
            stdout_is_terminal: false,
            stderr_is_terminal: true,
            env: Box::new(|_| None),
            terminal_width: None,
        };
        let counter = AtomicU64::new(0);
        let got = with_progress(&mut io, true, 100, &counter, || {
            for i in 1..=10 {
                counter.store(i * 10, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(60));
            }
            42
        });
        drop(io);
        assert_eq!(got, 42);
        let err = String::from_utf8(err).unwrap();
        assert!(err.contains("scanning"), "{err:?}");
        assert!(err.ends_with("\r\x1b[K"), "the line is cleared: {err:?}");
    }
}
