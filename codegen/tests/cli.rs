//! The `connector-gen` command: overlays from `--overlay` and from a settings file, what a bad
//! overlay prints, and the counts of unfaithful shapes in its `--json` report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// A fresh folder under the system's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connector-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_connector-gen"))
        .args(args)
        .output()
        .expect("connector-gen runs")
}

/// The `--json` report (the last line of stdout that is an object).
fn report(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no report in {stdout}"));
    serde_json::from_str(line).expect("the report is JSON")
}

/// Every generated Rust source, concatenated.
fn sources(out: &Path) -> String {
    let mut all = String::new();
    for e in std::fs::read_dir(out.join("src")).expect("src folder") {
        all.push_str(&std::fs::read_to_string(e.expect("entry").path()).expect("source"));
    }
    all
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn overlay_flag_corrects_the_description_and_the_counts_follow() {
    let dir = scratch("flag");
    let spec = fixtures().join("overlay_objects.yaml");
    let fixes = fixtures().join("overlay_objects/fixes.yaml");
    let (plain_dir, fixed_dir) = (dir.join("plain"), dir.join("fixed"));

    let plain = run(&["generate", path(&spec), "--out", path(&plain_dir), "--json"]);
    assert!(plain.status.success(), "{plain:?}");
    let fixed = run(&[
        "generate",
        path(&spec),
        "--out",
        path(&fixed_dir),
        "--overlay",
        path(&fixes),
        "--json",
    ]);
    assert!(fixed.status.success(), "{fixed:?}");

    // As published: the object's bytes modelled as an XML document, an invented 480 status.
    let before = sources(&plain_dir);
    let store_error = "error_body::<super::models::StoreError>";
    assert!(before.contains("NoSuchKey") && !before.contains(store_error));
    assert!(before.contains("op.xml(") && !before.contains("op.body("));
    // Corrected: bytes both ways, a JSON error under 404.
    let after = sources(&fixed_dir);
    assert!(after.contains(store_error) && !after.contains("NoSuchKey"));
    assert!(
        after.contains("op.body(Some(\"application/octet-stream\")") && !after.contains("op.xml(")
    );
    let r = report(&fixed);
    assert_eq!(r["unfaithful"]["xml_body"]["operations"], 0, "{r}");
    assert_eq!(r["unfaithful"]["binary_as_string"]["operations"], 0, "{r}");
    assert_eq!(r["warnings"], Value::Array(Vec::new()), "{r}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn settings_overlays_are_relative_to_the_settings_file_and_flags_apply_after_them() {
    let dir = scratch("settings");
    std::fs::create_dir_all(dir.join("vendor/fixes")).unwrap();
    let overlay = |title: &str| {
        format!(
            "overlay: 1.0.0\ninfo: {{title: t, version: '1'}}\nactions:\n  - target: $.info\n    update: {{title: {title}}}\n  - target: $.paths['/nowhere']\n    remove: true\n"
        )
    };
    std::fs::write(
        dir.join("vendor/fixes/title.yaml"),
        overlay("Renamed Store"),
    )
    .unwrap();
    std::fs::write(
        dir.join("vendor/settings.toml"),
        "overlays = [\"fixes/title.yaml\"]\n",
    )
    .unwrap();
    let spec = fixtures().join("overlay_objects.yaml");
    let out = dir.join("out");
    let settings = dir.join("vendor/settings.toml");
    let first = run(&[
        "generate",
        path(&spec),
        "--out",
        path(&out),
        "--settings",
        path(&settings),
        "--json",
    ]);
    assert!(first.status.success(), "{first:?}");
    let r = report(&first);
    assert_eq!(r["crate"], "renamed-store-connector", "{r}");
    // The second action selects nothing: a warning naming it, not an error.
    let warnings = r["warnings"].as_array().expect("warnings");
    assert_eq!(warnings.len(), 1, "{r}");
    let w = warnings[0].as_str().unwrap();
    assert!(
        w.contains("overlay action 1: target `$.paths['/nowhere']` selects nothing"),
        "{w}"
    );
    assert!(w.contains("title.yaml"), "{w}");

    std::fs::write(dir.join("last.yaml"), overlay("Last Word")).unwrap();
    let second = run(&[
        "generate",
        path(&spec),
        "--out",
        path(&out),
        "--settings",
        path(&settings),
        "--overlay",
        path(&dir.join("last.yaml")),
        "--json",
    ]);
    assert!(second.status.success(), "{second:?}");
    assert_eq!(report(&second)["crate"], "last-word-connector");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_bad_overlay_is_an_error_naming_its_file() {
    let dir = scratch("bad");
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        "overlay: 2.0.0\ninfo: {title: t, version: '1'}\nactions: [{target: $, remove: true}]\n",
    )
    .unwrap();
    let spec = fixtures().join("overlay_objects.yaml");
    let out = run(&[
        "generate",
        path(&spec),
        "--out",
        path(&dir.join("out")),
        "--overlay",
        path(&bad),
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported overlay version \"2.0.0\""),
        "{stderr}"
    );
    assert!(stderr.contains(path(&bad)), "{stderr}");
    let r = report(&out);
    assert_eq!(r["ok"], false);
    assert_eq!(r["pointer"], "/overlay");
    assert!(!dir.join("out").exists());

    let missing = run(&[
        "generate",
        path(&spec),
        "--out",
        path(&dir.join("out")),
        "--overlay",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("--overlay needs a value"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn streams_lists_what_a_sync_engine_can_keep_and_what_it_cannot() {
    let spec = fixtures().join("sync_issues.yaml");
    let spec = spec.to_str().expect("UTF-8 path");
    let out = run(&["streams", spec]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    for part in [
        "2 streams",
        "issues  issues/list-for-repo [detected]",
        "key id; cursor updated_at (DateTime); filter since (inclusive)",
        "parent issues; params owner, repo, issue_number<-/number",
        "deletes soft (at deleted_at); 12 columns",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }

    let out = run(&["streams", spec, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let r = report(&out);
    assert_eq!(r["ok"], true);
    assert_eq!(r["report"]["streams"][1]["table"], "issue_comments");
    assert_eq!(r["report"]["streams"][1]["parent"], "issues");

    // A setting naming a missing field is an error naming it.
    let dir = scratch("streams-settings");
    let settings = dir.join("s.toml");
    std::fs::write(
        &settings,
        "[streams.\"issues/list-for-repo\"]\ncursor = \"touched_at\"\n",
    )
    .expect("write settings");
    let out = run(&[
        "streams",
        spec,
        "--settings",
        settings.to_str().expect("UTF-8"),
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cursor names `touched_at`"), "{err}");

    // The list operations that are no stream, with why.
    let spec = fixtures().join("paging.yaml");
    let out = run(&["streams", spec.to_str().expect("UTF-8")]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("1 list operations are no stream:\n  listWidgets (GET /widgets): its items are not objects"),
        "{text}"
    );
}
