//! The fetcher: one deadline around a hand-followed chain of checked hops.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Empty;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::task::JoinHandle;
use url::{Position, Url};

use crate::body::{self, Caps, Encoding, OnOverflow};
use crate::config::{FetchConfig, MIN_HEADER_BYTES};
use crate::connect::{self, Dial, Io, TcpDial};
use crate::error::FetchError;
use crate::guard::{self, Scheme};
use crate::media::{Image, ImageHead, Page, Want, essence};
use crate::resolve::{Resolve, SystemResolver};

/// An SSRF-safe HTTP(S) client for previews, oEmbed and the image proxy.
///
/// Cheap to share behind an `Arc`; holds no connections between calls.
pub struct Fetcher {
    config: FetchConfig,
    user_agent: HeaderValue,
    resolver: Arc<dyn Resolve>,
    dial: Arc<dyn Dial>,
    tls: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Aborts the task driving a connection when the fetch ends, however it ends
/// (success, error, or the deadline dropping the future).
struct ConnGuard(JoinHandle<()>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A response whose head passed every check, with its connection kept alive.
struct Checked {
    url: Url,
    response: Response<Incoming>,
    content_type: Option<String>,
    essence: String,
    _conn: ConnGuard,
}

impl Fetcher {
    /// A fetcher using the system resolver.
    pub fn new(config: FetchConfig) -> Result<Self, FetchError> {
        Self::with_resolver(config, Arc::new(SystemResolver))
    }

    /// A fetcher using `resolver` for host names.
    pub fn with_resolver(
        config: FetchConfig,
        resolver: Arc<dyn Resolve>,
    ) -> Result<Self, FetchError> {
        let dial = Arc::new(TcpDial {
            timeout: config.connect_timeout,
        });
        Self::build(config, resolver, dial)
    }

    pub(crate) fn build(
        config: FetchConfig,
        resolver: Arc<dyn Resolve>,
        dial: Arc<dyn Dial>,
    ) -> Result<Self, FetchError> {
        if config.max_header_bytes < MIN_HEADER_BYTES {
            return Err(FetchError::Config("max_header_bytes is below 8 KiB"));
        }
        if config.max_headers == 0 {
            return Err(FetchError::Config("max_headers is zero"));
        }
        if config.total_timeout.is_zero() || config.connect_timeout.is_zero() {
            return Err(FetchError::Config("a timeout is zero"));
        }
        let user_agent = HeaderValue::from_str(&config.user_agent)
            .map_err(|_| FetchError::Config("user_agent is not a valid header value"))?;
        Ok(Self {
            tls: connect::tls_config()?,
            config,
            user_agent,
            resolver,
            dial,
        })
    }

    /// The settings in force.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// Fetches an HTML page (`text/html` or `application/xhtml+xml`). Other
    /// content types fail before the body is read. A body over the caps is cut
    /// and flagged `truncated`.
    pub async fn fetch_page(&self, url: &Url) -> Result<Page, FetchError> {
        self.deadline(async {
            let checked = self.open(url, Method::GET, Want::Page).await?;
            let caps = Caps {
                raw: self.config.max_body_bytes,
                decoded: self.config.max_decompressed_bytes,
                on_overflow: OnOverflow::Truncate,
            };
            let status = checked.response.status().as_u16();
            let (url, content_type) = (checked.url.clone(), checked.content_type.clone());
            let read = read_body(checked, caps).await?;
            Ok(Page {
                final_url: url,
                status,
                content_type,
                body: read.bytes,
                truncated: read.truncated,
            })
        })
        .await
    }

    /// Fetches a JSON document (oEmbed): `application/json`, `text/json` or
    /// `application/*+json`. Bodies over the caps are refused.
    pub async fn fetch_json(&self, url: &Url) -> Result<Bytes, FetchError> {
        self.deadline(async {
            let checked = self.open(url, Method::GET, Want::Json).await?;
            let caps = Caps {
                raw: self.config.max_body_bytes,
                decoded: self.config.max_decompressed_bytes,
                on_overflow: OnOverflow::Refuse,
            };
            Ok(read_body(checked, caps).await?.bytes)
        })
        .await
    }

    /// Fetches an image (`image/*` except SVG) of at most `max_image_bytes`.
    pub async fn fetch_image(&self, url: &Url) -> Result<Image, FetchError> {
        self.deadline(async {
            let checked = self.open(url, Method::GET, Want::Image).await?;
            let caps = Caps {
                raw: self.config.max_image_bytes,
                decoded: self.config.max_image_bytes,
                on_overflow: OnOverflow::Refuse,
            };
            let (final_url, content_type) = (checked.url.clone(), checked.essence.clone());
            let body = read_body(checked, caps).await?.bytes;
            Ok(Image {
                final_url,
                content_type,
                body,
            })
        })
        .await
    }

    /// Checks an image with `HEAD`: content type and declared length, no body.
    pub async fn head_image(&self, url: &Url) -> Result<ImageHead, FetchError> {
        self.deadline(async {
            let checked = self.open(url, Method::HEAD, Want::Image).await?;
            let content_length = content_length(&checked.response);
            if content_length.is_some_and(|n| n > self.config.max_image_bytes as u64) {
                return Err(FetchError::TooLarge(self.config.max_image_bytes));
            }
            Ok(ImageHead {
                final_url: checked.url,
                content_type: checked.essence,
                content_length,
            })
        })
        .await
    }

    /// Runs `work` under `total_timeout`.
    async fn deadline<T>(
        &self,
        work: impl Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        let limit = self.config.total_timeout;
        tokio::time::timeout(limit, work)
            .await
            .unwrap_or(Err(FetchError::Timeout(limit)))
    }

    /// Follows redirects by hand up to the final response and checks its
    /// status and content type. Every hop goes through [`Fetcher::hop`], which
    /// re-checks scheme, credentials and addresses.
    async fn open(&self, start: &Url, method: Method, want: Want) -> Result<Checked, FetchError> {
        let mut url = start.clone();
        url.set_fragment(None);
        let mut visited: Vec<Url> = Vec::new();
        loop {
            let (response, conn) = self.hop(&url, &method, want).await?;
            let status = response.status();
            if is_redirect(status) {
                let mut next = location(&response, &url)?;
                next.set_fragment(None);
                drop((response, conn));
                visited.push(url);
                if visited.contains(&next) {
                    return Err(FetchError::RedirectLoop(next.to_string()));
                }
                if visited.len() > self.config.max_redirects {
                    return Err(FetchError::TooManyRedirects(self.config.max_redirects));
                }
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status(status.as_u16()));
            }
            let content_type = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let essence = content_type.as_deref().map(essence).unwrap_or_default();
            if !want.accepts(&essence) {
                return Err(FetchError::UnsupportedContentType(content_type));
            }
            return Ok(Checked {
                url,
                response,
                content_type,
                essence,
                _conn: conn,
            });
        }
    }

    /// One request: check, resolve once, check every address, connect to a
    /// checked address, send, and return the response head.
    async fn hop(
        &self,
        url: &Url,
        method: &Method,
        want: Want,
    ) -> Result<(Response<Incoming>, ConnGuard), FetchError> {
        let target = guard::check_url(url)?;
        let allow = &self.config.allow_addresses;
        let addrs = guard::vet(&target, self.resolver.as_ref(), allow).await?;
        let tcp = connect::tcp(self.dial.as_ref(), &addrs, allow).await?;
        let io: Box<dyn Io> = match target.scheme {
            Scheme::Http => Box::new(tcp),
            Scheme::Https => connect::tls(self.tls.clone(), tcp, &target.host).await?,
        };
        let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
            .max_header_size(self.config.max_header_bytes)
            .max_headers(self.config.max_headers)
            .handshake::<_, Empty<Bytes>>(TokioIo::new(io))
            .await
            .map_err(FetchError::from_hyper)?;
        let guard = ConnGuard(tokio::spawn(async move {
            // Its errors surface through the response or body future.
            let _ = conn.await;
        }));
        let request = self.request(url, method, want)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(FetchError::from_hyper)?;
        Ok((response, guard))
    }

    fn request(
        &self,
        url: &Url,
        method: &Method,
        want: Want,
    ) -> Result<Request<Empty<Bytes>>, FetchError> {
        let path = &url[Position::BeforePath..Position::AfterQuery];
        let host = &url[Position::BeforeHost..Position::AfterPort];
        Request::builder()
            .method(method.clone())
            .uri(if path.is_empty() { "/" } else { path })
            .header(header::HOST, host)
            .header(header::USER_AGENT, self.user_agent.clone())
            .header(header::ACCEPT, want.accept_header())
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
            .header(header::CONNECTION, "close")
            .body(Empty::new())
            .map_err(|e| FetchError::InvalidUrl(e.to_string()))
    }
}

/// Reads the body of a checked response. A declared length over the raw cap
/// fails at once when the call refuses partial bodies.
async fn read_body(checked: Checked, caps: Caps) -> Result<body::ReadBody, FetchError> {
    let declared = content_length(&checked.response);
    if caps.on_overflow == OnOverflow::Refuse && declared.is_some_and(|n| n > caps.raw as u64) {
        return Err(FetchError::TooLarge(caps.raw));
    }
    let encoding = Encoding::parse(
        checked
            .response
            .headers()
            .get(header::CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap_or("<non-ascii>")),
    )?;
    let Checked {
        response,
        _conn: conn,
        ..
    } = checked;
    let read = body::read(response.into_body(), encoding, caps).await;
    // The connection stays up until the body is read, then goes.
    drop(conn);
    read
}

fn content_length(response: &Response<Incoming>) -> Option<u64> {
    response
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// The redirect target, resolved against the current URL.
fn location(response: &Response<Incoming>, base: &Url) -> Result<Url, FetchError> {
    let value = response
        .headers()
        .get(header::LOCATION)
        .ok_or(FetchError::BadRedirect)?
        .to_str()
        .map_err(|_| FetchError::BadRedirect)?;
    base.join(value.trim()).map_err(|_| FetchError::BadRedirect)
}
