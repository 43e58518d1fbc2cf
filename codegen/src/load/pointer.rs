//! JSON pointers (RFC 6901) as written in `$ref` fragments: percent-decoding, `~0`/`~1` escapes, lookup.

use std::borrow::Cow;

use super::Field as _;
use serde_json::Value;

/// Decodes `%XX` sequences; anything malformed is kept as written.
pub(crate) fn percent_decode(text: &str) -> Cow<'_, str> {
    if !text.contains('%') {
        return Cow::Borrowed(text);
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// Splits a fragment (the part after `#`) into unescaped segments; `None` if it is not a pointer.
pub(crate) fn parse(fragment: &str) -> Option<Vec<String>> {
    let decoded = percent_decode(fragment);
    if decoded.is_empty() {
        return Some(Vec::new());
    }
    let rest = decoded.strip_prefix('/')?;
    Some(rest.split('/').map(unescape).collect())
}

/// `~1` to `/`, then `~0` to `~`.
pub(crate) fn unescape(segment: &str) -> String {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~")
    } else {
        segment.to_string()
    }
}

/// `~` to `~0`, `/` to `~1`.
pub(crate) fn escape(segment: &str) -> Cow<'_, str> {
    if segment.contains(['~', '/']) {
        Cow::Owned(segment.replace('~', "~0").replace('/', "~1"))
    } else {
        Cow::Borrowed(segment)
    }
}

/// The pointer text for unescaped segments (`""` for the whole document).
pub(crate) fn join(segments: &[String]) -> String {
    let mut out = String::new();
    for segment in segments {
        out.push('/');
        out.push_str(&escape(segment));
    }
    out
}

/// The node at `segments`, if there is one.
pub(crate) fn get<'a>(mut value: &'a Value, segments: &[String]) -> Option<&'a Value> {
    for segment in segments {
        value = step(value, segment)?;
    }
    Some(value)
}

/// One step down: an object member or an array element.
pub(crate) fn step<'a>(value: &'a Value, segment: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.field(segment),
        Value::Array(items) => items.get(segment.parse::<usize>().ok()?),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_percent_and_tilde_escapes() {
        assert_eq!(percent_decode("a%20b%7B%zz%"), "a b{%zz%");
        assert_eq!(
            parse("/paths/~1users~1%7Bid%7D/a~0b~01").unwrap(),
            ["paths", "/users/{id}", "a~b~1"]
        );
        assert_eq!(parse(""), Some(vec![]));
        assert_eq!(parse("/"), Some(vec![String::new()]));
        assert_eq!(parse("anchor"), None);
        assert_eq!(join(&["a/b".into(), "c~d".into()]), "/a~1b/c~0d");
    }

    #[test]
    fn looks_up_objects_and_arrays() {
        let doc = json!({"a": [{"b": 1}], "x/y": true});
        assert_eq!(get(&doc, &parse("/a/0/b").unwrap()), Some(&json!(1)));
        assert_eq!(get(&doc, &parse("/x~1y").unwrap()), Some(&json!(true)));
        assert_eq!(get(&doc, &parse("/a/1").unwrap()), None);
        assert_eq!(get(&doc, &parse("/a/b").unwrap()), None);
    }
}
