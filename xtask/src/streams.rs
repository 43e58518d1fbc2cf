//! `cargo xtask streams [--json] [--write-docs]`: the generator's sync stream detection on each vendor
//! connector of `specs/manifest.toml`, measured against the hand-labelled `specs/streams-expected.toml`
//! (per vendor, the key, cursor field and server filter a careful reader of the description picks
//! for its main list operations). Vendors whose settings override streams are measured twice:
//! detection alone, then with the settings.

use std::collections::BTreeMap;

use connector_codegen::streams::Report;
use serde::{Deserialize, Serialize};

use crate::manifest;

/// The labels file, relative to the workspace root.
pub const LABELS: &str = "specs/streams-expected.toml";
/// The document the table goes into with `--write-docs`.
pub const DOCS: &str = "docs/sync.md";
/// The heading of the section `--write-docs` writes.
pub const HEADING: &str = "## Detection quality";

/// What a careful reader picks for one list operation; `"none"` where there is nothing to pick.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Label {
    /// Key fields, or `["none"]`.
    pub key: Vec<String>,
    /// Cursor field, or `none`.
    pub cursor: String,
    /// Filter parameter as sent, or `none`.
    pub filter: String,
    /// Why, when it is not obvious.
    #[serde(default)]
    pub note: Option<String>,
}

/// Labels by vendor, then operationId.
pub type Labels = BTreeMap<String, BTreeMap<String, Label>>;

/// Parse the labels file.
pub fn parse_labels(text: &str) -> Result<Labels, String> {
    toml::from_str(text).map_err(|e| format!("{LABELS}: {}", e.message().trim()))
}

/// Precision and recall counts of one property.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Score {
    /// Detected and equal to the label.
    pub right: usize,
    /// Detected (something other than none).
    pub detected: usize,
    /// Labelled (something other than none).
    pub labelled: usize,
}

impl Score {
    fn add(&mut self, detected: Option<&str>, labelled: Option<&str>) {
        self.detected += usize::from(detected.is_some());
        self.labelled += usize::from(labelled.is_some());
        self.right += usize::from(detected.is_some() && detected == labelled);
    }

    /// `right / detected`, `None` when nothing was detected.
    pub fn precision(&self) -> Option<f64> {
        (self.detected > 0).then(|| self.right as f64 / self.detected as f64)
    }

    /// `right / labelled`, `None` when nothing is labelled.
    pub fn recall(&self) -> Option<f64> {
        (self.labelled > 0).then(|| self.right as f64 / self.labelled as f64)
    }
}

/// One vendor's detection, counted and measured.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Measured {
    /// List operations (paginated ones).
    pub list_operations: usize,
    /// Streams.
    pub streams: usize,
    /// Streams with a key (all of them: a listing without one is no stream).
    pub with_key: usize,
    /// Streams with a cursor.
    pub with_cursor: usize,
    /// Streams with a server-side filter.
    pub with_filter: usize,
    /// Streams under a parent stream.
    pub children: usize,
    /// Labelled operations.
    pub labelled: usize,
    /// Key against the labels.
    pub key: Score,
    /// Cursor field against the labels.
    pub cursor: Score,
    /// Filter parameter against the labels.
    pub filter: Score,
    /// Labelled operations where detection differs: `operation: what (detected, labelled)`.
    pub misses: Vec<String>,
}

fn none_is_none(s: &str) -> Option<&str> {
    (s != "none").then_some(s)
}

/// Measure a report against a vendor's labels.
pub fn measure(report: &Report, labels: &BTreeMap<String, Label>) -> Measured {
    let mut m = Measured {
        list_operations: report.streams.len() + report.skipped.len(),
        streams: report.streams.len(),
        with_key: report
            .streams
            .iter()
            .filter(|s| !s.primary_key.is_empty())
            .count(),
        with_cursor: report.streams.iter().filter(|s| s.cursor.is_some()).count(),
        with_filter: report.streams.iter().filter(|s| s.filter.is_some()).count(),
        children: report.streams.iter().filter(|s| s.parent.is_some()).count(),
        labelled: labels.len(),
        key: Score::default(),
        cursor: Score::default(),
        filter: Score::default(),
        misses: Vec::new(),
    };
    for (op, label) in labels {
        let stream = report.streams.iter().find(|s| &s.operation == op);
        let key = stream.map(|s| s.primary_key.join(","));
        let cursor = stream.and_then(|s| s.cursor.clone());
        let filter = stream.and_then(|s| s.filter.clone());
        let label_key = label.key.join(",");
        let checks = [
            ("key", &mut m.key, key, label_key.as_str()),
            ("cursor", &mut m.cursor, cursor, label.cursor.as_str()),
            ("filter", &mut m.filter, filter, label.filter.as_str()),
        ];
        for (what, score, got, want) in checks {
            let want = none_is_none(want);
            score.add(got.as_deref(), want);
            if got.as_deref() != want {
                let shown = |v: Option<&str>| v.unwrap_or("none").to_owned();
                let got = if stream.is_none() {
                    "no stream".to_owned()
                } else {
                    shown(got.as_deref())
                };
                m.misses
                    .push(format!("{op}: {what} {got}, labelled {}", shown(want)));
            }
        }
    }
    m
}

/// One vendor's results: detection alone and, when its settings override streams, with them.
#[derive(Debug, Clone, Serialize)]
pub struct VendorResult {
    /// Manifest name.
    pub name: String,
    /// Detection alone (the settings without their `[streams]` tables).
    pub detected: Measured,
    /// With the settings' stream overrides, when it has any.
    pub with_settings: Option<Measured>,
    /// The operations the settings override.
    pub overrides: Vec<String>,
}

impl VendorResult {
    /// What the generated connector uses.
    pub fn effective(&self) -> &Measured {
        self.with_settings.as_ref().unwrap_or(&self.detected)
    }
}

fn pr(s: &Score) -> String {
    let f = |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{:.2}", v));
    format!("{} / {}", f(s.precision()), f(s.recall()))
}

/// The markdown section: the table, the totals, and what the settings changed.
pub fn render(results: &[VendorResult], skipped: &[String]) -> String {
    let mut s = format!(
        "{HEADING}\n\nWritten by `cargo xtask streams --write-docs`: the generator's stream detection on each vendor\nconnector, measured against the hand-labelled `{LABELS}` (the key, cursor field and server-side\nfilter a careful reader of the description picks for about six main list operations per vendor).\nPrecision is right / detected, recall is right / labelled, counted over the labelled operations.\nA row `(detected)` is detection alone where the vendor's settings override streams; the row above\nit is what the generated connector uses.\n\n"
    );
    s.push_str("| vendor | list operations | streams | with key | with cursor | with server filter | child streams | labelled | key P / R | cursor P / R | filter P / R |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|\n");
    let row = |name: &str, m: &Measured| {
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            m.list_operations,
            m.streams,
            m.with_key,
            m.with_cursor,
            m.with_filter,
            m.children,
            m.labelled,
            pr(&m.key),
            pr(&m.cursor),
            pr(&m.filter)
        )
    };
    let mut total = [Score::default(); 3];
    let mut before = [Score::default(); 3];
    for r in results {
        s.push_str(&row(&r.name, r.effective()));
        if r.with_settings.is_some() {
            s.push_str(&row(&format!("{} (detected)", r.name), &r.detected));
        }
        for (i, (a, b)) in [
            (&r.effective().key, &r.detected.key),
            (&r.effective().cursor, &r.detected.cursor),
            (&r.effective().filter, &r.detected.filter),
        ]
        .into_iter()
        .enumerate()
        {
            for (t, x) in [(&mut total[i], a), (&mut before[i], b)] {
                t.right += x.right;
                t.detected += x.detected;
                t.labelled += x.labelled;
            }
        }
    }
    s.push_str(&format!(
        "\nAll vendors: key {}, cursor {}, filter {} (precision / recall); detection alone: key {}, cursor {}, filter {}.\n",
        pr(&total[0]),
        pr(&total[1]),
        pr(&total[2]),
        pr(&before[0]),
        pr(&before[1]),
        pr(&before[2]),
    ));
    let overridden: Vec<&VendorResult> =
        results.iter().filter(|r| !r.overrides.is_empty()).collect();
    if !overridden.is_empty() {
        s.push_str("\nSettings overrides (`[streams.\"<operationId>\"]` in `specs/settings/`), where detection and a label disagree:\n\n");
        for r in overridden {
            s.push_str(&format!("- {}: {}\n", r.name, r.overrides.join(", ")));
        }
    }
    let misses: Vec<String> = results
        .iter()
        .flat_map(|r| {
            r.effective()
                .misses
                .iter()
                .map(move |m| format!("- {}: {m}\n", r.name))
        })
        .collect();
    if !misses.is_empty() {
        s.push_str("\nWhere the generated connectors still differ from the labels:\n\n");
        for m in misses {
            s.push_str(&m);
        }
    }
    if !skipped.is_empty() {
        s.push_str(&format!(
            "\nNot measured (description not found): {}.\n",
            skipped.join(", ")
        ));
    }
    s
}

/// `text` with its `HEADING` section replaced by `section` (or appended), the rest kept.
pub fn replace_section(text: &str, section: &str) -> String {
    let section = section.trim_end();
    let Some(start) = text
        .match_indices(HEADING)
        .map(|(i, _)| i)
        .find(|&i| i == 0 || text[..i].ends_with('\n'))
    else {
        let text = text.trim_end();
        return if text.is_empty() {
            format!("{section}\n")
        } else {
            format!("{text}\n\n{section}\n")
        };
    };
    let after = start + HEADING.len();
    let end = text[after..]
        .find("\n## ")
        .map_or(text.len(), |i| after + i + 1);
    let rest = &text[end..];
    if rest.is_empty() {
        format!("{}{section}\n", &text[..start])
    } else {
        format!("{}{section}\n\n{rest}", &text[..start])
    }
}

/// The command.
pub fn run(args: &[String]) -> Result<(), String> {
    let json = args.iter().any(|a| a == "--json");
    let write_docs = args.iter().any(|a| a == "--write-docs");
    if let Some(bad) = args
        .iter()
        .find(|a| !matches!(a.as_str(), "--json" | "--write-docs"))
    {
        return Err(format!(
            "streams: unknown argument `{bad}` (--json, --write-docs)"
        ));
    }
    let root = crate::root();
    let labels_path = root.join(LABELS);
    let labels = parse_labels(
        &std::fs::read_to_string(&labels_path)
            .map_err(|e| format!("{}: {e}", labels_path.display()))?,
    )?;
    let entries = manifest::read(&root.join("specs/manifest.toml"))?;
    if let Some(unknown) = labels
        .keys()
        .find(|v| !entries.iter().any(|e| &e.name == *v))
    {
        return Err(format!(
            "{LABELS}: `{unknown}` is no vendor of specs/manifest.toml"
        ));
    }
    let mut results = Vec::new();
    let mut skipped = Vec::new();
    for e in &entries {
        let spec = match manifest::locate(&root, e) {
            Ok(p) => p,
            Err(manifest::Missing::NotFound(why)) => {
                eprintln!("xtask: SKIPPED {}: {why}", e.name);
                skipped.push(e.name.clone());
                continue;
            }
            Err(manifest::Missing::Mismatch(why)) => return Err(why),
        };
        let settings = crate::entry_settings(&root, e)?;
        let empty = BTreeMap::new();
        let vendor_labels = labels.get(&e.name).unwrap_or(&empty);
        let report = |settings: &connector_codegen::Settings| {
            connector_codegen::streams_report(&spec, settings)
                .map(|(r, _)| r)
                .map_err(|d| format!("{}: {d}", e.name))
        };
        let overrides: Vec<String> = settings.streams.keys().cloned().collect();
        let mut plain = settings.clone();
        plain.streams.clear();
        let detected = measure(&report(&plain)?, vendor_labels);
        let with_settings = if overrides.is_empty() {
            None
        } else {
            Some(measure(&report(&settings)?, vendor_labels))
        };
        results.push(VendorResult {
            name: e.name.clone(),
            detected,
            with_settings,
            overrides,
        });
    }
    let section = render(&results, &skipped);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?
        );
    } else {
        println!("{section}");
    }
    if write_docs {
        let path = root.join(DOCS);
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let new = if old.is_empty() {
            format!("{}\n", section.trim_end())
        } else {
            replace_section(&old, &section)
        };
        std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("xtask: wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_codegen::streams::{ReportSkip, ReportStream};

    fn stream(op: &str, key: &str, cursor: Option<&str>, filter: Option<&str>) -> ReportStream {
        ReportStream {
            table: op.to_owned(),
            operation: op.to_owned(),
            endpoint: format!("GET /{op}"),
            primary_key: vec![key.to_owned()],
            cursor: cursor.map(str::to_owned),
            cursor_kind: cursor.map(|_| "DateTime".to_owned()),
            filter: filter.map(str::to_owned),
            filter_inclusive: filter.map(|_| true),
            parent: None,
            params: Vec::new(),
            deletes: "unreported".to_owned(),
            columns: 3,
            source: "detected".to_owned(),
        }
    }

    fn label(key: &str, cursor: &str, filter: &str) -> Label {
        Label {
            key: vec![key.to_owned()],
            cursor: cursor.to_owned(),
            filter: filter.to_owned(),
            note: None,
        }
    }

    #[test]
    fn detection_is_scored_against_the_labels() {
        let report = Report {
            streams: vec![
                stream("a", "id", Some("updated_at"), Some("since")),
                stream("b", "id", Some("created_at"), None),
                stream("c", "id", None, None),
            ],
            skipped: vec![ReportSkip {
                operation: "d".into(),
                endpoint: "GET /d".into(),
                reason: "no key field".into(),
            }],
        };
        let labels: BTreeMap<String, Label> = [
            ("a", label("id", "updated_at", "since")),
            ("b", label("id", "updated_at", "none")),
            ("c", label("id", "none", "none")),
            ("d", label("name", "none", "none")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let m = measure(&report, &labels);
        assert_eq!(
            (m.list_operations, m.streams, m.with_cursor, m.with_filter),
            (4, 3, 2, 1)
        );
        assert_eq!(
            m.key,
            Score {
                right: 3,
                detected: 3,
                labelled: 4
            }
        );
        assert_eq!(
            m.cursor,
            Score {
                right: 1,
                detected: 2,
                labelled: 2
            }
        );
        assert_eq!(
            m.filter,
            Score {
                right: 1,
                detected: 1,
                labelled: 1
            }
        );
        assert_eq!(
            m.misses,
            [
                "b: cursor created_at, labelled updated_at",
                "d: key no stream, labelled name"
            ]
        );
        assert_eq!(pr(&m.cursor), "0.50 / 0.50");
    }

    #[test]
    fn the_docs_section_is_replaced_in_place_or_added() {
        let section = "## Detection quality\n\nnew table\n";
        assert_eq!(
            replace_section("", section),
            "## Detection quality\n\nnew table\n"
        );
        assert_eq!(
            replace_section("# Sync\n\nintro\n", section),
            "# Sync\n\nintro\n\n## Detection quality\n\nnew table\n"
        );
        assert_eq!(
            replace_section(
                "# Sync\n\n## Detection quality\n\nold\n\n## Engine\n\nkept\n",
                section
            ),
            "# Sync\n\n## Detection quality\n\nnew table\n\n## Engine\n\nkept\n"
        );
        assert_eq!(
            replace_section("# Sync\n\n## Detection quality\n\nold\n", section),
            "# Sync\n\n## Detection quality\n\nnew table\n"
        );
    }

    #[test]
    fn the_labels_file_parses_and_names_vendors_of_the_manifest() {
        let root = crate::root();
        let labels = parse_labels(&std::fs::read_to_string(root.join(LABELS)).expect("labels"))
            .expect("parses");
        let entries = manifest::read(&root.join("specs/manifest.toml")).expect("manifest");
        assert_eq!(labels.len(), entries.len());
        for (vendor, ops) in &labels {
            assert!(entries.iter().any(|e| &e.name == vendor), "{vendor}");
            assert!(ops.len() >= 5, "{vendor}: {} labels", ops.len());
        }
    }
}
