//! Keeps keys out of upstream texts. Gateways echo what they were sent ("invalid token: you
//! sent Bearer sk-…"), and those texts go to logs and to the caller, so every text taken from an
//! upstream answer passes through here before anything else sees it.

use secrecy::{ExposeSecret, SecretString};

/// What a secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Shorter values are not treated as secrets: replacing every "ab" would garble messages.
const MIN_SECRET_CHARS: usize = 6;

/// CometAPI and OpenAI-style keys start with this; one of another caller's may be echoed too.
const KEY_PREFIX: &str = "sk-";
/// A `sk-` word at least this long is taken for a key (ordinary words like "sk-ip" are shorter).
const MIN_PREFIXED_KEY_CHARS: usize = 16;

/// The secrets of one request: the configured key and the caller's own key, when given.
#[derive(Default)]
pub struct Redactor<'a> {
    secrets: Vec<&'a str>,
}

impl<'a> Redactor<'a> {
    pub fn new(keys: impl IntoIterator<Item = &'a SecretString>) -> Redactor<'a> {
        let mut secrets: Vec<&str> = keys
            .into_iter()
            .map(|k| k.expose_secret().trim())
            .filter(|k| k.chars().count() >= MIN_SECRET_CHARS)
            .collect();
        // Longest first, so a key that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Redactor { secrets }
    }

    /// `text` with the known keys, any `Bearer` token and any `sk-…` key replaced.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret) {
                out = out.replace(secret, REDACTED);
            }
        }
        scrub_tokens(&out)
    }

    pub fn in_place(&self, text: &mut String) {
        let cleaned = self.text(text);
        if cleaned != *text {
            *text = cleaned;
        }
    }
}

/// Ends a token: whitespace and the punctuation that surrounds one in JSON, HTML or prose.
fn ends_token(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '"' | '\'' | ',' | ';' | '<' | '>' | '(' | ')' | '[' | ']' | '{' | '}' | '`'
        )
}

/// Replaces the word after each "Bearer" (any case) and every long `sk-` word.
fn scrub_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut after_bearer = false;
    while !rest.is_empty() {
        let skip = rest.find(|c: char| !ends_token(c)).unwrap_or(rest.len());
        let (gap, tail) = rest.split_at(skip);
        out.push_str(gap);
        let len = tail.find(ends_token).unwrap_or(tail.len());
        let (word, tail) = tail.split_at(len);
        let is_key = word.starts_with(KEY_PREFIX) && word.chars().count() >= MIN_PREFIXED_KEY_CHARS;
        if (after_bearer && !word.is_empty() && word != REDACTED) || is_key {
            out.push_str(REDACTED);
        } else {
            out.push_str(word);
        }
        after_bearer = word.eq_ignore_ascii_case("bearer") || word.eq_ignore_ascii_case("bearer:");
        rest = tail;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_and_caller_keys_are_replaced_wherever_they_appear() {
        let configured = SecretString::from("conf-key-123");
        let caller = SecretString::from("callerkey!x");
        let r = Redactor::new([&configured, &caller]);
        let text = r.text("bad key conf-key-123; also callerkey!x,conf-key-123");
        assert_eq!(text, "bad key [redacted]; also [redacted],[redacted]");
    }

    #[test]
    fn bearer_tokens_and_sk_keys_are_replaced_even_when_unknown() {
        let r = Redactor::default();
        assert_eq!(
            r.text(r#"401: you sent "Bearer abc.def-ghi" (header authorization: bearer xyz)"#),
            r#"401: you sent "Bearer [redacted]" (header authorization: bearer [redacted])"#
        );
        assert_eq!(
            r.text("invalid key sk-0123456789abcdefXYZ for user"),
            "invalid key [redacted] for user"
        );
        assert_eq!(r.text("skip sk-ip and Bearer"), "skip sk-ip and Bearer");
    }

    #[test]
    fn short_keys_are_not_treated_as_secrets() {
        let key = SecretString::from("ab");
        assert_eq!(Redactor::new([&key]).text("a cab"), "a cab");
    }
}
