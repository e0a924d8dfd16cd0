//! A standalone mock provider: the demo upstream in README and the load-test target in benches/.
//!
//! Usage: tollgate-mock [--listen ADDR] [--event-delay-ms N] [--reply TEXT]

use std::time::Duration;
use tollgate_mock::{Behavior, MockConfig, MockProvider};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:9000".to_string();
    let mut behavior = Behavior::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--event-delay-ms" => behavior.event_delay = Duration::from_millis(value()?.parse()?),
            "--reply" => behavior.reply = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "usage: tollgate-mock [--listen ADDR] [--event-delay-ms N] [--reply TEXT]"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let config = MockConfig {
        name: "the demo provider".into(),
        models: vec!["gpt-4o-mini".into(), "gpt-4o".into()],
        ..MockConfig::default()
    };
    let mock = MockProvider::start_on(listen.parse()?, config, false).await?;
    mock.set_default(behavior);
    eprintln!(
        "mock provider (OpenAI Chat and Responses, Anthropic, Gemini) listening on {}",
        mock.base_url()
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}
