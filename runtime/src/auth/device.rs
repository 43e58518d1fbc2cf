//! The OAuth2 device authorization grant (RFC 8628) as a [`TokenProvider`]: ask for a device code,
//! show the user where to approve it, poll the token endpoint until they do, then refresh.
//!
//! Every number the servers send (`expires_in`, `interval`, the token's own `expires_in`) goes through
//! [`crate::bounded`]: the code's lifetime and the polling interval are at most
//! [`MAX_SERVER_WAIT`](crate::bounded::MAX_SERVER_WAIT). Waiting uses tokio's clock.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::auth::{AccessToken, Bearer, TokenAnswer, TokenProvider, auth_err, expiry};
use crate::bounded::{MAX_SERVER_WAIT, seconds_f64};
use crate::error::Error;

/// The grant type of a device code poll (RFC 8628 3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval when the server names none (RFC 8628 3.2).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// How much longer to wait between polls after each `slow_down` (RFC 8628 3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// The device code's lifetime when the server gives none.
pub const DEFAULT_CODE_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// What the user needs to approve the device: shown by the callback given to
/// [`DeviceAuthorization::on_code`].
#[derive(Clone, Debug)]
pub struct DeviceCode {
    /// The code the user types at `verification_uri`.
    pub user_code: String,
    /// Where the user goes.
    pub verification_uri: String,
    /// The same address with the code already in it, when the server gives one.
    pub verification_uri_complete: Option<String>,
    /// How long the code stays valid (bounded).
    pub expires_in: Duration,
}

type OnCode = Arc<dyn Fn(&DeviceCode) + Send + Sync>;

/// OAuth2 device authorization: `fetch` runs the whole grant the first time (and whenever no refresh
/// token is held or the server refuses it with `invalid_grant`), and the refresh-token grant after.
pub struct DeviceAuthorization {
    device_url: String,
    token_url: String,
    client_id: String,
    scopes: Vec<String>,
    on_code: OnCode,
    refresh_token: RwLock<Option<SecretString>>,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_url", &self.device_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("scopes", &self.scopes)
            .finish()
    }
}

#[derive(Deserialize)]
struct CodeAnswer {
    device_code: SecretString,
    user_code: String,
    // Some providers spell it `verification_url`.
    #[serde(alias = "verification_url")]
    verification_uri: String,
    #[serde(default)]
    verification_uri_complete: Option<String>,
    #[serde(default, deserialize_with = "crate::auth::number_or_text")]
    expires_in: Option<f64>,
    #[serde(default, deserialize_with = "crate::auth::number_or_text")]
    interval: Option<f64>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
}

impl DeviceAuthorization {
    /// The device authorization endpoint, the token endpoint and the client id. Until
    /// [`DeviceAuthorization::on_code`] is given, the user code is only logged (at `warn`).
    pub fn new(
        device_url: impl Into<String>,
        token_url: impl Into<String>,
        client_id: impl Into<String>,
    ) -> Self {
        DeviceAuthorization {
            device_url: device_url.into(),
            token_url: token_url.into(),
            client_id: client_id.into(),
            scopes: Vec::new(),
            on_code: Arc::new(|c: &DeviceCode| {
                tracing::warn!(
                    user_code = %c.user_code,
                    verification_uri = %c.verification_uri,
                    "approve this device to let the client in"
                );
            }),
            refresh_token: RwLock::new(None),
        }
    }
    /// Scopes to ask for.
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }
    /// Called with the user code and where to enter it, each time the grant starts.
    pub fn on_code(mut self, show: impl Fn(&DeviceCode) + Send + Sync + 'static) -> Self {
        self.on_code = Arc::new(show);
        self
    }
    /// Start from a refresh token obtained earlier (no device code is asked for while it works).
    pub fn refresh_token(self, token: impl Into<SecretString>) -> Self {
        *self
            .refresh_token
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(token.into());
        self
    }
    /// Wrap as bearer auth that refreshes ahead of expiry.
    pub fn into_bearer(self) -> Bearer {
        Bearer::with_provider(Arc::new(self))
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        url: &str,
        form: &[(&str, &str)],
        what: &str,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes), Error> {
        let resp = http
            .post(url)
            .header("accept", "application/json")
            .form(form)
            .send()
            .await
            .map_err(|e| {
                auth_err(format!("could not reach the {what}")).with_cause(e.without_url())
            })?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| {
            auth_err(format!("the {what}'s answer was cut short")).with_cause(e.without_url())
        })?;
        Ok((status, body))
    }

    /// A token answer: the token, and the refresh token kept for later.
    fn token(&self, started: Instant, body: &[u8]) -> Result<AccessToken, Error> {
        let answer: TokenAnswer = serde_json::from_slice(body).map_err(|e| {
            auth_err(format!(
                "the OAuth2 token endpoint's answer is not a token response: {e}"
            ))
        })?;
        if let Some(r) = answer.refresh_token {
            *self
                .refresh_token
                .write()
                .unwrap_or_else(|p| p.into_inner()) = Some(r);
        }
        Ok(AccessToken {
            value: answer.access_token,
            expires_at: expiry(started, answer.expires_in),
        })
    }

    /// The refresh-token grant; `Ok(None)` when the server no longer accepts the refresh token.
    async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh: &SecretString,
    ) -> Result<Option<AccessToken>, Error> {
        let started = Instant::now();
        let (status, body) = self
            .post(
                http,
                &self.token_url,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.expose_secret()),
                    ("client_id", &self.client_id),
                ],
                "OAuth2 token endpoint",
            )
            .await?;
        if status.is_success() {
            return self.token(started, &body).map(Some);
        }
        let code = serde_json::from_slice::<ErrorAnswer>(&body)
            .ok()
            .map(|e| e.error);
        if status.is_client_error() && code.as_deref() == Some("invalid_grant") {
            *self
                .refresh_token
                .write()
                .unwrap_or_else(|p| p.into_inner()) = None;
            return Ok(None);
        }
        Err(auth_err(format!(
            "the OAuth2 token endpoint refused the refresh_token grant with status {status}"
        ))
        .with_status(status)
        .with_raw_body(body)
        .with_retryable(status.is_server_error()))
    }

    /// The whole device grant: code, user callback, polling.
    async fn device_grant(&self, http: &reqwest::Client) -> Result<AccessToken, Error> {
        let scope = self.scopes.join(" ");
        let mut form = vec![("client_id", self.client_id.as_str())];
        if !scope.is_empty() {
            form.push(("scope", scope.as_str()));
        }
        let (status, body) = self
            .post(
                http,
                &self.device_url,
                &form,
                "OAuth2 device authorization endpoint",
            )
            .await?;
        if !status.is_success() {
            return Err(auth_err(format!(
                "the OAuth2 device authorization endpoint refused the client with status {status}"
            ))
            .with_status(status)
            .with_raw_body(body)
            .with_retryable(status.is_server_error()));
        }
        let code: CodeAnswer = serde_json::from_slice(&body).map_err(|e| {
            auth_err(format!(
                "the device authorization answer is not a device code: {e}"
            ))
        })?;
        let lifetime = code
            .expires_in
            .and_then(|s| seconds_f64(s, MAX_SERVER_WAIT, "device code expires_in"))
            .unwrap_or(DEFAULT_CODE_LIFETIME);
        let mut interval = code
            .interval
            .and_then(|s| seconds_f64(s, MAX_SERVER_WAIT, "device code interval"))
            .unwrap_or(DEFAULT_INTERVAL);
        let deadline = tokio::time::Instant::now() + lifetime;
        (self.on_code)(&DeviceCode {
            user_code: code.user_code,
            verification_uri: code.verification_uri,
            verification_uri_complete: code.verification_uri_complete,
            expires_in: lifetime,
        });
        loop {
            if tokio::time::Instant::now() + interval > deadline {
                return Err(auth_err(
                    "the device code expired before the user approved it",
                ));
            }
            tokio::time::sleep(interval).await;
            let started = Instant::now();
            let (status, body) = self
                .post(
                    http,
                    &self.token_url,
                    &[
                        ("grant_type", DEVICE_CODE_GRANT),
                        ("device_code", code.device_code.expose_secret()),
                        ("client_id", &self.client_id),
                    ],
                    "OAuth2 token endpoint",
                )
                .await?;
            if status.is_success() {
                return self.token(started, &body);
            }
            let error = serde_json::from_slice::<ErrorAnswer>(&body).map(|e| e.error);
            match error.as_deref() {
                Ok("authorization_pending") => {}
                Ok("slow_down") => {
                    interval = crate::bounded::clamp(
                        interval.saturating_add(SLOW_DOWN_STEP),
                        MAX_SERVER_WAIT,
                        "device code interval",
                    );
                }
                Ok("access_denied") => {
                    return Err(auth_err("the user denied the device authorization request")
                        .with_status(status));
                }
                Ok("expired_token") => {
                    return Err(
                        auth_err("the device code expired before the user approved it")
                            .with_status(status),
                    );
                }
                _ => {
                    return Err(auth_err(format!(
                        "the OAuth2 token endpoint refused the device code with status {status}"
                    ))
                    .with_status(status)
                    .with_raw_body(body)
                    .with_retryable(status.is_server_error()));
                }
            }
        }
    }
}

impl TokenProvider for DeviceAuthorization {
    fn fetch<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<AccessToken, Error>> {
        Box::pin(async move {
            let held = self
                .refresh_token
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(refresh) = held {
                if let Some(token) = self.refresh(http, &refresh).await? {
                    return Ok(token);
                }
            }
            self.device_grant(http).await
        })
    }
}
