//! Fixture snapshots: every description in `tests/fixtures` generates exactly the module checked in at
//! `tests/src/snapshots/<fixture>.rs` (which the library compiles with warnings denied), and generating
//! twice gives the same text. A fixture's settings, when it has any, are in `<fixture>.toml` beside it.
//! A fixture that shows how the generator reports what it cannot say faithfully lists the warnings it
//! must produce in `<fixture>.warnings` beside it, one per line (`#<JSON pointer>: <message>`), exactly;
//! every other fixture must produce none. A warning without a pointer never matches: each one must say
//! where in the description it is.
//!
//! To accept new output: `UPDATE_SNAPSHOTS=1 cargo test -p connector-tests --test snapshots`. When the
//! checked-in snapshots no longer compile (a runtime API changed), empty the broken ones first
//! (`: > tests/src/snapshots/<fixture>.rs`) so the library builds, then update.

use std::path::{Path, PathBuf};

use connector_codegen::Settings;

const UPDATE_COMMAND: &str = "UPDATE_SNAPSHOTS=1 cargo test -p connector-tests --test snapshots";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Fixture descriptions (module name, path), sorted; the macro's own fixtures are not snapshots.
fn fixtures() -> Vec<(String, PathBuf)> {
    let dir = root().join("fixtures");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| {
            p.is_file()
                && matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("yaml" | "yml" | "json")
                )
        })
        .filter_map(|p| {
            let name = p.file_stem()?.to_str()?.to_owned();
            (!name.starts_with("macro_")).then_some((name, p))
        })
        .collect();
    out.sort();
    out
}

/// The fixture's settings: `<fixture>.toml` beside it, else the defaults.
fn settings(path: &Path) -> Settings {
    let toml = path.with_extension("toml");
    if toml.is_file() {
        Settings::from_toml_file(&toml).unwrap_or_else(|e| panic!("{}: {e}", toml.display()))
    } else {
        Settings::default()
    }
}

/// The warnings a fixture must produce: the lines of `<fixture>.warnings`, none when it is absent.
fn expected_warnings(path: &Path) -> Vec<String> {
    match std::fs::read_to_string(path.with_extension("warnings")) {
        Ok(text) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn indent(lines: &[String]) -> String {
    if lines.is_empty() {
        return "    (none)".to_owned();
    }
    lines
        .iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The fixture's module text, and the generator's warnings about it.
fn render(path: &Path) -> (String, Vec<String>) {
    let (tokens, warnings) = connector_codegen::generate_tokens(path, &settings(path))
        .unwrap_or_else(|e| panic!("{} does not generate: {e}", path.display()));
    let text = connector_codegen::emit::file(tokens)
        .unwrap_or_else(|e| panic!("{} generates unparsable code: {e}", path.display()));
    // One line per warning, without the file (its path differs between machines): where, then what.
    let lines = warnings
        .iter()
        .map(|w| match &w.pointer {
            Some(p) => format!("#{p}: {}", w.message),
            None => format!("(no JSON pointer): {}", w.message),
        })
        .collect();
    (text, lines)
}

/// Where two texts first differ, with a few lines of each around it.
fn diff_hint(old: &str, new: &str) -> String {
    let old_lines: Vec<&str> = old.lines().collect();
    let new_lines: Vec<&str> = new.lines().collect();
    let first = old_lines
        .iter()
        .zip(&new_lines)
        .position(|(a, b)| a != b)
        .unwrap_or(old_lines.len().min(new_lines.len()));
    let changed = old_lines
        .iter()
        .zip(&new_lines)
        .filter(|(a, b)| a != b)
        .count()
        + old_lines.len().abs_diff(new_lines.len());
    let window = |lines: &[&str], sign: char| -> String {
        let from = first.saturating_sub(2);
        let to = (first + 4).min(lines.len());
        (from..to)
            .map(|i| format!("    {sign} {:>5} | {}\n", i + 1, lines[i]))
            .collect()
    };
    format!(
        "first difference at line {} ({} of {} lines differ, {} -> {} lines)\n  checked in:\n{}  generated:\n{}",
        first + 1,
        changed,
        old_lines.len().max(new_lines.len()),
        old_lines.len(),
        new_lines.len(),
        window(&old_lines, '-'),
        window(&new_lines, '+'),
    )
}

#[test]
fn every_fixture_matches_its_snapshot() {
    let update = std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1");
    let snapshots = root().join("src").join("snapshots");
    let lib = std::fs::read_to_string(root().join("src").join("lib.rs")).expect("src/lib.rs");
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 12,
        "expected the fixture set in tests/fixtures, found {}",
        fixtures.len()
    );
    let mut problems = Vec::new();
    for (name, path) in &fixtures {
        let (text, warnings) = render(path);
        assert_eq!(
            text,
            render(path).0,
            "{name}: generating twice gave different text"
        );
        // Fixtures describe supported features only, unless they list the warnings they exist to show:
        // anything else skipped or approximated is a failure.
        let expected = expected_warnings(path);
        if warnings != expected {
            let listed = path.with_extension("warnings");
            problems.push(format!(
                "{name}: generator warnings differ from {}:\n  expected:\n{}\n  got:\n{}",
                listed.display(),
                indent(&expected),
                indent(&warnings),
            ));
        }
        let snap = snapshots.join(format!("{name}.rs"));
        let old = std::fs::read_to_string(&snap).ok();
        if update {
            if old.as_deref() != Some(text.as_str()) {
                std::fs::create_dir_all(&snapshots).expect("create snapshots folder");
                std::fs::write(&snap, &text)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", snap.display()));
                eprintln!("updated {}", snap.display());
            }
        } else {
            match old {
                Some(old) if old == text => {}
                Some(old) => problems.push(format!(
                    "{name}: tests/src/snapshots/{name}.rs is out of date; {}",
                    diff_hint(&old, &text)
                )),
                None => problems.push(format!("{name}: tests/src/snapshots/{name}.rs is missing")),
            }
        }
        let decl = format!("#[path = \"snapshots/{name}.rs\"]\npub mod {name};");
        let skipped = format!(
            "#[rustfmt::skip] // formatted by the generator (prettyplease), as users get it\n{decl}"
        );
        if !lib.contains(&skipped) {
            problems.push(format!(
                "{name}: not compiled (or not kept from rustfmt); add to tests/src/lib.rs:\n{skipped}"
            ));
        }
    }
    for entry in std::fs::read_dir(&snapshots).expect("snapshots folder") {
        let p = entry.expect("directory entry").path();
        let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if !fixtures.iter().any(|(n, _)| n == stem) {
            problems.push(format!(
                "{}: no fixture generates it; remove it and its declaration",
                p.display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nIf the new output is intended, update the snapshots:\n    {UPDATE_COMMAND}\n",
        problems.join("\n\n")
    );
}

#[test]
fn diff_hint_points_at_the_first_changed_line() {
    let hint = diff_hint("a\nb\nc\n", "a\nB\nc\nd\n");
    assert!(
        hint.starts_with("first difference at line 2 (2 of 4 lines differ"),
        "{hint}"
    );
    assert!(
        hint.contains("-     2 | b") && hint.contains("+     2 | B"),
        "{hint}"
    );
}
