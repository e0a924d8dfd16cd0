//! Finding the key in a request: `Authorization: Bearer`, `x-api-key`, `x-goog-api-key`, `?key=`.

use http::HeaderMap;

/// Where the key was found. Never carries the key into logs: only the source is printable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Bearer,
    XApiKey,
    XGoogApiKey,
    QueryKey,
}

/// A key as presented by the client.
pub struct Credential<'a> {
    pub secret: &'a str,
    pub source: KeySource,
}

impl std::fmt::Debug for Credential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({:?}, ***)", self.source)
    }
}

/// The key a request carries, looked for in the order the SDKs use them.
pub fn credential<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<Credential<'a>> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    if let Some(auth) = header("authorization") {
        if let Some((scheme, token)) = auth.split_once(' ') {
            let token = token.trim();
            if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() {
                return Some(Credential {
                    secret: token,
                    source: KeySource::Bearer,
                });
            }
        }
    }
    if let Some(k) = header("x-api-key") {
        return Some(Credential {
            secret: k,
            source: KeySource::XApiKey,
        });
    }
    if let Some(k) = header("x-goog-api-key") {
        return Some(Credential {
            secret: k,
            source: KeySource::XGoogApiKey,
        });
    }
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("key="))
        .filter(|k| !k.is_empty())
        .map(|k| Credential {
            secret: k,
            source: KeySource::QueryKey,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    fn found(
        h: &[(&'static str, &'static str)],
        query: Option<&str>,
    ) -> Option<(String, KeySource)> {
        let h = headers(h);
        credential(&h, query).map(|c| (c.secret.to_string(), c.source))
    }

    #[test]
    fn every_key_style_is_found() {
        let f = |s: &str, src| Some((s.to_string(), src));
        assert_eq!(
            found(&[("authorization", "Bearer sk-1")], None),
            f("sk-1", KeySource::Bearer)
        );
        assert_eq!(
            found(&[("x-api-key", "sk-2")], None),
            f("sk-2", KeySource::XApiKey)
        );
        assert_eq!(
            found(&[("x-goog-api-key", "sk-3")], None),
            f("sk-3", KeySource::XGoogApiKey)
        );
        assert_eq!(
            found(&[], Some("alt=sse&key=sk-4")),
            f("sk-4", KeySource::QueryKey)
        );
    }

    #[test]
    fn no_key_or_an_empty_one_is_none() {
        assert_eq!(found(&[], Some("alt=sse")), None);
        assert_eq!(found(&[("authorization", "Bearer ")], Some("key=")), None);
        assert_eq!(found(&[("authorization", "Basic abc")], None), None);
    }

    #[test]
    fn debug_never_prints_the_key() {
        let h = headers(&[("x-api-key", "sk-secret")]);
        let c = credential(&h, None).unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
