//! Round trips of responses through generated clients: success types chosen by status, 204 beside 200,
//! typed error bodies by exact status, range and default, text and binary answers, from OpenAPI 3 and
//! Swagger 2.0 descriptions, against a loopback server.

use connector_runtime::{ConnectorConfig, RetryConfig};
use connector_tests::responses::{Client, models};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A client of the responses fixture that does not retry (5xx answers are part of the cases).
async fn client(server: &MockServer) -> Client {
    Client::new(ConnectorConfig {
        base_url: server.uri(),
        retry: RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        },
        ..Client::config()
    })
    .await
    .expect("client")
}

/// A server whose `POST /things` answers `status` with `body` (JSON, or nothing when null).
async fn create_answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    let template = match body {
        serde_json::Value::Null => ResponseTemplate::new(status),
        body => ResponseTemplate::new(status).set_body_json(body),
    };
    Mock::given(method("POST"))
        .and(path("/things"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn thing() -> models::Thing {
    models::Thing {
        id: "t1".into(),
        name: "one".into(),
    }
}

#[tokio::test]
async fn each_success_status_decodes_into_its_own_type() {
    use connector_tests::responses::things::CreateThingResponse as R;
    let cases = [
        (
            200,
            json!({"id": "t1", "name": "one"}),
            R::Status200(thing()),
        ),
        (
            201,
            json!({"id": "t2", "location": "/things/t2"}),
            R::Status201(models::Created {
                id: "t2".into(),
                location: "/things/t2".into(),
            }),
        ),
        (
            202,
            json!({"jobId": "j"}),
            R::Status202(models::Job { job_id: "j".into() }),
        ),
        (204, json!(null), R::Status204),
        (
            203,
            json!({"unexpected": true}),
            R::Other(json!({"unexpected": true})),
        ),
    ];
    for (status, body, expected) in cases {
        let server = create_answering(status, body).await;
        let got = client(&server)
            .await
            .things()
            .create_thing(thing())
            .send()
            .await;
        let got = got.unwrap_or_else(|e| panic!("{status}: {e}"));
        assert_eq!(got.status.as_u16(), status);
        assert_eq!(got.data, expected, "status {status}");
    }
}

#[tokio::test]
async fn error_bodies_are_typed_by_status_then_default() {
    let cases: [(u16, serde_json::Value); 5] = [
        (400, json!({"errors": ["name is empty"]})),
        (404, json!({"resource": "parent"})),
        (409, json!({"title": "conflict", "status": 409})),
        (418, json!({"title": "teapot"})),
        (503, json!({"title": "down"})),
    ];
    for (status, body) in cases {
        let server = create_answering(status, body.clone()).await;
        let err = client(&server)
            .await
            .things()
            .create_thing(thing())
            .send()
            .await
            .expect_err("an error status");
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status));
        assert_eq!(
            err.raw_body().map(|b| b.to_vec()),
            Some(body.to_string().into_bytes())
        );
        let invalid = err.body::<models::Invalid>();
        let missing = err.body::<models::Missing>();
        let problem = err.body::<models::Problem>();
        match status {
            400 => {
                assert_eq!(
                    invalid,
                    Some(&models::Invalid {
                        errors: vec!["name is empty".into()]
                    })
                );
                assert!(missing.is_none() && problem.is_none());
                assert_eq!(err.code().as_str(), "INVALID_REQUEST");
            }
            404 => {
                assert_eq!(
                    missing,
                    Some(&models::Missing {
                        resource: "parent".into()
                    })
                );
                assert!(invalid.is_none() && problem.is_none());
            }
            _ => {
                let expected = serde_json::from_value::<models::Problem>(body).expect("problem");
                assert_eq!(problem, Some(&expected), "default for {status}");
                assert!(invalid.is_none() && missing.is_none());
            }
        }
    }
}

#[tokio::test]
async fn an_error_body_that_does_not_match_its_schema_stays_raw() {
    let server = create_answering(400, json!({"message": "not the described shape"})).await;
    let err = client(&server)
        .await
        .things()
        .create_thing(thing())
        .send()
        .await
        .expect_err("400");
    assert!(err.body::<models::Invalid>().is_none());
    assert_eq!(
        err.raw_body().map(|b| b.to_vec()),
        Some(br#"{"message":"not the described shape"}"#.to_vec())
    );
}

#[tokio::test]
async fn range_errors_apply_after_exact_statuses_and_no_default_means_untyped() {
    let server = MockServer::start().await;
    for (p, status, body) in [
        ("/things/a", 409, json!({"resource": "a"})),
        ("/things/b", 400, json!({"errors": ["b"]})),
        ("/things/c", 422, json!({"errors": ["c"]})),
        ("/things/d", 500, json!({"errors": ["d"]})),
        ("/things/ok", 204, json!(null)),
    ] {
        let t = if body.is_null() {
            ResponseTemplate::new(status)
        } else {
            ResponseTemplate::new(status).set_body_json(body)
        };
        Mock::given(method("PUT"))
            .and(path(p))
            .respond_with(t)
            .mount(&server)
            .await;
    }
    let client = client(&server).await;
    let replace = |id: &'static str| client.things().replace_thing(id, thing()).send();
    let ok = replace("ok").await.expect("204");
    assert_eq!((ok.status.as_u16(), ok.data), (204, ()));
    let a = replace("a").await.expect_err("409");
    assert_eq!(
        a.body::<models::Missing>(),
        Some(&models::Missing {
            resource: "a".into()
        })
    );
    for (id, text) in [("b", "b"), ("c", "c")] {
        let e = replace(id).await.expect_err("4xx");
        assert_eq!(
            e.body::<models::Invalid>(),
            Some(&models::Invalid {
                errors: vec![text.into()]
            })
        );
    }
    let d = replace("d").await.expect_err("500");
    assert!(
        d.body::<models::Invalid>().is_none(),
        "5xx is outside 4XX and there is no default"
    );
    assert_eq!(d.code().as_str(), "SERVER_ERROR");
}

#[tokio::test]
async fn two_hundred_with_a_body_beside_204_without_one() {
    let server = MockServer::start().await;
    Mock::given(path("/things/full"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "t1", "name": "one"})))
        .mount(&server)
        .await;
    Mock::given(path("/things/gone"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(path("/things/nope"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"title": "nope"})))
        .mount(&server)
        .await;
    let client = client(&server).await;
    let full = client
        .things()
        .delete_thing("full")
        .send()
        .await
        .expect("200");
    assert_eq!(full.data, Some(thing()));
    let gone = client
        .things()
        .delete_thing("gone")
        .send()
        .await
        .expect("204");
    assert_eq!((gone.status.as_u16(), gone.data), (204, None));
    let nope = client
        .things()
        .delete_thing("nope")
        .send()
        .await
        .expect_err("404");
    assert_eq!(
        nope.body::<models::Problem>().map(|p| p.title.as_str()),
        Some("nope")
    );
}

#[tokio::test]
async fn text_and_binary_answers_come_back_unchanged() {
    let server = MockServer::start().await;
    let png: Vec<u8> = vec![137, 80, 78, 71, 13, 10, 26, 10, 0, 255];
    Mock::given(path("/things/t1/report"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("line 1\nlíne 2\n", "text/plain"))
        .mount(&server)
        .await;
    Mock::given(path("/things/t2/report"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"title": "no report"})))
        .mount(&server)
        .await;
    Mock::given(path("/things/t1/image"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(png.clone(), "image/png"))
        .mount(&server)
        .await;
    Mock::given(path("/things/t1/export"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "t1", "name": "one"})))
        .mount(&server)
        .await;
    Mock::given(path("/things/t2/export"))
        .respond_with(
            ResponseTemplate::new(206).set_body_raw(png.clone(), "application/octet-stream"),
        )
        .mount(&server)
        .await;
    Mock::given(path("/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let client = client(&server).await;
    let things = client.things();
    assert_eq!(
        things.get_report("t1").send().await.expect("text").data,
        "line 1\nlíne 2\n"
    );
    let missing = things.get_report("t2").send().await.expect_err("404");
    assert_eq!(
        missing.body::<models::Problem>().map(|p| p.title.as_str()),
        Some("no report")
    );
    assert_eq!(
        things
            .get_image("t1")
            .send()
            .await
            .expect("png")
            .data
            .to_vec(),
        png
    );
    use connector_tests::responses::things::ExportThingResponse as E;
    assert_eq!(
        things.export_thing("t1").send().await.expect("json").data,
        E::Status200(thing())
    );
    assert_eq!(
        things.export_thing("t2").send().await.expect("bytes").data,
        E::Status206(png.clone().into())
    );
    let health = client.health().health().send().await.expect("health");
    assert_eq!(health.data, models::HealthResponse { ok: true });
}

#[tokio::test]
async fn an_operation_documenting_only_a_redirect_answers_with_what_it_leads_to() {
    let server = MockServer::start().await;
    let archive: Vec<u8> = vec![0x1f, 0x8b, 8, 0, 1, 2, 3];
    Mock::given(path("/things/t1/archive"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/storage/t1.tar.gz", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path("/storage/t1.tar.gz"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(archive.clone(), "application/gzip"))
        .expect(1)
        .mount(&server)
        .await;
    let followed = client(&server)
        .await
        .things()
        .download_archive("t1")
        .send()
        .await
        .expect("the redirect is followed");
    assert_eq!(followed.status.as_u16(), 200);
    assert_eq!(followed.data.to_vec(), archive);

    // Not following: the 302 itself, with where it points.
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        max_redirects: 0,
        ..Client::config()
    })
    .await
    .expect("client");
    let redirect = client
        .things()
        .download_archive("t1")
        .send()
        .await
        .expect("the 302 is the answer");
    assert_eq!(redirect.status.as_u16(), 302);
    assert_eq!(
        redirect
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some(format!("{}/storage/t1.tar.gz", server.uri()).as_str())
    );
    assert!(redirect.data.is_empty());
}

#[tokio::test]
async fn swagger2_produces_picks_json_or_text() {
    use connector_tests::swagger2::{Client, models::Pet};
    let server = MockServer::start().await;
    Mock::given(path("/pets/5"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 5, "name": "rex"})))
        .mount(&server)
        .await;
    Mock::given(path("/export"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("id,name\n5,rex\n", "text/csv"))
        .mount(&server)
        .await;
    Mock::given(path("/pets"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"message": "bad"})))
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let pet = client.pets().get_pet(5).send().await.expect("pet");
    assert_eq!(
        pet.data,
        Pet {
            id: Some(5),
            name: "rex".into(),
            nickname: None
        }
    );
    assert_eq!(
        client.export().pets().send().await.expect("csv").data,
        "id,name\n5,rex\n"
    );
    let err = client
        .pets()
        .add_pet(Pet {
            name: "x".into(),
            ..Default::default()
        })
        .send()
        .await
        .expect_err("400");
    let typed = err.body::<connector_tests::swagger2::models::ApiError>();
    assert_eq!(typed.map(|e| e.message.as_str()), Some("bad"));
}

#[tokio::test]
async fn colliding_response_enum_names_stay_apart() {
    use connector_tests::naming::{Client, models, naming::GetThing2Response as R};
    let server = MockServer::start().await;
    Mock::given(path("/things"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"size": 3})))
        .mount(&server)
        .await;
    Mock::given(path("/things/raw"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let thing = client.naming().get_thing().send().await.expect("201");
    assert_eq!(thing.data, R::Status201(models::BoxModel { size: Some(3) }));
    let raw = client
        .naming()
        .get_thing_response()
        .send()
        .await
        .expect("204");
    assert_eq!(raw.data, ());
}
