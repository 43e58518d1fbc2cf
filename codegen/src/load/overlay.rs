//! OpenAPI Overlay 1.0: reading an overlay document and applying its actions to a parsed description.
//!
//! An overlay is written against the description as published, so its actions run on the parsed
//! document before anything else touches it (version check, bundling, Swagger 2.0 conversion).
//! Targets are JSONPath expressions (RFC 9535, through `serde_json_path`). An action either merges its
//! `update` into every node its target selects (objects property by property and recursively, arrays
//! appended to, any other value replaced) or, with `remove: true`, removes those nodes from their
//! parent object or array. A target that selects nothing is a warning, not an error.

use std::path::{Path, PathBuf};

use serde_json::Value;
use serde_json_path::JsonPath;

use crate::Diagnostic;

/// One action of an overlay.
#[derive(Debug, Clone)]
pub struct Action {
    /// The JSONPath expression as written.
    pub target: String,
    /// The parsed expression.
    path: JsonPath,
    /// What to do with the selected nodes.
    pub change: Change,
}

/// What an action does to the nodes its target selects.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Merge this value into each node.
    Update(Value),
    /// Remove each node from its parent.
    Remove,
}

/// A read and validated overlay document.
#[derive(Debug, Clone)]
pub struct Overlay {
    /// The file it was read from, when it came from one (diagnostics name it).
    pub file: Option<PathBuf>,
    /// `info.title`.
    pub title: String,
    /// The actions, in the order they apply.
    pub actions: Vec<Action>,
    /// Things that were odd but not fatal (an `update` beside `remove: true`).
    pub warnings: Vec<Diagnostic>,
}

/// Read and validate the overlay at `path` (YAML or JSON).
pub fn read(path: &Path) -> Result<Overlay, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::error(format!("cannot read the overlay: {e}"))
            .in_file(path)
            .help("overlay paths in a settings file are relative to that file")
    })?;
    from_str(&text, Some(path))
}

/// Read and validate an overlay from text (`file` names it in diagnostics).
pub fn from_str(text: &str, file: Option<&Path>) -> Result<Overlay, Diagnostic> {
    let in_file = |d: Diagnostic| match file {
        Some(f) if d.file.is_none() => d.in_file(f),
        _ => d,
    };
    let doc = super::parse::parse(text, file).map_err(in_file)?;
    validate(&doc, file).map_err(in_file)
}

const SHAPE: &str = "an overlay is `overlay: 1.0.0`, `info: {title, version}` and `actions: [{target, update | remove: true}]`";

fn validate(doc: &Value, file: Option<&Path>) -> Result<Overlay, Diagnostic> {
    let Value::Object(map) = doc else {
        return Err(Diagnostic::error("the overlay is not an object")
            .at("")
            .help(SHAPE));
    };
    let version = match map.get("overlay") {
        Some(Value::String(s)) => s.trim().to_owned(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(
                Diagnostic::error(format!("`overlay` is {other}, not a version string"))
                    .at("/overlay")
                    .help(SHAPE),
            );
        }
        None => {
            return Err(Diagnostic::error(
                "no `overlay` version field: this is not an OpenAPI Overlay",
            )
            .at("/overlay")
            .help(SHAPE));
        }
    };
    if version != "1" && !version.starts_with("1.") {
        return Err(
            Diagnostic::error(format!("unsupported overlay version \"{version}\""))
                .at("/overlay")
                .help("supported: Overlay Specification 1.x (`overlay: 1.0.0`)"),
        );
    }
    let info = map.get("info").and_then(Value::as_object).ok_or_else(|| {
        Diagnostic::error("the overlay has no `info` object")
            .at("/info")
            .help(SHAPE)
    })?;
    let title = match (info.get("title"), info.get("version")) {
        (Some(Value::String(t)), Some(Value::String(_))) => t.clone(),
        _ => {
            return Err(Diagnostic::error(
                "the overlay's `info` needs a string `title` and `version`",
            )
            .at("/info")
            .help(SHAPE));
        }
    };
    if let Some(e) = map.get("extends").filter(|e| !e.is_string()) {
        return Err(
            Diagnostic::error(format!("`extends` is {e}, not a URI string")).at("/extends"),
        );
    }
    let actions = match map.get("actions") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => {
            return Err(Diagnostic::error("the overlay's `actions` list is empty")
                .at("/actions")
                .help(SHAPE));
        }
        _ => {
            return Err(Diagnostic::error("the overlay has no `actions` list")
                .at("/actions")
                .help(SHAPE));
        }
    };
    let mut warnings = Vec::new();
    let mut out = Vec::with_capacity(actions.len());
    for (i, action) in actions.iter().enumerate() {
        let at = format!("/actions/{i}");
        let Value::Object(action) = action else {
            return Err(
                Diagnostic::error(format!("overlay action {i} is not an object"))
                    .at(at)
                    .help(SHAPE),
            );
        };
        let target = match action.get("target") {
            Some(Value::String(t)) => t.clone(),
            Some(other) => {
                return Err(Diagnostic::error(format!(
                    "overlay action {i}: `target` is {other}, not a JSONPath string"
                ))
                .at(format!("{at}/target")));
            }
            None => {
                return Err(
                    Diagnostic::error(format!("overlay action {i} has no `target`"))
                        .at(format!("{at}/target"))
                        .help("a target is a JSONPath expression, e.g. `$.paths['/pets'].get`"),
                );
            }
        };
        let path = JsonPath::parse(&target).map_err(|e| {
            Diagnostic::error(format!(
                "overlay action {i}: `{target}` is not a JSONPath expression: {e}"
            ))
            .at(format!("{at}/target"))
            .help("targets follow RFC 9535, e.g. `$.paths[*][?@.operationId=='getPet']`")
        })?;
        let remove = match action.get("remove") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(Diagnostic::error(format!(
                    "overlay action {i}: `remove` is {other}, not true or false"
                ))
                .at(format!("{at}/remove")));
            }
        };
        let change = match (remove, action.get("update")) {
            (true, update) => {
                if update.is_some() {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "overlay action {i}: `update` is ignored because `remove` is true"
                        ))
                        .at(format!("{at}/update"))
                        .with_file(file),
                    );
                }
                Change::Remove
            }
            (false, Some(update)) => Change::Update(update.clone()),
            (false, None) => {
                return Err(Diagnostic::error(format!(
                    "overlay action {i} (`{target}`) neither updates nor removes"
                ))
                .at(at)
                .help("give it an `update` value, or `remove: true`"));
            }
        };
        out.push(Action {
            target,
            path,
            change,
        });
    }
    Ok(Overlay {
        file: file.map(Path::to_path_buf),
        title,
        actions: out,
        warnings,
    })
}

/// One step from a node to a child.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Key(String),
    Index(usize),
}

fn child_mut<'v>(v: &'v mut Value, step: &Step) -> Option<&'v mut Value> {
    match (v, step) {
        (Value::Object(m), Step::Key(k)) => m.get_mut(k),
        (Value::Array(a), Step::Index(i)) => a.get_mut(*i),
        _ => None,
    }
}

fn node_mut<'v>(mut v: &'v mut Value, steps: &[Step]) -> Option<&'v mut Value> {
    for s in steps {
        v = child_mut(v, s)?;
    }
    Some(v)
}

impl Overlay {
    /// Apply every action in order to `doc`; the warnings are the overlay's own and one per action
    /// whose target selects nothing. An `update` of a node that is not an object or an array, or of
    /// an object with a value that is not an object, and removing the whole document are errors.
    pub fn apply(&self, doc: &mut Value) -> Result<Vec<Diagnostic>, Diagnostic> {
        let mut warnings = self.warnings.clone();
        for (i, action) in self.actions.iter().enumerate() {
            let at = format!("/actions/{i}");
            let mut selected: Vec<Vec<Step>> = action
                .path
                .query_located(doc)
                .locations()
                .map(|loc| {
                    loc.iter()
                        .map(|e| match e.as_index() {
                            Some(i) => Step::Index(i),
                            None => Step::Key(e.as_name().unwrap_or_default().to_owned()),
                        })
                        .collect()
                })
                .collect();
            // A node list may name a node twice (`$['a','a']`); each is changed once.
            let mut seen = std::collections::BTreeSet::new();
            selected.retain(|steps| seen.insert(steps.clone()));
            if selected.is_empty() {
                warnings.push(
                    Diagnostic::warning(format!(
                        "overlay action {i}: target `{}` selects nothing in the description; the action does nothing",
                        action.target
                    ))
                    .at(format!("{at}/target"))
                    .with_file(self.file.as_deref())
                    .help("check the target against the description as published (before any conversion)"),
                );
                continue;
            }
            let error = |message: String| {
                Diagnostic::error(message)
                    .at(at.clone())
                    .with_file(self.file.as_deref())
            };
            match &action.change {
                Change::Update(update) => {
                    for steps in &selected {
                        let Some(node) = node_mut(doc, steps) else {
                            continue;
                        };
                        update_node(node, update).map_err(|what| {
                            error(format!(
                                "overlay action {i}: target `{}` selects {what}",
                                action.target
                            ))
                        })?;
                    }
                }
                Change::Remove => {
                    // Deepest and last first, so the positions of the nodes still to remove hold.
                    selected.sort();
                    for steps in selected.iter().rev() {
                        let Some((last, parent)) = steps.split_last() else {
                            return Err(error(format!(
                                "overlay action {i}: target `{}` selects the whole description, which cannot be removed",
                                action.target
                            )));
                        };
                        match (node_mut(doc, parent), last) {
                            (Some(Value::Object(m)), Step::Key(k)) => {
                                m.shift_remove(k);
                            }
                            (Some(Value::Array(a)), Step::Index(i)) if *i < a.len() => {
                                a.remove(*i);
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        Ok(warnings)
    }
}

/// Merge `update` into the node an action selected: an object takes the update's properties, an
/// array is appended the update's items (or the update itself when it is not an array). The error
/// says what the node was.
fn update_node(node: &mut Value, update: &Value) -> Result<(), String> {
    match (&mut *node, update) {
        (Value::Object(_), Value::Object(_)) | (Value::Array(_), Value::Array(_)) => {}
        (Value::Array(items), one) => {
            items.push(one.clone());
            return Ok(());
        }
        (Value::Object(_), other) => {
            return Err(format!(
                "an object, and its `update` is {}, not an object",
                kind(other)
            ));
        }
        (primitive, _) => {
            return Err(format!(
                "{}, which an update cannot change (target the object or array that holds it)",
                kind(primitive)
            ));
        }
    }
    merge(node, update);
    Ok(())
}

/// The merge of one value into another: objects property by property and recursively, arrays
/// concatenated, anything else replaced.
fn merge(node: &mut Value, update: &Value) {
    match (node, update) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                match into.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        into.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(into), Value::Array(from)) => into.extend(from.iter().cloned()),
        (node, update) => *node = update.clone(),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

trait WithFile {
    fn with_file(self, file: Option<&Path>) -> Self;
}

impl WithFile for Diagnostic {
    fn with_file(self, file: Option<&Path>) -> Self {
        match file {
            Some(f) => self.in_file(f),
            None => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn overlay(actions: Value) -> Overlay {
        let doc =
            json!({"overlay": "1.0.0", "info": {"title": "t", "version": "1"}, "actions": actions});
        from_str(&doc.to_string(), None).expect("a valid overlay")
    }

    fn applied(doc: Value, actions: Value) -> (Value, Vec<Diagnostic>) {
        let mut doc = doc;
        let warnings = overlay(actions).apply(&mut doc).expect("applies");
        (doc, warnings)
    }

    #[test]
    fn objects_merge_recursively_arrays_append_and_primitives_are_replaced() {
        let doc = json!({
            "info": {"title": "Old", "version": "1", "contact": {"name": "a", "email": "x@y"}},
            "tags": [{"name": "one"}]
        });
        let (doc, warnings) = applied(
            doc,
            json!([
                {"target": "$.info", "update": {"title": "New", "contact": {"name": "b"}, "x-new": [1]}},
                {"target": "$", "update": {"tags": [{"name": "two"}]}},
                {"target": "$.tags", "update": {"name": "three"}}
            ]),
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            doc,
            json!({
                "info": {"title": "New", "version": "1", "contact": {"name": "b", "email": "x@y"}, "x-new": [1]},
                "tags": [{"name": "one"}, {"name": "two"}, {"name": "three"}]
            })
        );
        // Merged properties keep their place; new ones come last.
        let keys: Vec<&String> = doc["info"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["title", "version", "contact", "x-new"]);
        // A node selected twice is changed once.
        let (doc, _) = applied(
            json!({"a": {"list": [1]}}),
            json!([{"target": "$['a','a']", "update": {"list": [2]}}]),
        );
        assert_eq!(doc, json!({"a": {"list": [1, 2]}}));
    }

    #[test]
    fn remove_takes_nodes_out_of_objects_and_arrays() {
        let doc = json!({
            "paths": {"/a": {"get": {"operationId": "a"}}, "/b": {"get": {"operationId": "b"}}},
            "tags": [{"name": "one"}, {"name": "two"}, {"name": "three"}, {"name": "four"}]
        });
        let (doc, warnings) = applied(
            doc,
            json!([
                {"target": "$.paths['/a']", "remove": true},
                {"target": "$.tags[?@.name=='two' || @.name=='four']", "remove": true}
            ]),
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            doc,
            json!({
                "paths": {"/b": {"get": {"operationId": "b"}}},
                "tags": [{"name": "one"}, {"name": "three"}]
            })
        );
    }

    #[test]
    fn filter_expressions_select_operations_by_id() {
        let doc = json!({"paths": {
            "/pets": {"get": {"operationId": "x", "responses": {"480": {"description": "gone"}}},
                      "post": {"operationId": "y"}},
            "/other": {"get": {"operationId": "z"}}
        }});
        let (doc, _) = applied(
            doc,
            json!([
                {"target": "$.paths[*][?@.operationId=='x']", "update": {"deprecated": true}},
                {"target": "$.paths[*][?@.operationId=='x'].responses['480']", "remove": true},
                {"target": "$.paths[*][?@.operationId=='x'].responses", "update": {"404": {"description": "gone"}}}
            ]),
        );
        let x = &doc["paths"]["/pets"]["get"];
        assert_eq!(x["deprecated"], json!(true));
        assert_eq!(x["responses"], json!({"404": {"description": "gone"}}));
        assert!(doc["paths"]["/pets"]["post"].get("deprecated").is_none());
        assert!(doc["paths"]["/other"]["get"].get("deprecated").is_none());
    }

    #[test]
    fn a_target_selecting_nothing_is_a_warning_naming_the_action() {
        let (doc, warnings) = applied(
            json!({"info": {"title": "t"}}),
            json!([
                {"target": "$.info", "update": {"x-a": 1}},
                {"target": "$.paths['/missing']", "update": {"x-b": 2}}
            ]),
        );
        assert_eq!(doc, json!({"info": {"title": "t", "x-a": 1}}));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].pointer.as_deref(), Some("/actions/1/target"));
        assert!(
            warnings[0]
                .message
                .contains("action 1: target `$.paths['/missing']` selects nothing"),
            "{}",
            warnings[0].message
        );
    }

    #[test]
    fn updating_a_primitive_or_an_object_with_a_primitive_is_an_error() {
        let mut doc = json!({"info": {"title": "t"}});
        let e = overlay(json!([{"target": "$.info.title", "update": "new"}]))
            .apply(&mut doc)
            .unwrap_err();
        assert!(e.message.contains("selects a string"), "{}", e.message);
        assert_eq!(e.pointer.as_deref(), Some("/actions/0"));
        let e = overlay(json!([{"target": "$.info", "update": 5}]))
            .apply(&mut doc)
            .unwrap_err();
        assert!(
            e.message.contains("its `update` is a number"),
            "{}",
            e.message
        );
        let e = overlay(json!([{"target": "$", "remove": true}]))
            .apply(&mut doc)
            .unwrap_err();
        assert!(e.message.contains("whole description"), "{}", e.message);
    }

    #[test]
    fn bad_overlays_are_errors_with_the_file_and_where() {
        let file = Path::new("vendor/fix.yaml");
        let bad = |text: &str| from_str(text, Some(file)).unwrap_err();
        let info = "info: {title: t, version: '1'}\n";
        for (text, message, pointer) in [
            (
                "overlay: 2.0.0\ninfo: {title: t, version: '1'}\nactions: [{target: $, remove: true}]",
                "unsupported overlay version \"2.0.0\"",
                "/overlay",
            ),
            ("openapi: 3.0.0\n", "no `overlay` version field", "/overlay"),
            (
                "overlay: 1.0.0\nactions: [{target: $, remove: true}]",
                "no `info` object",
                "/info",
            ),
            (
                &format!("overlay: 1.0.0\n{info}actions: []"),
                "`actions` list is empty",
                "/actions",
            ),
            (
                &format!("overlay: 1.0.0\n{info}actions: [{{update: {{}}}}]"),
                "action 0 has no `target`",
                "/actions/0/target",
            ),
            (
                &format!("overlay: 1.0.0\n{info}actions: [{{target: '$.paths[', update: {{}}}}]"),
                "action 0: `$.paths[` is not a JSONPath expression",
                "/actions/0/target",
            ),
            (
                &format!("overlay: 1.0.0\n{info}actions: [{{target: $.info}}]"),
                "neither updates nor removes",
                "/actions/0",
            ),
            (
                &format!("overlay: 1.0.0\n{info}actions: [{{target: $.info, remove: 'yes'}}]"),
                "`remove` is \"yes\"",
                "/actions/0/remove",
            ),
        ] {
            let e = bad(text);
            assert!(
                e.message.contains(message),
                "{message} not in {}",
                e.message
            );
            assert_eq!(e.pointer.as_deref(), Some(pointer), "{message}");
            assert_eq!(e.file.as_deref(), Some(file), "{message}");
        }
        let e = bad("overlay: [unclosed");
        assert_eq!(e.file.as_deref(), Some(file));
        let missing = read(Path::new("/nonexistent/overlay.yaml")).unwrap_err();
        assert!(missing.message.contains("cannot read the overlay"));
        assert_eq!(
            missing.file.as_deref(),
            Some(Path::new("/nonexistent/overlay.yaml"))
        );
    }

    #[test]
    fn an_update_beside_remove_is_ignored_with_a_warning() {
        let (doc, warnings) = applied(
            json!({"a": {"b": 1}, "c": 2}),
            json!([{"target": "$.a", "remove": true, "update": {"b": 2}}]),
        );
        assert_eq!(doc, json!({"c": 2}));
        assert_eq!(warnings.len(), 1);
        assert_eq!(warnings[0].pointer.as_deref(), Some("/actions/0/update"));
    }
}
