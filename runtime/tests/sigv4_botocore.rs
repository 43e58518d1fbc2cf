//! Signature Version 4 cross-checked against botocore: many random requests signed by `AwsSigV4` and
//! by botocore (runtime/tests/sigv4_botocore.py) must give byte-identical headers and presigned URLs.
//! Runs when `CONNECTOR_AWS_PYTHON` names the interpreter (`cargo xtask test` always sets it, and
//! fails if it is missing) or the default virtual environment exists; otherwise it says so and skips.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use connector_runtime::auth::sigv4::AwsSigV4;
use connector_runtime::{HeaderMap, Method, SecretString};
use serde_json::{Value, json};
use url::Url;

const CASES: usize = 600;
const INSTALL: &str = "create it with `python3 -m venv ~/.cache/connector-aws/venv && \
     ~/.cache/connector-aws/venv/bin/pip install -r xtask/aws/requirements.txt` (or run \
     `cargo xtask test`, which does), or point CONNECTOR_AWS_PYTHON at a Python with botocore 1.44.8";

/// splitmix64: a fixed seed gives the same cases on every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, from: &'a [T]) -> &'a T {
        &from[self.below(from.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

const PATH_CHARS: &[&str] = &[
    "a", "Z", "0", "-", "_", ".", "~", " ", "!", "$", "&", "'", "(", ")", "*", "+", ",", ";", "=",
    ":", "@", "%", "é", "€", "日本", "🦀", "\"", "<", "^", "`", "{", "|",
];
const QUERY_CHARS: &[&str] = &[
    "a", "b", "K", "9", "-", "_", ".", "~", " ", "+", "*", "/", "?", "=", "&", "%", "é", "語",
    "🦀", "#", "[", "]", "!", "'",
];

/// What a path segment must escape in an URL; everything else is left raw.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'%')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'?')
    .add(b'#')
    .add(b'^')
    .add(b'|');

fn text(rng: &mut Rng, pool: &[&str], max: usize) -> String {
    (0..rng.below(max + 1)).map(|_| *rng.pick(pool)).collect()
}

fn form(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A path segment as a caller might spell it in an URL: what must be escaped is, the rest raw.
fn segment(rng: &mut Rng) -> String {
    match rng.below(12) {
        0 => String::new(),
        1 => ".".into(),
        2 => "..".into(),
        _ => {
            let raw = text(rng, PATH_CHARS, 6);
            percent_encoding::utf8_percent_encode(&raw, SEGMENT).to_string()
        }
    }
}

struct Case {
    method: Method,
    url: Url,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    streamed: bool,
    token: Option<String>,
    service: String,
    s3: bool,
    presign: Option<u64>,
    time: u64,
}

fn case(rng: &mut Rng, i: usize) -> Case {
    let presign = rng.chance(30).then(|| 1 + rng.next() % 604_800);
    let method = rng
        .pick(&[
            Method::GET,
            Method::PUT,
            Method::POST,
            Method::DELETE,
            Method::HEAD,
            Method::PATCH,
        ])
        .clone();
    let host = *rng.pick(&[
        "https://s3.us-east-1.amazonaws.com",
        "https://dynamodb.eu-west-1.amazonaws.com",
        "http://127.0.0.1:4566",
        "https://EXAMPLE.Host.com:443",
        "http://[::1]:8080",
        "http://localhost",
        "https://sqs.us-west-2.amazonaws.com:8443",
    ]);
    let path: Vec<String> = (0..rng.below(5)).map(|_| segment(rng)).collect();
    let mut query: Vec<String> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for _ in 0..rng.below(6) {
        let repeat = presign.is_none() && !keys.is_empty() && rng.chance(25);
        let key = if repeat {
            rng.pick(&keys).clone()
        } else {
            let mut k = text(rng, QUERY_CHARS, 5);
            // botocore's presigner keeps one value per key: presigned cases use distinct keys.
            while k.is_empty() || keys.contains(&k) {
                let piece = *rng.pick(QUERY_CHARS);
                k.push_str(piece);
            }
            k
        };
        keys.push(key.clone());
        match rng.below(4) {
            0 => query.push(form(&key)),
            1 => query.push(format!("{}=", form(&key))),
            _ => query.push(format!(
                "{}={}",
                form(&key),
                form(&text(rng, QUERY_CHARS, 8))
            )),
        }
    }
    let mut raw = format!("{host}/{}", path.join("/"));
    if !query.is_empty() {
        raw.push('?');
        raw.push_str(&query.join("&"));
    }
    let url = Url::parse(&raw).unwrap_or_else(|e| panic!("case {i}: {raw}: {e}"));
    let names = [
        "content-type",
        "x-amz-meta-owner",
        "x-amz-target",
        "accept",
        "x-custom-thing",
        "x-request-id",
        "user-agent",
        "x-amzn-trace-id",
        "range",
    ];
    let values = [
        "application/json",
        "  padded   value\twith\t\ttabs  ",
        "DynamoDB_20120810.GetItem",
        "a,b , c",
        "",
        "text/plain; charset=utf-8",
        "bytes=0-99",
        "x  y",
    ];
    let headers = (0..rng.below(5))
        .map(|_| (rng.pick(&names).to_string(), rng.pick(&values).to_string()))
        .collect();
    let body = if presign.is_some() {
        Vec::new()
    } else {
        match rng.below(10) {
            0..=3 => Vec::new(),
            4..=7 => (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
            8 => br#"{"TableName":"t","Key":{"id":{"S":"1"}}}"#.to_vec(),
            _ if i % 50 == 9 => (0..(1 << 20) + 17).map(|_| rng.next() as u8).collect(),
            _ => b"Action=CreateQueue&QueueName=q".to_vec(),
        }
    };
    let streamed = presign.is_none() && rng.chance(10);
    let s3 = rng.chance(40);
    let service = if s3 {
        "s3".to_owned()
    } else {
        rng.pick(&["dynamodb", "sqs", "sts", "execute-api"])
            .to_string()
    };
    Case {
        method,
        url,
        headers,
        body,
        streamed,
        token: rng
            .chance(40)
            .then(|| format!("FwoGZXIvYXdzE{}//token+/=", rng.next())),
        service,
        s3,
        presign,
        // Any second from 2000 to 2040.
        time: 946_684_800 + rng.next() % 1_262_304_000,
    }
}

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CONNECTOR_AWS_PYTHON") {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "CONNECTOR_AWS_PYTHON is {} but there is no interpreter there: {INSTALL}",
            p.display()
        );
        return Some(p);
    }
    let home = std::env::var_os("HOME")?;
    let p = PathBuf::from(home).join(".cache/connector-aws/venv/bin/python");
    p.exists().then_some(p)
}

/// The decoded path segments and query pairs of an URL: what it means, whatever its spelling.
fn meaning(u: &Url) -> (Vec<Vec<u8>>, Vec<(String, String)>) {
    let segs = u
        .path()
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).collect())
        .collect();
    (segs, u.query_pairs().into_owned().collect())
}

#[test]
fn signatures_match_botocore() {
    let Some(python) = python() else {
        eprintln!(
            "skipped: no Python with botocore (CONNECTOR_AWS_PYTHON unset, default venv absent); \
             {INSTALL}"
        );
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sigv4_botocore.py");
    let mut rng = Rng(0x5167_4e34_2024);
    let mut input = Vec::new();
    let mut ours = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    for i in 0..CASES {
        let c = case(&mut rng, i);
        let unsigned_config = !c.streamed && c.presign.is_none() && rng.chance(10);
        let unsigned = c.streamed || unsigned_config;
        let mut signer = AwsSigV4::new(
            "AKIDEXAMPLE",
            SecretString::from("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".to_owned()),
            "us-east-1",
            c.service.clone(),
        )
        .s3_style(c.s3)
        .unsigned_payload(unsigned_config);
        if let Some(t) = &c.token {
            signer = signer.with_session_token(SecretString::from(t.clone()));
        }
        let now = UNIX_EPOCH + Duration::from_secs(c.time);
        let mut headers = HeaderMap::new();
        for (n, v) in &c.headers {
            headers.append(
                http::HeaderName::from_bytes(n.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let mut url = c.url.clone();
        let answer = match c.presign {
            Some(expires) => {
                let signed = signer
                    .presign(
                        &c.method,
                        &c.url,
                        &headers,
                        Duration::from_secs(expires),
                        now,
                    )
                    .unwrap_or_else(|e| panic!("case {i}: {e}"));
                // botocore is given the URL as we send it, less our signature parameters.
                url = signed.clone();
                let own: Vec<String> = signed
                    .query()
                    .unwrap_or("")
                    .split('&')
                    .filter(|p| !p.starts_with("X-Amz-"))
                    .map(str::to_owned)
                    .collect();
                url.set_query((!own.is_empty()).then(|| own.join("&")).as_deref());
                json!({ "url": signed.as_str() })
            }
            None => {
                let body = (!c.streamed).then_some(&c.body[..]);
                signer
                    .sign_request(&c.method, &mut url, &mut headers, body, now)
                    .unwrap_or_else(|e| panic!("case {i}: {e}"));
                let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_owned());
                json!({
                    "Authorization": h("authorization"),
                    "X-Amz-Date": h("x-amz-date"),
                    "X-Amz-Content-SHA256": h("x-amz-content-sha256"),
                    "X-Amz-Security-Token": h("x-amz-security-token"),
                })
            }
        };
        // The rewritten URL says what the caller's said.
        let (before, after) = (meaning(&c.url), meaning(&url));
        assert_eq!(
            before.0, after.0,
            "case {i}: path changed: {} -> {url}",
            c.url
        );
        let (mut qb, mut qa) = (before.1, after.1);
        qb.sort();
        qa.sort();
        assert_eq!(qb, qa, "case {i}: query changed: {} -> {url}", c.url);
        input.push(json!({
            "method": c.method.as_str(),
            "url": url.as_str(),
            "headers": c.headers,
            "body": b64.encode(if c.streamed { &[][..] } else { &c.body[..] }),
            "unsigned": unsigned,
            "token": c.token,
            "access_key": "AKIDEXAMPLE",
            "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "region": "us-east-1",
            "service": c.service,
            "s3": c.s3,
            "presign": c.presign.is_some(),
            "expires": c.presign.unwrap_or(0),
            "time": c.time,
        }));
        ours.push(answer);
    }
    let mut child = Command::new(&python)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; {INSTALL}", python.display()));
    let mut stdin = child.stdin.take().unwrap();
    let lines: String = input.iter().map(|v| format!("{v}\n")).collect();
    let writer = std::thread::spawn(move || stdin.write_all(lines.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "the botocore signer failed ({}): {}\n{INSTALL}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(theirs.len(), CASES, "one answer per request");
    let (mut presigned, mut streamed) = (0, 0);
    for (i, (mine, theirs)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            mine, theirs,
            "case {i} differs from botocore\nrequest: {}",
            input[i]
        );
        presigned += usize::from(mine.get("url").is_some());
        streamed += usize::from(
            mine.get("X-Amz-Content-SHA256")
                .is_some_and(|v| v == "UNSIGNED-PAYLOAD"),
        );
    }
    // The mix covered what it is meant to.
    assert!(presigned > 100 && streamed > 30, "{presigned} {streamed}");
}
