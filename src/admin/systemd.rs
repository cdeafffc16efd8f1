//! systemd integration for `Type=notify` units: `READY=1` once the
//! listeners are bound, `STOPPING=1` when a shutdown begins, `STATUS=`
//! lines for `systemctl status`, and `WATCHDOG=1` pings at half the
//! `WatchdogSec=` interval while the async runtime is alive. Outside
//! systemd (`NOTIFY_SOCKET` unset) every call is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

/// Sends states to the service manager; failures are logged, never fatal
/// (a broker that cannot reach systemd should still serve its clients).
fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}

/// Tells systemd the service is up, with a status line.
pub fn ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Tells systemd a shutdown has begun.
pub fn stopping(status: &str) {
    notify(&[NotifyState::Stopping, NotifyState::Status(status)]);
}

/// Sets the status line `systemctl status` shows.
pub fn status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// How often to ping the watchdog, from `WATCHDOG_USEC` (half of it, as
/// sd_watchdog_enabled(3) advises). `None` when the watchdog is off or
/// meant for another process (`WATCHDOG_PID` names a different pid).
pub fn watchdog_interval(env: impl Fn(&str) -> Option<String>) -> Option<Duration> {
    let usec: u64 = env("WATCHDOG_USEC")?
        .trim()
        .parse()
        .ok()
        .filter(|u| *u > 0)?;
    if let Some(pid) = env("WATCHDOG_PID") {
        if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2).max(Duration::from_millis(1)))
}

/// Pings the watchdog every `interval`, forever. Run it as a task on the
/// server's runtime: if the runtime stalls, the pings stop and systemd
/// restarts the service.
pub async fn watchdog(interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        notify(&[NotifyState::Watchdog]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, String)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn watchdog_pings_at_half_the_interval() {
        let vars = [("WATCHDOG_USEC", "30000000".to_owned())];
        assert_eq!(watchdog_interval(env(&vars)), Some(Duration::from_secs(15)));
    }

    #[test]
    fn watchdog_off_without_usec_or_for_another_pid() {
        assert_eq!(watchdog_interval(env(&[])), None);
        let vars = [("WATCHDOG_USEC", "0".to_owned())];
        assert_eq!(watchdog_interval(env(&vars)), None);
        let other = (std::process::id() + 1).to_string();
        let vars = [
            ("WATCHDOG_USEC", "1000000".to_owned()),
            ("WATCHDOG_PID", other),
        ];
        assert_eq!(watchdog_interval(env(&vars)), None);
        let mine = std::process::id().to_string();
        let vars = [
            ("WATCHDOG_USEC", "1000000".to_owned()),
            ("WATCHDOG_PID", mine),
        ];
        assert_eq!(
            watchdog_interval(env(&vars)),
            Some(Duration::from_millis(500))
        );
    }
}
