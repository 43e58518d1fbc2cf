//! TLS (private CA bundles, platform roots, hostname checks, mTLS, minimum version) and proxy settings,
//! proven against real servers on loopback: an HTTPS server on rustls, and a small HTTP forward proxy.

mod support;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use connector_runtime::config::{ProxyConfig, TlsConfig};
use connector_runtime::{Connector, ConnectorConfig, Error, ErrorCode, RetryConfig};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::version::{TLS12, TLS13};
use rustls::{ProtocolVersion, SupportedProtocolVersion};
use serde_json::{Value, json};
use support::{CountingServer, reply};

// ---------------------------------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------------------------------

/// A private CA with a server certificate and a client certificate it signed, written as PEM files to
/// a fresh directory under the system temp dir (removed on drop).
struct Pki {
    dir: PathBuf,
    /// The CA certificate (PEM): what `tls.ca_bundle` points to.
    ca_pem: PathBuf,
    ca_der: CertificateDer<'static>,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    client_der: CertificateDer<'static>,
}

fn unique_dir(what: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "connector-runtime-{what}-{}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Pki {
    /// A new CA whose server certificate is valid for `server_names` (DNS names or IP addresses).
    fn new(server_names: &[&str]) -> Pki {
        let dir = unique_dir("pki");

        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "connector-runtime test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let leaf = |names: Vec<String>, cn: &str, eku: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().unwrap();
            let mut p = CertificateParams::new(names).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            p.extended_key_usages = vec![eku];
            p.use_authority_key_identifier_extension = true;
            let cert = p.signed_by(&key, &ca).unwrap();
            (cert, key)
        };
        let names = server_names.iter().map(|s| s.to_string()).collect();
        let (server, server_key) = leaf(names, "test server", ExtendedKeyUsagePurpose::ServerAuth);
        let (client, client_key) = leaf(
            Vec::new(),
            "test client",
            ExtendedKeyUsagePurpose::ClientAuth,
        );

        let write = |name: &str, pem: String| {
            let path = dir.join(name);
            std::fs::write(&path, pem).unwrap();
            path
        };
        Pki {
            ca_pem: write("ca.pem", ca.pem()),
            ca_der: ca.der().clone(),
            server_cert: write("server.pem", server.pem()),
            server_key: write("server.key", server_key.serialize_pem()),
            client_cert: write("client.pem", client.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
            client_der: client.der().clone(),
            dir,
        }
    }

    /// A file in this PKI's directory holding `contents`.
    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// A rustls server configuration presenting this PKI's server certificate, speaking only
    /// `versions`, and requiring a client certificate signed by the CA when `require_client_cert`.
    fn server_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        require_client_cert: bool,
    ) -> rustls::ServerConfig {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.server_cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(&self.server_key).unwrap();
        let builder = rustls::ServerConfig::builder_with_protocol_versions(versions);
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        config
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ---------------------------------------------------------------------------------------------------
// HTTPS server
// ---------------------------------------------------------------------------------------------------

/// One TLS connection the server accepted.
#[derive(Clone, Debug)]
struct Handshake {
    version: Option<ProtocolVersion>,
    client_certs: Vec<CertificateDer<'static>>,
}

/// A hyper server behind a tokio-rustls acceptor on 127.0.0.1 (HTTP/2 when ALPN picks it, else
/// HTTP/1.1), answering 200 JSON that names the TLS and HTTP versions. It records
/// every completed handshake, every failed one and every request served.
struct TlsServer {
    addr: SocketAddr,
    handshakes: Arc<Mutex<Vec<Handshake>>>,
    failures: Arc<Mutex<Vec<String>>>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsServer {
    async fn start(config: rustls::ServerConfig) -> TlsServer {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let handshakes = Arc::new(Mutex::new(Vec::new()));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let (h, f, r) = (handshakes.clone(), failures.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (acceptor, h, f, r) = (acceptor.clone(), h.clone(), f.clone(), r.clone());
                tokio::spawn(async move {
                    let tls = match acceptor.accept(tcp).await {
                        Ok(tls) => tls,
                        Err(e) => {
                            f.lock().unwrap().push(e.to_string());
                            return;
                        }
                    };
                    let conn = tls.get_ref().1;
                    let version = conn.protocol_version();
                    h.lock().unwrap().push(Handshake {
                        version,
                        client_certs: conn.peer_certificates().unwrap_or_default().to_vec(),
                    });
                    let h2 = conn.alpn_protocol() == Some(b"h2");
                    let svc = service_fn(move |req: http::Request<Incoming>| {
                        let r = r.clone();
                        async move {
                            r.fetch_add(1, Ordering::SeqCst);
                            let body = json!({
                                "ok": true,
                                "tls": format!("{version:?}"),
                                "http": format!("{:?}", req.version()),
                            });
                            Ok::<_, Infallible>(reply(200, &body.to_string()))
                        }
                    });
                    let io = TokioIo::new(tls);
                    let _ = if h2 {
                        hyper::server::conn::http2::Builder::new(
                            hyper_util::rt::TokioExecutor::new(),
                        )
                        .serve_connection(io, svc)
                        .await
                    } else {
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, svc)
                            .await
                    };
                });
            }
        });
        TlsServer {
            addr,
            handshakes,
            failures,
            requests,
            task,
        }
    }

    fn handshakes(&self) -> Vec<Handshake> {
        self.handshakes.lock().unwrap().clone()
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Failed handshakes, once there is one: the server may learn of a failure after the client did.
    async fn failures(&self) -> Vec<String> {
        support::until("the server to record a failed handshake", || {
            !self.failures.lock().unwrap().is_empty()
        })
        .await;
        self.failures.lock().unwrap().clone()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A connector config for `https://127.0.0.1:<port>/v1` with `tls` and no retries (a TLS failure is
/// retryable, and one attempt is what these tests look at).
fn https_config(addr: SocketAddr, tls: TlsConfig) -> ConnectorConfig {
    ConnectorConfig {
        tls,
        retry: RetryConfig::disabled(),
        timeout_ms: 10_000,
        ..ConnectorConfig::new(format!("https://127.0.0.1:{}/v1", addr.port()))
    }
}

fn trusting(pki: &Pki) -> TlsConfig {
    TlsConfig {
        ca_bundle: Some(pki.ca_pem.clone()),
        ..TlsConfig::default()
    }
}

/// GET /things: the JSON body, or the error.
async fn get_json(config: ConnectorConfig) -> Result<Value, Error> {
    let c = Connector::initialize(config)?;
    c.connect().await?;
    let r = c.get("/things").await?;
    assert_eq!(r.status, 200);
    Ok(r.json::<Value>()?.data)
}

/// The request failed in the TLS handshake: a retryable NETWORK_ERROR whose message names the problem.
fn assert_tls_failure(e: &Error, wanted: &str) {
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e:?}");
    assert!(e.is_retryable(), "{e:?}");
    let msg = e.message().to_ascii_lowercase();
    assert!(
        msg.contains(&wanted.to_ascii_lowercase()),
        "message should mention {wanted:?}: {}",
        e.message()
    );
}

// ---------------------------------------------------------------------------------------------------
// Server certificate verification
// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_private_ca_is_untrusted_by_default_and_trusted_through_ca_bundle() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], false)).await;

    // Default TLS settings: the platform roots do not know this CA.
    let e = get_json(https_config(server.addr, TlsConfig::default()))
        .await
        .unwrap_err();
    println!("untrusted server certificate: {e}");
    assert_tls_failure(&e, "certificate");
    assert_eq!(server.requests(), 0);
    assert!(
        e.message().contains("UnknownIssuer"),
        "the root cause is kept: {e}"
    );
    assert!(!e.request_sent(), "{e:?}");
    assert!(
        server.handshakes().is_empty(),
        "the client must abort the handshake"
    );

    // The CA in `ca_bundle` (added to the platform roots).
    let body = get_json(https_config(server.addr, trusting(&pki)))
        .await
        .unwrap();
    assert_eq!(body["ok"], true);

    // The CA in `ca_bundle`, trusted alone.
    let only = TlsConfig {
        ca_bundle_only: true,
        ..trusting(&pki)
    };
    let body = get_json(https_config(server.addr, only)).await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(server.requests(), 2);
}

/// HTTP/2 when the server's ALPN picks it, HTTP/1.1 when it offers only that: the client offers both.
#[tokio::test]
async fn http2_is_spoken_when_the_servers_alpn_picks_it() {
    let pki = Pki::new(&["localhost", "127.0.0.1"]);
    for (offered, spoken) in [
        (vec![b"h2".to_vec(), b"http/1.1".to_vec()], "HTTP/2.0"),
        (vec![b"http/1.1".to_vec()], "HTTP/1.1"),
    ] {
        let mut config = pki.server_config(&[&TLS13, &TLS12], false);
        config.alpn_protocols = offered;
        let server = TlsServer::start(config).await;
        let body = get_json(https_config(server.addr, trusting(&pki)))
            .await
            .unwrap();
        assert_eq!(body["http"], spoken);
    }
}

#[tokio::test]
async fn a_bundle_with_another_ca_does_not_make_the_server_trusted() {
    let pki = Pki::new(&["127.0.0.1"]);
    let other = Pki::new(&["127.0.0.1"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], false)).await;
    for only in [false, true] {
        let tls = TlsConfig {
            ca_bundle_only: only,
            ..trusting(&other)
        };
        let e = get_json(https_config(server.addr, tls)).await.unwrap_err();
        assert_tls_failure(&e, "certificate");
        assert_eq!(server.requests(), 0);
    }
    // A bundle holding both CAs: any one of them is enough.
    let both = [
        std::fs::read(&other.ca_pem).unwrap(),
        std::fs::read(&pki.ca_pem).unwrap(),
    ]
    .concat();
    let tls = TlsConfig {
        ca_bundle: Some(pki.file("both.pem", both)),
        ca_bundle_only: true,
        ..TlsConfig::default()
    };
    get_json(https_config(server.addr, tls)).await.unwrap();
}

#[tokio::test]
async fn the_server_name_is_checked_against_the_certificate() {
    // Signed by a trusted CA, but for another host.
    let pki = Pki::new(&["elsewhere.test"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], false)).await;
    for only in [false, true] {
        let tls = TlsConfig {
            ca_bundle_only: only,
            ..trusting(&pki)
        };
        let e = get_json(https_config(server.addr, tls)).await.unwrap_err();
        println!("wrong host name: {e}");
        assert_tls_failure(&e, "certificate");
        assert_eq!(server.requests(), 0);
        assert!(e.message().contains("not valid for name"), "{e}");
    }
}

#[tokio::test]
async fn verification_can_be_turned_off_for_local_testing() {
    let pki = Pki::new(&["elsewhere.test"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], false)).await;
    let tls = TlsConfig {
        verify: false,
        ..TlsConfig::default()
    };
    let body = get_json(https_config(server.addr, tls)).await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(server.requests(), 1);
}

// ---------------------------------------------------------------------------------------------------
// Client certificates (mTLS)
// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn mtls_presents_the_configured_client_certificate() {
    let pki = Pki::new(&["127.0.0.1"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], true)).await;

    // No client certificate: the server refuses the connection.
    let e = get_json(https_config(server.addr, trusting(&pki)))
        .await
        .unwrap_err();
    println!("no client certificate: {e}");
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e:?}");
    assert_eq!(server.requests(), 0);
    assert!(server.handshakes().is_empty());
    let failures = server.failures().await;
    assert!(
        failures
            .iter()
            .any(|f| f.to_ascii_lowercase().contains("certificate")),
        "the server rejected the handshake for want of a certificate: {failures:?}"
    );

    // With the client certificate and key.
    let tls = TlsConfig {
        client_cert: Some(pki.client_cert.clone()),
        client_key: Some(pki.client_key.clone()),
        ..trusting(&pki)
    };
    let body = get_json(https_config(server.addr, tls)).await.unwrap();
    assert_eq!(body["ok"], true);
    let handshakes = server.handshakes();
    assert_eq!(handshakes.len(), 1, "{handshakes:?}");
    assert_eq!(
        handshakes[0].client_certs.first(),
        Some(&pki.client_der),
        "the server saw the configured client certificate"
    );
    assert_eq!(server.requests(), 1);
}

/// A client certificate given as a credential (`AuthConfig::ClientCertificate`, what a generated
/// `mutualTLS` constructor returns) is presented in the handshake, and an operation whose security
/// names its scheme goes out with it.
#[tokio::test]
async fn a_client_certificate_credential_is_presented_and_meets_its_requirement() {
    use connector_runtime::{AuthConfig, Method, RequestOptions};
    let pki = Pki::new(&["127.0.0.1"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], true)).await;
    let mut config = https_config(server.addr, trusting(&pki));
    config.auth = Some(
        AuthConfig::scheme(
            "client_cert",
            AuthConfig::ClientCertificate {
                cert: pki.client_cert.clone(),
                key: pki.client_key.clone(),
            },
        )
        .and(AuthConfig::scheme(
            "token",
            AuthConfig::Bearer {
                token: "t".to_owned().into(),
            },
        )),
    );
    let connector = Connector::initialize(config).unwrap();
    connector.connect().await.unwrap();
    let options = RequestOptions::new(Method::GET, "/v1/internal").security(&[&["client_cert"]]);
    let body: Value = connector
        .request(options)
        .await
        .unwrap()
        .json()
        .unwrap()
        .data;
    assert_eq!(body["ok"], true);
    let handshakes = server.handshakes();
    assert_eq!(handshakes.len(), 1, "{handshakes:?}");
    assert_eq!(
        handshakes[0].client_certs.first(),
        Some(&pki.client_der),
        "the server saw the certificate given as a credential"
    );
    // Requiring a scheme the client does not hold fails before anything is sent.
    let options = RequestOptions::new(Method::GET, "/v1/other").security(&[&["partner"]]);
    let e = connector.request(options).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e:?}");
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused() {
    let pki = Pki::new(&["127.0.0.1"]);
    let stranger = Pki::new(&["127.0.0.1"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], true)).await;
    let tls = TlsConfig {
        client_cert: Some(stranger.client_cert.clone()),
        client_key: Some(stranger.client_key.clone()),
        ..trusting(&pki)
    };
    let e = get_json(https_config(server.addr, tls)).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e:?}");
    assert_eq!(server.requests(), 0);
    assert!(server.handshakes().is_empty());
}

// ---------------------------------------------------------------------------------------------------
// Minimum TLS version
// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn min_version_1_3_refuses_a_tls_1_2_server() {
    let pki = Pki::new(&["127.0.0.1"]);
    let tls12 = TlsServer::start(pki.server_config(&[&TLS12], false)).await;
    let tls13 = TlsServer::start(pki.server_config(&[&TLS13], false)).await;
    let with_min = |v: Option<&str>| TlsConfig {
        min_version: v.map(str::to_owned),
        ..trusting(&pki)
    };

    // The default minimum (1.2) and an explicit "1.2" both accept a TLS 1.2 server.
    for v in [None, Some("1.2")] {
        let body = get_json(https_config(tls12.addr, with_min(v)))
            .await
            .unwrap_or_else(|e| panic!("min_version {v:?}: {e}"));
        assert_eq!(body["tls"], "Some(TLSv1_2)");
    }
    assert!(
        tls12
            .handshakes()
            .iter()
            .all(|h| h.version == Some(ProtocolVersion::TLSv1_2))
    );

    // "1.3" refuses it.
    let e = get_json(https_config(tls12.addr, with_min(Some("1.3"))))
        .await
        .unwrap_err();
    println!("min_version 1.3 against a TLS 1.2 server: {e}");
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e:?}");
    assert_eq!(tls12.requests(), 2, "only the two earlier requests");
    assert_eq!(tls12.handshakes().len(), 2);

    // ...and accepts a TLS 1.3 server.
    let body = get_json(https_config(tls13.addr, with_min(Some("1.3"))))
        .await
        .unwrap();
    assert_eq!(body["tls"], "Some(TLSv1_3)");
    assert_eq!(
        tls13.handshakes()[0].version,
        Some(ProtocolVersion::TLSv1_3)
    );
}

// ---------------------------------------------------------------------------------------------------
// Bad TLS inputs
// ---------------------------------------------------------------------------------------------------

fn assert_invalid(e: &Error, field: &str) {
    assert_eq!(e.code(), ErrorCode::ValidationError, "{e:?}");
    assert_eq!(e.details()["field"], field, "{e:?}");
    assert!(e.message().contains(field), "{e}");
}

/// connect() fails with VALIDATION_ERROR naming `field`, and the connector stays disconnected.
async fn assert_connect_invalid(tls: TlsConfig, field: &str) {
    let c = Connector::initialize(ConnectorConfig {
        tls,
        ..ConnectorConfig::new("https://127.0.0.1:9/")
    })
    .expect("files are read at connect time");
    let e = c.connect().await.expect_err(field);
    println!("{field}: {e}");
    assert_invalid(&e, field);
    assert!(!c.is_connected());
}

#[tokio::test]
async fn unreadable_or_malformed_tls_files_are_validation_errors() {
    let pki = Pki::new(&["127.0.0.1"]);
    let missing = pki.dir.join("does-not-exist.pem");
    let not_pem = pki.file("not-pem.txt", "this is not a certificate\n");
    let der = pki.file("ca.der", pki.ca_der.as_ref());
    let empty = pki.file("empty.pem", "");
    // PEM framing around bytes that are not a certificate.
    let corrupt = pki.file(
        "corrupt.pem",
        "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
    );
    let ca = |path: &Path| TlsConfig {
        ca_bundle: Some(path.to_owned()),
        ..TlsConfig::default()
    };

    for path in [&missing, &not_pem, &der, &empty, &corrupt, &pki.client_key] {
        assert_connect_invalid(ca(path), "tls.ca_bundle").await;
        let only = TlsConfig {
            ca_bundle_only: true,
            ..ca(path)
        };
        assert_connect_invalid(only, "tls.ca_bundle").await;
    }

    let identity = |cert: &Path, key: &Path| TlsConfig {
        client_cert: Some(cert.to_owned()),
        client_key: Some(key.to_owned()),
        ..TlsConfig::default()
    };
    assert_connect_invalid(identity(&missing, &pki.client_key), "tls.client_cert").await;
    assert_connect_invalid(identity(&pki.client_cert, &missing), "tls.client_key").await;
    assert_connect_invalid(identity(&not_pem, &not_pem), "tls.client_cert").await;
    // A certificate but no key in the key file.
    assert_connect_invalid(
        identity(&pki.client_cert, &pki.client_cert),
        "tls.client_cert",
    )
    .await;
    // A key that does not belong to the certificate.
    assert_connect_invalid(
        identity(&pki.client_cert, &pki.server_key),
        "tls.client_cert",
    )
    .await;
    // A corrupt certificate with a good key.
    assert_connect_invalid(identity(&corrupt, &pki.client_key), "tls.client_cert").await;
}

#[tokio::test]
async fn a_client_certificate_without_its_key_is_refused_at_initialize() {
    let pki = Pki::new(&["127.0.0.1"]);
    let cases = [
        (Some(pki.client_cert.clone()), None),
        (None, Some(pki.client_key.clone())),
    ];
    for (client_cert, client_key) in cases {
        let e = Connector::initialize(ConnectorConfig {
            tls: TlsConfig {
                client_cert,
                client_key,
                ..TlsConfig::default()
            },
            ..ConnectorConfig::new("https://127.0.0.1:9/")
        })
        .unwrap_err();
        assert_invalid(&e, "tls.client_cert");
    }
    let e = Connector::initialize(ConnectorConfig {
        tls: TlsConfig {
            min_version: Some("1.1".into()),
            ..TlsConfig::default()
        },
        ..ConnectorConfig::new("https://127.0.0.1:9/")
    })
    .unwrap_err();
    assert_invalid(&e, "tls.min_version");
}

// ---------------------------------------------------------------------------------------------------
// Platform roots, in a child process with its own SSL_CERT_FILE
// ---------------------------------------------------------------------------------------------------

const CHILD_MODE: &str = "CONNECTOR_RUNTIME_TLS_CHILD";
const CHILD_DIR: &str = "CONNECTOR_RUNTIME_TLS_CHILD_DIR";

/// Run `platform_roots_child` in a child process of this test binary, with `SSL_CERT_FILE` as the
/// platform's only root store (on Linux and the BSDs the platform verifier takes its roots from
/// rustls-native-certs, which reads that file instead of the system store).
#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
fn run_child(mode: &str, dir: &Path, ssl_cert_file: &Path) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "platform_roots_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .env(CHILD_DIR, dir)
        .env("SSL_CERT_FILE", ssl_cert_file)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child {mode} failed:\n{stdout}\n{stderr}"
    );
}

/// The platform root store holds the server's CA: it is trusted with no bundle and when a bundle is
/// merged in, but not when `ca_bundle_only` restricts trust to a bundle without it.
#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
#[test]
fn ca_bundle_only_excludes_the_platform_roots() {
    let platform = Pki::new(&["127.0.0.1"]);
    let other = Pki::new(&["127.0.0.1"]);
    std::fs::copy(&other.ca_pem, platform.dir.join("other-ca.pem")).unwrap();
    run_child("platform-ca", &platform.dir, &platform.ca_pem);
}

/// With no platform roots at all, the bundle alone still makes the server trusted (merged or only).
#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
#[test]
fn a_bundle_works_where_the_platform_has_no_roots() {
    let pki = Pki::new(&["127.0.0.1"]);
    let no_roots = pki.file("no-roots.pem", "");
    run_child("no-platform-roots", &pki.dir, &no_roots);
}

/// Run only by the tests above, in a child process; does nothing on its own.
#[cfg(all(unix, not(target_vendor = "apple"), not(target_os = "android")))]
#[tokio::test]
#[ignore = "child process of ca_bundle_only_excludes_the_platform_roots"]
async fn platform_roots_child() {
    let (Ok(mode), Ok(dir)) = (std::env::var(CHILD_MODE), std::env::var(CHILD_DIR)) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let pki = Pki {
        ca_der: CertificateDer::from_pem_file(dir.join("ca.pem")).unwrap(),
        ca_pem: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
        client_der: CertificateDer::from_pem_file(dir.join("client.pem")).unwrap(),
        dir: dir.clone(),
    };
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], false)).await;
    let with = |bundle: Option<PathBuf>, only: bool| {
        https_config(
            server.addr,
            TlsConfig {
                ca_bundle: bundle,
                ca_bundle_only: only,
                ..TlsConfig::default()
            },
        )
    };
    match mode.as_str() {
        "platform-ca" => {
            let other = Some(dir.join("other-ca.pem"));
            // The platform roots alone.
            get_json(with(None, false)).await.expect("platform roots");
            // Another CA merged with the platform roots.
            get_json(with(other.clone(), false))
                .await
                .expect("bundle merged with the platform roots");
            // Another CA alone: the platform roots are out.
            let e = get_json(with(other, true)).await.unwrap_err();
            assert_tls_failure(&e, "certificate");
            assert_eq!(server.requests(), 2, "only the two earlier requests");
            get_json(with(Some(pki.ca_pem.clone()), true))
                .await
                .expect("the right CA alone");
            // Keep the directory: the parent owns it.
            std::mem::forget(pki);
        }
        "no-platform-roots" => {
            for only in [false, true] {
                get_json(with(Some(pki.ca_pem.clone()), only))
                    .await
                    .unwrap_or_else(|e| panic!("ca_bundle_only {only}: {e}"));
            }
            std::mem::forget(pki);
        }
        other => panic!("unknown child mode {other}"),
    }
}

// ---------------------------------------------------------------------------------------------------
// Proxy
// ---------------------------------------------------------------------------------------------------

/// A request as the proxy saw it.
#[derive(Clone, Debug)]
struct ProxySeen {
    method: String,
    uri: String,
    proxy_authorization: Option<String>,
}

/// A forward proxy on 127.0.0.1: it answers absolute-form requests itself (200 JSON naming the URI
/// it was asked for) and tunnels every CONNECT to `tunnel_to`, whatever authority was asked.
struct ForwardProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<ProxySeen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ForwardProxy {
    async fn start(tunnel_to: Option<SocketAddr>) -> ForwardProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let seen = seen2.clone();
                let svc = service_fn(move |req: http::Request<Incoming>| {
                    let seen = seen.clone();
                    async move {
                        let s = ProxySeen {
                            method: req.method().to_string(),
                            uri: req.uri().to_string(),
                            proxy_authorization: req
                                .headers()
                                .get("proxy-authorization")
                                .map(|v| v.to_str().unwrap().to_owned()),
                        };
                        seen.lock().unwrap().push(s.clone());
                        if req.method() != http::Method::CONNECT {
                            let body = json!({"via": "proxy", "uri": s.uri});
                            return Ok::<_, Infallible>(reply(200, &body.to_string()));
                        }
                        let Some(target) = tunnel_to else {
                            return Ok(reply(502, "{}"));
                        };
                        tokio::spawn(async move {
                            let Ok(upgraded) = hyper::upgrade::on(req).await else {
                                return;
                            };
                            let mut client = TokioIo::new(upgraded);
                            if let Ok(mut server) = tokio::net::TcpStream::connect(target).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                        Ok(http::Response::new(Full::new(Bytes::new())))
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), svc)
                        .with_upgrades()
                        .await;
                });
            }
        });
        ForwardProxy { addr, seen, task }
    }

    fn seen(&self) -> Vec<ProxySeen> {
        self.seen.lock().unwrap().clone()
    }

    fn config(&self, user: Option<(&str, &str)>) -> ProxyConfig {
        ProxyConfig {
            url: format!("http://{}", self.addr),
            username: user.map(|(u, _)| u.to_owned()),
            password: user.map(|(_, p)| p.into()),
            no_proxy: None,
        }
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn basic(user: &str, pass: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    format!("Basic {encoded}")
}

fn via_proxy(base_url: &str, proxy: ProxyConfig) -> ConnectorConfig {
    ConnectorConfig {
        proxy: Some(proxy),
        retry: RetryConfig::disabled(),
        ..ConnectorConfig::new(base_url)
    }
}

#[tokio::test]
async fn http_requests_go_through_the_proxy_with_basic_credentials() {
    let proxy = ForwardProxy::start(None).await;
    // `upstream.test` does not resolve: only the proxy can answer for it.
    let config = via_proxy("http://upstream.test/v1", proxy.config(Some(("u", "p4ss"))));
    let shown = format!("{config:?}");
    assert!(
        !shown.contains("p4ss"),
        "Debug shows the proxy password: {shown}"
    );

    let c = Connector::initialize(config).unwrap();
    assert!(!format!("{c:?}").contains("p4ss"));
    c.connect().await.unwrap();
    let r = c
        .get("/things?page=2")
        .await
        .unwrap()
        .json::<Value>()
        .unwrap();
    assert_eq!(r.data["via"], "proxy");

    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(seen[0].uri, "http://upstream.test/v1/things?page=2");
    assert_eq!(
        seen[0].proxy_authorization.as_deref(),
        Some(basic("u", "p4ss").as_str())
    );
}

#[tokio::test]
async fn proxy_credentials_in_the_url_are_sent_and_not_shown() {
    let proxy = ForwardProxy::start(None).await;
    let config = via_proxy(
        "http://upstream.test/",
        ProxyConfig {
            url: format!("http://u:p4ss@{}", proxy.addr),
            ..proxy.config(None)
        },
    );
    let c = Connector::initialize(config).unwrap();
    c.connect().await.unwrap();
    c.get("/x").await.unwrap();
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].proxy_authorization.as_deref(),
        Some(basic("u", "p4ss").as_str())
    );
    let shown = format!("{:?}", c.config());
    assert!(
        !shown.contains("p4ss"),
        "Debug shows the proxy password: {shown}"
    );
}

#[tokio::test]
async fn loopback_hosts_are_proxied_unless_listed_in_no_proxy() {
    let upstream = CountingServer::start(|_, _| async { reply(200, "{\"via\":\"direct\"}") }).await;
    let proxy = ForwardProxy::start(None).await;
    let base = format!("{}/v1", upstream.url());

    // Without no_proxy, even a loopback address goes through the proxy (no credentials: no header).
    let c = support::connected(via_proxy(&base, proxy.config(None))).await;
    let r = c.get("/a").await.unwrap().json::<Value>().unwrap();
    assert_eq!(r.data["via"], "proxy");
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].uri, format!("{base}/a"));
    assert_eq!(seen[0].proxy_authorization, None);
    assert!(upstream.requests().is_empty());

    // Listed in no_proxy: straight to the server.
    let listed = ProxyConfig {
        no_proxy: Some("example.invalid, 127.0.0.1".into()),
        ..proxy.config(Some(("u", "p4ss")))
    };
    let c = support::connected(via_proxy(&base, listed)).await;
    let r = c.get("/b").await.unwrap().json::<Value>().unwrap();
    assert_eq!(r.data["via"], "direct");
    assert_eq!(proxy.seen().len(), 1, "the proxy saw nothing more");
    let direct = upstream.requests();
    assert_eq!(direct.len(), 1);
    assert_eq!(direct[0].uri, "/v1/b");
    assert!(direct[0].headers.get("proxy-authorization").is_none());
}

#[tokio::test]
async fn https_goes_through_a_proxy_tunnel_and_still_verifies_the_server() {
    let pki = Pki::new(&["upstream.test"]);
    let server = TlsServer::start(pki.server_config(&[&TLS13, &TLS12], false)).await;
    let proxy = ForwardProxy::start(Some(server.addr)).await;
    let config = |tls: TlsConfig| ConnectorConfig {
        tls,
        ..via_proxy(
            "https://upstream.test/v1",
            proxy.config(Some(("u", "p4ss"))),
        )
    };

    let body = get_json(config(trusting(&pki))).await.unwrap();
    assert_eq!(
        body["ok"], true,
        "answered by the TLS server, not the proxy"
    );
    let seen = proxy.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].uri, "upstream.test:443");
    assert_eq!(
        seen[0].proxy_authorization.as_deref(),
        Some(basic("u", "p4ss").as_str())
    );
    assert_eq!(server.requests(), 1);

    // The tunnel does not weaken verification: without the CA the handshake through it fails.
    let e = get_json(config(TlsConfig::default())).await.unwrap_err();
    assert_tls_failure(&e, "certificate");
    assert_eq!(server.requests(), 1, "only the earlier request");
    assert_eq!(proxy.seen().len(), 2);
}
