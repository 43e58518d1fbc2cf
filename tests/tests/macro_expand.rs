//! `#[connector]` expands a description into a typed module that talks to a real (loopback) server.

use std::path::Path;

use chrono::{TimeZone, Utc};
use connector_codegen::Settings;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The pet store, expanded in place with default settings.
#[connector_macros::connector(spec = "fixtures/macro_petstore.yaml")]
pub mod petstore {}

/// The same description with settings: only `pets`, another base URL, automatic idempotency keys.
#[connector_macros::connector(
    spec = "fixtures/macro_petstore.yaml",
    exclude_tags = ["store"],
    base_url = "http://127.0.0.1:9/v9",
    idempotency_keys = true,
)]
mod pets_only {}

const PET_ID: &str = "6f1c1a2e-3b4d-4c5e-8f90-1a2b3c4d5e6f";

fn pet_json(status: &str) -> serde_json::Value {
    json!({
        "id": PET_ID,
        "name": "Rex",
        "status": status,
        "created_at": "2024-05-06T07:08:09Z",
    })
}

#[test]
fn models_are_typed_and_serialise_to_the_wire_shape() {
    let born = Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap();
    let new = petstore::models::NewPet {
        name: "Rex".into(),
        status: Some(petstore::models::PetStatus::Pending),
        born_at: Some(born),
    };
    assert_eq!(
        serde_json::to_value(&new).unwrap(),
        json!({"name": "Rex", "status": "pending", "born_at": "2020-01-02T03:04:05Z"})
    );
    // Optional fields left out are not sent.
    assert_eq!(
        serde_json::to_value(petstore::models::NewPet {
            name: "Tom".into(),
            ..Default::default()
        })
        .unwrap(),
        json!({"name": "Tom"})
    );

    let pet: petstore::models::Pet = serde_json::from_value(pet_json("sold")).unwrap();
    assert_eq!(pet.id, uuid::Uuid::parse_str(PET_ID).unwrap());
    assert_eq!(pet.status, petstore::models::PetStatus::Sold);
    assert_eq!(
        pet.created_at,
        Utc.with_ymd_and_hms(2024, 5, 6, 7, 8, 9).unwrap()
    );
    assert_eq!(pet.tag, None);

    assert_eq!(petstore::SERVERS, ["https://pets.example.com/v2"]);
    assert_eq!(
        petstore::Client::config().base_url,
        "https://pets.example.com/v2"
    );
    assert!(!petstore::Client::config().idempotency.auto_generate);
}

#[test]
fn macro_settings_reach_the_generated_module() {
    // `base_url` comes first among the servers and is the default; the description's server follows.
    assert_eq!(
        pets_only::SERVERS,
        ["http://127.0.0.1:9/v9", "https://pets.example.com/v2"]
    );
    let config = pets_only::Client::config();
    assert_eq!(config.base_url, "http://127.0.0.1:9/v9");
    assert!(config.idempotency.auto_generate);
    // The models are generated per module: the same schema gives a distinct type in each.
    let _: pets_only::models::NewPet = pets_only::models::NewPet {
        name: "Rex".into(),
        ..Default::default()
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_send_typed_requests_and_decode_typed_responses() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/pets"))
        .and(header("content-type", "application/json"))
        .and(body_json(
            json!({"name": "Rex", "status": "available", "born_at": "2020-01-02T03:04:05Z"}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(pet_json("available")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/pets"))
        .and(query_param("limit", "2"))
        .and(query_param("status", "pending"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([pet_json("pending")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/pets/missing"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_json(json!({"code": 404, "message": "no such pet"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/store/inventory"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"available": 3, "sold": 1})))
        .expect(1)
        .mount(&server)
        .await;

    let mut config = petstore::Client::config();
    config.base_url = server.uri();
    let client = petstore::Client::new(config).await.unwrap();

    let created = client
        .pets()
        .create_pet(petstore::models::NewPet {
            name: "Rex".into(),
            status: Some(petstore::models::PetStatus::Available),
            born_at: Some(Utc.with_ymd_and_hms(2020, 1, 2, 3, 4, 5).unwrap()),
        })
        .send()
        .await
        .unwrap();
    assert_eq!(created.status.as_u16(), 201);
    let pet: petstore::models::Pet = created.data;
    assert_eq!(pet.name, "Rex");
    assert_eq!(pet.status, petstore::models::PetStatus::Available);
    assert_eq!(pet.id.to_string(), PET_ID);

    let page: Vec<petstore::models::Pet> = client
        .pets()
        .list_pets()
        .limit(2)
        .status(petstore::models::PetStatus::Pending)
        .send()
        .await
        .unwrap()
        .data;
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].status, petstore::models::PetStatus::Pending);

    let err = client
        .pets()
        .show_pet_by_id("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), petstore::ErrorCode::InvalidRequest);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    let body = err
        .body::<petstore::models::ErrorModel>()
        .expect("typed error body");
    assert_eq!(body.message, "no such pet");

    let inventory = client.store().get_inventory().send().await.unwrap().data;
    assert_eq!(inventory.get("available"), Some(&3));
    assert_eq!(inventory.get("sold"), Some(&1));

    // What the server received, in order.
    let received = server.received_requests().await.unwrap();
    let seen: Vec<(String, String, Option<String>)> = received
        .iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_owned(),
                r.url.query().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("POST".into(), "/pets".into(), None),
            (
                "GET".into(),
                "/pets".into(),
                Some("limit=2&status=pending".into())
            ),
            ("GET".into(), "/pets/missing".into(), None),
            ("GET".into(), "/store/inventory".into(), None),
        ]
    );
    let post = &received[0];
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&post.body).unwrap(),
        json!({"name": "Rex", "status": "available", "born_at": "2020-01-02T03:04:05Z"})
    );
    // No idempotency key unless the setting asks for one.
    assert!(post.headers.get("idempotency-key").is_none());
    // The user agent names the crate that expanded the macro.
    let agent = post.headers.get("user-agent").unwrap().to_str().unwrap();
    assert!(agent.starts_with("connector-tests/0.0.0 "), "{agent}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_setting_adds_a_key_to_post() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/pets"))
        .respond_with(ResponseTemplate::new(201).set_body_json(pet_json("sold")))
        .expect(1)
        .mount(&server)
        .await;
    let mut config = pets_only::Client::config();
    config.base_url = server.uri();
    let client = pets_only::Client::new(config).await.unwrap();
    let pet = client
        .pets()
        .create_pet(pets_only::models::NewPet {
            name: "Rex".into(),
            ..Default::default()
        })
        .send()
        .await
        .unwrap()
        .data;
    assert_eq!(pet.status, pets_only::models::PetStatus::Sold);
    let received = server.received_requests().await.unwrap();
    let key = received[0].headers.get("idempotency-key");
    assert!(key.is_some_and(|k| !k.is_empty()), "{key:?}");
}

fn spec() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/macro_petstore.yaml")
}

/// Rust text with comments, whitespace and commas removed: prettyplease wraps (and adds trailing
/// commas) by line width, which differs between a file and the same code nested in a module.
fn normalized(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("// "))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect()
}

/// Normalized text without its `#[cfg(feature = ...)]` and `#[cfg(any(feature = ...))]` attributes.
fn without_feature_gates(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let any = rest.find("#[cfg(any(feature=");
        let one = rest.find("#[cfg(feature=");
        let (i, close) = match (any, one) {
            (Some(a), Some(o)) if a < o => (a, "))]"),
            (Some(a), None) => (a, "))]"),
            (_, Some(o)) => (o, ")]"),
            (None, None) => break,
        };
        out.push_str(&rest[..i]);
        let end = rest[i..].find(close).expect("a closed cfg attribute");
        rest = &rest[i + end + close.len()..];
    }
    out.push_str(rest);
    out
}

#[test]
fn the_macro_and_the_cli_generate_the_same_code() {
    let settings = Settings::default();
    let (first, warnings) = connector_codegen::generate_tokens(&spec(), &settings).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let (second, _) = connector_codegen::generate_tokens(&spec(), &settings).unwrap();
    assert_eq!(
        first.to_string(),
        second.to_string(),
        "generation is deterministic"
    );
    let inline = connector_codegen::emit::file(first).unwrap();
    let inline_normalized = normalized(&inline);

    // The CLI's crate holds the same modules, only as files (and with a cargo feature per tag, which
    // also gates the model types only some tags use).
    let generated = connector_codegen::generate(&spec(), &settings).unwrap();
    let modules: Vec<&str> = generated
        .files
        .keys()
        .filter(|f| f.starts_with("src/") && f.ends_with(".rs") && *f != "src/lib.rs")
        .map(String::as_str)
        .collect();
    assert_eq!(modules, ["src/models.rs", "src/pets.rs", "src/store.rs"]);
    for file in modules {
        let module = file.trim_start_matches("src/").trim_end_matches(".rs");
        let body = without_feature_gates(&normalized(&generated.files[file]));
        assert!(
            inline_normalized.contains(&format!("pubmod{module}{{{body}}}")),
            "{file} differs from the module `{module}` of the macro's code:\n{inline}"
        );
    }
    let lib = &generated.files["src/lib.rs"];
    for item in [
        "pub struct Client {",
        "pub fn config() -> ConnectorConfig {",
        "pub const SERVERS: &[&str] = &[\"https://pets.example.com/v2\"];",
    ] {
        assert!(lib.contains(item) && inline.contains(item), "{item}");
    }
    // Tag features are a crate matter: the module has none.
    assert!(!inline.contains("cfg(feature"));
    assert!(lib.contains("cfg(feature = \"pets\")"));
}
