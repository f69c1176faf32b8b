//! The database the tests run on: SQLite by default; with
//! `SSO_BRIDGE_TEST_DB=postgres`, a real PostgreSQL cluster (Debian's
//! `postgresql` package) that this test process starts once, in `target/`, and
//! a fresh database in it for each caller.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub fn postgres() -> bool {
    std::env::var("SSO_BRIDGE_TEST_DB").is_ok_and(|v| v == "postgres")
}

/// A database URL for one test or one set of peers: `sqlite_url` unless the run
/// is on PostgreSQL, then a new empty database.
pub fn url(sqlite_url: &str) -> String {
    if !postgres() {
        return sqlite_url.to_owned();
    }
    let cluster = cluster();
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    psql(cluster.port, &format!("CREATE DATABASE {name}"));
    format!("postgres://postgres@127.0.0.1:{}/{name}", cluster.port)
}

fn bin(name: &str) -> PathBuf {
    let root = Path::new("/usr/lib/postgresql");
    let mut versions: Vec<PathBuf> = std::fs::read_dir(root)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .last()
        .map(|v| v.join("bin").join(name))
        .unwrap_or_else(|| panic!("PostgreSQL is not installed: run scripts/setup.sh"))
}

/// PostgreSQL refuses to run as root: run its programs as `postgres` then, by
/// switching user in the child itself (no `runuser` in between, so the server
/// is our direct child and dies with the tests like every other peer).
fn as_postgres(program: PathBuf) -> Command {
    let mut command = Command::new(program);
    if sso_bridge_sys::process::is_root() {
        let id = |flag: &str| -> u32 {
            let out = Command::new("id")
                .args([flag, "postgres"])
                .output()
                .expect("run id");
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse()
                .expect("the postgres user (scripts/setup.sh installs PostgreSQL)")
        };
        std::os::unix::process::CommandExt::uid(&mut command, id("-u"));
        std::os::unix::process::CommandExt::gid(&mut command, id("-g"));
    }
    command
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let root = crate::paths::root();
        // Clusters of finished test processes are left behind: remove them.
        if let Ok(entries) = std::fs::read_dir(root.join("target/postgres")) {
            for entry in entries.flatten() {
                let pid = entry.file_name().to_string_lossy().into_owned();
                if !Path::new("/proc").join(&pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let cluster = Cluster::start("shared");
        eprintln!(
            "tests: PostgreSQL on 127.0.0.1:{} ({})",
            cluster.port,
            cluster.dir.display()
        );
        cluster
    })
}

/// A PostgreSQL cluster of this test process, in `target/postgres/<pid>/<name>`;
/// it can be stopped and started again (same port, same data) to test outages.
pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
    server: Mutex<Option<Child>>,
}

impl Cluster {
    pub fn start(name: &str) -> Cluster {
        let root = crate::paths::root();
        let dir = root.join(format!("target/postgres/{}/{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("postgres dir");
        if sso_bridge_sys::process::is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres"])
                .arg(root.join(format!("target/postgres/{}", std::process::id())))
                .status()
                .expect("chown");
            assert!(status.success(), "chown the PostgreSQL dir");
        }
        let status = as_postgres(bin("initdb"))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .stdout(Stdio::null())
            .status()
            .expect("run initdb");
        assert!(status.success(), "initdb failed");
        let cluster = Cluster {
            port: crate::spawn::free_port(),
            dir,
            server: Mutex::new(None),
        };
        cluster.resume();
        cluster
    }

    /// Starts the server (again) and waits until it answers queries.
    pub fn resume(&self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .expect("log");
        let mut server = as_postgres(bin("postgres"));
        server
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(&self.dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .args(["-c", "max_connections=300"])
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        let server = crate::spawn::spawn(server).expect("start PostgreSQL");
        *self.server.lock().expect("lock") = Some(server);
        let deadline = Instant::now() + Duration::from_secs(30);
        // Accepting connections is not yet ready to serve: wait for a query to pass.
        while !try_psql(self.port, "SELECT 1") {
            assert!(
                Instant::now() < deadline,
                "PostgreSQL did not start; see {}",
                self.dir.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the server (fast shutdown: open connections are cut) and waits for it.
    pub fn stop(&self) {
        if let Some(mut server) = self.server.lock().expect("lock").take() {
            // SIGINT is PostgreSQL's fast shutdown: open connections are cut.
            sso_bridge_sys::process::signal_child(&server, sso_bridge_sys::process::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !matches!(server.try_wait(), Ok(Some(_))) {
                if Instant::now() > deadline {
                    let _ = server.kill();
                    let _ = server.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// A new empty database; its URL.
    pub fn database(&self, name: &str) -> String {
        psql(self.port, &format!("CREATE DATABASE {name}"));
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn try_psql(port: u16, sql: &str) -> bool {
    Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-q",
            "-c",
            sql,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn psql(port: u16, sql: &str) {
    assert!(try_psql(port, sql), "psql: {sql} failed");
}

/// A config text with its `sqlite::memory:` database replaced by this run's choice.
pub fn in_config(config: &str) -> String {
    if postgres() {
        config.replace("sqlite::memory:", &url("sqlite::memory:"))
    } else {
        config.to_owned()
    }
}
