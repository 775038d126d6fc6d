//! Link previews: fetched through the SSRF-safe fetcher, extracted by the
//! pure extractor, cached in memory and in the database, one fetch per URL
//! however many ask at once, and attached to messages in the background.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kaifang_fetch::{
    FetchConfig, FetchError, Fetcher, Image, Resolve, ResolveFuture, SystemResolver,
};
use kaifang_store::{CachedPreview, Store};
use tokio::sync::{OnceCell, Semaphore};

use crate::config::PreviewSettings;
use crate::service::error::{Error, Result};
use crate::service::preview_rules::RuleGate;

/// A preview as JSON, or `None` for a remembered failure.
pub type PreviewJson = Option<Arc<str>>;

/// Answers the names in `preview.resolve` itself; everything else goes to
/// the system resolver.
struct Overrides {
    names: std::collections::BTreeMap<String, IpAddr>,
    system_dns: bool,
}

impl Resolve for Overrides {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        match self.names.get(&host.to_ascii_lowercase()) {
            Some(ip) => {
                let addr = SocketAddr::new(*ip, port);
                Box::pin(async move { Ok(vec![addr]) })
            }
            None if self.system_dns => SystemResolver.resolve(host, port),
            None => Box::pin(async move {
                Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{host}: not in preview.resolve and system DNS is off"),
                ))
            }),
        }
    }
}

/// The previews service.
pub struct Previews {
    store: Arc<dyn Store>,
    fetcher: Fetcher,
    /// The extractor's limits, from the settings once.
    extract: kaifang_preview::ExtractConfig,
    settings: PreviewSettings,
    /// The operator's per-domain rules, as this node has them now.
    rules: Arc<RuleGate>,
    memory: Mutex<HashMap<String, (Instant, PreviewJson)>>,
    inflight: Mutex<HashMap<String, Arc<OnceCell<PreviewJson>>>>,
    permits: Semaphore,
}

use crate::now_ms;

impl Previews {
    /// Builds the service and its fetcher.
    pub fn new(
        store: Arc<dyn Store>,
        settings: PreviewSettings,
        rules: Arc<RuleGate>,
    ) -> Result<Self, crate::startup::StartError> {
        let mut config = FetchConfig::default();
        config.max_body_bytes = settings.max_body_bytes;
        config.max_decompressed_bytes = settings.max_body_bytes;
        config.max_image_bytes = settings.max_image_bytes;
        config.total_timeout = Duration::from_millis(settings.timeout_ms);
        config.max_redirects = settings.max_redirects;
        config.connect_timeout = Duration::from_millis(settings.connect_timeout_ms);
        config.max_header_bytes = settings.max_header_bytes;
        config.max_headers = settings.max_headers;
        config.allow_addresses = settings.allow_addresses.clone();
        let resolver = Arc::new(Overrides {
            names: settings.resolve.clone(),
            system_dns: settings.system_dns,
        });
        let fetcher = Fetcher::with_resolver(config, resolver)?;
        Ok(Self {
            store,
            fetcher,
            extract: Self::extract_config(&settings),
            permits: Semaphore::new(settings.concurrency.max(1)),
            settings,
            rules,
            memory: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        })
    }

    fn remember(&self, url: &str, expires_in: Duration, value: PreviewJson) {
        if let Ok(mut memory) = self.memory.lock() {
            if memory.len() >= self.settings.memory_entries {
                let now = Instant::now();
                memory.retain(|_, (expires, _)| *expires > now);
                if memory.len() >= self.settings.memory_entries {
                    memory.clear();
                }
            }
            memory.insert(url.to_owned(), (Instant::now() + expires_in, value));
        }
    }

    /// The preview of a canonical URL: from memory, the database, or a
    /// fetch shared with every concurrent caller.
    pub async fn preview(&self, url: &str) -> PreviewJson {
        if let Ok(memory) = self.memory.lock()
            && let Some((expires, value)) = memory.get(url)
            && *expires > Instant::now()
        {
            return value.clone();
        }
        let cell = match self.inflight.lock() {
            Ok(mut inflight) => inflight.entry(url.to_owned()).or_default().clone(),
            Err(_) => Arc::new(OnceCell::new()),
        };
        let value = cell.get_or_init(|| self.load(url)).await.clone();
        if let Ok(mut inflight) = self.inflight.lock() {
            inflight.remove(url);
        }
        value
    }

    async fn load(&self, url: &str) -> PreviewJson {
        let now = now_ms();
        if let Ok(Some(cached)) = self.store.cached_preview(url).await
            && cached.expires_at > now
        {
            let left = Duration::from_millis((cached.expires_at - now) as u64);
            let value: PreviewJson = cached.data.map(Arc::from);
            self.remember(url, left, value.clone());
            return value;
        }
        let fetched = self.fetch(url).await;
        let ttl = match &fetched {
            Ok(_) => self.settings.ttl_seconds,
            Err(e) => {
                tracing::debug!(url, error = %e, "preview fetch failed");
                self.settings.negative_ttl_seconds
            }
        };
        let value: PreviewJson = fetched.ok().map(Arc::from);
        let entry = CachedPreview {
            fetched_at: now,
            expires_at: now + (ttl as i64) * 1000,
            data: value.as_deref().map(str::to_owned),
        };
        if let Err(e) = self
            .store
            .cache_preview(url, entry, self.settings.cache_max_entries)
            .await
        {
            tracing::warn!(error = %e, "could not cache a preview");
        }
        self.remember(url, Duration::from_secs(ttl), value.clone());
        value
    }

    /// The extractor's limits as the settings give them.
    fn extract_config(s: &PreviewSettings) -> kaifang_preview::ExtractConfig {
        let mut cfg = kaifang_preview::ExtractConfig::default();
        cfg.max_scan_bytes = s.max_scan_bytes;
        cfg.max_body_scan_bytes = s.max_body_scan_bytes;
        cfg.max_capture_bytes = s.max_capture_bytes;
        cfg.max_title_chars = s.max_title_chars;
        cfg.max_description_chars = s.max_description_chars;
        cfg.max_short_chars = s.max_short_chars;
        cfg.max_url_bytes = s.max_url_bytes;
        cfg
    }

    /// Whether previews are on (`preview.enabled`). When off, nothing is
    /// fetched: the service answers `Error::TurnedOff` and sent messages
    /// get no preview.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    fn refuse_when_off(&self) -> Result<()> {
        if self.settings.enabled {
            Ok(())
        } else {
            Err(Error::TurnedOff(
                "link previews are turned off on this server",
            ))
        }
    }

    /// Whether the operator's per-domain rules let a link to `url` have a
    /// preview.
    pub fn permitted(&self, url: &str) -> bool {
        self.rules.permits_url(url)
    }

    /// A preview asked for by a client: `turned_off` when previews are off,
    /// `preview-rule` (422) when the operator's rules exclude the host,
    /// 404 when none could be made.
    pub async fn preview_on_request(&self, url: &str) -> Result<Arc<str>> {
        self.refuse_when_off()?;
        if !self.permitted(url) {
            return Err(Error::refused(
                "preview-rule",
                "Preview excluded",
                "the operator's preview rules exclude this link's host",
            ));
        }
        self.preview(url)
            .await
            .ok_or_else(|| Error::not_found("preview"))
    }

    async fn fetch(&self, url: &str) -> Result<String, String> {
        // The one door to page fetches: closed when previews are off,
        // whichever path got here.
        self.refuse_when_off()
            .map_err(|_| "previews are turned off")?;
        let _permit = self.permits.acquire().await.map_err(|e| e.to_string())?;
        let parsed = url::Url::parse(url).map_err(|e| e.to_string())?;
        let page = self
            .fetcher
            .fetch_page(&parsed)
            .await
            .map_err(|e| e.to_string())?;
        let mut preview = kaifang_preview::extract(
            &page.body,
            &page.final_url,
            page.content_type.as_deref(),
            &self.extract,
        );
        if let Some(oembed) = preview.oembed_url.clone()
            && let Ok(oembed) = url::Url::parse(&oembed)
            && let Ok(json) = self.fetcher.fetch_json(&oembed).await
        {
            kaifang_preview::apply_oembed(&mut preview, &json);
        }
        serde_json::to_string(&preview).map_err(|e| e.to_string())
    }

    /// Fetches previews for a message's links in the background; each that
    /// succeeds is attached to the message and pushed as a `preview` event.
    pub fn attach_in_background(self: &Arc<Self>, message_id: i64, links: Vec<(String, String)>) {
        if !self.enabled() {
            return;
        }
        for (url, canonical) in links {
            let this = self.clone();
            tokio::spawn(async move {
                if let Some(json) = this.preview(&canonical).await
                    && let Err(e) = this.store.attach_preview(message_id, &url, &json).await
                {
                    tracing::warn!(error = %e, "could not attach a preview");
                }
            });
        }
    }

    /// An image through the same fetch rules (images only, size-capped).
    /// The fetcher's error names addresses and resolver output: it is
    /// logged (with the request id) and the client gets a generic reason.
    pub async fn image(&self, url: &str) -> Result<Image> {
        self.refuse_when_off()?;
        let parsed =
            url::Url::parse(url).map_err(|e| Error::invalid(format!("invalid url: {e}")))?;
        self.fetcher.fetch_image(&parsed).await.map_err(|e| {
            tracing::info!(url, error = %e, "image proxy: fetch failed");
            Error::refused("image-unavailable", "Image unavailable", image_reason(&e))
        })
    }
}

/// What a client may learn about a failed image fetch: the kind of
/// failure, never an address, a host's resolution or a peer's error text.
fn image_reason(e: &FetchError) -> &'static str {
    match e {
        FetchError::Blocked { .. } => "the address is not allowed",
        FetchError::InvalidUrl(_) | FetchError::BadScheme(_) | FetchError::Credentials => {
            "the URL cannot be fetched"
        }
        FetchError::TooLarge(_) => "the image is over the size limit",
        FetchError::UnsupportedContentType(_) => "the URL is not an image",
        FetchError::Timeout(_) => "the image took too long to fetch",
        _ => "the image could not be fetched",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_system_dns_only_mapped_names_resolve() {
        let names = [("item.taobao.com".to_owned(), IpAddr::from([127, 0, 0, 1]))].into();
        let r = Overrides {
            names,
            system_dns: false,
        };
        let mapped = r.resolve("Item.Taobao.com", 8080).await.unwrap();
        assert_eq!(mapped, vec![SocketAddr::from(([127, 0, 0, 1], 8080))]);
        let err = r.resolve("example.com", 80).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
