//! A large pretty-printed JSON description read on two threads.
//!
//! JSON has no line breaks inside strings, so in a document printed with one member per line and a
//! fixed indentation (what `JSON.stringify(v, null, 2)`, `json.dumps(v, indent=2)` and most
//! publishers write), a line that starts with exactly the indentation of an object's members
//! followed by `"` starts a member of that object. The document is cut at such lines into the values
//! of its largest members (and of their largest members, a few levels down), which are parsed on
//! two threads and put back together in order.
//!
//! Nothing is taken on trust: every cut is checked as it is made (the text between two values must
//! be exactly a comma, whitespace and the next `"key": `), and every value must parse on its own to
//! its last byte. Then the pieces make up the document exactly, and the tree is the one a single
//! parse gives. Any doubt (a document written otherwise, a value that does not parse, one nested
//! deeper than [`DEPTH_LIMIT`]) gives `None`, and the caller parses the whole text on one thread,
//! which also reports errors with their line and column.

use serde_json::{Map, Value};

/// Below this size a second thread costs about what it saves.
const MIN_SIZE: usize = 2 << 20;

/// Nesting a piece may have: deeper pieces are left to the single parse, whose recursion limit
/// (128 levels, counted from the document's root) decides. Pieces start at most [`MAX_LEVELS`] + 1
/// levels down, so a piece within this limit is within that one.
const DEPTH_LIMIT: usize = 100;

/// How many levels below the root members are cut (the root's members are level one).
const MAX_LEVELS: usize = 3;

/// A piece of the document: a value's text, or an object cut into its members.
enum Part<'t> {
    Whole(&'t str),
    Object(Vec<(String, Part<'t>)>),
}

/// The document in `text` parsed in pieces on two threads, or `None` when it is not a large
/// pretty-printed object that cuts cleanly, or a piece does not parse (see the module's doc).
/// `parse` reads one piece (a whole JSON value) with nesting at most its second argument.
pub(super) fn parse_in_parts<E>(
    text: &str,
    parse: impl Fn(&str, usize) -> Result<Value, E> + Sync,
) -> Option<Value> {
    if text.len() < MIN_SIZE {
        return None;
    }
    cut_and_parse(text, parse)
}

/// [`parse_in_parts`] at any size.
fn cut_and_parse<E>(
    text: &str,
    parse: impl Fn(&str, usize) -> Result<Value, E> + Sync,
) -> Option<Value> {
    let mut root = Part::Object(members(text, 0)?);
    // Cut the largest piece while it is more than a quarter of the text, so the two threads'
    // shares can be made about even.
    for _ in 0..16 {
        let Some((len, level, part)) = largest(&mut root, 0) else {
            break;
        };
        if len * 4 < text.len() || level >= MAX_LEVELS {
            break;
        }
        let Part::Whole(value) = *part else {
            break;
        };
        let Some(inner) = indentation_of_members(value).and_then(|i| members(value, i)) else {
            break;
        };
        *part = Part::Object(inner);
    }
    let mut pieces = Vec::new();
    collect(&root, &mut pieces);
    // The longest pieces first, each to the thread with less so far.
    let mut order: Vec<usize> = (0..pieces.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(pieces[i].len()));
    let (mut mine, mut theirs) = (Vec::new(), Vec::new());
    let (mut mine_len, mut theirs_len) = (0, 0);
    for i in order {
        if mine_len <= theirs_len {
            mine_len += pieces[i].len();
            mine.push(i);
        } else {
            theirs_len += pieces[i].len();
            theirs.push(i);
        }
    }
    let read = |indices: &[usize]| -> Option<Vec<(usize, Value)>> {
        indices
            .iter()
            .map(|&i| parse(pieces[i], DEPTH_LIMIT).ok().map(|v| (i, v)))
            .collect()
    };
    let (here, there) = std::thread::scope(|s| {
        let there = std::thread::Builder::new()
            .name("connector-gen parse".to_owned())
            .spawn_scoped(s, || read(&theirs));
        let here = read(&mine);
        let there = match there {
            Ok(handle) => handle.join().ok().flatten(),
            // No second thread: this one reads the other share too.
            Err(_) => read(&theirs),
        };
        (here, there)
    });
    let mut values: Vec<Option<Value>> = (0..pieces.len()).map(|_| None).collect();
    for (i, v) in here?.into_iter().chain(there?) {
        values[i] = Some(v);
    }
    let mut values = values.into_iter();
    assemble(root, &mut values)
}

/// The piece of `part` (at `level`) with the longest text, with its length and level.
fn largest<'p, 't>(
    part: &'p mut Part<'t>,
    level: usize,
) -> Option<(usize, usize, &'p mut Part<'t>)> {
    match part {
        Part::Whole(text) => Some((text.len(), level, part)),
        Part::Object(members) => members
            .iter_mut()
            .filter_map(|(_, p)| largest(p, level + 1))
            .max_by_key(|(len, _, _)| *len),
    }
}

/// The texts of the whole pieces, in document order.
fn collect<'t>(part: &Part<'t>, out: &mut Vec<&'t str>) {
    match part {
        Part::Whole(text) => out.push(text),
        Part::Object(members) => members.iter().for_each(|(_, p)| collect(p, out)),
    }
}

/// The tree from the parsed pieces, taken in document order. Maps get exactly their size, and a
/// repeated key keeps its first place and its last value, as in a single parse.
fn assemble(part: Part<'_>, values: &mut impl Iterator<Item = Option<Value>>) -> Option<Value> {
    match part {
        Part::Whole(_) => values.next().flatten(),
        Part::Object(members) => {
            let mut map = Map::with_capacity(members.len());
            for (key, part) in members {
                map.insert(key, assemble(part, values)?);
            }
            Some(Value::Object(map))
        }
    }
}

/// The indentation of the members of the object whose text is `value` (`{`, a line break, then
/// its first member's line).
fn indentation_of_members(value: &str) -> Option<usize> {
    let rest = value.strip_prefix('{')?;
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let indent = rest.len() - rest.trim_start_matches(' ').len();
    (indent > 0 && rest[indent..].starts_with('"')).then_some(indent)
}

/// The members of the object whose text is `object` (from its `{` to its `}`), each with the text
/// of its value, when its members' lines are indented `indent` spaces (found from the first when
/// `indent` is 0) and the text between them is exactly what JSON allows there.
fn members(object: &str, indent: usize) -> Option<Vec<(String, Part<'_>)>> {
    let indent = match indent {
        0 => indentation_of_members(object)?,
        n => n,
    };
    let bytes = object.as_bytes();
    let close = object.trim_end_matches(is_space).len().checked_sub(1)?;
    if bytes.first() != Some(&b'{') || bytes[close] != b'}' {
        return None;
    }
    // Where each member's line starts: a line break, exactly `indent` spaces, a quote.
    let mut needle = vec![b'\n'];
    needle.resize(indent + 1, b' ');
    needle.push(b'"');
    let starts: Vec<usize> = memchr::memmem::find_iter(&bytes[..close], &needle)
        .map(|at| at + 1)
        .collect();
    // Nothing but whitespace between `{` and the first member.
    let first = *starts.first()?;
    if !object[1..first].chars().all(is_space) {
        return None;
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &start) in starts.iter().enumerate() {
        let line = &object[start + indent..];
        let key_len = string_len(line)?;
        let key: String = serde_json::from_str(&line[..key_len]).ok()?;
        let after_key = &line[key_len..];
        let value_start = start
            + indent
            + key_len
            + (after_key.len() - after_key.trim_start_matches(is_space).len());
        let after_colon = object[value_start..].strip_prefix(':')?;
        let value_start = object.len() - after_colon.trim_start_matches(is_space).len();
        // The value ends at the next member's comma, or at the object's `}`.
        let end = match starts.get(n + 1) {
            Some(&next) => {
                let before = object[..next].trim_end_matches(is_space);
                let before = before.strip_suffix(',')?;
                before.trim_end_matches(is_space).len()
            }
            None => object[..close].trim_end_matches(is_space).len(),
        };
        if end <= value_start {
            return None;
        }
        out.push((key, Part::Whole(&object[value_start..end])));
    }
    Some(out)
}

/// The length of the JSON string literal `text` starts with (quotes included).
fn string_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            b'\n' => return None,
            _ => i += 1,
        }
    }
    None
}

/// JSON's whitespace.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(text: &str) -> Option<Value> {
        cut_and_parse(text, super::super::parse::json_piece)
    }

    /// A document whose largest members are cut a few levels down.
    fn sample() -> Value {
        let mut paths = Map::new();
        for i in 0..40 {
            paths.insert(
                format!("/items/{i}/a\"b\\c\": d"),
                json!({"get": {"responses": {"200": {"description": format!("item {i}"), "content": [1, 2.5, null, true, "x"]}}}}),
            );
        }
        let mut schemas = Map::new();
        for i in 0..60 {
            schemas.insert(
                format!("S{i}"),
                json!({"type": "object", "properties": {"a": {"type": "string"}}, "x": []}),
            );
        }
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": paths,
            "components": {"schemas": schemas, "empty": {}, "list": [{"a": 1}, {"b": [2]}]},
            "last": "end"
        })
    }

    #[test]
    fn a_pretty_printed_document_reads_as_one_parse_reads_it() {
        let value = sample();
        let two = serde_json::to_string_pretty(&value).unwrap();
        assert_eq!(split(&two), Some(value.clone()));
        // Four spaces, and line breaks written as CRLF.
        let mut four = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut four, formatter);
        serde::Serialize::serialize(&value, &mut ser).unwrap();
        let four = String::from_utf8(four).unwrap();
        assert_eq!(split(&four), Some(value.clone()));
        assert_eq!(split(&two.replace('\n', "\r\n")), Some(value.clone()));
        // Trailing whitespace and a final line break are JSON's whitespace.
        assert_eq!(split(&format!("{two}\n\n  ")), Some(value));
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_its_last_value() {
        let text = "{\n  \"a\": 1,\n  \"b\": {\n    \"x\": 1,\n    \"y\": 2,\n    \"x\": 3\n  },\n  \"a\": 4\n}";
        let one: Value = serde_json::from_str(text).unwrap();
        let parts = split(text).unwrap();
        assert_eq!(parts, one);
        assert_eq!(
            serde_json::to_string(&parts).unwrap(),
            serde_json::to_string(&one).unwrap()
        );
    }

    #[test]
    fn documents_written_otherwise_are_left_to_one_parse() {
        let value = sample();
        // Minified: no member lines.
        assert_eq!(split(&serde_json::to_string(&value).unwrap()), None);
        let two = serde_json::to_string_pretty(&value).unwrap();
        // Something after the document, or a value that does not parse.
        assert_eq!(split(&format!("{two} x")), None);
        assert_eq!(split(&two.replacen("\"3.0.3\"", "3.0.3", 1)), None);
        // A line at a member's indentation that is not a member: an array's items, a nested
        // object's members, a value continued on the next line.
        for text in [
            "{\n  \"a\": [\n  \"x\",\n  \"y\"],\n  \"b\": 1\n}",
            "{\n  \"a\": {\n  \"x\": 1\n  },\n  \"b\": 1\n}",
            "{\n  \"a\": {\"c\": 1,\n  \"d\": 2},\n  \"b\": 1\n}",
            "{\n  \"a\": 1\n  \"b\": 1\n}",
            "{\n  \"a\": 1,,\n  \"b\": 1\n}",
            "{\n  \"a\" 1,\n  \"b\": 1\n}",
            "{ \"z\": 0,\n  \"a\": 1\n}",
        ] {
            let one = serde_json::from_str::<Value>(text).ok();
            let parts = split(text);
            assert!(parts.is_none() || parts == one, "{text}");
        }
    }

    #[test]
    fn a_piece_nested_beyond_the_limit_is_left_to_one_parse() {
        let deep = format!(
            "{}1{}",
            "[".repeat(DEPTH_LIMIT + 1),
            "]".repeat(DEPTH_LIMIT + 1)
        );
        let text = format!("{{\n  \"a\": 1,\n  \"b\": {deep}\n}}");
        assert_eq!(split(&text), None);
        let fits = format!("{}1{}", "[".repeat(DEPTH_LIMIT), "]".repeat(DEPTH_LIMIT));
        let text = format!("{{\n  \"a\": 1,\n  \"b\": {fits}\n}}");
        assert_eq!(split(&text), serde_json::from_str(&text).ok());
    }
}
