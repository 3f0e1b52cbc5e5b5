//! The store's errors, and the UTC time format their messages use.
//!
//! [`StateError`] is what any operation can fail with. Two operations have their own error
//! type because the server answers each outcome differently (a gRPC status per variant):
//! [`RedeemError`] for redeeming an enrolment token and [`DeviceAuthError`] for deciding
//! whether a device certificate may talk. Both wrap [`StateError`] for database failures.

use std::path::PathBuf;

/// What went wrong in the state store.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The database could not be opened or created.
    #[error("cannot open the state database {}: {source}", path.display())]
    Open { path: PathBuf, source: sqlx::Error },
    /// A migration failed; it was rolled back and later ones were not tried.
    #[error("state database migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: &'static str,
        source: sqlx::Error,
    },
    /// The database was written by a newer build.
    #[error("the state database has schema version {found}, newer than this build knows ({known}): run a newer vigil-server")]
    SchemaTooNew { found: i64, known: i64 },
    /// No record with this id.
    #[error("{what} {id:?} not found")]
    NotFound { what: &'static str, id: String },
    /// An input was refused; nothing was changed.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    /// A unique name is taken.
    #[error("{what} {value:?} already exists")]
    AlreadyExists { what: &'static str, value: String },
    /// A statement failed.
    #[error("state database cannot {op}: {source}")]
    Db {
        op: &'static str,
        source: sqlx::Error,
    },
    /// Concurrent changes kept an operation from completing; retrying may succeed.
    #[error("state database cannot {op}: {reason}")]
    Conflict { op: &'static str, reason: String },
    /// A stored value is out of range for its type.
    #[error("state database holds a bad value in {column}: {value}")]
    Corrupt { column: &'static str, value: String },
}

impl StateError {
    /// A closure mapping a sqlx error to [`StateError::Db`] for operation `op`.
    pub(crate) fn db(op: &'static str) -> impl FnOnce(sqlx::Error) -> StateError {
        move |source| StateError::Db { op, source }
    }

    pub(crate) fn invalid(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        StateError::Invalid {
            what,
            value: value.to_string(),
            reason: reason.into(),
        }
    }
}

/// Why an enrolment token cannot be redeemed. Nothing is counted when redeeming fails.
#[derive(Debug, thiserror::Error)]
pub enum RedeemError {
    /// No token has this secret.
    #[error("enrolment token is not known")]
    Unknown,
    /// The token's time to live has passed.
    #[error("enrolment token {id} has expired (at {})", format_unix_ms(*at_ms))]
    Expired { id: String, at_ms: i64 },
    /// The token was revoked.
    #[error("enrolment token {id} has been revoked")]
    Revoked { id: String },
    /// The token has been used as often as it may.
    #[error("enrolment token {id} has been used up ({uses} of {max_uses} uses)")]
    Exhausted {
        id: String,
        uses: u32,
        max_uses: u32,
    },
    /// The database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Why a device certificate may not talk to the server.
#[derive(Debug, thiserror::Error)]
pub enum DeviceAuthError {
    /// No device has this id.
    #[error("device {device_id} is not enrolled")]
    Unknown { device_id: String },
    /// The device was revoked.
    #[error("device {device_id} has been revoked (at {})", format_unix_ms(*at_ms))]
    Revoked { device_id: String, at_ms: i64 },
    /// The device re-enrolled since this certificate was issued.
    #[error("device {device_id} presented certificate {presented}, but it has re-enrolled and its certificate is now {current}")]
    CertificateReplaced {
        device_id: String,
        presented: String,
        current: String,
    },
    /// The database failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// Unix milliseconds as UTC RFC 3339 to the second: `2026-11-24T10:00:00Z`.
pub fn format_unix_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        assert_eq!(format_unix_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix_ms(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix_ms(1_795_514_400_999), "2026-11-24T10:00:00Z");
        assert_eq!(format_unix_ms(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn expired_message_names_the_time() {
        let e = RedeemError::Expired {
            id: "et_1".into(),
            at_ms: 1_795_514_400_000,
        };
        assert_eq!(
            e.to_string(),
            "enrolment token et_1 has expired (at 2026-11-24T10:00:00Z)"
        );
    }
}
