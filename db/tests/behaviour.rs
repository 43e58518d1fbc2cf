//! The behaviour suite: every check written once, against a [`Database`], and run on SQLite and on
//! a real PostgreSQL server (a throwaway cluster shared by this binary), plus the checks only one
//! engine has (TLS and authentication on PostgreSQL, the in-memory default on SQLite).

mod support;

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use connector_db::{
    CancellationToken, ColumnDef, ColumnDefault, ColumnType, Database, DbConfig, Decimal, Engine,
    ErrorCode, QueryOptions, SslMode, TableDef, Uuid, Value,
};
use futures_util::StreamExt;
use serde::Deserialize;

/// Runs each named check on both engines, each on a fresh database.
macro_rules! both_engines {
    ($($check:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(connector_db::Engine::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(connector_db::Engine::Postgres).await;
                }
            )*
        }
    };
}

both_engines!(
    health_reports_a_round_trip_and_the_version,
    every_supported_type_binds_and_reads_back,
    rows_read_into_structs_tuples_and_scalars,
    values_are_bound_never_spliced,
    transactions_commit_roll_back_and_roll_back_when_dropped,
    a_failed_statement_makes_commit_roll_back,
    savepoints_undo_part_of_a_transaction,
    constraint_violations_carry_the_provider_code,
    syntax_errors_and_bad_input_are_clear_errors,
    schema_inspection_sees_a_created_schema,
    statement_timeout_stops_a_long_statement,
    a_token_cancels_a_running_statement,
    dropping_the_future_stops_the_statement,
    streams_end_early_and_give_the_connection_back,
    upsert_batch_writes_updates_and_keeps_the_last_row_of_a_key,
    conditional_upserts_skip_unchanged_and_older_rows,
    copy_in_loads_rows_of_every_type,
    bulk_writes_refuse_malformed_batches_whole,
    concurrent_callers_share_the_pool,
);

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("timestamp")
        .with_timezone(&Utc)
}

async fn health_reports_a_round_trip_and_the_version(engine: Engine) {
    let db = support::fresh_db(engine, "health", |_| {}).await;
    let h = db.health().await.expect("health");
    assert_eq!(h.engine, engine);
    assert!(
        h.round_trip > Duration::ZERO && h.round_trip < Duration::from_secs(5),
        "{h:?}"
    );
    let major = h.server_version.split('.').next().unwrap_or("");
    match engine {
        Engine::Postgres => assert!(major.parse::<u32>().is_ok_and(|v| v >= 12), "{h:?}"),
        Engine::Sqlite => assert_eq!(major, "3", "{h:?}"),
    }
    assert!(h.pool_size >= 1, "{h:?}");
}

/// The table every typed check uses: one column per supported type.
fn typed_table(name: &str) -> TableDef {
    TableDef::new(name)
        .column(ColumnDef::new("id", ColumnType::I64).not_null())
        .column(ColumnDef::new("flag", ColumnType::Bool))
        .column(ColumnDef::new("ratio", ColumnType::F64))
        .column(ColumnDef::new("amount", ColumnType::Decimal))
        .column(ColumnDef::new("label", ColumnType::Text))
        .column(ColumnDef::new("blob", ColumnType::Bytes))
        .column(ColumnDef::new("doc", ColumnType::Json))
        .column(ColumnDef::new("at", ColumnType::Timestamp))
        .column(ColumnDef::new("day", ColumnType::Date))
        .column(ColumnDef::new("uid", ColumnType::Uuid))
        .primary_key(["id"])
}

const TYPED_COLUMNS: [&str; 10] = [
    "id", "flag", "ratio", "amount", "label", "blob", "doc", "at", "day", "uid",
];

#[derive(Debug, Deserialize, PartialEq, Clone)]
struct Doc {
    name: String,
    tags: Vec<String>,
    nested: Option<Box<Doc>>,
}

#[derive(Debug, Deserialize, PartialEq, Clone)]
struct Typed {
    id: i64,
    flag: Option<bool>,
    ratio: Option<f64>,
    amount: Option<Decimal>,
    label: Option<String>,
    blob: Option<Vec<u8>>,
    doc: Option<Doc>,
    at: Option<DateTime<Utc>>,
    day: Option<NaiveDate>,
    uid: Option<Uuid>,
}

fn sample(id: i64) -> (Vec<Value>, Typed) {
    let doc = Doc {
        name: format!("doc \"{id}\" ünïcode ✓"),
        tags: vec!["a".into(), "b,c".into(), "quote'd".into()],
        nested: Some(Box::new(Doc {
            name: "inner".into(),
            tags: vec![],
            nested: None,
        })),
    };
    let typed = Typed {
        id,
        flag: Some(id % 2 == 0),
        ratio: Some(0.1 + 0.2 + id as f64),
        amount: Some(Decimal::new(1_234_567_890_123_456_789 + id, 4)),
        label: Some(format!(
            "line one\nline\ttwo \\ 'quoted' \"double\" {id} 🚀"
        )),
        blob: Some((0..=255u8).chain([id as u8]).collect()),
        doc: Some(doc.clone()),
        at: Some(ts("2024-02-29T23:59:58.123456Z") + chrono::Duration::seconds(id)),
        day: NaiveDate::from_ymd_opt(1999, 12, 31),
        uid: Some(Uuid::from_u128(
            0x0123_4567_89ab_cdef_0123_4567_89ab_cdef ^ id as u128,
        )),
    };
    let json = serde_json::json!({
        "name": doc.name,
        "tags": doc.tags,
        "nested": {"name": "inner", "tags": [], "nested": null},
    });
    let values = vec![
        Value::I64(id),
        Value::from(typed.flag),
        Value::from(typed.ratio),
        Value::from(typed.amount),
        Value::from(typed.label.clone()),
        Value::from(typed.blob.clone()),
        Value::json(json),
        Value::from(typed.at),
        Value::from(typed.day),
        Value::from(typed.uid),
    ];
    (values, typed)
}

fn nulls(id: i64) -> (Vec<Value>, Typed) {
    let mut values = vec![Value::Null; 10];
    values[0] = Value::I64(id);
    (
        values,
        Typed {
            id,
            flag: None,
            ratio: None,
            amount: None,
            label: None,
            blob: None,
            doc: None,
            at: None,
            day: None,
            uid: None,
        },
    )
}

const INSERT_TYPED: &str = "INSERT INTO typed (id, flag, ratio, amount, label, blob, doc, at, day, uid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

async fn every_supported_type_binds_and_reads_back(engine: Engine) {
    let db = support::fresh_db(engine, "types", |_| {}).await;
    assert!(
        db.create_table(&typed_table("typed"))
            .await
            .expect("create")
    );
    let mut expected = Vec::new();
    for (values, typed) in [sample(1), nulls(2), sample(3)] {
        assert_eq!(db.execute(INSERT_TYPED, &values).await.expect("insert"), 1);
        expected.push(typed);
    }
    let got: Vec<Typed> = db
        .query_as("SELECT * FROM typed ORDER BY id", &[])
        .await
        .expect("select");
    assert_eq!(got, expected);

    // Dynamic rows: integers, floats, text, bytes and NULL are the same on both engines; the
    // types SQLite keeps as text come back as the value on PostgreSQL and as text on SQLite.
    let rows = db.query("SELECT id, flag, ratio, label, blob, amount, at, day, uid, doc FROM typed WHERE id = $1", &[Value::I64(1)]).await.expect("dynamic");
    let r = &rows[0];
    assert_eq!(r.columns()[0], "id");
    assert_eq!(r.get("id"), Some(&Value::I64(1)));
    assert_eq!(r.get("flag"), Some(&Value::Bool(false)));
    assert_eq!(r.get("ratio"), Some(&Value::F64(0.1 + 0.2 + 1.0)));
    assert_eq!(
        r.get("label"),
        Some(&Value::from(expected[0].label.clone()))
    );
    assert_eq!(r.get("blob"), Some(&Value::from(expected[0].blob.clone())));
    assert_eq!(r.get("at"), Some(&Value::from(expected[0].at)));
    assert_eq!(r.get("day"), Some(&Value::from(expected[0].day)));
    match engine {
        Engine::Postgres => {
            assert_eq!(r.get("amount"), Some(&Value::from(expected[0].amount)));
            assert_eq!(r.get("uid"), Some(&Value::from(expected[0].uid)));
            assert!(matches!(r.get("doc"), Some(Value::Json(_))), "{r:?}");
        }
        Engine::Sqlite => {
            assert_eq!(
                r.get("amount"),
                Some(&Value::Text("123456789012345.6790".into()))
            );
            assert_eq!(
                r.get("uid"),
                Some(&Value::Text(expected[0].uid.unwrap().to_string()))
            );
            assert!(matches!(r.get("doc"), Some(Value::Text(_))), "{r:?}");
        }
    }
    let nulls = db
        .query("SELECT flag, amount, doc FROM typed WHERE id = 2", &[])
        .await
        .expect("nulls");
    assert!(
        nulls[0].values().iter().all(Value::is_null),
        "{:?}",
        nulls[0]
    );

    // Extremes.
    let extremes = [
        Value::I64(i64::MIN),
        Value::I64(i64::MAX),
        Value::F64(f64::MIN_POSITIVE),
        Value::from(""),
        Value::Bytes(vec![]),
    ];
    for v in extremes {
        let back = db
            .query("SELECT $1 AS v", std::slice::from_ref(&v))
            .await
            .expect("echo");
        assert_eq!(back[0].get("v"), Some(&v), "{v:?}");
    }
    // A parameter used twice and out of order binds by its number.
    let (a, b): (i64, String) = db
        .query_as(
            "SELECT $2 + $2 AS a, $1 AS b",
            &[Value::from("x"), Value::I64(21)],
        )
        .await
        .expect("numbered")
        .remove(0);
    assert_eq!((a, b.as_str()), (42, "x"));
}

async fn rows_read_into_structs_tuples_and_scalars(engine: Engine) {
    let db = support::fresh_db(engine, "typed_rows", |_| {}).await;
    db.create_table(&typed_table("typed"))
        .await
        .expect("create");
    let (values, typed) = sample(7);
    db.execute(INSERT_TYPED, &values).await.expect("insert");
    let one: Typed = db
        .query_as("SELECT * FROM typed", &[])
        .await
        .expect("struct")
        .remove(0);
    assert_eq!(one, typed);
    let pair: Vec<(i64, Option<String>)> = db
        .query_as("SELECT id, label FROM typed", &[])
        .await
        .expect("tuple");
    assert_eq!(pair, vec![(7, typed.label.clone())]);
    let count: Vec<i64> = db
        .query_as("SELECT count(*) FROM typed", &[])
        .await
        .expect("scalar");
    assert_eq!(count, vec![1]);
    // A mismatch names the column.
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Wrong {
        label: i64,
    }
    let e = db
        .query_as::<Wrong>("SELECT label FROM typed", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ParsingError);
    assert!(e.message().contains("`label`"), "{e}");
    // query_one: the row, or NOT_FOUND.
    assert_eq!(
        db.query_one("SELECT id FROM typed", &[])
            .await
            .expect("one")
            .get_index(0),
        Some(&Value::I64(7))
    );
    let e = db
        .query_one("SELECT id FROM typed WHERE id < 0", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound);
}

async fn values_are_bound_never_spliced(engine: Engine) {
    let db = support::fresh_db(engine, "bound", |_| {}).await;
    db.execute("CREATE TABLE names (name TEXT)", &[])
        .await
        .expect("create");
    let hostile = "x'); DROP TABLE names; --";
    db.execute(
        "INSERT INTO names (name) VALUES ($1)",
        &[Value::from(hostile)],
    )
    .await
    .expect("insert");
    let got: Vec<String> = db
        .query_as("SELECT name FROM names", &[])
        .await
        .expect("select");
    assert_eq!(got, vec![hostile.to_owned()]);
    // An identifier goes through quote_ident: a hostile name is a name.
    let weird = "we\"ird ; DROP TABLE names";
    let t = TableDef::new(weird).column(ColumnDef::new("Mixed Case", ColumnType::Text));
    assert!(db.create_table(&t).await.expect("create weird"));
    let schema = db.schema().await.expect("schema");
    assert!(schema.table("names").is_some());
    assert_eq!(
        schema.table(weird).expect("weird table").columns[0].name,
        "Mixed Case"
    );
    let e = db
        .create_table(&TableDef::new("nul\0name").column(ColumnDef::new("a", ColumnType::Text)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
}

async fn count(db: &Database, table: &str) -> i64 {
    db.query_as::<i64>(
        &format!(
            "SELECT count(*) FROM {}",
            connector_db::quote_ident(table).unwrap()
        ),
        &[],
    )
    .await
    .expect("count")[0]
}

async fn transactions_commit_roll_back_and_roll_back_when_dropped(engine: Engine) {
    // One connection: whatever a transaction leaves on it, the next call sees.
    let db = support::fresh_db(engine, "tx", |c| c.pool.max_connections = 1).await;
    db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)", &[])
        .await
        .expect("create");

    let mut tx = db.begin().await.expect("begin");
    tx.execute("INSERT INTO t (id) VALUES ($1)", &[Value::I64(1)])
        .await
        .expect("insert");
    assert_eq!(
        tx.query_as::<i64>("SELECT count(*) FROM t", &[])
            .await
            .expect("inside"),
        vec![1]
    );
    tx.commit().await.expect("commit");
    assert_eq!(count(&db, "t").await, 1);

    let mut tx = db.begin().await.expect("begin");
    tx.execute("INSERT INTO t (id) VALUES ($1)", &[Value::I64(2)])
        .await
        .expect("insert");
    tx.rollback().await.expect("rollback");
    assert_eq!(count(&db, "t").await, 1);

    let mut tx = db.begin().await.expect("begin");
    tx.execute("INSERT INTO t (id) VALUES ($1)", &[Value::I64(3)])
        .await
        .expect("insert");
    drop(tx);
    // The only connection comes back rolled back: the row is gone, and a new transaction begins
    // (it could not inside one left open).
    assert_eq!(count(&db, "t").await, 1);
    let mut tx = db.begin().await.expect("begin after a dropped transaction");
    tx.execute("INSERT INTO t (id) VALUES ($1)", &[Value::I64(3)])
        .await
        .expect("insert again");
    tx.commit().await.expect("commit");
    assert_eq!(count(&db, "t").await, 2);
}

async fn a_failed_statement_makes_commit_roll_back(engine: Engine) {
    let db = support::fresh_db(engine, "tx_failed", |_| {}).await;
    db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)", &[])
        .await
        .expect("create");
    let mut tx = db.begin().await.expect("begin");
    tx.execute("INSERT INTO t (id) VALUES (1)", &[])
        .await
        .expect("insert");
    let e = tx
        .execute("INSERT INTO t (id) VALUES (1)", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict);
    let e = tx.commit().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    assert!(e.message().contains("rolled back"), "{e}");
    assert_eq!(count(&db, "t").await, 0);
}

async fn savepoints_undo_part_of_a_transaction(engine: Engine) {
    let db = support::fresh_db(engine, "savepoints", |_| {}).await;
    db.execute("CREATE TABLE t (id BIGINT PRIMARY KEY)", &[])
        .await
        .expect("create");
    let mut tx = db.begin().await.expect("begin");
    let insert = "INSERT INTO t (id) VALUES ($1)";
    tx.execute(insert, &[Value::I64(1)]).await.expect("1");
    tx.savepoint("before two").await.expect("savepoint");
    tx.execute(insert, &[Value::I64(2)]).await.expect("2");
    tx.rollback_to_savepoint("before two")
        .await
        .expect("rollback to");
    tx.execute(insert, &[Value::I64(3)]).await.expect("3");
    tx.savepoint("b").await.expect("savepoint b");
    let e = tx.execute(insert, &[Value::I64(1)]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict);
    // Back before the failure: the transaction goes on.
    tx.rollback_to_savepoint("b").await.expect("rollback to b");
    tx.savepoint("c").await.expect("savepoint c");
    tx.execute(insert, &[Value::I64(4)]).await.expect("4");
    tx.release_savepoint("c").await.expect("release");
    tx.commit().await.expect("commit");
    let ids: Vec<i64> = db
        .query_as("SELECT id FROM t ORDER BY id", &[])
        .await
        .expect("ids");
    assert_eq!(ids, vec![1, 3, 4]);
}

async fn constraint_violations_carry_the_provider_code(engine: Engine) {
    let db = support::fresh_db(engine, "constraints", |_| {}).await;
    db.execute_script(
        "CREATE TABLE parent (id BIGINT PRIMARY KEY);
         CREATE TABLE child (
             id BIGINT PRIMARY KEY,
             email TEXT NOT NULL UNIQUE,
             amount BIGINT CHECK (amount >= 0),
             parent_id BIGINT REFERENCES parent (id)
         );
         INSERT INTO parent (id) VALUES (1);
         INSERT INTO child (id, email, amount, parent_id) VALUES (1, 'a@example.com', 5, 1);",
    )
    .await
    .expect("schema");
    let insert = "INSERT INTO child (id, email, amount, parent_id) VALUES ($1, $2, $3, $4)";
    let try_row = |id: i64, email: Option<&str>, amount: i64, parent: i64| {
        let db = db.clone();
        let email = email.map(str::to_owned);
        async move {
            db.execute(
                insert,
                &[
                    Value::I64(id),
                    Value::from(email),
                    Value::I64(amount),
                    Value::I64(parent),
                ],
            )
            .await
            .unwrap_err()
        }
    };
    let (pk, unique, not_null, check, fk) = match engine {
        Engine::Postgres => ("23505", "23505", "23502", "23514", "23503"),
        Engine::Sqlite => ("1555", "2067", "1299", "275", "787"),
    };
    let cases = [
        (
            try_row(1, Some("b@example.com"), 1, 1).await,
            ErrorCode::Conflict,
            pk,
        ),
        (
            try_row(2, Some("a@example.com"), 1, 1).await,
            ErrorCode::Conflict,
            unique,
        ),
        (
            try_row(3, None, 1, 1).await,
            ErrorCode::ValidationError,
            not_null,
        ),
        (
            try_row(4, Some("c@example.com"), -1, 1).await,
            ErrorCode::ValidationError,
            check,
        ),
        (
            try_row(5, Some("d@example.com"), 1, 99).await,
            ErrorCode::Conflict,
            fk,
        ),
    ];
    for (e, code, provider) in cases {
        assert_eq!((e.code(), e.provider_code()), (code, Some(provider)), "{e}");
        assert!(!e.is_retryable(), "{e}");
        // The error never quotes the row (PostgreSQL's DETAIL would).
        assert!(!format!("{e} {e:?}").contains("@example.com"), "{e:?}");
    }
    if engine == Engine::Postgres {
        let e = try_row(6, Some("a@example.com"), 1, 1).await;
        assert_eq!(e.details()["constraint"], "child_email_key", "{e:?}");
        assert_eq!(e.details()["table"], "child", "{e:?}");
    } else {
        let e = try_row(6, Some("a@example.com"), 1, 1).await;
        assert_eq!(
            e.details()["provider_name"],
            "SQLITE_CONSTRAINT_UNIQUE",
            "{e:?}"
        );
    }
    assert_eq!(count(&db, "child").await, 1);
}

async fn syntax_errors_and_bad_input_are_clear_errors(engine: Engine) {
    let db = support::fresh_db(engine, "bad_input", |_| {}).await;
    let e = db.execute("SELEC 1", &[]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest, "{e}");
    assert_eq!(
        e.provider_code(),
        Some(if engine == Engine::Postgres {
            "42601"
        } else {
            "1"
        })
    );
    let e = db
        .query("SELECT * FROM no_such_table", &[])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest, "{e}");
    // Too few parameters for the statement.
    let e = db
        .query("SELECT $1 + $2", &[Value::I64(1)])
        .await
        .unwrap_err();
    assert!(
        matches!(
            e.code(),
            ErrorCode::InvalidRequest | ErrorCode::ValidationError
        ),
        "{e}"
    );
    // Garbage where a number goes.
    if engine == Engine::Postgres {
        let e = db
            .query("SELECT $1::bigint", &[Value::from("seven")])
            .await
            .unwrap_err();
        assert_eq!(
            (e.code(), e.provider_code()),
            (ErrorCode::ValidationError, Some("22P02")),
            "{e}"
        );
        // A value with no Value: a clear error, not a panic.
        let e = db
            .query("SELECT interval '1 day' AS span", &[])
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unsupported, "{e}");
        assert!(e.message().contains("span"), "{e}");
        let e = db
            .query("SELECT 1e40::numeric AS big", &[])
            .await
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::ParsingError, "{e}");
    }
    // Still usable.
    assert_eq!(
        db.query_as::<i64>("SELECT 1", &[])
            .await
            .expect("after errors"),
        vec![1]
    );
}

async fn schema_inspection_sees_a_created_schema(engine: Engine) {
    let db = support::fresh_db(engine, "schema", |_| {}).await;
    let orders = TableDef::new("orders")
        .column(ColumnDef::new("tenant", ColumnType::Text).not_null())
        .column(ColumnDef::new("id", ColumnType::I64).not_null())
        .column(ColumnDef::new("amount", ColumnType::Decimal))
        .column(
            ColumnDef::new("paid", ColumnType::Bool)
                .not_null()
                .default(ColumnDefault::Bool(false)),
        )
        .column(
            ColumnDef::new("updated_at", ColumnType::Timestamp)
                .default(ColumnDefault::CurrentTimestamp),
        )
        .primary_key(["tenant", "id"]);
    assert!(db.create_table(&orders).await.expect("create"));
    assert!(
        !db.create_table(&orders).await.expect("create again"),
        "a second create is a no-op"
    );
    let extra = ColumnDef::new("note", ColumnType::Text);
    assert!(db.add_column("orders", &extra).await.expect("add"));
    assert!(
        !db.add_column("orders", &extra).await.expect("add again"),
        "a second add is a no-op"
    );
    db.add_column(
        "orders",
        &ColumnDef::new("attempts", ColumnType::I64)
            .not_null()
            .default(ColumnDefault::I64(0)),
    )
    .await
    .expect("add not null with default");
    db.create_index("orders", "orders_by_amount", &["amount", "paid"], false)
        .await
        .expect("index");
    db.create_index("orders", "orders_note", &["note"], true)
        .await
        .expect("unique index");
    db.create_table(&TableDef::new("audit").column(ColumnDef::new("line", ColumnType::Text)))
        .await
        .expect("audit");

    let schema = db.schema().await.expect("schema");
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["audit", "orders"]);
    let t = schema.table("orders").expect("orders");
    let cols: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        cols,
        vec![
            "tenant",
            "id",
            "amount",
            "paid",
            "updated_at",
            "note",
            "attempts"
        ]
    );
    assert_eq!(t.primary_key, vec!["tenant", "id"]);
    let col = |n: &str| t.column(n).expect(n);
    assert!(!col("tenant").nullable && !col("id").nullable && !col("paid").nullable);
    assert!(col("amount").nullable && col("note").nullable);
    let types: Vec<&str> = ["id", "amount", "paid", "updated_at"]
        .iter()
        .map(|n| col(n).data_type.as_str())
        .collect();
    match engine {
        Engine::Postgres => {
            assert_eq!(
                types,
                vec!["bigint", "numeric", "boolean", "timestamp with time zone"]
            );
            assert_eq!(col("paid").default.as_deref(), Some("false"));
            assert_eq!(
                col("updated_at").default.as_deref(),
                Some("CURRENT_TIMESTAMP")
            );
        }
        Engine::Sqlite => {
            assert_eq!(
                types,
                vec!["INTEGER", "DECIMAL_TEXT", "BOOLEAN", "TIMESTAMP"]
            );
            assert_eq!(col("paid").default.as_deref(), Some("FALSE"));
            assert_eq!(
                col("updated_at").default.as_deref(),
                Some("CURRENT_TIMESTAMP")
            );
        }
    }
    assert_eq!(col("attempts").default.as_deref(), Some("0"));
    assert_eq!(col("note").default, None);
    let idx = |n: &str| {
        t.indexes
            .iter()
            .find(|i| i.name == n)
            .unwrap_or_else(|| panic!("{n}: {:?}", t.indexes))
    };
    assert_eq!(idx("orders_by_amount").columns, vec!["amount", "paid"]);
    assert!(!idx("orders_by_amount").unique);
    assert!(idx("orders_note").unique && !idx("orders_note").primary);
    let pk = t
        .indexes
        .iter()
        .find(|i| i.primary)
        .expect("the primary key's index");
    assert_eq!(pk.columns, vec!["tenant", "id"]);
    assert!(pk.unique);
    // The defaults work.
    db.execute(
        "INSERT INTO orders (tenant, id) VALUES ($1, $2)",
        &[Value::from("t1"), Value::I64(1)],
    )
    .await
    .expect("insert");
    let (paid, attempts, at): (bool, i64, DateTime<Utc>) = db
        .query_as("SELECT paid, attempts, updated_at FROM orders", &[])
        .await
        .expect("defaults")
        .remove(0);
    assert!(!paid && attempts == 0);
    assert!((Utc::now() - at).num_minutes().abs() < 5, "{at}");
}

async fn statement_timeout_stops_a_long_statement(engine: Engine) {
    let db = support::fresh_db(engine, "timeout", |c| {
        c.statement_timeout_ms = Some(300);
        c.pool.max_connections = 1;
    })
    .await;
    let slow = support::Slow::new(&db).await;
    let started = std::time::Instant::now();
    let e = db.query(slow.sql(), &[]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout, "{e}");
    assert_eq!(
        e.provider_code(),
        Some(if engine == Engine::Postgres {
            "57014"
        } else {
            "9"
        }),
        "{e}"
    );
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    // The connection goes on.
    assert_eq!(
        db.query_as::<i64>("SELECT 2", &[])
            .await
            .expect("after timeout"),
        vec![2]
    );

    // A per-call timeout, stopped by this crate rather than by the configured limit.
    let db = support::fresh_db(engine, "call_timeout", |c| c.pool.max_connections = 1).await;
    let slow = support::Slow::new(&db).await;
    let opts = QueryOptions::default().timeout(Duration::from_millis(200));
    let e = db.query_with(slow.sql(), &[], &opts).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Timeout, "{e}");
    assert_eq!(
        db.query_as::<i64>("SELECT 3", &[])
            .await
            .expect("after call timeout"),
        vec![3]
    );
}

async fn a_token_cancels_a_running_statement(engine: Engine) {
    let db = support::fresh_db(engine, "cancel", |c| c.pool.max_connections = 2).await;
    let slow = support::Slow::new(&db).await;
    let token = CancellationToken::new();
    let opts = QueryOptions::default().cancel(token.clone());
    let mut tx = db.begin().await.expect("begin");
    let pid = tx.backend_pid();
    let running = {
        let opts = opts.clone();
        let sql = slow.sql();
        async move {
            let r = tx.query_with(sql, &[], &opts).await;
            (tx, r)
        }
    };
    let trigger = async {
        // The signal: the engine shows the statement running.
        assert!(slow.wait(true, Duration::from_secs(20)).await);
        token.cancel();
    };
    let ((tx, r), ()) = tokio::join!(running, trigger);
    let e = r.unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled, "{e}");
    assert_eq!(
        e.provider_code(),
        Some(if engine == Engine::Postgres {
            "57014"
        } else {
            "9"
        }),
        "{e}"
    );
    if engine == Engine::Postgres {
        // The server stops it: the backend leaves the `active` state (it reports the change just
        // after sending the error the call returned, so the view is polled rather than read once).
        assert!(slow.wait(false, Duration::from_secs(20)).await);
    }
    drop(tx);
    if engine == Engine::Sqlite {
        // Its write lock goes with the rollback of the dropped transaction.
        assert!(slow.wait(false, Duration::from_secs(20)).await);
    }
    // The same connection is usable again (PostgreSQL: the same server process).
    let mut tx = db.begin().await.expect("begin again");
    assert_eq!(
        tx.query_as::<i64>("SELECT 5", &[])
            .await
            .expect("after cancel"),
        vec![5]
    );
    if engine == Engine::Postgres {
        let pids: Vec<i32> = db
            .query_as(
                "SELECT pid FROM pg_stat_activity WHERE pid = $1",
                &[Value::from(pid.unwrap())],
            )
            .await
            .expect("pid");
        assert_eq!(pids.len(), 1, "the cancelled connection is still open");
    }
    tx.rollback().await.expect("rollback");

    // A token that fires before the statement reaches the engine stops it all the same (a
    // PostgreSQL cancel that arrives first is ignored by the server, so it is sent again).
    let token = CancellationToken::new();
    token.cancel();
    let started = std::time::Instant::now();
    let e = db
        .query_with(slow.sql(), &[], &QueryOptions::default().cancel(token))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Cancelled, "{e}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(slow.wait(false, Duration::from_secs(20)).await);
}

async fn dropping_the_future_stops_the_statement(engine: Engine) {
    let db = support::fresh_db(engine, "drop_future", |c| c.pool.max_connections = 2).await;
    let slow = support::Slow::new(&db).await;
    let task = {
        let db = db.clone();
        let sql = slow.sql();
        tokio::spawn(async move { db.query(sql, &[]).await })
    };
    assert!(
        slow.wait(true, Duration::from_secs(20)).await,
        "the statement never started"
    );
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // Stopped in the background (PostgreSQL: pg_cancel_backend; SQLite: an interrupt).
    assert!(
        slow.wait(false, Duration::from_secs(20)).await,
        "the statement still runs"
    );
    // Both connections serve again.
    let db2 = db.clone();
    let (a, b) = tokio::join!(db.query_as::<i64>("SELECT 1", &[]), async move {
        let mut tx = db2.begin().await?;
        let r = tx.query_as::<i64>("SELECT 2", &[]).await;
        tx.rollback().await?;
        r
    });
    assert_eq!(a.expect("first"), vec![1]);
    assert_eq!(b.expect("second"), vec![2]);
    if engine == Engine::Sqlite {
        assert_eq!(
            count(&db, "slow_sink").await,
            0,
            "the interrupted insert wrote nothing"
        );
    }
}

async fn streams_end_early_and_give_the_connection_back(engine: Engine) {
    let db = support::fresh_db(engine, "stream", |c| {
        c.pool.max_connections = 1;
        c.stream_buffer_rows = 16;
    })
    .await;
    #[derive(Deserialize)]
    struct Item {
        id: i64,
        label: String,
        at: DateTime<Utc>,
    }
    let mut typed = db
        .stream(support::series_sql(engine), vec![Value::I64(10_000)])
        .await
        .expect("stream")
        .typed::<Item>();
    let mut n = 0i64;
    while let Some(item) = typed.next().await {
        let item = item.expect("row");
        n += 1;
        assert_eq!(item.id, n);
        assert_eq!(item.label, format!("row-{n}"));
        assert_eq!(
            item.at,
            ts("2024-01-01T00:00:00Z") + chrono::Duration::seconds(n)
        );
    }
    assert_eq!(n, 10_000);

    // Stop after a few rows of a result far larger than the buffer: the only connection comes
    // back (so the statement was stopped, not read to its end).
    let mut s = db
        .stream(support::series_sql(engine), vec![Value::I64(100_000_000)])
        .await
        .expect("stream");
    for i in 1..=5 {
        let row = s.next_row().await.expect("a row").expect("ok");
        assert_eq!(row.get("id"), Some(&Value::I64(i)));
    }
    drop(s);
    let back =
        tokio::time::timeout(Duration::from_secs(20), db.query_as::<i64>("SELECT 7", &[])).await;
    assert_eq!(
        back.expect("the connection came back in time")
            .expect("query"),
        vec![7]
    );

    // An error mid-stream ends it with that error.
    let bad = match engine {
        Engine::Postgres => {
            "SELECT CASE WHEN g < 100 THEN g ELSE 1 / (g - g) END AS v FROM generate_series(1, 1000) AS g"
        }
        Engine::Sqlite => {
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 1000) SELECT CASE WHEN g < 100 THEN g ELSE json_extract('not json', '$') END AS v FROM s"
        }
    };
    let mut s = db.stream(bad, vec![]).await.expect("stream");
    let mut ok = 0;
    let mut failed = None;
    while let Some(r) = s.next_row().await {
        match r {
            Ok(_) => ok += 1,
            Err(e) => failed = Some(e),
        }
    }
    assert!((1..=99).contains(&ok), "{ok}");
    assert!(failed.is_some());
}

fn bulk_row(i: i64, version: i64) -> Vec<Value> {
    vec![
        Value::I64(i),
        Value::from(format!("name {i}\twith tab")),
        Value::from(format!("user{i}@example.com")),
        Value::Decimal(Decimal::new(i * 100 + version, 2)),
        Value::F64(i as f64 / 3.0),
        Value::Bool(i % 3 == 0),
        Value::Timestamp(ts("2024-01-01T00:00:00Z") + chrono::Duration::seconds(i)),
        Value::Date(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(i % 365)),
        Value::Uuid(Uuid::from_u128(i as u128)),
        if i % 10 == 0 {
            Value::Null
        } else {
            Value::json(serde_json::json!({"v": version, "i": i}))
        },
    ]
}

fn bulk_table(name: &str) -> TableDef {
    TableDef::new(name)
        .column(ColumnDef::new("id", ColumnType::I64).not_null())
        .column(ColumnDef::new("name", ColumnType::Text))
        .column(ColumnDef::new("email", ColumnType::Text))
        .column(ColumnDef::new("amount", ColumnType::Decimal))
        .column(ColumnDef::new("score", ColumnType::F64))
        .column(ColumnDef::new("active", ColumnType::Bool))
        .column(ColumnDef::new("created_at", ColumnType::Timestamp))
        .column(ColumnDef::new("day", ColumnType::Date))
        .column(ColumnDef::new("uid", ColumnType::Uuid))
        .column(ColumnDef::new("payload", ColumnType::Json))
        .primary_key(["id"])
}

const BULK_COLUMNS: [&str; 10] = [
    "id",
    "name",
    "email",
    "amount",
    "score",
    "active",
    "created_at",
    "day",
    "uid",
    "payload",
];

async fn conditional_upserts_skip_unchanged_and_older_rows(engine: Engine) {
    let db = support::fresh_db(engine, "upsert_when", |_| {}).await;
    let table = TableDef::new("versions")
        .column(ColumnDef::new("id", ColumnType::I64).not_null())
        .column(ColumnDef::new("hash", ColumnType::Text))
        .column(ColumnDef::new("version", ColumnType::I64))
        .primary_key(["id"]);
    db.create_table(&table).await.expect("create");
    let when = connector_db::UpsertWhen {
        changed: Some("hash".into()),
        not_older: Some("version".into()),
    };
    let cols = ["id", "hash", "version"];
    // Small batches (VALUES statements) and, on PostgreSQL, a staged one of 6,000 rows.
    for n in [10i64, 6_000] {
        let rows = |h: &str, v: i64| -> Vec<Vec<Value>> {
            (0..n)
                .map(|i| vec![Value::I64(i), Value::from(h), Value::I64(v)])
                .collect()
        };
        db.execute("DELETE FROM versions", &[])
            .await
            .expect("clear");
        let w = db
            .upsert_batch_when("versions", &cols, &["id"], &when, &rows("a", 2))
            .await;
        assert_eq!(w.expect("insert"), n as u64, "{engine} {n}: inserted");
        let w = db
            .upsert_batch_when("versions", &cols, &["id"], &when, &rows("a", 2))
            .await;
        assert_eq!(
            w.expect("replay"),
            0,
            "{engine} {n}: an identical replay writes nothing"
        );
        let w = db
            .upsert_batch_when("versions", &cols, &["id"], &when, &rows("b", 1))
            .await;
        assert_eq!(w.expect("older"), 0, "{engine} {n}: an older version loses");
        let mut newer = rows("a", 3);
        newer[0][1] = Value::from("c");
        let w = db
            .upsert_batch_when("versions", &cols, &["id"], &when, &newer)
            .await;
        assert_eq!(
            w.expect("newer"),
            1,
            "{engine} {n}: only the changed row is written"
        );
        let kept: Vec<(i64, String, i64)> = db
            .query_as(
                "SELECT id, hash, version FROM versions WHERE id < 2 ORDER BY id",
                &[],
            )
            .await
            .expect("read");
        assert_eq!(
            kept,
            vec![(0, "c".to_owned(), 3), (1, "a".to_owned(), 2)],
            "{engine} {n}"
        );
        // NULL versions never block a change.
        let w = db
            .upsert_batch_when(
                "versions",
                &cols,
                &["id"],
                &when,
                &[vec![Value::I64(1), Value::from("d"), Value::Null]],
            )
            .await;
        assert_eq!(w.expect("null version"), 1, "{engine} {n}");
    }
}

async fn upsert_batch_writes_updates_and_keeps_the_last_row_of_a_key(engine: Engine) {
    let db = support::fresh_db(engine, "upsert", |_| {}).await;
    db.create_table(&bulk_table("items")).await.expect("create");
    // More rows than one statement takes on either engine.
    let n = 20_000i64;
    let rows: Vec<Vec<Value>> = (1..=n).map(|i| bulk_row(i, 0)).collect();
    let written = db
        .upsert_batch("items", &BULK_COLUMNS, &["id"], &rows)
        .await
        .expect("insert");
    assert_eq!(written, n as u64);
    assert_eq!(count(&db, "items").await, n);
    // Again: every other row updated, new rows added, and a key repeated within the batch (its
    // last row wins).
    let mut second: Vec<Vec<Value>> = (1..=n + 100).step_by(2).map(|i| bulk_row(i, 1)).collect();
    // In the same statement as id 1's first row: PostgreSQL would refuse to update it twice.
    second.insert(2, bulk_row(1, 2));
    db.upsert_batch("items", &BULK_COLUMNS, &["id"], &second)
        .await
        .expect("upsert");
    assert_eq!(count(&db, "items").await, n + 50);
    let amounts: Vec<(i64, Decimal)> = db
        .query_as(
            "SELECT id, amount FROM items WHERE id IN (1, 2, 3) ORDER BY id",
            &[],
        )
        .await
        .expect("amounts");
    assert_eq!(
        amounts,
        vec![
            (1, Decimal::new(102, 2)),
            (2, Decimal::new(200, 2)),
            (3, Decimal::new(301, 2))
        ]
    );
    let rows: Vec<Typed2> = db
        .query_as("SELECT * FROM items WHERE id = 4", &[])
        .await
        .expect("row");
    assert_eq!(rows[0].name, "name 4\twith tab");
    assert_eq!(
        rows[0].payload.as_ref().map(|j| &j.0),
        Some(&serde_json::json!({"v": 0, "i": 4}))
    );
    // A small batch (one VALUES statement) with a key twice: the last row wins.
    db.upsert_batch(
        "items",
        &BULK_COLUMNS,
        &["id"],
        &[bulk_row(5, 7), bulk_row(5, 8)],
    )
    .await
    .expect("small upsert");
    let five: Vec<Decimal> = db
        .query_as("SELECT amount FROM items WHERE id = 5", &[])
        .await
        .expect("five");
    assert_eq!(five, vec![Decimal::new(508, 2)]);
    // All columns keys: new rows only.
    db.execute(
        "CREATE TABLE tags (a TEXT, b TEXT, PRIMARY KEY (a, b))",
        &[],
    )
    .await
    .expect("tags");
    let tags = vec![
        vec![Value::from("x"), Value::from("y")],
        vec![Value::from("x"), Value::from("y")],
    ];
    db.upsert_batch("tags", &["a", "b"], &["a", "b"], &tags)
        .await
        .expect("tags");
    assert_eq!(count(&db, "tags").await, 1);
}

#[derive(Debug, Deserialize)]
struct Typed2 {
    name: String,
    payload: Option<connector_db::Json<serde_json::Value>>,
}

async fn copy_in_loads_rows_of_every_type(engine: Engine) {
    let db = support::fresh_db(engine, "copy", |_| {}).await;
    db.create_table(&bulk_table("items")).await.expect("create");
    let n = 20_000i64;
    let rows: Vec<Vec<Value>> = (1..=n).map(|i| bulk_row(i, 0)).collect();
    assert_eq!(
        db.copy_in("items", &BULK_COLUMNS, &rows)
            .await
            .expect("copy"),
        n as u64
    );
    assert_eq!(count(&db, "items").await, n);
    let sum: Vec<i64> = db
        .query_as("SELECT sum(id) FROM items", &[])
        .await
        .expect("sum");
    assert_eq!(sum, vec![n * (n + 1) / 2]);
    // Text with every escape COPY has, bytes and NULLs.
    db.create_table(&typed_table("typed")).await.expect("typed");
    let (a, ta) = sample(1);
    let (b, tb) = nulls(2);
    db.copy_in("typed", &TYPED_COLUMNS, &[a, b])
        .await
        .expect("copy typed");
    let got: Vec<Typed> = db
        .query_as("SELECT * FROM typed ORDER BY id", &[])
        .await
        .expect("typed back");
    assert_eq!(got, vec![ta, tb]);
    // A duplicate key fails the whole load.
    let e = db
        .copy_in(
            "items",
            &BULK_COLUMNS,
            &[bulk_row(n + 1, 0), bulk_row(1, 0)],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    assert_eq!(count(&db, "items").await, n);
}

async fn bulk_writes_refuse_malformed_batches_whole(engine: Engine) {
    let db = support::fresh_db(engine, "bulk_bad", |_| {}).await;
    db.create_table(&bulk_table("items")).await.expect("create");
    let mut rows: Vec<Vec<Value>> = (1..=10).map(|i| bulk_row(i, 0)).collect();
    rows[7].pop();
    let e = db
        .upsert_batch("items", &BULK_COLUMNS, &["id"], &rows)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    assert!(e.message().contains("row 7"), "{e}");
    let e = db.copy_in("items", &BULK_COLUMNS, &rows).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    let e = db
        .upsert_batch("items", &BULK_COLUMNS, &["nope"], &rows[..1])
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::ValidationError);
    // A failure in the second statement of a batch leaves nothing of the first.
    let per = connector_db::SQLITE_MAX_PARAMS.min(connector_db::PG_MAX_PARAMS) / 10 + 10;
    let mut big: Vec<Vec<Value>> = (1..=per as i64 * 3).map(|i| bulk_row(i, 0)).collect();
    let last = big.len() - 1;
    big[last][3] = Value::from("not a number");
    let e = db.upsert_batch("items", &BULK_COLUMNS, &["id"], &big).await;
    if engine == Engine::Postgres {
        // Text is no numeric on PostgreSQL (parameters are typed by their Value).
        let e = e.unwrap_err();
        assert!(
            matches!(
                e.code(),
                ErrorCode::InvalidRequest | ErrorCode::ValidationError
            ),
            "{e}"
        );
        assert_eq!(count(&db, "items").await, 0);
    } else {
        // SQLite stores text in any column; the batch is written.
        assert!(e.is_ok());
    }
    assert_eq!(
        db.upsert_batch("items", &BULK_COLUMNS, &["id"], &Vec::<Vec<Value>>::new())
            .await
            .expect("empty"),
        0
    );
}

async fn concurrent_callers_share_the_pool(engine: Engine) {
    let db = support::fresh_db(engine, "concurrent", |c| c.pool.max_connections = 4).await;
    db.execute("CREATE TABLE hits (worker BIGINT, n BIGINT)", &[])
        .await
        .expect("create");
    let mut tasks = Vec::new();
    for w in 0..8i64 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..25i64 {
                db.execute(
                    "INSERT INTO hits (worker, n) VALUES ($1, $2)",
                    &[Value::I64(w), Value::I64(n)],
                )
                .await?;
            }
            Ok::<_, connector_db::Error>(())
        }));
    }
    for t in tasks {
        t.await.expect("task").expect("inserts");
    }
    assert_eq!(count(&db, "hits").await, 200);
    let h = db.health().await.expect("health");
    assert!(h.pool_size <= 4, "{h:?}");
}

// ---- PostgreSQL only -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tls_verify_full_accepts_the_right_ca_and_refuses_a_wrong_one() {
    let c = support::cluster().await;
    let db = Database::connect(c.config("postgres", SslMode::VerifyFull))
        .await
        .expect("verify-full with the right CA");
    let ssl: Vec<bool> = db
        .query_as(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("ssl");
    assert_eq!(ssl, vec![true]);
    // Through a URL, as users write it.
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{}/postgres?sslmode=verify-full&sslrootcert={}",
        support::cluster::PASSWORD,
        c.port,
        c.ca.display()
    );
    let db = Database::connect(DbConfig::from_url(&url).expect("url"))
        .await
        .expect("url connect");
    assert_eq!(
        db.query_as::<bool>(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[]
        )
        .await
        .expect("ssl"),
        vec![true]
    );

    let mut wrong = c.config("postgres", SslMode::VerifyFull);
    wrong.ssl_root_cert = Some(c.wrong_ca.clone());
    wrong.pool.acquire_timeout_ms = 5_000;
    let e = Database::connect(wrong).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
    assert!(
        !e.is_retryable(),
        "a certificate does not get better by retrying: {e}"
    );
    assert!(
        e.to_string().contains("certificate") || e.to_string().contains("UnknownIssuer"),
        "{e}"
    );
    // verify-ca accepts the right CA too; sslmode=disable talks in plain text.
    let db = Database::connect(c.config("postgres", SslMode::VerifyCa))
        .await
        .expect("verify-ca");
    db.health().await.expect("health");
    let db = Database::connect(c.config("postgres", SslMode::Disable))
        .await
        .expect("disable");
    assert_eq!(
        db.query_as::<bool>(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[]
        )
        .await
        .expect("ssl"),
        vec![false]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refused_passwords_and_unreachable_servers_are_told_apart() {
    let c = support::cluster().await;
    let mut bad = c
        .config("postgres", SslMode::VerifyFull)
        .with_password("not-the-password");
    bad.retry.max_attempts = 3;
    let e = Database::connect(bad).await.unwrap_err();
    assert_eq!(
        (e.code(), e.provider_code()),
        (ErrorCode::AuthFailed, Some("28P01")),
        "{e}"
    );
    assert!(!e.is_retryable());
    assert!(!format!("{e} {e:?}").contains("not-the-password"), "{e:?}");

    let port = support::cluster::free_port().expect("port");
    let mut nowhere =
        DbConfig::postgres("127.0.0.1", port, "postgres", "postgres").with_password("secret-one");
    nowhere.pool.acquire_timeout_ms = 300;
    nowhere.retry.max_attempts = 2;
    nowhere.retry.initial_delay_ms = 10;
    let e = Database::connect(nowhere).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
    assert!(e.is_retryable(), "{e}");
    assert_eq!(e.details()["attempts"], 2, "{e:?}");
    assert!(!format!("{e} {e:?}").contains("secret-one"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_types_without_a_value_and_arrays() {
    let db = support::fresh_db(Engine::Postgres, "pg_types", |_| {}).await;
    let row = db
        .query_one("SELECT ARRAY['a', NULL]::text[] AS t, ARRAY[1, 2]::int8[] AS i, 'x'::varchar(3) AS v, 7::int2 AS s, 1.5::real AS r, now()::timestamp AS naive", &[])
        .await
        .expect("row");
    assert_eq!(
        row.get("t"),
        Some(&Value::json(serde_json::json!(["a", null])))
    );
    assert_eq!(row.get("i"), Some(&Value::json(serde_json::json!([1, 2]))));
    assert_eq!(row.get("v"), Some(&Value::from("x")));
    assert_eq!(row.get("s"), Some(&Value::I64(7)));
    assert_eq!(row.get("r"), Some(&Value::F64(1.5)));
    assert!(matches!(row.get("naive"), Some(Value::Timestamp(_))));
}

// ---- SQLite only -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_in_memory_is_the_default_and_private() {
    let config = DbConfig::from_optional_url(None).expect("default");
    assert_eq!(config.engine, Engine::Sqlite);
    let a = Database::connect(config.clone()).await.expect("memory a");
    let b = Database::connect(config).await.expect("memory b");
    a.execute("CREATE TABLE only_a (x INTEGER)", &[])
        .await
        .expect("create");
    a.execute("INSERT INTO only_a VALUES (1)", &[])
        .await
        .expect("insert");
    // The data outlives each call (one connection kept open) and is private to its handle.
    assert_eq!(count(&a, "only_a").await, 1);
    let e = b.query("SELECT * FROM only_a", &[]).await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidRequest);
    let memory = Database::connect(DbConfig::from_url("sqlite::memory:").expect("url"))
        .await
        .expect("url");
    assert_eq!(
        memory.health().await.expect("health").engine,
        Engine::Sqlite
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_file_that_cannot_be_opened_is_a_clear_error() {
    let mut config = DbConfig::sqlite("/proc/definitely/not/here.db");
    config.retry.max_attempts = 1;
    let e = Database::connect(config).await.unwrap_err();
    assert_eq!(e.provider_code(), Some("14"), "{e}");
    assert_eq!(e.code(), ErrorCode::NetworkError, "{e}");
}

// ---- Observability (one thread, so the thread-local recorder and subscriber see everything) ----

#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn metrics_and_spans_record_statements_never_values(engine: Engine) {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    let db = support::fresh_db(engine, "observed", |_| {}).await;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _metrics = metrics::set_default_local_recorder(&recorder);
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .finish();
    let _tracing = tracing::subscriber::set_default(subscriber);

    db.execute(
        "CREATE TABLE secrets (id BIGINT PRIMARY KEY, token TEXT)",
        &[],
    )
    .await
    .expect("create");
    let secret = "s3cr3t-value-never-logged";
    db.execute(
        "INSERT INTO secrets (id, token) VALUES ($1, $2)",
        &[Value::I64(1), Value::from(secret)],
    )
    .await
    .expect("insert");
    let rows = db
        .query(
            "SELECT token FROM secrets WHERE token = $1",
            &[Value::from(secret)],
        )
        .await
        .expect("select");
    assert_eq!(rows.len(), 1);
    let e = db
        .execute(
            "INSERT INTO secrets (id, token) VALUES ($1, $2)",
            &[Value::I64(1), Value::from(secret)],
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict);
    let mut tx = db.begin().await.expect("begin");
    tx.execute("UPDATE secrets SET token = $1", &[Value::from(secret)])
        .await
        .expect("update");
    tx.commit().await.expect("commit");

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).expect("utf-8");
    assert!(text.contains("db.query"), "{text}");
    assert!(
        text.contains("INSERT INTO secrets (id, token) VALUES ($1, $2)"),
        "{text}"
    );
    assert!(text.contains("param_types=i64,text"), "{text}");
    assert!(text.contains("db.transaction"), "{text}");
    assert!(
        !text.contains(secret),
        "a parameter reached the logs:\n{text}"
    );

    let snap = snapshotter.snapshot().into_vec();
    let sum = |name: &str, labels: &[(&str, &str)]| -> u64 {
        snap.iter()
            .filter(|(k, _, _, _)| k.key().name() == name)
            .filter(|(k, _, _, _)| {
                labels
                    .iter()
                    .all(|(n, v)| k.key().labels().any(|l| l.key() == *n && l.value() == *v))
            })
            .map(|(_, _, _, v)| match v {
                DebugValue::Counter(n) => *n,
                DebugValue::Histogram(h) => h.len() as u64,
                _ => 0,
            })
            .sum()
    };
    let e = engine.as_str();
    use connector_db::observe::*;
    assert_eq!(
        sum(
            QUERIES_TOTAL,
            &[("engine", e), ("operation", "execute"), ("outcome", "ok")]
        ),
        3,
        "{snap:?}"
    );
    assert_eq!(
        sum(
            QUERIES_TOTAL,
            &[
                ("engine", e),
                ("operation", "execute"),
                ("outcome", "error")
            ]
        ),
        1
    );
    assert_eq!(
        sum(
            ROWS_TOTAL,
            &[("engine", e), ("operation", "query"), ("direction", "read")]
        ),
        1
    );
    assert_eq!(
        sum(
            ROWS_TOTAL,
            &[
                ("engine", e),
                ("operation", "execute"),
                ("direction", "written")
            ]
        ),
        2
    );
    assert_eq!(sum(ERRORS_TOTAL, &[("engine", e), ("code", "CONFLICT")]), 1);
    assert_eq!(
        sum(TRANSACTIONS_TOTAL, &[("engine", e), ("outcome", "commit")]),
        1
    );
    assert!(sum(QUERY_DURATION, &[("engine", e), ("operation", "query")]) >= 1);
}

#[tokio::test]
async fn sqlite_metrics_and_spans_record_statements_never_values() {
    metrics_and_spans_record_statements_never_values(Engine::Sqlite).await;
}

#[tokio::test]
async fn postgres_metrics_and_spans_record_statements_never_values() {
    metrics_and_spans_record_statements_never_values(Engine::Postgres).await;
}
