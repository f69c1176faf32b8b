//! The university as every page's header shows it (`[pages]` in the config):
//! set for each request by the `context` middleware, read by the pages.

use std::sync::Arc;

use crate::config::Config;

/// The header's university name and logo; both absent by default.
#[derive(Debug, Clone, Default)]
pub struct Site {
    pub name: Option<String>,
    pub logo_url: Option<String>,
}

tokio::task_local! {
    /// This request's site header, set by the context middleware.
    pub static SITE: Arc<Site>;
}

impl Site {
    pub fn new(config: &Config) -> Self {
        Self {
            name: config.pages.university_name.clone(),
            logo_url: config
                .pages
                .university_logo_url
                .as_ref()
                .map(|u| u.to_string()),
        }
    }

    /// The header of the page being rendered (none outside a request).
    pub fn current() -> Arc<Site> {
        SITE.try_with(Arc::clone).unwrap_or_default()
    }
}
