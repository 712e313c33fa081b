//! The state machine of §4.3: active → stable → resolved, reopen, report-only retro
//! incidents, stateless source incidents. Repeats are no-ops with a reply and no event;
//! refusals change nothing. Acknowledgement is separate (see [`crate::model::Ack`]).

use jiff::Timestamp;

use crate::model::{Incident, Review, State};
use crate::util::time::format_ts;

/// A requested state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// `stable`.
    Stable,
    /// `resolve` / `close`.
    Resolve,
    /// `reopen`.
    Reopen,
}

/// What applying a transition did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The state changed from this one (write the incident and an event).
    Changed(State),
    /// Nothing to do: the reply text (no event).
    AlreadyThere(String),
}

/// A refused transition; nothing changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Stateless incidents have no state (Argus).
    #[error(
        "{0} is a stateless incident: stateless incidents have no state (only ack, note and tags apply)"
    )]
    Stateless(String),
    /// A resolved incident cannot become stable directly.
    #[error("{0} is resolved; `reopen` it first")]
    ResolvedNotStable(String),
}

/// Applies `t` to `incident` at `now`, changing it in place when the state changes.
///
/// # Errors
/// [`StateError`] when the transition is refused; the incident is then unchanged.
pub fn apply(
    incident: &mut Incident,
    t: Transition,
    now: Timestamp,
) -> Result<Outcome, StateError> {
    let from = incident.state;
    let id = incident.reference();
    let at = |ts: Option<Timestamp>| {
        ts.map(|t| format_ts(t, None))
            .unwrap_or_else(|| "an unknown time".into())
    };
    match (from, t) {
        (State::Stateless, _) => Err(StateError::Stateless(id)),
        (State::Stable, Transition::Stable) => Ok(Outcome::AlreadyThere(format!(
            "{id} is already stable since {}",
            at(incident.stable_at)
        ))),
        (State::Resolved, Transition::Resolve) => Ok(Outcome::AlreadyThere(format!(
            "{id} is already resolved at {}",
            at(incident.resolved_at)
        ))),
        (State::Active, Transition::Reopen) => Ok(Outcome::AlreadyThere(format!(
            "{id} is already active (reported {})",
            at(Some(incident.reported_at))
        ))),
        (State::Resolved, Transition::Stable) => Err(StateError::ResolvedNotStable(id)),
        (State::Active, Transition::Stable) => {
            incident.state = State::Stable;
            incident.stable_at = Some(now);
            Ok(Outcome::Changed(from))
        }
        (State::Active | State::Stable, Transition::Resolve) => {
            incident.state = State::Resolved;
            incident.resolved_at = Some(now);
            if incident.review == Review::None {
                incident.review = Review::Pending;
            }
            Ok(Outcome::Changed(from))
        }
        (State::Stable | State::Resolved, Transition::Reopen) => {
            incident.state = State::Active;
            incident.resolved_at = None;
            incident.stable_at = None;
            incident.retro = false;
            Ok(Outcome::Changed(from))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;

    fn incident(state: State) -> Incident {
        let t = Timestamp::from_second(1_767_225_600).unwrap();
        Incident {
            id: 1,
            origin: Origin::Declared,
            title: "t".into(),
            summary: None,
            impact: None,
            resolution: None,
            severity: None,
            state,
            retro: false,
            private: false,
            tags: vec![],
            source: None,
            source_incident_id: None,
            details_url: None,
            ticket_url: None,
            metadata: None,
            reporter: None,
            lead: None,
            started_at: t,
            reported_at: t,
            first_ack_at: None,
            stable_at: None,
            resolved_at: None,
            room: None,
            thread: None,
            announcement: None,
            review: Review::None,
            review_url: None,
            external: serde_json::Map::new(),
            false_alarm: false,
        }
    }

    #[test]
    fn full_cycle_and_repeats() {
        let now = Timestamp::from_second(1_767_229_200).unwrap();
        let mut i = incident(State::Active);
        assert_eq!(
            apply(&mut i, Transition::Stable, now),
            Ok(Outcome::Changed(State::Active))
        );
        assert_eq!(i.stable_at, Some(now));
        assert!(matches!(
            apply(&mut i, Transition::Stable, now),
            Ok(Outcome::AlreadyThere(_))
        ));
        assert_eq!(
            apply(&mut i, Transition::Resolve, now),
            Ok(Outcome::Changed(State::Stable))
        );
        assert_eq!(i.review, Review::Pending);
        let Ok(Outcome::AlreadyThere(text)) = apply(&mut i, Transition::Resolve, now) else {
            panic!("not a no-op")
        };
        assert_eq!(text, "#1 is already resolved at 2026-01-01 01:00 UTC");
        assert_eq!(
            apply(&mut i, Transition::Stable, now),
            Err(StateError::ResolvedNotStable("#1".into()))
        );
        assert_eq!(
            apply(&mut i, Transition::Reopen, now),
            Ok(Outcome::Changed(State::Resolved))
        );
        assert_eq!((i.state, i.resolved_at), (State::Active, None));
        assert!(matches!(
            apply(&mut i, Transition::Reopen, now),
            Ok(Outcome::AlreadyThere(_))
        ));
    }

    #[test]
    fn stateless_refuses_everything() {
        let now = Timestamp::from_second(1_767_229_200).unwrap();
        for t in [Transition::Stable, Transition::Resolve, Transition::Reopen] {
            let mut i = incident(State::Stateless);
            let before = i.clone();
            let err = apply(&mut i, t, now).unwrap_err();
            assert!(
                err.to_string()
                    .contains("stateless incidents have no state")
            );
            assert_eq!(i, before);
        }
    }
}
