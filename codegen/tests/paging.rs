//! Paging detection as the generated code shows it: settings override what is detected and can turn
//! it off; extensions that cannot be followed are warnings, not silently wrong pagination.

use std::path::PathBuf;

use connector_codegen::Settings;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/paging.yaml")
}

fn generate(settings: &str) -> (String, Vec<String>) {
    let settings = Settings::from_toml(settings).expect("settings");
    let (tokens, warnings) =
        connector_codegen::generate_tokens(&fixture(), &settings).expect("generates");
    (
        connector_codegen::emit::file(tokens).expect("parses"),
        warnings.iter().map(ToString::to_string).collect(),
    )
}

/// The text of the builder `name` (from its struct to the next builder), squeezed.
fn builder(code: &str, name: &str) -> String {
    let start = code
        .find(&format!("pub struct {name}<'a>"))
        .unwrap_or_else(|| panic!("no builder {name}"));
    let rest = &code[start..];
    let end = rest[1..].find("pub struct ").map_or(rest.len(), |i| i + 1);
    squeeze(&rest[..end])
}

/// Without whitespace and commas (prettyplease adds trailing commas by line width).
fn squeeze(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != ',')
        .collect()
}

#[test]
fn detected_strategies_are_emitted_per_operation() {
    let (code, warnings) = generate("");
    assert!(warnings.is_empty(), "{warnings:?}");
    let expect = [
        ("ListRepos", "Strategy::LinkHeader"),
        ("ListCustomers", "CursorSource::LastItem(\"/id\".into())"),
        ("ListChannels", "\"/response_metadata/next_cursor\""),
        (
            "ListTasks",
            "next_offset: Some(\"/next_page/offset\".into())",
        ),
        (
            "ListDroplets",
            "has_next: Some(\"/links/pages/next\".into())",
        ),
        ("ListCalls", "Strategy::NextUrl(\"/next_page_uri\".into())"),
        ("ListWidgets", "\"/result/next\""),
        ("ListVaults", "Strategy::NextUrl(\"/nextLink\".into())"),
    ];
    for (b, needle) in expect {
        let text = builder(&code, b);
        assert!(
            text.contains(&squeeze(needle)),
            "{b} lacks {needle}:\n{text}"
        );
    }
    // `x-ms-pageable` with a null next link: one page, no paginate() despite its `page` parameter.
    assert!(!builder(&code, "GetSingle").contains("fn paginate"));
}

#[test]
fn settings_override_detection_and_can_turn_it_off() {
    let (code, warnings) = generate(
        r#"
        [pagination.listCalls]
        strategy = "none"
        [pagination.listRepos]
        strategy = "page"
        param = "page"
        page_size_param = "per_page"
        [pagination.getSingle]
        strategy = "offset"
        param = "page"
        items = "/value"
        "#,
    );
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(!builder(&code, "ListCalls").contains("fn paginate"));
    let repos = builder(&code, "ListRepos");
    assert!(
        repos.contains(&squeeze("Strategy::Page { has_next: None }")),
        "{repos}"
    );
    assert!(repos.contains("foundfromsettings"), "{repos}");
    let single = builder(&code, "GetSingle");
    assert!(
        single.contains(&squeeze("Strategy::Offset { next_offset: None }")),
        "{single}"
    );
    assert!(single.contains("rt::paginate::Items<String>"), "{single}");
}

#[test]
fn settings_that_cannot_be_followed_are_warnings() {
    let (code, warnings) = generate(
        r#"
        [pagination.listCalls]
        strategy = "sideways"
        [pagination.listRepos]
        strategy = "cursor"
        param = "page"
        [pagination.listTasks]
        strategy = "offset"
        items = "/nowhere"
        "#,
    );
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("unknown strategy `sideways`"))
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("needs `next` or `last_item`"))
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("no array of items at `/nowhere`"))
    );
    for b in ["ListCalls", "ListRepos", "ListTasks"] {
        assert!(!builder(&code, b).contains("fn paginate"), "{b}");
    }
}
