//! A real HTTP receiver for notification tests: it records each request body
//! and answers from a script (a status per request, the last one repeating),
//! or never answers at all.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;

#[derive(Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// Holds the connection open without answering.
    Hang,
}

pub struct Receiver {
    pub addr: SocketAddr,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    pub async fn start(script: Vec<Answer>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let recorded = bodies.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let recorded = recorded.clone();
                let script = script.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<Incoming>| {
                        let recorded = recorded.clone();
                        let script = script.clone();
                        async move {
                            let body = req.into_body().collect().await?.to_bytes();
                            recorded
                                .lock()
                                .unwrap()
                                .push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                            let answer = {
                                let mut s = script.lock().unwrap();
                                if s.len() > 1 {
                                    s.pop_front()
                                } else {
                                    s.front().copied()
                                }
                            };
                            let status = match answer.unwrap_or(Answer::Status(200)) {
                                Answer::Status(code) => code,
                                Answer::Hang => {
                                    std::future::pending::<()>().await;
                                    unreachable!()
                                }
                            };
                            Ok::<_, hyper::Error>(
                                Response::builder()
                                    .status(StatusCode::from_u16(status).unwrap())
                                    .body(Full::new(Bytes::from_static(b"{}")))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, bodies }
    }

    /// The URL with a token-like path segment, as chat services issue them.
    pub fn url(&self, token: &str) -> String {
        format!("http://{}/hooks/{token}", self.addr)
    }

    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}
