//! Round trips of OpenAPI 3.2 features through generated clients against wiremock on loopback: the
//! QUERY method with a body (and its replay on a retryable failure), `additionalOperations` methods
//! sent as written (and not replayed without an idempotency key), operations of nested tags reached
//! through their parent's accessor, and a discriminator's `defaultMapping` deciding missing and
//! unknown discriminator values.

use connector_runtime::{ConnectorConfig, RetryConfig};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Up to three attempts, one millisecond apart.
fn quick_retries() -> RetryConfig {
    RetryConfig {
        max_attempts: 3,
        initial_delay_ms: 1,
        max_delay_ms: 5,
        jitter: false,
        ..RetryConfig::default()
    }
}

fn config(server: &MockServer, base: ConnectorConfig) -> ConnectorConfig {
    ConnectorConfig {
        base_url: server.uri(),
        retry: quick_retries(),
        ..base
    }
}

/// What the server saw: (method, path, body) of each request, in order.
async fn seen(server: &MockServer) -> Vec<(String, String, String)> {
    server
        .received_requests()
        .await
        .expect("recording is on")
        .into_iter()
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_owned(),
                String::from_utf8(r.body).expect("UTF-8 body"),
            )
        })
        .collect()
}

#[tokio::test]
async fn query_sends_its_body_with_the_query_method_and_decodes_the_answer() {
    use connector_tests::oas32_methods::{Client, models};
    let server = MockServer::start().await;
    Mock::given(method("QUERY"))
        .and(path("/search"))
        .and(body_json(json!({"text": "lamp", "limit": 2})))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([{"id": "i1", "name": "Desk lamp"}])),
        )
        .mount(&server)
        .await;
    let client = Client::new(config(&server, Client::config()))
        .await
        .expect("client");
    let found = client
        .items()
        .search_items(models::Search {
            text: "lamp".into(),
            limit: Some(2),
        })
        .send()
        .await
        .expect("the QUERY call succeeds");
    assert_eq!(
        found.data,
        vec![models::Item {
            id: "i1".into(),
            name: "Desk lamp".into()
        }]
    );
    let requests = seen(&server).await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].0, "QUERY");
}

#[tokio::test]
async fn query_is_idempotent_so_a_retryable_failure_replays_it_with_the_same_body() {
    use connector_tests::oas32_methods::{Client, models};
    let server = MockServer::start().await;
    Mock::given(method("QUERY"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("QUERY"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let client = Client::new(config(&server, Client::config()))
        .await
        .expect("client");
    let found = client
        .items()
        .search_items(models::Search {
            text: "chair".into(),
            limit: None,
        })
        .send()
        .await
        .expect("the second attempt succeeds");
    assert!(found.data.is_empty());
    let requests = seen(&server).await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    for (m, p, body) in &requests {
        assert_eq!((m.as_str(), p.as_str()), ("QUERY", "/search"));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).expect("JSON"),
            json!({"text": "chair"})
        );
    }
}

#[tokio::test]
async fn additional_operations_send_their_method_as_written() {
    use connector_tests::oas32_methods::Client;
    let server = MockServer::start().await;
    Mock::given(method("COPY"))
        .and(path("/items/i1"))
        .and(header("Destination", "/items/i2"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let client = Client::new(config(&server, Client::config()))
        .await
        .expect("client");
    client
        .items()
        .copy_item("i1", "/items/i2")
        .send()
        .await
        .expect("COPY answers 201");
    assert_eq!(seen(&server).await[0].0, "COPY");
}

#[tokio::test]
async fn a_method_outside_the_idempotent_ones_is_not_replayed_without_an_idempotency_key() {
    use connector_tests::oas32_methods::Client;
    let server = MockServer::start().await;
    Mock::given(method("PURGE"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let client = Client::new(config(&server, Client::config()))
        .await
        .expect("client");
    let err = client
        .items()
        .purge_item("i1")
        .send()
        .await
        .expect_err("a 503 is an error");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(503), "{err}");
    let requests = seen(&server).await;
    assert_eq!(requests.len(), 1, "PURGE was replayed: {requests:?}");
    assert_eq!(requests[0].0, "PURGE");

    // With an idempotency key the same failure is retried.
    let options = connector_runtime::__private::CallOptions {
        idempotency_key: Some("purge-i1".into()),
        ..Default::default()
    };
    let _ = client
        .items()
        .purge_item("i1")
        .options(options)
        .send()
        .await
        .expect_err("every attempt answers 503");
    assert_eq!(seen(&server).await.len(), 1 + 3);
}

#[tokio::test]
async fn nested_tags_are_reached_through_their_parent() {
    use connector_tests::oas32_tags::Client;
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/store/orders/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7, "status": "paid"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/store/orders/7/refunds"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = Client::new(config(&server, Client::config()))
        .await
        .expect("client");
    let order = client
        .store()
        .orders()
        .get_order(7)
        .send()
        .await
        .expect("the order");
    assert_eq!(order.data.id, 7);
    assert_eq!(order.data.status.as_deref(), Some("paid"));
    client
        .store()
        .orders()
        .refunds()
        .refund_order(7)
        .send()
        .await
        .expect("refunded");
    let paths: Vec<String> = seen(&server).await.into_iter().map(|r| r.1).collect();
    assert_eq!(paths, ["/store/orders/7", "/store/orders/7/refunds"]);
}

#[tokio::test]
async fn default_mapping_decides_missing_and_unknown_discriminator_values() {
    use connector_tests::oas32_discriminator::{Client, models};
    let answers = [
        (
            json!({"petType": "cat", "lives": 9}),
            models::Pet::Cat(models::Cat {
                pet_type: "cat".into(),
                lives: 9,
            }),
        ),
        // No discriminator at all.
        (
            json!({"name": "Rex"}),
            models::Pet::OtherPet(models::OtherPet {
                pet_type: None,
                name: "Rex".into(),
            }),
        ),
        // A value the mapping does not name.
        (
            json!({"petType": "lizard", "name": "Liz"}),
            models::Pet::OtherPet(models::OtherPet {
                pet_type: Some("lizard".into()),
                name: "Liz".into(),
            }),
        ),
    ];
    for (body, expected) in answers {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/pets/p1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&body))
            .mount(&server)
            .await;
        let client = Client::new(config(&server, Client::config()))
            .await
            .expect("client");
        let pet = client
            .pets()
            .get_pet("p1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("{body} does not decode: {e}"));
        assert_eq!(pet.data, expected, "{body}");
    }
}

#[tokio::test]
async fn default_mapping_outside_the_alternatives_is_a_variant_of_its_own() {
    use connector_tests::oas32_discriminator::{Client, models};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/events"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"type": "created", "id": "e1"},
            {"type": "renamed", "id": "e2", "to": "x"},
            {"id": "e3"}
        ])))
        .mount(&server)
        .await;
    let client = Client::new(config(&server, Client::config()))
        .await
        .expect("client");
    let events = client.events().list_events().send().await.expect("events");
    assert!(matches!(&events.data[0], models::Event::Created(c) if c.id == "e1"));
    match &events.data[1] {
        models::Event::UnknownEvent(u) => {
            assert_eq!(u.type_.as_deref(), Some("renamed"));
            assert_eq!(u.additional_properties.get("to"), Some(&json!("x")));
        }
        other => panic!("an unmapped type decodes as the default mapping, not {other:?}"),
    }
    match &events.data[2] {
        models::Event::UnknownEvent(u) => {
            assert_eq!(u.type_, None);
            assert_eq!(u.additional_properties.get("id"), Some(&json!("e3")));
        }
        other => panic!("a missing type decodes as the default mapping, not {other:?}"),
    }
}
