//! Tests of the AWS harness's pure parts: options, HTTP answers, the bootstrap's XML, reports, the
//! scenario crate's manifest.

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn options_default_to_all_services_and_restrict_in_order() {
    let o = parse(&[]).unwrap();
    assert_eq!(o.services.len(), 8);
    assert!(!o.json);
    let o = parse(&args(&["--json", "--services", "sqs,s3,sqs"])).unwrap();
    assert!(o.json);
    let names: Vec<&str> = o.services.iter().map(|s| s.name).collect();
    assert_eq!(names, ["sqs", "s3"]);
    assert!(
        parse(&args(&["--services", "ec2"]))
            .unwrap_err()
            .contains("unknown service `ec2`")
    );
    assert!(parse(&args(&["--services"])).is_err());
    assert!(parse(&args(&["--services", ","])).is_err());
    assert!(parse(&args(&["--fast"])).is_err());
}

#[test]
fn every_protocol_is_covered() {
    let protocols: std::collections::BTreeSet<&str> = SERVICES.iter().map(|s| s.protocol).collect();
    assert_eq!(
        protocols.into_iter().collect::<Vec<_>>(),
        ["json 1.0", "json 1.1", "query", "rest-json", "rest-xml"]
    );
}

#[test]
fn http_answers_give_status_and_body() {
    let (status, body) =
        parse_answer("HTTP/1.1 403 FORBIDDEN\r\nServer: x\r\n\r\n<Error>no</Error>").unwrap();
    assert_eq!((status, body.as_str()), (403, "<Error>no</Error>"));
    assert!(parse_answer("HTTP/1.1 200 OK\r\nServer: x").is_err());
    assert!(parse_answer("garbage\r\n\r\n").is_err());
}

#[test]
fn access_keys_are_read_from_create_access_key() {
    let xml = "<CreateAccessKeyResponse><CreateAccessKeyResult><AccessKey><UserName>u</UserName>\
               <AccessKeyId>AKIAEXAMPLE</AccessKeyId><Status>Active</Status>\
               <SecretAccessKey>wa/QW1+x</SecretAccessKey></AccessKey></CreateAccessKeyResult>\
               </CreateAccessKeyResponse>";
    assert_eq!(
        access_key(xml).unwrap(),
        Keys {
            access_key_id: "AKIAEXAMPLE".into(),
            secret_access_key: "wa/QW1+x".into()
        }
    );
    let err =
        access_key("<AccessKeyId>A</AccessKeyId><SecretAccessKey></SecretAccessKey>").unwrap_err();
    assert!(err.contains("SecretAccessKey"), "{err}");
}

#[test]
fn form_values_are_percent_encoded() {
    assert_eq!(form_encode("a-b_c.d~e"), "a-b_c.d~e");
    assert_eq!(
        form_encode(r#"{"A":"*"} /"#),
        "%7B%22A%22%3A%22%2A%22%7D%20%2F"
    );
}

fn step(name: &str, ok: bool) -> Step {
    Step {
        step: name.into(),
        call: "Call".into(),
        ok,
        status: (!ok).then_some(403),
        error: (!ok).then(|| "AUTH_FAILED: refused\nsecond line".to_owned()),
        ms: 1,
    }
}

#[test]
fn reports_are_read_from_the_last_line_and_checked() {
    let out = "noise\n{\"service\":\"sqs\",\"steps\":[{\"step\":\"a\",\"call\":\"A\",\"ok\":true,\"status\":null,\"error\":null,\"ms\":3}]}\n";
    let r = parse_results("sqs", out).unwrap();
    assert_eq!(r.steps.len(), 1);
    assert!(r.passed());
    assert!(parse_results("s3", out).unwrap_err().contains("not `s3`"));
    assert!(parse_results("sqs", "").is_err());
    let empty = ServiceResult {
        service: "sqs".into(),
        steps: vec![],
    };
    assert!(!empty.passed(), "a service without steps did not pass");
}

#[test]
fn the_table_counts_passed_steps() {
    let results = vec![
        ServiceResult {
            service: "s3".into(),
            steps: vec![step("a", true), step("b", false)],
        },
        ServiceResult::broken("sqs", "build", "did not compile".into()),
    ];
    let t = table(&results);
    assert!(t.contains("| s3 | rest-xml | 1 / 2 |"), "{t}");
    assert!(t.contains("| sqs | query | 0 / 1 |"), "{t}");
    let docs = render_docs(&results);
    assert!(
        docs.contains("- b (`Call`): failed (403): AUTH_FAILED: refused second line"),
        "{docs}"
    );
    assert!(docs.contains("- build: failed: did not compile"), "{docs}");
}

#[test]
fn cargo_messages_name_the_built_programs() {
    let messages = r#"{"reason":"compiler-artifact","target":{"name":"aws-s3-scenario"},"executable":"/t/debug/aws-s3-scenario"}
{"reason":"compiler-artifact","target":{"name":"serde"},"executable":null}
{"reason":"build-finished","success":false}"#;
    assert_eq!(
        executables(messages),
        [(
            "aws-s3-scenario".to_owned(),
            "/t/debug/aws-s3-scenario".to_owned()
        )]
    );
}

#[test]
fn the_manifest_gates_each_client_and_program_by_its_feature() {
    let m = manifest(Path::new("/r/runtime"), Path::new("/c/clients"), SERVICES);
    assert!(
        m.contains("connector-runtime = { path = \"/r/runtime\" }"),
        "{m}"
    );
    for s in SERVICES {
        assert!(m.contains(&format!(
            "aws-{0} = {{ path = \"/c/clients/{0}\", optional = true }}",
            s.name
        )));
        assert!(m.contains(&format!("{0} = [\"dep:aws-{0}\"]", s.name)));
        assert!(m.contains(&format!("required-features = [\"{}\"]", s.name)));
    }
    let parsed: toml::Value = toml::from_str(&m).unwrap();
    assert_eq!(parsed["bin"].as_array().unwrap().len(), SERVICES.len());
    // A restricted build names only its services' clients and programs.
    let some = manifest(Path::new("/r"), Path::new("/c"), &SERVICES[..2]);
    let parsed: toml::Value = toml::from_str(&some).unwrap();
    assert_eq!(parsed["bin"].as_array().unwrap().len(), 2);
    assert!(!some.contains("aws-sqs"), "{some}");
    // Every program a manifest can name is written into the crate.
    for s in SERVICES {
        let path = format!("src/bin/{}.rs", s.name);
        assert!(HARNESS_FILES.iter().any(|(p, _)| *p == path), "{path}");
    }
}

#[test]
fn overlays_follow_the_protocol_and_the_service() {
    let root = crate::root();
    let named = |name: &str| -> Vec<String> {
        let s = SERVICES.iter().find(|s| s.name == name).unwrap();
        overlays(&root, s)
            .iter()
            .map(|p| {
                assert!(p.is_file(), "{} is missing", p.display());
                p.file_name().unwrap().to_string_lossy().into_owned()
            })
            .collect()
    };
    assert_eq!(named("s3"), ["s3.yaml"]);
    assert_eq!(named("dynamodb"), ["json-timestamps.yaml"]);
    assert_eq!(named("kinesis"), ["json-timestamps.yaml"]);
    assert_eq!(named("secretsmanager"), ["json-timestamps.yaml"]);
    assert!(named("sqs").is_empty() && named("lambda").is_empty());
}
