//! The command line of a generated connector's `<vendor>-sync` binary: `streams`, `sync`,
//! `status`. Arguments are parsed by hand, as `connector-gen` does: a few flags do not justify a
//! parser in every connector that turns the `sync` feature on.
//!
//! Logs go to stderr as structured lines (`--log-json` for JSON) carrying the run id and page
//! numbers, never credentials; a progress line per stream is drawn on stderr when it is a
//! terminal; the run's report goes to stdout (`--json` for JSON).

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use connector_db::{Database, DbConfig};
use connector_runtime::{AuthConfig, Connector, SecretString};

use crate::catalog::{Catalog, CursorKind, Deletes, ParamSource};
use crate::dest::{DbDestination, Destination};
use crate::engine::{Progress, SyncOptions, Syncer};
use crate::redact::Redaction;

const USAGE: &str = "usage:
  {bin} streams [--json]
  {bin} sync STREAM... [--dest URL] [--full-refresh] [--param NAME=VALUE]... [--query NAME=VALUE]... [--base-url URL]
        [--token-env VAR] [--page-size N] [--lookback SECONDS] [--redact [STREAM:]FIELD[=mask|hash|drop]]...
        [--json] [--log-json] [--quiet]
  {bin} status [--dest URL] [--json]

--dest defaults to $SYNC_DEST, then sqlite://{connector}.sqlite. The bearer token is read from the
environment variable --token-env names (default {CONNECTOR}_TOKEN when set); it is never printed.
exit codes: 0 done; 1 the sync failed (re-run to resume from the last committed page); 2 bad arguments";

/// Parsed command line.
#[derive(Debug, Default)]
struct Args {
    command: String,
    streams: Vec<String>,
    dest: Option<String>,
    full_refresh: bool,
    params: BTreeMap<String, String>,
    query: Vec<(String, String)>,
    base_url: Option<String>,
    token_env: Option<String>,
    page_size: Option<u64>,
    lookback: Duration,
    redactions: Vec<Redaction>,
    json: bool,
    log_json: bool,
    quiet: bool,
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        command: it.next().ok_or("missing command")?,
        ..Args::default()
    };
    if !matches!(a.command.as_str(), "streams" | "sync" | "status") {
        return Err(format!("unknown command `{}`", a.command));
    }
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--dest" => a.dest = Some(value("--dest")?),
            "--full-refresh" => a.full_refresh = true,
            "--param" => {
                let v = value("--param")?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or(format!("--param `{v}` is not NAME=VALUE"))?;
                a.params.insert(k.to_owned(), val.to_owned());
            }
            "--query" => {
                let v = value("--query")?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or(format!("--query `{v}` is not NAME=VALUE"))?;
                a.query.push((k.to_owned(), val.to_owned()));
            }
            "--base-url" => a.base_url = Some(value("--base-url")?),
            "--token-env" => a.token_env = Some(value("--token-env")?),
            "--page-size" => {
                let v = value("--page-size")?;
                a.page_size = Some(
                    v.parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or(format!("--page-size `{v}` is not a positive integer"))?,
                );
            }
            "--lookback" => {
                let v = value("--lookback")?;
                a.lookback = Duration::from_secs(
                    v.parse()
                        .map_err(|_| format!("--lookback `{v}` is not a number of seconds"))?,
                );
            }
            "--redact" => a.redactions.push(Redaction::parse(&value("--redact")?)?),
            "--json" => a.json = true,
            "--log-json" => a.log_json = true,
            "--quiet" => a.quiet = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown flag `{s}`")),
            s if a.command == "sync" => a.streams.push(s.to_owned()),
            s => return Err(format!("unexpected argument `{s}`")),
        }
    }
    if a.command == "sync" && a.streams.is_empty() {
        return Err("sync needs at least one stream (see `streams`)".into());
    }
    Ok(a)
}

/// Run the command line of `catalog`'s connector with the process's arguments.
pub fn main(catalog: Catalog) -> ExitCode {
    let mut argv = std::env::args();
    let bin = argv.next().unwrap_or_else(|| "sync".into());
    run(catalog, &bin, argv)
}

/// Run the command line with these arguments (after the program name).
pub fn run(catalog: Catalog, bin: &str, args: impl Iterator<Item = String>) -> ExitCode {
    let usage = USAGE
        .replace("{bin}", bin)
        .replace("{connector}", catalog.connector)
        .replace("{CONNECTOR}", &catalog.connector.to_uppercase());
    let args = match parse(args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    init_logs(args.log_json);
    if args.command == "streams" {
        print!("{}", streams_report(&catalog, args.json));
        return ExitCode::SUCCESS;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(execute(catalog, args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(json: bool) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_target(false);
    // A second initialisation (tests run the command line in one process) is not an error.
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

async fn open_dest(catalog: &Catalog, dest: Option<&str>) -> Result<DbDestination, String> {
    let url = dest
        .map(str::to_owned)
        .or_else(|| std::env::var("SYNC_DEST").ok())
        .unwrap_or_else(|| format!("sqlite://{}.sqlite", catalog.connector));
    let config = DbConfig::from_url(&url).map_err(|e| e.to_string())?;
    let db = Database::connect(config).await.map_err(|e| e.to_string())?;
    Ok(DbDestination::new(db))
}

async fn execute(catalog: Catalog, args: Args) -> Result<(), String> {
    let dest = open_dest(&catalog, args.dest.as_deref()).await?;
    if args.command == "status" {
        print!("{}", status_report(&catalog, &dest, args.json).await?);
        return Ok(());
    }
    let mut config = (catalog.config)();
    if let Some(u) = &args.base_url {
        config.base_url = u.clone();
    }
    let default_env = format!("{}_TOKEN", catalog.connector.to_uppercase());
    let token_env = args.token_env.clone().unwrap_or(default_env);
    match std::env::var(&token_env) {
        Ok(t) if !t.is_empty() => {
            config.auth = Some(AuthConfig::Bearer {
                token: SecretString::from(t),
            });
        }
        _ if args.token_env.is_some() => {
            return Err(format!(
                "the environment variable `{token_env}` holds no token"
            ));
        }
        _ => {}
    }
    let connector = Connector::initialize(config).map_err(|e| e.to_string())?;
    connector.connect().await.map_err(|e| e.to_string())?;
    let progress = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let last: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let f: Arc<dyn Fn(&Progress) + Send + Sync> = Arc::new(move |p: &Progress| {
            let secs = p.elapsed.as_secs_f64().max(0.001);
            let line = format!(
                "\r{}: {} pages, {} read, {} written, {:.0} rows/s   ",
                p.stream,
                p.pages,
                p.rows_read,
                p.rows_written,
                p.rows_read as f64 / secs
            );
            let mut l = last.lock().unwrap_or_else(|e| e.into_inner());
            if l.as_deref() != Some(p.stream.as_str()) {
                eprintln!();
                *l = Some(p.stream.clone());
            }
            eprint!("{line}");
            let _ = std::io::stderr().flush();
        });
        f
    });
    let opts = SyncOptions {
        streams: args.streams.clone(),
        params: args.params.clone(),
        query: args.query.clone(),
        full_refresh: args.full_refresh,
        lookback: args.lookback,
        page_size: args.page_size,
        redactions: args.redactions.clone(),
        run_id: None,
        progress,
    };
    let syncer = Syncer::new(catalog, connector, dest);
    let report = syncer.run(&opts).await.map_err(|e| e.to_string())?;
    if opts.progress.is_some() {
        eprintln!();
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
    } else {
        println!("run {} ({:.1} s)", report.run_id, report.duration_seconds);
        println!(
            "stream\tpartitions\tpages\tread\twritten\tdeleted\tdead letters\tduplicates\tretries\tlag s"
        );
        for s in &report.streams {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                s.stream,
                s.partitions,
                s.pages,
                s.rows_read,
                s.rows_written,
                s.rows_deleted,
                s.dead_letters,
                s.duplicate_rows,
                s.retries,
                s.lag_seconds.map_or("-".into(), |l| format!("{l:.0}"))
            );
            for m in &s.migrations {
                println!("  migration: {m}");
            }
        }
    }
    Ok(())
}

/// What `status` prints: each partition's cursor and whether a run is interrupted, and the
/// latest runs.
pub async fn status_report<D: Destination>(
    catalog: &Catalog,
    dest: &D,
    json: bool,
) -> Result<String, String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let (states, runs) = dest
        .status(catalog.connector, 10)
        .await
        .map_err(|e| e.to_string())?;
    if json {
        let v = serde_json::json!({ "partitions": states, "runs": runs });
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
        return Ok(out);
    }
    let _ = writeln!(out, "stream\tpartition\tcursor\tstate\tupdated");
    for s in &states {
        let cursor = match (catalog.stream(&s.stream).and_then(|d| d.cursor), s.cursor) {
            (Some(c), Some(k)) => {
                crate::transform::cursor_time(c.kind, k).map_or(k.to_string(), |t| t.to_rfc3339())
            }
            (_, Some(k)) => k.to_string(),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}",
            s.stream,
            s.partition,
            cursor,
            if s.checkpoint.is_some() {
                "interrupted: the next sync resumes it"
            } else {
                "idle"
            },
            s.updated_at.map_or("-".into(), |t| t.to_rfc3339())
        );
    }
    let _ = writeln!(out, "\nrecent runs:");
    for r in &runs {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\tread {}\twritten {}\tdead letters {}{}",
            r.run_id,
            r.started_at.map_or("-".into(), |t| t.to_rfc3339()),
            r.status,
            r.rows_read,
            r.rows_written,
            r.dead_letters,
            r.error
                .as_ref()
                .map_or(String::new(), |e| format!("\terror: {e}"))
        );
    }
    Ok(out)
}

/// What `streams` prints: each stream's key, cursor, filter, parent and deletes.
pub fn streams_report(catalog: &Catalog, json: bool) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let kind = |k: CursorKind| match k {
        CursorKind::DateTime => "date-time",
        CursorKind::UnixSeconds => "unix seconds",
        CursorKind::Integer => "integer",
    };
    if json {
        let v: Vec<_> = catalog
            .streams
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "operation": s.operation,
                    "method": s.method,
                    "path": s.path,
                    "primary_key": s.primary_key,
                    "cursor": s.cursor.map(|c| serde_json::json!({
                        "field": c.field,
                        "kind": kind(c.kind),
                        "filter": c.filter.map(|f| f.param),
                    })),
                    "parent": s.parent,
                    "params": s.params.iter().map(|p| match p.from {
                        ParamSource::Config => serde_json::json!({"name": p.name, "from": "config"}),
                        ParamSource::Parent(ptr) => serde_json::json!({"name": p.name, "from": ptr}),
                    }).collect::<Vec<_>>(),
                    "columns": s.columns.len(),
                    "source": s.source,
                })
            })
            .collect();
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&v).unwrap_or_default()
        );
        return out;
    }
    let _ = writeln!(
        out,
        "stream\tkey\tcursor\tfilter\tparent\tdeletes\toperation"
    );
    for s in &catalog.streams {
        let _ = writeln!(
            out,
            "{}\t{}\t{}\t{}\t{}\t{}\t{} {}",
            s.name,
            s.primary_key.join(","),
            s.cursor
                .map_or("-".into(), |c| format!("{} ({})", c.field, kind(c.kind))),
            s.cursor.and_then(|c| c.filter).map_or("-", |f| f.param),
            s.parent.unwrap_or("-"),
            match s.deletes {
                Deletes::Unreported => "unreported".to_owned(),
                Deletes::Soft { flag, at } => format!(
                    "soft ({})",
                    [flag, at]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Deletes::Tombstone { flag } => format!("tombstone ({flag})"),
            },
            s.method,
            s.path
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Result<Args, String> {
        parse(s.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn arguments_parse_and_bad_ones_are_named() {
        let a = args("sync issues comments --param owner=o --full-refresh --page-size 50 --lookback 60 --redact email=hash").unwrap();
        assert_eq!(a.streams, ["issues", "comments"]);
        assert_eq!(a.params["owner"], "o");
        assert!(a.full_refresh);
        assert_eq!(a.page_size, Some(50));
        assert_eq!(a.lookback, Duration::from_secs(60));
        assert_eq!(a.redactions.len(), 1);
        assert!(args("sync").unwrap_err().contains("at least one stream"));
        assert!(
            args("sync x --page-size 0")
                .unwrap_err()
                .contains("positive")
        );
        assert!(
            args("sync x --param nope")
                .unwrap_err()
                .contains("NAME=VALUE")
        );
        assert!(args("fly").unwrap_err().contains("unknown command"));
        assert!(args("status --dest").unwrap_err().contains("needs a value"));
    }
}
