//! A PostgreSQL server for tests (this crate's, and with the `conformance` feature other
//! crates'): started once in the target directory and shared by every test process, each test
//! taking a fresh database of its own ([`fresh_database`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::wait;

/// Where the tests' server lives, shared by every test process of a run (and kept between
/// runs, until `scripts/test.sh` stops it): a cluster in the target directory's
/// `test-tools/postgres`, listening on a Unix socket there only, so that two checkouts never
/// share one.
fn home() -> PathBuf {
    // The test binary is <target>/debug/deps/athena_store-<hash>.
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("the test binary lies in <target>/<profile>/deps");
    target.join("test-tools").join("postgres")
}

const PORT: u16 = 54_329;

/// The directory of PostgreSQL's programs (`initdb`, `pg_ctl`): Debian keeps them out of PATH.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    found.retain(|p| p.join("initdb").exists());
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!("no PostgreSQL server programs in /usr/lib/postgresql/*/bin: install Debian's `postgresql` (scripts/test-setup.sh does)")
    })
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

/// `program args`, as the `postgres` user when this process is root (initdb refuses root).
fn run_as_server(program: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
}

fn base_url() -> String {
    url_at(&home(), PORT)
}

fn url_at(home: &Path, port: u16) -> String {
    format!("host={} port={port} user=postgres", home.display())
}

fn answers(home: &Path, port: u16) -> bool {
    wait(async {
        let url = format!("{} dbname=postgres", url_at(home, port));
        tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .is_ok()
    })
}

/// The tests' server, started if it does not answer yet (under a file lock, so test
/// processes starting together start it once).
fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let home = home();
        std::fs::create_dir_all(&home).unwrap();
        let lock = std::fs::File::create(home.with_extension("lock")).unwrap();
        lock.lock().unwrap();
        if !answers(&home, PORT) {
            start_at(&home);
        }
        base_url()
    })
}

/// Makes (once) and starts a cluster in `home`, listening on a socket there only.
fn start_at(home: &Path) {
    start_with(home, PORT, "");
}

/// [`start_at`] on `port`, with more server options (`-c name=value …`).
fn start_with(home: &Path, port: u16, options: &str) {
    let data = home.join("data");
    let bin = bin_dir();
    if is_root() {
        // The server's user must own its directories.
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(home)
            .status()
            .unwrap();
        assert!(status.success(), "chown of {}", home.display());
    }
    if !data.join("PG_VERSION").exists() {
        let out = run_as_server(
            &bin.join("initdb"),
            &[
                "-D",
                data.to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale",
                "C.UTF-8",
            ],
        );
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = if options.is_empty() {
        pg_ctl(home, &["-w", "start"])
    } else {
        pg_ctl(home, &["-w", "-o", options, "start"])
    };
    assert!(
        out.status.success() || answers(home, port),
        "pg_ctl start: {}{}",
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(home.join("server.log")).unwrap_or_default()
    );
}

/// `pg_ctl ARGS` on the cluster in `home`, with the tests' server options and log.
fn pg_ctl(home: &Path, args: &[&str]) -> std::process::Output {
    let data = home.join("data");
    let options = format!(
        "-p {PORT} -k {} -c listen_addresses='' -c fsync=off -c max_connections=200",
        home.display()
    );
    let log = home.join("server.log");
    let mut all = vec![
        "-D",
        data.to_str().unwrap(),
        "-o",
        &options,
        "-l",
        log.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    run_as_server(&bin_dir().join("pg_ctl"), &all)
}

/// A PostgreSQL server of one test's own, for a test that restarts it (the shared one serves
/// every other test meanwhile): made in the target directory, stopped and removed when dropped.
pub struct PrivateServer {
    home: PathBuf,
    /// Its port: of its socket, and with TLS of 127.0.0.1 too.
    port: u16,
    tls: bool,
}

impl PrivateServer {
    /// Makes and starts one (a second or two: `initdb`).
    pub fn start() -> Self {
        let home = Self::new_home();
        start_at(&home);
        PrivateServer {
            home,
            port: PORT,
            tls: false,
        }
    }

    /// [`start`](Self::start), also listening on 127.0.0.1 with TLS (`ssl = on`), its
    /// certificate for `localhost` signed by a CA of its own ([`ca_file`](Self::ca_file)),
    /// made with the `openssl` command.
    pub fn start_with_tls() -> Self {
        let home = Self::new_home();
        let ssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&home)
                .output()
                .expect("running openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        ssl(&[
            &["req", "-x509"],
            &ec[..],
            &["-keyout", "ca.key", "-out", "ca.crt"],
        ]
        .concat()
        .into_iter()
        .chain(["-days", "2", "-subj", "/CN=athena test CA"])
        .collect::<Vec<_>>());
        ssl(&[
            &["req"],
            &ec[..],
            &["-keyout", "server.key", "-out", "server.csr"],
        ]
        .concat()
        .into_iter()
        .chain(["-subj", "/CN=localhost"])
        .collect::<Vec<_>>());
        std::fs::write(
            home.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .unwrap();
        ssl(&[
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
            "san.ext",
        ]);
        std::fs::set_permissions(
            home.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        // After the usual options (`pg_ctl` joins them): the last port given is the one.
        let options = format!(
            "-c port={port} -c listen_addresses=127.0.0.1 -c ssl=on \
             -c ssl_cert_file={home}/server.crt -c ssl_key_file={home}/server.key",
            home = home.display()
        );
        start_with(&home, port, &options);
        PrivateServer {
            home,
            port,
            tls: true,
        }
    }

    fn new_home() -> PathBuf {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "postgres-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let home = home().with_file_name(name);
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        home
    }

    /// The CA that signed its TLS certificate (PEM), with [`start_with_tls`](Self::start_with_tls).
    pub fn ca_file(&self) -> PathBuf {
        self.home.join("ca.crt")
    }

    /// Its database `athena` over TCP to `localhost` with `query` (`sslmode=require`), with
    /// [`start_with_tls`](Self::start_with_tls).
    pub fn tcp_url(&self, query: &str) -> String {
        assert!(self.tls, "a server started with TLS");
        self.url();
        format!("postgres://postgres@localhost:{}/athena?{query}", self.port)
    }

    /// Its database `athena`, made if missing, as a URL (`postgres://…`).
    pub fn url(&self) -> String {
        wait(async {
            let url = format!("{} dbname=postgres", url_at(&self.home, self.port));
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let running = tokio::spawn(conn);
            let _ = client.batch_execute("CREATE DATABASE athena").await;
            drop(client);
            let _ = running.await;
        });
        url_of(&self.home, self.port, "athena")
    }

    /// `pg_ctl restart` (fast: sessions are ended): every connection is lost, and the server
    /// answers again once this returns.
    pub fn restart(&self) {
        let out = pg_ctl(&self.home, &["-w", "-m", "fast", "restart"]);
        assert!(
            out.status.success(),
            "pg_ctl restart: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = pg_ctl(&self.home, &["-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A fresh database on the tests' server: its connection string (key-value form, a Unix
/// socket; no password).
pub fn fresh_database() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let base = server();
    let name = format!(
        "athena_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    wait(async {
        let (client, conn) =
            tokio_postgres::connect(&format!("{base} dbname=postgres"), tokio_postgres::NoTls)
                .await
                .unwrap();
        let running = tokio::spawn(conn);
        // One statement each: neither may run inside a transaction block.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            client.batch_execute(&sql).await.unwrap();
        }
        drop(client);
        let _ = running.await;
    });
    format!("{base} dbname={name}")
}

/// [`fresh_database`] as a URL (`postgres://postgres@%2Fsocket%2Fdir:PORT/name`), the form
/// `--db` and `[store] url` take.
pub fn fresh_url() -> String {
    let conninfo = fresh_database();
    let name = conninfo
        .rsplit("dbname=")
        .next()
        .unwrap_or_default()
        .to_string();
    url_of(&home(), PORT, &name)
}

/// The URL of database `name` on the server in `home`: its socket directory as the host.
fn url_of(home: &Path, port: u16, name: &str) -> String {
    let dir: String = (home.display().to_string().chars())
        .map(|c| match c {
            '/' => "%2F".to_string(),
            c => c.to_string(),
        })
        .collect();
    format!("postgres://postgres@{dir}:{port}/{name}")
}
