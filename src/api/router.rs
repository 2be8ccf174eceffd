//! Which paths exist and which methods each accepts. Kept apart from the
//! handlers so that 404 and 405 (with `Allow`) come from one table.

use hyper::Method;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Live,
    Ready,
    Health,
    Metrics,
}

/// Methods per route; `HEAD` is answered wherever `GET` is.
pub fn methods(route: Route) -> &'static [Method] {
    match route {
        Route::Live | Route::Ready | Route::Health | Route::Metrics => &[Method::GET, Method::HEAD],
    }
}

pub fn resolve(path: &str) -> Option<Route> {
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    match path {
        "/health/live" => Some(Route::Live),
        "/health/ready" => Some(Route::Ready),
        "/health" => Some(Route::Health),
        "/metrics" => Some(Route::Metrics),
        _ => None,
    }
}

pub fn allow_header(route: Route) -> String {
    let mut names: Vec<&str> = methods(route).iter().map(Method::as_str).collect();
    names.push("OPTIONS");
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_known_paths_only() {
        assert_eq!(resolve("/health/live"), Some(Route::Live));
        assert_eq!(resolve("/health/"), Some(Route::Health));
        assert_eq!(resolve("/nope"), None);
        assert_eq!(allow_header(Route::Metrics), "GET, HEAD, OPTIONS");
    }
}
