//! Whole response bodies over real sockets: a body that arrives in many pieces comes back whole and in
//! order, with or without `Content-Length`; an empty one is empty; a body shorter than its declared
//! length is an error, not the part that came.

mod support;

use bytes::Bytes;
use connector_runtime::{ConnectorConfig, ErrorCode, RetryConfig};
use http_body_util::Full;
use support::{CountingServer, connected};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes that differ from position to position, so a piece out of place or repeated shows.
fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i % 251) as u8 ^ (i / 251) as u8)
        .collect()
}

fn config(url: String) -> ConnectorConfig {
    ConnectorConfig {
        retry: RetryConfig::disabled(),
        ..ConnectorConfig::new(url)
    }
}

/// A raw HTTP/1.1 peer: reads a request, then writes each of `writes` in its own write and closes.
async fn raw_server(writes: Vec<Vec<u8>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let writes = writes.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                for w in writes {
                    if s.write_all(&w).await.is_err() {
                        return;
                    }
                    let _ = s.flush().await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_long_body_with_a_length_comes_back_whole() {
    // 3 MB: far more than one read of the transport, so it arrives in many pieces.
    let body = Bytes::from(pattern(3 << 20));
    let served = body.clone();
    let server = CountingServer::start(move |_, _| {
        let b = served.clone();
        async move {
            http::Response::builder()
                .status(200)
                .header("content-type", "application/octet-stream")
                .body(Full::new(b))
                .unwrap()
        }
    })
    .await;
    let c = connected(config(server.url())).await;
    let r = c.get("/blob").await.unwrap();
    assert_eq!(r.data.len(), body.len());
    assert!(
        r.data == body,
        "the pieces came back out of order or changed"
    );
}

#[tokio::test]
async fn a_chunked_body_comes_back_whole() {
    // Five chunks written one by one, with no length given.
    let body = pattern(5 * 700_000);
    let mut writes = vec![
        b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            .to_vec(),
    ];
    for piece in body.chunks(700_000) {
        let mut w = format!("{:x}\r\n", piece.len()).into_bytes();
        w.extend_from_slice(piece);
        w.extend_from_slice(b"\r\n");
        writes.push(w);
    }
    writes.push(b"0\r\n\r\n".to_vec());
    let c = connected(config(raw_server(writes).await)).await;
    let r = c.get("/chunked").await.unwrap();
    assert_eq!(r.data.len(), body.len());
    assert!(
        r.data[..] == body[..],
        "the chunks came back out of order or changed"
    );
}

#[tokio::test]
async fn an_empty_body_is_empty() {
    let writes =
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()];
    let c = connected(config(raw_server(writes).await)).await;
    let r = c.get("/empty").await.unwrap();
    assert_eq!(r.status.as_u16(), 200);
    assert!(r.data.is_empty());
}

#[tokio::test]
async fn a_body_shorter_than_declared_is_an_error() {
    // Two pieces of a body that declares a megabyte, then the connection closes.
    let writes = vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\nconnection: close\r\n\r\n".to_vec(),
        pattern(100_000),
        pattern(100_000),
    ];
    let c = connected(config(raw_server(writes).await)).await;
    let e = c.get("/short").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
    assert!(e.is_retryable(), "{e}");
}
