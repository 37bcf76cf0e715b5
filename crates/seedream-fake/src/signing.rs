//! TOS-style pre-signed download URLs (M9). The check is on the raw query string, so a
//! client that re-encodes (`%2F` → `%252F`), reorders or cuts the URL gets `AccessDenied`.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::clock::Utc;

/// Validity of a signed URL, as upstream (24 h).
pub(crate) const EXPIRES_S: i64 = 86_400;

/// The query string of a URL for `path`, signed at `issued_unix`.
pub(crate) fn signed_query(secret: &[u8], path: &str, issued_unix: i64) -> String {
    let stamp = Utc::from_unix(issued_unix);
    query(secret, path, &stamp.tos_stamp(), &stamp.date_stamp())
}

fn query(secret: &[u8], path: &str, tos_date: &str, day: &str) -> String {
    let signature = sign(secret, path, tos_date);
    format!(
        "X-Tos-Algorithm=TOS4-HMAC-SHA256\
         &X-Tos-Credential=AKLTmockAKID%2F{day}%2Fcn-beijing%2Ftos%2Frequest\
         &X-Tos-Date={tos_date}\
         &X-Tos-Expires={EXPIRES_S}\
         &X-Tos-Signature={signature}\
         &X-Tos-SignedHeaders=host"
    )
}

/// hex(HMAC-SHA256(secret, path + "\n" + X-Tos-Date + "\n" + X-Tos-Expires)).
fn sign(secret: &[u8], path: &str, tos_date: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(format!("{path}\n{tos_date}\n{EXPIRES_S}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `raw_query` is exactly the query issued for `path` and is not expired at `now_unix`.
pub(crate) fn verify(secret: &[u8], path: &str, raw_query: &str, now_unix: i64) -> bool {
    let Some(tos_date) = raw_query
        .split('&')
        .find_map(|pair| pair.strip_prefix("X-Tos-Date="))
    else {
        return false;
    };
    let Some(issued) = Utc::parse_tos_stamp(tos_date) else {
        return false;
    };
    let expected = query(secret, path, tos_date, &issued.date_stamp());
    if expected.len() != raw_query.len()
        || !constant_time_eq(expected.as_bytes(), raw_query.as_bytes())
    {
        return false;
    }
    let issued_unix = issued.to_unix();
    now_unix >= issued_unix.saturating_sub(900) && now_unix <= issued_unix.saturating_add(EXPIRES_S)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"secret";
    const PATH: &str = "/tos/doubao-seedream-4-5/02x_0.jpeg";

    #[test]
    fn issued_urls_verify_until_they_expire() {
        let q = signed_query(SECRET, PATH, 1_767_225_600);
        assert!(
            q.contains("X-Tos-Credential=AKLTmockAKID%2F20260101%2Fcn-beijing%2Ftos%2Frequest")
        );
        assert!(q.contains("&X-Tos-Date=20260101T000000Z&X-Tos-Expires=86400&X-Tos-Signature="));
        assert!(verify(SECRET, PATH, &q, 1_767_225_600 + 86_400));
        assert!(!verify(SECRET, PATH, &q, 1_767_225_600 + 86_401));
    }

    #[test]
    fn altered_urls_do_not_verify() {
        let q = signed_query(SECRET, PATH, 1_767_225_600);
        let now = 1_767_225_601;
        assert!(!verify(SECRET, PATH, &q.replace("%2F", "%252F"), now));
        assert!(!verify(
            SECRET,
            PATH,
            &q.replace("&X-Tos-SignedHeaders=host", ""),
            now
        ));
        assert!(!verify(SECRET, "/tos/other_0.jpeg", &q, now));
        assert!(!verify(b"other", PATH, &q, now));
        assert!(!verify(SECRET, PATH, q.get(..q.len() - 3).unwrap(), now));
    }
}
