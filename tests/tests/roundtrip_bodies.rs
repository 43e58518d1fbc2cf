//! Round trips of request bodies through generated clients: the exact bytes and content type a loopback
//! server receives for JSON, form-urlencoded (bracket notation), multipart (parsed part by part), raw
//! bytes and text, from OpenAPI 3 and Swagger 2.0 descriptions.

use connector_runtime::{Bytes, ConnectorConfig, FilePart};
use connector_tests::{request_bodies, swagger2};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

async fn server_answering(status: u16, body: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .mount(&server)
        .await;
    server
}

async fn only_request(server: &MockServer) -> Request {
    let mut all = server.received_requests().await.expect("recording is on");
    assert_eq!(
        all.len(),
        1,
        "expected exactly one request, got {}",
        all.len()
    );
    all.remove(0)
}

fn content_type(r: &Request) -> Option<&str> {
    r.headers
        .get("content-type")
        .map(|v| v.to_str().expect("ASCII header"))
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, PartialEq)]
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Vec<u8>,
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Split a multipart body on its boundary and read each part's headers (RFC 7578).
fn multipart_parts(r: &Request) -> Vec<Part> {
    let ct = content_type(r).expect("content type");
    let boundary = ct
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not multipart: {ct}"));
    let delimiter = format!("--{boundary}");
    let mut rest: &[u8] = &r.body;
    let mut parts = Vec::new();
    let start = find(rest, delimiter.as_bytes()).expect("first boundary");
    rest = &rest[start + delimiter.len()..];
    loop {
        if rest.starts_with(b"--") {
            assert_eq!(
                &rest[2..],
                b"\r\n",
                "nothing but CRLF after the closing boundary"
            );
            return parts;
        }
        rest = rest.strip_prefix(b"\r\n").expect("CRLF after a boundary");
        let head_end = find(rest, b"\r\n\r\n").expect("end of part headers");
        let head = std::str::from_utf8(&rest[..head_end]).expect("UTF-8 part headers");
        let body_and_more = &rest[head_end + 4..];
        let next =
            find(body_and_more, format!("\r\n{delimiter}").as_bytes()).expect("next boundary");
        let data = body_and_more[..next].to_vec();
        rest = &body_and_more[next + 2 + delimiter.len()..];
        let mut part = Part {
            name: String::new(),
            filename: None,
            content_type: None,
            data,
        };
        for line in head.split("\r\n") {
            let (k, v) = line.split_once(": ").expect("header line");
            match k.to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    for attr in v.split("; ").skip(1) {
                        let (a, val) = attr.split_once('=').expect("attribute");
                        let val = val.trim_matches('"').to_owned();
                        match a {
                            "name" => part.name = val,
                            "filename" => part.filename = Some(val),
                            other => panic!("unexpected attribute {other}"),
                        }
                    }
                    assert!(v.starts_with("form-data"), "{v}");
                }
                "content-type" => part.content_type = Some(v.to_owned()),
                other => panic!("unexpected part header {other}"),
            }
        }
        parts.push(part);
    }
}

/// Decode `application/x-www-form-urlencoded` text into pairs.
fn form_pairs(body: &str) -> Vec<(String, String)> {
    let decode = |s: &str| {
        let s = s.replace('+', " ");
        let mut out = Vec::new();
        let mut bytes = s.bytes();
        while let Some(b) = bytes.next() {
            if b == b'%' {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                out.push(u8::from_str_radix(&hex, 16).expect("percent escape"));
            } else {
                out.push(b);
            }
        }
        String::from_utf8(out).expect("UTF-8")
    };
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn text_part(name: &str, value: &str) -> Part {
    Part {
        name: name.into(),
        filename: None,
        content_type: None,
        data: value.as_bytes().to_vec(),
    }
}

#[tokio::test]
async fn json_bodies_use_the_described_media_type() {
    use request_bodies::{Client, models};
    let server = server_answering(204, serde_json::json!({})).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    client
        .json()
        .send_json()
        .body(models::Address {
            street: Some("x".into()),
            city: None,
        })
        .send()
        .await
        .expect("204");
    let r = only_request(&server).await;
    assert_eq!(r.method.as_str(), "POST");
    assert_eq!(content_type(&r), Some("application/merge-patch+json"));
    assert_eq!(r.body, br#"{"street":"x"}"#);
}

#[tokio::test]
async fn an_optional_body_left_unset_sends_nothing() {
    use request_bodies::Client;
    let server = server_answering(204, serde_json::json!({})).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    client.json().send_json().send().await.expect("204");
    let r = only_request(&server).await;
    assert_eq!(content_type(&r), None);
    assert!(r.body.is_empty());
}

#[tokio::test]
async fn form_bodies_use_bracket_notation_for_nested_values() {
    use request_bodies::{Client, models};
    let server = server_answering(204, serde_json::json!({})).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let charge = models::Charge {
        amount: 500,
        currency: "usd".into(),
        description: Some("a b&c".into()),
        capture: Some(true),
        expand: Some(vec!["x".into(), "y".into()]),
        metadata: Some([("k1".into(), "v1".into()), ("k 2".into(), "v=2".into())].into()),
        shipping: Some(models::Address {
            street: Some("1 Main".into()),
            city: None,
        }),
        items: Some(vec![
            models::LineItem {
                price: "p1".into(),
                quantity: Some(2),
            },
            models::LineItem {
                price: "p2".into(),
                quantity: None,
            },
        ]),
    };
    client.form().send_form(charge).send().await.expect("204");
    let r = only_request(&server).await;
    assert_eq!(content_type(&r), Some("application/x-www-form-urlencoded"));
    let body = std::str::from_utf8(&r.body).expect("UTF-8");
    assert_eq!(
        body,
        "amount=500&currency=usd&description=a+b%26c&capture=true&expand=x&expand=y\
         &metadata%5Bk+2%5D=v%3D2&metadata%5Bk1%5D=v1&shipping%5Bstreet%5D=1+Main\
         &items%5B0%5D%5Bprice%5D=p1&items%5B0%5D%5Bquantity%5D=2&items%5B1%5D%5Bprice%5D=p2"
    );
    let pairs = form_pairs(body);
    assert!(
        pairs.contains(&("metadata[k 2]".into(), "v=2".into())),
        "{pairs:?}"
    );
    assert!(
        pairs.contains(&("items[1][price]".into(), "p2".into())),
        "{pairs:?}"
    );
}

#[tokio::test]
async fn multipart_bodies_carry_files_and_fields() {
    use request_bodies::{Client, models};
    let server = server_answering(200, serde_json::json!({"size": 5})).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let body = models::UploadBody {
        file: FilePart::new("a.txt", "hello").content_type("text/plain"),
        thumbnail: None,
        attachments: Some(vec![
            FilePart::new("1.bin", vec![0u8, 255, 13, 10]),
            FilePart {
                filename: None,
                content_type: None,
                data: Bytes::from_static(b"2"),
            },
        ]),
        purpose: "fine-tune".into(),
        count: Some(3),
        labels: Some(vec!["x".into(), "y".into()]),
        address: Some(models::Address {
            street: Some("s".into()),
            city: None,
        }),
    };
    let response = client.upload().upload(body).send().await.expect("200");
    assert_eq!(response.data.size, 5);
    let r = only_request(&server).await;
    let parts = multipart_parts(&r);
    assert_eq!(
        parts,
        [
            Part {
                name: "file".into(),
                filename: Some("a.txt".into()),
                content_type: Some("text/plain".into()),
                data: b"hello".to_vec(),
            },
            Part {
                name: "attachments".into(),
                filename: Some("1.bin".into()),
                content_type: Some("application/octet-stream".into()),
                data: vec![0, 255, 13, 10],
            },
            Part {
                name: "attachments".into(),
                filename: Some("attachments".into()),
                content_type: Some("application/octet-stream".into()),
                data: b"2".to_vec(),
            },
            text_part("purpose", "fine-tune"),
            text_part("count", "3"),
            text_part("labels", "x"),
            text_part("labels", "y"),
            Part {
                name: "address".into(),
                filename: None,
                content_type: Some("application/json".into()),
                data: br#"{"street":"s"}"#.to_vec(),
            },
        ]
    );
}

#[tokio::test]
async fn raw_byte_and_text_bodies_are_sent_unchanged() {
    use request_bodies::Client;
    let server = server_answering(204, serde_json::json!({})).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let data = Bytes::from_static(&[0, 1, 2, 255, b'{']);
    client
        .blobs()
        .put_blob("b 1", data.clone())
        .send()
        .await
        .expect("204");
    client
        .notes()
        .post_note("héllo\nwörld".to_owned())
        .send()
        .await
        .expect("204");
    let all = server.received_requests().await.expect("recording is on");
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].method.as_str(), "PUT");
    assert_eq!(all[0].url.path(), "/blobs/b%201");
    assert_eq!(content_type(&all[0]), Some("application/octet-stream"));
    assert_eq!(all[0].body, data.to_vec());
    assert_eq!(content_type(&all[1]), Some("text/plain"));
    assert_eq!(all[1].body, "héllo\nwörld".as_bytes());
}

#[tokio::test]
async fn swagger2_body_parameters_become_json_bodies() {
    use swagger2::{Client, models};
    let server = server_answering(
        200,
        serde_json::json!({"id": 9, "name": "rex", "nickname": null}),
    )
    .await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let pet = models::Pet {
        id: None,
        name: "rex".into(),
        nickname: Some(None),
    };
    let stored = client.pets().add_pet(pet).send().await.expect("pet");
    assert_eq!(
        stored.data,
        models::Pet {
            id: Some(9),
            name: "rex".into(),
            nickname: Some(None)
        }
    );
    let r = only_request(&server).await;
    assert_eq!(content_type(&r), Some("application/json"));
    assert_eq!(r.body, br#"{"name":"rex","nickname":null}"#);
}

#[tokio::test]
async fn swagger2_form_data_becomes_multipart_with_a_file() {
    use swagger2::{Client, models};
    let server = server_answering(200, serde_json::json!({"code": 1, "message": "ok"})).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let body = models::UploadPhotoBody {
        file: FilePart::new("cat.png", vec![137u8, 80, 78, 71]).content_type("image/png"),
        caption: Some("a cat".into()),
    };
    let answer = client
        .pets()
        .upload_photo(7, body)
        .send()
        .await
        .expect("stored");
    assert_eq!(answer.data.message.as_deref(), Some("ok"));
    let r = only_request(&server).await;
    assert_eq!(r.url.path(), "/pets/7/photo");
    assert_eq!(
        multipart_parts(&r),
        [
            Part {
                name: "file".into(),
                filename: Some("cat.png".into()),
                content_type: Some("image/png".into()),
                data: vec![137, 80, 78, 71],
            },
            text_part("caption", "a cat"),
        ]
    );
}

#[tokio::test]
async fn swagger2_form_data_becomes_a_urlencoded_body() {
    use swagger2::{Client, models};
    let server = server_answering(200, serde_json::json!("token-1")).await;
    let client = Client::new(ConnectorConfig {
        base_url: server.uri(),
        ..Client::config()
    })
    .await
    .expect("client");
    let body = models::LoginBody {
        username: "u".into(),
        password: "p w&".into(),
        remember: Some(false),
    };
    let token = client.login().login(body).send().await.expect("token");
    assert_eq!(token.data, "token-1");
    let r = only_request(&server).await;
    assert_eq!(content_type(&r), Some("application/x-www-form-urlencoded"));
    assert_eq!(r.body, b"username=u&password=p+w%26&remember=false");
}
