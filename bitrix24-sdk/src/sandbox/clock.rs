//! The sandbox's notion of time: unix seconds that follow tokio's clock, so tests on paused
//! time see the portal age with them.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    started: Instant,
    started_unix: f64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let started_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or_default();
        Self {
            started: Instant::now(),
            started_unix,
        }
    }

    /// Now, in unix seconds.
    pub(crate) fn unix(&self) -> f64 {
        self.started_unix + self.started.elapsed().as_secs_f64()
    }

    /// Now, in whole unix seconds.
    #[allow(clippy::cast_possible_truncation)]
    pub(crate) fn unix_secs(&self) -> i64 {
        self.unix().floor() as i64
    }

    /// Now as the portal writes dates: `2024-08-19T14:47:08+00:00`.
    pub(crate) fn iso(&self) -> String {
        iso8601(self.unix_secs())
    }
}

/// Formats unix seconds as ISO-8601 in UTC with an explicit offset, as the portal does.
pub(crate) fn iso8601(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}+00:00",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_dates_like_the_portal() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(1_724_068_028), "2024-08-19T11:47:08+00:00");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00+00:00");
    }
}
