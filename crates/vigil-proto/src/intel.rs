//! Indicators on the wire: what a device needs of a `vigil_intel::Indicator` to enforce it
//! offline (no description, no provenance), and back.
//!
//! **Invariant:** a received indicator is checked like any other input: its type, action and
//! severity must be known names and its value must normalise, else it is refused.

use vigil_intel::{Indicator, IntelError};

use crate::pb::SyncedIndicator;

/// The wire form of an indicator.
pub fn to_synced(ind: &Indicator) -> SyncedIndicator {
    SyncedIndicator {
        id: ind.id,
        r#type: ind.kind.as_str().to_string(),
        value: ind.value.clone(),
        action: ind.action.as_str().to_string(),
        severity: ind.severity.as_str().to_string(),
        title: ind.title.clone(),
        expires_ms: ind.expires_ms.unwrap_or(0),
        generate_alert: ind.generate_alert,
    }
}

/// An indicator from its wire form, checked.
pub fn from_synced(s: SyncedIndicator) -> Result<Indicator, IntelError> {
    let id = s.id;
    let at = |e: IntelError| e.at(format!("indicator {id}"));
    let kind = s.r#type.parse().map_err(at)?;
    let mut ind = Indicator::new(kind, &s.value).map_err(at)?;
    ind.id = s.id;
    ind.action = s.action.parse().map_err(at)?;
    ind.severity = s.severity.parse().map_err(at)?;
    ind.title = s.title;
    ind.expires_ms = (s.expires_ms != 0).then_some(s.expires_ms);
    ind.generate_alert = s.generate_alert;
    Ok(ind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_intel::{Action, IndicatorType};

    #[test]
    fn indicators_round_trip_and_bad_ones_are_refused() {
        let mut ind = Indicator::new(IndicatorType::Cidr, "10.1.0.0/16")
            .unwrap()
            .with_action(Action::Block);
        ind.id = 7;
        ind.expires_ms = Some(1234);
        let back = from_synced(to_synced(&ind)).unwrap();
        assert_eq!(back.id, 7);
        assert_eq!(back.value, "10.1.0.0/16");
        assert_eq!(back.action, Action::Block);
        assert_eq!(back.expires_ms, Some(1234));

        let mut bad = to_synced(&ind);
        bad.value = "10.1.0.0/99".into();
        let e = from_synced(bad).unwrap_err();
        assert!(e.to_string().starts_with("indicator 7:"), "{e}");
        let mut bad = to_synced(&ind);
        bad.action = "explode".into();
        assert!(from_synced(bad).is_err());
    }
}
