//! Auth strategies observed from real servers on loopback: API keys, several static headers, bearer,
//! basic, switching at run time,
//! OAuth2 (single-flight fetch, refresh ahead of expiry, refresh-token rotation, refresh on 401, token
//! endpoint failures) and HMAC signing of the final request.

mod support;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use connector_runtime::auth::ClientAuth;
use connector_runtime::{
    ApiKey, ApiKeyLocation, AuthConfig, Basic, Bearer, Body, Bytes, Connector, ConnectorConfig,
    Custom, ErrorCode, ErrorSource, HmacSigner, HookType, Method, OAuth2, RequestOptions,
    SecretString, StaticHeaders, hook_fn,
};
use support::{CountingServer, Crowd, Seen, connected, fast_retry, redirect, reply, within};

fn config(url: &str) -> ConnectorConfig {
    ConnectorConfig {
        retry: fast_retry(3),
        ..ConnectorConfig::new(url)
    }
}

fn header(s: &Seen, name: &str) -> Option<String> {
    s.headers
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_owned())
}

fn authorization(s: &Seen) -> Option<String> {
    header(s, "authorization")
}

/// The form-encoded body of a token request.
fn form(s: &Seen) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(&s.body).into_owned().collect()
}

/// The query pairs of a request target as the server received it.
fn query(s: &Seen) -> Vec<(String, String)> {
    let q = s.uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

fn path(s: &Seen) -> &str {
    s.uri.split('?').next().unwrap_or("")
}

async fn ok_server() -> CountingServer {
    CountingServer::start(|_, _| async { reply(200, "{\"ok\":true}") }).await
}

fn token_json(access: &str, expires_in: Option<f64>, refresh: Option<&str>) -> String {
    let mut v = serde_json::json!({ "access_token": access, "token_type": "Bearer" });
    if let Some(e) = expires_in {
        v["expires_in"] = e.into();
    }
    if let Some(r) = refresh {
        v["refresh_token"] = r.into();
    }
    v.to_string()
}

/// A token endpoint answering the `i`-th request (0-based) with `answer(i)` after `delay_ms`.
async fn token_server<F>(delay_ms: u64, answer: F) -> CountingServer
where
    F: Fn(usize) -> (u16, String) + Send + Sync + 'static,
{
    let answer = Arc::new(answer);
    CountingServer::start(move |_, i| {
        let answer = answer.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            let (status, body) = answer(i);
            reply(status, &body)
        }
    })
    .await
}

/// Hands out `tok-1`, `tok-2`, ... valid for an hour.
async fn numbered_tokens(delay_ms: u64) -> CountingServer {
    token_server(delay_ms, |i| {
        (
            200,
            token_json(&format!("tok-{}", i + 1), Some(3600.0), None),
        )
    })
    .await
}

fn token_url(server: &CountingServer) -> String {
    format!("{}/oauth/token", server.url())
}

/// An API that answers 401 to `Bearer <rejected>` and 200 to anything else. The 401s wait until
/// `together` of them are at the server at once (see [`Crowd`]; 1: no waiting).
async fn api_rejecting(rejected: &'static str, together: usize) -> CountingServer {
    let crowd = Crowd::new(together, together);
    CountingServer::start(move |s, _| {
        let crowd = crowd.clone();
        async move {
            if authorization(&s).as_deref() == Some(&format!("Bearer {rejected}")) {
                let _inside = crowd.enter().await;
                reply(401, "{\"error\":\"invalid_token\"}")
            } else {
                reply(200, "{\"ok\":true}")
            }
        }
    })
    .await
}

fn client_credentials(tokens: &CountingServer) -> Arc<Bearer> {
    Arc::new(OAuth2::client_credentials(token_url(tokens), "client-a", "secret-a").into_bearer())
}

// ---------------------------------------------------------------------------------------------------
// API keys
// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_key_in_a_header_with_prefix() {
    let server = ok_server().await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(
            ApiKey::new("X-Api-Key", ApiKeyLocation::Header, "key-in-header").prefix("Token "),
        ))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/things").await.unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        header(&seen[0], "x-api-key").as_deref(),
        Some("Token key-in-header")
    );
    assert!(!seen[0].uri.contains("key-in-header"));
    assert!(authorization(&seen[0]).is_none());
    assert!(header(&seen[0], "cookie").is_none());
}

#[tokio::test]
async fn api_key_in_the_query_after_the_call_parameters() {
    let server = ok_server().await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(ApiKey::new(
            "api_key",
            ApiKeyLocation::Query,
            "key-in-query",
        )))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.request(RequestOptions::new(Method::GET, "/things").query("page", "2"))
        .await
        .unwrap();
    c.get("/other").await.unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(path(&seen[0]), "/things");
    assert_eq!(
        query(&seen[0]),
        vec![
            ("page".to_owned(), "2".to_owned()),
            ("api_key".to_owned(), "key-in-query".to_owned())
        ]
    );
    assert_eq!(
        query(&seen[1]),
        vec![("api_key".to_owned(), "key-in-query".to_owned())]
    );
    for s in &seen {
        assert!(
            s.headers
                .values()
                .all(|v| !v.as_bytes().windows(12).any(|w| w == b"key-in-query")),
            "the key is only in the query: {:?}",
            s.headers
        );
    }
}

#[tokio::test]
async fn api_key_in_a_cookie_joins_existing_cookies() {
    let server = ok_server().await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(ApiKey::new(
            "session",
            ApiKeyLocation::Cookie,
            "key-in-cookie",
        )))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/things").await.unwrap();
    c.request(RequestOptions::new(Method::GET, "/things").header("cookie", "theme=dark"))
        .await
        .unwrap();
    let seen = server.requests();
    assert_eq!(
        header(&seen[0], "cookie").as_deref(),
        Some("session=key-in-cookie")
    );
    assert_eq!(
        header(&seen[1], "cookie").as_deref(),
        Some("theme=dark; session=key-in-cookie")
    );
    for s in &seen {
        assert!(!s.uri.contains("key-in-cookie"));
        assert!(authorization(s).is_none());
    }
}

#[tokio::test]
async fn api_key_from_toml_config_in_header_query_and_cookie() {
    use wiremock::matchers::{header as has_header, method, path as at_path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(at_path("/h"))
        .and(has_header("x-api-key", "Token toml-header-key"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(at_path("/q"))
        .and(query_param("apikey", "toml-query-key"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(at_path("/c"))
        .and(has_header("cookie", "sid=toml-cookie-key"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;

    let cases = [
        (
            "header",
            "X-Api-Key",
            "toml-header-key",
            "prefix = \"Token \"",
            "/h",
        ),
        ("query", "apikey", "toml-query-key", "", "/q"),
        ("cookie", "sid", "toml-cookie-key", "", "/c"),
    ];
    for (location, name, value, extra, p) in cases {
        let text = format!(
            "base_url = \"{}\"\n\n[auth]\ntype = \"api_key\"\nname = \"{name}\"\nin = \"{location}\"\nvalue = \"{value}\"\n{extra}\n",
            server.uri()
        );
        let cfg: ConnectorConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
        assert!(
            matches!(&cfg.auth, Some(AuthConfig::ApiKey { .. })),
            "{:?}",
            cfg.auth
        );
        let c = connected(cfg).await;
        // wiremock answers 404 to anything no mock matched: the key must be where configured.
        let r = c.get(p).await.unwrap_or_else(|e| panic!("{location}: {e}"));
        assert_eq!(r.status, 200, "{location}");
    }
    server.verify().await;
}

#[tokio::test]
async fn several_static_headers_from_toml_all_arrive_and_never_print() {
    let server = ok_server().await;
    let text = format!(
        "base_url = \"{}\"\n[auth]\ntype = \"headers\"\n[auth.headers]\nApi-Key = \"key-7d1e-secret\"\nApi-Username = \"user-93af-secret\"\n",
        server.url()
    );
    let cfg: ConnectorConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
    assert!(
        matches!(&cfg.auth, Some(AuthConfig::Headers { headers }) if headers.len() == 2),
        "{:?}",
        cfg.auth
    );
    let config_debug = format!("{cfg:?} {cfg:#?}");
    let c = connected(cfg).await;
    c.get("/posts").await.unwrap();
    c.get("/topics").await.unwrap();

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        assert_eq!(header(s, "api-key").as_deref(), Some("key-7d1e-secret"));
        assert_eq!(
            header(s, "api-username").as_deref(),
            Some("user-93af-secret")
        );
        assert!(authorization(s).is_none());
        assert!(!s.uri.contains("secret"), "{}", s.uri);
    }

    let auth = c.auth().expect("auth configured");
    let printed = format!("{config_debug} {auth:?} {auth:#?} {c:?}");
    // The names are shown (so the Debug output is about these headers), the values are not.
    assert!(
        printed.contains("Api-Key") && printed.contains("Api-Username"),
        "{printed}"
    );
    for secret in ["key-7d1e-secret", "user-93af-secret"] {
        assert!(!printed.contains(secret), "{secret} printed in {printed}");
    }
    let mut names = auth.sensitive_names();
    names.sort();
    assert_eq!(names, ["Api-Key", "Api-Username"]);
}

#[tokio::test]
async fn static_headers_built_in_code_replace_a_repeated_name() {
    let server = ok_server().await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(
            StaticHeaders::new()
                .header("X-Tenant", "first")
                .header("X-Secret", "code-secret-1")
                .header("x-tenant", "second"),
        ))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/x").await.unwrap();
    let seen = server.requests();
    assert_eq!(
        header(&seen[0], "x-secret").as_deref(),
        Some("code-secret-1")
    );
    let tenants: Vec<_> = seen[0].headers.get_all("x-tenant").iter().collect();
    assert_eq!(tenants, ["second"]);
}

#[test]
fn unusable_static_headers_are_validation_errors_that_name_the_header_not_the_value() {
    let build = |auth: &str| {
        let text = format!("base_url = \"http://127.0.0.1:1\"\n[auth]\ntype = \"headers\"\n{auth}");
        let cfg: ConnectorConfig = toml::from_str(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
        Connector::initialize(cfg).expect_err(auth)
    };
    let e = build("headers = {}\n");
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert!(e.to_string().contains("auth.headers"), "{e}");

    let e = build("[auth.headers]\n\"Bad Name\" = \"v\"\n");
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert!(e.to_string().contains("Bad Name"), "{e}");

    let e = build("[auth.headers]\nApi-Key = \"line-one-secret\\nline-two\"\n");
    assert_eq!(e.code(), ErrorCode::ValidationError);
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("auth.headers.Api-Key"), "{shown}");
    assert!(!shown.contains("line-one-secret"), "{shown}");
}

// ---------------------------------------------------------------------------------------------------
// Bearer, basic, switching
// ---------------------------------------------------------------------------------------------------

#[tokio::test]
async fn static_bearer_is_sent_and_a_401_is_not_retried() {
    let server = CountingServer::start(|s, _| async move {
        if authorization(&s).as_deref() == Some("Bearer static-token-1") {
            reply(200, "{}")
        } else {
            reply(401, "{}")
        }
    })
    .await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(Bearer::new("static-token-1")))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/me").await.unwrap();
    assert_eq!(
        authorization(&server.requests()[0]).as_deref(),
        Some("Bearer static-token-1")
    );

    // A static token cannot be renewed: a 401 is final after one request.
    c.set_auth(Some(Arc::new(Bearer::new("static-token-2"))));
    let e = c.get("/me").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    assert_eq!(e.source_kind(), ErrorSource::Auth);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(401));
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn basic_is_the_exact_base64_of_user_and_password() {
    let server = ok_server().await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(Basic::new("Aladdin", "open sesame")))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/x").await.unwrap();

    // From config, with the password left out (a secret key as user name).
    let toml = format!(
        "base_url = \"{}\"\n[auth]\ntype = \"basic\"\nusername = \"sk_test_123\"\n",
        server.url()
    );
    let c = connected(toml::from_str(&toml).unwrap()).await;
    c.get("/x").await.unwrap();

    let seen = server.requests();
    // RFC 7617's own example.
    assert_eq!(
        authorization(&seen[0]).as_deref(),
        Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    );
    // base64("sk_test_123:")
    assert_eq!(
        authorization(&seen[1]).as_deref(),
        Some("Basic c2tfdGVzdF8xMjM6")
    );
}

#[tokio::test]
async fn set_auth_switches_credentials_between_calls() {
    let server = ok_server().await;
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(ApiKey::new(
            "X-Api-Key",
            ApiKeyLocation::Header,
            "first-key",
        )))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/a").await.unwrap();
    c.set_auth(Some(Arc::new(Bearer::new("second-token"))));
    c.get("/b").await.unwrap();
    c.set_auth(Some(Arc::new(Basic::new("u", "p"))));
    c.get("/c").await.unwrap();
    c.set_auth(None);
    c.get("/d").await.unwrap();

    let seen = server.requests();
    assert_eq!(seen.len(), 4);
    assert_eq!(header(&seen[0], "x-api-key").as_deref(), Some("first-key"));
    assert_eq!(authorization(&seen[0]), None);

    assert_eq!(header(&seen[1], "x-api-key"), None);
    assert_eq!(
        authorization(&seen[1]).as_deref(),
        Some("Bearer second-token")
    );

    assert_eq!(header(&seen[2], "x-api-key"), None);
    assert_eq!(authorization(&seen[2]).as_deref(), Some("Basic dTpw"));

    assert_eq!(header(&seen[3], "x-api-key"), None);
    assert_eq!(
        authorization(&seen[3]),
        None,
        "set_auth(None) sends nothing"
    );
    assert!(c.auth().is_none());
}

// ---------------------------------------------------------------------------------------------------
// OAuth2
// ---------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_credentials_token_is_fetched_once_for_50_concurrent_callers() {
    let tokens = numbered_tokens(100).await;
    let api = ok_server().await;
    let mut cfg = config(&api.url());
    cfg.rate_limit.concurrent_requests = 64;
    // Connect without auth, then install it: no token is cached when the 50 callers start, so they all
    // ask for one at the same time (connect() would otherwise have fetched it alone).
    let c = connected(cfg).await;
    c.set_auth(Some(Arc::new(
        OAuth2::client_credentials(token_url(&tokens), "client-a", "secret-a")
            .scopes(["read", "write"])
            .into_bearer(),
    )));
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let calls: Vec<_> = (0..50)
        .map(|i| {
            let (c, start) = (c.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                c.get(&format!("/items/{i}")).await
            })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }

    let t = tokens.requests();
    assert_eq!(
        t.len(),
        1,
        "one token fetch for 50 concurrent callers, got {}",
        t.len()
    );
    assert_eq!(t[0].method, "POST");
    assert_eq!(t[0].uri, "/oauth/token");
    assert_eq!(
        header(&t[0], "content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    // Client authentication is HTTP basic by default: base64("client-a:secret-a").
    assert_eq!(
        authorization(&t[0]).as_deref(),
        Some("Basic Y2xpZW50LWE6c2VjcmV0LWE=")
    );
    let f = form(&t[0]);
    assert_eq!(
        f.get("grant_type").map(String::as_str),
        Some("client_credentials")
    );
    assert_eq!(f.get("scope").map(String::as_str), Some("read write"));
    assert!(!f.contains_key("client_secret") && !f.contains_key("client_id"));

    let seen = api.requests();
    assert_eq!(seen.len(), 50);
    for s in &seen {
        assert_eq!(authorization(s).as_deref(), Some("Bearer tok-1"));
    }
}

#[tokio::test]
async fn client_credentials_from_toml_with_client_auth_in_the_body() {
    let tokens = numbered_tokens(0).await;
    let api = ok_server().await;
    let text = format!(
        r#"
base_url = "{}"

[auth]
type = "oauth2"
token_url = "{}"
client_id = "client-b"
client_secret = "secret-b"
scopes = ["items:read"]
client_auth = "body"
"#,
        api.url(),
        token_url(&tokens)
    );
    let cfg: ConnectorConfig = toml::from_str(&text).unwrap();
    assert!(matches!(
        &cfg.auth,
        Some(AuthConfig::Oauth2 {
            client_auth: ClientAuth::Body,
            ..
        })
    ));
    let c = Connector::initialize(cfg).unwrap();
    c.connect().await.unwrap();
    assert_eq!(
        tokens.requests().len(),
        1,
        "connect fetches the first token"
    );
    c.get("/items").await.unwrap();
    c.get("/items").await.unwrap();

    let t = tokens.requests();
    assert_eq!(t.len(), 1, "the cached token is reused");
    assert_eq!(authorization(&t[0]), None, "no basic header with body auth");
    let f = form(&t[0]);
    assert_eq!(f["grant_type"], "client_credentials");
    assert_eq!(f["client_id"], "client-b");
    assert_eq!(f["client_secret"], "secret-b");
    assert_eq!(f["scope"], "items:read");
    for s in api.requests() {
        assert_eq!(authorization(&s).as_deref(), Some("Bearer tok-1"));
    }
}

#[tokio::test]
async fn token_is_refreshed_ahead_of_expiry() {
    // Tokens live 3 s and are refreshed 1 s before they expire, so 2 s after they were fetched.
    let tokens = token_server(0, |i| {
        (
            200,
            token_json(&format!("short-{}", i + 1), Some(3.0), None),
        )
    })
    .await;
    let api = ok_server().await;
    let mut cfg = config(&api.url());
    cfg.auth = Some(AuthConfig::Oauth2 {
        token_url: token_url(&tokens),
        client_id: "client-a".into(),
        client_secret: SecretString::from("secret-a"),
        scopes: vec![],
        refresh_token: None,
        client_auth: ClientAuth::Basic,
        refresh_skew_ms: 1000,
    });
    let c = connected(cfg).await;
    // The token was fetched during connect, so by now at the latest.
    let fetched = Instant::now();
    c.get("/x").await.unwrap();
    assert_eq!(tokens.requests().len(), 1);
    // 2.1 s in, the token still works for up to 0.9 s but is inside the skew: the next call refreshes.
    tokio::time::sleep_until((fetched + Duration::from_millis(2100)).into()).await;
    c.get("/x").await.unwrap();

    assert_eq!(
        tokens.requests().len(),
        2,
        "refreshed before the second call"
    );
    let seen = api.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(authorization(&seen[0]).as_deref(), Some("Bearer short-1"));
    assert_eq!(authorization(&seen[1]).as_deref(), Some("Bearer short-2"));
}

#[tokio::test]
async fn refresh_token_grant_uses_the_rotated_refresh_token() {
    // rt-1 -> (acc-1, rt-2); rt-2 -> (acc-2, rt-3); rt-3 -> (acc-3, no rotation); ...
    let tokens = token_server(0, |i| {
        let refresh = format!("rt-{}", i + 2);
        let rotated = (i < 2).then_some(refresh.as_str());
        (
            200,
            token_json(&format!("acc-{}", i + 1), Some(3600.0), rotated),
        )
    })
    .await;
    let revoked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let r = revoked.clone();
    let api = CountingServer::start(move |s, _| {
        let rejected = r
            .lock()
            .unwrap()
            .contains(&authorization(&s).unwrap_or_default());
        async move {
            if rejected {
                reply(401, "{}")
            } else {
                reply(200, "{}")
            }
        }
    })
    .await;
    let c = Connector::builder(config(&api.url()))
        .auth(Arc::new(
            OAuth2::refresh_token(token_url(&tokens), "client-r", "secret-r", "rt-1").into_bearer(),
        ))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    for n in 1..=3 {
        revoked.lock().unwrap().insert(format!("Bearer acc-{n}"));
        c.get("/x").await.unwrap();
    }

    let t = tokens.requests();
    assert_eq!(t.len(), 4);
    let sent: Vec<_> = t.iter().map(|s| form(s)["refresh_token"].clone()).collect();
    // rt-3 is kept when the answer carries no new refresh token.
    assert_eq!(sent, ["rt-1", "rt-2", "rt-3", "rt-3"]);
    for s in &t {
        assert_eq!(form(s)["grant_type"], "refresh_token");
        assert_eq!(
            authorization(s).as_deref(),
            Some("Basic Y2xpZW50LXI6c2VjcmV0LXI=")
        );
    }
    let bearers: Vec<_> = api
        .requests()
        .iter()
        .map(|s| authorization(s).unwrap())
        .collect();
    assert_eq!(
        bearers,
        [
            "Bearer acc-1",
            "Bearer acc-2",
            "Bearer acc-2",
            "Bearer acc-3",
            "Bearer acc-3",
            "Bearer acc-4"
        ]
    );
}

/// API rejects tok-1 and accepts tok-2: one refresh, one replay, success.
async fn one_refresh_and_one_replay_after_401(options: RequestOptions) {
    let tokens = numbered_tokens(0).await;
    let api = api_rejecting("tok-1", 1).await;
    let c = Connector::builder(config(&api.url()))
        .auth(client_credentials(&tokens))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let method = options.method.clone();
    let r = c
        .request(options)
        .await
        .unwrap_or_else(|e| panic!("{method}: {e}"));
    assert_eq!(r.status, 200);
    assert_eq!(
        tokens.requests().len(),
        2,
        "{method}: one refresh after the 401"
    );
    let seen = api.requests();
    assert_eq!(seen.len(), 2, "{method}: one replay");
    assert_eq!(authorization(&seen[0]).as_deref(), Some("Bearer tok-1"));
    assert_eq!(authorization(&seen[1]).as_deref(), Some("Bearer tok-2"));
    assert_eq!(seen[0].method, method.as_str());
    assert_eq!(seen[1].method, method.as_str());
    assert_eq!(seen[0].body, seen[1].body, "the same body is replayed");
    assert_eq!(header(&seen[1], "idempotency-key"), None);
}

#[tokio::test]
async fn a_401_triggers_one_refresh_and_one_retry() {
    one_refresh_and_one_replay_after_401(RequestOptions::new(Method::GET, "/me")).await;
}

#[tokio::test]
async fn a_401_replays_a_post_without_idempotency_key() {
    let body = Body::json(&serde_json::json!({ "amount": 5 })).unwrap();
    one_refresh_and_one_replay_after_401(RequestOptions::new(Method::POST, "/charges").body(body))
        .await;
}

#[tokio::test]
async fn a_second_401_after_the_refresh_is_auth_failed_without_a_loop() {
    let tokens = numbered_tokens(0).await;
    let api = CountingServer::start(|_, _| async { reply(401, "{\"error\":\"nope\"}") }).await;
    let c = Connector::builder(config(&api.url()))
        .auth(client_credentials(&tokens))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    // Bounded in time too: a refresh/replay loop would never return.
    for (method, call) in [
        ("GET", within("GET: the 401 loop", c.get("/me")).await),
        (
            "POST",
            within("POST: the 401 loop", c.post("/charges", Body::Empty)).await,
        ),
    ] {
        let e = call.unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthFailed, "{method}: {e}");
        assert_eq!(e.source_kind(), ErrorSource::Auth, "{method}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(401), "{method}");
        assert_eq!(e.attempt(), 2, "{method}");
        assert!(!e.is_retryable(), "{method}");
    }
    // Per call: the request, one refresh, one replay, then stop.
    assert_eq!(api.requests().len(), 4);
    assert_eq!(tokens.requests().len(), 3, "connect + one refresh per call");
    let bearers: Vec<_> = api
        .requests()
        .iter()
        .map(|s| authorization(s).unwrap())
        .collect();
    assert_eq!(
        bearers,
        [
            "Bearer tok-1",
            "Bearer tok-2",
            "Bearer tok-2",
            "Bearer tok-3"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_401s_for_the_same_token_cause_one_refresh() {
    let tokens = numbered_tokens(100).await;
    // No 401 comes back before all fifty callers are at the server with the stale token.
    let api = api_rejecting("tok-1", 50).await;
    let mut cfg = config(&api.url());
    cfg.rate_limit.concurrent_requests = 64;
    // Fifty identical GETs at once would share one exchange; each caller must meet the 401 itself.
    cfg.dedup.enabled = false;
    let c = Connector::builder(cfg)
        .auth(client_credentials(&tokens))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    assert_eq!(tokens.requests().len(), 1);
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let (c, start) = (c.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                c.get("/me").await
            })
        })
        .collect();
    for call in calls {
        let r = call.await.unwrap().unwrap();
        assert_eq!(r.status, 200);
    }

    assert_eq!(
        tokens.requests().len(),
        2,
        "connect + exactly one refresh for all the 401s"
    );
    let seen = api.requests();
    let stale = seen
        .iter()
        .filter(|s| authorization(s).as_deref() == Some("Bearer tok-1"))
        .count();
    let fresh = seen
        .iter()
        .filter(|s| authorization(s).as_deref() == Some("Bearer tok-2"))
        .count();
    assert_eq!(stale, 50, "every caller was rejected once");
    assert_eq!(fresh, 50, "every caller replayed once with the new token");
}

/// A token endpoint that moved (307 to its new path) is followed: token requests go through a
/// client that follows redirects, whichever client carries the calls.
#[tokio::test]
async fn a_token_endpoint_redirect_is_followed() {
    let tokens = CountingServer::start(|s, _| async move {
        if s.uri == "/oauth/token" {
            redirect(307, "/v2/oauth/token")
        } else {
            reply(200, &token_json("moved-tok", Some(3600.0), None))
        }
    })
    .await;
    let api = ok_server().await;
    let c = Connector::builder(config(&api.url()))
        .auth(client_credentials(&tokens))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.get("/things").await.unwrap();
    let paths: Vec<_> = tokens
        .requests()
        .into_iter()
        .map(|r| (r.method, r.uri))
        .collect();
    assert_eq!(
        paths,
        [
            ("POST".to_owned(), "/oauth/token".to_owned()),
            ("POST".to_owned(), "/v2/oauth/token".to_owned())
        ]
    );
    assert_eq!(
        authorization(&api.requests()[0]).as_deref(),
        Some("Bearer moved-tok")
    );
}

#[tokio::test]
async fn token_endpoint_refusal_fails_connect_with_auth_failed() {
    let tokens = token_server(0, |_| (400, "{\"error\":\"invalid_client\"}".into())).await;
    let api = ok_server().await;
    let c = Connector::builder(config(&api.url()))
        .auth(client_credentials(&tokens))
        .build()
        .unwrap();
    let e = c.connect().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    assert_eq!(e.source_kind(), ErrorSource::Auth);
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert!(!e.is_retryable());
    assert!(e.message().contains("refused"), "{e}");
    assert_eq!(
        e.raw_body().map(|b| &b[..]),
        Some(&b"{\"error\":\"invalid_client\"}"[..])
    );
    assert!(!c.is_connected());
    assert_eq!(tokens.requests().len(), 1);
    assert!(api.requests().is_empty());
}

#[tokio::test]
async fn unusable_token_answers_are_auth_failed_not_panics() {
    let api = ok_server().await;
    let unreachable = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/oauth/token", l.local_addr().unwrap())
    };
    let html = token_server(0, |_| (200, "<html>login</html>".into())).await;
    let no_token = token_server(0, |_| (200, "{\"token_type\":\"Bearer\"}".into())).await;
    let cases = [
        (token_url(&html), "not a token response"),
        (token_url(&no_token), "not a token response"),
        (unreachable, "could not reach"),
    ];
    for (url, expected) in cases {
        let c = Connector::builder(config(&api.url()))
            .auth(Arc::new(
                OAuth2::client_credentials(url, "client-a", "secret-a").into_bearer(),
            ))
            .build()
            .unwrap();
        let e = c.connect().await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
        assert_eq!(e.source_kind(), ErrorSource::Auth);
        assert!(e.message().contains(expected), "{e}");
        assert!(!c.is_connected());
    }
    assert_eq!(html.requests().len(), 1);
    assert_eq!(no_token.requests().len(), 1);
    assert!(api.requests().is_empty());
}

#[tokio::test]
async fn token_endpoint_failure_during_a_401_refresh_is_auth_failed() {
    let tokens = token_server(0, |i| {
        if i == 0 {
            (200, token_json("tok-1", Some(3600.0), None))
        } else {
            (400, "{\"error\":\"invalid_grant\"}".into())
        }
    })
    .await;
    let api = api_rejecting("tok-1", 1).await;
    let c = Connector::builder(config(&api.url()))
        .auth(client_credentials(&tokens))
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let e = c.get("/me").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    assert_eq!(e.source_kind(), ErrorSource::Auth);
    assert_eq!(e.endpoint(), Some("/me"));
    assert_eq!(api.requests().len(), 1);
    assert_eq!(tokens.requests().len(), 2);
}

// ---------------------------------------------------------------------------------------------------
// Custom signing
// ---------------------------------------------------------------------------------------------------

const HMAC_SECRET: &str = "hmac-shared-secret";

/// What the server computes: HMAC-SHA256 over `METHOD\nPATH?QUERY\nTIMESTAMP\nBODY`, hex.
fn server_signature(s: &Seen, secret: &str) -> Option<String> {
    let ts = header(s, "x-timestamp")?;
    let mut msg = format!("{}\n{}\n{ts}\n", s.method, s.uri).into_bytes();
    msg.extend_from_slice(&s.body);
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, &msg);
    Some(tag.as_ref().iter().map(|b| format!("{b:02x}")).collect())
}

/// A server that answers 200 only to requests whose `x-signature` it can reproduce.
async fn verifying_server() -> CountingServer {
    CountingServer::start(|s, _| async move {
        let good = server_signature(&s, HMAC_SECRET).is_some()
            && server_signature(&s, HMAC_SECRET) == header(&s, "x-signature");
        if good {
            reply(200, "{}")
        } else {
            reply(401, "{\"error\":\"bad signature\"}")
        }
    })
    .await
}

fn hmac_connector(url: &str, secret: &str) -> Connector {
    Connector::builder(config(url))
        .auth(Arc::new(Custom(
            HmacSigner::new(&SecretString::from(secret)).key_id("key-7"),
        )))
        .build()
        .unwrap()
}

#[tokio::test]
async fn hmac_signature_is_verified_by_the_server() {
    let server = verifying_server().await;
    let c = hmac_connector(&server.url(), HMAC_SECRET);
    c.connect().await.unwrap();
    c.request(
        RequestOptions::new(Method::POST, "/orders")
            .query("dry_run", "true")
            .body(Body::json(&serde_json::json!({ "sku": "A-1", "qty": 2 })).unwrap()),
    )
    .await
    .unwrap();
    c.get("/orders/1").await.unwrap();

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for s in &seen {
        assert_eq!(header(s, "x-key-id").as_deref(), Some("key-7"));
        let ts: u64 = header(s, "x-timestamp").unwrap().parse().unwrap();
        assert!(ts.abs_diff(now) <= 5, "timestamp {ts} is now ({now})");
        let sig = header(s, "x-signature").unwrap();
        assert_eq!(sig.len(), 64, "hex SHA-256");
        assert!(!sig.contains(HMAC_SECRET));
    }
    assert_eq!(seen[0].uri, "/orders?dry_run=true");
    let sent: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent, serde_json::json!({ "sku": "A-1", "qty": 2 }));

    // The server's check is real: a signature made with another key is refused.
    let wrong = hmac_connector(&server.url(), "some-other-secret");
    wrong.connect().await.unwrap();
    let e = wrong.get("/orders/1").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    assert_eq!(
        server.requests().len(),
        3,
        "a custom signer is not retried on 401"
    );
}

#[tokio::test]
async fn hmac_signature_covers_changes_made_by_before_request_hooks() {
    let server = verifying_server().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let c = Connector::builder(config(&server.url()))
        .auth(Arc::new(Custom(HmacSigner::new(&SecretString::from(
            HMAC_SECRET,
        )))))
        .hook(
            HookType::BeforeRequest,
            hook_fn("tenant", 0, move |ctx| {
                n.fetch_add(1, Ordering::SeqCst);
                // The hook sees the request before it is signed.
                assert!(!ctx.request.headers.contains_key("x-signature"));
                let wrap = ctx.request.headers.contains_key("x-wrap-body");
                ctx.modify_request(|r| {
                    r.add_query("tenant", "t-42");
                    if wrap {
                        let inner = String::from_utf8_lossy(&r.body).into_owned();
                        r.body = Bytes::from(format!("{{\"tenant\":\"t-42\",\"data\":{inner}}}"));
                    }
                });
                Ok(())
            }),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    c.request(
        RequestOptions::new(Method::PUT, "/orders/9")
            .query("v", "2")
            .header("x-wrap-body", "1")
            .body(Body::json(&serde_json::json!({ "qty": 3 })).unwrap()),
    )
    .await
    .unwrap_or_else(|e| panic!("the signature must cover the hooked request: {e}"));
    c.get("/orders").await.unwrap();

    assert_eq!(calls.load(Ordering::SeqCst), 2);
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].uri, "/orders/9?v=2&tenant=t-42");
    assert_eq!(seen[0].body, "{\"tenant\":\"t-42\",\"data\":{\"qty\":3}}");
    assert_eq!(seen[1].uri, "/orders?tenant=t-42");
    for s in &seen {
        assert_eq!(server_signature(s, HMAC_SECRET), header(s, "x-signature"));
    }
}

#[tokio::test]
async fn short_lived_tokens_are_reused_for_half_their_life_and_text_expiry_is_read() {
    // A 4 s token (given as text, as some providers do) with the default 60 s skew: without the cap at
    // half the lifetime, every call would fetch a new token.
    let tokens = token_server(0, |i| {
        (
            200,
            format!("{{\"access_token\":\"t-{}\",\"expires_in\":\"4\"}}", i + 1),
        )
    })
    .await;
    let api = ok_server().await;
    let c = connected(config(&api.url())).await;
    c.set_auth(Some(client_credentials(&tokens)));
    c.get("/x").await.unwrap();
    // The first call fetched the token, so by now at the latest.
    let fetched = Instant::now();
    for _ in 0..4 {
        c.get("/x").await.unwrap();
    }
    assert_eq!(
        tokens.requests().len(),
        1,
        "reused within the first half of its life"
    );
    tokio::time::sleep_until((fetched + Duration::from_millis(2100)).into()).await;
    c.get("/x").await.unwrap();
    assert_eq!(tokens.requests().len(), 2, "refreshed in the second half");
    assert_eq!(
        authorization(&api.requests()[5]).as_deref(),
        Some("Bearer t-2")
    );
}

#[tokio::test]
async fn basic_client_auth_form_encodes_id_and_secret() {
    let tokens = numbered_tokens(0).await;
    let api = ok_server().await;
    let c = connected(config(&api.url())).await;
    c.set_auth(Some(Arc::new(
        OAuth2::client_credentials(token_url(&tokens), "id:with space", "s&cret").into_bearer(),
    )));
    c.get("/x").await.unwrap();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode("id%3Awith+space:s%26cret");
    assert_eq!(
        authorization(&tokens.requests()[0]).as_deref(),
        Some(format!("Basic {expected}").as_str())
    );
}
