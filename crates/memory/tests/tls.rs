//! PostgreSQL over TLS: a throwaway cluster that accepts only encrypted connections
//! (`hostssl` lines alone in pg_hba.conf), with a certificate signed by a CA made for the test.
//!
//! Needs the PostgreSQL server binaries (`initdb`, `pg_ctl`: /usr/lib/postgresql/*/bin, or the
//! folder named by `PG_BIN`) and the `openssl` command. When the test runs as root (as it does on
//! these machines), initdb and postgres refuse to run as root, so they run as the `postgres` user
//! through `runuser`, in a temporary folder handed over to that user.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::chain;
use mcpcord_memory::{GuildId, MemoryError, Store};

/// The first PostgreSQL `bin` folder found: `PG_BIN`, else the newest /usr/lib/postgresql/*/bin.
fn pg_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    // Newest major version last (numeric order: 9 < 10 < 16).
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(Path::file_name)
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop().unwrap_or_else(|| {
        panic!(
            "this test needs the PostgreSQL server binaries (initdb, pg_ctl): install them \
             (Debian/Ubuntu: apt-get install postgresql) or set PG_BIN to the folder holding them"
        )
    })
}

fn is_root() -> bool {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .expect("run `id -u` to learn whether the test runs as root");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs `program` with `args`, as the `postgres` user when this process is root (initdb and
/// postgres refuse to run as root).
fn as_server_user(program: &Path, args: &[&str]) -> Output {
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args).output().unwrap_or_else(|error| {
        panic!(
            "cannot run {} (as root it runs through `runuser -u postgres`, which needs the \
             `postgres` user): {error}",
            program.display()
        )
    })
}

fn check(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn openssl(args: &[&str], dir: &Path) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "this test needs the `openssl` command to make its certificates \
                 (Debian/Ubuntu: apt-get install openssl): {error}"
            )
        });
    check(&format!("openssl {}", args.join(" ")), &output);
}

/// A CA, and a server certificate it signed for 127.0.0.1 and localhost.
fn certificates(dir: &Path) {
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=mcpcord test CA",
        ],
        dir,
    );
    openssl(
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
        dir,
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints = CA:FALSE\n\
         keyUsage = digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\n\
         subjectAltName = IP:127.0.0.1, DNS:localhost\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
        dir,
    );
    // PostgreSQL refuses a key others may read.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("server.key"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// A running throwaway cluster, stopped when dropped (also when the test fails).
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        let bin = pg_bin();
        let dir = tempfile::tempdir().expect("a temporary folder");
        let root = dir.path().to_path_buf();
        let root = root.as_path();
        certificates(root);
        let data = root.join("data");
        if is_root() {
            let output = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(root)
                .output()
                .expect("run chown");
            check("chown the test folder to postgres", &output);
        }
        let output = as_server_user(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "-A",
                "trust",
                "--no-sync",
            ],
        );
        check("initdb", &output);
        // Encrypted connections only: a plain one finds no pg_hba.conf line.
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .unwrap();
        let port = free_port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root} \
             -c ssl=on -c ssl_cert_file={root}/server.crt -c ssl_key_file={root}/server.key \
             -c fsync=off",
            root = root.display()
        );
        let cluster = Cluster {
            bin,
            data,
            port,
            ca: root.join("ca.crt"),
            _dir: dir,
        };
        let log = root.join("postgres.log");
        let output = as_server_user(
            &cluster.bin.join("pg_ctl"),
            &[
                "-D",
                cluster.data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        if !output.status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!(
                "pg_ctl start failed: {}\n{log}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        cluster
    }

    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/postgres?{query}",
            self.port
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let output = as_server_user(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                self.data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        if !output.status.success() {
            eprintln!(
                "could not stop the test cluster: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

const GUILD: GuildId = GuildId::new(1);

async fn retention(store: &Store) -> Option<Duration> {
    store.guild(GUILD).await.unwrap().unwrap().retention
}

async fn connect(url: &str) -> Result<Store, MemoryError> {
    tokio::time::timeout(Duration::from_secs(60), Store::connect(url))
        .await
        .unwrap_or_else(|_| panic!("connecting to {url} took over a minute"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_honours_sslmode_and_sslrootcert() {
    // The process installs this at start-up; sqlx itself uses ring directly.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cluster = Cluster::start();

    // require: encrypted, certificate not checked; the migrations run.
    let store = connect(&cluster.url("sslmode=require"))
        .await
        .unwrap_or_else(|e| panic!("sslmode=require: {}", chain(&e)));
    store
        .set_retention(GUILD, Some(Duration::from_secs(60)))
        .await
        .expect("a write over TLS");
    store.close().await;

    // prefer (the default): TLS when the server offers it.
    let store = connect(&cluster.url("sslmode=prefer"))
        .await
        .unwrap_or_else(|e| panic!("sslmode=prefer: {}", chain(&e)));
    assert_eq!(retention(&store).await, Some(Duration::from_secs(60)));
    store.close().await;

    // verify-full with the CA: the certificate is checked, and names 127.0.0.1.
    let ca = cluster.ca.display();
    for mode in ["verify-full", "verify-ca"] {
        let store = connect(&cluster.url(&format!("sslmode={mode}&sslrootcert={ca}")))
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode} with the CA: {}", chain(&e)));
        assert_eq!(retention(&store).await, Some(Duration::from_secs(60)));
        store.close().await;
    }

    // verify-full without the CA: the certificate is not trusted, and the error says what to do.
    let error = connect(&cluster.url("sslmode=verify-full"))
        .await
        .expect_err("a certificate from an unknown CA is refused");
    let text = chain(&error);
    assert!(
        matches!(error, MemoryError::Connect { .. })
            && text.contains("the TLS connection failed")
            && text.contains("sslrootcert"),
        "{text}"
    );

    // disable: refused by the server, and the error says how to connect.
    let error = connect(&cluster.url("sslmode=disable"))
        .await
        .expect_err("a plain connection is refused");
    let text = chain(&error);
    assert!(
        matches!(error, MemoryError::Connect { .. })
            && text.contains("only encrypted connections")
            && text.contains("sslmode=require"),
        "{text}"
    );
    drop(cluster);
}
