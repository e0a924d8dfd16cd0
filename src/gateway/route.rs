//! Which operation a request asks for, by method and path.

use crate::dialect::errors::ErrorKind;
use crate::dialect::Dialect;
use crate::error::{clip, GatewayError};
use http::Method;

/// An operation tollgate serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /v1/chat/completions`
    ChatCompletions,
    /// `GET /v1/models`
    ListModels,
}

impl Route {
    pub fn label(self) -> &'static str {
        match self {
            Route::ChatCompletions => "chat_completions",
            Route::ListModels => "models",
        }
    }
}

/// The dialect to answer in when the route itself is unknown, guessed from the path so that
/// an Anthropic or Gemini client still gets an error it can parse.
pub fn dialect_of_path(path: &str) -> Dialect {
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

/// Matches a request line to a route; unknown paths are 404, known paths with another method 405.
pub fn resolve(method: &Method, path: &str) -> Result<(Route, Dialect), GatewayError> {
    let path = if path.len() > 1 {
        path.strip_suffix('/').unwrap_or(path)
    } else {
        path
    };
    let (route, allowed) = match path {
        "/v1/chat/completions" => (Route::ChatCompletions, Method::POST),
        "/v1/models" => (Route::ListModels, Method::GET),
        _ => {
            return Err(GatewayError::new(
                ErrorKind::UnknownRoute,
                format!("Invalid URL ({} {})", clip(method.as_str()), clip(path)),
            ))
        }
    };
    if *method != allowed {
        return Err(GatewayError::new(
            ErrorKind::MethodNotAllowed,
            format!(
                "Method {} is not allowed for {path}; use {allowed}",
                clip(method.as_str())
            ),
        )
        .with_header("allow", allowed.as_str()));
    }
    Ok((route, Dialect::OpenAiChat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_their_methods() {
        assert_eq!(
            resolve(&Method::POST, "/v1/chat/completions").unwrap().0,
            Route::ChatCompletions
        );
        assert_eq!(
            resolve(&Method::GET, "/v1/models/").unwrap().0,
            Route::ListModels
        );
        let e = resolve(&Method::GET, "/v1/chat/completions").unwrap_err();
        assert_eq!(e.kind, ErrorKind::MethodNotAllowed);
        let e = resolve(&Method::POST, "/v2/nothing").unwrap_err();
        assert_eq!(
            (e.kind, e.message.as_str()),
            (ErrorKind::UnknownRoute, "Invalid URL (POST /v2/nothing)")
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
        assert_eq!(
            resolve(&Method::HEAD, "/").unwrap_err().message,
            "Invalid URL (HEAD /)"
        );
    }
}
