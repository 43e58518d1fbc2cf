//! Test support for the sync suites: the vendor-shaped source, the generated fixture clients,
//! fresh databases of both engines (the database connector's own throwaway PostgreSQL cluster and
//! SQLite files), and the checks that a destination equals its source.

#![allow(dead_code)]

#[path = "../../../db/tests/support/mod.rs"]
pub mod db;
pub mod source;

use std::collections::{BTreeMap, BTreeSet};

use connector_db::{Database, Engine, Value};
use connector_runtime::Connector;
use connector_sync::{Catalog, DbDestination};
use serde_json::Value as Json;

pub use source::{Data, Source};

#[connector_macros::connector(spec = "tests/fixtures/issues.yaml", sync = true)]
pub mod issues {}

#[connector_macros::connector(spec = "tests/fixtures/charges.yaml", sync = true)]
pub mod charges {}

/// Both engines, SQLite first.
pub const ENGINES: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

/// A connected connector for `catalog` against `base`.
pub async fn connector(catalog: &Catalog, base: &str) -> Connector {
    let mut config = (catalog.config)();
    config.base_url = base.to_owned();
    let c = Connector::initialize(config).expect("connector config");
    c.connect().await.expect("connect");
    c
}

/// A fresh destination database of `engine`.
pub async fn fresh(engine: Engine, test: &str) -> Database {
    db::fresh_db(engine, test, |_| {}).await
}

pub fn dest(db: &Database) -> DbDestination {
    DbDestination::new(db.clone())
}

fn raw(v: Option<&Value>) -> Json {
    match v {
        Some(Value::Json(j)) => (**j).clone(),
        Some(Value::Text(t)) => serde_json::from_str(t).unwrap_or(Json::Null),
        other => panic!("_raw is {other:?}"),
    }
}

fn truthy(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true)) | Some(Value::I64(1)))
}

/// The rows of `table` keyed by their `_raw` id, failing on a duplicate id.
pub async fn stored(db: &Database, table: &str) -> BTreeMap<String, (Json, bool)> {
    let rows = db
        .query(&format!("SELECT _raw, is_deleted FROM {table}"), &[])
        .await
        .expect("read the table");
    let mut out = BTreeMap::new();
    for r in rows {
        let raw = raw(r.get("_raw"));
        let id = raw["id"].to_string();
        let deleted = truthy(r.get("is_deleted"));
        assert!(
            out.insert(id.clone(), (raw, deleted)).is_none(),
            "{table}: id {id} stored twice"
        );
    }
    out
}

/// The dead-letter keys of `stream`.
pub async fn dead_letters(db: &Database, stream: &str) -> BTreeSet<String> {
    let sql = match db.engine() {
        Engine::Postgres => "SELECT key FROM _sync_dead_letter WHERE stream = $1",
        Engine::Sqlite => "SELECT key FROM _sync_dead_letter WHERE stream = ?1",
    };
    db.query(sql, &[Value::from(stream)])
        .await
        .expect("read dead letters")
        .into_iter()
        .filter_map(|r| r.get("key").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The destination holds exactly the source's well-formed issues (soft deletes flagged) and its
/// malformed ones as dead letters.
pub async fn assert_issues_equal(db: &Database, data: &Data, what: &str) {
    let want = data.expected_issues();
    let got = stored(db, "issues").await;
    let want_ids: BTreeSet<String> = want.keys().map(|k| k.to_string()).collect();
    let got_ids: BTreeSet<String> = got.keys().cloned().collect();
    assert_eq!(
        got_ids.symmetric_difference(&want_ids).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{what}: issue ids differ (stored {}, source {})",
        got_ids.len(),
        want_ids.len()
    );
    for (id, item) in &want {
        let (raw, deleted) = &got[&id.to_string()];
        assert_eq!(raw, item, "{what}: issue {id} differs");
        assert_eq!(
            *deleted,
            !item["deleted_at"].is_null(),
            "{what}: issue {id} is_deleted"
        );
    }
    let bad: BTreeSet<String> = data.bad_issues.iter().map(|id| format!("[{id}]")).collect();
    assert_eq!(
        dead_letters(db, "issues").await,
        bad,
        "{what}: issue dead letters"
    );
}

/// The destination holds exactly the source's well-formed, undeleted charges, and its malformed
/// ones as dead letters.
pub async fn assert_charges_equal(db: &Database, data: &Data, what: &str) {
    let want = data.expected_charges();
    let got = stored(db, "charges").await;
    let want_ids: BTreeSet<String> = want
        .keys()
        .map(|k| Json::String(k.clone()).to_string())
        .collect();
    let got_ids: BTreeSet<String> = got.keys().cloned().collect();
    assert_eq!(
        got_ids.symmetric_difference(&want_ids).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "{what}: charge ids differ (stored {}, source {})",
        got_ids.len(),
        want_ids.len()
    );
    for (id, item) in &want {
        let (raw, deleted) = &got[&Json::String(id.clone()).to_string()];
        assert_eq!(raw, item, "{what}: charge {id} differs");
        assert!(!deleted, "{what}: charge {id} flagged deleted");
    }
    let bad: BTreeSet<String> = data
        .bad_charges
        .iter()
        .map(|id| Json::Array(vec![Json::String(id.clone())]).to_string())
        .collect();
    assert_eq!(
        dead_letters(db, "charges").await,
        bad,
        "{what}: charge dead letters"
    );
}
