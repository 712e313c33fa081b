//! Who administers a channel: Discord's permission computation (guild owner, role
//! permissions, then the channel's `@everyone`, role and member overwrites, in that order),
//! reduced to one question — may the member manage the channel?

use serde_json::Value;

/// Members with this permission administer every channel of the guild.
pub const ADMINISTRATOR: u64 = 1 << 3;
/// Members with this permission (after overwrites) administer the channel.
pub const MANAGE_CHANNELS: u64 = 1 << 4;

/// A permission set as Discord sends it (a decimal string; numbers are accepted too).
fn bits(value: Option<&Value>) -> u64 {
    match value {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

fn id_of(value: &Value) -> Option<&str> {
    value.get("id").and_then(Value::as_str)
}

/// Whether the member may manage the channel.
///
/// `guild` is a Guild object (`owner_id`, `roles` with `permissions`), `member` a Guild Member
/// (`user.id`, `roles`: role ids), `channel` the channel whose `permission_overwrites` apply
/// (a thread's parent channel for threads).
pub fn may_manage_channel(guild: &Value, member: &Value, channel: &Value) -> bool {
    let guild_id = id_of(guild).unwrap_or_default();
    let user_id = member
        .get("user")
        .and_then(id_of)
        .unwrap_or_default()
        .to_owned();
    if user_id.is_empty() {
        return false;
    }
    if guild.get("owner_id").and_then(Value::as_str) == Some(user_id.as_str()) {
        return true;
    }
    let member_roles: Vec<&str> = member
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let roles = guild
        .get("roles")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut permissions = 0;
    for role in roles {
        let Some(id) = id_of(role) else { continue };
        if id == guild_id || member_roles.contains(&id) {
            permissions |= bits(role.get("permissions"));
        }
    }
    if permissions & ADMINISTRATOR != 0 {
        return true;
    }
    let overwrites = channel
        .get("permission_overwrites")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let overwrite = |pred: &dyn Fn(&Value) -> bool| {
        overwrites
            .iter()
            .filter(|o| pred(o))
            .fold((0, 0), |(a, d), o| {
                (a | bits(o.get("allow")), d | bits(o.get("deny")))
            })
    };
    let kind = |o: &Value| o.get("type").and_then(Value::as_u64);
    let (allow, deny) = overwrite(&|o| id_of(o) == Some(guild_id) && kind(o) == Some(0));
    permissions = (permissions & !deny) | allow;
    let (allow, deny) = overwrite(&|o| {
        kind(o) == Some(0)
            && id_of(o).is_some_and(|id| id != guild_id && member_roles.contains(&id))
    });
    permissions = (permissions & !deny) | allow;
    let (allow, deny) = overwrite(&|o| kind(o) == Some(1) && id_of(o) == Some(user_id.as_str()));
    permissions = (permissions & !deny) | allow;
    permissions & MANAGE_CHANNELS != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn guild() -> Value {
        json!({
            "id": "1", "owner_id": "10",
            "roles": [
                {"id": "1", "permissions": "1024"},
                {"id": "20", "permissions": "1040"},
                {"id": "21", "permissions": "8"}
            ]
        })
    }

    fn member(id: &str, roles: &[&str]) -> Value {
        json!({"user": {"id": id}, "roles": roles})
    }

    #[test]
    fn owner_administrator_and_managers_manage_the_channel() {
        let plain = json!({"id": "5", "permission_overwrites": []});
        assert!(may_manage_channel(&guild(), &member("10", &[]), &plain));
        assert!(may_manage_channel(&guild(), &member("11", &["21"]), &plain));
        assert!(may_manage_channel(&guild(), &member("12", &["20"]), &plain));
        assert!(!may_manage_channel(&guild(), &member("13", &[]), &plain));
        assert!(!may_manage_channel(&guild(), &json!({"roles": []}), &plain));
    }

    #[test]
    fn overwrites_apply_everyone_then_roles_then_the_member() {
        // The moderators' role loses MANAGE_CHANNELS here, but one moderator gets it back;
        // a plain member is granted it directly; @everyone is granted it and a role denies.
        let channel = json!({"id": "6", "permission_overwrites": [
            {"id": "20", "type": 0, "allow": "0", "deny": "16"},
            {"id": "12", "type": 1, "allow": "16", "deny": "0"},
            {"id": "14", "type": 1, "allow": "16", "deny": "0"}
        ]});
        assert!(may_manage_channel(
            &guild(),
            &member("12", &["20"]),
            &channel
        ));
        assert!(!may_manage_channel(
            &guild(),
            &member("15", &["20"]),
            &channel
        ));
        assert!(may_manage_channel(&guild(), &member("14", &[]), &channel));
        let everyone = json!({"permission_overwrites": [
            {"id": "1", "type": 0, "allow": "16", "deny": "0"},
            {"id": "20", "type": 0, "allow": "0", "deny": "16"}
        ]});
        assert!(may_manage_channel(&guild(), &member("13", &[]), &everyone));
        assert!(!may_manage_channel(
            &guild(),
            &member("15", &["20"]),
            &everyone
        ));
        // Administrators are not subject to overwrites.
        assert!(may_manage_channel(
            &guild(),
            &member("11", &["21", "20"]),
            &channel
        ));
    }
}
