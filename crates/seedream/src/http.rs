//! The underlying HTTP clients: how they are built and how their errors are read.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// The HTTP client could not be built (TLS backend or proxy settings).
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot set up the HTTP client: {0}")]
pub struct SetupError(pub(crate) String);

/// A client with this crate's settings, customised by `customise` (e.g. a resolver).
pub(crate) fn build_http(
    connect_timeout: Duration,
    customise: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
) -> Result<reqwest::Client, SetupError> {
    customise(reqwest::Client::builder())
        .connect_timeout(connect_timeout)
        // A redirect means a wrong base URL; following it would turn the POST into a GET.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!(
            env!("CARGO_PKG_NAME"),
            "/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(|e| SetupError(e.to_string()))
}

/// A header's value, when it is text.
pub(crate) fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The innermost error message: reqwest's own text is generic ("error sending request").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// The first error of type `T` in `e`'s chain.
pub(crate) fn find_source<'e, T: std::error::Error + 'static>(
    e: &'e (dyn std::error::Error + 'static),
) -> Option<&'e T> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
}
