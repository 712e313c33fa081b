//! Who may change an incident (§4.3): *responders* (the lead, anyone holding a role, the
//! reporter, bot admins) by default; `edit_policy = "participants"` adds everyone who joined,
//! `"anyone"` lets every user the bot's access rules allow. Refusals say who may.

use crate::model::{Incident, Participant, RoleAssignment};

/// The configured edit policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditPolicy {
    /// Lead, role holders, reporter, bot admins.
    Responders,
    /// Responders plus current participants.
    Participants,
    /// Everyone.
    Anyone,
}

/// Who is asking.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    /// Backend-qualified user id.
    pub user: &'a str,
    /// A bot admin.
    pub admin: bool,
}

/// A refusal; the text names who may.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("only {who} may {action} {incident}")]
pub struct Denied {
    /// Who may.
    pub who: String,
    /// What was refused (`change the severity of`).
    pub action: String,
    /// `#42`.
    pub incident: String,
}

/// True when `caller` is a responder of `incident` (current roles only).
pub fn is_responder(incident: &Incident, roles: &[RoleAssignment], caller: Caller<'_>) -> bool {
    caller.admin
        || incident.lead.as_deref() == Some(caller.user)
        || incident.reporter.as_deref() == Some(caller.user)
        || roles
            .iter()
            .any(|r| r.until.is_none() && r.user == caller.user)
}

fn responders_text(incident: &Incident, roles: &[RoleAssignment], role_names: &[String]) -> String {
    let mut names = Vec::new();
    if let Some(lead) = &incident.lead {
        names.push(format!("the lead ({lead})"));
    } else {
        names.push("the lead".to_owned());
    }
    let holders: Vec<String> = roles
        .iter()
        .filter(|r| r.until.is_none() && r.role != "lead")
        .map(|r| format!("{} {}", r.role, r.user))
        .collect();
    if holders.is_empty() {
        let others: Vec<&str> = role_names
            .iter()
            .map(String::as_str)
            .filter(|r| *r != "lead")
            .collect();
        if !others.is_empty() {
            names.push(format!("role holders ({})", others.join(", ")));
        }
    } else {
        names.push(format!("role holders ({})", holders.join(", ")));
    }
    match &incident.reporter {
        Some(r) => names.push(format!("the reporter ({r})")),
        None => names.push("the reporter".to_owned()),
    }
    names.push("bot admins".to_owned());
    format!(
        "responders of {} ({})",
        incident.reference(),
        names.join(", ")
    )
}

/// Checks that `caller` may `action` (e.g. `change the severity of`) `incident` under `policy`.
///
/// # Errors
/// [`Denied`], naming who may.
pub fn check_edit(
    policy: EditPolicy,
    incident: &Incident,
    roles: &[RoleAssignment],
    participants: &[Participant],
    role_names: &[String],
    caller: Caller<'_>,
    action: &str,
) -> Result<(), Denied> {
    let allowed = match policy {
        EditPolicy::Anyone => true,
        EditPolicy::Responders => is_responder(incident, roles, caller),
        EditPolicy::Participants => {
            is_responder(incident, roles, caller)
                || participants
                    .iter()
                    .any(|p| p.left_at.is_none() && p.user == caller.user)
        }
    };
    if allowed {
        return Ok(());
    }
    let who = match policy {
        EditPolicy::Participants => format!(
            "participants (`!inc join`) and {}",
            responders_text(incident, roles, role_names)
        ),
        _ => responders_text(incident, roles, role_names),
    };
    Err(Denied {
        who,
        action: action.to_owned(),
        incident: incident.reference(),
    })
}
