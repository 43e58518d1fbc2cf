//! The SNS scenario (query protocol): topics created, an attribute written and read back, a message
//! published, topics listed over moto's pages of 100, deleted.

use aws_scenarios::*;
use aws_sns::Client;
use serde_json::json;

/// One more than moto's page of topics, so the listing spans two pages.
const TOPICS: usize = 101;

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_sns::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("sns");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    let arn = run
        .step("create a topic", "CreateTopic", async {
            let c = needs(c, "a client")?;
            let r = c
                .general()
                .post_create_topic()
                .body(input(json!({"Name": "harness-topic"}))?)
                .send()
                .await?;
            r.data
                .topic_arn
                .ok_or_else(|| fail("no TopicArn in the answer"))
        })
        .await;
    let arn = arn.as_deref();
    run.step("write an attribute", "SetTopicAttributes", async {
        let c = needs(c, "a client")?;
        let arn = needs(arn, "the topic's ARN")?;
        c.general()
            .post_set_topic_attributes()
            .body(input(json!({
                "TopicArn": arn,
                "AttributeName": "DisplayName",
                "AttributeValue": "Harness"
            }))?)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step("read it back", "GetTopicAttributes", async {
        let c = needs(c, "a client")?;
        let arn = needs(arn, "the topic's ARN")?;
        let r = c
            .general()
            .post_get_topic_attributes()
            .body(input(json!({"TopicArn": arn}))?)
            .send()
            .await?;
        let display = r.data.attributes.and_then(|mut a| a.remove("DisplayName"));
        same("DisplayName", display, "Harness")
    })
    .await;
    run.step("publish a message", "Publish", async {
        let c = needs(c, "a client")?;
        let arn = needs(arn, "the topic's ARN")?;
        let r = c
            .general()
            .post_publish()
            .body(input(json!({
                "TopicArn": arn,
                "Message": "hello from the generated client"
            }))?)
            .send()
            .await?;
        r.data
            .message_id
            .map(|_| ())
            .ok_or_else(|| fail("no MessageId in the answer"))
    })
    .await;
    run.step(
        "list topics over pages",
        "CreateTopic x101, ListTopics(NextToken)",
        async {
            let c = needs(c, "a client")?;
            for i in 0..TOPICS {
                c.general()
                    .post_create_topic()
                    .body(input(json!({"Name": format!("harness-page-{i}")}))?)
                    .send()
                    .await?;
            }
            let (mut pages, mut seen, mut token) = (0, 0, None::<String>);
            loop {
                let mut request = json!({});
                if let Some(t) = token.take() {
                    request["NextToken"] = json!(t);
                }
                let r = c
                    .general()
                    .post_list_topics()
                    .body(input(request)?)
                    .send()
                    .await?;
                pages += 1;
                seen += r
                    .data
                    .topics
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|t| t.topic_arn.as_deref())
                    .filter(|a| a.contains(":harness-page-"))
                    .count();
                token = r.data.next_token.filter(|t| !t.is_empty());
                if token.is_none() || pages > TOPICS {
                    break;
                }
            }
            paged(pages, seen, TOPICS)
        },
    )
    .await;
    run.step("delete the topic", "DeleteTopic", async {
        let c = needs(c, "a client")?;
        let arn = needs(arn, "the topic's ARN")?;
        c.general()
            .post_delete_topic()
            .body(input(json!({"TopicArn": arn}))?)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted topic is not found",
        "GetTopicAttributes (missing topic)",
        async {
            let c = needs(c, "a client")?;
            let arn = needs(arn, "the topic's ARN")?;
            let r = c
                .general()
                .post_get_topic_attributes()
                .body(input(json!({"TopicArn": arn}))?)
                .send()
                .await;
            expect_not_found(r, "NotFound")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListTopics (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong.general().post_list_topics().send().await;
            expect_auth_failed(r)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
