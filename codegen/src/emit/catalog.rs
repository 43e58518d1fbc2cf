//! The sync catalog's emission: the `sync` module (`catalog()`, one `stream_<table>` definition and
//! one `fetch_<table>` per stream), the `<vendor>-sync` binary, and `SYNC.md`, from
//! [`Api::streams`].
//!
//! A fetch function opens the listing through the operation's builder and its `build_pages()`,
//! the same request and paging setup `paginate_with()` uses, so a stream sends exactly what the
//! typed client sends. An item is checked by `connector_sync::check_item` with the item type.

use std::collections::{BTreeSet, HashMap};

use proc_macro2::TokenStream;
use quote::quote;

use super::text::{self, Doc, Expr, Method, Stmt};
use super::{Place, ident, is_stringish, paging_how, ty_text, ty_tokens};
use crate::ir::*;
use crate::names;
use crate::streams::{deletes_text, kind_name};

/// The groups (cargo features) a stream needs: its operation's, and those of the streams above it.
fn stream_features(api: &Api, s: &SyncStream) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut at = Some(s);
    let mut steps = 0;
    while let Some(st) = at.filter(|_| steps <= api.streams.len()) {
        out.insert(api.groups[api.operations[st.op].group].module.clone());
        at = st.parent.map(|p| &api.streams[p]);
        steps += 1;
    }
    out
}

fn stream_cfg(api: &Api, s: &SyncStream, tag_features: bool) -> TokenStream {
    if !tag_features {
        return TokenStream::new();
    }
    let features: Vec<String> = stream_features(api, s).into_iter().collect();
    match features.as_slice() {
        [one] => quote!(#[cfg(feature = #one)]),
        many => quote!(#[cfg(all(#(feature = #many),*))]),
    }
}

fn cursor_kind_tokens(k: CursorKind) -> TokenStream {
    let variant = ident(cursor_kind_variant(k));
    quote!(connector_sync::CursorKind::#variant)
}

/// The `connector_sync::CursorKind` variant of a cursor's kind.
fn cursor_kind_variant(k: CursorKind) -> &'static str {
    match k {
        CursorKind::DateTime => "DateTime",
        CursorKind::UnixSeconds => "UnixSeconds",
        CursorKind::Integer => "Integer",
    }
}

/// Where a stream was declared, as its definition's `source` says.
fn stream_source(s: &SyncStream) -> &'static str {
    if s.from_settings {
        "settings"
    } else {
        "detected"
    }
}

/// How a stream's operation pages, as its definition's `paging` says (plain text).
fn stream_paging(op: &Operation) -> String {
    op.pagination
        .as_ref()
        .map(|p| paging_how(p).replace(['`', '"'], ""))
        .unwrap_or_default()
}

/// A column's kind, through the module's `use connector_sync::{Column, ColumnKind}`.
fn column_kind_tokens(k: ColumnKind) -> TokenStream {
    let variant = ident(column_kind_variant(k));
    quote!(ColumnKind::#variant)
}

/// The `ColumnKind` variant of a column's kind.
fn column_kind_variant(k: ColumnKind) -> &'static str {
    match k {
        ColumnKind::Bool => "Bool",
        ColumnKind::Int => "Int",
        ColumnKind::Float => "Float",
        ColumnKind::Text => "Text",
        ColumnKind::DateTime => "DateTime",
        ColumnKind::UnixSeconds => "UnixSeconds",
        ColumnKind::Date => "Date",
    }
}

fn opt_str(s: Option<&String>) -> TokenStream {
    match s {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    }
}

/// The Rust name of a stream's item type, for docs.
fn item_name(api: &Api, s: &SyncStream) -> String {
    match passes_strip(&s.item) {
        Ty::Named(id) => api.types[id.0].name.clone(),
        _ => api.types[s.item_struct.0].name.clone(),
    }
}

fn passes_strip(t: &Ty) -> &Ty {
    crate::passes::strip(t)
}

/// Column lists that several streams have (streams of one item type, such as GitHub's 21 of
/// `MinimalRepository`, or of types with the same fields): each is a constant of the module, named
/// after the first stream's item type, written once and named by each of those streams. A list one
/// stream has stays in its definition.
#[derive(Default)]
pub struct SharedColumns {
    /// Per stream, the constant holding its columns, if they are shared.
    of_stream: Vec<Option<String>>,
    /// The constants, in order of first use: name and the streams with the list.
    consts: Vec<(String, Vec<usize>)>,
}

impl SharedColumns {
    /// The shared lists of `api`'s streams.
    pub fn of(api: &Api) -> SharedColumns {
        let mut users: HashMap<&[SyncColumn], Vec<usize>> = HashMap::new();
        let mut lists: Vec<&[SyncColumn]> = Vec::new();
        for (i, s) in api.streams.iter().enumerate() {
            if s.columns.is_empty() {
                continue;
            }
            let list = s.columns.as_slice();
            let entry = users.entry(list).or_default();
            if entry.is_empty() {
                lists.push(list);
            }
            entry.push(i);
        }
        let mut of_stream = vec![None; api.streams.len()];
        let mut consts = Vec::new();
        let mut scope = names::Scope::default();
        for list in lists {
            let streams = &users[list];
            let [first, _, ..] = streams.as_slice() else {
                continue;
            };
            let item = &api.types[api.streams[*first].item_struct.0].name;
            let name = scope.claim(&names::columns_const_name(item));
            for &i in streams {
                of_stream[i] = Some(name.clone());
            }
            consts.push((name, streams.clone()));
        }
        SharedColumns { of_stream, consts }
    }
}

/// A stream's columns as the expression of a `&'static [Column]`.
fn columns_tokens(s: &SyncStream) -> TokenStream {
    // One constructor call per column, a line each once formatted (a struct literal takes six).
    // A call is not promoted to a `'static` borrow the way a literal is, so the list is constant.
    let columns = s.columns.iter().map(|c| {
        let (n, w) = (&c.name, &c.wire);
        let k = column_kind_tokens(c.kind);
        if c.required {
            quote!(Column::required(#n, #w, #k))
        } else {
            quote!(Column::optional(#n, #w, #k))
        }
    });
    quote!(&[#(#columns),*])
}

/// A shared column list's constant as formatted text (see [`super::text`]), or `None` when a line
/// has no layout there.
fn columns_const_text(name: &str, doc: &str, tag_features: bool, s: &SyncStream) -> Option<String> {
    if doc.starts_with('/') || doc.contains(['\n', '\r']) {
        return None;
    }
    let mut out = format!("///{}\n", doc.trim_end_matches(' '));
    if tag_features {
        out.push_str("#[allow(dead_code)]\n");
    }
    Stmt::Expr {
        lead: format!("const {name}: &[Column] = "),
        expr: columns_expr(s),
        tail: ";",
    }
    .text(0, &mut out)?;
    Some(out)
}

/// [`columns_tokens`] as a text expression (see [`super::text`]).
fn columns_expr(s: &SyncStream) -> Expr {
    let columns = s
        .columns
        .iter()
        .map(|c| {
            let kind = format!("ColumnKind::{}", column_kind_variant(c.kind));
            Expr::call(
                if c.required {
                    "Column::required("
                } else {
                    "Column::optional("
                },
                vec![
                    Expr::Atom(text::str_lit(&c.name)),
                    Expr::Atom(text::str_lit(&c.wire)),
                    Expr::Atom(kind),
                ],
            )
        })
        .collect();
    Expr::slice(columns)
}

/// The `StreamDef` literal of stream `i`.
fn stream_def(api: &Api, i: usize, shared: &SharedColumns) -> TokenStream {
    let s = &api.streams[i];
    let op = &api.operations[s.op];
    let name = &s.table;
    let operation = &op.operation_id;
    let method = &op.method;
    let path = &op.path;
    let item = item_name(api, s);
    let keys = &s.primary_key;
    let cursor = match &s.cursor {
        Some(c) => {
            let field = &c.field;
            let kind = cursor_kind_tokens(c.kind);
            let filter = match &c.filter {
                Some(f) => {
                    let param = &f.param;
                    let format = cursor_kind_tokens(f.format);
                    let inclusive = f.inclusive;
                    quote!(Some(connector_sync::CursorFilter { param: #param, format: #format, inclusive: #inclusive }))
                }
                None => quote!(None),
            };
            quote!(Some(connector_sync::Cursor { field: #field, kind: #kind, filter: #filter }))
        }
        None => quote!(None),
    };
    let columns = match shared.of_stream.get(i).and_then(Option::as_ref) {
        Some(name) => {
            let name = ident(name);
            quote!(#name)
        }
        None => {
            let list = columns_tokens(s);
            quote!(const { #list })
        }
    };
    let params = s.params.iter().map(|p| {
        let n = &p.wire;
        let from = match &p.from {
            SyncParamSource::Config => quote!(connector_sync::ParamSource::Config),
            SyncParamSource::Parent(ptr) => quote!(connector_sync::ParamSource::Parent(#ptr)),
        };
        quote!(connector_sync::Param { name: #n, from: #from })
    });
    let parent = opt_str(s.parent.map(|p| &api.streams[p].table));
    let deletes = match &s.deletes {
        SyncDeletes::Unreported => quote!(connector_sync::Deletes::Unreported),
        SyncDeletes::Soft { flag, at } => {
            let (flag, at) = (opt_str(flag.as_ref()), opt_str(at.as_ref()));
            quote!(connector_sync::Deletes::Soft { flag: #flag, at: #at })
        }
        SyncDeletes::Tombstone { flag } => {
            quote!(connector_sync::Deletes::Tombstone { flag: #flag })
        }
    };
    let source = stream_source(s);
    let paging = stream_paging(op);
    let fetch = ident(&names::sync_fn_names(&s.table).0);
    let item_ty = ty_tokens(api, &s.item, Place::Value);
    quote! {
        connector_sync::StreamDef {
            name: #name,
            operation: #operation,
            method: #method,
            path: #path,
            item_type: #item,
            primary_key: &[#(#keys),*],
            cursor: #cursor,
            columns: #columns,
            params: &[#(#params),*],
            parent: #parent,
            deletes: #deletes,
            source: #source,
            paging: #paging,
            fetch: #fetch,
            check: connector_sync::check_item::<#item_ty>,
        }
    }
}

/// `stream_<table>()` of stream `i` with its gate, as formatted text (see [`super::text`]): what
/// [`module_streams`] writes as tokens, or `None` when some part has no layout there (a line too
/// long for its layout).
fn stream_def_text(
    api: &Api,
    i: usize,
    shared: &SharedColumns,
    tag_features: bool,
) -> Option<String> {
    let s = &api.streams[i];
    let op = &api.operations[s.op];
    let shared_list = shared.of_stream.get(i).and_then(Option::as_ref);
    let lit = |t: &str| text::str_lit(t);
    let line = |t: String| Stmt::line(t);
    let opt = |t: Option<&String>| t.map_or("None".to_owned(), |t| format!("Some({})", lit(t)));
    let cursor_kind = |k| format!("connector_sync::CursorKind::{}", cursor_kind_variant(k));
    let mut fields = vec![
        line(format!("name: {},", lit(&s.table))),
        line(format!("operation: {},", lit(&op.operation_id))),
        line(format!("method: {},", lit(&op.method))),
        line(format!("path: {},", lit(&op.path))),
        line(format!("item_type: {},", lit(&item_name(api, s)))),
        Stmt::Expr {
            lead: "primary_key: ".to_owned(),
            expr: Expr::slice(s.primary_key.iter().map(|k| Expr::Atom(lit(k))).collect()),
            tail: ",",
        },
    ];
    fields.push(match &s.cursor {
        None => line("cursor: None,".to_owned()),
        Some(c) => Stmt::Block {
            head: "cursor: Some(connector_sync::Cursor".to_owned(),
            inner: vec![
                line(format!("field: {},", lit(&c.field))),
                line(format!("kind: {},", cursor_kind(c.kind))),
                match &c.filter {
                    None => line("filter: None,".to_owned()),
                    Some(f) => Stmt::Block {
                        head: "filter: Some(connector_sync::CursorFilter".to_owned(),
                        inner: vec![
                            line(format!("param: {},", lit(&f.param))),
                            line(format!("format: {},", cursor_kind(f.format))),
                            line(format!("inclusive: {},", f.inclusive)),
                        ],
                        tail: "),",
                    },
                },
            ],
            tail: "),",
        },
    });
    fields.push(match shared_list {
        Some(name) => line(format!("columns: {name},")),
        // Listed in place: a `const` block holding the array.
        None => Stmt::Braced {
            lead: "columns: const".to_owned(),
            expr: columns_expr(s),
            tail: ",",
        },
    });
    fields.push(if s.params.is_empty() {
        line("params: &[],".to_owned())
    } else {
        Stmt::Bracketed {
            head: "params: &[".to_owned(),
            inner: s
                .params
                .iter()
                .map(|p| Stmt::Block {
                    head: "connector_sync::Param".to_owned(),
                    inner: vec![
                        line(format!("name: {},", lit(&p.wire))),
                        line(match &p.from {
                            SyncParamSource::Config => {
                                "from: connector_sync::ParamSource::Config,".to_owned()
                            }
                            SyncParamSource::Parent(ptr) => {
                                format!("from: connector_sync::ParamSource::Parent({}),", lit(ptr))
                            }
                        }),
                    ],
                    tail: ",",
                })
                .collect(),
            close: "]",
            tail: ",",
        }
    });
    fields.push(line(format!(
        "parent: {},",
        opt(s.parent.map(|p| &api.streams[p].table))
    )));
    fields.push(match &s.deletes {
        SyncDeletes::Unreported => line("deletes: connector_sync::Deletes::Unreported,".to_owned()),
        SyncDeletes::Soft { flag, at } => Stmt::Block {
            head: "deletes: connector_sync::Deletes::Soft".to_owned(),
            inner: vec![
                line(format!("flag: {},", opt(flag.as_ref()))),
                line(format!("at: {},", opt(at.as_ref()))),
            ],
            tail: ",",
        },
        SyncDeletes::Tombstone { flag } => Stmt::Block {
            head: "deletes: connector_sync::Deletes::Tombstone".to_owned(),
            inner: vec![line(format!("flag: {},", lit(flag)))],
            tail: ",",
        },
    });
    let source = stream_source(s);
    let paging = stream_paging(op);
    let (fetch, def) = names::sync_fn_names(&s.table);
    fields.extend([
        line(format!("source: {},", lit(source))),
        line(format!("paging: {},", lit(&paging))),
        line(format!("fetch: {fetch},")),
        line(format!(
            "check: connector_sync::check_item::<{}>,",
            ty_text(api, &s.item, Place::Value)
        )),
    ]);
    let method = Method {
        doc: Doc::Lines(vec![format!(
            " The definition of the `{}` stream.",
            s.table
        )]),
        attrs: Vec::new(),
        head: format!("fn {def}("),
        params: Vec::new(),
        ret: Expr::Atom(" -> connector_sync::StreamDef".to_owned()),
        body: vec![Stmt::Block {
            head: "connector_sync::StreamDef".to_owned(),
            inner: fields,
            tail: "",
        }],
    };
    gated_text(api, s, tag_features, &method)
}

/// `method` as formatted text at the outer level, under stream `s`'s gate when `tag_features`.
fn gated_text(api: &Api, s: &SyncStream, tag_features: bool, method: &Method) -> Option<String> {
    let mut out = String::new();
    if tag_features {
        let features: Vec<String> = stream_features(api, s).into_iter().collect();
        out.push_str(&super::cfg_text_of("all", &features));
    }
    out.push_str(&method.text(0, None)?);
    Some(out)
}

/// `client.<group accessors>().<operation>(<required arguments>).build_pages(..)`: what a
/// stream's `fetch_<table>` returns (in `Ok(..)`), each required argument read from the partition.
fn fetch_chain(api: &Api, op: &Operation) -> Expr {
    let mut calls: Vec<Expr> = api
        .group_path(op.group)
        .into_iter()
        .map(|a| Expr::call(format!(".{a}("), Vec::new()))
        .collect();
    let args = op.params.iter().filter(|p| p.required).map(|p| {
        let t = if is_stringish(&p.ty) {
            "String".to_owned()
        } else {
            ty_text(api, &p.ty, Place::Field)
        };
        Expr::Atom(format!("args.get::<{t}>({})?", text::str_lit(&p.wire_name)))
    });
    calls.push(Expr::call(format!(".{}(", op.name), args.collect()));
    calls.push(Expr::call(
        ".build_pages(",
        vec![Expr::Atom("|options| args.configure(options)".to_owned())],
    ));
    Expr::Chain {
        receiver: "client".to_owned(),
        calls,
    }
}

/// The doc of a stream's `fetch_<table>`.
fn fetch_doc(s: &SyncStream, op: &Operation) -> String {
    format!(
        " Opens a listing of `{}` (`{} {}`) with the partition's parameters and the engine's options.",
        s.table, op.method, op.path
    )
}

/// [`stream_fns`] with its gate as formatted text (see [`super::text`]), or `None` when a line has
/// no layout there; empty when the operation does not page.
fn stream_fns_text(api: &Api, s: &SyncStream, tag_features: bool) -> Option<String> {
    let op = &api.operations[s.op];
    if op.pagination.is_none() {
        return Some(String::new());
    }
    let method = Method {
        doc: Doc::Lines(vec![fetch_doc(s, op)]),
        attrs: vec!["#[allow(deprecated)]".to_owned()],
        head: format!("fn {}(", names::sync_fn_names(&s.table).0),
        params: vec![
            Expr::Atom("c: &rt::Connector".to_owned()),
            Expr::Atom("args: &connector_sync::FetchArgs".to_owned()),
        ],
        ret: Expr::Atom(" -> Result<rt::paginate::Paginator, rt::Error>".to_owned()),
        body: vec![
            Stmt::line("let client = super::Client::from_connector(c.clone());"),
            text::ok_chain(fetch_chain(api, op)),
        ],
    };
    gated_text(api, s, tag_features, &method)
}

/// `fetch_<table>` of one stream.
fn stream_fns(api: &Api, s: &SyncStream, cfg: &TokenStream) -> TokenStream {
    let op = &api.operations[s.op];
    if op.pagination.is_none() {
        return TokenStream::new();
    }
    let fetch = ident(&names::sync_fn_names(&s.table).0);
    let mut chain = String::new();
    fetch_chain(api, op).flat(&mut chain);
    let chain = text::lex(&chain);
    let fetch_doc = fetch_doc(s, op);
    quote! {
        #cfg
        #[doc = #fetch_doc]
        #[allow(deprecated)]
        fn #fetch(c: &rt::Connector, args: &connector_sync::FetchArgs) -> Result<rt::paginate::Paginator, rt::Error> {
            let client = super::Client::from_connector(c.clone());
            Ok(#chain)
        }
    }
}

/// The body of the `sync` module: [`module_head`], then [`module_streams`] of every stream.
/// `connector` is the name the engine keeps state under (the vendor's). With `tag_features`, a
/// stream is compiled under the features of its operation and of the streams above it.
pub fn module(api: &Api, connector: &str, tag_features: bool) -> TokenStream {
    let shared = SharedColumns::of(api);
    let head = module_head(api, connector, tag_features, &shared);
    let streams = module_streams(api, 0..api.streams.len(), tag_features, &shared);
    quote!(#head #streams)
}

/// The opening of the `sync` module: its docs, imports, `catalog()`, which lists each stream's
/// `stream_<table>()`, and the column lists several streams share.
pub fn module_head(
    api: &Api,
    connector: &str,
    tag_features: bool,
    shared: &SharedColumns,
) -> TokenStream {
    let pushes = api.streams.iter().map(|s| {
        let cfg = stream_cfg(api, s, tag_features);
        let def = ident(&names::sync_fn_names(&s.table).1);
        quote! { #cfg streams.push(#def()); }
    });
    let listed: Vec<String> = api
        .streams
        .iter()
        .map(|s| {
            let op = &api.operations[s.op];
            format!(" - `{}`: `{} {}`", s.table, op.method, op.path)
        })
        .collect();
    let mut doc = vec![
        " The sync catalog: the tables `connector-sync` keeps up to date from this API's list"
            .to_owned(),
        " operations, and how it reads each (key, cursor, server filter, parent, deletes)."
            .to_owned(),
    ];
    if !listed.is_empty() {
        doc.push(String::new());
        doc.push(" Streams:".to_owned());
        doc.extend(listed);
    }
    // With per-tag features, a build may enable no stream's feature.
    let unused = (tag_features || api.streams.is_empty()).then(|| quote!(#[allow(unused_imports)]));
    // Items with no scalar field have no columns.
    let unused_columns = (tag_features || api.streams.iter().all(|s| s.columns.is_empty()))
        .then(|| quote!(#[allow(unused_imports)]));
    // With per-tag features, the streams sharing a list may all be compiled out.
    let unused_list = tag_features.then(|| quote!(#[allow(dead_code)]));
    let lists = shared.consts.iter().map(|(name, streams)| {
        let s = &api.streams[streams[0]];
        // Items of other types may have the same columns (GitHub's `RepositoriesItem` and
        // `Repository`): the constant is named after the first, its doc names them all.
        let mut items: Vec<String> = Vec::new();
        for &i in streams {
            let item = format!("`{}`", api.types[api.streams[i].item_struct.0].name);
            if !items.contains(&item) {
                items.push(item);
            }
        }
        let doc = format!(
            " The columns of the streams whose items are {}.",
            items.join(" or ")
        );
        if let Some(held) = super::holding_text()
            .then(|| columns_const_text(name, &doc, tag_features, s))
            .flatten()
            .and_then(super::hold_text)
        {
            return held;
        }
        let name = ident(name);
        let list = columns_tokens(s);
        quote! {
            #[doc = #doc]
            #unused_list
            const #name: &[Column] = #list;
        }
    });
    quote! {
        #(#![doc = #doc])*
        #![allow(clippy::too_many_lines, clippy::vec_init_then_push)]
        #unused
        use connector_runtime::__private as rt;
        #unused_columns
        use connector_sync::{Column, ColumnKind};

        /// Every stream of the API, in the description's order (those of the enabled features).
        pub fn catalog() -> connector_sync::Catalog {
            #[allow(unused_mut)]
            let mut streams = Vec::new();
            #(#pushes)*
            connector_sync::Catalog {
                connector: #connector,
                config: super::Client::config,
                streams,
            }
        }

        #(#lists)*
    }
}

/// The functions of the streams in `range`: `stream_<table>` (the definition `catalog()` lists),
/// and `fetch_<table>`. Items only, so the module can be formatted in parts.
pub fn module_streams(
    api: &Api,
    range: std::ops::Range<usize>,
    tag_features: bool,
    shared: &SharedColumns,
) -> TokenStream {
    let holding = super::holding_text();
    let fns = range.map(|i| {
        let s = &api.streams[i];
        let cfg = stream_cfg(api, s, tag_features);
        let held = holding
            .then(|| stream_def_text(api, i, shared, tag_features))
            .flatten()
            .and_then(super::hold_text);
        let fns_held = holding
            .then(|| stream_fns_text(api, s, tag_features))
            .flatten()
            .map(|t| {
                if t.is_empty() {
                    Some(TokenStream::new())
                } else {
                    super::hold_text(t)
                }
            });
        let fns = match fns_held {
            Some(Some(held)) => held,
            _ => stream_fns(api, s, &cfg),
        };
        if let Some(held) = held {
            return quote! { #held #fns };
        }
        let def = stream_def(api, i, shared);
        let name = ident(&names::sync_fn_names(&s.table).1);
        let doc = format!(" The definition of the `{}` stream.", s.table);
        quote! {
            #cfg
            #[doc = #doc]
            fn #name() -> connector_sync::StreamDef {
                #def
            }
            #fns
        }
    });
    quote!(#(#fns)*)
}

/// `src/bin/sync.rs`: the `<vendor>-sync` command over the catalog.
pub fn bin(crate_name: &str) -> Result<String, String> {
    let krate = ident(&crate_name.replace('-', "_"));
    let doc = format!(
        " `{}`: keeps tables in SQLite or PostgreSQL up to date from this API (see `SYNC.md`).",
        bin_name(crate_name)
    );
    super::file(quote! {
        #![doc = #doc]
        fn main() -> std::process::ExitCode {
            connector_sync::cli::main(#krate::sync::catalog())
        }
    })
}

/// The vendor name of a crate: its name without `-connector` (`github-connector` → `github`).
pub fn vendor_name(crate_name: &str) -> &str {
    crate_name
        .strip_suffix("-connector")
        .filter(|v| !v.is_empty())
        .unwrap_or(crate_name)
}

/// The binary's name: `<vendor>-sync`.
pub fn bin_name(crate_name: &str) -> String {
    format!("{}-sync", vendor_name(crate_name))
}

/// The `[[bin]]` table `Cargo.toml` adds for the catalog's command, built with the `sync` feature.
pub fn cargo_toml_bin(crate_name: &str) -> String {
    format!(
        "\n[[bin]]\nname = \"{}\"\npath = \"src/bin/sync.rs\"\nrequired-features = [\"sync\"]\n",
        bin_name(crate_name)
    )
}

/// SQL words an example statement must quote as identifiers (PostgreSQL's reserved key words and
/// SQLite's that clash with common field names).
const SQL_RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "column",
    "constraint",
    "create",
    "current_catalog",
    "current_date",
    "current_role",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "from",
    "grant",
    "group",
    "having",
    "in",
    "index",
    "initially",
    "intersect",
    "into",
    "is",
    "key",
    "lateral",
    "leading",
    "limit",
    "localtime",
    "localtimestamp",
    "not",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "placing",
    "primary",
    "references",
    "returning",
    "select",
    "session_user",
    "some",
    "symmetric",
    "table",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "values",
    "variadic",
    "when",
    "where",
    "window",
    "with",
];

/// A name as an example statement writes it: bare when it is a plain lower-case word, else quoted.
fn sql(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain && !SQL_RESERVED.contains(&name) {
        name.to_owned()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

fn sql_type(k: ColumnKind) -> &'static str {
    match k {
        ColumnKind::Bool => "boolean",
        ColumnKind::Int => "bigint",
        ColumnKind::Float => "double precision",
        ColumnKind::Text => "text",
        ColumnKind::DateTime | ColumnKind::UnixSeconds => "timestamptz",
        ColumnKind::Date => "date",
    }
}

fn kind_text(k: ColumnKind) -> &'static str {
    match k {
        ColumnKind::Bool => "bool",
        ColumnKind::Int => "int",
        ColumnKind::Float => "float",
        ColumnKind::Text => "text",
        ColumnKind::DateTime => "date-time",
        ColumnKind::UnixSeconds => "Unix seconds",
        ColumnKind::Date => "date",
    }
}

fn md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The engine's own columns of every table, with their types (after the item's columns).
const ENGINE_COLUMNS: &[(&str, &str)] = &[
    ("updated_at", "timestamptz"),
    ("ingested_at", "timestamptz"),
    ("is_deleted", "boolean"),
    ("deleted_at", "timestamptz"),
    ("_raw", "json"),
    ("_hash", "text"),
];

/// The example `CREATE TABLE` of a stream.
pub fn create_table(s: &SyncStream) -> String {
    let mut lines: Vec<String> = s
        .columns
        .iter()
        .map(|c| format!("  {} {}", sql(&c.name), sql_type(c.kind)))
        .collect();
    lines.extend(
        ENGINE_COLUMNS
            .iter()
            .map(|(n, t)| format!("  {} {t}", sql(n))),
    );
    let keys: Vec<String> = s
        .primary_key
        .iter()
        .map(|k| {
            s.columns
                .iter()
                .find(|c| &c.wire == k)
                .map_or_else(|| sql(k), |c| sql(&c.name))
        })
        .collect();
    lines.push(format!("  PRIMARY KEY ({})", keys.join(", ")));
    format!(
        "CREATE TABLE {} (\n{}\n);",
        sql(&s.table),
        lines.join(",\n")
    )
}

/// Tables listed by name, or the first few and a count when there are many.
fn some_tables(tables: &[&str]) -> String {
    const SHOWN: usize = 6;
    let named: Vec<String> = tables
        .iter()
        .take(SHOWN)
        .map(|t| format!("`{t}`"))
        .collect();
    if tables.len() > SHOWN {
        format!("{} and {} more", named.join(", "), tables.len() - SHOWN)
    } else {
        named.join(", ")
    }
}

/// Limits the description states for the streams' operations: rate-limit response headers, 429
/// answers, and the largest page sizes.
fn limits(api: &Api) -> Vec<String> {
    let mut headers = BTreeSet::new();
    // 429 answers by their description, page size limits by (maximum, parameter): the tables.
    let mut throttled: Vec<(String, Vec<&str>)> = Vec::new();
    let mut pages: Vec<((String, String), Vec<&str>)> = Vec::new();
    for s in &api.streams {
        let op = &api.operations[s.op];
        if let Some(h) = &op.response_headers {
            for f in &h.fields {
                let n = f.wire_name.to_ascii_lowercase();
                if n.contains("ratelimit") || n.contains("rate-limit") || n == "retry-after" {
                    headers.insert(f.wire_name.clone());
                }
            }
        }
        if let Some(e) = op.errors.iter().find(|e| e.status == "429") {
            let why = e
                .doc
                .as_deref()
                .and_then(|d| d.lines().next())
                .map(|d| md(d.trim()))
                .unwrap_or_default();
            match throttled.iter_mut().find(|(w, _)| *w == why) {
                Some((_, tables)) => tables.push(&s.table),
                None => throttled.push((why, vec![&s.table])),
            }
        }
        let size = op.pagination.as_ref().and_then(|p| {
            let name = p.page_size_param.as_ref()?;
            let param = op.params.iter().find(|q| &q.wire_name == name)?;
            Some((format!("{}", param.constraints.maximum?), name.clone()))
        });
        if let Some(key) = size {
            match pages.iter_mut().find(|(k, _)| *k == key) {
                Some((_, tables)) => tables.push(&s.table),
                None => pages.push((key, vec![&s.table])),
            }
        }
    }
    let mut out = Vec::new();
    if !headers.is_empty() {
        let list: Vec<String> = headers.iter().map(|h| format!("`{h}`")).collect();
        out.push(format!(
            "The listings answer with rate-limit headers ({}); the runtime's rate limiter reads them and waits when the quota is spent.",
            list.join(", ")
        ));
    }
    for (why, tables) in &throttled {
        let why = if why.is_empty() {
            String::new()
        } else {
            format!(" (\"{why}\")")
        };
        out.push(format!(
            "A `429 Too Many Requests` answer{why} is documented for {}; it is retried after the server's `Retry-After`.",
            some_tables(tables)
        ));
    }
    for ((max, param), tables) in &pages {
        out.push(format!(
            "Up to {max} items per page (`{param}`): {}.",
            some_tables(tables)
        ));
    }
    if out.is_empty() {
        out.push("The description states no rate limits or quotas for these listings; the runtime's defaults apply (retries with backoff, `Retry-After` honoured).".to_owned());
    }
    out
}

/// `SYNC.md`: the streams, their keys, cursors, filters and columns, an example table, limits,
/// cadence, queries and recovery.
pub fn docs(api: &Api, crate_name: &str) -> String {
    let bin = bin_name(crate_name);
    let mut s = format!(
        "# Syncing {} into a database\n\n<!-- @generated by connector-gen. Do not edit by hand: regenerate instead. -->\n\n",
        api.title
    );
    s.push_str(&format!(
        "`{crate_name}` describes the tables `connector-sync` can keep up to date from {}'s list operations\n\
         (`{krate}::sync::catalog()`, behind the `sync` cargo feature). The `{bin}` command runs the engine over it:\n\n\
         ```sh\ncargo run --release --features sync --bin {bin} -- --help\n```\n\n",
        api.title,
        krate = crate_name.replace('-', "_"),
    ));
    s.push_str(&format!("## Streams\n\n{} streams", api.streams.len()));
    let children = api.streams.iter().filter(|x| x.parent.is_some()).count();
    let filtered = api
        .streams
        .iter()
        .filter(|x| x.cursor.as_ref().is_some_and(|c| c.filter.is_some()))
        .count();
    s.push_str(&format!(
        " ({filtered} with a server-side filter, {children} under a parent stream).\n\n"
    ));
    s.push_str("| table | operation | key | cursor | server filter | parent | deletes | cadence |\n|---|---|---|---|---|---|---|---|\n");
    for st in &api.streams {
        let op = &api.operations[st.op];
        let cursor = st
            .cursor
            .as_ref()
            .map_or("none (full refresh)".to_owned(), |c| {
                format!("`{}` ({})", c.field, kind_name(c.kind))
            });
        let filter =
            st.cursor
                .as_ref()
                .and_then(|c| c.filter.as_ref())
                .map_or("none".to_owned(), |f| {
                    format!(
                        "`{}` ({})",
                        f.param,
                        if f.inclusive {
                            "inclusive"
                        } else {
                            "exclusive"
                        }
                    )
                });
        let parent = st
            .parent
            .map_or("".to_owned(), |p| format!("`{}`", api.streams[p].table));
        let keys: Vec<String> = st.primary_key.iter().map(|k| format!("`{k}`")).collect();
        s.push_str(&format!(
            "| `{}` | `{}` | {} | {cursor} | {filter} | {parent} | {} | {} |\n",
            st.table,
            md(&op.operation_id),
            keys.join(", "),
            deletes_text(&st.deletes),
            cadence(st)
        ));
    }
    s.push_str("\nThe key, cursor and filter of a stream marked `settings` below come from the connector's settings\n(`[streams.\"<operationId>\"]`); the others were detected from the description.\n");
    if !api.stream_skips.is_empty() {
        s.push_str(&format!(
            "\n{} list operations are no stream:\n\n",
            api.stream_skips.len()
        ));
        for k in &api.stream_skips {
            let op = &api.operations[k.op];
            s.push_str(&format!(
                "- `{}` (`{} {}`): {}\n",
                md(&op.operation_id),
                op.method,
                md(&op.path),
                k.reason
            ));
        }
    }
    s.push_str("\n## Tables\n\nEach table has the item's scalar fields as columns (nested objects and lists stay in `_raw`),\nthen the engine's own: `updated_at` (the cursor's value), `ingested_at`, `is_deleted`, `deleted_at`,\n`_raw` (the item as the API sent it) and `_hash`. An item field named like one of these is kept as\n`item_<name>`.\n");
    for st in &api.streams {
        let op = &api.operations[st.op];
        s.push_str(&format!(
            "\n### `{}`\n\n`{} {}` (`{}`, items `{}`), pages follow {}; source: {}.\n\n",
            st.table,
            op.method,
            md(&op.path),
            md(&op.operation_id),
            item_name(api, st),
            op.pagination.as_ref().map(paging_how).unwrap_or_default(),
            if st.from_settings {
                "settings"
            } else {
                "detected"
            }
        ));
        if !st.params.is_empty() {
            let params: Vec<String> = st
                .params
                .iter()
                .map(|p| match &p.from {
                    SyncParamSource::Config => format!("`{}` (`--param {}=...`)", p.wire, p.wire),
                    SyncParamSource::Parent(ptr) => format!(
                        "`{}` from each `{}` row's `{ptr}`",
                        p.wire,
                        st.parent
                            .map_or("parent", |x| api.streams[x].table.as_str())
                    ),
                })
                .collect();
            s.push_str(&format!("Parameters: {}.\n\n", params.join(", ")));
        }
        s.push_str("| column | field | type | required |\n|---|---|---|---|\n");
        for c in &st.columns {
            s.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                c.name,
                md(&c.wire),
                kind_text(c.kind),
                if c.required { "yes" } else { "" }
            ));
        }
        s.push_str(&format!("\n```sql\n{}\n```\n", create_table(st)));
    }
    s.push_str("\n## Limits and quotas\n\n");
    for l in limits(api) {
        s.push_str(&format!("- {l}\n"));
    }
    s.push_str("\n## Cadence\n\nA stream with a server-side filter syncs incrementally: every 15 minutes asks only for what changed\nsince the last committed cursor. A stream without one lists everything each time and skips what is not\nnewer: a daily full refresh is enough for most uses. The table above gives each stream's.\n");
    if let Some(first) = api.streams.first() {
        s.push_str(&sample_queries(api, first));
    }
    s.push_str(&format!(
        "\n## Recovery\n\n\
         - A run that stops (crash, network, Ctrl-C) loses nothing: re-running `{bin}` resumes each stream from\n  the last page it committed.\n\
         - `--full-refresh` rebuilds a table from a complete listing (rows no longer listed are marked\n  deleted).\n\
         - Items that do not decode as the generated type are not written to their table: they go to\n  `_sync_dead_letter` with the error, to inspect and replay.\n"
    ));
    s
}

fn cadence(s: &SyncStream) -> &'static str {
    if s.cursor.as_ref().is_some_and(|c| c.filter.is_some()) {
        "every 15 minutes, incremental"
    } else {
        "daily, full refresh"
    }
}

/// A few queries over a stream's table.
fn sample_queries(api: &Api, s: &SyncStream) -> String {
    let table = sql(&s.table);
    let shown: Vec<String> = s
        .primary_key
        .iter()
        .filter_map(|k| s.columns.iter().find(|c| &c.wire == k))
        .chain(
            s.columns
                .iter()
                .filter(|c| c.kind == ColumnKind::Text && !s.primary_key.contains(&c.wire))
                .take(2),
        )
        .map(|c| sql(&c.name))
        .collect();
    let shown = if shown.is_empty() {
        "*".to_owned()
    } else {
        shown.join(", ")
    };
    let mut q = format!(
        "\n## Sample queries\n\n```sql\n-- the latest changes to `{}`\nSELECT {shown}, updated_at\nFROM {table}\nWHERE NOT is_deleted\nORDER BY updated_at DESC\nLIMIT 20;\n\n-- rows written per day by the sync\nSELECT date(ingested_at) AS day, count(*) AS rows\nFROM {table}\nGROUP BY 1\nORDER BY 1 DESC;\n",
        s.table
    );
    let nested = match &api.types[s.item_struct.0].kind {
        TypeKind::Struct(st) => st
            .fields
            .iter()
            .find(|f| !s.columns.iter().any(|c| c.wire == f.wire_name))
            .map(|f| f.wire_name.clone()),
        _ => None,
    };
    if let Some(n) = nested {
        q.push_str(&format!(
            "\n-- a nested value from the raw item (PostgreSQL; SQLite: json_extract(_raw, '$.{n}'))\nSELECT {shown}, _raw -> '{n}' AS {}\nFROM {table}\nLIMIT 20;\n",
            sql(names::snake_name(&n).trim_end_matches('_'))
        ));
    }
    q.push_str(
        "\n-- items the sync could not decode\nSELECT * FROM _sync_dead_letter LIMIT 20;\n```\n",
    );
    q
}
