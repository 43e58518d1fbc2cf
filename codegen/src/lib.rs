//! `connector-codegen`: OpenAPI description in, typed Rust connector crate out.
//!
//! Data flow: [`load`] (files, YAML/JSON, external refs, Swagger 2.0 normalised) -> [`lower`] into the
//! plain-data [`ir`] -> [`passes`] -> [`emit`] (the only place that knows quote/syn) -> prettyplease ->
//! files. The CLI (`connector-gen`), `cargo xtask generate`, the `#[connector]` macro and [`Builder`]
//! (for `build.rs`) all call [`generate`] or [`generate_tokens`] and get the same code.

// Diagnostics are returned by value on the cold error path; boxing them would only add noise.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod diag;
pub mod emit;
pub mod ir;
pub mod load;
pub mod lower;
pub mod names;
pub mod paging;
pub mod passes;
pub mod sample;
pub mod settings;
pub mod streams;
pub mod xml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use diag::{Diagnostic, Severity};
pub use settings::{RuntimeDep, Settings};

/// What one generation produced.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Crate name.
    pub crate_name: String,
    /// Files by path relative to the crate root (`Cargo.toml`, `src/lib.rs`...), in a stable order.
    pub files: BTreeMap<String, String>,
    /// Warnings (parts skipped or approximated).
    pub warnings: Vec<Diagnostic>,
    /// Operations emitted.
    pub operations: usize,
    /// Named types emitted.
    pub types: usize,
    /// Operation groups (tags, cargo features) emitted.
    pub groups: usize,
    /// Operations of the description that were skipped (each with a warning saying why).
    pub skipped_operations: usize,
    /// Operations generated with a shape not faithful to the description, by cause.
    pub unfaithful: audit::shapes::Unfaithful,
}

struct Lowered {
    api: ir::Api,
    facts: passes::Facts,
    warnings: Vec<Diagnostic>,
}

fn lower_doc(doc: &load::Document, settings: &Settings) -> Result<Lowered, Diagnostic> {
    let mut warnings = doc.warnings.clone();
    let (mut api, w) = lower::lower(doc, settings)?;
    warnings.extend(w);
    if let Some(base) = &settings.base_url {
        api.servers.insert(
            0,
            ir::Server {
                url: base.clone(),
                doc: None,
                variables: Vec::new(),
            },
        );
    }
    for hint in &settings.auth {
        let scheme = hint.to_scheme()?;
        api.security.push(scheme);
    }
    let (xml, w) = xml::analyse(&doc.root, &mut api);
    warnings.extend(w);
    warnings.extend(paging::detect(&doc.root, settings, &mut api));
    warnings.extend(streams::detect(settings, &mut api)?);
    let mut facts = passes::run(&mut api);
    facts.xml = xml;
    Ok(Lowered {
        api,
        facts,
        warnings,
    })
}

/// The default crate name for a description title: `<title in kebab case>-connector`.
pub fn default_crate_name(title: &str) -> String {
    let snake = names::snake_name(title);
    let base = snake.trim_end_matches('_').replace('_', "-");
    let base = base.trim_end_matches("-api");
    if base.is_empty() {
        "api-connector".into()
    } else {
        format!("{base}-connector")
    }
}

fn crate_doc(api: &ir::Api) -> String {
    let mut d = format!(
        "Typed client for {} (API version {}).",
        api.title, api.version
    );
    d.push_str("\n\nGenerated from the API's OpenAPI description by connector-gen; every operation runs through\n`connector-runtime` (auth, retries, rate limits, hooks, structured errors).");
    d
}

/// The naming audit of the description at `spec` (see [`audit`]): its types and those whose name
/// embeds an operation other than their sole user.
pub fn naming_audit(spec: &Path, settings: &Settings) -> Result<audit::Audit, Diagnostic> {
    let doc = load::load_path_with_overlays(spec, &settings.overlays)?;
    let lowered = lower_doc(&doc, settings)?;
    Ok(audit::audit(&lowered.api))
}

/// The sync streams detected in the description at `spec` (see [`streams`]), and the generator's
/// warnings.
pub fn streams_report(
    spec: &Path,
    settings: &Settings,
) -> Result<(streams::Report, Vec<Diagnostic>), Diagnostic> {
    let doc = load::load_path_with_overlays(spec, &settings.overlays)?;
    let lowered = lower_doc(&doc, settings)?;
    Ok((streams::report(&lowered.api), lowered.warnings))
}

/// Generate a whole crate from the description at `spec`.
pub fn generate(spec: &Path, settings: &Settings) -> Result<Generated, Diagnostic> {
    let doc = load::load_path_with_overlays(spec, &settings.overlays)?;
    // The description's text is freed now; lowering reuses its pages.
    release_freed_memory();
    generate_from(doc, settings)
}

/// Generate a whole crate from a loaded document.
pub fn generate_from(doc: load::Document, settings: &Settings) -> Result<Generated, Diagnostic> {
    settings.check_package()?;
    let Lowered {
        api,
        facts,
        warnings,
    } = lower_doc(&doc, settings)?;
    let crate_name = settings
        .crate_name
        .clone()
        .unwrap_or_else(|| default_crate_name(&api.title));
    let tag_features = settings.tag_features();
    let internal = |e: String| {
        Diagnostic::error(e)
            .help("this is a bug in connector-gen; please report it with the description")
    };
    // What needs the document is taken from it before rendering, so it is dropped before the
    // rendered files and their syntax trees exist: the example call's answer and the audit.
    let preferred = settings.example_operation.as_deref();
    let call = emit::example_call(&api, preferred);
    let answer = call
        .as_ref()
        .and_then(|call| sample::answer(&doc.root, &api.operations[call.op]));
    let mut unfaithful = None;
    // The shapes audit, then freeing the document, on this thread (which built most of it, so
    // its frees are local) while a rendering thread works out the types of one shape
    // (`passes::same_shapes`); the other rendering starts once this is done (see
    // `render_modules`). GitHub: 0.193 s against 0.202 s one after the other. Graph beta's peak:
    // 384 MB against 365 MB, the shapes' maps now made while the document is still there.
    let meanwhile = || {
        unfaithful = Some(audit::shapes::unfaithful(&doc.root, &api));
        drop(doc);
        release_freed_memory();
    };
    let mut files = BTreeMap::new();
    // Small descriptions render on this thread; spawning would cost more than it saves.
    let threads = if api.operations.len() + api.types.len() < 400 {
        1
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
    };
    // The sync catalog, behind the `sync` feature, when some list operation is a stream.
    let sync = !api.streams.is_empty();
    let doc_text = crate_doc(&api);
    let lib = || {
        emit::lib(
            &api,
            &doc_text,
            tag_features,
            settings.idempotency_keys,
            emit::Layout::Files { sync },
        )
    };
    let vendor = sync.then(|| emit::catalog::vendor_name(&crate_name));
    let whole: Vec<WholeFile> = vec![("src/lib.rs".to_owned(), &lib)];
    let rendered = render_modules(
        &api,
        &facts,
        tag_features,
        threads,
        vendor,
        &whole,
        meanwhile,
    );
    for (path, text) in rendered {
        files.insert(path, text.map_err(internal)?);
    }
    // `render_modules` runs `meanwhile` on every path; without the audit the report would be wrong.
    let unfaithful =
        unfaithful.ok_or_else(|| internal("the shapes audit did not run".to_owned()))?;
    if sync {
        files.insert(
            "src/bin/sync.rs".to_owned(),
            emit::catalog::bin(&crate_name).map_err(internal)?,
        );
        files.insert("SYNC.md".to_owned(), emit::catalog::docs(&api, &crate_name));
    }
    let runtime = match &settings.runtime {
        RuntimeDep::Path(p) => format!(
            "{{ path = \"{}\", version = \"{}\" }}",
            p.replace('\\', "/"),
            env!("CARGO_PKG_VERSION")
        ),
        RuntimeDep::Version(v) => format!("\"{v}\""),
    };
    // `connector-sync` sits beside the runtime (`../../runtime` → `../../sync`), or is the same version.
    let sync_dep = sync.then(|| match &settings.runtime {
        RuntimeDep::Path(p) => {
            let p = p.replace('\\', "/");
            let p = p.trim_end_matches('/');
            let sibling = match p.rsplit_once('/') {
                Some((parent, _)) => format!("{parent}/sync"),
                None => "sync".to_owned(),
            };
            format!(
                "{{ path = \"{sibling}\", version = \"{}\", optional = true }}",
                env!("CARGO_PKG_VERSION")
            )
        }
        RuntimeDep::Version(v) => format!("{{ version = \"{v}\", optional = true }}"),
    });
    let version = settings
        .crate_version
        .clone()
        .unwrap_or_else(|| "0.1.0".to_owned());
    let mut warnings = warnings;
    if let Some(id) = preferred {
        let usable = call
            .as_ref()
            .is_some_and(|c| api.operations[c.op].operation_id == id);
        if !usable {
            warnings.push(
                Diagnostic::warning(format!(
                    "settings: example_operation `{id}` is not a GET answering JSON whose required parameters are simple; the example calls another operation"
                ))
                .help("name the operationId of a GET without a required body"),
            );
        }
    }
    let example = match &call {
        Some(call) => Some(emit::example(&api, &crate_name, call).map_err(internal)?),
        None => None,
    };
    if let Some((text, _)) = &example {
        files.insert("examples/quickstart.rs".to_owned(), text.clone());
    }
    // The crate's own tests make the same call; an answer built from its success schema is what the
    // loopback server sends back.
    let mut has_test = false;
    if let Some(call) = &call {
        if let Some(answer) = &answer {
            let text = emit::client_test(&api, &crate_name, call, answer).map_err(internal)?;
            files.insert("tests/client.rs".to_owned(), text);
            has_test = true;
        }
    }
    let description = format!(
        "Typed Rust client for {} (generated from its OpenAPI description)",
        api.title
    );
    let package = emit::PackageMeta {
        name: &crate_name,
        version: &version,
        description: &description,
        license: settings
            .crate_license
            .as_deref()
            .unwrap_or("MIT OR Apache-2.0"),
        repository: settings.crate_repository.as_deref(),
        homepage: settings.crate_homepage.as_deref(),
        documentation: settings.crate_documentation.as_deref(),
        publish: settings.crate_publish.as_deref(),
    };
    let mut manifest = emit::cargo_toml(
        &package,
        &runtime,
        sync_dep.as_deref(),
        &api,
        &facts,
        tag_features,
    );
    if sync {
        manifest.push_str(&emit::catalog::cargo_toml_bin(&crate_name));
    }
    if let Some((_, feature)) = &example {
        manifest.push_str(&emit::cargo_toml_example(feature, tag_features, has_test));
    }
    files.insert("Cargo.toml".to_owned(), manifest);
    files.insert(
        "README.md".to_owned(),
        readme(&api, &crate_name, tag_features, call.as_ref(), has_test),
    );
    Ok(Generated {
        crate_name,
        files,
        warnings,
        operations: api.operations.len(),
        types: api.types.len(),
        groups: api.groups.len(),
        skipped_operations: api.skipped_operations,
        unfaithful,
    })
}

/// What a conformance run needs for a description (see [`conformance_harness`]).
#[derive(Debug, Clone)]
pub struct Harness {
    /// Source of the dispatcher module (see [`emit::dispatch`]).
    pub code: String,
    /// Planned calls with their sample arguments (see [`sample::plan`]).
    pub plan: Vec<sample::Call>,
    /// Placeholder credentials: (`header` or `query`, name, value) sent with every call, or, when
    /// operations ask for different schemes, (`scheme`, scheme name, an `AuthConfig` as JSON) held
    /// together so each call sends what its operation asks for.
    pub credentials: Vec<(String, String, String)>,
    /// Operations generated.
    pub operations: usize,
}

/// The dispatcher, call plan and placeholder credentials for a conformance run.
pub fn conformance_harness(spec: &Path, settings: &Settings) -> Result<Harness, Diagnostic> {
    let doc = load::load_path_with_overlays(spec, &settings.overlays)?;
    let Lowered { api, .. } = lower_doc(&doc, settings)?;
    let plan = sample::plan(&doc.root, &api);
    let code = emit::file(emit::dispatch(&api)).map_err(Diagnostic::error)?;
    let header = |name: &str, value: &str| ("header".to_owned(), name.to_owned(), value.to_owned());
    let credentials = match api.security.first() {
        Some(ir::SecurityScheme::Basic { .. }) => {
            // `conformance:placeholder`
            vec![header(
                "Authorization",
                "Basic Y29uZm9ybWFuY2U6cGxhY2Vob2xkZXI=",
            )]
        }
        Some(ir::SecurityScheme::ApiKey { name, location, .. }) => {
            vec![(location.clone(), name.clone(), "placeholder-key".to_owned())]
        }
        Some(_) => vec![header("Authorization", "Bearer placeholder-token")],
        None => Vec::new(),
    };
    // Operations that ask for different schemes get each its own: every scheme is held as a named
    // credential (`scheme` entries, an `AuthConfig` in JSON), and each call sends what its operation's
    // requirements ask for, as the generated client does for its users.
    let mut named: Vec<&str> = api
        .operations
        .iter()
        .filter_map(|o| o.security.as_ref())
        .flatten()
        .flatten()
        .map(String::as_str)
        .collect();
    named.sort_unstable();
    named.dedup();
    let credentials = if named.len() > 1 {
        let scheme = |name: &str, config: serde_json::Value| {
            ("scheme".to_owned(), name.to_owned(), config.to_string())
        };
        api.security
            .iter()
            .filter_map(|s| match s {
                ir::SecurityScheme::ApiKey {
                    scheme: n,
                    name,
                    location,
                } => Some(scheme(
                    n,
                    serde_json::json!({"type": "api_key", "name": name, "in": location, "value": "placeholder-key"}),
                )),
                ir::SecurityScheme::Basic { scheme: n } => Some(scheme(
                    n,
                    serde_json::json!({"type": "basic", "username": "conformance", "password": "placeholder"}),
                )),
                ir::SecurityScheme::Bearer { scheme: n }
                | ir::SecurityScheme::OAuth2 { scheme: n, .. }
                | ir::SecurityScheme::DeviceCode { scheme: n, .. } => Some(scheme(
                    n,
                    serde_json::json!({"type": "bearer", "token": "placeholder-token"}),
                )),
                _ => None,
            })
            .collect()
    } else {
        credentials
    };
    let mut credentials = credentials;
    // Operations may name other schemes: a placeholder for each other API key, and an
    // `Authorization` header when the first scheme writes none (basic when a scheme is basic).
    let per_scheme = named.len() > 1;
    for scheme in api.security.iter().skip(1).filter(|_| !per_scheme) {
        if let ir::SecurityScheme::ApiKey { name, location, .. } = scheme {
            if !credentials
                .iter()
                .any(|(_, n, _)| n.eq_ignore_ascii_case(name))
            {
                credentials.push((location.clone(), name.clone(), "placeholder-key".to_owned()));
            }
        }
    }
    let writes_authorization = api
        .security
        .iter()
        .any(ir::SecurityScheme::writes_authorization);
    if writes_authorization
        && !per_scheme
        && !credentials
            .iter()
            .any(|(_, n, _)| n.eq_ignore_ascii_case("authorization"))
    {
        let basic = api
            .security
            .iter()
            .any(|s| matches!(s, ir::SecurityScheme::Basic { .. }));
        credentials.push(if basic {
            header("Authorization", "Basic Y29uZm9ybWFuY2U6cGxhY2Vob2xkZXI=")
        } else {
            header("Authorization", "Bearer placeholder-token")
        });
    }
    // Headers an auth hint supplies in place of declared header parameters (Slack's `token`): the
    // description still requires them, so the run sends placeholders.
    for hint in &settings.auth {
        for name in hint.names.iter().chain(&hint.covers) {
            if !credentials
                .iter()
                .any(|(_, n, _)| n.eq_ignore_ascii_case(name))
            {
                credentials.push(header(name, "placeholder"));
            }
        }
    }
    Ok(Harness {
        code,
        plan,
        credentials,
        operations: api.operations.len(),
    })
}

/// A rendered file: its path in the crate, and its text or an internal error.
type Rendered = (String, Result<String, String>);

/// A whole file rendered by one job: its path and what makes its tokens (called on the rendering
/// thread: token streams cannot cross threads).
type WholeFile<'a> = (String, &'a (dyn Fn() -> proc_macro2::TokenStream + Sync));

/// Under the `fast-alloc` allocator, hand the memory freed so far back at once (mimalloc otherwise
/// keeps a thread's freed pages for a while, for that thread and size only). Called after the
/// description's text and then the description are dropped, and every few rendering jobs: without
/// it the generator's peak is the description plus every thread's rendering garbage (GitHub's: 150
/// MB against 108 MB with it).
fn release_freed_memory() {
    #[cfg(feature = "fast-alloc")]
    // SAFETY: `mi_collect` takes no pointers; it only frees mimalloc's own unused pages, and is a
    // no-op for memory another allocator handed out.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

/// Under the `fast-alloc` allocator on Linux, keep transparent huge pages off for this process.
/// Where the kernel backs anonymous memory with 2 MiB pages whenever it can (`enabled` set to
/// `always`), mimalloc's arenas are committed in whole huge pages: pages the generator touched once
/// stay resident in 2 MiB units, and what `mi_collect` hands back is rounded the same way. GitHub's
/// peak: 108 MB with huge pages, 84 MB without, at the same speed (a short-lived process gains
/// little from fewer TLB misses). A `MIMALLOC_ALLOW_THP` in the environment is left to decide, as
/// mimalloc reads it at start-up. Call it first thing in `main`: memory already faulted in keeps
/// its pages.
///
/// Also: a thread freeing blocks of a page another thread allocated, after that thread has ended,
/// takes the page over (mimalloc's `page_reclaim_on_free` 1, `page_cross_thread_max_reclaim`
/// unlimited), so its later frees there are local. The description's tree is half allocated by
/// `load::split`'s reading thread and freed by this one: GitHub's document was freed in 11 ms
/// (5 ms for a tree read on one thread), 8 ms with these, and generation took 0.195 s against
/// 0.188 s. The same variables in the environment are left to decide.
pub fn tune_allocator() {
    #[cfg(all(feature = "fast-alloc", target_os = "linux"))]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: PR_SET_THP_DISABLE takes integers only and changes how later page faults of
        // this process are served; an error (an old kernel) leaves things as they were.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
        }
    }
    #[cfg(feature = "fast-alloc")]
    for (option, variable, value) in [
        (
            MI_OPTION_PAGE_RECLAIM_ON_FREE,
            "MIMALLOC_PAGE_RECLAIM_ON_FREE",
            1,
        ),
        (
            MI_OPTION_PAGE_CROSS_THREAD_MAX_RECLAIM,
            "MIMALLOC_PAGE_CROSS_THREAD_MAX_RECLAIM",
            -1,
        ),
    ] {
        if std::env::var_os(variable).is_none() {
            // SAFETY: `mi_option_set` takes integers only; the option's index is mimalloc 3's
            // (checked by the test `allocator_options_are_the_ones_meant`).
            unsafe { libmimalloc_sys::mi_option_set(option, value) };
        }
    }
}

/// mimalloc 3's `mi_option_page_reclaim_on_free` (default 0), which `libmimalloc-sys` does not name.
#[cfg(feature = "fast-alloc")]
const MI_OPTION_PAGE_RECLAIM_ON_FREE: libmimalloc_sys::mi_option_t = 35;

/// mimalloc 3's `mi_option_page_cross_thread_max_reclaim` (default 32).
#[cfg(feature = "fast-alloc")]
const MI_OPTION_PAGE_CROSS_THREAD_MAX_RECLAIM: libmimalloc_sys::mi_option_t = 42;

/// The stack of each rendering thread: a main thread's. Emission, syn and prettyplease recurse once
/// per level of a type (`Option<Vec<Option<...>>>`, as deep as lowering's depth limit allows), which
/// takes several MiB in a debug build; a spawned thread's default of 2 MiB overflows.
const RENDER_STACK: usize = 8 << 20;

/// Types per rendering job of `src/models.rs`: enough to keep each job's own cost above its
/// scheduling, few enough that a huge description's models spread over every thread and no job
/// holds a large syntax tree.
const MODEL_CHUNK: usize = 128;

/// Streams per rendering job of `src/sync.rs` (a stream's definition and functions are about 8 KB
/// of text).
const SYNC_CHUNK: usize = 16;

/// A gate threads wait at until it is opened (once, for good).
#[derive(Default)]
struct Gate {
    open: std::sync::Mutex<bool>,
    opened: std::sync::Condvar,
}

impl Gate {
    fn wait(&self) {
        let mut open = self
            .open
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while !*open {
            open = self
                .opened
                .wait(open)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Opens the gate when dropped.
    fn opener(&self) -> impl Drop + '_ {
        struct Opener<'g>(&'g Gate);
        impl Drop for Opener<'_> {
            fn drop(&mut self) {
                *self
                    .0
                    .open
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = true;
                self.0.opened.notify_all();
            }
        }
        Opener(self)
    }
}

/// One unit of rendering work.
enum Job<'a> {
    /// A file of its own (`src/lib.rs`).
    Whole(&'a WholeFile<'a>),
    /// The opening of `src/models.rs`, with the file header.
    ModelsHead,
    /// The types of a range, formatted as a part of `src/models.rs`.
    Models(std::ops::Range<usize>),
    /// The opening of `src/sync.rs` (with `catalog()`), with the file header.
    SyncHead,
    /// The streams of a range, formatted as a part of `src/sync.rs`.
    Sync(std::ops::Range<usize>),
    /// The file of group `i`.
    Group(usize),
}

/// A job's expected rendering time, in rough units (a model type is about a fifth of an
/// operation's builder, a stream's catalog entry about one builder, `lib.rs` a little per
/// operation): only the order of jobs depends on it.
fn job_cost(api: &ir::Api, ops_per_group: &[usize], job: &Job) -> usize {
    match job {
        Job::Whole(_) => api.operations.len() / 2,
        Job::ModelsHead => 1,
        // A push per stream, and the shared column lists.
        Job::SyncHead => api.streams.len(),
        Job::Models(range) => range.len() * 2,
        Job::Sync(range) => range.len() * 10,
        Job::Group(g) => 10 * ops_per_group.get(*g).copied().unwrap_or_default(),
    }
}

/// `src/models.rs` and `src/sync.rs` (in parts of [`MODEL_CHUNK`] types and [`SYNC_CHUNK`]
/// streams), one file per group and the `whole` files, rendered on a few threads: emission and
/// pretty-printing dominate generation time for large descriptions, and each part is independent.
/// Small parts also keep each syntax tree small, which bounds the generator's memory. The result
/// does not depend on the number of threads (parts are joined in order, files keyed by path).
/// `sync` is the vendor name when the crate has a sync catalog.
fn render_modules(
    api: &ir::Api,
    facts: &passes::Facts,
    tag_features: bool,
    threads: usize,
    sync: Option<&str>,
    whole: &[WholeFile<'_>],
    meanwhile: impl FnOnce(),
) -> Vec<Rendered> {
    let chunks = |n: usize, size: usize| (0..n).step_by(size).map(move |a| a..(a + size).min(n));
    let mut jobs: Vec<Job> = whole.iter().map(Job::Whole).collect();
    jobs.push(Job::ModelsHead);
    jobs.extend(chunks(api.types.len(), MODEL_CHUNK).map(Job::Models));
    if sync.is_some() {
        jobs.push(Job::SyncHead);
        jobs.extend(chunks(api.streams.len(), SYNC_CHUNK).map(Job::Sync));
    }
    jobs.extend((0..api.groups.len()).map(Job::Group));
    // The column lists several streams share: written once, in the head of `src/sync.rs`.
    let shared = if sync.is_some() {
        emit::catalog::SharedColumns::of(api)
    } else {
        emit::catalog::SharedColumns::default()
    };
    // Types of one shape are compiled once, as the first of them (models only). Worked out by the
    // first thread before its first job, while the others start on group files.
    let merged = std::sync::OnceLock::new();
    let shapes = || merged.get_or_init(|| passes::same_shapes(api, facts));
    let render = |job: &Job| match job {
        Job::Whole((_, tokens)) => emit::render(true, tokens),
        Job::ModelsHead => emit::render(true, emit::models_head),
        Job::Models(range) => emit::render_parsed(false, || {
            emit::model_file(api, shapes(), tag_features, range.clone())
        }),
        Job::SyncHead => emit::render(true, || {
            emit::catalog::module_head(api, sync.unwrap_or_default(), tag_features, &shared)
        }),
        Job::Sync(range) => emit::render(false, || {
            emit::catalog::module_streams(api, range.clone(), tag_features, &shared)
        }),
        Job::Group(g) => emit::render(true, || emit::group(api, facts, *g, tag_features)),
    };
    let count = jobs.len();
    let threads = threads.min(count);
    let mut texts: Vec<Option<Result<String, String>>> = if threads <= 1 {
        meanwhile();
        jobs.iter().map(|j| Some(render(j))).collect()
    } else {
        // Longest first, so no long job starts when the others are nearly done and leaves one
        // thread working alone (ties in file order).
        let mut ops_per_group = vec![0; api.groups.len()];
        for op in &api.operations {
            if let Some(n) = ops_per_group.get_mut(op.group) {
                *n += 1;
            }
        }
        let mut order: Vec<usize> = (0..count).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(job_cost(api, &ops_per_group, &jobs[i])));
        let next = std::sync::atomic::AtomicUsize::new(0);
        // Open once `meanwhile` has run (the document freed): the threads render only then, so
        // the document and the rendered files never add up (Graph beta's peak was 409 MB against
        // 365 MB when they did). Until then one thread works out the shapes.
        let gate = Gate::default();
        let work = || {
            let mut done = Vec::new();
            let mut waited = false;
            loop {
                let at = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if at == 0 {
                    shapes();
                    continue;
                }
                if !waited {
                    gate.wait();
                    waited = true;
                }
                let Some(&i) = order.get(at - 1) else {
                    break done;
                };
                // Each job's syntax trees are freed when it ends, and the next job reuses their
                // pages. Handing them back to the OS here (every few jobs) lowered no peak, not
                // even Graph beta's (it comes before rendering), and cost a fault per page reused:
                // GitHub 0.205 s against 0.199 s without, Graph beta 3.04 s against 2.61 s.
                done.push((i, render(&jobs[i])));
            }
        };
        let out: Vec<(usize, Result<String, String>)> = std::thread::scope(|s| {
            // A thread that cannot start leaves its share to the others.
            let workers: Vec<_> = (0..threads)
                .filter_map(|_| {
                    std::thread::Builder::new()
                        .name("connector-gen render".to_owned())
                        .stack_size(RENDER_STACK)
                        .spawn_scoped(s, work)
                        .ok()
                })
                .collect();
            {
                // Opened also when `meanwhile` panics, so the threads end and the panic goes on.
                let _open = gate.opener();
                meanwhile();
            }
            let mut out = Vec::new();
            // Rendered here only when no thread could start.
            if workers.is_empty() {
                out.extend(work());
            }
            for w in workers {
                out.extend(
                    w.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            out
        });
        let mut texts: Vec<Option<Result<String, String>>> = (0..count).map(|_| None).collect();
        for (i, text) in out {
            texts[i] = Some(text);
        }
        texts
    };
    let mut take = |i: usize| {
        texts[i]
            .take()
            .unwrap_or_else(|| Err("internal: a rendering job did not run".to_owned()))
    };
    // A file rendered in parts: each part in order; the first error stands for the file. Joined
    // into one allocation of the exact size: the models of a huge description are tens of MB.
    let mut joined = |parts: std::ops::Range<usize>| -> Result<String, String> {
        if parts.len() == 1 {
            return take(parts.start);
        }
        let pieces: Vec<String> = parts.map(&mut take).collect::<Result<_, _>>()?;
        let mut text = String::with_capacity(pieces.iter().map(String::len).sum());
        for part in pieces {
            text.push_str(&part);
        }
        Ok(text)
    };
    let mut files = Vec::with_capacity(api.groups.len() + whole.len() + 2);
    let mut at = whole.len();
    let models = 1 + api.types.len().div_ceil(MODEL_CHUNK);
    files.push(("src/models.rs".to_owned(), joined(at..at + models)));
    at += models;
    if sync.is_some() {
        let parts = 1 + api.streams.len().div_ceil(SYNC_CHUNK);
        files.push(("src/sync.rs".to_owned(), joined(at..at + parts)));
        at += parts;
    }
    for (g, group) in api.groups.iter().enumerate() {
        files.push((
            format!("src/{}.rs", group.module),
            joined(at + g..at + g + 1),
        ));
    }
    for (i, (path, _)) in whole.iter().enumerate() {
        files.push((path.clone(), joined(i..i + 1)));
    }
    files
}

/// Generate the connector as one token stream (a module body) for the `#[connector]` macro.
pub fn generate_tokens(
    spec: &Path,
    settings: &Settings,
) -> Result<(proc_macro2::TokenStream, Vec<Diagnostic>), Diagnostic> {
    let doc = load::load_path_with_overlays(spec, &settings.overlays)?;
    let Lowered {
        api,
        facts,
        warnings,
    } = lower_doc(&doc, settings)?;
    let models = emit::models(&api, &facts, false);
    let groups = emit::inline_groups(&api, &facts, false);
    let sync = settings.sync.then(|| {
        let crate_name = settings
            .crate_name
            .clone()
            .unwrap_or_else(|| default_crate_name(&api.title));
        emit::catalog::module(&api, emit::catalog::vendor_name(&crate_name), false)
    });
    let tokens = emit::lib(
        &api,
        &crate_doc(&api),
        false,
        settings.idempotency_keys,
        emit::Layout::Inline {
            models: &models,
            groups: &groups,
            sync: sync.as_ref(),
        },
    );
    Ok((tokens, warnings))
}

/// Write generated files under `out`, creating folders; `.rs` files no longer generated are removed
/// from `out/src` and `out/examples`. Returns the paths written.
pub fn write_crate(generated: &Generated, out: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for folder in ["src", "examples"] {
        let dir = out.join(folder);
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            let rel = format!(
                "{folder}/{}",
                p.file_name().and_then(|n| n.to_str()).unwrap_or("")
            );
            if p.extension().is_some_and(|e| e == "rs") && !generated.files.contains_key(&rel) {
                std::fs::remove_file(&p)?;
            }
        }
    }
    // `tests/` and `src/bin/` may hold the user's own files beside the generated ones: only files
    // that say they were generated are removed when no longer generated.
    for folder in ["tests", "src/bin"] {
        let dir = out.join(folder);
        if !dir.is_dir() {
            continue;
        }
        for entry in std::fs::read_dir(&dir)? {
            let p = entry?.path();
            let rel = format!(
                "{folder}/{}",
                p.file_name().and_then(|n| n.to_str()).unwrap_or("")
            );
            let generated_here = std::fs::read_to_string(&p)
                .is_ok_and(|t| t.starts_with("// @generated by connector-gen"));
            if generated_here && !generated.files.contains_key(&rel) {
                std::fs::remove_file(&p)?;
            }
        }
    }
    for (rel, text) in &generated.files {
        let path = out.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let same = std::fs::read_to_string(&path).is_ok_and(|old| &old == text);
        if !same {
            std::fs::write(&path, text)?;
        }
        written.push(path);
    }
    Ok(written)
}

/// For `build.rs`: generate `OUT_DIR/<name>.rs` holding `pub mod <name> { ... }`, and bring it in with
/// `include!(concat!(env!("OUT_DIR"), "/<name>.rs"));`.
pub struct Builder {
    spec: PathBuf,
    settings: Settings,
    name: String,
}

impl Builder {
    /// From a description file.
    pub fn new(spec: impl Into<PathBuf>) -> Self {
        Builder {
            spec: spec.into(),
            settings: Settings::default(),
            name: "connector".into(),
        }
    }
    /// Settings to apply.
    pub fn settings(mut self, s: Settings) -> Self {
        self.settings = s;
        self
    }
    /// Output file stem (default `connector`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }
    /// Generate `OUT_DIR/<name>.rs` and tell cargo to rerun when the description changes.
    pub fn build(self) -> Result<PathBuf, Diagnostic> {
        let out = std::env::var_os("OUT_DIR").ok_or_else(|| {
            Diagnostic::error("OUT_DIR is not set: call Builder::build from a build script")
        })?;
        println!("cargo:rerun-if-changed={}", self.spec.display());
        let (tokens, warnings) = generate_tokens(&self.spec, &self.settings)?;
        for w in &warnings {
            println!(
                "cargo:warning={}",
                w.to_string().lines().next().unwrap_or("")
            );
        }
        // `include!` cannot take a file that starts with inner attributes, so the generated body goes
        // inside `pub mod <name> { ... }`, where they are allowed.
        let module = proc_macro2::Ident::new(
            &names::module_name(&self.name),
            proc_macro2::Span::call_site(),
        );
        let text =
            emit::file(quote::quote! { pub mod #module { #tokens } }).map_err(Diagnostic::error)?;
        let path = Path::new(&out).join(format!("{}.rs", self.name));
        std::fs::write(&path, text)
            .map_err(|e| Diagnostic::error(format!("cannot write {}: {e}", path.display())))?;
        Ok(path)
    }
}

fn readme(
    api: &ir::Api,
    crate_name: &str,
    tag_features: bool,
    call: Option<&emit::ExampleCall>,
    has_test: bool,
) -> String {
    let krate = crate_name.replace('-', "_");
    let mut s = format!(
        "# {crate_name}\n\nTyped Rust client for **{}** (API version {}), generated from its OpenAPI description by\n`connector-gen`. Every call goes through `connector-runtime`: authentication, retries with backoff,\nrate limiting, hooks, structured errors with request ids.\n\n",
        api.title, api.version
    );
    if let Some(d) = api.doc.as_deref().and_then(|d| d.split("\n\n").next()) {
        s.push_str(&format!("> {}\n\n", d.trim().replace('\n', "\n> ")));
    }
    let auth = emit::preferred_auth_for(api, call.map(|c| &api.operations[c.op]));
    let ctors = emit::auth_ctors(api);
    if !ctors.is_empty() {
        let shown = |c: &emit::AuthCtor| {
            let deprecated = if c.deprecated { ", deprecated" } else { "" };
            format!("`auth::{}` ({}{deprecated})", c.name, c.summary)
        };
        s.push_str(&format!(
            "## Authentication\n\n`{krate}::auth` has one constructor per security scheme"
        ));
        match &auth {
            Some(a) => s.push_str(&format!(
                "; this API's simplest is\n{}; the usage example below sets it on the configuration.\n\n",
                shown(a)
            )),
            None => s.push_str(".\n\n"),
        }
        let others: Vec<String> = ctors
            .iter()
            .filter(|c| auth.as_ref().is_none_or(|a| c.name != a.name))
            .map(shown)
            .collect();
        if !others.is_empty() {
            s.push_str(&format!("Also: {}.\n\n", others.join(", ")));
        }
        let required: Vec<&emit::AuthCtor> = ctors
            .iter()
            .filter(|c| c.example && emit::scheme_required(api, &c.scheme))
            .collect();
        if !required.is_empty() {
            s.push_str("Operations say which schemes they accept. Hold several credentials at once with `and`:\n\n");
            let pair: Vec<String> = required
                .iter()
                .take(2)
                .map(|c| {
                    let args = c.arguments(|arg| {
                        format!("\"your {}\"", arg.trim_end_matches('_').replace('_', " "))
                    });
                    format!("{krate}::auth::{}({})", c.name, args.join(", "))
                })
                .collect();
            s.push_str(&format!(
                "```rust,ignore\nconfig.auth = Some({});\n```\n\nEach call sends the credentials of the first of its operation's alternatives whose schemes\nare all held; none when the operation takes none, or accepts none and no alternative is held; and\nfails with AUTH_FAILED before sending when no alternative can be met. Calls of operations that\ndeclare nothing send the first credential.\n\n",
                pair.join(".and(") + &")".repeat(pair.len().saturating_sub(1))
            ));
        }
    }
    s.push_str("## Usage\n\n```rust,no_run\n");
    s.push_str(&format!("# async fn run() -> Result<(), {krate}::Error> {{\nlet mut config = {krate}::Client::config();\n"));
    if let Some(a) = &auth {
        let args =
            a.arguments(|arg| format!("\"your {}\"", arg.trim_end_matches('_').replace('_', " ")));
        let call = format!("{krate}::auth::{}({})", a.name, args.join(", "));
        if a.deprecated {
            s.push_str(&format!(
                "#[allow(deprecated)]\nlet auth = {call};\nconfig.auth = Some(auth);\n"
            ));
        } else {
            s.push_str(&format!("config.auth = Some({call});\n"));
        }
    }
    s.push_str(&format!(
        "let client = {krate}::Client::new(config).await?;\n"
    ));
    if let Some(call) = call {
        let op = &api.operations[call.op];
        s.push_str(&format!(
            "// {} {}\nlet response = client.{}().{}({}).send().await?;\nprintln!(\"{{:?}} (request id {{}})\", response.data, response.meta.request_id);\n",
            op.method,
            op.path,
            api.group_path(op.group).join("()."),
            op.name,
            call.args.join(", ")
        ));
    }
    s.push_str("# Ok(()) }\n```\n\n");
    if call.is_some() {
        s.push_str(&format!(
            "`examples/quickstart.rs` makes that call against a local mock server (`prism mock <description> -p 4010`):\n`cargo run --example quickstart`, with `CONNECTOR_BASE_URL` (default `{}`) and credentials from\n`CONNECTOR_*` variables (dummy values by default).\n\n",
            emit::EXAMPLE_BASE_URL
        ));
    }
    if has_test {
        s.push_str("`tests/client.rs` makes the same call against a wiremock server on loopback and checks the method,\npath and credentials sent, the decoding of an answer built from the success schema, and the errors for\na 404 and for a body that is not JSON: `cargo test`.\n\n");
    }
    if tag_features && !api.groups.is_empty() {
        s.push_str("## Features\n\nOne cargo feature per tag (all on by default). To compile only what you use:\n\n```toml\n");
        let first: Vec<&str> = api
            .groups
            .iter()
            .take(2)
            .map(|g| g.module.as_str())
            .collect();
        s.push_str(&format!("{crate_name} = {{ version = \"*\", default-features = false, features = [{}] }}\n```\n\n", first.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", ")));
        s.push_str("| feature | tag |\n|---|---|\n");
        for g in &api.groups {
            s.push_str(&format!(
                "| `{}` | {} |\n",
                g.module,
                g.tag.replace('|', "\\|")
            ));
        }
        s.push('\n');
    }
    if !api.streams.is_empty() {
        s.push_str(&format!(
            "## Sync\n\nThe `sync` feature adds `{krate}::sync::catalog()`: the {} tables `connector-sync` can keep up to date\nin SQLite or PostgreSQL from the list operations, and the `{}` command that runs it. `SYNC.md`\nlists the streams, their keys, cursors, filters and columns.\n\n",
            api.streams.len(),
            emit::catalog::bin_name(crate_name)
        ));
    }
    s.push_str(&format!(
        "{} operations, {} types.\n",
        api.operations.len(),
        api.types.len()
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "fast-alloc")]
    #[test]
    fn allocator_options_are_the_ones_meant() {
        // The options around and at the two set, by their defaults in mimalloc 3
        // (`generic_collect`, `page_full_retain`, `page_max_candidates`, `page_max_reclaim`; the
        // two themselves hold their default or, once `tune_allocator` ran, its value): a
        // mimalloc whose options moved fails here.
        // SAFETY: `mi_option_get` takes an integer and reads the option's value.
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        for (option, default) in [(34, 10_000), (36, 2), (37, 4), (41, -1)] {
            assert_eq!(get(option), default, "mimalloc option {option}");
        }
        assert_eq!(MI_OPTION_PAGE_RECLAIM_ON_FREE, 35);
        assert!(matches!(get(35), 0 | 1), "{}", get(35));
        assert_eq!(MI_OPTION_PAGE_CROSS_THREAD_MAX_RECLAIM, 42);
        assert!(matches!(get(42), 32 | -1), "{}", get(42));
    }

    /// The generator's process is left with transparent huge pages off, as the kernel reports it.
    #[cfg(all(feature = "fast-alloc", target_os = "linux"))]
    #[test]
    fn tune_allocator_turns_huge_pages_off() {
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_some() {
            return; // the environment decides, by design; nothing of ours to check
        }
        tune_allocator();
        // SAFETY: PR_GET_THP_DISABLE takes no pointers and returns the flag.
        let flag = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(flag, 1);
    }

    /// A description with many tags, so there are many files to share among threads.
    fn many_tags() -> String {
        let mut paths = Vec::new();
        for i in 0..40 {
            paths.push(format!(
                r##""/t{i}/items/{{id}}": {{"get": {{"tags": ["tag {i}"], "operationId": "get{i}",
                  "parameters": [{{"name": "id", "in": "path", "required": true, "schema": {{"type": "string"}}}}],
                  "responses": {{"200": {{"description": "ok", "content": {{"application/json":
                  {{"schema": {{"$ref": "#/components/schemas/Item{i}"}}}}}}}}}}}}}},
                "/t{i}/items": {{"get": {{"tags": ["tag {i}"], "operationId": "list{i}",
                  "parameters": [{{"name": "page", "in": "query", "schema": {{"type": "integer"}}}}],
                  "responses": {{"200": {{"description": "ok", "content": {{"application/json":
                  {{"schema": {{"type": "array", "items": {{"$ref": "#/components/schemas/Item{i}"}}}}}}}}}}}}}}}}"##
            ));
        }
        let schemas: Vec<String> = (0..40)
            .map(|i| format!(r#""Item{i}": {{"type": "object", "required": ["id"], "properties": {{"id": {{"type": "string"}}, "n{i}": {{"type": "integer"}}}}}}"#))
            .collect();
        format!(
            r#"{{"openapi": "3.0.3", "info": {{"title": "Many", "version": "1"}},
               "paths": {{{}}}, "components": {{"schemas": {{{}}}}}}}"#,
            paths.join(","),
            schemas.join(",")
        )
    }

    #[test]
    fn tags_named_like_cargo_files_do_not_become_them() {
        let spec = r#"{"openapi": "3.0.3", "info": {"title": "Files", "version": "1"},
            "paths": {"/a": {"get": {"tags": ["Main"], "responses": {"204": {"description": "ok"}}}},
                      "/b": {"get": {"tags": ["lib"], "responses": {"204": {"description": "ok"}}}}}}"#;
        let doc = load::load_str(spec, None).expect("loads");
        let g = generate_from(doc, &Settings::default()).expect("generates");
        assert!(!g.files.contains_key("src/main.rs"), "{:?}", g.files.keys());
        assert!(g.files.contains_key("src/main_api.rs"));
        assert!(g.files.contains_key("src/lib_api.rs"));
        assert!(g.files["src/lib.rs"].contains("pub mod main_api"));
    }

    #[test]
    fn control_characters_in_paths_and_ids_stay_inside_comments() {
        // The example call's path and operationId are quoted in `//!` lines of the example and the
        // crate's tests: a line break there would end the comment and leave text that does not lex.
        let spec = r#"{"openapi": "3.0.3", "info": {"title": "Odd", "version": "1"},
            "paths": {"/a\nb\r/c": {"get": {"operationId": "list\nthings\u0007",
                "responses": {"200": {"description": "ok", "content": {"application/json":
                    {"schema": {"type": "object", "properties": {"id": {"type": "string"}}}}}}}}}}}"#;
        let doc = load::load_str(spec, None).expect("loads");
        let g = generate_from(doc, &Settings::default()).expect("generates");
        for file in ["examples/quickstart.rs", "tests/client.rs"] {
            let text = &g.files[file];
            assert!(
                text.contains(r"/a\nb\r/c") && text.contains(r"list\nthings\u{7}"),
                "{file}:\n{text}"
            );
        }
    }

    #[test]
    fn rendering_waits_for_meanwhile_and_a_panic_in_it_ends_the_threads() {
        let doc = load::load_str(&many_tags(), None).expect("loads");
        let lowered = lower_doc(&doc, &Settings::default()).expect("lowers");
        // Rendering starts only once `meanwhile` is done: a whole file's job, free to start on any
        // of four threads were there no gate, is not built while `meanwhile` waits half a second
        // for it (the wait proves the absence; with the gate it always runs out).
        let log = std::sync::Mutex::new(Vec::new());
        let logged = std::sync::Condvar::new();
        let whole_file = || {
            log.lock().unwrap().push("rendered");
            logged.notify_all();
            proc_macro2::TokenStream::new()
        };
        let whole: Vec<WholeFile> = vec![("src/x.rs".to_owned(), &whole_file)];
        let files = render_modules(&lowered.api, &lowered.facts, true, 4, None, &whole, || {
            let wait = std::time::Duration::from_millis(500);
            let (mut log, _) = logged
                .wait_timeout_while(log.lock().unwrap(), wait, |l| l.is_empty())
                .unwrap();
            log.push("meanwhile");
        });
        assert_eq!(*log.lock().unwrap(), ["meanwhile", "rendered"]);
        assert!(files.len() > 2 && files.iter().all(|(_, t)| t.is_ok()));
        // A panic there reaches the caller; the rendering threads do not wait for ever.
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render_modules(&lowered.api, &lowered.facts, true, 4, None, &[], || {
                panic!("in meanwhile")
            })
        }));
        assert!(panicked.is_err());
    }

    #[test]
    fn rendering_threads_have_room_for_the_deepest_types() {
        // Lists of nullable lists as deep as lowering goes: the deepest type expressions emission,
        // syn and prettyplease walk. Rendered on the threads large descriptions use.
        let mut schema = serde_json::json!({"type": "number"});
        for _ in 0..120 {
            schema = serde_json::json!({"type": "array", "nullable": true, "items": schema});
        }
        let mut root: serde_json::Value = serde_json::from_str(&many_tags()).expect("JSON");
        root["components"]["schemas"]["Deep"] = schema;
        root["paths"]["/t0/items/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"] = serde_json::json!({"$ref": "#/components/schemas/Deep"});
        let doc = load::load_str(&root.to_string(), None).expect("loads");
        let lowered = lower_doc(&doc, &Settings::default()).expect("lowers");
        // Called from a thread with the default stack, as tests and async runtimes do.
        let caller = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || render_modules(&lowered.api, &lowered.facts, true, 4, None, &[], || ()))
            .expect("a thread starts");
        let files = caller.join().expect("renders without overflowing");
        assert!(files.iter().all(|(_, text)| text.is_ok()));
        // The answer of the first operation is the deep list itself (printed over many lines).
        let deepest = "Option<Vec<".repeat(40);
        let flat = |t: &str| t.split_whitespace().collect::<String>();
        assert!(
            files
                .iter()
                .any(|(_, text)| text.as_deref().is_ok_and(|t| flat(t).contains(&deepest))),
            "no file holds the deep type"
        );
    }

    #[test]
    fn rendering_on_threads_gives_the_same_files() {
        let doc = load::load_str(&many_tags(), None).expect("loads");
        let lowered = lower_doc(&doc, &Settings::default()).expect("lowers");
        assert_eq!(lowered.api.groups.len(), 40);
        // More streams than one part of `src/sync.rs` holds.
        assert_eq!(lowered.api.streams.len(), 40);
        let one = render_modules(
            &lowered.api,
            &lowered.facts,
            true,
            1,
            Some("many"),
            &[],
            || (),
        );
        let four = render_modules(
            &lowered.api,
            &lowered.facts,
            true,
            4,
            Some("many"),
            &[],
            || (),
        );
        assert_eq!(one.len(), 42);
        assert_eq!(one, four);
        assert!(one.iter().all(|(_, text)| text.is_ok()));
        let sync = one
            .iter()
            .find(|(path, _)| path == "src/sync.rs")
            .and_then(|(_, text)| text.as_ref().ok())
            .expect("the sync module");
        assert_eq!(sync.matches("\nfn stream_").count(), 40);
        assert_eq!(sync.matches(emit::HEADER).count(), 1);
    }
}
