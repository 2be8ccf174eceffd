//! A stand-in for Consensys Web3Signer, which (being a Java service) does not
//! run here: it answers `eth_signTransaction` over HTTP on 127.0.0.1 by
//! signing with alloy's local signer, and can be switched at run time to
//! refuse, lie (another key, altered data) or hang, or be stopped outright.
//! Over HTTPS it requires a client certificate issued by its own test CA.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use alloy::eips::eip2718::Encodable2718;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, Bytes};
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// PEM files for a TLS stand-in: the CA to trust and a client identity it accepts.
pub struct TlsFiles {
    pub ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// How the stand-in answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Signs exactly what was asked with the configured key.
    Honest,
    /// Signs the request with a different key.
    WrongKey,
    /// Signs the request with its data altered.
    AlterData,
    /// Answers a JSON-RPC error.
    Refuse,
    /// Never answers.
    Hang,
}

struct State {
    key: PrivateKeySigner,
    mode: Mutex<Mode>,
    requests: Mutex<Vec<Value>>,
}

pub struct StandIn {
    pub url: String,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl StandIn {
    pub async fn start(key: PrivateKeySigner) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve(listener, key, None)
    }

    /// An HTTPS stand-in that refuses clients without a certificate from its CA;
    /// the CA, a client certificate and its key are written under `dir`.
    pub async fn start_tls(key: PrivateKeySigner, dir: &Path) -> (StandIn, TlsFiles) {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let server_key = rcgen::KeyPair::generate().expect("server key");
        let server_cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
            .expect("server params")
            .signed_by(&server_key, &issuer)
            .expect("server cert");
        let client_key = rcgen::KeyPair::generate().expect("client key");
        let client_cert = rcgen::CertificateParams::new(vec!["govnode-client".to_owned()])
            .expect("client params")
            .signed_by(&client_key, &issuer)
            .expect("client cert");
        let files = TlsFiles {
            ca: dir.join("signer-ca.pem"),
            client_cert: dir.join("signer-client.pem"),
            client_key: dir.join("signer-client-key.pem"),
        };
        std::fs::write(&files.ca, ca_cert.pem()).expect("write ca");
        std::fs::write(&files.client_cert, client_cert.pem()).expect("write client cert");
        std::fs::write(&files.client_key, client_key.serialize_pem()).expect("write client key");

        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone()).expect("ca root");
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .expect("client verifier");
        let config = rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![server_cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
            )
            .expect("server config");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let standin = Self::serve(listener, key, Some(TlsAcceptor::from(Arc::new(config))));
        (standin, files)
    }

    /// Serves on `port` again after a stop (the daemon's URL stays valid).
    pub async fn restart_on(port: u16, key: PrivateKeySigner) -> StandIn {
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("bind again");
        Self::serve(listener, key, None)
    }

    fn serve(listener: TcpListener, key: PrivateKeySigner, tls: Option<TlsAcceptor>) -> StandIn {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}/", listener.local_addr().expect("addr"));
        let state = Arc::new(State {
            key,
            mode: Mutex::new(Mode::Honest),
            requests: Mutex::new(Vec::new()),
        });
        let shared = state.clone();
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| answer(state.clone(), req));
                    let http = http1::Builder::new();
                    match tls {
                        None => {
                            let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                        }
                        // A client without an accepted certificate fails the handshake here.
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                let _ = http.serve_connection(TokioIo::new(stream), svc).await;
                            }
                        }
                    }
                });
            }
        });
        StandIn { url, state, server }
    }

    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .expect("port")
            .trim_end_matches('/')
            .parse()
            .expect("port")
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// The `eth_signTransaction` parameter objects received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.state.requests.lock().unwrap().clone()
    }

    /// Stops listening: connections are refused until a restart.
    pub fn stop(self) {
        self.server.abort();
    }
}

async fn answer(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<bytes::Bytes>>, hyper::Error> {
    let body = req.into_body().collect().await?.to_bytes();
    let call: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let id = call["id"].clone();
    let params = call["params"][0].clone();
    state.requests.lock().unwrap().push(params.clone());
    let mode = *state.mode.lock().unwrap();
    let reply = match (call["method"].as_str(), mode) {
        (_, Mode::Hang) => {
            std::future::pending::<()>().await;
            unreachable!()
        }
        (_, Mode::Refuse) => json!({"jsonrpc": "2.0", "id": id,
            "error": {"code": -32000, "message": "signing refused"}}),
        (Some("eth_signTransaction"), mode) => match sign(&state.key, &params, mode).await {
            Ok(raw) => json!({"jsonrpc": "2.0", "id": id, "result": raw}),
            Err(e) => json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32602, "message": e}}),
        },
        _ => json!({"jsonrpc": "2.0", "id": id,
            "error": {"code": -32601, "message": "method not found"}}),
    };
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(reply.to_string())))
        .expect("response"))
}

fn quantity(v: &Value, name: &str) -> Result<u128, String> {
    let s = v[name].as_str().ok_or(format!("{name} missing"))?;
    u128::from_str_radix(s.trim_start_matches("0x"), 16).map_err(|e| format!("{name}: {e}"))
}

async fn sign(key: &PrivateKeySigner, p: &Value, mode: Mode) -> Result<Bytes, String> {
    let from: Address = p["from"]
        .as_str()
        .ok_or("from missing")?
        .parse()
        .map_err(|e| format!("from: {e}"))?;
    if from != key.address() {
        return Err(format!("no key for {from}"));
    }
    let to: Address = p["to"]
        .as_str()
        .ok_or("to missing")?
        .parse()
        .map_err(|e| format!("to: {e}"))?;
    let mut data: Bytes = p["data"]
        .as_str()
        .unwrap_or("0x")
        .parse()
        .map_err(|e| format!("data: {e}"))?;
    let signing_key = match mode {
        Mode::WrongKey => PrivateKeySigner::random(),
        _ => key.clone(),
    };
    if mode == Mode::AlterData {
        let mut altered = data.to_vec();
        altered.push(0);
        data = altered.into();
    }
    let request = TransactionRequest::default()
        .with_from(signing_key.address())
        .with_to(to)
        .with_input(data)
        .with_gas_limit(quantity(p, "gas")? as u64)
        .with_max_fee_per_gas(quantity(p, "maxFeePerGas")?)
        .with_max_priority_fee_per_gas(quantity(p, "maxPriorityFeePerGas")?)
        .with_nonce(quantity(p, "nonce")? as u64)
        .with_chain_id(quantity(p, "chainId")? as u64)
        .with_value(alloy::primitives::U256::from(quantity(p, "value")?));
    let envelope = request
        .build(&EthereumWallet::from(signing_key))
        .await
        .map_err(|e| e.to_string())?;
    Ok(envelope.encoded_2718().into())
}
