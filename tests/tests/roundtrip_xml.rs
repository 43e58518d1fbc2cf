//! Round trips of XML through generated clients against a loopback server: typed XML answers and
//! bodies (the server checks the bytes), the AWS query protocol's flattened forms, query-wrapped
//! answers, errors told apart by the provider's code, a throttling code retried, and XML paging.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use connector_runtime::{ConnectorConfig, ErrorCode, RetryConfig};
use connector_tests::{aws_query, xml_bodies};
use futures_util::StreamExt;
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn config(server: &MockServer, attempts: u32) -> ConnectorConfig {
    ConnectorConfig {
        base_url: server.uri(),
        retry: RetryConfig {
            max_attempts: attempts,
            initial_delay_ms: 1,
            max_delay_ms: 5,
            jitter: false,
            ..RetryConfig::default()
        },
        ..ConnectorConfig::new(server.uri())
    }
}

fn xml(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "text/xml")
}

#[tokio::test]
async fn a_typed_xml_answer_is_decoded_by_its_shape() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/books/7"))
        .respond_with(xml(
            200,
            r#"<?xml version="1.0" encoding="UTF-8"?>
            <lib:book xmlns:lib="http://example.com/schema/library" id="7">
              <lib:Title>Fish &amp; Chips</lib:Title><available>true</available><price>12.5</price>
              <authors><author><name>Ann</name></author></authors>
              <tag>food</tag>
              <series><name>Kitchen</name><next><name>Garden</name></next></series>
            </lib:book>"#,
        ))
        .mount(&server)
        .await;
    let client = xml_bodies::Client::new(config(&server, 1)).await.unwrap();
    let book = client.books().get_book(7).send().await.unwrap().data;
    assert_eq!(book.id, 7);
    assert_eq!(book.title, "Fish & Chips");
    assert_eq!(book.available, Some(true));
    assert_eq!(book.price, Some(12.5));
    let authors = book.authors.unwrap();
    assert_eq!(authors.len(), 1, "one wrapped item is a one-item list");
    assert_eq!(authors[0].name.as_deref(), Some("Ann"));
    assert_eq!(book.tags, Some(vec!["food".to_owned()]));
    let series = book.series.unwrap();
    assert_eq!(series.name.as_deref(), Some("Kitchen"));
    assert_eq!(series.next.unwrap().name.as_deref(), Some("Garden"));
}

#[tokio::test]
async fn a_typed_xml_body_is_sent_as_its_shape_says() {
    let server = MockServer::start().await;
    let expected = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <lib:book xmlns:lib=\"http://example.com/schema/library\" id=\"9\">\
        <Title>A &lt;B&gt; &amp; C</Title><available>false</available>\
        <authors><author><name>Bo</name></author><author><name>Cy</name></author></authors>\
        <tag>x</tag><tag>y</tag></lib:book>";
    Mock::given(method("PUT"))
        .and(path("/books/9"))
        .and(header("content-type", "application/xml"))
        .and(body_string(expected))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = xml_bodies::Client::new(config(&server, 1)).await.unwrap();
    let book = xml_bodies::models::Book {
        id: 9,
        title: "A <B> & C".into(),
        available: Some(false),
        price: None,
        authors: Some(vec![
            xml_bodies::models::Author {
                name: Some("Bo".into()),
            },
            xml_bodies::models::Author {
                name: Some("Cy".into()),
            },
        ]),
        tags: Some(vec!["x".into(), "y".into()]),
        series: None,
    };
    client.books().put_book(9, book).send().await.unwrap();
}

#[tokio::test]
async fn an_xml_error_body_is_typed_by_status() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/books/1"))
        .respond_with(xml(
            404,
            "<problem><code>missing</code><detail>no book 1</detail></problem>",
        ))
        .mount(&server)
        .await;
    let client = xml_bodies::Client::new(config(&server, 1)).await.unwrap();
    let e = client.books().get_book(1).send().await.unwrap_err();
    let p = e
        .body::<xml_bodies::models::Problem>()
        .expect("typed error");
    assert_eq!(p.detail.as_deref(), Some("no book 1"));
}

#[tokio::test]
async fn a_query_protocol_body_is_a_flattened_form_and_the_wrapped_answer_is_unwrapped() {
    let server = MockServer::start().await;
    let form = "Action=CreateQueue&Version=2012-11-05&QueueName=jobs\
        &Labels.member.1=a&Labels.member.2=b&Policy.1=p1\
        &RedrivePolicy.MaxReceiveCount=5&RedrivePolicy.DeadLetterTargetArn=arn%3Adlq";
    Mock::given(method("POST"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(form))
        .respond_with(xml(
            200,
            "<CreateQueueResponse><CreateQueueResult><QueueUrl>https://q/jobs</QueueUrl>\
             </CreateQueueResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata>\
             </CreateQueueResponse>",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = aws_query::Client::new(config(&server, 1)).await.unwrap();
    let body = aws_query::models::CreateQueueRequest {
        queue_name: "jobs".into(),
        labels: Some(vec!["a".into(), "b".into()]),
        policies: Some(vec!["p1".into()]),
        redrive_policy: Some(aws_query::models::RedrivePolicy {
            max_receive_count: Some(5),
            dead_letter_target_arn: Some("arn:dlq".into()),
        }),
    };
    let created = client
        .queues()
        .post_create_queue(body)
        .send()
        .await
        .unwrap()
        .data;
    assert_eq!(created.queue_url.as_deref(), Some("https://q/jobs"));
}

#[tokio::test]
async fn query_parameters_of_a_query_protocol_operation_are_flattened() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/123/jobs/"))
        .and(query_param("AttributeNames.member.1", "All"))
        .and(query_param("AttributeNames.member.2", "Policy"))
        .and(query_param("Action", "GetQueueAttributes"))
        .respond_with(xml(
            200,
            "<GetQueueAttributesResponse><GetQueueAttributesResult><VisibleMessages>3</VisibleMessages>\
             <FifoQueue>false</FifoQueue><Labels><member>x</member></Labels>\
             </GetQueueAttributesResult></GetQueueAttributesResponse>",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = aws_query::Client::new(config(&server, 1)).await.unwrap();
    let attrs = client
        .queues()
        .get_get_queue_attributes(123, "jobs")
        .attribute_names(vec!["All".into(), "Policy".into()])
        .send()
        .await
        .unwrap()
        .data;
    assert_eq!(attrs.visible_messages, Some(3));
    assert_eq!(attrs.fifo_queue, Some(false));
    assert_eq!(attrs.labels, Some(vec!["x".to_owned()]));
}

#[tokio::test]
async fn an_error_with_an_invented_status_is_typed_by_its_code() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/123/gone/"))
        .respond_with(xml(
            400,
            "<ErrorResponse><Error><Type>Sender</Type><Code>QueueDoesNotExist</Code>\
             <Message>The queue does not exist.</Message></Error><RequestId>r2</RequestId></ErrorResponse>",
        ))
        .mount(&server)
        .await;
    let client = aws_query::Client::new(config(&server, 1)).await.unwrap();
    let e = client
        .queues()
        .get_get_queue_attributes(123, "gone")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400));
    assert_eq!(e.provider_code(), Some("QueueDoesNotExist"));
    assert_eq!(e.code(), ErrorCode::NotFound);
    let typed = e
        .body::<aws_query::models::QueueDoesNotExist>()
        .expect("selected by code, not status");
    assert_eq!(typed.message.as_deref(), Some("The queue does not exist."));
    // Another code is not that case.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(xml(
            400,
            "<ErrorResponse><Error><Code>QueueDeletedRecently</Code><Message>wait</Message></Error></ErrorResponse>",
        ))
        .mount(&server)
        .await;
    let client = aws_query::Client::new(config(&server, 1)).await.unwrap();
    let body = aws_query::models::CreateQueueRequest {
        queue_name: "q".into(),
        labels: None,
        policies: None,
        redrive_policy: None,
    };
    let e = client
        .queues()
        .post_create_queue(body)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        e.body::<aws_query::models::QueueDeletedRecently>()
            .and_then(|b| b.message.as_deref()),
        Some("wait")
    );
    assert!(e.body::<aws_query::models::QueueDoesNotExist>().is_none());
}

/// Throttles the first answer with AWS's code on a 400, then answers.
struct ThrottleOnce(Arc<AtomicUsize>);

impl Respond for ThrottleOnce {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        match self.0.fetch_add(1, Ordering::SeqCst) {
            0 => xml(
                400,
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>",
            ),
            _ => xml(
                200,
                "<ListQueuesResponse><ListQueuesResult><QueueUrl>u1</QueueUrl></ListQueuesResult></ListQueuesResponse>",
            ),
        }
    }
}

#[tokio::test]
async fn a_throttling_code_is_retried() {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .respond_with(ThrottleOnce(hits.clone()))
        .mount(&server)
        .await;
    let client = aws_query::Client::new(config(&server, 3)).await.unwrap();
    let page = client.queues().get_list_queues().send().await.unwrap().data;
    assert_eq!(page.queue_urls, Some(vec!["u1".to_owned()]));
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    // Without retries the same answer is RATE_LIMIT with the provider's code.
    let hits = Arc::new(AtomicUsize::new(0));
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ThrottleOnce(hits))
        .mount(&server)
        .await;
    let client = aws_query::Client::new(config(&server, 1)).await.unwrap();
    let e = client.queues().get_list_queues().send().await.unwrap_err();
    assert_eq!(e.code(), ErrorCode::RateLimit);
    assert_eq!(e.provider_code(), Some("Throttling"));
}

/// Three pages of queue URLs, the next one named by `NextToken`.
struct Pages(Arc<AtomicUsize>);

impl Respond for Pages {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        self.0.fetch_add(1, Ordering::SeqCst);
        let token = req
            .url
            .query_pairs()
            .find(|(k, _)| k == "NextToken")
            .map(|(_, v)| v.into_owned());
        let (urls, next) = match token.as_deref() {
            None => (vec!["q1", "q2"], Some("t2")),
            Some("t2") => (vec!["q3"], Some("t3")),
            Some("t3") => (vec!["q4", "q5"], None),
            Some(other) => {
                return xml(
                    400,
                    &format!("<Error><Code>Bad</Code><Message>{other}</Message></Error>"),
                );
            }
        };
        let urls: String = urls
            .iter()
            .map(|u| format!("<QueueUrl>{u}</QueueUrl>"))
            .collect();
        let next = next
            .map(|t| format!("<NextToken>{t}</NextToken>"))
            .unwrap_or_default();
        xml(
            200,
            &format!(
                "<ListQueuesResponse><ListQueuesResult>{urls}{next}</ListQueuesResult>\
                 <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></ListQueuesResponse>"
            ),
        )
    }
}

#[tokio::test]
async fn xml_answers_page_by_their_next_token() {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(query_param("Action", "ListQueues"))
        .respond_with(Pages(hits.clone()))
        .mount(&server)
        .await;
    let client = aws_query::Client::new(config(&server, 1)).await.unwrap();
    let items: Vec<String> = client
        .queues()
        .get_list_queues()
        .paginate()
        .map(|r| r.unwrap())
        .collect()
        .await;
    assert_eq!(items, ["q1", "q2", "q3", "q4", "q5"]);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}
