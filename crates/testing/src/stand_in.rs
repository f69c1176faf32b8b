//! A stand-in homeserver for in-process tests of error paths: it only says it
//! is up (`GET /_matrix/client/versions` → 200), so the bridge's check before
//! sending a user to a homeserver passes. End-to-end tests use real Synapses.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::OnceLock;

/// The stand-in's base URL (`http://127.0.0.1:PORT/`), started once per process.
pub fn homeserver_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the stand-in homeserver");
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                // One request per connection: read its head, answer, close.
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                    head.push(byte[0]);
                }
                let body = r#"{"versions":["v1.11"]}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        format!("http://127.0.0.1:{port}/")
    })
}
