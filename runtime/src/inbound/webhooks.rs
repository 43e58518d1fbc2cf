//! Inbound webhook verification: HMAC-SHA256 signatures, timestamp age and clock-skew limits, replay protection.
//!
//! A [`Verifier`] checks one delivery (its raw body bytes and its headers) against one or more active
//! secrets. Presets cover Stripe (`Stripe-Signature: t=…,v1=…`), GitHub (`X-Hub-Signature-256: sha256=…`)
//! and Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,…`); [`GenericScheme`]
//! describes any other HMAC-SHA256 layout with a [`SignedContent`] template. Signatures are compared with
//! `ring::hmac::verify`, in constant time.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use connector_runtime::SecretString;
//! use connector_runtime::webhooks::{Scheme, Verifier, sign_stripe};
//!
//! let secret = SecretString::from("whsec_test");
//! let verifier = Verifier::builder(Scheme::Stripe).secret(secret.clone()).build()?;
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let body = br#"{"id":"evt_1"}"#;
//! let mut headers = connector_runtime::HeaderMap::new();
//! headers.insert("stripe-signature", sign_stripe(&secret, 1_700_000_000, body).parse().unwrap());
//! let delivery = verifier.verify_at(&headers, body, now)?;
//! assert_eq!(delivery.secret_index, 0);
//! # Ok::<(), connector_runtime::Error>(())
//! ```
//!
//! Order of checks: headers are parsed, then the signature is checked, then the timestamp, then the
//! delivery is recorded in the [`Deduplicator`] (if one is configured). Only a genuine delivery is
//! recorded, so a forged request cannot block the real one, and "too old" means a genuine but stale
//! delivery.
//!
//! Errors: every failure is a [`Rejection`]; converted into the runtime [`Error`] it has source `auth`,
//! code `AUTH_FAILED` when no signature matches (the sender did not prove it holds a secret, like a 401)
//! and `VALIDATION_ERROR` for everything else (missing or malformed headers, stale or future timestamps,
//! replays). Its `reason` detail is [`Rejection::kind`]. No message carries a secret, the expected
//! signature or a header value beyond a delivery id.
//!
//! Architecture Invariant: secrets are [`SecretString`]s until they become `ring` HMAC keys at build time;
//! nothing printable (Debug, Display, errors) holds them or any signature computed from them.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use http::{HeaderMap, HeaderName, HeaderValue};
use ring::hmac;
use secrecy::zeroize::Zeroize;
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, ErrorCode, ErrorSource};
use crate::redact::REDACTED;

/// Default limit on a delivery's age: 5 minutes.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(5 * 60);
/// Default limit on how far a delivery's timestamp may be ahead of the local clock: 5 minutes.
pub const DEFAULT_SKEW: Duration = Duration::from_secs(5 * 60);
/// At most this many signatures in one header are tried (each costs an HMAC over the whole body).
const MAX_SIGNATURES: usize = 8;
/// Delivery ids longer than this are shortened in messages.
const MAX_ID_IN_MESSAGE: usize = 64;

/// How signatures are written in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Lowercase hexadecimal (uppercase is accepted).
    Hex,
    /// Standard base64 with padding.
    Base64,
}

impl Encoding {
    fn encode(self, bytes: &[u8]) -> String {
        match self {
            Encoding::Hex => to_hex(bytes),
            Encoding::Base64 => B64.encode(bytes),
        }
    }
    fn decode(self, text: &str) -> Option<Vec<u8>> {
        if text.is_empty() {
            return None;
        }
        match self {
            Encoding::Hex => from_hex(text),
            Encoding::Base64 => B64.decode(text).ok(),
        }
    }
}

/// Which sender's header layout to expect.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Scheme {
    /// `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…]` over `"{t}.{payload}"`; any `v1` entry
    /// matching any secret is accepted, other entries (`v0`) are ignored.
    Stripe,
    /// `X-Hub-Signature-256: sha256=<hex>` over the raw payload, no timestamp; the delivery id is
    /// `X-GitHub-Delivery`.
    GitHub,
    /// `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64> [v1,<base64>…]` over
    /// `"{id}.{timestamp}.{payload}"`; secrets are base64, optionally prefixed `whsec_`.
    StandardWebhooks,
    /// Any other HMAC-SHA256 layout.
    Generic(GenericScheme),
}

impl Scheme {
    fn name(&self) -> &'static str {
        match self {
            Scheme::Stripe => "stripe",
            Scheme::GitHub => "github",
            Scheme::StandardWebhooks => "standard-webhooks",
            Scheme::Generic(_) => "generic",
        }
    }
}

/// A custom layout: one signature header (with an optional prefix such as `sha256=`), optional timestamp
/// and delivery id headers, and the [`SignedContent`] template (default `"{timestamp}.{payload}"`).
#[derive(Clone, Debug)]
pub struct GenericScheme {
    signature: HeaderName,
    prefix: String,
    timestamp: Option<HeaderName>,
    id: Option<HeaderName>,
    content: SignedContent,
}

impl GenericScheme {
    /// Signatures in `signature_header`, over `"{timestamp}.{payload}"` unless [`content`](Self::content)
    /// says otherwise; a timestamp template needs [`timestamp_header`](Self::timestamp_header).
    pub fn new(signature_header: HeaderName) -> Self {
        GenericScheme {
            signature: signature_header,
            prefix: String::new(),
            timestamp: None,
            id: None,
            content: SignedContent::timestamp_payload(),
        }
    }
    /// Text written before the signature, e.g. `sha256=` or `v0=` (required when set).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
    /// The header carrying the Unix timestamp in seconds (checked against tolerance and skew).
    pub fn timestamp_header(mut self, name: HeaderName) -> Self {
        self.timestamp = Some(name);
        self
    }
    /// The header carrying the delivery id (used by `{id}` and by the deduplicator).
    pub fn id_header(mut self, name: HeaderName) -> Self {
        self.id = Some(name);
        self
    }
    /// What is signed.
    pub fn content(mut self, content: SignedContent) -> Self {
        self.content = content;
        self
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Id,
    Timestamp,
    Payload,
}

/// The bytes that are signed: a template of literal text and the placeholders `{id}`, `{timestamp}`
/// (both exactly as received in their headers) and `{payload}` (the raw body).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedContent {
    parts: Vec<Part>,
}

impl SignedContent {
    /// The raw payload alone.
    pub fn payload() -> Self {
        SignedContent {
            parts: vec![Part::Payload],
        }
    }
    /// `"{timestamp}.{payload}"`.
    pub fn timestamp_payload() -> Self {
        SignedContent {
            parts: vec![Part::Timestamp, Part::Text(".".into()), Part::Payload],
        }
    }
    /// `"{id}.{timestamp}.{payload}"`.
    pub fn id_timestamp_payload() -> Self {
        SignedContent {
            parts: vec![
                Part::Id,
                Part::Text(".".into()),
                Part::Timestamp,
                Part::Text(".".into()),
                Part::Payload,
            ],
        }
    }
    /// A template such as `"v0:{timestamp}:{payload}"`. It must contain `{payload}` exactly once; any other
    /// `{` must start `{id}` or `{timestamp}`.
    pub fn parse(template: &str) -> Result<Self, Error> {
        let mut parts = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let after = &rest[open..];
            let (part, len) = if after.starts_with("{payload}") {
                (Part::Payload, "{payload}".len())
            } else if after.starts_with("{timestamp}") {
                (Part::Timestamp, "{timestamp}".len())
            } else if after.starts_with("{id}") {
                (Part::Id, "{id}".len())
            } else {
                return Err(Error::validation(
                    "content",
                    "only `{id}`, `{timestamp}` and `{payload}` may appear in braces",
                ));
            };
            parts.push(part);
            rest = &after[len..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        if parts.iter().filter(|p| **p == Part::Payload).count() != 1 {
            return Err(Error::validation(
                "content",
                "the template must contain `{payload}` exactly once",
            ));
        }
        Ok(SignedContent { parts })
    }
    fn uses(&self, part: &Part) -> bool {
        self.parts.contains(part)
    }
    fn render(&self, id: Option<&str>, timestamp: Option<&str>, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len() + 64);
        for p in &self.parts {
            match p {
                Part::Text(t) => out.extend_from_slice(t.as_bytes()),
                Part::Id => out.extend_from_slice(id.unwrap_or_default().as_bytes()),
                Part::Timestamp => out.extend_from_slice(timestamp.unwrap_or_default().as_bytes()),
                Part::Payload => out.extend_from_slice(payload),
            }
        }
        out
    }
}

impl fmt::Display for SignedContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.parts {
            match p {
                Part::Text(t) => f.write_str(t)?,
                Part::Id => f.write_str("{id}")?,
                Part::Timestamp => f.write_str("{timestamp}")?,
                Part::Payload => f.write_str("{payload}")?,
            }
        }
        Ok(())
    }
}

/// How the signature header lists its signatures.
#[derive(Clone, Debug)]
enum Format {
    /// `t=…,v1=…,v1=…`: the timestamp is inside the signature header.
    Stripe,
    /// One signature after a fixed prefix (possibly empty).
    Prefixed(String),
    /// Space-separated `v1,<sig>` entries.
    VersionedList,
}

/// A scheme resolved to headers, format and template.
#[derive(Clone, Debug)]
struct Layout {
    signature: HeaderName,
    format: Format,
    timestamp: Option<HeaderName>,
    id: Option<HeaderName>,
    content: SignedContent,
}

impl Layout {
    fn of(scheme: &Scheme) -> Layout {
        match scheme {
            Scheme::Stripe => Layout {
                signature: HeaderName::from_static("stripe-signature"),
                format: Format::Stripe,
                timestamp: None,
                id: None,
                content: SignedContent::timestamp_payload(),
            },
            Scheme::GitHub => Layout {
                signature: HeaderName::from_static("x-hub-signature-256"),
                format: Format::Prefixed("sha256=".into()),
                timestamp: None,
                id: Some(HeaderName::from_static("x-github-delivery")),
                content: SignedContent::payload(),
            },
            Scheme::StandardWebhooks => Layout {
                signature: HeaderName::from_static("webhook-signature"),
                format: Format::VersionedList,
                timestamp: Some(HeaderName::from_static("webhook-timestamp")),
                id: Some(HeaderName::from_static("webhook-id")),
                content: SignedContent::id_timestamp_payload(),
            },
            Scheme::Generic(g) => Layout {
                signature: g.signature.clone(),
                format: Format::Prefixed(g.prefix.clone()),
                timestamp: g.timestamp.clone(),
                id: g.id.clone(),
                content: g.content.clone(),
            },
        }
    }
    /// Whether deliveries carry a timestamp that is checked.
    fn timestamped(&self) -> bool {
        matches!(self.format, Format::Stripe) || self.timestamp.is_some()
    }
}

/// Why a delivery was rejected. Convert into the runtime [`Error`] with `?` or `Error::from`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// A required header is absent.
    MissingHeader(HeaderName),
    /// A header is present but cannot be read as the scheme describes.
    MalformedHeader {
        /// The header.
        header: HeaderName,
        /// What is wrong with it (never its value).
        problem: &'static str,
    },
    /// No signature in the header matches the payload under any active secret.
    NoMatchingSignature,
    /// The signed timestamp is older than the tolerance.
    TimestampTooOld {
        /// How old it is.
        age: Duration,
        /// The configured tolerance.
        tolerance: Duration,
    },
    /// The signed timestamp is further in the future than the allowed clock skew.
    TimestampInFuture {
        /// How far ahead of the local clock it is.
        ahead: Duration,
        /// The configured skew.
        skew: Duration,
    },
    /// This delivery was already accepted within the deduplication window.
    Replayed {
        /// The delivery id, when the scheme has one (`None` when the delivery was recognised by its
        /// signed content).
        id: Option<String>,
    },
}

impl Rejection {
    /// A stable snake_case name, also the `reason` detail of the converted [`Error`]:
    /// `missing_header`, `malformed_header`, `no_matching_signature`, `timestamp_too_old`,
    /// `timestamp_in_future`, `replayed`.
    pub fn kind(&self) -> &'static str {
        match self {
            Rejection::MissingHeader(_) => "missing_header",
            Rejection::MalformedHeader { .. } => "malformed_header",
            Rejection::NoMatchingSignature => "no_matching_signature",
            Rejection::TimestampTooOld { .. } => "timestamp_too_old",
            Rejection::TimestampInFuture { .. } => "timestamp_in_future",
            Rejection::Replayed { .. } => "replayed",
        }
    }
    /// `AUTH_FAILED` for [`Rejection::NoMatchingSignature`], `VALIDATION_ERROR` otherwise.
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::NoMatchingSignature => ErrorCode::AuthFailed,
            _ => ErrorCode::ValidationError,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::MissingHeader(h) => write!(f, "webhook header `{h}` is missing"),
            Rejection::MalformedHeader { header, problem } => {
                write!(f, "webhook header `{header}` is malformed: {problem}")
            }
            Rejection::NoMatchingSignature => {
                f.write_str("no webhook signature matches the payload under any active secret")
            }
            Rejection::TimestampTooOld { age, tolerance } => write!(
                f,
                "webhook timestamp is {}s old, beyond the {}s tolerance",
                age.as_secs(),
                tolerance.as_secs()
            ),
            Rejection::TimestampInFuture { ahead, skew } => write!(
                f,
                "webhook timestamp is {}s in the future, beyond the {}s allowed clock skew",
                ahead.as_secs(),
                skew.as_secs()
            ),
            Rejection::Replayed { id: Some(id) } => {
                let shown: String = id.chars().take(MAX_ID_IN_MESSAGE).collect();
                let more = if id.chars().count() > MAX_ID_IN_MESSAGE {
                    "…"
                } else {
                    ""
                };
                write!(f, "webhook delivery `{shown}{more}` was already received")
            }
            Rejection::Replayed { id: None } => {
                f.write_str("this webhook delivery was already received")
            }
        }
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for Error {
    fn from(r: Rejection) -> Error {
        let mut err =
            Error::new(r.code(), ErrorSource::Auth, r.to_string()).with_detail("reason", r.kind());
        if let Rejection::MissingHeader(h) | Rejection::MalformedHeader { header: h, .. } = &r {
            err = err.with_detail("header", h.as_str());
        }
        err
    }
}

/// What a successful verification learnt about the delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The delivery id, when the scheme has one and it was sent.
    pub id: Option<String>,
    /// The signed timestamp, when the scheme has one.
    pub timestamp: Option<SystemTime>,
    /// Which configured secret matched (0 is the first), to tell when an old secret is no longer used.
    pub secret_index: usize,
}

/// Verifies webhook deliveries: signature, timestamp, replay. Build with [`Verifier::builder`]; share it
/// (it is `Send + Sync`). To rotate secrets, build a verifier with both the old and the new secret, then
/// one with only the new secret once the sender has switched (the same [`Deduplicator`] can be kept).
pub struct Verifier {
    scheme: Scheme,
    layout: Layout,
    keys: Vec<hmac::Key>,
    tolerance: Duration,
    skew: Duration,
    encoding: Encoding,
    dedup: Option<Arc<Deduplicator>>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme.name())
            .field("secrets", &vec![REDACTED; self.keys.len()])
            .field("tolerance", &self.tolerance)
            .field("skew", &self.skew)
            .field("encoding", &self.encoding)
            .field("dedup", &self.dedup)
            .finish()
    }
}

impl fmt::Display for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} webhook verifier ({} secret(s), tolerance {}s, skew {}s, {:?})",
            self.scheme.name(),
            self.keys.len(),
            self.tolerance.as_secs(),
            self.skew.as_secs(),
            self.encoding
        )
    }
}

/// Configuration of a [`Verifier`].
#[derive(Debug)]
pub struct VerifierBuilder {
    scheme: Scheme,
    secrets: Vec<SecretString>,
    tolerance: Duration,
    skew: Duration,
    encoding: Option<Encoding>,
    dedup: Option<Arc<Deduplicator>>,
}

impl VerifierBuilder {
    /// Add an active secret (call again for each secret during a rotation).
    pub fn secret(mut self, secret: impl Into<SecretString>) -> Self {
        self.secrets.push(secret.into());
        self
    }
    /// Add several active secrets.
    pub fn secrets<S: Into<SecretString>>(mut self, secrets: impl IntoIterator<Item = S>) -> Self {
        self.secrets.extend(secrets.into_iter().map(Into::into));
        self
    }
    /// The oldest accepted timestamp, as an age (default [`DEFAULT_TOLERANCE`]).
    pub fn tolerance(mut self, tolerance: Duration) -> Self {
        self.tolerance = tolerance;
        self
    }
    /// How far ahead of the local clock a timestamp may be (default [`DEFAULT_SKEW`]).
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }
    /// The signature encoding, overriding the scheme's (hex for Stripe, GitHub and generic; base64 for
    /// Standard Webhooks).
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = Some(encoding);
        self
    }
    /// Reject deliveries already accepted within the deduplicator's window. Keyed by delivery id when
    /// the scheme has one (the id header becomes required), else by a digest of the signed content.
    /// For timestamped schemes the window must cover `tolerance + skew`, or a replay could outlive it.
    pub fn deduplicator(mut self, dedup: Arc<Deduplicator>) -> Self {
        self.dedup = Some(dedup);
        self
    }
    /// Check the configuration and derive the keys. Fails (VALIDATION_ERROR, naming the setting, never
    /// showing a secret) without secrets, with an empty secret, with a Standard Webhooks secret that is
    /// not base64, with a template whose placeholders have no header, or with a too short dedup window.
    pub fn build(self) -> Result<Verifier, Error> {
        let layout = Layout::of(&self.scheme);
        if self.secrets.is_empty() {
            return Err(Error::validation(
                "secrets",
                "at least one webhook secret is required",
            ));
        }
        if let Scheme::Generic(_) = &self.scheme {
            let c = &layout.content;
            if c.uses(&Part::Timestamp) != layout.timestamp.is_some() {
                return Err(Error::validation(
                    "content",
                    "a timestamp header is needed exactly when the template signs `{timestamp}`",
                ));
            }
            if c.uses(&Part::Id) && layout.id.is_none() {
                return Err(Error::validation(
                    "content",
                    "the template signs `{id}` but no id header is set",
                ));
            }
        }
        let window_too_short = self.dedup.as_ref().is_some_and(|d| {
            layout.timestamped() && d.window() < self.tolerance.saturating_add(self.skew)
        });
        if window_too_short {
            return Err(Error::validation(
                "deduplicator",
                "the window must be at least tolerance + skew, or a replay could outlive it",
            ));
        }
        let mut keys = Vec::with_capacity(self.secrets.len());
        for secret in &self.secrets {
            let mut material = match self.scheme {
                Scheme::StandardWebhooks => standard_key(secret)?,
                _ => secret.expose_secret().as_bytes().to_vec(),
            };
            if material.is_empty() {
                return Err(Error::validation("secrets", "a webhook secret is empty"));
            }
            keys.push(hmac::Key::new(hmac::HMAC_SHA256, &material));
            material.zeroize();
        }
        let encoding = self.encoding.unwrap_or(match self.scheme {
            Scheme::StandardWebhooks => Encoding::Base64,
            _ => Encoding::Hex,
        });
        Ok(Verifier {
            scheme: self.scheme,
            layout,
            keys,
            tolerance: self.tolerance,
            skew: self.skew,
            encoding,
            dedup: self.dedup,
        })
    }
}

impl Verifier {
    /// Start configuring a verifier for `scheme`.
    pub fn builder(scheme: Scheme) -> VerifierBuilder {
        VerifierBuilder {
            scheme,
            secrets: Vec::new(),
            tolerance: DEFAULT_TOLERANCE,
            skew: DEFAULT_SKEW,
            encoding: None,
            dedup: None,
        }
    }

    /// The window a [`Deduplicator`] needs so no replay outlives it: tolerance + skew.
    pub fn replay_window(&self) -> Duration {
        self.tolerance.saturating_add(self.skew)
    }

    /// [`verify_at`](Self::verify_at) with the system clock.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, Rejection> {
        self.verify_at(headers, body, SystemTime::now())
    }

    /// Verify a delivery: `body` is the raw request body exactly as received (never a re-serialised
    /// value), `now` the time to judge the timestamp and the replay window against.
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<Verified, Rejection> {
        let l = &self.layout;
        let header =
            single(headers, &l.signature)?.ok_or(Rejection::MissingHeader(l.signature.clone()))?;
        let malformed = |problem| Rejection::MalformedHeader {
            header: l.signature.clone(),
            problem,
        };
        let (embedded_ts, candidates) = match &l.format {
            Format::Stripe => {
                let (t, sigs) = parse_stripe(header).map_err(malformed)?;
                (Some(t), sigs)
            }
            Format::Prefixed(prefix) => {
                let sig = header
                    .strip_prefix(prefix.as_str())
                    .ok_or(malformed("the signature lacks the expected prefix"))?;
                (None, vec![sig])
            }
            Format::VersionedList => (None, parse_versioned(header).map_err(malformed)?),
        };
        if candidates.len() > MAX_SIGNATURES {
            return Err(malformed("too many signatures"));
        }
        let (ts_text, ts_header) = match (embedded_ts, &l.timestamp) {
            (Some(t), _) => (Some(t), &l.signature),
            (None, Some(h)) => (
                Some(single(headers, h)?.ok_or(Rejection::MissingHeader(h.clone()))?),
                h,
            ),
            (None, None) => (None, &l.signature),
        };
        let timestamp = ts_text
            .map(|t| {
                parse_timestamp(t).ok_or(Rejection::MalformedHeader {
                    header: ts_header.clone(),
                    problem: "the timestamp is not a number of seconds since 1970",
                })
            })
            .transpose()?;
        let id = match &l.id {
            Some(h) => {
                let required = l.content.uses(&Part::Id) || self.dedup.is_some();
                match single(headers, h)? {
                    Some(v) => Some(v),
                    None if required => return Err(Rejection::MissingHeader(h.clone())),
                    None => None,
                }
            }
            None => None,
        };
        let decoded: Vec<Vec<u8>> = candidates
            .iter()
            .filter_map(|c| self.encoding.decode(c.trim()))
            .collect();
        if decoded.is_empty() {
            return Err(malformed(match self.encoding {
                Encoding::Hex => "no signature is valid hex",
                Encoding::Base64 => "no signature is valid base64",
            }));
        }
        let content = l.content.render(id, ts_text, body);
        let secret_index = self
            .keys
            .iter()
            .position(|k| decoded.iter().any(|s| hmac::verify(k, &content, s).is_ok()))
            .ok_or(Rejection::NoMatchingSignature)?;
        if let Some(ts) = timestamp {
            match now.duration_since(ts) {
                Ok(age) if age > self.tolerance => {
                    return Err(Rejection::TimestampTooOld {
                        age,
                        tolerance: self.tolerance,
                    });
                }
                Err(e) if e.duration() > self.skew => {
                    return Err(Rejection::TimestampInFuture {
                        ahead: e.duration(),
                        skew: self.skew,
                    });
                }
                _ => {}
            }
        }
        if let Some(dedup) = &self.dedup {
            let fresh = match id {
                Some(id) => dedup.check_and_insert(id, now),
                None => {
                    let digest = ring::digest::digest(&ring::digest::SHA256, &content);
                    dedup.check_and_insert(&format!("sha256:{}", to_hex(digest.as_ref())), now)
                }
            };
            if !fresh {
                return Err(Rejection::Replayed {
                    id: id.map(str::to_owned),
                });
            }
        }
        Ok(Verified {
            id: id.map(str::to_owned),
            timestamp,
            secret_index,
        })
    }

    /// The headers a sender using this scheme would attach to `payload`, signed with the first secret:
    /// for testing one's own endpoint. `id` is required when the scheme signs it.
    pub fn sign(
        &self,
        id: Option<&str>,
        timestamp: u64,
        payload: &[u8],
    ) -> Result<HeaderMap, Error> {
        let l = &self.layout;
        if id.is_none() && l.content.uses(&Part::Id) {
            return Err(Error::validation("id", "this scheme signs a delivery id"));
        }
        let ts = timestamp.to_string();
        let content = l.content.render(id, Some(&ts), payload);
        let sig = self
            .encoding
            .encode(hmac::sign(&self.keys[0], &content).as_ref());
        let value = match &l.format {
            Format::Stripe => format!("t={ts},v1={sig}"),
            Format::Prefixed(p) => format!("{p}{sig}"),
            Format::VersionedList => format!("v1,{sig}"),
        };
        let header_value =
            |v: &str| HeaderValue::from_str(v).map_err(|e| Error::validation("id", e));
        let mut out = HeaderMap::new();
        out.insert(l.signature.clone(), header_value(&value)?);
        if let Some(h) = &l.timestamp {
            out.insert(h.clone(), header_value(&ts)?);
        }
        if let (Some(h), Some(id)) = (&l.id, id) {
            out.insert(h.clone(), header_value(id)?);
        }
        Ok(out)
    }
}

/// A Stripe `Stripe-Signature` value for `payload` at `timestamp`: `t=<timestamp>,v1=<hex>`.
pub fn sign_stripe(secret: &SecretString, timestamp: u64, payload: &[u8]) -> String {
    let content =
        SignedContent::timestamp_payload().render(None, Some(&timestamp.to_string()), payload);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    format!(
        "t={timestamp},v1={}",
        to_hex(hmac::sign(&key, &content).as_ref())
    )
}

/// A GitHub `X-Hub-Signature-256` value for `payload`: `sha256=<hex>`.
pub fn sign_github(secret: &SecretString, payload: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.expose_secret().as_bytes());
    format!("sha256={}", to_hex(hmac::sign(&key, payload).as_ref()))
}

/// A Standard Webhooks `webhook-signature` value: `v1,<base64>` over `"{id}.{timestamp}.{payload}"`.
/// Fails when the secret is not base64 (optionally prefixed `whsec_`).
pub fn sign_standard(
    secret: &SecretString,
    id: &str,
    timestamp: u64,
    payload: &[u8],
) -> Result<String, Error> {
    let mut material = standard_key(secret)?;
    let key = hmac::Key::new(hmac::HMAC_SHA256, &material);
    material.zeroize();
    let content = SignedContent::id_timestamp_payload().render(
        Some(id),
        Some(&timestamp.to_string()),
        payload,
    );
    Ok(format!("v1,{}", B64.encode(hmac::sign(&key, &content))))
}

/// Remembers accepted delivery ids for a window, so a replay within it is rejected. Memory is bounded:
/// past `capacity` ids the oldest is forgotten (size it above the deliveries expected per window).
/// Thread-safe; share it with an `Arc`.
pub struct Deduplicator {
    capacity: usize,
    window: Duration,
    state: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// id → (when accepted, sequence number of its entry in `order`).
    ids: HashMap<String, (SystemTime, u64)>,
    /// Entries in insertion order; an entry whose sequence number no longer matches `ids` is stale.
    order: VecDeque<(u64, String)>,
    next: u64,
}

impl Seen {
    /// Drop the front entry, and its id unless the id was accepted again since.
    fn pop_front(&mut self) {
        if let Some((seq, id)) = self.order.pop_front() {
            if self.ids.get(&id).is_some_and(|&(_, s)| s == seq) {
                self.ids.remove(&id);
            }
        }
    }
}

impl fmt::Debug for Deduplicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deduplicator")
            .field("capacity", &self.capacity)
            .field("window", &self.window)
            .field("len", &self.len())
            .finish()
    }
}

impl Deduplicator {
    /// Remember up to `capacity` ids (at least 1) for `window` each.
    pub fn new(capacity: usize, window: Duration) -> Self {
        Deduplicator {
            capacity: capacity.max(1),
            window,
            state: Mutex::new(Seen::default()),
        }
    }
    /// How long an id is remembered.
    pub fn window(&self) -> Duration {
        self.window
    }
    /// The most ids remembered at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// How many ids are remembered now (some may have expired but not yet been swept).
    pub fn len(&self) -> usize {
        self.lock().ids.len()
    }
    /// Whether no id is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `true` and remember `id` if it was not accepted within the window before `now`; `false` for a
    /// replay. Atomic: of two concurrent calls with the same id, one gets `true`.
    pub fn check_and_insert(&self, id: &str, now: SystemTime) -> bool {
        let live = |at: SystemTime| now.duration_since(at).map_or(true, |age| age < self.window);
        let mut s = self.lock();
        // Sweep expired (and stale) entries from the front; insertion order is time order.
        while let Some((seq, front)) = s.order.front() {
            match s.ids.get(front) {
                Some(&(at, current)) if current == *seq && live(at) => break,
                _ => s.pop_front(),
            }
        }
        if s.ids.get(id).is_some_and(|&(at, _)| live(at)) {
            return false;
        }
        while s.order.len() >= self.capacity {
            tracing::debug!("webhook deduplicator full: forgetting the oldest delivery id");
            s.pop_front();
        }
        let seq = s.next;
        s.next += 1;
        s.ids.insert(id.to_owned(), (now, seq));
        s.order.push_back((seq, id.to_owned()));
        true
    }

    /// Forget `id` (e.g. processing failed and the sender's retry should be accepted). Returns whether
    /// it was remembered.
    pub fn remove(&self, id: &str) -> bool {
        self.lock().ids.remove(id).is_some()
    }
}

/// The one value of `name`: `None` when absent, malformed when repeated or not visible ASCII.
fn single<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Result<Option<&'h str>, Rejection> {
    let mut all = headers.get_all(name).iter();
    let Some(first) = all.next() else {
        return Ok(None);
    };
    let malformed = |problem| Rejection::MalformedHeader {
        header: name.clone(),
        problem,
    };
    if all.next().is_some() {
        return Err(malformed("the header is repeated"));
    }
    let text = first
        .to_str()
        .map_err(|_| malformed("the value is not visible ASCII"))?
        .trim();
    if text.is_empty() {
        return Err(malformed("the value is empty"));
    }
    Ok(Some(text))
}

/// `t=…,v1=…,v1=…,v0=…` into the timestamp and the `v1` signatures.
fn parse_stripe(header: &str) -> Result<(&str, Vec<&str>), &'static str> {
    let mut t = None;
    let mut sigs = Vec::new();
    for item in header.split(',') {
        let (k, v) = item
            .trim()
            .split_once('=')
            .ok_or("an entry is not `key=value`")?;
        match k {
            "t" if t.is_some() => return Err("more than one timestamp"),
            "t" => t = Some(v),
            "v1" => sigs.push(v),
            _ => {}
        }
    }
    let t = t.ok_or("no timestamp `t`")?;
    if sigs.is_empty() {
        return Err("no `v1` signature");
    }
    Ok((t, sigs))
}

/// `v1,<sig> v1,<sig> v1a,<sig>` into the `v1` signatures.
fn parse_versioned(header: &str) -> Result<Vec<&str>, &'static str> {
    let mut sigs = Vec::new();
    for item in header.split(' ').filter(|s| !s.is_empty()) {
        let (version, sig) = item
            .split_once(',')
            .ok_or("an entry is not `version,signature`")?;
        if version == "v1" {
            sigs.push(sig);
        }
    }
    if sigs.is_empty() {
        return Err("no `v1` signature");
    }
    Ok(sigs)
}

/// Unix seconds: ASCII digits only.
fn parse_timestamp(text: &str) -> Option<SystemTime> {
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::from_secs(text.parse().ok()?))
}

/// A Standard Webhooks secret: base64 after an optional `whsec_` prefix.
fn standard_key(secret: &SecretString) -> Result<Vec<u8>, Error> {
    let s = secret.expose_secret();
    B64.decode(s.strip_prefix("whsec_").unwrap_or(s))
        .map_err(|_| {
            Error::validation(
                "secrets",
                "a Standard Webhooks secret must be base64, optionally prefixed `whsec_`",
            )
        })
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.is_empty() || text.len() % 2 != 0 {
        return None;
    }
    let nibble = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        let bytes = [0u8, 1, 0xab, 0xff, 0x10];
        assert_eq!(to_hex(&bytes), "0001abff10");
        assert_eq!(from_hex("0001ABff10").unwrap(), bytes);
        for bad in ["", "0", "zz", "0g", "é1"] {
            assert_eq!(from_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn templates_parse_and_render() {
        let t = SignedContent::parse("v0:{timestamp}:{payload}").unwrap();
        assert_eq!(t.to_string(), "v0:{timestamp}:{payload}");
        assert_eq!(t.render(None, Some("12"), b"body"), b"v0:12:body");
        assert_eq!(
            SignedContent::parse("{id}.{timestamp}.{payload}").unwrap(),
            SignedContent::id_timestamp_payload()
        );
        for bad in [
            "{timestamp}",
            "{payload}{payload}",
            "{body}.{payload}",
            "{payload",
        ] {
            assert!(SignedContent::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timestamps_are_plain_seconds() {
        assert_eq!(
            parse_timestamp("1700000000"),
            Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
        for bad in ["", "-1", "+1", "1.5", " 1", "99999999999999999999", "1e9"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
