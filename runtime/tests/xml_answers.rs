//! What `send_xml` makes of an answer without a body: `None`, a document whose fields are all
//! optional with none of them, and a PARSING_ERROR when the document has a required field.

mod support;

use connector_runtime::__private::{Op, STRING, XmlField, XmlShape, XmlStruct, send_xml};
use connector_runtime::{ConnectorConfig, ErrorCode, Method};
use serde::Deserialize;
use support::{CountingServer, connected};

/// An answer whose fields all live in headers for some operations (S3's `PutObjectOutput`).
#[derive(Debug, Default, PartialEq, Deserialize)]
struct Optional {
    #[serde(rename = "Location", default)]
    location: Option<String>,
}

static OPTIONAL_XML: XmlShape = XmlShape::Struct(XmlStruct {
    name: "Optional",
    namespace: None,
    prefix: None,
    fields: &[XmlField {
        xml: "Location",
        field: "Location",
        attribute: false,
        shape: &STRING,
    }],
});

/// An answer that must name something.
#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Required {
    #[serde(rename = "Name")]
    name: String,
}

static REQUIRED_XML: XmlShape = XmlShape::Struct(XmlStruct {
    name: "Required",
    namespace: None,
    prefix: None,
    fields: &[XmlField {
        xml: "Name",
        field: "Name",
        attribute: false,
        shape: &STRING,
    }],
});

/// A server answering every request 200 with no body, as XML.
async fn empty_answers() -> CountingServer {
    CountingServer::start(|_, _| async {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/xml")
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap()
    })
    .await
}

#[tokio::test]
async fn an_empty_answer_is_a_document_without_its_optional_fields() {
    let server = empty_answers().await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let r = send_xml::<Optional>(&c, Op::new(Method::PUT, "/bucket/key"), &OPTIONAL_XML)
        .await
        .expect("an empty answer fits a document of optional fields");
    assert_eq!(r.status, 200);
    assert_eq!(r.data, Optional::default());
}

#[tokio::test]
async fn an_empty_answer_is_none_where_the_answer_is_optional() {
    let server = empty_answers().await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let r = send_xml::<Option<Optional>>(&c, Op::new(Method::GET, "/x"), &OPTIONAL_XML)
        .await
        .expect("an empty answer is None");
    assert_eq!(r.data, None);
}

#[tokio::test]
async fn an_empty_answer_without_a_required_field_is_a_parsing_error() {
    let server = empty_answers().await;
    let c = connected(ConnectorConfig::new(server.url())).await;
    let e = send_xml::<Required>(&c, Op::new(Method::GET, "/x"), &REQUIRED_XML)
        .await
        .expect_err("a required field cannot be absent");
    assert_eq!(e.code(), ErrorCode::ParsingError);
    assert!(e.message().contains("the XML answer is empty"), "{e}");
}
