//! Pure work on uploaded bytes: what they are (sniffed from their first
//! bytes, never taken from the client's header), whether a file name is
//! acceptable, and, for images, a copy without metadata and a thumbnail.
use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// What the bytes are. Only these four image formats are shown inline;
/// everything else (SVG, HTML, …) is a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// GIF.
    Gif,
    /// WebP.
    Webp,
    /// PDF (a download, never inline).
    Pdf,
    /// Anything else.
    Other,
}

impl Kind {
    /// Reads the magic number at the start of `bytes`.
    pub fn sniff(bytes: &[u8]) -> Self {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Self::Png
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            Self::Jpeg
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Self::Gif
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Self::Webp
        } else if bytes.starts_with(b"%PDF-") {
            Self::Pdf
        } else {
            Self::Other
        }
    }

    /// The content type stored and served.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
            Self::Other => "application/octet-stream",
        }
    }

    /// The image format, for the four raster images.
    fn format(self) -> Option<ImageFormat> {
        match self {
            Self::Png => Some(ImageFormat::Png),
            Self::Jpeg => Some(ImageFormat::Jpeg),
            Self::Gif => Some(ImageFormat::Gif),
            Self::Webp => Some(ImageFormat::WebP),
            Self::Pdf | Self::Other => None,
        }
    }
}

/// Whether a stored content type is one of the raster images, the only
/// files served inline.
pub fn is_raster_image(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// The thumbnail's content type for an image of `content_type`: JPEG for
/// photos, PNG (which keeps transparency) for the rest.
pub fn thumbnail_type(content_type: &str) -> &'static str {
    if content_type == "image/jpeg" {
        "image/jpeg"
    } else {
        "image/png"
    }
}

/// Why a file name is refused, or `None` when it is acceptable. A name is
/// one path component: a name with a folder in it (`a/b.png`,
/// `..\\x`, `C:\\x`) is refused rather than cut down, so the uploader sees
/// that what they sent is not what would be shown.
pub fn name_problem(name: &str, max_bytes: usize) -> Option<String> {
    if name.trim().is_empty() {
        return Some("the file needs a name".into());
    }
    if name.len() > max_bytes {
        return Some(format!("a file name has at most {max_bytes} bytes"));
    }
    if name.contains(['/', '\\', ':']) {
        return Some("a file name may not contain a path (/, \\ or :)".into());
    }
    if name == "." || name == ".." {
        return Some("a file name may not be . or ..".into());
    }
    if name.chars().any(char::is_control) {
        return Some("a file name may not contain control characters".into());
    }
    None
}

/// An image as stored: re-encoded (so no EXIF, GPS or other metadata of
/// the upload survives), turned upright, with its thumbnail.
pub struct Processed {
    /// The stored bytes (same format as uploaded).
    pub bytes: Vec<u8>,
    /// The thumbnail's bytes ([`thumbnail_type`]).
    pub thumbnail: Vec<u8>,
    /// Width, pixels.
    pub width: u32,
    /// Height, pixels.
    pub height: u32,
}

/// Why an image was not accepted.
#[derive(Debug, PartialEq, Eq)]
pub enum ImageProblem {
    /// Over `attachments.max_image_pixels` or `max_image_side` (413).
    TooLarge(String),
    /// It says it is an image but cannot be read (400).
    Unreadable(String),
}

/// The bounds an image is decoded within.
#[derive(Debug, Clone, Copy)]
pub struct ImageBounds {
    /// Most pixels.
    pub max_pixels: u64,
    /// Longest side.
    pub max_side: u32,
    /// Thumbnail's longest side.
    pub thumbnail_side: u32,
}

fn reader(bytes: &[u8], format: ImageFormat, b: ImageBounds) -> ImageReader<Cursor<&[u8]>> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(b.max_side);
    limits.max_image_height = Some(b.max_side);
    // Eight bytes a pixel covers 16-bit RGBA, the widest these decode to.
    limits.max_alloc = Some(b.max_pixels.saturating_mul(8));
    let mut r = ImageReader::with_format(Cursor::new(bytes), format);
    r.limits(limits);
    r
}

fn unreadable(e: image::ImageError) -> ImageProblem {
    match e {
        image::ImageError::Limits(l) => {
            ImageProblem::TooLarge(format!("the image is too large: {l}"))
        }
        other => ImageProblem::Unreadable(format!("the image cannot be read: {other}")),
    }
}

/// Decodes an image of kind `kind` (one of the four raster formats) within
/// the bounds, turned upright. Animated GIFs keep their first frame.
fn decode(bytes: &[u8], kind: Kind, b: ImageBounds) -> Result<DynamicImage, ImageProblem> {
    let format = kind
        .format()
        .ok_or_else(|| ImageProblem::Unreadable("not an image".into()))?;
    // The header alone says the size: refuse before decoding anything.
    let (w, h) = reader(bytes, format, b)
        .into_dimensions()
        .map_err(unreadable)?;
    if u64::from(w) * u64::from(h) > b.max_pixels {
        return Err(ImageProblem::TooLarge(format!(
            "the image has {w}×{h} pixels; at most {} are accepted",
            b.max_pixels
        )));
    }
    let mut decoder = reader(bytes, format, b)
        .into_decoder()
        .map_err(unreadable)?;
    // EXIF orientation is metadata too: applied to the pixels, then dropped.
    let orientation = decoder.orientation().map_err(unreadable)?;
    let mut img = DynamicImage::from_decoder(decoder).map_err(unreadable)?;
    img.apply_orientation(orientation);
    Ok(img)
}

/// Decodes, checks and re-encodes an image of kind `kind` (one of the four
/// raster formats). Animated GIFs keep their first frame.
pub fn process(bytes: &[u8], kind: Kind, b: ImageBounds) -> Result<Processed, ImageProblem> {
    let img = decode(bytes, kind, b)?;
    let format = kind
        .format()
        .ok_or_else(|| ImageProblem::Unreadable("not an image".into()))?;
    let stored = encode(&img, format)?;
    // Never enlarged: a small image is its own thumbnail (without metadata).
    let side = b.thumbnail_side;
    let thumb = if img.width() <= side && img.height() <= side {
        img.clone()
    } else {
        img.thumbnail(side, side)
    };
    let thumb_format = if kind == Kind::Jpeg {
        ImageFormat::Jpeg
    } else {
        ImageFormat::Png
    };
    Ok(Processed {
        bytes: stored,
        thumbnail: encode(&thumb, thumb_format)?,
        width: img.width(),
        height: img.height(),
    })
}

/// An avatar: the image's centred square, at most `side` pixels a side
/// (never enlarged), re-encoded without metadata as [`thumbnail_type`]
/// says (JPEG for photos, PNG otherwise). Square because every client
/// shows avatars in a circle or a square; cropping once here saves each
/// of them from guessing.
pub fn avatar(
    bytes: &[u8],
    kind: Kind,
    b: ImageBounds,
    side: u32,
) -> Result<Vec<u8>, ImageProblem> {
    let img = decode(bytes, kind, b)?;
    let edge = img.width().min(img.height());
    let square = img.crop_imm(
        (img.width() - edge) / 2,
        (img.height() - edge) / 2,
        edge,
        edge,
    );
    let square = if edge > side {
        square.resize_exact(side, side, image::imageops::FilterType::Triangle)
    } else {
        square
    };
    let format = if kind == Kind::Jpeg {
        ImageFormat::Jpeg
    } else {
        ImageFormat::Png
    };
    encode(&square, format)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>, ImageProblem> {
    let mut out = Cursor::new(Vec::new());
    let result = match format {
        // JPEG has no alpha; WebP's encoder here is lossless and 8-bit.
        ImageFormat::Jpeg => DynamicImage::ImageRgb8(img.to_rgb8()).write_to(&mut out, format),
        ImageFormat::WebP => DynamicImage::ImageRgba8(img.to_rgba8()).write_to(&mut out, format),
        ImageFormat::Gif => DynamicImage::ImageRgba8(img.to_rgba8()).write_to(&mut out, format),
        _ => img.write_to(&mut out, format),
    };
    result.map_err(|e| ImageProblem::Unreadable(format!("the image cannot be re-encoded: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(Kind::sniff(b"\x89PNG\r\n\x1a\nrest"), Kind::Png);
        assert_eq!(Kind::sniff(&[0xff, 0xd8, 0xff, 0xe0]), Kind::Jpeg);
        assert_eq!(Kind::sniff(b"GIF89a..."), Kind::Gif);
        assert_eq!(Kind::sniff(b"RIFF\0\0\0\0WEBPVP8 "), Kind::Webp);
        assert_eq!(Kind::sniff(b"%PDF-1.7"), Kind::Pdf);
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>";
        assert_eq!(Kind::sniff(svg).content_type(), "application/octet-stream");
        assert_eq!(
            Kind::sniff(b"<html>").content_type(),
            "application/octet-stream"
        );
        assert_eq!(Kind::sniff(b"RIFF"), Kind::Other);
    }

    #[test]
    fn names_with_a_path_are_refused() {
        for bad in [
            "../../etc/passwd",
            "a/b.png",
            "C:\\x",
            "C:x",
            "..",
            "",
            " ",
            "a\nb",
        ] {
            assert!(name_problem(bad, 255).is_some(), "{bad:?}");
        }
        assert!(name_problem(&"x".repeat(256), 255).is_some());
        for good in ["cat.png", "报告 2026.pdf", ".hidden", "a..b"] {
            assert_eq!(name_problem(good, 255), None, "{good:?}");
        }
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([x as u8, y as u8, 7])
        }));
        encode(&img, ImageFormat::Png).unwrap()
    }

    fn size_of(bytes: &[u8]) -> (u32, u32) {
        let img = image::load_from_memory(bytes).unwrap();
        (img.width(), img.height())
    }

    #[test]
    fn avatars_are_centred_squares_never_enlarged() {
        let b = ImageBounds {
            max_pixels: 1_000_000,
            max_side: 4_096,
            thumbnail_side: 320,
        };
        let wide = avatar(&png(300, 100), Kind::Png, b, 64).unwrap();
        assert_eq!(Kind::sniff(&wide), Kind::Png);
        assert_eq!(size_of(&wide), (64, 64));
        // The centre is kept: its left edge was x = 100 of the original.
        let img = image::load_from_memory(&png(300, 100)).unwrap();
        let centre = img.crop_imm(100, 0, 100, 100).to_rgb8();
        let small = avatar(&png(300, 100), Kind::Png, b, 256).unwrap();
        assert_eq!(image::load_from_memory(&small).unwrap().to_rgb8(), centre);
        let tiny = avatar(&png(40, 20), Kind::Png, b, 64).unwrap();
        assert_eq!(size_of(&tiny), (20, 20));
        let refused = avatar(b"%PDF-1.7", Kind::Pdf, b, 64);
        assert!(matches!(refused, Err(ImageProblem::Unreadable(_))));
        let huge = avatar(&png(2_000, 1_000), Kind::Png, b, 64);
        assert!(matches!(huge, Err(ImageProblem::TooLarge(_))));
    }
}
