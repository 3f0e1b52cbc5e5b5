//! Device-group scope: a user or API token given device groups sees and acts on those
//! groups' devices only, and on what belongs to them (alerts, incidents, response actions,
//! live sessions, telemetry in hunting, prevalence on entity pages).
//!
//! The access guard resolves the principal's groups to the set of device ids once per
//! request and puts a [`Scope`] in the request's extensions; handlers take it as an
//! extractor. Something outside the scope answers 404, as if it did not exist (its
//! existence is not disclosed). A principal without groups has [`Scope::all`].
//!
//! Changes to what acts on every device (detection content, indicators, feeds, settings,
//! access control; [`fleet_wide`]) are refused to a limited principal by the guard.
//!
//! **Invariant:** every handler that returns or changes something tied to a device checks
//! the scope; lists are filtered before they are paged where the store pages them (alerts)
//! and after loading otherwise.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use vigil_state::Principal;

use super::{internal, ApiError};
use crate::Ctx;

/// The devices a request may see.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    /// `None`: every device.
    devices: Option<Arc<HashSet<String>>>,
    /// The principal's groups (empty: every group).
    groups: Arc<Vec<String>>,
}

impl Scope {
    pub(crate) fn all() -> Scope {
        Scope {
            devices: None,
            groups: Arc::default(),
        }
    }

    /// The scope of `p`: every device, or the devices now in its groups.
    pub(crate) async fn of(ctx: &Ctx, p: &Principal) -> Result<Scope, ApiError> {
        if p.device_groups.is_empty() {
            return Ok(Scope::all());
        }
        let devices = ctx.state.list_devices().await.map_err(internal)?;
        Ok(Scope {
            devices: Some(Arc::new(
                devices
                    .into_iter()
                    .filter(|d| p.sees_group(d.group.as_deref()))
                    .map(|d| d.id)
                    .collect(),
            )),
            groups: Arc::new(p.device_groups.clone()),
        })
    }

    /// Whether a device in `group` would be in scope.
    pub(crate) fn sees_group(&self, group: Option<&str>) -> bool {
        self.groups.is_empty() || group.is_some_and(|g| self.groups.iter().any(|x| x == g))
    }

    /// Whether the request is limited to some devices.
    pub(crate) fn is_limited(&self) -> bool {
        self.devices.is_some()
    }

    pub(crate) fn sees(&self, device_id: &str) -> bool {
        self.devices.as_ref().is_none_or(|s| s.contains(device_id))
    }

    /// Whether any of `device_ids` is in scope (an incident spanning several devices is
    /// visible to whoever sees one of them).
    pub(crate) fn sees_any<'a>(&self, mut device_ids: impl Iterator<Item = &'a String>) -> bool {
        !self.is_limited() || device_ids.any(|d| self.sees(d))
    }

    /// The device ids in scope, for the event store's scope (`vigil_store::with_device_scope`);
    /// `None` for every device.
    pub(crate) fn devices(&self) -> Option<Arc<HashSet<String>>> {
        self.devices.clone()
    }

    /// The device ids in scope, sorted; `None` for every device.
    pub(crate) fn device_ids(&self) -> Option<Vec<String>> {
        self.devices.as_ref().map(|s| {
            let mut v: Vec<String> = s.iter().cloned().collect();
            v.sort();
            v
        })
    }

    /// `Ok` when `device_id` is in scope, else the 404 `what` (e.g. "no alert a1") would get.
    pub(crate) fn check(
        &self,
        device_id: &str,
        not_found: impl FnOnce() -> String,
    ) -> Result<(), ApiError> {
        if self.sees(device_id) {
            Ok(())
        } else {
            Err(ApiError(StatusCode::NOT_FOUND, not_found()))
        }
    }

    /// Refuse something a limited principal cannot be given (e.g. raw SQL over every
    /// device's events).
    pub(crate) fn refuse_if_limited(&self, what: &str) -> Result<(), ApiError> {
        if self.is_limited() {
            Err(ApiError(
                StatusCode::FORBIDDEN,
                format!("{what} is not available to a principal limited to device groups"),
            ))
        } else {
            Ok(())
        }
    }
}

/// Whether a request changes something that acts on every device (detection content,
/// indicators and feeds, the response library, server settings, access control): refused
/// to a principal limited to device groups, whatever its role allows.
pub(crate) fn fleet_wide(method: &Method, template: &str) -> bool {
    if method == Method::GET {
        return false;
    }
    let p = template.strip_prefix("/api/v1/").unwrap_or(template);
    matches!(
        p.split('/').next().unwrap_or(""),
        "rules"
            | "suppressions"
            | "custom-detections"
            | "indicators"
            | "feeds"
            | "warninglists"
            | "library"
            | "settings"
            | "users"
            | "roles"
            | "api-tokens"
            | "enrollment-tokens"
    )
}

/// The refusal of a fleet-wide change to a limited principal.
pub(crate) fn fleet_wide_refusal(template: &str) -> ApiError {
    ApiError(
        StatusCode::FORBIDDEN,
        format!(
            "{template} changes something that acts on every device: a principal limited to \
             device groups cannot change it"
        ),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for Scope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Scope, ApiError> {
        parts
            .extensions
            .get::<Scope>()
            .cloned()
            .ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "not authenticated".into()))
    }
}
