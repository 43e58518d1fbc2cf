//! A tour of a generated client: typed calls, typed errors, validation, against a local pet store.
//!
//! The server is a few lines of tokio on 127.0.0.1 so the demo runs anywhere without network access.

use pet_store_connector::models::{NewPet, PetStatus};
use pet_store_connector::{Client, ConnectorConfig, ErrorCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers like the pet store would, from the request line alone.
fn answer(request_line: &str) -> (u16, String) {
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match (method, target.split('?').next().unwrap_or("")) {
        ("GET", "/v1/pets") => (200, r#"[{"id":1,"name":"Rex","status":"available"},{"id":2,"name":"Tom","status":"adopted-elsewhere"}]"#.into()),
        ("POST", "/v1/pets") => (201, r#"{"id":3,"name":"Nibbles","tag":null,"status":"pending"}"#.into()),
        ("GET", "/v1/pets/404") => (404, r#"{"code":404,"message":"no pet 404"}"#.into()),
        ("GET", "/v1/store/inventory") => (200, r#"{"available":1,"pending":1}"#.into()),
        _ => (400, r#"{"code":400,"message":"unexpected request"}"#.into()),
    }
}

async fn serve(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else { return };
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            let Ok(n) = socket.read(&mut buf).await else { return };
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let (status, body) = answer(head.lines().next().unwrap_or(""));
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-request-id: demo-{status}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), pet_store_connector::Error> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(serve(listener));

    let config = ConnectorConfig { base_url: format!("http://{addr}/v1"), ..Client::config() };
    let client = Client::new(config).await?;

    let pets = client.pets().list_pets().limit(10).send().await?;
    println!("listed {} pets (request id {}):", pets.data.len(), pets.meta.request_id);
    for pet in &pets.data {
        // A status this client version does not know still decodes, as Unknown.
        println!("  #{} {} ({:?})", pet.id, pet.name, pet.status);
    }

    let new = NewPet { name: "Nibbles".into(), tag: Some(None), age: Some(2) };
    let created = client.pets().create_pet(new).send().await?;
    println!("created #{} {} with status {:?}", created.data.id, created.data.name, created.data.status);
    assert_eq!(created.data.status, Some(PetStatus::Pending));

    match client.pets().show_pet_by_id("404").send().await {
        Err(e) => {
            let body = e.body::<pet_store_connector::models::ErrorModel>();
            println!("typed error: {} -> {:?}", e, body.map(|b| &b.message));
        }
        Ok(_) => println!("unexpected success"),
    }

    let invalid = NewPet { name: String::new(), ..Default::default() };
    let err = client.pets().create_pet(invalid).send().await.expect_err("empty names are invalid");
    assert_eq!(err.code(), ErrorCode::ValidationError);
    println!("validated before sending: {err}");

    let inventory = client.store().get_inventory().send().await?;
    println!("inventory: {:?}", inventory.data);
    Ok(())
}
