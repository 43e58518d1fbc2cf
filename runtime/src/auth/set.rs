//! Several named credentials at once, sent per operation as its security requirements say, and the
//! client certificate (mTLS) as a credential.
//!
//! An operation's requirements ([`Requirements`], carried on [`RequestOptions::security`] and
//! [`RequestParts::security`]) are alternatives; each alternative names the security schemes whose
//! credentials go out together. [`Credentials`] holds one [`AuthStrategy`] per scheme name and, at
//! every attempt, picks:
//!
//! - no requirements declared (`None`): its first credential, so a client given one credential
//!   keeps sending it on every call that declares nothing, as a single strategy does;
//! - otherwise the first alternative that names at least one scheme and whose schemes are all held:
//!   every one of them is sent;
//! - else, when the operation accepts no credentials (an empty alternative, or no alternative at
//!   all): nothing;
//! - else the call fails before anything is sent, with AUTH_FAILED naming the schemes it needs.
//!
//! The set is consulted at `authenticate` (step 1 of each attempt), at `sign` (after the hooks), on
//! a 401 (only the credentials that were sent are asked to refresh) and at connect (each credential
//! that is not yet valid is refreshed). An error from one of its credentials (a token endpoint that
//! refuses, a value that is not a valid header) fails the call as that credential alone would.
//!
//! [`RequestOptions::security`]: crate::RequestOptions::security

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::auth::{AuthStrategy, auth_err};
use crate::error::Error;
use crate::request::RequestParts;

/// An operation's security requirements: alternatives, each the names of the schemes sent together.
/// `&[]` accepts no credentials; `&[&[]]` or an empty alternative among others makes them optional.
pub type Requirements = &'static [&'static [&'static str]];

/// Credentials for several security schemes, by the scheme names of the API description; see the
/// module documentation for which are sent on a call.
#[derive(Clone, Default)]
pub struct Credentials {
    held: Vec<(String, Arc<dyn AuthStrategy>)>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut m = f.debug_map();
        for (name, s) in &self.held {
            m.entry(name, s);
        }
        m.finish()
    }
}

impl Credentials {
    /// No credentials yet.
    pub fn new() -> Self {
        Credentials::default()
    }

    /// Also hold `strategy` as the credential of the scheme `scheme` (replacing one of that name).
    /// A credential under the empty name answers no requirement: it is sent only on calls that
    /// declare none, and only when it is the first held.
    pub fn with(mut self, scheme: impl Into<String>, strategy: Arc<dyn AuthStrategy>) -> Self {
        self.insert(scheme, strategy);
        self
    }

    /// Hold `strategy` as the credential of the scheme `scheme` (replacing one of that name).
    pub fn insert(&mut self, scheme: impl Into<String>, strategy: Arc<dyn AuthStrategy>) {
        let scheme = scheme.into();
        match self.held.iter_mut().find(|(n, _)| *n == scheme) {
            Some(slot) => slot.1 = strategy,
            None => self.held.push((scheme, strategy)),
        }
    }

    /// The scheme names held, in the order they were added.
    pub fn schemes(&self) -> Vec<&str> {
        self.held.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn get(&self, scheme: &str) -> Option<&Arc<dyn AuthStrategy>> {
        self.held.iter().find(|(n, _)| n == scheme).map(|(_, s)| s)
    }

    /// The credentials a call with `security` sends, or the AUTH_FAILED error saying what it needs.
    pub fn select(
        &self,
        security: Option<Requirements>,
    ) -> Result<Vec<&Arc<dyn AuthStrategy>>, Error> {
        let Some(alternatives) = security else {
            return Ok(self.held.first().map(|(_, s)| s).into_iter().collect());
        };
        for alt in alternatives.iter().filter(|a| !a.is_empty()) {
            let found: Option<Vec<_>> = alt.iter().map(|s| self.get(s)).collect();
            if let Some(found) = found {
                return Ok(found);
            }
        }
        if alternatives.is_empty() || alternatives.iter().any(|a| a.is_empty()) {
            return Ok(Vec::new());
        }
        let needs: Vec<String> = alternatives
            .iter()
            .map(|alt| {
                alt.iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            })
            .collect();
        let held: Vec<String> = self
            .held
            .iter()
            .filter(|(n, _)| !n.is_empty())
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        Err(auth_err(format!(
            "this operation needs the credentials of {}; the client holds {}: nothing was sent",
            needs.join(", or of "),
            if held.is_empty() {
                "none".to_owned()
            } else {
                held.join(", ")
            }
        ))
        .with_detail("needs", needs.join(" | ")))
    }
}

impl AuthStrategy for Credentials {
    fn authenticate<'a>(
        &'a self,
        req: &'a mut RequestParts,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            for s in self.select(req.security)? {
                s.authenticate(req, http).await?;
            }
            Ok(())
        })
    }

    fn sign<'a>(&'a self, req: &'a mut RequestParts) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            for s in self.select(req.security)? {
                s.sign(req).await?;
            }
            Ok(())
        })
    }

    fn refresh<'a>(&'a self, http: &'a reqwest::Client) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            for (_, s) in &self.held {
                if !s.is_valid() {
                    s.refresh(http).await?;
                }
            }
            Ok(())
        })
    }

    fn is_valid(&self) -> bool {
        self.held.iter().all(|(_, s)| s.is_valid())
    }

    fn on_unauthorized<'a>(
        &'a self,
        rejected: &'a RequestParts,
        http: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<bool, Error>> {
        Box::pin(async move {
            let mut renewed = false;
            for s in self.select(rejected.security)? {
                renewed |= s.on_unauthorized(rejected, http).await?;
            }
            Ok(renewed)
        })
    }

    fn sensitive_names(&self) -> Vec<String> {
        self.held
            .iter()
            .flat_map(|(_, s)| s.sensitive_names())
            .collect()
    }

    fn client_certificate(&self) -> Option<(PathBuf, PathBuf)> {
        self.held.iter().find_map(|(_, s)| s.client_certificate())
    }
}

/// A client certificate presented in the TLS handshake (mTLS): a PEM certificate chain and its PEM
/// private key (PKCS#8, PKCS#1 or SEC1), as files. The connector reads them when it is built, into
/// `tls.client_cert` and `tls.client_key` unless those are set; nothing is added to requests.
/// Switching auth at run time does not change the certificate of a built connector.
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    cert: PathBuf,
    key: PathBuf,
}

impl ClientCertificate {
    /// From the certificate chain and private key PEM files.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        ClientCertificate {
            cert: cert.into(),
            key: key.into(),
        }
    }
}

impl AuthStrategy for ClientCertificate {
    fn authenticate<'a>(
        &'a self,
        _: &'a mut RequestParts,
        _: &'a reqwest::Client,
    ) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(std::future::ready(Ok(())))
    }
    fn client_certificate(&self) -> Option<(PathBuf, PathBuf)> {
        Some((self.cert.clone(), self.key.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{ApiKey, ApiKeyLocation, Basic, Bearer};
    use crate::error::ErrorCode;

    fn set() -> Credentials {
        Credentials::new()
            .with(
                "key",
                Arc::new(ApiKey::new("x-key", ApiKeyLocation::Header, "k")),
            )
            .with("basic", Arc::new(Basic::new("u", "p")))
            .with("token", Arc::new(Bearer::new("t".to_owned())))
    }

    /// Which held schemes `select` picks, by the position they were added at.
    fn picked(c: &Credentials, security: Option<Requirements>) -> Result<Vec<usize>, Error> {
        Ok(c.select(security)?
            .into_iter()
            .map(|s| {
                c.held
                    .iter()
                    .position(|(_, h)| Arc::ptr_eq(h, s))
                    .expect("a held credential")
            })
            .collect())
    }

    #[test]
    fn undeclared_security_sends_the_first_credential() {
        assert_eq!(picked(&set(), None).unwrap(), [0]);
        assert_eq!(
            picked(&Credentials::new(), None).unwrap(),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn the_first_alternative_that_is_fully_held_is_sent_whole() {
        let c = set();
        assert_eq!(picked(&c, Some(&[&["basic"]])).unwrap(), [1]);
        assert_eq!(picked(&c, Some(&[&["token", "key"]])).unwrap(), [2, 0]);
        // `oauth` is not held, so the second alternative is used.
        assert_eq!(
            picked(&c, Some(&[&["oauth", "key"], &["basic"]])).unwrap(),
            [1]
        );
        // A held alternative is preferred to going without credentials, wherever `{}` stands.
        assert_eq!(picked(&c, Some(&[&[], &["token"]])).unwrap(), [2]);
    }

    #[test]
    fn no_credentials_when_none_are_accepted_or_none_held_are_optional() {
        let c = set();
        assert!(picked(&c, Some(&[])).unwrap().is_empty());
        assert!(picked(&c, Some(&[&["oauth"], &[]])).unwrap().is_empty());
    }

    #[test]
    fn an_unmet_requirement_is_an_auth_error_naming_what_is_needed() {
        let c = set();
        let e = c
            .select(Some(&[&["oauth"], &["key", "signature"]]))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthFailed);
        let text = e.to_string();
        assert!(
            text.contains("`oauth`, or of `key` and `signature`"),
            "{text}"
        );
        assert!(text.contains("holds `key`, `basic`, `token`"), "{text}");
        let none = Credentials::new().select(Some(&[&["oauth"]])).unwrap_err();
        assert!(none.to_string().contains("holds none"), "{none}");
    }

    #[test]
    fn a_scheme_added_again_replaces_the_first() {
        let c = set().with("key", Arc::new(Basic::new("v", "w")));
        assert_eq!(c.schemes(), ["key", "basic", "token"]);
    }
}
