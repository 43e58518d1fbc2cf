//! What the blob suites share: one running emulator per provider with the store configurations for
//! it (right and wrong credentials), deterministic data, and a TCP proxy that cuts a download short.
#![allow(dead_code)]

pub mod emulators;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::Bytes;
use connector_blob::{BlobConfig, BlobStore, Credentials, Provider};
use futures_util::{Stream, StreamExt, stream};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A running emulator of one provider.
pub enum Emulator {
    /// moto, IAM authentication on.
    S3(emulators::Moto),
    /// Azurite, Shared Key signatures checked.
    Azure(emulators::Azurite),
    /// fake-gcs-server (checks no credentials).
    Gcs(emulators::FakeGcs),
}

impl Emulator {
    /// Start the emulator of `provider`.
    pub fn start(provider: Provider) -> Emulator {
        let started = match provider {
            Provider::S3 => emulators::moto().map(Emulator::S3),
            Provider::Azure => emulators::azurite().map(Emulator::Azure),
            Provider::Gcs => emulators::fake_gcs().map(Emulator::Gcs),
        };
        started.unwrap_or_else(|e| panic!("the {provider} emulator did not start: {e}"))
    }

    /// The emulator's endpoint.
    pub fn endpoint(&self) -> String {
        match self {
            Emulator::S3(m) => m.endpoint.clone(),
            Emulator::Azure(a) => a.endpoint.clone(),
            Emulator::Gcs(g) => g.endpoint.clone(),
        }
    }

    /// The URL scheme of the provider.
    pub fn url(&self, bucket: &str) -> String {
        match self {
            Emulator::S3(_) => format!("s3://{bucket}"),
            Emulator::Azure(_) => format!("az://{bucket}"),
            Emulator::Gcs(_) => format!("gs://{bucket}"),
        }
    }

    /// A configuration of `bucket` at `endpoint` (the emulator's, or a proxy's in front of it)
    /// with the right credentials, or with a wrong secret when `wrong_key`.
    pub fn config_at(&self, bucket: &str, endpoint: &str, wrong_key: bool) -> BlobConfig {
        let mut c = BlobConfig::new(&self.url(bucket))
            .unwrap()
            .endpoint(endpoint);
        c.credentials = match self {
            Emulator::S3(m) => {
                c.region = Some(m.region.clone());
                Credentials::AwsKeys {
                    access_key_id: m.access_key_id.clone(),
                    secret_access_key: SecretString::from(if wrong_key {
                        "not-the-secret".to_owned()
                    } else {
                        m.secret_access_key.clone()
                    }),
                    session_token: None,
                }
            }
            Emulator::Azure(a) => Credentials::AzureSharedKey {
                account: a.account.clone(),
                key: SecretString::from(if wrong_key {
                    "d3Jvbmcga2V5IGJ5dGVzIGZvciBhIHRlc3Q=".to_owned()
                } else {
                    a.key.clone()
                }),
            },
            Emulator::Gcs(_) => Credentials::Anonymous,
        };
        // Retries quick enough for a test, still through the runtime's policy.
        c.runtime.retry.initial_delay_ms = 50;
        c.runtime.retry.max_delay_ms = 500;
        c
    }

    /// [`Emulator::config_at`] the emulator itself, right credentials.
    pub fn config(&self, bucket: &str) -> BlobConfig {
        self.config_at(bucket, &self.endpoint(), false)
    }

    /// An opened store of a new bucket.
    pub async fn fresh_store(&self, bucket: &str) -> BlobStore {
        let store = BlobStore::open(self.config(bucket)).await.unwrap();
        store
            .create_container(connector_blob::PublicAccess::None)
            .await
            .unwrap_or_else(|e| panic!("creating {bucket}: {e}"));
        store
    }
}

/// `len` pseudo-random bytes from `seed`, as 1 MiB chunks generated while read (never all held).
pub fn data(seed: u64, len: u64) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    const CHUNK: u64 = 1 << 20;
    stream::unfold((0u64, seed | 1), move |(done, mut state)| async move {
        if done >= len {
            return None;
        }
        let n = CHUNK.min(len - done) as usize;
        let mut buf = vec![0u8; n];
        for word in buf.chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let bytes = state.to_le_bytes();
            word.copy_from_slice(&bytes[..word.len()]);
        }
        Some((Ok(Bytes::from(buf)), (done + n as u64, state)))
    })
}

/// The bytes of [`data`] in memory (for small objects).
pub async fn data_bytes(seed: u64, len: u64) -> Bytes {
    let mut out = Vec::new();
    let mut s = std::pin::pin!(data(seed, len));
    while let Some(c) = s.next().await {
        out.extend_from_slice(&c.unwrap());
    }
    out.into()
}

/// SHA-256 of a stream's bytes, and their count.
pub async fn digest<S, E>(stream: S) -> Result<(Vec<u8>, u64), E>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut n = 0u64;
    let mut s = std::pin::pin!(stream);
    while let Some(chunk) = s.next().await {
        let chunk = chunk?;
        n += chunk.len() as u64;
        ctx.update(&chunk);
    }
    Ok((ctx.finish().as_ref().to_vec(), n))
}

/// A TCP proxy on loopback in front of `upstream` (`host:port`). Once armed with a marker, the
/// first request whose head contains the marker has its answer cut after `after` bytes: the
/// connection is closed mid-body, as a dropped network would. Armed with [`CuttingProxy::refuse`],
/// the first GET whose head contains the marker is answered `503` by the proxy itself.
pub struct CuttingProxy {
    /// `http://127.0.0.1:port`.
    pub endpoint: String,
    armed: Arc<std::sync::Mutex<Option<(String, usize)>>>,
    refusing: Arc<std::sync::Mutex<Option<String>>>,
    /// Requests answered 503 by the proxy so far.
    pub refused: Arc<AtomicUsize>,
    /// Connections cut so far.
    pub cuts: Arc<AtomicUsize>,
    /// Requests whose head contained an armed marker, cut or not.
    pub matched: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl CuttingProxy {
    /// Listen on a free port and forward to `upstream`.
    pub async fn start(upstream: &str) -> CuttingProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let proxy = CuttingProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            armed: Arc::new(std::sync::Mutex::new(None)),
            refusing: Arc::new(std::sync::Mutex::new(None)),
            refused: Arc::new(AtomicUsize::new(0)),
            cuts: Arc::new(AtomicUsize::new(0)),
            matched: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (armed, cuts, matched, stop) = (
            proxy.armed.clone(),
            proxy.cuts.clone(),
            proxy.matched.clone(),
            proxy.stop.clone(),
        );
        let (refusing, refused) = (proxy.refusing.clone(), proxy.refused.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let upstream = upstream.clone();
                let plan = Plan {
                    armed: armed.clone(),
                    cuts: cuts.clone(),
                    matched: matched.clone(),
                    refusing: refusing.clone(),
                    refused: refused.clone(),
                };
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, plan).await;
                    }
                });
            }
        });
        proxy
    }

    /// Cut the answer to the next request whose head contains `marker` after `after` bytes.
    pub fn arm(&self, marker: &str, after: usize) {
        *self.armed.lock().unwrap() = Some((marker.to_owned(), after));
    }

    /// Answer the next GET whose head contains `marker` with `503 Service Unavailable`.
    pub fn refuse(&self, marker: &str) {
        *self.refusing.lock().unwrap() = Some(marker.to_owned());
    }

    /// Whether an armed cut is still waiting for its request.
    pub fn pending(&self) -> bool {
        self.armed.lock().unwrap().is_some()
    }
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What the proxy does to the requests it relays.
struct Plan {
    armed: Arc<std::sync::Mutex<Option<(String, usize)>>>,
    cuts: Arc<AtomicUsize>,
    matched: Arc<AtomicUsize>,
    refusing: Arc<std::sync::Mutex<Option<String>>>,
    refused: Arc<AtomicUsize>,
}

async fn relay(client: TcpStream, server: TcpStream, plan: Plan) {
    let Plan {
        armed,
        cuts,
        matched,
        refusing,
        refused,
    } = plan;
    let (mut cr, cw) = client.into_split();
    // Both directions write to the client: the proxy's own 503s and the server's answers.
    let cw = Arc::new(tokio::sync::Mutex::new(cw));
    let up_cw = cw.clone();
    let (mut sr, mut sw) = server.into_split();
    // Budget of answer bytes left on this connection before the cut (None: no cut pending).
    let budget: Arc<std::sync::Mutex<Option<usize>>> = Arc::new(std::sync::Mutex::new(None));
    let up_budget = budget.clone();
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let head = String::from_utf8_lossy(&buf[..n.min(4096)]).into_owned();
            let refuse = {
                let mut r = refusing.lock().unwrap();
                let hit = r
                    .as_ref()
                    .is_some_and(|m| head.starts_with("GET ") && head.contains(m.as_str()));
                if hit {
                    *r = None;
                }
                hit
            };
            if refuse {
                refused.fetch_add(1, Ordering::SeqCst);
                let answer = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
                if up_cw.lock().await.write_all(answer).await.is_err() {
                    break;
                }
                continue;
            }
            {
                let mut a = armed.lock().unwrap();
                if let Some((marker, after)) = a.as_ref() {
                    if head.starts_with("GET ") && head.contains(marker.as_str()) {
                        matched.fetch_add(1, Ordering::SeqCst);
                        *up_budget.lock().unwrap() = Some(*after);
                        *a = None;
                    }
                }
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = sw.shutdown().await;
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match sr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let left = budget.lock().unwrap().take();
            let send = match left {
                Some(left) if left <= n => {
                    let _ = cw.lock().await.write_all(&buf[..left]).await;
                    cuts.fetch_add(1, Ordering::SeqCst);
                    return;
                }
                Some(left) => {
                    *budget.lock().unwrap() = Some(left - n);
                    n
                }
                None => n,
            };
            if cw.lock().await.write_all(&buf[..send]).await.is_err() {
                break;
            }
        }
        let _ = cw.lock().await.shutdown().await;
    };
    // When the answer is cut, the whole connection goes: both halves are dropped.
    tokio::select! {
        _ = up => {}
        _ = down => {}
    }
}
