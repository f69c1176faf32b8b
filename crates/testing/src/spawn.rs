//! Child processes for the test peers. They are spawned from one thread that
//! lives as long as the test process, with PR_SET_PDEATHSIG, so every peer dies
//! with the tests, however they end (pass, panic, or kill).

use std::process::{Child, Command};
use std::sync::OnceLock;
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

/// A free TCP port on 127.0.0.1 (released before use; fine on a test machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
