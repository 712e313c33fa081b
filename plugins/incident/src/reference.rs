//! Incident references (`42`, `#42`, `inc-42`) and the target of a command when none is
//! named: the incident whose room or thread this is, then the room's focus, else an error
//! listing the open incidents.

use sqlx::AnyConnection;

use crate::model::Incident;
use crate::store::{self, DbError};

/// Parses `42`, `#42` or `inc-42` (any case).
pub fn parse(text: &str) -> Option<u64> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let digits = lower
        .strip_prefix('#')
        .or_else(|| lower.strip_prefix("inc-"))
        .unwrap_or(&lower);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// True for the explicit forms `#42` and `inc-42` (a bare number is ambiguous in free text).
pub fn is_explicit(text: &str) -> bool {
    let lower = text.trim().to_ascii_lowercase();
    (lower.starts_with('#') || lower.starts_with("inc-")) && parse(&lower).is_some()
}

/// Why no incident was found.
#[derive(Debug, thiserror::Error)]
pub enum RefError {
    /// Not a reference.
    #[error("`{given}` is not an incident reference (use 42, #42 or inc-42); {open}")]
    Bad {
        /// What was typed.
        given: String,
        /// The open incidents, listed.
        open: String,
    },
    /// No such incident.
    #[error("there is no incident #{id}; {open}")]
    NotFound {
        /// The id.
        id: u64,
        /// The open incidents, listed.
        open: String,
    },
    /// Nothing named and nothing inferred.
    #[error(
        "which incident? This room is no incident's room and has no focus; {open} — name one (`#42`) or set `!inc focus 42`"
    )]
    NoTarget {
        /// The open incidents, listed.
        open: String,
    },
    /// Storage.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// `open incidents: #2 DB down, #1 Checkout 502s` (or `there are no open incidents`).
pub fn list_open(open: &[Incident]) -> String {
    if open.is_empty() {
        return "there are no open incidents".to_owned();
    }
    let items: Vec<String> = open
        .iter()
        .map(|i| format!("#{} {}", i.id, i.title))
        .collect();
    format!("open incidents: {}", items.join(", "))
}

/// Finds the target incident: `given` when present, else by room/thread, else by focus.
///
/// # Errors
/// [`RefError`], listing the open incidents.
pub async fn resolve(
    c: &mut AnyConnection,
    given: Option<&str>,
    room: &str,
    thread: Option<&str>,
) -> Result<Incident, RefError> {
    let id = match given {
        Some(text) => match parse(text) {
            Some(id) => Some(id),
            None => {
                let open = list_open(&store::open_incidents(c).await?);
                return Err(RefError::Bad {
                    given: text.to_owned(),
                    open,
                });
            }
        },
        None => match store::incident_by_place(c, room, thread).await? {
            Some(id) => Some(id),
            None => store::focus(c, room).await?,
        },
    };
    let Some(id) = id else {
        let open = list_open(&store::open_incidents(c).await?);
        return Err(RefError::NoTarget { open });
    };
    match store::incident(c, id).await? {
        Some(incident) => Ok(incident),
        None => {
            let open = list_open(&store::open_incidents(c).await?);
            Err(RefError::NotFound { id, open })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        for t in ["42", "#42", "inc-42", "INC-42", " #42 "] {
            assert_eq!(parse(t), Some(42), "{t}");
        }
        for t in ["", "#", "inc-", "42a", "#-1", "0", "sev2", "inc42"] {
            assert_eq!(parse(t), None, "{t}");
        }
        assert!(is_explicit("#4") && is_explicit("inc-4") && !is_explicit("4"));
    }
}
