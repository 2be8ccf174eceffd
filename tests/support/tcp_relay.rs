//! A TCP relay in front of a WebSocket (or any) server that a test can cut:
//! `cut()` closes every open connection and refuses new ones until
//! `restore()`; `stall()` keeps every connection open but forwards nothing
//! (a network that drops packets without resetting anything) until
//! `restore()`. anvil serves WebSocket on its HTTP port, so this stands
//! between the daemon's subscription and the chain; it also stands between
//! the daemon and a PostgreSQL server.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpRelay {
    port: u16,
    refusing: Arc<AtomicBool>,
    /// Bumped by `cut`; every relayed connection ends when it changes.
    generation: watch::Sender<u64>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    stalled: watch::Sender<bool>,
}

impl TcpRelay {
    pub async fn start(upstream_port: u16) -> TcpRelay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind relay");
        let port = listener.local_addr().expect("relay addr").port();
        let refusing = Arc::new(AtomicBool::new(false));
        let (generation, _) = watch::channel(0u64);
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (stalled, _) = watch::channel(false);
        let (r, g, a, st) = (
            refusing.clone(),
            generation.clone(),
            accepted.clone(),
            stalled.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if r.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                a.fetch_add(1, Ordering::SeqCst);
                let mut cut = g.subscribe();
                let mut stall = st.subscribe();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await else {
                        return;
                    };
                    let (mut client, mut server) = (client, server);
                    loop {
                        // While stalled both sockets stay open, unread.
                        if stall.wait_for(|s| !*s).await.is_err() {
                            return;
                        }
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
                            _ = cut.changed() => return,
                            _ = stall.wait_for(|s| *s) => {}
                        }
                    }
                });
            }
        });
        TcpRelay {
            port,
            refusing,
            generation,
            accepted,
            stalled,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// Connections accepted (and relayed) so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes every relayed connection and refuses new ones.
    pub fn cut(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Forwards nothing more, in either direction, but closes nothing.
    pub fn stall(&self) {
        self.stalled.send_replace(true);
    }

    pub fn restore(&self) {
        self.refusing.store(false, Ordering::SeqCst);
        self.stalled.send_replace(false);
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}
