//! Reading a response body through caps, decompressing as it streams.
//!
//! Decoders write into a [`Sink`] that refuses bytes past its cap; the refusal
//! stops the decoder in the middle of its input, so a bomb costs at most the
//! cap in memory and little more in time.

use std::io::{self, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::error::FetchError;

/// What to do when a cap is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnOverflow {
    /// Keep what fits and flag the body as truncated (pages).
    Truncate,
    /// Fail with [`FetchError::TooLarge`] (JSON, images).
    Refuse,
}

/// Caps for one body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Caps {
    pub raw: usize,
    pub decoded: usize,
    pub on_overflow: OnOverflow,
}

/// A body that was read.
#[derive(Debug)]
pub(crate) struct ReadBody {
    pub bytes: Bytes,
    pub truncated: bool,
}

/// Supported `Content-Encoding` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Identity,
    Gzip,
    /// `deflate`: zlib-wrapped as RFC 9110 says, or raw as some servers send it.
    Deflate,
    Brotli,
}

impl Encoding {
    /// Parses the header value; stacked encodings (`gzip, br`) are refused.
    pub fn parse(value: Option<&str>) -> Result<Self, FetchError> {
        let Some(value) = value else {
            return Ok(Self::Identity);
        };
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Self::Identity),
            "gzip" | "x-gzip" => Ok(Self::Gzip),
            "deflate" => Ok(Self::Deflate),
            "br" => Ok(Self::Brotli),
            _ => Err(FetchError::UnsupportedEncoding(value.to_owned())),
        }
    }
}

/// A `Vec` that accepts at most `cap` bytes and then errors, which aborts the
/// decoder writing into it.
#[derive(Debug)]
struct Sink {
    buf: Vec<u8>,
    cap: usize,
    overflow: bool,
}

impl Sink {
    fn new(cap: usize) -> Self {
        Self {
            buf: Vec::new(),
            cap,
            overflow: false,
        }
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.cap.saturating_sub(self.buf.len());
        if room == 0 && !data.is_empty() {
            self.overflow = true;
            return Err(io::Error::other("decoded size cap reached"));
        }
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum Decoder {
    Identity(Sink),
    Gzip(flate2::write::GzDecoder<Sink>),
    /// `deflate` before its first bytes tell zlib from raw.
    DeflateUnknown(Sink),
    Zlib(flate2::write::ZlibDecoder<Sink>),
    RawDeflate(flate2::write::DeflateDecoder<Sink>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Sink>>),
}

impl Decoder {
    fn new(encoding: Encoding, sink: Sink) -> Self {
        match encoding {
            Encoding::Identity => Self::Identity(sink),
            Encoding::Gzip => Self::Gzip(flate2::write::GzDecoder::new(sink)),
            Encoding::Deflate => Self::DeflateUnknown(sink),
            Encoding::Brotli => Self::Brotli(Box::new(
                brotli_decompressor::DecompressorWriter::new(sink, 8 * 1024),
            )),
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Self::Identity(w) => w,
            Self::Gzip(w) => w,
            Self::DeflateUnknown(w) => w,
            Self::Zlib(w) => w,
            Self::RawDeflate(w) => w,
            Self::Brotli(w) => w.as_mut(),
        }
    }

    fn sink_mut(&mut self) -> &mut Sink {
        match self {
            Self::Identity(s) => s,
            Self::Gzip(w) => w.get_mut(),
            Self::DeflateUnknown(s) => s,
            Self::Zlib(w) => w.get_mut(),
            Self::RawDeflate(w) => w.get_mut(),
            Self::Brotli(w) => w.get_mut(),
        }
    }

    /// Feeds compressed bytes. `Ok(false)` means the decoded cap was reached.
    fn push(&mut self, data: &[u8]) -> Result<bool, FetchError> {
        if let Self::DeflateUnknown(sink) = self
            && !data.is_empty()
        {
            let sink = std::mem::replace(sink, Sink::new(0));
            *self = if looks_like_zlib(data) {
                Self::Zlib(flate2::write::ZlibDecoder::new(sink))
            } else {
                Self::RawDeflate(flate2::write::DeflateDecoder::new(sink))
            };
        }
        match self.writer().write_all(data) {
            Ok(()) => Ok(true),
            Err(_) if self.sink_mut().overflow => Ok(false),
            Err(e) => Err(FetchError::Decode(e)),
        }
    }

    /// Flushes what the decoder still holds and returns the decoded bytes and
    /// whether the decoded cap was hit. With `complete`, the stream must also
    /// be well terminated (gzip trailer, brotli end marker).
    fn finish(mut self, complete: bool) -> Result<(Vec<u8>, bool), FetchError> {
        let flushed = match &mut self {
            Self::Identity(_) => Ok(()),
            Self::Gzip(w) => w.try_finish(),
            Self::DeflateUnknown(_) => Ok(()),
            Self::Zlib(w) => w.try_finish(),
            Self::RawDeflate(w) => w.try_finish(),
            Self::Brotli(w) => w.close(),
        };
        let sink = self.sink_mut();
        let overflow = sink.overflow;
        if let Err(e) = flushed
            && complete
            && !overflow
        {
            return Err(FetchError::Decode(e));
        }
        // A zero cap stops the brotli writer's closing flush on drop from
        // decoding more into the emptied buffer.
        sink.cap = 0;
        Ok((std::mem::take(&mut sink.buf), overflow))
    }
}

/// A zlib header: compression method 8 and a check value divisible by 31
/// (RFC 1950). A raw deflate stream almost never starts like that.
fn looks_like_zlib(data: &[u8]) -> bool {
    match data {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        [cmf] => cmf & 0x0f == 8,
        [] => false,
    }
}

/// Reads `body` under `caps`. Never buffers more than the caps, however much
/// the server sends; the caller's deadline bounds the time.
pub(crate) async fn read(
    mut body: Incoming,
    encoding: Encoding,
    caps: Caps,
) -> Result<ReadBody, FetchError> {
    let mut decoder = Decoder::new(encoding, Sink::new(caps.decoded));
    let mut raw_total: usize = 0;
    let mut cut = false;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(FetchError::from_hyper)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing we use
        };
        let room = caps.raw.saturating_sub(raw_total);
        let take = room.min(data.len());
        raw_total = raw_total.saturating_add(take);
        let fits = decoder.push(&data[..take])?;
        if !fits || take < data.len() {
            cut = true;
            break;
        }
    }
    let (bytes, overflow) = decoder.finish(!cut)?;
    let truncated = cut || overflow;
    if truncated && caps.on_overflow == OnOverflow::Refuse {
        return Err(FetchError::TooLarge(if overflow {
            caps.decoded
        } else {
            caps.raw
        }));
    }
    Ok(ReadBody {
        bytes: Bytes::from(bytes),
        truncated,
    })
}
