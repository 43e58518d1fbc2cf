//! Repository automation: `cargo xtask <command>`. Plain std, so it builds in a second.
//!
//! Commands:
//! - `test`: everything CI checks — formatting, clippy with warnings denied, and every test of the
//!   workspace. Installs nothing today beyond what cargo fetches; commands that need more (Prism, the
//!   corpus) install it themselves.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("help") | Some("--help") | Some("-h") | None => {
            print_help();
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`; run `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <command>\n\n\
         commands:\n  \
         test    formatting check, clippy -D warnings, and all workspace tests\n  \
         help    this text"
    );
}

/// Run a cargo subcommand in the workspace root, failing with its description.
fn cargo(what: &str, args: &[&str]) -> Result<(), String> {
    eprintln!("xtask: {what}: cargo {}", args.join(" "));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .current_dir(workspace_root())
        .status()
        .map_err(|e| format!("{what}: could not run cargo: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

fn test(extra: &[String]) -> Result<(), String> {
    cargo("format check", &["fmt", "--all", "--", "--check"])?;
    cargo(
        "clippy",
        &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"],
    )?;
    let mut args = vec!["test", "--workspace", "--all-targets"];
    args.extend(extra.iter().map(String::as_str));
    cargo("tests", &args)?;
    // Doc tests are not part of --all-targets.
    cargo("doc tests", &["test", "--workspace", "--doc"])?;
    Ok(())
}
