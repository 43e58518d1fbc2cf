//! Per-spec settings: the knobs a user (TOML file, CLI flags, macro arguments) may turn.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::diag::Diagnostic;
use crate::ir::{IntKind, Ty};

/// A Rust type named in settings or in an `x-rust-type` extension, when it is one the IR can express.
pub fn primitive_type(t: &str) -> Option<Ty> {
    Some(match t.trim() {
        "String" | "string" | "&str" => Ty::String,
        "i32" => Ty::Int(IntKind::I32),
        "i64" | "isize" => Ty::Int(IntKind::I64),
        "u32" => Ty::Int(IntKind::U32),
        "u64" | "usize" => Ty::Int(IntKind::U64),
        "f32" | "f64" => Ty::Float(false),
        "bool" => Ty::Bool,
        "serde_json::Value" | "Value" => Ty::Any,
        _ => return None,
    })
}

/// How the generated crate reaches `connector-runtime`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeDep {
    /// `connector-runtime = { path = "..." }`.
    Path(String),
    /// `connector-runtime = "version"`.
    Version(String),
}

impl Default for RuntimeDep {
    fn default() -> Self {
        RuntimeDep::Version(env!("CARGO_PKG_VERSION").to_owned())
    }
}

/// Settings of one generation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Crate name (default: from the title, `<title>-connector`).
    pub crate_name: Option<String>,
    /// Crate version (default: 0.1.0; `info.version` is rarely semver).
    pub crate_version: Option<String>,
    /// The package's `license`, an SPDX expression (default: `MIT OR Apache-2.0`).
    pub crate_license: Option<String>,
    /// The package's `repository` URL (crates.io shows it; `cargo package` warns without one of
    /// `repository`, `homepage` or `documentation`).
    pub crate_repository: Option<String>,
    /// The package's `homepage` URL.
    pub crate_homepage: Option<String>,
    /// The package's `documentation` URL.
    pub crate_documentation: Option<String>,
    /// The registries the package may be published to (`publish = ["name"]`); default: any.
    pub crate_publish: Option<Vec<String>>,
    /// Only these tags (empty: all).
    pub tags: Vec<String>,
    /// Tags to leave out.
    pub exclude_tags: Vec<String>,
    /// Base URL overriding the description's first server.
    pub base_url: Option<String>,
    /// Rust types for schemas, by JSON pointer: `"#/components/schemas/Money" = "i64"`.
    pub type_overrides: BTreeMap<String, String>,
    /// Rust names for schemas, by schema name or JSON pointer: `Error = "ApiError"`.
    pub renames: BTreeMap<String, String>,
    /// Where the runtime comes from.
    pub runtime: RuntimeDep,
    /// Turn on automatic idempotency keys for unsafe methods (APIs known to honour them).
    pub idempotency_keys: bool,
    /// Emit one cargo feature per tag (default true).
    pub tag_features: Option<bool>,
    /// Security schemes to add, for descriptions that document auth in prose only (GitHub, Discourse).
    pub auth: Vec<AuthHint>,
    /// How operations page, by operationId, overriding what is detected.
    pub pagination: BTreeMap<String, PagingHint>,
    /// The operationId the README and `examples/quickstart.rs` call (default: chosen from the
    /// description, a GET with the fewest simple required parameters).
    pub example_operation: Option<String>,
    /// How multipart bodies frame arrays and objects: `json` (OpenAPI's default: repeated parts and
    /// JSON parts) or `brackets` (`key[]`, `key[field]`), for vendors that document the latter while
    /// their description is silent.
    pub multipart_style: crate::ir::MultipartStyle,
    /// The signing name AWS Signature Version 4 scopes signatures to (`dynamodb`, `s3`...), when the
    /// one read from the first server's host (or `info.x-serviceName`) is not right.
    pub aws_signing_name: Option<String>,
    /// OpenAPI Overlay documents applied, in order, to the description as published before it is
    /// read (`overlays = ["overlays/fix.yaml"]`). Relative paths in a settings file are relative to
    /// that file ([`Settings::from_toml_file`]); the CLI's `--overlay` to the working directory; the
    /// macro's `overlay` to the description's directory.
    pub overlays: Vec<PathBuf>,
    /// What the sync catalog says about list operations, by operationId, overriding what the
    /// `streams` pass detects: `[streams."issues/list-for-repo"] cursor = "updated_at"`.
    pub streams: BTreeMap<String, StreamHint>,
    /// Expand the sync catalog (`pub mod sync`, for `connector-sync`) into the module
    /// [`crate::generate_tokens`] returns, without a cargo feature: for the `#[connector]` macro
    /// and `build.rs`, whose crate then depends on `connector-sync`. Generated crates always have it,
    /// behind their `sync` feature.
    pub sync: bool,
}

/// How one list operation is synced: `[streams."<operationId>"]`. Every key is optional; any key
/// given makes the stream's `source` `settings`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct StreamHint {
    /// Table name (snake_case is applied).
    pub table: Option<String>,
    /// Wire names of the item fields identifying a row.
    pub primary_key: Option<Vec<String>>,
    /// Wire name of the cursor field, or `"none"` for a stream synced by full refresh only.
    pub cursor: Option<String>,
    /// The query parameter filtering by the cursor as sent (`since`, `updated[gte]`), or `"none"`.
    pub cursor_param: Option<String>,
    /// Whether the server includes items equal to the filter value (default: `true` unless the
    /// parameter reads as exclusive, `..._after`, `[gt]`).
    pub cursor_inclusive: Option<bool>,
    /// The operationId of the parent stream (whose rows give this one's parameters), or `"none"`.
    pub parent: Option<String>,
    /// Parameters taken from each parent row: wire name to a JSON pointer into the parent item
    /// (`issue_number = "/number"`).
    pub parent_params: Option<BTreeMap<String, String>>,
    /// No stream for this operation.
    pub skip: bool,
}

/// How one operation pages: `[pagination.listThings] strategy = "cursor", param = "after", next = "/meta/next"`.
/// Pointers are JSON pointers into a page.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PagingHint {
    /// `cursor`, `offset`, `page`, `link_header`, `next_url`, or `none` (not paginated).
    pub strategy: String,
    /// Query parameter carrying the position (cursor, offset or page number).
    #[serde(default)]
    pub param: Option<String>,
    /// Pointer to the next cursor, offset token or URL.
    #[serde(default)]
    pub next: Option<String>,
    /// A response header carrying the next cursor (`cursor` strategy, instead of `next`): Azure's
    /// `x-ms-continuation`. `param` then names the query or header parameter that takes it back.
    #[serde(default)]
    pub header: Option<String>,
    /// Pointer, relative to an item, of the field that is the next cursor (`/id`).
    #[serde(default)]
    pub last_item: Option<String>,
    /// Pointer to a boolean saying more pages follow.
    #[serde(default)]
    pub has_more: Option<String>,
    /// Pointer whose presence means another page follows (page numbers).
    #[serde(default)]
    pub has_next: Option<String>,
    /// Pointer to the items array (default: detected).
    #[serde(default)]
    pub items: Option<String>,
    /// Query parameter carrying the page size (default: detected).
    #[serde(default)]
    pub page_size_param: Option<String>,
}

/// A security scheme stated in settings: `[[auth]] scheme = "token", type = "bearer"`, or several
/// headers at once: `[[auth]] scheme = "api_key", type = "headers", names = ["Api-Key", "Api-Username"]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthHint {
    /// Name of the generated `auth::<scheme>` constructor.
    pub scheme: String,
    /// `bearer`, `basic`, `api_key`, `headers` or `oauth2`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Header names (`headers`): the constructor takes one value per name, in this order.
    #[serde(default)]
    pub names: Vec<String>,
    /// Header parameters the description declares on operations that this scheme stands in for, so
    /// they are not builder parameters (Slack's `token`). Headers the scheme itself writes are left
    /// out without being listed.
    #[serde(default)]
    pub covers: Vec<String>,
    /// Header, query or cookie name (`api_key`).
    #[serde(default)]
    pub name: Option<String>,
    /// `header` (default), `query` or `cookie` (`api_key`).
    #[serde(default, rename = "in")]
    pub location: Option<String>,
    /// Token endpoint (`oauth2`, client credentials).
    #[serde(default)]
    pub token_url: Option<String>,
}

impl AuthHint {
    /// The IR scheme, or a diagnostic for an unknown type.
    pub fn to_scheme(&self) -> Result<crate::ir::SecurityScheme, Diagnostic> {
        use crate::ir::SecurityScheme as S;
        let scheme = self.scheme.clone();
        Ok(match self.kind.as_str() {
            "bearer" => S::Bearer { scheme },
            "basic" => S::Basic { scheme },
            "api_key" => S::ApiKey {
                scheme,
                name: self.name.clone().unwrap_or_else(|| "api_key".into()),
                location: self.location.clone().unwrap_or_else(|| "header".into()),
            },
            "headers" => {
                if self.names.is_empty() {
                    return Err(Diagnostic::error(format!(
                        "settings: auth scheme `{scheme}` of type `headers` names no header"
                    ))
                    .help("add `names = [\"Api-Key\", \"Api-Username\"]`"));
                }
                if let Some(bad) = self.names.iter().find(|n| !is_header_name(n)) {
                    return Err(Diagnostic::error(format!(
                        "settings: auth scheme `{scheme}`: `{bad}` is not a header name"
                    ))
                    .help("header names are letters, digits and `-`"));
                }
                S::Headers {
                    scheme,
                    names: self.names.clone(),
                }
            }
            "oauth2" => S::OAuth2 {
                scheme,
                token_url: self.token_url.clone(),
                flow: "clientCredentials".into(),
                scopes: Vec::new(),
            },
            other => {
                return Err(
                    Diagnostic::error(format!("settings: unknown auth type `{other}`"))
                        .help("use bearer, basic, api_key, headers or oauth2"),
                );
            }
        })
    }
}

/// An HTTP token (RFC 9110): what a header name may be made of.
fn is_header_name(n: &str) -> bool {
    !n.is_empty()
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Settings {
    /// Parse settings from TOML.
    pub fn from_toml(text: &str) -> Result<Settings, Diagnostic> {
        toml::from_str(text).map_err(|e| {
            Diagnostic::error(format!("invalid settings: {}", e.message().trim()))
                .help("see the settings table in the README")
        })
    }

    /// Read settings from a TOML file; relative `overlays` are taken from the file's directory.
    pub fn from_toml_file(path: &Path) -> Result<Settings, Diagnostic> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Diagnostic::error(format!("cannot read the settings: {e}")).in_file(path)
        })?;
        let mut settings = Settings::from_toml(&text).map_err(|d| d.in_file(path))?;
        settings.resolve_overlays(path.parent().unwrap_or(Path::new("")));
        Ok(settings)
    }

    /// Make relative `overlays` paths relative to `base` instead.
    pub fn resolve_overlays(&mut self, base: &Path) {
        for o in &mut self.overlays {
            if o.is_relative() {
                *o = base.join(&*o);
            }
        }
    }

    /// The package fields cargo would refuse, as an error naming the setting: a `crate_version` that is
    /// not semver (`1.2.3`, `1.2.3-beta.1`, `1.2.3+build`), a `crate_name` cargo cannot use, an empty
    /// registry name in `crate_publish`.
    pub fn check_package(&self) -> Result<(), Diagnostic> {
        if let Some(v) = &self.crate_version {
            if !is_semver(v) {
                return Err(Diagnostic::error(format!(
                    "settings: crate_version `{v}` is not a semantic version"
                ))
                .help("use MAJOR.MINOR.PATCH, optionally with -prerelease and +build parts, e.g. 1.4.0"));
            }
        }
        if let Some(name) = &self.crate_name {
            let mut chars = name.chars();
            let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
            if !first_ok
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(Diagnostic::error(format!(
                    "settings: crate_name `{name}` is not a valid package name"
                ))
                .help("start with a letter; use letters, digits, `-` and `_`"));
            }
        }
        if let Some(list) = &self.crate_publish {
            if list.iter().any(|r| r.trim().is_empty()) {
                return Err(Diagnostic::error(
                    "settings: crate_publish names an empty registry",
                ));
            }
        }
        Ok(())
    }

    /// Whether operations tagged `tag` are generated.
    pub fn includes_tag(&self, tag: &str) -> bool {
        (self.tags.is_empty() || self.tags.iter().any(|t| t == tag))
            && !self.exclude_tags.iter().any(|t| t == tag)
    }

    /// A configured type for the schema at `pointer`.
    pub fn type_override(&self, pointer: &str) -> Option<Ty> {
        let key = if pointer.starts_with('#') {
            pointer.to_owned()
        } else {
            format!("#{pointer}")
        };
        let t = self.type_overrides.get(&key)?;
        Some(primitive_type(t).unwrap_or(Ty::Any))
    }

    /// A configured Rust name for the schema at `pointer` (`#/components/schemas/X`), by pointer or name.
    pub fn rename(&self, pointer: &str) -> Option<&str> {
        let last = pointer.rsplit('/').next().unwrap_or(pointer);
        self.renames
            .get(pointer)
            .or_else(|| self.renames.get(last))
            .map(String::as_str)
    }

    /// Whether per-tag cargo features are emitted.
    pub fn tag_features(&self) -> bool {
        self.tag_features.unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_from_toml_and_answer_lookups() {
        let s = Settings::from_toml(
            r##"
            crate_name = "acme-connector"
            tags = ["pets"]
            exclude_tags = ["admin"]
            idempotency_keys = true
            [renames]
            Error = "ApiError"
            "#/components/schemas/Pet" = "Animal"
            [type_overrides]
            "#/components/schemas/Money" = "i64"
            "##,
        )
        .unwrap();
        assert!(s.includes_tag("pets") && !s.includes_tag("store") && !s.includes_tag("admin"));
        assert_eq!(s.rename("#/components/schemas/Error"), Some("ApiError"));
        assert_eq!(s.rename("#/components/schemas/Pet"), Some("Animal"));
        assert_eq!(s.rename("#/components/schemas/Other"), None);
        assert_eq!(
            s.type_override("/components/schemas/Money"),
            Some(Ty::Int(IntKind::I64))
        );
        assert!(s.idempotency_keys);
        let hinted = Settings::from_toml("[[auth]]\nscheme = \"token\"\ntype = \"bearer\"\n[[auth]]\nscheme = \"key\"\ntype = \"api_key\"\nname = \"Api-Key\"\n").unwrap();
        assert_eq!(hinted.auth.len(), 2);
        assert!(
            matches!(hinted.auth[1].to_scheme().unwrap(), crate::ir::SecurityScheme::ApiKey { ref name, .. } if name == "Api-Key")
        );
        let bad = AuthHint {
            scheme: "x".into(),
            kind: "magic".into(),
            name: None,
            location: None,
            token_url: None,
            names: Vec::new(),
            covers: Vec::new(),
        };
        assert!(bad.to_scheme().is_err());
        let headers = Settings::from_toml("[[auth]]\nscheme = \"api_key\"\ntype = \"headers\"\nnames = [\"Api-Key\", \"Api-Username\"]\ncovers = [\"token\"]\n").unwrap();
        assert_eq!(headers.auth[0].covers, ["token"]);
        assert_eq!(
            headers.auth[0].to_scheme().unwrap(),
            crate::ir::SecurityScheme::Headers {
                scheme: "api_key".into(),
                names: vec!["Api-Key".into(), "Api-Username".into()]
            }
        );
        let no_names = AuthHint {
            kind: "headers".into(),
            ..bad.clone()
        };
        assert!(
            no_names
                .to_scheme()
                .unwrap_err()
                .message
                .contains("names no header")
        );
        let bad_name = AuthHint {
            names: vec!["Api Key".into()],
            ..no_names
        };
        assert!(
            bad_name
                .to_scheme()
                .unwrap_err()
                .message
                .contains("`Api Key`")
        );
        let dir = std::env::temp_dir().join(format!("connector-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vendor.toml");
        std::fs::write(&file, "overlays = [\"fix/one.yaml\", \"/abs/two.yaml\"]\n").unwrap();
        let read = Settings::from_toml_file(&file).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            read.overlays,
            [dir.join("fix/one.yaml"), PathBuf::from("/abs/two.yaml")]
        );
        let err = Settings::from_toml("crate_nme = \"x\"").unwrap_err();
        assert!(err.message.contains("crate_nme"), "{}", err.message);
    }
}

/// Semantic version syntax: three numeric parts without leading zeros, then optional `-pre` and `+build`
/// parts of dot-separated identifiers (`[0-9A-Za-z-]`, numeric pre-release ones without leading zeros).
fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |p: &str| {
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && (p == "0" || !p.starts_with('0'))
    };
    let ident =
        |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|i| ident(i) && (!i.bytes().all(|b| b.is_ascii_digit()) || numeric(i)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

#[cfg(test)]
mod package_tests {
    use super::*;

    #[test]
    fn semver_is_checked_like_cargo_does() {
        for good in [
            "0.1.0",
            "1.2.3",
            "10.0.0-beta.1",
            "1.0.0-rc-1+build.7",
            "1.0.0+20260101",
        ] {
            assert!(is_semver(good), "{good}");
        }
        for bad in [
            "1",
            "1.2",
            "v1.2.3",
            "01.2.3",
            "1.2.3-",
            "1.2.3-01",
            "1.2.3+",
            "1.2.3.4",
            "2025-09-01",
            "1.2.x",
        ] {
            assert!(!is_semver(bad), "{bad}");
        }
    }

    #[test]
    fn package_settings_cargo_would_refuse_are_errors_naming_the_setting() {
        let bad_version = Settings::from_toml("crate_version = \"2024-01\"").unwrap();
        let e = bad_version.check_package().unwrap_err();
        assert!(e.message.contains("crate_version `2024-01`"), "{e}");
        let bad_name = Settings::from_toml("crate_name = \"9lives connector\"").unwrap();
        assert!(
            bad_name
                .check_package()
                .unwrap_err()
                .message
                .contains("crate_name")
        );
        let empty_registry = Settings::from_toml("crate_publish = [\"\"]").unwrap();
        assert!(empty_registry.check_package().is_err());
        let fine = Settings::from_toml(
            "crate_name = \"acme-connector\"\ncrate_version = \"1.4.0\"\ncrate_publish = [\"acme\"]",
        )
        .unwrap();
        assert!(fine.check_package().is_ok());
    }
}
