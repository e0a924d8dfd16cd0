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

/// The request names two different keys (in two places, or twice in one), and which one it
/// means cannot be known: resolving it by precedence would let a request be authorised by one
/// key while a log, a limit or a proxy in front of tollgate goes by the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ambiguous;

pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The key a request carries, looked for in the order the SDKs use them. Every place is looked
/// at: the same key in several places is fine, two different keys are [`Ambiguous`].
pub fn credential<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
) -> Result<Option<Credential<'a>>, Ambiguous> {
    let values = |name: &'static str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let found = values("authorization")
        .filter_map(bearer)
        .map(|k| (k, KeySource::Bearer))
        .chain(values("x-api-key").map(|k| (k, KeySource::XApiKey)))
        .chain(values("x-goog-api-key").map(|k| (k, KeySource::XGoogApiKey)))
        .chain(
            query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .filter_map(|pair| pair.strip_prefix("key="))
                .filter(|k| !k.is_empty())
                .map(|k| (k, KeySource::QueryKey)),
        );
    let mut chosen: Option<Credential<'a>> = None;
    for (secret, source) in found {
        match &chosen {
            None => chosen = Some(Credential { secret, source }),
            Some(c) if c.secret == secret => {}
            Some(_) => return Err(Ambiguous),
        }
    }
    Ok(chosen)
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
        credential(&h, query)
            .unwrap()
            .map(|c| (c.secret.to_string(), c.source))
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
    fn the_same_key_twice_is_fine_two_different_keys_are_not() {
        assert_eq!(
            found(
                &[("authorization", "Bearer sk-1"), ("x-api-key", "sk-1")],
                Some("key=sk-1")
            ),
            Some(("sk-1".to_string(), KeySource::Bearer))
        );
        let h = headers(&[("authorization", "Bearer sk-1"), ("x-api-key", "sk-2")]);
        assert_eq!(credential(&h, None).err(), Some(Ambiguous));
        assert_eq!(
            credential(&HeaderMap::new(), Some("key=sk-1&alt=sse&key=sk-2")).err(),
            Some(Ambiguous)
        );
        let mut h = HeaderMap::new();
        h.append("x-goog-api-key", "sk-1".parse().unwrap());
        h.append("x-goog-api-key", "sk-3".parse().unwrap());
        assert_eq!(credential(&h, None).err(), Some(Ambiguous));
        // A scheme other than Bearer carries no key of tollgate's.
        let h = headers(&[("authorization", "Basic abc"), ("x-api-key", "sk-2")]);
        assert_eq!(credential(&h, None).unwrap().unwrap().secret, "sk-2");
    }

    #[test]
    fn debug_never_prints_the_key() {
        let h = headers(&[("x-api-key", "sk-secret")]);
        let c = credential(&h, None).unwrap().unwrap();
        assert!(!format!("{c:?}").contains("sk-secret"));
    }
}
