//! A throwaway PostgreSQL cluster for tests and the bulk-load benchmark: `initdb` in a temporary
//! directory, TLS from a CA generated here, started on a free loopback port as an unprivileged
//! user, and stopped afterwards (when dropped, and, should the process die, by a watchdog).
//!
//! Requirements, installed when missing and running as root:
//! - PostgreSQL's server binaries (`initdb`, `pg_ctl`, `postgres`): found on `PATH`, in
//!   `CONNECTOR_PG_BIN`, or under `/usr/lib/postgresql/*/bin`; otherwise `apt-get install -y
//!   postgresql` (after `apt-get update` if the first attempt fails).
//! - An unprivileged user to own the cluster, since the server refuses to run as root: `postgres`,
//!   created with `useradd --system` when missing. Commands run through `runuser -u postgres --`.
//!   When the tests do not run as root, the cluster belongs to the current user.
//!
//! Readiness is a successful connection: one connect whose pool waits (with its own backoff on
//! "connection refused" and "the database system is starting up") up to a bound deadline.

#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use connector_db::{Database, DbConfig, SslMode};

/// The cluster's superuser password (scram-sha-256 on TCP).
pub const PASSWORD: &str = "throwaway-cluster-password";

/// How long a start may take before it is a failure.
pub const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A running throwaway cluster.
pub struct Cluster {
    pub port: u16,
    pub root: PathBuf,
    pub data: PathBuf,
    /// The CA that signed the server's certificate.
    pub ca: PathBuf,
    /// A CA that did not.
    pub wrong_ca: PathBuf,
    bin: PathBuf,
    owner: Option<String>,
    watchdog: Mutex<Option<Child>>,
}

fn fail(what: &str, e: impl std::fmt::Display) -> String {
    format!("{what}: {e}")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| fail(what, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// The directory holding `initdb` and `pg_ctl`.
pub fn server_bin() -> Result<PathBuf, String> {
    let found = || -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("CONNECTOR_PG_BIN") {
            let dir = PathBuf::from(dir);
            if dir.join("initdb").exists() {
                return Some(dir);
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            for dir in std::env::split_paths(&path) {
                if dir.join("initdb").exists() && dir.join("pg_ctl").exists() {
                    return Some(dir);
                }
            }
        }
        let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .collect();
        versions.sort();
        versions.pop()
    };
    if let Some(dir) = found() {
        return Ok(dir);
    }
    if !is_root() {
        return Err("PostgreSQL's initdb was not found; install the `postgresql` package (or set CONNECTOR_PG_BIN)".into());
    }
    eprintln!("cluster: initdb not found; installing PostgreSQL with apt-get");
    let install = || {
        run(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "postgresql"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
            "apt-get install postgresql",
        )
    };
    if install().is_err() {
        run(
            Command::new("apt-get").args(["update", "-q"]),
            "apt-get update",
        )?;
        install()?;
    }
    found().ok_or_else(|| "PostgreSQL was installed but initdb is still not found".to_owned())
}

/// The unprivileged owner (None when not running as root: the current user owns the cluster).
fn owner() -> Result<Option<String>, String> {
    if !is_root() {
        return Ok(None);
    }
    let user = "postgres";
    let exists = Command::new("id")
        .arg("-u")
        .arg(user)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !exists {
        run(
            Command::new("useradd").args([
                "--system",
                "--user-group",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ]),
            "useradd postgres",
        )?;
    }
    Ok(Some(user.to_owned()))
}

fn chown(owner: &Option<String>, path: &Path) -> Result<(), String> {
    if let Some(user) = owner {
        run(
            Command::new("chown")
                .arg("-R")
                .arg(format!("{user}:"))
                .arg(path),
            "chown",
        )?;
    }
    Ok(())
}

fn chmod(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| fail("chmod", e))
}

/// A command run as the cluster's owner.
fn as_owner(owner: &Option<String>, program: &Path) -> Command {
    match owner {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--"]).arg(program);
            c
        }
        None => Command::new(program),
    }
}

/// A port nothing listens on now.
pub fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| fail("bind", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| fail("local_addr", e))
}

struct Pki {
    ca: String,
    wrong_ca: String,
    server_cert: String,
    server_key: String,
}

fn pki() -> Result<Pki, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose,
    };
    let e = |e: rcgen::Error| e.to_string();
    let ca = |cn: &str| -> Result<CertifiedIssuer<'static, KeyPair>, String> {
        let mut p = CertificateParams::new(Vec::<String>::new()).map_err(e)?;
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        CertifiedIssuer::self_signed(p, KeyPair::generate().map_err(e)?).map_err(e)
    };
    let good = ca("connector-db test CA")?;
    let wrong = ca("connector-db unrelated CA")?;
    let key = KeyPair::generate().map_err(e)?;
    let mut p =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).map_err(e)?;
    p.distinguished_name
        .push(DnType::CommonName, "connector-db test server");
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.use_authority_key_identifier_extension = true;
    let server = p.signed_by(&key, &good).map_err(e)?;
    Ok(Pki {
        ca: good.pem(),
        wrong_ca: wrong.pem(),
        server_cert: server.pem(),
        server_key: key.serialize_pem(),
    })
}

impl Cluster {
    /// initdb, certificates, start, wait until it accepts connections.
    pub async fn start(name: &str) -> Result<Cluster, String> {
        let bin = server_bin()?;
        let owner = owner()?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let root = std::env::temp_dir().join(format!(
            "connector-db-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&root).map_err(|e| fail("create the cluster directory", e))?;
        chmod(&root, 0o755)?;
        let data = root.join("data");
        let sock = root.join("sock");
        let tls = root.join("tls");
        for d in [&data, &sock, &tls] {
            std::fs::create_dir_all(d).map_err(|e| fail("create a cluster directory", e))?;
        }
        chmod(&data, 0o700)?;
        let pki = pki()?;
        let write =
            |path: &Path, text: &str| std::fs::write(path, text).map_err(|e| fail("write", e));
        let ca = root.join("ca.pem");
        let wrong_ca = root.join("wrong-ca.pem");
        write(&ca, &pki.ca)?;
        write(&wrong_ca, &pki.wrong_ca)?;
        write(&tls.join("server.crt"), &pki.server_cert)?;
        write(&tls.join("server.key"), &pki.server_key)?;
        chmod(&tls.join("server.key"), 0o600)?;
        let pwfile = tls.join("pwfile");
        write(&pwfile, PASSWORD)?;
        chmod(&pwfile, 0o600)?;
        for d in [&data, &sock, &tls] {
            chown(&owner, d)?;
        }
        run(
            as_owner(&owner, &bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "--no-sync",
                ])
                .arg(format!("--pwfile={}", pwfile.display())),
            "initdb",
        )?;
        let port = free_port()?;
        let cluster = Cluster {
            port,
            root: root.clone(),
            data,
            ca,
            wrong_ca,
            bin,
            owner,
            watchdog: Mutex::new(None),
        };
        cluster.spawn_watchdog()?;
        cluster.start_server()?;
        cluster.wait_ready().await?;
        Ok(cluster)
    }

    fn server_options(&self) -> String {
        let tls = self.root.join("tls");
        format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c ssl=on -c ssl_cert_file={} -c ssl_key_file={} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.root.join("sock").display(),
            tls.join("server.crt").display(),
            tls.join("server.key").display(),
        )
    }

    fn start_server(&self) -> Result<(), String> {
        run(
            as_owner(&self.owner, &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .arg("-l")
                .arg(self.root.join("tls").join("server.log"))
                .arg("-o")
                .arg(self.server_options())
                .args(["-W", "start"]),
            "pg_ctl start",
        )
    }

    /// Stop the server: `fast` ends sessions at once (clients see their connection closed).
    pub fn stop(&self, mode: &str) -> Result<(), String> {
        run(
            as_owner(&self.owner, &self.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&self.data)
                .args(["-m", mode, "-w", "stop"]),
            "pg_ctl stop",
        )
    }

    /// Stop (fast) and start again on the same port, then wait until it accepts connections.
    pub async fn restart(&self) -> Result<(), String> {
        self.stop("fast")?;
        self.start_server()?;
        self.wait_ready().await
    }

    /// Start a stopped server (without waiting).
    pub fn start_again(&self) -> Result<(), String> {
        self.start_server()
    }

    /// One connection, its pool waiting up to the deadline while the server comes up.
    pub async fn wait_ready(&self) -> Result<(), String> {
        let mut config = self.config("postgres", SslMode::Disable);
        config.pool.acquire_timeout_ms = READY_DEADLINE.as_millis() as u64;
        config.retry.max_attempts = 1;
        let db = Database::connect(config).await.map_err(|e| {
            let log = std::fs::read_to_string(self.root.join("tls").join("server.log")).unwrap_or_default();
            format!("the cluster did not accept connections within {READY_DEADLINE:?}: {e}\nserver log:\n{log}")
        })?;
        db.close().await;
        Ok(())
    }

    /// A configuration for `database` over TLS mode `ssl` (verify modes trust the right CA).
    pub fn config(&self, database: &str, ssl: SslMode) -> DbConfig {
        let ca = matches!(ssl, SslMode::VerifyCa | SslMode::VerifyFull).then(|| self.ca.clone());
        DbConfig::postgres("127.0.0.1", self.port, database, "postgres")
            .with_password(PASSWORD)
            .with_ssl(ssl, ca)
    }

    /// The URL libpq clients (psql) take, password included.
    pub fn libpq_url(&self, database: &str) -> String {
        format!(
            "postgresql://postgres:{PASSWORD}@127.0.0.1:{}/{database}?sslmode=verify-full&sslrootcert={}",
            self.port,
            self.ca.display()
        )
    }

    /// A fresh database on this cluster.
    pub async fn create_database(&self, name: &str) -> Result<(), String> {
        let admin = Database::connect(self.config("postgres", SslMode::Disable))
            .await
            .map_err(|e| fail("connect to create a database", e))?;
        let quoted = connector_db::quote_ident(name).map_err(|e| fail("database name", e))?;
        let _ = admin
            .execute(&format!("DROP DATABASE IF EXISTS {quoted}"), &[])
            .await;
        admin
            .execute(&format!("CREATE DATABASE {quoted}"), &[])
            .await
            .map_err(|e| fail("create database", e))?;
        admin.close().await;
        Ok(())
    }

    /// A child that stops the cluster and removes its directory when this process ends, however
    /// it ends: it waits for end-of-file on a pipe whose writing end only this process holds.
    fn spawn_watchdog(&self) -> Result<(), String> {
        let stop = format!(
            "{} -D '{}' -m immediate stop",
            self.bin.join("pg_ctl").display(),
            self.data.display()
        );
        let stop = match &self.owner {
            Some(user) => format!("runuser -u {user} -- {stop}"),
            None => stop,
        };
        let script = format!(
            "cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf '{}'",
            self.root.display()
        );
        let child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| fail("spawn the cluster watchdog", e))?;
        *self.watchdog.lock().unwrap_or_else(|p| p.into_inner()) = Some(child);
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop("immediate");
        // Closing the pipe lets the watchdog remove the directory.
        if let Some(mut child) = self
            .watchdog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            if let Some(mut stdin) = child.stdin.take() {
                let _ = stdin.flush();
            }
            let _ = child.wait();
        }
    }
}
