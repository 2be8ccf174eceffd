//! An HTTP client for API tests that keeps every response body it saw, so a
//! test can check at the end that no secret ever appeared in one.

#![allow(dead_code)]

use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use serde_json::Value;

pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}), HTTP {}: {}", self.status, self.text))
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .expect("header text")
            .to_owned()
    }

    /// `error.code` of the error envelope.
    pub fn error_code(&self) -> String {
        let v = self.json();
        assert!(
            v["error"]["message"].is_string(),
            "no error envelope: {}",
            self.text
        );
        v["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

pub struct Recorder {
    client: reqwest::Client,
    bodies: Mutex<Vec<(String, String)>>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
            bodies: Mutex::new(Vec::new()),
        }
    }
}

impl Recorder {
    pub async fn get(&self, url: &str) -> Reply {
        self.send(reqwest::Method::GET, url, None).await
    }

    pub async fn post(&self, url: &str, token: Option<&str>) -> Reply {
        self.send(reqwest::Method::POST, url, token).await
    }

    pub async fn send(&self, method: reqwest::Method, url: &str, token: Option<&str>) -> Reply {
        let mut req = self.client.request(method.clone(), url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        self.bodies
            .lock()
            .expect("bodies")
            .push((format!("{method} {url}"), text.clone()));
        Reply {
            status,
            headers,
            text,
        }
    }

    /// GETs `url` until `done` accepts the JSON body; returns that body.
    pub async fn poll_json(
        &self,
        url: &str,
        within: Duration,
        mut done: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let r = self.get(url).await;
            let v = r.json();
            if r.status == 200 && done(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "GET {url}: condition not met within {within:?}; last answer {}: {}",
                r.status,
                r.text
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panics if any body seen so far contains one of `secrets`.
    pub fn assert_no_secrets(&self, secrets: &[String]) {
        let bodies = self.bodies.lock().expect("bodies");
        assert!(!bodies.is_empty(), "no responses were recorded");
        for (request, body) in bodies.iter() {
            for s in secrets {
                assert!(
                    !body.contains(s.as_str()),
                    "{request} returned a secret ({} chars) in its body",
                    s.len()
                );
            }
        }
    }
}
