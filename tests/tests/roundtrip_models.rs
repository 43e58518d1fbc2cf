//! Round trips of models through generated clients against a loopback server that echoes what it
//! receives: the exact JSON sent (absent vs null vs value, formats, flattened extras, recursion),
//! decoding back into the same values, unknown enum values and union alternatives kept as they came,
//! discriminators picking the described variant, and `validate()` stopping bad bodies before sending.

use connector_runtime::ConnectorConfig;
use serde_json::json;
use wiremock::matchers::{any, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers 200 with the request body as it came.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_raw(request.body.clone(), "application/json")
    }
}

async fn echo_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(Echo).mount(&server).await;
    server
}

async fn answering(body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(&server)
        .await;
    server
}

async fn bodies(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .expect("recording is on")
        .into_iter()
        .map(|r| String::from_utf8(r.body).expect("UTF-8 body"))
        .collect()
}

/// The error of a call `validate()` refused: VALIDATION_ERROR naming `field`, nothing sent.
fn assert_refused(err: &connector_runtime::Error, field: &str) {
    assert_eq!(err.code().as_str(), "VALIDATION_ERROR", "{err}");
    assert_eq!(err.details().get("field"), Some(&json!(field)), "{err}");
    assert!(!err.request_sent(), "{err}");
}

#[tokio::test]
async fn optional_nullable_fields_tell_absent_null_and_value_apart() {
    use connector_tests::objects::{Client, models::Widget};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let absent = Widget {
        id: 1,
        name: "abc".into(),
        ..Default::default()
    };
    let null = Widget {
        color: Some(None),
        ..absent.clone()
    };
    let value = Widget {
        color: Some(Some("red".into())),
        label: Some("l".into()),
        ..absent.clone()
    };
    for w in [&absent, &null, &value] {
        let echoed = client
            .widgets()
            .create_widget(w.clone())
            .send()
            .await
            .expect("echo");
        assert_eq!(&echoed.data, w, "decoding gives back what was sent");
    }
    assert_eq!(
        bodies(&server).await,
        [
            r#"{"id":1,"name":"abc","label":null}"#,
            r#"{"id":1,"name":"abc","label":null,"color":null}"#,
            r#"{"id":1,"name":"abc","label":"l","color":"red"}"#,
        ]
    );
}

#[tokio::test]
async fn validate_refuses_bodies_outside_their_constraints_before_sending() {
    use connector_tests::objects::{Client, models::Dimensions, models::Widget};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let ok = Widget {
        id: 1,
        name: "abcdefghij".into(),
        weight: Some(100.0),
        dimensions: Some(Dimensions {
            width: 1,
            height: None,
        }),
        parts: Some(vec![
            Dimensions {
                width: 1,
                height: Some(0)
            };
            2
        ]),
        ..Default::default()
    };
    let cases = [
        (
            Widget {
                name: "ab".into(),
                ..ok.clone()
            },
            "Widget.name",
        ),
        (
            Widget {
                name: "abcdefghijk".into(),
                ..ok.clone()
            },
            "Widget.name",
        ),
        (
            // Length fits; the pattern `^[a-z]+$` does not.
            Widget {
                name: "ABCDEF".into(),
                ..ok.clone()
            },
            "Widget.name",
        ),
        (
            Widget {
                weight: Some(100.5),
                ..ok.clone()
            },
            "Widget.weight",
        ),
        (
            Widget {
                dimensions: Some(Dimensions {
                    width: 0,
                    height: None,
                }),
                ..ok.clone()
            },
            "Dimensions.width",
        ),
        (
            Widget {
                parts: Some(vec![
                    Dimensions {
                        width: 1,
                        height: None
                    };
                    3
                ]),
                ..ok.clone()
            },
            "Widget.parts",
        ),
        (
            Widget {
                parts: Some(vec![Dimensions {
                    width: 0,
                    height: None,
                }]),
                ..ok.clone()
            },
            "Dimensions.width",
        ),
    ];
    for (bad, field) in cases {
        assert!(bad.validate().is_err());
        let err = client
            .widgets()
            .create_widget(bad)
            .send()
            .await
            .expect_err("refused");
        assert_refused(&err, field);
    }
    assert!(
        bodies(&server).await.is_empty(),
        "nothing may reach the server"
    );
    // At the bounds it is sent.
    ok.validate().expect("valid");
    client
        .widgets()
        .create_widget(ok)
        .send()
        .await
        .expect("sent");
    assert_eq!(bodies(&server).await.len(), 1);
}

#[tokio::test]
async fn openapi_31_null_types_and_nullable_refs() {
    use connector_tests::nullable::{Client, models};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let record = models::Record {
        count: None,
        owner: None,
        title: None,
        legacy: Some(None),
        parent: Some(Some(models::Owner { name: "p".into() })),
        tags: Some(None),
        mode: Some(Some(models::RecordMode::Fast)),
        partner: None,
        backup: Some(models::MaybeOwner { name: "b".into() }),
    };
    let echoed = client
        .records()
        .put_record(record.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, record);
    assert_eq!(
        bodies(&server).await,
        [
            r#"{"count":null,"owner":null,"legacy":null,"parent":{"name":"p"},"tags":null,"mode":"fast","partner":null,"backup":{"name":"b"}}"#
        ]
    );
    let long = models::Record {
        title: Some(Some("toolong".into())),
        ..record
    };
    let err = client
        .records()
        .put_record(long)
        .send()
        .await
        .expect_err("title too long");
    assert_refused(&err, "Record.title");
    assert_eq!(bodies(&server).await.len(), 1);

    // Decoding: values, nulls, and an enum value this version does not know.
    let server = answering(json!({
        "count": 3, "owner": {"name": "o"}, "title": null, "mode": "medium",
        "partner": null, "backup": {"name": "b"}
    }))
    .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let got = client
        .records()
        .put_record(models::Record::default())
        .send()
        .await
        .expect("record");
    assert_eq!(got.data.count, Some(3));
    assert_eq!(got.data.owner, Some(models::Owner { name: "o".into() }));
    assert_eq!(got.data.title, Some(None), "present null");
    assert_eq!(got.data.legacy, None, "absent");
    assert_eq!(
        got.data.mode,
        Some(Some(models::RecordMode::Unknown("medium".into())))
    );
    assert_eq!(got.data.partner, None);
    assert_eq!(
        got.data.backup,
        Some(models::MaybeOwner { name: "b".into() })
    );
}

#[tokio::test]
async fn unknown_enum_values_decode_and_reserialise_unchanged() {
    use connector_tests::string_enums::{Client, models::BallotMood, models::Vote};
    let sent_by_server = r#"{"vote":"+2","history":["-1","","Foo","foo","unknown","Self","in_progress","2fa","weird value"],"mood":"meh"}"#;
    let server = MockServer::start().await;
    Mock::given(path("/votes/-1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sent_by_server, "application/json"))
        .mount(&server)
        .await;
    Mock::given(path("/ballots"))
        .respond_with(ResponseTemplate::new(204))
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
        .get_vote(Vote::Minus1)
        .send()
        .await
        .expect("ballot")
        .data;
    assert_eq!(ballot.vote, Vote::Unknown("+2".into()));
    assert_eq!(
        ballot.history.as_deref(),
        Some(
            &[
                Vote::Minus1,
                Vote::Empty,
                Vote::Foo,
                Vote::Foo2,
                Vote::UnknownValue,
                Vote::SelfValue,
                Vote::InProgress2,
                Vote::V2fa,
                Vote::Unknown("weird value".into()),
            ][..]
        )
    );
    assert_eq!(ballot.mood, Some(BallotMood::Unknown("meh".into())));
    assert_eq!(Vote::Plus1.as_str(), "+1");
    assert_eq!(Vote::from("in-progress"), Vote::InProgress);
    client
        .ballots()
        .cast_ballot(ballot)
        .send()
        .await
        .expect("204");
    let all = bodies(&server).await;
    assert_eq!(
        all[1], sent_by_server,
        "the ballot goes back exactly as it came"
    );
}

#[tokio::test]
async fn integer_enums_are_numbers_in_queries_and_bodies() {
    use connector_tests::integer_enums::{Client, models::Task};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let task = Task {
        priority: 3,
        ratio: Some(0.5),
        level: Some(-1),
    };
    let echoed = client
        .tasks()
        .create_task(2, task.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, task);
    let r = &server.received_requests().await.expect("recording is on")[0];
    assert_eq!(r.url.query(), Some("priority=2"));
    assert_eq!(r.body, br#"{"priority":3,"ratio":0.5,"level":-1}"#);
}

#[tokio::test]
async fn a_discriminator_mapping_picks_the_variant_and_unknown_tags_fall_to_other() {
    use connector_tests::discriminator_mapping::{Client, models};
    let server = MockServer::start().await;
    let answers = [
        ("cat", json!({"petType": "cat", "name": "tom"})),
        ("kitten", json!({"petType": "kitten", "name": "kit"})),
        ("dog", json!({"petType": "dog", "name": "rex"})),
        ("lizard", json!({"petType": "Lizard", "scales": 3})),
        ("fish", json!({"petType": "fish", "fins": 2})),
        ("untagged", json!({"name": "who"})),
        ("bad-dog", json!({"petType": "dog"})),
    ];
    for (id, body) in &answers {
        Mock::given(path(format!("/pets/{id}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    Mock::given(path("/pets"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let get = |id: &'static str| {
        let client = client.clone();
        async move { client.pets().get_pet(id).send().await.map(|r| r.data) }
    };
    let cat = |t: &str, n: &str| models::Cat {
        pet_type: t.into(),
        name: n.into(),
    };
    assert_eq!(
        get("cat").await.expect("cat"),
        models::Pet::Cat(cat("cat", "tom"))
    );
    assert_eq!(
        get("kitten").await.expect("kitten"),
        models::Pet::Cat(cat("kitten", "kit"))
    );
    assert_eq!(
        get("dog").await.expect("dog"),
        models::Pet::Dog(models::Dog {
            pet_type: "dog".into(),
            name: "rex".into()
        }),
        "same shape as Cat: only the tag decides"
    );
    assert_eq!(
        get("lizard").await.expect("lizard"),
        models::Pet::Lizard(models::Lizard {
            pet_type: "Lizard".into(),
            scales: Some(3)
        })
    );
    assert_eq!(
        get("fish").await.expect("fish"),
        models::Pet::Other(answers[4].1.clone())
    );
    assert_eq!(
        get("untagged").await.expect("untagged"),
        models::Pet::Other(answers[5].1.clone())
    );
    let err = get("bad-dog").await.expect_err("a dog without a name");
    assert_eq!(err.code().as_str(), "PARSING_ERROR", "{err}");

    let dog = models::Pet::Dog(models::Dog {
        pet_type: "dog".into(),
        name: "rex".into(),
    });
    let echoed = client
        .pets()
        .add_pet(dog.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, dog);
    let other = models::Pet::Other(json!({"petType": "fish", "fins": 2}));
    let echoed = client
        .pets()
        .add_pet(other.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, other);
    let all = bodies(&server).await;
    assert_eq!(
        &all[all.len() - 2..],
        [
            r#"{"petType":"dog","name":"rex"}"#,
            r#"{"petType":"fish","fins":2}"#
        ]
    );
}

#[tokio::test]
async fn discriminator_tags_from_const_enum_allof_and_inline_alternatives() {
    use connector_tests::discriminator_tags::{Client, models};
    let server = answering(json!([
        {"kind": "created", "id": "1"},
        {"kind": "deleted", "id": "2"},
        {"kind": "renamed", "id": "3"},
        {"kind": "archived", "id": "4"},
        {"kind": "moved", "id": "5"},
        {"id": "6"}
    ]))
    .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let events = client
        .events()
        .list_events()
        .send()
        .await
        .expect("events")
        .data;
    use models::Event;
    let [created, deleted, renamed, archived, moved, bare] = &events[..] else {
        panic!("six events: {events:?}")
    };
    assert!(
        matches!(created, Event::Created(e) if e.id == "1"),
        "{created:?}"
    );
    assert!(
        matches!(deleted, Event::Deleted(e) if e.id == "2"),
        "{deleted:?}"
    );
    assert!(
        matches!(renamed, Event::Renamed(e) if e.id == "3"),
        "{renamed:?}"
    );
    assert!(
        matches!(archived, Event::EventVariant3(e) if e.id == "4"),
        "{archived:?}"
    );
    assert_eq!(moved, &Event::Other(json!({"kind": "moved", "id": "5"})));
    assert_eq!(bare, &Event::Other(json!({"id": "6"})));
    // `Event` is only received, so it derives no `Serialize` (derives by direction).
}

#[tokio::test]
async fn untagged_unions_pick_the_alternative_that_fits() {
    use connector_tests::untagged_unions::{Client, models};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let text = r#"{"scalars":["a",1,1.5,true,null],"names":["n",["a","b"],3],"shapes":[{"radius":1.0},{"width":2.0,"height":3.0},{"side":4}],"maybe":null}"#;
    let bag: models::Bag = serde_json::from_str(text).expect("bag");
    use models::{Scalar, Shape, StringOrList};
    assert_eq!(
        bag.scalars.as_deref(),
        Some(
            &[
                Scalar::String("a".into()),
                Scalar::Integer(1),
                Scalar::Number(1.5),
                Scalar::Bool(true),
                Scalar::Other(json!(null)),
            ][..]
        )
    );
    assert_eq!(
        bag.names.as_deref(),
        Some(
            &[
                StringOrList::String("n".into()),
                StringOrList::List(vec!["a".into(), "b".into()]),
                StringOrList::Other(json!(3)),
            ][..]
        )
    );
    assert_eq!(
        bag.shapes.as_deref(),
        Some(
            &[
                Shape::Circle(models::Circle { radius: 1.0 }),
                Shape::Rectangle(models::Rectangle {
                    width: 2.0,
                    height: 3.0
                }),
                Shape::Other(json!({"side": 4})),
            ][..]
        )
    );
    assert_eq!(bag.maybe, Some(None));
    let echoed = client
        .values()
        .echo_values(bag.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, bag);
    assert_eq!(bodies(&server).await, [text]);
}

#[tokio::test]
async fn all_of_parts_merge_into_one_flat_object() {
    use connector_tests::all_of::{Client, models};
    let employee = json!({
        "id": "8f0c1a9e-4b8e-4c59-9a8f-3a6c2a1d9b7e", "name": "ann", "age": 30, "employer": "acme"
    });
    let server = answering(employee).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let id: uuid::Uuid = "8f0c1a9e-4b8e-4c59-9a8f-3a6c2a1d9b7e"
        .parse()
        .expect("uuid");
    let at = "2024-01-02T03:04:05Z".parse().expect("date-time");
    let person = models::Person {
        id,
        created_at: Some(at),
        name: "ann".into(),
        age: 30,
    };
    let got = client
        .people()
        .create_person(person.clone())
        .send()
        .await
        .expect("employee");
    assert_eq!(
        got.data,
        models::Employee {
            id,
            created_at: None,
            name: "ann".into(),
            age: 30,
            employer: "acme".into()
        }
    );
    assert_eq!(
        bodies(&server).await,
        [
            r#"{"id":"8f0c1a9e-4b8e-4c59-9a8f-3a6c2a1d9b7e","createdAt":"2024-01-02T03:04:05Z","name":"ann","age":30}"#
        ]
    );
    let young = models::Person {
        age: -1,
        ..person.clone()
    };
    assert_refused(
        &client
            .people()
            .create_person(young)
            .send()
            .await
            .expect_err("age"),
        "Person.age",
    );
    let nameless = models::Person {
        name: String::new(),
        ..person
    };
    assert_refused(
        &client
            .people()
            .create_person(nameless)
            .send()
            .await
            .expect_err("name"),
        "Person.name",
    );
    assert_eq!(bodies(&server).await.len(), 1);
}

#[tokio::test]
async fn additional_properties_keep_undescribed_keys() {
    use connector_tests::additional_properties::{Client, models};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let text = r#"{"labels":{"a":"b","c":"d"},"anything":{"x":[1,{"y":null}]},"metadata":{"version":2,"team":"core","tier":"1"},"open":{"name":"o","extra":{"deep":true}},"counts":{"a":{"b":1}},"closed":{"name":"c"},"limits":{"l":{"max":5}}}"#;
    let settings: models::Settings = serde_json::from_str(text).expect("settings");
    let metadata = settings.metadata.as_ref().expect("metadata");
    assert_eq!(metadata.version, 2);
    assert_eq!(
        metadata.additional_properties,
        [
            ("team".to_owned(), "core".to_owned()),
            ("tier".to_owned(), "1".to_owned())
        ]
        .into()
    );
    let open = settings.open.as_ref().expect("open");
    assert_eq!(open.additional_properties["extra"], json!({"deep": true}));
    assert!(!open.additional_properties.contains_key("name"));
    let echoed = client
        .settings()
        .put_settings(settings.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, settings);
    assert_eq!(bodies(&server).await, [text]);
}

#[tokio::test]
async fn recursive_models_round_trip_at_any_depth() {
    use connector_tests::recursion::{Client, models};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    // Deeper than any fixed unrolling of the recursive list and map aliases would reach.
    let mut json_text = String::from("{}");
    let mut nested_text = String::from("[]");
    for i in 0..40 {
        json_text = format!(r#"{{"k{i}":{json_text}}}"#);
        nested_text = format!("[{nested_text},[]]");
    }
    let text = format!(
        r#"{{"tree":{{"value":"root","parent":{{"value":"up"}},"children":[{{"value":"c","children":[{{"value":"cc"}}]}}],"byName":{{"x":{{"value":"x"}}}}}},"folder":{{"name":"f","readme":{{"name":"r","folder":{{"name":"g"}}}}}},"expr":{{"op":"+","left":{{"value":1.0}},"right":{{"op":"*","left":{{"value":2.0}},"right":{{"value":3.0}}}}}},"chain":{{"head":1,"tail":{{"head":2,"tail":null}}}},"json":{json_text},"nested":{nested_text}}}"#
    );
    let forest: models::Forest = serde_json::from_str(&text).expect("forest");
    match forest.expr.as_ref().expect("expr") {
        models::Expr::BinOp(op) => {
            assert_eq!(
                *op.left,
                models::Expr::Literal(models::Literal { value: 1.0 })
            );
            assert!(matches!(&*op.right, models::Expr::BinOp(inner) if inner.op == "*"));
        }
        other => panic!("expected an operation, got {other:?}"),
    }
    let mut depth = 0;
    let mut cur = forest.json.as_ref().expect("json");
    while let Some(next) = cur.0.values().next() {
        depth += 1;
        cur = next;
    }
    assert_eq!(depth, 40);
    let echoed = client
        .trees()
        .echo_tree(forest.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, forest);
    assert_eq!(bodies(&server).await, [text]);
}

#[tokio::test]
async fn arrays_of_arrays_and_empty_schemas() {
    use connector_tests::arrays::{Client, models};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let text = r#"{"cells":[[1.5,2.0],[]],"points":[[{"x":1,"y":2}],[]],"cubes":[[["a"],[]]],"anything":[1,"a",null,{"k":[]}],"untyped":[{}],"free":{"k":[1]}}"#;
    let grid: models::Grid = serde_json::from_str(text).expect("grid");
    assert_eq!(grid.cells, vec![vec![1.5, 2.0], vec![]]);
    assert_eq!(
        grid.points.as_ref().expect("points")[0][0],
        models::Point { x: 1, y: 2 }
    );
    let echoed = client
        .grids()
        .echo_grid(grid.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, grid);
    let any = client
        .matrix()
        .echo_matrix(vec![vec![1, 2], vec![3]])
        .send()
        .await
        .expect("echo");
    assert_eq!(any.data, json!([[1, 2], [3]]));
    assert_eq!(bodies(&server).await, [text, "[[1,2],[3]]"]);
}

#[tokio::test]
async fn formats_serialise_as_described() {
    use connector_tests::formats::{Client, models};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let from_server = json!({
        "at": "2024-01-02T05:04:05+02:00", "day": "2024-02-29", "id": "8F0C1A9E-4B8E-4C59-9A8F-3A6C2A1D9B7E",
        "raw": "aGn_", "blob": "bytes as text", "small": -2147483648i64, "big": 9007199254740993i64,
        "count": 7, "ratio": 0.25, "precise": 0.1, "email": "a@b.c", "amount": "12.30", "odd": 5
    });
    let sample: models::Sample = serde_json::from_value(from_server).expect("sample");
    assert_eq!(sample.raw.0, b"hi\xff", "URL-safe base64 accepted");
    assert_eq!(sample.at.to_rfc3339(), "2024-01-02T03:04:05+00:00");
    let echoed = client
        .samples()
        .put_sample(sample.id, sample.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, sample);
    assert_eq!(
        bodies(&server).await,
        [
            r#"{"at":"2024-01-02T03:04:05Z","day":"2024-02-29","id":"8f0c1a9e-4b8e-4c59-9a8f-3a6c2a1d9b7e","raw":"aGn/","blob":"bytes as text","small":-2147483648,"big":9007199254740993,"count":7,"ratio":0.25,"precise":0.1,"email":"a@b.c","amount":"12.30","odd":5}"#
        ]
    );
    let bad = serde_json::from_value::<models::Sample>(json!({
        "at": "yesterday", "day": "2024-02-29", "id": "8f0c1a9e-4b8e-4c59-9a8f-3a6c2a1d9b7e",
        "raw": "", "small": 1, "big": 1
    }));
    assert!(bad.is_err(), "a date-time is checked when decoding");
}

#[tokio::test]
async fn openapi_31_const_defs_prefix_items_and_exclusive_bounds() {
    use connector_tests::keywords_31::{Client, models};
    let server = echo_server().await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let envelope = models::Envelope {
        version: 2,
        kind: "envelope".into(),
        strict: Some(true),
        meta: models::Meta { source: "s".into() },
        pair: Some(vec![json!("a"), json!(1)]),
        score: Some(0.001),
    };
    let echoed = client
        .envelopes()
        .send_envelope(envelope.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, envelope);
    assert_eq!(
        bodies(&server).await,
        [
            r#"{"version":2,"kind":"envelope","strict":true,"meta":{"source":"s"},"pair":["a",1],"score":0.001}"#
        ]
    );
    for score in [0.0, 10.0, -1.0] {
        let bad = models::Envelope {
            score: Some(score),
            ..envelope.clone()
        };
        let err = client
            .envelopes()
            .send_envelope(bad)
            .send()
            .await
            .expect_err("exclusive bound");
        assert_refused(&err, "Envelope.score");
    }
    assert_eq!(bodies(&server).await.len(), 1);
}

#[tokio::test]
async fn refs_with_siblings_keep_their_target_type_and_constraints() {
    use connector_tests::ref_siblings::{Client, models};
    let server = MockServer::start().await;
    Mock::given(path("/docs/missing"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"title": "no such doc"})))
        .mount(&server)
        .await;
    Mock::given(any()).respond_with(Echo).mount(&server).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let doc = models::Doc {
        id: "d1".into(),
        author: models::Author { name: "ann".into() },
        editor: Some(models::Author { name: "bob".into() }),
    };
    let echoed = client
        .docs()
        .patch_doc("d1", doc.clone())
        .send()
        .await
        .expect("echo");
    assert_eq!(echoed.data, doc);
    let err = client
        .docs()
        .patch_doc("missing", doc.clone())
        .send()
        .await
        .expect_err("404");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(404));
    assert_eq!(
        err.body::<models::Problem>(),
        Some(&models::Problem {
            title: "no such doc".into()
        })
    );
    // minLength of the referenced identifier schema applies to the parameter and the field.
    assert_refused(
        &client
            .docs()
            .patch_doc("x", doc.clone())
            .send()
            .await
            .expect_err("id"),
        "docId",
    );
    let short = models::Doc {
        id: "x".into(),
        ..doc
    };
    assert_refused(
        &client
            .docs()
            .patch_doc("d1", short)
            .send()
            .await
            .expect_err("id"),
        "Doc.id",
    );
    assert_eq!(bodies(&server).await.len(), 2);
}
