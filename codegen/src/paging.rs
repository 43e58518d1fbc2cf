//! Detects how each list operation pages, so emission can give it a typed `paginate()`.
//!
//! In order of precedence: a `[pagination.<operationId>]` table in the settings, the vendor extensions
//! `x-speakeasy-pagination` and `x-ms-pageable`, then the patterns real APIs use, read from the
//! operation's query parameters, its success schema and its declared response headers:
//!
//! | pattern | strategy |
//! |---|---|
//! | a `Link` response header | `rel="next"` links (GitHub) |
//! | a continuation response header (`x-ms-continuation`, `x-next-token`, `next-page-token`) and a parameter taking it | cursor from the header (Azure) |
//! | a `links.pages` object and a `page` parameter | page numbers while `links.pages.next` (DigitalOcean) |
//! | a next URL field (`next_page_uri`, `meta.next_page_url`, `nextLink`, ...) | follow it (Twilio) |
//! | `has_more` with `starting_after` / `after` | last item's id, or `last_id` (Stripe, OpenAI) |
//! | a next cursor field (`response_metadata.next_cursor`, `next_page_token`, ...) and a cursor parameter | cursor (Slack) |
//! | an `offset` parameter | offset, or the `next_page.offset` token (Asana) |
//! | a `page` parameter | page numbers until a short page |
//!
//! Only operations whose page holds one array of items are paginated; the item type is the array's.
//!
//! Architecture Invariant: this pass reads the IR and the raw operation object (for extensions and
//! headers, which the IR does not keep) and writes only [`Operation::pagination`].

use crate::load::Field as _;
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::ir::{
    Api, Operation, PageStrategy, Pagination, ParamLocation, ResponseKind, Ty, TypeKind,
};
use crate::passes::strip;
use crate::settings::{PagingHint, Settings};

/// Fill [`Operation::pagination`] for every operation that pages; warnings for settings or
/// extensions that cannot be followed.
pub fn detect(root: &Value, settings: &Settings, api: &mut Api) -> Vec<Diagnostic> {
    let mut warnings = Vec::new();
    for i in 0..api.operations.len() {
        let op = &api.operations[i];
        let raw = resolve(root, &op.origin);
        let found = if let Some(hint) = settings.pagination.get(&op.operation_id) {
            from_hint(api, op, hint).map_err(|m| (m, "settings".to_owned()))
        } else if let Some(x) = raw.and_then(|r| r.field("x-speakeasy-pagination")) {
            from_speakeasy(api, op, x).map_err(|m| (m, "x-speakeasy-pagination".to_owned()))
        } else if let Some(x) = raw.and_then(|r| r.field("x-ms-pageable")) {
            from_ms_pageable(api, op, x).map_err(|m| (m, "x-ms-pageable".to_owned()))
        } else if op.method == "GET" {
            Ok(infer(api, op, raw))
        } else {
            Ok(None)
        };
        match found {
            Ok(p) => api.operations[i].pagination = p,
            Err((message, source)) => warnings.push(
                Diagnostic::warning(format!(
                    "{source}: {message}; `{}` is generated without paginate()",
                    api.operations[i].operation_id
                ))
                .at(api.operations[i].origin.clone()),
            ),
        }
    }
    warnings
}

/// The raw object at `origin`, following `$ref`s (bundled operations are refs).
fn resolve<'a>(root: &'a Value, origin: &str) -> Option<&'a Value> {
    crate::sample::resolve(root, &format!("#{origin}"))
}

/// The JSON type of the first success answer, without `Option`/`Box`.
fn page_type(op: &Operation) -> Option<&Ty> {
    op.success
        .iter()
        .find(|r| matches!(r.kind, ResponseKind::Json | ResponseKind::Xml))
        .map(|r| strip(&r.ty))
}

/// The type at a JSON pointer inside values of `t` (object fields by wire name, through aliases).
fn ty_at<'t>(api: &'t Api, t: &'t Ty, ptr: &str) -> Option<&'t Ty> {
    let mut cur = resolve_alias(api, strip(t));
    if ptr.is_empty() {
        return Some(cur);
    }
    for seg in ptr.strip_prefix('/')?.split('/') {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        let Ty::Named(id) = cur else { return None };
        let TypeKind::Struct(s) = &api.types[id.0].kind else {
            return None;
        };
        let f = s.fields.iter().find(|f| f.wire_name == seg)?;
        cur = resolve_alias(api, strip(&f.ty));
    }
    Some(cur)
}

fn resolve_alias<'t>(api: &'t Api, mut t: &'t Ty) -> &'t Ty {
    for _ in 0..16 {
        match t {
            Ty::Named(id) => match &api.types[id.0].kind {
                TypeKind::Alias(inner) => t = strip(inner),
                _ => return t,
            },
            _ => return t,
        }
    }
    t
}

/// The item type of the array at `ptr` in the page, if it is an array.
fn items_at(api: &Api, page: &Ty, ptr: &str) -> Option<Ty> {
    match ty_at(api, page, ptr)? {
        Ty::Vec(item) => Some(strip(item).clone()),
        _ => None,
    }
}

fn is_text(api: &Api, page: &Ty, ptr: &str) -> bool {
    matches!(ty_at(api, page, ptr), Some(Ty::String))
}

fn is_bool(api: &Api, page: &Ty, ptr: &str) -> bool {
    matches!(ty_at(api, page, ptr), Some(Ty::Bool))
}

fn exists(api: &Api, page: &Ty, ptr: &str) -> bool {
    ty_at(api, page, ptr).is_some()
}

/// The wire name of the first query parameter among `names` (compared case-insensitively).
fn query_param(op: &Operation, names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| {
        op.params
            .iter()
            .find(|p| p.location == ParamLocation::Query && p.wire_name.eq_ignore_ascii_case(n))
            .map(|p| p.wire_name.clone())
    })
}

const SIZE_PARAMS: &[&str] = &[
    "per_page",
    "page_size",
    "pagesize",
    "limit",
    "max_results",
    "maxresults",
    "count",
    "size",
    "top",
];
const ITEM_FIELDS: &[&str] = &[
    "data", "items", "results", "entries", "records", "values", "value", "elements", "nodes",
    "Contents", "Items", "Versions",
];
const NEXT_URL_FIELDS: &[&str] = &[
    "/next_page_uri",
    "/next_page_url",
    "/nextPageUrl",
    "/next_url",
    "/nextUrl",
    "/next_link",
    "/nextLink",
    "/@odata.nextLink",
    "/meta/next_page_url",
    "/meta/next",
    "/links/next",
    "/paging/next",
    "/pagination/next_url",
    "/pagination/next",
];
/// Fields named only `next`: a URL unless the operation has a cursor parameter, which they then feed.
const BARE_NEXT_FIELDS: &[&str] = &["/next", "/links/next"];
const NEXT_CURSOR_FIELDS: &[&str] = &[
    "/response_metadata/next_cursor",
    "/next_cursor",
    "/nextCursor",
    "/next_page_token",
    "/nextPageToken",
    "/next_token",
    "/nextToken",
    "/meta/next_cursor",
    "/meta/nextCursor",
    "/pagination/next_cursor",
    "/pagination/cursor",
    "/paging/cursors/after",
    "/cursor",
    "/next_page",
    "/next",
    "/NextContinuationToken",
    "/NextToken",
    "/NextMarker",
];
/// Booleans saying another page follows (`has_more`; S3's `IsTruncated`).
const HAS_MORE_FIELDS: &[&str] = &["/has_more", "/IsTruncated"];
const CURSOR_PARAMS: &[&str] = &[
    "cursor",
    "page_token",
    "pageToken",
    "next_token",
    "nextToken",
    "starting_after",
    "after",
    "continuation_token",
    "continuationToken",
    "continuation-token",
    "marker",
];

/// The array of items in a page: the page itself, a conventionally named field, or the only array.
fn find_items(api: &Api, page: &Ty) -> Option<(String, Ty)> {
    let page = resolve_alias(api, page);
    if let Ty::Vec(item) = page {
        return Some((String::new(), strip(item).clone()));
    }
    let Ty::Named(id) = page else { return None };
    let TypeKind::Struct(s) = &api.types[id.0].kind else {
        return None;
    };
    let arrays: Vec<_> = s
        .fields
        .iter()
        .filter(|f| matches!(resolve_alias(api, strip(&f.ty)), Ty::Vec(_)))
        .collect();
    let pick = ITEM_FIELDS
        .iter()
        .find_map(|n| arrays.iter().find(|f| f.wire_name == *n))
        .or(match arrays.as_slice() {
            [only] => Some(only),
            _ => None,
        })?;
    let ptr = format!("/{}", pick.wire_name.replace('~', "~0").replace('/', "~1"));
    let item = items_at(api, page, &ptr)?;
    Some((ptr, item))
}

fn is_integer_param(op: &Operation, wire: &str) -> bool {
    op.params
        .iter()
        .any(|p| p.wire_name == wire && matches!(strip(&p.ty), Ty::Int(_)))
}

fn declares_link_header(raw: Option<&Value>) -> bool {
    let Some(responses) = raw
        .and_then(|r| r.field("responses"))
        .and_then(Value::as_object)
    else {
        return false;
    };
    responses
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .filter_map(|(_, r)| r.field("headers").and_then(Value::as_object))
        .any(|h| h.keys().any(|k| k.eq_ignore_ascii_case("link")))
}

/// Whether a response header name says it carries the next cursor (`x-ms-continuation`,
/// `x-next-token`, `next-page-token`, `x-continuation-token`). Names that carry one half of a pair
/// (`x-ms-continuation-NextPartitionKey`) do not: one cursor cannot send both back.
fn is_continuation_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "continuation",
        "continuation-token",
        "continuationtoken",
        "next-token",
        "nexttoken",
        "next-page-token",
        "next-cursor",
    ]
    .iter()
    .any(|end| n == *end || n.ends_with(&format!("-{end}")))
}

/// Parameters that take a cursor back, besides one named like the header itself.
const CONTINUATION_PARAMS: &[&str] = &[
    "continuation",
    "continuationToken",
    "continuation_token",
    "marker",
    "next_token",
    "nextToken",
    "page_token",
    "pageToken",
    "cursor",
    "token",
];

/// A declared continuation response header and the parameter that takes it back: (header, parameter,
/// the parameter is a header). A header parameter of the same name comes first, then a query
/// parameter of that name, then the conventional names.
fn header_cursor(op: &Operation) -> Option<(String, String, bool)> {
    let headers = op.response_headers.as_ref()?;
    let h = headers
        .fields
        .iter()
        .find(|f| is_continuation_header(&f.wire_name))?;
    let wire = &h.wire_name;
    let by_name = |loc: ParamLocation, name: &str| {
        op.params
            .iter()
            .find(|p| p.location == loc && p.wire_name.eq_ignore_ascii_case(name))
            .map(|p| p.wire_name.clone())
    };
    if let Some(p) = by_name(ParamLocation::Header, wire) {
        return Some((wire.clone(), p, true));
    }
    if let Some(p) = by_name(ParamLocation::Query, wire) {
        return Some((wire.clone(), p, false));
    }
    CONTINUATION_PARAMS.iter().find_map(|n| {
        by_name(ParamLocation::Query, n)
            .map(|p| (wire.clone(), p, false))
            .or_else(|| by_name(ParamLocation::Header, n).map(|p| (wire.clone(), p, true)))
    })
}

fn item_has_id(api: &Api, item: &Ty) -> bool {
    exists(api, item, "/id")
}

/// Recognise a paging pattern of a GET operation.
fn infer(api: &Api, op: &Operation, raw: Option<&Value>) -> Option<Pagination> {
    let page = page_type(op)?;
    let (items_pointer, item) = find_items(api, page)?;
    let size = query_param(op, SIZE_PARAMS);
    let done = |strategy: PageStrategy, source: &str| {
        Some(Pagination {
            strategy,
            items_pointer: items_pointer.clone(),
            item: item.clone(),
            page_size_param: size.clone(),
            source: source.to_owned(),
        })
    };
    // A `page` parameter that is text is a cursor (Stripe search's `page` takes `next_page`).
    let page_param = query_param(op, &["page"]).filter(|p| is_integer_param(op, p));
    if declares_link_header(raw) {
        return done(PageStrategy::LinkHeader, "a `Link` response header");
    }
    if let Some((header, param, in_header)) = header_cursor(op) {
        let source = format!("a `{header}` response header");
        return done(
            PageStrategy::HeaderCursor {
                header,
                param,
                in_header,
            },
            &source,
        );
    }
    if let Some(param) = &page_param {
        if exists(api, page, "/links/pages") {
            return done(
                PageStrategy::Page {
                    param: param.clone(),
                    has_next: Some("/links/pages/next".into()),
                },
                "`links.pages` and a `page` parameter",
            );
        }
    }
    if let Some(ptr) = NEXT_URL_FIELDS
        .iter()
        .find(|p| is_text(api, page, p) && !items_pointer.starts_with(**p))
    {
        return done(
            PageStrategy::NextUrl((*ptr).to_owned()),
            &format!("a next URL at `{ptr}`"),
        );
    }
    if is_bool(api, page, "/has_more") {
        if let Some(param) = query_param(op, &["starting_after", "after"]) {
            if let Some(ptr) = ["/last_id", "/next"].iter().find(|p| is_text(api, page, p)) {
                return done(
                    PageStrategy::Cursor {
                        param,
                        next: Some((*ptr).to_owned()),
                        last_item: None,
                        has_more: Some("/has_more".into()),
                    },
                    &format!("`has_more` and `{}`", &ptr[1..]),
                );
            }
            if item_has_id(api, &item) {
                return done(
                    PageStrategy::Cursor {
                        param,
                        next: None,
                        last_item: Some("/id".into()),
                        has_more: Some("/has_more".into()),
                    },
                    "`has_more` and the last item's `id`",
                );
            }
        }
    }
    let cursor_param = query_param(op, CURSOR_PARAMS).or_else(|| {
        query_param(op, &["page"])
            .filter(|p| !is_integer_param(op, p) && is_text(api, page, "/next_page"))
    });
    if let Some(param) = cursor_param {
        let has_more = HAS_MORE_FIELDS
            .iter()
            .find(|p| is_bool(api, page, p))
            .map(|p| (*p).to_owned());
        if let Some(ptr) = NEXT_CURSOR_FIELDS.iter().find(|p| is_text(api, page, p)) {
            return done(
                PageStrategy::Cursor {
                    param,
                    next: Some((*ptr).to_owned()),
                    last_item: None,
                    has_more,
                },
                &format!("a next cursor at `{ptr}`"),
            );
        }
    } else if let Some(ptr) = BARE_NEXT_FIELDS.iter().find(|p| is_text(api, page, p)) {
        return done(
            PageStrategy::NextUrl((*ptr).to_owned()),
            &format!("a next URL at `{ptr}`"),
        );
    }
    if let Some(param) = query_param(op, &["offset"]) {
        let next = ["/next_page/offset", "/next_offset", "/meta/next_offset"]
            .iter()
            .find(|p| exists(api, page, p))
            .map(|p| (*p).to_owned());
        return done(
            PageStrategy::Offset { param, next },
            "an `offset` parameter",
        );
    }
    if let Some(param) = page_param {
        return done(
            PageStrategy::Page {
                param,
                has_next: None,
            },
            "a `page` parameter",
        );
    }
    None
}

/// `$.a.b` (the JSONPath subset extensions use) as a JSON pointer `/a/b`.
fn json_path(p: &str) -> Option<String> {
    let rest = p.trim().strip_prefix('$')?;
    if rest.is_empty() {
        return Some(String::new());
    }
    let mut out = String::new();
    for seg in rest.strip_prefix('.')?.split('.') {
        if seg.is_empty() || seg.contains(['[', ']', '*']) {
            return None;
        }
        out.push('/');
        out.push_str(&seg.replace('~', "~0").replace('/', "~1"));
    }
    Some(out)
}

/// The item type at `items` of the page, or any JSON value when the schema does not say.
fn item_type(api: &Api, op: &Operation, items: &str) -> Result<Ty, String> {
    match page_type(op) {
        Some(page) => items_at(api, page, items)
            .ok_or_else(|| format!("no array of items at `{items}` in the success schema")),
        None => Ok(Ty::Any),
    }
}

/// `x-speakeasy-pagination`: `type` (`offsetLimit`, `cursor`, `url`), `inputs` (query parameters by
/// role) and `outputs` (JSONPath to results, next cursor, next URL).
fn from_speakeasy(api: &Api, op: &Operation, x: &Value) -> Result<Option<Pagination>, String> {
    let kind = x.field("type").and_then(Value::as_str).unwrap_or("");
    let outputs = x.field("outputs").cloned().unwrap_or(Value::Null);
    let out = |k: &str| -> Result<Option<String>, String> {
        match outputs.get(k).and_then(Value::as_str) {
            None => Ok(None),
            Some(p) => json_path(p)
                .map(Some)
                .ok_or_else(|| format!("output `{k}` `{p}` is not a simple `$.a.b` path")),
        }
    };
    let role = |r: &str| -> Result<Option<String>, String> {
        let Some(inputs) = x.field("inputs").and_then(Value::as_array) else {
            return Ok(None);
        };
        for i in inputs {
            if i.field("type").and_then(Value::as_str) == Some(r) {
                let name = i.field("name").and_then(Value::as_str).unwrap_or("");
                if i.field("in").and_then(Value::as_str) != Some("parameters") {
                    return Err(format!(
                        "input `{name}` is not a parameter (only query parameters are paged)"
                    ));
                }
                return Ok(Some(name.to_owned()));
            }
        }
        Ok(None)
    };
    let items = out("results")?.unwrap_or_else(|| "/data".into());
    let size = role("limit")?;
    let strategy = match kind {
        "offsetLimit" => match (role("page")?, role("offset")?) {
            (Some(param), _) => PageStrategy::Page {
                param,
                has_next: None,
            },
            (None, Some(param)) => PageStrategy::Offset { param, next: None },
            (None, None) => return Err("`offsetLimit` without a page or offset input".into()),
        },
        "cursor" => {
            let param = role("cursor")?.ok_or("`cursor` without a cursor input")?;
            let next = out("nextCursor")?.ok_or("`cursor` without a `nextCursor` output")?;
            PageStrategy::Cursor {
                param,
                next: Some(next),
                last_item: None,
                has_more: None,
            }
        }
        "url" => PageStrategy::NextUrl(out("nextUrl")?.ok_or("`url` without a `nextUrl` output")?),
        other => return Err(format!("unknown type `{other}`")),
    };
    Ok(Some(Pagination {
        strategy,
        item: item_type(api, op, &items)?,
        items_pointer: items,
        page_size_param: size,
        source: "x-speakeasy-pagination".into(),
    }))
}

/// `x-ms-pageable`: `nextLinkName` (a next URL field; null: one page only) and `itemName` (default
/// `value`).
fn from_ms_pageable(api: &Api, op: &Operation, x: &Value) -> Result<Option<Pagination>, String> {
    let Some(next) = x.field("nextLinkName").and_then(Value::as_str) else {
        return Ok(None);
    };
    let item_name = x
        .field("itemName")
        .and_then(Value::as_str)
        .unwrap_or("value");
    let items = format!("/{item_name}");
    Ok(Some(Pagination {
        strategy: PageStrategy::NextUrl(format!("/{next}")),
        item: item_type(api, op, &items)?,
        items_pointer: items,
        page_size_param: query_param(op, &["$top", "top", "maxresults"]),
        source: "x-ms-pageable".into(),
    }))
}

/// A `[pagination.<operationId>]` settings table.
fn from_hint(api: &Api, op: &Operation, h: &PagingHint) -> Result<Option<Pagination>, String> {
    let need = |v: &Option<String>, what: &str| {
        v.clone()
            .ok_or_else(|| format!("strategy `{}` needs `{what}`", h.strategy))
    };
    let strategy = match h.strategy.as_str() {
        "none" => return Ok(None),
        "cursor" if h.header.is_some() => {
            let param = need(&h.param, "param")?;
            let in_header = op.params.iter().any(|p| {
                p.location == ParamLocation::Header && p.wire_name.eq_ignore_ascii_case(&param)
            });
            PageStrategy::HeaderCursor {
                header: need(&h.header, "header")?,
                param,
                in_header,
            }
        }
        "cursor" => PageStrategy::Cursor {
            param: need(&h.param, "param")?,
            next: h.next.clone(),
            last_item: h.last_item.clone(),
            has_more: h.has_more.clone(),
        },
        "offset" => PageStrategy::Offset {
            param: h.param.clone().unwrap_or_else(|| "offset".into()),
            next: h.next.clone(),
        },
        "page" => PageStrategy::Page {
            param: h.param.clone().unwrap_or_else(|| "page".into()),
            has_next: h.has_next.clone(),
        },
        "link_header" => PageStrategy::LinkHeader,
        "next_url" => PageStrategy::NextUrl(need(&h.next, "next")?),
        other => {
            return Err(format!(
                "unknown strategy `{other}` (cursor, offset, page, link_header, next_url, none)"
            ));
        }
    };
    if let PageStrategy::Cursor {
        next: None,
        last_item: None,
        ..
    } = &strategy
    {
        return Err("strategy `cursor` needs `next` or `last_item`".into());
    }
    let items = match &h.items {
        Some(i) => i.clone(),
        None => page_type(op)
            .and_then(|p| find_items(api, p))
            .map(|(p, _)| p)
            .ok_or("no array of items found; set `items`")?,
    };
    Ok(Some(Pagination {
        strategy,
        item: item_type(api, op, &items)?,
        items_pointer: items,
        page_size_param: h
            .page_size_param
            .clone()
            .or_else(|| query_param(op, SIZE_PARAMS)),
        source: "settings".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_headers_are_told_from_halves_of_a_pair() {
        for yes in [
            "x-ms-continuation",
            "X-Next-Token",
            "next-page-token",
            "x-continuation-token",
            "Continuation",
        ] {
            assert!(is_continuation_header(yes), "{yes}");
        }
        for no in [
            "x-ms-continuation-NextPartitionKey",
            "x-ms-request-id",
            "ETag",
            "Link",
            "x-discontinuation",
        ] {
            assert!(!is_continuation_header(no), "{no}");
        }
    }

    #[test]
    fn json_paths_become_pointers() {
        assert_eq!(json_path("$").as_deref(), Some(""));
        assert_eq!(json_path("$.data").as_deref(), Some("/data"));
        assert_eq!(
            json_path("$.meta.next_cursor").as_deref(),
            Some("/meta/next_cursor")
        );
        assert_eq!(json_path("$.items[*]"), None);
        assert_eq!(json_path("data"), None);
    }
}
