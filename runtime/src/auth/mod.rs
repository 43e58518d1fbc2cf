//! Authentication strategies: API key, several static headers, bearer (static or refreshed), basic,
//! OAuth2, AWS Signature Version 4, Azure Shared Key and custom signing.
//!
//! [`AuthStrategy`] is the trait the pipeline calls; the structs here are its default implementations.
//! Tokens that expire live in a [`TokenCache`] that refreshes ahead of expiry with exactly one fetch in
//! flight however many requests are waiting, and that refreshes once more when the server answers 401
//! to the token it holds.
//!
//! Architecture Invariant: credentials are [`SecretString`]s from the moment they are read; they are
//! exposed only to write the outgoing header, query or body, and the header is marked sensitive.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::error::{Error, ErrorCode, ErrorSource};
use crate::request::RequestParts;

pub mod azure;
mod device;
mod set;
pub mod sigv4;

pub use azure::AzureSharedKey;
pub use device::{DeviceAuthorization, DeviceCode};
pub use set::{ClientCertificate, Credentials, Requirements};
pub use sigv4::AwsSigV4;

/// Serialisable auth settings (the strategies that need no code).
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AuthConfig {
    /// An API key in a header, query parameter or cookie.
    ApiKey {
        /// Header, query or cookie name.
        name: String,
        /// Where it goes.
        #[serde(rename = "in")]
        location: ApiKeyLocation,
        /// The key.
        value: SecretString,
        /// Written before the key, e.g. `Token ` (header only).
        #[serde(default)]
        prefix: Option<String>,
    },
    /// Several static secret headers sent with every request, for APIs that want more than one
    /// (Discourse's `Api-Key` and `Api-Username`). In TOML: `[auth.headers]` with one `Name = "value"`
    /// per header.
    Headers {
        /// Header names and their values.
        headers: BTreeMap<String, SecretString>,
    },
    /// A static bearer token.
    Bearer {
        /// The token.
        token: SecretString,
    },
    /// HTTP basic.
    Basic {
        /// User name.
        username: String,
        /// Password (may be empty, e.g. Stripe's secret key as user name).
        #[serde(default = "empty_secret")]
        password: SecretString,
    },
    /// OAuth2 against a token endpoint: client credentials, or a refresh token when one is given.
    Oauth2 {
        /// Token endpoint URL.
        token_url: String,
        /// Client id.
        client_id: String,
        /// Client secret.
        client_secret: SecretString,
        /// Scopes to request.
        #[serde(default)]
        scopes: Vec<String>,
        /// Use the refresh-token grant with this token instead of client credentials.
        #[serde(default)]
        refresh_token: Option<SecretString>,
        /// How client credentials reach the token endpoint (default: basic).
        #[serde(default)]
        client_auth: ClientAuth,
        /// Refresh this long before expiry, in milliseconds (default 60000).
        #[serde(default = "default_skew_ms")]
        refresh_skew_ms: u64,
    },
    /// A client certificate presented in the TLS handshake (mTLS), from PEM files: see
    /// [`ClientCertificate`].
    ClientCertificate {
        /// The PEM certificate chain.
        cert: PathBuf,
        /// Its PEM private key.
        key: PathBuf,
    },
    /// `credential` as the credential of the API description's security scheme `scheme`: with it,
    /// calls follow their operation's security requirements (see [`Credentials`]).
    Scheme {
        /// The scheme's name in the description.
        scheme: String,
        /// The credential.
        credential: Box<AuthConfig>,
    },
    /// Several credentials held together (see [`Credentials`]); build it with [`AuthConfig::and`].
    /// Each is usually a [`AuthConfig::Scheme`]; one that is not answers no requirement.
    Credentials {
        /// The credentials, the first one sent on calls that declare no requirement.
        credentials: Vec<AuthConfig>,
    },
    /// AWS Signature Version 4 (see [`AwsSigV4`]); build it with [`AuthConfig::aws_sigv4`] or
    /// [`AuthConfig::aws_sigv4_from_env`].
    AwsSigV4 {
        /// The access key id.
        access_key_id: String,
        /// The secret access key.
        secret_access_key: SecretString,
        /// A session token, for temporary credentials.
        #[serde(default)]
        session_token: Option<SecretString>,
        /// The region the signatures are scoped to (`us-east-1`).
        region: String,
        /// The service's signing name (`s3`, `dynamodb`, `sqs`...).
        service: String,
        /// S3's path rules (see [`AwsSigV4::s3_style`]); default: whether `service` is `s3`.
        #[serde(default)]
        s3_style: Option<bool>,
        /// Sign every payload as `UNSIGNED-PAYLOAD` (default false).
        #[serde(default)]
        unsigned_payload: bool,
    },
    /// A strategy built in code (a device authorization flow with its callback, a custom signer);
    /// it cannot be written in a configuration file.
    #[serde(skip)]
    Strategy {
        /// The strategy.
        strategy: Arc<dyn AuthStrategy>,
    },
}

fn empty_secret() -> SecretString {
    SecretString::from(String::new())
}
fn default_skew_ms() -> u64 {
    60_000
}

impl AuthConfig {
    /// `credential` as the credential of the security scheme `scheme` (see [`AuthConfig::Scheme`]).
    pub fn scheme(scheme: impl Into<String>, credential: AuthConfig) -> AuthConfig {
        AuthConfig::Scheme {
            scheme: scheme.into(),
            credential: Box::new(credential),
        }
    }

    /// These credentials and `other`'s, held together: each call sends those its operation's security
    /// requirements ask for (see [`Credentials`]). The first one is also what calls that declare no
    /// requirement send.
    pub fn and(self, other: AuthConfig) -> AuthConfig {
        let mut credentials = self.into_list();
        credentials.extend(other.into_list());
        AuthConfig::Credentials { credentials }
    }

    /// AWS Signature Version 4 with long-term credentials for `service` in `region` (see
    /// [`AuthConfig::AwsSigV4`]); add a session token with [`AuthConfig::with_session_token`].
    pub fn aws_sigv4(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<SecretString>,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> AuthConfig {
        AuthConfig::AwsSigV4 {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            region: region.into(),
            service: service.into(),
            s3_style: None,
            unsigned_payload: false,
        }
    }

    /// AWS Signature Version 4 for `service` with the credentials and region of the environment
    /// (see [`AwsSigV4::from_env`]); a missing variable is an AUTH_FAILED error naming it.
    pub fn aws_sigv4_from_env(service: impl Into<String>) -> Result<AuthConfig, Error> {
        let service = service.into();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        // Read through the signer so both report missing variables alike.
        AwsSigV4::from_env(service.clone())?;
        Ok(AuthConfig::AwsSigV4 {
            access_key_id: var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            secret_access_key: SecretString::from(var("AWS_SECRET_ACCESS_KEY").unwrap_or_default()),
            session_token: var("AWS_SESSION_TOKEN").map(SecretString::from),
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_default(),
            service,
            s3_style: None,
            unsigned_payload: false,
        })
    }

    /// This AWS credential with a session token (temporary credentials); other credentials are
    /// returned unchanged.
    pub fn with_session_token(self, token: impl Into<SecretString>) -> AuthConfig {
        match self {
            AuthConfig::AwsSigV4 {
                access_key_id,
                secret_access_key,
                region,
                service,
                s3_style,
                unsigned_payload,
                ..
            } => AuthConfig::AwsSigV4 {
                access_key_id,
                secret_access_key,
                session_token: Some(token.into()),
                region,
                service,
                s3_style,
                unsigned_payload,
            },
            other => other,
        }
    }

    /// This AWS credential with S3's path rules on or off (see [`AwsSigV4::s3_style`]); other
    /// credentials are returned unchanged.
    pub fn with_s3_style(mut self, s3: bool) -> AuthConfig {
        if let AuthConfig::AwsSigV4 { s3_style, .. } = &mut self {
            *s3_style = Some(s3);
        }
        self
    }

    fn into_list(self) -> Vec<AuthConfig> {
        match self {
            AuthConfig::Credentials { credentials } => credentials,
            one => vec![one],
        }
    }

    /// Hold this credential (or these) in `set`; a plain credential under the empty name.
    fn collect_into(self, set: &mut Credentials) {
        match self {
            AuthConfig::Scheme { scheme, credential } => {
                set.insert(scheme, credential.into_strategy())
            }
            AuthConfig::Credentials { credentials } => {
                for c in credentials {
                    c.collect_into(set);
                }
            }
            plain => set.insert("", plain.into_strategy()),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        match self {
            AuthConfig::Scheme { scheme, credential } => {
                if scheme.is_empty() {
                    return Err(Error::validation("auth.scheme", "must not be empty"));
                }
                credential.validate()?;
            }
            AuthConfig::Credentials { credentials } => {
                for c in credentials {
                    c.validate()?;
                }
            }
            AuthConfig::ApiKey { name, location, .. } => {
                if name.is_empty() {
                    return Err(Error::validation("auth.name", "must not be empty"));
                }
                if *location == ApiKeyLocation::Header {
                    http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|e| Error::validation("auth.name", e))?;
                }
            }
            AuthConfig::Headers { headers } => {
                if headers.is_empty() {
                    return Err(Error::validation(
                        "auth.headers",
                        "must name at least one header",
                    ));
                }
                for (name, value) in headers {
                    let field = format!("auth.headers.{name}");
                    http::HeaderName::from_bytes(name.as_bytes())
                        .map_err(|e| Error::validation(&field, e))?;
                    // The value is a secret: say what is wrong with it, never what it is.
                    if http::HeaderValue::from_str(value.expose_secret()).is_err() {
                        return Err(Error::validation(
                            &field,
                            "is not a valid header value (visible ASCII only)",
                        ));
                    }
                }
            }
            AuthConfig::Bearer { token } if token.expose_secret().is_empty() => {
                return Err(Error::validation("auth.token", "must not be empty"));
            }
            AuthConfig::AwsSigV4 {
                access_key_id,
                region,
                service,
                ..
            } => {
                for (field, value) in [
                    ("auth.access_key_id", access_key_id),
                    ("auth.region", region),
                    ("auth.service", service),
                ] {
                    if value.is_empty() {
                        return Err(Error::validation(field, "must not be empty"));
                    }
                }
            }
            AuthConfig::Basic { username, .. } if username.is_empty() => {
                return Err(Error::validation("auth.username", "must not be empty"));
            }
            AuthConfig::Oauth2 {
                token_url,
                client_id,
                ..
            } => {
                let u = url::Url::parse(token_url)
                    .map_err(|e| Error::validation("auth.token_url", e))?;
                if !matches!(u.scheme(), "http" | "https") {
                    return Err(Error::validation("auth.token_url", "must be http or https"));
                }
                if client_id.is_empty() {
                    return Err(Error::validation("auth.client_id", "must not be empty"));
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// The strategy these settings describe.
    pub fn into_strategy(self) -> Arc<dyn AuthStrategy> {
        match self {
            AuthConfig::Strategy { strategy } => strategy,
            AuthConfig::ClientCertificate { cert, key } => {
                Arc::new(ClientCertificate::new(cert, key))
            }
            set @ (AuthConfig::Scheme { .. } | AuthConfig::Credentials { .. }) => {
                let mut held = Credentials::new();
                set.collect_into(&mut held);
                Arc::new(held)
            }
            AuthConfig::ApiKey {
                name,
                location,
                value,
                prefix,
            } => Arc::new(ApiKey {
                name,
                location,
                value,
                prefix: prefix.unwrap_or_default(),
            }),
            AuthConfig::Headers { headers } => Arc::new(StaticHeaders {
                headers: headers.into_iter().collect(),
            }),
            AuthConfig::Bearer { token } => Arc::new(Bearer::new(token)),
            AuthConfig::AwsSigV4 {
                access_key_id,
                secret_access_key,
                session_token,
                region,
                service,
                s3_style,
                unsigned_payload,
            } => {
                let s3 = s3_style.unwrap_or(service == "s3");
                let mut signer = AwsSigV4::new(access_key_id, secret_access_key, region, service)
                    .s3_style(s3)
                    .unsigned_payload(unsigned_payload);
                if let Some(t) = session_token {
                    signer = signer.with_session_token(t);
                }
                Arc::new(signer)
            }
            AuthConfig::Basic { username, password } => Arc::new(Basic::new(username, password)),
            AuthConfig::Oauth2 {
                token_url,
                client_id,
                client_secret,
                scopes,
                refresh_token,
                client_auth,
                refresh_skew_ms,
            } => {
                let grant = match refresh_token {
                    Some(t) => Grant::RefreshToken(RwLock::new(t)),
                    None => Grant::ClientCredentials,
                };
                let provider = OAuth2 {
                    token_url,
                    client_id,
                    client_secret,
                    scopes,
                    grant,
                    client_auth,
                };
                Arc::new(
                    Bearer::with_provider(Arc::new(provider))
                        .refresh_skew(Duration::from_millis(refresh_skew_ms)),
                )
            }
        }
    }
}

/// Where an API key goes.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyLocation {
    /// A request header.
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// How an OAuth2 client authenticates to the token endpoint.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// `Authorization: Basic` with id and secret (RFC 6749 2.3.1; every server must support it).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

/// What the pipeline needs of an auth strategy. Every method has a no-op default but `authenticate`.
pub trait AuthStrategy: Send + Sync + fmt::Debug {
    /// Apply credentials to the request being built (before user hooks run).
    fn authenticate<'a>(
        &'a self,
        req: &'a mut RequestParts,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>>;

    /// Sign the final request, after every hook ran, just before it is sent. For schemes whose signature
    /// covers the request as sent (HMAC over method, path, body, timestamp).
    fn sign<'a>(&'a self, _req: &'a mut RequestParts) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Obtain fresh credentials now (no-op for static ones).
    fn refresh<'a>(&'a self, _http: &'a reqwest::Client) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Whether the held credentials are usable without a refresh.
    fn is_valid(&self) -> bool {
        true
    }

    /// The server answered 401 to `rejected`. Return true when credentials were renewed and one retry
    /// makes sense (the pipeline then retries once, whatever the method).
    fn on_unauthorized<'a>(
        &'a self,
        _rejected: &'a RequestParts,
        _http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(std::future::ready(Ok(false)))
    }

    /// Header names and query keys this strategy writes secrets into, for redaction.
    fn sensitive_names(&self) -> Vec<String> {
        Vec::new()
    }

    /// The client certificate and key (PEM files) the transport presents for this strategy (mTLS),
    /// read when the connector is built.
    fn client_certificate(&self) -> Option<(PathBuf, PathBuf)> {
        None
    }
}

fn ready<'a, T: Send + 'a>(v: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(v))
}

/// An API key in a header, query parameter or cookie.
pub struct ApiKey {
    name: String,
    location: ApiKeyLocation,
    value: SecretString,
    prefix: String,
}

impl ApiKey {
    /// A key sent as `location` named `name`.
    pub fn new(
        name: impl Into<String>,
        location: ApiKeyLocation,
        value: impl Into<SecretString>,
    ) -> Self {
        ApiKey {
            name: name.into(),
            location,
            value: value.into(),
            prefix: String::new(),
        }
    }
    /// Text written before the key in a header (e.g. `Token `).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("name", &self.name)
            .field("location", &self.location)
            .field("value", &crate::redact::REDACTED)
            .finish()
    }
}

impl AuthStrategy for ApiKey {
    fn authenticate<'a>(
        &'a self,
        req: &'a mut RequestParts,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        let v = self.value.expose_secret();
        let r = match self.location {
            ApiKeyLocation::Header => req.set_header(&self.name, &format!("{}{v}", self.prefix)),
            ApiKeyLocation::Query => {
                req.add_query(&self.name, v);
                Ok(())
            }
            ApiKeyLocation::Cookie => {
                let pair = format!("{}={v}", self.name);
                let cookie = match req
                    .headers
                    .get(http::header::COOKIE)
                    .and_then(|c| c.to_str().ok())
                {
                    Some(existing) if !existing.is_empty() => format!("{existing}; {pair}"),
                    _ => pair,
                };
                req.set_header("cookie", &cookie)
            }
        };
        ready(r.map_err(|_| auth_err("the API key is not a valid header value")))
    }
    fn sensitive_names(&self) -> Vec<String> {
        vec![self.name.clone()]
    }
}

/// Several static secret headers on every request (`Api-Key` and `Api-Username`, say). Every name is
/// treated as sensitive, so the values are redacted wherever a request is printed, whatever the names.
pub struct StaticHeaders {
    headers: Vec<(String, SecretString)>,
}

impl StaticHeaders {
    /// No headers yet; add them with [`StaticHeaders::header`].
    pub fn new() -> Self {
        StaticHeaders {
            headers: Vec::new(),
        }
    }
    /// Also send `name: value` (a later value for the same name replaces an earlier one).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<SecretString>) -> Self {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }
}

impl Default for StaticHeaders {
    fn default() -> Self {
        StaticHeaders::new()
    }
}

impl fmt::Debug for StaticHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, _) in &self.headers {
            m.entry(name, &crate::redact::REDACTED);
        }
        m.finish()
    }
}

impl AuthStrategy for StaticHeaders {
    fn authenticate<'a>(
        &'a self,
        req: &'a mut RequestParts,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        for (name, value) in &self.headers {
            if req.set_header(name, value.expose_secret()).is_err() {
                // Name the header, never the value.
                return ready(Err(auth_err(format!(
                    "the value of the auth header `{name}` is not a valid header value"
                ))));
            }
        }
        ready(Ok(()))
    }
    fn sensitive_names(&self) -> Vec<String> {
        self.headers.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// HTTP basic auth.
pub struct Basic {
    header: SecretString,
}

impl Basic {
    /// From user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<SecretString>) -> Self {
        let raw = format!("{}:{}", username.into(), password.into().expose_secret());
        let enc = base64::engine::general_purpose::STANDARD.encode(raw);
        Basic {
            header: SecretString::from(format!("Basic {enc}")),
        }
    }
}

impl fmt::Debug for Basic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Basic([REDACTED])")
    }
}

impl AuthStrategy for Basic {
    fn authenticate<'a>(
        &'a self,
        req: &'a mut RequestParts,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        ready(
            req.set_header("authorization", self.header.expose_secret())
                .map_err(|_| auth_err("basic credentials are not a valid header value")),
        )
    }
}

/// An access token and when it stops working.
pub struct AccessToken {
    /// The token.
    pub value: SecretString,
    /// When it expires; None for "until rejected".
    pub expires_at: Option<Instant>,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("value", &crate::redact::REDACTED)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Something that can obtain a fresh access token (an OAuth2 endpoint, a vault, a CLI login...).
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// Fetch a new token.
    fn fetch<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<AccessToken, Error>>;
}

/// A cached token with single-flight refresh ahead of expiry.
///
/// One fetch at a time: callers that queue behind a fetch share its outcome. When it fails, they all get
/// its error instead of each asking the token endpoint again, so a failing endpoint sees one request per
/// failure, not one per waiting caller; the next call after that tries again.
#[derive(Debug)]
pub struct TokenCache {
    provider: Arc<dyn TokenProvider>,
    current: RwLock<Option<(Arc<AccessToken>, Instant)>>,
    refresh_lock: tokio::sync::Mutex<()>,
    /// Fetches finished so far, and the error of the last one when it failed.
    outcome: std::sync::Mutex<(u64, Option<Error>)>,
    skew: Duration,
}

impl TokenCache {
    fn new(provider: Arc<dyn TokenProvider>, skew: Duration) -> Self {
        TokenCache {
            provider,
            current: RwLock::new(None),
            refresh_lock: tokio::sync::Mutex::new(()),
            outcome: std::sync::Mutex::new((0, None)),
            skew,
        }
    }

    /// The cached token unless it expires within the skew. The skew is capped at half the token's
    /// lifetime, so a short-lived token is still reused for half its life instead of refetched per call.
    fn fresh(&self) -> Option<Arc<AccessToken>> {
        let g = self.current.read().unwrap_or_else(|p| p.into_inner());
        let (t, fetched) = g.as_ref()?;
        match t.expires_at {
            Some(exp) => {
                let skew = self.skew.min(exp.saturating_duration_since(*fetched) / 2);
                (crate::bounded::after(Instant::now(), skew) < exp).then(|| t.clone())
            }
            None => Some(t.clone()),
        }
    }

    /// A usable token, fetching one if none is cached or it expires within the skew. When `stale` is
    /// given, a cached token equal to it is treated as rejected and replaced.
    async fn get(
        &self,
        http: &reqwest::Client,
        stale: Option<&str>,
    ) -> Result<Arc<AccessToken>, Error> {
        let is_stale = |t: &AccessToken| stale.is_some_and(|s| s == t.value.expose_secret());
        if let Some(t) = self.fresh().filter(|t| !is_stale(t)) {
            return Ok(t);
        }
        let outcome = || self.outcome.lock().unwrap_or_else(|p| p.into_inner());
        let seen = outcome().0;
        let _one = self.refresh_lock.lock().await;
        // Someone else may have refreshed while we waited for the lock.
        if let Some(t) = self.fresh().filter(|t| !is_stale(t)) {
            return Ok(t);
        }
        // ... or tried and failed: share that failure rather than ask again at once.
        if let (done, Some(e)) = &*outcome() {
            if *done > seen {
                return Err(e.clone());
            }
        }
        tracing::debug!("fetching a fresh access token");
        let fetched = Instant::now();
        let result = self.provider.fetch(http).await;
        let mut o = outcome();
        o.0 = o.0.wrapping_add(1);
        match result {
            Ok(t) => {
                o.1 = None;
                drop(o);
                let t = Arc::new(t);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) =
                    Some((t.clone(), fetched));
                Ok(t)
            }
            Err(e) => {
                o.1 = Some(e.clone());
                Err(e)
            }
        }
    }
}

/// Bearer token auth: a static token, or one from a [`TokenProvider`] refreshed before expiry.
#[derive(Debug)]
pub struct Bearer {
    source: BearerSource,
}

enum BearerSource {
    Static(SecretString),
    Provider(TokenCache),
}

impl fmt::Debug for BearerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BearerSource::Static(_) => f.write_str("Static([REDACTED])"),
            BearerSource::Provider(c) => f.debug_tuple("Provider").field(&c.provider).finish(),
        }
    }
}

impl Bearer {
    /// A static token.
    pub fn new(token: impl Into<SecretString>) -> Self {
        Bearer {
            source: BearerSource::Static(token.into()),
        }
    }
    /// Tokens from `provider`, refreshed 60 s before they expire.
    pub fn with_provider(provider: Arc<dyn TokenProvider>) -> Self {
        Bearer {
            source: BearerSource::Provider(TokenCache::new(provider, Duration::from_secs(60))),
        }
    }
    /// How long before expiry to refresh (provider tokens only).
    pub fn refresh_skew(mut self, skew: Duration) -> Self {
        if let BearerSource::Provider(c) = &mut self.source {
            c.skew = skew;
        }
        self
    }
}

fn bearer_of(req: &RequestParts) -> Option<&str> {
    req.headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

impl AuthStrategy for Bearer {
    fn authenticate<'a>(
        &'a self,
        req: &'a mut RequestParts,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let header = match &self.source {
                BearerSource::Static(t) => format!("Bearer {}", t.expose_secret()),
                BearerSource::Provider(c) => {
                    format!("Bearer {}", c.get(http, None).await?.value.expose_secret())
                }
            };
            req.set_header("authorization", &header)
                .map_err(|_| auth_err("the bearer token is not a valid header value"))
        })
    }
    fn refresh<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let BearerSource::Provider(c) = &self.source {
                let cur = c.fresh().map(|t| t.value.expose_secret().to_owned());
                c.get(http, cur.as_deref()).await?;
            }
            Ok(())
        })
    }
    fn is_valid(&self) -> bool {
        match &self.source {
            BearerSource::Static(_) => true,
            BearerSource::Provider(c) => c.fresh().is_some(),
        }
    }
    fn on_unauthorized<'a>(
        &'a self,
        rejected: &'a RequestParts,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            match &self.source {
                BearerSource::Static(_) => Ok(false),
                BearerSource::Provider(c) => {
                    c.get(http, bearer_of(rejected)).await?;
                    Ok(true)
                }
            }
        })
    }
}

enum Grant {
    ClientCredentials,
    /// The current refresh token; servers may rotate it on every use.
    RefreshToken(RwLock<SecretString>),
}

/// An OAuth2 token endpoint as a [`TokenProvider`] (client-credentials or refresh-token grant).
pub struct OAuth2 {
    token_url: String,
    client_id: String,
    client_secret: SecretString,
    scopes: Vec<String>,
    grant: Grant,
    client_auth: ClientAuth,
}

impl fmt::Debug for OAuth2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth2")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &crate::redact::REDACTED)
            .field(
                "grant",
                &match self.grant {
                    Grant::ClientCredentials => "client_credentials",
                    Grant::RefreshToken(_) => "refresh_token",
                },
            )
            .finish()
    }
}

#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub(crate) access_token: SecretString,
    #[serde(default, deserialize_with = "number_or_text")]
    pub(crate) expires_in: Option<f64>,
    #[serde(default)]
    pub(crate) refresh_token: Option<SecretString>,
}

/// `expires_in` as a number, or as text holding one (some providers send `"3600"`).
pub(crate) fn number_or_text<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(f64),
        Text(String),
    }
    Ok(match Option::<N>::deserialize(d)? {
        Some(N::Num(n)) => Some(n),
        Some(N::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

/// When a token fetched at `started` with lifetime `expires_in` (seconds) expires. Bounded: a lifetime
/// beyond [`MAX_TOKEN_LIFETIME`](crate::bounded::MAX_TOKEN_LIFETIME) is that long; a negative or
/// non-finite one means none was given.
pub(crate) fn expiry(started: Instant, expires_in: Option<f64>) -> Option<Instant> {
    expires_in
        .and_then(|s| {
            crate::bounded::seconds_f64(s, crate::bounded::MAX_TOKEN_LIFETIME, "expires_in")
        })
        .map(|d| crate::bounded::after(started, d))
}

impl OAuth2 {
    /// Client-credentials grant.
    pub fn client_credentials(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
    ) -> Self {
        OAuth2 {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            scopes: Vec::new(),
            grant: Grant::ClientCredentials,
            client_auth: ClientAuth::Basic,
        }
    }
    /// Refresh-token grant (a rotated refresh token in the answer replaces the old one).
    pub fn refresh_token(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<SecretString>,
        refresh_token: impl Into<SecretString>,
    ) -> Self {
        OAuth2 {
            grant: Grant::RefreshToken(RwLock::new(refresh_token.into())),
            ..OAuth2::client_credentials(token_url, client_id, client_secret)
        }
    }
    /// Scopes to ask for.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
    /// How the client authenticates to the token endpoint.
    pub fn client_auth(mut self, how: ClientAuth) -> Self {
        self.client_auth = how;
        self
    }
    /// Wrap as bearer auth that refreshes ahead of expiry.
    pub fn into_bearer(self) -> Bearer {
        Bearer::with_provider(Arc::new(self))
    }
}

impl TokenProvider for OAuth2 {
    fn fetch<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            let mut form: Vec<(&str, String)> = Vec::new();
            match &self.grant {
                Grant::ClientCredentials => form.push(("grant_type", "client_credentials".into())),
                Grant::RefreshToken(t) => {
                    form.push(("grant_type", "refresh_token".into()));
                    let t = t.read().unwrap_or_else(|p| p.into_inner());
                    form.push(("refresh_token", t.expose_secret().to_owned()));
                }
            }
            if !self.scopes.is_empty() {
                form.push(("scope", self.scopes.join(" ")));
            }
            let mut rb = http
                .post(&self.token_url)
                .header("accept", "application/json");
            match self.client_auth {
                ClientAuth::Basic => {
                    // RFC 6749 2.3.1: id and secret are form-encoded before the basic encoding.
                    let enc = |v: &str| {
                        url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
                    };
                    rb = rb.basic_auth(
                        enc(&self.client_id),
                        Some(enc(self.client_secret.expose_secret())),
                    );
                }
                ClientAuth::Body => {
                    form.push(("client_id", self.client_id.clone()));
                    form.push((
                        "client_secret",
                        self.client_secret.expose_secret().to_owned(),
                    ));
                }
            }
            let started = Instant::now();
            let resp = rb.form(&form).send().await.map_err(|e| {
                auth_err("could not reach the OAuth2 token endpoint").with_cause(e.without_url())
            })?;
            let status = resp.status();
            let body = resp.bytes().await.map_err(|e| {
                auth_err("the OAuth2 token endpoint's answer was cut short")
                    .with_cause(e.without_url())
            })?;
            if !status.is_success() {
                // The endpoint's error body (`error`, `error_description`) carries no secret of ours.
                return Err(auth_err(format!(
                    "the OAuth2 token endpoint refused the {} grant with status {status}",
                    match self.grant {
                        Grant::ClientCredentials => "client_credentials",
                        Grant::RefreshToken(_) => "refresh_token",
                    }
                ))
                .with_status(status)
                .with_raw_body(body)
                .with_retryable(status.is_server_error()));
            }
            let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
                Error::new(
                    ErrorCode::AuthFailed,
                    ErrorSource::Auth,
                    format!("the OAuth2 token endpoint's answer is not a token response: {e}"),
                )
            })?;
            if let (Grant::RefreshToken(slot), Some(new)) = (&self.grant, answer.refresh_token) {
                *slot.write().unwrap_or_else(|p| p.into_inner()) = new;
            }
            let expires_at = expiry(started, answer.expires_in);
            Ok(AccessToken {
                value: answer.access_token,
                expires_at,
            })
        })
    }
}

/// Signs the final request (custom schemes: HMAC, AWS-style signatures...).
pub trait Signer: Send + Sync + fmt::Debug {
    /// Add the signature to `req` (headers or query); it is the exact request that will be sent.
    ///
    /// A streamed body ([`RequestParts::is_streamed`]) is not in `req.body`: a signer whose signature
    /// covers the body must refuse such a request with a VALIDATION_ERROR rather than sign an empty body.
    fn sign(&self, req: &mut RequestParts) -> Result<(), Error>;
}

/// Custom auth: a [`Signer`] run on the final request, after all hooks.
#[derive(Debug)]
pub struct Custom<S>(pub S);

impl<S: Signer> AuthStrategy for Custom<S> {
    fn authenticate<'a>(
        &'a self,
        _: &'a mut RequestParts,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        ready(Ok(()))
    }
    fn sign<'a>(&'a self, req: &'a mut RequestParts) -> BoxFuture<'a, Result<(), Error>> {
        ready(self.0.sign(req))
    }
}

/// A ready-made [`Signer`]: HMAC-SHA256 over `METHOD\nPATH?QUERY\nTIMESTAMP\nBODY`, hex-encoded, with the
/// Unix timestamp and the signature in two headers (default `x-timestamp`, `x-signature`).
///
/// The signature covers the body, so requests with a streamed body ([`crate::Body::Stream`]) cannot be
/// signed: they fail with VALIDATION_ERROR before anything is sent.
pub struct HmacSigner {
    key: ring::hmac::Key,
    key_id: Option<String>,
    timestamp_header: String,
    signature_header: String,
}

impl fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSigner")
            .field("key", &crate::redact::REDACTED)
            .field("key_id", &self.key_id)
            .finish()
    }
}

impl HmacSigner {
    /// With a shared secret.
    pub fn new(secret: &SecretString) -> Self {
        HmacSigner {
            key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.expose_secret().as_bytes()),
            key_id: None,
            timestamp_header: "x-timestamp".into(),
            signature_header: "x-signature".into(),
        }
    }
    /// Also send `x-key-id` naming the key.
    pub fn key_id(mut self, id: impl Into<String>) -> Self {
        self.key_id = Some(id.into());
        self
    }
    /// The string that is signed.
    pub fn canonical(req: &RequestParts, timestamp: u64) -> Vec<u8> {
        let mut target = req.url.path().to_owned();
        if let Some(q) = req.url.query() {
            target.push('?');
            target.push_str(q);
        }
        let mut out = format!("{}\n{target}\n{timestamp}\n", req.method).into_bytes();
        out.extend_from_slice(&req.body);
        out
    }
}

impl Signer for HmacSigner {
    fn sign(&self, req: &mut RequestParts) -> Result<(), Error> {
        if req.is_streamed() {
            return Err(Error::validation(
                "body",
                "HmacSigner signs the body, and a streamed body is not available to sign; \
                 send the body as bytes or use a signer that does not cover the body",
            )
            .with_detail("streamed_body", true));
        }
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let tag = ring::hmac::sign(&self.key, &HmacSigner::canonical(req, ts));
        let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        req.set_header(&self.timestamp_header, &ts.to_string())?;
        req.set_header(&self.signature_header, &hex)?;
        if let Some(id) = &self.key_id {
            req.set_header("x-key-id", id)?;
        }
        Ok(())
    }
}

pub(crate) fn auth_err(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::AuthFailed, ErrorSource::Auth, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lifetime(json: &str) -> Result<Option<Duration>, serde_json::Error> {
        let started = Instant::now();
        let a: TokenAnswer = serde_json::from_str(json)?;
        Ok(expiry(started, a.expires_in).map(|at| at.saturating_duration_since(started)))
    }

    #[test]
    fn token_lifetimes_are_bounded() {
        let year = crate::bounded::MAX_TOKEN_LIFETIME;
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_in":3600}"#).unwrap(),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(
            lifetime(r#"{"access_token":"t","expires_in":"90"}"#).unwrap(),
            Some(Duration::from_secs(90))
        );
        for absurd in ["1e20", "1e300", "18446744073709551615", "\"1e30\""] {
            let json = format!(r#"{{"access_token":"t","expires_in":{absurd}}}"#);
            assert_eq!(lifetime(&json).unwrap(), Some(year), "{absurd}");
        }
        for none in ["-5", "\"soon\"", "null"] {
            let json = format!(r#"{{"access_token":"t","expires_in":{none}}}"#);
            assert_eq!(lifetime(&json).unwrap(), None, "{none}");
        }
    }

    proptest! {
        #[test]
        fn any_expires_in_gives_a_bounded_lifetime(
            value in prop_oneof![
                any::<f64>().prop_map(|f| if f.is_finite() { f.to_string() } else { "0".into() }),
                any::<u64>().prop_map(|n| n.to_string()),
                any::<i64>().prop_map(|n| n.to_string()),
                "\"[ -~&&[^\"\\\\]]{0,30}\"",
            ]
        ) {
            let json = format!(r#"{{"access_token":"t","expires_in":{value}}}"#);
            if let Ok(Some(d)) = lifetime(&json) {
                prop_assert!(d <= crate::bounded::MAX_TOKEN_LIFETIME);
            }
        }
    }
}
