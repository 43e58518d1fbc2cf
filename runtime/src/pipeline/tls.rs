//! The one rustls client configuration a connector's transports share, made from its `TlsConfig`:
//! the verifier (the platform's roots, with a bundle's roots added or instead, or none at all), the
//! minimum version and the client identity. (ALPN is each client's: hyper-rustls sets it from the
//! versions the lane enables, reqwest is handed a copy offering HTTP/2 and HTTP/1.1.)
//!
//! Architecture Invariant: reqwest (token endpoints, proxied exchanges) and the lane (every other
//! exchange) are handed the same `ClientConfig`, so a setting cannot hold on one path and not on
//! the other. Every file is checked here, with an error naming the field, before either uses it.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::TlsConfig;
use crate::error::{Error, ErrorCode, ErrorSource};

fn read_file(field: &str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::validation(field, format!("cannot read {}: {e}", path.display())))
}

/// The crypto provider: the application's when it installed one, else ring (installed as the
/// process default when none is, as reqwest's own configuration would look it up).
fn provider() -> Arc<CryptoProvider> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// The CA certificates of `tls.ca_bundle`, each checked to be usable as a root, and the store of
/// those roots.
type Bundle = (Vec<CertificateDer<'static>>, rustls::RootCertStore);

fn bundle(path: &std::path::Path) -> Result<Bundle, Error> {
    let pem = read_file("tls.ca_bundle", path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::validation(
                "tls.ca_bundle",
                format!("not a PEM certificate bundle: {e}"),
            )
        })?;
    if certs.is_empty() {
        return Err(Error::validation("tls.ca_bundle", "holds no certificate"));
    }
    let mut roots = rustls::RootCertStore::empty();
    for der in &certs {
        roots.add(der.clone()).map_err(|e| {
            Error::validation("tls.ca_bundle", format!("not a valid CA certificate: {e}"))
        })?;
    }
    Ok((certs, roots))
}

/// The client certificate chain and key of `tls.client_cert` and `tls.client_key`, checked to
/// form a usable pair.
fn identity(
    cert: &std::path::Path,
    key: &std::path::Path,
    provider: &CryptoProvider,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), Error> {
    let mut pem = read_file("tls.client_cert", cert)?;
    pem.push(b'\n');
    pem.extend(read_file("tls.client_key", key)?);
    let invalid = |e: &dyn std::fmt::Display| {
        Error::validation(
            "tls.client_cert",
            format!("not a PEM certificate and key: {e}"),
        )
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(&e))?;
    if certs.is_empty() {
        return Err(invalid(&"no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| invalid(&e))?;
    rustls::sign::CertifiedKey::from_der(certs.clone(), key.clone_key(), provider).map_err(
        |e| {
            Error::validation(
                "tls.client_cert",
                format!("the certificate and key do not form a usable pair: {e}"),
            )
        },
    )?;
    Ok((certs, key))
}

/// The client configuration for `tls` (already validated as a whole by `ConnectorConfig`).
pub(crate) fn client_config(tls: &TlsConfig) -> Result<rustls::ClientConfig, Error> {
    let provider = provider();
    let versions: &[&'static rustls::SupportedProtocolVersion] = match tls.min_version.as_deref() {
        Some("1.3") => &[&rustls::version::TLS13],
        _ => rustls::ALL_VERSIONS,
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| Error::validation("tls.min_version", e.to_string()))?;
    let extra = tls.ca_bundle.as_deref().map(bundle).transpose()?;
    let identity = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => Some(identity(cert, key, &provider)?),
        _ => None,
    };
    let builder = if !tls.verify {
        tracing::warn!("TLS certificate verification is OFF: use this for local testing only");
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider.clone())))
    } else if let (Some((_, roots)), true) = (&extra, tls.ca_bundle_only) {
        builder.with_root_certificates(roots.clone())
    } else {
        let verifier = match extra {
            Some((certs, _)) => {
                rustls_platform_verifier::Verifier::new_with_extra_roots(certs, provider.clone())
            }
            None => rustls_platform_verifier::Verifier::new(provider.clone()),
        }
        .map_err(|e| {
            Error::new(
                ErrorCode::InvalidRequest,
                ErrorSource::Transport,
                format!("could not load the platform's certificate roots: {e}"),
            )
        })?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
    };
    let config = match identity {
        Some((certs, key)) => builder.with_client_auth_cert(certs, key).map_err(|e| {
            Error::validation(
                "tls.client_cert",
                format!("the certificate and key do not form a usable pair: {e}"),
            )
        })?,
        None => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// The verifier of `tls.verify = false`: accepts any certificate and any handshake signature, and
/// offers the provider's signature schemes (so the handshake itself goes as it would).
#[derive(Debug)]
struct Unverified(Arc<CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verify_tls12_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
