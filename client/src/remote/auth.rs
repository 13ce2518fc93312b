//! Registry authentication: the `WWW-Authenticate` challenge of a `401`, HTTP basic, and the
//! distribution token protocol (bearer tokens from the realm, per `scope`, cached until they
//! expire).

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How a registry wants to be authenticated, from its challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Basic realm="…"`.
    Basic,
    /// `Bearer realm="…",service="…"[,scope="…"]`.
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` value (one challenge; parameters may be quoted, with `\"` escapes).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

fn parse_params(s: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            return params;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                value.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
}

/// The scope of a repository operation (`repository:NAME:pull` or `…:pull,push`).
pub fn repository_scope(repository: &str, push: bool) -> String {
    format!(
        "repository:{repository}:{}",
        if push { "pull,push" } else { "pull" }
    )
}

/// Bearer tokens by scope set, until they expire.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: HashMap<String, (String, Instant)>,
}

/// Tokens without `expires_in` live 60 s (the distribution spec's default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);

impl TokenCache {
    pub fn get(&self, scopes: &str) -> Option<String> {
        self.tokens
            .get(scopes)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(t, _)| t.clone())
    }

    /// Stores a token for `expires_in` seconds (less a margin for the time the answer took).
    pub fn put(&mut self, scopes: &str, token: String, expires_in: Option<u64>) {
        let life = expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME);
        let until = Instant::now() + usable_life(life);
        self.tokens.insert(scopes.to_string(), (token, until));
    }

    /// Forgets the token for `scopes` if it is still `token` (a 401 answered it).
    pub fn forget_if(&mut self, scopes: &str, token: &str) {
        if self.tokens.get(scopes).is_some_and(|(t, _)| t == token) {
            self.tokens.remove(scopes);
        }
    }
}

/// How long a token of `life` is used: 5 s less, or a tenth less for short-lived tokens (a flat
/// margin would make a token of 5 s or less useless, and every request would fetch one).
fn usable_life(life: Duration) -> Duration {
    life - (life / 10).min(Duration::from_secs(5))
}

/// The token endpoint's answer: `token` or `access_token`, and `expires_in`.
pub fn parse_token_response(body: &[u8]) -> Option<(String, Option<u64>)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let token = v["token"]
        .as_str()
        .or_else(|| v["access_token"].as_str())
        .filter(|t| !t.is_empty())?;
    Some((token.to_string(), v["expires_in"].as_u64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse_as_registries_send_them() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/ubuntu:pull".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"bearer realm="http://127.0.0.1:1/t", error="insufficient_scope""#),
            Some(Challenge::Bearer {
                realm: "http://127.0.0.1:1/t".into(),
                service: None,
                scope: None,
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"Bearer realm="a\"b",service=svc"#),
            Some(Challenge::Bearer {
                realm: "a\"b".into(),
                service: Some("svc".into()),
                scope: None
            })
        );
        assert_eq!(
            parse_challenge("Bearer service=x"),
            None,
            "a realm is required"
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }

    #[test]
    fn tokens_are_cached_per_scope_until_they_expire() {
        let mut cache = TokenCache::default();
        cache.put("repository:a:pull", "t1".into(), Some(300));
        cache.put("repository:b:pull", "t2".into(), Some(0));
        cache.put("repository:c:pull", "t3".into(), Some(5));
        assert_eq!(cache.get("repository:a:pull").as_deref(), Some("t1"));
        assert_eq!(cache.get("repository:b:pull"), None, "expired");
        assert_eq!(
            cache.get("repository:c:pull").as_deref(),
            Some("t3"),
            "a short-lived token is still used"
        );
        cache.forget_if("repository:a:pull", "another");
        assert_eq!(
            cache.get("repository:a:pull").as_deref(),
            Some("t1"),
            "replaced meanwhile"
        );
        cache.forget_if("repository:a:pull", "t1");
        assert_eq!(cache.get("repository:a:pull"), None);
        assert_eq!(
            parse_token_response(br#"{"access_token":"x","expires_in":60}"#),
            Some(("x".into(), Some(60)))
        );
        assert_eq!(parse_token_response(br#"{"token":""}"#), None);
    }

    #[test]
    fn token_margins_shrink_with_short_lives() {
        assert_eq!(
            usable_life(Duration::from_secs(300)),
            Duration::from_secs(295)
        );
        assert_eq!(usable_life(Duration::from_secs(10)), Duration::from_secs(9));
        assert_eq!(usable_life(Duration::ZERO), Duration::ZERO);
    }
}
