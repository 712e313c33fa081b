//! Access control: bot admins and per-command rules, decided before a command runs and used
//! to hide from `help` what a user may not run.

use globset::{Glob, GlobMatcher};

use crate::config::{AclRule, BotConfig};
use crate::error::StartError;
use crate::id::{RoomId, UserId};
use crate::plugin::Access;

fn globs(patterns: &[String]) -> Result<Vec<GlobMatcher>, StartError> {
    patterns
        .iter()
        .map(|p| {
            Glob::new(p)
                .map(|g| g.compile_matcher())
                .map_err(|e| StartError::Pattern {
                    pattern: p.clone(),
                    reason: e.kind().to_string(),
                })
        })
        .collect()
}

fn any_match(globs: &[GlobMatcher], text: &str) -> bool {
    globs.iter().any(|g| g.is_match(text))
}

struct CompiledRule {
    commands: Vec<GlobMatcher>,
    allow_users: Vec<GlobMatcher>,
    deny_users: Vec<GlobMatcher>,
    allow_rooms: Vec<GlobMatcher>,
    deny_rooms: Vec<GlobMatcher>,
    allow_direct: Option<bool>,
    allow_rooms_at_all: Option<bool>,
}

impl CompiledRule {
    fn new(rule: &AclRule) -> Result<Self, StartError> {
        Ok(Self {
            commands: globs(&rule.commands)?,
            allow_users: globs(&rule.allow_users)?,
            deny_users: globs(&rule.deny_users)?,
            allow_rooms: globs(&rule.allow_rooms)?,
            deny_rooms: globs(&rule.deny_rooms)?,
            allow_direct: rule.allow_direct,
            allow_rooms_at_all: rule.allow_rooms_at_all,
        })
    }
}

/// Who is asking, and where.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// The user.
    pub user: &'a UserId,
    /// The room (the conversation, for direct messages).
    pub room: &'a RoomId,
    /// True in direct messages.
    pub direct: bool,
}

/// The access decision for one command and caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead.
    Allow,
    /// Refused, with a reason that says who may.
    Deny(String),
}

/// The compiled access rules.
pub struct Acl {
    admins: Vec<GlobMatcher>,
    rules: Vec<CompiledRule>,
}

impl Acl {
    /// Compiles the rules of `[bot]`.
    ///
    /// # Errors
    /// When a pattern is not a valid glob.
    pub fn new(config: &BotConfig) -> Result<Self, StartError> {
        Ok(Self {
            admins: globs(&config.admins)?,
            rules: config
                .acl
                .iter()
                .map(CompiledRule::new)
                .collect::<Result<_, _>>()?,
        })
    }

    /// True when `user` is a bot admin.
    pub fn is_admin(&self, user: &UserId) -> bool {
        any_match(&self.admins, &user.to_string())
    }

    /// May `caller` run `command` (whose default access is `access`)?
    pub fn check(&self, command: &str, access: Access, caller: Caller<'_>) -> Decision {
        if self.is_admin(caller.user) {
            return Decision::Allow;
        }
        if access == Access::Admins {
            return Decision::Deny(format!("only bot admins may run `{command}`"));
        }
        let Some(rule) = self.rules.iter().find(|r| any_match(&r.commands, command)) else {
            return Decision::Allow;
        };
        let user = caller.user.to_string();
        let room = caller.room.to_string();
        if any_match(&rule.deny_users, &user)
            || (!rule.allow_users.is_empty() && !any_match(&rule.allow_users, &user))
        {
            return Decision::Deny(format!(
                "you are not allowed to run `{command}`; ask a bot admin for access"
            ));
        }
        if caller.direct {
            if rule.allow_direct == Some(false) {
                return Decision::Deny(format!(
                    "`{command}` is not available in direct messages; use it in a room"
                ));
            }
        } else {
            if rule.allow_rooms_at_all == Some(false) {
                return Decision::Deny(format!(
                    "`{command}` is only available in direct messages with the bot"
                ));
            }
            if any_match(&rule.deny_rooms, &room)
                || (!rule.allow_rooms.is_empty() && !any_match(&rule.allow_rooms, &room))
            {
                return Decision::Deny(format!("`{command}` is not allowed in this room"));
            }
        }
        Decision::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(toml_text: &str) -> Acl {
        let config: BotConfig = toml::from_str(toml_text).unwrap();
        Acl::new(&config).unwrap()
    }

    fn check(acl: &Acl, command: &str, user: &str, room: &str, direct: bool) -> Decision {
        let user: UserId = user.parse().unwrap();
        let room: RoomId = room.parse().unwrap();
        acl.check(
            command,
            Access::Everyone,
            Caller {
                user: &user,
                room: &room,
                direct,
            },
        )
    }

    #[test]
    fn first_matching_rule_decides() {
        let acl = acl(r#"
            admins = ["slack:UADMIN"]
            [[acl]]
            commands = ["incident declare"]
            allow_users = ["slack:*"]
            [[acl]]
            commands = ["incident *"]
            deny_users = ["slack:UBAD"]
            deny_rooms = ["slack:CRANDOM"]
            allow_direct = false
        "#);
        assert_eq!(
            check(&acl, "incident declare", "slack:UBAD", "slack:C1", false),
            Decision::Allow
        );
        assert!(
            matches!(check(&acl, "incident declare", "matrix:@a:x", "matrix:!r:x", false), Decision::Deny(m) if m.contains("not allowed"))
        );
        assert!(matches!(
            check(&acl, "incident ack", "slack:UBAD", "slack:C1", false),
            Decision::Deny(_)
        ));
        assert!(
            matches!(check(&acl, "incident ack", "slack:U1", "slack:CRANDOM", false), Decision::Deny(m) if m.contains("this room"))
        );
        assert!(
            matches!(check(&acl, "incident ack", "slack:U1", "slack:D1", true), Decision::Deny(m) if m.contains("direct messages"))
        );
        assert_eq!(
            check(&acl, "help", "slack:UBAD", "slack:CRANDOM", false),
            Decision::Allow
        );
        assert_eq!(
            check(&acl, "incident ack", "slack:UADMIN", "slack:CRANDOM", false),
            Decision::Allow
        );
    }

    #[test]
    fn admin_only_commands_name_who_may() {
        let acl = acl(r#"admins = ["console:root"]"#);
        let user: UserId = "console:alice".parse().unwrap();
        let room: RoomId = "console:tty".parse().unwrap();
        let caller = Caller {
            user: &user,
            room: &room,
            direct: false,
        };
        assert_eq!(
            acl.check("plugins", Access::Admins, caller),
            Decision::Deny("only bot admins may run `plugins`".into())
        );
    }
}
