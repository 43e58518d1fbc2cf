//! Round trips of parameters through generated clients: what a loopback server receives for every path,
//! query, header and cookie style, for enum, date and uuid values, keyword-named parameters and fixed
//! query pairs from path keys; header parameters that auth supplies come from the auth settings.

use connector_runtime::ConnectorConfig;
use connector_tests::{auth_headers, naming, param_styles, string_enums, swagger2};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A server that answers every request with `status` and an empty JSON object.
async fn server(status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(serde_json::json!({})))
        .mount(&server)
        .await;
    server
}

/// The requests the server received, in order.
async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.expect("recording is on")
}

async fn only_request(server: &MockServer) -> Request {
    let mut all = received(server).await;
    assert_eq!(
        all.len(),
        1,
        "expected exactly one request, got {}",
        all.len()
    );
    all.remove(0)
}

fn header<'r>(r: &'r Request, name: &str) -> Option<&'r str> {
    r.headers
        .get(name)
        .map(|v| v.to_str().expect("ASCII header"))
}

fn decoded_query(r: &Request) -> Vec<(String, String)> {
    r.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn every_parameter_style_reaches_the_server_as_described() {
    use param_styles::{Client, models};
    let server = server(204).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let response = client
        .items()
        .styled(vec![1, 2, 3], "a b", "x/y", models::Point { x: 1, y: 2 })
        .tags(vec!["a".into(), "b c".into()])
        .codes(vec![1, 2])
        .words(vec!["a".into(), "b".into()])
        .pipes(vec!["a".into(), "b".into()])
        .filter(models::Filter {
            min: Some(1),
            max: None,
            name: Some("x".into()),
            tags: Some(vec!["p".into(), "q".into()]),
        })
        .at(models::Point { x: 3, y: 4 })
        .near(models::Point { x: 5, y: 6 })
        .q("a&b=c")
        .limit(10)
        .x_request_tag("t1")
        .x_flags(vec!["f1".into(), "f2".into()])
        .session("abc 1")
        .theme("dark")
        .send()
        .await
        .expect("204");
    assert_eq!(response.status.as_u16(), 204);
    assert_eq!(response.data, ());

    let r = only_request(&server).await;
    assert_eq!(r.method.as_str(), "GET");
    // simple array, label, matrix, simple object (not exploded): items encoded, delimiters literal.
    assert_eq!(r.url.path(), "/items/1,2,3/.a%20b/;matrix=x%2Fy/x,1,y,2");
    assert_eq!(
        r.url.query(),
        Some(
            "tags=a&tags=b+c&codes=1%2C2&words=a+b&pipes=a%7Cb\
             &filter%5Bmin%5D=1&filter%5Bname%5D=x&filter%5Btags%5D%5B0%5D=p&filter%5Btags%5D%5B1%5D=q\
             &x=3&y=4&near=x%2C5%2Cy%2C6&q=a%26b%3Dc&limit=10"
        )
    );
    let pairs = decoded_query(&r);
    let expect: Vec<(String, String)> = [
        ("tags", "a"),
        ("tags", "b c"),
        ("codes", "1,2"),
        ("words", "a b"),
        ("pipes", "a|b"),
        ("filter[min]", "1"),
        ("filter[name]", "x"),
        ("filter[tags][0]", "p"),
        ("filter[tags][1]", "q"),
        ("x", "3"),
        ("y", "4"),
        ("near", "x,5,y,6"),
        ("q", "a&b=c"),
        ("limit", "10"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(pairs, expect);
    assert_eq!(header(&r, "x-request-tag"), Some("t1"));
    assert_eq!(header(&r, "x-flags"), Some("f1,f2"));
    assert_eq!(header(&r, "cookie"), Some("session=abc%201; theme=dark"));
}

#[tokio::test]
async fn unset_optional_parameters_are_left_out() {
    use param_styles::{Client, models};
    let server = server(204).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    client
        .items()
        .styled(vec![7], "l", "m", models::Point { x: 0, y: -1 })
        .send()
        .await
        .expect("204");
    let r = only_request(&server).await;
    assert_eq!(r.url.path(), "/items/7/.l/;matrix=m/x,0,y,-1");
    assert_eq!(r.url.query(), None);
    assert!(r.headers.get("x-request-tag").is_none());
    assert!(r.headers.get("x-flags").is_none());
    assert!(r.headers.get("cookie").is_none());
}

#[tokio::test]
async fn exploded_label_and_matrix_path_parameters_repeat_their_delimiters() {
    use param_styles::Client;
    let server = server(204).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    client
        .cells()
        .exploded(vec![1, 2], vec![3, 4], vec!["a".into(), "b,c".into()])
        .send()
        .await
        .expect("204");
    let r = only_request(&server).await;
    assert_eq!(r.url.path(), "/cells/.1.2/;ids=3;ids=4/;more=a,b%2Cc");
}

#[tokio::test]
async fn parameter_constraints_are_checked_before_sending() {
    use param_styles::{Client, models};
    let server = server(204).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let err = client
        .items()
        .styled(vec![1], "l", "m", models::Point { x: 0, y: 0 })
        .limit(51)
        .send()
        .await
        .expect_err("limit above the maximum");
    assert_eq!(err.code().as_str(), "VALIDATION_ERROR");
    assert!(!err.request_sent());
    assert!(received(&server).await.is_empty(), "nothing may be sent");
}

#[tokio::test]
async fn enum_parameters_use_their_wire_values() {
    use string_enums::{Client, models::Vote};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"vote": "2fa"})))
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let ballot = client
        .votes()
        .get_vote(Vote::Plus1)
        .also(vec![
            Vote::Minus1,
            Vote::Empty,
            Vote::InProgress,
            Vote::InProgress2,
            Vote::Foo,
            Vote::Foo2,
            Vote::Unknown("not listed".into()),
        ])
        .send()
        .await
        .expect("ballot");
    assert_eq!(ballot.data.vote, Vote::V2fa);
    let r = only_request(&server).await;
    assert_eq!(r.url.path(), "/votes/%2B1");
    assert_eq!(
        r.url.query(),
        Some("also=-1&also=&also=in-progress&also=in_progress&also=Foo&also=foo&also=not+listed")
    );
}

#[tokio::test]
async fn uuid_and_date_parameters_are_formatted() {
    use connector_tests::formats::{Client, models};
    let server = MockServer::start().await;
    let sample = serde_json::json!({
        "at": "2024-01-02T03:04:05Z", "day": "2024-01-02", "id": "8f0c1a9e-4b8e-4c59-9a8f-3a6c2a1d9b7e",
        "raw": "aGk=", "small": 1, "big": 2
    });
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(sample.clone()))
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let body: models::Sample = serde_json::from_value(sample).expect("sample");
    let id = body.id;
    client
        .samples()
        .put_sample(id, body.clone())
        .since(body.at)
        .day(body.day)
        .send()
        .await
        .expect("sample");
    let r = only_request(&server).await;
    assert_eq!(
        r.url.path(),
        "/samples/8f0c1a9e-4b8e-4c59-9a8f-3a6c2a1d9b7e"
    );
    assert_eq!(
        r.url.query(),
        Some("since=2024-01-02T03%3A04%3A05Z&day=2024-01-02")
    );
}

#[tokio::test]
async fn keyword_and_colliding_parameter_names_keep_their_wire_names() {
    use naming::{Client, models};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"type": "x", "user_name": "u", "additional_properties": "p", "extra": "e"}),
        ))
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let response = client
        .naming()
        .match_(models::Keywords {
            type_: "t".into(),
            ..Default::default()
        })
        .type_("a")
        .self_("b")
        .match_("c")
        .page_size(1)
        .page_size2(2)
        .options2("o")
        .send2("s")
        .id("in-query")
        .id2("in-header")
        .send()
        .await
        .expect("keywords");
    let k = response.data;
    assert_eq!(
        (k.type_.as_str(), k.user_name2.as_deref()),
        ("x", Some("u"))
    );
    assert_eq!(k.additional_properties2.as_deref(), Some("p"));
    assert_eq!(
        k.additional_properties.get("extra").map(String::as_str),
        Some("e")
    );
    assert_eq!(
        k.additional_properties.len(),
        1,
        "declared properties are not extras"
    );
    let r = only_request(&server).await;
    assert_eq!(r.url.path(), "/match");
    assert_eq!(
        r.url.query(),
        Some("type=a&self=b&match=c&Page-Size=1&page_size=2&options=o&send=s&id=in-query")
    );
    assert_eq!(header(&r, "id"), Some("in-header"));
    assert_eq!(r.body, br#"{"type":"t"}"#);
}

#[tokio::test]
async fn path_keys_with_a_query_string_send_it() {
    use naming::Client;
    let server = server(204).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    client
        .naming()
        .get_responses()
        .send()
        .await
        .expect("stable");
    client.naming().get_responses2().send().await.expect("beta");
    let all = received(&server).await;
    let urls: Vec<(&str, Option<&str>)> =
        all.iter().map(|r| (r.url.path(), r.url.query())).collect();
    assert_eq!(
        urls,
        [("/responses", None), ("/responses", Some("beta=true"))]
    );
}

#[tokio::test]
async fn every_renamed_operation_reaches_its_own_endpoint() {
    use naming::Client;
    let server = server(204).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let n = client.naming();
    // Decoding fails for some (204 has no JSON); only the request line matters here.
    let _ = n.get_users().send().await;
    let _ = n.get_user("u/1").send().await;
    let _ = n.get_user2("ann").send().await;
    n.get_user3("a@b.c").send().await.expect("204");
    n.new2().send().await.expect("204");
    n.get_thing_response().send().await.expect("204");
    let _ = n.get_thing().send().await;
    let _ = client.self_().self_().send().await;
    let _ = client.rt_api().type_().send().await;
    let all = received(&server).await;
    let lines: Vec<String> = all
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        lines,
        [
            "GET /users",
            "GET /users/u%2F1",
            "GET /user-by-name/ann",
            "GET /user-by-email/a%40b.c",
            "POST /new",
            "GET /things/raw",
            "GET /things",
            "GET /self",
            "GET /type",
        ]
    );
}

#[tokio::test]
async fn swagger2_collection_formats_become_styles() {
    use swagger2::Client;
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200).set_body_json(serde_json::json!([{"name": "rex"}])),
        )
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let pets = client
        .pets()
        .find_pets()
        .tags(vec!["a".into(), "b".into()])
        .status(vec!["x".into(), "y".into()])
        .ids(vec![1, 2])
        .send()
        .await
        .expect("pets");
    assert_eq!(pets.data.len(), 1);
    assert_eq!(pets.data[0].name, "rex");
    let r = only_request(&server).await;
    assert_eq!(r.url.path(), "/pets");
    assert_eq!(
        r.url.query(),
        Some("tags=a%2Cb&status=x&status=y&ids=1%7C2")
    );
}

#[tokio::test]
async fn dot_segment_path_values_are_refused_rather_than_resolved_away() {
    use naming::Client;
    let server = server(204).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    for value in ["..", "."] {
        let err = client
            .naming()
            .get_user(value)
            .send()
            .await
            .expect_err("refused");
        assert_eq!(err.code().as_str(), "VALIDATION_ERROR", "{value}: {err}");
        assert!(!err.request_sent());
    }
    assert!(
        received(&server).await.is_empty(),
        "nothing may reach another endpoint"
    );
    client
        .naming()
        .get_user3("...")
        .send()
        .await
        .expect("a name");
    client
        .naming()
        .get_user3("%2E%2E")
        .send()
        .await
        .expect("escaped, not a dot segment");
    let paths: Vec<String> = received(&server)
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, ["/user-by-email/...", "/user-by-email/%252E%252E"]);
}

#[tokio::test]
async fn header_parameters_that_auth_supplies_come_from_the_auth_settings() {
    use auth_headers::{Client, auth};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(["a post"])))
        .mount(&server)
        .await;
    // The operation declares `Api-Key`, `Api-Username` and `X-Service-Key` as required headers; the
    // builder takes none of them (this call has no arguments), the auth settings write them.
    let mut config = Client::config();
    config.base_url = server.uri();
    config.auth = Some(auth::forum_key("forum-key-1", "system"));
    let client = Client::new(config).await.expect("client");
    let posts = client
        .posts()
        .list_posts()
        .x_request_tag("tagged")
        .send()
        .await
        .expect("list posts");
    assert_eq!(posts.data, ["a post"]);

    let mut config = Client::config();
    config.base_url = server.uri();
    config.auth = Some(auth::service_key("service-key-2"));
    let client = Client::new(config).await.expect("client");
    client
        .posts()
        .list_posts()
        .send()
        .await
        .expect("list posts");

    let seen = received(&server).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(header(&seen[0], "api-key"), Some("forum-key-1"));
    assert_eq!(header(&seen[0], "api-username"), Some("system"));
    assert_eq!(header(&seen[0], "x-request-tag"), Some("tagged"));
    assert_eq!(header(&seen[0], "x-service-key"), None);
    assert_eq!(header(&seen[1], "x-service-key"), Some("service-key-2"));
    assert_eq!(header(&seen[1], "api-key"), None);
}
