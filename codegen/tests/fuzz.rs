//! Fuzzing the generator: any description gives files or diagnostics, never a panic, hang or overflow.
//!
//! Each case is a description written to a scratch folder and handed to the entry points the fronts
//! use (`generate` for the CLI and xtask, `generate_tokens` for the macro and `build.rs`,
//! `conformance_harness` for conformance runs) with default settings, on a thread with an 8 MiB stack
//! (a main thread's) and a wall-clock limit. Cases are built by proptest strategies from a seed of their
//! own:
//!
//! - OpenAPI 3.x and Swagger 2.0 documents assembled from random parts: versions (junk included),
//!   paths, operations, parameters, bodies, responses, security schemes, webhooks, paging extensions,
//!   and schemas with `$ref`s (cyclic, missing, to non-objects, to other files), `allOf`/`oneOf`/`anyOf`,
//!   enums of mixed types, numbers such as `1e400` and `18446744073709551616`, odd keys, long strings
//!   and patterns, written as JSON or YAML, next to a second file their refs may name;
//! - long chains of components (`A0 -> A1 -> ...`, by property, `allOf`, `items`, ref to ref...),
//!   which parse flat but make every recursive walk go deep, and wide ones that make it branch;
//! - nesting thousands of levels deep in objects, arrays and schemas, in JSON and YAML;
//! - YAML's own shapes: anchors and aliases (alias bombs too), merge keys, tags, keys that are not text;
//! - real vendor descriptions (read from the shared corpus, never copied) with random mutations: keys
//!   deleted, values of the wrong type, `$ref`s pointed elsewhere or at themselves, subtrees copied
//!   into themselves, huge numbers, deep wrapping;
//! - text with random edits, and raw bytes.
//!
//! A case passes when every entry point returns: files, or an error `Diagnostic` (never one the
//! generator calls its own bug). A panic fails the run with the case's seed and a shrunk input; a case
//! past the limit fails it with its seed; a stack overflow aborts the process, whose message names the
//! thread, and the thread's name is the case's seed. Failing inputs are saved under the system's
//! temporary folder (`connector-fuzz-<pid>/failure-<seed>/`). At the end the run prints how many
//! cases ran and how many produced code or diagnostics, by kind.
//!
//! The default run is short and deterministic (a fixed seed and case count). Longer runs:
//!
//! ```text
//! FUZZ_SECONDS=600 cargo test -p connector-codegen --release --test fuzz -- --nocapture
//! FUZZ_CASES=20000 FUZZ_SEED=7 cargo test -p connector-codegen --release --test fuzz -- --nocapture
//! FUZZ_REPLAY=0x9e3779b97f4a7c15 cargo test -p connector-codegen --test fuzz -- --nocapture
//! ```
//!
//! `FUZZ_SEED` picks the run, `FUZZ_CASES` and `FUZZ_SECONDS` bound it (whichever comes first when
//! both are set), `FUZZ_REPLAY` runs the one case with that seed (debug and release builds make the
//! same case), `FUZZ_TIMEOUT` is the limit per case in seconds (default 20), `FUZZ_VERBOSE=1` prints
//! every case and what `generate` made of it. The vendor descriptions are looked for in
//! `CONNECTOR_SPECS_DIR`, else in the shared corpus beside the repository; without them the mutation
//! cases are left out, with a message (and seeds then make other cases).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use connector_codegen::{Diagnostic, Settings, Severity};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::{BoxedStrategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value as Json, json};

// ---------------------------------------------------------------------------------------------------------------
// Budget

/// What the environment asks of this run.
struct Budget {
    seed: u64,
    cases: Option<u64>,
    time: Option<Duration>,
    replay: Option<u64>,
    limit: Duration,
}

/// The default run: enough cases to touch every strategy, few enough for CI in a debug build.
const DEFAULT_CASES: u64 = 64;
const DEFAULT_SEED: u64 = 0x00c0_ffee_5eed_0001;

fn number_var(name: &str) -> Option<u64> {
    let text = std::env::var(name).ok()?;
    let text = text.trim().replace('_', "");
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    match parsed {
        Ok(n) => Some(n),
        Err(e) => panic!("{name}={text:?} is not a number: {e}"),
    }
}

impl Budget {
    fn from_env() -> Budget {
        let cases = number_var("FUZZ_CASES");
        let time = number_var("FUZZ_SECONDS").map(Duration::from_secs);
        Budget {
            seed: number_var("FUZZ_SEED").unwrap_or(DEFAULT_SEED),
            cases: match (cases, time) {
                (None, None) => Some(DEFAULT_CASES),
                (cases, _) => cases,
            },
            time,
            replay: number_var("FUZZ_REPLAY"),
            limit: Duration::from_secs(number_var("FUZZ_TIMEOUT").unwrap_or(20)),
        }
    }
}

/// splitmix64: the seed of case `i` of a run, and the words of a case's generator seed.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn case_seed(run: u64, i: u64) -> u64 {
    splitmix(run.wrapping_add(i.wrapping_mul(0xd1b5_4a32_d192_ed03)))
}

fn runner_for(seed: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    let mut x = seed;
    for chunk in bytes.chunks_mut(8) {
        x = splitmix(x);
        chunk.copy_from_slice(&x.to_le_bytes());
    }
    TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

// ---------------------------------------------------------------------------------------------------------------
// Cases

/// One fuzz input, before it is written out.
#[derive(Debug, Clone)]
enum Case {
    /// A document built from parts, written as JSON or YAML, beside a second file its refs may name.
    Built {
        kind: &'static str,
        doc: Json,
        yaml: bool,
        sibling: Json,
    },
    /// A vendor description with mutations, written as JSON or YAML.
    Mutated {
        spec: usize,
        yaml: bool,
        mutations: Vec<Mutation>,
    },
    /// A built document's text with byte edits.
    Edited {
        doc: Json,
        yaml: bool,
        edits: Vec<Edit>,
    },
    /// Text written as it is.
    Text { kind: &'static str, text: String },
    /// Bytes written as they are.
    Bytes(Vec<u8>),
}

impl Case {
    fn kind(&self) -> &'static str {
        match self {
            Case::Built { kind, .. } | Case::Text { kind, .. } => kind,
            Case::Mutated { .. } => "mutated vendor",
            Case::Edited { .. } => "edited text",
            Case::Bytes(_) => "raw bytes",
        }
    }
}

/// A change to a vendor description. Nodes are picked by index among the document's nodes at the
/// time the mutation applies, so a list of mutations stays meaningful while it shrinks.
#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index),
    Replace(Index, Json),
    Insert(Index, String, Json),
    Retarget(Index, Target),
    CopyInto(Index, Index),
    Nest(Index, u8),
    Wrap(Index, &'static str, usize),
}

/// Where a retargeted `$ref` points.
#[derive(Debug, Clone)]
enum Target {
    Itself,
    Parent,
    Node(Index),
    Text(String),
}

/// A byte edit of a text.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(Index),
    Remove(Index, usize),
    Insert(Index, Vec<u8>),
    Flip(Index, u8),
}

/// The key of a marker object standing for raw text in the output (a number JSON cannot hold).
const RAW: &str = "\u{1}raw";
/// The key of a marker object standing for `depth` levels of nesting of a kind around a value.
const WRAP: &str = "\u{1}wrap";

fn raw(text: &str) -> Json {
    json!({ RAW: text })
}

fn wrap(kind: &str, depth: usize, inner: Json) -> Json {
    json!({ WRAP: { "kind": kind, "depth": depth, "inner": inner } })
}

// ---------------------------------------------------------------------------------------------------------------
// Rendering

/// Opening and closing text of one level of nesting of a kind (valid JSON, and YAML flow style).
fn wrapper(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "array" => ("[", "]"),
        "object" => ("{\"a\": ", "}"),
        "items" => ("{\"type\": \"array\", \"items\": ", "}"),
        "properties" => (
            "{\"type\": \"object\", \"required\": [\"p\"], \"properties\": {\"p\": ",
            "}}",
        ),
        "allOf" => ("{\"allOf\": [", "]}"),
        "oneOf" => ("{\"oneOf\": [{\"type\": \"null\"}, ", "]}"),
        "anyOf" => ("{\"anyOf\": [", ", {\"type\": \"string\"}]}"),
        "additionalProperties" => ("{\"type\": \"object\", \"additionalProperties\": ", "}"),
        "not" => ("{\"not\": ", "}"),
        _ => ("{\"x-unknown\": ", "}"),
    }
}

const WRAP_KINDS: &[&str] = &[
    "array",
    "object",
    "items",
    "properties",
    "allOf",
    "oneOf",
    "anyOf",
    "additionalProperties",
    "not",
];

/// Nesting depths around the limits that matter: the generator's own walks (12, 16, 48, 64), the
/// parsers' (128), the loader's (512), and far beyond.
const DEPTHS: &[usize] = &[
    1, 2, 11, 12, 13, 16, 17, 30, 47, 48, 49, 50, 63, 64, 65, 100, 120, 126, 127, 128, 129, 200,
    256, 511, 512, 513, 1000, 3000, 5000, 20000,
];

/// Depths of nesting inside a document: mostly what the parsers accept (so the generator's walks
/// meet it), now and then what they refuse.
fn depth() -> BoxedStrategy<usize> {
    prop_oneof![
        6 => select(&[1usize, 2, 11, 12, 13, 16, 17, 30, 40, 47, 48, 49, 50][..]),
        1 => select(DEPTHS),
    ]
    .boxed()
}

fn marker(map: &Map<String, Json>) -> Option<Marker<'_>> {
    if map.len() != 1 {
        return None;
    }
    if let Some(Json::String(text)) = map.get(RAW) {
        return Some(Marker::Raw(text));
    }
    let w = map.get(WRAP)?;
    Some(Marker::Wrap(
        w.get("kind")?.as_str()?,
        w.get("depth")?.as_u64()? as usize,
        w.get("inner")?,
    ))
}

enum Marker<'a> {
    Raw(&'a str),
    Wrap(&'a str, usize, &'a Json),
}

/// A JSON string literal (which YAML reads the same way).
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// A YAML double-quoted scalar: JSON's escapes, plus escapes for what YAML does not allow raw (DEL,
/// C1 controls, surrogates' neighbours, U+FFFE/U+FFFF).
fn yaml_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{20}'..='\u{7e}'
            | '\u{a0}'..='\u{d7ff}'
            | '\u{e000}'..='\u{fffd}'
            | '\u{10000}'.. => out.push(c),
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// JSON text, markers expanded.
fn write_json(v: &Json, out: &mut String) {
    write_flow(v, false, out);
}

/// JSON text, or with `yaml` the same in YAML's flow style (strings quoted the YAML way).
fn write_flow(v: &Json, yaml: bool, out: &mut String) {
    let quote = |text: &str| {
        if yaml {
            yaml_quoted(text)
        } else {
            quoted(text)
        }
    };
    match v {
        Json::Object(map) => match marker(map) {
            Some(Marker::Raw(text)) => out.push_str(text),
            Some(Marker::Wrap(kind, depth, inner)) => {
                let (open, close) = wrapper(kind);
                for _ in 0..depth {
                    out.push_str(open);
                }
                write_flow(inner, yaml, out);
                for _ in 0..depth {
                    out.push_str(close);
                }
            }
            None => {
                out.push('{');
                for (i, (k, x)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&quote(k));
                    out.push_str(": ");
                    write_flow(x, yaml, out);
                }
                out.push('}');
            }
        },
        Json::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_flow(x, yaml, out);
            }
            out.push(']');
        }
        Json::String(text) => out.push_str(&quote(text)),
        other => out.push_str(&other.to_string()),
    }
}

fn is_block(v: &Json) -> bool {
    match v {
        Json::Object(map) => !map.is_empty() && marker(map).is_none(),
        Json::Array(items) => !items.is_empty(),
        _ => false,
    }
}

/// Block-style YAML: every key and string double-quoted, markers and empty collections in flow style
/// (JSON text, which YAML reads), keys longer than YAML's 1024-character limit for simple keys
/// written as explicit `? key` entries.
fn write_yaml(v: &Json, indent: usize, out: &mut String) {
    let pad = |out: &mut String| out.extend(std::iter::repeat_n(' ', indent));
    match v {
        Json::Object(map) if is_block(v) => {
            for (k, x) in map {
                pad(out);
                let key = yaml_quoted(k);
                if key.len() > 1000 {
                    out.push_str("? ");
                    out.push_str(&key);
                    out.push('\n');
                    pad(out);
                } else {
                    out.push_str(&key);
                }
                out.push(':');
                yaml_value(x, indent, out);
            }
        }
        Json::Array(items) if is_block(v) => {
            for x in items {
                pad(out);
                out.push('-');
                yaml_value(x, indent, out);
            }
        }
        other => {
            pad(out);
            write_flow(other, true, out);
            out.push('\n');
        }
    }
}

fn yaml_value(x: &Json, indent: usize, out: &mut String) {
    if is_block(x) {
        out.push('\n');
        write_yaml(x, indent + 2, out);
    } else {
        out.push(' ');
        write_flow(x, true, out);
        out.push('\n');
    }
}

fn render(doc: &Json, yaml: bool) -> String {
    let mut out = String::new();
    if yaml {
        write_yaml(doc, 0, &mut out);
    } else {
        write_json(doc, &mut out);
    }
    out
}

/// The files of a case: the description first (named as refs to it are written), then others.
fn files(case: &Case, specs: &[Spec]) -> Vec<(String, Vec<u8>)> {
    let root = |yaml: bool| if yaml { "root.yaml" } else { "root.json" }.to_owned();
    match case {
        Case::Built {
            doc, yaml, sibling, ..
        } => vec![
            (root(*yaml), render(doc, *yaml).into_bytes()),
            ("other.yaml".to_owned(), render(sibling, true).into_bytes()),
            ("loop.json".to_owned(), br##"{"Loop": {"$ref": "loop.json#/Loop"}, "Back": {"$ref": "root.json#/components/schemas/A"}, "Far": {"$ref": "other.yaml#/Thing"}}"##.to_vec()),
        ],
        Case::Mutated {
            spec,
            yaml,
            mutations,
        } => {
            let mut doc = specs[*spec].doc.clone();
            for m in mutations {
                apply(&mut doc, m);
            }
            vec![(root(*yaml), render(&doc, *yaml).into_bytes())]
        }
        Case::Edited { doc, yaml, edits } => {
            let mut bytes = render(doc, *yaml).into_bytes();
            for e in edits {
                edit(&mut bytes, e);
            }
            vec![(root(*yaml), bytes)]
        }
        Case::Text { text, .. } => vec![("root.yaml".to_owned(), text.clone().into_bytes())],
        Case::Bytes(bytes) => vec![("root.json".to_owned(), bytes.clone())],
    }
}

fn edit(bytes: &mut Vec<u8>, e: &Edit) {
    if bytes.is_empty() {
        return;
    }
    match e {
        Edit::Truncate(at) => bytes.truncate(at.index(bytes.len())),
        Edit::Remove(at, n) => {
            let start = at.index(bytes.len());
            let end = (start + n).min(bytes.len());
            bytes.drain(start..end);
        }
        Edit::Insert(at, text) => {
            let at = at.index(bytes.len());
            bytes.splice(at..at, text.iter().copied());
        }
        Edit::Flip(at, mask) => {
            let at = at.index(bytes.len());
            bytes[at] ^= mask | 1;
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Mutations of vendor descriptions

/// One step of a path from the root to a node.
#[derive(Clone)]
enum Step {
    Key(String),
    At(usize),
}

/// A step while walking: an object key (borrowed) or an array index.
type StepRef<'a> = (Option<&'a str>, usize);

/// The path to the `n`th node (depth-first, preorder) among those `keep` accepts.
fn nth_node(doc: &Json, keep: &dyn Fn(&Json) -> bool, pick: &Index) -> Option<Vec<Step>> {
    let mut count = 0usize;
    let mut stack = vec![doc];
    while let Some(v) = stack.pop() {
        if keep(v) {
            count += 1;
        }
        match v {
            Json::Object(map) => stack.extend(map.values()),
            Json::Array(items) => stack.extend(items.iter()),
            _ => {}
        }
    }
    if count == 0 {
        return None;
    }
    let target = pick.index(count);
    let mut seen = 0usize;
    // Each entry: a node, its depth, and the step from its parent; `path` follows the walk.
    let mut stack: Vec<(&Json, usize, Option<StepRef<'_>>)> = vec![(doc, 0, None)];
    let mut path: Vec<StepRef<'_>> = Vec::new();
    while let Some((v, depth, step)) = stack.pop() {
        path.truncate(depth.saturating_sub(1));
        path.extend(step);
        if keep(v) {
            if seen == target {
                let owned = path
                    .iter()
                    .map(|(key, i)| match key {
                        Some(k) => Step::Key((*k).to_owned()),
                        None => Step::At(*i),
                    })
                    .collect();
                return Some(owned);
            }
            seen += 1;
        }
        match v {
            Json::Object(map) => {
                for (k, x) in map.iter().rev() {
                    stack.push((x, depth + 1, Some((Some(k.as_str()), 0))));
                }
            }
            Json::Array(items) => {
                for (i, x) in items.iter().enumerate().rev() {
                    stack.push((x, depth + 1, Some((None, i))));
                }
            }
            _ => {}
        }
    }
    None
}

fn node_mut<'a>(doc: &'a mut Json, path: &[Step]) -> Option<&'a mut Json> {
    let mut cur = doc;
    for step in path {
        cur = match (step, cur) {
            (Step::Key(k), Json::Object(map)) => map.get_mut(k)?,
            (Step::At(i), Json::Array(items)) => items.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn pointer_of(path: &[Step]) -> String {
    let mut out = String::from("#");
    for step in path {
        out.push('/');
        match step {
            Step::Key(k) => out.push_str(&k.replace('~', "~0").replace('/', "~1")),
            Step::At(i) => out.push_str(&i.to_string()),
        }
    }
    out
}

/// Mutated documents stop growing past this size (nesting copies double them).
const MAX_MUTATED_BYTES: usize = 24 << 20;

fn approx_size(v: &Json) -> usize {
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 8;
        match v {
            Json::Object(map) => {
                for (k, x) in map {
                    n += k.len();
                    stack.push(x);
                }
            }
            Json::Array(items) => stack.extend(items.iter()),
            Json::String(s) => n += s.len(),
            _ => {}
        }
    }
    n
}

fn apply(doc: &mut Json, m: &Mutation) {
    let any = |_: &Json| true;
    let holds_ref = |v: &Json| v.get("$ref").is_some();
    match m {
        Mutation::Delete(pick) => {
            let Some(mut path) = nth_node(doc, &any, pick) else {
                return;
            };
            let Some(last) = path.pop() else { return };
            match (node_mut(doc, &path), last) {
                (Some(Json::Object(map)), Step::Key(k)) => {
                    map.shift_remove(&k);
                }
                (Some(Json::Array(items)), Step::At(i)) if i < items.len() => {
                    items.remove(i);
                }
                _ => {}
            }
        }
        Mutation::Replace(pick, value) => {
            if let Some(node) = nth_node(doc, &any, pick).and_then(|p| node_mut(doc, &p)) {
                *node = value.clone();
            }
        }
        Mutation::Insert(pick, key, value) => {
            let containers = |v: &Json| v.is_object() || v.is_array();
            match nth_node(doc, &containers, pick).and_then(|p| node_mut(doc, &p)) {
                Some(Json::Object(map)) => {
                    map.insert(key.clone(), value.clone());
                }
                Some(Json::Array(items)) => items.push(value.clone()),
                _ => {}
            }
        }
        Mutation::Retarget(pick, target) => {
            let Some(path) = nth_node(doc, &holds_ref, pick) else {
                return;
            };
            let to = match target {
                Target::Itself => pointer_of(&path),
                Target::Parent => pointer_of(&path[..path.len().saturating_sub(1)]),
                Target::Node(other) => match nth_node(doc, &any, other) {
                    Some(p) => pointer_of(&p),
                    None => return,
                },
                Target::Text(text) => text.clone(),
            };
            if let Some(Json::Object(map)) = node_mut(doc, &path) {
                map.insert("$ref".to_owned(), Json::String(to));
            }
        }
        Mutation::CopyInto(from, into) => {
            if approx_size(doc) > MAX_MUTATED_BYTES {
                return;
            }
            let Some(copy) = nth_node(doc, &any, from)
                .and_then(|p| node_mut(doc, &p))
                .map(|v| v.clone())
            else {
                return;
            };
            let containers = |v: &Json| v.is_object() || v.is_array();
            match nth_node(doc, &containers, into).and_then(|p| node_mut(doc, &p)) {
                Some(Json::Object(map)) => {
                    let key = format!("x-copy-{}", map.len());
                    map.insert(key, copy);
                }
                Some(Json::Array(items)) => items.push(copy),
                _ => {}
            }
        }
        Mutation::Nest(pick, times) => {
            let objects = |v: &Json| v.as_object().is_some_and(|m| !m.is_empty());
            let Some(path) = nth_node(doc, &objects, pick) else {
                return;
            };
            for _ in 0..*times {
                if approx_size(doc) > MAX_MUTATED_BYTES {
                    return;
                }
                let Some(node) = node_mut(doc, &path) else {
                    return;
                };
                // The subtree inside a copy of itself, under its first object member (or a new key).
                let inner = node.clone();
                if let Json::Object(map) = node {
                    let slot = map
                        .values_mut()
                        .find(|v| v.is_object())
                        .and_then(Json::as_object_mut);
                    match slot {
                        Some(child) => {
                            child.insert("x-nested".to_owned(), inner);
                        }
                        None => {
                            map.insert("x-nested".to_owned(), inner);
                        }
                    }
                }
            }
        }
        Mutation::Wrap(pick, kind, depth) => {
            if let Some(node) = nth_node(doc, &any, pick).and_then(|p| node_mut(doc, &p)) {
                let inner = node.take();
                *node = wrap(kind, *depth, inner);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Strategies: text, numbers, values

const NAMES: &[&str] = &[
    "A",
    "B",
    "C",
    "Node",
    "Pet",
    "pet",
    "Error",
    "Self",
    "self",
    "type",
    "$ref",
    "",
    " ",
    "_",
    "__",
    "a/b",
    "~0",
    "~1",
    "%25",
    "%",
    "é",
    "名前",
    "x y",
    "1st",
    "+1",
    "-1",
    "null",
    "true",
    "r#type",
    "Option",
    "models",
    "lib",
    "main",
    "crate",
    "super",
    "webhook_events",
    "additional_properties",
    "Response",
    "Other",
    "Unknown",
    "id",
    "data",
    "has_more",
    "next",
    "page",
    "cursor",
    "offset",
    "limit",
    "stream",
    "file",
    "<<",
    "a.b",
    "{id}",
    "\n",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
    "🦀",
];

/// Names the documents' schemas, parameters and responses use, so refs often find them (and cycles form).
const SCHEMA_NAMES: &[&str] = &[
    "A", "B", "C", "Node", "Pet", "Error", "Self", "x/y", "é", "",
];

fn name() -> BoxedStrategy<String> {
    prop_oneof![
        6 => select(NAMES).prop_map(str::to_owned),
        3 => "[a-zA-Z_][a-zA-Z0-9_ .-]{0,12}",
        1 => "\\PC{0,16}",
        1 => any::<String>(),
        1 => (1usize..5_000).prop_map(|n| "n".repeat(n)),
    ]
    .boxed()
}

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "\\PC{0,40}",
        1 => Just(String::new()),
        1 => any::<String>(),
        1 => select(&[
            "```\nfn main() {}\n",
            "\tindented\n    code\n\n  more",
            "line\r\nline\rbare cr",
            "*/ /* // #[doc = \"x\"] \"quoted\" \\ back",
            "a\n\nb\n\n```rust\nlet x = 1;\n```",
            "\u{0}\u{7f}\u{85}\u{2028}",
            "# heading\n> quote\n| a | b |",
        ][..])
        .prop_map(str::to_owned),
        1 => (1usize..200_000).prop_map(|n| "word ".repeat(n / 5 + 1)),
    ]
    .boxed()
}

/// Numbers a `serde_json::Value` cannot hold, or barely: written as raw text.
const RAW_NUMBERS: &[&str] = &[
    "1e400",
    "-1e400",
    "1e-400",
    "18446744073709551616",
    "18446744073709551615",
    "-9223372036854775809",
    "-9223372036854775808",
    "123456789012345678901234567890",
    "1.7976931348623157e308",
    "4.9e-324",
    "-0",
    "-0.0",
    "1E+2",
    "0.1",
    "1.5",
    "-1.5",
];

fn number() -> BoxedStrategy<Json> {
    prop_oneof![
        2 => any::<i64>().prop_map(Json::from),
        1 => any::<u64>().prop_map(Json::from),
        1 => any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number)),
        3 => select(&[0i64, 1, -1, 2, 3, 10, 100, 255, 256, 1000, 65535, i32::MAX as i64, u32::MAX as i64, i64::MAX, i64::MIN][..]).prop_map(Json::from),
        3 => select(RAW_NUMBERS).prop_map(raw),
    ]
    .boxed()
}

fn scalar() -> BoxedStrategy<Json> {
    prop_oneof![
        1 => Just(Json::Null),
        1 => any::<bool>().prop_map(Json::Bool),
        2 => number(),
        3 => text().prop_map(Json::String),
        1 => name().prop_map(Json::String),
    ]
    .boxed()
}

fn object(entries: Vec<(String, Json)>) -> Json {
    Json::Object(entries.into_iter().collect())
}

fn any_json() -> BoxedStrategy<Json> {
    scalar()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..4).prop_map(Json::Array),
                vec((name(), inner), 0..4).prop_map(object),
            ]
        })
        .boxed()
}

/// A value of the wrong type for wherever it lands.
fn junk() -> BoxedStrategy<Json> {
    prop_oneof![
        scalar(),
        Just(json!([])),
        Just(json!({})),
        Just(json!([null])),
        any_json(),
    ]
    .boxed()
}

/// `value`, or now and then something of the wrong type.
fn or_junk(value: BoxedStrategy<Json>) -> BoxedStrategy<Json> {
    prop_oneof![9 => value, 1 => junk()].boxed()
}

fn string_of(options: &'static [&'static str]) -> BoxedStrategy<Json> {
    or_junk(
        select(options)
            .prop_map(|s| Json::String(s.to_owned()))
            .boxed(),
    )
}

/// Adds `extra` keys to an object (left alone when it is not one).
fn with(mut v: Json, extra: Vec<(String, Json)>) -> Json {
    if let Json::Object(map) = &mut v {
        if marker(map).is_none() {
            map.extend(extra);
        }
    }
    v
}

fn optional_keys(
    keys: Vec<(&'static str, BoxedStrategy<Json>)>,
) -> BoxedStrategy<Vec<(String, Json)>> {
    let parts: Vec<BoxedStrategy<Option<(String, Json)>>> = keys
        .into_iter()
        .map(|(k, s)| {
            proptest::option::weighted(0.3, s.prop_map(move |v| (k.to_owned(), v))).boxed()
        })
        .collect();
    parts
        .prop_map(|found| found.into_iter().flatten().collect())
        .boxed()
}

// ---------------------------------------------------------------------------------------------------------------
// Strategies: schemas

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// A `$ref` value: to names that exist (or will), to what is missing, to what is not a schema, to files.
fn reference(v2: bool) -> BoxedStrategy<Json> {
    let section = if v2 {
        "#/definitions/"
    } else {
        "#/components/schemas/"
    };
    prop_oneof![
        8 => select(SCHEMA_NAMES).prop_map(move |n| json!(format!("{section}{}", escape(n)))),
        1 => select(SCHEMA_NAMES).prop_map(|n| json!(format!("#/components/schemas/{}", n))),
        4 => select(&[
            "#/components/schemas/Missing",
            "#",
            "#/",
            "#/info/title",
            "#/openapi",
            "#/paths",
            "#/components",
            "#/components/schemas",
            "#/components/schemas/A/properties/self",
            "#/components/schemas/A/allOf/0",
            "#/components/schemas/A/items",
            "#/components/schemas/A/oneOf/9",
            "#/components/parameters/P",
            "#/components/responses/R",
            "#/definitions/A",
            "#/x-bundled/A",
            "#/paths/~1items/get",
            "#A",
            "#/%",
            "#/%zz/%41",
            "#/~2",
            "#/a~",
            "other.yaml#/Thing",
            "other.yaml#/Chain",
            "other.yaml#/Missing",
            "other.yaml",
            "other.yaml#Thing",
            "loop.json#/Loop",
            "loop.json#/Back",
            "loop.json#/Far",
            "root.json#/components/schemas/A",
            "root.yaml#/components/schemas/B",
            "./root.json",
            "missing.yaml#/x",
            "../../../../../../etc/passwd",
            "/dev/null",
            "/proc/self/status",
            "http://example.com/x.json#/A",
            "//example.com/x",
            "file:///etc/passwd",
            "",
        ][..])
        .prop_map(|r| json!(r)),
        1 => text().prop_map(Json::String),
        1 => junk(),
    ]
    .boxed()
}

const PATTERNS: &[&str] = &[
    "^[a-z]+$",
    "^AC[0-9a-fA-F]{32}$",
    "(a|b)*c",
    "^(?=x)",
    "(a)\\1",
    "[",
    "(",
    "\\",
    "a{2,1}",
    "\\p{Greek}+",
    "[^\\x00-\\x{10FFFF}]",
    "^$",
    "\\b\\B",
    "a{1000}",
    "(a{1000}){1000}",
    "((a{256}){256}){256}",
    "(((x{100}){100}){100}){100}",
    "a{4294967295}",
    "[\\s\\S]{0,}",
    ".{100000}",
    "é{3}名",
];

const FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "uuid",
    "byte",
    "binary",
    "int32",
    "int64",
    "uint32",
    "uint64",
    "float",
    "double",
    "email",
    "uri",
    "url",
    "hostname",
    "ipv4",
    "ipv6",
    "unix-time",
    "",
    "junk",
];

/// Example and default values, some of them nearly right (dates with multi-byte characters).
fn example_value() -> BoxedStrategy<Json> {
    prop_oneof![
        3 => scalar(),
        2 => select(&[
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:0é",
            "2024-01-02T03:04:05ééé",
            "2024-01-02T03:04:05é+",
            "2024-01-02Tééééééééé",
            "2024-01-02",
            "2024-01-0é",
            "٢٠٢٤-01-02T03:04:05Z",
            "user@example",
            "https://",
            "ssh-rsa AAAA",
        ][..])
        .prop_map(|s| json!(s)),
        1 => any_json(),
    ]
    .boxed()
}

fn constraints() -> BoxedStrategy<Vec<(String, Json)>> {
    let bound = || or_junk(number());
    optional_keys(vec![
        ("format", string_of(FORMATS)),
        ("minimum", bound()),
        ("maximum", bound()),
        (
            "exclusiveMinimum",
            prop_oneof![any::<bool>().prop_map(Json::Bool), number()].boxed(),
        ),
        (
            "exclusiveMaximum",
            prop_oneof![any::<bool>().prop_map(Json::Bool), number()].boxed(),
        ),
        ("multipleOf", bound()),
        ("minLength", bound()),
        ("maxLength", bound()),
        ("minItems", bound()),
        ("maxItems", bound()),
        ("pattern", string_of(PATTERNS)),
        (
            "nullable",
            or_junk(any::<bool>().prop_map(Json::Bool).boxed()),
        ),
        ("x-nullable", any::<bool>().prop_map(Json::Bool).boxed()),
        ("readOnly", any::<bool>().prop_map(Json::Bool).boxed()),
        ("writeOnly", any::<bool>().prop_map(Json::Bool).boxed()),
        ("deprecated", junk()),
        ("default", example_value()),
        ("example", example_value()),
        (
            "examples",
            or_junk(vec(example_value(), 0..3).prop_map(Json::Array).boxed()),
        ),
        ("title", text().prop_map(Json::String).boxed()),
        ("description", text().prop_map(Json::String).boxed()),
        (
            "x-rust-type",
            string_of(&["i32", "u64", "String", "bool", "Value", "Vec<u8>", ""]),
        ),
    ])
}

fn primitive() -> BoxedStrategy<Json> {
    let ty = prop_oneof![
        6 => select(&["string", "integer", "number", "boolean", "object", "array", "null", "file"][..]).prop_map(|t| json!(t)),
        1 => select(&["String", "int", "junk", ""][..]).prop_map(|t| json!(t)),
        1 => vec(select(&["string", "null", "integer", "object", "number", "array"][..]), 0..4).prop_map(|t| json!(t)),
        1 => junk(),
    ];
    (proptest::option::weighted(0.9, ty), constraints())
        .prop_map(|(ty, extra)| {
            let mut v = json!({});
            if let Some(ty) = ty {
                v["type"] = ty;
            }
            with(v, extra)
        })
        .boxed()
}

fn enum_schema() -> BoxedStrategy<Json> {
    let value = prop_oneof![
        4 => name().prop_map(Json::String),
        1 => Just(Json::Null),
        1 => number(),
        1 => any::<bool>().prop_map(Json::Bool),
        1 => any_json(),
    ];
    (
        or_junk(vec(value, 0..8).prop_map(Json::Array).boxed()),
        proptest::option::of(select(&["string", "integer", "number", "boolean"][..])),
    )
        .prop_map(|(values, ty)| {
            let mut v = json!({ "enum": values });
            if let Some(ty) = ty {
                v["type"] = json!(ty);
            }
            v
        })
        .boxed()
}

fn schema(v2: bool) -> BoxedStrategy<Json> {
    let leaf = prop_oneof![
        10 => primitive(),
        10 => reference(v2).prop_map(|r| json!({ "$ref": r })),
        2 => (reference(v2), constraints()).prop_map(|(r, extra)| with(json!({ "$ref": r }), extra)),
        3 => enum_schema(),
        1 => scalar().prop_map(|c| json!({ "const": c })),
        1 => select(vec![json!({}), json!(true), json!(false), json!(null), json!([])]),
        1 => any_json(),
        1 => (select(WRAP_KINDS), depth(), primitive()).prop_map(|(k, d, inner)| wrap(k, d, inner)),
        1 => reference(v2).prop_map(|r| json!({ "type": "object", "properties": { "$ref": r } })),
        1 => (select(&["date-time", "date"][..]), select(&["default", "example"][..]), example_value())
            .prop_map(|(f, k, v)| json!({ "type": "string", "format": f, k: v })),
    ];
    leaf.prop_recursive(4, 40, 5, move |inner| {
        let props = vec((name(), inner.clone()), 0..6).prop_map(object);
        let object_schema = (
            proptest::option::weighted(0.7, Just("object")),
            or_junk(props.boxed()),
            proptest::option::of(or_junk(
                vec(name().prop_map(Json::String), 0..4)
                    .prop_map(Json::Array)
                    .boxed(),
            )),
            proptest::option::of(prop_oneof![
                any::<bool>().prop_map(Json::Bool),
                inner.clone()
            ]),
            constraints(),
        )
            .prop_map(|(ty, props, required, additional, extra)| {
                let mut v = json!({ "properties": props });
                if let Some(ty) = ty {
                    v["type"] = json!(ty);
                }
                if let Some(r) = required {
                    v["required"] = r;
                }
                if let Some(a) = additional {
                    v["additionalProperties"] = a;
                }
                with(v, extra)
            });
        let array_schema = (
            any::<bool>(),
            prop_oneof![
                4 => inner.clone(),
                1 => vec(inner.clone(), 0..3).prop_map(Json::Array),
                1 => junk(),
            ],
            constraints(),
        )
            .prop_map(|(typed, items, extra)| {
                let mut v = json!({ "items": items });
                if typed {
                    v["type"] = json!("array");
                }
                with(v, extra)
            });
        let discriminator = prop_oneof![
            (name(), vec((name(), reference(v2)), 0..4)).prop_map(|(p, mapping)| {
                json!({ "propertyName": p, "mapping": object(mapping) })
            }),
            name().prop_map(|p| json!({ "propertyName": p })),
            name().prop_map(Json::String),
            junk(),
        ];
        let composition = (
            select(&["allOf", "oneOf", "anyOf"][..]),
            or_junk(vec(inner.clone(), 0..5).prop_map(Json::Array).boxed()),
            proptest::option::weighted(0.3, discriminator),
            proptest::option::weighted(0.3, vec((name(), inner.clone()), 0..3).prop_map(object)),
            constraints(),
        )
            .prop_map(|(key, parts, disc, props, extra)| {
                let mut v = json!({ key: parts });
                if let Some(d) = disc {
                    v["discriminator"] = d;
                }
                if let Some(p) = props {
                    v["properties"] = p;
                }
                with(v, extra)
            });
        let map_schema = inner
            .clone()
            .prop_map(|a| json!({ "type": "object", "additionalProperties": a }));
        let not = inner.clone().prop_map(|n| json!({ "not": n }));
        prop_oneof![
            4 => object_schema,
            2 => array_schema,
            3 => composition,
            1 => map_schema,
            1 => not,
            1 => (select(WRAP_KINDS), depth(), inner).prop_map(|(k, d, i)| wrap(k, d, i)),
        ]
    })
    .boxed()
}

// ---------------------------------------------------------------------------------------------------------------
// Strategies: documents

const MEDIA: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "application/vnd.api+json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "text/plain",
    "text/event-stream",
    "application/x-ndjson",
    "application/jsonl",
    "application/octet-stream",
    "image/png",
    "*/*",
    "application/*",
    "",
    ";",
];

/// A `consumes` / `produces` list of zero to two media types.
fn media_list() -> BoxedStrategy<Json> {
    vec(select(MEDIA).prop_map(|m| json!(m)), 0..3)
        .prop_map(Json::Array)
        .boxed()
}

fn content(v2: bool) -> BoxedStrategy<Json> {
    let media = (
        schema(v2),
        proptest::option::weighted(0.2, example_value()),
        proptest::option::weighted(
            0.15,
            vec(
                (
                    name(),
                    string_of(&["form", "deepObject", "spaceDelimited", "junk"]),
                ),
                0..3,
            )
            .prop_map(|e| {
                object(
                    e.into_iter()
                        .map(|(k, s)| (k, json!({ "style": s })))
                        .collect(),
                )
            }),
        ),
    )
        .prop_map(|(schema, example, encoding)| {
            let mut v = json!({ "schema": schema });
            if let Some(e) = example {
                v["example"] = e;
            }
            if let Some(e) = encoding {
                v["encoding"] = e;
            }
            v
        });
    or_junk(
        vec(
            (
                select(MEDIA).prop_map(str::to_owned),
                or_junk(media.boxed()),
            ),
            0..3,
        )
        .prop_map(object)
        .boxed(),
    )
}

fn parameter(v2: bool) -> BoxedStrategy<Json> {
    let locations: &'static [&'static str] = if v2 {
        &[
            "path", "query", "header", "formData", "body", "cookie", "junk",
        ]
    } else {
        &["path", "query", "header", "cookie", "body", "junk"]
    };
    let param = (
        or_junk(name().prop_map(Json::String).boxed()),
        string_of(locations),
        proptest::option::of(or_junk(any::<bool>().prop_map(Json::Bool).boxed())),
        proptest::option::weighted(0.9, schema(v2)),
        optional_keys(vec![
            (
                "style",
                string_of(&[
                    "form",
                    "simple",
                    "label",
                    "matrix",
                    "spaceDelimited",
                    "pipeDelimited",
                    "deepObject",
                    "junk",
                ]),
            ),
            ("explode", junk()),
            ("content", content(v2)),
            ("example", example_value()),
            ("description", text().prop_map(Json::String).boxed()),
            (
                "type",
                string_of(&["string", "integer", "array", "file", "boolean"]),
            ),
            (
                "collectionFormat",
                string_of(&["csv", "multi", "ssv", "tsv", "pipes", "junk"]),
            ),
            ("items", schema(v2)),
        ]),
    )
        .prop_map(|(name, location, required, schema, extra)| {
            let mut v = json!({ "name": name, "in": location });
            if let Some(r) = required {
                v["required"] = r;
            }
            if let Some(s) = schema {
                v["schema"] = s;
            }
            with(v, extra)
        });
    prop_oneof![
        6 => param,
        1 => select(&["#/components/parameters/P", "#/parameters/P", "#/components/parameters/Missing", "#/paths"][..]).prop_map(|r| json!({ "$ref": r })),
        1 => junk(),
    ]
    .boxed()
}

fn response(v2: bool) -> BoxedStrategy<Json> {
    let headers = vec(
        (
            select(&["Link", "link", "X-Rate-Limit", "Location", ""][..]).prop_map(str::to_owned),
            or_junk(schema(v2).prop_map(|s| json!({ "schema": s })).boxed()),
        ),
        0..2,
    )
    .prop_map(object);
    let body = (
        proptest::option::weighted(0.9, text().prop_map(Json::String)),
        if v2 {
            proptest::option::weighted(0.7, schema(v2))
                .prop_map(|s| s.map(|s| ("schema".to_owned(), s)))
                .boxed()
        } else {
            proptest::option::weighted(0.8, content(v2))
                .prop_map(|c| c.map(|c| ("content".to_owned(), c)))
                .boxed()
        },
        proptest::option::weighted(0.2, headers),
    )
        .prop_map(|(description, payload, headers)| {
            let mut v = json!({});
            if let Some(d) = description {
                v["description"] = d;
            }
            if let Some((k, p)) = payload {
                v[k] = p;
            }
            if let Some(h) = headers {
                v["headers"] = h;
            }
            v
        });
    prop_oneof![
        6 => body,
        1 => select(&["#/components/responses/R", "#/responses/R", "#/components/responses/Missing"][..]).prop_map(|r| json!({ "$ref": r })),
        1 => junk(),
    ]
    .boxed()
}

const STATUSES: &[&str] = &[
    "200", "201", "202", "204", "206", "2XX", "2xx", "default", "DEFAULT", "301", "302", "3XX",
    "400", "404", "4XX", "500", "5XX", "1XX", "999", "20", "abc", "", "x-ext",
];

fn paging_extension() -> BoxedStrategy<(String, Json)> {
    prop_oneof![
        (
            string_of(&["offsetLimit", "cursor", "url", "junk"]),
            or_junk(
                vec(
                    (
                        string_of(&["page", "offset", "limit", "cursor"]),
                        name(),
                        string_of(&["parameters", "requestBody"]),
                    ),
                    0..3
                )
                .prop_map(|inputs| {
                    Json::Array(
                        inputs
                            .into_iter()
                            .map(|(t, n, i)| json!({ "type": t, "name": n, "in": i }))
                            .collect(),
                    )
                })
                .boxed()
            ),
            vec(
                (
                    select(&["results", "nextCursor", "nextUrl"][..]),
                    string_of(&[
                        "$",
                        "$.data",
                        "$.meta.next",
                        "$.items[*]",
                        "data",
                        "$.",
                        "$..x",
                        "$.a~b/c"
                    ]),
                ),
                0..3
            )
            .prop_map(|o| object(o.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        )
            .prop_map(|(t, inputs, outputs)| (
                "x-speakeasy-pagination".to_owned(),
                json!({ "type": t, "inputs": inputs, "outputs": outputs })
            )),
        (
            proptest::option::of(or_junk(name().prop_map(Json::String).boxed())),
            proptest::option::of(or_junk(name().prop_map(Json::String).boxed())),
        )
            .prop_map(|(next, item)| {
                let mut v = json!({});
                if let Some(n) = next {
                    v["nextLinkName"] = n;
                }
                if let Some(i) = item {
                    v["itemName"] = i;
                }
                ("x-ms-pageable".to_owned(), v)
            }),
    ]
    .boxed()
}

fn operation(v2: bool) -> BoxedStrategy<Json> {
    let op = (
        proptest::option::weighted(0.8, or_junk(name().prop_map(Json::String).boxed())),
        proptest::option::weighted(
            0.5,
            or_junk(
                vec(name().prop_map(Json::String), 0..3)
                    .prop_map(Json::Array)
                    .boxed(),
            ),
        ),
        proptest::option::weighted(
            0.7,
            or_junk(vec(parameter(v2), 0..5).prop_map(Json::Array).boxed()),
        ),
        if v2 {
            Just(None).boxed()
        } else {
            proptest::option::weighted(
                0.4,
                prop_oneof![
                    5 => (content(v2), proptest::option::of(junk())).prop_map(|(c, r)| {
                        let mut v = json!({ "content": c });
                        if let Some(r) = r {
                            v["required"] = r;
                        }
                        v
                    }),
                    1 => Just(json!({ "$ref": "#/components/requestBodies/Body" })),
                    1 => junk(),
                ],
            )
            .boxed()
        },
        or_junk(
            vec(
                (select(STATUSES).prop_map(str::to_owned), response(v2)),
                0..4,
            )
            .prop_map(object)
            .boxed(),
        ),
        proptest::option::weighted(0.15, paging_extension()),
        optional_keys(vec![
            ("summary", text().prop_map(Json::String).boxed()),
            ("description", text().prop_map(Json::String).boxed()),
            ("deprecated", junk()),
            ("consumes", media_list()),
            ("produces", media_list()),
            ("security", junk()),
        ]),
    )
        .prop_map(|(id, tags, params, body, responses, paging, extra)| {
            let mut v = json!({ "responses": responses });
            if let Some(id) = id {
                v["operationId"] = id;
            }
            if let Some(t) = tags {
                v["tags"] = t;
            }
            if let Some(p) = params {
                v["parameters"] = p;
            }
            if let Some(b) = body {
                v["requestBody"] = b;
            }
            if let Some((k, p)) = paging {
                v[k] = p;
            }
            with(v, extra)
        });
    prop_oneof![
        8 => op,
        1 => select(&["other.yaml#/Operation", "#/paths/~1items/get", "#/x-ops/get"][..]).prop_map(|r| json!({ "$ref": r })),
        1 => junk(),
    ]
    .boxed()
}

const PATH_KEYS: &[&str] = &[
    "/items",
    "/items/{id}",
    "/v1/{a}/{b}/{a}",
    "/",
    "",
    "{id}",
    "/items?beta=true&x",
    "/a?",
    "/a/{",
    "/a/{}",
    "/a/}{",
    "/{id}/{id}",
    "/é/{名前}",
    "/a\nb",
    "/a\r/b",
    "/a b/\"c\"",
    "/a/*/b",
    "x-extension",
    "/2010-04-01/Accounts/{Sid}.json",
    "/v1",
    "/{}}{{",
];

const METHODS: &[&str] = &[
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
    "GET",
    "parameters",
    "$ref",
    "summary",
    "x-ext",
];

fn path_item(v2: bool) -> BoxedStrategy<Json> {
    prop_oneof![
        8 => vec((select(METHODS).prop_map(str::to_owned), prop_oneof![6 => operation(v2), 1 => vec(parameter(v2), 0..3).prop_map(Json::Array), 1 => junk()]), 0..4).prop_map(object),
        1 => select(&["other.yaml#/PathItem", "#/paths/~1items", "#/paths/~1"][..]).prop_map(|r| json!({ "$ref": r })),
        1 => junk(),
    ]
    .boxed()
}

fn paths(v2: bool) -> BoxedStrategy<Json> {
    let key = prop_oneof![
        8 => select(PATH_KEYS).prop_map(str::to_owned),
        1 => name(),
        1 => "/[a-z{}/?=&.]{0,20}",
    ];
    or_junk(vec((key, path_item(v2)), 0..4).prop_map(object).boxed())
}

fn security_scheme() -> BoxedStrategy<Json> {
    let flow = (
        proptest::option::weighted(0.8, or_junk(text().prop_map(Json::String).boxed())),
        proptest::option::of(or_junk(
            vec((name(), text().prop_map(Json::String)), 0..3)
                .prop_map(object)
                .boxed(),
        )),
    )
        .prop_map(|(url, scopes)| {
            let mut v = json!({});
            if let Some(u) = url {
                v["tokenUrl"] = u;
            }
            if let Some(s) = scopes {
                v["scopes"] = s;
            }
            v
        });
    prop_oneof![
        (name(), string_of(&["header", "query", "cookie", "junk"]))
            .prop_map(|(n, at)| json!({ "type": "apiKey", "name": n, "in": at })),
        string_of(&["basic", "Basic", "bearer", "digest", "junk"])
            .prop_map(|s| json!({ "type": "http", "scheme": s })),
        vec(
            (
                select(&[
                    "clientCredentials",
                    "authorizationCode",
                    "password",
                    "implicit"
                ][..])
                .prop_map(str::to_owned),
                flow
            ),
            0..3
        )
        .prop_map(|flows| json!({ "type": "oauth2", "flows": object(flows) })),
        (
            string_of(&["implicit", "password", "application", "accessCode", "junk"]),
            text()
        )
            .prop_map(|(f, u)| json!({ "type": "oauth2", "flow": f, "tokenUrl": u, "authorizationUrl": u, "scopes": {"read": "r"} })),
        Just(json!({ "type": "basic" })),
        Just(json!({ "type": "openIdConnect", "openIdConnectUrl": "https://x" })),
        Just(json!({ "$ref": "#/components/securitySchemes/S" })),
        junk(),
    ]
    .boxed()
}

fn named<T: std::fmt::Debug + Clone + 'static>(
    names: &'static [&'static str],
    value: BoxedStrategy<T>,
    max: usize,
) -> BoxedStrategy<Vec<(String, T)>> {
    vec(
        (
            prop_oneof![4 => select(names).prop_map(str::to_owned), 1 => name()],
            value,
        ),
        0..max,
    )
    .boxed()
}

fn version(v2: bool) -> BoxedStrategy<(String, Json)> {
    let good = if v2 {
        select(&["2.0"][..])
            .prop_map(|v| ("swagger".to_owned(), json!(v)))
            .boxed()
    } else {
        select(&["3.0.0", "3.0.3", "3.1.0", "3.1", "3.0", "3.1.1"][..])
            .prop_map(|v| ("openapi".to_owned(), json!(v)))
            .boxed()
    };
    let junk_version = (
        select(&["openapi", "swagger", "Openapi", "version"][..]).prop_map(str::to_owned),
        prop_oneof![
            select(
                &[
                    "4.0",
                    "3",
                    "3.10",
                    "3.0.3.1",
                    "3.0x",
                    " 3.0.3 ",
                    "3.0.3\n",
                    "2",
                    "2.0.0",
                    "1.2",
                    "",
                    "3.1.0-rc1",
                    "３.０"
                ][..]
            )
            .prop_map(|v| json!(v)),
            Just(json!(3.0)),
            Just(json!(2.0)),
            Just(json!(3.1)),
            Just(json!(3)),
            junk(),
        ],
    );
    prop_oneof![9 => good, 1 => junk_version].boxed()
}

fn info() -> BoxedStrategy<Json> {
    or_junk(
        (
            proptest::option::weighted(0.9, or_junk(text().prop_map(Json::String).boxed())),
            proptest::option::weighted(0.9, or_junk(text().prop_map(Json::String).boxed())),
            proptest::option::weighted(0.3, text().prop_map(Json::String)),
        )
            .prop_map(|(title, version, description)| {
                let mut v = json!({});
                if let Some(t) = title {
                    v["title"] = t;
                }
                if let Some(x) = version {
                    v["version"] = x;
                }
                if let Some(d) = description {
                    v["description"] = d;
                }
                v
            })
            .boxed(),
    )
}

fn servers() -> BoxedStrategy<Json> {
    let server = (
        or_junk(
            select(
                &[
                    "https://api.example.com/v1",
                    "https://{host}/{base}",
                    "/relative",
                    "",
                    "{{}}",
                    "http://[::1]:8080",
                ][..],
            )
            .prop_map(|u| json!(u))
            .boxed(),
        ),
        proptest::option::weighted(
            0.4,
            vec(
                (
                    select(&["host", "base", "", "{"][..]).prop_map(str::to_owned),
                    (proptest::option::of(scalar()), proptest::option::of(junk())).prop_map(
                        |(d, e)| {
                            let mut v = json!({});
                            if let Some(d) = d {
                                v["default"] = d;
                            }
                            if let Some(e) = e {
                                v["enum"] = e;
                            }
                            v
                        },
                    ),
                ),
                0..3,
            )
            .prop_map(object),
        ),
    )
        .prop_map(|(url, vars)| {
            let mut v = json!({ "url": url });
            if let Some(vars) = vars {
                v["variables"] = vars;
            }
            v
        });
    or_junk(vec(server, 0..3).prop_map(Json::Array).boxed())
}

/// An OpenAPI 3.x document assembled from random parts.
fn openapi_doc() -> BoxedStrategy<Json> {
    let components = (
        named(SCHEMA_NAMES, schema(false), 6),
        named(&["P", "Q"], parameter(false), 2),
        named(&["R"], response(false), 2),
        named(&["S", "api_key", "oauth"], security_scheme(), 3),
        named(
            &["Body"],
            content(false).prop_map(|c| json!({ "content": c })).boxed(),
            2,
        ),
    )
        .prop_map(|(schemas, params, responses, security, bodies)| {
            let mut c = Map::new();
            for (key, entries) in [
                ("schemas", schemas),
                ("parameters", params),
                ("responses", responses),
                ("securitySchemes", security),
                ("requestBodies", bodies),
            ] {
                if !entries.is_empty() {
                    c.insert(key.to_owned(), object(entries));
                }
            }
            Json::Object(c)
        });
    let webhooks = (
        select(&["webhooks", "x-webhooks"][..]),
        named(&["ping", "push", "pet.created"], path_item(false), 3),
    )
        .prop_map(|(k, hooks)| (k.to_owned(), object(hooks)));
    let tags = vec(
        (name(), text()).prop_map(|(n, d)| json!({ "name": n, "description": d })),
        0..3,
    )
    .prop_map(Json::Array);
    (
        version(false),
        info(),
        proptest::option::weighted(0.5, servers()),
        paths(false),
        proptest::option::weighted(0.85, or_junk(components.boxed())),
        proptest::option::weighted(0.2, webhooks),
        proptest::option::weighted(0.2, tags),
        proptest::option::weighted(0.1, vec((name(), any_json()), 0..3)),
    )
        .prop_map(
            |(version, info, servers, paths, components, webhooks, tags, extra)| {
                let mut doc = Map::new();
                doc.insert(version.0, version.1);
                doc.insert("info".to_owned(), info);
                if let Some(s) = servers {
                    doc.insert("servers".to_owned(), s);
                }
                doc.insert("paths".to_owned(), paths);
                if let Some(c) = components {
                    doc.insert("components".to_owned(), c);
                }
                if let Some((k, w)) = webhooks {
                    doc.insert(k, w);
                }
                if let Some(t) = tags {
                    doc.insert("tags".to_owned(), t);
                }
                doc.extend(extra.into_iter().flatten());
                Json::Object(doc)
            },
        )
        .boxed()
}

/// A Swagger 2.0 document assembled from random parts.
fn swagger_doc() -> BoxedStrategy<Json> {
    (
        version(true),
        info(),
        optional_keys(vec![
            ("host", string_of(&["api.example.com", "", "a/b", "{host}"])),
            ("basePath", string_of(&["/v1", "/", "", "v2/"])),
            ("schemes", or_junk(Just(json!(["https", "http"])).boxed())),
            ("consumes", media_list()),
            ("produces", media_list()),
        ]),
        paths(true),
        named(SCHEMA_NAMES, schema(true), 6),
        named(&["P", "Q"], parameter(true), 3),
        named(&["R"], response(true), 2),
        named(&["S", "api_key", "oauth"], security_scheme(), 3),
    )
        .prop_map(
            |(version, info, extra, paths, definitions, params, responses, security)| {
                let mut doc = Map::new();
                doc.insert(version.0, version.1);
                doc.insert("info".to_owned(), info);
                doc.extend(extra);
                doc.insert("paths".to_owned(), paths);
                for (key, entries) in [
                    ("definitions", definitions),
                    ("parameters", params),
                    ("responses", responses),
                    ("securityDefinitions", security),
                ] {
                    if !entries.is_empty() {
                        doc.insert(key.to_owned(), object(entries));
                    }
                }
                Json::Object(doc)
            },
        )
        .boxed()
}

/// The second file a built document's refs may name: schemas, a chain, an operation, a path item,
/// and refs back into the description and to itself.
fn sibling() -> BoxedStrategy<Json> {
    (schema(false), schema(false), operation(false))
        .prop_map(|(thing, chain, op)| {
            json!({
                "Thing": thing,
                "Chain": { "$ref": "#/Chain2" },
                "Chain2": { "allOf": [chain, { "$ref": "root.json#/components/schemas/A" }] },
                "Operation": op,
                "PathItem": { "get": { "$ref": "#/Operation" }, "post": op },
                "Self": { "$ref": "other.yaml#/Self" },
            })
        })
        .boxed()
}

/// Long or wide chains of components: every walk that follows refs goes deep, or branches at every
/// step. Now and then with over 200 operations answering deeply nested lists, which large
/// descriptions render on several threads.
fn chain_doc() -> BoxedStrategy<Json> {
    let many = proptest::option::weighted(0.15, (200usize..240, select(WRAP_KINDS), depth()));
    (
        select(&[1usize, 2, 3, 10, 13, 17, 30, 47, 48, 49, 50, 64, 65, 100, 128, 200, 500, 1000, 2000][..]),
        0u8..9,
        1usize..12,
        0u8..3,
        any::<bool>(),
        many,
    )
        .prop_map(|(n, kind, width, end, nullable, many)| {
            let name = |i: usize| format!("A{i}");
            let next = |i: usize| {
                if i + 1 < n {
                    json!({ "$ref": format!("#/components/schemas/{}", name(i + 1)) })
                } else {
                    match end {
                        0 => json!({ "$ref": "#/components/schemas/A0" }),
                        1 => json!({ "$ref": "#/components/schemas/Missing" }),
                        _ => json!({ "type": "string", "minLength": 3 }),
                    }
                }
            };
            let mut schemas = Map::new();
            for i in 0..n {
                let props = |required: bool| {
                    let keys: Vec<String> = (0..width).map(|k| format!("p{k}")).collect();
                    let mut s = json!({
                        "type": "object",
                        "properties": object(keys.iter().map(|k| (k.clone(), next(i))).collect()),
                    });
                    if required {
                        s["required"] = json!(keys);
                    }
                    s
                };
                let s = match kind {
                    0 => props(true),
                    1 => props(false),
                    2 => json!({ "allOf": vec![next(i); width] }),
                    3 => next(i),
                    4 => json!({ "type": "array", "items": next(i), "minItems": width }),
                    5 => {
                        let mut alts = vec![next(i)];
                        alts.extend((0..width).map(|k| json!({ "type": "object", "properties": { format!("k{k}"): next(i) } })));
                        json!({ "oneOf": alts, "discriminator": { "propertyName": "kind" } })
                    }
                    6 => json!({ "type": "object", "properties": { "p": next(i) }, "anyOf": [{ "required": ["p"] }] }),
                    7 => json!({ "type": "object", "additionalProperties": next(i) }),
                    _ => json!({ "allOf": [next(i), { "type": "object", "required": ["q"], "properties": { "q": next(i) } }] }),
                };
                let s = if nullable {
                    with(s, vec![("nullable".to_owned(), json!(true))])
                } else {
                    s
                };
                schemas.insert(name(i), s);
            }
            let first = json!({ "$ref": "#/components/schemas/A0" });
            let mut doc = json!({
                "openapi": "3.0.3",
                "info": { "title": "Chain", "version": "1" },
                "paths": {
                    "/chain": {
                        "get": {
                            "operationId": "getChain",
                            "parameters": [{ "name": "q", "in": "query", "required": true, "schema": first }],
                            "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": first } } } }
                        },
                        "post": {
                            "operationId": "postChain",
                            "requestBody": { "required": true, "content": {
                                "application/json": { "schema": first },
                                "application/x-www-form-urlencoded": { "schema": first }
                            } },
                            "responses": { "201": { "description": "ok", "content": { "application/json": { "schema": first } } },
                                           "400": { "description": "bad", "content": { "application/json": { "schema": first } } } }
                        }
                    },
                    "/upload": { "post": {
                        "operationId": "upload",
                        "requestBody": { "content": { "multipart/form-data": { "schema": first } } },
                        "responses": { "204": { "description": "ok" } }
                    } }
                },
                "webhooks": { "chain": { "post": { "requestBody": { "content": { "application/json": { "schema": first } } } } } },
                "components": { "schemas": schemas }
            });
            if let Some((ops, kind, depth)) = many {
                for i in 0..ops {
                    let schema = if i % 2 == 0 {
                        first.clone()
                    } else {
                        wrap(kind, depth, json!({ "type": "array", "nullable": true, "items": { "type": "number" } }))
                    };
                    doc["paths"][format!("/r{i}")] = json!({ "get": {
                        "operationId": format!("get{i}"),
                        "tags": [format!("tag {}", i % 9)],
                        "responses": { "200": { "description": "ok", "content": { "application/json": { "schema": schema } } } }
                    } });
                }
            }
            doc
        })
        .boxed()
}

/// Text nested deep: whole documents, values inside a document, JSON and YAML, flow and block style.
fn deep_text() -> BoxedStrategy<(&'static str, String)> {
    (select(DEPTHS), 0u8..9, select(WRAP_KINDS))
        .prop_map(|(n, shape, kind)| {
            let (open, close) = wrapper(kind);
            let text = match shape {
                0 => format!("{}{}", "[".repeat(n), "]".repeat(n)),
                1 => format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n)),
                2 => format!(
                    "{{\"openapi\": \"3.0.3\", \"info\": {{\"title\": \"t\", \"version\": \"1\"}}, \"paths\": {{}}, \"x-deep\": {}{}}}",
                    "[".repeat(n),
                    "]".repeat(n)
                ),
                3 => format!(
                    "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths: {{}}\nx-deep:\n{}1\n",
                    "- ".repeat(n)
                ),
                4 => {
                    let mut t = String::from("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-deep:\n");
                    for i in 0..n.min(400) {
                        t.push_str(&" ".repeat(2 * (i + 1)));
                        t.push_str("a:\n");
                    }
                    t.push_str(&" ".repeat(2 * (n.min(400) + 1)));
                    t.push_str("b: 1\n");
                    t
                }
                5 => format!(
                    "openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths: {{}}\nx-deep: {}{{}}{}\n",
                    open.repeat(n),
                    close.repeat(n)
                ),
                // Brackets in text (quoted, commented, block and plain scalars) before real nesting.
                7 => format!(
                    "openapi: 3.0.3\ninfo: {{title: \"t [\", version: '1 {{'}}\n# [[[[ {{{{\npaths: {{}}\nx-text: |\n  [[[[ {{{{ \"\n  don't [\nx-plain: a [b {{c\n  [[[[\nx-quoted: \"[[[\\\" {{{{\"\nx-single: '[[ '' {{{{'\nx-deep: {}{{}}{}\n",
                    open.repeat(n),
                    close.repeat(n)
                ),
                _ => format!(
                    "{{\"openapi\": \"3.0.3\", \"info\": {{\"title\": \"t\", \"version\": \"1\"}}, \"paths\": {{\"/d\": {{\"post\": {{\"requestBody\": {{\"content\": {{\"application/json\": {{\"schema\": {{\"$ref\": \"#/components/schemas/D\"}}}}}}}}, \"responses\": {{\"200\": {{\"description\": \"ok\", \"content\": {{\"application/json\": {{\"schema\": {{\"$ref\": \"#/components/schemas/D\"}}}}}}}}}}}}}}}}, \"components\": {{\"schemas\": {{\"D\": {}{{\"type\": \"string\"}}{}}}}}}}",
                    open.repeat(n),
                    close.repeat(n)
                ),
            };
            ("deep text", text)
        })
        .boxed()
}

/// YAML's own shapes in an OpenAPI document: anchors, aliases and alias bombs, merge keys, tags, keys
/// that are not text, several documents.
fn yaml_text() -> BoxedStrategy<(&'static str, String)> {
    const ODD: &[&str] = &[
        "*base",
        "{<<: *base, required: [id]}",
        "{<<: [*base, *list], type: object}",
        "{<<: 5, type: string}",
        "!Thing {type: string}",
        "!!str 5",
        "!!binary aGVsbG8=",
        "{type: integer, minimum: 1e400, maximum: .inf}",
        "{type: integer, maximum: 18446744073709551616, minimum: -9223372036854775809}",
        "{type: number, minimum: .nan, multipleOf: -.inf}",
        "{enum: [1, a, null, true, 1.5, 18446744073709551616, ~, 0x1F, 0o17, 1_000]}",
        "{? [a, b] : c}",
        "{? {a: 1} : c}",
        "{type: [string, null], default: 2024-01-02}",
        "*undefined",
        "&loop [*loop]",
        "{properties: {200: {type: integer}, true: {type: boolean}, null: {}, 1.5: {}, ~: {}}}",
        "{type: object, properties: {a: &a {type: string}, b: *a, c: *a}}",
        "[*list, *list, *list]",
        "{type: string, pattern: \"\\\\d{3}\"}",
        "'single ''quoted'' with # and : inside'",
        "|\n  literal\n  block",
        "{a: 1}\n---\nb: 2",
        "\"\\ud800\"",
        "{type: string, format: date-time, default: '2024-01-02T03:04:0é'}",
    ];
    let odd_doc = (select(ODD), select(ODD), select(&["3.0.3", "3.1.0", "2.0"][..])).prop_map(
        |(a, b, v)| {
            let version = if v == "2.0" {
                "swagger: '2.0'".to_owned()
            } else {
                format!("openapi: {v}")
            };
            let section = if v == "2.0" {
                "definitions"
            } else {
                "components:\n  schemas"
            };
            let schema_at = if v == "2.0" { "schema" } else { "content:\n                application/json:\n                  schema" };
            (
                "yaml shapes",
                format!(
                    "{version}\ninfo: {{title: t, version: '1'}}\nx-anchors:\n  base: &base {{type: object, properties: {{id: {{type: integer}}}}}}\n  list: &list [1, 2, 3]\npaths:\n  /a:\n    get:\n      responses:\n        '200':\n              description: ok\n              {schema_at}: {a}\n{section}:\n    A: {b}\n"
                ),
            )
        },
    );
    // An anchored list of `size` numbers aliased `count` times: the tree is size × count values.
    let quadratic = (1usize..6000, 1usize..6000).prop_map(|(size, count)| {
        let mut t =
            String::from("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-base: &b [");
        t.push_str(&vec!["1"; size].join(","));
        t.push_str("]\nx-many: [");
        t.push_str(&vec!["*b"; count].join(","));
        t.push_str("]\n");
        ("yaml alias bomb", t)
    });
    // Each level aliases the previous one `fan` times: fan^levels values.
    let laughs = (1usize..14, 2usize..12).prop_map(|(levels, fan)| {
        let mut t = String::from(
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\nx-l0: &l0 [lol]\n",
        );
        for l in 1..=levels {
            let refs = vec![format!("*l{}", l - 1); fan].join(",");
            let _ = writeln!(t, "x-l{l}: &l{l} [{refs}]");
        }
        ("yaml alias bomb", t)
    });
    prop_oneof![4 => odd_doc, 1 => quadratic, 1 => laughs].boxed()
}

fn raw_bytes() -> BoxedStrategy<Vec<u8>> {
    let prefix = select(vec![
        &b""[..],
        b"{",
        b"[",
        b"openapi: 3.0.3\n",
        b"\xef\xbb\xbf{",
        b"{\"openapi\": \"3.0.3\", ",
        b"---\n",
        b"%YAML 1.2\n",
        b"\xff\xfe",
    ]);
    (prefix, vec(any::<u8>(), 0..2048))
        .prop_map(|(p, rest)| {
            let mut bytes = p.to_vec();
            bytes.extend(rest);
            bytes
        })
        .boxed()
}

fn edits() -> BoxedStrategy<Vec<Edit>> {
    vec(
        prop_oneof![
            1 => any::<Index>().prop_map(Edit::Truncate),
            3 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| Edit::Remove(i, n)),
            3 => (any::<Index>(), prop_oneof![
                vec(any::<u8>(), 1..8),
                select(vec![&b"{"[..], b"}", b"[", b"]", b"\"", b",", b":", b"\n", b"\\", b"\\u", b"- ", b"&a ", b"*a", b"<<: ", b"!x ", b"#", b"'", b"\t", b"\r"]).prop_map(<[u8]>::to_vec),
            ]).prop_map(|(i, t)| Edit::Insert(i, t)),
            3 => (any::<Index>(), any::<u8>()).prop_map(|(i, m)| Edit::Flip(i, m)),
        ],
        1..6,
    )
    .boxed()
}

fn mutation() -> BoxedStrategy<Mutation> {
    let target = prop_oneof![
        2 => Just(Target::Itself),
        1 => Just(Target::Parent),
        3 => any::<Index>().prop_map(Target::Node),
        2 => reference(false).prop_map(|r| Target::Text(r.as_str().unwrap_or("#/nowhere").to_owned())),
    ];
    let key = prop_oneof![
        3 => select(&[
            "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "exclusiveMinimum",
            "multipleOf", "default", "example", "enum", "pattern", "$ref", "allOf", "oneOf", "anyOf",
            "items", "properties", "additionalProperties", "required", "type", "nullable", "format",
            "discriminator", "x-speakeasy-pagination", "x-ms-pageable", "parameters", "requestBody",
            "responses", "content", "schema", "in", "name",
        ][..]).prop_map(str::to_owned),
        1 => name(),
    ];
    prop_oneof![
        3 => any::<Index>().prop_map(Mutation::Delete),
        4 => (any::<Index>(), junk()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        2 => (any::<Index>(), select(RAW_NUMBERS).prop_map(raw)).prop_map(|(i, v)| Mutation::Replace(i, v)),
        3 => (any::<Index>(), key, prop_oneof![junk(), number(), schema(false)]).prop_map(|(i, k, v)| Mutation::Insert(i, k, v)),
        4 => (any::<Index>(), target).prop_map(|(i, t)| Mutation::Retarget(i, t)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::CopyInto(a, b)),
        1 => (any::<Index>(), 1u8..6).prop_map(|(i, n)| Mutation::Nest(i, n)),
        2 => (any::<Index>(), select(WRAP_KINDS), depth()).prop_map(|(i, k, d)| Mutation::Wrap(i, k, d)),
    ]
    .boxed()
}

/// Every kind of case, weighted; vendor mutations only when the descriptions are there.
fn case_strategy(specs: usize) -> BoxedStrategy<Case> {
    let built = |kind: &'static str, doc: BoxedStrategy<Json>| {
        (doc, any::<bool>(), sibling())
            .prop_map(move |(doc, yaml, sibling)| Case::Built {
                kind,
                doc,
                yaml,
                sibling,
            })
            .boxed()
    };
    let mut options: Vec<(u32, BoxedStrategy<Case>)> = vec![
        (30, built("openapi 3", openapi_doc())),
        (10, built("swagger 2", swagger_doc())),
        (8, built("component chain", chain_doc())),
        (
            6,
            deep_text()
                .prop_map(|(kind, text)| Case::Text { kind, text })
                .boxed(),
        ),
        (
            6,
            yaml_text()
                .prop_map(|(kind, text)| Case::Text { kind, text })
                .boxed(),
        ),
        (
            6,
            (openapi_doc(), any::<bool>(), edits())
                .prop_map(|(doc, yaml, edits)| Case::Edited { doc, yaml, edits })
                .boxed(),
        ),
        (3, raw_bytes().prop_map(Case::Bytes).boxed()),
    ];
    if specs > 0 {
        options.push((
            4,
            (0..specs, any::<bool>(), vec(mutation(), 1..8))
                .prop_map(|(spec, yaml, mutations)| Case::Mutated {
                    spec,
                    yaml,
                    mutations,
                })
                .boxed(),
        ));
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

// ---------------------------------------------------------------------------------------------------------------
// Vendor descriptions

/// A vendor description, parsed once; cases mutate copies.
struct Spec {
    doc: Json,
}

/// Small and medium descriptions of different shapes: 3.0 JSON with form bodies, 3.1 inline schemas,
/// Swagger 2.0 with form data.
const VENDOR_SPECS: &[&str] = &[
    "twilio/twilio_messaging_v1.json",
    "discourse/openapi.json",
    "slack/slack_web_openapi_v2.json",
];

fn vendor_specs() -> Vec<Spec> {
    let dir = match std::env::var_os("CONNECTOR_SPECS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/specs"),
    };
    if !dir.is_dir() {
        println!(
            "fuzz: vendor descriptions not found at {} (set CONNECTOR_SPECS_DIR); mutation cases left out",
            dir.display()
        );
        return Vec::new();
    }
    VENDOR_SPECS
        .iter()
        .filter_map(|relative| {
            let path = dir.join(relative);
            let text = match std::fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) => {
                    println!("fuzz: {} left out: {e}", path.display());
                    return None;
                }
            };
            match serde_json::from_str(&text) {
                Ok(doc) => Some(Spec { doc }),
                Err(e) => panic!("{}: not JSON: {e}", path.display()),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------------------------
// Running a case

/// What a case produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Code,
    Diagnostics,
}

/// Why a case failed.
#[derive(Debug, Clone)]
enum Failure {
    Panic(String),
    Hang,
    /// An error the generator calls its own bug, or a diagnostic of the wrong severity.
    Internal(String),
}

impl Failure {
    /// Failures that are the same bug (a panic at the same place) for shrinking.
    fn same_kind(&self, other: &Failure) -> bool {
        match (self, other) {
            (Failure::Panic(a), Failure::Panic(b)) => panic_place(a) == panic_place(b),
            // The same entry point, the same first words of the message.
            (Failure::Internal(a), Failure::Internal(b)) => {
                let head = |m: &str| m.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
                head(a) == head(b)
            }
            _ => false,
        }
    }
}

fn panic_place(message: &str) -> &str {
    message.rsplit_once(" at ").map_or(message, |(_, at)| at)
}

/// Panic messages of case threads, recorded by the panic hook (with their location) instead of printed.
static PANICS: Mutex<Option<String>> = Mutex::new(None);
static HOOK: Once = Once::new();
const THREAD_PREFIX: &str = "fuzz case ";

fn install_panic_hook() {
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let ours = std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with(THREAD_PREFIX));
            if !ours {
                return default(info);
            }
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".to_owned());
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            *PANICS.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("{message} at {at}"));
        }));
    });
}

/// Checks what an entry point returned: files or warnings are fine; an error must be one about the input.
fn judge<T>(what: &str, result: Result<(T, Vec<Diagnostic>), Diagnostic>) -> Result<bool, String> {
    match result {
        Ok((_, warnings)) => {
            if let Some(w) = warnings.iter().find(|w| w.severity != Severity::Warning) {
                return Err(format!(
                    "{what}: a warning of severity {:?}: {w}",
                    w.severity
                ));
            }
            Ok(true)
        }
        Err(diag) => {
            let internal = diag.severity != Severity::Error
                || diag.message.trim().is_empty()
                || diag.message.starts_with("internal")
                || diag
                    .help
                    .as_deref()
                    .is_some_and(|h| h.contains("bug in connector-gen"));
            if internal {
                Err(format!("{what}: {diag}"))
            } else {
                Ok(false)
            }
        }
    }
}

/// The three entry points on one description; `Ok(true)` when `generate` produced files.
fn entry_points(spec: &Path, verbose: bool) -> Result<bool, String> {
    let settings = Settings::default();
    let generated = connector_codegen::generate(spec, &settings);
    if verbose {
        match &generated {
            Ok(g) => println!(
                "    generated {} files, {} warnings",
                g.files.len(),
                g.warnings.len()
            ),
            Err(diag) => println!("    {}", diag.to_string().replace('\n', "\n    ")),
        }
    }
    if let Err(diag) = &generated {
        refused_only_what_the_parser_refuses(spec, diag)?;
    }
    let code = judge(
        "generate",
        generated.map(|g| {
            let warnings = g.warnings.clone();
            (g, warnings)
        }),
    )?;
    judge(
        "generate_tokens",
        connector_codegen::generate_tokens(spec, &settings),
    )?;
    judge(
        "conformance_harness",
        connector_codegen::conformance_harness(spec, &settings).map(|h| (h, Vec::new())),
    )?;
    Ok(code)
}

/// The loader refuses YAML nested too deep before the parser sees it (the parser's scan is quadratic
/// in the depth): whatever it refuses, the parser must refuse too. Checked on small texts, where the
/// parser's scan is quick.
fn refused_only_what_the_parser_refuses(spec: &Path, diag: &Diagnostic) -> Result<(), String> {
    if !diag.message.contains("nests flow collections") {
        return Ok(());
    }
    let text = std::fs::read_to_string(spec).map_err(|e| e.to_string())?;
    if text.len() > 64 << 10 {
        return Ok(());
    }
    match serde_norway::from_str::<serde_norway::Value>(&text) {
        Ok(_) => Err(format!("generate: refused YAML the parser reads: {diag}")),
        Err(_) => Ok(()),
    }
}

/// The scratch folder of this process's cases.
fn scratch() -> PathBuf {
    std::env::temp_dir().join(format!("connector-fuzz-{}", std::process::id()))
}

/// `FUZZ_VERBOSE=1` prints every case and what `generate` made of it.
fn verbose() -> bool {
    std::env::var_os("FUZZ_VERBOSE").is_some_and(|v| v != "0")
}

fn run(seed: u64, files: &[(String, Vec<u8>)], limit: Duration) -> Result<Outcome, Failure> {
    let dir = scratch().join("case");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder can be made");
    for (name, bytes) in files {
        std::fs::write(dir.join(name), bytes).expect("the case can be written");
    }
    let root = dir.join(&files[0].0);
    let (tx, rx) = mpsc::channel();
    *PANICS.lock().unwrap_or_else(|e| e.into_inner()) = None;
    let worker = std::thread::Builder::new()
        .name(format!("{THREAD_PREFIX}{seed:#018x}"))
        .stack_size(8 << 20)
        .spawn(move || {
            let _ = tx.send(entry_points(&root, verbose()));
        })
        .expect("a case thread starts");
    match rx.recv_timeout(limit) {
        Ok(result) => {
            let _ = worker.join();
            match result {
                Ok(true) => Ok(Outcome::Code),
                Ok(false) => Ok(Outcome::Diagnostics),
                Err(why) => Err(Failure::Internal(why)),
            }
        }
        Err(RecvTimeoutError::Timeout) => Err(Failure::Hang),
        Err(RecvTimeoutError::Disconnected) => {
            let _ = worker.join();
            let message = PANICS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or_else(|| "(panic without a message)".to_owned());
            Err(Failure::Panic(message))
        }
    }
}

/// Simplifies a failing case while it keeps failing the same way (at most `steps` tries).
fn shrink(
    tree: &mut dyn ValueTree<Value = Case>,
    failure: &Failure,
    specs: &[Spec],
    seed: u64,
    steps: usize,
) -> Case {
    let mut smallest = tree.current();
    let mut tries = 0;
    let fails = |case: &Case| match run(seed, &files(case, specs), Duration::from_secs(20)) {
        Err(f) => f.same_kind(failure),
        Ok(_) => false,
    };
    'simplify: while tries < steps && tree.simplify() {
        loop {
            tries += 1;
            let case = tree.current();
            if fails(&case) {
                smallest = case;
                continue 'simplify;
            }
            if tries >= steps || !tree.complicate() {
                break 'simplify;
            }
        }
    }
    smallest
}

fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= 3000 {
        return text.into_owned();
    }
    let mut cut = 3000;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes)", &text[..cut], bytes.len())
}

// ---------------------------------------------------------------------------------------------------------------
// The run

#[derive(Default)]
struct Tally {
    cases: u64,
    code: u64,
    diagnostics: u64,
    time: Duration,
}

#[test]
fn descriptions_of_any_shape_give_files_or_diagnostics() {
    install_panic_hook();
    let budget = Budget::from_env();
    let specs = vendor_specs();
    let strategy = case_strategy(specs.len());
    let started = Instant::now();
    let mut total = Tally::default();
    let mut by_kind: BTreeMap<&'static str, Tally> = BTreeMap::new();
    let mut failures: Vec<String> = Vec::new();
    let mut slowest = (Duration::ZERO, 0u64, "");
    let mut hung = false;
    for i in 0u64.. {
        let seed = match budget.replay {
            Some(seed) if i == 0 => seed,
            Some(_) => break,
            None => case_seed(budget.seed, i),
        };
        let spent = budget.cases.is_some_and(|max| i >= max)
            || budget.time.is_some_and(|t| started.elapsed() >= t);
        if budget.replay.is_none() && spent {
            break;
        }
        let mut runner = runner_for(seed);
        let mut tree = match strategy.new_tree(&mut runner) {
            Ok(tree) => tree,
            Err(e) => panic!("case {seed:#018x} cannot be generated: {e}"),
        };
        let case = tree.current();
        let kind = case.kind();
        let written = files(&case, &specs);
        if verbose() {
            println!("case {seed:#018x} ({kind}, {} bytes)", written[0].1.len());
        }
        let began = Instant::now();
        let result = run(seed, &written, budget.limit);
        let took = began.elapsed();
        if took > slowest.0 {
            slowest = (took, seed, kind);
        }
        let tally = by_kind.entry(kind).or_default();
        tally.cases += 1;
        tally.time += took;
        total.cases += 1;
        match result {
            Ok(Outcome::Code) => {
                tally.code += 1;
                total.code += 1;
            }
            Ok(Outcome::Diagnostics) => {
                tally.diagnostics += 1;
                total.diagnostics += 1;
            }
            Err(failure) => {
                let mut report = format!(
                    "case {seed:#018x} ({kind}): {failure:?}\n  replay: FUZZ_REPLAY={seed:#018x} cargo test -p connector-codegen --test fuzz -- --nocapture\n"
                );
                let saved = scratch().join(format!("failure-{seed:016x}"));
                let save = |files: &[(String, Vec<u8>)]| {
                    let _ = std::fs::create_dir_all(&saved);
                    for (name, bytes) in files {
                        let _ = std::fs::write(saved.join(name), bytes);
                    }
                };
                if matches!(failure, Failure::Hang) {
                    // Not shrunk: every try would take the whole limit, and the thread never ends.
                    hung = true;
                    save(&written);
                    let _ = writeln!(
                        report,
                        "  no answer within {:?}; input (all files in {}):\n{}",
                        budget.limit,
                        saved.display(),
                        preview(&written[0].1)
                    );
                } else {
                    let small = shrink(tree.as_mut(), &failure, &specs, seed, 300);
                    let small_files = files(&small, &specs);
                    save(&small_files);
                    let _ = writeln!(
                        report,
                        "  shrunk input (all files in {}):\n{}",
                        saved.display(),
                        preview(&small_files[0].1)
                    );
                }
                eprintln!("{report}");
                failures.push(report);
                // A thread still running a hung case keeps its core; nothing after it is measured fairly.
                if hung || failures.len() >= 20 {
                    break;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(scratch().join("case"));
    let panics = failures.iter().filter(|f| f.contains("Panic(")).count();
    let internal = failures.iter().filter(|f| f.contains("Internal(")).count();
    println!(
        "fuzz: {} cases in {:.1?} (seed {:#018x}): {} produced code, {} diagnostics; {} panics, {} internal errors, {} hangs",
        total.cases,
        started.elapsed(),
        budget.seed,
        total.code,
        total.diagnostics,
        panics,
        internal,
        usize::from(hung)
    );
    for (kind, t) in &by_kind {
        println!(
            "  {kind:<16} {:>7} cases {:>7} code {:>7} diagnostics {:>9.1?}",
            t.cases, t.code, t.diagnostics, t.time
        );
    }
    println!(
        "  slowest case: {:.1?} ({}, seed {:#018x})",
        slowest.0, slowest.2, slowest.1
    );
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
    if budget.replay.is_none() {
        assert!(total.cases > 0, "the budget allowed no case");
    }
}
