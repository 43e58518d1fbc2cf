//! Operations generated with a shape unfaithful to their description, by cause, added up over a run.
//!
//! Each description's counts come from `connector-gen --json` (its `unfaithful` object, computed by
//! `connector_codegen::audit::shapes`); this module reads them and sums them per cause.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// The causes the generator reports, in the order the docs list them, with what each means.
const CAUSES: &[(&str, &str)] = &[
    (
        "path_marker",
        "a path-key marker (`/{Bucket}#list-type=2`, `/#Action=CreateQueue`) not honoured",
    ),
    (
        "xml_body",
        "an XML request or response body handled as unparsed text or bytes",
    ),
    (
        "binary_as_string",
        "a binary body (`application/octet-stream`, `*/*`, `format: binary`) typed as `String`",
    ),
    (
        "aws_signing",
        "security asking for AWS signing (`x-amazon-apigateway-authtype`) with no signing constructor",
    ),
];

/// Examples kept per cause over a run.
const EXAMPLES: usize = 5;

/// One description's operations of one cause.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Count {
    pub operations: usize,
    pub examples: Vec<String>,
}

/// The counts in a `connector-gen --json` report, by cause (none when it has none).
pub fn read(report: &Value) -> BTreeMap<String, Count> {
    let Some(Value::Object(causes)) = report.get("unfaithful") else {
        return BTreeMap::new();
    };
    causes
        .iter()
        .map(|(cause, v)| {
            let operations = v.get("operations").and_then(Value::as_u64).unwrap_or(0) as usize;
            let examples = v
                .get("examples")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            (
                cause.clone(),
                Count {
                    operations,
                    examples,
                },
            )
        })
        .collect()
}

/// One cause over a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub cause: String,
    pub meaning: String,
    pub operations: usize,
    /// Descriptions with at least one such operation.
    pub descriptions: usize,
    /// `description: METHOD path-key (operationId)`, the first few.
    pub examples: Vec<String>,
}

/// Sum the counts of each description (`(spec, counts)` in the run's order) per cause: the known
/// causes first, in their order, then any other the generator reported.
pub fn summarise<'a>(
    per_spec: impl IntoIterator<Item = (&'a str, &'a BTreeMap<String, Count>)>,
) -> Vec<Row> {
    let mut rows: Vec<Row> = CAUSES
        .iter()
        .map(|(cause, meaning)| Row {
            cause: (*cause).to_owned(),
            meaning: (*meaning).to_owned(),
            operations: 0,
            descriptions: 0,
            examples: Vec::new(),
        })
        .collect();
    for (spec, counts) in per_spec {
        for (cause, count) in counts {
            let i = match rows.iter().position(|r| r.cause == *cause) {
                Some(i) => i,
                None => {
                    rows.push(Row {
                        cause: cause.clone(),
                        meaning: cause.replace('_', " "),
                        operations: 0,
                        descriptions: 0,
                        examples: Vec::new(),
                    });
                    rows.len() - 1
                }
            };
            let row = &mut rows[i];
            if count.operations == 0 {
                continue;
            }
            row.operations += count.operations;
            row.descriptions += 1;
            for e in &count.examples {
                if row.examples.len() < EXAMPLES {
                    row.examples.push(format!("{spec}: {e}"));
                }
            }
        }
    }
    rows
}

/// The docs table: each cause with its operations (and their share of `operations`), descriptions
/// and examples.
pub fn table(rows: &[Row], operations: usize) -> String {
    let mut t =
        String::from("| cause | operations | descriptions | examples |\n|---|---|---|---|\n");
    for r in rows {
        t.push_str(&format!(
            "| {} | {} ({}) | {} | {} |\n",
            r.meaning.replace('|', "\\|"),
            r.operations,
            super::pct(r.operations, operations),
            r.descriptions,
            r.examples
                .iter()
                .map(|e| format!("`{}`", e.replace('`', "'")).replace('|', "\\|"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_are_read_and_summed_per_cause() {
        let s3 = read(&json!({"ok": true, "unfaithful": {
            "path_marker": {"operations": 2, "examples": ["GET /{Bucket}#list-type=2 (ListObjectsV2)", "PUT /{Bucket}#acl (PutBucketAcl)"]},
            "xml_body": {"operations": 3, "examples": ["GET /{Bucket} (ListObjects)"]},
            "binary_as_string": {"operations": 0, "examples": []},
            "aws_signing": {"operations": 3, "examples": ["GET /{Bucket} (ListObjects)"]}
        }}));
        assert_eq!(s3["xml_body"].operations, 3);
        let sqs = read(&json!({"ok": true, "unfaithful": {
            "path_marker": {"operations": 1, "examples": ["POST /#Action=CreateQueue (CreateQueue)"]},
            "new_cause": {"operations": 4, "examples": []}
        }}));
        // A report from before the counts existed has none.
        let old = read(&json!({"ok": true}));
        assert!(old.is_empty());
        let rows = summarise([
            ("amazonaws.com/s3.json", &s3),
            ("amazonaws.com/sqs.json", &sqs),
            ("other.json", &old),
        ]);
        let by = |c: &str| rows.iter().find(|r| r.cause == c).expect(c).clone();
        assert_eq!(
            rows.iter().map(|r| r.cause.as_str()).collect::<Vec<_>>(),
            [
                "path_marker",
                "xml_body",
                "binary_as_string",
                "aws_signing",
                "new_cause"
            ]
        );
        let markers = by("path_marker");
        assert_eq!((markers.operations, markers.descriptions), (3, 2));
        assert_eq!(
            markers.examples,
            [
                "amazonaws.com/s3.json: GET /{Bucket}#list-type=2 (ListObjectsV2)",
                "amazonaws.com/s3.json: PUT /{Bucket}#acl (PutBucketAcl)",
                "amazonaws.com/sqs.json: POST /#Action=CreateQueue (CreateQueue)"
            ]
        );
        assert_eq!(
            (
                by("binary_as_string").operations,
                by("binary_as_string").descriptions
            ),
            (0, 0)
        );
        assert_eq!(by("new_cause").operations, 4);
        let t = table(&rows, 100);
        assert!(
            t.contains("| an XML request or response body handled as unparsed text or bytes | 3 (3.00%) | 1 | `amazonaws.com/s3.json: GET /{Bucket} (ListObjects)` |"),
            "{t}"
        );
    }
}
