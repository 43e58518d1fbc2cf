//! `#[connector]`: a thin shim over `connector-codegen` that expands a description in place.
//!
//! ```ignore
//! #[connector_macros::connector(spec = "openapi/petstore.yaml", tags = ["pets"])]
//! pub mod petstore {}
//!
//! # async fn run() -> Result<(), petstore::Error> {
//! let client = petstore::Client::new(petstore::Client::config()).await?;
//! let pet = client.pets().show_pet_by_id("42").send().await?.data;
//! # Ok(()) }
//! ```
//!
//! The module receives exactly what [`connector_codegen::generate_tokens`] produces for the description
//! (the same code the `connector-gen` CLI writes as a crate, with the operation groups inline and no
//! per-tag cargo features), so everything said about a generated crate holds for the module.

use std::path::{Path, PathBuf};

use connector_codegen::{Diagnostic, Settings};
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{AttrStyle, Expr, ExprLit, Item, ItemMod, Lit, LitStr, Meta, Token};

/// Environment variable that, when set, replaces `CARGO_MANIFEST_DIR` as the base of relative `spec`
/// paths. Test harnesses that compile a crate's files from another directory (trybuild) set it to the
/// directory the paths were written against.
const MANIFEST_DIR_OVERRIDE: &str = "CONNECTOR_MACROS_MANIFEST_DIR";

const ARGUMENTS: &str =
    "`spec`, `tags`, `exclude_tags`, `base_url`, `idempotency_keys`, `overlay`, `sync`";

/// Expand an OpenAPI description into the annotated module.
///
/// ```ignore
/// #[connector(spec = "openapi.yaml")]
/// pub mod petstore {}
/// ```
///
/// The item must be an inline module with an empty body; its attributes and visibility are kept, and
/// the generated client (`Client`, `models`, one module per tag, `SERVERS`, the runtime's `Error`,
/// `ErrorCode`, `Response`, `ConnectorConfig`) is expanded into it.
///
/// # Arguments
///
/// The names are those of the generator's TOML settings.
///
/// | argument | value | meaning |
/// |---|---|---|
/// | `spec` | string, required | the description (Swagger 2.0, OpenAPI 3.0 or 3.1, YAML or JSON), relative to the crate's directory (`CARGO_MANIFEST_DIR`) unless absolute |
/// | `tags` | `["a", "b"]` | only operations with these tags (default: all) |
/// | `exclude_tags` | `["a", "b"]` | leave out operations with these tags |
/// | `base_url` | string | base URL used instead of the description's first server |
/// | `idempotency_keys` | `true` or `false` | automatic idempotency keys for unsafe methods (default `false`) |
/// | `overlay` | string | an OpenAPI Overlay applied to the description before it is read, relative to the description's directory unless absolute (the `overlays` setting) |
/// | `sync` | `true` or `false` | expand the sync catalog too: `pub mod sync` with `catalog()`, the streams `connector-sync` keeps tables of (default `false`; the crate then depends on `connector-sync`) |
///
/// # Dependencies of the crate using the macro
///
/// The expanded code names these crates directly, so the crate that uses the macro depends on them:
///
/// ```toml
/// connector-runtime = "0.1"
/// serde = { version = "1", features = ["derive"] }
/// serde_json = "1"
/// # only when the description has `format: date-time` or `format: date` strings:
/// chrono = { version = "0.4", default-features = false, features = ["serde", "std"] }
/// # only when it has `format: uuid` strings:
/// uuid = { version = "1", features = ["serde"] }
/// # only with `sync = true`:
/// connector-sync = "0.1"
/// ```
///
/// # Rebuilds, errors and warnings
///
/// The module embeds a hidden `include_bytes!` of the description (and of the overlay), so cargo
/// rebuilds the crate when that file changes (files it reaches through external `$ref`s are not
/// tracked).
///
/// Problems are compile errors on the macro's own arguments: a description that cannot be read,
/// parsed or generated points at the `spec` string; an unknown argument or a value of the wrong type
/// points at that argument; all argument errors are reported together. Generator warnings (parts of
/// the description skipped or approximated) cannot be compiler warnings on stable Rust; they are
/// listed in the module's documentation under "Generator warnings".
#[proc_macro_attribute]
pub fn connector(
    args: proc_macro::TokenStream,
    item: proc_macro::TokenStream,
) -> proc_macro::TokenStream {
    expand(args.into(), item.into(), &manifest_dir()).into()
}

/// The directory relative `spec` paths are resolved against.
fn manifest_dir() -> PathBuf {
    std::env::var_os(MANIFEST_DIR_OVERRIDE)
        .or_else(|| std::env::var_os("CARGO_MANIFEST_DIR"))
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default()
}

/// The whole expansion: the module with the generated client, or compile errors followed by the item
/// unchanged (so later code does not pile up unrelated errors about a missing module).
fn expand(args: TokenStream, item: TokenStream, base: &Path) -> TokenStream {
    match try_expand(args, item.clone(), base) {
        Ok(tokens) => tokens,
        Err(e) => {
            let mut out = e.to_compile_error();
            out.extend(item);
            out
        }
    }
}

fn try_expand(args: TokenStream, item: TokenStream, base: &Path) -> syn::Result<TokenStream> {
    let (
        Args {
            spec,
            overlay,
            mut settings,
        },
        module,
    ) = match (parse_args(args), target_module(item)) {
        (Ok(args), Ok(module)) => (args, module),
        (Err(mut e), Err(item)) => {
            e.combine(item);
            return Err(e);
        }
        (Err(e), _) | (_, Err(e)) => return Err(e),
    };

    let written = spec.value();
    let path = base.join(&written);
    if !path.is_file() {
        let what = if path.is_dir() {
            "is a directory, not a file"
        } else {
            "file not found"
        };
        return Err(syn::Error::new(
            spec.span(),
            format!(
                "cannot read the description `{written}`: {what}\nhelp: a relative `spec` is resolved against the crate's directory (CARGO_MANIFEST_DIR)"
            ),
        ));
    }
    let mut tracked = vec![(spec.clone(), path.clone())];
    if let Some(overlay) = &overlay {
        // Relative to the description, like the references inside it.
        let file = path.parent().unwrap_or(base).join(overlay.value());
        if !file.is_file() {
            return Err(syn::Error::new(
                overlay.span(),
                format!(
                    "cannot read the overlay `{}`: file not found\nhelp: a relative `overlay` is resolved against the directory of the description",
                    overlay.value()
                ),
            ));
        }
        settings.overlays.push(file.clone());
        tracked.push((overlay.clone(), file));
    }
    let (tokens, warnings) = connector_codegen::generate_tokens(&path, &settings).map_err(|d| {
        // A problem in the overlay points at the `overlay` argument, any other at `spec`.
        let canonical = |p: &Path| std::fs::canonicalize(p).ok();
        let span = match (&d.file, tracked.get(1)) {
            (Some(f), Some((lit, file))) if canonical(f) == canonical(file) => lit.span(),
            _ => spec.span(),
        };
        syn::Error::new(span, describe(&d, &written, &path, base))
    })?;

    let mut files = Vec::new();
    for (lit, file) in tracked {
        let file = std::fs::canonicalize(&file).unwrap_or(file);
        let Some(file) = file.to_str() else {
            return Err(syn::Error::new(
                lit.span(),
                format!("the path `{}` is not valid UTF-8", lit.value()),
            ));
        };
        files.push(file.to_owned());
    }
    Ok(module_with(module, tokens, &warnings, &written, &files))
}

/// Parsed macro arguments.
struct Args {
    spec: LitStr,
    overlay: Option<LitStr>,
    settings: Settings,
}

/// Errors gathered so that all of them are reported at once.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }
    /// All errors so far and `e` last.
    fn with(self, e: syn::Error) -> syn::Error {
        match self.0 {
            Some(mut all) => {
                all.combine(e);
                all
            }
            None => e,
        }
    }
    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

fn parse_args(args: TokenStream) -> syn::Result<Args> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut errors = Errors::default();
    let mut spec = None;
    let mut overlay = None;
    let mut settings = Settings::default();
    let mut seen: Vec<String> = Vec::new();
    for meta in metas {
        let nv = match meta {
            Meta::NameValue(nv) => nv,
            other => {
                let name = other.path().to_token_stream().to_string().replace(' ', "");
                errors.push(syn::Error::new_spanned(
                    other,
                    format!("expected `{name} = <value>`; arguments are {ARGUMENTS}"),
                ));
                continue;
            }
        };
        let key = nv.path.to_token_stream().to_string().replace(' ', "");
        if seen.contains(&key) {
            errors.push(syn::Error::new_spanned(
                &nv.path,
                format!("duplicate argument `{key}`"),
            ));
            continue;
        }
        seen.push(key.clone());
        let value = &nv.value;
        let result = match key.as_str() {
            "spec" => string(value).map(|s| spec = Some(s)),
            "overlay" => string(value).map(|s| overlay = Some(s)),
            "tags" => strings(value).map(|v| settings.tags = v),
            "exclude_tags" => strings(value).map(|v| settings.exclude_tags = v),
            "base_url" => string(value).map(|s| settings.base_url = Some(s.value())),
            "idempotency_keys" => boolean(value).map(|b| settings.idempotency_keys = b),
            "sync" => boolean(value).map(|b| settings.sync = b),
            _ => Err(syn::Error::new_spanned(
                &nv.path,
                format!("unknown argument `{key}`; arguments are {ARGUMENTS}"),
            )),
        };
        if let Err(e) = result {
            errors.push(e);
        }
    }
    let Some(spec) = spec else {
        return Err(errors.with(syn::Error::new(
            Span::call_site(),
            "missing `spec = \"path/to/openapi.yaml\"`: the OpenAPI description to expand, relative to the crate's directory",
        )));
    };
    errors.finish()?;
    Ok(Args {
        spec,
        overlay,
        settings,
    })
}

/// The literal inside `value`, looking through the invisible groups `macro_rules!` fragments leave.
fn literal(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        Expr::Group(g) => literal(&g.expr),
        _ => None,
    }
}

fn string(value: &Expr) -> syn::Result<LitStr> {
    match literal(value) {
        Some(Lit::Str(s)) => Ok(s.clone()),
        _ => Err(syn::Error::new_spanned(value, "expected a string literal")),
    }
}

fn strings(value: &Expr) -> syn::Result<Vec<String>> {
    let expected = || {
        syn::Error::new_spanned(
            value,
            "expected an array of string literals, e.g. `[\"pets\", \"store\"]`",
        )
    };
    let items = match value {
        Expr::Array(a) => &a.elems,
        Expr::Group(g) => return strings(&g.expr),
        _ => return Err(expected()),
    };
    let mut errors = Errors::default();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match literal(item) {
            Some(Lit::Str(s)) => out.push(s.value()),
            _ => errors.push(syn::Error::new_spanned(item, "expected a string literal")),
        }
    }
    errors.finish()?;
    Ok(out)
}

fn boolean(value: &Expr) -> syn::Result<bool> {
    match literal(value) {
        Some(Lit::Bool(b)) => Ok(b.value),
        _ => Err(syn::Error::new_spanned(value, "expected `true` or `false`")),
    }
}

/// The annotated item, which must be `mod name {}`.
fn target_module(item: TokenStream) -> syn::Result<ItemMod> {
    const USAGE: &str =
        "`#[connector]` expands into an inline module with an empty body: `mod name {}`";
    let item: Item = syn::parse2(item)?;
    let Item::Mod(module) = item else {
        return Err(syn::Error::new_spanned(item, USAGE));
    };
    match &module.content {
        None => Err(syn::Error::new_spanned(&module, USAGE)),
        Some((_, items)) if !items.is_empty() => {
            let body: TokenStream = items.iter().map(ToTokens::to_token_stream).collect();
            Err(syn::Error::new_spanned(
                body,
                "the module must be empty: `#[connector]` fills it with the generated client",
            ))
        }
        Some(_) => Ok(module),
    }
}

/// A diagnostic as a compile error message: deterministic, with the file as the user wrote it. rustc
/// indents the lines after the first to line up with it.
fn describe(d: &Diagnostic, written: &str, resolved: &Path, base: &Path) -> String {
    let mut s = d.message.clone();
    let file = d.file.as_deref().map_or_else(
        || written.to_owned(),
        |f| shown_file(f, written, resolved, base),
    );
    match d.line {
        Some((l, c)) => s.push_str(&format!("\nin {file}:{l}:{c}")),
        None => s.push_str(&format!("\nin {file}")),
    }
    if let Some(p) = &d.pointer {
        // Pointers come with or without the leading `#`.
        s.push_str(&format!(" at #{}", p.trim_start_matches('#')));
    }
    if let Some(h) = &d.help {
        s.push_str(&format!("\nhelp: {h}"));
    }
    s
}

/// How to show a file a diagnostic names: the description as the user wrote it, another file relative
/// to the directory `spec` is resolved against, else as the generator gave it.
fn shown_file(file: &Path, written: &str, resolved: &Path, base: &Path) -> String {
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let file = canonical(file);
    if file == canonical(resolved) {
        return written.to_owned();
    }
    match file.strip_prefix(canonical(base)) {
        Ok(rel) => rel.display().to_string().replace('\\', "/"),
        Err(_) => file.display().to_string(),
    }
}

/// The user's module with the generated body: the user's inner attributes, the generated inner
/// attributes (module docs), a "Generator warnings" doc section when there are warnings, the generated
/// items, and the hidden `include_bytes!`s that make cargo rebuild when the description (or its
/// overlay) changes.
fn module_with(
    module: ItemMod,
    generated: TokenStream,
    warnings: &[Diagnostic],
    written: &str,
    tracked: &[String],
) -> TokenStream {
    let (inner, outer): (Vec<_>, Vec<_>) = module
        .attrs
        .iter()
        .partition(|a| matches!(a.style, AttrStyle::Inner(_)));
    let ItemMod {
        vis,
        unsafety,
        mod_token,
        ident,
        ..
    } = &module;

    // The generated stream opens with its inner attributes (`#![...]`); docs can only be added there.
    let mut trees = generated.into_iter();
    let mut head = TokenStream::new();
    loop {
        let mut look = trees.clone();
        let (
            Some(TokenTree::Punct(pound)),
            Some(TokenTree::Punct(bang)),
            Some(TokenTree::Group(g)),
        ) = (look.next(), look.next(), look.next())
        else {
            break;
        };
        if pound.as_char() != '#' || bang.as_char() != '!' {
            break;
        }
        head.extend([
            TokenTree::Punct(pound),
            TokenTree::Punct(bang),
            TokenTree::Group(g),
        ]);
        trees = look;
    }
    let rest: TokenStream = trees.collect();

    let mut notes: Vec<String> = Vec::new();
    if !warnings.is_empty() {
        notes.push(String::new());
        notes.push(" # Generator warnings".into());
        notes.push(String::new());
        notes.push(format!(
            " Parts of `{written}` that were skipped or approximated:"
        ));
        notes.push(String::new());
        for w in warnings {
            let mut line = format!(" - {}", w.message.replace('\n', " "));
            if let Some(p) = &w.pointer {
                line.push_str(&format!(" (at `#{}`)", p.trim_start_matches('#')));
            }
            notes.push(line);
        }
    }

    quote! {
        #(#outer)*
        #vis #unsafety #mod_token #ident {
            #(#inner)*
            #head
            #(#![doc = #notes])*
            #rest
            #(const _: &[u8] = include_bytes!(#tracked);)*
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests")
    }

    fn expand_str(args: TokenStream, item: TokenStream) -> String {
        expand(args, item, &base()).to_string()
    }

    #[test]
    fn module_body_is_the_generators_output() {
        let spec = base().join("fixtures/macro_petstore.yaml");
        let (generated, warnings) =
            connector_codegen::generate_tokens(&spec, &Settings::default()).unwrap();
        assert!(warnings.is_empty());
        let out = expand(
            quote!(spec = "fixtures/macro_petstore.yaml"),
            quote!(
                #[allow(dead_code)]
                pub(crate) mod petstore {}
            ),
            &base(),
        );
        let module: ItemMod = syn::parse2(out).unwrap();
        assert_eq!(module.ident, "petstore");
        assert_eq!(module.vis.to_token_stream().to_string(), "pub (crate)");
        assert_eq!(
            module.attrs[0].to_token_stream().to_string(),
            "# [allow (dead_code)]"
        );
        let (_, items) = module.content.unwrap();
        let (last, body) = items.split_last().unwrap();
        let expected = syn::parse2::<syn::File>(generated).unwrap();
        let body: TokenStream = body.iter().map(ToTokens::to_token_stream).collect();
        let expected_items: TokenStream = expected
            .items
            .iter()
            .map(ToTokens::to_token_stream)
            .collect();
        assert_eq!(body.to_string(), expected_items.to_string());
        let tracked = last.to_token_stream().to_string();
        assert!(
            tracked.starts_with("const _ : & [u8] = include_bytes ! (")
                && tracked.contains("macro_petstore.yaml"),
            "{tracked}"
        );
    }

    #[test]
    fn settings_reach_the_generator() {
        let out = expand_str(
            quote!(
                spec = "fixtures/macro_petstore.yaml",
                tags = ["store"],
                base_url = "http://127.0.0.1:1/api",
                idempotency_keys = true
            ),
            quote!(
                mod m {}
            ),
        );
        assert!(out.contains("fn get_inventory"), "{out}");
        assert!(!out.contains("fn list_pets"));
        assert!(out.contains("\"http://127.0.0.1:1/api\""));
        let out = expand_str(
            quote!(
                spec = "fixtures/macro_petstore.yaml",
                exclude_tags = ["store"]
            ),
            quote!(
                mod m {}
            ),
        );
        assert!(out.contains("fn list_pets") && !out.contains("fn get_inventory"));
    }

    #[test]
    fn sync_expands_the_catalog_without_a_feature() {
        let out = expand_str(
            quote!(spec = "fixtures/sync_issues.yaml", sync = true),
            quote!(
                mod m {}
            ),
        );
        assert!(out.contains("pub mod sync {"), "{out}");
        assert!(
            out.contains("pub fn catalog () -> connector_sync :: Catalog"),
            "{out}"
        );
        assert!(out.contains("fn fetch_issue_comments"), "{out}");
        assert!(!out.contains("feature = \"sync\""), "{out}");
        let plain = expand_str(
            quote!(spec = "fixtures/sync_issues.yaml", sync = false),
            quote!(
                mod m {}
            ),
        );
        assert!(!plain.contains("pub mod sync"), "{plain}");
        let bad = expand_str(
            quote!(spec = "fixtures/sync_issues.yaml", sync = "yes"),
            quote!(
                mod m {}
            ),
        );
        assert!(bad.contains("expected `true` or `false`"), "{bad}");
    }

    #[test]
    fn the_overlay_is_applied_and_tracked() {
        let dir = std::env::temp_dir().join(format!("connector-macros-ovl-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("api")).unwrap();
        std::fs::copy(
            base().join("fixtures/macro_petstore.yaml"),
            dir.join("api/petstore.yaml"),
        )
        .unwrap();
        std::fs::write(
            dir.join("api/rename.yaml"),
            "overlay: 1.0.0\ninfo: {title: t, version: '1'}\nactions:\n  - target: $.paths[*][?@.operationId=='listPets']\n    update: {operationId: browsePets}\n",
        )
        .unwrap();
        let out = expand(
            quote!(spec = "api/petstore.yaml", overlay = "rename.yaml"),
            quote!(
                mod m {}
            ),
            &dir,
        )
        .to_string();
        let plain = expand(
            quote!(spec = "api/petstore.yaml"),
            quote!(
                mod m {}
            ),
            &dir,
        )
        .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("fn browse_pets") && !out.contains("fn list_pets"));
        assert!(plain.contains("fn list_pets") && !plain.contains("fn browse_pets"));
        // Both files are tracked, so editing either rebuilds.
        assert!(out.contains("petstore.yaml\") ;"), "{out}");
        assert!(out.contains("rename.yaml\") ;"), "{out}");
    }

    #[test]
    fn argument_errors_are_reported_together() {
        let out = expand_str(
            quote!(
                specs = "x.yaml",
                tags = "pets",
                idempotency_keys = 1,
                base_url
            ),
            quote!(
                mod m {}
            ),
        );
        for message in [
            "unknown argument `specs`",
            "expected an array of string literals",
            "expected `true` or `false`",
            "expected `base_url = <value>`",
            "missing `spec",
        ] {
            assert!(out.contains(message), "{message} not in {out}");
        }
        // The item is kept after the errors.
        assert!(out.ends_with("mod m { }"), "{out}");
    }

    #[test]
    fn duplicate_arguments_and_bad_items_are_errors() {
        let out = expand_str(
            quote!(spec = "a.yaml", spec = "b.yaml"),
            quote!(
                fn f() {}
            ),
        );
        assert!(out.contains("duplicate argument `spec`"), "{out}");
        assert!(out.contains("inline module with an empty body"), "{out}");
        let out = expand_str(
            quote!(spec = "fixtures/macro_petstore.yaml"),
            quote!(
                mod m;
            ),
        );
        assert!(out.contains("inline module with an empty body"), "{out}");
        let out = expand_str(
            quote!(spec = "fixtures/macro_petstore.yaml"),
            quote!(
                mod m {
                    fn f() {}
                }
            ),
        );
        assert!(out.contains("the module must be empty"), "{out}");
    }

    #[test]
    fn generator_warnings_become_module_docs_not_errors() {
        let dir = std::env::temp_dir().join(format!("connector-macros-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("odd.yaml"),
            "openapi: 3.0.3\ninfo: {title: Odd, version: '1'}\npaths: {}\ncomponents:\n  schemas:\n    Odd: {type: frobnicate}\n",
        )
        .unwrap();
        let out = expand(
            quote!(spec = "odd.yaml"),
            quote!(
                mod m {}
            ),
            &dir,
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let out = out.to_string();
        assert!(!out.contains("compile_error"), "{out}");
        assert!(out.contains("\" # Generator warnings\""), "{out}");
        assert!(
            out.contains(
                "unknown type `frobnicate`; treated as any value (at `#/components/schemas/Odd`)"
            ),
            "{out}"
        );
        // The notes follow the generated module docs and precede every item.
        let notes = out.find("Generator warnings").unwrap();
        assert!(out.find("Typed client for Odd").unwrap() < notes);
        assert!(notes < out.find("use connector_runtime").unwrap());
    }

    #[test]
    fn generator_diagnostics_name_the_file_as_written() {
        let d = Diagnostic::error("unsupported OpenAPI version \"4.0.0\"")
            .in_file(base().join("fixtures/ui/unsupported_version.yaml"))
            .at("/openapi")
            .help("use 3.x");
        let resolved = base().join("fixtures/ui/unsupported_version.yaml");
        assert_eq!(
            describe(
                &d,
                "fixtures/ui/unsupported_version.yaml",
                &resolved,
                &base()
            ),
            "unsupported OpenAPI version \"4.0.0\"\nin fixtures/ui/unsupported_version.yaml at #/openapi\nhelp: use 3.x"
        );
        let other = Diagnostic::error("bad")
            .in_file(base().join("fixtures/macro_petstore.yaml"))
            .line(3, 4);
        assert_eq!(
            describe(
                &other,
                "fixtures/ui/unsupported_version.yaml",
                &resolved,
                &base()
            ),
            "bad\nin fixtures/macro_petstore.yaml:3:4"
        );
    }
}
