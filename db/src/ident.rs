//! Identifiers (table, column, index and savepoint names) written into SQL: one quoting function,
//! the only place a name supplied at run time enters a statement's text.
//!
//! Both engines quote with double quotes and escape a double quote by doubling it, so any name
//! (spaces, capitals, keywords, quotes) round-trips exactly; NUL, which neither engine can store in a
//! name, and the empty name are refused. A dotted name (`sales.orders`) is quoted part by part, so a
//! PostgreSQL table can be named with its schema.

use connector_runtime::Error;

/// Longest name accepted: PostgreSQL's own limit is 63 bytes (longer names are cut silently, so
/// two long names could collide); a longer one is refused here for both engines.
pub const MAX_IDENTIFIER_BYTES: usize = 63;

/// `name` as a quoted identifier: `"order"`, `"say ""hi"""`.
pub fn quote_ident(name: &str) -> Result<String, Error> {
    if name.is_empty() {
        return Err(Error::validation("identifier", "is empty"));
    }
    if name.contains('\0') {
        return Err(Error::validation(
            "identifier",
            format!("`{}` contains a NUL character", name.escape_debug()),
        ));
    }
    if name.len() > MAX_IDENTIFIER_BYTES {
        return Err(Error::validation(
            "identifier",
            format!(
                "`{name}` is {} bytes long, above the {MAX_IDENTIFIER_BYTES} PostgreSQL keeps",
                name.len()
            ),
        ));
    }
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    Ok(out)
}

/// A table name, possibly `schema.table`: each dot-separated part quoted. A part that itself
/// contains a dot cannot be written this way; use [`quote_ident`] on each part instead.
pub fn quote_table(name: &str) -> Result<String, Error> {
    let parts: Vec<String> = name.split('.').map(quote_ident).collect::<Result<_, _>>()?;
    if parts.len() > 2 {
        return Err(Error::validation(
            "table",
            format!("`{name}` has more than one dot: write it as schema.table"),
        ));
    }
    Ok(parts.join("."))
}

/// Quote a list of names, comma-separated.
pub(crate) fn quote_list<S: AsRef<str>>(names: &[S]) -> Result<String, Error> {
    let mut out = String::new();
    for (i, n) in names.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&quote_ident(n.as_ref())?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_quotes_doubled() {
        assert_eq!(quote_ident("order").unwrap(), "\"order\"");
        assert_eq!(quote_ident("Mixed Case").unwrap(), "\"Mixed Case\"");
        assert_eq!(quote_ident("say \"hi\"").unwrap(), "\"say \"\"hi\"\"\"");
        assert_eq!(
            quote_ident("x\"; DROP TABLE t; --").unwrap(),
            "\"x\"\"; DROP TABLE t; --\""
        );
        assert_eq!(quote_table("sales.orders").unwrap(), "\"sales\".\"orders\"");
        assert_eq!(quote_list(&["a", "b"]).unwrap(), "\"a\", \"b\"");
    }

    #[test]
    fn nul_empty_and_overlong_names_are_refused() {
        for bad in ["", "a\0b", &"x".repeat(64)] {
            let e = quote_ident(bad).unwrap_err();
            assert_eq!(e.code(), connector_runtime::ErrorCode::ValidationError);
        }
        assert!(quote_table("a.b.c").is_err());
        assert!(quote_table("a.").is_err());
        assert!(quote_ident(&"é".repeat(31)).is_ok());
    }
}
