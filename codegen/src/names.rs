//! Naming: every Rust identifier the generator emits is made here (case, keywords, symbols, collisions).
//!
//! Architecture Invariant: no other module invents identifiers; they ask this one, so a naming rule
//! changes in one place and all fronts (CLI, xtask, macro) agree.

use std::collections::{HashMap, HashSet};

use heck::{ToSnakeCase, ToUpperCamelCase};

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

/// `snake_case` field, parameter or method name. Keywords get a trailing `_`.
pub fn snake_name(raw: &str) -> String {
    let mut s = plain(raw).to_snake_case();
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

/// `snake_case` module or cargo feature name.
pub fn module_name(raw: &str) -> String {
    let s = snake_name(raw);
    match s.as_str() {
        // Names of modules and items every generated crate has (`rt` is its alias of the runtime support),
        // and file names cargo gives a meaning: `src/lib.rs` is the crate root, `src/main.rs` a binary.
        "models" | "client" | "auth" | "default" | "std" | "core" | "alloc" | "all" | "rt"
        | "webhook_events" | "lib" | "main" => {
            format!("{s}_api")
        }
        _ => s,
    }
}

/// Hands out unique names within one scope, in call order, so output is deterministic.
#[derive(Debug, Default, Clone)]
pub struct Scope {
    taken: HashSet<String>,
    /// For a name claimed more than once, the first counter not yet tried: every candidate below it
    /// is taken, so the search resumes there (many values with one name stay linear, not quadratic).
    next: HashMap<String, usize>,
}

impl Scope {
    /// A scope with some names already taken.
    pub fn with_taken<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Scope {
            taken: names.into_iter().map(str::to_owned).collect(),
            next: HashMap::new(),
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
    fn variants_spell_symbols() {
        assert_eq!(variant_name("+1"), "Plus1");
        assert_eq!(variant_name("-1"), "Minus1");
        assert_eq!(variant_name("in_progress"), "InProgress");
        assert_eq!(variant_name("*"), "Star");
        assert_eq!(variant_name("1.0"), "V10");
        assert_eq!(variant_name("unknown"), "UnknownValue");
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
