//! The S3 scenario (REST-XML): a bucket and objects created, read back, listed over pages, a 64 MiB
//! object uploaded in parts and downloaded as a stream with flat memory, deleted.

use aws_s3::Client;
use aws_s3::models::{CompletedMultipartUpload, CompletedPart};
use aws_scenarios::*;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};

const BUCKET: &str = "harness-bucket";
const OBJECTS: usize = 5;
const PART: usize = 8 << 20;
const PARTS: usize = 8;
/// How much the peak memory may grow while the 64 MiB object streams in.
const MAX_GROWTH_KIB: u64 = 16 << 10;

async fn client(args: &Args, secret: &str) -> Outcome<Client> {
    let auth = aws_s3::auth::aws_sigv4(args.key.as_str(), secret, REGION);
    Ok(Client::new(config(Client::config(), args, auth)).await?)
}

/// Part `n` of the large object: deterministic letters.
fn part(n: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ (n as u64 + 1);
    (0..PART)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'a' + (state % 26) as u8
        })
        .collect()
}

async fn scenario(args: Args) -> Run {
    let mut run = Run::new("s3");
    let c = run
        .step("connect", "Client::new", client(&args, &args.secret))
        .await;
    let c = c.as_ref();
    run.step("create a bucket", "CreateBucket", async {
        let c = needs(c, "a client")?;
        c.general().create_bucket(BUCKET).send().await?;
        Ok(())
    })
    .await;
    let body = "hello from the generated client";
    run.step("write an object", "PutObject", async {
        let c = needs(c, "a client")?;
        c.general()
            .put_object(BUCKET, "hello.txt", body.to_owned())
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step("read it back", "GetObject", async {
        let c = needs(c, "a client")?;
        let r = c.general().get_object(BUCKET, "hello.txt").send().await?;
        same("object body", String::from_utf8(r.data.to_vec()).ok(), body)
    })
    .await;
    run.step(
        "list objects over pages of 2",
        "PutObject x5, ListObjectsV2(max-keys=2, continuation-token)",
        async {
            let c = needs(c, "a client")?;
            for i in 0..OBJECTS {
                c.general()
                    .put_object(BUCKET, format!("page/{i}"), format!("object {i}"))
                    .send()
                    .await?;
            }
            let (mut pages, mut seen, mut token) = (0, 0, None::<String>);
            loop {
                let mut call = c
                    .general()
                    .list_objects_v2(BUCKET)
                    .prefix("page/")
                    .max_keys(2);
                if let Some(t) = token.take() {
                    call = call.continuation_token(t);
                }
                let r = call.send().await?;
                pages += 1;
                let listed = r.data.contents.unwrap_or_default();
                if listed.iter().any(|o| o.key.is_none()) {
                    return Err(fail("a listed object has no Key"));
                }
                seen += listed.len();
                token = r.data.next_continuation_token.filter(|t| !t.is_empty());
                if token.is_none() || pages > OBJECTS {
                    break;
                }
            }
            paged(pages, seen, OBJECTS)
        },
    )
    .await;
    let large = "large.bin";
    let uploaded = run
        .step(
            "upload 64 MiB in 8 parts",
            "CreateMultipartUpload, UploadPart x8, CompleteMultipartUpload",
            async {
                let c = needs(c, "a client")?;
                let r = c
                    .general()
                    .create_multipart_upload(BUCKET, large)
                    .send()
                    .await?;
                let upload = r.data.upload_id.ok_or_else(|| fail("no UploadId"))?;
                let mut digest = Sha256::new();
                let mut parts = Vec::new();
                for n in 0..PARTS {
                    let data = part(n);
                    digest.update(&data);
                    let r = c
                        .general()
                        .upload_part(BUCKET, large, n as i64 + 1, upload.clone(), data)
                        .send_with_headers()
                        .await?;
                    let (_, headers) = r.data;
                    let etag = headers
                        .e_tag
                        .ok_or_else(|| fail(format!("part {} has no ETag", n + 1)))?;
                    parts.push(CompletedPart {
                        e_tag: Some(etag),
                        part_number: Some(n as i64 + 1),
                        ..CompletedPart::default()
                    });
                }
                let complete = CompletedMultipartUpload { parts: Some(parts) };
                let r = c
                    .general()
                    .complete_multipart_upload(BUCKET, large, upload, complete)
                    .send()
                    .await?;
                same("completed key", r.data.key, large)?;
                Ok(digest.finalize().to_vec())
            },
        )
        .await;
    run.step(
        "download it as a stream: same sha-256, flat memory",
        "GetObject (send_stream)",
        async {
            let c = needs(c, "a client")?;
            let wanted = needs(uploaded, "the uploaded object's digest")?;
            let before = peak_rss_kib().ok_or_else(|| fail("no VmHWM in /proc/self/status"))?;
            let mut answer = c.general().get_object(BUCKET, large).send_stream().await?;
            let (mut digest, mut length) = (Sha256::new(), 0usize);
            while let Some(chunk) = answer.body.next().await {
                let chunk = chunk?;
                length += chunk.len();
                digest.update(&chunk);
            }
            let after = peak_rss_kib().unwrap_or(u64::MAX);
            if length != PART * PARTS {
                return Err(fail(format!(
                    "read {length} bytes, uploaded {}",
                    PART * PARTS
                )));
            }
            if digest.finalize().to_vec() != wanted {
                return Err(fail(
                    "the sha-256 of the download differs from the upload's",
                ));
            }
            let growth = after.saturating_sub(before);
            if growth >= MAX_GROWTH_KIB {
                return Err(fail(format!(
                    "peak memory grew by {growth} KiB while streaming (limit {MAX_GROWTH_KIB} KiB)"
                )));
            }
            Ok(())
        },
    )
    .await;
    run.step("delete an object", "DeleteObject", async {
        let c = needs(c, "a client")?;
        c.general()
            .delete_object(BUCKET, "hello.txt")
            .send()
            .await?;
        Ok(())
    })
    .await;
    run.step(
        "a deleted object is not found",
        "GetObject (missing key)",
        async {
            let c = needs(c, "a client")?;
            let r = c.general().get_object(BUCKET, "hello.txt").send().await;
            expect_not_found(r, "NoSuchKey")
        },
    )
    .await;
    run.step(
        "a wrong secret is refused",
        "ListBuckets (wrong secret)",
        async {
            let wrong = client(&args, "wrong-secret").await?;
            expect_auth_failed(wrong.general().list_buckets().send().await)
        },
    )
    .await;
    run
}

fn main() {
    main_with(scenario);
}
