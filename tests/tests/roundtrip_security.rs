//! Round trips of per-operation security through generated clients: which credentials each operation
//! sends to a loopback server (and that none go where none are asked), failures before sending when
//! an operation's requirements cannot be met, and the constructors of uncovered `Authorization`
//! parameters and deprecated schemes.

use connector_runtime::{AuthConfig, ConnectorConfig, ErrorCode};
use connector_tests::{security_authorization_header, security_flows, security_per_operation};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// `base64("user-a:pass-a")`
const BASIC: &str = "Basic dXNlci1hOnBhc3MtYQ==";

/// A server with an OAuth2 token endpoint at `/oauth/token` handing out `tok-1`, answering every
/// other request with `{"ok": true}`.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "access_token": "tok-1", "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({ "ok": true })))
        .mount(&server)
        .await;
    server
}

/// The API requests the server received (token requests left out), in order.
async fn api_requests(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .expect("recording is on")
        .into_iter()
        .filter(|r| r.url.path() != "/oauth/token")
        .collect()
}

/// What credentials a request carried: `Authorization`, `X-API-Key` and the `signature` query key.
#[derive(Debug, PartialEq, Eq)]
struct Sent {
    authorization: Option<String>,
    api_key: Option<String>,
    signature: Option<String>,
}

fn sent(r: &Request) -> Sent {
    let header = |name: &str| {
        r.headers
            .get(name)
            .map(|v| v.to_str().expect("ASCII").to_owned())
    };
    Sent {
        authorization: header("authorization"),
        api_key: header("x-api-key"),
        signature: r
            .url
            .query_pairs()
            .find(|(k, _)| k == "signature")
            .map(|(_, v)| v.into_owned()),
    }
}

fn creds(authorization: Option<&str>, api_key: Option<&str>, signature: Option<&str>) -> Sent {
    Sent {
        authorization: authorization.map(str::to_owned),
        api_key: api_key.map(str::to_owned),
        signature: signature.map(str::to_owned),
    }
}

fn config(server: &MockServer, auth: AuthConfig) -> ConnectorConfig {
    ConnectorConfig {
        base_url: server.uri(),
        auth: Some(auth),
        ..security_per_operation::Client::config()
    }
}

/// The `machine` scheme's OAuth2 client credentials against the test server's token endpoint (the
/// description's token URL is not the loopback server's).
fn machine(server: &MockServer) -> AuthConfig {
    AuthConfig::scheme(
        "machine",
        AuthConfig::Oauth2 {
            token_url: format!("{}/oauth/token", server.uri()),
            client_id: "client-a".into(),
            client_secret: "secret-a".to_owned().into(),
            scopes: vec!["reports:read".into()],
            refresh_token: None,
            client_auth: Default::default(),
            refresh_skew_ms: 60_000,
        },
    )
}

#[tokio::test]
async fn each_operation_sends_exactly_the_credentials_its_security_names() {
    use security_per_operation::{Client, auth};
    let server = server().await;
    let all = auth::api_key("key-a")
        .and(auth::basic("user-a", "pass-a"))
        .and(auth::signed("sig-a"))
        .and(machine(&server));
    let client = Client::new(config(&server, all)).await.expect("client");

    client.keyed().get_keyed().send().await.expect("keyed");
    client
        .reports()
        .get_reports()
        .send()
        .await
        .expect("reports");
    client
        .account()
        .get_account()
        .send()
        .await
        .expect("account");
    client
        .transfers()
        .create_transfer()
        .send()
        .await
        .expect("transfers");
    client.health().get_health().send().await.expect("health");
    client
        .catalog()
        .get_catalog()
        .send()
        .await
        .expect("catalog");
    client
        .exports()
        .get_exports()
        .send()
        .await
        .expect("exports");
    client
        .sessions()
        .list_sessions()
        .send()
        .await
        .expect("sessions");

    let seen: Vec<(String, Sent)> = api_requests(&server)
        .await
        .iter()
        .map(|r| (r.url.path().to_owned(), sent(r)))
        .collect();
    let bearer = Some("Bearer tok-1");
    let wanted = vec![
        // The description's own requirement: the API key.
        ("/keyed", creds(None, Some("key-a"), None)),
        ("/reports", creds(bearer, None, None)),
        ("/account", creds(Some(BASIC), None, None)),
        // Two schemes together.
        ("/transfers", creds(None, Some("key-a"), Some("sig-a"))),
        // `security: []`: nothing at all.
        ("/health", creds(None, None, None)),
        // basic, or anonymous: basic is held.
        ("/catalog", creds(Some(BASIC), None, None)),
        // The first alternative wins when both are held.
        ("/exports", creds(bearer, None, None)),
        ("/sessions", creds(Some(BASIC), None, None)),
    ];
    let wanted: Vec<(String, Sent)> = wanted.into_iter().map(|(p, s)| (p.to_owned(), s)).collect();
    assert_eq!(seen, wanted);
}

#[tokio::test]
async fn unmet_requirements_fail_before_sending_and_optional_ones_go_anonymous() {
    use security_per_operation::{Client, auth};
    let server = server().await;
    let client = Client::new(config(&server, auth::api_key("key-a")))
        .await
        .expect("client");

    let e = client
        .account()
        .get_account()
        .send()
        .await
        .expect_err("basic is not held");
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    assert!(e.to_string().contains("`basic`"), "{e}");
    let e = client
        .exports()
        .get_exports()
        .send()
        .await
        .expect_err("neither machine nor basic is held");
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    assert!(
        e.to_string().contains("`machine`, or of `basic`"),
        "names both alternatives: {e}"
    );
    // The key alone does not make a pair with the signature.
    let e = client
        .transfers()
        .create_transfer()
        .send()
        .await
        .expect_err("the signature is not held");
    assert!(
        e.to_string().contains("`api_key` and `signed`"),
        "names the pair: {e}"
    );
    assert!(
        api_requests(&server).await.is_empty(),
        "nothing was sent for calls whose requirements are unmet"
    );

    client
        .catalog()
        .get_catalog()
        .send()
        .await
        .expect("catalog");
    client.health().get_health().send().await.expect("health");
    client.keyed().get_keyed().send().await.expect("keyed");
    let seen: Vec<Sent> = api_requests(&server).await.iter().map(sent).collect();
    assert_eq!(
        seen,
        [
            creds(None, None, None),
            creds(None, None, None),
            creds(None, Some("key-a"), None),
        ]
    );
}

#[tokio::test]
async fn an_uncovered_authorization_parameter_comes_from_its_constructor() {
    use security_authorization_header::{Client, auth};
    let server = server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        auth: Some(auth::authorization("Token abc")),
        ..Client::config()
    })
    .await
    .expect("client");
    client
        .notes()
        .list_notes()
        .limit(3)
        .send()
        .await
        .expect("list");
    client.notes().create_note().send().await.expect("create");
    client.status().get_status().send().await.expect("status");
    // An operation that declares nothing gets the client's one credential, as before.
    client.open().get_open().send().await.expect("open");
    let seen: Vec<Option<String>> = api_requests(&server)
        .await
        .iter()
        .map(|r| sent(r).authorization)
        .collect();
    assert_eq!(seen, vec![Some("Token abc".to_owned()); 4]);
}

#[tokio::test]
async fn a_deprecated_scheme_still_authenticates_where_its_requirement_is_declared() {
    use security_flows::{Client, auth};
    let server = server().await;
    #[allow(deprecated)]
    let legacy = auth::legacy_key("old-key");
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        auth: Some(legacy),
        ..Client::config()
    })
    .await
    .expect("client");
    client
        .profile()
        .get_profile()
        .send()
        .await
        .expect("profile");
    let e = client
        .internal()
        .get_internal()
        .send()
        .await
        .expect_err("no client certificate held");
    assert!(e.to_string().contains("`client_cert`"), "{e}");
    let requests = api_requests(&server).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]
            .headers
            .get("x-legacy-key")
            .map(|v| v.to_str().unwrap()),
        Some("old-key")
    );
}
