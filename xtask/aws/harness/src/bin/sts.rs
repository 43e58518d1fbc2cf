//! The STS scenario (query protocol): who the credentials belong to, a session token issued, the
//! key's account looked up, a wrong secret refused.

use aws_scenarios::*;
use aws_sts::Client;

const VERSION: &str = "2011-06-15";

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
            let r = c
                .action_get_caller_identity()
                .get_get_caller_identity("GetCallerIdentity", VERSION)
                .send()
                .await?;
            same(
                "Arn",
                field(&r.data, "Arn"),
                &format!("arn:aws:iam::{ACCOUNT}:user/connector-harness"),
            )
        },
    )
    .await;
    run.step("issue a session token", "GetSessionToken", async {
        let c = needs(c, "a client")?;
        let r = c
            .action_get_session_token()
            .get_get_session_token("GetSessionToken", VERSION)
            .send()
            .await?;
        match (
            field(&r.data, "AccessKeyId"),
            field(&r.data, "SessionToken"),
        ) {
            (Some(_), Some(_)) => Ok(()),
            _ => Err(fail("no AccessKeyId and SessionToken in the answer")),
        }
    })
    .await;
    run.step("look up the key's account", "GetAccessKeyInfo", async {
        let c = needs(c, "a client")?;
        let r = c
            .action_get_access_key_info()
            .get_get_access_key_info(args.key.clone(), "GetAccessKeyInfo", VERSION)
            .send()
            .await?;
        same("Account", field(&r.data, "Account"), &ACCOUNT.to_string())
    })
    .await;
    run.step(
        "a wrong secret is refused",
        "GetCallerIdentity (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            let r = wrong
                .action_get_caller_identity()
                .get_get_caller_identity("GetCallerIdentity", VERSION)
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
