//! Cancellation without signal handlers inside the loops: an [`Interrupter`] (held by whoever
//! turns signals or a `cancel` request into interrupts) and the [`Interrupts`] the dispatcher
//! waits on. The first interrupt cancels every job in flight, the second kills them, a third
//! stops waiting.

use std::sync::Arc;

use tokio::sync::watch;

/// The sending side: clone it into a signal task, a test, or a timer.
#[derive(Debug, Clone)]
pub struct Interrupter {
    tx: Arc<watch::Sender<(u32, String)>>,
}

/// The receiving side the dispatcher waits on.
#[derive(Debug, Clone)]
pub struct Interrupts {
    rx: watch::Receiver<(u32, String)>,
    seen: u32,
}

/// A connected pair.
pub fn interrupts() -> (Interrupter, Interrupts) {
    let (tx, rx) = watch::channel((0, String::new()));
    (Interrupter { tx: Arc::new(tx) }, Interrupts { rx, seen: 0 })
}

impl Interrupter {
    /// Records one interrupt by `by` (`SIGINT`, `SIGTERM`, `servebench cancel`).
    pub fn interrupt(&self, by: &str) {
        self.tx.send_modify(|(n, who)| {
            *n += 1;
            by.clone_into(who);
        });
    }

    /// Forwards SIGINT and SIGTERM of this process as interrupts until the runtime ends.
    pub fn forward_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut int = signal(SignalKind::interrupt())?;
        let mut term = signal(SignalKind::terminate())?;
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let by = tokio::select! {
                    v = int.recv() => v.map(|()| "SIGINT"),
                    v = term.recv() => v.map(|()| "SIGTERM"),
                };
                match by {
                    Some(by) => me.interrupt(by),
                    None => break,
                }
            }
        });
        Ok(())
    }
}

impl Interrupts {
    /// Interrupts that are never sent (a run nobody can cancel, e.g. in tests).
    pub fn never() -> Interrupts {
        interrupts().1
    }

    /// Who sent the last interrupt, if any arrived at all (seen or not).
    pub fn arrived(&self) -> Option<String> {
        let (n, by) = self.rx.borrow().clone();
        (n > 0).then_some(by)
    }

    /// Waits for the next interrupt not yet seen: (how many so far, who sent the last one).
    /// Pending forever when the sending side is gone.
    pub async fn next(&mut self) -> (u32, String) {
        loop {
            let (n, by) = self.rx.borrow_and_update().clone();
            if n > self.seen {
                self.seen = n;
                return (n, by);
            }
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}
