//! Loading a description: parse JSON or YAML, apply overlays, check the version, bundle external refs, bring Swagger 2.0 to 3.0 shape.
//!
//! Nothing after this module sees a parser's types: the result is a plain [`serde_json::Value`] tree.

mod bundle;
mod data;
mod field;
pub mod overlay;
mod parse;
pub(crate) mod pointer;
mod split;
mod swagger2;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::Diagnostic;

pub use data::is_data;
pub(crate) use field::Field;

/// Deepest nesting the loader walks before giving up with an error (the parsers stop earlier, at 128).
pub(crate) const MAX_DEPTH: usize = 512;

/// A loaded description: one self-contained OpenAPI 3.x-shaped JSON document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The document. Every `$ref` in it is internal (`#/...`). Swagger 2.0 has been converted to 3.0 structure.
    pub root: Value,
    /// The version as written in the source ("2.0", "3.0.3", "3.1.0", "3.2.0").
    pub source_version: String,
    /// Name hints for bundled external targets: internal ref (e.g. "#/x-bundled/droplet") -> a name derived from the
    /// file and fragment (e.g. "droplet" for `resources/droplets/models/droplet.yml`, or "page_links" for `shared/pages.yml#/page_links`).
    pub ref_names: BTreeMap<String, String>,
    /// Things that were odd but not fatal (e.g. a broken external ref replaced by an empty schema).
    pub warnings: Vec<Diagnostic>,
}

/// Load from a file (JSON or YAML, by content; `.json`/`.yaml`/`.yml` extension only a hint), following external refs relative to it.
pub fn load_path(path: &Path) -> Result<Document, Diagnostic> {
    load_path_with_overlays(path, &[])
}

/// [`load_path`], with the OpenAPI Overlays at `overlays` applied in order to the description as
/// published: to the parsed file, before the version check, bundling and Swagger 2.0 conversion.
pub fn load_path_with_overlays(path: &Path, overlays: &[PathBuf]) -> Result<Document, Diagnostic> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Diagnostic::error(format!("cannot read the description: {e}"))
            .in_file(path)
            .help("check the path, and that the file is UTF-8 text")
    })?;
    let canonical = std::fs::canonicalize(path).ok();
    let base_dir = canonical
        .as_deref()
        .unwrap_or(path)
        .parent()
        .map(Path::to_path_buf);
    let overlays = overlays
        .iter()
        .map(|o| overlay::read(o))
        .collect::<Result<Vec<_>, _>>()?;
    load(&text, Some(path), canonical, base_dir, &overlays)
}

/// Load from text already in memory (external refs resolved relative to `base_dir` when given, else an error diagnostic if any appear).
pub fn load_str(text: &str, base_dir: Option<&Path>) -> Result<Document, Diagnostic> {
    let base_dir =
        base_dir.map(|dir| std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()));
    load(text, None, None, base_dir, &[])
}

fn load(
    text: &str,
    file: Option<&Path>,
    root_file: Option<PathBuf>,
    base_dir: Option<PathBuf>,
    overlays: &[overlay::Overlay],
) -> Result<Document, Diagnostic> {
    let in_file = |diag: Diagnostic| match file {
        Some(file) if diag.file.is_none() => diag.in_file(file),
        _ => diag,
    };
    let mut root = parse::parse(text, file)?;
    let mut warnings = Vec::new();
    for o in overlays {
        warnings.extend(o.apply(&mut root)?);
    }
    let (source_version, swagger) = version(&root).map_err(in_file)?;
    // Bundling reads the tree and plans its rewrites; a large one is searched for referenced
    // property maps beside it, on another thread (the search is redone when bundling changed the
    // tree).
    let (plan, found) = if text.len() >= SEARCH_BESIDE {
        std::thread::scope(|s| {
            let search = std::thread::Builder::new()
                .name("connector-gen search".to_owned())
                .spawn_scoped(s, || find_referenced_property_maps(&root));
            let plan = bundle::plan(&root, root_file, base_dir);
            (plan, search.ok().and_then(|h| h.join().ok()))
        })
    } else {
        (bundle::plan(&root, root_file, base_dir), None)
    };
    let plan = plan.map_err(in_file)?;
    let found = found.filter(|_| !plan.changes());
    let bundled = plan.apply(&mut root);
    warnings.extend(bundled.warnings);
    if !bundled.entries.is_empty() {
        if let Value::Object(doc) = &mut root {
            match doc.get_mut(bundle::BUNDLE_KEY) {
                Some(Value::Object(existing)) => existing.extend(bundled.entries),
                _ => {
                    doc.insert(
                        bundle::BUNDLE_KEY.to_string(),
                        Value::Object(bundled.entries),
                    );
                }
            }
        }
    }
    let found = found.unwrap_or_else(|| find_referenced_property_maps(&root));
    inline_referenced_property_maps(&mut root, found, &mut warnings).map_err(in_file)?;
    let mut ref_names = bundled.names;
    if swagger {
        root = swagger2::convert(root, file, &mut warnings)?;
        // Conversion folds bundled body parameters into request bodies; their names go with them.
        ref_names.retain(|reference, _| root.pointer(&reference[1..]).is_some());
    }
    Ok(Document {
        root,
        source_version,
        ref_names,
        warnings,
    })
}

/// Descriptions this large (in bytes of text) are searched for referenced property maps on a second
/// thread while bundling walks them: below it a thread costs about what it saves.
const SEARCH_BESIDE: usize = 2 << 20;

/// Values the copies made by [`inline_referenced_property_maps`] may add, at least: each copy is the
/// whole map, so one map named from thousands of places would multiply the document. Beyond this
/// and beyond the document's own size, copying stops with an error.
const COPY_ALLOWANCE: usize = 1 << 20;

/// The number of values in a tree.
fn count_values(v: &Value) -> usize {
    let mut n = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        n += 1;
        match v {
            Value::Object(map) => stack.extend(map.values()),
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    n
}

/// Where `properties` is `{$ref: "#/..."}` (see [`inline_referenced_property_maps`]): the path to
/// each such `properties`, and the reference.
fn find_referenced_property_maps(root: &Value) -> Vec<(Vec<String>, String)> {
    /// A step of the walk: borrowed, so the walk copies a path only where it finds something.
    enum Step<'v> {
        Key(&'v str),
        Index(usize),
    }
    fn find<'v>(v: &'v Value, at: &mut Vec<Step<'v>>, out: &mut Vec<(Vec<String>, String)>) {
        match v {
            Value::Object(map) => {
                // An object in an array has no key of its own (`is_data` reads that as `None`).
                let container = match at.last() {
                    Some(Step::Key(k)) => Some(*k),
                    _ => None,
                };
                for (k, x) in map {
                    if data::is_data(container, k, x) {
                        continue;
                    }
                    at.push(Step::Key(k));
                    if k == "properties" {
                        if let Value::Object(props) = x {
                            if let (1, Some(Value::String(r))) = (props.len(), props.field("$ref"))
                            {
                                let path = at
                                    .iter()
                                    .map(|s| match s {
                                        Step::Key(k) => (*k).to_owned(),
                                        Step::Index(i) => i.to_string(),
                                    })
                                    .collect();
                                out.push((path, r.clone()));
                            }
                        }
                    }
                    find(x, at, out);
                    at.pop();
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    at.push(Step::Index(i));
                    find(x, at, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut found = Vec::new();
    find(root, &mut Vec::new(), &mut found);
    found
}

/// `properties: {$ref: "#/..."}`: a reference standing for the whole property map, which JSON Schema
/// does not allow (it reads as one property named `$ref`) but which reference-resolving tools, and so
/// the vendors who publish such descriptions, read as the map it points to. Replaced by that map, with
/// a warning at each place; an error when the copies would more than double the document.
fn inline_referenced_property_maps(
    root: &mut Value,
    found: Vec<(Vec<String>, String)>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    if found.is_empty() {
        return Ok(());
    }
    let mut allowance = count_values(root).max(COPY_ALLOWANCE);
    for (at, reference) in found {
        let target = reference
            .strip_prefix('#')
            .and_then(pointer::parse)
            .and_then(|segments| pointer::get(root, &segments));
        let Some(Value::Object(map)) = target else {
            continue;
        };
        // A map of schemas, not itself a reference: every value must be an object.
        if map.values().any(|v| !v.is_object()) || map.contains_key("$ref") {
            continue;
        }
        let size = map.values().map(count_values).sum::<usize>() + 1;
        allowance = allowance.checked_sub(size).ok_or_else(|| {
            Diagnostic::error(format!(
                "`properties` refers to {reference} from so many places that copying the map into each would more than double the description"
            ))
            .at(pointer::join(&at))
            .help("list the properties where they are used, or `$ref` a whole schema (refs to schemas are not copied)")
        })?;
        let map = map.clone();
        let Some(slot) = root.pointer_mut(&pointer::join(&at)) else {
            continue;
        };
        *slot = Value::Object(map);
        warnings.push(
            Diagnostic::warning(format!(
                "`properties` is a `$ref` ({reference}); read as the property map it points to"
            ))
            .at(pointer::join(&at))
            .help("JSON Schema reads `properties: {$ref: ..}` as one property named `$ref`; list the properties, or `$ref` a whole schema"),
        );
    }
    Ok(())
}

/// The version as written and whether it is Swagger 2.0; anything but 2.0, 3.0.x, 3.1.x and 3.2.x is an error.
fn version(root: &Value) -> Result<(String, bool), Diagnostic> {
    const SUPPORTED: &str = "supported versions are Swagger 2.0 (`swagger: \"2.0\"`) and OpenAPI 3.0.x, 3.1.x and 3.2.x (`openapi: 3.0.3`, `openapi: 3.1.0`, `openapi: 3.2.0`)";
    let Value::Object(doc) = root else {
        return Err(Diagnostic::error(
            "the description is not an object with `openapi` or `swagger` at the top",
        )
        .at("")
        .help(SUPPORTED));
    };
    let text = |value: &Value| match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    if let Some(written) = doc.field("swagger") {
        let written = text(written);
        if written == "2.0" {
            return Ok((written, true));
        }
        return Err(
            Diagnostic::error(format!("unsupported Swagger version \"{written}\""))
                .at("/swagger")
                .help(SUPPORTED),
        );
    }
    let Some(written) = doc.field("openapi") else {
        return Err(
            Diagnostic::error("no `openapi` (or `swagger`) version field")
                .at("/openapi")
                .help(SUPPORTED),
        );
    };
    let written = text(written);
    let minor = |prefix: &str| {
        written == prefix
            || written
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('.'))
    };
    if minor("3.0") || minor("3.1") || minor("3.2") {
        Ok((written, false))
    } else {
        Err(
            Diagnostic::error(format!("unsupported OpenAPI version \"{written}\""))
                .at("/openapi")
                .help(SUPPORTED),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, json};

    #[test]
    fn property_map_refs_are_copied_within_bounds() {
        let mut props = Map::new();
        for i in 0..2_000 {
            props.insert(format!("p{i}"), json!({"type": "string"}));
        }
        let schemas: Map<String, Value> = (0..1_000)
            .map(|i| {
                (
                    format!("S{i}"),
                    json!({"properties": {"$ref": "#/x-props"}}),
                )
            })
            .collect();
        let doc = json!({
            "openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {},
            "x-props": props, "components": {"schemas": schemas}
        });
        // A thousand copies of a 2,000-property map: two million values from a small document.
        let err = load_str(&doc.to_string(), None).unwrap_err();
        assert!(err.message.contains("#/x-props"), "{}", err.message);
        assert!(
            err.pointer
                .as_deref()
                .is_some_and(|p| p.starts_with("/components/schemas/S"))
        );
        // A few copies are what vendors mean by it.
        let mut few = doc.clone();
        few["components"]["schemas"] = json!({
            "A": {"properties": {"$ref": "#/x-props"}},
            "B": {"properties": {"$ref": "#/x-props"}}
        });
        let loaded = load_str(&few.to_string(), None).expect("loads");
        assert_eq!(
            loaded.root["components"]["schemas"]["B"]["properties"]["p1999"],
            json!({"type": "string"})
        );
        assert_eq!(loaded.warnings.len(), 2);
    }
}
