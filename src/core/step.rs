//! The step model: every command that changes something (`bump`, `cut`, `image`, `deploy`) is
//! a list of steps, and [`run`] is the one loop that goes through such a list.
//!
//! A step knows its name, how to tell whether it is already done ([`Step::check`]), and how to
//! do it ([`Step::apply`]). The dry run goes through the very same list and only checks, so
//! what `--dry-run` prints is what a run does. Between steps the loop stops at a SIGINT or
//! SIGTERM, and after each kind of step it passes a fault-injection point named by
//! [`Step::boundary`]: a step cannot be added without its boundary, and a test can kill the
//! run at any of them to prove a re-run finishes the work.

use serde::Serialize;

use crate::util::signals::Interrupted;

/// What a step found or did.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    /// Would run (dry run).
    Todo,
    /// Ran now.
    Applied,
    /// Was already done; nothing to do.
    Done,
    /// Turned off by an option.
    Skipped,
}

/// A step and its outcome, as printed and returned in `--json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepReport {
    /// What the step does.
    pub name: String,
    /// What happened.
    pub state: StepState,
}

/// What [`Step::apply`] did: its state, and what it did in more detail than its name, when it
/// knows more once done (the digest an image was pushed at, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `Applied`, or `Done` when the work turned out to be done already.
    pub state: StepState,
    /// The report's name instead of [`Step::name`], when set.
    pub detail: Option<String>,
    /// The rest of the list is not this run's to do (another run released the version
    /// first): [`run`] stops after this step.
    pub stop: bool,
}

impl From<StepState> for Applied {
    fn from(state: StepState) -> Applied {
        Applied {
            state,
            detail: None,
            stop: false,
        }
    }
}

/// One step of a command, run against a context `C` (the command's state and adapters).
#[allow(async_fn_in_trait)] // used generically, never as `dyn`: no `Send` bound is needed
pub trait Step<C> {
    /// The command's error.
    type Error;

    /// The step as printed, in the dry run and in the report.
    fn name(&self, ctx: &C) -> String;

    /// The fault-injection point passed after this step, shared by the consecutive steps of
    /// one kind (every file write is `write-files`): the point is passed once the last of
    /// them ran.
    fn boundary(&self) -> &'static str;

    /// The error a signal received before this step becomes (the run stops there).
    fn stopped(&self, signal: Interrupted, ctx: &C) -> Self::Error;

    /// Whether the step changes something, so that [`run`]'s `before_write` comes first
    /// (hooks that only check do not).
    fn writes(&self) -> bool {
        true
    }

    /// Whether the step has nothing to do: `Some(Done)` when the world already shows it done,
    /// `Some(Skipped)` when an option turned it off, `None` when it has to run. Checks only:
    /// the dry run calls this alone.
    async fn check(&self, ctx: &mut C) -> Result<Option<StepState>, Self::Error>;

    /// Do it. Called only when [`Step::check`] said it has to run, and not in a dry run.
    async fn apply(&self, ctx: &mut C) -> Result<Applied, Self::Error>;
}

/// How [`run`] goes through the steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// Only check: every step that would run is reported `Todo`.
    pub dry_run: bool,
    /// A signal does not stop the list between steps (the work goes on outside the process
    /// anyway, as an ECS deployment does): the run follows it to the end.
    pub uninterruptible: bool,
}

/// Go through `steps` in order: check each, apply the ones that have to run, stop between two
/// steps at a signal, and pass each boundary's fault point. `before_write` is called once,
/// right before the first step that writes is applied (a command records there what a killed
/// run must finish).
pub async fn run<C, S: Step<C>>(
    steps: &[S],
    ctx: &mut C,
    options: RunOptions,
    mut before_write: impl FnMut(&mut C) -> Result<(), S::Error>,
) -> Result<Vec<StepReport>, S::Error> {
    let mut reports = Vec::with_capacity(steps.len());
    let mut written = false;
    for (i, step) in steps.iter().enumerate() {
        let name = step.name(ctx);
        if !options.dry_run && !options.uninterruptible {
            if let Err(signal) = crate::util::signals::check_interrupt() {
                return Err(step.stopped(signal, ctx));
            }
        }
        let applied = match step.check(ctx).await? {
            Some(state) => state.into(),
            None if options.dry_run => StepState::Todo.into(),
            None => {
                if !written && step.writes() {
                    before_write(ctx)?;
                    written = true;
                }
                step.apply(ctx).await?
            }
        };
        let Applied {
            state,
            detail,
            stop,
        } = applied;
        tracing::info!("{name}: {state:?}");
        reports.push(StepReport {
            name: detail.unwrap_or(name),
            state,
        });
        let last_of_kind = steps
            .get(i + 1)
            .is_none_or(|next| next.boundary() != step.boundary());
        if !options.dry_run && last_of_kind {
            crate::util::fault::point(step.boundary());
        }
        if stop {
            break;
        }
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A step of a test command: `done` steps are found done, the others are applied.
    struct Fake {
        name: &'static str,
        boundary: &'static str,
        done: bool,
        /// Applying it says the rest is not this run's to do.
        stops: bool,
    }

    #[derive(Debug, PartialEq)]
    struct Stopped;

    #[derive(Default)]
    struct Log {
        applied: Vec<&'static str>,
        before_write: usize,
    }

    impl Step<Log> for Fake {
        type Error = Stopped;
        fn name(&self, _: &Log) -> String {
            self.name.to_string()
        }
        fn boundary(&self) -> &'static str {
            self.boundary
        }
        fn stopped(&self, _: Interrupted, _: &Log) -> Stopped {
            Stopped
        }
        async fn check(&self, _: &mut Log) -> Result<Option<StepState>, Stopped> {
            Ok(self.done.then_some(StepState::Done))
        }
        async fn apply(&self, log: &mut Log) -> Result<Applied, Stopped> {
            log.applied.push(self.name);
            Ok(Applied {
                stop: self.stops,
                ..StepState::Applied.into()
            })
        }
    }

    /// Poll `f` to its end: these steps never wait, so no runtime is needed.
    fn block<F: std::future::Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    fn steps() -> Vec<Fake> {
        vec![
            Fake {
                name: "write a",
                boundary: "write-files",
                done: true,
                stops: false,
            },
            Fake {
                name: "write b",
                boundary: "write-files",
                done: false,
                stops: false,
            },
            Fake {
                name: "commit",
                boundary: "commit",
                done: false,
                stops: false,
            },
        ]
    }

    #[test]
    fn the_dry_run_checks_the_same_list_and_applies_nothing() {
        let mut log = Log::default();
        let dry = RunOptions {
            dry_run: true,
            ..RunOptions::default()
        };
        let reports = block(run(&steps(), &mut log, dry, |l: &mut Log| {
            l.before_write += 1;
            Ok(())
        }))
        .unwrap();
        let states: Vec<_> = reports.iter().map(|r| (r.name.as_str(), r.state)).collect();
        assert_eq!(
            states,
            [
                ("write a", StepState::Done),
                ("write b", StepState::Todo),
                ("commit", StepState::Todo)
            ]
        );
        assert!(log.applied.is_empty());
        assert_eq!(log.before_write, 0);
    }

    #[test]
    fn a_run_applies_what_is_not_done_and_prepares_once() {
        let mut log = Log::default();
        let reports = block(run(
            &steps(),
            &mut log,
            RunOptions::default(),
            |l: &mut Log| {
                l.before_write += 1;
                Ok(())
            },
        ))
        .unwrap();
        assert_eq!(log.applied, ["write b", "commit"]);
        assert_eq!(log.before_write, 1);
        assert_eq!(reports[0].state, StepState::Done);
        assert_eq!(reports[2].state, StepState::Applied);
    }

    #[test]
    fn a_step_that_stops_the_run_ends_the_list() {
        let mut list = steps();
        list[1].stops = true;
        let mut log = Log::default();
        let reports = block(run(&list, &mut log, RunOptions::default(), |_| Ok(()))).unwrap();
        assert_eq!(
            log.applied,
            ["write b"],
            "the commit is not this run's to do"
        );
        assert_eq!(reports.len(), 2);
    }
}
