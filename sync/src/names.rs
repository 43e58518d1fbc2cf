//! Names the engine makes itself: columns for key fields the catalog does not list, partitions.

use std::collections::BTreeMap;

/// A snake_case column name for a wire name (letters and digits kept, anything else `_`).
pub fn column_name(wire: &str) -> String {
    let mut out = String::with_capacity(wire.len() + 4);
    let mut prev_lower = false;
    for ch in wire.chars() {
        if ch.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(ch.to_ascii_lowercase());
            prev_lower = false;
        } else if ch.is_ascii_alphanumeric() {
            out.push(ch);
            prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let out = out.trim_matches('_').to_owned();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("f_{out}")
    } else {
        out
    }
}

/// The partition key of a listing: its parameters as canonical JSON (`{}` when it has none).
pub fn partition_key(params: &BTreeMap<String, String>) -> String {
    serde_json::to_string(params).unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_become_snake_case() {
        assert_eq!(column_name("createdAt"), "created_at");
        assert_eq!(column_name("user.login"), "user_login");
        assert_eq!(column_name("9lives"), "f_9lives");
        assert_eq!(column_name("ID"), "id");
    }
}
