//! Power levels of the rooms the bot creates: members may pin messages.
//!
//! Pinning is `m.room.pinned_events` state, which Synapse's presets leave at `state_default`
//! (moderators, 50), so the people invited to a room the bot made (an incident room, say)
//! could not pin there — and a pin is how chat networks capture a message. Right after
//! creating a room the bot lowers that one event's level to the members' default, keeping
//! every other level the homeserver chose (read, changed, written back).

use matrix_sdk::ruma::RoomId;
use matrix_sdk::ruma::api::client::state::{get_state_event_for_key, send_state_event};
use matrix_sdk::ruma::events::StateEventType;
use matrix_sdk::ruma::serde::Raw;
use serde_json::{Value, json};

use crate::Inner;
use crate::errors::{Failure, from_http};

/// The state event whose level is lowered.
const PINNED: &str = "m.room.pinned_events";

fn int(v: Option<&Value>) -> Option<i64> {
    v.and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    })
}

/// The power levels with pinning open to members (`users_default`), or `None` when members
/// may pin already.
pub(crate) fn members_may_pin(levels: &Value) -> Option<Value> {
    let members = int(levels.get("users_default")).unwrap_or(0);
    let needed = int(levels.get("events").and_then(|e| e.get(PINNED)))
        .or_else(|| int(levels.get("state_default")))
        .unwrap_or(50);
    if needed <= members {
        return None;
    }
    let mut levels = levels.clone();
    if !levels.is_object() {
        levels = json!({});
    }
    if !levels["events"].is_object() {
        levels["events"] = json!({});
    }
    levels["events"][PINNED] = json!(members);
    Some(levels)
}

impl Inner {
    /// Lets the members of `room_id` (a room the bot just created) pin messages.
    ///
    /// # Errors
    /// When the power levels cannot be read or written.
    pub(crate) async fn let_members_pin(&self, room_id: &RoomId) -> Result<(), Failure> {
        let Some(client) = self.client() else {
            return Err(Failure::Unconnected("not connected yet".into()));
        };
        let current = client
            .send(get_state_event_for_key::v3::Request::new(
                room_id.to_owned(),
                StateEventType::RoomPowerLevels,
                String::new(),
            ))
            .await
            .map_err(|e| from_http(&e))?;
        let levels: Value = serde_json::from_str(current.event_or_content.get())
            .map_err(|e| Failure::Rejected(format!("unreadable power levels: {e}")))?;
        let Some(levels) = members_may_pin(&levels) else {
            return Ok(());
        };
        let raw = serde_json::value::to_raw_value(&levels)
            .map(Raw::from_json)
            .map_err(|e| Failure::Rejected(format!("cannot encode the power levels: {e}")))?;
        client
            .send(send_state_event::v3::Request::new_raw(
                room_id.to_owned(),
                StateEventType::RoomPowerLevels,
                String::new(),
                raw,
            ))
            .await
            .map(|_| ())
            .map_err(|e| from_http(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_is_lowered_to_the_members_level_and_nothing_else_changes() {
        // Synapse's public_chat preset in a version 12 room.
        let levels = json!({
            "ban": 50, "events_default": 0, "state_default": 50, "users_default": 0,
            "events": {"m.room.name": 50, "m.room.power_levels": 100, "m.room.tombstone": 150},
            "users": {},
        });
        let new = members_may_pin(&levels).expect("a change");
        assert_eq!(new["events"][PINNED], 0);
        assert_eq!(new["events"]["m.room.power_levels"], 100);
        assert_eq!(new["events"]["m.room.tombstone"], 150);
        assert_eq!(new["state_default"], 50);
        assert_eq!(new["ban"], 50);
    }

    #[test]
    fn rooms_where_members_may_pin_are_left_alone() {
        assert_eq!(members_may_pin(&json!({"events": {PINNED: 0}})), None);
        assert_eq!(members_may_pin(&json!({"state_default": 0})), None);
        assert_eq!(
            members_may_pin(&json!({"users_default": 10, "events": {PINNED: "10"}})),
            None
        );
        // No levels at all: the spec's defaults (state events need 50).
        assert_eq!(
            members_may_pin(&json!({})),
            Some(json!({"events": {PINNED: 0}}))
        );
        assert_eq!(
            members_may_pin(&json!({"users_default": 5, "events": null})),
            Some(json!({"users_default": 5, "events": {PINNED: 5}}))
        );
    }
}
