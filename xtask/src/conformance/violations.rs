//! Reading Prism's `sl-violations` header: the problems it found in a request and in its own answer.
//!
//! The same file is compiled into xtask's tests and copied into every conformance harness crate, so
//! the harness judges calls with exactly the code the tests check. It needs std and serde_json only.

use serde_json::Value;

/// The problems an `sl-violations` header value lists, each as (where, message), where is the first
/// element of the item's `location`: `request` or `response`.
///
/// The value is a JSON array of Prism's diagnostics, such as
/// `{"location":["request","query","per_page"],"severity":"Warning","code":"deprecated","message":"..."}`.
/// Items whose severity is a name other than `Error` are skipped: a warning (a deprecated parameter
/// was used) does not make a request invalid. A value that is not a JSON array is returned as one
/// request problem naming it, so a report that cannot be read is never taken for a clean one.
pub fn parse(header: &[u8]) -> Vec<(String, String)> {
    // Node writes header text as Latin-1; bytes outside ASCII must not hide the report.
    let text = String::from_utf8_lossy(header);
    let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&text) else {
        let shown: String = text.chars().take(200).collect();
        return vec![(
            "request".to_owned(),
            format!("unreadable sl-violations header (not a JSON array): {shown}"),
        )];
    };
    let mut out = Vec::new();
    for item in items {
        if item["severity"].as_str().is_some_and(|s| s != "Error") {
            continue;
        }
        let at = item["location"][0].as_str().unwrap_or("").to_owned();
        let message = item["message"].as_str().unwrap_or("").to_owned();
        out.push((at, message));
    }
    out
}
