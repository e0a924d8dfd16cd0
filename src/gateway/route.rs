//! Which operation a request asks for, by method and path, in which dialect.

use crate::dialect::codec::RouteFacts;
use crate::dialect::errors::ErrorKind;
use crate::dialect::Dialect;
use crate::error::{clip, GatewayError};
use http::Method;

/// An operation tollgate serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// A model answers: Chat Completions, Responses, Messages or generateContent.
    Generate,
    /// The models a key may use.
    ListModels,
    /// One model, by the id in the path.
    GetModel,
    /// A request's input tokens, counted (Anthropic's `count_tokens`, Gemini's `countTokens`).
    CountTokens,
    /// `HEAD /`: a client checking that the server is there (Claude Code does).
    Root,
    /// `GET /v1/responses`: Codex's WebSocket upgrade, which it gives up on at once only on 426.
    ResponsesSocket,
}

impl Route {
    pub fn label(self) -> &'static str {
        match self {
            Route::Generate => "generate",
            Route::ListModels => "models",
            Route::GetModel => "model",
            Route::CountTokens => "count_tokens",
            Route::Root => "root",
            Route::ResponsesSocket => "responses_socket",
        }
    }
}

/// A matched request: the operation, the dialect its client speaks, and what the path said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub route: Route,
    pub dialect: Dialect,
    pub facts: RouteFacts,
}

/// Hubs tell clients to use `https://host/v1` as the base URL, so Anthropic and Gemini clients,
/// which add their own version segment, ask for `/v1/v1/messages` and `/v1/v1beta/models/…`.
fn single_prefix(path: &str) -> &str {
    match path.strip_prefix("/v1") {
        Some(rest) if rest.starts_with("/v1/") || rest.starts_with("/v1beta/") => rest,
        _ => path,
    }
}

/// The dialect to answer in when the route itself is unknown, guessed from the path so that
/// an Anthropic or Gemini client still gets an error it can parse.
pub fn dialect_of_path(path: &str) -> Dialect {
    let path = single_prefix(path);
    if path.starts_with("/v1/messages") {
        Dialect::AnthropicMessages
    } else if path.starts_with("/v1beta/")
        || (path.starts_with("/v1/models/") && path.contains(':'))
    {
        Dialect::Gemini
    } else if path.starts_with("/v1/responses") {
        Dialect::OpenAiResponses
    } else {
        Dialect::OpenAiChat
    }
}

/// `models/{model}:{method}` of a Gemini path, after `/v1beta/` or `/v1/`.
fn gemini(rest: &str, query: Option<&str>) -> Option<(RouteFacts, Route)> {
    let (model, method) = rest.strip_prefix("models/")?.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let (route, stream) = match method {
        "generateContent" => (Route::Generate, false),
        "streamGenerateContent" => (Route::Generate, true),
        "countTokens" => (Route::CountTokens, false),
        _ => return None,
    };
    let sse = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .any(|pair| pair == "alt=sse");
    let facts = RouteFacts {
        model: Some(model.to_string()),
        stream,
        sse,
    };
    Some((facts, route))
}

/// The model id of `GET /v1/models/{id}` (OpenAI's, Anthropic's, or google-genai's on `v1`) or
/// `GET /v1beta/models/{id}` (Gemini's).
fn model_id(path: &str) -> Option<(&str, Dialect)> {
    let (id, dialect) = match path.strip_prefix("/v1beta/models/") {
        Some(id) => (id, Dialect::Gemini),
        None => (path.strip_prefix("/v1/models/")?, Dialect::OpenAiChat),
    };
    (!id.is_empty() && !id.contains(':')).then_some((id, dialect))
}

fn not_found(method: &Method, path: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::UnknownRoute,
        format!("Invalid URL ({} {})", clip(method.as_str()), clip(path)),
    )
}

/// Matches a request line to a route; unknown paths are 404, known paths with another method 405.
pub fn resolve(method: &Method, path: &str, query: Option<&str>) -> Result<Matched, GatewayError> {
    let trimmed = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let p = single_prefix(trimmed);
    let plain = |route, dialect| Matched {
        route,
        dialect,
        facts: RouteFacts::default(),
    };
    let (matched, allowed) = match p {
        "/v1/chat/completions" => (plain(Route::Generate, Dialect::OpenAiChat), Method::POST),
        "/v1/responses" if *method == Method::GET => (
            plain(Route::ResponsesSocket, Dialect::OpenAiResponses),
            Method::GET,
        ),
        "/v1/responses" => (
            plain(Route::Generate, Dialect::OpenAiResponses),
            Method::POST,
        ),
        "/v1/messages" => (
            plain(Route::Generate, Dialect::AnthropicMessages),
            Method::POST,
        ),
        "/v1/messages/count_tokens" => (
            plain(Route::CountTokens, Dialect::AnthropicMessages),
            Method::POST,
        ),
        "/v1/models" => (plain(Route::ListModels, Dialect::OpenAiChat), Method::GET),
        "/v1beta/models" => (plain(Route::ListModels, Dialect::Gemini), Method::GET),
        "/" => (plain(Route::Root, Dialect::OpenAiChat), Method::HEAD),
        _ if *method == Method::GET && model_id(p).is_some() => {
            let (id, dialect) = model_id(p).unwrap_or(("", Dialect::OpenAiChat));
            let facts = RouteFacts {
                model: Some(id.to_string()),
                ..RouteFacts::default()
            };
            (
                Matched {
                    route: Route::GetModel,
                    dialect,
                    facts,
                },
                Method::GET,
            )
        }
        _ => {
            let rest = p
                .strip_prefix("/v1beta/")
                .or_else(|| p.strip_prefix("/v1/"));
            match rest.and_then(|r| gemini(r, query)) {
                Some((facts, route)) => (
                    Matched {
                        route,
                        dialect: Dialect::Gemini,
                        facts,
                    },
                    Method::POST,
                ),
                None => return Err(not_found(method, trimmed)),
            }
        }
    };
    // `GET /` is as good a liveness check as `HEAD /`.
    let ok = *method == allowed || (matched.route == Route::Root && *method == Method::GET);
    if !ok {
        return Err(GatewayError::new(
            ErrorKind::MethodNotAllowed,
            format!(
                "Method {} is not allowed for {trimmed}; use {allowed}",
                clip(method.as_str())
            ),
        )
        .with_header("allow", allowed.as_str()));
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(m: Method, path: &str, q: Option<&str>) -> (Route, Dialect) {
        let r = resolve(&m, path, q).unwrap();
        (r.route, r.dialect)
    }

    #[test]
    fn every_dialect_has_its_routes() {
        assert_eq!(
            route(Method::POST, "/v1/chat/completions", None),
            (Route::Generate, Dialect::OpenAiChat)
        );
        assert_eq!(
            route(Method::POST, "/v1/responses", None),
            (Route::Generate, Dialect::OpenAiResponses)
        );
        assert_eq!(
            route(Method::GET, "/v1/responses", None),
            (Route::ResponsesSocket, Dialect::OpenAiResponses)
        );
        assert_eq!(
            route(Method::POST, "/v1/messages", Some("beta=true")),
            (Route::Generate, Dialect::AnthropicMessages)
        );
        assert_eq!(
            route(Method::GET, "/v1/models/", None),
            (Route::ListModels, Dialect::OpenAiChat)
        );
        assert_eq!(
            route(Method::GET, "/v1beta/models", None),
            (Route::ListModels, Dialect::Gemini)
        );
        assert_eq!(
            route(Method::HEAD, "/", None),
            (Route::Root, Dialect::OpenAiChat)
        );
        let g = resolve(
            &Method::POST,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
            Some("alt=sse"),
        )
        .unwrap();
        assert_eq!(
            (g.route, g.dialect, g.facts),
            (
                Route::Generate,
                Dialect::Gemini,
                RouteFacts {
                    model: Some("gemini-2.5-flash".into()),
                    stream: true,
                    sse: true
                }
            )
        );
        let g = resolve(&Method::POST, "/v1/models/g:generateContent", None).unwrap();
        assert_eq!((g.facts.stream, g.facts.sse), (false, false));
    }

    #[test]
    fn one_model_by_id() {
        let m = resolve(&Method::GET, "/v1/models/gpt-4o", None).unwrap();
        assert_eq!((m.route, m.dialect), (Route::GetModel, Dialect::OpenAiChat));
        assert_eq!(m.facts.model.as_deref(), Some("gpt-4o"));
        let m = resolve(&Method::GET, "/v1beta/models/gemini-2.5-flash", None).unwrap();
        assert_eq!((m.route, m.dialect), (Route::GetModel, Dialect::Gemini));
        assert!(resolve(&Method::POST, "/v1/models/gpt-4o", None).is_err());
    }

    #[test]
    fn a_doubled_version_prefix_is_served_as_the_single_one() {
        assert_eq!(
            route(Method::POST, "/v1/v1/messages", None),
            (Route::Generate, Dialect::AnthropicMessages)
        );
        assert_eq!(
            route(Method::POST, "/v1/v1beta/models/g:generateContent", None).1,
            Dialect::Gemini
        );
        assert_eq!(
            dialect_of_path("/v1/v1/messages/x"),
            Dialect::AnthropicMessages
        );
    }

    #[test]
    fn wrong_methods_and_unknown_paths() {
        let e = resolve(&Method::GET, "/v1/chat/completions", None).unwrap_err();
        assert_eq!(e.kind, ErrorKind::MethodNotAllowed);
        let e = resolve(&Method::POST, "/v2/nothing", None).unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::UnknownRoute, "Invalid URL (POST /v2/nothing)")
        );
        assert!(resolve(&Method::POST, "/v1beta/models/g:embedContent", None).is_err());
        assert_eq!(
            resolve(&Method::POST, "/", None).unwrap_err().kind,
            ErrorKind::MethodNotAllowed
        );
    }

    #[test]
    fn unknown_paths_get_errors_in_their_likely_dialect() {
        assert_eq!(dialect_of_path("/v1/messages"), Dialect::AnthropicMessages);
        assert_eq!(
            dialect_of_path("/v1beta/models/g:generateContent"),
            Dialect::Gemini
        );
        assert_eq!(dialect_of_path("/anything"), Dialect::OpenAiChat);
    }
}
