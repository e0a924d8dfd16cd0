//! The `tollgate` binary: `serve` runs the gateway, `check` validates a config.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tollgate::config::Config;

#[derive(Parser)]
#[command(name = "tollgate", version, about = "An AI API gateway on Pingora")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: PathBuf,
    },
    /// Validate a config file and exit: 0 when it is usable.
    Check {
        #[arg(short = 'c', long = "config", value_name = "FILE")]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    tollgate::logging::init();
    let code = run(Cli::parse());
    // The log is written by a thread of its own: what it still holds goes out before the exit.
    tollgate::logging::flush();
    code
}

fn run(cli: Cli) -> ExitCode {
    let (Command::Serve { config: path } | Command::Check { config: path }) = &cli.command;
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            tollgate::logging::flush();
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command {
        Command::Check { .. } => {
            println!(
                "ok: {} ({} providers, {} keys)",
                path.display(),
                config.providers.len(),
                config.keys.len()
            );
            ExitCode::SUCCESS
        }
        Command::Serve { .. } => match tollgate::server::run(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tollgate::logging::flush();
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
