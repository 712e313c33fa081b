//! Where an incident's conversation and headline changes go, decided from the backend's
//! capabilities (never its name): a room of its own, a thread under the headline, or the
//! announce room with explicit incident ids.

use ferrbot::Capabilities;

/// When incidents get a room of their own (config `rooms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomMode {
    /// Every incident.
    Always,
    /// Incidents of this severity or more severe (`sev<=N`; 1 is the most severe).
    SeverityAtMost(u8),
    /// Only on `!incident room`.
    OnDemand,
}

/// Where the incident's conversation lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A room of its own.
    Room,
    /// A thread under the headline post in the announce room.
    Thread,
    /// The announce room itself, each message carrying the incident id.
    AnnounceRoom,
}

impl Placement {
    /// Decide for an incident of `severity` (None: not yet set). `requested` is an explicit
    /// `room` command; `no_room` is `declare --no-room`.
    pub fn decide(
        caps: &Capabilities,
        mode: RoomMode,
        severity: Option<u8>,
        requested: bool,
        no_room: bool,
    ) -> Placement {
        let wants_room = !no_room
            && (requested
                || match mode {
                    RoomMode::Always => true,
                    RoomMode::SeverityAtMost(n) => severity.is_some_and(|s| s <= n),
                    RoomMode::OnDemand => false,
                });
        if wants_room && caps.create_rooms {
            Placement::Room
        } else if caps.threads {
            Placement::Thread
        } else {
            Placement::AnnounceRoom
        }
    }

    /// The line said in the reply when a room was wanted but the backend cannot make one.
    pub fn fallback_note(self, wanted_room: bool) -> Option<&'static str> {
        match (self, wanted_room) {
            (Placement::Thread, true) => {
                Some("no incident rooms on this backend — using a thread under the headline")
            }
            (Placement::AnnounceRoom, true) => Some(
                "no incident rooms or threads on this backend — using the announce room; \
                 give the incident id in commands or set it with `!incident focus`",
            ),
            _ => None,
        }
    }
}

/// How a change reaches the headline post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadlineChange {
    /// Edit the headline post in place.
    Edit,
    /// Post a compact change line, threaded under the headline when `threaded`.
    ChangeLine {
        /// Post it in the headline's thread.
        threaded: bool,
    },
}

impl HeadlineChange {
    /// Decide from the backend's capabilities.
    pub fn decide(caps: &Capabilities) -> HeadlineChange {
        if caps.edits {
            HeadlineChange::Edit
        } else {
            HeadlineChange::ChangeLine {
                threaded: caps.threads,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrbot::testing::caps;

    #[test]
    fn rooms_where_possible() {
        for c in [caps::slack(), caps::discord(), caps::matrix()] {
            assert_eq!(
                Placement::decide(&c, RoomMode::Always, None, false, false),
                Placement::Room
            );
            assert_eq!(
                Placement::decide(&c, RoomMode::Always, None, false, true),
                Placement::Thread,
                "--no-room"
            );
        }
    }

    #[test]
    fn by_severity_and_on_demand() {
        let c = caps::slack();
        let sev2 = RoomMode::SeverityAtMost(2);
        assert_eq!(
            Placement::decide(&c, sev2, Some(1), false, false),
            Placement::Room
        );
        assert_eq!(
            Placement::decide(&c, sev2, Some(3), false, false),
            Placement::Thread
        );
        assert_eq!(
            Placement::decide(&c, sev2, None, false, false),
            Placement::Thread
        );
        assert_eq!(
            Placement::decide(&c, RoomMode::OnDemand, Some(1), false, false),
            Placement::Thread
        );
        assert_eq!(
            Placement::decide(&c, RoomMode::OnDemand, Some(1), true, false),
            Placement::Room
        );
    }

    #[test]
    fn fallbacks_are_said() {
        let threads_only = Capabilities {
            create_rooms: false,
            ..caps::slack()
        };
        let p = Placement::decide(&threads_only, RoomMode::Always, None, false, false);
        assert_eq!(p, Placement::Thread);
        assert!(p.fallback_note(true).unwrap().contains("thread"));
        let console = caps::console();
        let p = Placement::decide(&console, RoomMode::Always, None, false, false);
        assert_eq!(p, Placement::AnnounceRoom);
        assert!(p.fallback_note(true).unwrap().contains("focus"));
        assert_eq!(Placement::Room.fallback_note(true), None);
        assert_eq!(Placement::Thread.fallback_note(false), None);
    }

    #[test]
    fn headline_edit_or_change_line() {
        assert_eq!(HeadlineChange::decide(&caps::slack()), HeadlineChange::Edit);
        assert_eq!(
            HeadlineChange::decide(&caps::console()),
            HeadlineChange::ChangeLine { threaded: false }
        );
        let no_edits = Capabilities {
            edits: false,
            ..caps::matrix()
        };
        assert_eq!(
            HeadlineChange::decide(&no_edits),
            HeadlineChange::ChangeLine { threaded: true }
        );
    }
}
