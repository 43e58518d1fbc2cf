//! Streaming responses against a hand-written HTTP/1.1 server on loopback that writes raw bytes with
//! pauses: server-sent events and NDJSON split at awkward boundaries, dropped connections and
//! reconnects, cancellation, backpressure, retries and timeouts before the body.

mod support;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use connector_runtime::config::RateLimitConfig;
use connector_runtime::stream::Event;
use connector_runtime::{
    CancellationToken, ConnectorConfig, ErrorCode, HookType, Method, RequestOptions, hook_fn,
};
use futures_util::StreamExt;
use support::{LATE, PATIENCE, connected, fast_retry, within};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const SSE_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";
const NDJSON_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n";

/// What the server saw of one connection.
#[derive(Clone, Debug)]
struct Conn {
    at: Instant,
    head: String,
}

/// A server that hands each accepted connection, after reading its request head, to `script(index,
/// head, socket)`. Its send buffer is small, so what it manages to write tracks what the client reads.
struct RawServer {
    addr: SocketAddr,
    conns: Arc<Mutex<Vec<Conn>>>,
    task: tokio::task::JoinHandle<()>,
}

impl RawServer {
    async fn start<F, Fut>(script: F) -> RawServer
    where
        F: Fn(usize, String, TcpStream) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_send_buffer_size(64 * 1024).unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener = socket.listen(64).unwrap();
        let addr = listener.local_addr().unwrap();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let seen = conns.clone();
        let script = Arc::new(script);
        let task = tokio::spawn(async move {
            let mut index = 0;
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let at = Instant::now();
                let (seen, script) = (seen.clone(), script.clone());
                let i = index;
                index += 1;
                tokio::spawn(async move {
                    let head = read_head(&mut stream).await;
                    seen.lock().unwrap().push(Conn {
                        at,
                        head: head.clone(),
                    });
                    script(i, head, stream).await;
                });
            }
        });
        RawServer { addr, conns, task }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn conns(&self) -> Vec<Conn> {
        self.conns.lock().unwrap().clone()
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).to_lowercase()
}

/// One HTTP chunk in its own TCP write, then a pause so the next write arrives separately.
async fn chunk(s: &mut TcpStream, data: &[u8]) -> std::io::Result<()> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    s.write_all(&out).await?;
    s.flush().await?;
    tokio::time::sleep(Duration::from_millis(15)).await;
    Ok(())
}

async fn end(s: &mut TcpStream) {
    let _ = s.write_all(b"0\r\n\r\n").await;
    let _ = s.flush().await;
}

/// Wait until the client closes the connection (a read gives EOF or fails).
async fn until_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 256];
    while let Ok(n) = s.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}

fn config(url: &str) -> ConnectorConfig {
    ConnectorConfig {
        retry: fast_retry(3),
        ..ConnectorConfig::new(url)
    }
}

fn get(path: &str) -> RequestOptions {
    RequestOptions::new(Method::GET, path)
}

#[tokio::test]
async fn sse_split_at_awkward_boundaries_over_tcp() {
    let server = RawServer::start(|_, _, mut s| async move {
        s.write_all(SSE_HEAD).await.unwrap();
        let pieces: Vec<&[u8]> = vec![
            b"\xEF\xBB",                     // BOM cut in two,
            b"\xBFev",                       // then a field name cut
            b"ent: greeting\r",              // CR ...
            b"\n: a comment\ndata: hel",     // ... LF in the next write; a comment
            b"lo\r\ndata: w\xC3",            // inside a two-byte character
            b"\xB6rld\r\nid: 1\r\nretry: 1", // retry value cut
            b"500\n\n",
            b"data: {\"n\":2}\n",
            b"\n",
            b"data: [DONE]\n\n",
            b"data: never delivered\n\n",
        ];
        for p in pieces {
            chunk(&mut s, p).await.unwrap();
        }
        // Keep the connection open: the client must stop at [DONE] on its own.
        until_closed(&mut s).await;
    })
    .await;
    let c = connected(config(&server.url())).await;
    let resp = c.request_stream(get("/events")).await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(
        resp.headers["content-type"], "text/event-stream",
        "headers are there before the body"
    );
    let mut events = resp.events();
    let mut got = Vec::new();
    let all = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = events.next().await {
            got.push(e.unwrap());
        }
    })
    .await;
    assert!(all.is_ok(), "the stream ends at [DONE], got {got:?}");
    assert_eq!(
        got,
        vec![
            Event {
                event: "greeting".into(),
                data: "hello\nwörld".into(),
                id: Some("1".into())
            },
            Event {
                event: "message".into(),
                data: "{\"n\":2}".into(),
                id: Some("1".into())
            },
        ]
    );
    assert_eq!(events.retry(), Some(Duration::from_millis(1500)));
    assert_eq!(events.last_event_id(), Some("1"));
}

#[tokio::test]
async fn typed_sse_and_ndjson_over_tcp() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Tick {
        n: u32,
    }
    let server = RawServer::start(|i, _, mut s| async move {
        if i == 0 {
            s.write_all(SSE_HEAD).await.unwrap();
            for p in [
                &b"data: {\"n\""[..],
                b":1}\n\ndata: {\"n\":",
                b"\"oops\"}\n\ndata: {\"n\":3}\n\n",
            ] {
                chunk(&mut s, p).await.unwrap();
            }
        } else {
            s.write_all(NDJSON_HEAD).await.unwrap();
            for p in [&b"{\"n\":1}\n{\"n\""[..], b":2}\r", b"\n\n   \n{\"n\":3}"] {
                chunk(&mut s, p).await.unwrap();
            }
        }
        end(&mut s).await;
        until_closed(&mut s).await;
    })
    .await;
    let c = connected(config(&server.url())).await;
    let got: Vec<_> = c
        .request_stream(get("/sse"))
        .await
        .unwrap()
        .sse::<Tick>()
        .collect()
        .await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[0].as_ref().unwrap().data, Tick { n: 1 });
    let e = got[1].as_ref().unwrap_err();
    assert_eq!(e.code(), ErrorCode::ParsingError);
    assert_eq!(&e.raw_body().unwrap()[..], b"{\"n\":\"oops\"}");
    assert_eq!(got[2].as_ref().unwrap().data, Tick { n: 3 });

    let got: Vec<Tick> = c
        .request_stream(get("/ndjson"))
        .await
        .unwrap()
        .ndjson::<Tick>()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(got, vec![Tick { n: 1 }, Tick { n: 2 }, Tick { n: 3 }]);
    assert_eq!(server.conns().len(), 2, "one request each, no retry");
}

#[tokio::test]
async fn dropped_connection_is_network_error_with_the_last_id() {
    let server = RawServer::start(|i, _, mut s| async move {
        s.write_all(SSE_HEAD).await.unwrap();
        let first: &[u8] = if i == 0 {
            b"id: 1\ndata: a\n\nid: 2\ndata: b\n\ndata: par"
        } else {
            b"data: a\n\ndata: par"
        };
        chunk(&mut s, first).await.unwrap();
        // Close without the last chunk: the body is cut short.
    })
    .await;
    let c = connected(config(&server.url())).await;
    let got: Vec<_> = c
        .request_stream(get("/events").endpoint("/events"))
        .await
        .unwrap()
        .events()
        .collect()
        .await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[1].as_ref().unwrap().data, "b");
    let e = got[2].as_ref().unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(e.details()["last_event_id"], "2");
    assert_eq!(e.endpoint(), Some("/events"));
    assert!(e.request_id().is_some());

    let got: Vec<_> = c
        .request_stream(get("/events"))
        .await
        .unwrap()
        .events()
        .collect()
        .await;
    let e = got[1].as_ref().unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError);
    assert!(!e.is_retryable(), "no id: nothing to resume from");
    assert_eq!(
        server.conns().len(),
        2,
        "a body error is not retried by the pipeline"
    );
}

#[tokio::test]
async fn event_source_reconnects_with_last_event_id_after_the_retry_delay() {
    let server = RawServer::start(|i, head, mut s| async move {
        s.write_all(SSE_HEAD).await.unwrap();
        match i {
            0 => {
                chunk(
                    &mut s,
                    b"retry: 150\nid: 1\ndata: 1\n\nid: 2\ndata: 2\n\ndata: 9",
                )
                .await
                .unwrap();
            }
            _ => {
                assert!(head.contains("last-event-id: 2\r\n"), "{head}");
                chunk(&mut s, b"id: 3\ndata: 3\n\ndata: [DONE]\n\n")
                    .await
                    .unwrap();
                until_closed(&mut s).await;
            }
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let started = Instant::now();
    let mut es = c
        .sse::<u32>(get("/events"))
        .await
        .unwrap()
        // Were the server's `retry` ignored, this would exceed the test's time limit.
        .reconnect_delay(Duration::from_secs(60));
    let mut got = Vec::new();
    while let Some(e) = tokio::time::timeout(PATIENCE, es.next())
        .await
        .expect("the server's retry delay is used")
    {
        let e = e.unwrap();
        got.push((e.data, e.id));
    }
    assert_eq!(
        got,
        vec![
            (1, Some("1".into())),
            (2, Some("2".into())),
            (3, Some("3".into()))
        ]
    );
    assert_eq!(es.reconnects(), 1);
    let conns = server.conns();
    assert_eq!(conns.len(), 2);
    assert!(!conns[0].head.contains("last-event-id"));
    assert!(
        conns[1].head.contains("last-event-id: 2\r\n"),
        "{}",
        conns[1].head
    );
    let gap = conns[1].at - conns[0].at;
    assert!(gap >= Duration::from_millis(150), "waited {gap:?}");
    assert!(
        started.elapsed() < Duration::from_millis(150) + LATE,
        "{:?}: the server's 150 ms, not the 60 s set here",
        started.elapsed()
    );
}

#[tokio::test]
async fn event_source_gives_up_after_max_reconnects_without_events() {
    let server = RawServer::start(|_, _, mut s| async move {
        s.write_all(SSE_HEAD).await.unwrap();
        chunk(&mut s, b"retry: 20\n\ndata: never finished")
            .await
            .unwrap();
    })
    .await;
    let c = connected(config(&server.url())).await;
    let mut es = c
        .sse::<serde_json::Value>(get("/events"))
        .await
        .unwrap()
        .max_reconnects(2);
    let first = within("the stream to give up", es.next()).await;
    let e = first.unwrap().unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError);
    assert!(es.next().await.is_none());
    assert_eq!(es.reconnects(), 2);
    assert_eq!(
        server.conns().len(),
        3,
        "the first request and two reconnects"
    );
}

#[tokio::test]
async fn cancellation_stops_the_body_promptly_and_closes_the_connection() {
    // When the server saw the connection closed.
    let closed = tokio::sync::watch::channel(None::<Instant>).0;
    let closed2 = closed.clone();
    let server = RawServer::start(move |_, _, mut s| {
        let closed = closed2.clone();
        async move {
            s.write_all(SSE_HEAD).await.unwrap();
            let mut buf = [0u8; 64];
            let mut n = 0u64;
            loop {
                tokio::select! {
                    r = s.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { break },
                    _ = tokio::time::sleep(Duration::from_millis(50)) => {
                        n += 1;
                        if chunk(&mut s, format!("id: {n}\ndata: {n}\n\n").as_bytes()).await.is_err() {
                            break;
                        }
                    }
                }
            }
            closed.send_replace(Some(Instant::now()));
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let token = CancellationToken::new();
    let mut events = c
        .request_stream(get("/events").cancel(token.clone()))
        .await
        .unwrap()
        .events();
    assert_eq!(events.next().await.unwrap().unwrap().data, "1");
    assert_eq!(events.next().await.unwrap().unwrap().data, "2");
    let t = token.clone();
    // On this one thread the task runs only once the consumer below waits for the next event: the
    // token fires during that wait.
    tokio::spawn(async move { t.cancel() });
    let cancelled_at = loop {
        let next = tokio::time::timeout(PATIENCE, events.next());
        match next.await.expect("the stream ends once cancelled") {
            Some(Ok(_)) => continue,
            Some(Err(e)) => {
                assert_eq!(e.code(), ErrorCode::Cancelled, "{e:?}");
                break Instant::now();
            }
            None => panic!("the stream must end with CANCELLED"),
        }
    };
    assert!(token.is_cancelled());
    assert!(events.next().await.is_none());
    // The server sees the connection closed while the connector is still connected: the cancelled
    // stream let go of it.
    let mut closing = closed.subscribe();
    let at = within("the server to see the connection closed", async {
        closing.wait_for(Option::is_some).await.unwrap().unwrap()
    })
    .await;
    assert!(
        at.saturating_duration_since(cancelled_at) < LATE,
        "closed {:?} after cancellation",
        at.saturating_duration_since(cancelled_at)
    );
    let report = c.disconnect(Duration::from_millis(500)).await;
    assert_eq!(
        report.in_flight_at_start, 0,
        "the ended stream no longer counts"
    );
}

#[tokio::test]
async fn cancellation_ends_the_stream_promptly() {
    let server = RawServer::start(|_, _, mut s| async move {
        s.write_all(SSE_HEAD).await.unwrap();
        chunk(&mut s, b"data: first\n\n").await.unwrap();
        // Then a trickle that never completes an event, for as long as the client listens.
        loop {
            if chunk(&mut s, b": still here\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let token = CancellationToken::new();
    let mut events = c
        .request_stream(get("/events").cancel(token.clone()))
        .await
        .unwrap()
        .events();
    assert_eq!(events.next().await.unwrap().unwrap().data, "first");
    let t = token.clone();
    let fired = Arc::new(Mutex::new(None));
    let f = fired.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        *f.lock().unwrap() = Some(Instant::now());
        t.cancel();
    });
    // Nothing but the token can end this wait: the trickle never completes an event.
    let e = within("cancellation ends the wait", events.next())
        .await
        .unwrap()
        .unwrap_err();
    let took = fired.lock().unwrap().unwrap().elapsed();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert!(took < LATE, "took {took:?}");
}

#[tokio::test]
async fn disconnect_waits_for_open_streams_then_cancels_them() {
    let server = RawServer::start(|_, _, mut s| async move {
        s.write_all(SSE_HEAD).await.unwrap();
        chunk(&mut s, b"data: first\n\n").await.unwrap();
        until_closed(&mut s).await;
    })
    .await;
    let c = connected(config(&server.url())).await;
    let mut events = c.request_stream(get("/events")).await.unwrap().events();
    assert_eq!(events.next().await.unwrap().unwrap().data, "first");
    let reader = tokio::spawn(async move { events.next().await });
    let report = within(
        "disconnect ends the open stream at its deadline",
        c.disconnect(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(report.in_flight_at_start, 1, "an open stream is in flight");
    assert_eq!(report.cancelled, 1);
    let e = within("the stream ends when the deadline passes", reader)
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled);
    assert!(e.message().contains("disconnecting"), "{e}");
}

#[tokio::test]
async fn slow_consumer_holds_back_the_server() {
    const EVENTS: usize = 10_000;
    const DATA: usize = 16 * 1024;
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    let server = RawServer::start(move |_, _, mut s| {
        let written = w.clone();
        async move {
            s.write_all(SSE_HEAD).await.unwrap();
            let event = format!("data: {}\n\n", "x".repeat(DATA));
            let mut out = format!("{:x}\r\n", event.len()).into_bytes();
            out.extend_from_slice(event.as_bytes());
            out.extend_from_slice(b"\r\n");
            for _ in 0..EVENTS {
                if s.write_all(&out).await.is_err() {
                    return;
                }
                written.fetch_add(out.len(), Ordering::SeqCst);
            }
        }
    })
    .await;
    let c = connected(config(&server.url())).await;
    let mut events = c.request_stream(get("/firehose")).await.unwrap().events();
    for _ in 0..5 {
        let e = events.next().await.unwrap().unwrap();
        assert_eq!(e.data.len(), DATA);
        assert!(
            events.buffered_bytes() <= 256 * 1024,
            "the decoder holds at most one chunk: {}",
            events.buffered_bytes()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let total = EVENTS * (DATA + 20);
    let sent = written.load(Ordering::SeqCst);
    // What the server could write is what fits in socket and transport buffers, not the stream.
    assert!(
        sent < 16 * 1024 * 1024,
        "the server wrote {sent} of {total} bytes to a consumer that read 5 events"
    );
    // Reading on works: nothing was lost.
    for _ in 0..5 {
        assert_eq!(events.next().await.unwrap().unwrap().data.len(), DATA);
    }
}

#[tokio::test]
async fn a_503_before_the_stream_is_retried_then_the_stream_is_delivered_once() {
    let server = RawServer::start(|i, _, mut s| async move {
        if i == 0 {
            s.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\nconnection: close\r\n\r\nbusy")
                .await
                .unwrap();
            return;
        }
        s.write_all(SSE_HEAD).await.unwrap();
        chunk(&mut s, b"data: 1\n\n").await.unwrap();
        chunk(&mut s, b"data: 2\n\ndata: [DONE]\n\n").await.unwrap();
        until_closed(&mut s).await;
    })
    .await;
    let seen: Arc<Mutex<Vec<(u16, usize)>>> = Arc::default();
    let before = Arc::new(AtomicUsize::new(0));
    let (s2, b2) = (seen.clone(), before.clone());
    let c = connector_runtime::Connector::builder(config(&server.url()))
        .hook(
            HookType::BeforeRequest,
            hook_fn("count", 0, move |_| {
                b2.fetch_add(1, Ordering::SeqCst);
                Ok(())
            }),
        )
        .hook(
            HookType::AfterResponse,
            hook_fn("observe", 0, move |ctx| {
                let r = ctx.response().unwrap();
                s2.lock().unwrap().push((r.status.as_u16(), r.body.len()));
                Ok(())
            }),
        )
        .build()
        .unwrap();
    c.connect().await.unwrap();
    let resp = c.request_stream(get("/events")).await.unwrap();
    assert_eq!(resp.meta.retry_count, 1);
    let got: Vec<u32> = resp.sse::<u32>().map(|r| r.unwrap().data).collect().await;
    assert_eq!(got, vec![1, 2]);
    assert_eq!(server.conns().len(), 2);
    assert_eq!(before.load(Ordering::SeqCst), 2);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(503, 4), (200, 0)],
        "afterResponse sees the error body, and the stream's headers with an empty body"
    );
}

#[tokio::test]
async fn error_status_is_buffered_into_the_usual_error() {
    let server = RawServer::start(|_, _, mut s| async move {
        s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 17\r\nconnection: close\r\n\r\n{\"error\":\"nope\"}\n")
            .await
            .unwrap();
    })
    .await;
    let c = connected(config(&server.url())).await;
    let e = c.request_stream(get("/events")).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert_eq!(e.status().unwrap(), 404);
    assert_eq!(&e.raw_body().unwrap()[..], b"{\"error\":\"nope\"}\n");
}

#[tokio::test]
async fn the_timeout_covers_the_headers_only() {
    let server = RawServer::start(|i, _, mut s| async move {
        if i == 0 {
            // No headers until the client gives up: TIMEOUT.
            until_closed(&mut s).await;
            return;
        }
        s.write_all(SSE_HEAD).await.unwrap();
        // A body that takes over twice the timeout, with a pause shorter than it between events.
        for n in 0..6 {
            chunk(&mut s, format!("data: {n}\n\n").as_bytes())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(400)).await;
        }
        end(&mut s).await;
    })
    .await;
    let mut cfg = config(&server.url());
    cfg.retry = fast_retry(1);
    let c = connected(cfg).await;
    // A second for the headers, which the second server sends at once.
    const TIMEOUT: Duration = Duration::from_secs(1);
    let opts = || get("/events").timeout(TIMEOUT);
    let started = Instant::now();
    let e = c.request_stream(opts()).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout);
    assert!(started.elapsed() >= TIMEOUT, "{:?}", started.elapsed());
    let started = Instant::now();
    let got: Vec<String> = c
        .request_stream(opts())
        .await
        .unwrap()
        .events()
        .map(|r| r.unwrap().data)
        .collect()
        .await;
    assert_eq!(got, vec!["0", "1", "2", "3", "4", "5"]);
    assert!(started.elapsed() > 2 * TIMEOUT, "{:?}", started.elapsed());
}

#[tokio::test]
async fn the_rate_limit_slot_is_released_when_the_headers_arrive() {
    let server = RawServer::start(|i, _, mut s| async move {
        if i == 0 {
            s.write_all(SSE_HEAD).await.unwrap();
            chunk(&mut s, b"data: open\n\n").await.unwrap();
            until_closed(&mut s).await;
        } else {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
                .await;
        }
    })
    .await;
    let mut cfg = config(&server.url());
    cfg.rate_limit = RateLimitConfig {
        concurrent_requests: 1,
        max_queue: 0,
        ..RateLimitConfig::default()
    };
    let c = connected(cfg).await;
    let mut events = c.request_stream(get("/events")).await.unwrap().events();
    assert_eq!(events.next().await.unwrap().unwrap().data, "open");
    // With the stream still open, the one slot is free: a queue of 0 would refuse a second caller.
    let r = within("the second call", c.get("/other")).await;
    assert_eq!(r.unwrap().status, 200);
    drop(events);
}
