//! Azure Storage's Shared Key authorization as an [`AuthStrategy`]: each attempt is signed after the
//! hooks ran, with `x-ms-date`, `x-ms-version` (when the request does not name one) and
//! `Authorization: SharedKey <account>:<signature>`.
//!
//! The signature is an HMAC-SHA256, under the base64-decoded account key, of the request's method,
//! eleven standard headers (an empty line each when absent; `Content-Length` empty when zero), the
//! `x-ms-*` headers sorted by name, and the resource: `/<account><encoded path>` followed by each
//! query parameter as `\n<name>:<values, comma-joined>` sorted by lower-cased name.

use std::fmt;
use std::time::SystemTime;

use base64::Engine as _;
use futures_util::future::BoxFuture;
use http::{HeaderMap, Method};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{AuthStrategy, auth_err};
use crate::error::Error;
use crate::request::RequestParts;

/// The storage service version sent when a request names none.
pub const DEFAULT_VERSION: &str = "2021-12-02";

/// The standard headers the string to sign lists, in its order (after the method).
const STANDARD: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// Shared Key credentials of one storage account.
pub struct AzureSharedKey {
    account: String,
    key: SecretString,
    clock: Option<SystemTime>,
}

impl fmt::Debug for AzureSharedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AzureSharedKey")
            .field("account", &self.account)
            .field("key", &crate::redact::REDACTED)
            .finish()
    }
}

impl AzureSharedKey {
    /// The account's name and one of its two access keys (base64, as the portal shows it).
    pub fn new(account: impl Into<String>, key: impl Into<SecretString>) -> Self {
        AzureSharedKey {
            account: account.into(),
            key: key.into(),
            clock: None,
        }
    }

    /// Sign at this fixed time instead of the clock's (for reproducible signatures).
    pub fn at(mut self, time: SystemTime) -> Self {
        self.clock = Some(time);
        self
    }

    /// The account the signatures are for.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// Sign one request sent at `now`: `x-ms-date`, `x-ms-version` (if absent) and `Authorization`
    /// are written into `headers`; `content_length` is the body's length. A key that is not base64
    /// is an AUTH_FAILED error.
    pub fn sign_request(
        &self,
        method: &Method,
        url: &Url,
        headers: &mut HeaderMap,
        content_length: u64,
        now: SystemTime,
    ) -> Result<(), Error> {
        let key = base64::engine::general_purpose::STANDARD
            .decode(self.key.expose_secret().trim())
            .map_err(|_| auth_err("the Azure storage account key is not valid base64"))?;
        let date = httpdate::fmt_http_date(now);
        headers.insert("x-ms-date", value(&date)?);
        if !headers.contains_key("x-ms-version") {
            headers.insert("x-ms-version", value(DEFAULT_VERSION)?);
        }
        let text = string_to_sign(&self.account, method, url, headers, content_length);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let signature = base64::engine::general_purpose::STANDARD
            .encode(ring::hmac::sign(&key, text.as_bytes()).as_ref());
        let mut auth = value(&format!("SharedKey {}:{signature}", self.account))?;
        auth.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, auth);
        Ok(())
    }
}

fn value(text: &str) -> Result<http::HeaderValue, Error> {
    http::HeaderValue::from_str(text)
        .map_err(|_| auth_err("an Azure Shared Key header is not a valid header value"))
}

/// The string Shared Key signs (see the module documentation).
pub fn string_to_sign(
    account: &str,
    method: &Method,
    url: &Url,
    headers: &HeaderMap,
    content_length: u64,
) -> String {
    let mut out = String::new();
    out.push_str(method.as_str());
    out.push('\n');
    for name in STANDARD {
        let text = if name == "content-length" {
            let declared = headers
                .get(http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(content_length);
            if declared == 0 {
                String::new()
            } else {
                declared.to_string()
            }
        } else if name == "date" && headers.contains_key("x-ms-date") {
            String::new()
        } else {
            joined(headers, name)
        };
        out.push_str(&text);
        out.push('\n');
    }
    let mut ms: Vec<(String, String)> = headers
        .keys()
        .map(|n| n.as_str())
        .filter(|n| n.starts_with("x-ms-"))
        .map(|n| (n.to_owned(), joined(headers, n)))
        .collect();
    ms.sort();
    ms.dedup_by(|a, b| a.0 == b.0);
    for (name, text) in ms {
        out.push_str(&name);
        out.push(':');
        out.push_str(&text);
        out.push('\n');
    }
    out.push('/');
    out.push_str(account);
    out.push_str(url.path());
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for (k, v) in url.query_pairs() {
        let k = k.to_lowercase();
        match params.iter_mut().find(|(n, _)| *n == k) {
            Some((_, values)) => values.push(v.into_owned()),
            None => params.push((k, vec![v.into_owned()])),
        }
    }
    params.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

/// A header's values, each trimmed with inner runs of whitespace folded to one space, comma-joined.
fn joined(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

impl AuthStrategy for AzureSharedKey {
    fn authenticate<'a>(
        &'a self,
        _: &'a mut RequestParts,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn sign<'a>(&'a self, req: &'a mut RequestParts) -> BoxFuture<'a, Result<(), Error>> {
        let length = if req.is_streamed() {
            req.streamed_length().unwrap_or(0)
        } else {
            req.body.len() as u64
        };
        let now = self.clock.unwrap_or_else(SystemTime::now);
        let result = self.sign_request(&req.method, &req.url, &mut req.headers, length, now);
        Box::pin(std::future::ready(result))
    }

    fn sensitive_names(&self) -> Vec<String> {
        vec!["authorization".to_owned()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_string_to_sign_lists_standard_headers_then_ms_headers_then_the_resource() {
        let url = Url::parse(
            "http://127.0.0.1:10000/devstoreaccount1/box?restype=container&comp=list&prefix=a%20b",
        )
        .unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-ms-version", "2021-12-02".parse().unwrap());
        headers.insert(
            "x-ms-date",
            "Tue, 01 Dec 2026 10:00:00 GMT".parse().unwrap(),
        );
        headers.insert("x-ms-meta-Owner", "  a   b ".parse().unwrap());
        headers.insert("content-type", "text/plain".parse().unwrap());
        headers.insert("if-match", "\"0x1\"".parse().unwrap());
        let text = string_to_sign("devstoreaccount1", &Method::GET, &url, &headers, 0);
        let expected = "GET\n\n\n\n\ntext/plain\n\n\n\"0x1\"\n\n\n\n\
             x-ms-date:Tue, 01 Dec 2026 10:00:00 GMT\nx-ms-meta-owner:a b\nx-ms-version:2021-12-02\n\
             /devstoreaccount1/devstoreaccount1/box\ncomp:list\nprefix:a b\nrestype:container";
        assert_eq!(text, expected);
        // A body's length is signed; zero is signed as an empty line.
        let put = string_to_sign("acct", &Method::PUT, &url, &HeaderMap::new(), 12);
        assert!(put.starts_with("PUT\n\n\n12\n"), "{put}");
    }

    #[test]
    fn signing_writes_date_version_and_a_sensitive_authorization() {
        let key = base64::engine::general_purpose::STANDARD.encode(b"secret key bytes");
        let signer = AzureSharedKey::new("acct", SecretString::from(key.clone()))
            .at(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
        let url = Url::parse("https://acct.blob.core.windows.net/c/b").unwrap();
        let mut headers = HeaderMap::new();
        signer
            .sign_request(&Method::GET, &url, &mut headers, 0, signer.clock.unwrap())
            .unwrap();
        assert_eq!(headers["x-ms-date"], "Fri, 15 Jan 2027 08:00:00 GMT");
        assert_eq!(headers["x-ms-version"], DEFAULT_VERSION);
        let auth = &headers[http::header::AUTHORIZATION];
        assert!(auth.is_sensitive());
        // The signature is the HMAC of the string to sign under the decoded key.
        let text = string_to_sign("acct", &Method::GET, &url, &headers, 0);
        let mac = ring::hmac::sign(
            &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"secret key bytes"),
            text.as_bytes(),
        );
        let expected = format!(
            "SharedKey acct:{}",
            base64::engine::general_purpose::STANDARD.encode(mac.as_ref())
        );
        assert_eq!(auth.to_str().unwrap(), expected);
        // A key that is not base64 is refused as an auth failure, not a panic.
        let bad = AzureSharedKey::new("acct", SecretString::from("not base64!".to_owned()));
        let err = bad
            .sign_request(
                &Method::GET,
                &url,
                &mut HeaderMap::new(),
                0,
                SystemTime::now(),
            )
            .unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::AuthFailed);
        assert!(!format!("{bad:?}").contains("not base64"));
    }
}
