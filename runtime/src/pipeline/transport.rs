//! Builds the pooled reqwest client from configuration: TLS (rustls), proxy, pooling, keep-alive,
//! response decompression (gzip, brotli, deflate).
//!
//! Architecture Invariant: reqwest's own retry layer is switched off (`retry::never()`) and redirects are
//! limited, so every retry the connector makes is one the pipeline decided, counted and logged.

use std::time::Duration;

use crate::config::ConnectorConfig;
use crate::error::{Error, ErrorCode, ErrorSource};

fn read_file(field: &str, path: &std::path::Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path)
        .map_err(|e| Error::validation(field, format!("cannot read {}: {e}", path.display())))
}

/// Build the HTTP client for `config` (which must already be valid).
pub(crate) fn build_client(config: &ConnectorConfig) -> Result<reqwest::Client, Error> {
    // reqwest is built without a default crypto provider; ring is ours. If the application already
    // installed a provider, that one stays.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let pool = &config.pool;
    let mut b = reqwest::Client::builder()
        .retry(reqwest::retry::never())
        .redirect(match config.max_redirects {
            0 => reqwest::redirect::Policy::none(),
            n => reqwest::redirect::Policy::limited(n as usize),
        })
        .user_agent(config.user_agent.clone())
        .connect_timeout(Duration::from_millis(pool.connect_timeout_ms))
        .pool_max_idle_per_host(pool.max_idle_per_host)
        .pool_idle_timeout(Duration::from_millis(pool.idle_timeout_ms))
        .tls_backend_rustls()
        .gzip(config.compression.gzip)
        .brotli(config.compression.brotli)
        .deflate(config.compression.deflate);
    if pool.tcp_keepalive_ms > 0 {
        b = b.tcp_keepalive(Duration::from_millis(pool.tcp_keepalive_ms));
    }

    let tls = &config.tls;
    if !tls.verify {
        tracing::warn!("TLS certificate verification is OFF: use this for local testing only");
        b = b.tls_danger_accept_invalid_certs(true);
    }
    match tls.min_version.as_deref() {
        Some("1.3") => b = b.tls_version_min(reqwest::tls::Version::TLS_1_3),
        _ => b = b.tls_version_min(reqwest::tls::Version::TLS_1_2),
    }
    if let Some(path) = &tls.ca_bundle {
        let pem = read_file("tls.ca_bundle", path)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Error::validation(
                "tls.ca_bundle",
                format!("not a PEM certificate bundle: {e}"),
            )
        })?;
        if certs.is_empty() {
            return Err(Error::validation("tls.ca_bundle", "holds no certificate"));
        }
        // reqwest checks only the PEM framing; a block that is not a usable CA certificate would
        // otherwise surface later as an anonymous "builder error" from the client builder.
        {
            use rustls::pki_types::pem::PemObject;
            let mut roots = rustls::RootCertStore::empty();
            for der in rustls::pki_types::CertificateDer::pem_slice_iter(&pem).flatten() {
                roots.add(der).map_err(|e| {
                    Error::validation("tls.ca_bundle", format!("not a valid CA certificate: {e}"))
                })?;
            }
        }
        b = if tls.ca_bundle_only {
            b.tls_certs_only(certs)
        } else {
            b.tls_certs_merge(certs)
        };
    }
    if let (Some(cert), Some(key)) = (&tls.client_cert, &tls.client_key) {
        let mut pem = read_file("tls.client_cert", cert)?;
        pem.push(b'\n');
        pem.extend(read_file("tls.client_key", key)?);
        let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
            Error::validation(
                "tls.client_cert",
                format!("not a PEM certificate and key: {e}"),
            )
        })?;
        // reqwest checks only the PEM framing; a corrupt certificate or a key that does not match it
        // would otherwise surface later as an anonymous "builder error" from the client builder.
        if let Some(provider) = rustls::crypto::CryptoProvider::get_default() {
            use rustls::pki_types::pem::PemObject;
            use rustls::pki_types::{CertificateDer, PrivateKeyDer};
            let certs = CertificateDer::pem_slice_iter(&pem).collect::<Result<Vec<_>, _>>();
            if let (Ok(certs), Ok(key)) = (certs, PrivateKeyDer::from_pem_slice(&pem)) {
                rustls::sign::CertifiedKey::from_der(certs, key, provider).map_err(|e| {
                    Error::validation(
                        "tls.client_cert",
                        format!("the certificate and key do not form a usable pair: {e}"),
                    )
                })?;
            }
        }
        b = b.identity(id);
    }

    if let Some(p) = &config.proxy {
        let mut proxy =
            reqwest::Proxy::all(&p.url).map_err(|e| Error::validation("proxy.url", e))?;
        if let Some(user) = &p.username {
            use secrecy::ExposeSecret;
            let pass = p.password.as_ref().map(|s| s.expose_secret()).unwrap_or("");
            proxy = proxy.basic_auth(user, pass);
        }
        if let Some(np) = &p.no_proxy {
            proxy = proxy.no_proxy(reqwest::NoProxy::from_string(np));
        }
        b = b.proxy(proxy);
    } else {
        // Proxies come from configuration only, so behaviour does not change with the environment.
        b = b.no_proxy();
    }

    b.build().map_err(|e| {
        Error::new(
            ErrorCode::InvalidRequest,
            ErrorSource::Transport,
            format!("could not build the HTTP client: {e}"),
        )
        .with_cause(e)
    })
}
