//! The sync engine against the vendor-shaped source, through the generated fixture clients, on
//! SQLite and PostgreSQL: full then incremental syncs over a changing data set, rows changed
//! while a listing pages, an outage mid-listing resumed, child streams, schema evolution, full
//! refresh, redaction, and the command line.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use connector_db::{Database, Engine, Value};
use connector_sync::{Catalog, DbDestination, Redaction, SyncOptions, Syncer};
use support::{Data, Source, charges, issues};

fn issue_opts() -> SyncOptions {
    SyncOptions {
        streams: vec!["issues".into()],
        params: BTreeMap::from([
            ("owner".into(), "octo".into()),
            ("repo".into(), "hello".into()),
        ]),
        page_size: Some(25),
        ..SyncOptions::default()
    }
}

fn charge_opts() -> SyncOptions {
    SyncOptions {
        streams: vec!["charges".into()],
        page_size: Some(25),
        ..SyncOptions::default()
    }
}

async fn syncer(catalog: Catalog, source: &Source, db: &Database) -> Syncer<DbDestination> {
    let c = support::connector(&catalog, &source.base_url()).await;
    Syncer::new(catalog, c, support::dest(db))
}

async fn check_issues(db: &Database, source: &Source, what: &str) {
    support::assert_issues_equal(db, &source.snapshot(), what).await;
}

async fn check(db: &Database, source: &Source, what: &str) {
    let data = source.snapshot();
    support::assert_issues_equal(db, &data, what).await;
    support::assert_charges_equal(db, &data, what).await;
}

fn ph(db: &Database, n: usize) -> String {
    match db.engine() {
        Engine::Postgres => format!("${n}"),
        Engine::Sqlite => format!("?{n}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incremental_syncs_keep_the_destination_equal_to_a_changing_source() {
    for engine in support::ENGINES {
        let mut data = Data::new(7);
        data.seed(240, 240);
        let source = Source::start(data).await;
        let db = support::fresh(engine, "incremental").await;
        let si = syncer(issues::sync::catalog(), &source, &db).await;
        let sc = syncer(charges::sync::catalog(), &source, &db).await;

        let first = si.run(&issue_opts()).await.expect("first issues sync");
        let firstc = sc.run(&charge_opts()).await.expect("first charges sync");
        let bad = source.snapshot().bad_issues.len() as u64;
        assert_eq!(first.streams[0].rows_read, 240, "{engine}");
        assert_eq!(first.streams[0].dead_letters, bad, "{engine}");
        assert_eq!(first.streams[0].rows_written, 240 - bad, "{engine}");
        assert_eq!(first.streams[0].pages, 10, "{engine}");
        assert_eq!(firstc.streams[0].rows_read, 240, "{engine}");
        check(&db, &source, "after the full sync").await;

        for round in 0..4 {
            source.with(Data::mutate);
            let before = *source.answered.borrow();
            let r = si.run(&issue_opts()).await.expect("incremental issues");
            let rc = sc.run(&charge_opts()).await.expect("incremental charges");
            let requests = *source.answered.borrow() - before;
            // Incremental: the changes and the boundary, never the whole table again.
            assert!(
                r.streams[0].rows_read < 60,
                "{engine} round {round}: read {}",
                r.streams[0].rows_read
            );
            assert!(
                rc.streams[0].rows_read < 60,
                "{engine} round {round}: read {}",
                rc.streams[0].rows_read
            );
            assert!(requests <= 8, "{engine} round {round}: {requests} requests");
            assert!(
                rc.streams[0].rows_deleted >= 1,
                "{engine} round {round}: tombstones delete rows"
            );
            assert!(
                r.streams[0].rows_written >= 8,
                "{engine} round {round}: inserts and updates are written"
            );
            check(&db, &source, &format!("round {round}")).await;
        }

        // Nothing changed: the boundary item is read again and nothing is written.
        let idle = si.run(&issue_opts()).await.expect("idle issues");
        let idlec = sc.run(&charge_opts()).await.expect("idle charges");
        assert_eq!(
            idle.rows_written() + idlec.rows_written(),
            0,
            "{engine}: an idle run writes nothing"
        );
        assert!(
            idle.streams[0].rows_read >= 1,
            "{engine}: the inclusive bound re-reads the newest item"
        );
        assert_eq!(
            idle.streams[0].duplicate_rows,
            idle.streams[0].rows_read - idle.streams[0].dead_letters,
            "{engine}"
        );
        check(&db, &source, "after the idle run").await;

        // A lookback re-reads more, still writing nothing.
        let mut back = issue_opts();
        back.lookback = Duration::from_secs(40);
        let r = si.run(&back).await.expect("lookback run");
        assert!(
            r.streams[0].rows_read > idle.streams[0].rows_read,
            "{engine}: the lookback widens the window ({} vs {})",
            r.streams[0].rows_read,
            idle.streams[0].rows_read
        );
        assert_eq!(r.rows_written(), 0, "{engine}");

        // The runs are recorded, with the state `status` shows.
        let (states, runs) =
            connector_sync::Destination::status(si.destination(), si.catalog().connector, 50)
                .await
                .expect("status");
        assert!(
            states
                .iter()
                .all(|s| s.checkpoint.is_none() && s.cursor.is_some()),
            "{engine}: {states:?}"
        );
        assert!(runs.iter().all(|r| r.status == "succeeded"), "{engine}");
        assert_eq!(runs.len(), 7, "{engine}: issue runs recorded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_changed_while_a_listing_pages_are_caught() {
    for engine in support::ENGINES {
        let mut data = Data::new(11);
        data.seed(200, 200);
        let source = Source::start(data).await;
        let db = support::fresh(engine, "midrun").await;
        let si = syncer(issues::sync::catalog(), &source, &db).await;
        let sc = syncer(charges::sync::catalog(), &source, &db).await;
        si.run(&issue_opts()).await.expect("issues");
        sc.run(&charge_opts()).await.expect("charges");
        // During the next listings: rows already read and rows not yet read change, rows are
        // inserted and deleted, after the first page of each.
        source.with(|d| {
            for _ in 0..30 {
                d.add_issue(false);
                d.add_charge(false);
            }
        });
        let at = *source.answered.borrow() + 1;
        source.after_request(at, |d| {
            for _ in 0..6 {
                d.update_issue();
                d.soft_delete_issue();
                d.add_issue(false);
            }
        });
        si.run(&issue_opts()).await.expect("issues while changing");
        let at = *source.answered.borrow() + 1;
        source.after_request(at, |d| {
            for _ in 0..6 {
                d.update_charge();
                d.delete_charge();
                d.add_charge(false);
            }
        });
        sc.run(&charge_opts())
            .await
            .expect("charges while changing");
        // The next incremental run catches what changed behind the listing.
        si.run(&issue_opts()).await.expect("issues again");
        sc.run(&charge_opts()).await.expect("charges again");
        check(
            &db,
            &source,
            &format!("{engine}: after changes during paging"),
        )
        .await;
        let idle = si.run(&issue_opts()).await.expect("idle");
        assert_eq!(idle.rows_written(), 0, "{engine}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_mid_listing_is_resumed_from_the_last_committed_page() {
    for engine in support::ENGINES {
        let mut data = Data::new(3);
        data.seed(200, 0);
        let source = Source::start(data).await;
        let db = support::fresh(engine, "outage").await;
        let catalog = issues::sync::catalog();
        // Retries would hide the outage; the runtime's retry policy is tested elsewhere.
        let mut config = (catalog.config)();
        config.base_url = source.base_url();
        config.retry.max_attempts = 1;
        let c = connector_runtime::Connector::initialize(config).expect("config");
        c.connect().await.expect("connect");
        let si = Syncer::new(catalog, c, support::dest(&db));
        source.fail_from(Some(4));
        let e = si
            .run(&issue_opts())
            .await
            .expect_err("the source fails on the fourth page");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(500), "{engine}: {e}");
        let (states, runs) =
            connector_sync::Destination::status(si.destination(), si.catalog().connector, 5)
                .await
                .expect("status");
        assert!(
            states[0].checkpoint.is_some(),
            "{engine}: the interrupted listing is kept"
        );
        assert_eq!(runs[0].status, "failed", "{engine}");
        let snap = source.snapshot();
        let first_pages = snap
            .issues
            .keys()
            .rev()
            .take(75)
            .filter(|id| !snap.bad_issues.contains(id))
            .count();
        assert_eq!(
            support::stored(&db, "issues").await.len(),
            first_pages,
            "{engine}: three pages stored"
        );
        source.fail_from(None);
        let before = *source.answered.borrow();
        let r = si.run(&issue_opts()).await.expect("resumed");
        assert_eq!(
            *source.answered.borrow() - before,
            5,
            "{engine}: pages 4 to 8 only"
        );
        assert_eq!(r.streams[0].rows_read, 125, "{engine}");
        check_issues(&db, &source, &format!("{engine}: after the resumed run")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_streams_list_each_parent_row_with_its_own_cursor() {
    for engine in support::ENGINES {
        let mut data = Data::new(5);
        data.seed(12, 0);
        for n in 1..=12 {
            for _ in 0..(n % 4) {
                data.add_comment(n);
            }
        }
        let source = Source::start(data).await;
        let db = support::fresh(engine, "children").await;
        let si = syncer(issues::sync::catalog(), &source, &db).await;
        let mut opts = issue_opts();
        opts.streams = vec!["issue_comments".into(), "issues".into()];
        let r = si.run(&opts).await.expect("issues and their comments");
        assert_eq!(r.streams[0].stream, "issues", "{engine}: parents first");
        let want: usize = source.snapshot().comments.values().map(Vec::len).sum();
        // Malformed parents are dead letters, so their comments are not listed.
        let listed_parents = r.streams[1].partitions;
        assert_eq!(
            listed_parents as usize,
            source.snapshot().expected_issues().len(),
            "{engine}"
        );
        let stored = support::stored(&db, "issue_comments").await;
        let bad_numbers: Vec<i64> = source
            .snapshot()
            .bad_issues
            .iter()
            .map(|id| id - 1_000)
            .collect();
        let expected: usize = source
            .snapshot()
            .comments
            .iter()
            .filter(|(n, _)| !bad_numbers.contains(n))
            .map(|(_, c)| c.len())
            .sum();
        assert!(expected > 0 && expected <= want);
        assert_eq!(stored.len(), expected, "{engine}");
        // One new comment: the next run reads each parent's boundary and writes one row.
        source.with(|d| d.add_comment(2));
        let r = si.run(&opts).await.expect("again");
        assert_eq!(r.streams[1].rows_written, 1, "{engine}");
        let sql = format!(
            "SELECT COUNT(*) AS n FROM _sync_state WHERE stream = {}",
            ph(&db, 1)
        );
        let n = db
            .query_one(&sql, &[Value::from("issue_comments")])
            .await
            .expect("state");
        assert_eq!(
            n.get("n").and_then(Value::as_i64),
            Some(listed_parents as i64),
            "{engine}: a cursor per parent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_changes_are_additive_and_noted_and_full_refresh_removes_what_the_source_lost() {
    for engine in support::ENGINES {
        let mut data = Data::new(9);
        data.seed(60, 0);
        let source = Source::start(data).await;
        let db = support::fresh(engine, "evolve").await;
        // An older catalog without the `score` column.
        let mut old = issues::sync::catalog();
        for s in &mut old.streams {
            let kept: Vec<connector_sync::Column> = s
                .columns
                .iter()
                .copied()
                .filter(|c| c.name != "score")
                .collect();
            s.columns = Box::leak(kept.into_boxed_slice());
        }
        let si = syncer(old, &source, &db).await;
        si.run(&issue_opts()).await.expect("old catalog");
        let schema = db.schema().await.expect("schema");
        assert!(
            schema
                .table("issues")
                .and_then(|t| t.column("score"))
                .is_none()
        );

        let si = syncer(issues::sync::catalog(), &source, &db).await;
        let r = si.run(&issue_opts()).await.expect("new catalog");
        assert!(
            r.streams[0]
                .migrations
                .iter()
                .any(|m| m.contains("added column `score`")),
            "{engine}: {:?}",
            r.streams[0].migrations
        );
        let notes = db
            .query(
                "SELECT change, note FROM _sync_migrations ORDER BY change",
                &[],
            )
            .await
            .expect("migrations");
        let changes: Vec<&str> = notes
            .iter()
            .filter_map(|n| n.get("change").and_then(Value::as_str))
            .collect();
        assert_eq!(changes, ["add column score", "create"], "{engine}");
        let nulls = db
            .query_one("SELECT COUNT(*) AS n FROM issues WHERE score IS NULL", &[])
            .await
            .expect("count");
        assert_eq!(
            nulls.get("n").and_then(Value::as_i64),
            Some(60 - 1),
            "{engine}: old rows wait for a refresh"
        );

        // A row the source no longer lists at all (not even as a deletion) stays until a full
        // refresh, which also fills the new column.
        let gone = source.with(|d| {
            let id = *d.expected_issues().keys().next().expect("an issue");
            d.issues.remove(&id);
            id
        });
        si.run(&issue_opts()).await.expect("incremental");
        assert!(
            support::stored(&db, "issues")
                .await
                .contains_key(&gone.to_string())
        );
        let mut full = issue_opts();
        full.full_refresh = true;
        let r = si.run(&full).await.expect("full refresh");
        assert_eq!(r.streams[0].rows_deleted, 1, "{engine}");
        check_issues(&db, &source, &format!("{engine}: after the full refresh")).await;
        let nulls = db
            .query_one("SELECT COUNT(*) AS n FROM issues WHERE score IS NULL", &[])
            .await
            .expect("count");
        assert_eq!(nulls.get("n").and_then(Value::as_i64), Some(0), "{engine}");
        let idle = si.run(&issue_opts()).await.expect("idle");
        assert_eq!(idle.rows_written(), 0, "{engine}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redacted_fields_never_reach_the_store() {
    for engine in support::ENGINES {
        let mut data = Data::new(2);
        data.seed(30, 0);
        let source = Source::start(data).await;
        let db = support::fresh(engine, "redact").await;
        let si = syncer(issues::sync::catalog(), &source, &db).await;
        let mut opts = issue_opts();
        opts.redactions = vec![
            Redaction::parse("issues:/user/login=hash").unwrap(),
            Redaction::parse("title").unwrap(),
            Redaction::parse("body=drop").unwrap(),
        ];
        si.run(&opts).await.expect("sync");
        let rows = db
            .query("SELECT title, body FROM issues", &[])
            .await
            .expect("rows");
        assert_eq!(rows.len(), 30 - source.snapshot().bad_issues.len());
        for r in &rows {
            assert_eq!(
                r.get("title").and_then(Value::as_str),
                Some("***"),
                "{engine}"
            );
            assert!(r.get("body").is_some_and(Value::is_null), "{engine}");
        }
        for (id, (raw, _)) in support::stored(&db, "issues").await {
            assert_eq!(raw["title"], "***", "{engine}: {id}");
            assert!(raw.get("body").is_none(), "{engine}: {id}");
            let login = raw["user"]["login"].as_str().unwrap_or("");
            assert!(
                login.len() == 64 && login.chars().all(|c| c.is_ascii_hexdigit()),
                "{engine}: {login}"
            );
        }
        let dead = db
            .query("SELECT payload, error FROM _sync_dead_letter", &[])
            .await
            .expect("dead");
        for d in &dead {
            let text = format!("{:?}", d.get("payload"));
            assert!(!text.contains("issue "), "{engine}: {text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_lists_streams_and_reports_status() {
    let catalog = issues::sync::catalog();
    let text = connector_sync::cli::streams_report(&catalog, false);
    assert!(
        text.contains("issues\tid\tupdated_at (date-time)\tsince\t-\tsoft (deleted_at)"),
        "{text}"
    );
    assert!(
        text.contains("issue_comments\tid\tupdated_at (date-time)\tsince\tissues"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&connector_sync::cli::streams_report(
        &charges::sync::catalog(),
        true,
    ))
    .expect("JSON");
    assert_eq!(json[0]["cursor"]["filter"], "updated[gte]");
    assert_eq!(json[0]["cursor"]["kind"], "unix seconds");

    let mut data = Data::new(4);
    data.seed(40, 0);
    let source = Source::start(data).await;
    let db = support::fresh(Engine::Sqlite, "cli").await;
    let si = syncer(issues::sync::catalog(), &source, &db).await;
    source.fail_from(Some(2));
    let mut opts = issue_opts();
    opts.page_size = Some(10);
    assert!(si.run(&opts).await.is_err());
    let status = connector_sync::cli::status_report(&catalog, si.destination(), false)
        .await
        .expect("status");
    assert!(
        status.contains("interrupted: the next sync resumes it"),
        "{status}"
    );
    assert!(status.contains("\tfailed\t"), "{status}");
    source.fail_from(None);
    si.run(&opts).await.expect("resumed");
    let status = connector_sync::cli::status_report(&catalog, si.destination(), true)
        .await
        .expect("status");
    let v: serde_json::Value = serde_json::from_str(&status).expect("JSON status");
    assert!(v["partitions"][0]["checkpoint"].is_null(), "{v}");
    assert_eq!(v["runs"][0]["status"], "succeeded", "{v}");
    assert_eq!(
        v["partitions"][0]["partition"],
        r#"{"owner":"octo","repo":"hello"}"#
    );
}
