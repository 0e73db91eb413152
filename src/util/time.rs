//! Time as release writes it: reproducible (`SOURCE_DATE_EPOCH`), UTC, without a time crate.

use std::sync::OnceLock;

static SOURCE_DATE_EPOCH: OnceLock<Option<i64>> = OnceLock::new();

/// Fix the time every release writes (the CLI passes `SOURCE_DATE_EPOCH`, for reproducible
/// output); the first call wins.
pub fn fix_epoch(seconds: Option<i64>) {
    let _ = SOURCE_DATE_EPOCH.set(seconds);
}

/// Seconds since the epoch: the fixed time when there is one ([`fix_epoch`]), else now.
pub fn now() -> i64 {
    if let Some(t) = SOURCE_DATE_EPOCH.get().copied().flatten() {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time.
pub fn rfc3339(seconds: i64) -> String {
    let day = seconds.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        date_of(seconds),
        day / 3600,
        day % 3600 / 60,
        day % 60
    )
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn date_of(seconds: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = seconds.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date_of(0), "1970-01-01");
        assert_eq!(date_of(1_600_000_000), "2020-09-13");
        assert_eq!(date_of(951_782_400), "2000-02-29");
        assert_eq!(date_of(-86_400), "1969-12-31");
    }
}
