//! Agreement with metascraper's own fixtures (`shared/corpora/link-preview`):
//! per-field agreement on values, apart from agreement on absence, printed,
//! with floors that fail the build on regressions. `KAIFANG_CORPUS_MISSES=1`
//! prints every disagreement.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "support/agreement.rs"]
mod agreement;

use kaifang_preview::{ExtractConfig, extract};

#[test]
fn agreement_with_metascraper_fixtures() {
    let fixtures = agreement::load();
    let cfg = ExtractConfig::default();
    let previews: Vec<_> = fixtures
        .iter()
        .map(|fx| extract(&fx.html, &fx.url, Some("text/html; charset=utf-8"), &cfg))
        .collect();
    let (tally, misses) = agreement::compare(&fixtures, &previews);
    println!("link-preview corpus agreement (kaifang-preview vs metascraper's expected values):");
    println!("  (values: pairs where either side has one; both empty: agreement on absence)");
    for f in agreement::FIELDS {
        let count = tally.get(f).copied().unwrap_or_default();
        println!("  {f:<12} {}", count.describe());
    }
    if std::env::var_os("KAIFANG_CORPUS_MISSES").is_some() {
        for m in &misses {
            println!("  miss {m}");
        }
    }
    // Floors on value agreement (pairs where either side has a value;
    // "both empty" is not counted as agreement), at today's level; the
    // issue's target is 90% on title, description, image and publisher.
    // `date` is low on purpose: we give the publication date, metascraper
    // the modification date first (docs/previews.md).
    for (f, floor) in [
        ("title", 1.0),
        ("image", 0.94),
        ("publisher", 0.93),
        ("url", 1.0),
        ("lang", 0.98),
        ("video", 1.0),
        ("author", 0.91),
        ("description", 0.97),
        ("date", 0.49),
    ] {
        let rate = agreement::rate(&tally, f);
        assert!(
            rate >= floor,
            "{f}: {:.1}% is under the floor {:.0}%",
            rate * 100.0,
            floor * 100.0
        );
    }
}
