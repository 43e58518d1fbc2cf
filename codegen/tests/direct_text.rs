//! The items `emit` writes straight to text (methods, builder and header structs, the models'
//! macro inputs, the sync catalog's column lists) are byte-identical to the same items formatted
//! through tokens and prettyplease: every fixture, and the vendor descriptions when they are there
//! (`CONNECTOR_SPECS_DIR`, the shared corpus beside the repository, or the xtask's cache), is
//! generated both ways and every file compared.
//!
//! The switch is process-wide, so this file holds one test.

use std::path::{Path, PathBuf};

use connector_codegen::{Settings, emit};

fn fixtures() -> Vec<(PathBuf, Settings)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let mut out: Vec<(PathBuf, Settings)> = std::fs::read_dir(&dir)
        .expect("the fixtures folder")
        .map(|e| e.expect("a fixture").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let toml = p.with_extension("toml");
            let settings = if toml.is_file() {
                Settings::from_toml_file(&toml).expect("fixture settings")
            } else {
                Settings::default()
            };
            (p, settings)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The vendor descriptions found, with the settings their crates are generated with.
fn vendors() -> Vec<(PathBuf, Settings)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut dirs: Vec<PathBuf> = std::env::var_os("CONNECTOR_SPECS_DIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.push(root.join("../shared/specs"));
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cache/connector-specs"));
    }
    let wanted = [
        ("github/api.github.com.json", "github.toml"),
        ("stripe/spec3.json", "stripe.toml"),
        ("openai/openapi.yaml", "openai.toml"),
        ("twilio/twilio_api_v2010.json", "twilio.toml"),
        (
            "digitalocean/specification/DigitalOcean-public.v2.yaml",
            "digitalocean.toml",
        ),
        ("slack/slack_web_openapi_v2.json", "slack.toml"),
        ("asana/asana_oas.yaml", "asana.toml"),
        ("discourse/openapi.json", "discourse.toml"),
    ];
    let mut out = Vec::new();
    for (spec, settings) in wanted {
        let Some(path) = dirs.iter().map(|d| d.join(spec)).find(|p| p.is_file()) else {
            println!("{spec}: not found (set CONNECTOR_SPECS_DIR); left out");
            continue;
        };
        let file = root.join("specs/settings").join(settings);
        let settings = if file.is_file() {
            Settings::from_toml_file(&file).expect("vendor settings")
        } else {
            Settings::default()
        };
        out.push((path, settings));
    }
    out
}

fn generate(spec: &Path, settings: &Settings) -> std::collections::BTreeMap<String, String> {
    match connector_codegen::generate(spec, settings) {
        Ok(g) => g.files,
        Err(e) => panic!("{}: {e}", spec.display()),
    }
}

#[test]
fn methods_written_as_text_are_what_prettyplease_prints() {
    let mut cases = fixtures();
    assert!(cases.len() > 30, "fixtures found: {}", cases.len());
    cases.extend(vendors());
    let mut held = 0;
    for (spec, settings) in &cases {
        emit::set_direct_text(false);
        let formatted = generate(spec, settings);
        emit::set_direct_text(true);
        let direct = generate(spec, settings);
        assert_eq!(
            formatted.keys().collect::<Vec<_>>(),
            direct.keys().collect::<Vec<_>>(),
            "{}",
            spec.display()
        );
        for (path, text) in &formatted {
            let other = &direct[path];
            if text != other {
                let line = text
                    .lines()
                    .zip(other.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                panic!(
                    "{}: {path} differs from line {}:\nformatted: {:?}\ndirect:    {:?}",
                    spec.display(),
                    line + 1,
                    text.lines().nth(line),
                    other.lines().nth(line)
                );
            }
            held += text.matches("pub(crate) fn build(self)").count();
        }
    }
    // The comparison covered builders (every fixture with operations has some).
    assert!(held > 100, "builders compared: {held}");
}
