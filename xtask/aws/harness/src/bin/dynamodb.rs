//! The DynamoDB scenario (JSON 1.0 protocol): a table created, items written, read back, scanned over
//! pages, deleted.

use aws_dynamodb::Client;
use aws_scenarios::*;
use serde_json::json;

const ITEMS: usize = 7;
const TABLE: &str = "harness-table";

fn target(op: &str) -> String {
    format!("DynamoDB_20120810.{op}")
}

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_dynamodb::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("dynamodb");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    run.step("create a table", "CreateTable", async {
        let c = needs(c, "a client")?;
        let body = input(json!({
            "TableName": TABLE,
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"
        }))?;
        let r = c
            .x_amz_target_dynamo_db_20120810()
            .create_table(target("CreateTable"), body)
            .send()
            .await?;
        same("TableName", field(&r.data, "TableName"), TABLE)
    })
    .await;
    run.step("write items", "PutItem x7", async {
        let c = needs(c, "a client")?;
        for i in 0..ITEMS {
            let body = input(json!({
                "TableName": TABLE,
                "Item": {"id": {"S": format!("item-{i}")}, "note": {"S": format!("note {i}")}}
            }))?;
            c.x_amz_target_dynamo_db_20120810()
                .put_item(target("PutItem"), body)
                .send()
                .await?;
        }
        Ok(())
    })
    .await;
    run.step("read an item back", "GetItem", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"TableName": TABLE, "Key": {"id": {"S": "item-3"}}}))?;
        let r = c
            .x_amz_target_dynamo_db_20120810()
            .get_item(target("GetItem"), body)
            .send()
            .await?;
        let note = serde_json::to_value(&r.data).ok().and_then(|v| {
            v.pointer("/Item/note/S")
                .and_then(|s| s.as_str().map(str::to_owned))
        });
        same("Item.note", note, "note 3")
    })
    .await;
    run.step(
        "scan over pages of 3",
        "Scan(Limit=3, ExclusiveStartKey)",
        async {
            let c = needs(c, "a client")?;
            let (mut pages, mut seen, mut start) = (0, 0, None::<serde_json::Value>);
            loop {
                let mut request = json!({"TableName": TABLE, "Limit": 3});
                if let Some(key) = start.take() {
                    request["ExclusiveStartKey"] = key;
                }
                let r = c
                    .x_amz_target_dynamo_db_20120810()
                    .scan(target("Scan"), input(request)?)
                    .send()
                    .await?;
                let v = serde_json::to_value(&r.data).unwrap_or_default();
                pages += 1;
                seen += v["Items"].as_array().map_or(0, Vec::len);
                start = v.get("LastEvaluatedKey").filter(|k| !k.is_null()).cloned();
                if start.is_none() || pages > ITEMS {
                    break;
                }
            }
            paged(pages, seen, ITEMS)
        },
    )
    .await;
    run.step("delete an item", "DeleteItem", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"TableName": TABLE, "Key": {"id": {"S": "item-0"}}}))?;
        c.x_amz_target_dynamo_db_20120810()
            .delete_item(target("DeleteItem"), body)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step("delete the table", "DeleteTable", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"TableName": TABLE}))?;
        c.x_amz_target_dynamo_db_20120810()
            .delete_table(target("DeleteTable"), body)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted table is not found",
        "DescribeTable (missing table)",
        async {
            let c = needs(c, "a client")?;
            let r = c
                .x_amz_target_dynamo_db_20120810()
                .describe_table(target("DescribeTable"), input(json!({"TableName": TABLE}))?)
                .send()
                .await;
            expect_not_found(r, "ResourceNotFoundException")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListTables (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong
                .x_amz_target_dynamo_db_20120810()
                .list_tables(target("ListTables"), input(json!({}))?)
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
