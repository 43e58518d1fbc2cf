//! The `blob` command line, run as a process against Azurite and fake-gcs-server with its
//! configuration from the providers' environment variables, as a user runs it.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use connector_blob::Provider;
use support::Emulator;

/// Run `blob args...` with `env`; the output, whatever the exit status.
fn blob(env: &[(&str, String)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_blob"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the blob binary runs")
}

fn ok(env: &[(&str, String)], args: &[&str]) -> String {
    let out = blob(env, args);
    assert!(
        out.status.success(),
        "blob {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Upload, list, stat, cat, copy within the store, download, and delete recursively.
async fn round_trip(provider: Provider, env: Vec<(&'static str, String)>, scheme: &str) {
    let dir = std::env::temp_dir().join(format!("blob-cli-{}-{}", provider, std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let local = dir.join("report.csv");
    let body = "id,name\n1,ada\n2,grace\n".repeat(1000);
    std::fs::write(&local, &body).unwrap();
    let bucket = format!("{scheme}://cli");
    let local_s = local.to_str().unwrap();

    let up = ok(&env, &["cp", local_s, &format!("{bucket}/in/")]);
    assert!(up.contains("uploaded"), "{up}");
    ok(&env, &["cp", local_s, &format!("{bucket}/in/deep/b.csv")]);

    let ls = ok(&env, &["ls", &format!("{bucket}/in/")]);
    assert!(
        ls.contains("in/report.csv") && ls.contains("PRE") && ls.contains("in/deep/"),
        "{ls}"
    );
    let all = ok(&env, &["ls", "-r", &format!("{bucket}/in/")]);
    assert!(
        all.contains("in/deep/b.csv") && !all.contains("PRE"),
        "{all}"
    );

    let stat = ok(&env, &["stat", &format!("{bucket}/in/report.csv")]);
    assert!(
        stat.contains(&format!("size:          {}", body.len())),
        "{stat}"
    );

    let cat = ok(&env, &["cat", &format!("{bucket}/in/report.csv")]);
    assert_eq!(cat, body);

    ok(
        &env,
        &[
            "cp",
            &format!("{bucket}/in/report.csv"),
            &format!("{bucket}/copy/r.csv"),
        ],
    );
    let target = dir.join("back.csv");
    ok(
        &env,
        &[
            "cp",
            &format!("{bucket}/copy/r.csv"),
            target.to_str().unwrap(),
        ],
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), body);
    assert!(!Path::new(&target.with_extension("partial")).exists());

    let rm = ok(&env, &["rm", "-r", &format!("{bucket}/in/")]);
    assert!(rm.contains("deleted 2 of 2 keys"), "{rm}");
    let ls = ok(&env, &["ls", "-r", &format!("{bucket}/")]);
    assert!(!ls.contains("in/") && ls.contains("copy/r.csv"), "{ls}");

    // A missing object: a non-zero exit and the runtime's code, nothing written locally.
    let missing = blob(
        &env,
        &[
            "cp",
            &format!("{bucket}/nope.csv"),
            dir.join("nope.csv").to_str().unwrap(),
        ],
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NOT_FOUND"));
    assert!(!dir.join("nope.csv").exists() && !dir.join("nope.partial").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_against_azurite() {
    let emu = Emulator::start(Provider::Azure);
    emu.fresh_store("cli").await;
    let Emulator::Azure(a) = &emu else {
        unreachable!()
    };
    let env = vec![("AZURE_STORAGE_CONNECTION_STRING", a.connection_string())];
    round_trip(Provider::Azure, env, "az").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_against_fake_gcs_server() {
    let emu = Emulator::start(Provider::Gcs);
    emu.fresh_store("cli").await;
    let env = vec![("STORAGE_EMULATOR_HOST", emu.endpoint())];
    round_trip(Provider::Gcs, env, "gs").await;
}

#[test]
fn missing_credentials_and_bad_urls_are_clear_errors() {
    let out = blob(&[], &["ls", "s3://bucket/"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AUTH_FAILED") && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
    let out = blob(&[], &["ls", "ftp://bucket/"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("unknown store scheme"),
        "{err}"
    );
    let out = blob(&[], &["frobnicate"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("usage: blob"));
}
