//! A small HTTP server on loopback that answers every request with the status and body the
//! test sets: the target of the health gate.

#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A health endpoint; it stops serving when the test process ends.
pub struct Health {
    state: Arc<Mutex<(u16, String)>>,
    /// `http://127.0.0.1:PORT/health`
    pub url: String,
    hits: Arc<Mutex<u32>>,
}

impl Health {
    /// Start it healthy (`200 ok`).
    pub fn start() -> Health {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let port = listener.local_addr().expect("its address").port();
        let state = Arc::new(Mutex::new((200u16, "ok".to_string())));
        let hits = Arc::new(Mutex::new(0u32));
        let (s, h) = (state.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut buf = [0u8; 4096];
                let mut request = Vec::new();
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                *h.lock().unwrap() += 1;
                let (status, body) = s.lock().unwrap().clone();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Health {
            state,
            url: format!("http://127.0.0.1:{port}/health"),
            hits,
        }
    }

    /// Answer `status` with `body` from now on.
    pub fn set(&self, status: u16, body: &str) {
        *self.state.lock().unwrap() = (status, body.to_string());
    }

    /// Requests served so far.
    pub fn hits(&self) -> u32 {
        *self.hits.lock().unwrap()
    }
}
