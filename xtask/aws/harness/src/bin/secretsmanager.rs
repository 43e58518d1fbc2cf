//! The Secrets Manager scenario (JSON 1.1 protocol): secrets created, a value written and read back,
//! secrets listed over pages, deleted.

use aws_scenarios::*;
use aws_secretsmanager::Client;
use serde_json::json;

const SECRET: &str = "harness-secret";
const SECRETS: usize = 5;

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
        let r = c.general().create_secret(body).send().await?;
        same("Name", r.data.name, SECRET)
    })
    .await;
    run.step("write a new value", "PutSecretValue", async {
        let c = needs(c, "a client")?;
        let body = input(json!({"SecretId": SECRET, "SecretString": "second"}))?;
        c.general().put_secret_value(body).send().await?;
        Ok(())
    })
    .await;
    run.step("read it back", "GetSecretValue", async {
        let c = needs(c, "a client")?;
        let r = c
            .general()
            .get_secret_value(input(json!({"SecretId": SECRET}))?)
            .send()
            .await?;
        same("SecretString", r.data.secret_string, "second")
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
                c.general().create_secret(body).send().await?;
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
                let r = c.general().list_secrets(input(request)?).send().await?;
                pages += 1;
                let listed = r.data.secret_list.unwrap_or_default();
                if let Some(other) = listed.iter().find(|e| {
                    !e.name
                        .as_deref()
                        .is_some_and(|n| n.starts_with("harness-page-"))
                }) {
                    return Err(fail(format!("listed {:?}, outside the filter", other.name)));
                }
                seen += listed.len();
                token = r.data.next_token.filter(|t| !t.is_empty());
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
        c.general().delete_secret(body).send().await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted secret is not found",
        "GetSecretValue (missing secret)",
        async {
            let c = needs(c, "a client")?;
            let r = c
                .general()
                .get_secret_value(input(json!({"SecretId": SECRET}))?)
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
            let r = wrong.general().list_secrets(input(json!({}))?).send().await;
            expect_auth_failed(r)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
