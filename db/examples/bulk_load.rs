//! Bulk-load benchmark: the same 1,000,000 rows of a 10-column table loaded into PostgreSQL through
//! `upsert_batch` (inserting, then updating every row), through `copy_in`, and with `psql \copy`
//! from a CSV file, in one run; prints rows per second and each rate against psql's.
//!
//! ```text
//! cargo xtask db-bench            # or: cargo run --release -p connector-db --example bulk_load
//! ```
//!
//! Without `CONNECTOR_DB_BENCH_URL` (a `postgres://` URL) it starts a throwaway cluster as the tests
//! do (see `tests/support/cluster.rs`). `CONNECTOR_DB_BENCH_ROWS` changes the row count. psql is
//! looked up on `PATH` (`/usr/bin/psql` on Debian); both clients connect over TLS (verify-full
//! against the cluster's CA) on loopback.

#[path = "../tests/support/cluster.rs"]
mod cluster;

use std::io::Write as _;
use std::time::Instant;

use chrono::{DateTime, NaiveDate, Utc};
use connector_db::{
    ColumnDef, ColumnType, Database, DbConfig, Decimal, SslMode, TableDef, Uuid, Value,
};

const COLUMNS: [&str; 10] = [
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

fn table(name: &str) -> TableDef {
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

fn row(i: i64, version: i64, base: DateTime<Utc>, day0: NaiveDate) -> Vec<Value> {
    vec![
        Value::I64(i),
        Value::Text(format!("customer {i}")),
        Value::Text(format!("customer{i}@example.com")),
        Value::Decimal(Decimal::new(i * 100 + version, 2)),
        Value::F64(i as f64 * 0.25),
        Value::Bool(i % 2 == 0),
        Value::Timestamp(base + chrono::Duration::seconds(i)),
        Value::Date(day0 + chrono::Duration::days(i % 3650)),
        Value::Uuid(Uuid::from_u128(i as u128 * 7919)),
        if i % 10 == 0 {
            Value::Null
        } else {
            Value::json(serde_json::json!({"n": i, "v": version}))
        },
    ]
}

/// One value in CSV (PostgreSQL's CSV: NULL is an unquoted empty field).
fn csv_field(v: &Value, out: &mut Vec<u8>) {
    let quoted = |s: &str, out: &mut Vec<u8>| {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    };
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push(if *b { b't' } else { b'f' }),
        Value::Text(s) => quoted(s, out),
        Value::Json(j) => quoted(&j.to_string(), out),
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

fn rate(rows: usize, secs: f64) -> f64 {
    rows as f64 / secs
}

async fn count(db: &Database, table: &str) -> i64 {
    db.query_as::<i64>(&format!("SELECT count(*) FROM {table}"), &[])
        .await
        .expect("count")[0]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rows_n: usize = std::env::var("CONNECTOR_DB_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    // The server: a given URL, or a throwaway cluster.
    let (cluster, config, psql_url) = match std::env::var("CONNECTOR_DB_BENCH_URL") {
        Ok(url) => {
            let config =
                DbConfig::from_url(&url).unwrap_or_else(|e| panic!("CONNECTOR_DB_BENCH_URL: {e}"));
            (None, config, url)
        }
        Err(_) => {
            let c = cluster::Cluster::start("bench")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            c.create_database("bench")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let config = c.config("bench", SslMode::VerifyFull);
            let url = c.libpq_url("bench");
            (Some(c), config, url)
        }
    };
    let db = Database::connect(config).await.expect("connect");
    let health = db.health().await.expect("health");
    println!(
        "server: PostgreSQL {} ({} rows of 10 columns)",
        health.server_version, rows_n
    );

    for t in ["bench_upsert", "bench_copy", "bench_psql"] {
        db.execute(&format!("DROP TABLE IF EXISTS {t}"), &[])
            .await
            .expect("drop");
        db.create_table(&table(t)).await.expect("create");
    }

    let base = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
        .expect("base")
        .with_timezone(&Utc);
    let day0 = NaiveDate::from_ymd_opt(2020, 1, 1).expect("day");
    let started = Instant::now();
    let rows: Vec<Vec<Value>> = (1..=rows_n as i64).map(|i| row(i, 0, base, day0)).collect();
    println!("rows built in {:.2} s", started.elapsed().as_secs_f64());

    // psql \copy from a CSV of the same rows.
    let dir = std::env::temp_dir().join(format!("connector-db-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let csv = dir.join("rows.csv");
    {
        let mut out = Vec::with_capacity(rows_n * 160);
        for r in &rows {
            for (i, v) in r.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv_field(v, &mut out);
            }
            out.push(b'\n');
        }
        std::fs::write(&csv, out).expect("write the CSV");
    }
    let psql = std::env::var("PSQL").unwrap_or_else(|_| "psql".to_owned());
    let copy_cmd = format!(
        "\\copy bench_psql ({}) FROM '{}' WITH (FORMAT csv)",
        COLUMNS.join(", "),
        csv.display()
    );
    let started = Instant::now();
    let status = std::process::Command::new(&psql)
        .arg(&psql_url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", &copy_cmd])
        .status()
        .unwrap_or_else(|e| panic!("could not run {psql}: {e}"));
    let psql_secs = started.elapsed().as_secs_f64();
    assert!(status.success(), "psql \\copy failed ({status})");
    assert_eq!(count(&db, "bench_psql").await, rows_n as i64);

    // copy_in.
    let started = Instant::now();
    let loaded = db
        .copy_in("bench_copy", &COLUMNS, &rows)
        .await
        .expect("copy_in");
    let copy_secs = started.elapsed().as_secs_f64();
    assert_eq!(loaded, rows_n as u64);
    assert_eq!(count(&db, "bench_copy").await, rows_n as i64);

    // upsert_batch: into the empty table, then again with every row changed.
    let started = Instant::now();
    let written = db
        .upsert_batch("bench_upsert", &COLUMNS, &["id"], &rows)
        .await
        .expect("upsert (insert)");
    let insert_secs = started.elapsed().as_secs_f64();
    assert_eq!(written, rows_n as u64);
    let changed: Vec<Vec<Value>> = (1..=rows_n as i64).map(|i| row(i, 1, base, day0)).collect();
    let started = Instant::now();
    let written = db
        .upsert_batch("bench_upsert", &COLUMNS, &["id"], &changed)
        .await
        .expect("upsert (update)");
    let update_secs = started.elapsed().as_secs_f64();
    assert_eq!(written, rows_n as u64);
    assert_eq!(count(&db, "bench_upsert").await, rows_n as i64);
    let same: Vec<i64> = db
        .query_as(
            "SELECT count(*) FROM bench_copy c JOIN bench_psql p USING (id) WHERE c.name = p.name AND c.amount = p.amount AND c.created_at = p.created_at AND c.uid = p.uid AND c.payload IS NOT DISTINCT FROM p.payload",
            &[],
        )
        .await
        .expect("compare");
    assert_eq!(
        same,
        vec![rows_n as i64],
        "copy_in and psql loaded the same rows"
    );

    let psql_rate = rate(rows_n, psql_secs);
    println!("\n| load | rows | seconds | rows/s | vs psql \\copy |");
    println!("|---|---|---|---|---|");
    for (what, secs) in [
        ("psql \\copy (CSV file)", psql_secs),
        ("copy_in (COPY text)", copy_secs),
        ("upsert_batch, inserting", insert_secs),
        ("upsert_batch, updating every row", update_secs),
    ] {
        let r = rate(rows_n, secs);
        println!(
            "| {what} | {rows_n} | {secs:.2} | {r:.0} | {:.0}% |",
            100.0 * r / psql_rate
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    db.close().await;
    drop(cluster);
}
