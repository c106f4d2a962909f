//! Echoing every function's log lines to the test's stdout (`[name] text`, as `firebox serve`
//! prints them), through `print!`, which libtest captures and shows only for a failed test
//! (see [`super::EmulatorBuilder::echo_logs`]).

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use tokio::task::JoinHandle;

use super::EmulatorBuilder;
use crate::logs::{LogHub, LogLine};

impl EmulatorBuilder {
    /// Echoes every function's log lines to stdout as `[name] text`, as `firebox serve` prints
    /// them (default false). They are printed with `print!`, so libtest captures them and shows
    /// them only for a test that fails: its functions' output, errors and `REPORT`s come with
    /// its assertion. Lines not printed yet when the emulator is dropped (the test panicking)
    /// are printed then.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use firebox_emulator::{Emulator, FunctionConfig};
    /// let emu = Emulator::builder()
    ///     .echo_logs(true)
    ///     .function(FunctionConfig::new("hello").command(["target/debug/hello"]))
    ///     .start()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn echo_logs(mut self, on: bool) -> Self {
        self.echo_logs = on;
        self
    }
}

/// The echo of one emulator's log: a task that prints lines as they come; when dropped (with
/// the emulator, also while a failing test unwinds), what the task has not printed yet is.
pub(super) struct Echo {
    lines: Arc<Mutex<Receiver<LogLine>>>,
    task: JoinHandle<()>,
    print: Print,
}

/// Where the echo goes: one call per printed line.
type Print = Arc<dyn Fn(std::fmt::Arguments<'_>) + Send + Sync>;

impl std::fmt::Debug for Echo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Echo").finish_non_exhaustive()
    }
}

impl Echo {
    /// Echoes every line `hub` publishes from now on to stdout. Call it inside the runtime,
    /// before any environment starts.
    pub(super) fn start(hub: &LogHub) -> Self {
        // `print!`, not a write to `stdout()`: libtest captures only the macros.
        Self::start_with(hub, Arc::new(|line| println!("{line}")))
    }

    fn start_with(hub: &LogHub, print: Print) -> Self {
        let lines = Arc::new(Mutex::new(hub.subscribe()));
        // A second subscription only wakes the task: it gets each line too, and the task then
        // prints whatever the first one holds.
        let mut wake = hub.subscribe();
        let task = tokio::spawn({
            let lines = lines.clone();
            let print = print.clone();
            async move {
                // Ends when the log hub closes (or when aborted).
                while let Ok(_) | Err(RecvError::Lagged(_)) = wake.recv().await {
                    print_pending(&lines, &*print);
                }
            }
        });
        Self { lines, task, print }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.task.abort();
        print_pending(&self.lines, &*self.print);
    }
}

/// Prints every line waiting in `lines`. The lock is held only here, never across an await.
fn print_pending(
    lines: &Mutex<Receiver<LogLine>>,
    print: &(dyn Fn(std::fmt::Arguments<'_>) + Send + Sync),
) {
    let mut lines = lines.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match lines.try_recv() {
            Ok(line) => {
                for text in line.text.split('\n') {
                    print(format_args!("[{}] {text}", line.function));
                }
            }
            Err(TryRecvError::Lagged(n)) => {
                print(format_args!("[firebox] {n} log lines were not echoed"))
            }
            Err(TryRecvError::Empty | TryRecvError::Closed) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::FunctionLog;

    #[tokio::test]
    async fn lines_the_task_has_not_printed_are_printed_when_dropped() {
        let hub = LogHub::new(["f"]);
        let printed = Arc::new(Mutex::new(Vec::new()));
        let echo = Echo::start_with(&hub, {
            let printed = printed.clone();
            Arc::new(move |line| printed.lock().unwrap().push(line.to_string()))
        });
        let hub = Arc::new(hub);
        let log = FunctionLog::new(hub.clone(), "f", &Default::default());
        // No await from here on: on this current-thread runtime the task cannot run.
        log.output("one\ntwo".into(), None);
        log.platform("REPORT RequestId: x".into());
        assert!(printed.lock().unwrap().is_empty());
        drop(echo);
        assert_eq!(
            *printed.lock().unwrap(),
            ["[f] one", "[f] two", "[f] REPORT RequestId: x"]
        );
    }
}
