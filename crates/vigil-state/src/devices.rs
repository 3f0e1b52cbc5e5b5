//! Enrolled devices: their certificate, revocation and last reported health.
//!
//! A device row is written at enrolment ([`StateStore::upsert_enrolled_device`]); enrolling
//! the same device id again replaces its certificate and lifts a revocation. Every request
//! from an agent is checked with [`StateStore::authorize_device`]: the device must exist, not
//! be revoked, and present the certificate it was last issued (by SHA-256 fingerprint), so
//! revocation and re-enrolment take effect at the next request. Heartbeats update the health
//! columns with [`StateStore::touch_device`].

use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::secret::{check_name, to_u64};
use crate::{DeviceAuthError, StateError, StateStore};

/// The longest JSON accepted in `health_detail`, in bytes.
const MAX_HEALTH_DETAIL_BYTES: usize = 64 * 1024;

/// What enrolment records about a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    /// The device id (the certificate's CN).
    pub device_id: String,
    /// The device name (host name).
    pub name: String,
    /// The certificate serial, hex.
    pub cert_serial: String,
    /// SHA-256 of the certificate DER, hex (stored lowercase).
    pub cert_fingerprint: String,
    /// The certificate's end of validity, unix milliseconds.
    pub cert_not_after_ms: i64,
    /// The enrolment token used, if any; it must exist.
    pub enrollment_token_id: Option<String>,
    /// Enrolment time, unix milliseconds.
    pub enrolled_ms: i64,
}

/// An enrolled device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The device id (the certificate's CN).
    pub id: String,
    /// The device name (host name).
    pub name: String,
    /// Time of the latest enrolment, unix milliseconds.
    pub enrolled_ms: i64,
    /// The enrolment token of the latest enrolment.
    pub enrollment_token_id: Option<String>,
    /// Time of the latest heartbeat, unix milliseconds.
    pub last_seen_ms: Option<i64>,
    /// When the device was revoked, unix milliseconds; `None`: not revoked.
    pub revoked_ms: Option<i64>,
    /// The current certificate's serial, hex.
    pub cert_serial: String,
    /// SHA-256 of the current certificate's DER, lowercase hex.
    pub cert_fingerprint: String,
    /// The current certificate's end of validity, unix milliseconds.
    pub cert_not_after_ms: i64,
    /// Sensor health as the agent reports it ("Active", "Impaired", ...).
    pub health: Option<String>,
    /// The agent's version.
    pub agent_version: Option<String>,
    /// The OS platform ("Linux").
    pub os_platform: Option<String>,
    /// The OS version (distribution and release).
    pub os_version: Option<String>,
    /// The kernel release.
    pub kernel: Option<String>,
    /// The address the device last reported or connected from.
    pub ip: Option<String>,
    /// The sensor mode (eBPF, fallback, ...).
    pub sensor_mode: Option<String>,
    /// The agent's health detail, JSON text.
    pub health_detail: Option<String>,
    /// Events received from this device, in total.
    pub events_received: u64,
    /// Events this device reported as dropped, in total.
    pub events_dropped: u64,
    /// The device group it belongs to (scopes indicators), if any.
    pub group: Option<String>,
    /// Tags an operator gave it, sorted, without duplicates.
    pub tags: Vec<String>,
}

/// What a heartbeat reports. `None` fields keep the stored value; the counters are added to
/// the device's totals.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceSeen {
    /// Time of this heartbeat, unix milliseconds; `last_seen_ms` never moves backwards.
    pub seen_ms: i64,
    /// Sensor health ("Active", "Impaired", ...).
    pub health: Option<String>,
    /// The agent's version.
    pub agent_version: Option<String>,
    /// The OS platform.
    pub os_platform: Option<String>,
    /// The OS version.
    pub os_version: Option<String>,
    /// The kernel release.
    pub kernel: Option<String>,
    /// The device's address.
    pub ip: Option<String>,
    /// The sensor mode.
    pub sensor_mode: Option<String>,
    /// Health detail, JSON text (at most 64 KiB).
    pub health_detail: Option<String>,
    /// Events received since the previous heartbeat.
    pub events_received: u64,
    /// Events dropped since the previous heartbeat.
    pub events_dropped: u64,
}

const COLUMNS: &str = "id, name, enrolled_ms, enrollment_token_id, last_seen_ms, revoked_ms,
    cert_serial, cert_fingerprint, cert_not_after_ms, health, agent_version, os_platform,
    os_version, kernel, ip, sensor_mode, health_detail, events_received, events_dropped,
    device_group, tags";

const UPSERT: &str = "INSERT INTO devices
    (id, name, enrolled_ms, enrollment_token_id, cert_serial, cert_fingerprint,
     cert_not_after_ms, revoked_ms)
    VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)
    ON CONFLICT (id) DO UPDATE SET
        name = excluded.name,
        enrolled_ms = excluded.enrolled_ms,
        enrollment_token_id = excluded.enrollment_token_id,
        cert_serial = excluded.cert_serial,
        cert_fingerprint = excluded.cert_fingerprint,
        cert_not_after_ms = excluded.cert_not_after_ms,
        revoked_ms = NULL";
const REVOKE: &str = "UPDATE devices SET revoked_ms = COALESCE(revoked_ms, $2) WHERE id = $1";
const TOUCH: &str = "UPDATE devices SET
    last_seen_ms = CASE WHEN last_seen_ms IS NULL OR last_seen_ms < $2 THEN $2
                        ELSE last_seen_ms END,
    health = COALESCE($3, health),
    agent_version = COALESCE($4, agent_version),
    os_platform = COALESCE($5, os_platform),
    os_version = COALESCE($6, os_version),
    kernel = COALESCE($7, kernel),
    ip = COALESCE($8, ip),
    sensor_mode = COALESCE($9, sensor_mode),
    health_detail = COALESCE($10, health_detail),
    events_received = events_received + $11,
    events_dropped = events_dropped + $12
    WHERE id = $1";

impl StateStore {
    /// Record an enrolment. A new device id is inserted; an enrolled one gets the new name
    /// and certificate, and its revocation is lifted. Health and counters are kept.
    pub async fn upsert_enrolled_device(&self, d: &NewDevice) -> Result<(), StateError> {
        check_device_id(&d.device_id)?;
        check_name("device name", &d.name, true)?;
        check_hex("certificate serial", &d.cert_serial, 1, 64)?;
        check_hex("certificate fingerprint", &d.cert_fingerprint, 64, 64)?;
        let result = sqlx::query(UPSERT)
            .bind(&d.device_id)
            .bind(&d.name)
            .bind(d.enrolled_ms)
            .bind(&d.enrollment_token_id)
            .bind(d.cert_serial.to_ascii_lowercase())
            .bind(d.cert_fingerprint.to_ascii_lowercase())
            .bind(d.cert_not_after_ms)
            .execute(&self.pool)
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StateError::NotFound {
                    what: "enrolment token",
                    id: d.enrollment_token_id.clone().unwrap_or_default(),
                })
            }
            Err(e) => Err(StateError::db("record an enrolled device")(e)),
        }
    }

    /// One device by id.
    pub async fn device(&self, id: &str) -> Result<Option<Device>, StateError> {
        let sql = format!("SELECT {COLUMNS} FROM devices WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StateError::db("read a device"))?;
        row.as_ref().map(from_row).transpose()
    }

    /// The names of the devices `ids` (unknown ids are left out), in one query.
    pub async fn device_names(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, String>, StateError> {
        let ids = serde_json::to_string(ids).expect("strings serialise");
        let rows = sqlx::query(
            "SELECT id, name FROM devices WHERE id IN (SELECT value FROM json_each($1))",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(StateError::db("read device names"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<String, _>("id"), r.get::<String, _>("name")))
            .collect())
    }

    /// Every device, by name then id, including revoked ones.
    pub async fn list_devices(&self) -> Result<Vec<Device>, StateError> {
        let sql = format!("SELECT {COLUMNS} FROM devices ORDER BY name, id");
        let rows = sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("list devices"))?;
        rows.iter().map(from_row).collect()
    }

    /// Whether the device `device_id`, presenting the certificate with SHA-256 `fingerprint`
    /// (hex, any case), may talk: it must be enrolled, not revoked, and the certificate must
    /// be its current one. Certificate validity and chain are the TLS layer's business.
    pub async fn authorize_device(
        &self,
        device_id: &str,
        fingerprint: &str,
    ) -> Result<Device, DeviceAuthError> {
        let Some(device) = self.device(device_id).await? else {
            return Err(DeviceAuthError::Unknown {
                device_id: device_id.to_string(),
            });
        };
        if let Some(at_ms) = device.revoked_ms {
            return Err(DeviceAuthError::Revoked {
                device_id: device.id,
                at_ms,
            });
        }
        if !device.cert_fingerprint.eq_ignore_ascii_case(fingerprint) {
            return Err(DeviceAuthError::CertificateReplaced {
                device_id: device.id,
                presented: fingerprint.to_ascii_lowercase(),
                current: device.cert_fingerprint,
            });
        }
        Ok(device)
    }

    /// Revoke a device at `now_ms`: [`StateStore::authorize_device`] refuses it from now on,
    /// until it enrols again. Revoking a revoked device keeps the first revocation time.
    pub async fn revoke_device(&self, id: &str, now_ms: i64) -> Result<(), StateError> {
        let done = sqlx::query(REVOKE)
            .bind(id)
            .bind(now_ms)
            .execute(&self.pool)
            .await
            .map_err(StateError::db("revoke a device"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "device",
                id: id.to_string(),
            });
        }
        Ok(())
    }

    /// Record a heartbeat: last seen time, health and inventory (`None` keeps the stored
    /// value), event counters added to the totals. Refused: text fields over 256 characters
    /// or with control characters, health detail that is not JSON or over 64 KiB.
    pub async fn touch_device(&self, id: &str, seen: &DeviceSeen) -> Result<(), StateError> {
        for (what, value) in [
            ("health", &seen.health),
            ("agent version", &seen.agent_version),
            ("os platform", &seen.os_platform),
            ("os version", &seen.os_version),
            ("kernel", &seen.kernel),
            ("ip", &seen.ip),
            ("sensor mode", &seen.sensor_mode),
        ] {
            if let Some(v) = value {
                check_name(what, v, false)?;
            }
        }
        if let Some(detail) = &seen.health_detail {
            check_json("health detail", detail)?;
        }
        let done = sqlx::query(TOUCH)
            .bind(id)
            .bind(seen.seen_ms)
            .bind(&seen.health)
            .bind(&seen.agent_version)
            .bind(&seen.os_platform)
            .bind(&seen.os_version)
            .bind(&seen.kernel)
            .bind(&seen.ip)
            .bind(&seen.sensor_mode)
            .bind(&seen.health_detail)
            .bind(counter(seen.events_received))
            .bind(counter(seen.events_dropped))
            .execute(&self.pool)
            .await
            .map_err(StateError::db("record a device heartbeat"))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "device",
                id: id.to_string(),
            });
        }
        Ok(())
    }
}

/// A counter increment as the database's signed 64-bit integer (saturating).
fn counter(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Device ids: 1 to 64 ASCII letters, digits, `.`, `_` or `-` (as vigil-pki requires of a
/// certificate's CN).
fn check_device_id(id: &str) -> Result<(), StateError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StateError::invalid(
            "device id",
            id,
            "must be 1 to 64 ascii letters, digits, '.', '_' or '-'",
        ))
    }
}

fn check_hex(what: &'static str, v: &str, min: usize, max: usize) -> Result<(), StateError> {
    if v.len() < min || v.len() > max || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        let len = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        return Err(StateError::invalid(
            what,
            v,
            format!("must be {len} hex digits"),
        ));
    }
    Ok(())
}

fn check_json(what: &'static str, v: &str) -> Result<(), StateError> {
    if v.len() > MAX_HEALTH_DETAIL_BYTES {
        let head: String = v.chars().take(40).collect();
        return Err(StateError::invalid(
            what,
            &format!("{head}..."),
            format!("must be at most {MAX_HEALTH_DETAIL_BYTES} bytes"),
        ));
    }
    serde_json::from_str::<serde_json::Value>(v)
        .map(drop)
        .map_err(|e| StateError::invalid(what, v, format!("is not json: {e}")))
}

impl StateStore {
    /// Put a device in a group (`None`: in no group).
    pub async fn set_device_group(
        &self,
        id: &str,
        group: Option<&str>,
    ) -> Result<Device, StateError> {
        if let Some(g) = group {
            check_device_group(g)?;
        }
        self.set_device_column(id, "device_group", group, "set a device group")
            .await
    }
}

/// A device group's name, checked.
pub fn check_device_group(name: &str) -> Result<(), StateError> {
    check_name("device group", name, true)
}

/// The most tags a device may have.
pub const MAX_DEVICE_TAGS: usize = 32;

/// `tags` checked (1 to 64 characters each: letters, digits, space and `_ . : / -`; at most
/// [`MAX_DEVICE_TAGS`]), sorted and without duplicates.
pub fn normalize_tags(tags: &[String]) -> Result<Vec<String>, StateError> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for t in tags {
        let t = t.trim();
        let len = t.chars().count();
        if len == 0 || len > 64 {
            return Err(StateError::invalid(
                "device tag",
                t,
                "must have 1 to 64 characters",
            ));
        }
        if let Some(c) = t
            .chars()
            .find(|c| !(c.is_alphanumeric() || " _.:/-".contains(*c)))
        {
            return Err(StateError::invalid(
                "device tag",
                t,
                format!("must not contain {c:?} (letters, digits, space and _ . : / - only)"),
            ));
        }
        out.push(t.to_string());
    }
    out.sort();
    out.dedup();
    if out.len() > MAX_DEVICE_TAGS {
        return Err(StateError::invalid(
            "device tags",
            &out.join(","),
            format!("must be at most {MAX_DEVICE_TAGS}"),
        ));
    }
    Ok(out)
}

impl StateStore {
    /// Replace a device's tags (checked and normalised by [`normalize_tags`]).
    pub async fn set_device_tags(&self, id: &str, tags: &[String]) -> Result<Device, StateError> {
        let tags = normalize_tags(tags)?;
        let text = serde_json::to_string(&tags).expect("strings serialise");
        self.set_device_column(id, "tags", Some(&text), "set a device's tags")
            .await
    }

    /// Set one column of a device and read it back; an unknown id is `NotFound`.
    async fn set_device_column(
        &self,
        id: &str,
        column: &'static str,
        value: Option<&str>,
        op: &'static str,
    ) -> Result<Device, StateError> {
        let done = sqlx::query(&format!("UPDATE devices SET {column} = $2 WHERE id = $1"))
            .bind(id)
            .bind(value)
            .execute(&self.pool)
            .await
            .map_err(StateError::db(op))?;
        if done.rows_affected() == 0 {
            return Err(StateError::NotFound {
                what: "device",
                id: id.to_string(),
            });
        }
        self.device(id).await?.ok_or_else(|| StateError::NotFound {
            what: "device",
            id: id.to_string(),
        })
    }

    /// Per device (all of them, or only `device`): the highest severity of its alerts that
    /// are not resolved (devices with none are absent).
    pub async fn device_open_alert_severity(
        &self,
        device: Option<&str>,
    ) -> Result<std::collections::HashMap<String, String>, StateError> {
        let sql = match device {
            None => {
                "SELECT device_id, severity FROM alerts WHERE status <> 'Resolved' \
                 GROUP BY device_id, severity"
            }
            Some(_) => {
                "SELECT device_id, severity FROM alerts WHERE device_id = $1 \
                 AND status <> 'Resolved' GROUP BY device_id, severity"
            }
        };
        let mut q = sqlx::query(sql);
        if let Some(d) = device {
            q = q.bind(d);
        }
        let rows = q
            .fetch_all(&self.pool)
            .await
            .map_err(StateError::db("read open alert severities"))?;
        let rank = |s: &str| crate::SEVERITIES.iter().position(|x| *x == s);
        let mut out: std::collections::HashMap<String, String> = Default::default();
        for r in rows {
            let (d, s): (String, String) = (r.get("device_id"), r.get("severity"));
            let e = out.entry(d).or_insert_with(|| s.clone());
            if rank(&s) > rank(e) {
                *e = s;
            }
        }
        Ok(out)
    }
}

fn from_row(row: &SqliteRow) -> Result<Device, StateError> {
    let get = || -> Result<_, sqlx::Error> {
        Ok(Device {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            enrolled_ms: row.try_get("enrolled_ms")?,
            enrollment_token_id: row.try_get("enrollment_token_id")?,
            last_seen_ms: row.try_get("last_seen_ms")?,
            revoked_ms: row.try_get("revoked_ms")?,
            cert_serial: row.try_get("cert_serial")?,
            cert_fingerprint: row.try_get("cert_fingerprint")?,
            cert_not_after_ms: row.try_get("cert_not_after_ms")?,
            health: row.try_get("health")?,
            agent_version: row.try_get("agent_version")?,
            os_platform: row.try_get("os_platform")?,
            os_version: row.try_get("os_version")?,
            kernel: row.try_get("kernel")?,
            ip: row.try_get("ip")?,
            sensor_mode: row.try_get("sensor_mode")?,
            health_detail: row.try_get("health_detail")?,
            events_received: 0,
            events_dropped: 0,
            group: row.try_get("device_group")?,
            tags: serde_json::from_str(&row.try_get::<String, _>("tags")?).unwrap_or_default(),
        })
    };
    let mut device = get().map_err(StateError::db("read a device"))?;
    let received: i64 = row
        .try_get("events_received")
        .map_err(StateError::db("read a device"))?;
    let dropped: i64 = row
        .try_get("events_dropped")
        .map_err(StateError::db("read a device"))?;
    device.events_received = to_u64("devices.events_received", received)?;
    device.events_dropped = to_u64("devices.events_dropped", dropped)?;
    Ok(device)
}
