//! Detects the sync streams: which list operations a sync engine can keep a table of, and with what
//! key, cursor, server filter, parent and deletes (`connector_sync::StreamDef`, emitted by
//! `emit::sync`).
//!
//! One stream per GET operation that pages ([`Operation::pagination`]) and lists objects. Per stream,
//! in order of precedence the `[streams."<operationId>"]` settings, then these rules:
//!
//! | what | rule |
//! |---|---|
//! | key | `id`, else `<singular>_id`, `gid`, `uuid`, `sid`, `sha`, `slug`, `key` (a scalar field; never `name`, which is rarely stable); none: no stream |
//! | cursor | an update time (`updated_at`, `updated`, `modified_at`, ...), else an event or creation time (`created_at`, `created`, `timestamp`, ...): a `date-time` string, or an integer (seconds since the epoch) |
//! | filter | `since`; a `deepObject` parameter named like the cursor with `gte` (inclusive) or `gt`; `<field>_after` (exclusive), `<field>_since`, `<field>.gte`, `<field>_gte`, `min_<field>` (inclusive) |
//! | parent | a stream whose path is this one's up to one path parameter (`.../issues` for `.../issues/{issue_number}/comments`): the parameter comes from each parent row |
//! | deletes | a boolean `deleted` (tombstones), `deleted_at` or `is_deleted` (soft deletes) |
//! | columns | top-level scalar fields (nested values stay in the engine's raw JSON) |
//!
//! Names (tables, columns) come from [`crate::names`].
//!
//! Architecture Invariant: this pass runs after `paging`, reads only the IR and the settings, and
//! writes only [`Api::streams`] and [`Api::stream_skips`]; a setting naming a field the item does not
//! have is an error, never a guess.

use std::collections::{BTreeMap, HashMap};

use crate::diag::Diagnostic;
use crate::ir::*;
use crate::names;
use crate::passes::strip;
use crate::settings::{Settings, StreamHint};

/// Fields whose value changes with every update, most preferred first (compared in snake_case).
pub const UPDATE_FIELDS: &[&str] = &[
    "updated_at",
    "updated",
    "modified_at",
    "modified",
    "last_modified",
    "updated_time",
    "last_updated",
    "date_updated",
];

/// Fields holding when an item was created or an event happened, used when no update field is.
pub const EVENT_FIELDS: &[&str] = &[
    "created_at",
    "created",
    "timestamp",
    "event_time",
    "date_created",
];

/// `format`s of integers that count seconds since the epoch.
const UNIX_FORMATS: &[&str] = &["unix-time", "unixtime", "unix-timestamp", "timestamp"];

/// The value `"none"` in a stream setting: explicitly nothing (no cursor, no filter, no parent).
const NONE: &str = "none";

/// Fill [`Api::streams`] and [`Api::stream_skips`]. Warnings for settings naming operations the
/// description does not have; an error for settings naming fields or parameters that do not exist.
pub fn detect(settings: &Settings, api: &mut Api) -> Result<Vec<Diagnostic>, Diagnostic> {
    let mut warnings = Vec::new();
    for id in settings.streams.keys() {
        if !api.operations.iter().any(|o| &o.operation_id == id) {
            warnings.push(
                Diagnostic::warning(format!(
                    "settings: [streams.\"{id}\"] names no operation of the description"
                ))
                .help("stream settings are keyed by operationId"),
            );
        }
    }
    let mut found = Vec::new();
    let mut skips = Vec::new();
    for (i, op) in api.operations.iter().enumerate() {
        let Some(p) = &op.pagination else { continue };
        match candidate(api, i, p, settings.streams.get(&op.operation_id))? {
            Ok(c) => found.push(c),
            Err(reason) => skips.push(StreamSkip { op: i, reason }),
        }
    }
    link_parents(api, settings, &mut found, &mut warnings)?;
    let tables = table_names(api, &found);
    api.streams = found
        .into_iter()
        .zip(tables)
        .map(|(c, table)| {
            let op = &api.operations[c.op];
            let params = op
                .params
                .iter()
                .filter(|p| p.required)
                .map(|p| SyncParam {
                    wire: p.wire_name.clone(),
                    from: match c.parent_params.get(&p.wire_name) {
                        Some(ptr) => SyncParamSource::Parent(ptr.clone()),
                        None => SyncParamSource::Config,
                    },
                })
                .collect();
            SyncStream {
                table,
                op: c.op,
                item: c.item,
                item_struct: c.item_struct,
                primary_key: c.primary_key,
                cursor: c.cursor,
                columns: c.columns,
                params,
                parent: c.parent,
                deletes: c.deletes,
                from_settings: c.from_settings,
            }
        })
        .collect();
    api.stream_skips = skips;
    Ok(warnings)
}

/// A stream before parents and names are settled.
struct Candidate {
    op: usize,
    item: Ty,
    item_struct: TypeId,
    primary_key: Vec<String>,
    cursor: Option<SyncCursor>,
    columns: Vec<SyncColumn>,
    deletes: SyncDeletes,
    from_settings: bool,
    /// Index into the candidates.
    parent: Option<usize>,
    /// Parameters filled from the parent row: wire name to JSON pointer.
    parent_params: BTreeMap<String, String>,
    /// Table name from the settings.
    table: Option<String>,
}

/// The struct a type is, through `Option`, `Box` and aliases.
pub fn struct_of<'a>(api: &'a Api, t: &'a Ty) -> Option<(TypeId, &'a Struct)> {
    let mut t = strip(t);
    for _ in 0..16 {
        let Ty::Named(id) = t else { return None };
        match &api.types[id.0].kind {
            TypeKind::Struct(s) => return Some((*id, s)),
            TypeKind::Alias(inner) => t = strip(inner),
            _ => return None,
        }
    }
    None
}

/// The scalar a type is, through `Option`, `Box` and aliases (a string enum reads as `String`).
fn scalar<'a>(api: &'a Api, t: &'a Ty) -> Option<&'a Ty> {
    let mut t = strip(t);
    for _ in 0..16 {
        match t {
            Ty::Named(id) => match &api.types[id.0].kind {
                TypeKind::Alias(inner) => t = strip(inner),
                TypeKind::Enum(_) => return Some(&Ty::String),
                _ => return None,
            },
            Ty::Bool
            | Ty::Int(_)
            | Ty::Float(_)
            | Ty::String
            | Ty::DateTime
            | Ty::Date
            | Ty::Uuid => return Some(t),
            _ => return None,
        }
    }
    None
}

/// A field's name compared with the conventional names: snake_case (`updatedAt` is `updated_at`).
fn norm(wire: &str) -> String {
    with_norm(wire, str::to_owned)
}

/// Whether `wire` normalises to `name` ([`norm`] without a copy of the name: rules compare a
/// struct's every field with a dozen candidate names).
fn norm_is(wire: &str, name: &str) -> bool {
    with_norm(wire, |n| n == name)
}

/// `f` of the normalised `wire`.
fn with_norm<T>(wire: &str, f: impl FnOnce(&str) -> T) -> T {
    // The same wire names come back for every stream and every rule: each is converted once.
    thread_local! {
        static NORMS: std::cell::RefCell<HashMap<String, String>> = Default::default();
    }
    NORMS.with(|cache| {
        if let Some(n) = cache.borrow().get(wire) {
            return f(n);
        }
        let n = names::snake_name(wire).trim_end_matches('_').to_owned();
        let out = f(&n);
        cache.borrow_mut().insert(wire.to_owned(), n);
        out
    })
}

fn field<'a>(s: &'a Struct, wire: &str) -> Option<&'a Field> {
    s.fields.iter().find(|f| f.wire_name == wire)
}

/// The field whose normalised name is `name`, exact wire names first.
fn field_named<'a>(s: &'a Struct, name: &str) -> Option<&'a Field> {
    field(s, name).or_else(|| s.fields.iter().find(|f| norm_is(&f.wire_name, name)))
}

/// A name that reads as a point in time (`created`, `updated_at`, `event_time`, `ts`).
fn timestamp_name(wire: &str) -> bool {
    let n = norm(wire);
    n == "ts"
        || n.ends_with("_at")
        || n.ends_with("_ts")
        || [
            "time", "date", "created", "updated", "modified", "deleted", "stamp",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// How a field's values read as a cursor: a date-time string, seconds since the epoch (an integer
/// of a Unix-time format or named like a time), another integer; `None` for anything else.
fn cursor_kind(api: &Api, f: &Field) -> Option<CursorKind> {
    match scalar(api, &f.ty)? {
        Ty::DateTime => Some(CursorKind::DateTime),
        Ty::Int(_) => {
            let unix = f
                .format
                .as_deref()
                .is_some_and(|x| UNIX_FORMATS.contains(&x));
            Some(if unix || timestamp_name(&f.wire_name) {
                CursorKind::UnixSeconds
            } else {
                CursorKind::Integer
            })
        }
        _ => None,
    }
}

/// The column kind of a field, `None` when it is not a scalar.
fn column_kind(api: &Api, f: &Field, cursor: Option<&SyncCursor>) -> Option<ColumnKind> {
    Some(match scalar(api, &f.ty)? {
        Ty::Bool => ColumnKind::Bool,
        Ty::Int(_) => {
            let unix = f
                .format
                .as_deref()
                .is_some_and(|x| UNIX_FORMATS.contains(&x))
                || cursor
                    .is_some_and(|c| c.field == f.wire_name && c.kind == CursorKind::UnixSeconds);
            if unix {
                ColumnKind::UnixSeconds
            } else {
                ColumnKind::Int
            }
        }
        Ty::Float(_) => ColumnKind::Float,
        Ty::DateTime => ColumnKind::DateTime,
        Ty::Date => ColumnKind::Date,
        _ => ColumnKind::Text,
    })
}

/// The words of a path (static segments as [`names::path_word`] reads them).
fn path_words(path: &str) -> Vec<String> {
    path.split('/').filter_map(names::path_word).collect()
}

/// A settings error about one stream.
fn setting_error(op: &Operation, message: String, help: String) -> Diagnostic {
    Diagnostic::error(format!(
        "settings: [streams.\"{}\"] {message}",
        op.operation_id
    ))
    .help(help)
    .at(op.origin.clone())
}

fn field_list(s: &Struct) -> String {
    let names: Vec<&str> = s.fields.iter().map(|f| f.wire_name.as_str()).collect();
    if names.is_empty() {
        "the item has no fields".to_owned()
    } else {
        format!("the item's fields: {}", names.join(", "))
    }
}

/// One operation as a stream candidate: `Ok(Err(reason))` when it is no stream.
fn candidate(
    api: &Api,
    i: usize,
    p: &Pagination,
    hint: Option<&StreamHint>,
) -> Result<Result<Candidate, String>, Diagnostic> {
    let op = &api.operations[i];
    if hint.is_some_and(|h| h.skip) {
        return Ok(Err("skipped by settings".into()));
    }
    if op.method != "GET" {
        return Ok(Err(format!(
            "a {} listing: only GET listings are read again and again",
            op.method
        )));
    }
    if op.body.as_ref().is_some_and(|b| b.required) {
        return Ok(Err("needs a request body".into()));
    }
    let Some((sid, s)) = struct_of(api, &p.item) else {
        return Ok(Err("its items are not objects".into()));
    };
    let words = path_words(&op.path);
    let word = words.last().cloned().unwrap_or_default();
    let from_settings = hint.is_some_and(|h| *h != StreamHint::default());

    // Key.
    let primary_key = match hint.and_then(|h| h.primary_key.as_ref()) {
        Some(keys) => {
            if keys.is_empty() {
                return Err(setting_error(
                    op,
                    "primary_key is empty".into(),
                    "name the fields that identify an item, or set `skip = true`".into(),
                ));
            }
            for k in keys {
                if field(s, k).is_none() {
                    return Err(setting_error(
                        op,
                        format!(
                            "primary_key names `{k}`, which the item `{}` does not have",
                            api.types[sid.0].name
                        ),
                        field_list(s),
                    ));
                }
            }
            keys.clone()
        }
        None => {
            let own = format!("{}_id", names::singular(&word));
            let names = [
                "id",
                own.as_str(),
                "gid",
                "uuid",
                "sid",
                "sha",
                "slug",
                "key",
            ];
            let key = names.iter().find_map(|n| {
                field_named(s, n)
                    .filter(|f| {
                        matches!(scalar(api, &f.ty), Some(Ty::Int(_) | Ty::String | Ty::Uuid))
                    })
                    .map(|f| f.wire_name.clone())
            });
            match key {
                Some(k) => vec![k],
                None => {
                    return Ok(Err(format!(
                        "no key field (looked for {})",
                        names.join(", ")
                    )));
                }
            }
        }
    };

    // Cursor.
    let cursor_field = match hint.and_then(|h| h.cursor.as_deref()) {
        Some(NONE) => None,
        Some(c) => {
            let Some(f) = field(s, c) else {
                return Err(setting_error(
                    op,
                    format!(
                        "cursor names `{c}`, which the item `{}` does not have",
                        api.types[sid.0].name
                    ),
                    field_list(s),
                ));
            };
            // Settings may name a date-time the description types as plain text.
            let text = matches!(scalar(api, &f.ty), Some(Ty::String));
            let Some(kind) = cursor_kind(api, f).or(text.then_some(CursorKind::DateTime)) else {
                return Err(setting_error(
                    op,
                    format!("cursor `{c}` is neither a date-time (or text) nor an integer"),
                    "a cursor orders changes: name a date-time or integer field, or `none`".into(),
                ));
            };
            Some((f, kind))
        }
        None => UPDATE_FIELDS
            .iter()
            .chain(EVENT_FIELDS)
            .find_map(|n| field_named(s, n).and_then(|f| Some((f, cursor_kind(api, f)?)))),
    };
    let cursor = match cursor_field {
        None => {
            if let Some(param) = hint
                .and_then(|h| h.cursor_param.as_deref())
                .filter(|p| *p != NONE)
            {
                return Err(setting_error(
                    op,
                    format!("cursor_param `{param}` is set but the stream has no cursor"),
                    "set `cursor` to the field the parameter filters by".into(),
                ));
            }
            None
        }
        Some((f, kind)) => {
            let filter = match hint.and_then(|h| h.cursor_param.as_deref()) {
                Some(NONE) => None,
                Some(param) => Some(filter_from_setting(
                    api,
                    op,
                    param,
                    kind,
                    hint.and_then(|h| h.cursor_inclusive),
                )?),
                None => detect_filter(api, op, &f.wire_name, kind).map(|mut fl| {
                    if let Some(inclusive) = hint.and_then(|h| h.cursor_inclusive) {
                        fl.inclusive = inclusive;
                    }
                    fl
                }),
            };
            Some(SyncCursor {
                field: f.wire_name.clone(),
                kind,
                filter,
            })
        }
    };

    // Columns.
    let scalars: Vec<(&Field, ColumnKind)> = s
        .fields
        .iter()
        .filter_map(|f| Some((f, column_kind(api, f, cursor.as_ref())?)))
        .collect();
    let column_names = names::sync_column_names(scalars.iter().map(|(f, _)| f.wire_name.as_str()));
    let columns = scalars
        .iter()
        .zip(column_names)
        .map(|((f, kind), name)| SyncColumn {
            name,
            wire: f.wire_name.clone(),
            kind: *kind,
            required: f.required,
        })
        .collect();

    // Deletes.
    let is_bool = |f: &&Field| matches!(scalar(api, &f.ty), Some(Ty::Bool));
    let deletes = if let Some(f) = field_named(s, "deleted").filter(is_bool) {
        SyncDeletes::Tombstone {
            flag: f.wire_name.clone(),
        }
    } else {
        let at = field_named(s, "deleted_at")
            .filter(|f| matches!(scalar(api, &f.ty), Some(Ty::DateTime)))
            .map(|f| f.wire_name.clone());
        let flag = field_named(s, "is_deleted")
            .filter(is_bool)
            .map(|f| f.wire_name.clone());
        if at.is_none() && flag.is_none() {
            SyncDeletes::Unreported
        } else {
            SyncDeletes::Soft { flag, at }
        }
    };

    let table = hint
        .and_then(|h| h.table.as_deref())
        .map(norm)
        .filter(|t| !t.is_empty());
    Ok(Ok(Candidate {
        op: i,
        item: p.item.clone(),
        item_struct: sid,
        primary_key,
        cursor,
        columns,
        deletes,
        from_settings,
        parent: None,
        parent_params: BTreeMap::new(),
        table,
    }))
}

/// Whether filter values of kind `filter` can stand for cursor values of kind `cursor` (times in
/// either form convert; other integers only to integers).
fn compatible(cursor: CursorKind, filter: CursorKind) -> bool {
    (cursor == CursorKind::Integer) == (filter == CursorKind::Integer)
}

/// How a filter parameter's value is written, from its type.
fn param_format(api: &Api, t: &Ty, cursor: CursorKind) -> Option<CursorKind> {
    match scalar(api, t)? {
        Ty::DateTime => Some(CursorKind::DateTime),
        Ty::Int(_) if cursor == CursorKind::Integer => Some(CursorKind::Integer),
        Ty::Int(_) => Some(CursorKind::UnixSeconds),
        _ => None,
    }
}

/// The range operators of a `deepObject` parameter's object (`gte`, `gt`), through unions
/// (`anyOf: [{gt, gte, lt, lte}, integer]`): (operator, its type).
fn range_ops<'a>(api: &'a Api, t: &'a Ty) -> Vec<(&'a str, &'a Ty)> {
    let mut out = Vec::new();
    let mut look = |s: &'a Struct| {
        for op in ["gte", "gt"] {
            if let Some(f) = field(s, op) {
                if !out.iter().any(|(o, _)| *o == op) {
                    out.push((op, &f.ty));
                }
            }
        }
    };
    if let Some((_, s)) = struct_of(api, t) {
        look(s);
    } else if let Ty::Named(id) = strip(t) {
        if let TypeKind::Union(u) = &api.types[id.0].kind {
            for v in &u.variants {
                if let Some((_, s)) = struct_of(api, &v.ty) {
                    look(s);
                }
            }
        }
    }
    out.sort_by_key(|(op, _)| *op != "gte");
    out
}

/// The stems a filter parameter may be named after for cursor `field`: the field itself and its
/// name without a time suffix or prefix (`updated_at` → `updated`, `date_updated` → `updated`).
fn stems(field: &str) -> Vec<String> {
    let n = norm(field);
    let mut out = vec![n.clone()];
    for end in ["_at", "_time", "_date", "_ts"] {
        if let Some(s) = n.strip_suffix(end).filter(|s| !s.is_empty()) {
            out.push(s.to_owned());
        }
    }
    if let Some(s) = n.strip_prefix("date_").filter(|s| !s.is_empty()) {
        out.push(s.to_owned());
    }
    out
}

/// The query parameter filtering the listing by the cursor `field`, when the operation has one.
fn detect_filter(api: &Api, op: &Operation, field: &str, kind: CursorKind) -> Option<SyncFilter> {
    let stems = stems(field);
    let query = || {
        op.params
            .iter()
            .filter(|p| p.location == ParamLocation::Query)
    };
    let with = |param: String, t: &Ty, inclusive: bool| {
        let format = param_format(api, t, kind).filter(|f| compatible(kind, *f))?;
        Some(SyncFilter {
            param,
            format,
            inclusive,
        })
    };
    // A deepObject range on the field (`created[gte]`).
    for p in query().filter(|p| p.style == ParamStyle::DeepObject) {
        if !stems.contains(&norm(&p.wire_name)) {
            continue;
        }
        for (o, t) in range_ops(api, &p.ty) {
            if let Some(f) = with(format!("{}[{o}]", p.wire_name), t, o == "gte") {
                return Some(f);
            }
        }
    }
    // Named parameters, inclusive ones first.
    let mut named: Vec<(String, bool)> = vec![("since".to_owned(), true)];
    for s in &stems {
        named.push((format!("{s}_since"), true));
        named.push((format!("{s}_gte"), true));
        named.push((format!("min_{s}"), true));
        named.push((format!("{s}_after"), false));
        named.push((format!("{s}_gt"), false));
    }
    named.iter().find_map(|(want, inclusive)| {
        let p =
            query().find(|p| p.style != ParamStyle::DeepObject && norm(&p.wire_name) == *want)?;
        with(p.wire_name.clone(), &p.ty, *inclusive)
    })
}

/// A `cursor_param` setting: the parameter must exist (`updated[gte]` names the deepObject parameter
/// `updated`); its format comes from its type; inclusive unless set, or named exclusive.
fn filter_from_setting(
    api: &Api,
    op: &Operation,
    param: &str,
    kind: CursorKind,
    inclusive: Option<bool>,
) -> Result<SyncFilter, Diagnostic> {
    let query = |name: &str| {
        op.params
            .iter()
            .find(|p| p.location == ParamLocation::Query && p.wire_name == name)
    };
    let (t, sub) = match query(param) {
        Some(p) => (&p.ty, None),
        None => {
            let inner = param
                .strip_suffix(']')
                .and_then(|r| r.split_once('['))
                .and_then(|(base, sub)| Some((query(base)?, sub)));
            match inner {
                Some((p, sub)) => (&p.ty, Some(sub)),
                None => {
                    let known: Vec<&str> = op
                        .params
                        .iter()
                        .filter(|p| p.location == ParamLocation::Query)
                        .map(|p| p.wire_name.as_str())
                        .collect();
                    return Err(setting_error(
                        op,
                        format!(
                            "cursor_param names `{param}`, which is no query parameter of the operation"
                        ),
                        format!("its query parameters: {}", known.join(", ")),
                    ));
                }
            }
        }
    };
    let t = match sub {
        Some(sub) => range_ops(api, t)
            .into_iter()
            .find(|(o, _)| *o == sub)
            .map_or(t, |(_, t)| t),
        None => t,
    };
    let format = param_format(api, t, kind).unwrap_or(kind);
    let n = norm(param);
    let exclusive = n.ends_with("_after") || n.ends_with("_gt") || param.ends_with("[gt]");
    Ok(SyncFilter {
        param: param.to_owned(),
        format,
        inclusive: inclusive.unwrap_or(!exclusive),
    })
}

/// A path's segments for matching parents: parameters as `{}`, file extensions dropped.
fn shape(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.contains('{') {
                "{}".to_owned()
            } else {
                s.strip_suffix(".json").unwrap_or(s).to_owned()
            }
        })
        .collect()
}

/// The path parameter through which `child` hangs off `parent` (`issue_number` for
/// `.../issues/{issue_number}/comments` under `.../issues`): the child's path is the parent's, one
/// parameter segment, then a word (and maybe more).
#[cfg(test)]
fn hangs_off(parent: &str, child: &str) -> Option<String> {
    let (p, c) = (shape(parent), shape(child));
    if c.len() < p.len() + 2 || c[..p.len()] != p[..] {
        return None;
    }
    param_at(child, &c, p.len())
}

/// The parameter through which the path `child` (of shape `c`) hangs off a parent path whose shape
/// is `c[..depth]`: segment `depth` a parameter, the next one a word (see [`hangs_off`]).
fn param_at(child: &str, c: &[String], depth: usize) -> Option<String> {
    if c.len() < depth + 2 || c[depth] != "{}" || c[depth + 1] == "{}" {
        return None;
    }
    let seg = child.split('/').filter(|s| !s.is_empty()).nth(depth)?;
    let name = seg.strip_prefix('{')?.strip_suffix('}')?;
    (!name.contains(['{', '}'])).then(|| name.to_owned())
}

/// The parent item's field a child's parameter `param` takes: `param` itself, else `param` without
/// the parent's singular (`issue_number` → `number`, `customer_id` → `id`), else `id`, else the
/// parent's single key field. A JSON pointer.
fn parent_field(api: &Api, parent: &Candidate, parent_word: &str, param: &str) -> Option<String> {
    let s = match &api.types[parent.item_struct.0].kind {
        TypeKind::Struct(s) => s,
        _ => return None,
    };
    let one = norm(&names::singular(parent_word));
    let n = norm(param);
    let stripped = n
        .strip_prefix(&format!("{one}_"))
        .map(str::to_owned)
        .or_else(|| (n == one).then(|| "id".to_owned()));
    let found = field(s, param)
        .or_else(|| field_named(s, &n))
        .or_else(|| stripped.as_deref().and_then(|x| field_named(s, x)))
        .or_else(|| field_named(s, "id"))
        .map(|f| f.wire_name.clone())
        .or_else(|| match parent.primary_key.as_slice() {
            [k] => Some(k.clone()),
            _ => None,
        })?;
    Some(format!("/{}", found.replace('~', "~0").replace('/', "~1")))
}

/// Settle each candidate's parent: from the settings (`parent`, `parent_params`), else the closest
/// stream its path hangs off.
fn link_parents(
    api: &Api,
    settings: &Settings,
    found: &mut [Candidate],
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    // Each candidate's path shape, and the last candidate of each shape: a parent is found by
    // looking up the prefixes of the child's shape, not by comparing every pair.
    let shapes: Vec<Vec<String>> = found
        .iter()
        .map(|c| shape(&api.operations[c.op].path))
        .collect();
    let mut last_of_shape: HashMap<&[String], usize> = HashMap::new();
    for (i, s) in shapes.iter().enumerate() {
        last_of_shape.insert(s.as_slice(), i);
    }
    for ci in 0..found.len() {
        let op = &api.operations[found[ci].op];
        let hint = settings.streams.get(&op.operation_id);
        // The deepest parent shape first; among candidates of one shape, the last (as a
        // `max_by_key` over all pairs would pick).
        let c = &shapes[ci];
        let structural = (0..c.len().saturating_sub(1)).rev().find_map(|depth| {
            let pi = *last_of_shape.get(&c[..depth])?;
            param_at(&op.path, c, depth).map(|param| (pi, param, depth))
        });
        let wanted = hint.and_then(|h| h.parent.as_deref());
        let parent = match wanted {
            Some(NONE) => None,
            Some(id) => match found
                .iter()
                .position(|c| api.operations[c.op].operation_id == id)
            {
                Some(pi) if pi == ci => {
                    return Err(setting_error(
                        op,
                        "parent names the stream itself".into(),
                        "name the operationId of the listing whose rows give the parameters".into(),
                    ));
                }
                Some(pi) => Some((
                    pi,
                    structural
                        .as_ref()
                        .filter(|s| s.0 == pi)
                        .map(|s| s.1.clone()),
                )),
                None => {
                    warnings.push(
                        Diagnostic::warning(format!(
                            "settings: [streams.\"{}\"] parent `{id}` is not a stream of the description; the stream has no parent",
                            op.operation_id
                        ))
                        .at(op.origin.clone()),
                    );
                    None
                }
            },
            None => structural.map(|(pi, param, _)| (pi, Some(param))),
        };
        let Some((pi, param)) = parent else {
            if hint.is_some_and(|h| h.parent_params.is_some()) && wanted != Some(NONE) {
                return Err(setting_error(
                    op,
                    "parent_params is set but the stream has no parent".into(),
                    "set `parent` to the operationId of the parent listing".into(),
                ));
            }
            continue;
        };
        let parent_words = path_words(&api.operations[found[pi].op].path);
        let parent_word = parent_words.last().cloned().unwrap_or_default();
        let mut params = BTreeMap::new();
        match hint.and_then(|h| h.parent_params.as_ref()) {
            Some(given) => {
                let ps = match &api.types[found[pi].item_struct.0].kind {
                    TypeKind::Struct(s) => s,
                    _ => unreachable!("candidates list structs"),
                };
                for (wire, ptr) in given {
                    if !op.params.iter().any(|p| p.required && &p.wire_name == wire) {
                        return Err(setting_error(
                            op,
                            format!("parent_params names `{wire}`, which is no required parameter of the operation"),
                            "parent_params maps the operation's parameters to fields of the parent's items".into(),
                        ));
                    }
                    let first = ptr
                        .strip_prefix('/')
                        .map(|r| r.split('/').next().unwrap_or(""))
                        .map(|s| s.replace("~1", "/").replace("~0", "~"));
                    if first.as_deref().and_then(|f| field(ps, f)).is_none() {
                        return Err(setting_error(
                            op,
                            format!(
                                "parent_params `{wire}` = `{ptr}` names no field of the parent's item `{}`",
                                api.types[found[pi].item_struct.0].name
                            ),
                            format!("a JSON pointer such as `/id`; {}", field_list(ps)),
                        ));
                    }
                    params.insert(wire.clone(), ptr.clone());
                }
            }
            None => match param {
                Some(param) => {
                    if let Some(ptr) = parent_field(api, &found[pi], &parent_word, &param) {
                        params.insert(param, ptr);
                    }
                }
                None => {
                    return Err(setting_error(
                        op,
                        format!(
                            "parent `{}`: the path does not hang off the parent's, so the parameters it gives are unknown",
                            api.operations[found[pi].op].operation_id
                        ),
                        "set `parent_params = { param = \"/field\" }`".into(),
                    ));
                }
            },
        }
        if params.is_empty() {
            continue;
        }
        found[ci].parent = Some(pi);
        found[ci].parent_params = params;
        if wanted.is_some() {
            found[ci].from_settings = true;
        }
    }
    // Settings can close a cycle; paths alone cannot.
    for start in 0..found.len() {
        let mut at = found[start].parent;
        let mut steps = 0;
        while let Some(p) = at {
            steps += 1;
            if p == start || steps > found.len() {
                let op = &api.operations[found[start].op];
                return Err(setting_error(
                    op,
                    "parent settings form a cycle".into(),
                    "a stream's parent chain must end at a stream without a parent".into(),
                ));
            }
            at = found[p].parent;
        }
    }
    Ok(())
}

/// Table names: the settings' own, then each stream's shortest name no other stream wants, lengthened
/// on collisions ([`names::stream_table_names`]), made unique in description order.
fn table_names(api: &Api, found: &[Candidate]) -> Vec<String> {
    let options: Vec<Vec<String>> = found
        .iter()
        .map(|c| {
            let op = &api.operations[c.op];
            let words = path_words(&op.path);
            let parent_word = c.parent.and_then(|p| {
                path_words(&api.operations[found[p].op].path)
                    .last()
                    .cloned()
            });
            match &c.table {
                Some(t) => vec![t.clone()],
                None => names::stream_table_names(&words, parent_word.as_deref(), &op.operation_id),
            }
        })
        .collect();
    let mut level = vec![0usize; found.len()];
    let name = |i: usize, level: &[usize]| options[i][level[i].min(options[i].len() - 1)].clone();
    // On a collision, the names that can take another word of their path do; when none of the
    // colliding ones can, they fall back to their operation's name (the last option).
    for _ in 0..64 {
        let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for i in 0..found.len() {
            by_name.entry(name(i, &level)).or_default().push(i);
        }
        let mut changed = false;
        for users in by_name.values().filter(|u| u.len() > 1) {
            let growable: Vec<usize> = users
                .iter()
                .copied()
                .filter(|&i| level[i] + 2 < options[i].len())
                .collect();
            let moving = if growable.is_empty() {
                users
                    .iter()
                    .copied()
                    .filter(|&i| level[i] + 1 < options[i].len())
                    .collect()
            } else {
                growable
            };
            for i in moving {
                level[i] += 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let fixed: Vec<bool> = found.iter().map(|c| c.table.is_some()).collect();
    let mut scope = names::Scope::default();
    let mut out = vec![String::new(); found.len()];
    for pass in [true, false] {
        for i in (0..found.len()).filter(|i| fixed[*i] == pass) {
            out[i] = scope.claim(&name(i, &level));
        }
    }
    out
}

/// What `connector-gen streams` prints: every stream and every list operation that is none.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The streams, in description order.
    pub streams: Vec<ReportStream>,
    /// List operations without a stream.
    pub skipped: Vec<ReportSkip>,
}

/// One stream of a [`Report`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportStream {
    /// Table name.
    pub table: String,
    /// operationId.
    pub operation: String,
    /// `GET /path`.
    pub endpoint: String,
    /// Key fields.
    pub primary_key: Vec<String>,
    /// Cursor field.
    pub cursor: Option<String>,
    /// `DateTime`, `UnixSeconds` or `Integer`.
    pub cursor_kind: Option<String>,
    /// The filter parameter as sent.
    pub filter: Option<String>,
    /// Whether the filter includes equal values.
    pub filter_inclusive: Option<bool>,
    /// The parent stream's table.
    pub parent: Option<String>,
    /// `name` (configured) or `name<-/pointer` (from the parent row).
    pub params: Vec<String>,
    /// `unreported`, `soft(...)`, `tombstone(...)`.
    pub deletes: String,
    /// Number of typed columns.
    pub columns: usize,
    /// `detected` or `settings`.
    pub source: String,
}

/// One list operation without a stream.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportSkip {
    /// operationId.
    pub operation: String,
    /// `GET /path`.
    pub endpoint: String,
    /// Why it is no stream.
    pub reason: String,
}

/// The `connector_sync::CursorKind` variant name.
pub fn kind_name(k: CursorKind) -> &'static str {
    match k {
        CursorKind::DateTime => "DateTime",
        CursorKind::UnixSeconds => "UnixSeconds",
        CursorKind::Integer => "Integer",
    }
}

/// How a stream's deletes read in reports and docs.
pub fn deletes_text(d: &SyncDeletes) -> String {
    match d {
        SyncDeletes::Unreported => "unreported".into(),
        SyncDeletes::Soft { flag, at } => {
            let parts: Vec<String> = flag
                .iter()
                .map(|f| format!("flag {f}"))
                .chain(at.iter().map(|a| format!("at {a}")))
                .collect();
            format!("soft ({})", parts.join(", "))
        }
        SyncDeletes::Tombstone { flag } => format!("tombstone ({flag})"),
    }
}

/// The report of an API whose streams were detected.
pub fn report(api: &Api) -> Report {
    let endpoint = |op: usize| {
        let o = &api.operations[op];
        format!("{} {}", o.method, o.path)
    };
    Report {
        streams: api
            .streams
            .iter()
            .map(|s| ReportStream {
                table: s.table.clone(),
                operation: api.operations[s.op].operation_id.clone(),
                endpoint: endpoint(s.op),
                primary_key: s.primary_key.clone(),
                cursor: s.cursor.as_ref().map(|c| c.field.clone()),
                cursor_kind: s.cursor.as_ref().map(|c| kind_name(c.kind).to_owned()),
                filter: s
                    .cursor
                    .as_ref()
                    .and_then(|c| c.filter.as_ref())
                    .map(|f| f.param.clone()),
                filter_inclusive: s
                    .cursor
                    .as_ref()
                    .and_then(|c| c.filter.as_ref())
                    .map(|f| f.inclusive),
                parent: s.parent.map(|p| api.streams[p].table.clone()),
                params: s
                    .params
                    .iter()
                    .map(|p| match &p.from {
                        SyncParamSource::Config => p.wire.clone(),
                        SyncParamSource::Parent(ptr) => format!("{}<-{ptr}", p.wire),
                    })
                    .collect(),
                deletes: deletes_text(&s.deletes),
                columns: s.columns.len(),
                source: if s.from_settings {
                    "settings"
                } else {
                    "detected"
                }
                .into(),
            })
            .collect(),
        skipped: api
            .stream_skips
            .iter()
            .map(|k| ReportSkip {
                operation: api.operations[k.op].operation_id.clone(),
                endpoint: endpoint(k.op),
                reason: k.reason.clone(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests;
