//! The copy of a corpus description that Prism serves: the same API, with the parts Prism cannot mock
//! rewritten, and the routes the harness takes to reach operations Prism could not tell apart.
//!
//! Prism routes by path template alone and serialises answers from their media type key, so three
//! things in published descriptions defeat it although a real server (and the generated client) is
//! fine with them:
//!
//! - Path keys carrying a marker after `#` or `?` (`/{Bucket}#list-type=2`, `/#X-Amz-Target=Svc.Op`,
//!   `/getIncidentRecord#arn`): the client sends the marker as a query pair, a flag or a header, as the
//!   description means it, but Prism matches the literal key and answers 404 (and AWS JSON-protocol
//!   operations all share `POST /`). Each such key becomes `<path before the marker>/~<n>`, and the
//!   harness appends `/~<n>` to the request path of the operations under it (a `route` in the plan):
//!   everything else (parameters, headers, body) is what the client sent.
//! - `*/*` answers with an object schema: Prism cannot serialise an object "as text" and answers 500.
//!   They become `application/json`, which is what the client decodes them as.
//! - Answer headers that describe the transport (`Content-Encoding`, `Transfer-Encoding`,
//!   `Content-Length`, `Connection`): descriptions recorded from live traffic list them with examples
//!   (`Content-Encoding: br`), and Prism sends those values over a body it did not encode. They are
//!   dropped.
//!
//! Only JSON descriptions without external references are rewritten (the copy lives elsewhere, where
//! relative references would not resolve); others are served as they are.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Answer headers about the transport, which a mock cannot honour.
const TRANSPORT_HEADERS: [&str; 4] = [
    "content-encoding",
    "transfer-encoding",
    "content-length",
    "connection",
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// What Prism serves for `spec`, and the route suffix of each operation (by `operationId`) that the
/// harness appends to its request path. The copy is written to `dir/prism-view.json` when anything
/// changed; otherwise `spec` itself is served.
pub fn write(spec: &Path, dir: &Path) -> Result<(PathBuf, BTreeMap<String, String>), String> {
    let unchanged = || Ok((spec.to_path_buf(), BTreeMap::new()));
    if spec.extension().and_then(|e| e.to_str()) != Some("json") {
        return unchanged();
    }
    let text = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    let Ok(mut root) = serde_json::from_str::<Value>(&text) else {
        return unchanged();
    };
    if has_external_ref(&root) {
        return unchanged();
    }
    let (changed, routes) = rewrite(&mut root);
    if !changed {
        return unchanged();
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join("prism-view.json");
    let text = serde_json::to_string(&root).map_err(|e| e.to_string())?;
    std::fs::write(&out, text).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok((out, routes))
}

fn has_external_ref(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.iter().any(|(k, v)| {
            (k == "$ref" && v.as_str().is_some_and(|r| !r.starts_with('#'))) || has_external_ref(v)
        }),
        Value::Array(a) => a.iter().any(has_external_ref),
        _ => false,
    }
}

/// Rewrites `root` in place; whether anything changed, and the routes.
fn rewrite(root: &mut Value) -> (bool, BTreeMap<String, String>) {
    let mut changed = false;
    let mut routes = BTreeMap::new();
    let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) else {
        return (false, routes);
    };
    let keys: Vec<String> = paths.keys().cloned().collect();
    let mut n = 0usize;
    for key in keys {
        let Some(cut) = key.find(['#', '?']) else {
            continue;
        };
        let base = key[..cut].trim_end_matches('/');
        let suffix = loop {
            n += 1;
            let s = format!("/~{n}");
            if !paths.contains_key(&format!("{base}{s}")) {
                break s;
            }
        };
        let Some(item) = paths.remove(&key) else {
            continue;
        };
        for method in METHODS {
            if let Some(id) = item
                .get(method)
                .and_then(|op| op.get("operationId"))
                .and_then(Value::as_str)
            {
                routes.insert(id.to_owned(), suffix.clone());
            }
        }
        paths.insert(format!("{base}{suffix}"), item);
        changed = true;
    }
    for item in paths.values_mut() {
        for method in METHODS {
            let Some(responses) = item
                .get_mut(method)
                .and_then(|op| op.get_mut("responses"))
                .and_then(Value::as_object_mut)
            else {
                continue;
            };
            for response in responses.values_mut() {
                changed |= rewrite_response(response);
            }
        }
    }
    if let Some(responses) = root
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
    {
        for response in responses.values_mut() {
            changed |= rewrite_response(response);
        }
    }
    (changed, routes)
}

fn rewrite_response(response: &mut Value) -> bool {
    let mut changed = false;
    if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
        let before = headers.len();
        headers.retain(|name, _| !TRANSPORT_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
        changed |= headers.len() != before;
    }
    if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
        let object = content.get("*/*").is_some_and(|m| {
            let schema = m.get("schema");
            schema.is_some_and(|s| s.get("type").and_then(Value::as_str) != Some("string"))
        });
        if object
            && !content.contains_key("application/json")
            && let Some(m) = content.remove("*/*")
        {
            content.insert("application/json".into(), m);
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marker_keys_get_routes_and_unmockable_answers_are_rewritten() {
        let mut doc = json!({"paths": {
            "/#X-Amz-Target=Svc.A": {"post": {"operationId": "A", "responses": {}}},
            "/#X-Amz-Target=Svc.B": {"post": {"operationId": "B", "responses": {}}},
            "/{Bucket}?list-type=2": {"get": {"operationId": "List", "responses": {}}},
            "/plain": {"get": {"operationId": "Plain", "responses": {"200": {
                "headers": {"Content-Encoding": {"schema": {"type": "string", "example": "br"}},
                            "X-Kept": {"schema": {"type": "string"}}},
                "content": {"*/*": {"schema": {"$ref": "#/components/schemas/Thing"}}}
            }}}}
        }});
        let (changed, routes) = rewrite(&mut doc);
        assert!(changed);
        let paths = doc["paths"].as_object().unwrap();
        let route = |id: &str| routes[id].clone();
        assert_ne!(route("A"), route("B"));
        assert!(paths.contains_key(&route("A")), "{paths:?}");
        assert!(paths.contains_key(&route("B")));
        assert!(paths.contains_key(&format!("/{{Bucket}}{}", route("List"))));
        assert!(!routes.contains_key("Plain"));
        let ok = &doc["paths"]["/plain"]["get"]["responses"]["200"];
        assert!(ok["headers"].get("Content-Encoding").is_none());
        assert!(ok["headers"].get("X-Kept").is_some());
        assert!(ok["content"].get("application/json").is_some());
        assert!(ok["content"].get("*/*").is_none());
    }

    #[test]
    fn nothing_to_rewrite_leaves_the_description_alone() {
        let mut doc = json!({"paths": {"/a": {"get": {"responses": {"200": {
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}
        }}}}}});
        let before = doc.clone();
        let (changed, routes) = rewrite(&mut doc);
        assert!(!changed && routes.is_empty());
        assert_eq!(doc, before);
    }
}
