//! Text to JSON tree: JSON or YAML chosen by the first character, errors with line and column, YAML merge keys.

use std::cell::Cell;
use std::path::Path;

use serde::de::{self, DeserializeSeed, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::Diagnostic;

/// Parses one file's text. `{` first means JSON; anything else is read as YAML (a superset of JSON).
/// YAML keys that are not strings (`200:`, `true:`) become their text, as written.
pub(crate) fn parse(text: &str, file: Option<&Path>) -> Result<Value, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let result = if text.trim_start().starts_with('{') {
        if let Some(value) = super::split::parse_in_parts(text, json_piece) {
            return Ok(value);
        }
        let mut de = serde_json::Deserializer::from_str(text);
        Tree::read(&mut de, None, usize::MAX)
            .and_then(|value| de.end().map(|()| value))
            .map_err(|e| {
                let line = (e.line() > 0).then(|| (e.line(), e.column()));
                failure("JSON", &e.to_string(), line)
            })
    } else if let Some((line, column)) = flow_deeper_than(text, PARSER_DEPTH) {
        Err(Diagnostic::error(format!(
            "the YAML nests flow collections (`[...]`, `{{...}}`) deeper than {PARSER_DEPTH} levels"
        ))
        .line(line, column)
        .help("flatten the document; the parser reads no deeper than this, and no real API description nests this deep"))
    } else {
        let budget = Budget::for_text(text);
        Tree::read(
            serde_norway::Deserializer::from_str(text),
            Some(&budget),
            usize::MAX,
        )
        .map(|mut value| {
            if text.contains("<<") {
                apply_merge_keys(&mut value);
            }
            value
        })
        .map_err(|e| {
            let line = e.location().map(|l| (l.line(), l.column()));
            if budget.exceeded.get() {
                return expanded_too_far(budget.limit, line);
            }
            failure("YAML", &e.to_string(), line)
        })
    };
    result.map_err(|diag| match file {
        Some(file) => diag.in_file(file),
        None => diag,
    })
}

/// One JSON value that is all of `text`, nested at most `limit` collections deep (a piece of a
/// document, see [`super::split`]).
pub(super) fn json_piece(text: &str, limit: usize) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Tree::read(&mut de, None, limit)?;
    de.end()?;
    Ok(value)
}

/// How deep the parsers read (serde_json's and serde_norway's recursion limit).
const PARSER_DEPTH: usize = 128;

/// Where the YAML's flow collections (`[...]`, `{...}`) first nest deeper than `limit` (1-based line
/// and column), if they do. libyaml's scanner does work proportional to the flow depth for every
/// token, so a long document nested thousands of levels deep takes minutes to scan before the
/// parser's own depth limit refuses it; this pass finds such documents in linear time. It reads just
/// enough YAML to count only real collections: quoted scalars, comments and block scalars are
/// skipped, and in block context a bracket opens a collection only where a value starts (`key: [`,
/// `- {`), not inside a plain scalar (`pattern: ^[a-z`).
fn flow_deeper_than(text: &str, limit: usize) -> Option<(usize, usize)> {
    #[derive(PartialEq)]
    enum In {
        Plain,
        Double,
        Single,
    }
    let mut state = In::Plain;
    let mut depth = 0usize;
    // Lines more indented than this belong to a block scalar (`|`, `>`) and are text.
    let mut block_scalar: Option<usize> = None;
    // A plain scalar open at the end of a line with this indentation: more indented lines continue it.
    let mut plain: Option<usize> = None;
    for (index, line) in text.split('\n').enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if let Some(parent) = block_scalar {
            if blank || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        // In block context, whether the next character starts a key or a value.
        let continues = depth == 0 && state == In::Plain && plain.is_some_and(|p| indent > p);
        let mut value_start = !continues;
        if !blank && !continues {
            plain = None;
        }
        let mut prev = ' ';
        let mut chars = line.chars().enumerate().peekable();
        while let Some((column, c)) = chars.next() {
            match state {
                In::Double => {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => state = In::Plain,
                        _ => {}
                    }
                    prev = c;
                    continue;
                }
                In::Single => {
                    if c == '\'' {
                        if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                            chars.next();
                        } else {
                            state = In::Plain;
                        }
                    }
                    prev = c;
                    continue;
                }
                In::Plain => {}
            }
            let space_before = prev == ' ' || prev == '\t';
            let quote_starts = if depth > 0 {
                space_before || matches!(prev, '[' | '{' | ',' | ':')
            } else {
                value_start
            };
            match c {
                '#' if space_before => break,
                '"' if quote_starts => {
                    state = In::Double;
                    value_start = false;
                }
                '\'' if quote_starts => {
                    state = In::Single;
                    value_start = false;
                }
                '[' | '{' if depth > 0 || value_start => {
                    depth += 1;
                    if depth > limit {
                        return Some((index + 1, column + 1));
                    }
                }
                ']' | '}' if depth > 0 => {
                    depth -= 1;
                    value_start = false;
                }
                _ if depth > 0 => {}
                ' ' | '\t' | '\r' => {}
                '|' | '>' if value_start => {
                    block_scalar = Some(indent);
                    break;
                }
                '-' | '?' | ':'
                    if chars
                        .peek()
                        .is_none_or(|(_, n)| matches!(n, ' ' | '\t' | '\r')) =>
                {
                    value_start = true;
                }
                // An anchor or a tag before a value: the value still starts after it.
                '&' | '!' if value_start => {
                    while chars.next_if(|(_, n)| !matches!(n, ' ' | '\t')).is_some() {}
                }
                _ => value_start = false,
            }
            prev = c;
        }
        if depth == 0 && state == In::Plain && !value_start && !blank && !continues {
            plain = Some(indent);
        }
    }
    None
}

fn failure(format: &str, message: &str, line: Option<(usize, usize)>) -> Diagnostic {
    // Parsers append " at line L column C" for the reported position, which the diagnostic carries
    // itself; other positions in the message (the context a YAML error started in) are kept.
    let message = match line {
        Some((l, c)) => message
            .strip_suffix(&format!(" at line {l} column {c}"))
            .unwrap_or(message),
        None => message,
    };
    let diag = Diagnostic::error(format!("not valid {format}: {message}")).help(format!(
        "fix the {format} syntax at the reported position; the description must be one {format} document"
    ));
    match line {
        Some((l, c)) => diag.line(l, c),
        None => diag,
    }
}

/// Values a YAML text may hold beyond two per byte of text: room for anchors that aliases and merge
/// keys reuse, not for alias bombs (a large anchored list aliased thousands of times is a tree of
/// billions of values built from a few kilobytes).
const ALIAS_ALLOWANCE: usize = 1 << 20;

/// How many more values the YAML being read may produce.
struct Budget {
    limit: usize,
    left: Cell<usize>,
    exceeded: Cell<bool>,
}

impl Budget {
    fn for_text(text: &str) -> Budget {
        let limit = text.len().saturating_mul(2).saturating_add(ALIAS_ALLOWANCE);
        Budget {
            limit,
            left: Cell::new(limit),
            exceeded: Cell::new(false),
        }
    }
}

fn expanded_too_far(limit: usize, line: Option<(usize, usize)>) -> Diagnostic {
    let diag = Diagnostic::error(format!(
        "the YAML expands to more than {limit} values through its anchors and aliases"
    ))
    .help("an alias of a large anchor repeated many times multiplies the document; repeat it less, or share the part with a `$ref`");
    match line {
        Some((l, c)) => diag.line(l, c),
        None => diag,
    }
}

/// Scratch stacks shared by every level of one parse. An object's entries (an array's items) are
/// gathered on top of its stack and then moved into a map (a vector) of exactly their number.
/// serde_json's own `Value` grows each collection as it reads, so most of a description's objects,
/// which hold one to three keys, would carry room for more, for as long as the description lives:
/// for Microsoft Graph beta, the heap peaks at the end of the parse, text included, at 347 MB that
/// way and at 261 MB this way (heaptrack, on a build without mimalloc).
#[derive(Default)]
struct Stacks {
    entries: Vec<(String, Value)>,
    items: Vec<Value>,
}

/// Reads one JSON or YAML value into a JSON tree of collections of exact size (see [`Stacks`]).
/// What JSON gives is what serde_json's own `Value` reads: integers stay integers, a float that is
/// not finite becomes null, a repeated key keeps its first place and its last value. YAML adds to
/// that: keys that are not strings become their text ([`KeyText`]), integers beyond 64 bits become
/// floats, custom tags (`!Thing value`) give way to their value, and every value is counted against
/// the [`Budget`], which JSON (no aliases) does not need.
struct Tree<'s> {
    stacks: &'s mut Stacks,
    budget: Option<&'s Budget>,
    /// Collections this value is inside of, and how many it may be inside of.
    depth: usize,
    limit: usize,
}

impl Tree<'_> {
    /// The whole document `deserializer` holds, on stacks of its own, with collections nested at
    /// most `limit` deep (beyond the parser's own limit).
    fn read<'de, D: de::Deserializer<'de>>(
        deserializer: D,
        budget: Option<&Budget>,
        limit: usize,
    ) -> Result<Value, D::Error> {
        let mut stacks = Stacks::default();
        Tree {
            stacks: &mut stacks,
            budget,
            depth: 0,
            limit,
        }
        .deserialize(deserializer)
    }

    /// The same reader for a value one level down.
    fn nested(&mut self) -> Tree<'_> {
        Tree {
            stacks: &mut *self.stacks,
            budget: self.budget,
            depth: self.depth + 1,
            limit: self.limit,
        }
    }

    /// A collection here is within the limit.
    fn enter<E: de::Error>(&self) -> Result<(), E> {
        if self.depth >= self.limit {
            return Err(E::custom("nested deeper than the limit"));
        }
        self.count()
    }

    /// Counts one value against the budget, if there is one.
    fn count<E: de::Error>(&self) -> Result<(), E> {
        let Some(budget) = self.budget else {
            return Ok(());
        };
        match budget.left.get().checked_sub(1) {
            Some(left) => {
                budget.left.set(left);
                Ok(())
            }
            None => {
                budget.exceeded.set(true);
                Err(E::custom("too many values"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Tree<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Tree<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON or YAML value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Number(v.into()))
    }
    // serde_json reads integers beyond 64 bits as floats itself; serde_norway hands them here.
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        self.count()?;
        Ok(match (i64::try_from(v), u64::try_from(v)) {
            (Ok(small), _) => Value::Number(small.into()),
            (_, Ok(small)) => Value::Number(small.into()),
            _ => float(v as f64),
        })
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        self.count()?;
        Ok(u64::try_from(v).map_or_else(|_| float(v as f64), |small| Value::Number(small.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.count()?;
        Ok(float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.count()?;
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.count()?;
        Ok(Value::String(v))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.count()?;
        Ok(Value::Null)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        self.enter()?;
        let start = self.stacks.items.len();
        while let Some(item) = seq.next_element_seed(self.nested())? {
            self.stacks.items.push(item);
        }
        Ok(Value::Array(self.stacks.items.drain(start..).collect()))
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        self.enter()?;
        let start = self.stacks.entries.len();
        while let Some(key) = map.next_key_seed(KeyText)? {
            let value = map.next_value_seed(self.nested())?;
            self.stacks.entries.push((key, value));
        }
        let mut out = Map::with_capacity(self.stacks.entries.len() - start);
        // Inserted one by one, so a repeated key keeps its first place and its last value, as in
        // serde_json's own `Value`.
        for (key, value) in self.stacks.entries.drain(start..) {
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (_tag, variant) = data.variant::<de::IgnoredAny>()?;
        variant.newtype_variant_seed(self)
    }
}

fn float(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

/// A mapping key as the text it was written as (`200`, `true`, `1.5` stay text).
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = String;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyText {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a scalar mapping key")
    }
    fn visit_str<E>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
}

/// YAML 1.1 merge keys (`<<: *base` or `<<: [*a, *b]`): keys already in the map win, earlier sources win.
fn apply_merge_keys(value: &mut Value) {
    let mut stack = vec![value];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(map) => {
                if let Some(merge) = map.shift_remove("<<") {
                    let sources = match merge {
                        Value::Object(source) => vec![source],
                        Value::Array(items) => items
                            .into_iter()
                            .filter_map(|item| match item {
                                Value::Object(source) => Some(source),
                                _ => None,
                            })
                            .collect(),
                        other => {
                            map.insert("<<".to_string(), other);
                            Vec::new()
                        }
                    };
                    for source in sources {
                        for (key, value) in source {
                            map.entry(key).or_insert(value);
                        }
                    }
                }
                stack.extend(map.values_mut());
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_keys_become_strings_and_merge_keys_apply() {
        let text = "base: &base {a: 1, b: 2}\nderived:\n  <<: *base\n  b: 3\n200: ok\ntrue: yes\non: 1\n1.5: x\n";
        let value = parse(text, None).unwrap();
        assert_eq!(
            value,
            json!({"base": {"a": 1, "b": 2}, "derived": {"b": 3, "a": 1}, "200": "ok", "true": "yes", "on": 1, "1.5": "x"})
        );
    }

    #[test]
    fn yaml_big_integers_become_floats_and_tags_are_dropped() {
        let value = parse(
            "min: -9223372036854776000\nmax: 18446744073709551615\nbig: 1e400\ntagged: !Thing 3\n",
            None,
        )
        .unwrap();
        assert_eq!(value["min"].as_f64(), Some(-9223372036854776000.0));
        assert_eq!(value["max"], json!(u64::MAX));
        assert_eq!(value["tagged"], json!(3));
        // YAML is read into collections of exact size too, block and flow style alike.
        let value = parse(
            "only: [7]\nmore:\n- 1\n- 2\n- 3\nnested: {a: [x, y]}\n",
            None,
        )
        .unwrap();
        assert_eq!(value["only"].as_array().unwrap().capacity(), 1);
        assert_eq!(value["more"].as_array().unwrap().capacity(), 3);
        assert_eq!(value["nested"], json!({"a": ["x", "y"]}));
        assert_eq!(value["nested"]["a"].as_array().unwrap().capacity(), 2);
        assert!(parse("? [a, b]\n: c\n", None).is_err());
        assert!(parse("a: 1\n---\nb: 2\n", None).is_err());
    }

    #[test]
    fn json_reads_as_serde_json_does_with_collections_of_exact_size() {
        let text = r#"{"b": [1, -2, 3.5, 1e300, 18446744073709551615, 18446744073709551616, "x", null, true, [], {}],
            "a": {"k": {"deep": [[{"z": 1}]]}, "k2": "v"}, "b": "again", "c": {"x": 1, "x": 2, "y": 3}}"#;
        let ours = parse(text, None).unwrap();
        let theirs: Value = serde_json::from_str(text).unwrap();
        assert_eq!(ours, theirs);
        // Same order of keys too (a repeated key keeps its first place and its last value).
        assert_eq!(ours.to_string(), theirs.to_string());
        let c = ours["c"].as_object().unwrap();
        assert_eq!(c.keys().collect::<Vec<_>>(), ["x", "y"]);
        assert_eq!(c["x"], json!(2));
        assert_eq!(ours["a"]["k"]["deep"][0][0]["z"], json!(1));
        assert!(ours["b"].is_string());
        // A one-item array holds room for exactly one (serde_json's map does not tell its capacity).
        let one = parse(r#"{"only": [7], "more": [1, 2, 3, 4, 5]}"#, None).unwrap();
        assert_eq!(one["only"].as_array().unwrap().capacity(), 1);
        assert_eq!(one["more"].as_array().unwrap().capacity(), 5);
        assert!(parse(r#"{"a": 1} trailing"#, None).is_err());
        assert!(parse(r#"{"a": 1e400}"#, None).is_err());
        assert!(parse(r#"{"a": [1, 2}"#, None).is_err());
    }

    #[test]
    fn json_error_has_line_and_column() {
        let err = parse("{\n  \"a\": 1,\n  \"b\": }\n", Some(Path::new("x.json"))).unwrap_err();
        assert_eq!(err.line, Some((3, 8)));
        assert!(
            err.message.starts_with("not valid JSON: "),
            "{}",
            err.message
        );
        assert!(!err.message.contains(" at line "), "{}", err.message);
        assert!(err.help.is_some());
        assert_eq!(err.file.as_deref(), Some(Path::new("x.json")));
    }

    #[test]
    fn alias_bombs_are_an_error_and_ordinary_aliases_are_not() {
        // An anchored list of 4,000 values aliased 4,000 times: 16 million values from 30 kB of text.
        let list = vec!["1"; 4000].join(",");
        let aliases = vec!["*b"; 4000].join(",");
        let bomb = format!("openapi: 3.0.3\nx-base: &b [{list}]\nx-many: [{aliases}]\n");
        let err = parse(&bomb, Some(Path::new("bomb.yaml"))).unwrap_err();
        assert!(
            err.message.contains("anchors and aliases"),
            "{}",
            err.message
        );
        assert!(err.help.is_some());
        assert_eq!(err.file.as_deref(), Some(Path::new("bomb.yaml")));
        // Anchors reused a few times are what aliases are for.
        let shared = format!("x-base: &b [{list}]\nx-many: [*b, *b, *b, *b]\n");
        let value = parse(&shared, None).unwrap();
        assert_eq!(value["x-many"][3].as_array().map(Vec::len), Some(4000));
    }

    #[test]
    fn deep_flow_nesting_in_yaml_is_refused_before_the_parser_scans_it() {
        // 100,000 levels: libyaml alone would take many minutes (its work per token grows with depth).
        let deep = format!(
            "openapi: 3.0.3\nx:\n  y: {}1{}\n",
            "{\"a\": ".repeat(100_000),
            "}".repeat(100_000)
        );
        let started = std::time::Instant::now();
        let err = parse(&deep, None).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        assert!(err.message.contains("deeper than 128"), "{}", err.message);
        assert_eq!(err.line, Some((3, 6 + 6 * 128)));
        // JSON as YAML (a top-level array) is flow style all through.
        let deep = format!("{}{}", "[".repeat(129), "]".repeat(129));
        assert_eq!(flow_deeper_than(&deep, 128), Some((1, 129)));
        assert_eq!(flow_deeper_than(&deep[1..deep.len() - 1], 128), None);
    }

    #[test]
    fn brackets_in_text_are_not_nesting() {
        let many = "[{".repeat(200);
        let text = format!(
            "a: \"{many} \\\" {many}\"\nb: '{many} '' {many}'\nc: x {many} # {many}\n# {many}\nd: |\n  {many}\n\n  {many}\ne: >-\n    {many}\nf: [a, '{many}', \"{many}\", b{{c}}]\ng: don't {many}\nh: &anchor !tag [1, [2]]\nk: x\n  {many}\nl:\n- x\n  {many}\n"
        );
        assert_eq!(flow_deeper_than(&text, 128), None);
        // The same brackets where a value starts are collections.
        assert_eq!(flow_deeper_than(&format!("a: {many}"), 128), Some((1, 132)));
        assert_eq!(
            flow_deeper_than(&format!("- &x {many}"), 128),
            Some((1, 134))
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep, None).is_err());
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse(&deep, None).is_err());
    }
}
