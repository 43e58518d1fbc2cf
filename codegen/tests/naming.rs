//! Names of inline shapes: shared ones by meaning and content, never by another operation, and
//! stable when operations that do not use them are added.

use std::collections::BTreeSet;

use connector_codegen::{Settings, audit, load, lower};

/// Three operations sharing a `direction` enum and an error body; one with a body of its own.
const BASE: &str = r#"
openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /issues:
    get:
      operationId: listIssues
      parameters:
        - {name: direction, in: query, schema: {type: string, enum: [asc, desc]}}
      responses:
        "200": {description: ok, content: {application/json: {schema: {type: array, items: {type: string}}}}}
        "503": {description: down, content: {application/json: {schema: {type: object, properties: {message: {type: string}, documentation_url: {type: string}}}}}}
    post:
      operationId: createIssue
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {title: {type: string}, labels: {type: array, items: {type: object, properties: {name: {type: string}}}}}}
      responses:
        "201": {description: made}
        "503": {description: down, content: {application/json: {schema: {type: object, properties: {message: {type: string}, documentation_url: {type: string}}}}}}
  /pulls:
    get:
      operationId: listPulls
      parameters:
        - {name: direction, in: query, schema: {type: string, enum: [asc, desc]}}
      responses:
        "200": {description: ok}
        "503": {description: down, content: {application/json: {schema: {type: object, properties: {message: {type: string}, documentation_url: {type: string}}}}}}
  /commits:
    get:
      operationId: listCommits
      parameters:
        - {name: direction, in: query, schema: {type: string, enum: [asc, desc]}}
      responses:
        "200": {description: ok}
"#;

/// Two operations, placed before all others, sharing another `direction` enum.
const UNRELATED: &str = r#"
  /elevators:
    get:
      operationId: listElevators
      parameters:
        - {name: direction, in: query, schema: {type: string, enum: [up, down]}}
      responses:
        "200": {description: ok}
  /lifts:
    get:
      operationId: listLifts
      parameters:
        - {name: direction, in: query, schema: {type: string, enum: [up, down]}}
      responses:
        "200": {description: ok}
"#;

fn lowered(text: &str) -> connector_codegen::ir::Api {
    let doc = load::load_str(text, None).expect("loads");
    lower::lower(&doc, &Settings::default()).expect("lowers").0
}

fn type_names(api: &connector_codegen::ir::Api) -> BTreeSet<String> {
    api.types.iter().map(|t| t.name.clone()).collect()
}

fn param_type(api: &connector_codegen::ir::Api, op: &str) -> String {
    let op = api
        .operations
        .iter()
        .find(|o| o.operation_id == op)
        .expect("operation");
    match &op.params[0].ty {
        connector_codegen::ir::Ty::Named(id) => api.types[id.0].name.clone(),
        t => panic!("{t:?}"),
    }
}

#[test]
fn shared_shapes_are_named_by_meaning_and_single_use_ones_by_their_operation() {
    let api = lowered(BASE);
    let names = type_names(&api);
    let expected: BTreeSet<String> = [
        "Direction",
        "MessageDocumentationUrlError",
        "CreateIssueBody",
        "CreateIssueBodyLabelsItem",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(names, expected);
    assert_eq!(param_type(&api, "listPulls"), "Direction");
    assert!(audit::audit(&api).offences.is_empty());
}

#[test]
fn operations_that_do_not_use_a_shape_do_not_rename_it() {
    let before = lowered(BASE);
    let with = BASE.replacen("paths:\n", &format!("paths:{UNRELATED}"), 1);
    let after = lowered(&with);
    let (old, new) = (type_names(&before), type_names(&after));
    assert!(old.is_subset(&new), "{old:?} is not within {new:?}");
    assert_eq!(param_type(&after, "listIssues"), "Direction");
    assert_eq!(param_type(&after, "listElevators"), "DirectionUpDown");
    assert_eq!(param_type(&after, "listLifts"), "DirectionUpDown");
    assert!(audit::audit(&after).offences.is_empty());
}

#[test]
fn names_do_not_depend_on_the_order_operations_come_in() {
    let with = BASE.replacen("paths:\n", &format!("paths:{UNRELATED}"), 1);
    // The same paths with the unrelated operations last.
    let (head, tail) = with.split_at(with.find("  /issues:").expect("issues"));
    let reordered = format!(
        "{}{tail}{}",
        head.replace(UNRELATED.trim_start_matches('\n'), ""),
        UNRELATED.trim_start_matches('\n')
    );
    assert_ne!(with, reordered);
    assert_eq!(
        type_names(&lowered(&with)),
        type_names(&lowered(&reordered))
    );
}

#[test]
fn a_shape_used_by_one_operation_that_meets_one_of_another_is_named_apart() {
    // `listCommits` alone uses a `direction` of its own: it keeps its operation's name.
    let text = BASE.replace(
        "  /commits:\n    get:\n      operationId: listCommits\n      parameters:\n        - {name: direction, in: query, schema: {type: string, enum: [asc, desc]}}",
        "  /commits:\n    get:\n      operationId: listCommits\n      parameters:\n        - {name: direction, in: query, schema: {type: string, enum: [old, new]}}",
    );
    let api = lowered(&text);
    assert_eq!(param_type(&api, "listCommits"), "ListCommitsDirection");
    assert_eq!(param_type(&api, "listIssues"), "Direction");
    assert!(audit::audit(&api).offences.is_empty());
}
