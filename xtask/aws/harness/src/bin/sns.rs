//! The SNS scenario (query protocol): topics created, an attribute written and read back, a message
//! published, topics listed over moto's pages of 100, deleted.

use aws_scenarios::*;
use aws_sns::Client;

const VERSION: &str = "2010-03-31";
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
                .action_create_topic()
                .get_create_topic("harness-topic", "CreateTopic", VERSION)
                .send()
                .await?;
            field(&r.data, "TopicArn").ok_or_else(|| fail("no TopicArn in the answer"))
        })
        .await;
    let arn = arn.as_deref();
    run.step("write an attribute", "SetTopicAttributes", async {
        let c = needs(c, "a client")?;
        let arn = needs(arn, "the topic's ARN")?;
        c.action_set_topic_attributes()
            .get_set_topic_attributes(arn, "DisplayName", "SetTopicAttributes", VERSION)
            .attribute_value("Harness")
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step("read it back", "GetTopicAttributes", async {
        let c = needs(c, "a client")?;
        let arn = needs(arn, "the topic's ARN")?;
        let r = c
            .action_get_topic_attributes()
            .get_get_topic_attributes(arn, "GetTopicAttributes", VERSION)
            .send()
            .await?;
        let keys = fields(&r.data, "key");
        let values = fields(&r.data, "value");
        let display = keys
            .iter()
            .position(|k| k == "DisplayName")
            .and_then(|i| values.get(i).cloned());
        same("DisplayName", display, "Harness")
    })
    .await;
    run.step("publish a message", "Publish", async {
        let c = needs(c, "a client")?;
        let arn = needs(arn, "the topic's ARN")?;
        let r = c
            .action_publish()
            .get_publish("hello from the generated client", "Publish", VERSION)
            .topic_arn(arn)
            .send()
            .await?;
        field(&r.data, "MessageId")
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
                c.action_create_topic()
                    .get_create_topic(format!("harness-page-{i}"), "CreateTopic", VERSION)
                    .send()
                    .await?;
            }
            let (mut pages, mut seen, mut token) = (0, 0, None::<String>);
            loop {
                let mut call = c
                    .action_list_topics()
                    .get_list_topics("ListTopics", VERSION);
                if let Some(t) = token.take() {
                    call = call.next_token(t);
                }
                let r = call.send().await?;
                pages += 1;
                seen += fields(&r.data, "TopicArn")
                    .iter()
                    .filter(|a| a.contains(":harness-page-"))
                    .count();
                token = field(&r.data, "NextToken").filter(|t| !t.is_empty());
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
        c.action_delete_topic()
            .get_delete_topic(arn, "DeleteTopic", VERSION)
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
                .action_get_topic_attributes()
                .get_get_topic_attributes(arn, "GetTopicAttributes", VERSION)
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
            let r = wrong
                .action_list_topics()
                .get_list_topics("ListTopics", VERSION)
                .send()
                .await;
            expect_auth_failed(r)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
