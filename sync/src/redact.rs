//! PII redaction: configured fields are masked, hashed or dropped in the item before anything
//! about it is written (columns, `_raw`, dead letters) or logged.

use ring::digest;
use serde_json::Value;

/// What happens to a redacted field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedactMode {
    /// Text becomes `***`; other values become null.
    Mask,
    /// Text becomes the hex SHA-256 of the value's JSON (joinable, not readable); other values
    /// become null in typed columns and the hash in `_raw`.
    Hash,
    /// The field is removed (null in its column).
    Drop,
}

/// One redaction rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Redaction {
    /// Only this stream (`None`: every stream).
    pub stream: Option<String>,
    /// A top-level field name or a JSON pointer into the item (`/user/email`).
    pub field: String,
    /// What to do.
    pub mode: RedactMode,
}

impl Redaction {
    /// Parse `[stream:]field[=mask|hash|drop]` (mask by default).
    pub fn parse(text: &str) -> Result<Redaction, String> {
        let (target, mode) = match text.rsplit_once('=') {
            Some((t, m)) => (
                t,
                match m {
                    "mask" => RedactMode::Mask,
                    "hash" => RedactMode::Hash,
                    "drop" => RedactMode::Drop,
                    other => {
                        return Err(format!(
                            "redaction mode `{other}` is not one of mask, hash, drop"
                        ));
                    }
                },
            ),
            None => (text, RedactMode::Mask),
        };
        let (stream, field) = match target.split_once(':') {
            Some((s, f)) => (Some(s.to_owned()), f),
            None => (None, target),
        };
        if field.is_empty() {
            return Err(format!("redaction `{text}` names no field"));
        }
        Ok(Redaction {
            stream,
            field: field.to_owned(),
            mode,
        })
    }

    /// The JSON pointer of the field.
    pub fn pointer(&self) -> String {
        if self.field.starts_with('/') {
            self.field.clone()
        } else {
            format!("/{}", self.field.replace('~', "~0").replace('/', "~1"))
        }
    }

    /// Applies to `stream`.
    pub fn applies(&self, stream: &str) -> bool {
        self.stream.as_deref().is_none_or(|s| s == stream)
    }
}

/// The hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, bytes);
    let mut out = String::with_capacity(64);
    for b in d.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Apply `rules` to `item`; returns the original text of the values replaced (to scrub them from
/// error messages).
pub fn apply(rules: &[&Redaction], item: &mut Value) -> Vec<String> {
    let mut seen = Vec::new();
    for r in rules {
        let ptr = r.pointer();
        let Some((parent_ptr, last)) = ptr.rsplit_once('/') else {
            continue;
        };
        let key = last.replace("~1", "/").replace("~0", "~");
        let parent = if parent_ptr.is_empty() {
            Some(&mut *item)
        } else {
            item.pointer_mut(parent_ptr)
        };
        let Some(Value::Object(map)) = parent else {
            continue;
        };
        let Some(v) = map.get_mut(&key) else {
            continue;
        };
        match &*v {
            Value::String(s) => seen.push(s.clone()),
            Value::Null if r.mode == RedactMode::Drop => {}
            Value::Null => continue,
            other => seen.push(other.to_string()),
        }
        match r.mode {
            RedactMode::Drop => {
                map.remove(&key);
            }
            RedactMode::Mask => {
                let text = v.is_string();
                *v = if text {
                    Value::String("***".into())
                } else {
                    Value::Null
                }
            }
            RedactMode::Hash => *v = Value::String(sha256_hex(v.to_string().as_bytes())),
        }
    }
    seen
}

/// `text` with every `secret` (of 3 characters or more) replaced by `***`.
pub fn scrub(mut text: String, secrets: &[String]) -> String {
    for s in secrets {
        if s.len() >= 3 {
            text = text.replace(s.as_str(), "***");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rules_parse_and_apply() {
        let mask = Redaction::parse("email").unwrap();
        let hash = Redaction::parse("users:/owner/login=hash").unwrap();
        let drop = Redaction::parse("phone=drop").unwrap();
        assert!(Redaction::parse("x=scramble").is_err());
        assert!(hash.applies("users") && !hash.applies("issues") && mask.applies("issues"));
        let mut item =
            json!({"email": "a@b.c", "phone": "555", "owner": {"login": "octo"}, "n": 1});
        let seen = apply(&[&mask, &hash, &drop], &mut item);
        assert_eq!(item["email"], "***");
        assert!(item.get("phone").is_none());
        assert_eq!(item["owner"]["login"].as_str().unwrap().len(), 64);
        assert_eq!(seen, vec!["a@b.c", "octo", "555"]);
        assert_eq!(scrub("bad value `a@b.c`".into(), &seen), "bad value `***`");
    }
}
