//! Redaction of secrets from anything that may be printed: headers, URLs, Debug output.
//!
//! Architecture Invariant: every place that logs or formats a request goes through a [`Redactor`]; the
//! set of sensitive names is fixed when the connector is built (built-ins, the configured `redact`
//! list, and the names the auth strategy uses) and is matched case-insensitively.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderMap;
use url::Url;

/// The mark that replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

const BUILT_IN: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "apikey",
    "api_key",
    "access_token",
    "refresh_token",
    "client_secret",
    "password",
    "token",
];

/// A shared, cheap-to-clone set of sensitive header names and query keys.
#[derive(Clone, Debug)]
pub struct Redactor {
    names: Arc<Vec<String>>,
}

impl Default for Redactor {
    fn default() -> Self {
        Redactor::new(std::iter::empty::<&str>())
    }
}

impl Redactor {
    /// Built-in names plus `extra`.
    pub fn new<S: AsRef<str>>(extra: impl IntoIterator<Item = S>) -> Self {
        let mut names: Vec<String> = BUILT_IN.iter().map(|s| s.to_string()).collect();
        for e in extra {
            let e = e.as_ref().to_ascii_lowercase();
            if !names.contains(&e) {
                names.push(e);
            }
        }
        Redactor {
            names: Arc::new(names),
        }
    }

    /// Whether a header name or query key is sensitive.
    pub fn is_sensitive(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// Headers as a printable map, sensitive values replaced.
    pub fn headers(&self, headers: &HeaderMap) -> BTreeMap<String, String> {
        headers
            .iter()
            .map(|(k, v)| {
                let shown = if self.is_sensitive(k.as_str()) || v.is_sensitive() {
                    REDACTED.to_owned()
                } else {
                    String::from_utf8_lossy(v.as_bytes()).into_owned()
                };
                (k.as_str().to_owned(), shown)
            })
            .collect()
    }

    /// The URL with sensitive query values and any userinfo password replaced.
    pub fn url(&self, url: &Url) -> String {
        let mut u = url.clone();
        if u.password().is_some() {
            let _ = u.set_password(Some(REDACTED));
        }
        if u.query().is_some() && u.query_pairs().any(|(k, _)| self.is_sensitive(&k)) {
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let v = if self.is_sensitive(&k) {
                        REDACTED.to_owned()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            u.query_pairs_mut().clear().extend_pairs(pairs);
        }
        u.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn redacts_headers_and_query_case_insensitively() {
        let r = Redactor::new(["X-Secret-Thing"]);
        let mut h = HeaderMap::new();
        h.insert("Authorization", HeaderValue::from_static("Bearer abc"));
        h.insert("x-secret-thing", HeaderValue::from_static("s3"));
        h.insert("accept", HeaderValue::from_static("json"));
        let shown = r.headers(&h);
        assert_eq!(shown["authorization"], REDACTED);
        assert_eq!(shown["x-secret-thing"], REDACTED);
        assert_eq!(shown["accept"], "json");
        let u = Url::parse("https://u:pw@h/p?API_KEY=k1&q=1").unwrap();
        let s = r.url(&u);
        assert!(!s.contains("k1") && !s.contains("pw"), "{s}");
        assert!(s.contains("q=1"));
    }
}
