//! `b24`: Bitrix24 from the command line.
//!
//! ```text
//! b24 call crm.lead.add 'fields[TITLE]=x' 'fields[PHONE][0][VALUE]=+79990001122' --webhook URL
//! b24 batch commands.json
//! b24 record --out fixtures crm.lead.get id=1        # or: b24 record --script calls.json
//! b24 export crm.lead.list --select ID --select TITLE --format ndjson --output leads.ndjson
//! b24 events listen --port 8089 --token APPLICATION_TOKEN
//! b24 events bind ONCRMLEADADD https://example.com/bitrix24/events
//! b24 sandbox --port 8088 --plan standard --seed-leads 100000
//! ```
//!
//! Every command that talks to a portal takes `--webhook URL`, else `BITRIX24_WEBHOOK_URL`
//! (also from a `.env` file). Errors are one line on standard error, with the API's error code,
//! and the exit status is 1.
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// `println!` that never panics: a server whose output is no longer read (`| head`, a closed
/// terminal) keeps serving. Returns whether the line was written.
macro_rules! say {
    ($($arg:tt)*) => {
        crate::say(format_args!($($arg)*))
    };
}

mod call;
mod connect;
mod events;
mod export;
mod params;
mod record;
mod sandbox;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;

#[derive(Debug, Parser)]
#[command(name = "b24", version, about = "Bitrix24 from the command line")]
struct Cli {
    /// Show each request with its timing on standard error.
    #[arg(long, short, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Calls one REST method and prints its result as JSON.
    Call(call::CallArgs),
    /// Sends a batch of commands from a JSON file and prints each command's result.
    Batch(call::BatchArgs),
    /// Exports every row of a list method, as fast as the portal's limits allow.
    Export(export::ExportArgs),
    /// Calls methods and records each request and reply as a fixture, scrubbed of secrets.
    Record(record::RecordArgs),
    /// Receives events, or manages an application's event bindings.
    Events(events::EventsArgs),
    /// Runs a sandbox portal (a Bitrix24 emulator) on 127.0.0.1 until stopped.
    Sandbox(sandbox::SandboxArgs),
}

/// One line for an error: the method, the API's code and description when there is one.
pub(crate) fn describe(error: &bitrix24::Error) -> String {
    let Some(api) = error.api() else {
        return error.to_string();
    };
    let method = error.method().map(|m| format!("{m}: ")).unwrap_or_default();
    let code = api.code.as_str();
    let description = api.description.trim_end_matches("<br>").trim();
    let mut line = if code.is_empty() {
        format!("{method}HTTP {}", api.http_status)
    } else {
        format!("{method}{code} (HTTP {})", api.http_status)
    };
    if !description.is_empty() {
        line.push_str(": ");
        line.push_str(description);
    }
    line
}

/// Writes one line to standard output; `false` when it cannot be written.
pub(crate) fn say(line: std::fmt::Arguments<'_>) -> bool {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
}

/// Prints JSON: pretty by default, on one line with `raw`. A closed pipe (`| head`) ends the
/// output quietly.
pub(crate) fn print_json(value: &Value, raw: bool) {
    use std::io::Write;
    let text = if raw {
        value.to_string()
    } else {
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    };
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

#[tokio::main]
async fn main() -> ExitCode {
    // `.env` never overrides what the environment already says.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let filter = if cli.verbose {
        "bitrix24=debug"
    } else {
        "bitrix24=warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let outcome = match cli.command {
        Command::Call(args) => call::call(args).await,
        Command::Batch(args) => call::batch(args).await,
        Command::Export(args) => export::export(args).await,
        Command::Record(args) => record::record(args).await,
        Command::Events(args) => events::events(args).await,
        Command::Sandbox(args) => sandbox::sandbox(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
