//! The Secrets Manager scenario (JSON 1.1 protocol): secrets created, a value written and read back,
//! secrets listed over pages, deleted.

use aws_scenarios::*;
use aws_secretsmanager::Client;
use serde_json::json;

const SECRET: &str = "harness-secret";
const SECRETS: usize = 5;

fn target(op: &str) -> String {
    format!("secretsmanager.{op}")
}

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_secretsmanager::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("secretsmanager");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    run.step("create a secret", "CreateSecret", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"Name": SECRET, "SecretString": "first"}))?;
        let r = c
            .x_amz_target_secretsmanager()
            .create_secret(target("CreateSecret"), body)
            .send()
            .await?;
        same("Name", field(&r.data, "Name"), SECRET)
    })
    .await;
    run.step("write a new value", "PutSecretValue", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"SecretId": SECRET, "SecretString": "second"}))?;
        c.x_amz_target_secretsmanager()
            .put_secret_value(target("PutSecretValue"), body)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step("read it back", "GetSecretValue", async {
        let c = needs(c, "a client")?;
        let r = c
            .x_amz_target_secretsmanager()
            .get_secret_value(
                target("GetSecretValue"),
                input(json!({"SecretId": SECRET}))?,
            )
            .send()
            .await?;
        same("SecretString", field(&r.data, "SecretString"), "second")
    })
    .await;
    run.step(
        "list secrets over pages of 2",
        "CreateSecret x5, ListSecrets(MaxResults=2, NextToken)",
        async {
            let c = needs(c, "a client")?;
            for i in 0..SECRETS {
                let body =
                    input(json!({"Name": format!("harness-page-{i}"), "SecretString": "v"}))?;
                c.x_amz_target_secretsmanager()
                    .create_secret(target("CreateSecret"), body)
                    .send()
                    .await?;
            }
            let (mut pages, mut seen, mut token) = (0, 0, None::<String>);
            loop {
                let mut request = json!({
                    "MaxResults": 2,
                    "Filters": [{"Key": "name", "Values": ["harness-page-"]}]
                });
                if let Some(t) = token.take() {
                    request["NextToken"] = json!(t);
                }
                let r = c
                    .x_amz_target_secretsmanager()
                    .list_secrets(target("ListSecrets"), input(request)?)
                    .send()
                    .await?;
                pages += 1;
                seen += fields(&r.data, "ARN").len();
                token = field(&r.data, "NextToken").filter(|t| !t.is_empty());
                if token.is_none() || pages > SECRETS {
                    break;
                }
            }
            paged(pages, seen, SECRETS)
        },
    )
    .await;
    run.step("delete the secret", "DeleteSecret", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"SecretId": SECRET, "ForceDeleteWithoutRecovery": true}))?;
        c.x_amz_target_secretsmanager()
            .delete_secret(target("DeleteSecret"), body)
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted secret is not found",
        "GetSecretValue (missing secret)",
        async {
            let c = needs(c, "a client")?;
            let r = c
                .x_amz_target_secretsmanager()
                .get_secret_value(
                    target("GetSecretValue"),
                    input(json!({"SecretId": SECRET}))?,
                )
                .send()
                .await;
            expect_not_found(r, "ResourceNotFoundException")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListSecrets (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong
                .x_amz_target_secretsmanager()
                .list_secrets(target("ListSecrets"), input(json!({}))?)
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
