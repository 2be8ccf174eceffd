//! The Prometheus registry. Components register their own metrics into it;
//! this module adds the process metrics and `govnode_build_info`.

use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let build_info = IntGaugeVec::new(
            Opts::new(
                "govnode_build_info",
                "Always 1; labels carry the build's version.",
            ),
            &["version", "rust_version"],
        )?;
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), env!("CARGO_PKG_RUST_VERSION")])
            .set(1);
        registry.register(Box::new(build_info))?;
        #[cfg(target_os = "linux")]
        registry.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))?;
        Ok(Metrics { registry })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format served at `/metrics`.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        String::from_utf8(buf).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_build_info_and_process_metrics() {
        let m = Metrics::new().unwrap();
        let text = m.render().unwrap();
        assert!(text.contains("govnode_build_info{"), "{text}");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }
}
