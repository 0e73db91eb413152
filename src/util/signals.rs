//! SIGINT and SIGTERM as step boundaries: caught, recorded, and acted on between steps.

/// SIGINT or SIGTERM, received by a run that catches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl Interrupted {
    /// The exit code a shell gives a process this signal ended: 128 + its number.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(1)
    }

    /// `SIGINT` or `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self.0 {
            signal_hook::consts::SIGINT => "SIGINT",
            signal_hook::consts::SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "interrupted by {}", self.name())
    }
}

impl std::error::Error for Interrupted {}

/// The signal received, 0 for none.
static SIGNAL: std::sync::OnceLock<std::sync::Arc<std::sync::atomic::AtomicUsize>> =
    std::sync::OnceLock::new();

/// From now on SIGINT and SIGTERM do not kill the process: they are recorded, and the run stops
/// at the next step boundary ([`check_interrupt`]), killing a running hook. A second signal
/// ends the process at once (its lock is then taken over by the next run). Called once the
/// writes are about to start: before, the default (dying at once) loses nothing.
pub fn catch_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::atomic::{AtomicBool, AtomicUsize};
    use std::sync::Arc;
    let mut fresh = false;
    let flag = SIGNAL.get_or_init(|| {
        fresh = true;
        Arc::new(AtomicUsize::new(0))
    });
    if !fresh {
        return;
    }
    let seen = Arc::new(AtomicBool::new(false));
    for sig in [SIGINT, SIGTERM] {
        // The order matters: the shutdown check must see the flag of an earlier signal only.
        let code = 128 + sig;
        let registered = signal_hook::flag::register_conditional_shutdown(sig, code, seen.clone())
            .and_then(|_| signal_hook::flag::register(sig, seen.clone()))
            .and_then(|_| {
                signal_hook::flag::register_usize(
                    sig,
                    flag.clone(),
                    usize::try_from(sig).unwrap_or(0),
                )
            });
        if let Err(e) = registered {
            tracing::warn!("cannot catch signal {sig}: {e}; it ends release at once");
        }
    }
}

/// Whether [`catch_signals`] was called: SIGINT and SIGTERM no longer end the process.
pub fn catching_signals() -> bool {
    SIGNAL.get().is_some()
}

/// The signal received since [`catch_signals`], if any.
pub fn interrupted() -> Option<Interrupted> {
    let sig = SIGNAL.get()?.load(std::sync::atomic::Ordering::SeqCst);
    (sig != 0).then(|| Interrupted(i32::try_from(sig).unwrap_or(0)))
}

/// A step boundary: an error when a signal asked the run to stop.
pub fn check_interrupt() -> Result<(), Interrupted> {
    interrupted().map_or(Ok(()), Err)
}
