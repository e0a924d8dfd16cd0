//! A standalone mock provider: the demo upstream in README and the provider of the benchmarks.
//!
//! Usage: tollgate-mock [--listen ADDR] [--latency-ms N] [--event-delay-ms N | --event-delay-us N]
//!                      [--chunks N] [--reply TEXT]
//!
//! Every dialect answers with the same usage for the same request (prompt tokens counted from the
//! request, completion tokens from the reply), so runs through different proxies meter alike.

use std::time::Duration;
use tollgate_mock::{Behavior, MockConfig, MockProvider};

const USAGE: &str = "usage: tollgate-mock [--listen ADDR] [--latency-ms N] \
[--event-delay-ms N | --event-delay-us N] [--chunks N] [--reply TEXT]
  --latency-ms N      wait N ms before each response header (the provider's thinking time)
  --event-delay-ms N  wait N ms between two stream events (the cadence of tokens)
  --event-delay-us N  the same, in microseconds
  --chunks N          answer with N words: N content events in a stream
  --reply TEXT        answer with TEXT";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:9000".to_string();
    let mut behavior = Behavior::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--latency-ms" => behavior.header_delay = Duration::from_millis(value()?.parse()?),
            "--event-delay-ms" => behavior.event_delay = Duration::from_millis(value()?.parse()?),
            "--event-delay-us" => behavior.event_delay = Duration::from_micros(value()?.parse()?),
            "--chunks" => {
                let n: usize = value()?.parse()?;
                let words: Vec<String> = (0..n.max(1)).map(|i| format!("word{i}")).collect();
                behavior.reply = Some(words.join(" "));
            }
            "--reply" => behavior.reply = Some(value()?),
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}").into()),
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
