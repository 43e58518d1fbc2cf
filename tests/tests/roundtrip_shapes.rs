//! Round trips of the request and response shapes descriptions mean beyond plain JSON against
//! loopback servers: path-key markers and single-valued parameters as fixed query pairs and headers;
//! binary bodies streamed from files, binary answers streamed, downloaded and kept as bytes; typed
//! response headers; listings paged by a cursor in a response header.

use connector_runtime::{CallOptions, ConnectorConfig};
use connector_tests::{binary_bodies, paging_headers, path_markers, response_headers};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A server that answers every request with 200 and `{}`.
async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    server
}

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("recording is on")
}

fn header<'r>(r: &'r Request, name: &str) -> Vec<&'r str> {
    r.headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().expect("ASCII header"))
        .collect()
}

async fn markers_client(server: &MockServer) -> path_markers::Client {
    path_markers::Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..path_markers::Client::config()
    })
    .await
    .expect("client")
}

#[tokio::test]
async fn path_key_markers_become_query_pairs_flags_and_headers_in_order() {
    let server = server().await;
    let client = markers_client(&server).await;
    client
        .buckets()
        .list_objects_v2("photos")
        .prefix("a b&c=d")
        .send()
        .await
        .expect("list");
    client
        .buckets()
        .list_multipart_uploads("photos")
        .send()
        .await
        .expect("uploads");
    client
        .buckets()
        .get_bucket_analytics("photos", "cfg 1")
        .send()
        .await
        .expect("analytics");
    client
        .buckets()
        .get_bucket_lifecycle("photos")
        .send()
        .await
        .expect("lifecycle");
    client
        .objects()
        .copy_object("photos", "b.jpg", "/photos/a.jpg")
        .send()
        .await
        .expect("copy");
    client
        .items()
        .get_item(path_markers::models::GetItemBody {
            key: Some("k1".into()),
        })
        .send()
        .await
        .expect("get item");
    client
        .queues()
        .create_queue("jobs")
        .send()
        .await
        .expect("create queue");
    let seen = requests(&server).await;
    let lines: Vec<String> = seen
        .iter()
        .map(|r| {
            format!(
                "{} {}?{}",
                r.method,
                r.url.path(),
                r.url.query().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            // The caller's parameters first, then the fixed pairs in the order of the path key.
            "GET /photos?prefix=a+b%26c%3Dd&list-type=2",
            // A flag goes out with an empty value.
            "GET /photos?uploads=",
            // A marker naming a query parameter keeps the parameter: the caller's value is sent.
            "GET /photos?id=cfg+1&analytics=",
            // `deprecated!` only tells path keys apart: not sent.
            "GET /photos?lifecycle=",
            "PUT /photos/b.jpg?",
            "POST /?",
            // Single-valued required parameters are sent at their value, after the caller's.
            "GET /?QueueName=jobs&Action=CreateQueue&Version=2012-11-05",
        ]
    );
    assert_eq!(header(&seen[4], "x-amz-copy-source"), ["/photos/a.jpg"]);
    assert_eq!(header(&seen[5], "x-amz-target"), ["Store_20240101.GetItem"]);
    // An X-Amz-Target operation's JSON is the AWS JSON protocol's media type, whatever the
    // description says (`application/json` reads as another protocol to those services).
    assert_eq!(
        header(&seen[5], "content-type"),
        ["application/x-amz-json-1.1"]
    );
    assert_eq!(header(&seen[6], "x-api-flavour"), ["plain"]);
}

#[tokio::test]
async fn a_fixed_header_yields_to_the_parameter_and_to_per_call_headers() {
    let server = server().await;
    let client = markers_client(&server).await;
    client.items().put_item().send().await.expect("default");
    client
        .items()
        .put_item()
        .x_amz_target("Store_20240101.PutItemV2")
        .send()
        .await
        .expect("parameter");
    let mut headers = connector_runtime::HeaderMap::new();
    headers.insert("x-amz-target", "Store.Override".parse().expect("value"));
    client
        .items()
        .put_item()
        .options(CallOptions {
            headers,
            ..CallOptions::default()
        })
        .send()
        .await
        .expect("per call");
    let seen = requests(&server).await;
    let targets: Vec<Vec<&str>> = seen.iter().map(|r| header(r, "x-amz-target")).collect();
    assert_eq!(
        targets,
        [
            vec!["Store_20240101.PutItem"],
            vec!["Store_20240101.PutItemV2"],
            vec!["Store.Override"],
        ]
    );
}

/// Bytes in the large upload and download.
const BIG: usize = 64 * 1024 * 1024;

/// What the binary server saw of one upload: path, content type, length header, bytes counted while
/// streaming, their sha-256 (hex).
#[derive(Clone, Debug)]
struct Upload {
    path: String,
    content_type: Option<String>,
    content_length: Option<String>,
    bytes: u64,
    sha256: String,
}

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// A fixed, non-repeating-looking byte pattern of `n` bytes.
fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| (i.wrapping_mul(131) ^ (i >> 11)) as u8)
        .collect()
}

/// A hyper server on loopback for the `binary_bodies` fixture: uploads are read frame by frame
/// (counted and hashed, never kept); `GET /objects/big` answers `BIG` bytes with a `Repr-Digest`,
/// `/objects/bad` a payload whose announced digest is wrong, `/raw/..` bytes that are not UTF-8.
async fn binary_server() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Upload>>>) {
    use base64::Engine as _;
    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use std::sync::{Arc, Mutex};

    let uploads: Arc<Mutex<Vec<Upload>>> = Arc::default();
    let big = bytes::Bytes::from(pattern(BIG));
    let big_digest = format!(
        "sha-256=:{}:",
        base64::engine::general_purpose::STANDARD
            .encode(ring::digest::digest(&ring::digest::SHA256, &big))
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let seen = uploads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let seen = seen.clone();
            let big = big.clone();
            let big_digest = big_digest.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let seen = seen.clone();
                    let big = big.clone();
                    let big_digest = big_digest.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let header = |n: &str| {
                            req.headers()
                                .get(n)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let content_type = header("content-type");
                        let content_length = header("content-length");
                        let answer = |status: u16, ct: &str, body: bytes::Bytes| {
                            http::Response::builder()
                                .status(status)
                                .header("content-type", ct)
                                .body(Full::new(body))
                                .expect("response")
                        };
                        let response = match (req.method().as_str(), path.as_str()) {
                            ("PUT" | "POST", _) => {
                                let mut body = req.into_body();
                                let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
                                let mut n = 0u64;
                                while let Some(frame) = body.frame().await {
                                    let frame = frame?;
                                    if let Some(data) = frame.data_ref() {
                                        n += data.len() as u64;
                                        ctx.update(data);
                                    }
                                }
                                let sha256 = hex(ctx.finish().as_ref());
                                seen.lock().expect("uploads").push(Upload {
                                    path: path.clone(),
                                    content_type,
                                    content_length,
                                    bytes: n,
                                    sha256: sha256.clone(),
                                });
                                if path.starts_with("/objects/") {
                                    let json = serde_json::json!({"size": n, "sha256": sha256});
                                    answer(200, "application/json", json.to_string().into())
                                } else {
                                    answer(204, "text/plain", bytes::Bytes::new())
                                }
                            }
                            ("GET", "/objects/big") => {
                                let mut r = answer(200, "application/octet-stream", big);
                                r.headers_mut()
                                    .insert("repr-digest", big_digest.parse().expect("digest"));
                                r.headers_mut()
                                    .insert("etag", "\"big-v1\"".parse().expect("etag"));
                                r
                            }
                            ("GET", "/objects/bad") => {
                                let mut r = answer(
                                    200,
                                    "application/octet-stream",
                                    bytes::Bytes::from_static(b"not what the digest says"),
                                );
                                r.headers_mut().insert(
                                    "repr-digest",
                                    "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"
                                        .parse()
                                        .expect("digest"),
                                );
                                r
                            }
                            ("GET", p) if p.starts_with("/raw/") => answer(
                                200,
                                "application/json",
                                bytes::Bytes::from_static(&[0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]),
                            ),
                            _ => answer(404, "text/plain", bytes::Bytes::new()),
                        };
                        Ok::<_, hyper::Error>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (format!("http://{addr}"), uploads)
}

async fn binary_client(base_url: String) -> binary_bodies::Client {
    binary_bodies::Client::new(ConnectorConfig {
        base_url,
        timeout_ms: 120_000,
        ..binary_bodies::Client::config()
    })
    .await
    .expect("client")
}

/// A file of `data` in the temporary directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, data: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("connector-shapes-{}-{name}", std::process::id()));
        std::fs::write(&path, data).expect("write the temporary file");
        TempFile(path)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test]
async fn a_large_body_is_streamed_from_a_file_with_its_length_and_declared_type() {
    let (base, uploads) = binary_server().await;
    let client = binary_client(base).await;
    let data = pattern(BIG);
    let expected = sha256_hex(&data);
    let file = TempFile::new("upload", &data);
    drop(data);
    let body = connector_runtime::Body::file(file.path())
        .await
        .expect("file body");
    let stored = client
        .objects()
        .put_object("big", body)
        .send()
        .await
        .expect("upload")
        .data;
    assert_eq!(stored.size, BIG as i64);
    assert_eq!(stored.sha256, expected);
    // Bytes in memory too; a wildcard media type sends the body's own type.
    client
        .objects()
        .put_anything("small", &b"\x00\x01binary"[..])
        .send()
        .await
        .expect("small upload");
    client
        .objects()
        .upload_image()
        .body(connector_runtime::Bytes::from_static(b"\x89PNG"))
        .send()
        .await
        .expect("image");
    let seen = uploads.lock().expect("uploads").clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0].path, "/objects/big");
    assert_eq!(seen[0].bytes, BIG as u64);
    assert_eq!(seen[0].sha256, expected);
    assert_eq!(seen[0].content_length.as_deref(), Some("67108864"));
    assert_eq!(
        seen[0].content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(seen[1].path, "/any/small");
    assert_eq!(seen[1].bytes, 8);
    assert_eq!(
        seen[1].content_type.as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(seen[2].path, "/images");
    assert_eq!(seen[2].content_type.as_deref(), Some("image/png"));
    assert_eq!(seen[2].sha256, sha256_hex(b"\x89PNG"));
}

#[tokio::test]
async fn a_large_answer_streams_in_chunks_and_downloads_with_its_digest_checked() {
    use futures_util::StreamExt;
    let (base, _) = binary_server().await;
    let client = binary_client(base).await;
    let expected = sha256_hex(&pattern(BIG));

    let mut answer = client
        .objects()
        .get_object("big")
        .send_stream()
        .await
        .expect("stream");
    assert_eq!(answer.status, 200);
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let (mut total, mut largest, mut chunks) = (0usize, 0usize, 0usize);
    while let Some(chunk) = answer.body.next().await {
        let chunk = chunk.expect("chunk");
        total += chunk.len();
        largest = largest.max(chunk.len());
        chunks += 1;
        ctx.update(&chunk);
    }
    assert_eq!(total, BIG);
    assert_eq!(hex(ctx.finish().as_ref()), expected);
    // Handed over piece by piece as it arrived, never as one buffer.
    assert!(chunks > 64, "{chunks} chunks");
    assert!(largest <= 4 * 1024 * 1024, "a chunk of {largest} bytes");

    let target =
        std::env::temp_dir().join(format!("connector-shapes-{}-download", std::process::id()));
    let _cleanup = TempFile(target.clone());
    let report = client
        .objects()
        .get_object("big")
        .download_to(&target)
        .await
        .expect("download");
    assert_eq!(report.bytes, BIG as u64);
    assert_eq!(report.requests, 1);
    let written = std::fs::read(&target).expect("downloaded file");
    assert_eq!(sha256_hex(&written), expected);

    // A digest header the bytes do not match fails the download and leaves no file.
    let bad = std::env::temp_dir().join(format!("connector-shapes-{}-bad", std::process::id()));
    let _cleanup_bad = TempFile(bad.clone());
    let err = client
        .objects()
        .get_object("bad")
        .download_to(&bad)
        .await
        .expect_err("a digest mismatch");
    assert!(err.to_string().contains("sha-256"), "{err}");
    assert!(!bad.exists());
}

#[tokio::test]
async fn a_binary_answer_that_is_not_utf8_is_bytes_not_a_parsing_error() {
    let (base, _) = binary_server().await;
    let client = binary_client(base).await;
    let answer = client
        .objects()
        .get_raw("x")
        .send()
        .await
        .expect("bytes, whatever they are");
    assert_eq!(&answer.data[..], &[0xff, 0xfe, 0x00, 0x80, 0xc3, 0x28]);
}

async fn headers_client(server: &MockServer) -> response_headers::Client {
    response_headers::Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..response_headers::Client::config()
    })
    .await
    .expect("client")
}

#[tokio::test]
async fn declared_response_headers_are_typed_fields_of_the_answer() {
    use wiremock::matchers::method;
    let server = MockServer::start().await;
    Mock::given(method("HEAD"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Content-Length", "1234")
                .insert_header("ETag", "\"abc\"")
                .insert_header("Last-Modified", "Tue, 01 Dec 2026 10:00:00 GMT")
                // More digits than an i32 holds: saturates instead of failing.
                .insert_header("x-amz-meta-count", "99999999999")
                .insert_header("x-amz-delete-marker", "true")
                .insert_header("x-amz-ratio", "0.25")
                .insert_header("x-amz-tags", "a,b"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "\"v7\"")
                .insert_header("X-Rate-Remaining", "not a number")
                .set_body_json(serde_json::json!({"name": "a.txt"})),
        )
        .mount(&server)
        .await;
    let client = headers_client(&server).await;
    let answer = client
        .objects()
        .head_object("a.txt")
        .send_with_headers()
        .await
        .expect("head");
    assert_eq!(
        answer.data,
        response_headers::objects::HeadObjectHeaders {
            // A HEAD answer carries the length of the body a GET would send.
            content_length: 1234,
            e_tag: Some("\"abc\"".into()),
            last_modified: Some("Tue, 01 Dec 2026 10:00:00 GMT".into()),
            x_amz_meta_count: Some(i32::MAX),
            x_amz_delete_marker: Some(true),
            x_amz_ratio: Some(0.25),
            x_amz_tags: Some("a,b".into()),
        }
    );
    // `send()` is unchanged, and a header that does not parse fails only the typed call.
    let plain = client
        .objects()
        .get_object_info("a.txt")
        .send()
        .await
        .expect("plain send");
    assert_eq!(plain.data.name.as_deref(), Some("a.txt"));
    let err = client
        .objects()
        .get_object_info("a.txt")
        .send_with_headers()
        .await
        .expect_err("an integer header that is not one");
    assert_eq!(err.code(), connector_runtime::ErrorCode::ParsingError);
    assert!(err.to_string().contains("`X-Rate-Remaining`"), "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(200));
    assert!(err.request_sent());
}

#[tokio::test]
async fn a_generated_listing_follows_the_continuation_header_across_pages() {
    use futures_util::TryStreamExt;
    use wiremock::matchers::header as has_header;
    let server = MockServer::start().await;
    let page = |ids: &[&str]| {
        let docs: Vec<serde_json::Value> =
            ids.iter().map(|i| serde_json::json!({"id": i})).collect();
        ResponseTemplate::new(200).set_body_json(serde_json::json!({"Documents": docs}))
    };
    Mock::given(has_header("x-ms-continuation", "c2"))
        .respond_with(page(&["d3", "d4"]).insert_header("x-ms-continuation", "c3"))
        .mount(&server)
        .await;
    Mock::given(has_header("x-ms-continuation", "c3"))
        .respond_with(page(&["d5"]))
        .mount(&server)
        .await;
    // The first page: no cursor yet (the more specific mocks above do not match it).
    Mock::given(any())
        .respond_with(page(&["d1", "d2"]).insert_header("x-ms-continuation", "c2"))
        .with_priority(10)
        .mount(&server)
        .await;
    let client = paging_headers::Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..paging_headers::Client::config()
    })
    .await
    .expect("client");
    let docs: Vec<paging_headers::models::Document> = client
        .documents()
        .list_documents("db1")
        .paginate()
        .try_collect()
        .await
        .expect("every page");
    let ids: Vec<&str> = docs.iter().filter_map(|d| d.id.as_deref()).collect();
    assert_eq!(ids, ["d1", "d2", "d3", "d4", "d5"]);
    let seen = requests(&server).await;
    let cursors: Vec<Vec<&str>> = seen
        .iter()
        .map(|r| header(r, "x-ms-continuation"))
        .collect();
    assert_eq!(cursors, [vec![], vec!["c2"], vec!["c3"]]);
    assert!(seen.iter().all(|r| r.url.path() == "/dbs/db1/docs"));
}
