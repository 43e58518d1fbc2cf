//! The DynamoDB scenario (JSON 1.0 protocol): a table created, items written, read back, scanned over
//! pages, deleted.

use aws_dynamodb::Client;
use aws_scenarios::*;
use serde_json::json;

const ITEMS: usize = 7;
const TABLE: &str = "harness-table";

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
        let r = c.general().create_table(body).send().await?;
        let table = r.data.table_description.and_then(|t| t.table_name);
        same("TableDescription.TableName", table, TABLE)
    })
    .await;
    run.step("write items", "PutItem x7", async {
        let c = needs(c, "a client")?;
        for i in 0..ITEMS {
            let body = input(json!({
                "TableName": TABLE,
                "Item": {"id": {"S": format!("item-{i}")}, "note": {"S": format!("note {i}")}}
            }))?;
            c.general().put_item(body).send().await?;
        }
        Ok(())
    })
    .await;
    run.step("read an item back", "GetItem", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"TableName": TABLE, "Key": {"id": {"S": "item-3"}}}))?;
        let r = c.general().get_item(body).send().await?;
        let note = r
            .data
            .item
            .and_then(|mut item| item.remove("note"))
            .and_then(|v| v.s);
        same("Item.note", note, "note 3")
    })
    .await;
    run.step(
        "scan over pages of 3",
        "Scan(Limit=3, ExclusiveStartKey)",
        async {
            let c = needs(c, "a client")?;
            let (mut pages, mut seen, mut start) = (0, 0, None);
            loop {
                let mut request = json!({"TableName": TABLE, "Limit": 3});
                if let Some(key) = start.take() {
                    request["ExclusiveStartKey"] = serde_json::to_value(key)
                        .map_err(|e| fail(format!("LastEvaluatedKey: {e}")))?;
                }
                let r = c.general().scan(input(request)?).send().await?;
                pages += 1;
                seen += r.data.items.map_or(0, |items| items.len());
                start = r.data.last_evaluated_key.filter(|k| !k.is_empty());
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
        c.general().delete_item(body).send().await?;
        Ok(())
    })
    .await;
    run.step("delete the table", "DeleteTable", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"TableName": TABLE}))?;
        c.general().delete_table(body).send().await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted table is not found",
        "DescribeTable (missing table)",
        async {
            let c = needs(c, "a client")?;
            let r = c
                .general()
                .describe_table(input(json!({"TableName": TABLE}))?)
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
            let r = wrong.general().list_tables(input(json!({}))?).send().await;
            expect_auth_failed(r)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
