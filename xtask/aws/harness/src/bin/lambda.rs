//! The Lambda scenario (REST-JSON): functions created from a zip, read back, listed, deleted.

use aws_lambda::Client;
use aws_scenarios::*;
use serde_json::json;

const FUNCTION: &str = "harness-function";
const FUNCTIONS: usize = 3;
const DESCRIPTION: &str = "made by the scenario";

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_lambda::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

/// CRC-32 (IEEE), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive holding one stored (uncompressed) file.
fn zip(name: &str, content: &[u8]) -> Vec<u8> {
    let (crc, size, name_len) = (crc32(content), content.len() as u32, name.len() as u16);
    let mut out = Vec::new();
    let header = |out: &mut Vec<u8>, central: bool| {
        out.extend_from_slice(if central {
            b"PK\x01\x02"
        } else {
            b"PK\x03\x04"
        });
        if central {
            out.extend_from_slice(&20u16.to_le_bytes());
        }
        for v in [20u16, 0, 0, 0, 0x21] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, size, size] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&name_len.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        if central {
            for v in [0u16, 0, 0] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&0u32.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        out.extend_from_slice(name.as_bytes());
    };
    header(&mut out, false);
    out.extend_from_slice(content);
    let central_at = out.len() as u32;
    header(&mut out, true);
    let central_len = out.len() as u32 - central_at;
    out.extend_from_slice(b"PK\x05\x06");
    for v in [0u16, 0, 1, 1] {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&central_at.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

async fn create(c: &Client, name: &str) -> Outcome<()> {
    let code = zip(
        "index.py",
        b"def handler(event, context):\n    return event\n",
    );
    let body = input(json!({
        "FunctionName": name,
        "Runtime": "python3.11",
        "Role": format!("arn:aws:iam::{ACCOUNT}:role/connector-harness-lambda"),
        "Handler": "index.handler",
        "Description": DESCRIPTION,
        "Code": {"ZipFile": base64(&code)}
    }))?;
    c.functions().create_function(body).send().await?;
    Ok(())
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("lambda");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    run.step("create a function", "CreateFunction", async {
        create(needs(c, "a client")?, FUNCTION).await
    })
    .await;
    run.step("read it back", "GetFunction", async {
        let c = needs(c, "a client")?;
        let r = c.functions().get_function(FUNCTION).send().await?;
        let description = r.data.configuration.and_then(|f| f.description);
        same("Configuration.Description", description, DESCRIPTION)
    })
    .await;
    run.step(
        "list functions (pages of 2 where the server pages)",
        "CreateFunction x3, ListFunctions(MaxItems=2, Marker)",
        async {
            let c = needs(c, "a client")?;
            for i in 0..FUNCTIONS {
                create(c, &format!("harness-page-{i}")).await?;
            }
            let (mut pages, mut seen, mut marker) = (0, 0, None::<String>);
            loop {
                let mut call = c.functions().list_functions().max_items(2);
                if let Some(m) = marker.take() {
                    call = call.marker(m);
                }
                let r = call.send().await?;
                pages += 1;
                seen += r
                    .data
                    .functions
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|f| f.function_name.as_deref())
                    .filter(|n| n.starts_with("harness-page-"))
                    .count();
                marker = r.data.next_marker.filter(|m| !m.is_empty());
                if marker.is_none() || pages > FUNCTIONS + 1 {
                    break;
                }
            }
            // moto 5.2 answers ListFunctions on one page whatever MaxItems says; every function
            // must still be listed exactly once.
            if seen == FUNCTIONS {
                Ok(())
            } else {
                Err(fail(format!(
                    "{seen} functions listed over {pages} page(s), {FUNCTIONS} created"
                )))
            }
        },
    )
    .await;
    run.step("delete the function", "DeleteFunction", async {
        let c = needs(c, "a client")?;
        c.functions().delete_function(FUNCTION).send().await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted function is not found",
        "GetFunction (missing function)",
        async {
            let c = needs(c, "a client")?;
            let r = c.functions().get_function(FUNCTION).send().await;
            expect_not_found(r, "ResourceNotFoundException")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListFunctions (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            expect_auth_failed(wrong.functions().list_functions().send().await)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
