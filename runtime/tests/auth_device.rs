//! The OAuth2 device authorization grant against a loopback server: the code handed to the user,
//! polling at the server's interval (`authorization_pending`, `slow_down` adding five seconds),
//! `access_denied`, `expired_token`, the code's lifetime bounding the polls, and the refresh token used
//! afterwards. Waits run on tokio's paused clock, so the intervals are measured, not slept.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_runtime::{DeviceAuthorization, DeviceCode, ErrorCode, TokenProvider};
use secrecy::ExposeSecret;
use support::{CountingServer, reply};

/// A request the authorization server received: when (tokio's clock), where, and its form.
#[derive(Debug, Clone)]
struct Hit {
    at: tokio::time::Instant,
    path: String,
    form: BTreeMap<String, String>,
}

/// An authorization server: `/device` answers `device` (a JSON body); the `i`-th request to `/token`
/// (0-based) gets `token(i)`.
async fn auth_server(
    device: serde_json::Value,
    token: impl Fn(usize) -> (u16, serde_json::Value) + Send + Sync + 'static,
) -> (CountingServer, Arc<Mutex<Vec<Hit>>>) {
    let hits = Arc::new(Mutex::new(Vec::<Hit>::new()));
    let (h, token) = (hits.clone(), Arc::new(token));
    let server = CountingServer::start(move |s, _| {
        let (h, token, device) = (h.clone(), token.clone(), device.clone());
        async move {
            let path = s.uri.split('?').next().unwrap_or("").to_owned();
            let form = url::form_urlencoded::parse(&s.body).into_owned().collect();
            let polls = {
                let mut hits = h.lock().unwrap();
                hits.push(Hit {
                    at: tokio::time::Instant::now(),
                    path: path.clone(),
                    form,
                });
                hits.iter().filter(|x| x.path == "/token").count()
            };
            if path == "/device" {
                reply(200, &device.to_string())
            } else {
                let (status, body) = token(polls - 1);
                reply(status, &body.to_string())
            }
        }
    })
    .await;
    (server, hits)
}

fn pending(error: &str) -> (u16, serde_json::Value) {
    (400, serde_json::json!({ "error": error }))
}

/// A client without idle-pool timers, so tokio's paused clock moves only for the grant's own waits.
fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap()
}

fn provider(server: &CountingServer, shown: Arc<Mutex<Vec<DeviceCode>>>) -> DeviceAuthorization {
    DeviceAuthorization::new(
        format!("{}/device", server.url()),
        format!("{}/token", server.url()),
        "tv-app",
    )
    .scopes(["watch", "record"])
    .on_code(move |c| shown.lock().unwrap().push(c.clone()))
}

fn gaps(hits: &[Hit]) -> Vec<Duration> {
    hits.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test(start_paused = true)]
async fn the_grant_polls_at_the_interval_slows_down_and_then_refreshes() {
    let device = serde_json::json!({
        "device_code": "dev-1", "user_code": "ABCD-EFGH",
        "verification_uri": "https://auth.example/device",
        "verification_uri_complete": "https://auth.example/device?code=ABCD-EFGH",
        "expires_in": 600, "interval": 2
    });
    let (server, hits) = auth_server(device, |i| match i {
        0 => pending("authorization_pending"),
        1 => pending("slow_down"),
        2 => pending("authorization_pending"),
        3 => (
            200,
            serde_json::json!({"access_token": "tok-1", "expires_in": 3600, "refresh_token": "ref-1"}),
        ),
        4 => (
            200,
            serde_json::json!({"access_token": "tok-2", "expires_in": 3600, "refresh_token": "ref-2"}),
        ),
        // The rotated refresh token is refused: the grant starts over.
        5 => pending("invalid_grant"),
        _ => (200, serde_json::json!({"access_token": "tok-3"})),
    })
    .await;
    let shown = Arc::new(Mutex::new(Vec::new()));
    let p = provider(&server, shown.clone());
    let http = http();

    let token = p.fetch(&http).await.expect("approved");
    assert_eq!(token.value.expose_secret(), "tok-1");
    assert!(token.expires_at.is_some());
    {
        let shown = shown.lock().unwrap();
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].user_code, "ABCD-EFGH");
        assert_eq!(shown[0].verification_uri, "https://auth.example/device");
        assert_eq!(
            shown[0].verification_uri_complete.as_deref(),
            Some("https://auth.example/device?code=ABCD-EFGH")
        );
        assert_eq!(shown[0].expires_in, Duration::from_secs(600));
    }
    let seen = hits.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|h| h.path.as_str()).collect();
    assert_eq!(paths, ["/device", "/token", "/token", "/token", "/token"]);
    assert_eq!(seen[0].form["client_id"], "tv-app");
    assert_eq!(seen[0].form["scope"], "watch record");
    for poll in &seen[1..] {
        assert_eq!(
            poll.form["grant_type"],
            "urn:ietf:params:oauth:grant-type:device_code"
        );
        assert_eq!(poll.form["device_code"], "dev-1");
        assert_eq!(poll.form["client_id"], "tv-app");
    }
    // 2 s before each poll; after `slow_down`, 2 + 5 s.
    let secs = |s| Duration::from_secs(s);
    let measured = gaps(&seen);
    let wanted = [secs(2), secs(2), secs(7), secs(7)];
    for (got, want) in measured.iter().zip(wanted) {
        assert!(
            *got >= want && *got < want + secs(1),
            "gaps {measured:?}, wanted {wanted:?}"
        );
    }

    // Next time: the refresh token, no device code.
    let token = p.fetch(&http).await.expect("refreshed");
    assert_eq!(token.value.expose_secret(), "tok-2");
    let refresh = hits.lock().unwrap().last().cloned().unwrap();
    assert_eq!(refresh.path, "/token");
    assert_eq!(refresh.form["grant_type"], "refresh_token");
    assert_eq!(refresh.form["refresh_token"], "ref-1");
    assert_eq!(shown.lock().unwrap().len(), 1);

    // A refused refresh token (`invalid_grant`) starts the grant again, with the rotated token tried.
    let token = p.fetch(&http).await.expect("approved again");
    assert_eq!(token.value.expose_secret(), "tok-3");
    let seen = hits.lock().unwrap().clone();
    assert_eq!(seen[6].form["refresh_token"], "ref-2");
    assert_eq!(seen[7].path, "/device");
    assert_eq!(shown.lock().unwrap().len(), 2);
}

async fn refused_with(error: &str) -> connector_runtime::Error {
    let device = serde_json::json!({
        "device_code": "dev-1", "user_code": "U", "verification_uri": "https://a/d",
        "expires_in": 600
    });
    let error = error.to_owned();
    let (server, hits) = auth_server(device, move |i| {
        if i == 0 {
            pending("authorization_pending")
        } else {
            pending(&error)
        }
    })
    .await;
    let p = provider(&server, Arc::default());
    let e = p.fetch(&http()).await.expect_err("refused");
    // No interval given: the default 5 s between polls.
    let seen = hits.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        gaps(&seen),
        [Duration::from_secs(5), Duration::from_secs(5)]
    );
    e
}

#[tokio::test(start_paused = true)]
async fn access_denied_and_expired_token_end_the_grant() {
    let e = refused_with("access_denied").await;
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    assert!(e.to_string().contains("denied"), "{e}");
    let e = refused_with("expired_token").await;
    assert_eq!(e.code(), ErrorCode::AuthFailed);
    assert!(e.to_string().contains("expired"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn the_code_lifetime_bounds_the_polls() {
    let device = serde_json::json!({
        "device_code": "dev-1", "user_code": "U", "verification_uri": "https://a/d",
        "expires_in": "7", "interval": 2
    });
    let (server, hits) = auth_server(device, |_| pending("authorization_pending")).await;
    let p = provider(&server, Arc::default());
    let started = tokio::time::Instant::now();
    let e = p.fetch(&http()).await.expect_err("expired");
    assert!(e.to_string().contains("expired"), "{e}");
    // Polls at 2, 4 and 6 s; one more at 8 s would be past the 7 s lifetime.
    let polls = hits.lock().unwrap().len() - 1;
    assert_eq!(polls, 3);
    assert!(started.elapsed() < Duration::from_secs(7));
}

#[tokio::test(start_paused = true)]
async fn absurd_numbers_from_the_server_are_bounded() {
    let device = serde_json::json!({
        "device_code": "dev-1", "user_code": "U", "verification_uri": "https://a/d",
        "expires_in": 1e300, "interval": 1e300
    });
    let (server, hits) = auth_server(device, |_| {
        (
            200,
            serde_json::json!({"access_token": "tok", "expires_in": 1e300}),
        )
    })
    .await;
    let shown = Arc::new(Mutex::new(Vec::new()));
    let p = provider(&server, shown.clone());
    let token = p.fetch(&http()).await.expect("token");
    assert_eq!(token.value.expose_secret(), "tok");
    let ceiling = connector_runtime::bounded::MAX_SERVER_WAIT;
    assert_eq!(shown.lock().unwrap()[0].expires_in, ceiling);
    // The interval is at most the same ceiling: one poll after exactly that long.
    let seen = hits.lock().unwrap().clone();
    assert_eq!(gaps(&seen), [ceiling]);
}
