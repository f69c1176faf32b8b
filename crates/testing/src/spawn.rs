//! Child processes for the test peers. They are spawned from one thread that
//! lives as long as the test process, with PR_SET_PDEATHSIG, so every peer dies
//! with the tests, however they end (pass, panic, or kill).

use std::process::{Child, Command};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;

type Request = (Command, mpsc::Sender<std::io::Result<Child>>);

fn spawner() -> &'static mpsc::Sender<Request> {
    static SPAWNER: OnceLock<mpsc::Sender<Request>> = OnceLock::new();
    SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("peer-spawner".into())
            .spawn(move || {
                for (mut command, reply) in rx {
                    sso_bridge_sys::process::die_with_parent(&mut command);
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("spawner thread");
        tx
    })
}

/// Spawns `command` so that it dies with the test process.
pub fn spawn(command: Command) -> std::io::Result<Child> {
    let (tx, rx) = mpsc::channel();
    spawner()
        .send((command, tx))
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?;
    rx.recv()
        .map_err(|_| std::io::Error::other("spawner thread is gone"))?
}

/// Stops a child politely (SIGTERM), then for sure.
pub fn stop(child: &mut Child) {
    sso_bridge_sys::process::signal_child(child, sso_bridge_sys::process::SIGTERM);
    for _ in 0..50 {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Ports handed to peers that bind them later come from below the kernel's
/// ephemeral range (32768 and up on Linux): a port the kernel picks (`:0`) is
/// also what it gives outgoing connections as their source port, so between
/// this choice and the peer's bind, one of the tests' own connections could
/// take it ("Address already in use", seen once in CI).
const PEER_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A free TCP port on 127.0.0.1 for a peer to bind: never the same twice in
/// one process, each checked free when handed out.
pub fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(PEER_PORTS.end - PEER_PORTS.start);
    // Each test process starts elsewhere in the range (they may overlap in time).
    let offset = std::process::id().wrapping_mul(7_919) % span;
    for _ in 0..span {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = PEER_PORTS.start + u16::try_from((offset + step) % span).unwrap_or(0);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {PEER_PORTS:?}");
}
