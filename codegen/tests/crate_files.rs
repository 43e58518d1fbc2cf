//! The files of a generated crate beyond its modules: `examples/quickstart.rs`, `tests/client.rs` and
//! what `Cargo.toml` needs for them, the README's authentication, and `write_crate` removing files no
//! longer generated.

use std::path::{Path, PathBuf};

use connector_codegen::{Generated, Settings};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../tests/fixtures/{name}"))
}

fn generate(spec: &Path, settings: &str) -> Generated {
    let settings = Settings::from_toml(settings).expect("settings");
    connector_codegen::generate(spec, &settings).expect("generates")
}

/// A fresh folder under the system's temporary folder.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("connector-codegen-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

const HEADERS_HINT: &str = "crate_name = \"forum-connector\"\n[[auth]]\nscheme = \"forum_key\"\ntype = \"headers\"\nnames = [\"Api-Key\", \"Api-Username\"]\n";

#[test]
fn the_example_calls_a_real_operation_with_credentials_from_the_environment() {
    let g = generate(&fixture("auth_headers.yaml"), HEADERS_HINT);
    let example = &g.files["examples/quickstart.rs"];
    assert!(example.starts_with("// @generated"), "{example}");
    assert!(
        example.contains("client.posts().list_posts().send().await"),
        "{example}"
    );
    assert!(example.contains("\"CONNECTOR_BASE_URL\""), "{example}");
    assert!(example.contains("\"http://127.0.0.1:4010\""), "{example}");
    // The simplest scheme: the API key header before the pair of headers.
    assert!(
        example.contains("forum_connector::auth::service_key(key)"),
        "{example}"
    );
    assert!(example.contains("\"CONNECTOR_KEY\""), "{example}");

    let manifest = &g.files["Cargo.toml"];
    assert!(manifest.contains("\n[dev-dependencies]\ntokio = { version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }\nwiremock = \"0.6\"\n"), "{manifest}");
    assert!(
        manifest.ends_with(
            "\n[[example]]\nname = \"quickstart\"\nrequired-features = [\"posts\"]\n\n[[test]]\nname = \"client\"\nrequired-features = [\"posts\"]\n"
        ),
        "{manifest}"
    );

    let readme = &g.files["README.md"];
    assert!(
        readme.contains("config.auth = Some(forum_connector::auth::service_key(\"your key\"));"),
        "{readme}"
    );
    assert!(
        readme
            .contains("`auth::forum_key` (the headers `Api-Key`, `Api-Username` on every request)"),
        "{readme}"
    );

    // Without tag features the example needs no feature.
    let g = generate(
        &fixture("auth_headers.yaml"),
        &format!("tag_features = false\n{HEADERS_HINT}"),
    );
    assert!(
        g.files["Cargo.toml"]
            .ends_with("\n[[example]]\nname = \"quickstart\"\n\n[[test]]\nname = \"client\"\n"),
        "{}",
        g.files["Cargo.toml"]
    );
}

#[test]
fn the_crate_tests_its_example_call_against_a_loopback_server() {
    let g = generate(&fixture("auth_headers.yaml"), HEADERS_HINT);
    let test = &g.files["tests/client.rs"];
    assert!(test.starts_with("// @generated"), "{test}");
    let flat: String = test.chars().filter(|c| !c.is_whitespace()).collect();
    for expected in [
        // The described method and path, the answer built from the success schema (a list of strings).
        "Mock::given(method(\"GET\")).and(path_regex(\"^/posts$\"))",
        "constANSWER:&str=r#\"[\"sample\"]\"#;",
        "ResponseTemplate::new(200).set_body_raw(ANSWER,\"application/json\")",
        "client(&server).await.posts().list_posts().send().await",
        // The credential the simplest scheme puts on the wire.
        "config.auth=Some(forum_connector::auth::service_key(\"test-key\"));",
        "assert_eq!(header(\"x-service-key\").as_deref(),Some(\"test-key\")",
        // Errors.
        "(Some(404),forum_connector::ErrorCode::InvalidRequest,false)",
        "assert_eq!(error.code(),forum_connector::ErrorCode::ParsingError);",
    ] {
        assert!(flat.contains(expected), "{expected}\n{test}");
    }
}

#[test]
fn the_headers_constructor_takes_one_value_per_header_in_order() {
    let (tokens, _) = connector_codegen::generate_tokens(
        &fixture("auth_headers.yaml"),
        &Settings::from_toml(HEADERS_HINT).expect("settings"),
    )
    .expect("generates");
    let code: String = connector_codegen::emit::file(tokens)
        .expect("parses")
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(
        code.contains("pubfnforum_key(api_key:implInto<String>,api_username:implInto<String>,)->connector_runtime::AuthConfig"),
        "{code}"
    );
    assert!(
        code.contains("(\"Api-Key\".to_owned(),api_key.into().into()),(\"Api-Username\".to_owned(),api_username.into().into())"),
        "{code}"
    );
}

#[test]
fn an_example_operation_that_cannot_be_called_simply_is_a_warning() {
    let g = generate(
        &fixture("auth_headers.yaml"),
        "example_operation = \"noSuchOperation\"\n",
    );
    assert!(
        g.warnings
            .iter()
            .any(|w| w.message.contains("example_operation `noSuchOperation`")),
        "{:?}",
        g.warnings
    );
    // It still has an example, of the operation chosen without the setting (without the headers hint,
    // the two headers are required arguments, filled with placeholder values).
    let example: String = g.files["examples/quickstart.rs"]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    assert!(example.contains(".posts().list_posts("), "{example}");
}

#[test]
fn a_description_without_a_get_has_no_example() {
    let dir = scratch("no-get");
    let spec = dir.join("openapi.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\ninfo: { title: Writes, version: '1' }\npaths:\n  /things:\n    post:\n      operationId: makeThing\n      responses:\n        '204': { description: made }\n",
    )
    .expect("write description");
    let g = generate(&spec, "");
    assert!(!g.files.contains_key("examples/quickstart.rs"));
    assert!(!g.files.contains_key("tests/client.rs"));
    assert!(!g.files["Cargo.toml"].contains("wiremock"));
    assert!(!g.files["Cargo.toml"].contains("[[example]]"));
    assert!(!g.files["Cargo.toml"].contains("tokio"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_description_without_operations_is_a_models_crate_with_nothing_compiled_out() {
    let dir = scratch("models-only");
    let spec = dir.join("openapi.yaml");
    std::fs::write(
        &spec,
        "openapi: 3.0.3\ninfo: { title: Shared models, version: '1' }\npaths: {}\ncomponents:\n  schemas:\n    Pet:\n      type: object\n      required: [id]\n      properties:\n        id: { type: integer, format: int64 }\n        tag: { $ref: '#/components/schemas/Tag' }\n    Tag:\n      type: string\n      enum: [cat, dog]\n",
    )
    .expect("write description");
    let g = generate(&spec, "");
    let models = &g.files["src/models.rs"];
    assert!(models.contains("pub struct Pet"), "{models}");
    assert!(models.contains("pub enum Tag"), "{models}");
    assert!(!models.contains("cfg(feature"), "{models}");
    assert!(!g.files["Cargo.toml"].contains("[features]"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn write_crate_removes_stale_generated_files_and_keeps_other_files() {
    let out = scratch("write");
    for (rel, text) in [
        ("src/gone.rs", "// an old module\n"),
        ("examples/old_example.rs", "fn main() {}\n"),
        ("examples/notes.txt", "kept\n"),
        (
            "tests/old.rs",
            "// @generated by connector-gen. Do not edit by hand: regenerate instead.\n",
        ),
        ("tests/mine.rs", "// the user's own test\n"),
    ] {
        let p = out.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("folder");
        std::fs::write(&p, text).expect("write");
    }
    let g = generate(&fixture("auth_headers.yaml"), HEADERS_HINT);
    let written = connector_codegen::write_crate(&g, &out).expect("write_crate");
    assert_eq!(written.len(), g.files.len());
    assert!(!out.join("src/gone.rs").exists());
    assert!(!out.join("examples/old_example.rs").exists());
    assert!(out.join("examples/notes.txt").exists());
    assert!(!out.join("tests/old.rs").exists());
    assert!(out.join("tests/mine.rs").exists());
    assert!(out.join("tests/client.rs").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("examples/quickstart.rs")).expect("example"),
        g.files["examples/quickstart.rs"]
    );
    assert!(out.join("src/posts.rs").exists());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn package_settings_fill_the_manifest_a_registry_reads() {
    let g = generate(
        &fixture("objects.yaml"),
        "crate_name = \"acme-connector\"\ncrate_version = \"2.1.0-beta.1\"\ncrate_license = \"Apache-2.0\"\n\
         crate_repository = \"https://git.example.com/acme\"\ncrate_homepage = \"https://acme.example\"\n\
         crate_publish = [\"acme-registry\"]\nruntime = { version = \"0.1\" }\n",
    );
    let manifest = &g.files["Cargo.toml"];
    for line in [
        "name = \"acme-connector\"",
        "version = \"2.1.0-beta.1\"",
        "license = \"Apache-2.0\"",
        "repository = \"https://git.example.com/acme\"",
        "homepage = \"https://acme.example\"",
        "publish = [\"acme-registry\"]",
        "connector-runtime = \"0.1\"",
    ] {
        assert!(
            manifest.lines().any(|l| l == line),
            "{line} not in:\n{manifest}"
        );
    }
    assert!(!manifest.contains("documentation ="), "{manifest}");
    assert!(!manifest.contains("path ="), "{manifest}");
}

#[test]
fn a_crate_version_cargo_would_refuse_fails_generation() {
    let settings = Settings::from_toml("crate_version = \"2025-09\"").expect("settings");
    let e =
        connector_codegen::generate(&fixture("objects.yaml"), &settings).expect_err("not semver");
    assert!(e.message.contains("crate_version `2025-09`"), "{e}");
}

#[test]
fn nested_tags_live_in_their_parent_module_and_their_feature_enables_the_parent() {
    let g = generate(&fixture("oas32_tags.yaml"), "");
    // One file per group; a nested group's file is declared from its parent's.
    let store = &g.files["src/store.rs"];
    assert!(
        store.contains("#[cfg(feature = \"orders\")]\n#[path = \"orders.rs\"]\npub mod orders;"),
        "{store}"
    );
    assert!(
        store.contains("pub fn orders(&self) -> orders::OrdersApi<'a>"),
        "{store}"
    );
    let orders = &g.files["src/orders.rs"];
    assert!(
        orders.contains("#[path = \"refunds.rs\"]\npub mod refunds;"),
        "{orders}"
    );
    assert!(g.files.contains_key("src/refunds.rs"));
    let lib = &g.files["src/lib.rs"];
    assert!(
        lib.contains("pub mod store;") && !lib.contains("pub mod orders;"),
        "{lib}"
    );
    let cargo = &g.files["Cargo.toml"];
    for line in [
        "orders = [\"store\"]\n",
        "refunds = [\"orders\"]\n",
        "store = []\n",
        "ping = [\"pong\"]\n",
        "catalog = []\n",
    ] {
        assert!(cargo.contains(line), "{line} in {cargo}");
    }
    let readme = &g.files["README.md"];
    assert!(!readme.contains("client.orders()"), "{readme}");
}

#[test]
fn an_aws_signed_crate_checks_the_signature_and_documents_its_constructors() {
    let g = generate(
        &fixture("aws_sigv4.yaml"),
        "crate_name = \"functions-connector\"\n",
    );
    let test = &g.files["tests/client.rs"];
    let flat: String = test.chars().filter(|c| !c.is_whitespace()).collect();
    for expected in [
        "functions_connector::auth::aws_sigv4(\"test-access-key-id\",\"test-secret-access-key\",\"test-region\"",
        "assert!(header(\"authorization\").is_some_and(|v|v.starts_with(\"AWS4-HMAC-SHA256Credential=test-access-key-id/\"))",
        "assert!(header(\"x-amz-date\").is_some_and(|v|v.starts_with(\"\"))",
    ] {
        assert!(flat.contains(expected), "{expected}\n{test}");
    }
    let readme = &g.files["README.md"];
    assert!(
        readme.contains("`auth::aws_sigv4` (AWS Signature Version 4 for `lambda`; `auth::aws_sigv4_from_env()` reads"),
        "{readme}"
    );
    // A settings override wins over the server's host.
    let g = generate(
        &fixture("aws_sigv4.yaml"),
        "crate_name = \"functions-connector\"\naws_signing_name = \"execute-api\"\n",
    );
    let lib = &g.files["src/lib.rs"];
    assert!(lib.contains("aws_sigv4_from_env(\"execute-api\")"), "{lib}");
}

#[test]
fn a_crate_with_streams_has_its_sync_catalog_behind_a_feature_with_a_command_and_docs() {
    let g = generate(
        &fixture("sync_issues.yaml"),
        "crate_name = \"tracker-connector\"\nruntime = { path = \"../../runtime\" }\n",
    );
    let manifest = &g.files["Cargo.toml"];
    assert!(
        manifest.contains(
            "connector-sync = { path = \"../../sync\", version = \"0.1.0\", optional = true }\n"
        ),
        "{manifest}"
    );
    assert!(
        manifest.contains("\nsync = [\"dep:connector-sync\"]\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains(
            "\n[[bin]]\nname = \"tracker-sync\"\npath = \"src/bin/sync.rs\"\nrequired-features = [\"sync\"]\n"
        ),
        "{manifest}"
    );
    let lib = &g.files["src/lib.rs"];
    assert!(
        lib.contains("#[cfg(feature = \"sync\")]\npub mod sync;"),
        "{lib}"
    );
    let module = &g.files["src/sync.rs"];
    assert!(module.contains("connector: \"tracker\""), "{module}");
    assert!(module.contains("#[cfg(feature = \"issues\")]"), "{module}");
    assert!(module.contains("fn fetch_issue_comments("), "{module}");
    let bin = &g.files["src/bin/sync.rs"];
    assert!(
        bin.contains("connector_sync::cli::main(tracker_connector::sync::catalog())"),
        "{bin}"
    );
    let docs = &g.files["SYNC.md"];
    for part in [
        "| `issues` | `issues/list-for-repo` | `id` | `updated_at` (DateTime) | `since` (inclusive) |  | soft (at deleted_at) | every 15 minutes, incremental |",
        "CREATE TABLE issues (\n  id bigint,",
        "  item_updated_at timestamptz,",
        "  _hash text,\n  PRIMARY KEY (id)\n);",
        "`issue_number` from each `issues` row's `/number`",
        "## Recovery",
        "_sync_dead_letter",
        "--full-refresh",
    ] {
        assert!(docs.contains(part), "missing {part:?} in:\n{docs}");
    }
    assert!(g.files["README.md"].contains("## Sync"));

    // A version dependency on the runtime gives the same version of the sync engine.
    let g = generate(
        &fixture("sync_charges.yaml"),
        "crate_name = \"pay-connector\"\nruntime = { version = \"0.3.1\" }\n",
    );
    assert!(
        g.files["Cargo.toml"]
            .contains("connector-sync = { version = \"0.3.1\", optional = true }\n"),
        "{}",
        g.files["Cargo.toml"]
    );
    // Without a stream there is no catalog.
    let g = generate(&fixture("objects.yaml"), "");
    assert!(!g.files.contains_key("src/sync.rs") && !g.files.contains_key("SYNC.md"));
    assert!(!g.files["Cargo.toml"].contains("connector-sync"));
}

#[test]
fn streams_with_the_same_columns_share_one_list() {
    let g = generate(
        &fixture("sync_shared_columns.yaml"),
        "crate_name = \"shared-connector\"\ntag_features = true\n",
    );
    let sync = &g.files["src/sync.rs"];
    // Written once, after `catalog()`, and compiled whatever the features: the streams naming it
    // may all be compiled out.
    assert_eq!(
        sync.matches("const REPOSITORY_COLUMNS: &[Column] = &[")
            .count(),
        1,
        "{sync}"
    );
    assert!(
        sync.contains("#[allow(dead_code)]\nconst REPOSITORY_COLUMNS"),
        "{sync}"
    );
    assert_eq!(
        sync.matches("columns: REPOSITORY_COLUMNS,").count(),
        3,
        "{sync}"
    );
    // A type of the same fields shares it too, and the doc says so.
    assert!(
        sync.contains(
            "/// The columns of the streams whose items are `Repository` or `RepositoryItem`.\n"
        ),
        "{sync}"
    );
    assert_eq!(
        sync.matches("Column::required(\"id\", \"id\", ColumnKind::Int)")
            .count(),
        2,
        "one for the repositories' shared list, one in the members' own: {sync}"
    );
    // The members' list is theirs alone, so it stays in their definition.
    assert!(!sync.contains("MEMBER_COLUMNS"), "{sync}");
    assert!(sync.contains("columns: const {"), "{sync}");
}
