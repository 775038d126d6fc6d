//! The extractor's limits, each a setting with a documented default.

/// Limits of the extractor. Defaults in brackets.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExtractConfig {
    /// Longest title, characters (300).
    pub max_title_chars: usize,
    /// Longest description, characters (1,000).
    pub max_description_chars: usize,
    /// Longest author, publisher and other short texts, characters (200).
    pub max_short_chars: usize,
    /// Longest URL kept, bytes (2,048).
    pub max_url_bytes: usize,
    /// Bytes of the page read at most (4 MiB); the fetcher caps bodies lower.
    pub max_scan_bytes: usize,
    /// Once the head is complete (`</head>` or `<body>`), bytes of the body
    /// still scanned for JSON-LD, bylines, dates and a fallback picture
    /// (1 MiB: a few news pages keep their byline 700 KB into the body).
    pub max_body_scan_bytes: usize,
    /// Longest element whose text may become an author or a title (a
    /// byline, an `h1`), bytes of HTML (4 KiB).
    pub max_capture_bytes: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        Self {
            max_title_chars: 300,
            max_description_chars: 1_000,
            max_short_chars: 200,
            max_url_bytes: 2_048,
            max_scan_bytes: 4 * 1024 * 1024,
            max_body_scan_bytes: 1024 * 1024,
            max_capture_bytes: 4 * 1024,
        }
    }
}
