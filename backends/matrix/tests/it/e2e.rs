//! End-to-end against a real Synapse: a human user (plain client-server API calls) and a real
//! `ferrbot::Bot` with the Matrix backend and the built-in commands.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrbot::backend::RoomSpec;
use ferrbot::prelude::*;
use ferrbot::store::Store;
use ferrbot::{Backend, Plugin};
use serde_json::json;

use crate::support::{RunningBot, SYNAPSE, Synapse, User, body, section, unique};

/// `mkroom <name>`: creates a private room with a topic and invites the caller.
#[derive(clap::Parser)]
#[command(name = "mkroom")]
struct MkRoom {
    /// The room's name.
    name: String,
}

impl Command for MkRoom {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        let spec = RoomSpec {
            name: self.name.clone(),
            topic: Some(format!("Topic of {}", self.name)),
            invite: vec![ctx.caller().id.clone()],
            private: true,
        };
        let room = ctx
            .plugin()
            .chat()
            .create_room(ctx.room().backend(), &spec)
            .await
            .map_err(CommandError::backend)?;
        Ok(Reply::text(format!("created {room}")))
    }
}

struct RoomsPlugin;

impl Plugin for RoomsPlugin {
    fn manifest(&self) -> Manifest {
        Manifest::new("rooms", "1.0.0").command::<MkRoom>()
    }
}

/// Records the message events the bot reports.
#[derive(Default)]
struct Recorder(Arc<Mutex<Vec<MessageEvent>>>);

#[async_trait]
impl Plugin for Recorder {
    fn manifest(&self) -> Manifest {
        Manifest::new("recorder", "1.0.0")
    }

    async fn on_message_event(&self, _ctx: PluginContext, event: MessageEvent) {
        self.0.lock().unwrap().push(event);
    }
}

impl Recorder {
    async fn wait_for(&self, what: &str, matches: impl Fn(&MessageEvent) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if self.0.lock().unwrap().iter().any(&matches) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {what} among {:#?}",
                self.0.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

struct World {
    synapse: Synapse,
    bot: User,
    password: String,
    alice: User,
}

async fn world(synapse: Synapse) -> World {
    let password = unique("pw");
    let bot = synapse.register(&unique("bot"), &password).await;
    let alice = synapse.register(&unique("alice"), "alice-password").await;
    World {
        synapse,
        bot,
        password,
        alice,
    }
}

async fn memory_store() -> Store {
    Store::memory().await.expect("memory store")
}

/// A private room made by alice with the bot invited; returns it once the bot joined.
async fn room_with_bot(w: &World) -> String {
    let room = w
        .alice
        .create_room(json!({"name": "ops", "preset": "private_chat", "invite": [w.bot.user_id]}))
        .await;
    w.alice.wait_joined(&room, &w.bot.user_id).await;
    room
}

#[tokio::test]
async fn invited_bot_answers_help_whoami_mentions_and_direct_messages() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let bot = RunningBot::start(
        memory_store().await,
        &section(
            &w.synapse,
            &w.bot,
            &w.password,
            "display_name = \"Ferr Bot\"",
        ),
        vec![],
    )
    .await;
    let room = room_with_bot(&w).await;

    w.alice.say(&room, "!help").await;
    let help = w
        .alice
        .wait_for(&room, &w.bot.user_id, "the help text", |e| {
            body(e).contains("Commands you can run")
        })
        .await;
    assert_eq!(help["content"]["msgtype"], "m.notice", "{help}");
    let html = help["content"]["formatted_body"]
        .as_str()
        .unwrap_or_default();
    assert!(html.contains("<code>!whoami</code>"), "{html}");
    assert_eq!(help["content"]["format"], "org.matrix.custom.html");

    w.alice.say(&room, "!whoami").await;
    let me = format!("matrix:{}", w.alice.user_id);
    let whoami = w
        .alice
        .wait_for(&room, &w.bot.user_id, "the whoami answer", |e| {
            body(e).contains(&me) && body(e).contains("in room")
        })
        .await;
    assert!(
        body(&whoami).contains(&format!("matrix:{room}")),
        "{whoami}"
    );

    // A pill to the bot, as Element sends it, addresses it without the prefix.
    w.alice
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": "Ferr Bot: about",
                "format": "org.matrix.custom.html",
                "formatted_body": format!("<a href=\"https://matrix.to/#/{}\">Ferr Bot</a>: about", w.bot.user_id),
                "m.mentions": {"user_ids": [w.bot.user_id]},
            }),
        )
        .await;
    w.alice
        .wait_for(&room, &w.bot.user_id, "the answer to a pill mention", |e| {
            body(e).contains("a chat-ops bot")
        })
        .await;
    // So does the bare user id.
    w.alice
        .say(&room, &format!("{} status", w.bot.user_id))
        .await;
    w.alice
        .wait_for(&room, &w.bot.user_id, "the status card", |e| {
            body(e).contains("matrix: connected")
        })
        .await;

    // A direct chat: no prefix needed, and the bot knows it is direct.
    let dm = w
        .alice
        .create_room(
            json!({"is_direct": true, "preset": "trusted_private_chat", "invite": [w.bot.user_id]}),
        )
        .await;
    w.alice.wait_joined(&dm, &w.bot.user_id).await;
    w.alice.say(&dm, "whoami").await;
    w.alice
        .wait_for(&dm, &w.bot.user_id, "the whoami answer in the DM", |e| {
            body(e).contains("in a direct conversation")
        })
        .await;

    // The bot's own notices are never taken as commands: exactly one answer per command.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answers = w.alice.messages_from(&room, &w.bot.user_id).await;
    assert_eq!(answers.len(), 4, "{answers:#?}");
    bot.stop().await;
}

#[tokio::test]
async fn commands_in_a_thread_are_answered_in_the_thread() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let bot = RunningBot::start(
        memory_store().await,
        &section(&w.synapse, &w.bot, &w.password, ""),
        vec![],
    )
    .await;
    let room = room_with_bot(&w).await;
    let root = w.alice.say(&room, "deploy thread").await;
    let command = w
        .alice
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "!whoami",
                "m.relates_to": {"rel_type": "m.thread", "event_id": root,
                                  "is_falling_back": true, "m.in_reply_to": {"event_id": root}},
            }),
        )
        .await;
    let reply = w
        .alice
        .wait_for(&room, &w.bot.user_id, "the answer in the thread", |e| {
            body(e).contains("You are")
        })
        .await;
    let relates = &reply["content"]["m.relates_to"];
    assert_eq!(relates["rel_type"], "m.thread", "{reply}");
    assert_eq!(relates["event_id"], root.as_str(), "{reply}");
    assert_eq!(
        relates["m.in_reply_to"]["event_id"],
        command.as_str(),
        "{reply}"
    );
    assert!(
        body(&reply).contains(&format!("thread `{root}`")),
        "{reply}"
    );

    // A reply (not a thread) with the legacy fallback still dispatches.
    w.alice
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text",
                "body": format!("> <{}> deploy thread\n\n!about", w.alice.user_id),
                "m.relates_to": {"m.in_reply_to": {"event_id": root}},
            }),
        )
        .await;
    let about = w
        .alice
        .wait_for(&room, &w.bot.user_id, "the answer to a reply", |e| {
            body(e).contains("a chat-ops bot")
        })
        .await;
    assert!(about["content"]["m.relates_to"].is_null(), "{about}");

    // Commands said in a room before the bot joined it are history, not commands.
    let later = w.alice.create_room(json!({"preset": "private_chat"})).await;
    w.alice.say(&later, "!about").await;
    w.alice.call_invite(&later, &w.bot.user_id).await;
    w.alice.wait_joined(&later, &w.bot.user_id).await;
    w.alice.say(&later, "!whoami").await;
    w.alice
        .wait_for(&later, &w.bot.user_id, "the answer after joining", |e| {
            body(e).contains("You are")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answers = w.alice.messages_from(&later, &w.bot.user_id).await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    bot.stop().await;
}

#[tokio::test]
async fn bot_creates_rooms_invites_pins_reacts_and_sets_topics() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let bob = w.synapse.register(&unique("bob"), "bob-password").await;
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(RoomsPlugin)];
    let bot = RunningBot::start(
        memory_store().await,
        &section(&w.synapse, &w.bot, &w.password, ""),
        plugins,
    )
    .await;
    let room = room_with_bot(&w).await;

    w.alice.say(&room, "!mkroom incident-42").await;
    let answer = w
        .alice
        .wait_for(&room, &w.bot.user_id, "the created room", |e| {
            body(e).starts_with("created matrix:!")
        })
        .await;
    let created = body(&answer)
        .trim_start_matches("created matrix:")
        .trim()
        .to_owned();
    // alice is invited to the private room, which has the name and topic asked for.
    let invited = w.alice.invites().await;
    assert!(invited.contains(&created), "{created} not in {invited:?}");
    w.alice.join(&created).await;
    let name = w.alice.state(&created, "m.room.name").await.expect("name");
    assert_eq!(name["name"], "incident-42");
    let topic = w
        .alice
        .state(&created, "m.room.topic")
        .await
        .expect("topic");
    assert_eq!(topic["topic"], "Topic of incident-42");
    let rules = w
        .alice
        .state(&created, "m.room.join_rules")
        .await
        .expect("join rules");
    assert_eq!(rules["join_rule"], "invite");

    // The other operations, through the backend itself.
    let created_id: ferrbot::RoomId = format!("matrix:{created}").parse().expect("room id");
    let bob_id: ferrbot::UserId = format!("matrix:{}", bob.user_id).parse().expect("user id");
    bot.backend
        .invite(&created_id, std::slice::from_ref(&bob_id))
        .await
        .expect("invite");
    assert!(bob.invites().await.contains(&created));
    bot.backend
        .invite(&created_id, &[bob_id])
        .await
        .expect("inviting twice is fine");

    bot.backend
        .set_topic(&created_id, "new topic")
        .await
        .expect("topic");
    let topic = w
        .alice
        .state(&created, "m.room.topic")
        .await
        .expect("topic");
    assert_eq!(topic["topic"], "new topic");

    let target = ferrbot::Target::room(created_id.clone());
    let sent = bot
        .backend
        .send(&target, &OutgoingMessage::new("pin me"))
        .await
        .expect("send");
    bot.backend.pin(&created_id, &sent).await.expect("pin");
    bot.backend
        .pin(&created_id, &sent)
        .await
        .expect("pinning twice is fine");
    let pins = w
        .alice
        .state(&created, "m.room.pinned_events")
        .await
        .expect("pins");
    assert_eq!(pins["pinned"], json!([sent.local()]));

    bot.backend
        .react(&created_id, &sent, ":+1:")
        .await
        .expect("react");
    let reactions: Vec<_> = w
        .alice
        .messages(&created)
        .await
        .into_iter()
        .filter(|e| e["type"] == "m.reaction")
        .collect();
    assert_eq!(reactions.len(), 1, "{reactions:#?}");
    assert_eq!(reactions[0]["content"]["m.relates_to"]["key"], "👍");
    assert_eq!(
        reactions[0]["content"]["m.relates_to"]["event_id"],
        sent.local()
    );

    bot.backend
        .edit(&target, &sent, &OutgoingMessage::new("pinned and edited"))
        .await
        .expect("edit");
    let edit = w
        .alice
        .wait_for(&created, &w.bot.user_id, "the edit", |e| {
            e["content"]["m.relates_to"]["rel_type"] == "m.replace"
        })
        .await;
    assert_eq!(
        edit["content"]["m.new_content"]["body"],
        "pinned and edited"
    );

    // A room alias resolves to the room.
    let alias_name = unique("ops");
    let alias = format!("#{alias_name}:localhost");
    w.alice.call_put_alias(&alias, &created).await;
    let by_alias = ferrbot::Target::room(format!("matrix:{alias}").parse().expect("alias id"));
    bot.backend
        .send(&by_alias, &OutgoingMessage::new("hello via alias"))
        .await
        .expect("send via alias");
    w.alice
        .wait_for(
            &created,
            &w.bot.user_id,
            "the message sent to the alias",
            |e| body(e) == "hello via alias",
        )
        .await;

    // Direct messages open (and then reuse) a DM room.
    let alice_id: ferrbot::UserId = format!("matrix:{}", w.alice.user_id).parse().expect("id");
    let dm = ferrbot::Target::direct(alice_id.clone());
    bot.backend
        .send(&dm, &OutgoingMessage::new("psst"))
        .await
        .expect("dm");
    bot.backend
        .send(&dm, &OutgoingMessage::new("psst again"))
        .await
        .expect("dm again");
    let dm_invites: Vec<String> = w
        .alice
        .invites()
        .await
        .into_iter()
        .filter(|r| r != &created)
        .collect();
    assert_eq!(dm_invites.len(), 1, "one DM room: {dm_invites:?}");
    let author = bot.backend.user(&alice_id).await.expect("profile");
    assert_eq!(author.id, alice_id);
    assert!(!author.display_name.is_empty());

    // Room admins come from power levels: alice made `room`, the bot made `created`.
    let bot_id: ferrbot::UserId = format!("matrix:{}", w.bot.user_id).parse().expect("id");
    let room_id: ferrbot::RoomId = format!("matrix:{room}").parse().expect("room id");
    let admin = |room: ferrbot::RoomId, user: ferrbot::UserId| {
        let backend = bot.backend.clone();
        async move {
            backend
                .is_room_admin(&room, &user)
                .await
                .expect("power levels")
        }
    };
    assert!(admin(room_id.clone(), alice_id.clone()).await);
    assert!(!admin(room_id, bot_id.clone()).await);
    assert!(admin(created_id.clone(), bot_id).await);
    assert!(!admin(created_id.clone(), alice_id.clone()).await);

    // Long messages are split at the size limit, in order.
    let long: String = (0..3_000).map(|i| format!("line {i}\n")).collect();
    bot.backend
        .send(&target, &OutgoingMessage::new(long.clone()))
        .await
        .expect("long send");
    let parts: Vec<String> = w
        .alice
        .messages_from(&created, &w.bot.user_id)
        .await
        .iter()
        .map(|e| body(e).to_owned())
        .filter(|b| b.starts_with("line "))
        .collect();
    assert!(parts.len() >= 2, "{} parts", parts.len());
    assert_eq!(parts.join("\n"), long.trim_end());
    bot.stop().await;
}

#[tokio::test]
async fn invites_from_outside_the_allow_list_are_declined() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let bot = RunningBot::start(
        memory_store().await,
        &section(
            &w.synapse,
            &w.bot,
            &w.password,
            "auto_join_from = [\"@somebody-else:localhost\"]",
        ),
        vec![],
    )
    .await;
    let room = w
        .alice
        .create_room(json!({"preset": "private_chat", "invite": [w.bot.user_id]}))
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let m = w.alice.membership(&room, &w.bot.user_id).await;
        if m.as_deref() == Some("leave") {
            break;
        }
        assert_ne!(m.as_deref(), Some("join"), "the bot joined");
        assert!(
            std::time::Instant::now() < deadline,
            "invite not declined: {m:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bot.stop().await;
}

#[tokio::test]
async fn restarts_skip_history_resume_and_never_answer_twice() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    // The bot is in the room before ferrbot ever ran, and a command is waiting there.
    let room = w
        .alice
        .create_room(json!({"preset": "private_chat", "invite": [w.bot.user_id]}))
        .await;
    w.bot.join(&room).await;
    w.alice.say(&room, "!whoami").await;

    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("bot.db").display());
    let config = section(&w.synapse, &w.bot, &w.password, "");

    // First start: history is skipped.
    let first = RunningBot::start(Store::open(&url).await.expect("store"), &config, vec![]).await;
    w.alice.say(&room, "!about").await;
    w.alice
        .wait_for(&room, &w.bot.user_id, "the first answer", |e| {
            body(e).contains("a chat-ops bot")
        })
        .await;
    first.stop().await;

    // While the bot is down, a new command arrives.
    w.alice.say(&room, "!help").await;

    // Second start on the same store: resumes, answers what it missed, nothing twice.
    let second = RunningBot::start(Store::open(&url).await.expect("store"), &config, vec![]).await;
    w.alice
        .wait_for(&room, &w.bot.user_id, "the missed command's answer", |e| {
            body(e).contains("Commands you can run")
        })
        .await;
    w.alice.say(&room, "!status").await;
    w.alice
        .wait_for(&room, &w.bot.user_id, "the answer after the restart", |e| {
            body(e).contains("matrix: connected")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let answers: Vec<String> = w
        .alice
        .messages_from(&room, &w.bot.user_id)
        .await
        .iter()
        .map(|e| body(e).to_owned())
        .collect();
    assert_eq!(answers.len(), 3, "{answers:#?}");
    assert!(
        !answers.iter().any(|a| a.contains("You are")),
        "history was answered: {answers:#?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.contains("a chat-ops bot"))
            .count(),
        1,
        "{answers:#?}"
    );
    second.stop().await;

    // One device for ferrbot across restarts (plus the one registration made).
    let devices = w.bot.devices().await;
    assert_eq!(devices.len(), 2, "{devices:?}");
}

#[tokio::test]
async fn messages_sent_while_synapse_is_down_are_delivered_once_it_is_back() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    if synapse.ctl.is_none() {
        assert!(
            std::env::var("FERRBOT_E2E_REQUIRED").as_deref() != Ok("1"),
            "FERRBOT_TEST_SYNAPSE_CTL is needed to restart Synapse"
        );
        println!("SKIPPED: FERRBOT_TEST_SYNAPSE_CTL is not set");
        return;
    }
    let _exclusive = SYNAPSE.write().await;
    let w = world(synapse).await;
    let bot = RunningBot::start(
        memory_store().await,
        &section(&w.synapse, &w.bot, &w.password, "send_wait = \"2m\""),
        vec![],
    )
    .await;
    let room = room_with_bot(&w).await;
    let room_id: ferrbot::RoomId = format!("matrix:{room}").parse().expect("room id");

    w.synapse.ctl("stop").await;
    bot.wait_connected(false).await;
    let receipts: Vec<_> = (1..=5)
        .map(|i| {
            bot.ctx.send(
                ferrbot::Target::room(room_id.clone()),
                format!("queued {i}"),
            )
        })
        .collect();
    // Longer than the core's own retries (5 attempts, about 4 s) would last.
    tokio::time::sleep(Duration::from_secs(8)).await;
    w.synapse.ctl("start").await;
    for r in receipts {
        tokio::time::timeout(Duration::from_secs(90), r.delivered())
            .await
            .expect("delivered in time")
            .expect("delivered");
    }
    bot.wait_connected(true).await;
    let queued: Vec<String> = w
        .alice
        .messages_from(&room, &w.bot.user_id)
        .await
        .iter()
        .map(|e| body(e).to_owned())
        .filter(|b| b.starts_with("queued"))
        .collect();
    assert_eq!(
        queued,
        (1..=5).map(|i| format!("queued {i}")).collect::<Vec<_>>()
    );
    // And the bot hears commands again.
    w.alice.say(&room, "!status").await;
    w.alice
        .wait_for(&room, &w.bot.user_id, "a status after the restart", |e| {
            body(e).contains("matrix: connected")
        })
        .await;
    bot.stop().await;
}

#[tokio::test]
async fn rate_limits_hold_the_queue_and_lose_nothing() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let bot = RunningBot::start(
        memory_store().await,
        &section(&w.synapse, &w.bot, &w.password, ""),
        vec![],
    )
    .await;
    let room = room_with_bot(&w).await;
    let room_id: ferrbot::RoomId = format!("matrix:{room}").parse().expect("room id");
    // One message a second: a burst of six gets 429 M_LIMIT_EXCEEDED with retry_after_ms.
    w.synapse.limit_messages(&w.bot.user_id, 1, 1).await;
    let started = std::time::Instant::now();
    let receipts: Vec<_> = (1..=6)
        .map(|i| {
            bot.ctx
                .send(ferrbot::Target::room(room_id.clone()), format!("burst {i}"))
        })
        .collect();
    for r in receipts {
        tokio::time::timeout(Duration::from_secs(60), r.delivered())
            .await
            .expect("delivered in time")
            .expect("delivered");
    }
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "the homeserver's limit was not applied ({:?})",
        started.elapsed()
    );
    let burst: Vec<String> = w
        .alice
        .messages_from(&room, &w.bot.user_id)
        .await
        .iter()
        .map(|e| body(e).to_owned())
        .filter(|b| b.starts_with("burst"))
        .collect();
    assert_eq!(
        burst,
        (1..=6).map(|i| format!("burst {i}")).collect::<Vec<_>>()
    );
    bot.stop().await;
}

#[tokio::test]
async fn logs_in_with_an_access_token_and_records_its_device() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let store = memory_store().await;
    let config = format!(
        "homeserver = \"{}\"\nuser_id = \"{}\"\naccess_token = \"{}\"\n",
        w.synapse.url, w.bot.user_id, w.bot.token
    );
    let bot = RunningBot::start(store.clone(), &config, vec![]).await;
    let room = room_with_bot(&w).await;
    w.alice.say(&room, "!whoami").await;
    w.alice
        .wait_for(&room, &w.bot.user_id, "the whoami answer", |e| {
            body(e).contains("You are")
        })
        .await;
    let device: Option<String> = store
        .kv("backend/matrix")
        .get("device_id")
        .await
        .expect("store");
    let devices = w.bot.devices().await;
    assert_eq!(devices.len(), 1, "no new device: {devices:?}");
    assert_eq!(device.as_deref(), devices.first().map(String::as_str));
    bot.stop().await;

    // A token of somebody else is refused with a clear reason, not used.
    let wrong = format!(
        "homeserver = \"{}\"\nuser_id = \"{}\"\naccess_token = \"{}\"\n",
        w.synapse.url, w.bot.user_id, w.alice.token
    );
    let setup = ferrbot::registry::BackendSetup {
        name: "matrix".into(),
        config: toml::from_str(&wrong).expect("toml"),
        prefix: "!".into(),
        store: memory_store().await.kv("backend/matrix"),
    };
    let backend = ferrbot_backend_matrix::MatrixBackend::from_setup(&setup).expect("config");
    let Err(err) = ferrbot_backend_matrix::session::connect(backend.config(), &setup.store).await
    else {
        panic!("a token of another user was accepted");
    };
    assert!(err.to_string().contains("belongs to"), "{err}");
}

#[tokio::test]
async fn reactions_edits_deletions_pins_and_encryption_are_reported() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let events = Arc::new(Mutex::new(Vec::new()));
    let plugins: Vec<Arc<dyn Plugin>> = vec![Arc::new(Recorder(events.clone()))];
    let recorder = Recorder(events);
    let bot = RunningBot::start(
        memory_store().await,
        &section(&w.synapse, &w.bot, &w.password, ""),
        plugins,
    )
    .await;
    let room = room_with_bot(&w).await;
    let message = w.alice.say(&room, "hello").await;
    let ours = |id: &MessageId| id.local() == message;

    let reaction = w
        .alice
        .send(
            &room,
            "m.reaction",
            json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "👀"}}),
        )
        .await;
    recorder
        .wait_for("reaction", |e| {
            matches!(e, MessageEvent::ReactionAdded { message, reaction, by, .. }
                if ours(message) && reaction == "👀" && by.local() == w.alice.user_id)
        })
        .await;
    w.alice.redact(&room, &reaction).await;
    recorder
        .wait_for("reaction removal", |e| {
            matches!(e, MessageEvent::ReactionRemoved { message, reaction, .. }
                if ours(message) && reaction == "👀")
        })
        .await;

    w.alice
        .send(
            &room,
            "m.room.message",
            json!({
                "msgtype": "m.text", "body": "* hello again",
                "m.new_content": {"msgtype": "m.text", "body": "hello again"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": message},
            }),
        )
        .await;
    recorder
        .wait_for("edit", |e| {
            matches!(e, MessageEvent::Edited { message, text, .. }
                if ours(message) && text == "hello again")
        })
        .await;

    w.alice
        .put_state(&room, "m.room.pinned_events", json!({"pinned": [message]}))
        .await;
    recorder
        .wait_for("pin", |e| {
            matches!(e, MessageEvent::Pinned { message, by: Some(by), .. }
                if ours(message) && by.local() == w.alice.user_id)
        })
        .await;
    w.alice
        .put_state(&room, "m.room.pinned_events", json!({"pinned": []}))
        .await;
    recorder
        .wait_for(
            "unpin",
            |e| matches!(e, MessageEvent::Unpinned { message, .. } if ours(message)),
        )
        .await;

    w.alice.redact(&room, &message).await;
    recorder
        .wait_for(
            "deletion",
            |e| matches!(e, MessageEvent::Deleted { message, .. } if ours(message)),
        )
        .await;

    // An encrypted room: the bot says once that it cannot read it.
    let secret_room = w
        .alice
        .create_room(json!({
            "preset": "private_chat", "invite": [w.bot.user_id],
            "initial_state": [{"type": "m.room.encryption", "state_key": "",
                               "content": {"algorithm": "m.megolm.v1.aes-sha2"}}],
        }))
        .await;
    w.alice.wait_joined(&secret_room, &w.bot.user_id).await;
    for _ in 0..2 {
        w.alice
            .send(
                &secret_room,
                "m.room.encrypted",
                json!({"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEn...",
                       "device_id": "X", "sender_key": "k", "session_id": "s"}),
            )
            .await;
    }
    w.alice
        .wait_for(&secret_room, &w.bot.user_id, "the encryption notice", |e| {
            body(e).contains("cannot read end-to-end encrypted messages")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        w.alice
            .messages_from(&secret_room, &w.bot.user_id)
            .await
            .len(),
        1
    );
    bot.stop().await;
}

#[tokio::test]
async fn the_bot_renames_rooms_with_m_room_name() {
    let Some(synapse) = Synapse::from_env() else {
        return;
    };
    let _shared = SYNAPSE.read().await;
    let w = world(synapse).await;
    let bot = RunningBot::start(
        memory_store().await,
        &section(&w.synapse, &w.bot, &w.password, ""),
        Vec::new(),
    )
    .await;
    assert!(bot.backend.capabilities().rename_rooms);
    let alice_id: ferrbot::UserId = format!("matrix:{}", w.alice.user_id).parse().expect("id");
    let created_id = bot
        .backend
        .create_room(&RoomSpec {
            name: "incident-7".into(),
            invite: vec![alice_id],
            private: true,
            ..RoomSpec::default()
        })
        .await
        .expect("create a room");
    let created = created_id.local().to_owned();
    w.alice.join(&created).await;

    // Through the core's Chat, as plugins call it: the name is trimmed, case and spaces kept.
    bot.ctx
        .chat()
        .rename_room(&created_id, "  Search war room ")
        .await
        .expect("rename");
    let name = w.alice.state(&created, "m.room.name").await.expect("name");
    assert_eq!(name["name"], "Search war room");

    // An empty name is refused (it would remove the name), and the name stays.
    let err = bot
        .backend
        .rename_room(&created_id, "  ")
        .await
        .expect_err("an empty name");
    assert!(err.to_string().contains("cannot be empty"), "{err}");

    // In alice's room the bot has no power to change the name: a clear refusal.
    let room = room_with_bot(&w).await;
    let room_id: ferrbot::RoomId = format!("matrix:{room}").parse().expect("room id");
    let err = bot
        .backend
        .rename_room(&room_id, "not yours")
        .await
        .expect_err("no power level for m.room.name");
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("power level does not let it rename this room"),
        "{err}"
    );
    let name = w.alice.state(&room, "m.room.name").await.expect("name");
    assert_eq!(name["name"], "ops");
    let name = w.alice.state(&created, "m.room.name").await.expect("name");
    assert_eq!(name["name"], "Search war room");
    bot.stop().await;
}
