//! Response decompression over real sockets: gzip, brotli and deflate bodies (buffered and streamed)
//! reach the caller decoded; a corrupt body is a clear error; the switch turns it all off.

mod support;

use std::io::Write;

use bytes::Bytes;
use connector_runtime::{
    CompressionConfig, ConnectorConfig, ErrorCode, Method, RequestOptions, RetryConfig,
};
use futures_util::StreamExt;
use http_body_util::Full;
use support::{CountingServer, Seen, connected, fast_retry};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    // HTTP's "deflate" is the zlib format (RFC 9110 8.4.1.2).
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).unwrap();
    }
    out
}

fn encoded(encoding: &str, body: Vec<u8>) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("content-encoding", encoding)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// A JSON document large enough to compress well and to arrive in several chunks.
fn document(items: usize) -> Vec<u8> {
    let items: Vec<serde_json::Value> = (0..items)
        .map(|i| serde_json::json!({"id": i, "name": format!("item number {i}"), "tags": ["a", "b"]}))
        .collect();
    serde_json::to_vec(&serde_json::json!({ "items": items })).unwrap()
}

fn config(url: &str, retry: RetryConfig) -> ConnectorConfig {
    ConnectorConfig {
        retry,
        ..ConnectorConfig::new(url)
    }
}

fn accept_encoding(s: &Seen) -> String {
    s.headers
        .get("accept-encoding")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn gzip_brotli_and_deflate_bodies_are_decoded() {
    let doc = document(2000);
    let plain = doc.clone();
    let server = CountingServer::start(move |s: Seen, _| {
        let plain = plain.clone();
        async move {
            match s.uri.as_str() {
                "/gzip" => encoded("gzip", gzip(&plain)),
                "/br" => encoded("br", brotli(&plain)),
                "/deflate" => encoded("deflate", deflate(&plain)),
                _ => encoded("identity", plain),
            }
        }
    })
    .await;
    let c = connected(config(&server.url(), RetryConfig::disabled())).await;
    for path in ["/gzip", "/br", "/deflate", "/plain"] {
        let r = c.get(path).await.unwrap();
        assert_eq!(r.data.as_ref(), doc.as_slice(), "{path}: decoded body");
        assert!(
            r.headers.get("content-encoding").is_none() || path == "/plain",
            "{path}: the decoded answer no longer claims an encoding"
        );
        let v: serde_json::Value = r.json().unwrap().data;
        assert_eq!(v["items"][1999]["id"], 1999);
    }
    // The bodies really were compressed on the wire.
    assert!(gzip(&doc).len() * 5 < doc.len());
    assert!(brotli(&doc).len() * 5 < doc.len());
    for s in server.requests() {
        let ae = accept_encoding(&s);
        for enc in ["gzip", "br", "deflate"] {
            assert!(ae.contains(enc), "Accept-Encoding {ae:?} offers {enc}");
        }
    }
}

#[tokio::test]
async fn streamed_gzip_and_brotli_bodies_are_decoded_as_they_arrive() {
    let doc = document(20_000);
    let plain = doc.clone();
    let server = CountingServer::start(move |s: Seen, _| {
        let plain = plain.clone();
        async move {
            match s.uri.as_str() {
                "/gzip" => encoded("gzip", gzip(&plain)),
                _ => encoded("br", brotli(&plain)),
            }
        }
    })
    .await;
    let c = connected(config(&server.url(), RetryConfig::disabled())).await;
    for path in ["/gzip", "/br"] {
        let resp = c
            .request_stream(RequestOptions::new(Method::GET, path))
            .await
            .unwrap();
        assert!(resp.headers.get("content-encoding").is_none());
        let mut body = resp.body;
        let (mut got, mut chunks) = (Vec::new(), 0);
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.unwrap());
            chunks += 1;
        }
        assert_eq!(got.len(), doc.len(), "{path}");
        assert!(got == doc, "{path}: streamed body decodes to the document");
        assert!(
            chunks > 1,
            "{path}: {chunks} chunk(s): decoded while streaming"
        );
    }
}

#[tokio::test]
async fn a_corrupt_compressed_body_is_a_parsing_error_not_garbage() {
    let doc = document(500);
    let mut truncated = gzip(&doc);
    truncated.truncate(truncated.len() / 2);
    let mut flipped = brotli(&doc);
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 16] {
        *b ^= 0xA5;
    }
    let server = CountingServer::start(move |s: Seen, _| {
        let (truncated, flipped) = (truncated.clone(), flipped.clone());
        async move {
            match s.uri.as_str() {
                "/not-gzip" => encoded("gzip", b"this is not gzip at all".to_vec()),
                "/truncated" => encoded("gzip", truncated),
                _ => encoded("br", flipped),
            }
        }
    })
    .await;
    let c = connected(config(&server.url(), fast_retry(3))).await;
    for path in ["/not-gzip", "/truncated", "/flipped-br"] {
        let e = c.get(path).await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError, "{path}: {e}");
        assert!(
            e.message().contains("could not be decompressed"),
            "{path}: {e}"
        );
        assert!(!e.is_retryable(), "{path}");
    }
    // Not retried: the server answered, its answer is what is broken.
    assert_eq!(server.requests().len(), 3);

    // Streamed: the chunk that does not decode is an error, not bytes.
    let resp = c
        .request_stream(RequestOptions::new(Method::GET, "/not-gzip"))
        .await
        .unwrap();
    let mut body = resp.body;
    let mut saw_error = false;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => assert!(bytes.is_empty(), "no undecoded bytes are handed out"),
            Err(e) => {
                assert_eq!(e.code(), ErrorCode::ParsingError, "{e}");
                saw_error = true;
                break;
            }
        }
    }
    assert!(saw_error);
}

#[tokio::test]
async fn with_compression_off_nothing_is_offered_and_bodies_arrive_as_sent() {
    let doc = document(100);
    let wire = gzip(&doc);
    let sent = wire.clone();
    let server = CountingServer::start(move |_, _| {
        let sent = sent.clone();
        async move { encoded("gzip", sent) }
    })
    .await;
    let mut cfg = config(&server.url(), RetryConfig::disabled());
    cfg.compression = CompressionConfig::disabled();
    let c = connected(cfg).await;
    let r = c.get("/x").await.unwrap();
    assert_eq!(
        r.data.as_ref(),
        wire.as_slice(),
        "raw gzip bytes, untouched"
    );
    assert_eq!(r.headers["content-encoding"], "gzip");
    assert_eq!(accept_encoding(&server.requests()[0]), "");

    // One algorithm off: it is no longer offered, the others still are.
    let mut cfg = config(&server.url(), RetryConfig::disabled());
    cfg.compression.brotli = false;
    let c = connected(cfg).await;
    c.get("/y").await.unwrap();
    let ae = accept_encoding(&server.requests()[1]);
    assert!(
        ae.contains("gzip") && ae.contains("deflate") && !ae.contains("br"),
        "{ae}"
    );
}

#[tokio::test]
async fn compression_settings_load_from_toml() {
    let cfg: ConnectorConfig =
        toml::from_str("base_url = \"https://api.example.com\"\n[compression]\nbrotli = false\n")
            .unwrap();
    assert!(cfg.compression.gzip && cfg.compression.deflate && !cfg.compression.brotli);
    assert!(toml::from_str::<ConnectorConfig>("[compression]\nzip = true\n").is_err());
}
