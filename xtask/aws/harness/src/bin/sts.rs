//! The STS scenario (query protocol): who the credentials belong to, a session token issued, the
//! key's account looked up, a wrong secret refused.

use aws_scenarios::*;
use aws_sts::Client;
use serde_json::json;

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_sts::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("sts");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    run.step(
        "the caller is the bootstrapped user",
        "GetCallerIdentity",
        async {
            let c = needs(c, "a client")?;
            let r = c.general().post_get_caller_identity().send().await?;
            same(
                "Arn",
                r.data.arn,
                &format!("arn:aws:iam::{ACCOUNT}:user/connector-harness"),
            )
        },
    )
    .await;
    run.step("issue a session token", "GetSessionToken", async {
        let c = needs(c, "a client")?;
        let r = c.general().post_get_session_token().send().await?;
        match r.data.credentials {
            Some(c) if !c.access_key_id.is_empty() && !c.session_token.is_empty() => Ok(()),
            _ => Err(fail("no AccessKeyId and SessionToken in the answer")),
        }
    })
    .await;
    run.step("look up the key's account", "GetAccessKeyInfo", async {
        let c = needs(c, "a client")?;
        let r = c
            .general()
            .post_get_access_key_info()
            .body(input(json!({"AccessKeyId": args.key}))?)
            .send()
            .await?;
        same("Account", r.data.account, &ACCOUNT.to_string())
    })
    .await;
    run.step(
        "a wrong secret is refused",
        "GetCallerIdentity (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong.general().post_get_caller_identity().send().await;
            expect_auth_failed(r)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
