//! AWS Signature Version 4 through the pipeline against a hyper server on loopback: the request that
//! arrives carries the signature headers, and re-signing exactly what arrived gives the same
//! `Authorization` (what was sent is what was signed); streamed bodies are sent as `UNSIGNED-PAYLOAD`.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_runtime::auth::sigv4::AwsSigV4;
use connector_runtime::{
    AuthConfig, Body, Connector, ConnectorConfig, ErrorCode, HeaderMap, Method, RequestOptions,
    SecretString,
};
use support::{CountingServer, Seen, connected, reply};

const KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

fn signer(service: &str) -> AwsSigV4 {
    AwsSigV4::new(
        KEY,
        SecretString::from(SECRET.to_owned()),
        "eu-west-1",
        service,
    )
}

fn header<'a>(s: &'a Seen, name: &str) -> &'a str {
    s.headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// `YYYYMMDDTHHMMSSZ` as a time.
fn parse_stamp(stamp: &str) -> SystemTime {
    assert_eq!(stamp.len(), 16, "{stamp}");
    let n = |r: std::ops::Range<usize>| stamp[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(4..6), n(6..8));
    let (y, mp) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15);
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// Sign what the server received, with the same credentials at the time it says it was signed.
fn resign(s: &Seen, base: &str, signer: &AwsSigV4, body: Option<&[u8]>) -> String {
    let auth = header(s, "authorization");
    let signed = auth
        .split("SignedHeaders=")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap();
    let mut headers = HeaderMap::new();
    for name in signed.split(';') {
        for v in s.headers.get_all(name) {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                v.clone(),
            );
        }
    }
    let mut url = url::Url::parse(&format!("{base}{}", s.uri)).unwrap();
    let method = Method::from_bytes(s.method.as_bytes()).unwrap();
    let at = parse_stamp(header(s, "x-amz-date"));
    signer
        .sign_request(&method, &mut url, &mut headers, body, at)
        .unwrap();
    headers["authorization"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn signed_requests_arrive_as_signed() {
    let server = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let auth = AuthConfig::aws_sigv4(
        KEY,
        SecretString::from(SECRET.to_owned()),
        "eu-west-1",
        "sqs",
    )
    .with_session_token(SecretString::from("session/token+1".to_owned()));
    let c = connected(ConnectorConfig {
        auth: Some(auth),
        ..ConnectorConfig::new(server.url())
    })
    .await;
    let body = br#"{"QueueName":"orders"}"#;
    c.request(
        RequestOptions::new(Method::POST, "/queues/a b;c/€")
            .query("Action", "CreateQueue")
            .query("tag", "x y~*")
            .header("x-amz-target", "AmazonSQS.CreateQueue")
            .body(Body::bytes("application/x-amz-json-1.0", &body[..]).unwrap()),
    )
    .await
    .unwrap();
    let seen = server.requests();
    let s = &seen[0];
    // What arrived is in AWS's encoding.
    assert_eq!(
        s.uri,
        "/queues/a%20b%3Bc/%E2%82%AC?Action=CreateQueue&tag=x%20y~%2A"
    );
    let auth = header(s, "authorization");
    let date = header(s, "x-amz-date");
    let prefix = format!(
        "AWS4-HMAC-SHA256 Credential={KEY}/{}/eu-west-1/sqs/aws4_request, ",
        &date[..8]
    );
    assert!(auth.starts_with(&prefix), "{auth}");
    assert!(
        auth.contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target;x-request-id, "),
        "{auth}"
    );
    let signature = auth.rsplit("Signature=").next().unwrap();
    assert!(signature.len() == 64 && signature.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(header(s, "x-amz-content-sha256"), hex_sha256(body));
    assert_eq!(header(s, "x-amz-security-token"), "session/token+1");
    let again = signer("sqs").with_session_token(SecretString::from("session/token+1".to_owned()));
    assert_eq!(resign(s, &server.url(), &again, Some(&s.body)), auth);
    // A different secret gives a different signature: the check above is not vacuous.
    let wrong = AwsSigV4::new(
        KEY,
        SecretString::from("other".to_owned()),
        "eu-west-1",
        "sqs",
    )
    .with_session_token(SecretString::from("session/token+1".to_owned()));
    assert_ne!(resign(s, &server.url(), &wrong, Some(&s.body)), auth);
}

fn hex_sha256(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn streamed_bodies_are_sent_unsigned() {
    let server = CountingServer::start(|_, _| async { reply(200, "{}") }).await;
    let c = connected(ConnectorConfig {
        auth: Some(AuthConfig::Strategy {
            strategy: std::sync::Arc::new(signer("s3")),
        }),
        ..ConnectorConfig::new(server.url())
    })
    .await;
    let data = vec![7u8; 300_000];
    let d = data.clone();
    let body = Body::reader_factory("application/octet-stream", Some(300_000), move || {
        let d = d.clone();
        async move { Ok(std::io::Cursor::new(d)) }
    })
    .unwrap();
    c.request(RequestOptions::new(Method::PUT, "/bucket/big+key.bin").body(body))
        .await
        .unwrap();
    let seen = server.requests();
    let s = &seen[0];
    assert_eq!(&s.body[..], &data[..]);
    assert_eq!(s.uri, "/bucket/big%2Bkey.bin");
    assert_eq!(header(s, "x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
    assert!(s.headers.get("x-amz-security-token").is_none());
    let auth = header(s, "authorization").to_owned();
    assert!(auth.contains("/eu-west-1/s3/aws4_request"), "{auth}");
    assert_eq!(resign(s, &server.url(), &signer("s3"), None), auth);
}

#[tokio::test]
async fn bad_settings_fail_before_sending() {
    let e = Connector::initialize(ConnectorConfig {
        auth: Some(AuthConfig::aws_sigv4(
            KEY,
            SecretString::from(SECRET.to_owned()),
            "",
            "sqs",
        )),
        ..ConnectorConfig::new("http://127.0.0.1:9")
    })
    .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert!(e.message().contains("auth.region"), "{}", e.message());
}
