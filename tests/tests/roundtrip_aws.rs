//! Round trips of a generated client for an AWS-style description (Signature Version 4): calls reach a
//! loopback server signed, the signature verifies against what arrived, and the builders take only
//! the operation's own parameters (none of the `X-Amz-*` ones the signature writes).

use std::time::{Duration, UNIX_EPOCH};

use connector_runtime::auth::sigv4::AwsSigV4;
use connector_runtime::{AuthConfig, ConnectorConfig, HeaderMap, SecretString};
use connector_tests::aws_sigv4::{Client, auth, models};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "AKIDTEST";
const SECRET: &str = "secret/key+value";

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2015-03-31/functions"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({ "FunctionName": "resize", "MemorySize": 256 })),
        )
        .mount(&server)
        .await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!({ "FunctionName": "f" })),
        )
        .mount(&server)
        .await;
    server
}

async fn client(server: &MockServer, auth: AuthConfig) -> Client {
    Client::new(ConnectorConfig {
        base_url: server.uri(),
        auth: Some(auth),
        ..Client::config()
    })
    .await
    .expect("client")
}

fn header<'a>(r: &'a Request, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("no `{name}` header"))
        .to_str()
        .expect("ASCII")
}

/// `YYYYMMDDTHHMMSSZ` as seconds since 1970.
fn stamp_secs(stamp: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| stamp[r].parse::<i64>().expect("digits");
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let (y, mp) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mp + 2) / 5 + d - 1;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15)) as u64
}

/// The `Authorization` the runtime's signer gives for what the server received, signed with the
/// credentials `secret` at the time the request says it was signed.
fn resign(r: &Request, secret: &str, region: &str) -> String {
    let auth = header(r, "authorization");
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .expect("SignedHeaders");
    let mut headers = HeaderMap::new();
    for name in signed.split(';') {
        for v in r.headers.get_all(name) {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                v.clone(),
            );
        }
    }
    let mut url = r.url.clone();
    let at = UNIX_EPOCH + Duration::from_secs(stamp_secs(header(r, "x-amz-date")));
    AwsSigV4::new(KEY, SecretString::from(secret.to_owned()), region, "lambda")
        .sign_request(&r.method, &mut url, &mut headers, Some(&r.body), at)
        .expect("sign");
    headers["authorization"].to_str().expect("ASCII").to_owned()
}

#[tokio::test]
async fn generated_calls_arrive_signed() {
    let server = server().await;
    let c = client(&server, auth::aws_sigv4(KEY, SECRET, "eu-west-1")).await;
    // Only the operation's own parameters: no `X-Amz-*` setter exists on the builders.
    let f = c
        .functions()
        .get_function("resize image")
        .qualifier("v 2")
        .send()
        .await
        .expect("get");
    assert_eq!(f.data.function_name.as_deref(), Some("f"));
    let made = c
        .functions()
        .create_function(models::CreateFunctionRequest {
            function_name: "resize".into(),
            memory_size: Some(256),
        })
        .send()
        .await
        .expect("create");
    assert_eq!(made.data.memory_size, Some(256));

    let requests = server.received_requests().await.expect("recording");
    assert_eq!(requests.len(), 2);
    for r in &requests {
        let auth = header(r, "authorization");
        let date = header(r, "x-amz-date");
        assert_eq!(date.len(), 16, "{date}");
        let scope = format!(
            "AWS4-HMAC-SHA256 Credential={KEY}/{}/eu-west-1/lambda/aws4_request, SignedHeaders=",
            &date[..8]
        );
        assert!(auth.starts_with(&scope), "{auth}");
        assert!(r.headers.get("x-amz-content-sha256").is_some());
        // The signature is the one for exactly what arrived, and only with the right secret.
        assert_eq!(resign(r, SECRET, "eu-west-1"), auth);
        assert_ne!(resign(r, "another secret", "eu-west-1"), auth);
        assert_ne!(resign(r, SECRET, "us-east-1"), auth);
    }
    // The space went out as AWS spells it (`%20`), in the path and in the query.
    assert_eq!(
        requests[0].url.path(),
        "/2015-03-31/functions/resize%20image"
    );
    assert_eq!(requests[0].url.query(), Some("Qualifier=v%202"));
}

#[tokio::test]
async fn environment_credentials_name_what_is_missing() {
    // Only checks the variables this test cannot have set: the access key id is never set here.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let e = auth::aws_sigv4_from_env().unwrap_err();
        assert_eq!(e.code(), connector_runtime::ErrorCode::AuthFailed);
        assert!(e.message().contains("AWS_ACCESS_KEY_ID"), "{}", e.message());
    }
}
