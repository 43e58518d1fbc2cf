//! `connector-gen`: the command-line front of the generator.
//!
//! Argument parsing is hand-written: a handful of flags do not justify a parser dependency in every build.

use std::path::PathBuf;
use std::process::ExitCode;

use connector_codegen::{RuntimeDep, Settings};

#[cfg(feature = "fast-alloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "usage: connector-gen generate SPEC --out DIR [--name NAME] [--settings FILE]
                     [--overlay FILE]... [--runtime-path DIR | --runtime-version VERSION] [--json]
       connector-gen streams SPEC [--settings FILE] [--overlay FILE]... [--json]

generate: a typed Rust client crate from an OpenAPI description (Swagger 2.0, OpenAPI 3.0 or 3.1,
JSON or YAML, external $refs followed). Each --overlay (an OpenAPI Overlay 1.x document) is applied
to the description, after those the settings file lists.

streams: the sync streams detected in the description (table, operation, key, cursor and its kind,
server filter, parent and parameters, deletes, columns, source), and the list operations that are
no stream, with the reason.

exit codes: 0 done; 1 the description could not be read or turned into a crate; 2 bad arguments;
            3 the crate could not be written";

struct Args {
    spec: PathBuf,
    out: PathBuf,
    name: Option<String>,
    settings: Option<PathBuf>,
    overlays: Vec<PathBuf>,
    runtime: Option<RuntimeDep>,
    json: bool,
}

/// The arguments of `streams`.
struct StreamsArgs {
    spec: PathBuf,
    settings: Option<PathBuf>,
    overlays: Vec<PathBuf>,
    json: bool,
}

enum Command {
    Generate(Args),
    Streams(StreamsArgs),
}

fn parse_command(args: Vec<String>) -> Result<Command, String> {
    if args.first().map(String::as_str) != Some("streams") {
        return parse(args.into_iter()).map(Command::Generate);
    }
    let mut it = args.into_iter().skip(1);
    let (mut spec, mut settings, mut json) = (None, None, false);
    let mut overlays = Vec::new();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match a.as_str() {
            "--settings" => settings = Some(PathBuf::from(value("--settings")?)),
            "--overlay" => overlays.push(PathBuf::from(value("--overlay")?)),
            "--json" => json = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown flag `{s}`")),
            s if spec.is_none() => spec = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument `{s}`")),
        }
    }
    Ok(Command::Streams(StreamsArgs {
        spec: spec.ok_or("missing SPEC")?,
        settings,
        overlays,
        json,
    }))
}

fn parse(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    match it.next().as_deref() {
        Some("generate") => {}
        Some("-h") | Some("--help") | Some("help") => return Err(String::new()),
        Some(other) => return Err(format!("unknown command `{other}`")),
        None => return Err("missing command".into()),
    }
    let (mut spec, mut out, mut name, mut settings, mut runtime, mut json) =
        (None, None, None, None, None, false);
    let mut overlays = Vec::new();
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| format!("{flag} needs a value"));
        match a.as_str() {
            "--out" | "-o" => out = Some(PathBuf::from(value("--out")?)),
            "--name" => name = Some(value("--name")?),
            "--settings" => settings = Some(PathBuf::from(value("--settings")?)),
            "--overlay" => overlays.push(PathBuf::from(value("--overlay")?)),
            "--runtime-path" => runtime = Some(RuntimeDep::Path(value("--runtime-path")?)),
            "--runtime-version" => runtime = Some(RuntimeDep::Version(value("--runtime-version")?)),
            "--json" => json = true,
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown flag `{s}`")),
            s if spec.is_none() => spec = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument `{s}`")),
        }
    }
    Ok(Args {
        spec: spec.ok_or("missing SPEC")?,
        out: out.ok_or("missing --out DIR")?,
        name,
        settings,
        overlays,
        runtime,
        json,
    })
}

fn json_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn main() -> ExitCode {
    connector_codegen::tune_allocator();
    let args = match parse_command(std::env::args().skip(1).collect()) {
        Ok(Command::Generate(a)) => a,
        Ok(Command::Streams(a)) => return streams(a),
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if e.is_empty() { 0 } else { 2 });
        }
    };
    let mut settings = match load_settings(args.settings.as_deref(), args.overlays) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if let Some(n) = args.name {
        settings.crate_name = Some(n);
    }
    if let Some(r) = args.runtime {
        // A relative runtime path is taken from where the command runs, not from the output folder.
        settings.runtime = match r {
            RuntimeDep::Path(p) => match std::fs::canonicalize(&p) {
                Ok(abs) => RuntimeDep::Path(abs.display().to_string()),
                Err(e) => {
                    eprintln!("error: --runtime-path {p}: {e}");
                    return ExitCode::from(2);
                }
            },
            other => other,
        };
    }
    let started = std::time::Instant::now();
    let generated = match connector_codegen::generate(&args.spec, &settings) {
        Ok(g) => g,
        Err(d) => {
            let d = if d.file.is_none() {
                d.in_file(&args.spec)
            } else {
                d
            };
            eprintln!("{d}");
            if args.json {
                println!(
                    "{{\"ok\":false,\"error\":{},\"pointer\":{}}}",
                    json_str(&d.message),
                    d.pointer.as_deref().map_or("null".to_owned(), json_str)
                );
            }
            return ExitCode::from(1);
        }
    };
    if let Err(e) = connector_codegen::write_crate(&generated, &args.out) {
        eprintln!("error: cannot write {}: {e}", args.out.display());
        return ExitCode::from(3);
    }
    for w in &generated.warnings {
        eprintln!("{w}");
    }
    let ms = started.elapsed().as_millis();
    if args.json {
        let warnings: Vec<String> = generated
            .warnings
            .iter()
            .map(|w| json_str(&w.to_string()))
            .collect();
        println!(
            "{{\"ok\":true,\"crate\":{},\"out\":{},\"operations\":{},\"types\":{},\"groups\":{},\"skipped_operations\":{},\"unfaithful\":{},\"files\":{},\"millis\":{ms},\"warnings\":[{}]}}",
            json_str(&generated.crate_name),
            json_str(&args.out.display().to_string()),
            generated.operations,
            generated.types,
            generated.groups,
            generated.skipped_operations,
            serde_json::to_string(&generated.unfaithful).unwrap_or_else(|_| "null".to_owned()),
            generated.files.len(),
            warnings.join(",")
        );
    } else {
        eprintln!(
            "generated {} in {} ({} operations, {} types, {} groups, {} warnings) in {ms} ms",
            generated.crate_name,
            args.out.display(),
            generated.operations,
            generated.types,
            generated.groups,
            generated.warnings.len()
        );
    }
    ExitCode::SUCCESS
}

/// The settings file (or the defaults) with the `--overlay` files after those it lists; a file that
/// does not read is reported and exit code 2.
fn load_settings(
    path: Option<&std::path::Path>,
    overlays: Vec<PathBuf>,
) -> Result<Settings, ExitCode> {
    let mut settings = match path {
        Some(p) => Settings::from_toml_file(p).map_err(|d| {
            eprintln!("error: settings file {}: {d}", p.display());
            ExitCode::from(2)
        })?,
        None => Settings::default(),
    };
    settings.overlays.extend(overlays);
    Ok(settings)
}

/// `connector-gen streams`: the detected streams as a table (or JSON), then the list operations
/// that are none.
fn streams(args: StreamsArgs) -> ExitCode {
    let settings = match load_settings(args.settings.as_deref(), args.overlays) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let (report, _warnings) = match connector_codegen::streams_report(&args.spec, &settings) {
        Ok(r) => r,
        Err(d) => {
            let d = if d.file.is_none() {
                d.in_file(&args.spec)
            } else {
                d
            };
            eprintln!("{d}");
            if args.json {
                println!("{{\"ok\":false,\"error\":{}}}", json_str(&d.message));
            }
            return ExitCode::from(1);
        }
    };
    if args.json {
        let body = serde_json::to_string(&report).unwrap_or_else(|_| "null".to_owned());
        println!("{{\"ok\":true,\"report\":{body}}}");
        return ExitCode::SUCCESS;
    }
    print!("{}", render_streams(&report));
    ExitCode::SUCCESS
}

/// The report as text: one block per stream, then the skipped operations.
fn render_streams(r: &connector_codegen::streams::Report) -> String {
    let mut out = format!("{} streams\n", r.streams.len());
    for s in &r.streams {
        let cursor = match (&s.cursor, &s.cursor_kind) {
            (Some(c), Some(k)) => format!("{c} ({k})"),
            _ => "none".to_owned(),
        };
        let filter = match (&s.filter, s.filter_inclusive) {
            (Some(f), Some(true)) => format!("{f} (inclusive)"),
            (Some(f), _) => format!("{f} (exclusive)"),
            _ => "none".to_owned(),
        };
        out.push_str(&format!(
            "\n{}  {} [{}]\n  {}\n  key {}; cursor {cursor}; filter {filter}\n",
            s.table,
            s.operation,
            s.source,
            s.endpoint,
            s.primary_key.join(", "),
        ));
        if s.parent.is_some() || !s.params.is_empty() {
            out.push_str(&format!(
                "  parent {}; params {}\n",
                s.parent.as_deref().unwrap_or("none"),
                if s.params.is_empty() {
                    "none".to_owned()
                } else {
                    s.params.join(", ")
                }
            ));
        }
        out.push_str(&format!("  deletes {}; {} columns\n", s.deletes, s.columns));
    }
    if !r.skipped.is_empty() {
        out.push_str(&format!(
            "\n{} list operations are no stream:\n",
            r.skipped.len()
        ));
        for k in &r.skipped {
            out.push_str(&format!(
                "  {} ({}): {}\n",
                k.operation, k.endpoint, k.reason
            ));
        }
    }
    out
}
