//! Naming: every Rust identifier the generator emits is made here (case, keywords, symbols, collisions).
//!
//! Architecture Invariant: no other module invents identifiers; they ask this one, so a naming rule
//! changes in one place and all fronts (CLI, xtask, macro) agree.

use std::collections::{HashMap, HashSet};

/// heck's `UpperCamelCase` and `snake_case`, with a fast path for ASCII text.
///
/// heck writes each character through `fmt` (`to_uppercase`, `to_lowercase`), about 9,000
/// instructions for a name of sixty characters; lowering names thousands of inline shapes after
/// long context names, serially. For ASCII text, [`ascii_words`] splits words by heck's own rule and
/// the cases are byte operations. Other text goes to heck. A test compares both on every string of
/// a small alphabet up to five characters.
trait Case {
    fn to_upper_camel_case(&self) -> String;
    fn to_snake_case(&self) -> String;
}

impl Case for str {
    fn to_upper_camel_case(&self) -> String {
        if !self.is_ascii() {
            return heck::ToUpperCamelCase::to_upper_camel_case(self);
        }
        let mut out = String::with_capacity(self.len());
        ascii_words(self, |word| {
            if let Some((first, rest)) = word.split_first() {
                out.push(first.to_ascii_uppercase() as char);
                out.extend(rest.iter().map(|b| b.to_ascii_lowercase() as char));
            }
        });
        out
    }

    fn to_snake_case(&self) -> String {
        if !self.is_ascii() {
            return heck::ToSnakeCase::to_snake_case(self);
        }
        let mut out = String::with_capacity(self.len() + 4);
        let mut first = true;
        ascii_words(self, |word| {
            if !first {
                out.push('_');
            }
            first = false;
            out.extend(word.iter().map(|b| b.to_ascii_lowercase() as char));
        });
        out
    }
}

/// The words heck finds in ASCII `s`, in order: split at anything not a letter or digit, then
/// between a lowercase letter (or a digit after one) and an uppercase one, and before the last
/// capital of a run followed by a lowercase letter (`HTTPServer`: `HTTP`, `Server`).
fn ascii_words(s: &str, mut word: impl FnMut(&[u8])) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        Boundary,
        Lower,
        Upper,
    }
    for part in s.split(|c: char| !c.is_ascii_alphanumeric()) {
        let b = part.as_bytes();
        let mut init = 0;
        let mut mode = Mode::Boundary;
        for i in 0..b.len() {
            let c = b[i];
            let Some(&next) = b.get(i + 1) else {
                word(&b[init..]);
                break;
            };
            let next_mode = if c.is_ascii_lowercase() {
                Mode::Lower
            } else if c.is_ascii_uppercase() {
                Mode::Upper
            } else {
                mode
            };
            if next_mode == Mode::Lower && next.is_ascii_uppercase() {
                word(&b[init..=i]);
                init = i + 1;
                mode = Mode::Boundary;
            } else if mode == Mode::Upper && c.is_ascii_uppercase() && next.is_ascii_lowercase() {
                word(&b[init..i]);
                init = i;
                mode = Mode::Boundary;
            } else {
                mode = next_mode;
            }
        }
    }
}

/// Rust keywords (strict, reserved and weak ones that cannot be plain identifiers in some position).
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate",
    "do", "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl",
    "in", "let", "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref",
    "return", "self", "static", "struct", "super", "trait", "true", "try", "type", "typeof",
    "union", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Type names that would shadow what generated code uses unqualified (prelude, runtime, serde).
const RESERVED_TYPES: &[&str] = &[
    "Self",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Box",
    "Vec",
    "String",
    "Default",
    "Clone",
    "Copy",
    "Send",
    "Sync",
    "Sized",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "Into",
    "Iterator",
    "IntoIterator",
    "ToString",
    "ToOwned",
    "Debug",
    "Display",
    "Error",
    "Response",
    "Client",
    "Serialize",
    "Deserialize",
    "Deserializer",
    "Serializer",
    "Value",
    "Bytes",
    "BTreeMap",
    "HashMap",
    "PartialEq",
    "Eq",
    "Ord",
    "PartialOrd",
    "Hash",
    "AsRef",
    "AsMut",
    "Extend",
    "Unpin",
    "Future",
    "Method",
    "Connector",
    "ConnectorConfig",
    "Body",
    "RequestOptions",
    "Unknown",
    "Other",
    "Models",
];

fn symbol_words(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for (i, ch) in raw.chars().enumerate() {
        match ch {
            'a'..='z' | 'A'..='Z' | '0'..='9' => out.push(ch),
            '+' if i == 0 => out.push_str("plus "),
            '-' if i == 0 => out.push_str("minus "),
            '+' => out.push_str(" plus "),
            '*' => out.push_str(" star "),
            '@' => out.push_str(" at "),
            '#' => out.push_str(" hash "),
            '%' => out.push_str(" percent "),
            '&' => out.push_str(" and "),
            '=' => out.push_str(" eq "),
            '<' => out.push_str(" lt "),
            '>' => out.push_str(" gt "),
            '!' => out.push_str(" not "),
            _ => out.push(' '),
        }
    }
    out
}

fn plain(raw: &str) -> String {
    raw.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { ' ' })
        .collect()
}

/// Lower-case ASCII words of letters and digits joined by single underscores, the first starting
/// with a letter: text heck's snake case leaves as it is.
fn is_snake(raw: &str) -> bool {
    raw.starts_with(|c: char| c.is_ascii_lowercase())
        && !raw.ends_with('_')
        && !raw.contains("__")
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// `UpperCamelCase` type name for arbitrary text. Never empty, never a keyword or reserved name.
pub fn type_name(raw: &str) -> String {
    let mut s = plain(raw).to_upper_camel_case();
    if s.is_empty() {
        s = symbol_words(raw).to_upper_camel_case();
    }
    if s.is_empty() {
        s = "Type".into();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'T');
    }
    if RESERVED_TYPES.contains(&s.as_str()) {
        s.push_str("Model");
    }
    s
}

/// `UpperCamelCase` enum variant name for a value (symbols spelled out: `+1` -> `Plus1`).
pub fn variant_name(raw: &str) -> String {
    let mut s = plain(raw).to_upper_camel_case();
    if s.is_empty() || raw.starts_with(['+', '-']) {
        s = symbol_words(raw).to_upper_camel_case();
    }
    if s.is_empty() {
        s = "Empty".into();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, 'V');
    }
    if s == "Self" || s == "Unknown" {
        s.push_str("Value");
    }
    s
}

/// The name of the static holding a model type's XML shape: `ListBucketResult` → `LIST_BUCKET_RESULT_XML`
/// (type names are UpperCamelCase and unique, so these are too, and no other item is upper case).
pub fn xml_shape_name(type_name: &str) -> String {
    format!("{}_XML", type_name.to_snake_case().to_ascii_uppercase())
}

/// The type of an operation's typed response headers: `<Builder>Headers`.
pub fn headers_type_name(builder: &str) -> String {
    format!("{builder}Headers")
}

/// `snake_case` field, parameter or method name. Keywords get a trailing `_`.
pub fn snake_name(raw: &str) -> String {
    let mut s = if is_snake(raw) {
        // Already snake case, as most wire names are: what heck would make of it.
        raw.to_owned()
    } else {
        plain(raw).to_snake_case()
    };
    if s.is_empty() || raw.starts_with(['+', '-']) {
        s = symbol_words(raw).to_snake_case();
    }
    if s.is_empty() {
        s = "value".into();
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert_str(0, "n_");
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// The methods the generated `Client` defines besides one accessor per group (a group module's
/// name is its accessor's name, so a group may not take one of these). `emit::lib` writes them; a
/// test there checks the two agree.
pub const CLIENT_METHODS: &[&str] = &["config", "new", "from_connector", "connector"];

/// What the crate root names in the namespace of group modules: the models, the auth constructors,
/// the webhook payloads, the alias of the runtime support, the runtime crate itself (a module
/// of that name would make the root's `connector_runtime::` paths ambiguous), and the sync catalog
/// (also the name of its cargo feature).
pub const ROOT_MODULES: &[&str] = &[
    "models",
    "auth",
    "webhook_events",
    "rt",
    "connector_runtime",
    "sync",
];

/// What each group accessor type defines besides its operations' methods: the `client` field (and
/// `new`, kept free so the type can gain a constructor).
pub const GROUP_MEMBERS: &[&str] = &["client", "new"];

/// Further names a group module may not take: cargo feature names (`all`, `default`), file names
/// cargo gives a meaning (`src/lib.rs`, `src/main.rs`), the standard crates, and `client`.
const OTHER_RESERVED_MODULES: &[&str] = &[
    "client", "all", "default", "lib", "main", "std", "core", "alloc",
];

/// Every name a group module (and so its accessor and cargo feature) may not take; claimed before
/// any tag.
pub fn reserved_module_names() -> impl Iterator<Item = &'static str> + Clone {
    CLIENT_METHODS
        .iter()
        .chain(ROOT_MODULES)
        .chain(OTHER_RESERVED_MODULES)
        .copied()
}

/// `snake_case` module or cargo feature name; a reserved one gets `_api` (`config` -> `config_api`).
pub fn module_name(raw: &str) -> String {
    let s = snake_name(raw);
    if reserved_module_names().any(|r| r == s) {
        format!("{s}_api")
    } else {
        s
    }
}

/// The words an operation's part adds to its builder name when naming an inline shape: `Body`,
/// `Response`, `Error` and `event`, each maybe followed by a status (`Response 200`, `Error 4XX`).
const ROLES: &[&str] = &["Body", "Response", "Error", "event"];

/// Words that name a position inside a shape rather than a meaning (`Item` of a list, `Value` of a
/// map, `Variant3` of a union).
fn is_position_word(w: &str) -> bool {
    w == "Item"
        || w == "Value"
        || w.strip_prefix("Variant")
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

fn is_status_word(w: &str) -> bool {
    w == "DEFAULT" || (w.len() == 3 && w.chars().all(|c| c.is_ascii_digit() || c == 'X'))
}

/// How a shape met in an operation's part reads without the operation: the role of the part
/// (`Response`, `Error`...; empty for a parameter or property) and the meaningful words (the
/// parameter or property name, `None` for a body or answer itself).
///
/// `Response 200 Item` is (`"ResponseItem"`, `None`); `direction` is (`""`, `Some("direction")`);
/// `labels Item` is (`""`, `Some("labels Item")`).
pub fn shape_words(words: &str) -> (String, Option<String>) {
    let tokens: Vec<&str> = words.split_whitespace().collect();
    let mut role = String::new();
    let mut rest: &[&str] = &tokens;
    if let Some((first, tail)) = tokens.split_first() {
        if ROLES.contains(first) {
            // A suffix, never a whole name: `Response` is no clash here.
            role.push_str(&first.to_upper_camel_case());
            rest = tail;
            if let Some((status, tail)) = rest.split_first() {
                if is_status_word(status) {
                    rest = tail;
                }
            }
        }
    }
    if rest.iter().all(|w| is_position_word(w)) {
        for w in rest {
            role.push_str(w);
        }
        return (role, None);
    }
    (role, Some(rest.join(" ")))
}

/// The names a shape used by several operations may take, most preferred first: its `title`; the
/// meaning it was met under (a parameter or property name: `Direction`), then that meaning with
/// more and more of its content (`DirectionAscDesc` for an enum of `asc` and `desc`); without a
/// meaning, its content and role (`MessageDocumentationUrlError` for an error body of `message`
/// and `documentation_url`). Never an operation's name, so a shared type reads the same from every
/// operation that takes it, and adding an operation that does not use it cannot rename it.
pub fn shared_type_names(
    title: Option<&str>,
    meaning: Option<&str>,
    role: &str,
    content: &[String],
) -> Vec<String> {
    const MOST_CONTENT_WORDS: usize = 6;
    let mut out: Vec<String> = Vec::new();
    let mut push = |n: String| {
        if !out.contains(&n) {
            out.push(n);
        }
    };
    if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty()) {
        push(type_name(t));
    }
    let content = &content[..content.len().min(MOST_CONTENT_WORDS)];
    let counts = [0, 2, 3, 4, content.len()];
    match meaning {
        Some(m) => {
            for n in counts {
                let n = n.min(content.len());
                push(type_name(&format!("{m} {}", content[..n].join(" "))));
            }
        }
        None => {
            let role = if role.is_empty() { "Shape" } else { role };
            for n in counts {
                let n = n.min(content.len());
                if n == 0 && !content.is_empty() {
                    continue;
                }
                push(type_name(&format!("{} {role}", content[..n].join(" "))));
            }
        }
    }
    out
}

/// The singular of an English plural as API paths spell them: `issues` → `issue`, `statuses` →
/// `status`, `entries` → `entry`, `addresses` → `address`; a word that does not read as a plural is
/// returned as is.
pub fn singular(word: &str) -> String {
    let w = word;
    let lower = w.to_ascii_lowercase();
    let keep = |n: usize| w[..w.len() - n].to_owned();
    if lower.len() <= 3 || lower.ends_with("ss") || lower.ends_with("us") || lower.ends_with("is") {
        return w.to_owned();
    }
    if lower.ends_with("ies") {
        return format!("{}y", keep(3));
    }
    for end in ["sses", "xes", "ches", "shes", "zzes", "uses"] {
        if lower.ends_with(end) {
            return keep(2);
        }
    }
    if lower.ends_with('s') {
        return keep(1);
    }
    w.to_owned()
}

/// A path segment as a word of a table name: snake_case, without a file extension (`Calls.json` →
/// `calls`); `None` for a parameter (`{id}`), an empty segment, or one that only versions or roots
/// the API (`v1`, `v2beta`, `2010-04-01`, `api`).
pub fn path_word(segment: &str) -> Option<String> {
    if segment.is_empty() || segment.contains('{') {
        return None;
    }
    let stem = segment
        .rsplit_once('.')
        .filter(|(_, ext)| matches!(*ext, "json" | "xml" | "csv"))
        .map_or(segment, |(stem, _)| stem);
    let lower = stem.to_ascii_lowercase();
    let versioned = lower
        .strip_prefix('v')
        .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        || lower.starts_with(|c: char| c.is_ascii_digit())
        || lower == "api";
    if versioned {
        return None;
    }
    let word = snake_name(stem);
    (!word.is_empty()).then_some(word.trim_end_matches('_').to_owned())
}

/// The table names a stream may take, most preferred first: the last word of its path (`issues`), or
/// for a listing under a parent item, the parent's singular and that word (`issue_comments`); then
/// the same with more and more of the path's earlier words in front (`repos_issues_comments`), on a
/// collision; then the operation's own name. `words` are the path's words ([`path_word`]) in order;
/// `parent_word` is the word naming the parent's items, when there is a parent.
pub fn stream_table_names(
    words: &[String],
    parent_word: Option<&str>,
    operation_id: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some((last, before)) = words.split_last() {
        let (base, mut earlier) = match parent_word {
            Some(p) => {
                let at = before.iter().rposition(|w| w == p).unwrap_or(before.len());
                (format!("{}_{last}", singular(p)), before[..at].to_vec())
            }
            None => (last.clone(), before.to_vec()),
        };
        out.push(base.clone());
        let mut name = base;
        while let Some(w) = earlier.pop() {
            name = format!("{w}_{name}");
            out.push(name.clone());
        }
    }
    out.push(snake_name(operation_id).trim_end_matches('_').to_owned());
    out
}

/// The columns a sync engine adds to every table besides the item's: the item fields' columns never
/// take these names.
pub const SYNC_ENGINE_COLUMNS: &[&str] = &[
    "updated_at",
    "ingested_at",
    "is_deleted",
    "deleted_at",
    "_raw",
    "_hash",
];

/// Column names for item fields (wire names, in order): snake_case, unique; a field named like one of
/// the engine's own columns is prefixed with `item_` (`updated_at` → `item_updated_at`).
pub fn sync_column_names<'a>(wires: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut scope = Scope::with_taken(SYNC_ENGINE_COLUMNS.iter().copied());
    wires
        .into_iter()
        .map(|w| {
            let mut n = snake_name(w).trim_end_matches('_').to_owned();
            if n.is_empty() {
                n = "value".into();
            }
            if SYNC_ENGINE_COLUMNS.contains(&n.as_str()) {
                n = format!("item_{n}");
            }
            scope.claim(&n)
        })
        .collect()
}

/// The generated functions of a stream in the sync module: `fetch_<table>` and `stream_<table>`
/// (its definition).
pub fn sync_fn_names(table: &str) -> (String, String) {
    (format!("fetch_{table}"), format!("stream_{table}"))
}

/// The name of the constant holding the columns of streams whose items are `type_name`
/// (`MinimalRepository` → `MINIMAL_REPOSITORY_COLUMNS`).
pub fn columns_const_name(type_name: &str) -> String {
    format!("{}_COLUMNS", snake_name(type_name).to_ascii_uppercase())
}

/// Hands out unique names within one scope, in call order, so output is deterministic.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    taken: HashSet<String, foldhash::fast::RandomState>,
    /// For a name claimed more than once, the first counter not yet tried: every candidate below it
    /// is taken, so the search resumes there (many values with one name stay linear, not quadratic).
    next: HashMap<String, usize, foldhash::fast::RandomState>,
}

impl Scope {
    /// A scope with some names already taken.
    pub fn with_taken<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Scope {
            taken: names.into_iter().map(str::to_owned).collect(),
            next: HashMap::default(),
        }
    }

    /// `name`, or `name2`, `name3`... whichever is free (case-insensitively distinct for safety
    /// on case-insensitive file systems is not needed: these are identifiers, not files).
    pub fn claim(&mut self, name: &str) -> String {
        if self.taken.insert(name.to_owned()) {
            return name.to_owned();
        }
        let sep = if name.ends_with(|c: char| c.is_ascii_digit()) {
            "_"
        } else {
            ""
        };
        let start = self.next.get(name).copied().unwrap_or(2);
        for n in start.. {
            let candidate = format!("{name}{sep}{n}");
            if self.taken.insert(candidate.clone()) {
                self.next.insert(name.to_owned(), n + 1);
                return candidate;
            }
        }
        unreachable!("an unbounded counter always finds a free name")
    }

    /// Whether `name` is taken.
    pub fn contains(&self, name: &str) -> bool {
        self.taken.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_cases_are_hecks() {
        let alphabet = ['a', 'B', 'c', 'D', '1', '_', ' ', '-', 'x'];
        let mut texts = vec![String::new()];
        let mut level = vec![String::new()];
        for _ in 0..5 {
            level = level
                .iter()
                .flat_map(|t| alphabet.iter().map(move |c| format!("{t}{c}")))
                .collect();
            texts.extend(level.iter().cloned());
        }
        texts.extend(
            [
                "HTTPServer",
                "getHTTPResponseCode",
                "repos/get-content response 200",
                "ABC123def",
                "a1B2c3",
                "IPv4Address",
                "__private__",
                "Ünïcode names",
            ]
            .map(str::to_owned),
        );
        for t in &texts {
            assert_eq!(
                t.as_str().to_upper_camel_case(),
                heck::ToUpperCamelCase::to_upper_camel_case(t.as_str()),
                "{t:?}"
            );
            assert_eq!(
                t.as_str().to_snake_case(),
                heck::ToSnakeCase::to_snake_case(t.as_str()),
                "{t:?}"
            );
        }
    }

    #[test]
    fn column_constants_are_named_after_their_item_type() {
        assert_eq!(
            columns_const_name("MinimalRepository"),
            "MINIMAL_REPOSITORY_COLUMNS"
        );
        assert_eq!(columns_const_name("Issue"), "ISSUE_COLUMNS");
    }

    #[test]
    fn types_are_camel_case_and_never_reserved() {
        assert_eq!(type_name("pet-store"), "PetStore");
        assert_eq!(type_name("Option"), "OptionModel");
        assert_eq!(type_name("box"), "BoxModel");
        assert_eq!(type_name("3d_model"), "T3dModel");
        assert_eq!(type_name("%%%"), "PercentPercentPercent");
        assert_eq!(type_name(""), "Type");
        assert_eq!(type_name("repository.owner"), "RepositoryOwner");
    }

    #[test]
    fn snake_names_escape_keywords_and_digits() {
        assert_eq!(snake_name("type"), "type_");
        assert_eq!(snake_name("self"), "self_");
        assert_eq!(snake_name("Page-Size"), "page_size");
        assert_eq!(snake_name("PageToken"), "page_token");
        assert_eq!(snake_name("due_on.before"), "due_on_before");
        assert_eq!(snake_name("$ref"), "ref_");
        assert_eq!(snake_name("2fa"), "n_2fa");
        assert_eq!(snake_name("+1"), "plus_1");
        assert_eq!(module_name("auth"), "auth_api");
        assert_eq!(snake_name("-1"), "minus_1");
        assert_eq!(snake_name(""), "value");
    }

    #[test]
    fn snake_case_input_is_kept_as_heck_would_make_it() {
        let kept = [
            "id",
            "html_url",
            "sha256",
            "x509_certificate",
            "v2beta_1",
            "a",
            "type",
            "r2d2",
        ];
        for raw in kept {
            assert!(is_snake(raw), "{raw}");
            assert_eq!(raw, plain(raw).to_snake_case());
        }
        let rewritten = [
            "_id", "id_", "a__b", "Id", "htmlUrl", "2fa", "due-on", "", "é", "a.b",
        ];
        for raw in rewritten {
            assert!(!is_snake(raw), "{raw}");
        }
        assert_eq!(snake_name("a__b"), "a_b");
        assert_eq!(snake_name("_id"), "id");
    }

    #[test]
    fn variants_spell_symbols() {
        assert_eq!(variant_name("+1"), "Plus1");
        assert_eq!(variant_name("-1"), "Minus1");
        assert_eq!(variant_name("in_progress"), "InProgress");
        assert_eq!(variant_name("*"), "Star");
        assert_eq!(variant_name("1.0"), "V10");
        assert_eq!(variant_name("unknown"), "UnknownValue");
    }

    #[test]
    fn reserved_names_never_become_group_modules() {
        for r in reserved_module_names() {
            assert_eq!(module_name(r), format!("{r}_api"));
        }
        for m in [
            "config",
            "new",
            "from_connector",
            "connector",
            "connector_runtime",
        ] {
            assert!(reserved_module_names().any(|r| r == m), "{m}");
        }
        assert_eq!(module_name("Config"), "config_api");
        assert_eq!(module_name("pets"), "pets");
    }

    #[test]
    fn shape_words_split_role_from_meaning() {
        assert_eq!(
            shape_words("direction"),
            (String::new(), Some("direction".into()))
        );
        assert_eq!(shape_words("Response 200"), ("Response".into(), None));
        assert_eq!(shape_words("Error DEFAULT"), ("Error".into(), None));
        assert_eq!(shape_words("Body Item"), ("BodyItem".into(), None));
        assert_eq!(
            shape_words("Response 200 owner"),
            ("Response".into(), Some("owner".into()))
        );
        assert_eq!(
            shape_words("labels Item"),
            (String::new(), Some("labels Item".into()))
        );
        assert_eq!(shape_words("Variant1"), ("Variant1".into(), None));
    }

    #[test]
    fn shared_names_say_meaning_then_content() {
        let asc = ["asc".to_owned(), "desc".to_owned()];
        assert_eq!(
            shared_type_names(None, Some("direction"), "", &asc),
            ["Direction", "DirectionAscDesc"]
        );
        let err = [
            "message".to_owned(),
            "documentation_url".to_owned(),
            "code".to_owned(),
        ];
        assert_eq!(
            shared_type_names(None, None, "Error", &err),
            [
                "MessageDocumentationUrlError",
                "MessageDocumentationUrlCodeError"
            ]
        );
        assert_eq!(
            shared_type_names(Some("Page info"), None, "Response", &[]),
            ["PageInfo", "ResponseModel"]
        );
        assert_eq!(shared_type_names(None, None, "", &[]), ["Shape"]);
    }

    #[test]
    fn plurals_become_singular() {
        for (plural, one) in [
            ("issues", "issue"),
            ("comments", "comment"),
            ("entries", "entry"),
            ("statuses", "status"),
            ("addresses", "address"),
            ("boxes", "box"),
            ("branches", "branch"),
            ("status", "status"),
            ("data", "data"),
            ("Accounts", "Account"),
        ] {
            assert_eq!(singular(plural), one, "{plural}");
        }
    }

    #[test]
    fn path_words_drop_parameters_versions_and_extensions() {
        assert_eq!(path_word("issues").as_deref(), Some("issues"));
        assert_eq!(path_word("Calls.json").as_deref(), Some("calls"));
        assert_eq!(
            path_word("balance_transactions").as_deref(),
            Some("balance_transactions")
        );
        assert_eq!(path_word("ssh-keys").as_deref(), Some("ssh_keys"));
        for none in ["{owner}", "v1", "v2beta", "2010-04-01", "api", ""] {
            assert_eq!(path_word(none), None, "{none}");
        }
    }

    #[test]
    fn table_names_go_from_short_to_specific() {
        let w = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            stream_table_names(&w(&["repos", "issues"]), None, "issues/list-for-repo"),
            ["issues", "repos_issues", "issues_list_for_repo"]
        );
        assert_eq!(
            stream_table_names(
                &w(&["repos", "issues", "comments"]),
                Some("issues"),
                "issues/list-comments"
            ),
            [
                "issue_comments",
                "repos_issue_comments",
                "issues_list_comments"
            ]
        );
        assert_eq!(
            stream_table_names(&w(&["charges"]), None, "GetCharges"),
            ["charges", "get_charges"]
        );
    }

    #[test]
    fn columns_are_unique_and_leave_the_engine_its_own() {
        assert_eq!(
            sync_column_names(["id", "updatedAt", "updated_at", "_raw", "type", "Type"]),
            [
                "id",
                "item_updated_at",
                "item_updated_at2",
                "raw",
                "type",
                "type2"
            ]
        );
    }

    #[test]
    fn scope_dedupes_in_order() {
        let mut s = Scope::with_taken(["client"]);
        assert_eq!(s.claim("client"), "client2");
        assert_eq!(s.claim("user"), "user");
        assert_eq!(s.claim("user"), "user2");
        assert_eq!(s.claim("v1"), "v1");
        assert_eq!(s.claim("v1"), "v1_2");
        // A name already taken as another's numbered form is skipped, wherever the count resumes.
        assert_eq!(s.claim("user3"), "user3");
        assert_eq!(s.claim("user"), "user4");
        assert_eq!(s.claim("user"), "user5");
    }

    #[test]
    fn many_claims_of_one_name_stay_fast() {
        // An enum of 200,000 values that all spell `A` (`a`, `a!`, `a?`...): linear, not quadratic.
        let started = std::time::Instant::now();
        let mut s = Scope::default();
        for _ in 0..200_000 {
            s.claim("A");
        }
        assert_eq!(s.claim("A"), "A200001");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }
}
