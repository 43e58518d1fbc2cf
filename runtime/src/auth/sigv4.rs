//! AWS Signature Version 4: signing the final request (an `Authorization` header) and presigning URLs.
//!
//! The signer rewrites the URL's path and query into AWS's encoding (every byte outside
//! `A-Z a-z 0-9 - _ . ~` percent-encoded, a space as `%20`) before it signs, so what is sent is exactly
//! what is signed. S3 signs that path as it is; every other service normalises it (empty and dot
//! segments removed) and encodes it once more. Headers are all signed except the hop-by-hop ones and
//! `user-agent`, which proxies and clients may change on the way.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::BoxFuture;
use http::{HeaderMap, Method};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::{AuthStrategy, auth_err};
use crate::error::Error;
use crate::request::RequestParts;

/// The algorithm name written in every signature.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The payload hash of a body that is not signed (streamed bodies, presigned S3 URLs).
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The longest validity of a presigned URL: seven days, in seconds.
pub const MAX_PRESIGN_EXPIRY: u64 = 604_800;

/// Headers never signed: hop-by-hop ones and those a proxy or client may rewrite.
const UNSIGNED_HEADERS: &[&str] = &[
    "authorization",
    "baggage",
    "connection",
    "expect",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "traceparent",
    "tracestate",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "x-amzn-trace-id",
];

/// AWS Signature Version 4 as an [`AuthStrategy`]: every attempt is signed after the hooks ran, at
/// the time it is sent, with `x-amz-date`, `x-amz-content-sha256` (the hex SHA-256 of the body, or
/// `UNSIGNED-PAYLOAD` for a streamed body or when [`AwsSigV4::unsigned_payload`] is set),
/// `x-amz-security-token` with temporary credentials, and `Authorization`.
pub struct AwsSigV4 {
    access_key_id: String,
    secret_access_key: SecretString,
    session_token: Option<SecretString>,
    region: String,
    service: String,
    unsigned_payload: bool,
    s3_style: bool,
    clock: Option<SystemTime>,
}

impl fmt::Debug for AwsSigV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSigV4")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &crate::redact::REDACTED)
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| crate::redact::REDACTED),
            )
            .field("region", &self.region)
            .field("service", &self.service)
            .field("unsigned_payload", &self.unsigned_payload)
            .field("s3_style", &self.s3_style)
            .finish()
    }
}

impl AwsSigV4 {
    /// Long-term credentials for `service` (the signing name: `s3`, `dynamodb`, `sqs`...) in `region`.
    /// Service `s3` starts S3-style (see [`AwsSigV4::s3_style`]).
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<SecretString>,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        let service = service.into();
        AwsSigV4 {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            region: region.into(),
            s3_style: service == "s3",
            service,
            unsigned_payload: false,
            clock: None,
        }
    }

    /// Credentials from the environment: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, the optional
    /// `AWS_SESSION_TOKEN`, and the region from `AWS_REGION`, else `AWS_DEFAULT_REGION`. A missing or
    /// empty variable is an AUTH_FAILED error naming it.
    pub fn from_env(service: impl Into<String>) -> Result<Self, Error> {
        AwsSigV4::from_vars(service, |name| std::env::var(name).ok())
    }

    /// [`AwsSigV4::from_env`] over any source of variables.
    fn from_vars(
        service: impl Into<String>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        let need = |name: &str| {
            var(name).ok_or_else(|| {
                auth_err(format!(
                    "AWS signing needs the environment variable {name}, which is not set"
                ))
            })
        };
        let key = need("AWS_ACCESS_KEY_ID")?;
        let secret = need("AWS_SECRET_ACCESS_KEY")?;
        let region = var("AWS_REGION")
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or_else(|| {
                auth_err(
                    "AWS signing needs a region: set the environment variable AWS_REGION \
                     (or AWS_DEFAULT_REGION)",
                )
            })?;
        let mut signer = AwsSigV4::new(key, SecretString::from(secret), region, service);
        if let Some(token) = var("AWS_SESSION_TOKEN") {
            signer = signer.with_session_token(SecretString::from(token));
        }
        Ok(signer)
    }

    /// Temporary credentials: the session token is sent as `x-amz-security-token`.
    pub fn with_session_token(mut self, token: impl Into<SecretString>) -> Self {
        self.session_token = Some(token.into());
        self
    }

    /// Sign every payload as `UNSIGNED-PAYLOAD` instead of its hash (streamed bodies always are).
    pub fn unsigned_payload(mut self, unsigned: bool) -> Self {
        self.unsigned_payload = unsigned;
        self
    }

    /// S3's rules: the path is signed as sent (encoded once, neither normalised nor encoded again).
    /// On for service `s3`, off for every other.
    pub fn s3_style(mut self, s3: bool) -> Self {
        self.s3_style = s3;
        self
    }

    /// Sign at this fixed time instead of the clock's (for reproducible signatures).
    pub fn at(mut self, time: SystemTime) -> Self {
        self.clock = Some(time);
        self
    }

    /// The region the signatures are scoped to.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The service (signing name) the signatures are scoped to.
    pub fn service(&self) -> &str {
        &self.service
    }

    fn now(&self) -> SystemTime {
        self.clock.unwrap_or_else(SystemTime::now)
    }

    /// Sign `req` as it would be sent at `now`: its URL is rewritten into AWS's encoding, the
    /// `x-amz-*` headers and `Authorization` are set. An URL without a host, or a time before 1970,
    /// is an AUTH_FAILED error.
    pub fn sign_at(&self, req: &mut RequestParts, now: SystemTime) -> Result<(), Error> {
        let body = (!req.is_streamed()).then_some(&req.body[..]);
        self.sign_request(&req.method, &mut req.url, &mut req.headers, body, now)
    }

    /// The signature of one request, written into its parts: `url` is rewritten into AWS's encoding
    /// (same meaning), `headers` get `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token`
    /// (with a session token) and `Authorization` (marked sensitive). `body` is None when it is not
    /// available (streamed): its hash is then `UNSIGNED-PAYLOAD`.
    pub fn sign_request(
        &self,
        method: &Method,
        url: &mut Url,
        headers: &mut HeaderMap,
        body: Option<&[u8]>,
        now: SystemTime,
    ) -> Result<(), Error> {
        let (date, stamp) = timestamps(now)?;
        let canonical_path = canonicalise_url(url, self.s3_style)?;
        let payload = match body {
            Some(b) if !self.unsigned_payload => {
                hex(ring::digest::digest(&ring::digest::SHA256, b).as_ref())
            }
            _ => UNSIGNED_PAYLOAD.to_owned(),
        };
        headers.remove(http::header::AUTHORIZATION);
        headers.insert("x-amz-date", header_value(&stamp, "date")?);
        headers.remove("x-amz-security-token");
        if let Some(token) = &self.session_token {
            let mut v = header_value(token.expose_secret(), "session token")?;
            v.set_sensitive(true);
            headers.insert("x-amz-security-token", v);
        }
        headers.insert(
            "x-amz-content-sha256",
            header_value(&payload, "payload hash")?,
        );
        let (canonical_headers, signed_headers) = canonical_headers(headers, url)?;
        let query = canonical_query(url);
        let canonical = canonical_request(
            method,
            &canonical_path,
            &query,
            &canonical_headers,
            &signed_headers,
            &payload,
        );
        let signature = self.signature(&canonical, &date, &stamp);
        let authorization = format!(
            "{ALGORITHM} Credential={}/{}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key_id,
            self.scope(&date)
        );
        let mut v = header_value(&authorization, "access key id")?;
        v.set_sensitive(true);
        headers.insert(http::header::AUTHORIZATION, v);
        Ok(())
    }

    /// A presigned URL for `method` on `url`, valid for `expires_in` from `now` (1 second to 7 days,
    /// otherwise a VALIDATION_ERROR): the query carries `X-Amz-Algorithm`, `X-Amz-Credential`,
    /// `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Security-Token` (with a session
    /// token) and `X-Amz-Signature`, after the URL's own parameters. `headers` (besides `host`) are
    /// signed too and must be sent with the URL. The payload is `UNSIGNED-PAYLOAD` for S3 (and with
    /// [`AwsSigV4::unsigned_payload`]); other services sign an empty body's hash, as AWS's SDKs do.
    pub fn presign(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        expires_in: Duration,
        now: SystemTime,
    ) -> Result<Url, Error> {
        let secs = expires_in.as_secs();
        if !(1..=MAX_PRESIGN_EXPIRY).contains(&secs) || expires_in.subsec_nanos() != 0 {
            return Err(Error::validation(
                "expires_in",
                format!("a presigned URL lasts whole seconds from 1 to {MAX_PRESIGN_EXPIRY}"),
            ));
        }
        let (date, stamp) = timestamps(now)?;
        let mut url = url.clone();
        let canonical_path = canonicalise_url(&mut url, self.s3_style)?;
        let (canonical_headers, signed_headers) = canonical_headers(headers, &url)?;
        let mut pairs: Vec<(String, String)> = query_pieces(&url)
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        let credential = format!("{}/{}", self.access_key_id, self.scope(&date));
        let mut auth = vec![
            ("X-Amz-Algorithm", ALGORITHM.to_owned()),
            ("X-Amz-Credential", credential),
            ("X-Amz-Date", stamp.clone()),
            ("X-Amz-Expires", secs.to_string()),
            ("X-Amz-SignedHeaders", signed_headers.clone()),
        ];
        if let Some(token) = &self.session_token {
            auth.push(("X-Amz-Security-Token", token.expose_secret().to_owned()));
        }
        pairs.extend(
            auth.into_iter()
                .map(|(k, v)| (k.to_owned(), aws_encode(&v))),
        );
        let query = sorted_query(&pairs);
        let payload = if self.s3_style || self.unsigned_payload {
            UNSIGNED_PAYLOAD.to_owned()
        } else {
            hex(ring::digest::digest(&ring::digest::SHA256, b"").as_ref())
        };
        let canonical = canonical_request(
            method,
            &canonical_path,
            &query,
            &canonical_headers,
            &signed_headers,
            &payload,
        );
        let signature = self.signature(&canonical, &date, &stamp);
        let mut out: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push(format!("X-Amz-Signature={signature}"));
        url.set_query(Some(&out.join("&")));
        Ok(url)
    }

    fn scope(&self, date: &str) -> String {
        format!("{date}/{}/{}/aws4_request", self.region, self.service)
    }

    fn signature(&self, canonical: &[u8], date: &str, stamp: &str) -> String {
        let digest = hex(ring::digest::digest(&ring::digest::SHA256, canonical).as_ref());
        let to_sign = format!("{ALGORITHM}\n{stamp}\n{}\n{digest}", self.scope(date));
        let secret = format!("AWS4{}", self.secret_access_key.expose_secret());
        let mut key = secret.into_bytes();
        for part in [date, &self.region, &self.service, "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        hex(&hmac(&key, to_sign.as_bytes()))
    }
}

impl AuthStrategy for AwsSigV4 {
    fn authenticate<'a>(
        &'a self,
        _: &'a mut RequestParts,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(Ok(())))
    }
    fn sign<'a>(&'a self, req: &'a mut RequestParts) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(self.sign_at(req, self.now())))
    }
    fn sensitive_names(&self) -> Vec<String> {
        [
            "authorization",
            "x-amz-security-token",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
        ]
        .map(String::from)
        .to_vec()
    }
}

fn header_value(text: &str, what: &str) -> Result<http::HeaderValue, Error> {
    http::HeaderValue::from_str(text)
        .map_err(|_| auth_err(format!("the AWS {what} is not a valid header value")))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, data).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `YYYYMMDD` and `YYYYMMDDTHHMMSSZ` of `now` in UTC.
fn timestamps(now: SystemTime) -> Result<(String, String), Error> {
    let secs = now
        .duration_since(UNIX_EPOCH)
        .map_err(|_| auth_err("cannot sign at a time before 1970"))?
        .as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return Err(auth_err("cannot sign at a time after the year 9999"));
    }
    let date = format!("{y:04}{m:02}{d:02}");
    let stamp = format!(
        "{date}T{:02}{:02}{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
    Ok((date, stamp))
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// AWS's URI encoding: every byte but `A-Z a-z 0-9 - _ . ~` as `%XY` (upper-case hex).
fn aws_encode_bytes(bytes: &[u8], keep_slash: bool) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else if keep_slash && b == b'/' {
            out.push('/');
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// [`aws_encode_bytes`] of a text.
pub fn aws_encode(text: &str) -> String {
    aws_encode_bytes(text.as_bytes(), false)
}

fn decode(raw: &str, plus_is_space: bool) -> Vec<u8> {
    if plus_is_space && raw.contains('+') {
        let spaced = raw.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced).collect()
    } else {
        percent_encoding::percent_decode_str(raw).collect()
    }
}

/// The query of `url` as (AWS-encoded key, AWS-encoded value or None for a bare flag), in order.
/// Pieces are read as forms are: `+` is a space.
fn query_pieces(url: &Url) -> Vec<(String, Option<String>)> {
    let Some(q) = url.query() else {
        return Vec::new();
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (
                aws_encode_bytes(&decode(k, true), false),
                Some(aws_encode_bytes(&decode(v, true), false)),
            ),
            None => (aws_encode_bytes(&decode(p, true), false), None),
        })
        .collect()
}

fn sorted_query(pairs: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = pairs.iter().collect();
    sorted.sort();
    sorted
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The canonical query of an URL already rewritten by [`canonicalise_url`].
fn canonical_query(url: &Url) -> String {
    let pairs: Vec<(String, String)> = query_pieces(url)
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect();
    sorted_query(&pairs)
}

/// Rewrite `url`'s path and query into AWS's encoding (same meaning, one spelling) and return the
/// canonical path to sign: the path itself for S3, else normalised and encoded a second time.
fn canonicalise_url(url: &mut Url, s3: bool) -> Result<String, Error> {
    if url.cannot_be_a_base() || url.host_str().is_none_or(str::is_empty) {
        return Err(auth_err(format!(
            "AWS signing needs an URL with a host and a path, not `{}://…`",
            url.scheme()
        )));
    }
    let path: Vec<String> = url
        .path()
        .split('/')
        .map(|seg| {
            let bytes = decode(seg, false);
            // The URL parser removed dot segments already; one that remains is kept as it is.
            if bytes == b"." || bytes == b".." {
                seg.to_owned()
            } else {
                aws_encode_bytes(&bytes, false)
            }
        })
        .collect();
    let path = path.join("/");
    url.set_path(&path);
    let pieces = query_pieces(url);
    if pieces.is_empty() {
        url.set_query(None);
    } else {
        let q: Vec<String> = pieces
            .iter()
            .map(|(k, v)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.clone(),
            })
            .collect();
        url.set_query(Some(&q.join("&")));
    }
    let path = url.path().to_owned();
    if s3 {
        return Ok(path);
    }
    let normalised = remove_dot_segments(&path);
    Ok(aws_encode_bytes(normalised.as_bytes(), true))
}

/// RFC 3986 dot-segment removal, empty segments dropped too (as AWS services expect).
fn remove_dot_segments(path: &str) -> String {
    if path.is_empty() {
        return "/".into();
    }
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let first = if path.starts_with('/') { "/" } else { "" };
    let last = if path.ends_with('/') && !out.is_empty() {
        "/"
    } else {
        ""
    };
    format!("{first}{}{last}", out.join("/"))
}

/// The canonical headers block (each `name:value\n`) and the signed header list. `host` comes from
/// the URL (with its port when not the scheme's default) unless a `host` header is present.
fn canonical_headers(headers: &HeaderMap, url: &Url) -> Result<(Vec<u8>, String), Error> {
    let mut names: Vec<&str> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|n| !UNSIGNED_HEADERS.contains(n))
        .collect();
    let host = if headers.contains_key(http::header::HOST) {
        None
    } else {
        let h = url
            .host_str()
            .ok_or_else(|| auth_err("AWS signing needs an URL with a host"))?
            .to_ascii_lowercase();
        names.push("host");
        Some(match url.port() {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
    };
    names.sort_unstable();
    names.dedup();
    let mut block = Vec::new();
    for name in &names {
        block.extend_from_slice(name.as_bytes());
        block.push(b':');
        if *name == "host" {
            if let Some(h) = &host {
                block.extend_from_slice(h.as_bytes());
                block.push(b'\n');
                continue;
            }
        }
        for (i, v) in headers.get_all(*name).iter().enumerate() {
            if i > 0 {
                block.push(b',');
            }
            let words: Vec<&[u8]> = v
                .as_bytes()
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .collect();
            block.extend_from_slice(&words.join(&b' '));
        }
        block.push(b'\n');
    }
    Ok((block, names.join(";")))
}

fn canonical_request(
    method: &Method,
    path: &str,
    query: &str,
    headers: &[u8],
    signed: &str,
    payload: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(headers.len() + path.len() + query.len() + 200);
    out.extend_from_slice(method.as_str().to_ascii_uppercase().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(path.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(query.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(headers);
    out.push(b'\n');
    out.extend_from_slice(signed.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(payload.as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc_calendar_days() {
        let at = |s: u64| timestamps(UNIX_EPOCH + Duration::from_secs(s)).unwrap();
        assert_eq!(at(0).1, "19700101T000000Z");
        assert_eq!(at(1_440_938_160).1, "20150830T123600Z");
        assert_eq!(at(951_782_400).0, "20000229");
        assert_eq!(at(4_102_444_799).1, "20991231T235959Z");
    }

    #[test]
    fn paths_are_rewritten_then_normalised_unless_s3() {
        let mut u = Url::parse("https://h.example.com/a%20b/c;d/%E2%82%AC/./x/../y//").unwrap();
        let p = canonicalise_url(&mut u, false).unwrap();
        assert_eq!(u.path(), "/a%20b/c%3Bd/%E2%82%AC/y//");
        assert_eq!(p, "/a%2520b/c%253Bd/%25E2%2582%25AC/y/");
        let mut u = Url::parse("https://h.example.com/k//a+b").unwrap();
        assert_eq!(canonicalise_url(&mut u, true).unwrap(), "/k//a%2Bb");
        let mut u = Url::parse("https://h/?b=2&a=x+y&flag&&a=%7E").unwrap();
        canonicalise_url(&mut u, false).unwrap();
        assert_eq!(u.query(), Some("b=2&a=x%20y&flag&a=~"));
        assert_eq!(canonical_query(&u), "a=x%20y&a=~&b=2&flag=");
    }

    /// The worked example of AWS's documentation (IAM `ListUsers`, 2015-08-30), whose signature is
    /// published there.
    #[test]
    fn the_documented_example_signs_as_published() {
        let signer = AwsSigV4::new(
            "AKIDEXAMPLE",
            SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned()),
            "us-east-1",
            "iam",
        );
        let url =
            Url::parse("https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8"
                .parse()
                .unwrap(),
        );
        headers.insert("x-amz-date", "20150830T123600Z".parse().unwrap());
        let (block, signed) = canonical_headers(&headers, &url).unwrap();
        assert_eq!(signed, "content-type;host;x-amz-date");
        let mut u = url.clone();
        let path = canonicalise_url(&mut u, false).unwrap();
        let empty = hex(ring::digest::digest(&ring::digest::SHA256, b"").as_ref());
        let canonical = canonical_request(
            &Method::GET,
            &path,
            &canonical_query(&u),
            &block,
            &signed,
            &empty,
        );
        assert_eq!(
            signer.signature(&canonical, "20150830", "20150830T123600Z"),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn the_environment_names_what_is_missing() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let e = AwsSigV4::from_vars("sqs", env(&[("AWS_SECRET_ACCESS_KEY", "s")])).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::AuthFailed);
        assert!(e.message().contains("AWS_ACCESS_KEY_ID"), "{}", e.message());
        let e = AwsSigV4::from_vars("sqs", env(&[("AWS_ACCESS_KEY_ID", "k")])).unwrap_err();
        assert!(
            e.message().contains("AWS_SECRET_ACCESS_KEY"),
            "{}",
            e.message()
        );
        let e = AwsSigV4::from_vars(
            "sqs",
            env(&[("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")]),
        )
        .unwrap_err();
        assert!(e.message().contains("AWS_REGION"), "{}", e.message());
        let s = AwsSigV4::from_vars(
            "s3",
            env(&[
                ("AWS_ACCESS_KEY_ID", "k"),
                ("AWS_SECRET_ACCESS_KEY", "s"),
                ("AWS_REGION", ""),
                ("AWS_DEFAULT_REGION", "eu-west-3"),
                ("AWS_SESSION_TOKEN", "t"),
            ]),
        )
        .unwrap();
        assert_eq!((s.region(), s.service()), ("eu-west-3", "s3"));
        assert!(s.s3_style && s.session_token.is_some());
    }

    #[test]
    fn odd_inputs_are_errors_not_panics() {
        let s = AwsSigV4::new("k", SecretString::from("s".to_owned()), "r", "svc");
        let u = Url::parse("https://h/x").unwrap();
        let h = HeaderMap::new();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for bad in [0, MAX_PRESIGN_EXPIRY + 1] {
            let e = s
                .presign(&Method::GET, &u, &h, Duration::from_secs(bad), now)
                .unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::ValidationError);
        }
        let mut odd = Url::parse("mailto:someone@example.com").unwrap();
        assert!(canonicalise_url(&mut odd, false).is_err());
        assert!(timestamps(UNIX_EPOCH - Duration::from_secs(1)).is_err());
        assert!(timestamps(UNIX_EPOCH + Duration::from_secs(u64::MAX / 2)).is_err());
    }
}
