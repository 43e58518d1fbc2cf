//! External `$ref`s: load the files they name, bundle each target once under `x-bundled`, make every ref internal.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};

use super::Field as _;
use serde_json::{Map, Value};

use super::{MAX_DEPTH, data, parse, pointer};
use crate::{Diagnostic, Severity};

/// The top-level key bundled targets are stored under.
pub(crate) const BUNDLE_KEY: &str = "x-bundled";

/// What bundling produced next to the rewritten root.
#[derive(Default)]
pub(crate) struct Bundle {
    /// `x-bundled` entries, in the order they were first referenced.
    pub entries: Map<String, Value>,
    /// Internal ref (`#/x-bundled/key`) to a name derived from file and fragment.
    pub names: BTreeMap<String, String>,
    pub warnings: Vec<Diagnostic>,
}

/// What bundling found in the root, to be applied to it: the bundled targets, and where the root's
/// own `$ref`s are rewritten (pointers from the root).
pub(crate) struct Plan {
    bundle: Bundle,
    edits: Vec<(String, Rewrite)>,
}

impl Plan {
    /// Whether applying the plan changes the document.
    pub(crate) fn changes(&self) -> bool {
        !self.edits.is_empty() || !self.bundle.entries.is_empty()
    }

    /// Rewrites the root's `$ref`s as planned; the bundled targets, for `x-bundled`.
    pub(crate) fn apply(self, root: &mut Value) -> Bundle {
        apply(root, self.edits);
        self.bundle
    }
}

/// The rewrites of `$ref`s, each at a pointer from `value`.
fn apply(value: &mut Value, edits: Vec<(String, Rewrite)>) {
    for (at, rewrite) in edits {
        let Some(Value::Object(map)) = value.pointer_mut(&at) else {
            continue;
        };
        match rewrite {
            Rewrite::Keep => {}
            Rewrite::To(new) => {
                map.insert("$ref".to_string(), Value::String(new));
            }
            Rewrite::Drop => {
                map.shift_remove("$ref");
            }
        }
    }
}

/// Rewrites every external `$ref` in `root` (and in what it pulls in) to `#/x-bundled/<key>` and returns the
/// bundled targets. `root_file` is the canonical path of the root (if it came from a file); `base_dir` is where
/// its relative refs start. Without a `base_dir`, an external ref is an error.
#[cfg(test)]
pub(crate) fn bundle(
    root: &mut Value,
    root_file: Option<PathBuf>,
    base_dir: Option<PathBuf>,
) -> Result<Bundle, Diagnostic> {
    Ok(plan(root, root_file, base_dir)?.apply(root))
}

/// [`bundle`] without changing `root`: the walk reads it, and the rewrites of its own `$ref`s are
/// applied after ([`Plan::apply`]), so other readers may walk it at the same time.
pub(crate) fn plan(
    root: &Value,
    root_file: Option<PathBuf>,
    base_dir: Option<PathBuf>,
) -> Result<Plan, Diagnostic> {
    let mut warnings = Vec::new();
    let self_base = self_base(root, &mut warnings);
    let mut bundler = Bundler {
        self_base,
        root_file: root_file.clone(),
        files: HashMap::new(),
        canonical: HashMap::new(),
        targets: HashMap::new(),
        used_keys: HashSet::new(),
        queue: VecDeque::new(),
        out: Bundle::default(),
    };
    bundler.out.warnings = warnings;
    if let Some(Value::Object(existing)) = root.get(BUNDLE_KEY) {
        bundler.used_keys.extend(existing.keys().cloned());
    }
    let origin = Origin {
        file: root_file,
        dir: base_dir,
    };
    let mut edits = Vec::new();
    bundler.walk(root, &origin, &Trail::Start(""), 0, &mut edits)?;
    while let Some(job) = bundler.queue.pop_front() {
        let Some(mut value) = bundler
            .files
            .get(&job.file)
            .and_then(|parsed| parsed.as_ref().ok())
            .and_then(|doc| pointer::get(doc, &job.segments))
            .cloned()
        else {
            continue;
        };
        let origin = Origin {
            dir: job.file.parent().map(Path::to_path_buf),
            file: Some(job.file),
        };
        let start = pointer::join(&job.segments);
        let mut in_value = Vec::new();
        bundler.walk(&value, &origin, &Trail::Start(&start), 0, &mut in_value)?;
        apply(&mut value, in_value);
        bundler.out.entries.insert(job.key, value);
    }
    Ok(Plan {
        bundle: bundler.out,
        edits,
    })
}

/// The file a node being walked came from (`None`: the in-memory root) and the directory its refs start from.
struct Origin {
    file: Option<PathBuf>,
    dir: Option<PathBuf>,
}

/// The keys from the start of a walk down to the current node; turned into a pointer only for diagnostics.
enum Trail<'a> {
    Start(&'a str),
    Key(&'a Trail<'a>, &'a str),
    Index(&'a Trail<'a>, usize),
}

impl Trail<'_> {
    fn pointer(&self) -> String {
        match self {
            Trail::Start(start) => start.to_string(),
            Trail::Key(parent, key) => format!("{}/{}", parent.pointer(), pointer::escape(key)),
            Trail::Index(parent, index) => format!("{}/{index}", parent.pointer()),
        }
    }

    /// The pointer from where the walk started.
    fn relative_pointer(&self) -> String {
        match self {
            Trail::Start(_) => String::new(),
            Trail::Key(parent, key) => {
                format!("{}/{}", parent.relative_pointer(), pointer::escape(key))
            }
            Trail::Index(parent, index) => format!("{}/{index}", parent.relative_pointer()),
        }
    }
}

/// A target waiting to be copied into `x-bundled` and walked.
struct Job {
    key: String,
    file: PathBuf,
    segments: Vec<String>,
}

/// What to do with one `$ref`.
enum Rewrite {
    Keep,
    To(String),
    /// Unresolvable: the `$ref` key is removed (siblings stay), leaving an empty schema.
    Drop,
}

struct Bundler {
    /// The root document's `$self` (3.2): the URI its references are resolved against.
    self_base: Option<SelfBase>,
    root_file: Option<PathBuf>,
    /// Parsed files by canonical path, or why they could not be read.
    files: HashMap<PathBuf, Result<Value, String>>,
    /// Joined path as written to canonical path (`None`: does not exist).
    canonical: HashMap<PathBuf, Option<PathBuf>>,
    /// (canonical file, normalised pointer) to its key under `x-bundled`.
    targets: HashMap<(PathBuf, String), String>,
    used_keys: HashSet<String>,
    queue: VecDeque<Job>,
    out: Bundle,
}

impl Bundler {
    /// Walks `value`, noting in `edits` how each `$ref` is rewritten (pointers from the start).
    fn walk(
        &mut self,
        value: &Value,
        origin: &Origin,
        trail: &Trail<'_>,
        depth: usize,
        edits: &mut Vec<(String, Rewrite)>,
    ) -> Result<(), Diagnostic> {
        if depth > MAX_DEPTH {
            let diag = Diagnostic::error(format!(
                "the description nests deeper than {MAX_DEPTH} levels"
            ))
            .at(trail.pointer())
            .help("flatten the document; no real API description nests this deep");
            return Err(with_file(diag, origin.file.as_deref()));
        }
        match value {
            Value::Object(map) => {
                let container = match trail {
                    Trail::Key(_, key) => Some(*key),
                    _ => None,
                };
                if let Some(Value::String(reference)) = map.field("$ref") {
                    match self.rewrite(reference, origin, trail)? {
                        Rewrite::Keep => {}
                        rewrite => edits.push((trail.relative_pointer(), rewrite)),
                    }
                }
                for (key, child) in map {
                    // Examples, defaults and extensions are values: a `$ref` in them is data.
                    if (child.is_object() || child.is_array())
                        && !data::is_data(container, key, child)
                    {
                        self.walk(child, origin, &Trail::Key(trail, key), depth + 1, edits)?;
                    }
                }
            }
            Value::Array(items) => {
                for (index, child) in items.iter().enumerate() {
                    if child.is_object() || child.is_array() {
                        self.walk(child, origin, &Trail::Index(trail, index), depth + 1, edits)?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn rewrite(
        &mut self,
        reference: &str,
        origin: &Origin,
        trail: &Trail<'_>,
    ) -> Result<Rewrite, Diagnostic> {
        let mapped;
        let reference = if origin.file == self.root_file {
            match self.self_base.as_ref().and_then(|base| base.map(reference)) {
                Some(SelfRef::Local(fragment)) => return Ok(Rewrite::To(format!("#{fragment}"))),
                Some(SelfRef::Beside(relative)) => {
                    mapped = relative;
                    mapped.as_str()
                }
                None => reference,
            }
        } else {
            reference
        };
        let (path_part, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let file = if path_part.is_empty() {
            match &origin.file {
                Some(file) if Some(file) != self.root_file.as_ref() => file.clone(),
                _ => return Ok(Rewrite::Keep),
            }
        } else {
            if path_part.contains("://") || path_part.starts_with("//") {
                self.warn(
                    format!(
                        "remote $ref '{reference}' is not supported; replaced by an empty schema"
                    ),
                    origin,
                    trail,
                    "download the referenced document and refer to it by a relative path",
                );
                return Ok(Rewrite::Drop);
            }
            let Some(dir) = &origin.dir else {
                let diag = Diagnostic::error(format!(
                    "external $ref '{reference}' in a description loaded from memory without a base directory"
                ))
                .at(trail.pointer())
                .help("load the description from its file, or pass the directory its refs are relative to");
                return Err(diag);
            };
            let joined = dir.join(pointer::percent_decode(path_part).as_ref());
            match self.canonicalize(joined) {
                Some(file) => file,
                None => {
                    self.warn(
                        format!("$ref '{reference}': file not found; replaced by an empty schema"),
                        origin,
                        trail,
                        "fix the path; it is relative to the file that contains the $ref",
                    );
                    return Ok(Rewrite::Drop);
                }
            }
        };
        if self.root_file.as_ref() == Some(&file) {
            return Ok(Rewrite::To(format!("#{fragment}")));
        }
        let Some(segments) = pointer::parse(fragment) else {
            self.warn(
                format!("$ref '{reference}': the fragment is not a JSON pointer; replaced by an empty schema"),
                origin,
                trail,
                "write the fragment as a JSON pointer such as #/components/schemas/Name",
            );
            return Ok(Rewrite::Drop);
        };
        let target = (file, pointer::join(&segments));
        if let Some(key) = self.targets.get(&target) {
            return Ok(Rewrite::To(internal(key)));
        }
        match self.locate(target.0.clone(), segments) {
            Ok((file, segments)) => {
                let actual = (file, pointer::join(&segments));
                let key = match self.targets.get(&actual) {
                    Some(key) => key.clone(),
                    None => {
                        let name = name_hint(&actual.0, &segments);
                        let key = self.new_key(&name);
                        self.out.names.insert(internal(&key), name);
                        self.queue.push_back(Job {
                            key: key.clone(),
                            file: actual.0.clone(),
                            segments,
                        });
                        self.targets.insert(actual, key.clone());
                        key
                    }
                };
                self.targets.insert(target, key.clone());
                Ok(Rewrite::To(internal(&key)))
            }
            Err(why) => {
                self.warn(
                    format!("$ref '{reference}': {why}; replaced by an empty schema"),
                    origin,
                    trail,
                    "fix the fragment; it is a JSON pointer into the referenced file",
                );
                Ok(Rewrite::Drop)
            }
        }
    }

    /// Finds the node at `segments` in `file`, following `$ref`s met on the way (`a.yml#/x/y` where `x` is itself
    /// a ref). Returns where the node really is.
    fn locate(
        &mut self,
        mut file: PathBuf,
        mut segments: Vec<String>,
    ) -> Result<(PathBuf, Vec<String>), String> {
        for _hop in 0..32 {
            let doc = self.file(&file)?;
            let mut node = doc;
            let mut detour = None;
            for (index, segment) in segments.iter().enumerate() {
                if let Some(next) = pointer::step(node, segment) {
                    node = next;
                } else if let Some(Value::String(reference)) = node.field("$ref") {
                    detour = Some((reference.clone(), index));
                    break;
                } else {
                    return Err(format!(
                        "pointer {} not found in {}",
                        pointer::join(&segments),
                        file.display()
                    ));
                }
            }
            let Some((reference, index)) = detour else {
                return Ok((file, segments));
            };
            let (path_part, fragment) = reference.split_once('#').unwrap_or((&reference, ""));
            if !path_part.is_empty() {
                let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
                file = self
                    .canonicalize(dir.join(pointer::percent_decode(path_part).as_ref()))
                    .ok_or_else(|| format!("file named by '{reference}' not found"))?;
            }
            let mut next = pointer::parse(fragment)
                .ok_or_else(|| format!("'{reference}' is not a JSON pointer"))?;
            next.extend(segments.drain(index..));
            segments = next;
        }
        Err("too many nested $refs".to_string())
    }

    /// The parsed file, read and cached on first use.
    fn file(&mut self, path: &Path) -> Result<&Value, String> {
        if !self.files.contains_key(path) {
            let parsed = match fs::read_to_string(path) {
                Ok(text) => parse::parse(&text, Some(path)).map_err(|diag| {
                    self.out.warnings.push(Diagnostic {
                        severity: Severity::Warning,
                        ..diag
                    });
                    format!("{} could not be parsed", path.display())
                }),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            };
            self.files.insert(path.to_path_buf(), parsed);
        }
        match self.files.get(path) {
            Some(Ok(value)) => Ok(value),
            Some(Err(why)) => Err(why.clone()),
            None => Err(format!("cannot read {}", path.display())),
        }
    }

    fn canonicalize(&mut self, joined: PathBuf) -> Option<PathBuf> {
        if let Some(known) = self.canonical.get(&joined) {
            return known.clone();
        }
        let canonical = fs::canonicalize(&joined).ok().filter(|p| p.is_file());
        self.canonical.insert(joined, canonical.clone());
        canonical
    }

    fn new_key(&mut self, name: &str) -> String {
        let base: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let base = if base.is_empty() {
            "ref".to_string()
        } else {
            base
        };
        let mut key = base.clone();
        let mut n = 2;
        while self.used_keys.contains(&key) {
            key = format!("{base}_{n}");
            n += 1;
        }
        self.used_keys.insert(key.clone());
        key
    }

    fn warn(&mut self, message: String, origin: &Origin, trail: &Trail<'_>, help: &str) {
        let diag = Diagnostic::warning(message).at(trail.pointer()).help(help);
        self.out
            .warnings
            .push(with_file(diag, origin.file.as_deref()));
    }
}

/// A `$self` base URI: the document's own URI (without fragment) and the directory it is in. A
/// relative `$self` is resolved against a placeholder origin, so references still resolve the same
/// way relative to each other.
struct SelfBase {
    document: url::Url,
    directory: url::Url,
}

/// Where a reference resolved against `$self` leads.
enum SelfRef {
    /// The document itself: the fragment, as an internal reference.
    Local(String),
    /// Another document under `$self`'s directory: the path relative to it (and the fragment),
    /// which the loader reads beside the root file.
    Beside(String),
}

/// Stands in for the origin of a relative `$self`.
const PLACEHOLDER_ORIGIN: &str = "https://self.invalid/";

/// The root's `$self`, with a warning at `/$self` when it is not a URI reference (then references
/// are resolved against the file's location alone).
fn self_base(root: &Value, warnings: &mut Vec<Diagnostic>) -> Option<SelfBase> {
    let written = root.field("$self")?;
    let parsed = written
        .as_str()
        .filter(|s| !s.is_empty() && !s.contains(|c: char| c.is_whitespace() || c.is_control()))
        .and_then(|s| {
            url::Url::parse(s).ok().or_else(|| {
                url::Url::parse(PLACEHOLDER_ORIGIN)
                    .ok()
                    .and_then(|origin| origin.join(s).ok())
            })
        });
    let Some(mut document) = parsed else {
        warnings.push(
            Diagnostic::warning(format!(
                "`$self` ({written}) is not a URI reference; ignored: references are resolved against the file's location"
            ))
            .at("/$self")
            .help("write `$self` as the URI the document is published at, such as https://example.com/openapi.yaml"),
        );
        return None;
    };
    if document.fragment().is_some() {
        warnings.push(
            Diagnostic::warning(
                "`$self` has a fragment, which a base URI may not have; the fragment is ignored",
            )
            .at("/$self")
            .help("remove the `#...` part of `$self`"),
        );
        document.set_fragment(None);
    }
    let directory = document.join(".").ok()?;
    Some(SelfBase {
        document,
        directory,
    })
}

impl SelfBase {
    /// `reference` resolved against `$self`: the document itself, another document under its
    /// directory, or `None` (leave the reference to the usual rules: relative to the file, or remote).
    fn map(&self, reference: &str) -> Option<SelfRef> {
        let (path_part, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        if path_part.is_empty() {
            return None;
        }
        let mut resolved = self.document.join(path_part).ok()?;
        resolved.set_fragment(None);
        if resolved == self.document {
            return Some(SelfRef::Local(fragment.to_owned()));
        }
        let absolute = path_part.contains("://") || path_part.starts_with('/');
        let beside = resolved.scheme() == self.directory.scheme()
            && resolved.host_str() == self.directory.host_str()
            && resolved.port() == self.directory.port()
            && resolved.query().is_none();
        let relative = resolved.path().strip_prefix(self.directory.path())?;
        (absolute && beside && !relative.is_empty())
            .then(|| SelfRef::Beside(format!("{relative}#{fragment}")))
    }
}

fn with_file(diag: Diagnostic, file: Option<&Path>) -> Diagnostic {
    match file {
        Some(file) => diag.in_file(file),
        None => diag,
    }
}

fn internal(key: &str) -> String {
    format!("#/{BUNDLE_KEY}/{key}")
}

/// The last pointer segment that is not an array index, else the file's stem.
fn name_hint(file: &Path, segments: &[String]) -> String {
    segments
        .iter()
        .rev()
        .find(|s| !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()))
        .cloned()
        .or_else(|| file.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hints_come_from_fragment_or_file() {
        let file = Path::new("/x/resources/droplets/models/droplet.yml");
        assert_eq!(name_hint(file, &[]), "droplet");
        assert_eq!(
            name_hint(Path::new("/x/shared/pages.yml"), &["page_links".into()]),
            "page_links"
        );
        assert_eq!(name_hint(file, &["allOf".into(), "0".into()]), "allOf");
    }

    #[test]
    fn keys_are_sanitised_and_unique() {
        let mut root = Value::Null;
        let mut bundler = Bundler {
            self_base: None,
            root_file: None,
            files: HashMap::new(),
            canonical: HashMap::new(),
            targets: HashMap::new(),
            used_keys: HashSet::new(),
            queue: VecDeque::new(),
            out: Bundle::default(),
        };
        assert_eq!(bundler.new_key("pet"), "pet");
        assert_eq!(bundler.new_key("pet"), "pet_2");
        assert_eq!(bundler.new_key("a/b c"), "a_b_c");
        assert_eq!(bundler.new_key(""), "ref");
        assert!(bundle(&mut root, None, None).is_ok());
    }
}
