//! A plugin with one command per behaviour under test.

use std::time::Duration;

use ferrbot::prelude::*;

/// Repeat the words.
#[derive(clap::Parser)]
#[command(name = "echo")]
pub struct Echo {
    /// The words.
    words: Vec<String>,
}

impl Command for Echo {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        Ok(Reply::text(self.words.join("|")))
    }
}

/// Greet someone and count the greetings.
#[derive(clap::Parser)]
#[command(name = "greet")]
pub struct Greet {
    /// Who to greet.
    name: String,
    /// Shout.
    #[arg(long)]
    loud: bool,
    /// How many times.
    #[arg(long, default_value_t = 1)]
    times: u8,
}

impl Command for Greet {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        let n = ctx.store().incr(&format!("greeted/{}", self.name)).await?;
        let text = format!("Hello, {}! (#{n})", self.name).repeat(usize::from(self.times));
        Ok(Reply::text(if self.loud {
            text.to_uppercase()
        } else {
            text
        }))
    }
}

/// Sleep, then answer.
#[derive(clap::Parser)]
#[command(name = "slow")]
pub struct Slow {
    /// Milliseconds.
    ms: u64,
}

impl Command for Slow {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        Ok(Reply::text(format!("slept {}ms", self.ms)))
    }
}

/// Panic.
#[derive(clap::Parser)]
#[command(name = "boom")]
pub struct Boom;

impl Command for Boom {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        panic!("boom on purpose")
    }
}

/// Fail with an internal error.
#[derive(clap::Parser)]
#[command(name = "broken")]
pub struct Broken;

impl Command for Broken {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        let parsed: Result<u8, _> = "not a number".parse::<u8>();
        parsed?;
        Ok(Reply::none())
    }
}

/// Something only admins may do.
#[derive(clap::Parser)]
#[command(name = "nuke")]
pub struct Nuke;

impl Command for Nuke {
    const ACCESS: Access = Access::Admins;
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        Ok(Reply::text("nuked"))
    }
}

/// Answer privately.
#[derive(clap::Parser)]
#[command(name = "whisper")]
pub struct Whisper;

impl Command for Whisper {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        Ok(Reply::text("just for you").private())
    }
}

/// Answer with a card and a button.
#[derive(clap::Parser)]
#[command(name = "card")]
pub struct CardCmd;

impl Command for CardCmd {
    async fn run(self, _ctx: &Ctx) -> CommandResult {
        Ok(Reply::card(
            Card::new("Deploy 42")
                .level(Level::Warning)
                .field("Env", "prod"),
        )
        .with_action(Action::new("Approve", "echo approved")))
    }
}

/// Who am I, as seen by a plugin.
#[derive(clap::Parser)]
#[command(name = "me")]
pub struct Me;

impl Command for Me {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        Ok(Reply::text(ctx.caller().id.to_string()))
    }
}

/// The test plugin.
pub struct Kit;

#[async_trait]
impl Plugin for Kit {
    fn root_routes(&self, _ctx: PluginContext) -> Vec<(String, axum::routing::MethodRouter)> {
        use axum::routing::get;
        vec![
            ("/compat/ping".to_owned(), get(|| async { "compat pong" })),
            // Refused by the server: a reserved path and a duplicate.
            ("/metrics".to_owned(), get(|| async { "fake metrics" })),
            ("/compat/ping".to_owned(), get(|| async { "second" })),
        ]
    }

    fn routes(&self, _ctx: PluginContext) -> Option<axum::Router> {
        use axum::routing::{get, post};
        Some(
            axum::Router::new()
                .route("/echo", post(|body: axum::body::Bytes| async move { format!("got {} bytes", body.len()) }))
                .route("/slow", get(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }))
                .route("/panic", get(|| async {
                    if std::hint::black_box(true) {
                        panic!("route panic on purpose");
                    }
                    "unreachable"
                })),
        )
    }

    fn manifest(&self) -> Manifest {
        Manifest::new("kit", "1.0.0")
            .description("test commands")
            .command::<Echo>()
            .command::<Greet>()
            .command_spec(
                CommandSpec::typed::<Greet>()
                    .named("hi")
                    .hidden()
                    .alias_of("greet"),
            )
            .command_spec(
                CommandSpec::raw("kaboom", "Nuke, by another name", |_ctx, _words| async {
                    Ok(Reply::text("nuked"))
                })
                .hidden()
                .alias_of("nuke"),
            )
            .command::<Slow>()
            .command::<Boom>()
            .command::<Broken>()
            .command::<Nuke>()
            .command::<Whisper>()
            .command::<CardCmd>()
            .command::<Me>()
            .command_spec(CommandSpec::raw(
                "deploy",
                "Deploy things",
                |_ctx, args| async move { Ok(Reply::text(format!("deploy:{}", args.join(",")))) },
            ))
            .command_spec(
                CommandSpec::raw(
                    "verbatim",
                    "Echo the text as typed",
                    |ctx, args| async move {
                        Ok(Reply::text(format!("{}|{}", ctx.raw_args(), args.len())))
                    },
                )
                .raw_text(),
            )
            .command_spec(CommandSpec::raw(
                "deploy status",
                "Deploy status",
                |_ctx, args| async move { Ok(Reply::text(format!("status:{}", args.join(",")))) },
            ))
            .matcher(MatcherSpec::new(
                "ping matcher",
                regex::Regex::new(r"(?i)\bping (?P<host>\S+)").unwrap(),
                |_ctx, caps| async move { Ok(Reply::text(format!("pong {}", caps.named["host"]))) },
            ))
    }
}
