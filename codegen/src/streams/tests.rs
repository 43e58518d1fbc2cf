//! The detection rules, each on a small description, and the two sync fixtures of `connector-sync`.

use serde_json::{Value, json};

use super::*;

/// A description whose operations are `(operationId, path, query parameters, item schema)` GET
/// listings paged by the `Link` header.
fn spec(ops: &[(&str, &str, Value, Value)]) -> Value {
    let mut paths = serde_json::Map::new();
    for (id, path, query, item) in ops {
        let mut params: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|n| json!({"name": n, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(query.as_array().cloned().unwrap_or_default());
        paths.insert(
            (*path).to_owned(),
            json!({"get": {
                "operationId": id,
                "parameters": params,
                "responses": {"200": {
                    "description": "a page",
                    "headers": {"Link": {"schema": {"type": "string"}}},
                    "content": {"application/json": {"schema": {"type": "array", "items": item}}}
                }}
            }}),
        );
    }
    json!({"openapi": "3.0.3", "info": {"title": "T", "version": "1"}, "paths": paths})
}

fn detect_in(spec: &Value, settings: &str) -> Result<Api, Diagnostic> {
    let doc = crate::load::load_str(&spec.to_string(), None).expect("loads");
    let settings = Settings::from_toml(settings).expect("settings parse");
    crate::lower_doc(&doc, &settings).map(|l| l.api)
}

fn detect(spec: &Value) -> Api {
    detect_in(spec, "").expect("detects")
}

fn obj(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

fn stream<'a>(api: &'a Api, table: &str) -> &'a SyncStream {
    api.streams
        .iter()
        .find(|s| s.table == table)
        .unwrap_or_else(|| {
            let tables: Vec<&str> = api.streams.iter().map(|s| s.table.as_str()).collect();
            panic!("no stream `{table}` among {tables:?}")
        })
}

const DT: &str = "date-time";

#[test]
fn one_stream_per_get_listing_of_objects() {
    let api = detect(&spec(&[
        (
            "listThings",
            "/v1/things",
            json!([]),
            obj(json!({"id": {"type": "string"}})),
        ),
        ("listNames", "/names", json!([]), json!({"type": "string"})),
    ]));
    assert_eq!(api.streams.len(), 1);
    assert_eq!(api.streams[0].table, "things");
    assert_eq!(api.streams[0].primary_key, ["id"]);
    assert_eq!(api.stream_skips.len(), 1);
    assert_eq!(api.stream_skips[0].reason, "its items are not objects");
}

#[test]
fn keys_are_id_then_conventional_names() {
    let api = detect(&spec(&[
        (
            "a",
            "/tasks",
            json!([]),
            obj(json!({"gid": {"type": "string"}, "name": {"type": "string"}})),
        ),
        (
            "b",
            "/orders",
            json!([]),
            obj(json!({"order_id": {"type": "integer"}, "uuid": {"type": "string"}})),
        ),
        (
            "c",
            "/calls",
            json!([]),
            obj(json!({"sid": {"type": "string"}})),
        ),
        (
            "d",
            "/tags",
            json!([]),
            obj(json!({"name": {"type": "string"}, "count": {"type": "integer"}})),
        ),
        (
            "e",
            "/nested",
            json!([]),
            obj(json!({"id": obj(json!({"x": {"type": "string"}})), "key": {"type": "string"}})),
        ),
    ]));
    assert_eq!(stream(&api, "tasks").primary_key, ["gid"]);
    assert_eq!(stream(&api, "orders").primary_key, ["order_id"]);
    assert_eq!(stream(&api, "calls").primary_key, ["sid"]);
    assert_eq!(
        stream(&api, "nested").primary_key,
        ["key"],
        "an object `id` is no key"
    );
    assert!(api.streams.iter().all(|s| s.table != "tags"));
    assert!(
        api.stream_skips[0].reason.starts_with("no key field"),
        "{:?}",
        api.stream_skips
    );
}

#[test]
fn cursors_prefer_update_times_and_read_their_kind() {
    let api = detect(&spec(&[
        (
            "a",
            "/a",
            json!([]),
            obj(json!({"id": {"type": "string"},
            "created_at": {"type": "string", "format": DT}, "updated_at": {"type": "string", "format": DT}})),
        ),
        (
            "b",
            "/b",
            json!([]),
            obj(json!({"id": {"type": "string"}, "created": {"type": "integer"}})),
        ),
        (
            "c",
            "/c",
            json!([]),
            obj(json!({"id": {"type": "string"},
            "updated": {"type": "string"}, "created_at": {"type": "string", "format": DT}})),
        ),
        (
            "d",
            "/d",
            json!([]),
            obj(
                json!({"id": {"type": "string"}, "modified": {"type": "integer", "format": "unix-time"}}),
            ),
        ),
        (
            "e",
            "/e",
            json!([]),
            obj(json!({"id": {"type": "string"}, "updated": {"type": "string"}})),
        ),
        (
            "f",
            "/f",
            json!([]),
            obj(json!({"id": {"type": "string"}, "updatedAt": {"type": "string", "format": DT}})),
        ),
    ]));
    let cursor = |t: &str| stream(&api, t).cursor.clone().map(|c| (c.field, c.kind));
    assert_eq!(
        cursor("a"),
        Some(("updated_at".into(), CursorKind::DateTime))
    );
    assert_eq!(
        cursor("b"),
        Some(("created".into(), CursorKind::UnixSeconds))
    );
    // A string without a date-time format is no cursor.
    assert_eq!(
        cursor("c"),
        Some(("created_at".into(), CursorKind::DateTime))
    );
    assert_eq!(
        cursor("d"),
        Some(("modified".into(), CursorKind::UnixSeconds))
    );
    assert_eq!(cursor("e"), None);
    assert_eq!(
        cursor("f"),
        Some(("updatedAt".into(), CursorKind::DateTime))
    );
}

#[test]
fn integers_not_named_like_times_are_plain_integer_cursors() {
    let api = detect_in(
        &spec(&[(
            "a",
            "/events",
            json!([]),
            obj(json!({"id": {"type": "string"}, "sequence": {"type": "integer"}})),
        )]),
        "[streams.a]\ncursor = \"sequence\"\n",
    )
    .expect("detects");
    let c = stream(&api, "events").cursor.clone().expect("a cursor");
    assert_eq!(
        (c.field.as_str(), c.kind),
        ("sequence", CursorKind::Integer)
    );
    assert!(stream(&api, "events").from_settings);
}

fn filter_of(query: Value, item: Value) -> Option<SyncFilter> {
    let api = detect(&spec(&[("a", "/things", query, item)]));
    api.streams[0].cursor.as_ref()?.filter.clone()
}

fn q(name: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "schema": schema})
}

#[test]
fn since_filters_a_date_time_cursor_inclusively() {
    let f = filter_of(
        json!([q("since", json!({"type": "string", "format": DT}))]),
        obj(json!({"id": {"type": "integer"}, "updated_at": {"type": "string", "format": DT}})),
    );
    assert_eq!(
        f,
        Some(SyncFilter {
            param: "since".into(),
            format: CursorKind::DateTime,
            inclusive: true
        })
    );
    // A `since` that is plain text is no filter.
    let none = filter_of(
        json!([q("since", json!({"type": "string"}))]),
        obj(json!({"id": {"type": "integer"}, "updated_at": {"type": "string", "format": DT}})),
    );
    assert_eq!(none, None);
}

#[test]
fn deep_object_ranges_filter_with_gte_or_gt() {
    let item = obj(
        json!({"id": {"type": "string"}, "created": {"type": "integer", "format": "unix-time"}}),
    );
    let range = |ops: &[&str]| {
        let props: serde_json::Map<String, Value> = ops
            .iter()
            .map(|o| ((*o).to_owned(), json!({"type": "integer"})))
            .collect();
        json!([{"name": "created", "in": "query", "style": "deepObject", "explode": true,
                "schema": {"anyOf": [{"type": "object", "properties": props}, {"type": "integer"}]}}])
    };
    assert_eq!(
        filter_of(range(&["gt", "gte", "lt", "lte"]), item.clone()),
        Some(SyncFilter {
            param: "created[gte]".into(),
            format: CursorKind::UnixSeconds,
            inclusive: true
        })
    );
    assert_eq!(
        filter_of(range(&["gt", "lt"]), item.clone()),
        Some(SyncFilter {
            param: "created[gt]".into(),
            format: CursorKind::UnixSeconds,
            inclusive: false
        })
    );
    assert_eq!(filter_of(range(&["lt"]), item), None);
}

#[test]
fn named_filters_match_the_cursor_field_only() {
    let item =
        obj(json!({"gid": {"type": "string"}, "modified_at": {"type": "string", "format": DT}}));
    let dt = json!({"type": "string", "format": DT});
    for (name, inclusive) in [
        ("modified_since", true),
        ("modified_at_since", true),
        ("modified_at.gte", true),
        ("modified_gte", true),
        ("min_modified_at", true),
        ("modified_after", false),
        ("modifiedAfter", false),
    ] {
        let f = filter_of(json!([q(name, dt.clone())]), item.clone())
            .unwrap_or_else(|| panic!("{name}"));
        assert_eq!((f.param.as_str(), f.inclusive), (name, inclusive));
    }
    // A filter on another field does not match this cursor.
    assert_eq!(
        filter_of(json!([q("created_after", dt.clone())]), item.clone()),
        None
    );
    // An integer filter on a date-time cursor is a Unix-seconds filter.
    let f = filter_of(
        json!([q("updated_after", json!({"type": "integer"}))]),
        obj(json!({"id": {"type": "string"}, "updated_at": {"type": "string", "format": DT}})),
    );
    assert_eq!(f.map(|f| f.format), Some(CursorKind::UnixSeconds));
}

#[test]
fn columns_are_top_level_scalars() {
    let api = detect(&spec(&[(
        "a",
        "/things",
        json!([]),
        obj(json!({
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "state": {"type": "string", "enum": ["a", "b"]},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "day": {"type": "string", "format": "date"},
            "at": {"type": "integer", "format": "unix-time"},
            "updated_at": {"type": "string", "format": DT},
            "owner": obj(json!({"id": {"type": "integer"}})),
            "tags": {"type": "array", "items": {"type": "string"}},
            "meta": {"type": "object", "additionalProperties": {"type": "string"}},
        })),
    )]));
    let cols: Vec<(&str, &str, ColumnKind)> = api.streams[0]
        .columns
        .iter()
        .map(|c| (c.name.as_str(), c.wire.as_str(), c.kind))
        .collect();
    assert_eq!(
        cols,
        [
            ("id", "id", ColumnKind::Int),
            ("name", "name", ColumnKind::Text),
            ("state", "state", ColumnKind::Text),
            ("score", "score", ColumnKind::Float),
            ("ok", "ok", ColumnKind::Bool),
            ("day", "day", ColumnKind::Date),
            ("at", "at", ColumnKind::UnixSeconds),
            ("item_updated_at", "updated_at", ColumnKind::DateTime),
        ]
    );
}

#[test]
fn deletes_read_from_flags_and_times() {
    let api = detect(&spec(&[
        (
            "a",
            "/a",
            json!([]),
            obj(json!({"id": {"type": "string"}, "deleted": {"type": "boolean"}})),
        ),
        (
            "b",
            "/b",
            json!([]),
            obj(json!({"id": {"type": "string"}, "deleted_at": {"type": "string", "format": DT}})),
        ),
        (
            "c",
            "/c",
            json!([]),
            obj(
                json!({"id": {"type": "string"}, "is_deleted": {"type": "boolean"},
            "deleted_at": {"type": "string", "format": DT}}),
            ),
        ),
        (
            "d",
            "/d",
            json!([]),
            obj(json!({"id": {"type": "string"}, "deleted": {"type": "string"}})),
        ),
    ]));
    assert_eq!(
        stream(&api, "a").deletes,
        SyncDeletes::Tombstone {
            flag: "deleted".into()
        }
    );
    assert_eq!(
        stream(&api, "b").deletes,
        SyncDeletes::Soft {
            flag: None,
            at: Some("deleted_at".into())
        }
    );
    assert_eq!(
        stream(&api, "c").deletes,
        SyncDeletes::Soft {
            flag: Some("is_deleted".into()),
            at: Some("deleted_at".into())
        }
    );
    assert_eq!(stream(&api, "d").deletes, SyncDeletes::Unreported);
}

#[test]
fn children_hang_off_their_parent_through_one_path_parameter() {
    let item = |extra: Value| {
        let mut p = json!({"id": {"type": "integer"}});
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().cloned().unwrap());
        obj(p)
    };
    let api = detect(&spec(&[
        ("customers", "/v1/customers", json!([]), item(json!({}))),
        (
            "sources",
            "/v1/customers/{customer}/sources",
            json!([]),
            item(json!({})),
        ),
        (
            "notes",
            "/v1/customers/{customer_id}/notes",
            json!([]),
            item(json!({})),
        ),
        (
            "issues",
            "/repos/{owner}/{repo}/issues",
            json!([]),
            item(json!({"number": {"type": "integer"}})),
        ),
        (
            "comments",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments",
            json!([]),
            item(json!({})),
        ),
        (
            "accounts",
            "/2010-04-01/Accounts.json",
            json!([]),
            obj(json!({"sid": {"type": "string"}})),
        ),
        (
            "calls",
            "/2010-04-01/Accounts/{AccountSid}/Calls.json",
            json!([]),
            obj(json!({"sid": {"type": "string"}})),
        ),
    ]));
    let parent_of = |t: &str| {
        let s = stream(&api, t);
        let params: Vec<(String, SyncParamSource)> = s
            .params
            .iter()
            .map(|p| (p.wire.clone(), p.from.clone()))
            .collect();
        (s.parent.map(|p| api.streams[p].table.clone()), params)
    };
    let parent = |p: &str| SyncParamSource::Parent(p.into());
    assert_eq!(
        parent_of("customer_sources"),
        (
            Some("customers".into()),
            vec![("customer".into(), parent("/id"))]
        )
    );
    assert_eq!(
        parent_of("customer_notes"),
        (
            Some("customers".into()),
            vec![("customer_id".into(), parent("/id"))]
        )
    );
    assert_eq!(
        parent_of("issue_comments"),
        (
            Some("issues".into()),
            vec![
                ("owner".into(), SyncParamSource::Config),
                ("repo".into(), SyncParamSource::Config),
                ("issue_number".into(), parent("/number")),
            ]
        )
    );
    assert_eq!(
        parent_of("account_calls"),
        (
            Some("accounts".into()),
            vec![("AccountSid".into(), parent("/sid"))]
        )
    );
    assert_eq!(parent_of("issues").0, None);
}

#[test]
fn colliding_tables_take_more_of_their_path() {
    let item = obj(json!({"id": {"type": "integer"}}));
    let api = detect(&spec(&[
        (
            "a",
            "/repos/{owner}/{repo}/issues/comments",
            json!([]),
            item.clone(),
        ),
        (
            "b",
            "/repos/{owner}/{repo}/comments",
            json!([]),
            item.clone(),
        ),
        ("c", "/gists/comments", json!([]), item.clone()),
        ("d", "/gists/{id}/comments", json!([]), item.clone()),
        ("e", "/x/events", json!([]), item.clone()),
        ("f", "/events", json!([]), item),
    ]));
    let tables: Vec<&str> = api.streams.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(
        tables,
        [
            "issues_comments",
            "repos_comments",
            "c",
            "d",
            "x_events",
            "events"
        ]
    );
}

#[test]
fn settings_override_and_are_checked() {
    let s = spec(&[
        (
            "list",
            "/things",
            json!([q("after", json!({"type": "string", "format": DT}))]),
            obj(
                json!({"id": {"type": "integer"}, "code": {"type": "string"}, "seen": {"type": "string", "format": DT}}),
            ),
        ),
        (
            "other",
            "/others",
            json!([]),
            obj(json!({"id": {"type": "integer"}})),
        ),
    ]);
    let api = detect_in(
        &s,
        "[streams.list]\ntable = \"Items\"\nprimary_key = [\"code\"]\ncursor = \"seen\"\ncursor_param = \"after\"\ncursor_inclusive = false\n[streams.other]\nskip = true\n",
    )
    .expect("detects");
    let st = stream(&api, "items");
    assert_eq!(st.primary_key, ["code"]);
    assert_eq!(
        st.cursor,
        Some(SyncCursor {
            field: "seen".into(),
            kind: CursorKind::DateTime,
            filter: Some(SyncFilter {
                param: "after".into(),
                format: CursorKind::DateTime,
                inclusive: false
            }),
        })
    );
    assert!(st.from_settings);
    assert_eq!(api.stream_skips[0].reason, "skipped by settings");

    for (settings, says) in [
        (
            "[streams.list]\nprimary_key = [\"nope\"]\n",
            "primary_key names `nope`",
        ),
        ("[streams.list]\ncursor = \"nope\"\n", "cursor names `nope`"),
        ("[streams.list]\nprimary_key = []\n", "primary_key is empty"),
        (
            "[streams.list]\ncursor = \"seen\"\ncursor_param = \"before\"\n",
            "cursor_param names `before`",
        ),
        ("[streams.list]\nparent = \"other\"\n", "does not hang off"),
        (
            "[streams.list]\nparent = \"other\"\nparent_params = { x = \"/id\" }\n",
            "`x`, which is no required parameter",
        ),
    ] {
        let err = detect_in(&s, settings).expect_err(settings);
        assert!(err.message.contains(says), "{settings}: {}", err.message);
    }
    assert!(
        Settings::from_toml("[streams.list]\nkey = [\"id\"]\n").is_err(),
        "unknown keys are refused"
    );
    // Settings may name a date-time the description types as plain text.
    let api = detect_in(
        &s,
        "[streams.list]\ncursor = \"code\"\ncursor_param = \"none\"\n",
    )
    .expect("detects");
    let c = api.streams[0].cursor.clone().expect("a cursor");
    assert_eq!(
        (c.field.as_str(), c.kind, c.filter),
        ("code", CursorKind::DateTime, None)
    );
    let api = detect_in(&s, "[streams.missing]\nskip = true\n").expect("a warning only");
    assert_eq!(api.streams.len(), 2);
}

#[test]
fn settings_name_a_parent_and_its_parameters() {
    let s = spec(&[
        (
            "projects",
            "/projects",
            json!([]),
            obj(json!({"gid": {"type": "string"}})),
        ),
        (
            "tasks",
            "/tasks",
            json!([
                json!({"name": "project", "in": "query", "required": true, "schema": {"type": "string"}})
            ]),
            obj(json!({"gid": {"type": "string"}})),
        ),
    ]);
    let api = detect_in(
        &s,
        "[streams.tasks]\nparent = \"projects\"\nparent_params = { project = \"/gid\" }\n",
    )
    .expect("detects");
    // A child is named after its parent's items.
    let t = stream(&api, "project_tasks");
    assert_eq!(
        t.parent.map(|p| api.streams[p].table.as_str()),
        Some("projects")
    );
    assert_eq!(
        t.params,
        [SyncParam {
            wire: "project".into(),
            from: SyncParamSource::Parent("/gid".into())
        }]
    );
    let err = detect_in(
        &s,
        "[streams.tasks]\nparent = \"projects\"\nparent_params = { project = \"/nope\" }\n",
    )
    .expect_err("a missing parent field");
    assert!(
        err.message.contains("names no field of the parent's item"),
        "{}",
        err.message
    );
}

/// The sync engine's fixture descriptions, as the fixture crate of `tests/` compiles them.
fn sync_fixture(name: &str) -> Api {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(name);
    let doc = crate::load::load_path_with_overlays(&path, &[]).expect("loads");
    crate::lower_doc(&doc, &Settings::default())
        .expect("lowers")
        .api
}

#[test]
fn the_issues_fixture_has_issues_and_their_comments() {
    let api = sync_fixture("sync_issues.yaml");
    assert_eq!(api.streams.len(), 2, "{:?}", api.stream_skips);
    let issues = stream(&api, "issues");
    assert_eq!(issues.primary_key, ["id"]);
    assert_eq!(
        issues.cursor,
        Some(SyncCursor {
            field: "updated_at".into(),
            kind: CursorKind::DateTime,
            filter: Some(SyncFilter {
                param: "since".into(),
                format: CursorKind::DateTime,
                inclusive: true
            }),
        })
    );
    assert_eq!(
        issues.deletes,
        SyncDeletes::Soft {
            flag: None,
            at: Some("deleted_at".into())
        }
    );
    assert_eq!(
        issues.params,
        [
            SyncParam {
                wire: "owner".into(),
                from: SyncParamSource::Config
            },
            SyncParam {
                wire: "repo".into(),
                from: SyncParamSource::Config
            },
        ]
    );
    assert!(issues.parent.is_none() && !issues.from_settings);
    let comments = stream(&api, "issue_comments");
    assert_eq!(comments.parent, Some(0));
    assert_eq!(
        comments.params[2],
        SyncParam {
            wire: "issue_number".into(),
            from: SyncParamSource::Parent("/number".into())
        }
    );
    assert_eq!(
        comments
            .cursor
            .as_ref()
            .and_then(|c| c.filter.as_ref())
            .map(|f| f.param.as_str()),
        Some("since")
    );
    // Scalars only: `user` and `labels` stay in the raw JSON.
    let cols: Vec<&str> = issues.columns.iter().map(|c| c.wire.as_str()).collect();
    assert_eq!(
        cols,
        [
            "id",
            "number",
            "title",
            "body",
            "state",
            "locked",
            "comments",
            "score",
            "created_at",
            "updated_at",
            "closed_at",
            "deleted_at"
        ]
    );
}

#[test]
fn the_charges_fixture_has_tombstones_and_a_deep_object_filter() {
    let api = sync_fixture("sync_charges.yaml");
    assert_eq!(api.streams.len(), 1);
    let charges = stream(&api, "charges");
    assert_eq!(charges.primary_key, ["id"]);
    assert_eq!(
        charges.cursor,
        Some(SyncCursor {
            field: "updated".into(),
            kind: CursorKind::UnixSeconds,
            filter: Some(SyncFilter {
                param: "updated[gte]".into(),
                format: CursorKind::UnixSeconds,
                inclusive: true
            }),
        })
    );
    assert_eq!(
        charges.deletes,
        SyncDeletes::Tombstone {
            flag: "deleted".into()
        }
    );
    assert!(charges.params.is_empty());
    let created = charges
        .columns
        .iter()
        .find(|c| c.wire == "created")
        .expect("created");
    assert_eq!(created.kind, ColumnKind::UnixSeconds);
}

#[test]
fn a_child_path_is_the_parents_one_parameter_and_a_word() {
    assert_eq!(
        hangs_off(
            "/repos/{owner}/{repo}/issues",
            "/repos/{owner}/{repo}/issues/{issue_number}/comments"
        ),
        Some("issue_number".to_owned())
    );
    assert_eq!(
        hangs_off(
            "/2010-04-01/Accounts.json",
            "/2010-04-01/Accounts/{AccountSid}/Calls.json"
        ),
        Some("AccountSid".to_owned())
    );
    // Two parameters in a row: the parent gives only one of them.
    assert_eq!(
        hangs_off(
            "/orgs/{org}/packages",
            "/orgs/{org}/packages/{type}/{name}/versions"
        ),
        None
    );
    // The parent's own item, not a listing under it.
    assert_eq!(hangs_off("/v1/customers", "/v1/customers/{customer}"), None);
    assert_eq!(
        hangs_off("/v1/customers", "/v1/charges/{charge}/refunds"),
        None
    );
}
