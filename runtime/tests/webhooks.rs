//! Webhook verification: every preset accepts genuine deliveries (checked against independent `ring`
//! HMACs and the providers' published test vectors) and rejects tampered bodies, wrong or retired secrets,
//! stale and future timestamps, malformed headers and replays; nothing printable shows a secret; and a
//! loopback server answers real POSTs with 200 or 400.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use connector_runtime::webhooks::{
    Deduplicator, Encoding, GenericScheme, Rejection, Scheme, SignedContent, Verifier, sign_github,
    sign_standard, sign_stripe,
};
use connector_runtime::{Error, ErrorCode, ErrorSource, SecretString};
use http::{HeaderMap, HeaderName, HeaderValue};
use support::{CountingServer, reply};

const T: u64 = 1_700_000_000;
const STRIPE_SECRET: &str = "whsec_stripe_TOPSECRET_4f1c";
const GITHUB_SECRET: &str = "gh_TOPSECRET_hook_9a7e";
const STD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const GENERIC_SECRET: &str = "generic_TOPSECRET_51d0";
const BODY: &[u8] = br#"{"id":"evt_1","object":"event","amount":1200}"#;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn secret(s: &str) -> SecretString {
    SecretString::from(s)
}

/// HMAC-SHA256 computed with ring directly, independent of the module under test.
fn hmac(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::sign(&key, msg).as_ref().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn std_key(s: &str) -> Vec<u8> {
    STANDARD
        .decode(s.strip_prefix("whsec_").unwrap_or(s))
        .unwrap()
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn build(scheme: Scheme, secrets: &[&str]) -> Verifier {
    Verifier::builder(scheme)
        .secrets(secrets.iter().map(|s| secret(s)))
        .build()
        .unwrap()
}

fn generic(encoding: Encoding) -> Verifier {
    let scheme = GenericScheme::new(HeaderName::from_static("x-signature"))
        .timestamp_header(HeaderName::from_static("x-timestamp"));
    Verifier::builder(Scheme::Generic(scheme))
        .secret(secret(GENERIC_SECRET))
        .encoding(encoding)
        .build()
        .unwrap()
}

/// A genuine Stripe header for `body` at `t`, computed independently.
fn stripe_header(key: &str, t: u64, body: &[u8]) -> String {
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    format!("t={t},v1={}", hex(&hmac(key.as_bytes(), &msg)))
}

fn github_headers(key: &str, body: &[u8]) -> HeaderMap {
    let sig = format!("sha256={}", hex(&hmac(key.as_bytes(), body)));
    headers(&[
        ("x-hub-signature-256", &sig),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ])
}

fn standard_headers(key: &str, id: &str, t: u64, body: &[u8]) -> HeaderMap {
    let mut msg = format!("{id}.{t}.").into_bytes();
    msg.extend_from_slice(body);
    let sig = format!("v1,{}", STANDARD.encode(hmac(&std_key(key), &msg)));
    headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &t.to_string()),
        ("webhook-signature", &sig),
    ])
}

fn generic_headers(key: &str, encoding: Encoding, t: u64, body: &[u8]) -> HeaderMap {
    let mut msg = format!("{t}.").into_bytes();
    msg.extend_from_slice(body);
    let tag = hmac(key.as_bytes(), &msg);
    let sig = match encoding {
        Encoding::Hex => hex(&tag),
        Encoding::Base64 => STANDARD.encode(tag),
    };
    headers(&[("x-signature", &sig), ("x-timestamp", &t.to_string())])
}

/// Each preset (and the generic scheme in both encodings) with a genuine delivery of `BODY` at `T`
/// signed with `key_for(preset)`.
fn all_presets(keys: [&str; 4]) -> Vec<(&'static str, Verifier, HeaderMap)> {
    let [stripe, github, std, generic_key] = keys;
    vec![
        (
            "stripe",
            build(Scheme::Stripe, &[STRIPE_SECRET]),
            headers(&[("stripe-signature", &stripe_header(stripe, T, BODY))]),
        ),
        (
            "github",
            build(Scheme::GitHub, &[GITHUB_SECRET]),
            github_headers(github, BODY),
        ),
        (
            "standard",
            build(Scheme::StandardWebhooks, &[STD_SECRET]),
            standard_headers(std, "msg_1", T, BODY),
        ),
        (
            "generic-hex",
            generic(Encoding::Hex),
            generic_headers(generic_key, Encoding::Hex, T, BODY),
        ),
        (
            "generic-base64",
            generic(Encoding::Base64),
            generic_headers(generic_key, Encoding::Base64, T, BODY),
        ),
    ]
}

const GENUINE: [&str; 4] = [STRIPE_SECRET, GITHUB_SECRET, STD_SECRET, GENERIC_SECRET];

#[test]
fn stripe_accepts_genuine_signatures() {
    let v = build(Scheme::Stripe, &[STRIPE_SECRET]);
    let header = stripe_header(STRIPE_SECRET, T, BODY);
    assert_eq!(sign_stripe(&secret(STRIPE_SECRET), T, BODY), header);

    let ok = v
        .verify_at(&headers(&[("stripe-signature", &header)]), BODY, at(T))
        .unwrap();
    assert_eq!(ok.timestamp, Some(at(T)));
    assert_eq!(ok.secret_index, 0);
    assert_eq!(ok.id, None);

    // Several v1 entries (any may match), a v0 entry and spaces after commas, as Stripe may send.
    let sig = header.split_once(",v1=").unwrap().1;
    let many = format!(
        "t={T}, v1={}, v1={sig}, v0=6ffbb59b2300aae63f27",
        "ab".repeat(32)
    );
    v.verify_at(&headers(&[("stripe-signature", &many)]), BODY, at(T))
        .unwrap();
    // Uppercase hex decodes to the same bytes.
    let upper = format!("t={T},v1={}", sig.to_uppercase());
    v.verify_at(&headers(&[("stripe-signature", &upper)]), BODY, at(T))
        .unwrap();
}

#[test]
fn github_accepts_genuine_signatures() {
    // GitHub's documented example: secret, payload and signature from its webhook validation guide.
    let v = build(Scheme::GitHub, &["It's a Secret to Everybody"]);
    let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    assert_eq!(
        sign_github(&secret("It's a Secret to Everybody"), b"Hello, World!"),
        sig
    );
    let h = headers(&[("x-hub-signature-256", sig), ("x-github-delivery", "d-1")]);
    // No timestamp: any clock is fine.
    for now in [at(0), at(T), at(T * 3)] {
        let ok = v.verify_at(&h, b"Hello, World!", now).unwrap();
        assert_eq!(ok.id.as_deref(), Some("d-1"));
        assert_eq!(ok.timestamp, None);
    }

    let v = build(Scheme::GitHub, &[GITHUB_SECRET]);
    v.verify_at(&github_headers(GITHUB_SECRET, BODY), BODY, at(T))
        .unwrap();
}

#[test]
fn standard_webhooks_accept_genuine_signatures() {
    // The Standard Webhooks specification's example delivery.
    let (id, t, body) = (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1_614_265_330,
        br#"{"test": 2432232314}"#,
    );
    let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    assert_eq!(
        sign_standard(&secret(STD_SECRET), id, t, body).unwrap(),
        sig
    );
    let v = build(Scheme::StandardWebhooks, &[STD_SECRET]);
    let h = headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &t.to_string()),
        ("webhook-signature", sig),
    ]);
    let ok = v.verify_at(&h, body, at(t)).unwrap();
    assert_eq!(ok.id.as_deref(), Some(id));
    assert_eq!(ok.timestamp, Some(at(t)));

    // A list with an asymmetric (v1a) entry and a wrong v1 entry before the right one.
    let list = format!("v1a,c2lnbmF0dXJl v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= {sig}");
    let h = headers(&[
        ("webhook-id", id),
        ("webhook-timestamp", &t.to_string()),
        ("webhook-signature", &list),
    ]);
    v.verify_at(&h, body, at(t)).unwrap();

    // The same secret without the `whsec_` prefix.
    let bare = STD_SECRET.strip_prefix("whsec_").unwrap();
    build(Scheme::StandardWebhooks, &[bare])
        .verify_at(&standard_headers(STD_SECRET, "msg_2", T, BODY), BODY, at(T))
        .unwrap();
}

#[test]
fn generic_scheme_accepts_hex_base64_and_templates() {
    for enc in [Encoding::Hex, Encoding::Base64] {
        let ok = generic(enc)
            .verify_at(&generic_headers(GENERIC_SECRET, enc, T, BODY), BODY, at(T))
            .unwrap();
        assert_eq!(ok.timestamp, Some(at(T)), "{enc:?}");
    }
    // A signature in the other encoding does not verify.
    let err = generic(Encoding::Base64)
        .verify_at(
            &generic_headers(GENERIC_SECRET, Encoding::Hex, T, BODY),
            BODY,
            at(T),
        )
        .unwrap_err();
    assert_eq!(err, Rejection::NoMatchingSignature);

    // Payload only, with a prefix.
    let scheme = GenericScheme::new(HeaderName::from_static("x-sig"))
        .prefix("sha256=")
        .content(SignedContent::payload());
    let v = Verifier::builder(Scheme::Generic(scheme))
        .secret(secret(GENERIC_SECRET))
        .build()
        .unwrap();
    let sig = format!("sha256={}", hex(&hmac(GENERIC_SECRET.as_bytes(), BODY)));
    v.verify_at(&headers(&[("x-sig", &sig)]), BODY, at(T))
        .unwrap();

    // A Slack-like layout: `v0=<hex>` over `v0:{timestamp}:{payload}`.
    let scheme = GenericScheme::new(HeaderName::from_static("x-slack-signature"))
        .prefix("v0=")
        .timestamp_header(HeaderName::from_static("x-slack-request-timestamp"))
        .content(SignedContent::parse("v0:{timestamp}:{payload}").unwrap());
    let v = Verifier::builder(Scheme::Generic(scheme))
        .secret(secret(GENERIC_SECRET))
        .build()
        .unwrap();
    let mut msg = format!("v0:{T}:").into_bytes();
    msg.extend_from_slice(BODY);
    let sig = format!("v0={}", hex(&hmac(GENERIC_SECRET.as_bytes(), &msg)));
    let h = headers(&[
        ("x-slack-signature", &sig),
        ("x-slack-request-timestamp", &T.to_string()),
    ]);
    v.verify_at(&h, BODY, at(T)).unwrap();
    // And its own signer agrees.
    assert_eq!(v.sign(None, T, BODY).unwrap(), h);
}

#[test]
fn verifier_sign_produces_headers_its_verifier_accepts() {
    for (name, v, _) in all_presets(GENUINE) {
        let h = v.sign(Some("msg_signed"), T, BODY).unwrap();
        v.verify_at(&h, BODY, at(T))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(v.verify_at(&h, b"other", at(T)).is_err(), "{name}");
    }
    // The Standard Webhooks signer needs the id it signs.
    let v = build(Scheme::StandardWebhooks, &[STD_SECRET]);
    assert_eq!(
        v.sign(None, T, BODY).unwrap_err().code(),
        ErrorCode::ValidationError
    );
}

#[test]
fn tampered_body_timestamp_or_id_is_rejected() {
    let mut flipped = BODY.to_vec();
    flipped[10] ^= 0x01;
    let mut longer = BODY.to_vec();
    longer.push(b' ');
    for (name, v, h) in all_presets(GENUINE) {
        v.verify_at(&h, BODY, at(T))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        for body in [&flipped[..], &longer[..], b"", &BODY[..BODY.len() - 1]] {
            let err = v.verify_at(&h, body, at(T)).unwrap_err();
            assert_eq!(err, Rejection::NoMatchingSignature, "{name}");
            let err = Error::from(err);
            assert_eq!(err.code(), ErrorCode::AuthFailed, "{name}");
            assert_eq!(err.source_kind(), ErrorSource::Auth, "{name}");
            assert_eq!(err.details()["reason"], "no_matching_signature");
        }
    }

    // The timestamp is signed: moving it by one second breaks the signature.
    let v = build(Scheme::Stripe, &[STRIPE_SECRET]);
    let header =
        stripe_header(STRIPE_SECRET, T, BODY).replacen(&T.to_string(), &(T + 1).to_string(), 1);
    let err = v
        .verify_at(&headers(&[("stripe-signature", &header)]), BODY, at(T))
        .unwrap_err();
    assert_eq!(err, Rejection::NoMatchingSignature);

    // The delivery id and timestamp are signed in Standard Webhooks.
    let v = build(Scheme::StandardWebhooks, &[STD_SECRET]);
    let mut h = standard_headers(STD_SECRET, "msg_1", T, BODY);
    h.insert("webhook-id", HeaderValue::from_static("msg_2"));
    assert_eq!(
        v.verify_at(&h, BODY, at(T)).unwrap_err(),
        Rejection::NoMatchingSignature
    );
    let mut h = standard_headers(STD_SECRET, "msg_1", T, BODY);
    h.insert("webhook-timestamp", HeaderValue::from(T + 1));
    assert_eq!(
        v.verify_at(&h, BODY, at(T)).unwrap_err(),
        Rejection::NoMatchingSignature
    );
}

#[test]
fn wrong_secret_is_rejected() {
    let wrong = [
        "whsec_stripe_OTHER",
        "gh_OTHER",
        "whsec_dGhlIHdyb25nIHNlY3JldA==",
        "generic_OTHER",
    ];
    for (name, v, h) in all_presets(wrong) {
        assert_eq!(
            v.verify_at(&h, BODY, at(T)).unwrap_err(),
            Rejection::NoMatchingSignature,
            "{name}"
        );
    }
}

#[test]
fn rotation_accepts_every_active_secret_and_rejects_a_removed_one() {
    let (old, new) = ("whsec_old_ROTATED_1", "whsec_new_ROTATED_2");
    let both = build(Scheme::Stripe, &[old, new]);
    let only_new = build(Scheme::Stripe, &[new]);
    let by_old = headers(&[("stripe-signature", &stripe_header(old, T, BODY))]);
    let by_new = headers(&[("stripe-signature", &stripe_header(new, T, BODY))]);
    assert_eq!(
        both.verify_at(&by_old, BODY, at(T)).unwrap().secret_index,
        0
    );
    assert_eq!(
        both.verify_at(&by_new, BODY, at(T)).unwrap().secret_index,
        1
    );
    assert_eq!(
        only_new.verify_at(&by_old, BODY, at(T)).unwrap_err(),
        Rejection::NoMatchingSignature
    );
    assert_eq!(
        only_new
            .verify_at(&by_new, BODY, at(T))
            .unwrap()
            .secret_index,
        0
    );
    // During a rotation Stripe signs with both secrets: one header, two v1 entries.
    let old_sig = stripe_header(old, T, BODY);
    let new_sig = stripe_header(new, T, BODY);
    let dual = format!("{old_sig},v1={}", new_sig.split_once(",v1=").unwrap().1);
    only_new
        .verify_at(&headers(&[("stripe-signature", &dual)]), BODY, at(T))
        .unwrap();

    // GitHub and Standard Webhooks rotate the same way.
    let (old_gh, new_gh) = ("gh_old", "gh_new");
    let both = build(Scheme::GitHub, &[old_gh, new_gh]);
    assert_eq!(
        both.verify_at(&github_headers(old_gh, BODY), BODY, at(T))
            .unwrap()
            .secret_index,
        0
    );
    assert_eq!(
        both.verify_at(&github_headers(new_gh, BODY), BODY, at(T))
            .unwrap()
            .secret_index,
        1
    );
    assert_eq!(
        build(Scheme::GitHub, &[new_gh])
            .verify_at(&github_headers(old_gh, BODY), BODY, at(T))
            .unwrap_err(),
        Rejection::NoMatchingSignature
    );

    let (old_std, new_std) = ("whsec_b2xkLXNlY3JldA==", "whsec_bmV3LXNlY3JldA==");
    let both = build(Scheme::StandardWebhooks, &[old_std, new_std]);
    let h_old = standard_headers(old_std, "msg_1", T, BODY);
    let h_new = standard_headers(new_std, "msg_1", T, BODY);
    assert_eq!(both.verify_at(&h_old, BODY, at(T)).unwrap().secret_index, 0);
    assert_eq!(both.verify_at(&h_new, BODY, at(T)).unwrap().secret_index, 1);
    let only_new = build(Scheme::StandardWebhooks, &[new_std]);
    assert_eq!(
        only_new.verify_at(&h_old, BODY, at(T)).unwrap_err(),
        Rejection::NoMatchingSignature
    );
    only_new.verify_at(&h_new, BODY, at(T)).unwrap();
}

#[test]
fn stale_and_future_timestamps_are_rejected() {
    // Defaults: 5 minutes each way, boundaries included.
    let v = build(Scheme::Stripe, &[STRIPE_SECRET]);
    let h = headers(&[("stripe-signature", &stripe_header(STRIPE_SECRET, T, BODY))]);
    v.verify_at(&h, BODY, at(T + 300)).unwrap();
    assert_eq!(
        v.verify_at(&h, BODY, at(T + 301)).unwrap_err(),
        Rejection::TimestampTooOld {
            age: Duration::from_secs(301),
            tolerance: Duration::from_secs(300)
        }
    );
    v.verify_at(&h, BODY, at(T - 300)).unwrap();
    assert_eq!(
        v.verify_at(&h, BODY, at(T - 301)).unwrap_err(),
        Rejection::TimestampInFuture {
            ahead: Duration::from_secs(301),
            skew: Duration::from_secs(300)
        }
    );

    // Configured limits, for each timestamped preset.
    let custom = |scheme: Scheme, key: &str| {
        Verifier::builder(scheme)
            .secret(secret(key))
            .tolerance(Duration::from_secs(10))
            .skew(Duration::from_secs(2))
            .build()
            .unwrap()
    };
    let cases = [
        (custom(Scheme::Stripe, STRIPE_SECRET), h.clone()),
        (
            custom(Scheme::StandardWebhooks, STD_SECRET),
            standard_headers(STD_SECRET, "msg_1", T, BODY),
        ),
        (
            Verifier::builder(Scheme::Generic(
                GenericScheme::new(HeaderName::from_static("x-signature"))
                    .timestamp_header(HeaderName::from_static("x-timestamp")),
            ))
            .secret(secret(GENERIC_SECRET))
            .tolerance(Duration::from_secs(10))
            .skew(Duration::from_secs(2))
            .build()
            .unwrap(),
            generic_headers(GENERIC_SECRET, Encoding::Hex, T, BODY),
        ),
    ];
    for (v, h) in cases {
        v.verify_at(&h, BODY, at(T + 10)).unwrap();
        v.verify_at(&h, BODY, at(T - 2)).unwrap();
        let old = v.verify_at(&h, BODY, at(T + 11)).unwrap_err();
        assert!(
            matches!(old, Rejection::TimestampTooOld { .. }),
            "{v}: {old}"
        );
        let future = v.verify_at(&h, BODY, at(T - 3)).unwrap_err();
        assert!(
            matches!(future, Rejection::TimestampInFuture { .. }),
            "{v}: {future}"
        );
        for (r, reason) in [(old, "timestamp_too_old"), (future, "timestamp_in_future")] {
            let e = Error::from(r);
            assert_eq!(e.code(), ErrorCode::ValidationError);
            assert_eq!(e.source_kind(), ErrorSource::Auth);
            assert_eq!(e.details()["reason"], reason);
        }
    }

    // With the system clock: a delivery signed an hour ago is stale, one signed now is fine.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let fresh = headers(&[("stripe-signature", &stripe_header(STRIPE_SECRET, now, BODY))]);
    v.verify(&fresh, BODY).unwrap();
    let stale = headers(&[(
        "stripe-signature",
        &stripe_header(STRIPE_SECRET, now - 3600, BODY),
    )]);
    assert!(matches!(
        v.verify(&stale, BODY).unwrap_err(),
        Rejection::TimestampTooOld { .. }
    ));
}

/// A deterministic stream of garbage header values built from the characters the parsers look for.
fn garbage(seed: u64, count: usize) -> Vec<Vec<u8>> {
    const ALPHABET: &[u8] = b"tv01=,; sha256whsec_+/=abcdefABCDEF9-.\t\x7f\x80\xff";
    let mut x = seed;
    (0..count)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = (x >> 33) as usize % 80;
            (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ALPHABET[(x >> 33) as usize % ALPHABET.len()]
                })
                .collect()
        })
        .collect()
}

#[test]
fn malformed_headers_are_rejected_without_panic() {
    let stripe = build(Scheme::Stripe, &[STRIPE_SECRET]);
    let good = stripe_header(STRIPE_SECRET, T, BODY);
    let sig = good.split_once(",v1=").unwrap().1.to_owned();
    // A timestamp that is not plain digits is refused even when the signature covers it.
    let signed_with = |t: &str| {
        let mut m = format!("{t}.").into_bytes();
        m.extend_from_slice(BODY);
        format!("t={t},v1={}", hex(&hmac(STRIPE_SECRET.as_bytes(), &m)))
    };
    let many = format!("t={T}{}", format!(",v1={sig}").repeat(9));
    let stripe_cases: Vec<(String, &str)> = vec![
        (String::new(), "malformed_header"),
        ("t=".into(), "malformed_header"),
        ("garbage".into(), "malformed_header"),
        (",,,".into(), "malformed_header"),
        (format!("v1={sig}"), "malformed_header"),
        (format!("t={T}"), "malformed_header"),
        (format!("t={T},v0={sig}"), "malformed_header"),
        (format!("t={T},t={T},v1={sig}"), "malformed_header"),
        (format!("t=-{T},v1={sig}"), "malformed_header"),
        (
            format!("t=99999999999999999999999,v1={sig}"),
            "malformed_header",
        ),
        (signed_with("abc"), "malformed_header"),
        (signed_with(&format!("+{T}")), "malformed_header"),
        (signed_with(&format!(" {T}")), "malformed_header"),
        (format!("t={T},v1=zz"), "malformed_header"),
        (format!("t={T},v1="), "malformed_header"),
        (many, "malformed_header"),
        (format!("t={T},v1={}", &sig[..63]), "malformed_header"),
        (format!("t={T},v1={}", &sig[..62]), "no_matching_signature"),
    ];
    for (value, kind) in &stripe_cases {
        let err = stripe
            .verify_at(&headers(&[("stripe-signature", value)]), BODY, at(T))
            .unwrap_err();
        assert_eq!(err.kind(), *kind, "{value:?}: {err}");
    }
    // Missing, repeated, and not visible ASCII.
    assert_eq!(
        stripe
            .verify_at(&HeaderMap::new(), BODY, at(T))
            .unwrap_err(),
        Rejection::MissingHeader(HeaderName::from_static("stripe-signature"))
    );
    let twice = headers(&[("stripe-signature", &good), ("stripe-signature", &good)]);
    assert_eq!(
        stripe.verify_at(&twice, BODY, at(T)).unwrap_err().kind(),
        "malformed_header"
    );
    let mut bytes = HeaderMap::new();
    let mut raw = good.clone().into_bytes();
    raw.push(0xff);
    bytes.insert("stripe-signature", HeaderValue::from_bytes(&raw).unwrap());
    assert_eq!(
        stripe.verify_at(&bytes, BODY, at(T)).unwrap_err().kind(),
        "malformed_header"
    );

    let github = build(Scheme::GitHub, &[GITHUB_SECRET]);
    let gh_hex = hex(&hmac(GITHUB_SECRET.as_bytes(), BODY));
    for value in [
        String::new(),
        "sha256=".into(),
        "sha256=zz".into(),
        gh_hex.clone(),
        format!("sha1={gh_hex}"),
        format!("sha256 ={gh_hex}"),
        format!("SHA256={gh_hex}"),
    ] {
        let err = github
            .verify_at(&headers(&[("x-hub-signature-256", &value)]), BODY, at(T))
            .unwrap_err();
        assert_eq!(err.kind(), "malformed_header", "{value:?}: {err}");
    }

    let standard = build(Scheme::StandardWebhooks, &[STD_SECRET]);
    let good_std = standard_headers(STD_SECRET, "msg_1", T, BODY);
    for (name, value, kind) in [
        ("webhook-signature", "v1", "malformed_header"),
        ("webhook-signature", "v1,", "malformed_header"),
        ("webhook-signature", "v1,!!!", "malformed_header"),
        ("webhook-signature", "v2,c2ln", "malformed_header"),
        ("webhook-signature", "v1a,c2ln", "malformed_header"),
        ("webhook-timestamp", "soon", "malformed_header"),
        ("webhook-timestamp", "1700000000.5", "malformed_header"),
        ("webhook-timestamp", "", "malformed_header"),
        ("webhook-id", "", "malformed_header"),
    ] {
        let mut h = good_std.clone();
        h.insert(name, HeaderValue::from_static(value));
        let err = standard.verify_at(&h, BODY, at(T)).unwrap_err();
        assert_eq!(err.kind(), kind, "{name}: {value:?}: {err}");
    }
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        let mut h = good_std.clone();
        h.remove(name);
        assert_eq!(
            standard.verify_at(&h, BODY, at(T)).unwrap_err(),
            Rejection::MissingHeader(HeaderName::from_static(name))
        );
    }

    // Fuzz: hundreds of garbage values in every header every preset reads; never accepted, never a panic.
    let targets: [(&Verifier, HeaderMap, &[&str]); 3] = [
        (
            &stripe,
            headers(&[("stripe-signature", &good)]),
            &["stripe-signature"],
        ),
        (
            &github,
            github_headers(GITHUB_SECRET, BODY),
            &["x-hub-signature-256", "x-github-delivery"],
        ),
        (
            &standard,
            good_std.clone(),
            &["webhook-id", "webhook-timestamp", "webhook-signature"],
        ),
    ];
    let mut tried = 0;
    for (i, (v, genuine, names)) in targets.iter().enumerate() {
        v.verify_at(genuine, BODY, at(T)).unwrap();
        for name in names.iter() {
            for value in garbage(i as u64 * 7 + name.len() as u64, 300) {
                let Ok(value) = HeaderValue::from_bytes(&value) else {
                    continue;
                };
                let mut h = genuine.clone();
                h.insert(*name, value);
                let accepted = v.verify_at(&h, BODY, at(T)).is_ok();
                // Only the delivery id of GitHub is unsigned (it is informational).
                assert!(
                    !accepted || *name == "x-github-delivery",
                    "{name} accepted {:?}",
                    h.get(*name)
                );
                tried += 1;
            }
        }
    }
    assert!(tried > 500, "{tried}");
}

#[test]
fn replays_are_rejected_within_the_window_and_accepted_after_it() {
    // Standard Webhooks: keyed by `webhook-id`; the window must cover tolerance + skew (10 minutes).
    let dedup = Arc::new(Deduplicator::new(1000, Duration::from_secs(600)));
    let v = Verifier::builder(Scheme::StandardWebhooks)
        .secret(secret(STD_SECRET))
        .deduplicator(dedup.clone())
        .build()
        .unwrap();
    assert_eq!(v.replay_window(), Duration::from_secs(600));
    let first = standard_headers(STD_SECRET, "msg_1", T, BODY);
    v.verify_at(&first, BODY, at(T)).unwrap();
    // The identical delivery again.
    let replay = v.verify_at(&first, BODY, at(T + 1)).unwrap_err();
    assert_eq!(
        replay,
        Rejection::Replayed {
            id: Some("msg_1".into())
        }
    );
    let e = Error::from(replay);
    assert_eq!(
        (e.code(), e.source_kind()),
        (ErrorCode::ValidationError, ErrorSource::Auth)
    );
    assert_eq!(e.details()["reason"], "replayed");
    assert!(e.message().contains("msg_1"), "{e}");
    // The sender's retry: same id, fresh timestamp and signature, still within the window.
    let retry = standard_headers(STD_SECRET, "msg_1", T + 300, BODY);
    assert!(matches!(
        v.verify_at(&retry, BODY, at(T + 300)).unwrap_err(),
        Rejection::Replayed { .. }
    ));
    // Other ids are unaffected.
    v.verify_at(
        &standard_headers(STD_SECRET, "msg_2", T, BODY),
        BODY,
        at(T + 1),
    )
    .unwrap();
    // Once the window has passed the id is accepted again.
    let later = standard_headers(STD_SECRET, "msg_1", T + 600, BODY);
    v.verify_at(&later, BODY, at(T + 600)).unwrap();
    // A forged delivery is not recorded, so it cannot block the genuine one.
    let forged = standard_headers("whsec_Zm9yZ2Vk", "msg_3", T, BODY);
    assert_eq!(
        v.verify_at(&forged, BODY, at(T)).unwrap_err(),
        Rejection::NoMatchingSignature
    );
    v.verify_at(&standard_headers(STD_SECRET, "msg_3", T, BODY), BODY, at(T))
        .unwrap();
    // Forgetting an id lets the sender's retry through.
    assert!(dedup.remove("msg_3"));
    v.verify_at(
        &standard_headers(STD_SECRET, "msg_3", T + 5, BODY),
        BODY,
        at(T + 5),
    )
    .unwrap();

    // Stripe has no delivery id: the signed content is the key, so an exact replay is caught.
    let v = Verifier::builder(Scheme::Stripe)
        .secret(secret(STRIPE_SECRET))
        .deduplicator(Arc::new(Deduplicator::new(100, Duration::from_secs(600))))
        .build()
        .unwrap();
    let header = stripe_header(STRIPE_SECRET, T, BODY);
    let h = headers(&[("stripe-signature", &header)]);
    v.verify_at(&h, BODY, at(T)).unwrap();
    let replay = v.verify_at(&h, BODY, at(T + 299)).unwrap_err();
    assert_eq!(replay, Rejection::Replayed { id: None });
    let sig = header.split_once(",v1=").unwrap().1;
    assert!(!Error::from(replay).to_string().contains(sig));
    // The same event re-sent with a new timestamp is a new delivery.
    let resent = headers(&[(
        "stripe-signature",
        &stripe_header(STRIPE_SECRET, T + 60, BODY),
    )]);
    v.verify_at(&resent, BODY, at(T + 60)).unwrap();

    // GitHub: keyed by `X-GitHub-Delivery`, which becomes required; no timestamp, so any window.
    let v = Verifier::builder(Scheme::GitHub)
        .secret(secret(GITHUB_SECRET))
        .deduplicator(Arc::new(Deduplicator::new(100, Duration::from_secs(60))))
        .build()
        .unwrap();
    let h = github_headers(GITHUB_SECRET, BODY);
    v.verify_at(&h, BODY, at(T)).unwrap();
    assert!(matches!(
        v.verify_at(&h, BODY, at(T + 59)).unwrap_err(),
        Rejection::Replayed { .. }
    ));
    v.verify_at(&h, BODY, at(T + 60)).unwrap();
    let mut no_id = h.clone();
    no_id.remove("x-github-delivery");
    assert_eq!(
        v.verify_at(&no_id, BODY, at(T + 120)).unwrap_err(),
        Rejection::MissingHeader(HeaderName::from_static("x-github-delivery"))
    );
    // Without a deduplicator the id is optional and replays are not tracked.
    let plain = build(Scheme::GitHub, &[GITHUB_SECRET]);
    assert_eq!(plain.verify_at(&no_id, BODY, at(T)).unwrap().id, None);
    plain.verify_at(&h, BODY, at(T)).unwrap();
    plain.verify_at(&h, BODY, at(T)).unwrap();
}

#[test]
fn deduplicator_is_windowed_bounded_and_thread_safe() {
    let window = Duration::from_secs(60);
    let d = Deduplicator::new(3, window);
    assert!(d.check_and_insert("a", at(T)));
    assert!(!d.check_and_insert("a", at(T + 59)));
    assert!(d.check_and_insert("a", at(T + 60)));
    // A clock that went backwards does not make an id new.
    assert!(!d.check_and_insert("a", at(T + 30)));

    // Bounded: the fourth id evicts the oldest.
    let d = Deduplicator::new(3, Duration::from_secs(3600));
    for id in ["a", "b", "c"] {
        assert!(d.check_and_insert(id, at(T)));
    }
    assert!(!d.check_and_insert("a", at(T + 1)));
    assert!(d.check_and_insert("d", at(T + 2)));
    assert_eq!(d.len(), 3);
    assert!(d.check_and_insert("a", at(T + 3)), "the oldest was evicted");
    assert!(!d.check_and_insert("c", at(T + 4)));
    assert!(!d.check_and_insert("d", at(T + 4)));
    for i in 0..10_000 {
        d.check_and_insert(&format!("id-{i}"), at(T + 5));
        assert!(d.len() <= 3);
    }

    // Expired ids are swept, so memory follows the live set.
    let d = Deduplicator::new(100, window);
    for i in 0..50 {
        assert!(d.check_and_insert(&i.to_string(), at(T)));
    }
    assert_eq!(d.len(), 50);
    assert!(d.check_and_insert("late", at(T + 61)));
    assert_eq!(d.len(), 1);

    // Concurrent deliveries of the same ids: each is accepted exactly once.
    let d = Arc::new(Deduplicator::new(10_000, window));
    let accepted = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for i in 0..500 {
                    if d.check_and_insert(&format!("evt_{i}"), at(T)) {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert_eq!(accepted.load(Ordering::SeqCst), 500);
}

#[test]
fn misconfiguration_is_refused_at_build() {
    let err = |b: connector_runtime::webhooks::VerifierBuilder| {
        let e = b.build().unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError, "{e}");
        e
    };
    err(Verifier::builder(Scheme::Stripe));
    err(Verifier::builder(Scheme::Stripe).secret(secret("")));
    let e =
        err(Verifier::builder(Scheme::StandardWebhooks)
            .secret(secret("whsec_not base64 TOPSECRET!")));
    assert!(!format!("{e} {e:?}").contains("TOPSECRET"), "{e:?}");
    // Template placeholders need their headers, and a timestamp header must be signed.
    let sig = || GenericScheme::new(HeaderName::from_static("x-signature"));
    err(Verifier::builder(Scheme::Generic(sig())).secret(secret("k")));
    err(Verifier::builder(Scheme::Generic(
        sig()
            .timestamp_header(HeaderName::from_static("x-timestamp"))
            .content(SignedContent::payload()),
    ))
    .secret(secret("k")));
    err(Verifier::builder(Scheme::Generic(
        sig().content(SignedContent::parse("{id}.{payload}").unwrap()),
    ))
    .secret(secret("k")));
    assert!(SignedContent::parse("{timestamp}.{body}").is_err());
    // A dedup window shorter than tolerance + skew would let a replay outlive it.
    let short = Arc::new(Deduplicator::new(10, Duration::from_secs(60)));
    err(Verifier::builder(Scheme::Stripe)
        .secret(secret("k"))
        .deduplicator(short.clone()));
    Verifier::builder(Scheme::Stripe)
        .secret(secret("k"))
        .tolerance(Duration::from_secs(50))
        .skew(Duration::from_secs(10))
        .deduplicator(short.clone())
        .build()
        .unwrap();
    Verifier::builder(Scheme::GitHub)
        .secret(secret("k"))
        .deduplicator(short)
        .build()
        .unwrap();
}

#[test]
fn secrets_and_expected_signatures_never_appear_in_output() {
    let old = "whsec_stripe_OLD_TOPSECRET_77";
    let builder = Verifier::builder(Scheme::Stripe)
        .secret(secret(STRIPE_SECRET))
        .secret(secret(old))
        .deduplicator(Arc::new(Deduplicator::new(10, Duration::from_secs(600))));
    let shown = format!("{builder:?}");
    assert!(!shown.contains("TOPSECRET"), "{shown}");
    let v = builder.build().unwrap();
    let shown = format!("{v:?} {v} {v:#?}");
    assert!(!shown.contains("TOPSECRET"), "{shown}");
    assert!(shown.contains("[REDACTED]"), "{shown}");

    // Every kind of rejection, printed every way.
    let expected = stripe_header(STRIPE_SECRET, T, BODY);
    let expected_sig = expected.split_once(",v1=").unwrap().1.to_owned();
    let h = headers(&[("stripe-signature", &expected)]);
    let mut rejections = vec![
        v.verify_at(&h, b"tampered", at(T)).unwrap_err(),
        v.verify_at(&h, BODY, at(T + 3600)).unwrap_err(),
        v.verify_at(&h, BODY, at(T - 3600)).unwrap_err(),
        v.verify_at(&HeaderMap::new(), BODY, at(T)).unwrap_err(),
        v.verify_at(&headers(&[("stripe-signature", "t=x,v1=00")]), BODY, at(T))
            .unwrap_err(),
    ];
    v.verify_at(&h, BODY, at(T)).unwrap();
    rejections.push(v.verify_at(&h, BODY, at(T)).unwrap_err());
    let kinds: Vec<_> = rejections.iter().map(Rejection::kind).collect();
    assert_eq!(
        kinds,
        [
            "no_matching_signature",
            "timestamp_too_old",
            "timestamp_in_future",
            "missing_header",
            "malformed_header",
            "replayed"
        ]
    );

    // Standard Webhooks: neither the secret, its key bytes nor the expected signature.
    let sv = build(Scheme::StandardWebhooks, &[STD_SECRET]);
    let sh = standard_headers(STD_SECRET, "msg_1", T, BODY);
    let std_sig = sh["webhook-signature"].to_str().unwrap()[3..].to_owned();
    rejections.push(sv.verify_at(&sh, b"tampered", at(T)).unwrap_err());
    rejections.push(sv.verify_at(&sh, BODY, at(T + 3600)).unwrap_err());
    let shown_std = format!("{sv:?} {sv}");

    let forbidden = [
        STRIPE_SECRET,
        old,
        &expected_sig,
        STD_SECRET,
        &STD_SECRET[6..],
        &std_sig,
        &hex(&std_key(STD_SECRET)),
    ];
    for r in rejections {
        let e = Error::from(r.clone());
        let text = format!("{r} {r:?} {e} {e:?} {e:#?}");
        for f in forbidden {
            assert!(!text.contains(f), "{text}");
        }
        assert_eq!(e.source_kind(), ErrorSource::Auth);
    }
    for f in forbidden {
        assert!(!shown_std.contains(f), "{shown_std}");
    }
}

/// The receiving side of a real HTTP exchange: a loopback server verifying each POST and answering
/// 200, or 400 with the rejection's kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_server_accepts_genuine_posts_and_refuses_the_rest() {
    let stripe = Arc::new(
        Verifier::builder(Scheme::Stripe)
            .secret(secret(STRIPE_SECRET))
            .deduplicator(Arc::new(Deduplicator::new(100, Duration::from_secs(600))))
            .build()
            .unwrap(),
    );
    let github = Arc::new(build(Scheme::GitHub, &[GITHUB_SECRET]));
    let server = CountingServer::start(move |seen, _| {
        let v = if seen.uri.ends_with("/github") {
            github.clone()
        } else {
            stripe.clone()
        };
        async move {
            match v.verify(&seen.headers, &seen.body) {
                Ok(_) => reply(200, "{}"),
                Err(r) => reply(400, r.kind()),
            }
        }
    })
    .await;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let post = |path: &str, header: Option<(&str, String)>, body: &'static [u8]| {
        let mut rb = client
            .post(format!("{}{path}", server.url()))
            .header("content-type", "application/json")
            .body(body);
        if let Some((name, value)) = header {
            rb = rb.header(name, value);
        }
        async move {
            let resp = rb.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let genuine = sign_stripe(&secret(STRIPE_SECRET), now, BODY);
    let sig = ("stripe-signature", genuine.clone());
    assert_eq!(post("/stripe", Some(sig.clone()), BODY).await.0, 200);
    assert_eq!(
        post("/stripe", Some(sig.clone()), BODY).await,
        (400, "replayed".into())
    );
    assert_eq!(
        post("/stripe", Some(sig), br#"{"id":"evt_1","amount":999999}"#).await,
        (400, "no_matching_signature".into())
    );
    let wrong = sign_stripe(&secret("whsec_guess"), now, BODY);
    assert_eq!(
        post("/stripe", Some(("stripe-signature", wrong)), BODY).await,
        (400, "no_matching_signature".into())
    );
    let stale = sign_stripe(&secret(STRIPE_SECRET), now - 3600, BODY);
    assert_eq!(
        post("/stripe", Some(("stripe-signature", stale)), BODY).await,
        (400, "timestamp_too_old".into())
    );
    assert_eq!(
        post(
            "/stripe",
            Some(("stripe-signature", "t=now,v1=??".into())),
            BODY
        )
        .await,
        (400, "malformed_header".into())
    );
    assert_eq!(
        post("/stripe", None, BODY).await,
        (400, "missing_header".into())
    );

    let gh = sign_github(&secret(GITHUB_SECRET), BODY);
    assert_eq!(
        post("/github", Some(("x-hub-signature-256", gh.clone())), BODY)
            .await
            .0,
        200
    );
    assert_eq!(
        post("/github", Some(("x-hub-signature-256", gh)), b"{}").await,
        (400, "no_matching_signature".into())
    );
    // The server saw exactly the bytes the client sent.
    let seen = server.requests();
    assert_eq!(seen.len(), 9);
    assert_eq!(&seen[0].body[..], BODY);
}
