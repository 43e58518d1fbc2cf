//! The SQS scenario (query protocol): queues created, written, read back, listed over pages, deleted.

use aws_scenarios::*;
use aws_sqs::Client;
use serde_json::json;

const QUEUES: usize = 5;

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_sqs::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("sqs");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    let queue = "harness-queue";
    let url = run
        .step("create a queue", "CreateQueue", async {
            let c = needs(c, "a client")?;
            let r = c
                .general()
                .post_create_queue()
                .body(input(json!({"QueueName": queue}))?)
                .send()
                .await?;
            r.data
                .queue_url
                .filter(|u| u.ends_with(queue))
                .ok_or_else(|| fail("no QueueUrl naming the queue in the answer"))
        })
        .await;
    let url = url.as_deref();
    let body = "hello from the generated client";
    run.step("send a message", "SendMessage", async {
        let c = needs(c, "a client")?;
        let url = needs(url, "the queue's URL")?;
        let r = c
            .general()
            .post_send_message()
            .body(input(json!({"QueueUrl": url, "MessageBody": body}))?)
            .send()
            .await?;
        r.data
            .message_id
            .map(|_| ())
            .ok_or_else(|| fail("no MessageId in the answer"))
    })
    .await;
    run.step("receive it back", "ReceiveMessage", async {
        let c = needs(c, "a client")?;
        let url = needs(url, "the queue's URL")?;
        let r = c
            .general()
            .post_receive_message()
            .body(input(json!({"QueueUrl": url, "MaxNumberOfMessages": 1}))?)
            .send()
            .await?;
        let messages = r.data.messages.unwrap_or_default();
        if messages.len() != 1 {
            return Err(fail(format!(
                "received {} messages, sent 1",
                messages.len()
            )));
        }
        same(
            "Message.Body",
            messages.into_iter().next().and_then(|m| m.body),
            body,
        )
    })
    .await;
    run.step(
        "list queues over pages of 2",
        "CreateQueue x5, ListQueues(MaxResults=2, NextToken)",
        async {
            let c = needs(c, "a client")?;
            for i in 0..QUEUES {
                c.general()
                    .post_create_queue()
                    .body(input(json!({"QueueName": format!("harness-page-{i}")}))?)
                    .send()
                    .await?;
            }
            let (mut pages, mut seen, mut token) = (0, 0, None::<String>);
            loop {
                let mut request = json!({"QueueNamePrefix": "harness-page-", "MaxResults": 2});
                if let Some(t) = token.take() {
                    request["NextToken"] = json!(t);
                }
                let r = c
                    .general()
                    .post_list_queues()
                    .body(input(request)?)
                    .send()
                    .await?;
                pages += 1;
                seen += r.data.queue_urls.map_or(0, |urls| urls.len());
                token = r.data.next_token.filter(|t| !t.is_empty());
                if token.is_none() || pages > QUEUES {
                    break;
                }
            }
            paged(pages, seen, QUEUES)
        },
    )
    .await;
    run.step("delete the queue", "DeleteQueue", async {
        let c = needs(c, "a client")?;
        let url = needs(url, "the queue's URL")?;
        c.general()
            .post_delete_queue()
            .body(input(json!({"QueueUrl": url}))?)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted queue is not found",
        "GetQueueUrl (missing queue)",
        async {
            let c = needs(c, "a client")?;
            let r = c
                .general()
                .post_get_queue_url()
                .body(input(json!({"QueueName": queue}))?)
                .send()
                .await;
            expect_not_found(r, "AWS.SimpleQueueService.NonExistentQueue")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListQueues (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong.general().post_list_queues().send().await;
            expect_auth_failed(r)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
