//! Renaming rooms through `Chat::rename_room`: recorded by a backend that can, refused with
//! `Unsupported` by one without the `rename_rooms` capability, and backend refusals passed on.

use ferrbot::BackendError;
use ferrbot::prelude::*;
use ferrbot::testing::{Op, TestBot, caps};

/// Rename the room this is said in.
#[derive(clap::Parser)]
#[command(name = "rename-here")]
struct RenameHere {
    /// The new name.
    name: String,
}

impl Command for RenameHere {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        match ctx.chat().rename_room(ctx.room(), &self.name).await {
            Ok(()) => Ok(Reply::text(format!("Renamed to {}.", self.name))),
            Err(BackendError::Unsupported { op }) => {
                Ok(Reply::text(format!("Cannot rename here ({op}).")))
            }
            Err(e) => Err(CommandError::user(format!("Could not rename: {e}"))),
        }
    }
}

struct Renamer;

impl Plugin for Renamer {
    fn manifest(&self) -> Manifest {
        Manifest::new("renamer", "0.1.0").command::<RenameHere>()
    }
}

async fn bot() -> TestBot {
    TestBot::builder()
        .plugin(Renamer)
        .backend("slack", caps::slack())
        .backend("console", caps::console())
        .backend(
            "norename",
            Capabilities {
                rename_rooms: false,
                ..Capabilities::full()
            },
        )
        .build()
        .await
}

#[tokio::test]
async fn a_rename_reaches_a_backend_that_can_and_is_unsupported_elsewhere() {
    assert!(caps::slack().rename_rooms && caps::discord().rename_rooms);
    assert!(caps::matrix().rename_rooms && !caps::console().rename_rooms);
    assert!(Capabilities::full().rename_rooms && !Capabilities::minimal().rename_rooms);

    let bot = bot().await;
    bot.say_in("slack:ops", "slack:alice", "!rename-here war-room")
        .await;
    assert_eq!(bot.next_reply().await.text(), "Renamed to war-room.");
    assert_eq!(
        bot.ops("slack"),
        [Op::RenameRoom {
            room: "slack:ops".parse().unwrap(),
            name: "war-room".into(),
        }]
    );

    for backend in ["console", "norename"] {
        bot.say_in(
            &format!("{backend}:ops"),
            &format!("{backend}:alice"),
            "!rename-here war-room",
        )
        .await;
        assert_eq!(
            bot.next_reply().await.text(),
            "Cannot rename here (rename_room).",
            "{backend}"
        );
        assert!(bot.ops(backend).is_empty(), "{backend}");
    }

    // Directly through a plugin's context: the error is `Unsupported`, nothing recorded.
    let chat = bot.context("renamer").chat();
    let err = chat
        .rename_room(&"console:ops".parse().unwrap(), "x")
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::Unsupported { op: "rename_room" }),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_rename_reaches_the_user_and_records_nothing() {
    let bot = bot().await;
    bot.fail_ops("slack", [BackendError::rejected("name_taken")]);
    bot.say_in("slack:ops", "slack:alice", "!rename-here general")
        .await;
    let reply = bot.next_reply().await.text();
    assert_eq!(reply, "Could not rename: rejected: name_taken");
    assert!(bot.ops("slack").is_empty());
}
