//! The blob behaviour suite: the same checks against moto (S3, IAM authentication on), Azurite
//! (Shared Key checked) and fake-gcs-server, each started on a free loopback port by the test and
//! stopped after it. Each provider's checks run in order and are reported as one table row each;
//! the test fails when any check fails.

mod support;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::OnceLock;

use bytes::Bytes;
use connector_blob::{
    Acl, BlobStore, Condition, Credentials, Entry, ListOptions, Provider, PublicAccess,
    WriteOptions,
};
use connector_runtime::{AuthStrategy, AwsSigV4, Connector, ConnectorConfig, ErrorCode, Method};
use futures_util::{StreamExt, TryStreamExt, stream};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use support::{CuttingProxy, Emulator, data, data_bytes, digest};

const MIB: u64 = 1 << 20;

/// One process-wide recorder: the three providers' tests read their own labels from it.
fn snapshotter() -> &'static Snapshotter {
    static S: OnceLock<Snapshotter> = OnceLock::new();
    S.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let s = recorder.snapshotter();
        metrics::set_global_recorder(recorder).expect("the only recorder of this binary");
        s
    })
}

/// Every counter series seen so far, summed over snapshots (a snapshot drains the recorder, and
/// the three providers' tests read it concurrently): name and labels to total.
type Totals = std::sync::Mutex<BTreeMap<(String, Vec<(String, String)>), u64>>;

fn totals() -> &'static Totals {
    static T: OnceLock<Totals> = OnceLock::new();
    T.get_or_init(Default::default)
}

/// The sum of a counter's series whose labels include every pair of `labels`.
fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    let mut totals = totals().lock().unwrap();
    for (k, _, _, v) in snapshotter().snapshot().into_vec() {
        if let DebugValue::Counter(n) = v {
            let key = k.key();
            let labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            *totals.entry((key.name().to_owned(), labels)).or_default() += n;
        }
    }
    totals
        .iter()
        .filter(|((n, ls), _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|(_, v)| *v)
        .sum()
}

/// What one check found.
enum Outcome {
    Passed(String),
    Failed(String),
    /// The emulator cannot show this (said why); neither passed nor failed.
    NotShown(String),
}

struct Report {
    provider: Provider,
    rows: Vec<(&'static str, Outcome, u128)>,
}

impl Report {
    async fn check<F>(&mut self, name: &'static str, f: F)
    where
        F: Future<Output = Result<String, String>>,
    {
        let started = std::time::Instant::now();
        let outcome = match f.await {
            Ok(detail) if detail.starts_with("n/a: ") => Outcome::NotShown(detail[5..].to_owned()),
            Ok(detail) => Outcome::Passed(detail),
            Err(e) => Outcome::Failed(e),
        };
        let ms = started.elapsed().as_millis();
        let (mark, text) = match &outcome {
            Outcome::Passed(d) => ("pass", d),
            Outcome::Failed(e) => ("FAIL", e),
            Outcome::NotShown(w) => ("n/a", w),
        };
        println!("[{}] {mark} {name} ({ms} ms): {text}", self.provider);
        self.rows.push((name, outcome, ms));
    }

    fn finish(self) {
        println!(
            "\n| {} check | result | ms |\n|---|---|---:|",
            self.provider
        );
        for (name, outcome, ms) in &self.rows {
            let text = match outcome {
                Outcome::Passed(d) => format!("pass: {d}"),
                Outcome::Failed(e) => format!("**FAIL**: {e}"),
                Outcome::NotShown(w) => format!("not shown: {w}"),
            };
            println!("| {name} | {} | {ms} |", text.replace('|', "\\|"));
        }
        let failed: Vec<_> = self
            .rows
            .iter()
            .filter(|(_, o, _)| matches!(o, Outcome::Failed(_)))
            .map(|(n, _, _)| *n)
            .collect();
        assert!(
            failed.is_empty(),
            "{} checks failed: {failed:?}",
            self.provider
        );
    }
}

fn ensure(ok: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what()) }
}

fn expect_code<T: std::fmt::Debug>(
    result: Result<T, connector_runtime::Error>,
    code: ErrorCode,
    what: &str,
) -> Result<String, String> {
    match result {
        Err(e) if e.code() == code => Ok(format!("{what}: {}", code.as_str())),
        Err(e) => Err(format!(
            "{what}: expected {}, got {}: {e}",
            code.as_str(),
            e.code().as_str()
        )),
        Ok(v) => Err(format!(
            "{what}: expected {}, got success {v:?}",
            code.as_str()
        )),
    }
}

fn e2s(e: connector_runtime::Error) -> String {
    format!("{} {e}", e.code().as_str())
}

async fn suite(provider: Provider) {
    snapshotter();
    let emu = Emulator::start(provider);
    let bucket = "suite";
    let store = emu.fresh_store(bucket).await;
    let mut r = Report {
        provider,
        rows: Vec::new(),
    };

    r.check("create bucket again (idempotent)", async {
        store
            .create_container(PublicAccess::None)
            .await
            .map_err(e2s)?;
        Ok("second create accepted".into())
    })
    .await;

    r.check("empty object round trip", async {
        let w = store
            .write("empty", Bytes::new(), WriteOptions::default())
            .await
            .map_err(e2s)?;
        let info = store.stat("empty").await.map_err(e2s)?;
        let back = store.read("empty").await.map_err(e2s)?;
        ensure(info.size == 0 && back.is_empty() && !w.multipart, || {
            format!("size {} read {} bytes", info.size, back.len())
        })?;
        Ok("0 bytes written, stat 0, read 0".into())
    })
    .await;

    r.check("small object, content type and metadata", async {
        let options = WriteOptions {
            content_type: Some("text/plain".into()),
            metadata: BTreeMap::from([("owner".to_owned(), "suite".to_owned())]),
            ..Default::default()
        };
        store
            .write(
                "docs/small.txt",
                Bytes::from_static(b"hello, blob"),
                options,
            )
            .await
            .map_err(e2s)?;
        let info = store.stat("docs/small.txt").await.map_err(e2s)?;
        ensure(info.size == 11, || format!("size {}", info.size))?;
        ensure(info.content_type.as_deref() == Some("text/plain"), || {
            format!("content type {:?}", info.content_type)
        })?;
        ensure(
            info.metadata.get("owner").map(String::as_str) == Some("suite"),
            || format!("metadata {:?}", info.metadata),
        )?;
        ensure(info.etag.is_some(), || "no etag".into())?;
        let back = store.read("docs/small.txt").await.map_err(e2s)?;
        ensure(&back[..] == b"hello, blob", || format!("read {back:?}"))?;
        Ok(format!(
            "etag {}, last modified {}",
            info.etag.unwrap_or_default(),
            info.last_modified
        ))
    })
    .await;

    r.check("streamed 24 MiB round trip (multipart)", async {
        let (want, _) = digest(data(7, 24 * MIB)).await.map_err(|e| e.to_string())?;
        let w = store
            .write_stream("big/24m", data(7, 24 * MIB), WriteOptions::default())
            .await
            .map_err(e2s)?;
        ensure(w.multipart && w.size == 24 * MIB, || format!("{w:?}"))?;
        let reader = store.read_stream("big/24m").await.map_err(e2s)?;
        let (got, n) = digest(reader).await.map_err(e2s)?;
        ensure(got == want && n == 24 * MIB, || {
            format!("{n} bytes read back, digest differs: {}", got != want)
        })?;
        // A GCS composite upload leaves none of its parts behind.
        let leftovers: Vec<Entry> = store
            .list(ListOptions {
                prefix: connector_blob::gcs::PARTS.into(),
                ..Default::default()
            })
            .try_collect()
            .await
            .map_err(e2s)?;
        ensure(leftovers.is_empty(), || {
            format!("{} parts left", leftovers.len())
        })?;
        Ok(format!(
            "{} parts' upload, SHA-256 equal",
            (24 * MIB).div_ceil(8 * MIB)
        ))
    })
    .await;

    r.check("ranges", async {
        let all = data_bytes(11, 100_000).await;
        store
            .write("docs/range.bin", all.clone(), WriteOptions::default())
            .await
            .map_err(e2s)?;
        let mid = store
            .read_range("docs/range.bin", 10..20)
            .await
            .map_err(e2s)?;
        ensure(mid == all.slice(10..20), || {
            format!("10..20 gave {} bytes", mid.len())
        })?;
        let tail = store
            .read_range("docs/range.bin", 99_990..100_000)
            .await
            .map_err(e2s)?;
        ensure(tail == all.slice(99_990..), || {
            format!("tail gave {} bytes", tail.len())
        })?;
        Ok("10..20 and the last 10 bytes equal".into())
    })
    .await;

    r.check("listing 2,500 keys across pages", async {
        let keys: Vec<String> = (0..2500).map(|i| format!("list/{i:04}")).collect();
        stream::iter(keys.iter().cloned())
            .map(|k| {
                let store = store.clone();
                async move {
                    store
                        .write(&k, Bytes::from_static(b"x"), WriteOptions::default())
                        .await
                }
            })
            .buffer_unordered(16)
            .try_collect::<Vec<_>>()
            .await
            .map_err(e2s)?;
        for k in ["list/sub/a", "list/sub/b"] {
            store
                .write(k, Bytes::from_static(b"y"), WriteOptions::default())
                .await
                .map_err(e2s)?;
        }
        let pages: Vec<Vec<Entry>> = store
            .list_pages(ListOptions {
                prefix: "list/".into(),
                page_size: Some(1000),
                ..Default::default()
            })
            .try_collect()
            .await
            .map_err(e2s)?;
        let total: usize = pages.iter().map(Vec::len).sum();
        ensure(pages.len() >= 3 && total == 2502, || {
            format!("{} pages, {total} entries", pages.len())
        })?;
        let listed: Vec<Entry> = store
            .list(ListOptions {
                prefix: "list/".into(),
                delimiter: Some("/".into()),
                page_size: Some(1000),
            })
            .try_collect()
            .await
            .map_err(e2s)?;
        let objects = listed
            .iter()
            .filter(|e| matches!(e, Entry::Object(_)))
            .count();
        let prefixes: Vec<&String> = listed
            .iter()
            .filter_map(|e| match e {
                Entry::Prefix(p) => Some(p),
                _ => None,
            })
            .collect();
        ensure(objects == 2500 && prefixes == ["list/sub/"], || {
            format!("{objects} objects, prefixes {prefixes:?}")
        })?;
        let first = listed.iter().find_map(|e| match e {
            Entry::Object(o) => Some(o.key.clone()),
            _ => None,
        });
        ensure(first.as_deref() == Some("list/0000"), || {
            format!("first key {first:?}")
        })?;
        Ok(format!(
            "{} pages of at most 1,000 ({total} keys); with `/`: 2,500 objects and `list/sub/`",
            pages.len()
        ))
    })
    .await;

    r.check("batch delete of 1,000 keys", async {
        let keys: Vec<String> = (0..1000).map(|i| format!("list/{i:04}")).collect();
        let report = store.delete_many(&keys).await.map_err(e2s)?;
        ensure(report.deleted == 1000 && report.failed.is_empty(), || {
            format!(
                "deleted {}, failed {:?}",
                report.deleted,
                report.failed.first()
            )
        })?;
        let left: Vec<Entry> = store
            .list(ListOptions {
                prefix: "list/0".into(),
                ..Default::default()
            })
            .try_collect()
            .await
            .map_err(e2s)?;
        ensure(left.is_empty(), || {
            format!("{} left under list/0", left.len())
        })?;
        Ok("1,000 deleted, none listed after".into())
    })
    .await;

    r.check("conditional writes lose the race with CONFLICT", async {
        let first = store
            .write("cond", Bytes::from_static(b"v1"), WriteOptions::default())
            .await
            .map_err(e2s)?;
        let etag = first.etag.clone().ok_or("no etag on write")?;
        let again = store
            .write(
                "cond",
                Bytes::from_static(b"v1 again"),
                WriteOptions {
                    condition: Condition::IfNotExists,
                    ..Default::default()
                },
            )
            .await;
        let create = expect_code(
            again,
            ErrorCode::Conflict,
            "if-none-match on an existing key",
        )?;
        // Two writers read the same version; the first commit wins, the second loses.
        let a = store
            .write(
                "cond",
                Bytes::from_static(b"writer a"),
                WriteOptions {
                    condition: Condition::IfMatch(etag.clone()),
                    ..Default::default()
                },
            )
            .await
            .map_err(e2s)?;
        let b = store
            .write(
                "cond",
                Bytes::from_static(b"writer b"),
                WriteOptions {
                    condition: Condition::IfMatch(etag),
                    ..Default::default()
                },
            )
            .await;
        let lost = expect_code(b, ErrorCode::Conflict, "if-match on a stale etag")?;
        let now = store.read("cond").await.map_err(e2s)?;
        ensure(&now[..] == b"writer a" && a.etag.is_some(), || {
            format!("content {now:?}")
        })?;
        Ok(format!("{create}; {lost}; the winner's bytes kept"))
    })
    .await;

    r.check("copy", async {
        store
            .copy("docs/small.txt", "docs/copy.txt", true)
            .await
            .map_err(e2s)?;
        let back = store.read("docs/copy.txt").await.map_err(e2s)?;
        ensure(&back[..] == b"hello, blob", || {
            format!("copy read {back:?}")
        })?;
        let no_clobber = store.copy("docs/range.bin", "docs/copy.txt", false).await;
        let detail = expect_code(
            no_clobber,
            ErrorCode::Conflict,
            "copy onto an existing key without overwrite",
        )?;
        let still = store.read("docs/copy.txt").await.map_err(e2s)?;
        ensure(&still[..] == b"hello, blob", || {
            "the refused copy changed the target".into()
        })?;
        Ok(format!("copied and read back; {detail}"))
    })
    .await;

    r.check("missing objects are NotFound", async {
        let a = expect_code(store.stat("nope").await, ErrorCode::NotFound, "stat")?;
        let b = expect_code(store.read("nope").await, ErrorCode::NotFound, "read")?;
        let c = expect_code(
            store.read_range("nope", 0..4).await,
            ErrorCode::NotFound,
            "range",
        )?;
        store.delete("nope").await.map_err(e2s)?;
        Ok(format!("{a}, {b}, {c}; deleting it succeeds"))
    })
    .await;

    r.check("a wrong key is refused as an auth error", async {
        if provider == Provider::Gcs {
            return Ok("n/a: fake-gcs-server checks no credentials".into());
        }
        let wrong = BlobStore::open(emu.config_at(bucket, &emu.endpoint(), true))
            .await
            .map_err(e2s)?;
        let a = expect_code(
            wrong.stat("docs/small.txt").await,
            ErrorCode::AuthFailed,
            "stat",
        )?;
        let b = expect_code(
            wrong
                .write("docs/x", Bytes::from_static(b"x"), WriteOptions::default())
                .await,
            ErrorCode::AuthFailed,
            "write",
        )?;
        Ok(format!("{a}, {b}"))
    })
    .await;

    r.check("a dropped connection mid-download is resumed", async {
        let proxy = CuttingProxy::start(&emu.endpoint()).await;
        let via = through(&emu, bucket, &proxy).await?;
        let (want, _) = digest(data(7, 24 * MIB)).await.map_err(|e| e.to_string())?;
        let before = counter(
            connector_blob::store::RESUMED,
            &[("provider", provider.as_str())],
        );
        // The media request (GCS's JSON API reads metadata first, then the bytes).
        let marker = match provider {
            Provider::Gcs => "big%2F24m?alt=media",
            _ => "big/24m",
        };
        proxy.arm(marker, 3 * MIB as usize);
        let reader = via.read_stream("big/24m").await.map_err(e2s)?;
        let (got, n) = digest(reader).await.map_err(e2s)?;
        let cuts = proxy.cuts.load(std::sync::atomic::Ordering::SeqCst);
        let resumed = counter(
            connector_blob::store::RESUMED,
            &[("provider", provider.as_str())],
        ) - before;
        ensure(cuts == 1 && resumed >= 1, || {
            format!("cuts {cuts}, resumed {resumed}")
        })?;
        ensure(got == want && n == 24 * MIB, || {
            format!("{n} bytes, digest equal: {}", got == want)
        })?;
        Ok(format!(
            "cut after 3 MiB, resumed {resumed} time(s), 24 MiB with the same SHA-256"
        ))
    })
    .await;

    r.check("a transient 503 is retried by the runtime", async {
        let proxy = CuttingProxy::start(&emu.endpoint()).await;
        let via = through(&emu, bucket, &proxy).await?;
        let marker = match provider {
            Provider::Gcs => "docs%2Fsmall.txt",
            _ => "docs/small.txt",
        };
        let before = counter(connector_runtime::observe::RETRIES_TOTAL, &[]);
        proxy.refuse(marker);
        let back = via.read("docs/small.txt").await.map_err(e2s)?;
        let refused = proxy.refused.load(std::sync::atomic::Ordering::SeqCst);
        let retries = counter(connector_runtime::observe::RETRIES_TOTAL, &[]) - before;
        ensure(
            &back[..] == b"hello, blob" && refused == 1 && retries >= 1,
            || format!("read {back:?}, {refused} refused, {retries} retries counted"),
        )?;
        Ok(
            "a 503 from a proxy in front of the emulator, retried by the runtime's policy; read in full"
                .into(),
        )
    })
    .await;

    r.check("access control", async {
        let public_write = || {
            store.write(
                "acl/public",
                Bytes::from_static(b"p"),
                WriteOptions { acl: Some(Acl::PublicRead), ..Default::default() },
            )
        };
        match provider {
            Provider::S3 => {
                public_write().await.map_err(e2s)?;
                let xml = s3_get_acl(&emu, bucket, "acl/public").await?;
                ensure(xml.contains("AllUsers") && xml.contains("READ"), || format!("ACL {xml}"))?;
                Ok("public-read written; GetObjectAcl grants AllUsers READ".into())
            }
            Provider::Azure => {
                let refused = store.apply_acl("docs/small.txt", &Acl::PublicRead).await;
                let unsupported = expect_code(refused, ErrorCode::Unsupported, "per-blob ACL")?;
                let public = BlobStore::open(emu.config("publicread")).await.map_err(e2s)?;
                public.create_container(PublicAccess::Read).await.map_err(e2s)?;
                public.write("p", Bytes::from_static(b"p"), WriteOptions::default()).await.map_err(e2s)?;
                let mut anon = emu.config("publicread");
                anon.credentials = Credentials::Anonymous;
                let anon = BlobStore::open(anon).await.map_err(e2s)?;
                let read = anon.read("p").await.map_err(e2s)?;
                ensure(&read[..] == b"p", || "anonymous read differs".into())?;
                let mut private = emu.config(bucket);
                private.credentials = Credentials::Anonymous;
                let private = BlobStore::open(private).await.map_err(e2s)?;
                let denied = private.read("docs/small.txt").await;
                ensure(denied.is_err(), || "anonymous read of a private container succeeded".into())?;
                Ok(format!(
                    "{unsupported}; container with public blob access read anonymously; private one refused ({})",
                    denied.err().map(|e| e.code().as_str()).unwrap_or("")
                ))
            }
            Provider::Gcs => {
                public_write().await.map_err(e2s)?;
                let c = Connector::initialize(ConnectorConfig::new(emu.endpoint())).map_err(e2s)?;
                c.connect().await.map_err(e2s)?;
                let answer = c
                    .request(
                        connector_runtime::RequestOptions::new(Method::GET, format!("/storage/v1/b/{bucket}/o/acl%2Fpublic"))
                            .query("projection", "full"),
                    )
                    .await
                    .map_err(e2s)?;
                let text = String::from_utf8_lossy(&answer.data);
                ensure(text.contains("allUsers") && text.contains("READER"), || format!("resource {text}"))?;
                Ok("publicRead sent with the upload; the object's ACL lists allUsers READER".into())
            }
        }
    })
    .await;

    r.check("the object_store handed to other libraries", async {
        use connector_blob::object_store::{ObjectStoreExt, path::Path as StorePath};
        let shared = store.object_store();
        let put = put_operation(provider);
        let before = counter(connector_runtime::observe::REQUESTS_TOTAL, &[("endpoint", put)]);
        shared
            .put(&StorePath::from("shared/from-object-store"), Bytes::from_static(b"via the trait").into())
            .await
            .map_err(|e| e.to_string())?;
        let listed = shared
            .list_with_delimiter(Some(&StorePath::from("shared")))
            .await
            .map_err(|e| e.to_string())?;
        // This provider's checks run one after another: the count grows by this check's put only.
        let through = counter(connector_runtime::observe::REQUESTS_TOTAL, &[("endpoint", put)]) - before;
        let back = store.read("shared/from-object-store").await.map_err(e2s)?;
        ensure(&back[..] == b"via the trait" && listed.objects.len() == 1 && through == 1, || {
            format!("read {back:?}, listed {}, {through} {put} requests through the pipeline", listed.objects.len())
        })?;
        Ok(format!("`ObjectStore::put` and `list_with_delimiter`; the put counted as one {put} by the runtime"))
    })
    .await;

    r.check("metrics per provider operation", async {
        let p = provider.as_str();
        let put = put_operation(provider);
        let sent = counter(
            connector_blob::transport::BYTES_SENT,
            &[("provider", p), ("operation", put)],
        );
        let received = counter(
            connector_blob::transport::BYTES_RECEIVED,
            &[("provider", p)],
        );
        let requests = counter(
            connector_runtime::observe::REQUESTS_TOTAL,
            &[("endpoint", put)],
        );
        ensure(sent > 0 && received >= 24 * MIB && requests >= 2500, || {
            format!("sent {sent}, received {received}, {put} requests {requests}")
        })?;
        Ok(format!(
            "{put}: {requests} requests, {sent} bytes sent; {received} bytes received in all"
        ))
    })
    .await;

    r.finish();
}

/// A store of `bucket` reached through `proxy`, which stands where the emulator is (Azurite's
/// endpoint also names the account, kept after the proxy's address).
async fn through(emu: &Emulator, bucket: &str, proxy: &CuttingProxy) -> Result<BlobStore, String> {
    let endpoint = emu.endpoint();
    let path = endpoint
        .splitn(4, '/')
        .nth(3)
        .map(|p| format!("/{p}"))
        .unwrap_or_default();
    BlobStore::open(emu.config_at(bucket, &format!("{}{path}", proxy.endpoint), false))
        .await
        .map_err(e2s)
}

/// The provider's name for a one-request upload.
fn put_operation(provider: Provider) -> &'static str {
    match provider {
        Provider::S3 => "s3:PutObject",
        Provider::Azure => "azure:PutBlob",
        Provider::Gcs => "gcs:objects.insert",
    }
}

/// The ACL document of an S3 object, through a runtime connector signing with SigV4.
async fn s3_get_acl(emu: &Emulator, bucket: &str, key: &str) -> Result<String, String> {
    let Emulator::S3(m) = emu else {
        return Err("not S3".into());
    };
    let signer = AwsSigV4::new(
        m.access_key_id.clone(),
        secrecy::SecretString::from(m.secret_access_key.clone()),
        m.region.clone(),
        "s3",
    );
    let c = Connector::builder(ConnectorConfig::new(&m.endpoint))
        .auth(std::sync::Arc::new(signer) as std::sync::Arc<dyn AuthStrategy>)
        .build()
        .map_err(e2s)?;
    c.connect().await.map_err(e2s)?;
    let answer = c
        .request(
            connector_runtime::RequestOptions::new(Method::GET, format!("/{bucket}/{key}"))
                .query("acl", ""),
        )
        .await
        .map_err(e2s)?;
    Ok(String::from_utf8_lossy(&answer.data).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_against_moto() {
    suite(Provider::S3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_against_azurite() {
    suite(Provider::Azure).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gcs_against_fake_gcs_server() {
    suite(Provider::Gcs).await;
}

#[tokio::test]
async fn unusable_credentials_fail_at_open_as_auth_errors() {
    // A service account whose key is not an RSA key: refused before anything is sent.
    let mut c = connector_blob::BlobConfig::new("gs://b")
        .unwrap()
        .endpoint("http://127.0.0.1:9");
    c.credentials = Credentials::GcsServiceAccount {
        key_json: secrecy::SecretString::from(
            r#"{"private_key":"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n","private_key_id":"k1","client_email":"sa@example.iam.gserviceaccount.com"}"#.to_owned(),
        ),
    };
    let e = BlobStore::open(c).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    // A key file that is not JSON.
    let mut c = connector_blob::BlobConfig::new("gs://b").unwrap();
    c.credentials = Credentials::GcsServiceAccount {
        key_json: secrecy::SecretString::from("not json".to_owned()),
    };
    assert_eq!(
        BlobStore::open(c).await.unwrap_err().code(),
        ErrorCode::AuthFailed
    );
    // An Azure key that is not base64.
    let mut c = connector_blob::BlobConfig::new("az://c")
        .unwrap()
        .endpoint("http://127.0.0.1:9/acct");
    c.credentials = Credentials::AzureSharedKey {
        account: "acct".into(),
        key: secrecy::SecretString::from("not base64!".to_owned()),
    };
    let e = BlobStore::open(c).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::AuthFailed, "{e}");
    assert!(!e.to_string().contains("not base64!"), "{e}");
}

#[tokio::test]
async fn keys_object_store_would_change_are_refused_before_sending() {
    // Nothing listens on port 9: anything sent would fail as a network error instead.
    let mut c = connector_blob::BlobConfig::new("gs://b")
        .unwrap()
        .endpoint("http://127.0.0.1:9");
    c.credentials = Credentials::Anonymous;
    c.runtime.retry.max_attempts = 1;
    let store = BlobStore::open(c).await.unwrap();
    for key in ["dir/", "a//b", "a/../b", "./a", "tab\tkey"] {
        let e = store
            .write(key, Bytes::from_static(b"x"), WriteOptions::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::ValidationError, "{key}: {e}");
    }
    // Characters object_store keeps as they are pass the check (and fail later, on the network).
    let e = store.stat("100%#[ok]").await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
}
