//! The time that the in-process cache and rate limiter go by: the system's clock, or a
//! manual clock that moves only when told to, so that tests of expiry and refill move time
//! forward instead of waiting for it to pass.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where the in-process backends read the time.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system's clock; what every deployment uses.
    #[default]
    System,
    /// A clock that the holder of the [`ManualClock`] moves.
    Manual(ManualClock),
}

impl Clock {
    /// The current time by this clock.
    pub fn now(&self) -> SystemTime {
        match self {
            Self::System => SystemTime::now(),
            Self::Manual(clock) => clock.now(),
        }
    }
}

impl From<ManualClock> for Clock {
    fn from(clock: ManualClock) -> Self {
        Self::Manual(clock)
    }
}

/// A clock that stands still until [`ManualClock::advance`] moves it; clones share one time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl ManualClock {
    /// A clock that starts at the present system time.
    pub fn new() -> Self {
        Self { now: Arc::new(Mutex::new(SystemTime::now())) }
    }

    /// The time it shows.
    pub fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_advanced_and_its_clones_follow() {
        let manual = ManualClock::new();
        let clock = Clock::from(manual.clone());
        let start = clock.now();
        assert_eq!(clock.now(), start);
        manual.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), start + Duration::from_secs(90));
    }
}
