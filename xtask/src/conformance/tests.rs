//! Tests of the conformance judging: reading `sl-violations`, the verdict on each call, the known list,
//! staleness, and the totals and docs table built from them.

use super::*;

/// Prism's answer to a request it refuses (the body is its problem document).
const REFUSED_422: &str = "InvalidRequest: server answered 422 Unprocessable Entity | body: \
    {\"type\":\"https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY\",\"title\":\"Invalid request\",\
    \"status\":422,\"detail\":\"Your request is not valid and no HTTP validation response was found in \
    the spec, so Prism is generating this error for you.\"}";

/// Prism failing while it makes a body for a dynamic answer.
const PRISM_UNKNOWN_500: &str = "ServerError: server answered 500 Internal Server Error | body: \
    {\"type\":\"https://stoplight.io/prism/errors#UNKNOWN\",\"title\":\"TypeError: Cannot read \
    properties of undefined (reading 'items')\",\"status\":500}";

/// A typed result that could not be built from the answer.
const NOT_DECODED: &str = "ParsingError: invalid type: string \"ut\", expected i64 at line 1 \
    column 31 | body: {\"id\":17,\"teams\":[{\"rank\":\"ut\"}]}";

/// A call answered 200 whose typed result was built, with no violation reported.
fn ok(op: &str, variant: &str) -> Line {
    Line {
        operation: op.to_owned(),
        variant: variant.to_owned(),
        status: Some(200),
        violations: Vec::new(),
        response_violations: Vec::new(),
        decoded: true,
        error: None,
        answer: None,
        static_error: None,
    }
}

/// A call answered `status` whose result was not decoded, failing with `error`.
fn undecoded(op: &str, variant: &str, status: u16, error: &str) -> Line {
    Line {
        status: Some(status),
        decoded: false,
        error: Some(error.to_owned()),
        ..ok(op, variant)
    }
}

fn known(spec: &str, operation: &str, dynamic: bool) -> KnownFailure {
    KnownFailure {
        spec: spec.to_owned(),
        operation: operation.to_owned(),
        dynamic,
    }
}

fn totals(spec: &str, failures: &[(&str, &str, &str)]) -> Totals {
    Totals {
        spec: spec.to_owned(),
        failures: failures
            .iter()
            .map(|(o, v, w)| (o.to_string(), v.to_string(), w.to_string()))
            .collect(),
        ..Totals::default()
    }
}

// ---- sl-violations ----

#[test]
fn sl_violations_keep_request_and_response_errors_and_skip_warnings() {
    let header = br#"[{"location":["request","query","per_page"],"severity":"Warning","code":"deprecated","message":"Query param per_page is deprecated"},{"location":["request","body","StatusCallbackEvent"],"severity":"Error","code":"type","message":"Request body property StatusCallbackEvent must be array"},{"location":["response","body"],"severity":"Error","code":"required","message":"Response body must have required property 'team_ids'"}]"#;
    assert_eq!(
        violations::parse(header),
        vec![
            (
                "request".to_owned(),
                "Request body property StatusCallbackEvent must be array".to_owned()
            ),
            (
                "response".to_owned(),
                "Response body must have required property 'team_ids'".to_owned()
            ),
        ]
    );
}

#[test]
fn prism_warnings_leave_a_call_accepted() {
    let header = br#"[{"location":["request","query","since"],"severity":"Warning","code":"deprecated","message":"Query param since is deprecated"},{"location":["request","header","X-Api-Version"],"severity":"Information","code":"deprecated","message":"Header param X-Api-Version is deprecated"}]"#;
    let found = violations::parse(header);
    assert_eq!(found, Vec::new());
    let call = Line {
        violations: found.into_iter().map(|(_, m)| m).collect(),
        ..ok("list_droplets", "full")
    };
    let t = judge("digitalocean", 1, &[call]);
    assert_eq!((t.accepted, t.decoded), (1, 1));
    assert!(t.failures.is_empty(), "{:?}", t.failures);
}

#[test]
fn sl_violations_item_without_a_severity_name_counts() {
    let header = br#"[{"location":["request","path","owner"],"code":"pattern","message":"Request path parameter owner must match pattern"},{"location":["request","body"],"severity":0,"code":"required","message":"Request body must have required property 'name'"}]"#;
    let found = violations::parse(header);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found.iter().all(|(at, _)| at == "request"));
}

#[test]
fn sl_violations_with_latin1_bytes_are_still_read() {
    // Node sends `é` as the single byte 0xE9, which is not UTF-8.
    let mut header = br#"[{"location":["request","body","City"],"severity":"Error","code":"enum","message":"Request body property City must be equal to one of the allowed values: Montr"#.to_vec();
    header.push(0xE9);
    header.extend_from_slice(br#"al"}]"#);
    let found = violations::parse(&header);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "request");
    assert!(
        found[0]
            .1
            .starts_with("Request body property City must be equal")
    );
}

#[test]
fn unreadable_sl_violations_header_is_a_request_problem() {
    for header in [
        &b"Request body must be object"[..],
        br#"{"location":["request"],"severity":"Error","message":"x"}"#,
        br#"[{"location":["request"]"#,
    ] {
        let found = violations::parse(header);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "request");
        assert!(
            found[0].1.contains("unreadable sl-violations header"),
            "{}",
            found[0].1
        );
    }
    // Long values are cut in the message.
    let long = vec![b'x'; 5000];
    assert!(violations::parse(&long)[0].1.len() < 300);
}

#[test]
fn an_empty_sl_violations_list_reports_nothing() {
    assert_eq!(violations::parse(b"[]"), Vec::new());
}

#[test]
fn the_harness_reads_sl_violations_with_the_tested_code() {
    assert!(VIOLATIONS.contains("pub fn parse(header: &[u8]) -> Vec<(String, String)>"));
    assert!(MAIN.contains("\nmod violations;\n"));
    assert!(MAIN.contains("violations::parse(v.as_bytes())"));
    // No second reading of the header inside the harness program.
    assert_eq!(MAIN.matches("\"severity\"").count(), 0);
}

// ---- the static run ----

#[test]
fn an_operation_whose_calls_pass_is_accepted_and_decoded() {
    let t = judge(
        "discourse",
        93,
        &[ok("listTags", "required"), ok("listTags", "full")],
    );
    assert_eq!((t.operations, t.accepted, t.decoded), (93, 1, 1));
    assert!(t.failures.is_empty());
}

#[test]
fn a_422_is_a_refusal_not_an_undecoded_answer() {
    // Even when the description types its 422 and the client decoded that body.
    let typed = Line {
        decoded: true,
        ..undecoded("CreateCall", "full", 422, REFUSED_422)
    };
    let untyped = undecoded("CreateMessage", "full", 422, REFUSED_422);
    let t = judge("twilio", 2, &[typed, untyped]);
    assert_eq!((t.accepted, t.decoded), (0, 0));
    assert_eq!(t.failures.len(), 2);
    for (_, _, why) in &t.failures {
        assert!(
            why.starts_with("refused: InvalidRequest: server answered 422"),
            "{why}"
        );
    }
}

#[test]
fn request_violations_refuse_a_call_and_are_its_reason() {
    let call = Line {
        violations: vec![
            "Request body property StatusCallbackEvent must be array".to_owned(),
            "Request body property Timeout must be integer".to_owned(),
        ],
        ..ok("CreateCall", "full")
    };
    let t = judge("twilio", 1, &[ok("CreateCall", "required"), call]);
    assert_eq!((t.accepted, t.decoded), (0, 0));
    assert_eq!(
        t.failures,
        vec![(
            "CreateCall".to_owned(),
            "full".to_owned(),
            "refused: Request body property StatusCallbackEvent must be array; Request body \
             property Timeout must be integer"
                .to_owned()
        )]
    );
}

#[test]
fn a_call_without_an_answer_is_refused() {
    let call = Line {
        status: None,
        decoded: false,
        error: Some(
            "harness: argument `body` does not fit its Rust type: missing field `name`".into(),
        ),
        ..ok("createTopic", "required")
    };
    let t = judge("discourse", 1, &[call]);
    assert_eq!((t.accepted, t.decoded), (0, 0));
    assert_eq!(
        t.failures[0].2,
        "refused: harness: argument `body` does not fit its Rust type: missing field `name`"
    );
}

#[test]
fn an_undecoded_answer_fails_with_prisms_proof() {
    let plain = undecoded("pins_list", "required", 200, NOT_DECODED);
    let proven = Line {
        response_violations: vec!["Response body must have required property 'team_ids'".into()],
        ..undecoded("admin_conversations_getTeams", "required", 200, NOT_DECODED)
    };
    let t = judge("slack", 2, &[plain, proven]);
    assert_eq!((t.accepted, t.decoded), (2, 0));
    assert_eq!(t.failures[0].2, format!("not decoded: {NOT_DECODED}"));
    assert_eq!(
        t.failures[1].2,
        format!(
            "not decoded: {NOT_DECODED} [the description's own answer violates it, per Prism: \
             Response body must have required property 'team_ids']"
        )
    );
}

#[test]
fn response_violations_do_not_fail_a_decoded_answer() {
    let call = Line {
        response_violations: vec!["Response body property id must be string".into()],
        ..ok("chat_postMessage", "full")
    };
    let t = judge("slack", 1, &[call]);
    assert_eq!((t.accepted, t.decoded), (1, 1));
    assert!(t.failures.is_empty());
}

#[test]
fn an_operation_counts_only_when_both_its_calls_pass() {
    let lines = [
        ok("a", "required"),
        Line {
            violations: vec!["Request query parameter limit must be <= 100".into()],
            ..ok("a", "full")
        },
        ok("b", "required"),
        undecoded("b", "full", 200, NOT_DECODED),
        ok("c", "required"),
        ok("c", "full"),
    ];
    let t = judge("asana", 3, &lines);
    // a: refused once; b: accepted both times, decoded once; c: passes.
    assert_eq!((t.operations, t.accepted, t.decoded), (3, 2, 1));
    assert_eq!(t.failures.len(), 2);
}

#[test]
fn prisms_own_500_fails_a_static_call() {
    // Only dynamic runs leave the mock's failures out; examples are the description's answers.
    let t = judge(
        "openai",
        1,
        &[undecoded("getEvalRuns", "required", 500, PRISM_UNKNOWN_500)],
    );
    assert_eq!((t.accepted, t.decoded), (1, 0));
    assert_eq!(t.failures.len(), 1);
    assert!(t.failures[0].2.starts_with("not decoded: ServerError"));
    assert!(t.mock_errors.is_empty());
}

// ---- dynamic runs ----

#[test]
fn dynamic_calls_the_mock_could_not_answer_are_left_out_of_the_totals() {
    let lines = [
        ok("getEvalRun", "required"),
        // Decoded despite a response violation Prism reports: counted and decoded.
        Line {
            response_violations: vec!["Response body property id must be string".into()],
            ..ok("getEvalRun", "full")
        },
        // Prism could not make a body.
        undecoded("getEvalRuns", "required", 500, PRISM_UNKNOWN_500),
        // Prism made a body that breaks the description.
        Line {
            response_violations: vec!["Response body property total must be integer".into()],
            ..undecoded("getEvalRuns", "full", 200, NOT_DECODED)
        },
        // A real decoding failure.
        undecoded("listInputItems", "full", 200, NOT_DECODED),
        // Refused calls belong to the static run's verdict.
        undecoded("createResponse", "full", 422, REFUSED_422),
        Line {
            violations: vec!["Request body must have required property 'model'".into()],
            ..ok("createResponse", "required")
        },
        Line {
            status: None,
            decoded: false,
            error: Some("Transport: connection refused".into()),
            ..ok("cancelResponse", "required")
        },
    ];
    let mut t = totals("openai", &[]);
    judge_dynamic(&mut t, 1, &lines);
    assert_eq!(t.dynamic_total, Some(3));
    assert_eq!(t.dynamic_decoded, Some(2));
    assert_eq!(t.dynamic_mock_errors, Some(2));
    assert_eq!(
        t.failures,
        vec![(
            "listInputItems".to_owned(),
            "full (dynamic run 2)".to_owned(),
            NOT_DECODED.to_owned()
        )]
    );
    assert_eq!(t.mock_errors.len(), 2);
    assert_eq!(t.mock_errors[0].0, "getEvalRuns");
    assert_eq!(t.mock_errors[0].1, "required (dynamic run 2)");
    assert_eq!(t.mock_errors[0].2, PRISM_UNKNOWN_500);
    assert_eq!(
        t.mock_errors[1].2,
        "the mock's answer violates the description, per Prism: Response body property total \
         must be integer"
    );
}

#[test]
fn dynamic_runs_add_up_and_an_empty_run_still_shows_zero() {
    let mut t = judge("discourse", 1, &[ok("listTags", "required")]);
    judge_dynamic(&mut t, 0, &[]);
    assert_eq!(
        (t.dynamic_total, t.dynamic_decoded, t.dynamic_mock_errors),
        (Some(0), Some(0), Some(0))
    );
    let run = [
        ok("listTags", "required"),
        undecoded("listTags", "full", 200, NOT_DECODED),
    ];
    judge_dynamic(&mut t, 1, &run);
    judge_dynamic(&mut t, 2, &run);
    assert_eq!(
        (t.dynamic_total, t.dynamic_decoded, t.dynamic_mock_errors),
        (Some(4), Some(2), Some(0))
    );
    let variants: Vec<&str> = t.failures.iter().map(|(_, v, _)| v.as_str()).collect();
    assert_eq!(variants, ["full (dynamic run 2)", "full (dynamic run 3)"]);
    // The static totals are untouched.
    assert_eq!((t.accepted, t.decoded), (1, 1));
}

#[test]
fn dynamic_variants_are_told_apart() {
    assert!(is_dynamic_variant(&dynamic_variant("required", 0)));
    assert_eq!(dynamic_variant("full", 2), "full (dynamic run 3)");
    assert!(!is_dynamic_variant("required"));
    assert!(!is_dynamic_variant("full"));
}

// ---- the known list ----

const KNOWN: &str = r#"# Conformance failures whose cause is understood, with the proof.

[[known]]
spec = "twilio"
operation = "CreateCall"
reason = "Prism reads a form-encoded array only as `key[]=v` or `key[0]=v`; the description asks for repeated keys"

# Failures of `--dynamic` runs only (random bodies from Prism's faker); never reported as stale.

[[known]]
spec = "digitalocean"
operation = "nfs_list_snapshot"
dynamic = true
reason = "the description gives these integers `format: uint64`; Prism's faker sends negative numbers"
"#;

#[test]
fn known_entries_are_read_with_their_kind() {
    let entries = parse_known(KNOWN).unwrap();
    assert_eq!(
        entries.into_iter().collect::<Vec<_>>(),
        vec![
            known("digitalocean", "nfs_list_snapshot", true),
            known("twilio", "CreateCall", false),
        ]
    );
}

#[test]
fn a_known_file_without_entries_lists_nothing() {
    assert!(parse_known("").unwrap().is_empty());
    assert!(parse_known("# nothing known yet\n").unwrap().is_empty());
}

#[test]
fn a_known_entry_without_its_reason_is_refused() {
    let err = parse_known("[[known]]\nspec = \"slack\"\noperation = \"pins_list\"\n").unwrap_err();
    assert!(err.contains("missing field `reason`"), "{err}");
}

#[test]
fn a_known_entry_with_a_misspelt_key_is_refused() {
    let text = KNOWN.replace("dynamic = true", "dynamc = true");
    let err = parse_known(&text).unwrap_err();
    assert!(err.contains("unknown field `dynamc`"), "{err}");
    // The error points at the line.
    assert!(err.contains("line 13"), "{err}");
    let err = parse_known(&KNOWN.replace("[[known]]", "[[knwon]]")).unwrap_err();
    assert!(err.contains("knwon"), "{err}");
}

#[test]
fn known_entries_of_the_wrong_shape_are_refused() {
    for (text, says) in [
        (
            KNOWN.replace("dynamic = true", "dynamic = \"yes\""),
            "expected a boolean",
        ),
        (
            KNOWN.replace("operation = \"CreateCall\"", "operation = 7"),
            "string",
        ),
        (
            "known = \"twilio CreateCall\"".to_owned(),
            "expected a sequence",
        ),
        ("[[known]\nspec = \"twilio\"".to_owned(), "TOML parse error"),
    ] {
        let err = parse_known(&text).unwrap_err();
        assert!(err.contains(says), "expected `{says}` in: {err}");
    }
}

#[test]
fn an_unreadable_known_file_names_its_path() {
    let root = std::env::temp_dir().join(format!("xtask-known-{}", std::process::id()));
    std::fs::create_dir_all(root.join("specs")).unwrap();
    std::fs::write(
        root.join("specs/conformance-known.toml"),
        "[[known]]\nspec = \"slack\"\n",
    )
    .unwrap();
    let err = known_failures(&root).unwrap_err();
    std::fs::remove_dir_all(&root).unwrap();
    assert!(err.contains("specs/conformance-known.toml"), "{err}");
    assert!(err.contains("missing field"), "{err}");
    let err = known_failures(&root).unwrap_err();
    assert!(err.contains("specs/conformance-known.toml"), "{err}");
}

#[test]
fn the_repositorys_known_list_reads() {
    let entries = known_failures(&crate::root()).unwrap();
    assert!(!entries.is_empty());
}

// ---- comparing with the known list ----

#[test]
fn an_unlisted_failure_fails_the_run() {
    let run = [totals(
        "twilio",
        &[(
            "CreateMessage",
            "full",
            "refused: Request body property To must be string",
        )],
    )];
    let v = compare(&run, &parse_known(KNOWN).unwrap());
    assert_eq!(
        v.unexplained,
        ["twilio: CreateMessage (full): refused: Request body property To must be string"]
    );
}

#[test]
fn a_listed_failure_is_excused_in_static_and_dynamic_runs() {
    let run = [totals(
        "twilio",
        &[
            (
                "CreateCall",
                "full",
                "refused: Request body property StatusCallbackEvent must be array",
            ),
            (
                "CreateCall",
                "full (dynamic run 1)",
                "ParsingError: missing field `sid`",
            ),
        ],
    )];
    let v = compare(
        &run,
        &BTreeSet::from([known("twilio", "CreateCall", false)]),
    );
    assert_eq!(v, Verdict::default());
}

#[test]
fn a_dynamic_only_entry_excuses_dynamic_failures_only() {
    let list = BTreeSet::from([known("digitalocean", "nfs_list_snapshot", true)]);
    let dynamic = [totals(
        "digitalocean",
        &[(
            "nfs_list_snapshot",
            "required (dynamic run 3)",
            "ParsingError: invalid value: integer `-3`, expected u64",
        )],
    )];
    assert_eq!(compare(&dynamic, &list), Verdict::default());
    let static_run = [totals(
        "digitalocean",
        &[("nfs_list_snapshot", "required", "not decoded: ParsingError")],
    )];
    assert_eq!(
        compare(&static_run, &list).unexplained,
        ["digitalocean: nfs_list_snapshot (required): not decoded: ParsingError"]
    );
}

#[test]
fn an_entry_excuses_its_own_connector_only() {
    let run = [totals("github", &[("CreateCall", "full", "refused: x")])];
    let v = compare(
        &run,
        &BTreeSet::from([known("twilio", "CreateCall", false)]),
    );
    assert_eq!(v.unexplained.len(), 1);
    // twilio was not in the run: its entry is not stale.
    assert!(v.stale.is_empty());
}

#[test]
fn a_listed_failure_that_passes_now_is_stale() {
    let run = [totals("slack", &[])];
    let list = BTreeSet::from([known("slack", "conversations_setPurpose", false)]);
    let v = compare(&run, &list);
    assert_eq!(v.stale, ["slack: conversations_setPurpose"]);
    assert!(v.unexplained.is_empty());
}

#[test]
fn a_dynamic_only_entry_is_never_stale() {
    let run = [totals("digitalocean", &[])];
    let list = BTreeSet::from([known("digitalocean", "nfs_get_snapshot", true)]);
    assert_eq!(compare(&run, &list), Verdict::default());
}

#[test]
fn a_static_entry_whose_operation_fails_only_in_dynamic_runs_is_stale() {
    // The static failure is gone; a dynamic one must not keep the entry (and its reason) alive.
    let run = [totals(
        "slack",
        &[(
            "chat_scheduleMessage",
            "full (dynamic run 2)",
            "ParsingError: missing field `ts`",
        )],
    )];
    let v = compare(
        &run,
        &BTreeSet::from([known("slack", "chat_scheduleMessage", false)]),
    );
    assert_eq!(v.stale, ["slack: chat_scheduleMessage"]);
}

// ---- totals and the docs table ----

fn github() -> Totals {
    Totals {
        mock: PRISM.to_owned(),
        operations: 1223,
        accepted: 1223,
        decoded: 1099,
        dynamic_total: Some(7338),
        dynamic_decoded: Some(7338),
        dynamic_mock_errors: Some(4),
        ..totals("github", &[])
    }
}

fn stripe() -> Totals {
    Totals {
        mock: "openapi-core (xtask/validator/mock.py)".to_owned(),
        operations: 417,
        accepted: 410,
        decoded: 401,
        dynamic_total: Some(2500),
        dynamic_decoded: Some(2495),
        dynamic_mock_errors: Some(0),
        ..totals("stripe", &[])
    }
}

#[test]
fn overall_sums_every_connector() {
    let all = [github(), stripe()];
    let o = overall(&all, true);
    assert_eq!(o.spec, "all");
    assert_eq!((o.operations, o.accepted, o.decoded), (1640, 1633, 1500));
    assert_eq!(
        (o.dynamic_total, o.dynamic_decoded, o.dynamic_mock_errors),
        (Some(9838), Some(9833), Some(4))
    );
    let o = overall(&all, false);
    assert_eq!(
        (o.dynamic_total, o.dynamic_decoded, o.dynamic_mock_errors),
        (None, None, None)
    );
}

#[test]
fn the_docs_table_has_a_row_of_counts_per_connector() {
    let doc = render_docs(&[github(), stripe()], true);
    assert!(doc.contains(
        "| connector | validated by | operations | accepted | decoded | dynamic decoded |\n\
         |---|---|---|---|---|---|\n\
         | github | @stoplight/prism-cli@5.16.0 | 1223 | 1223 | 1099 | 7338 / 7338 |\n\
         | stripe | openapi-core (xtask/validator/mock.py) | 417 | 410 | 401 | 2495 / 2500 |\n"
    ));
    let stat = |t: Totals| Totals {
        dynamic_total: None,
        dynamic_decoded: None,
        dynamic_mock_errors: None,
        ..t
    };
    let doc = render_docs(&[stat(github()), stat(stripe())], false);
    assert!(doc.contains(
        "| connector | validated by | operations | accepted | decoded |\n\
         |---|---|---|---|---|\n\
         | github | @stoplight/prism-cli@5.16.0 | 1223 | 1223 | 1099 |\n\
         | stripe | openapi-core (xtask/validator/mock.py) | 417 | 410 | 401 |\n"
    ));
    assert!(!doc.contains("dynamic decoded"));
}

#[test]
fn the_docs_list_every_failure_and_left_out_call() {
    let long = format!("not decoded: {}", "x".repeat(500));
    let mut slack = totals(
        "slack",
        &[
            (
                "conversations_history",
                "required",
                "not decoded: ParsingError",
            ),
            ("pins_list", "full", &long),
        ],
    );
    slack.mock_errors = vec![(
        "conversations_list".to_owned(),
        "full (dynamic run 1)".to_owned(),
        PRISM_UNKNOWN_500.to_owned(),
    )];
    let doc = render_docs(&[slack], true);
    let failures = doc.split("## Failures\n\n").nth(1).unwrap();
    assert!(
        failures
            .starts_with("- slack `conversations_history` (required): not decoded: ParsingError\n")
    );
    let cut = format!("- slack `pins_list` (full): {}...\n", &long[..400]);
    assert!(failures.contains(&cut), "{failures}");
    assert!(!failures.contains("None."), "{failures}");
    let left_out = doc
        .split("## Dynamic calls the mock could not answer\n\n")
        .nth(1)
        .unwrap();
    // Short enough to be shown whole: no ellipsis.
    assert!(left_out.ends_with(&format!(
        "- slack `conversations_list` (full (dynamic run 1)): {PRISM_UNKNOWN_500}\n"
    )));

    let doc = render_docs(&[totals("discourse", &[])], false);
    assert!(doc.ends_with("## Failures\n\nNone.\n"), "{doc}");
    assert!(!doc.contains("## Dynamic calls"));
}

#[test]
fn shortening_counts_characters_and_marks_cuts() {
    assert_eq!(shorten("déjà vu", 7), "déjà vu");
    assert_eq!(shorten("déjà vu", 4), "déjà...");
    assert_eq!(shorten("", 3), "");
}

#[test]
fn prism_refusals_are_not_accepted_but_documented_error_answers_are() {
    let no_route = undecoded(
        "GetThing",
        "required",
        404,
        "InvalidRequest: server answered 404 Not Found | body: {\"type\":\"https://stoplight.io/prism/errors#NO_PATH_MATCHED_ERROR\"}",
    );
    let media = undecoded(
        "PutThing",
        "required",
        415,
        "InvalidRequest: server answered 415 Unsupported Media Type | body: {\"type\":\"https://stoplight.io/prism/errors#INVALID_CONTENT_TYPE\"}",
    );
    let documented = undecoded(
        "DeleteThing",
        "required",
        404,
        "InvalidRequest: server answered 404 Not Found | body: {\"message\":\"gone\"}",
    );
    let t = judge("aws", 3, &[no_route, media, documented]);
    assert_eq!((t.accepted, t.decoded), (1, 0));
    assert_eq!(
        t.failures
            .iter()
            .filter(|(_, _, why)| why.starts_with("refused"))
            .count(),
        2
    );
}
