//! A tokio current-thread runtime that blocks the caller in short slices, so a PostgreSQL backend
//! can honour `statement_timeout` and `pg_cancel_backend` while a request is in flight.

use std::future::Future;
use std::time::Duration;

/// How long one blocking slice lasts before the caller's interrupt check runs.
pub const INTERRUPT_SLICE: Duration = Duration::from_millis(50);

/// Scheduler rounds a new request task gets to connect and write itself out.
const WRITE_OUT_YIELDS: usize = 8;

/// Lets request tasks just spawned reach their sockets before the caller's `block_on` ends: the
/// runtime runs only inside `block_on`, and once the request is written the kernel carries it
/// while the backend goes back to PostgreSQL.
pub(crate) async fn let_requests_out() {
    for _ in 0..WRITE_OUT_YIELDS {
        tokio::task::yield_now().await;
    }
}

/// Lets the requests in flight progress for a moment (write more of their bodies, read their
/// answers) without waiting for anything: a backend producing rows calls it now and then, since
/// a request body larger than the socket buffer otherwise moves on only at the next send.
pub async fn let_requests_progress() {
    let_requests_out().await;
}

pub struct Runtime {
    rt: tokio::runtime::Runtime,
}

impl Runtime {
    /// Builds the runtime. Blocking-pool threads (DNS lookups) block every signal, so PostgreSQL's
    /// handlers for SIGINT, SIGALRM, SIGUSR1 and SIGTERM always run on the backend thread.
    pub fn new() -> std::io::Result<Runtime> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .max_blocking_threads(2)
            .on_thread_start(block_all_signals)
            .build()?;
        Ok(Runtime { rt })
    }

    /// Runs `fut` to completion, calling `check_interrupts` between slices. If the check unwinds
    /// (PostgreSQL raised an ERROR for a cancel), the future is dropped and its request aborted.
    pub fn block_on<F: Future>(&self, fut: F, check_interrupts: &dyn Fn()) -> F::Output {
        let mut fut = std::pin::pin!(fut);
        loop {
            let _guard = self.rt.enter();
            match self.rt.block_on(tokio::time::timeout(INTERRUPT_SLICE, fut.as_mut())) {
                Ok(out) => return out,
                Err(_elapsed) => check_interrupts(),
            }
        }
    }
}

fn block_all_signals() {
    // SAFETY: plain libc calls on a zeroed, then filled, signal set of this thread.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn slow_futures_are_polled_in_slices_with_interrupt_checks() {
        let rt = Runtime::new().unwrap();
        let checks = Cell::new(0);
        let out = rt.block_on(
            async {
                tokio::time::sleep(Duration::from_millis(180)).await;
                7
            },
            &|| checks.set(checks.get() + 1),
        );
        assert_eq!(out, 7);
        assert!(checks.get() >= 3, "only {} interrupt checks", checks.get());
    }

    #[test]
    fn an_unwinding_interrupt_check_abandons_the_future() {
        let rt = Runtime::new().unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            rt.block_on(std::future::pending::<()>(), &|| panic!("canceling statement"))
        }));
        assert!(r.is_err());
        // The runtime is still usable afterwards.
        assert_eq!(rt.block_on(async { 1 }, &|| {}), 1);
    }
}
