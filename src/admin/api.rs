//! The admin API, behind `admin.token`: a key's balance, credit for it, and its usage records.
//!
//!   GET  /admin/keys/{name}/balance
//!   POST /admin/keys/{name}/credit   {"amount_usd": "5.00", "note": "..."}
//!   GET  /admin/usage?key=&from=&to=&limit=
//!
//! Keys are named by their configured `name`; a key's secret is never part of an answer.

use crate::auth::{bearer, digest};
use crate::config::Secret;
use crate::gateway::Shared;
use crate::limits::Balance;
use crate::metering::ledger::{self, Credit, Entry};
use crate::metering::usd;
use bytes::Bytes;
use http::{HeaderMap, Method, Response};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Largest admin request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Usage records one query returns at most.
const MAX_RECORDS: usize = 10_000;
/// Ledger stream entries one query reads at most.
const MAX_SCANNED: usize = 200_000;

pub fn json_response(status: u16, body: &Value) -> Response<Vec<u8>> {
    let body = format!("{body}\n").into_bytes();
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("content-length", body.len())
        .header("cache-control", "no-store")
        .body(body)
        .unwrap_or_default()
}

fn error(status: u16, message: &str) -> Response<Vec<u8>> {
    json_response(status, &json!({"error": {"message": message}}))
}

/// Whether `headers` carry `Authorization: Bearer <token>`. Digests are compared, so the time
/// taken says nothing of how much of a guess was right.
pub fn authorized(headers: &HeaderMap, token: &Secret) -> bool {
    let presented = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    presented.is_some_and(|p| digest(p) == digest(token.expose()))
}

/// `"12.5"` (or `"-3"`) US dollars in micro-USD, exactly; at most six decimals.
pub fn parse_usd(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() && frac.is_empty()
        || !all_digits(whole)
        || !all_digits(frac)
        || frac.len() > 6
        // At most a billion dollars at once: balances stay exact in Redis's Lua numbers.
        || whole.len() > 9
    {
        return None;
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac: i64 = format!("{frac:0<6}").parse().ok()?;
    let micro = whole.checked_mul(1_000_000)?.checked_add(frac)?;
    Some(if negative { -micro } else { micro })
}

fn balance_json(key: &str, b: &Balance) -> Value {
    json!({
        "key": key,
        "budget_micro_usd": b.budget,
        "credit_micro_usd": b.credit,
        "spent_micro_usd": b.spent,
        "reserved_micro_usd": b.reserved,
        "available_micro_usd": b.available(),
        "available_usd": usd(b.available()),
    })
}

/// Percent-decoding for query parameters and path segments (`+` is a space in a query).
fn decode(s: &str, query: bool) -> Option<String> {
    let replaced;
    let s = if query && s.contains('+') {
        replaced = s.replace('+', " ");
        replaced.as_str()
    } else {
        s
    };
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A time given in a query (RFC 3339, any precision) as the ledger writes times.
fn ledger_time(text: &str) -> Option<String> {
    let t = humantime::parse_rfc3339_weak(text.trim_end_matches('Z')).ok()?;
    Some(humantime::format_rfc3339_millis(t).to_string())
}

pub struct Api {
    shared: Arc<Shared>,
}

impl Api {
    pub fn new(shared: Arc<Shared>) -> Self {
        Api { shared }
    }

    /// Answers an admin API request already known to carry the right token.
    pub async fn handle(
        &self,
        method: &Method,
        path: &str,
        query: Option<&str>,
        body: Bytes,
    ) -> Response<Vec<u8>> {
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (method, parts.as_slice()) {
            (&Method::GET, ["admin", "keys", name, "balance"]) => self.balance(name).await,
            (&Method::POST, ["admin", "keys", name, "credit"]) => self.credit(name, &body).await,
            (&Method::GET, ["admin", "usage"]) => self.usage(query).await,
            (_, ["admin", "keys", _, "balance" | "credit"] | ["admin", "usage"]) => {
                error(405, "method not allowed")
            }
            _ => error(404, "no such admin endpoint"),
        }
    }

    /// The key named `name` (percent-encoded in the path) and its budget, if it has one.
    fn budget_of(&self, name: &str) -> Result<(String, i64), Box<Response<Vec<u8>>>> {
        let name = decode(name, false).ok_or_else(|| error(400, "bad key name"))?;
        let key = self
            .shared
            .config
            .keys
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| error(404, "no key of that name"))?;
        let budget = key.budget_micro_usd.ok_or_else(|| {
            error(
                409,
                "this key has no budget_usd: its use is not limited by money",
            )
        })?;
        Ok((name, budget))
    }

    async fn balance(&self, name: &str) -> Response<Vec<u8>> {
        let (name, budget) = match self.budget_of(name) {
            Ok(k) => k,
            Err(e) => return *e,
        };
        match self.shared.limits.balance(&name, budget).await {
            Ok(b) => json_response(200, &balance_json(&name, &b)),
            Err(_) => error(503, "the balance store cannot be reached"),
        }
    }

    async fn credit(&self, name: &str, body: &[u8]) -> Response<Vec<u8>> {
        let (name, budget) = match self.budget_of(name) {
            Ok(k) => k,
            Err(e) => return *e,
        };
        let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
            return error(400, "expected a JSON object: {\"amount_usd\": \"5.00\"}");
        };
        let amount = match req.get("amount_usd") {
            Some(Value::String(s)) => parse_usd(s),
            Some(Value::Number(n)) => parse_usd(&n.to_string()),
            _ => None,
        };
        let Some(amount) = amount.filter(|a| *a != 0) else {
            return error(
                400,
                "amount_usd: expected a non-zero amount in USD with at most six decimals, like \"5.00\"",
            );
        };
        let note = match req.get("note") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(crate::error::clip(s).into_owned()),
            Some(_) => return error(400, "note: expected a string"),
        };
        if self.shared.limits.credit(&name, amount).await.is_err() {
            return error(
                503,
                "the balance store cannot be reached: nothing was credited",
            );
        }
        self.shared.record(Entry::Credit(Credit {
            ts: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            request_id: format!("{:032x}", fastrand::u128(..)),
            key: name.clone(),
            amount_micro_usd: amount,
            note,
        }));
        // A credit is rare and must survive a crash right after it was acknowledged; the
        // wait for the disk is not the admin listener's thread's.
        let shared = self.shared.clone();
        let durable = tokio::task::spawn_blocking(move || {
            shared
                .ledger
                .as_ref()
                .is_none_or(|l| l.sync(Duration::from_secs(5)))
        })
        .await
        .unwrap_or(false);
        if !durable {
            return error(
                500,
                "credited, but the usage ledger could not be written to disk: check the server",
            );
        }
        tracing::info!(key = %name, amount_micro_usd = amount, "credit added");
        match self.shared.limits.balance(&name, budget).await {
            Ok(b) => json_response(200, &balance_json(&name, &b)),
            Err(_) => json_response(200, &json!({"key": name, "credited_micro_usd": amount})),
        }
    }

    async fn usage(&self, query: Option<&str>) -> Response<Vec<u8>> {
        let file = self.shared.config.state.usage_log.clone();
        if file.is_none() && !self.shared.limits.shared() {
            return error(409, "no usage ledger is kept: set state.usage_log");
        }
        let mut q = ledger::Query::default();
        let mut limit = 1000;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let Some(value) = decode(value, true) else {
                return error(400, "bad query string");
            };
            match name {
                "key" => q.key = Some(value),
                "from" | "to" => {
                    let Some(t) = ledger_time(&value) else {
                        return error(400, &format!("{name}: expected an RFC 3339 time"));
                    };
                    if name == "from" {
                        q.from = Some(t);
                    } else {
                        q.to = Some(t);
                    }
                }
                "limit" => match value.parse::<usize>() {
                    Ok(n) if (1..=MAX_RECORDS).contains(&n) => limit = n,
                    _ => {
                        return error(400, &format!("limit: expected 1 to {MAX_RECORDS}"));
                    }
                },
                _ => {
                    return error(
                        400,
                        &format!("unknown parameter `{}`", crate::error::clip(name)),
                    )
                }
            }
        }
        // One more than asked for says whether there are more.
        q.limit = limit + 1;
        // With Redis the stream has every replica's lines; a file has this replica's only.
        let path = match file {
            Some(path) if !self.shared.limits.shared() => path,
            _ => return self.usage_in_stream(&q, limit).await,
        };
        // The file is read off the async threads: it can be large.
        let found = tokio::task::spawn_blocking(move || {
            ledger::query(std::path::Path::new(&path), &q).map(|r| (r, limit))
        })
        .await;
        match found {
            Ok(Ok((mut records, limit))) => {
                let more = records.len() > limit;
                records.truncate(limit);
                json_response(200, &json!({"data": records, "has_more": more}))
            }
            _ => error(500, "the usage ledger could not be read"),
        }
    }

    /// The same query, answered from Redis's ledger stream when there is no ledger file: read
    /// a page at a time, at most [`MAX_SCANNED`] lines per query.
    async fn usage_in_stream(&self, q: &ledger::Query, limit: usize) -> Response<Vec<u8>> {
        // An entry's id starts with the millisecond Redis added it, just after the line's `ts`:
        // a second's margin either side, and the lines' own times decide.
        let ms = |t: &str| {
            humantime::parse_rfc3339(t)
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64)
        };
        let mut after = match q.from.as_deref().and_then(ms) {
            Some(from) => from.saturating_sub(1000).to_string(),
            None => "-".to_string(),
        };
        let until = q.to.as_deref().and_then(ms).map(|t| t + 1000);
        let mut records = Vec::new();
        let mut scanned = 0;
        while records.len() < q.limit && scanned < MAX_SCANNED {
            let page = match self.shared.limits.ledger_page(&after, 1000).await {
                Some(Ok(page)) => page,
                _ => return error(503, "the ledger stream cannot be reached"),
            };
            let Some((last, _)) = page.last() else { break };
            after.clone_from(last);
            let past = |id: &str| {
                let at = id.split('-').next().and_then(|m| m.parse::<u64>().ok());
                matches!((at, until), (Some(at), Some(until)) if at > until)
            };
            scanned += page.len();
            records.extend(
                page.iter()
                    .filter_map(|(_, line)| q.pick(line.as_bytes()))
                    .take(q.limit - records.len()),
            );
            if past(last) {
                break;
            }
        }
        let more = records.len() > limit || scanned >= MAX_SCANNED;
        records.truncate(limit);
        json_response(200, &json!({"data": records, "has_more": more}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_parse_exactly() {
        assert_eq!(parse_usd("5"), Some(5_000_000));
        assert_eq!(parse_usd("5.25"), Some(5_250_000));
        assert_eq!(parse_usd("0.000001"), Some(1));
        assert_eq!(parse_usd(".5"), Some(500_000));
        assert_eq!(parse_usd("-1.5"), Some(-1_500_000));
        for bad in [
            "",
            ".",
            "1.0000001",
            "1e3",
            "abc",
            "1.2.3",
            "--1",
            "1000000000",
        ] {
            assert_eq!(parse_usd(bad), None, "{bad}");
        }
        assert_eq!(usd(-1_500_000), "-1.500000");
        assert_eq!(usd(12), "0.000012");
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let token = Secret::new("admin-token-0123456789".into());
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::AUTHORIZATION, v.parse().unwrap());
            authorized(&h, &token)
        };
        assert!(with("Bearer admin-token-0123456789"));
        assert!(with("bearer admin-token-0123456789"));
        assert!(!with("Bearer admin-token-012345678"));
        assert!(!with("Basic admin-token-0123456789"));
        assert!(!authorized(&HeaderMap::new(), &token));
    }

    #[test]
    fn query_times_become_ledger_times() {
        assert_eq!(
            ledger_time("2026-11-22T10:00:00Z").as_deref(),
            Some("2026-11-22T10:00:00.000Z")
        );
        assert_eq!(ledger_time("yesterday"), None);
    }
}
