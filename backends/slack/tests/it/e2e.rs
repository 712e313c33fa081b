//! End to end over Socket Mode: a real `ferrbot::Bot` with the Slack backend against the fake.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use ferrbot::backend::{MessageEvent, RoomSpec};
use ferrbot::config::BotConfig;
use ferrbot::markup::Markup;
use ferrbot::prelude::*;
use ferrbot::registry::BackendSetup;
use ferrbot::{Backend, Bot};
use ferrbot_backend_slack::SlackBackend;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::fake::{ADMIN, ALICE, APP_TOKEN, BOB, BOT_TOKEN, BOT_USER, CREATOR, Fake, GENERAL};

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

/// A long report.
#[derive(clap::Parser)]
#[command(name = "long")]
struct Long;

impl Command for Long {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        let lines: Vec<String> = (0..600)
            .map(|i| format!("line {i:04} of the report"))
            .collect();
        Ok(Reply::markup(
            Markup::new()
                .text("Report:")
                .code_block(None, lines.join("\n")),
        ))
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
                .inline_field("Env", "prod"),
        )
        .with_action(Action::new("Who am I?", "whoami").style(ActionStyle::Primary)))
    }
}

/// Sends three messages in a row.
#[derive(clap::Parser)]
#[command(name = "burst")]
struct Burst;

impl Command for Burst {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        for word in ["one", "two", "three"] {
            let _ = ctx.reply(word);
        }
        Ok(Reply::none())
    }
}

/// Records message events.
struct TestPlugin {
    events: mpsc::UnboundedSender<MessageEvent>,
}

#[async_trait]
impl Plugin for TestPlugin {
    fn manifest(&self) -> Manifest {
        Manifest::new("test", "1.0.0")
            .command::<Say>()
            .command::<Long>()
            .command::<Deploy>()
            .command::<Burst>()
    }

    async fn on_message_event(&self, _ctx: PluginContext, event: MessageEvent) {
        let _ = self.events.send(event);
    }
}

pub struct Env {
    pub fake: Fake,
    pub backend: Arc<SlackBackend>,
    pub events: mpsc::UnboundedReceiver<MessageEvent>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Env {
    pub async fn start() -> Self {
        Self::start_with(Vec::new()).await
    }

    /// Like [`Env::start`], with these plugins (and their config sections) beside the test
    /// plugin.
    pub async fn start_with(plugins: Vec<(Arc<dyn Plugin>, toml::Value)>) -> Self {
        let fake = Fake::start().await;
        let config = format!(
            "bot_token = \"{BOT_TOKEN}\"\napp_token = \"{APP_TOKEN}\"\napi_url = \"{}\"\n",
            fake.api_url()
        );
        let store = ferrbot::store::Store::memory().await.unwrap();
        let setup = BackendSetup {
            name: "slack".into(),
            config: toml::from_str(&config).unwrap(),
            prefix: "!".into(),
            store: store.kv("backend/slack"),
        };
        let backend = Arc::new(SlackBackend::from_setup(&setup).unwrap());
        let (tx, events) = mpsc::unbounded_channel();
        let bot = plugins
            .into_iter()
            .fold(
                Bot::builder(BotConfig::default())
                    .backend(backend.clone())
                    .plugin(
                        Arc::new(TestPlugin { events: tx }),
                        toml::Value::Table(toml::Table::new()),
                    ),
                |builder, (plugin, config)| builder.plugin(plugin, config),
            )
            .build()
            .await
            .unwrap();
        let stop = CancellationToken::new();
        let task = {
            let stop = stop.clone();
            tokio::spawn(async move {
                bot.run(stop).await.unwrap();
            })
        };
        fake.wait_for("a Socket Mode connection", 15, |f| {
            f.state.hellos.load(Ordering::SeqCst) >= 1
        })
        .await;
        assert!(backend.bot_user().is_some(), "auth.test before connecting");
        Self {
            fake,
            backend,
            events,
            stop,
            task,
        }
    }

    pub async fn wait_posts(&self, channel: &str, n: usize) -> Vec<crate::fake::Posted> {
        self.fake
            .wait_for(&format!("{n} message(s) in {channel}"), 10, |f| {
                f.posts_in(channel).len() >= n
            })
            .await;
        self.fake.posts_in(channel)
    }

    pub async fn stop(self) {
        self.fake.assert_each_acked_once().await;
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the bot stops")
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_in_a_channel_is_answered_with_chat_post_message() {
    let env = Env::start().await;
    assert_eq!(
        env.backend.bot_user().unwrap().to_string(),
        format!("slack:{BOT_USER}")
    );
    assert_eq!(env.fake.calls("apps.connections.open").len(), 1);
    env.fake.says(GENERAL, ALICE, "!help", None);
    let envelope = env.fake.last_sent();
    env.fake.wait_acked(&envelope).await;
    let posts = env.wait_posts(GENERAL, 1).await;
    let help = posts[0].text();
    assert!(help.contains("Commands you can run"), "{help}");
    assert!(help.contains("say") && help.contains("whoami"), "{help}");
    assert!(posts[0].body.get("thread_ts").is_none());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thread_replies_are_answered_in_the_thread() {
    let env = Env::start().await;
    let parent = "1700000500.000100";
    env.fake.says(GENERAL, ALICE, "!whoami", Some(parent));
    let posts = env.wait_posts(GENERAL, 1).await;
    assert_eq!(posts[0].body["thread_ts"], parent);
    let text = posts[0].text();
    assert!(text.contains("*Alice*"), "display name resolved: {text}");
    assert!(text.contains(&format!("thread `{parent}`")), "{text}");
    // users.info was asked once; the name is cached for the next message.
    env.fake.says(GENERAL, ALICE, "!say again", Some(parent));
    env.wait_posts(GENERAL, 2).await;
    let lookups = env
        .fake
        .calls("users.info")
        .iter()
        .filter(|c| c.args["user"] == ALICE)
        .count();
    assert_eq!(lookups, 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_direct_messages_and_ignored_messages() {
    let env = Env::start().await;
    // Ignored: the bot's own message, another bot's, a join, and an edit.
    env.fake.event(json!({"type":"message","channel":GENERAL,"user":BOT_USER,"text":"!say loop","ts":"1700000600.000001"}));
    env.fake.event(json!({"type":"message","subtype":"bot_message","channel":GENERAL,"bot_id":"B0OTHER","text":"!say bot","ts":"1700000600.000002"}));
    env.fake.event(json!({"type":"message","channel":GENERAL,"user":BOB,"bot_id":"B0OTHER","text":"!say bot user","ts":"1700000600.000003"}));
    env.fake.event(json!({"type":"message","subtype":"channel_join","channel":GENERAL,"user":BOB,"text":"<@U0BOB> has joined","ts":"1700000600.000004"}));
    // An edit that now reads like a command is an edit, not a command.
    env.fake.event(
        json!({"type":"message","subtype":"message_changed","channel":GENERAL,"hidden":true,
        "ts":"1700000600.000009","event_ts":"1700000600.000009",
        "message":{"type":"message","user":ALICE,"text":"!say edited","ts":"1700000600.000008"},
        "previous_message":{"type":"message","user":ALICE,"text":"typo","ts":"1700000600.000008"}}),
    );
    // A mention, seen as both `message` and `app_mention`, is answered once.
    let text = format!("<@{BOT_USER}> say hi &amp; bye");
    let ts = "1700000600.000005";
    env.fake.event(json!({"type":"message","channel":GENERAL,"user":ALICE,"text":text,"ts":ts,"channel_type":"channel"}));
    env.fake.event(json!({"type":"app_mention","channel":GENERAL,"user":ALICE,"text":text,"ts":ts,"event_ts":ts}));
    // A direct message needs no prefix.
    env.fake.says("D0ALICE", ALICE, "say psst <b>", None);
    env.wait_posts("D0ALICE", 1).await;
    env.wait_posts(GENERAL, 1).await;
    env.fake.says(GENERAL, ALICE, "!say last", None);
    env.wait_posts(GENERAL, 2).await;
    let texts: Vec<String> = env
        .fake
        .posts_in(GENERAL)
        .iter()
        .map(|p| p.text().to_owned())
        .collect();
    assert_eq!(texts, vec!["hi &amp; bye".to_owned(), "last".to_owned()]);
    assert_eq!(env.fake.posts_in("D0ALICE")[0].text(), "psst &lt;b&gt;");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_button_click_runs_its_command_as_the_clicking_user() {
    let env = Env::start().await;
    env.fake.says(GENERAL, ALICE, "!deploy", None);
    let posts = env.wait_posts(GENERAL, 1).await;
    let card = &posts[0];
    let attachment = &card.body["attachments"][0];
    assert_eq!(
        attachment["color"],
        format!("#{:06X}", Level::Warning.rgb())
    );
    let blocks = attachment["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["text"], "Deploy 42");
    assert_eq!(blocks[1]["fields"][0]["text"], "*Env*\nprod");
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    let button = actions["elements"][0].clone();
    assert_eq!(button["type"], "button");
    assert_eq!(button["style"], "primary");
    assert_eq!(button["text"]["text"], "Who am I?");

    let click = env.fake.click(GENERAL, BOB, &button, &card.ts);
    env.fake.wait_acked(&click).await;
    let posts = env.wait_posts(GENERAL, 2).await;
    let text = posts[1].text();
    assert!(
        text.contains(&format!("`slack:{BOB}`")),
        "ran as bob: {text}"
    );
    assert!(text.contains("*Bobby*"), "{text}");
    // A click on someone else's block is not a command.
    let foreign = json!({"type":"button","action_id":"other_app","value":"say nope","text":{"type":"plain_text","text":"x"}});
    env.fake.click(GENERAL, BOB, &foreign, &card.ts);
    env.fake.says(GENERAL, ALICE, "!say end", None);
    let posts = env.wait_posts(GENERAL, 3).await;
    assert_eq!(posts.len(), 3);
    assert_eq!(posts[2].text(), "end");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slash_commands_are_answered_through_response_url() {
    let env = Env::start().await;
    let envelope = env.fake.slash(GENERAL, ALICE, "/ferrbot", "say from slash");
    env.fake.wait_acked(&envelope).await;
    env.fake
        .wait_for("a response_url answer", 10, |f| {
            !f.state.responses.lock().unwrap().is_empty()
        })
        .await;
    let (_, body) = env.fake.state.responses.lock().unwrap()[0].clone();
    assert_eq!(body["text"], "from slash");
    assert_eq!(body["response_type"], "in_channel");
    assert!(env.fake.posts_in(GENERAL).is_empty());
    // Another slash command name runs `<name> <text>`.
    env.fake.slash(GENERAL, BOB, "/whoami", "");
    env.fake
        .wait_for("a second answer", 10, |f| {
            f.state.responses.lock().unwrap().len() >= 2
        })
        .await;
    let (_, body) = env.fake.state.responses.lock().unwrap()[1].clone();
    assert!(body["text"].as_str().unwrap().contains(BOB), "{body}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_retry_after_and_order_is_kept() {
    let env = Env::start().await;
    env.fake.state.rate_limits.lock().unwrap().push_back(1);
    env.fake.says(GENERAL, ALICE, "!burst", None);
    let posts = env.wait_posts(GENERAL, 3).await;
    let texts: Vec<&str> = posts.iter().map(|p| p.text()).collect();
    assert_eq!(texts, vec!["one", "two", "three"]);
    let limited_at = env.fake.state.rate_limited_at.lock().unwrap()[0];
    assert!(
        posts[0].at.duration_since(limited_at) >= Duration::from_secs(1),
        "the retry waited for Retry-After"
    );
    // One refused attempt, then each message exactly once.
    assert_eq!(env.fake.calls("chat.postMessage").len(), 4);
    assert_eq!(env.fake.posts_in(GENERAL).len(), 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_messages_are_split_in_order() {
    let env = Env::start().await;
    env.fake.says(GENERAL, ALICE, "!long", None);
    env.fake
        .wait_for("the whole report", 10, |f| {
            f.posts_in(GENERAL)
                .last()
                .is_some_and(|p| p.text().contains("line 0599"))
        })
        .await;
    let posts = env.fake.posts_in(GENERAL);
    assert!(posts.len() >= 3, "{} parts", posts.len());
    let mut next = 0;
    for p in &posts {
        assert!(p.text().chars().count() <= 4000);
        assert_eq!(
            p.text().lines().filter(|l| l.starts_with("```")).count() % 2,
            0
        );
        for line in p.text().lines().filter(|l| l.starts_with("line ")) {
            assert_eq!(line, format!("line {next:04} of the report"));
            next += 1;
        }
    }
    assert_eq!(next, 600);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_envelopes_and_dropped_sockets_reconnect() {
    let env = Env::start().await;
    env.fake.disconnect();
    env.fake
        .wait_for("a second connection", 10, |f| {
            f.state.hellos.load(Ordering::SeqCst) >= 2
        })
        .await;
    env.fake.says(GENERAL, ALICE, "!say after refresh", None);
    env.wait_posts(GENERAL, 1).await;

    env.fake.drop_socket();
    env.fake
        .wait_for("a third connection", 10, |f| {
            f.state.hellos.load(Ordering::SeqCst) >= 3
        })
        .await;
    env.fake.says(GENERAL, ALICE, "!say after drop", None);
    let posts = env.wait_posts(GENERAL, 2).await;
    assert_eq!(posts[1].text(), "after drop");
    assert_eq!(env.fake.calls("apps.connections.open").len(), 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pins_reactions_edits_and_deletions_are_message_events() {
    let mut env = Env::start().await;
    env.fake.event(json!({"type":"pin_added","user":ALICE,"channel_id":GENERAL,
        "item":{"type":"message","channel":GENERAL,"created":1,"created_by":ALICE,
                "message":{"type":"message","user":BOB,"text":"root cause &lt;db&gt;","ts":"1700000700.000001"}},
        "event_ts":"1700000700.000002"}));
    env.fake.event(json!({"type":"reaction_added","user":BOB,"reaction":"eyes","item_user":ALICE,
        "item":{"type":"message","channel":GENERAL,"ts":"1700000700.000001"},"event_ts":"1700000700.000003"}));
    env.fake.event(json!({"type":"message","subtype":"message_changed","channel":GENERAL,"hidden":true,
        "ts":"1700000700.000004","event_ts":"1700000700.000004",
        "message":{"type":"message","user":ALICE,"text":"fixed","ts":"1700000700.000001","edited":{"user":ALICE,"ts":"1700000700.000004"}},
        "previous_message":{"type":"message","user":ALICE,"text":"fixd","ts":"1700000700.000001"}}));
    env.fake.event(json!({"type":"message","subtype":"message_deleted","channel":GENERAL,"hidden":true,
        "deleted_ts":"1700000700.000001","ts":"1700000700.000005","event_ts":"1700000700.000005",
        "previous_message":{"type":"message","user":ALICE,"text":"fixed","ts":"1700000700.000001"}}));
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(
            tokio::time::timeout(Duration::from_secs(10), env.events.recv())
                .await
                .unwrap()
                .unwrap(),
        );
    }
    let room: RoomId = format!("slack:{GENERAL}").parse().unwrap();
    let message: MessageId = format!("slack:{GENERAL}/1700000700.000001")
        .parse()
        .unwrap();
    // The bot dispatches events concurrently, so they may reach plugins in any order.
    let expected = [
        MessageEvent::Pinned {
            room: room.clone(),
            message: message.clone(),
            by: Some(format!("slack:{ALICE}").parse().unwrap()),
            author: Some(format!("slack:{BOB}").parse().unwrap()),
            text: Some("root cause <db>".into()),
        },
        MessageEvent::ReactionAdded {
            room: room.clone(),
            message: message.clone(),
            by: format!("slack:{BOB}").parse().unwrap(),
            reaction: "eyes".into(),
            text: None,
        },
        MessageEvent::Edited {
            room: room.clone(),
            message: message.clone(),
            text: "fixed".into(),
        },
        MessageEvent::Deleted { room, message },
    ];
    for e in &expected {
        assert!(got.contains(e), "{e:?} not in {got:?}");
    }
    assert!(env.backend.capabilities().message_events.pins);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_pins_reactions_edits_and_users() {
    let env = Env::start().await;
    let b = &env.backend;
    let general: RoomId = format!("slack:{GENERAL}").parse().unwrap();
    let alice: UserId = format!("slack:{ALICE}").parse().unwrap();
    let bob: UserId = format!("slack:{BOB}").parse().unwrap();

    let sent = b
        .send(
            &Target::room(general.clone()),
            &OutgoingMessage::new("to pin"),
        )
        .await
        .unwrap();
    assert!(sent.local().starts_with(&format!("{GENERAL}/")), "{sent}");
    b.pin(&general, &sent).await.unwrap();
    b.pin(&general, &sent).await.unwrap(); // already pinned is fine
    b.react(&general, &sent, ":eyes:").await.unwrap();
    b.edit(
        &Target::room(general.clone()),
        &sent,
        &OutgoingMessage::new("edited"),
    )
    .await
    .unwrap();
    let ts = sent.local().split_once('/').unwrap().1.to_owned();
    let pin = &env.fake.calls("pins.add")[0].args;
    assert_eq!(pin, &json!({"channel": GENERAL, "timestamp": ts}));
    let reaction = &env.fake.calls("reactions.add")[0].args;
    assert_eq!(reaction["name"], "eyes");
    let update = &env.fake.calls("chat.update")[0].args;
    assert_eq!(update["ts"], ts.as_str());
    assert_eq!(update["text"], "edited");

    let room = b
        .create_room(&RoomSpec {
            name: "INC 42: Checkout".into(),
            topic: Some("checkout is down".into()),
            invite: vec![alice.clone(), bob.clone()],
            private: true,
        })
        .await
        .unwrap();
    assert!(room.local().starts_with("C0NEW"), "{room}");
    let create = &env.fake.calls("conversations.create")[0].args;
    assert_eq!(
        create,
        &json!({"name": "inc-42-checkout", "is_private": true})
    );
    assert_eq!(
        env.fake.calls("conversations.setTopic")[0].args["topic"],
        "checkout is down"
    );
    assert_eq!(
        env.fake.calls("conversations.invite")[0].args,
        json!({"channel": room.local(), "users": format!("{ALICE},{BOB}")})
    );
    b.set_topic(&room, "resolved").await.unwrap();
    b.archive(&room).await.unwrap();
    assert_eq!(env.fake.calls("conversations.archive").len(), 1);

    // ok:false errors are clear rejections.
    let missing: RoomId = "slack:C0MISSING".parse().unwrap();
    let err = b
        .send(&Target::room(missing.clone()), &OutgoingMessage::new("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("channel_not_found"), "{err}");
    assert!(!err.is_retryable());
    let err = b.archive(&missing).await.unwrap_err();
    assert!(err.to_string().contains("channel_not_found"), "{err}");

    // Direct messages go through conversations.open.
    b.send(
        &Target::direct(alice.clone()),
        &OutgoingMessage::new("psst"),
    )
    .await
    .unwrap();
    assert_eq!(env.fake.posts_in("D0ALICE")[0].text(), "psst");

    // Users and room admins.
    assert_eq!(b.user(&bob).await.unwrap().display_name, "Bobby");
    let admin: UserId = format!("slack:{ADMIN}").parse().unwrap();
    let creator: UserId = format!("slack:{CREATOR}").parse().unwrap();
    assert!(b.is_room_admin(&general, &admin).await.unwrap());
    assert!(b.is_room_admin(&general, &creator).await.unwrap());
    assert!(!b.is_room_admin(&general, &alice).await.unwrap());
    let ghost: UserId = "slack:U0GHOST".parse().unwrap();
    let err = b.user(&ghost).await.unwrap_err();
    assert!(err.to_string().contains("user_not_found"), "{err}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_a_clear_error_without_the_token() {
    let fake = Fake::start().await;
    let config = format!(
        "bot_token = \"xoxb-wrong-secret-value\"\napp_token = \"{APP_TOKEN}\"\napi_url = \"{}\"\n",
        fake.api_url()
    );
    let store = ferrbot::store::Store::memory().await.unwrap();
    let setup = BackendSetup {
        name: "slack".into(),
        config: toml::from_str(&config).unwrap(),
        prefix: "!".into(),
        store: store.kv("backend/slack"),
    };
    let backend = SlackBackend::from_setup(&setup).unwrap();
    assert!(!format!("{backend:?}").contains("wrong-secret"));
    let (tx, mut rx) = mpsc::unbounded_channel();
    let bot = Bot::builder(BotConfig::default())
        .backend(Arc::new(backend))
        .plugin(
            Arc::new(TestPlugin { events: tx }),
            toml::Value::Table(toml::Table::new()),
        )
        .build()
        .await
        .unwrap();
    let ctx = bot.context("test");
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move { bot.run(stop).await.unwrap() }
    });
    // The backend stops with "invalid_auth"; the bot itself keeps running, and no socket opens.
    let general: RoomId = format!("slack:{GENERAL}").parse().unwrap();
    let receipt = ctx.send(Target::room(general), OutgoingMessage::new("x"));
    let err = receipt.delivered().await.unwrap_err().to_string();
    assert!(err.contains("invalid_auth"), "{err}");
    assert!(!err.contains("wrong-secret"), "{err}");
    assert_eq!(fake.state.connections.load(Ordering::SeqCst), 0);
    assert!(rx.try_recv().is_err());
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_are_renamed_with_conversations_rename() {
    let env = Env::start().await;
    let b = &env.backend;
    assert!(b.capabilities().rename_rooms);
    let room = b
        .create_room(&RoomSpec {
            name: "inc-7".into(),
            ..RoomSpec::default()
        })
        .await
        .unwrap();

    // The name is normalised the way Slack wants it, and the rename is sent as documented.
    b.rename_room(&room, "Search War Room").await.unwrap();
    assert_eq!(
        env.fake.calls("conversations.rename")[0].args,
        json!({"channel": room.local(), "name": "search-war-room"})
    );
    assert_eq!(
        env.fake
            .state
            .names
            .lock()
            .unwrap()
            .get(room.local())
            .map(String::as_str),
        Some("search-war-room")
    );

    // Slack's refusals become clear rejections, not retried.
    let err = b.rename_room(&room, "general").await.unwrap_err();
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains("a channel named `general` already exists"),
        "{err}"
    );
    let missing: RoomId = "slack:C0MISSING".parse().unwrap();
    let err = b.rename_room(&missing, "x").await.unwrap_err();
    assert!(err.to_string().contains("no such channel"), "{err}");
    env.fake
        .state
        .not_ours
        .lock()
        .unwrap()
        .push(GENERAL.to_owned());
    let general: RoomId = format!("slack:{GENERAL}").parse().unwrap();
    let err = b.rename_room(&general, "lobby").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the bot may not rename this channel"),
        "{err}"
    );

    // Names Slack cannot take are refused before calling it.
    let calls = env.fake.calls("conversations.rename").len();
    let err = b.rename_room(&room, "!!!").await.unwrap_err();
    assert!(err.to_string().contains("needs letters or digits"), "{err}");
    let err = b.rename_room(&room, &"x".repeat(81)).await.unwrap_err();
    assert!(err.to_string().contains("at most 80 characters"), "{err}");
    assert_eq!(env.fake.calls("conversations.rename").len(), calls);

    // An archived channel keeps its name.
    b.archive(&room).await.unwrap();
    let err = b.rename_room(&room, "too-late").await.unwrap_err();
    assert!(err.to_string().contains("the channel is archived"), "{err}");
    env.stop().await;
}
