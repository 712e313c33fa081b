//! The hello-world plugin of `docs/plugin-guide.md`: a typed command with an argument and a
//! flag, a counter in the plugin's store, and a webhook route.
//!
//! `cargo run -p ferrbot --example hello` runs it in a `TestBot`;
//! `cargo test -p ferrbot --examples` runs its test.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use ferrbot::prelude::*;
use ferrbot::store::KvStore;

/// Greet someone and count how often they were greeted.
#[derive(clap::Parser)]
#[command(name = "hello")]
pub struct Hello {
    /// Who to greet.
    name: String,
    /// Shout the greeting.
    #[arg(long)]
    loud: bool,
}

impl Command for Hello {
    async fn run(self, ctx: &Ctx) -> CommandResult {
        let mut text = greet(&ctx.store(), &self.name).await?;
        if self.loud {
            text = text.to_uppercase();
        }
        Ok(Reply::text(text))
    }
}

/// Counts a greeting in the plugin's store and words it.
async fn greet(store: &KvStore, name: &str) -> Result<String, ferrbot::store::StoreError> {
    let n = store.incr(&format!("greeted/{name}")).await?;
    Ok(format!("Hello, {name}! (greeting #{n})"))
}

/// `POST /plugins/hello/greet/{name}`: a greeting from outside chat (a CI job, a cron).
async fn webhook(
    State(store): State<KvStore>,
    Path(name): Path<String>,
) -> Result<String, StatusCode> {
    greet(&store, &name).await.map_err(|e| {
        tracing::error!(error = %e, "hello: greeting not counted");
        StatusCode::INTERNAL_SERVER_ERROR
    })
}

/// The plugin: one command and one route.
pub struct HelloPlugin;

impl Plugin for HelloPlugin {
    fn manifest(&self) -> Manifest {
        Manifest::new("hello", env!("CARGO_PKG_VERSION")).command::<Hello>()
    }

    fn routes(&self, ctx: PluginContext) -> Option<axum::Router> {
        let routes = axum::Router::new().route("/greet/{name}", axum::routing::post(webhook));
        Some(routes.with_state(ctx.store()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use ferrbot::testing::TestBot;

    let bot = TestBot::builder().plugin(HelloPlugin).web().build().await;
    for line in [
        "!hello world",
        "!hello world --loud",
        "!hello",
        "!hello --help",
    ] {
        bot.say("test:alice", line).await;
        println!("alice> {line}\n{}\n", bot.next_reply().await.text());
    }
    let url = format!("{}/plugins/hello/greet/world", bot.web_url());
    let answer = reqwest::Client::new().post(&url).send().await?;
    println!("POST {url}\n{}", answer.text().await?);
    bot.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use ferrbot::testing::TestBot;

    use super::HelloPlugin;

    #[tokio::test]
    async fn greets_loudly_counts_and_answers_the_webhook() {
        let bot = TestBot::builder().plugin(HelloPlugin).web().build().await;
        bot.say("test:alice", "!hello bob --loud").await;
        assert_eq!(bot.next_reply().await.text(), "HELLO, BOB! (GREETING #1)");

        let url = format!("{}/plugins/hello/greet/bob", bot.web_url());
        let answer = reqwest::Client::new().post(url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert_eq!(answer.text().await.unwrap(), "Hello, bob! (greeting #2)");

        let store = bot.context("hello").store();
        assert_eq!(store.get::<i64>("greeted/bob").await.unwrap(), Some(2));
    }
}
