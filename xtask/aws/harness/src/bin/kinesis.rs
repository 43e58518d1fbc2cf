//! The Kinesis scenario (JSON 1.1 protocol): streams created, a record written and read back, streams
//! listed over pages, deleted.

use aws_kinesis::Client;
use aws_scenarios::*;
use serde_json::json;

const STREAM: &str = "harness-stream";
const STREAMS: usize = 4;
/// `hello kinesis`, base64 as the wire carries blobs.
const DATA: &str = "aGVsbG8ga2luZXNpcw==";

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_kinesis::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("kinesis");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    run.step("create a stream", "CreateStream", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"StreamName": STREAM, "ShardCount": 1}))?;
        c.general().create_stream(body).send().await?;
        Ok(())
    })
    .await;
    run.step("write a record", "PutRecord", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"StreamName": STREAM, "Data": DATA, "PartitionKey": "p"}))?;
        let r = c.general().put_record(body).send().await?;
        if r.data.sequence_number.is_empty() {
            return Err(fail("an empty SequenceNumber in the answer"));
        }
        Ok(())
    })
    .await;
    run.step("read it back", "GetShardIterator, GetRecords", async {
        let c = needs(c, "a client")?;
        let body = input(json!({
            "StreamName": STREAM,
            "ShardId": "shardId-000000000000",
            "ShardIteratorType": "TRIM_HORIZON"
        }))?;
        let r = c.general().get_shard_iterator(body).send().await?;
        let iterator = r
            .data
            .shard_iterator
            .ok_or_else(|| fail("no ShardIterator"))?;
        let r = c
            .general()
            .get_records(input(json!({"ShardIterator": iterator}))?)
            .send()
            .await?;
        if r.data.records.len() != 1 {
            return Err(fail(format!(
                "read {} records, wrote 1",
                r.data.records.len()
            )));
        }
        same(
            "Record.Data",
            r.data.records.into_iter().next().map(|r| r.data),
            DATA,
        )
    })
    .await;
    run.step(
        "list streams over pages of 2",
        "CreateStream x4, ListStreams(Limit=2, ExclusiveStartStreamName)",
        async {
            let c = needs(c, "a client")?;
            for i in 0..STREAMS {
                let body =
                    input(json!({"StreamName": format!("harness-page-{i}"), "ShardCount": 1}))?;
                c.general().create_stream(body).send().await?;
            }
            // The stream created first is listed too: STREAMS + 1 in all.
            let (mut pages, mut seen, mut start) = (0, 0, None::<String>);
            loop {
                let mut request = json!({"Limit": 2});
                if let Some(s) = start.take() {
                    request["ExclusiveStartStreamName"] = json!(s);
                }
                let r = c.general().list_streams(input(request)?).send().await?;
                pages += 1;
                let names = r.data.stream_names;
                seen += names.len();
                let more = r.data.has_more_streams;
                start = names.last().cloned().filter(|_| more);
                if start.is_none() || pages > STREAMS + 1 {
                    break;
                }
            }
            paged(pages, seen, STREAMS + 1)
        },
    )
    .await;
    run.step("delete the stream", "DeleteStream", async {
        let c = needs(c, "a client")?;
        c.general()
            .delete_stream(input(json!({"StreamName": STREAM}))?)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted stream is not found",
        "DescribeStream (missing stream)",
        async {
            let c = needs(c, "a client")?;
            let r = c
                .general()
                .describe_stream(input(json!({"StreamName": STREAM}))?)
                .send()
                .await;
            expect_not_found(r, "ResourceNotFoundException")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListStreams (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong.general().list_streams(input(json!({}))?).send().await;
            expect_auth_failed(r)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
