//! Loader tests: small fixtures with exact expected trees, and the real vendor descriptions when they are present.

use std::path::{Path, PathBuf};
use std::time::Instant;

use connector_codegen::Severity;
use connector_codegen::load::{Document, is_data, load_path, load_str};
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/load")
        .join(name)
}

fn load_fixture(name: &str) -> Document {
    match load_path(&fixture(name)) {
        Ok(doc) => doc,
        Err(diag) => panic!("{name}: {diag}"),
    }
}

/// Every `$ref` is internal and points at something inside the root (those inside examples,
/// defaults and extensions are data, not references).
fn assert_refs_resolve(root: &Value) {
    let mut stack: Vec<(Option<&str>, &Value)> = vec![(None, root)];
    while let Some((container, node)) = stack.pop() {
        match node {
            Value::Object(map) => {
                if let Some(Value::String(reference)) = map.get("$ref") {
                    let Some(fragment) = reference.strip_prefix('#').filter(|f| f.starts_with('/'))
                    else {
                        panic!("$ref {reference:?} is not internal");
                    };
                    let decoded = percent_decode(fragment);
                    assert!(
                        root.pointer(&decoded).is_some(),
                        "$ref {reference:?} does not resolve"
                    );
                }
                stack.extend(
                    map.iter()
                        .filter(|(k, v)| !is_data(container, k, v))
                        .map(|(k, v)| (Some(k.as_str()), v)),
                );
            }
            Value::Array(items) => stack.extend(items.iter().map(|v| (None, v))),
            _ => {}
        }
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------------------------------
// Fixtures

#[test]
fn multi_file_refs_are_bundled_once_and_made_internal() {
    let doc = load_fixture("multi/openapi.yaml");
    assert_eq!(doc.source_version, "3.0.3");
    assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    let expected = json!({
        "openapi": "3.0.3",
        "info": { "title": "Multi-file", "version": "1" },
        "tags": [{ "name": "pets", "description": { "$ref": "#/x-bundled/pets" } }],
        "paths": {
            "/pets": { "get": { "$ref": "#/x-bundled/pets_list" } },
            "/pets/{id}": { "$ref": "#/x-bundled/pet_item" }
        },
        "components": { "schemas": {
            "Local": { "type": "string" },
            "Pet": { "$ref": "#/x-bundled/pet", "description": "sibling kept" },
            "Weird": { "$ref": "#/x-bundled/c_d" }
        } },
        "x-bundled": {
            "pets": "Everything about pets.",
            "pets_list": {
                "operationId": "pets_list",
                "parameters": [{ "$ref": "#/x-bundled/limit" }],
                "responses": { "200": {
                    "description": "A page of pets.",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": {
                            "pets": { "type": "array", "items": { "$ref": "#/x-bundled/pet" } },
                            "links": { "$ref": "#/x-bundled/page_links" },
                            "local": { "$ref": "#/components/schemas/Local" }
                        }
                    } } }
                } }
            },
            "pet_item": {
                "parameters": [{ "$ref": "#/x-bundled/id" }],
                "get": {
                    "operationId": "pets_get",
                    "responses": { "200": {
                        "description": "One pet.",
                        "content": { "application/json": { "schema": { "$ref": "#/x-bundled/pet" } } }
                    } }
                }
            },
            "pet": {
                "type": "object",
                "properties": {
                    "name": { "type": "string" },
                    "owner": { "$ref": "#/x-bundled/owner" },
                    "tag": { "$ref": "#/x-bundled/pet_2" }
                }
            },
            "c_d": { "type": "boolean" },
            "limit": { "name": "limit", "in": "query", "schema": { "$ref": "#/x-bundled/limit_value" } },
            "page_links": { "type": "object", "properties": { "pages": { "$ref": "#/x-bundled/forward_links" } } },
            "id": { "name": "id", "in": "path", "required": true, "schema": { "type": "string" } },
            "owner": { "type": "object", "properties": { "pets": { "type": "array", "items": { "$ref": "#/x-bundled/pet" } } } },
            "pet_2": { "type": "string", "description": "A tag, in a second file called pet.yml." },
            "limit_value": { "type": "integer", "maximum": 100 },
            "forward_links": { "type": "object", "properties": { "next": { "type": "string" } } }
        }
    });
    assert_eq!(doc.root, expected);
    // Bundled in the order first referenced, so keys are stable from run to run.
    let keys: Vec<&str> = doc.root["x-bundled"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let order = [
        "pets",
        "pets_list",
        "pet_item",
        "pet",
        "c_d",
        "limit",
        "page_links",
        "id",
        "owner",
        "pet_2",
    ];
    assert_eq!(keys[..order.len()], order);
    let names: Vec<(&str, &str)> = doc
        .ref_names
        .iter()
        .map(|(r, n)| (r.as_str(), n.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("#/x-bundled/c_d", "c d"),
            ("#/x-bundled/forward_links", "forward_links"),
            ("#/x-bundled/id", "id"),
            ("#/x-bundled/limit", "limit"),
            ("#/x-bundled/limit_value", "limit_value"),
            ("#/x-bundled/owner", "owner"),
            ("#/x-bundled/page_links", "page_links"),
            ("#/x-bundled/pet", "pet"),
            ("#/x-bundled/pet_2", "pet"),
            ("#/x-bundled/pet_item", "pet_item"),
            ("#/x-bundled/pets", "pets"),
            ("#/x-bundled/pets_list", "pets_list"),
        ]
    );
    assert_refs_resolve(&doc.root);
}

#[test]
fn refs_resolve_against_a_base_directory_for_text_in_memory() {
    let text = "openapi: 3.1.0\ninfo: {title: T, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    Links:\n      $ref: 'shared/pages.yml#/page_links'\n";
    let doc = load_str(text, Some(&fixture("multi"))).unwrap();
    assert_eq!(
        doc.root["components"]["schemas"]["Links"],
        json!({ "$ref": "#/x-bundled/page_links" })
    );
    assert_eq!(
        doc.root["x-bundled"]["forward_links"]["properties"]["next"],
        json!({ "type": "string" })
    );
    assert_refs_resolve(&doc.root);

    let err = load_str(text, None).unwrap_err();
    assert_eq!(err.severity, Severity::Error);
    assert!(
        err.message.contains("shared/pages.yml#/page_links"),
        "{err}"
    );
    assert_eq!(err.pointer.as_deref(), Some("/components/schemas/Links"));
}

#[test]
fn broken_refs_become_empty_schemas_with_warnings() {
    let doc = load_fixture("broken/openapi.yaml");
    assert_eq!(doc.source_version, "3.1.0");
    assert_eq!(
        doc.root["components"]["schemas"],
        json!({
            "Missing": {},
            "BadFragment": { "description": "kept" },
            "Good": { "$ref": "#/x-bundled/good" },
            "NotAPointer": {},
            "Unparsable": {},
            "Remote": {}
        })
    );
    assert_eq!(
        doc.root["x-bundled"],
        json!({ "good": { "type": "integer" } })
    );
    let root_file = fixture("broken/openapi.yaml").canonicalize().unwrap();
    let at = |name: &str| format!("/components/schemas/{name}");
    /// Pointer of the ref, file it is in, parser position.
    type Site = (Option<String>, Option<PathBuf>, Option<(usize, usize)>);
    let found: Vec<Site> = doc
        .warnings
        .iter()
        .map(|w| {
            assert_eq!(w.severity, Severity::Warning);
            assert!(w.help.is_some());
            (w.pointer.clone(), w.file.clone(), w.line)
        })
        .collect();
    let bad_file = fixture("broken/bad.yml").canonicalize().unwrap();
    assert_eq!(
        found,
        [
            (Some(at("Missing")), Some(root_file.clone()), None),
            (Some(at("BadFragment")), Some(root_file.clone()), None),
            (Some(at("NotAPointer")), Some(root_file.clone()), None),
            (None, Some(bad_file), Some((3, 1))),
            (Some(at("Unparsable")), Some(root_file.clone()), None),
            (Some(at("Remote")), Some(root_file), None),
        ]
    );
    assert!(
        doc.warnings[0].message.contains("nope.yml")
            && doc.warnings[0].message.contains("not found")
    );
    assert!(
        doc.warnings[1].message.contains("/does/not/exist"),
        "{}",
        doc.warnings[1]
    );
    assert_refs_resolve(&doc.root);
}

#[test]
fn swagger2_is_converted_to_openapi3_structure() {
    let doc = load_fixture("swagger2/petstore.yaml");
    assert_eq!(doc.source_version, "2.0");
    let string_array = json!({ "type": "array", "items": { "type": "string" } });
    let query_array = |name: &str, style: &str, explode: bool, schema: &Value| json!({ "name": name, "in": "query", "style": style, "explode": explode, "schema": schema });
    let pets_schema = json!({ "type": "array", "items": { "$ref": "#/components/schemas/Pet" } });
    let expected = json!({
        "openapi": "3.0.3",
        "info": { "title": "Petstore", "version": "1.0" },
        "servers": [{ "url": "https://api.example.com/v1" }, { "url": "http://api.example.com/v1" }],
        "x-top": "kept",
        "security": [{ "basic": [] }],
        "paths": {
            "/pets": {
                "x-path-ext": "kept",
                "get": {
                    "operationId": "listPets",
                    "parameters": [
                        { "$ref": "#/components/parameters/limit" },
                        query_array("tags", "form", false, &string_array),
                        query_array("ids", "form", true, &json!({ "type": "array", "items": { "type": "integer" } })),
                        query_array("words", "spaceDelimited", false, &string_array),
                        query_array("flags", "pipeDelimited", false, &json!({ "type": "array", "items": { "type": "string", "enum": ["a", "b"] } })),
                        query_array("tabs", "form", false, &string_array),
                        { "name": "X-Trace", "in": "header", "schema": string_array }
                    ],
                    "responses": {
                        "200": {
                            "description": "Pets.",
                            "content": {
                                "application/json": { "schema": pets_schema, "example": [{ "name": "Rex" }] },
                                "application/xml": { "schema": pets_schema }
                            },
                            "headers": { "X-Rate-Limit": { "description": "Calls left.", "schema": { "type": "integer", "format": "int32" } } }
                        },
                        "default": { "$ref": "#/components/responses/NotFound" }
                    }
                },
                "post": {
                    "operationId": "createPet",
                    "x-op-ext": "kept",
                    "requestBody": {
                        "description": "The pet.",
                        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Pet" } } },
                        "required": true,
                        "x-codegen-request-body-name": "pet"
                    },
                    "responses": { "201": { "description": "Created." } }
                }
            },
            "/pets/{id}": {
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "put": {
                    "operationId": "updatePet",
                    "requestBody": {
                        "required": true,
                        "content": { "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "name": { "type": "string", "description": "New name." },
                                    "nicknames": string_array,
                                    "scores": { "type": "array", "items": { "type": "integer" } }
                                },
                                "required": ["name"]
                            },
                            "encoding": { "nicknames": { "style": "form", "explode": false } }
                        } }
                    },
                    "responses": { "204": { "description": "Updated." } }
                },
                "patch": {
                    "operationId": "patchPet",
                    "requestBody": {
                        "content": { "application/json": { "schema": { "$ref": "#/x-bundled/Patch" } } },
                        "x-codegen-request-body-name": "patch"
                    },
                    "responses": { "204": { "description": "Patched." } }
                }
            },
            "/pets/{id}/photo": {
                "post": {
                    "operationId": "uploadPhoto",
                    "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                    "requestBody": {
                        "required": true,
                        "content": { "multipart/form-data": { "schema": {
                            "type": "object",
                            "properties": {
                                "photo": { "type": "string", "format": "binary" },
                                "caption": { "type": "string", "nullable": true }
                            },
                            "required": ["photo"]
                        } } }
                    },
                    "responses": { "200": {
                        "description": "The photo.",
                        "content": { "image/png": { "schema": { "type": "string", "format": "binary" } } }
                    } }
                }
            }
        },
        "components": {
            "schemas": {
                "Pet": {
                    "type": "object",
                    "required": ["name"],
                    "discriminator": { "propertyName": "kind" },
                    "properties": {
                        "name": { "type": "string" },
                        "kind": { "type": "string" },
                        "tag": { "type": "string", "nullable": true },
                        "photo": { "type": "string", "format": "binary" },
                        "labels": { "type": "string", "nullable": true },
                        "mixed": { "type": ["string", "integer"] },
                        "children": { "type": "array", "items": { "$ref": "#/components/schemas/Pet" } }
                    },
                    "x-model": "kept"
                },
                "Error": { "type": "object", "properties": { "message": { "type": "string" } } },
                "External": { "$ref": "#/x-bundled/external" }
            },
            "parameters": {
                "limit": {
                    "name": "limit",
                    "in": "query",
                    "schema": { "type": "integer", "format": "int32", "minimum": 1, "maximum": 100, "default": 20 }
                }
            },
            "responses": {
                "NotFound": {
                    "description": "Not found.",
                    "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
                }
            },
            "securitySchemes": {
                "basic": { "type": "http", "scheme": "basic", "description": "Basic auth." },
                "key": { "type": "apiKey", "name": "X-Key", "in": "header" },
                "implicit": { "type": "oauth2", "flows": { "implicit": {
                    "authorizationUrl": "https://auth.example.com/authorize", "scopes": { "read": "Read things" }
                } } },
                "password": { "type": "oauth2", "flows": { "password": {
                    "tokenUrl": "https://auth.example.com/token", "scopes": {}
                } } },
                "app": {
                    "type": "oauth2",
                    "flows": { "clientCredentials": { "tokenUrl": "https://auth.example.com/token", "scopes": { "admin": "Admin" } } },
                    "x-vendor": "kept"
                },
                "code": { "type": "oauth2", "flows": { "authorizationCode": {
                    "authorizationUrl": "https://auth.example.com/authorize",
                    "tokenUrl": "https://auth.example.com/token",
                    "scopes": { "read": "Read things" }
                } } }
            }
        },
        "x-bundled": {
            "external": {
                "type": "object",
                "nullable": true,
                "properties": {
                    "note": { "type": "string", "nullable": true },
                    "pet": { "$ref": "#/components/schemas/Pet" }
                }
            },
            "Patch": { "type": "object", "properties": { "name": { "type": "string", "nullable": true } } }
        }
    });
    assert_eq!(doc.root, expected);
    let top: Vec<&str> = doc
        .root
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        top,
        [
            "openapi",
            "info",
            "servers",
            "x-top",
            "security",
            "paths",
            "components",
            "x-bundled"
        ]
    );
    // The bundled body parameter was folded into the request body, and its name hint went with it.
    assert_eq!(
        doc.ref_names.keys().collect::<Vec<_>>(),
        ["#/x-bundled/Patch", "#/x-bundled/external"]
    );
    assert_eq!(doc.warnings.len(), 1, "{:?}", doc.warnings);
    assert!(doc.warnings[0].message.contains("tsv"));
    assert_eq!(
        doc.warnings[0].pointer.as_deref(),
        Some("/paths/~1pets/get/parameters/5")
    );
    assert_refs_resolve(&doc.root);
}

#[test]
fn swagger2_servers_without_host_and_unquoted_version() {
    let doc = load_str(
        "swagger: 2.0\ninfo: {title: T, version: '1'}\nbasePath: /api\npaths: {}\n",
        None,
    )
    .unwrap();
    assert_eq!(doc.source_version, "2.0");
    assert_eq!(
        doc.root,
        json!({ "openapi": "3.0.3", "info": { "title": "T", "version": "1" }, "servers": [{ "url": "/api" }], "paths": {} })
    );
    let doc = load_str(r#"{"swagger": "2.0", "info": {"title": "T", "version": "1"}, "host": "h.example", "paths": {}}"#, None).unwrap();
    assert_eq!(doc.root["servers"], json!([{ "url": "https://h.example" }]));
}

#[test]
fn yaml_integer_and_boolean_keys_become_strings_and_merge_keys_apply() {
    let doc = load_fixture("yaml_keys.yaml");
    let shared = json!({ "application/json": { "schema": { "type": "object" } } });
    assert_eq!(
        doc.root["paths"],
        json!({
            "/things": { "get": { "responses": {
                "200": { "description": "OK.", "content": shared },
                "404": { "description": "Shared.", "content": shared },
                "default": { "description": "Other." }
            } } },
            "/flags": { "get": {
                "parameters": [{ "name": "on", "in": "query", "schema": { "type": "boolean", "enum": [true, false] } }],
                "responses": { "true": { "description": "odd but legal YAML key" }, "1.5": { "description": "float key" } }
            } }
        })
    );
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let path = fixture("syntax_error.yaml");
    let err = load_path(&path).unwrap_err();
    assert_eq!(err.severity, Severity::Error);
    assert_eq!(err.file.as_deref(), Some(path.as_path()));
    assert_eq!(err.line.map(|(line, _)| line), Some(9), "{err}");
    assert!(err.message.starts_with("not valid YAML"), "{err}");
    assert!(err.help.is_some());
}

#[test]
fn json_syntax_error_names_file_line_and_column() {
    let path = fixture("syntax_error.json");
    let err = load_path(&path).unwrap_err();
    assert_eq!(err.file.as_deref(), Some(path.as_path()));
    assert_eq!(err.line, Some((4, 13)), "{err}");
    assert!(err.message.starts_with("not valid JSON"), "{err}");
}

#[test]
fn unsupported_versions_are_errors_at_the_version_field() {
    let err = load_path(&fixture("unsupported.yaml")).unwrap_err();
    assert_eq!(err.severity, Severity::Error);
    assert_eq!(err.pointer.as_deref(), Some("/openapi"));
    assert!(err.message.contains("4.0.0"), "{err}");
    assert!(
        err.help
            .as_deref()
            .is_some_and(|h| h.contains("2.0") && h.contains("3.0") && h.contains("3.1"))
    );
    assert_eq!(err.file, Some(fixture("unsupported.yaml")));

    let err = load_str("info: {title: T}\npaths: {}\n", None).unwrap_err();
    assert_eq!(err.pointer.as_deref(), Some("/openapi"));
    let err = load_str("swagger: '1.2'\n", None).unwrap_err();
    assert_eq!(err.pointer.as_deref(), Some("/swagger"));
    assert!(load_str("openapi: 3.3.0\n", None).is_err());
    assert!(load_str("openapi: 3.0\n", None).is_ok());
    assert!(load_str("- a list\n", None).is_err());
    assert!(load_str("", None).is_err());
    assert!(load_path(&fixture("does-not-exist.yaml")).is_err());
}

#[test]
fn openapi_3_2_is_read() {
    for version in ["3.2.0", "3.2.1", "3.2"] {
        let doc = load_str(
            &format!("openapi: {version}\ninfo: {{title: T, version: '1'}}\npaths: {{}}\n"),
            None,
        )
        .unwrap_or_else(|e| panic!("{version}: {e}"));
        assert_eq!(doc.source_version, version);
        assert!(doc.warnings.is_empty());
    }
    let err = load_path(&fixture("unsupported.yaml")).unwrap_err();
    assert!(err.help.as_deref().is_some_and(|h| h.contains("3.2.x")));
}

#[test]
fn refs_inside_examples_defaults_and_extensions_are_data() {
    let path = fixture("scim_examples.yaml");
    let original: Value = serde_norway::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let doc = load_fixture("scim_examples.yaml");
    let warnings: Vec<String> = doc.warnings.iter().map(|w| w.to_string()).collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    // Everything that is data is kept exactly as written, its `$ref` members included.
    for pointer in [
        "/x-scim-sample",
        "/paths/~1scim~1v2~1Groups~1{id}/get/parameters/0/example",
        "/paths/~1scim~1v2~1Groups~1{id}/get/responses/200/content/application~1scim+json/examples/inline/value",
        "/components/examples/scim-group/value",
        "/components/schemas/Group/properties/members/default",
        "/components/schemas/Group/properties/members/example",
        "/components/schemas/Group/x-github",
        "/components/schemas/Member/properties/kind",
    ] {
        assert_eq!(
            doc.root.pointer(pointer),
            original.pointer(pointer),
            "{pointer}"
        );
        assert!(doc.root.pointer(pointer).is_some(), "{pointer}");
    }
    // A property named `$ref` is a property; the references that are references still resolve.
    assert_eq!(
        doc.root
            .pointer("/components/schemas/Member/properties/$ref"),
        Some(&json!({"type": "string"}))
    );
    assert_refs_resolve(&doc.root);
    assert!(doc.root.get("x-bundled").is_none());
}

#[test]
fn self_is_the_base_uri_references_resolve_against() {
    let doc = load_fixture("self/openapi.yaml");
    let schemas = &doc.root["components"]["schemas"];
    for local in ["Local", "Relative", "DotRelative"] {
        assert_eq!(
            schemas[local],
            json!({"$ref": "#/components/schemas/Target"}),
            "{local}"
        );
    }
    // Documents under `$self`'s directory are read from beside the file, once.
    assert_eq!(schemas["Beside"], json!({"$ref": "#/x-bundled/Pet"}));
    assert_eq!(
        schemas["RelativeBeside"],
        json!({"$ref": "#/x-bundled/Pet"})
    );
    assert_eq!(
        doc.root.pointer("/x-bundled/Pet/properties/name"),
        Some(&json!({"type": "string"}))
    );
    // Another origin is remote: not fetched, said so.
    let remote: Vec<&str> = doc
        .warnings
        .iter()
        .map(|w| w.pointer.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(remote, ["/components/schemas/Elsewhere"]);
    assert!(doc.warnings[0].message.contains("remote $ref"));
    assert_refs_resolve(&doc.root);

    // In memory, without a directory: a reference to `$self` needs no file.
    let text = "openapi: 3.2.0\n$self: /apis/pets/openapi.json\ninfo: {title: T, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    A: {$ref: 'openapi.json#/components/schemas/B'}\n    B: {type: string}\n";
    let doc = load_str(text, None).unwrap();
    assert_eq!(
        doc.root.pointer("/components/schemas/A"),
        Some(&json!({"$ref": "#/components/schemas/B"}))
    );
    assert!(doc.warnings.is_empty());
}

#[test]
fn a_self_that_is_not_a_uri_reference_is_ignored_with_a_warning() {
    for written in [
        "'two words'",
        "42",
        "'https://api.example.com/openapi.yaml#top'",
    ] {
        let text = format!(
            "openapi: 3.2.0\n$self: {written}\ninfo: {{title: T, version: '1'}}\npaths: {{}}\ncomponents:\n  schemas:\n    A: {{$ref: '#/components/schemas/B'}}\n    B: {{type: string}}\n"
        );
        let doc = load_str(&text, None).unwrap_or_else(|e| panic!("{written}: {e}"));
        assert_eq!(doc.warnings.len(), 1, "{written}: {:?}", doc.warnings);
        assert_eq!(doc.warnings[0].pointer.as_deref(), Some("/$self"));
        assert_eq!(doc.warnings[0].severity, Severity::Warning);
        assert_eq!(
            doc.root.pointer("/components/schemas/A"),
            Some(&json!({"$ref": "#/components/schemas/B"}))
        );
    }
}

#[test]
fn absurd_nesting_is_an_error_not_a_crash() {
    let deep = format!(
        "openapi: 3.0.0\nx-deep: {}1{}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    assert!(load_str(&deep, None).is_err());
    let deep = format!(
        "{{\"openapi\": \"3.0.0\", \"x\": {}1{}}}",
        "{\"a\":".repeat(5000),
        "}".repeat(5000)
    );
    assert!(load_str(&deep, None).is_err());
}

// ---------------------------------------------------------------------------------------------------------------
// Vendor descriptions (skipped when the corpus is absent)

fn specs_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("CONNECTOR_SPECS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs"),
    };
    dir.is_dir().then_some(dir)
}

/// Loads a vendor description and checks the common promises; `None` when the corpus is not there.
fn vendor(relative: &str, version: &str) -> Option<Document> {
    let Some(dir) = specs_dir() else {
        println!("skipping {relative}: vendor specs not found (set CONNECTOR_SPECS_DIR)");
        return None;
    };
    let path = dir.join(relative);
    let started = Instant::now();
    let doc = match load_path(&path) {
        Ok(doc) => doc,
        Err(diag) => panic!("{relative}: {diag}"),
    };
    println!(
        "{relative}: loaded in {:?}, {} warnings",
        started.elapsed(),
        doc.warnings.len()
    );
    assert_eq!(doc.source_version, version, "{relative}");
    assert!(doc.warnings.iter().all(|w| w.severity == Severity::Warning));
    assert_refs_resolve(&doc.root);
    Some(doc)
}

#[test]
fn vendor_github() {
    vendor("github/api.github.com.json", "3.0.3");
}

#[test]
fn vendor_stripe_json() {
    vendor("stripe/spec3.json", "3.0.0");
}

#[test]
fn vendor_stripe_yaml() {
    vendor("stripe/spec3.yaml", "3.0.0");
}

#[test]
fn vendor_openai() {
    vendor("openai/openapi.yaml", "3.1.0");
}

#[test]
fn vendor_twilio() {
    vendor("twilio/twilio_api_v2010.json", "3.0.1");
    vendor("twilio/twilio_messaging_v1.json", "3.0.1");
}

#[test]
fn vendor_asana() {
    vendor("asana/asana_oas.yaml", "3.0.0");
}

#[test]
fn vendor_discourse() {
    vendor("discourse/openapi.json", "3.1.0");
}

#[test]
fn vendor_digitalocean_bundles_without_warnings() {
    let Some(doc) = vendor(
        "digitalocean/specification/DigitalOcean-public.v2.yaml",
        "3.0.0",
    ) else {
        return;
    };
    for warning in &doc.warnings {
        eprintln!("{warning}");
    }
    // Bundling warns about nothing; the only warnings are the six load balancer bodies whose
    // `properties` is a `$ref` (read as the map it points to).
    assert_eq!(doc.warnings.len(), 6);
    assert!(
        doc.warnings
            .iter()
            .all(|w| w.message.starts_with("`properties` is a `$ref`")),
        "{:?}",
        doc.warnings
    );
    let bundled = doc.root["x-bundled"].as_object().expect("x-bundled");
    assert!(bundled.len() > 1000, "{} bundled targets", bundled.len());
    assert_eq!(bundled.len(), doc.ref_names.len());
    // Every operation was a ref to its own file.
    let op = &doc.root["paths"]["/v2/droplets"]["get"];
    let target = op["$ref"].as_str().expect("operation ref");
    assert_eq!(doc.ref_names[target], "droplets_list");
    assert!(
        doc.root
            .pointer(&target[1..])
            .and_then(|o| o.get("operationId"))
            .is_some()
    );
}

#[test]
fn vendor_slack_converts_from_swagger2() {
    let Some(doc) = vendor("slack/slack_web_openapi_v2.json", "2.0") else {
        return;
    };
    let root = &doc.root;
    assert_eq!(root["openapi"], "3.0.3");
    assert!(
        root["components"]["schemas"]
            .as_object()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(root.get("definitions").is_none() && root.get("swagger").is_none());
    assert_eq!(root["servers"], json!([{ "url": "https://slack.com/api" }]));
    let text = root.to_string();
    assert!(!text.contains("\"#/definitions/"));
    assert!(!text.contains("\"formData\"") && !text.contains("\"in\":\"body\""));
    let flows = &root["components"]["securitySchemes"]["slackAuth"]["flows"]["authorizationCode"];
    assert!(
        flows["scopes"].as_object().is_some_and(|s| !s.is_empty()),
        "{flows}"
    );
    let post = &root["paths"]["/chat.postMessage"]["post"];
    assert!(
        post["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]["properties"]
            ["channel"]
            .is_object()
    );
}

#[test]
fn a_referenced_property_map_is_read_as_the_map() {
    // DigitalOcean's load balancer bodies: `properties: {$ref: 'attributes.yml#/droplet_ids'}`.
    let text = r##"openapi: 3.0.3
info: {title: T, version: '1'}
paths: {}
components:
  schemas:
    AddDroplets:
      type: object
      required: [droplet_ids]
      properties:
        $ref: '#/x-attributes/droplet_ids'
    Odd:
      type: object
      properties:
        $ref: {type: string}
x-attributes:
  droplet_ids:
    droplet_ids:
      type: array
      items: {type: integer}
"##;
    let doc = load_str(text, None).unwrap();
    assert_eq!(
        doc.root["components"]["schemas"]["AddDroplets"]["properties"],
        json!({"droplet_ids": {"type": "array", "items": {"type": "integer"}}})
    );
    // A property really named `$ref` (its value a schema, not a reference) is left alone.
    assert_eq!(
        doc.root["components"]["schemas"]["Odd"]["properties"],
        json!({"$ref": {"type": "string"}})
    );
    let warned: Vec<_> = doc
        .warnings
        .iter()
        .filter_map(|w| w.pointer.as_deref())
        .collect();
    assert_eq!(warned, ["/components/schemas/AddDroplets/properties"]);
}

#[test]
fn a_large_description_s_property_maps_are_found_beside_bundling_and_again_after_it() {
    // Over 2 MB, the search for `properties: {$ref}` runs on a second thread while bundling walks
    // the tree; when bundling rewrote a reference (here the map's own, to `x-bundled`), the search
    // is made again on the rewritten tree.
    let dir = std::env::temp_dir().join(format!("connector-load-beside-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("attributes.json"),
        r#"{"droplet_ids": {"droplet_ids": {"type": "array", "items": {"type": "integer"}}}}"#,
    )
    .unwrap();
    let description = |properties: &str| {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "T", "version": "1"},
            "paths": {},
            "components": {"schemas": {
                "AddDroplets": {"type": "object", "properties": {"$ref": properties}}
            }},
            "x-local": {"droplet_ids": {"droplet_ids": {"type": "string"}}},
            "x-padding": "p".repeat(2 << 20)
        })
        .to_string()
    };
    let map =
        |doc: &Document| doc.root["components"]["schemas"]["AddDroplets"]["properties"].clone();
    // Nothing to bundle: the search made beside bundling stands.
    let doc = load_str(&description("#/x-local/droplet_ids"), Some(&dir)).unwrap();
    assert_eq!(map(&doc), json!({"droplet_ids": {"type": "string"}}));
    // The map's reference is bundled first, then found where bundling put it.
    let doc = load_str(&description("attributes.json#/droplet_ids"), Some(&dir)).unwrap();
    assert_eq!(
        map(&doc),
        json!({"droplet_ids": {"type": "array", "items": {"type": "integer"}}})
    );
    std::fs::remove_dir_all(&dir).ok();
}
