//! What a plugin's context offers: start-up, scheduled jobs, config, message events, chat
//! operations that degrade by capability, and messages to admins.

use std::sync::Arc;
use std::time::Duration;

use ferrbot::backend::MessageEvent;
use ferrbot::config::BotConfig;
use ferrbot::prelude::*;
use ferrbot::testing::{Op, TestBot, caps};
use tokio::sync::Mutex;

#[derive(serde::Deserialize)]
struct WatchConfig {
    room: String,
    #[serde(default = "default_every")]
    every_ms: u64,
}

fn default_every() -> u64 {
    1000
}

/// A plugin that posts a tick from a scheduled job and records message events.
struct Watcher {
    events: Arc<Mutex<Vec<MessageEvent>>>,
}

/// Create a room and pin a message in it.
#[derive(clap::Parser)]
#[command(name = "war-room")]
struct WarRoom;

impl Command for WarRoom {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        let backend = ctx.room().backend().to_owned();
        let caps = ctx
            .capabilities(&backend)
            .unwrap_or_else(Capabilities::minimal);
        if !caps.create_rooms {
            return Ok(Reply::text("No rooms here: we will work in this thread."));
        }
        let spec = RoomSpec {
            name: "inc-42".into(),
            topic: Some("checkout down".into()),
            invite: vec![ctx.caller().id.clone()],
            private: false,
        };
        let room = ctx
            .chat()
            .create_room(&backend, &spec)
            .await
            .map_err(CommandError::backend)?;
        let id = ctx
            .send(Target::room(room.clone()), OutgoingMessage::new("Welcome"))
            .delivered()
            .await?;
        match ctx.chat().pin(&room, &id).await {
            Ok(()) => Ok(Reply::text(format!(
                "Created {room} and pinned the welcome."
            ))),
            Err(ferrbot::BackendError::Unsupported { .. }) => Ok(Reply::text(format!(
                "Created {room}; pins are not available here."
            ))),
            Err(e) => Err(CommandError::backend(e)),
        }
    }
}

#[async_trait]
impl Plugin for Watcher {
    fn manifest(&self) -> Manifest {
        Manifest::new("watcher", "0.1.0").command::<WarRoom>()
    }

    async fn start(&self, ctx: PluginContext) -> Result<(), PluginError> {
        let config: WatchConfig = ctx.config().map_err(|e| PluginError(e.to_string()))?;
        let room: RoomId = config
            .room
            .parse()
            .map_err(|e: ferrbot::id::IdError| PluginError(e.to_string()))?;
        let job_ctx = ctx.clone();
        ctx.every("tick", Duration::from_millis(config.every_ms), move || {
            let ctx = job_ctx.clone();
            let room = room.clone();
            async move {
                let n = ctx.store().incr("ticks").await.unwrap_or(-1);
                let _ = ctx.send(
                    Target::room(room),
                    OutgoingMessage::new(format!("tick {n} at {}", ctx.now())),
                );
            }
        });
        Ok(())
    }

    async fn on_message_event(&self, _ctx: PluginContext, event: MessageEvent) {
        self.events.lock().await.push(event);
    }
}

fn watcher() -> (Watcher, Arc<Mutex<Vec<MessageEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    (
        Watcher {
            events: events.clone(),
        },
        events,
    )
}

#[tokio::test]
async fn scheduled_jobs_run_on_demand_with_the_manual_clock() {
    let (plugin, _) = watcher();
    let bot = TestBot::builder()
        .plugin(plugin)
        .config("[plugins.watcher]\nroom = \"test:ops\"")
        .build()
        .await;
    bot.assert_silent(Duration::from_millis(100)).await;
    bot.clock().advance(Duration::from_secs(3600));
    bot.run_jobs().await;
    let tick = bot.next_reply().await;
    assert_eq!(tick.text(), "tick 1 at 2026-01-01T01:00:00Z");
    assert_eq!(tick.room().unwrap().to_string(), "test:ops");
}

#[tokio::test]
async fn scheduled_jobs_run_on_timers_in_a_bot_without_backends() {
    let (plugin, _) = watcher();
    let store = ferrbot::store::Store::memory().await.unwrap();
    let config: toml::Value = toml::from_str("room = \"nowhere:ops\"\nevery_ms = 30").unwrap();
    let bot = ferrbot::Bot::builder(BotConfig::default())
        .store(store.clone())
        .plugin(Arc::new(plugin), config)
        .build()
        .await
        .unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(bot.run(stop.clone()));
    let kv = store.kv("plugin/watcher");
    let mut ticks = 0;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ticks = kv.get::<i64>("ticks").await.unwrap().unwrap_or(0);
        if ticks >= 3 {
            break;
        }
    }
    assert!(ticks >= 3, "the job ran {ticks} times");
    stop.cancel();
    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_plugin_with_bad_config_does_not_start() {
    let (plugin, _) = watcher();
    let bot = ferrbot::Bot::builder(BotConfig::default())
        .plugin(Arc::new(plugin), toml::from_str("rooom = \"x\"").unwrap())
        .build()
        .await
        .unwrap();
    let err = bot
        .run(tokio_util::sync::CancellationToken::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("plugin `watcher` failed to start"), "{err}");
    assert!(
        err.contains("[plugins.watcher]: missing field `room`"),
        "{err}"
    );
}

#[tokio::test]
async fn message_events_reach_plugins() {
    let (plugin, events) = watcher();
    let bot = TestBot::builder()
        .plugin(plugin)
        .config("[plugins.watcher]\nroom = \"test:ops\"")
        .build()
        .await;
    let pinned = MessageEvent::Pinned {
        room: "test:ops".parse().unwrap(),
        message: "test:m1".parse().unwrap(),
        by: Some("test:alice".parse().unwrap()),
        author: None,
        text: Some("db is back".into()),
    };
    bot.message_event("test", pinned.clone()).await;
    assert_eq!(events.lock().await.as_slice(), [pinned]);
}

#[tokio::test]
async fn chat_operations_degrade_by_capability() {
    let (full, _) = watcher();
    let bot = TestBot::builder()
        .plugin(full)
        .config("[plugins.watcher]\nroom = \"slack:ops\"")
        .backend("slack", caps::slack())
        .backend("console", caps::console())
        .backend(
            "nopin",
            Capabilities {
                pin: false,
                ..Capabilities::full()
            },
        )
        .build()
        .await;
    bot.say("slack:U1", "!war-room").await;
    let welcome = bot.next_reply().await;
    assert_eq!(welcome.text(), "Welcome");
    let reply = bot.next_reply().await.text();
    assert!(
        reply.starts_with("Created slack:room") && reply.ends_with("pinned the welcome."),
        "{reply}"
    );
    let ops = bot.ops("slack");
    assert!(matches!(&ops[0], Op::CreateRoom { spec, .. } if spec.name == "inc-42"));
    assert!(matches!(&ops[1], Op::Pin { .. }));

    bot.say("console:alice", "!war-room").await;
    assert_eq!(
        bot.next_reply().await.text(),
        "No rooms here: we will work in this thread."
    );

    bot.say("nopin:bob", "!war-room").await;
    bot.next_reply().await; // the welcome
    assert!(
        bot.next_reply()
            .await
            .text()
            .contains("pins are not available here")
    );
}

/// Remember a token for the caller.
#[derive(clap::Parser)]
#[command(name = "login")]
struct Login {
    /// The token.
    token: String,
}

/// Use the caller's token.
#[derive(clap::Parser)]
#[command(name = "use-token")]
struct UseToken;

struct Vaulted;

impl Plugin for Vaulted {
    fn manifest(&self) -> Manifest {
        Manifest::new("vaulted", "0.1.0")
            .command_spec(CommandSpec::from_fn(|args: Login, ctx: Ctx| async move {
                let value = ferrbot_secrets::SecretValue::from(args.token.as_str());
                ctx.caller_credentials()?.set("token", &value, None).await?;
                Ok(Reply::text("Saved your token."))
            }))
            .command_spec(CommandSpec::from_fn(|_: UseToken, ctx: Ctx| async move {
                match ctx.caller_credentials()?.get("token").await? {
                    Some(token) => Ok(Reply::text(format!(
                        "Using your token ({} characters, {token:?}).",
                        token.expose().len()
                    ))),
                    None => {
                        Err(CommandError::user("You have no token.")
                            .with_hint("use !login <token>"))
                    }
                }
            }))
    }
}

#[tokio::test]
async fn per_user_credentials_are_never_shared_between_users_or_plugins() {
    let store: Arc<dyn ferrbot_secrets::SecretStore> =
        Arc::new(ferrbot_secrets::MemoryStore::new());
    let bot = TestBot::builder()
        .plugin(Vaulted)
        .secrets(store.clone())
        .build()
        .await;
    bot.say_direct("test:alice", "login s3cr3t-alice").await;
    assert_eq!(bot.next_reply().await.text(), "Saved your token.");
    bot.say("test:alice", "!use-token").await;
    let reply = bot.next_reply().await.text();
    assert_eq!(reply, "Using your token (12 characters, [redacted]).");
    assert!(!reply.contains("s3cr3t"));
    bot.say("test:bob", "!use-token").await;
    assert_eq!(
        bot.next_reply().await.text(),
        "You have no token. — use !login <token>"
    );

    // Another plugin's views cannot reach this one's entries.
    let other = bot.context("other").credentials().unwrap();
    assert!(other.get("test:alice", "token").await.unwrap().is_none());
    let own = bot.context("vaulted").credentials().unwrap();
    assert_eq!(
        own.get("test:alice", "token")
            .await
            .unwrap()
            .unwrap()
            .expose(),
        b"s3cr3t-alice"
    );
    assert_eq!(own.list_users().await.unwrap(), ["test:alice"]);
}

/// Start a session.
#[derive(clap::Parser)]
#[command(name = "start")]
struct SessionStart {
    /// The shared word.
    word: String,
}

/// Pin the last message (uses `?` on a backend call).
#[derive(clap::Parser)]
#[command(name = "pin-it")]
struct PinIt;

struct Api;

impl Plugin for Api {
    fn manifest(&self) -> Manifest {
        Manifest::new("api", "0.1.0")
            .command_spec(
                CommandSpec::from_fn(|a: SessionStart, ctx: Ctx| async move {
                    ctx.reply("working on it").delivered().await?;
                    Ok(Reply::text(format!("session with {}", a.word)))
                })
                .named("session start"),
            )
            .command_spec(CommandSpec::from_fn(|_: PinIt, ctx: Ctx| async move {
                let id: MessageId = "nopin:m1".parse()?;
                ctx.chat().pin(ctx.room(), &id).await?;
                Ok(Reply::text("pinned"))
            }))
            .matcher(MatcherSpec::pattern(
                "deploy matcher",
                r"^deploy (?P<env>\S+)$",
                |_ctx, caps| async move {
                    match caps.named["env"].as_str() {
                        "prod" | "staging" => Ok(Reply::text("deploying")),
                        other => Err(CommandError::user(format!("unknown environment `{other}`"))
                            .with_hint("prod or staging")),
                    }
                },
            ))
    }
}

#[tokio::test]
async fn renamed_commands_show_their_full_name_in_usage() {
    let bot = TestBot::with_plugin(Api).await;
    bot.say("test:alice", "!session start").await;
    let usage = bot.next_reply().await.text();
    assert!(usage.contains("Usage: session start <WORD>"), "{usage}");
    bot.say("test:alice", "!session start swordfish").await;
    assert_eq!(bot.next_reply().await.text(), "working on it");
    assert_eq!(bot.next_reply().await.text(), "session with swordfish");
}

#[tokio::test]
async fn unsupported_backend_calls_through_question_mark_still_say_unsupported() {
    let bot = TestBot::builder()
        .plugin(Api)
        .backend(
            "nopin",
            Capabilities {
                pin: false,
                ..Capabilities::full()
            },
        )
        .build()
        .await;
    bot.say("nopin:alice", "!pin-it").await;
    assert_eq!(
        bot.next_reply().await.text(),
        "`!pin-it` needs `pin`, which this chat network does not offer."
    );
}

#[tokio::test]
async fn matcher_user_errors_reach_the_user() {
    let bot = TestBot::with_plugin(Api).await;
    bot.say("test:alice", "deploy prod").await;
    assert_eq!(bot.next_reply().await.text(), "deploying");
    bot.say("test:alice", "deploy moon").await;
    assert_eq!(
        bot.next_reply().await.text(),
        "unknown environment `moon` — prod or staging"
    );
}

struct BadPattern;

impl Plugin for BadPattern {
    fn manifest(&self) -> Manifest {
        Manifest::new("bad", "0.1.0").matcher(MatcherSpec::pattern(
            "broken",
            "(unclosed",
            |_ctx, _caps| async { Ok(Reply::none()) },
        ))
    }
}

#[tokio::test]
async fn an_invalid_matcher_pattern_stops_start_up_with_the_reason() {
    let err = match ferrbot::Bot::builder(BotConfig::default())
        .plugin(Arc::new(BadPattern), toml::Value::Table(toml::Table::new()))
        .build()
        .await
    {
        Ok(_) => panic!("a bad pattern was accepted"),
        Err(err) => err.to_string(),
    };
    assert!(err.starts_with("invalid pattern `(unclosed`:"), "{err}");
    assert!(err.contains("unclosed group"), "{err}");
}
