//! The Prometheus registry. Components register their own metrics into it;
//! this module adds the process metrics and `govnode_build_info`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use prometheus::proto::MetricFamily;
use prometheus::{Encoder, IntGaugeVec, Opts, Registry, TextEncoder};

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// One registry per DAO or chain of a many-DAO daemon, each adding its
    /// `dao` / `chain` label to every series: the components register the
    /// same names in each, and `/metrics` shows them as one family.
    children: Arc<Mutex<Vec<Registry>>>,
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
        Ok(Metrics {
            registry,
            children: Arc::default(),
        })
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// A registry whose series all carry `labels` (`dao`, `chain`), shown
    /// at `/metrics` with the main one's.
    pub fn child(&self, labels: &[(&str, &str)]) -> Result<Registry, prometheus::Error> {
        let labels: HashMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let child = Registry::new_custom(None, Some(labels))?;
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(child.clone());
        Ok(child)
    }

    /// Every registry's families, those of one name merged into one (the
    /// exposition format allows a name's `# TYPE` line once).
    pub fn gather(&self) -> Vec<MetricFamily> {
        let children = self
            .children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut merged: BTreeMap<String, MetricFamily> = BTreeMap::new();
        for family in std::iter::once(&self.registry)
            .chain(children.iter())
            .flat_map(|r| r.gather())
        {
            match merged.get_mut(family.name()) {
                Some(into) => {
                    let mut metrics = into.take_metric();
                    metrics.extend(family.get_metric().iter().cloned());
                    into.set_metric(metrics);
                }
                None => {
                    merged.insert(family.name().to_owned(), family);
                }
            }
        }
        merged.into_values().collect()
    }

    /// The text exposition format served at `/metrics`.
    pub fn render(&self) -> Result<String, prometheus::Error> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.gather(), &mut buf)?;
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

    /// Two DAOs' registries register the same name; the exposition shows
    /// one family with a series per DAO.
    #[test]
    fn children_of_one_name_render_as_one_family() {
        let m = Metrics::new().unwrap();
        for dao in ["alpha", "beta"] {
            let counter = prometheus::IntCounter::new("govnode_test_total", "test").unwrap();
            counter.inc_by(if dao == "alpha" { 1 } else { 2 });
            m.child(&[("dao", dao)])
                .unwrap()
                .register(Box::new(counter))
                .unwrap();
        }
        let text = m.render().unwrap();
        assert_eq!(
            text.matches("# TYPE govnode_test_total").count(),
            1,
            "{text}"
        );
        assert!(
            text.contains("govnode_test_total{dao=\"alpha\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("govnode_test_total{dao=\"beta\"} 2"),
            "{text}"
        );
    }
}
