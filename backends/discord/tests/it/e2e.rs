//! End to end: a real `ferrbot::Bot` with the Discord backend against the fake Discord.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ferrbot::backend::RoomSpec;
use ferrbot::config::BotConfig;
use ferrbot::markup::Markup;
use ferrbot::prelude::*;
use ferrbot::registry::BackendSetup;
use ferrbot::{Backend, Bot};
use ferrbot_backend_discord::DiscordBackend;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::fake::{APP_ID, BOT_ID, Fake, GUILD_ID, TOKEN, message_json, user_json};

const CHANNEL: &str = "700000000000000001";
const ALICE: (u64, &str) = (800_000_000_000_000_001, "alice");
const BOB: (u64, &str) = (800_000_000_000_000_002, "bob");

/// Repeat the words.
#[derive(clap::Parser)]
#[command(name = "say")]
struct Say {
    /// What to say.
    words: Vec<String>,
}

impl Command for Say {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        Ok(Reply::text(self.words.join(" ")))
    }
}

/// A long report with a code block.
#[derive(clap::Parser)]
#[command(name = "long")]
struct Long;

impl Command for Long {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        let lines: Vec<String> = (0..300)
            .map(|i| format!("line {i:04} of the report"))
            .collect();
        Ok(Reply::markup(
            Markup::new()
                .text("Report:")
                .code_block(Some("text"), lines.join("\n")),
        ))
    }
}

/// Takes its time.
#[derive(clap::Parser)]
#[command(name = "slow")]
struct Slow;

impl Command for Slow {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        Ok(Reply::text("slow done"))
    }
}

/// A card with a button.
#[derive(clap::Parser)]
#[command(name = "deploy")]
struct Deploy;

impl Command for Deploy {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        Ok(Reply::card(
            Card::new("Deploy 42")
                .level(Level::Warning)
                .field("Env", "prod"),
        )
        .with_action(Action::new("Who am I?", "whoami").style(ActionStyle::Primary)))
    }
}

/// Names the message the command's message replies to.
#[derive(clap::Parser)]
#[command(name = "replied")]
struct Replied;

impl Command for Replied {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        Ok(Reply::text(match ctx.reply_to() {
            Some(m) => format!("replying to {m}"),
            None => "no reply".to_owned(),
        }))
    }
}

struct TestPlugin;

impl Plugin for TestPlugin {
    fn manifest(&self) -> Manifest {
        Manifest::new("test", "1.0.0")
            .command::<Say>()
            .command::<Long>()
            .command::<Slow>()
            .command::<Deploy>()
            .command::<Replied>()
    }
}

pub(crate) struct Env {
    pub(crate) fake: Fake,
    backend: Arc<DiscordBackend>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Env {
    async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// The bot with the test plugin and `plugins` (each with its config section).
    pub(crate) async fn start_with(plugins: Vec<(Arc<dyn Plugin>, toml::Value)>) -> Self {
        let fake = Fake::start().await;
        let config = format!(
            "token = \"{TOKEN}\"\napi_base = \"{}\"\nguild_id = \"{GUILD_ID}\"\ndefer_after_ms = 700\ndeferred_cleanup_ms = 500\n",
            fake.api_base()
        );
        let store = ferrbot::store::Store::memory().await.unwrap();
        let setup = BackendSetup {
            name: "discord".into(),
            config: toml::from_str(&config).unwrap(),
            prefix: "!".into(),
            store: store.kv("backend/discord"),
        };
        let backend = Arc::new(DiscordBackend::from_setup(&setup).unwrap());
        let mut builder = Bot::builder(BotConfig::default())
            .backend(backend.clone())
            .plugin(Arc::new(TestPlugin), toml::Value::Table(toml::Table::new()));
        for (plugin, section) in plugins {
            builder = builder.plugin(plugin, section);
        }
        let bot = builder.build().await.unwrap();
        let stop = CancellationToken::new();
        let task = {
            let stop = stop.clone();
            tokio::spawn(async move {
                bot.run(stop).await.unwrap();
            })
        };
        fake.wait_for("IDENTIFY and READY", 15, |f| {
            f.state.counters.identifies.load(Ordering::SeqCst) >= 1
        })
        .await;
        // The handler learns its identity from READY.
        let deadline = Instant::now() + Duration::from_secs(5);
        while backend.bot_user().is_none() {
            assert!(Instant::now() < deadline, "READY not handled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self {
            fake,
            backend,
            stop,
            task,
        }
    }

    fn contents(&self, channel: &str) -> Vec<String> {
        self.fake
            .posts_in(channel)
            .iter()
            .map(|p| p.body["content"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    pub(crate) async fn wait_posts(&self, channel: &str, n: usize) -> Vec<crate::fake::Posted> {
        self.fake
            .wait_for(&format!("{n} message(s) in {channel}"), 10, |f| {
                f.posts_in(channel).len() >= n
            })
            .await;
        self.fake.posts_in(channel)
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the bot stops")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_in_a_channel_is_answered_through_the_fake_gateway() {
    let env = Env::start().await;
    let c = &env.fake.state.counters;
    assert!(
        c.gateway_hits.load(Ordering::SeqCst) >= 1,
        "GET /api/v10/gateway not hit"
    );
    let intents = env.fake.state.intents.lock().unwrap().unwrap();
    assert_eq!(
        intents,
        (1 << 9) | (1 << 12) | (1 << 15),
        "guild messages, DMs, content"
    );

    env.fake.user_says(CHANNEL, ALICE, "!help");
    let posts = env.wait_posts(CHANNEL, 1).await;
    let help = posts[0].body["content"].as_str().unwrap();
    assert!(help.contains("say") && help.contains("whoami"), "{help}");
    assert_eq!(posts[0].body["allowed_mentions"]["parse"], json!([]));

    // The slash command was registered in the guild, with its free-text option.
    env.fake
        .wait_for("slash command registration", 5, |f| {
            !f.state.commands.lock().unwrap().is_empty()
        })
        .await;
    let command = env.fake.state.commands.lock().unwrap()[0].clone();
    assert_eq!(command["name"], "ferrbot");
    assert_eq!(command["options"][0]["name"], "command");
    assert!(env.fake.calls().contains(&format!(
        "POST /applications/{APP_ID}/guilds/{GUILD_ID}/commands"
    )));
    // Heartbeats flow (the fake asks for one a second).
    env.fake
        .wait_for("a heartbeat", 5, |f| {
            f.state.counters.heartbeats.load(Ordering::SeqCst) >= 1
        })
        .await;
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_are_a_prefix_and_own_messages_are_ignored() {
    let env = Env::start().await;
    // The bot's own message is not a command.
    env.fake
        .user_says(CHANNEL, (BOT_ID, "ferrbot"), "!say loop");
    env.fake
        .user_says(CHANNEL, ALICE, &format!("<@{BOT_ID}> say hi"));
    env.wait_posts(CHANNEL, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(env.contents(CHANNEL), vec!["hi".to_owned()]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_click_runs_its_command_as_the_clicking_user() {
    let env = Env::start().await;
    env.fake.user_says(CHANNEL, ALICE, "!deploy");
    let posts = env.wait_posts(CHANNEL, 1).await;
    let card = &posts[0];
    let embed = &card.body["embeds"][0];
    assert_eq!(embed["title"], "Deploy 42");
    assert_eq!(embed["color"], json!(Level::Warning.rgb()));
    let button = &card.body["components"][0]["components"][0];
    assert_eq!(button["type"], 2);
    assert_eq!(button["label"], "Who am I?");
    let custom_id = button["custom_id"].as_str().unwrap().to_owned();

    let clicked = Instant::now();
    let interaction = env.fake.click(CHANNEL, BOB, &custom_id, &card.message);
    let posts = env.wait_posts(CHANNEL, 2).await;
    let answer = &posts[1];
    assert_eq!(
        answer.via, "interaction",
        "the reply is the interaction response"
    );
    let text = answer.body["content"].as_str().unwrap();
    assert!(
        text.contains(&format!("discord:{}", BOB.0)),
        "ran as bob: {text}"
    );
    assert!(!text.contains(&ALICE.0.to_string()), "{text}");
    let callbacks = env.fake.state.callbacks.lock().unwrap().clone();
    let (id, body, at) = &callbacks[0];
    assert_eq!(id, &interaction);
    assert_eq!(body["type"], 4);
    assert!(
        at.duration_since(clicked) < Duration::from_secs(3),
        "acknowledged within 3 s"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_are_answered_and_slow_ones_deferred() {
    let env = Env::start().await;
    env.fake.slash(CHANNEL, ALICE, "say quick");
    let posts = env.wait_posts(CHANNEL, 1).await;
    assert_eq!(posts[0].via, "interaction");
    assert_eq!(posts[0].body["content"], "quick");

    let started = Instant::now();
    let id = env.fake.slash(CHANNEL, ALICE, "slow");
    env.fake
        .wait_for("a deferred response", 5, |f| {
            f.state
                .callbacks
                .lock()
                .unwrap()
                .iter()
                .any(|(i, b, _)| i == &id && b["type"] == 5)
        })
        .await;
    let deferred_at = env
        .fake
        .state
        .callbacks
        .lock()
        .unwrap()
        .iter()
        .find(|(i, _, _)| i == &id)
        .map(|(_, _, at)| *at)
        .unwrap();
    assert!(deferred_at.duration_since(started) < Duration::from_millis(2500));
    let posts = env.wait_posts(CHANNEL, 2).await;
    assert_eq!(
        posts[1].via, "webhook_edit",
        "the reply edits the deferred response"
    );
    assert_eq!(posts[1].body["content"], "slow done");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_message_is_split_in_order_without_breaking_code_blocks() {
    let env = Env::start().await;
    // And a 429 in the middle of it is waited out without resending the earlier parts.
    *env.fake.state.rate_limit_after_posts.lock().unwrap() = Some((1, 0.3));
    env.fake.user_says(CHANNEL, ALICE, "!long");
    env.fake
        .wait_for("the whole report", 10, |f| {
            f.posts_in(CHANNEL).last().is_some_and(|p| {
                p.body["content"]
                    .as_str()
                    .unwrap_or("")
                    .contains("line 0299")
            })
        })
        .await;
    let parts = env.contents(CHANNEL);
    assert!(parts.len() >= 3, "{} parts", parts.len());
    assert_eq!(env.fake.state.rate_limited_at.lock().unwrap().len(), 1);
    let mut next = 0;
    for part in &parts {
        assert!(
            part.chars().count() <= 2000,
            "{} chars",
            part.chars().count()
        );
        let fences = part.lines().filter(|l| l.starts_with("```")).count();
        assert_eq!(fences % 2, 0, "code block broken in: {part}");
        for line in part.lines().filter(|l| l.starts_with("line ")) {
            assert_eq!(line, format!("line {next:04} of the report"), "order kept");
            next += 1;
        }
    }
    assert_eq!(next, 300, "every line delivered once");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_retry_after_in_order() {
    let env = Env::start().await;
    env.fake.state.rate_limits.lock().unwrap().push_back(0.6);
    env.fake.user_says(CHANNEL, ALICE, "!say one");
    env.fake
        .wait_for("the 429", 5, |f| {
            !f.state.rate_limited_at.lock().unwrap().is_empty()
        })
        .await;
    env.fake.user_says(CHANNEL, ALICE, "!say two");
    let posts = env.wait_posts(CHANNEL, 2).await;
    assert_eq!(
        env.contents(CHANNEL),
        vec!["one".to_owned(), "two".to_owned()]
    );
    let limited_at = env.fake.state.rate_limited_at.lock().unwrap()[0];
    let waited = posts[0].at.duration_since(limited_at);
    assert!(
        waited >= Duration::from_millis(600),
        "retried after {waited:?}"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_reconnect_and_invalid_session_messages_are_still_answered() {
    let env = Env::start().await;
    env.fake.reconnect();
    env.fake
        .wait_for("RESUME", 15, |f| {
            f.state.counters.resumes.load(Ordering::SeqCst) >= 1
        })
        .await;
    env.fake.user_says(CHANNEL, ALICE, "!say after resume");
    env.wait_posts(CHANNEL, 1).await;

    // A refused RESUME (INVALID_SESSION, not resumable) leads to a fresh IDENTIFY.
    env.fake.state.refuse_resume.store(true, Ordering::SeqCst);
    env.fake.reconnect();
    env.fake
        .wait_for("a new IDENTIFY", 20, |f| {
            f.state.counters.identifies.load(Ordering::SeqCst) >= 2
        })
        .await;
    assert_eq!(
        env.fake
            .state
            .counters
            .resumes_refused
            .load(Ordering::SeqCst),
        1
    );
    env.fake.user_says(CHANNEL, ALICE, "!say after identify");
    env.wait_posts(CHANNEL, 2).await;
    assert_eq!(
        env.contents(CHANNEL),
        vec!["after resume".to_owned(), "after identify".to_owned()]
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_text_cannot_mass_mention() {
    let env = Env::start().await;
    env.fake
        .user_says(CHANNEL, ALICE, "!say @everyone @here <@&123> look");
    let posts = env.wait_posts(CHANNEL, 1).await;
    let content = posts[0].body["content"].as_str().unwrap();
    assert!(!content.contains("@everyone"), "{content:?}");
    assert!(!content.contains("@here"), "{content:?}");
    assert!(!content.contains("<@&123>"), "{content:?}");
    assert_eq!(
        posts[0].body["allowed_mentions"],
        json!({ "parse": [], "users": [], "roles": [], "replied_user": false })
    );
    assert_eq!(posts[0].message["mention_everyone"], json!(false));
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_pins_reactions_and_direct_messages() {
    let env = Env::start().await;
    let b = &env.backend;
    let room: ferrbot::RoomId = format!("discord:{CHANNEL}").parse().unwrap();
    let msg: ferrbot::MessageId = "discord:1234567890".parse().unwrap();
    b.pin(&room, &msg).await.unwrap();
    b.react(&room, &msg, ":+1:").await.unwrap();
    let alice: ferrbot::UserId = format!("discord:{}", ALICE.0).parse().unwrap();
    let created = b
        .create_room(&RoomSpec {
            name: "INC 42 checkout".into(),
            topic: Some("checkout is down".into()),
            invite: vec![alice.clone()],
            private: true,
        })
        .await
        .unwrap();
    assert_eq!(created.backend(), "discord");
    let sent = b
        .send(
            &Target::direct(alice.clone()),
            &OutgoingMessage::new("psst"),
        )
        .await
        .unwrap();
    assert_eq!(sent.backend(), "discord");
    let who = b.user(&alice).await.unwrap();
    assert_eq!(who.display_name, "user1");

    let calls = env.fake.calls();
    assert!(
        calls.contains(&format!("PUT /channels/{CHANNEL}/pins/1234567890")),
        "{calls:?}"
    );
    assert!(
        calls.contains(&format!(
            "PUT /channels/{CHANNEL}/messages/1234567890/reactions/👍/@me"
        )),
        "{calls:?}"
    );
    let create = calls
        .iter()
        .find(|c| c.starts_with(&format!("POST /guilds/{GUILD_ID}/channels")))
        .unwrap();
    let body: Value =
        serde_json::from_str(create.split_once(' ').unwrap().1.split_once(' ').unwrap().1).unwrap();
    assert_eq!(body["name"], "inc-42-checkout");
    assert_eq!(body["topic"], "checkout is down");
    let overwrites = body["permission_overwrites"].as_array().unwrap();
    let guild = GUILD_ID.to_string();
    assert!(
        overwrites
            .iter()
            .any(|o| o["id"].as_str() == Some(guild.as_str()) && o["deny"] == "1024")
    );
    let alice_id = ALICE.0.to_string();
    assert!(
        overwrites
            .iter()
            .any(|o| o["id"].as_str() == Some(alice_id.as_str()))
    );
    let dm_channel = (ALICE.0 + 7).to_string();
    assert_eq!(env.contents(&dm_channel), vec!["psst".to_owned()]);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_admins_follow_discord_permissions() {
    use crate::fake::{
        ADMIN_ID, DM_CHANNEL, LOCKED_CHANNEL, LOCKED_THREAD, MOD_ID, OWNER_ID, STRANGER_ID,
    };
    let env = Env::start().await;
    let b = &env.backend;
    let room = |id: u64| -> ferrbot::RoomId { format!("discord:{id}").parse().unwrap() };
    let user = |id: u64| -> ferrbot::UserId { format!("discord:{id}").parse().unwrap() };
    let admin = |r: u64, u: u64| async move { b.is_room_admin(&room(r), &user(u)).await.unwrap() };
    let general: u64 = CHANNEL.parse().unwrap();
    // The owner, administrators and moderators manage an ordinary channel; others do not.
    assert!(admin(general, OWNER_ID).await);
    assert!(admin(general, ADMIN_ID).await);
    assert!(admin(general, MOD_ID).await);
    assert!(!admin(general, ALICE.0).await);
    assert!(!admin(general, STRANGER_ID).await);
    // An overwrite takes it from the moderators there, and in that channel's threads; it
    // cannot limit administrators or the owner.
    assert!(!admin(LOCKED_CHANNEL, MOD_ID).await);
    assert!(!admin(LOCKED_THREAD, MOD_ID).await);
    assert!(admin(LOCKED_THREAD, ADMIN_ID).await);
    assert!(admin(LOCKED_CHANNEL, OWNER_ID).await);
    // Nobody administers a direct-message channel.
    assert!(!admin(DM_CHANNEL, OWNER_ID).await);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bot_command_is_a_slash_command_too() {
    let env = Env::start().await;
    env.fake
        .wait_for("the commands registered", 5, |f| {
            let names: Vec<String> = f
                .state
                .commands
                .lock()
                .unwrap()
                .iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect();
            ["ferrbot", "help", "whoami", "status"]
                .iter()
                .all(|n| names.iter().any(|x| x == n))
        })
        .await;
    let help = env
        .fake
        .state
        .commands
        .lock()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "help")
        .cloned()
        .unwrap();
    assert_eq!(help["options"][0]["name"], "args");
    assert!(
        help["description"]
            .as_str()
            .unwrap()
            .contains("commands you can run")
    );

    env.fake.slash_named(CHANNEL, ALICE, "whoami", None);
    let posts = env.wait_posts(CHANNEL, 1).await;
    assert_eq!(posts[0].via, "interaction");
    let content = posts[0].body["content"].as_str().unwrap();
    assert!(content.contains("alice"), "{content}");

    env.fake.slash_named(CHANNEL, ALICE, "help", Some("whoami"));
    let posts = env.wait_posts(CHANNEL, 2).await;
    let content = posts[1].body["content"].as_str().unwrap();
    assert!(content.contains("Usage: whoami"), "{content}");
    env.stop().await;
}

/// A Discord backend on the fake, not connected to the gateway (REST only), with `extra`
/// config lines.
async fn rest_only(fake: &Fake, extra: &str) -> DiscordBackend {
    let config = format!(
        "token = \"{TOKEN}\"\napi_base = \"{}\"\nguild_id = \"{GUILD_ID}\"\n{extra}",
        fake.api_base()
    );
    let setup = BackendSetup {
        name: "discord".into(),
        config: toml::from_str(&config).unwrap(),
        prefix: "!".into(),
        store: ferrbot::store::Store::memory()
            .await
            .unwrap()
            .kv("backend/discord"),
    };
    DiscordBackend::from_setup(&setup).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_renamed_with_modify_channel() {
    use crate::fake::{MISSING_CHANNEL, READ_ONLY_CHANNEL, RENAME_WINDOW_SECS};
    let fake = Fake::start().await;
    let b = rest_only(&fake, "").await;
    assert!(b.capabilities().rename_rooms);
    let room = |id: &str| -> ferrbot::RoomId { format!("discord:{id}").parse().unwrap() };
    let patches = |f: &Fake| {
        f.calls()
            .into_iter()
            .filter(|c| c.starts_with("PATCH /channels/"))
            .collect::<Vec<_>>()
    };

    // A channel gets a channel name, sent as documented.
    b.rename_room(&room(CHANNEL), "Search War Room")
        .await
        .unwrap();
    assert_eq!(
        patches(&fake),
        [format!(
            "PATCH /channels/{CHANNEL} {}",
            json!({"name": "search-war-room"})
        )]
    );
    assert_eq!(
        fake.state
            .names
            .lock()
            .unwrap()
            .get(CHANNEL)
            .map(String::as_str),
        Some("search-war-room")
    );

    // Discord allows two renames of a channel per window: the third is handed back as a
    // rate limit with Discord's retry_after (too long to wait inside the call).
    b.rename_room(&room(CHANNEL), "search-2").await.unwrap();
    let err = b.rename_room(&room(CHANNEL), "search-3").await.unwrap_err();
    assert!(
        matches!(err, ferrbot::BackendError::RateLimited { retry_after }
            if retry_after == Duration::from_secs_f64(RENAME_WINDOW_SECS)),
        "{err}"
    );
    assert_eq!(
        fake.state
            .names
            .lock()
            .unwrap()
            .get(CHANNEL)
            .map(String::as_str),
        Some("search-2")
    );

    // Refusals are clear rejections.
    let err = b
        .rename_room(&room(&READ_ONLY_CHANNEL.to_string()), "x")
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("Manage Channels"), "{err}");
    let err = b
        .rename_room(&room(&MISSING_CHANNEL.to_string()), "x")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such channel"), "{err}");

    // Names Discord cannot take are refused before calling it.
    let before = patches(&fake).len();
    let err = b
        .rename_room(&room(CHANNEL), &"x".repeat(101))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("at most 100 characters"), "{err}");
    let err = b.rename_room(&room(CHANNEL), "!!!").await.unwrap_err();
    assert!(err.to_string().contains("needs letters or digits"), "{err}");
    assert_eq!(patches(&fake).len(), before);

    // In thread mode a room is a thread, whose name keeps its case and spaces.
    let threads = rest_only(
        &fake,
        "create_room = \"thread\"\nroom_parent = \"700000000000000009\"\n",
    )
    .await;
    let thread = "1200000000000000077";
    threads
        .rename_room(&room(thread), "Search War Room")
        .await
        .unwrap();
    assert_eq!(
        fake.state
            .names
            .lock()
            .unwrap()
            .get(thread)
            .map(String::as_str),
        Some("Search War Room")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_names_the_message_it_answers() {
    let env = Env::start().await;
    let asked = env
        .fake
        .user_says(CHANNEL, BOB, "the index rebuild is at 80%");
    // Alice replies to Bob's message (type 19 REPLY with a message_reference).
    let mut reply = message_json(
        asked + 1000,
        CHANNEL,
        &user_json(ALICE.0, ALICE.1, false),
        "!replied",
        true,
    );
    reply["type"] = json!(19);
    reply["message_reference"] = json!({
        "type": 0, "message_id": asked.to_string(), "channel_id": CHANNEL,
        "guild_id": GUILD_ID.to_string()
    });
    env.fake.dispatch("MESSAGE_CREATE", reply);
    let posts = env.wait_posts(CHANNEL, 1).await;
    assert_eq!(
        posts[0].body["content"].as_str().unwrap(),
        format!("replying to discord:{asked}")
    );
    // A forward points at a message too, but answers none; a plain message answers none.
    let mut forward = message_json(
        asked + 1001,
        CHANNEL,
        &user_json(ALICE.0, ALICE.1, false),
        "!replied",
        true,
    );
    forward["message_reference"] = json!({
        "type": 1, "message_id": asked.to_string(), "channel_id": CHANNEL
    });
    env.fake.dispatch("MESSAGE_CREATE", forward);
    env.fake.user_says(CHANNEL, ALICE, "!replied");
    let posts = env.wait_posts(CHANNEL, 3).await;
    assert_eq!(posts[1].body["content"], "no reply");
    assert_eq!(posts[2].body["content"], "no reply");
    env.stop().await;
}
