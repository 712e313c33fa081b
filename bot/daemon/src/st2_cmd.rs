//! `ferrbot st2 alias-test`: StackStorm's alias format language, offline, for alias authors.
//!
//! It runs the same parser the `!st2` plugin uses for previews and help (a port of st2's
//! `extract_parameters`), so an author can check a format against commands before deploying
//! the alias.

use std::process::ExitCode;

use ferrbot_plugin_st2::alias;

/// `ferrbot st2 …`.
#[derive(clap::Args)]
pub struct St2Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Match a command against an alias format and print the parameters StackStorm would
    /// extract, as one JSON object (values as strings, null for an unmatched group). Exits 1
    /// when the command does not match or supplies no value, 2 when the format is invalid.
    AliasTest {
        /// The alias format, e.g. `run {{cmd}} on {{hosts=localhost}}`.
        #[arg(long)]
        format: String,
        /// The command as typed in chat, without the bot's prefix (quote it).
        command: String,
    },
}

/// Runs the subcommand; prints the result on stdout or the reason on stderr.
pub fn run(args: St2Args) -> ExitCode {
    match args.action {
        Action::AliasTest { format, command } => {
            let (code, text) = alias::alias_test_cli(&format, &command);
            if code == 0 {
                println!("{text}");
                ExitCode::SUCCESS
            } else {
                eprintln!("ferrbot: {text}");
                ExitCode::from(u8::try_from(code).unwrap_or(1))
            }
        }
    }
}
