//! The `blob` command line: `ls`, `cat`, `cp`, `rm` and `stat` over store URLs (`s3://`, `az://`,
//! `gs://`) and local paths, with credentials, endpoints and regions from the providers' standard
//! environment variables (see [`crate::BlobConfig::from_env`]) or `--endpoint` / `--region`.
//! Transfers of 8 MiB and more show a progress bar on a terminal.
//!
//! Arguments are parsed by hand: five commands with three options do not justify an argument
//! parser's compile time in a crate every blob user builds.

use std::io::Write;
use std::process::ExitCode;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{BlobConfig, BlobUrl};
use crate::store::{BlobStore, Entry, ListOptions, WriteOptions};
use connector_runtime::Error;

const USAGE: &str = "usage: blob [--endpoint URL] [--region REGION] <command>
commands:
  ls URL [-r]          list keys under URL (with -r, without grouping by `/`)
  cat URL              write an object to standard output
  cp SRC DST           copy between store URLs and local paths (either side)
  rm URL [-r]          delete an object (with -r, every key under URL, in batches)
  stat URL             size, content type, entity tag, last modified, metadata
URLs: s3://bucket/key, az://container/key, gs://bucket/key. Credentials come from the
providers' environment variables (AWS_*, AZURE_STORAGE_*, GOOGLE_*, STORAGE_EMULATOR_HOST).";

/// Progress bars are shown from this size up.
const PROGRESS_FROM: u64 = 8 << 20;

/// Run the command line with the process's arguments.
pub fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("blob: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout();
    match runtime.block_on(run(&args, &mut out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blob: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Options before the command.
#[derive(Default)]
struct Global {
    endpoint: Option<String>,
    region: Option<String>,
}

/// Run one command, writing its output to `out`; errors are returned with their message.
pub async fn run(args: &[String], out: &mut (dyn Write + Send)) -> Result<(), String> {
    let mut global = Global::default();
    let mut rest: Vec<&str> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--endpoint" => {
                global.endpoint = Some(it.next().ok_or("--endpoint needs a URL")?.clone())
            }
            "--region" => global.region = Some(it.next().ok_or("--region needs a name")?.clone()),
            "-h" | "--help" => {
                writeln!(out, "{USAGE}").map_err(|e| e.to_string())?;
                return Ok(());
            }
            other => rest.push(other),
        }
    }
    let recursive = rest.iter().any(|a| *a == "-r" || *a == "--recursive");
    rest.retain(|a| *a != "-r" && *a != "--recursive");
    match rest.as_slice() {
        ["ls", url] => ls(&global, url, recursive, out).await,
        ["cat", url] => cat(&global, url, out).await,
        ["cp", from, to] => cp(&global, from, to, out).await,
        ["rm", url] => rm(&global, url, recursive, out).await,
        ["stat", url] => stat(&global, url, out).await,
        _ => Err(USAGE.to_owned()),
    }
}

/// The store of the URL's bucket (no prefix) and the key the URL names.
async fn open(global: &Global, url: &str) -> Result<(BlobStore, String), String> {
    let parsed = BlobUrl::parse(url).map_err(|e| e.message().to_owned())?;
    let bucket_url = BlobUrl {
        prefix: String::new(),
        ..parsed.clone()
    };
    let mut config = BlobConfig::new(&bucket_url.to_string()).map_err(show)?;
    config.endpoint = global.endpoint.clone();
    config.region = global.region.clone();
    config
        .resolve_env(|name| std::env::var(name).ok())
        .map_err(show)?;
    let store = BlobStore::open(config).await.map_err(show)?;
    Ok((store, parsed.prefix))
}

fn show(e: Error) -> String {
    let mut text = format!("{} {}", e.code().as_str(), e.message());
    if let Some(id) = e.request_id() {
        text.push_str(&format!(" (request id {id})"));
    }
    text
}

fn io(e: std::io::Error) -> String {
    e.to_string()
}

fn is_url(text: &str) -> bool {
    BlobUrl::parse(text).is_ok()
}

async fn ls(
    global: &Global,
    url: &str,
    recursive: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), String> {
    let (store, prefix) = open(global, url).await?;
    let mut entries = store.list(ListOptions {
        prefix,
        delimiter: (!recursive).then(|| "/".to_owned()),
        page_size: None,
    });
    while let Some(entry) = entries.next().await {
        match entry.map_err(show)? {
            Entry::Object(o) => writeln!(
                out,
                "{:>12}  {}  {}",
                o.size,
                o.last_modified.format("%Y-%m-%dT%H:%M:%SZ"),
                o.key
            ),
            Entry::Prefix(p) => writeln!(out, "{:>12}  {:20}  {p}", "PRE", ""),
        }
        .map_err(io)?;
    }
    Ok(())
}

async fn cat(global: &Global, url: &str, out: &mut (dyn Write + Send)) -> Result<(), String> {
    let (store, key) = open(global, url).await?;
    let mut reader = store.read_stream(&key).await.map_err(show)?;
    while let Some(chunk) = reader.next().await {
        out.write_all(&chunk.map_err(show)?).map_err(io)?;
    }
    out.flush().map_err(io)
}

async fn stat(global: &Global, url: &str, out: &mut (dyn Write + Send)) -> Result<(), String> {
    let (store, key) = open(global, url).await?;
    let info = store.stat(&key).await.map_err(show)?;
    writeln!(out, "key:           {}", info.key).map_err(io)?;
    writeln!(out, "size:          {}", info.size).map_err(io)?;
    writeln!(
        out,
        "content type:  {}",
        info.content_type.as_deref().unwrap_or("-")
    )
    .map_err(io)?;
    writeln!(
        out,
        "etag:          {}",
        info.etag.as_deref().unwrap_or("-")
    )
    .map_err(io)?;
    writeln!(out, "last modified: {}", info.last_modified.to_rfc3339()).map_err(io)?;
    if let Some(v) = &info.version {
        writeln!(out, "version:       {v}").map_err(io)?;
    }
    for (k, v) in &info.metadata {
        writeln!(out, "metadata:      {k}={v}").map_err(io)?;
    }
    Ok(())
}

async fn rm(
    global: &Global,
    url: &str,
    recursive: bool,
    out: &mut (dyn Write + Send),
) -> Result<(), String> {
    let (store, key) = open(global, url).await?;
    if !recursive {
        store.delete(&key).await.map_err(show)?;
        return writeln!(out, "deleted {url}").map_err(io);
    }
    let keys: Vec<String> = store
        .list(ListOptions {
            prefix: key,
            ..Default::default()
        })
        .try_filter_map(|e| async move {
            Ok(match e {
                Entry::Object(o) => Some(o.key),
                Entry::Prefix(_) => None,
            })
        })
        .try_collect()
        .await
        .map_err(show)?;
    let report = store.delete_many(&keys).await.map_err(show)?;
    for (key, e) in &report.failed {
        writeln!(out, "failed {key}: {}", show(e.clone_message())).map_err(io)?;
    }
    writeln!(out, "deleted {} of {} keys", report.deleted, keys.len()).map_err(io)?;
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(format!("{} keys could not be deleted", report.failed.len()))
    }
}

/// Errors are not clonable; what the report prints is their code and message.
trait CloneMessage {
    fn clone_message(&self) -> Error;
}

impl CloneMessage for Error {
    fn clone_message(&self) -> Error {
        Error::new(self.code(), self.source_kind(), self.message().to_owned())
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    if len < PROGRESS_FROM {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    bar
}

async fn cp(
    global: &Global,
    from: &str,
    to: &str,
    out: &mut (dyn Write + Send),
) -> Result<(), String> {
    match (is_url(from), is_url(to)) {
        (true, true) => {
            let (src, from_key) = open(global, from).await?;
            let (dst, to_key) = open(global, to).await?;
            let to_key = if to_key.is_empty() || to_key.ends_with('/') {
                format!(
                    "{to_key}{}",
                    from_key.rsplit('/').next().unwrap_or(&from_key)
                )
            } else {
                to_key
            };
            let same =
                src.url().provider == dst.url().provider && src.url().bucket == dst.url().bucket;
            if same {
                src.copy(&from_key, &to_key, true).await.map_err(show)?;
            } else {
                let reader = src.read_stream(&from_key).await.map_err(show)?;
                let bar = bar(reader.info.size, "copying");
                let options = WriteOptions {
                    content_type: reader.info.content_type.clone(),
                    metadata: reader.info.metadata.clone(),
                    ..Default::default()
                };
                let progress = bar.clone();
                let chunks = reader.map(move |c| {
                    c.inspect(|b| progress.inc(b.len() as u64))
                        .map_err(|e| std::io::Error::other(show(e)))
                });
                dst.write_stream(&to_key, chunks, options)
                    .await
                    .map_err(show)?;
                bar.finish_and_clear();
            }
            writeln!(out, "copied {from} to {to}").map_err(io)
        }
        (true, false) => {
            let (src, key) = open(global, from).await?;
            let mut reader = src.read_stream(&key).await.map_err(show)?;
            let target = {
                let p = std::path::Path::new(to);
                if p.is_dir() {
                    p.join(key.rsplit('/').next().unwrap_or(&key))
                } else {
                    p.to_owned()
                }
            };
            // Written to a temporary name next to the target, renamed when complete: a failed
            // download leaves no partial file under the target's name.
            let partial = target.with_extension("partial");
            let mut file = tokio::fs::File::create(&partial)
                .await
                .map_err(|e| format!("{}: {e}", partial.display()))?;
            let bar = bar(reader.info.size, "downloading");
            let result: Result<(), String> = async {
                use tokio::io::AsyncWriteExt;
                while let Some(chunk) = reader.next().await {
                    let chunk: Bytes = chunk.map_err(show)?;
                    bar.inc(chunk.len() as u64);
                    file.write_all(&chunk).await.map_err(io)?;
                }
                file.flush().await.map_err(io)?;
                Ok(())
            }
            .await;
            bar.finish_and_clear();
            if let Err(e) = result {
                let _ = tokio::fs::remove_file(&partial).await;
                return Err(e);
            }
            tokio::fs::rename(&partial, &target)
                .await
                .map_err(|e| format!("{}: {e}", target.display()))?;
            writeln!(out, "downloaded {from} to {}", target.display()).map_err(io)
        }
        (false, true) => {
            let (dst, key) = open(global, to).await?;
            let path = std::path::Path::new(from);
            let key = if key.is_empty() || key.ends_with('/') {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .ok_or_else(|| format!("{from} names no file"))?;
                format!("{key}{name}")
            } else {
                key
            };
            let len = tokio::fs::metadata(path)
                .await
                .map_err(|e| format!("{from}: {e}"))?
                .len();
            let bar = bar(len, "uploading");
            let file = tokio::fs::File::open(path)
                .await
                .map_err(|e| format!("{from}: {e}"))?;
            let progress = bar.clone();
            let chunks = crate::store::file_chunks(file).map(move |c| {
                if let Ok(b) = &c {
                    progress.inc(b.len() as u64);
                }
                c
            });
            dst.write_stream(&key, chunks, WriteOptions::default())
                .await
                .map_err(show)?;
            bar.finish_and_clear();
            writeln!(out, "uploaded {from} to {to}").map_err(io)
        }
        (false, false) => {
            Err("cp needs a store URL on at least one side (local copies are cp's job)".into())
        }
    }
}
