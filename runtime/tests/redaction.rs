//! Secrets never reach anything printable: TRACE logs of whole calls (a success, a failure, a retry, a
//! 401 and a transport error), error Display and Debug, connector and config Debug, and the request as
//! hooks see it. One test per auth type, each with a distinctive secret the server provably received.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use connector_runtime::{
    AuthStrategy, Body, Connector, ConnectorConfig, Custom, Error, ErrorCode, HmacSigner, HookType,
    Method, OAuth2, RequestOptions, RetryConfig, SecretString, hook_fn,
};
use support::{CountingServer, Logs, Seen, fast_retry, reply};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn header(s: &Seen, name: &str) -> Option<String> {
    s.headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// The path of a request target, origin-form or absolute-form (through a proxy).
fn path_of(s: &Seen) -> String {
    s.uri
        .parse::<http::Uri>()
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}

/// The API every case calls: `/ok` 200; `/fail` 404; `/flaky` 503 once, then 200; `/unauth` 401 once,
/// then 200; anything else 404.
async fn api_server() -> CountingServer {
    let flaky = Arc::new(AtomicUsize::new(0));
    let unauth = Arc::new(AtomicUsize::new(0));
    CountingServer::start(move |s, _| {
        let status = match path_of(&s).as_str() {
            "/ok" => 200,
            "/flaky" if flaky.fetch_add(1, Ordering::SeqCst) == 0 => 503,
            "/flaky" => 200,
            "/unauth" if unauth.fetch_add(1, Ordering::SeqCst) == 0 => 401,
            "/unauth" => 200,
            _ => 404,
        };
        async move {
            if status == 200 {
                reply(200, "{\"ok\":true}")
            } else {
                reply(status, "{\"error\":\"no\"}")
            }
        }
    })
    .await
}

/// A port with nothing listening.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Everything a case printed, by what it is.
#[derive(Default)]
struct Printed(Vec<(String, String)>);

impl Printed {
    fn add(&mut self, what: impl Into<String>, text: String) {
        self.0.push((what.into(), text));
    }
    fn error(&mut self, what: &str, e: &Error) {
        self.add(format!("{what}: error Display"), format!("{e}"));
        self.add(format!("{what}: error Debug"), format!("{e:?}"));
        self.add(format!("{what}: error alternate Debug"), format!("{e:#?}"));
    }
}

fn toml_config(api: &str, rest: &str) -> ConnectorConfig {
    let text = format!("base_url = \"{api}\"\n{rest}");
    let mut cfg: ConnectorConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    cfg.retry = fast_retry(3);
    cfg
}

/// Runs the same calls for every case and collects what was printed. `marker` is what the request
/// Debug must show in place of the credential (proves the credential was on the request the hook saw).
async fn exercise(
    config: ConnectorConfig,
    auth: Option<Arc<dyn AuthStrategy>>,
    marker: Option<&str>,
) -> Printed {
    let mut printed = Printed::default();
    printed.add("config before initialize", format!("{config:?}"));
    printed.add("config alternate Debug", format!("{config:#?}"));

    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let contexts: Arc<Mutex<Vec<String>>> = Arc::default();
    let (r, c1, c2) = (requests.clone(), contexts.clone(), contexts.clone());
    let mut b = Connector::builder(config)
        .hook(
            HookType::BeforeRequest,
            hook_fn("print-request", 0, move |ctx| {
                r.lock().unwrap().push(format!("{:?}", ctx.request));
                Ok(())
            }),
        )
        .hook(
            HookType::OnError,
            hook_fn("print-error", 0, move |ctx| {
                c1.lock().unwrap().push(format!("{ctx:?}"));
                Ok(())
            }),
        )
        .hook(
            HookType::OnRetry,
            hook_fn("print-retry", 0, move |ctx| {
                c2.lock().unwrap().push(format!("{ctx:?}"));
                Ok(())
            }),
        );
    if let Some(a) = auth {
        b = b.auth(a);
    }
    let c = b.build().expect("valid config");
    c.connect().await.expect("connect");

    c.get("/ok").await.expect("/ok");
    let e = c.get("/fail").await.expect_err("/fail");
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
    printed.error("/fail", &e);
    let r = c.get("/flaky").await.expect("/flaky");
    assert_eq!(r.meta.retry_count, 1, "/flaky is retried once");
    let body = Body::json(&serde_json::json!({ "amount": 5 })).unwrap();
    match c.post("/unauth", body).await {
        Ok(r) => assert_eq!(r.meta.retry_count, 1, "replayed after a refresh"),
        Err(e) => {
            assert_eq!(e.code(), ErrorCode::AuthFailed);
            printed.error("/unauth", &e);
        }
    }
    let down = format!("http://127.0.0.1:{}/down", closed_port());
    let e = c
        .request(RequestOptions::new(Method::GET, down).retry(RetryConfig::disabled()))
        .await
        .expect_err("/down");
    printed.error("/down", &e);

    printed.add("connector Debug", format!("{c:?}"));
    printed.add("connector alternate Debug", format!("{c:#?}"));
    printed.add("config Debug", format!("{:?}", c.config()));
    if let Some(a) = c.auth() {
        printed.add("auth Debug", format!("{a:?}"));
    }

    let requests = requests.lock().unwrap().clone();
    assert!(
        requests.len() >= 6,
        "every attempt ran the hook: {requests:?}"
    );
    for r in &requests {
        assert!(r.starts_with("RequestParts"), "{r}");
        if let Some(m) = marker {
            assert!(r.contains(m), "{m} expected in {r}");
        }
        printed.add("RequestParts Debug in beforeRequest", r.clone());
    }
    let contexts = contexts.lock().unwrap().clone();
    assert!(contexts.len() >= 3, "{contexts:?}");
    for ctx in contexts {
        printed.add("HookContext Debug in onError/onRetry", ctx);
    }
    c.disconnect(std::time::Duration::from_secs(1)).await;
    printed
}

/// The logs show real work (so their cleanliness means something), and no text holds a secret.
fn assert_clean(logs: &Logs, printed: &Printed, secrets: &[String]) {
    let logs = logs.text();
    for needle in [
        "connector connected",
        "connector.request",
        "sending",
        "/ok",
        "/fail",
        "/flaky",
        "/unauth",
        "retrying after",
        "request failed",
        "404",
        "503",
        "401",
    ] {
        assert!(
            logs.contains(needle),
            "the logs lack {needle:?}, so they prove nothing:\n{logs}"
        );
    }
    assert!(!secrets.is_empty());
    for secret in secrets {
        assert!(secret.len() >= 8, "{secret:?} is too short to search for");
        assert!(
            !logs.contains(secret.as_str()),
            "TRACE logs leak {secret:?}:\n{logs}"
        );
        for (what, text) in &printed.0 {
            assert!(
                !text.contains(secret.as_str()),
                "{what} leaks {secret:?}:\n{text}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_key_in_a_header_is_never_printed() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let secret = "SECRET-api-key-header-123";
    let cfg = toml_config(
        &api.url(),
        &format!(
            "[auth]\ntype = \"api_key\"\nname = \"X-Service-Key\"\nin = \"header\"\nvalue = \"{secret}\"\nprefix = \"Key \"\n"
        ),
    );
    let printed = exercise(cfg, None, Some("\"x-service-key\": \"[REDACTED]\"")).await;
    for s in api.requests() {
        assert_eq!(
            header(&s, "x-service-key"),
            Some(format!("Key {secret}")),
            "{}",
            s.uri
        );
    }
    assert_clean(&logs, &printed, &[secret.to_owned()]);
}

#[tokio::test]
async fn several_static_headers_are_never_printed_whatever_their_names() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let (key, user) = ("SECRET-forum-key-123", "SECRET-forum-user-456");
    // Neither name is a built-in sensitive name: both are redacted because the strategy declares them.
    let cfg = toml_config(
        &api.url(),
        &format!(
            "[auth]\ntype = \"headers\"\n[auth.headers]\nForum-Key = \"{key}\"\nForum-User = \"{user}\"\n"
        ),
    );
    let printed = exercise(cfg, None, Some("\"forum-user\": \"[REDACTED]\"")).await;
    for s in api.requests() {
        assert_eq!(header(&s, "forum-key").as_deref(), Some(key));
        assert_eq!(header(&s, "forum-user").as_deref(), Some(user));
    }
    assert_clean(&logs, &printed, &[key.to_owned(), user.to_owned()]);
}

#[tokio::test]
async fn api_key_in_the_query_is_never_printed() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let secret = "SECRET-api-key-query-123";
    let cfg = toml_config(
        &api.url(),
        &format!(
            "[auth]\ntype = \"api_key\"\nname = \"key\"\nin = \"query\"\nvalue = \"{secret}\"\n"
        ),
    );
    let printed = exercise(cfg, None, None).await;
    let seen = api.requests();
    assert!(!seen.is_empty());
    for s in seen {
        assert!(s.uri.contains(&format!("key={secret}")), "{}", s.uri);
    }
    // "key" is no built-in name: it is redacted because the strategy declares it.
    let logs_text = logs.text();
    assert!(logs_text.contains("key=%5BREDACTED%5D"), "{logs_text}");
    assert_clean(&logs, &printed, &[secret.to_owned()]);
}

#[tokio::test]
async fn api_key_in_a_cookie_is_never_printed() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let secret = "SECRET-api-key-cookie-123";
    let cfg = toml_config(
        &api.url(),
        &format!(
            "[auth]\ntype = \"api_key\"\nname = \"sid\"\nin = \"cookie\"\nvalue = \"{secret}\"\n"
        ),
    );
    let printed = exercise(cfg, None, Some("\"cookie\": \"[REDACTED]\"")).await;
    for s in api.requests() {
        assert_eq!(header(&s, "cookie"), Some(format!("sid={secret}")));
    }
    assert_clean(&logs, &printed, &[secret.to_owned()]);
}

#[tokio::test]
async fn static_bearer_token_is_never_printed() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let secret = "SECRET-bearer-token-123";
    let cfg = toml_config(
        &api.url(),
        &format!("[auth]\ntype = \"bearer\"\ntoken = \"{secret}\"\n"),
    );
    let printed = exercise(cfg, None, Some("\"authorization\": \"[REDACTED]\"")).await;
    for s in api.requests() {
        assert_eq!(
            header(&s, "authorization"),
            Some(format!("Bearer {secret}"))
        );
    }
    assert_clean(&logs, &printed, &[secret.to_owned()]);
}

#[tokio::test]
async fn basic_password_is_never_printed_plain_or_encoded() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let secret = "SECRET-basic-password-123";
    let cfg = toml_config(
        &api.url(),
        &format!("[auth]\ntype = \"basic\"\nusername = \"svc-user\"\npassword = \"{secret}\"\n"),
    );
    let printed = exercise(cfg, None, Some("\"authorization\": \"[REDACTED]\"")).await;
    let encoded = b64(&format!("svc-user:{secret}"));
    for s in api.requests() {
        assert_eq!(
            header(&s, "authorization"),
            Some(format!("Basic {encoded}"))
        );
    }
    assert_clean(&logs, &printed, &[secret.to_owned(), encoded]);
}

/// Hands out `SECRET-access-token-N` with a rotated `SECRET-refresh-token-(N+1)`.
async fn rotating_token_server() -> CountingServer {
    CountingServer::start(|_, i| async move {
        let body = serde_json::json!({
            "access_token": format!("SECRET-access-token-{}", i + 1),
            "refresh_token": format!("SECRET-refresh-token-{}", i + 2),
            "token_type": "Bearer",
            "expires_in": 3600,
        });
        reply(200, &body.to_string())
    })
    .await
}

#[tokio::test]
async fn oauth2_client_secret_and_tokens_are_never_printed() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let tokens = rotating_token_server().await;
    let client_secret = "SECRET-client-secret-123";
    let cfg = toml_config(
        &api.url(),
        &format!(
            "[auth]\ntype = \"oauth2\"\ntoken_url = \"{}/token\"\nclient_id = \"client-x\"\nclient_secret = \"{client_secret}\"\nrefresh_token = \"SECRET-refresh-token-1\"\nscopes = [\"a\", \"b\"]\n",
            tokens.url()
        ),
    );
    let printed = exercise(cfg, None, Some("\"authorization\": \"[REDACTED]\"")).await;

    // The secrets were all in play: connect and the 401 on /unauth each fetched a token.
    let t = tokens.requests();
    assert_eq!(t.len(), 2);
    let client_basic = b64(&format!("client-x:{client_secret}"));
    for (i, s) in t.iter().enumerate() {
        assert_eq!(
            header(s, "authorization"),
            Some(format!("Basic {client_basic}"))
        );
        let body = String::from_utf8_lossy(&s.body);
        assert!(
            body.contains(&format!("refresh_token=SECRET-refresh-token-{}", i + 1)),
            "{body}"
        );
    }
    let bearers: Vec<_> = api
        .requests()
        .iter()
        .filter_map(|s| header(s, "authorization"))
        .collect();
    assert!(bearers.contains(&"Bearer SECRET-access-token-1".to_owned()));
    assert!(bearers.contains(&"Bearer SECRET-access-token-2".to_owned()));

    let secrets = [
        client_secret.to_owned(),
        client_basic,
        "SECRET-access-token".to_owned(),
        "SECRET-refresh-token".to_owned(),
    ];
    assert_clean(&logs, &printed, &secrets);
}

#[tokio::test]
async fn oauth2_secret_in_the_form_and_token_endpoint_failures_are_never_printed() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let tokens = rotating_token_server().await;
    let client_secret = "SECRET-client-secret-in-body-123";
    let provider =
        OAuth2::client_credentials(format!("{}/token", tokens.url()), "client-y", client_secret)
            .client_auth(connector_runtime::auth::ClientAuth::Body);
    let cfg = ConnectorConfig {
        retry: fast_retry(3),
        ..ConnectorConfig::new(api.url())
    };
    let mut printed = exercise(
        cfg,
        Some(Arc::new(provider.into_bearer())),
        Some("\"authorization\": \"[REDACTED]\""),
    )
    .await;
    let t = tokens.requests();
    assert_eq!(t.len(), 2);
    for s in &t {
        let body = String::from_utf8_lossy(&s.body);
        assert!(
            body.contains(&format!("client_secret={client_secret}")),
            "{body}"
        );
    }

    // Token endpoints that refuse, answer nonsense or cannot be reached: connect fails; print the errors.
    let refusing = CountingServer::start(|_, _| async {
        reply(
            401,
            "{\"error\":\"invalid_client\",\"error_description\":\"bad secret\"}",
        )
    })
    .await;
    let nonsense = CountingServer::start(|_, _| async { reply(200, "<html>sign in</html>") }).await;
    for (what, url) in [
        (
            "refusing token endpoint",
            format!("{}/token", refusing.url()),
        ),
        (
            "non-JSON token endpoint",
            format!("{}/token", nonsense.url()),
        ),
        (
            "unreachable token endpoint",
            format!("http://127.0.0.1:{}/token", closed_port()),
        ),
    ] {
        let c = Connector::builder(ConnectorConfig::new(api.url()))
            .auth(Arc::new(
                OAuth2::client_credentials(url, "client-y", client_secret)
                    .client_auth(connector_runtime::auth::ClientAuth::Body)
                    .into_bearer(),
            ))
            .build()
            .unwrap();
        let e = c.connect().await.expect_err(what);
        assert_eq!(e.code(), ErrorCode::AuthFailed, "{what}: {e}");
        printed.error(what, &e);
        printed.add(format!("{what}: connector Debug"), format!("{c:?}"));
    }
    assert_eq!(refusing.requests().len(), 1);
    assert_eq!(nonsense.requests().len(), 1);

    let secrets = [
        client_secret.to_owned(),
        "SECRET-access-token".to_owned(),
        "SECRET-refresh-token".to_owned(),
    ];
    assert_clean(&logs, &printed, &secrets);
}

#[tokio::test]
async fn hmac_secret_is_never_printed() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let secret = "SECRET-hmac-key-123";
    let cfg = ConnectorConfig {
        retry: fast_retry(3),
        ..ConnectorConfig::new(api.url())
    };
    let signer = HmacSigner::new(&SecretString::from(secret)).key_id("kid-1");
    let printed = exercise(cfg, Some(Arc::new(Custom(signer))), None).await;
    // Every request was signed with the secret.
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let seen = api.requests();
    assert!(seen.len() >= 5);
    for s in seen {
        let mut msg = format!(
            "{}\n{}\n{}\n",
            s.method,
            s.uri,
            header(&s, "x-timestamp").unwrap()
        )
        .into_bytes();
        msg.extend_from_slice(&s.body);
        let hex: String = ring::hmac::sign(&key, &msg)
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(header(&s, "x-signature"), Some(hex));
    }
    assert_clean(&logs, &printed, &[secret.to_owned()]);
}

/// The API server doubles as a plain-HTTP forward proxy: requests for `http://api.example.test/...`
/// arrive at it in absolute form.
async fn through_proxy(proxy_toml: &str, user: &str, password: &str) {
    let (logs, _guard) = Logs::capture();
    let proxy = api_server().await;
    let cfg = toml_config(
        "http://api.example.test",
        &proxy_toml.replace("{proxy}", &proxy.addr.to_string()),
    );
    let printed = exercise(cfg, None, None).await;
    let encoded = b64(&format!("{user}:{password}"));
    let seen = proxy.requests();
    assert!(seen.len() >= 6, "{seen:?}");
    for s in &seen {
        assert!(
            s.uri.starts_with("http://"),
            "absolute-form via the proxy: {}",
            s.uri
        );
        assert_eq!(
            header(s, "proxy-authorization"),
            Some(format!("Basic {encoded}")),
            "{}",
            s.uri
        );
    }
    assert_clean(&logs, &printed, &[password.to_owned(), encoded]);
}

#[tokio::test]
async fn proxy_password_in_config_is_never_printed() {
    through_proxy(
        "[proxy]\nurl = \"http://{proxy}\"\nusername = \"proxy-user\"\npassword = \"SECRET-proxy-password-123\"\n",
        "proxy-user",
        "SECRET-proxy-password-123",
    )
    .await;
}

#[tokio::test]
async fn proxy_password_in_the_proxy_url_is_never_printed() {
    through_proxy(
        "[proxy]\nurl = \"http://proxy-user:SECRET-proxy-url-password-123@{proxy}\"\n",
        "proxy-user",
        "SECRET-proxy-url-password-123",
    )
    .await;
}

#[tokio::test]
async fn configured_redact_names_are_hidden_in_request_debug() {
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let token = "SECRET-internal-token-123";
    let session = "SECRET-session-id-123";
    let printed_by = |redact: Vec<String>| {
        let api = api.url();
        async move {
            let cfg = ConnectorConfig {
                redact,
                ..ConnectorConfig::new(api)
            };
            let seen: Arc<Mutex<Vec<String>>> = Arc::default();
            let s = seen.clone();
            let c = Connector::builder(cfg)
                .hook(
                    HookType::BeforeRequest,
                    hook_fn("print-request", 0, move |ctx| {
                        s.lock().unwrap().push(format!("{:?}", ctx.request));
                        Ok(())
                    }),
                )
                .build()
                .unwrap();
            c.connect().await.unwrap();
            let e = c
                .request(
                    RequestOptions::new(Method::GET, "/fail")
                        .header("x-internal-token", token)
                        .query("session_id", session)
                        .query("page", "3"),
                )
                .await
                .unwrap_err();
            let mut out = seen.lock().unwrap().clone();
            out.push(format!("{e}"));
            out.push(format!("{e:?}"));
            out.join("\n")
        }
    };

    // Names match case-insensitively, for headers and query keys alike.
    let hidden = printed_by(vec!["X-Internal-Token".into(), "SESSION_ID".into()]).await;
    assert!(
        hidden.contains("\"x-internal-token\": \"[REDACTED]\""),
        "{hidden}"
    );
    assert!(hidden.contains("session_id=%5BREDACTED%5D"), "{hidden}");
    assert!(
        hidden.contains("page=3"),
        "other parameters stay visible: {hidden}"
    );
    let logs_text = logs.text();
    assert!(logs_text.contains("/fail"), "{logs_text}");
    for secret in [token, session] {
        assert!(!hidden.contains(secret), "{hidden}");
        assert!(!logs_text.contains(secret), "{logs_text}");
    }

    // Control: without the configured names the same values are shown, so the hook really saw them.
    let shown = printed_by(Vec::new()).await;
    assert!(shown.contains(token) && shown.contains(session), "{shown}");
    for s in api.requests() {
        assert_eq!(header(&s, "x-internal-token").as_deref(), Some(token));
        assert!(s.uri.contains(&format!("session_id={session}")));
    }
}

#[tokio::test]
async fn api_key_echoed_in_a_next_page_link_is_never_printed() {
    // APIs that take the key in the query often echo it in pagination links; callers pass such links
    // (absolute URLs, or paths with a query) as the path of the next call.
    let (logs, _guard) = Logs::capture();
    let api = api_server().await;
    let secret = "SECRET-api-key-echoed-123";
    let cfg = toml_config(
        &api.url(),
        &format!(
            "[auth]\ntype = \"api_key\"\nname = \"key\"\nin = \"query\"\nvalue = \"{secret}\"\n"
        ),
    );
    let c = Connector::initialize(cfg).unwrap();
    c.connect().await.unwrap();
    let mut printed = Printed::default();
    for link in [
        format!("{}/fail?page=2&key={secret}", api.url()),
        format!("/fail?page=3&key={secret}"),
    ] {
        let e = c.get(&link).await.expect_err(&link);
        assert_eq!(e.status().map(|s| s.as_u16()), Some(404));
        let endpoint = e.endpoint().unwrap_or_default().to_owned();
        assert!(
            endpoint.contains("/fail") && endpoint.contains("page="),
            "{endpoint}"
        );
        printed.add("endpoint", endpoint);
        printed.error("next page", &e);
    }
    let seen = api.requests();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert!(s.uri.contains(&format!("key={secret}")), "{}", s.uri);
    }
    let text = logs.text();
    assert!(
        text.contains("/fail") && text.contains("request failed"),
        "{text}"
    );
    assert!(!text.contains(secret), "TRACE logs leak the key:\n{text}");
    for (what, t) in &printed.0 {
        assert!(!t.contains(secret), "{what} leaks the key:\n{t}");
    }
}
