//! The SQS scenario (query protocol): queues created, written, read back, listed over pages, deleted.

use aws_scenarios::*;
use aws_sqs::Client;

const VERSION: &str = "2012-11-05";
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
    run.step("create a queue", "CreateQueue", async {
        let c = needs(c, "a client")?;
        let r = c
            .action_create_queue()
            .get_create_queue(queue, "CreateQueue", VERSION)
            .send()
            .await?;
        field(&r.data, "QueueUrl")
            .filter(|u| u.ends_with(queue))
            .map(|_| ())
            .ok_or_else(|| fail("no QueueUrl naming the queue in the answer"))
    })
    .await;
    let body = "hello from the generated client";
    run.step("send a message", "SendMessage", async {
        let c = needs(c, "a client")?;
        let r = c
            .action_send_message()
            .get_send_message(ACCOUNT, queue, body, "SendMessage", VERSION)
            .send()
            .await?;
        field(&r.data, "MessageId")
            .map(|_| ())
            .ok_or_else(|| fail("no MessageId in the answer"))
    })
    .await;
    run.step("receive it back", "ReceiveMessage", async {
        let c = needs(c, "a client")?;
        let r = c
            .action_receive_message()
            .get_receive_message(ACCOUNT, queue, "ReceiveMessage", VERSION)
            .max_number_of_messages(1)
            .send()
            .await?;
        same("Body", field(&r.data, "Body"), body)
    })
    .await;
    run.step(
        "list queues over pages of 2",
        "CreateQueue x5, ListQueues(MaxResults=2, NextToken)",
        async {
            let c = needs(c, "a client")?;
            for i in 0..QUEUES {
                c.action_create_queue()
                    .get_create_queue(format!("harness-page-{i}"), "CreateQueue", VERSION)
                    .send()
                    .await?;
            }
            let (mut pages, mut seen, mut token) = (0, 0, None::<String>);
            loop {
                let mut call = c
                    .action_list_queues()
                    .get_list_queues("ListQueues", VERSION)
                    .queue_name_prefix("harness-page-")
                    .max_results(2);
                if let Some(t) = token.take() {
                    call = call.next_token(t);
                }
                let r = call.send().await?;
                pages += 1;
                seen += fields(&r.data, "QueueUrl").len();
                token = field(&r.data, "NextToken").filter(|t| !t.is_empty());
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
        c.action_delete_queue()
            .get_delete_queue(ACCOUNT, queue, "DeleteQueue", VERSION)
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
                .action_get_queue_url()
                .get_get_queue_url(queue, "GetQueueUrl", VERSION)
                .send()
                .await;
            expect_not_found(r, "NonExistentQueue")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListQueues (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong
                .action_list_queues()
                .get_list_queues("ListQueues", VERSION)
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
