//! Payment links (issue 10, item 1): the made-up corpus in `tests/payment_links/corpus.jsonl`
//! (wallet deep links, payment URLs and EMVCo payloads in chat messages, and near-misses: help
//! pages, wallet domains' other pages, prices, order numbers, payloads with a bad CRC), the EMVCo
//! CRC, spans, caps and hostile input.
//! `cargo test -p kaifang-links --test payment_links -- --nocapture` prints precision and recall.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use kaifang_links::{FoundPayment, PaymentForm, Registry, crc16_ccitt_false, extract};

const CORPUS: &str = include_str!("payment_links/corpus.jsonl");

/// Generous bound for debug builds on a shared 2-core machine, as in `tests/extract.rs`.
const HOSTILE_BUDGET: Duration = Duration::from_secs(2);

/// The example payload of the EMVCo Merchant-Presented Mode specification (v1.0, appendix),
/// with its published CRC `A13A` (also checked with Python's `binascii.crc_hqx(data, 0xFFFF)`).
/// Its merchant account template (tag 29) names a GUID the registry does not list.
const SPEC_EXAMPLE: &str = "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A";

fn spans(text: &str) -> Vec<std::ops::Range<usize>> {
    extract(text)
        .iter()
        .map(|u| u.byte_start..u.byte_end)
        .collect()
}

fn found(registry: &Registry, text: &str) -> Vec<(String, String)> {
    registry
        .find_payment_links(text, &spans(text), 1_000)
        .iter()
        .map(|p| (p.text.to_owned(), registry.payment_wallet(p).id.clone()))
        .collect()
}

#[test]
fn corpus_precision_and_recall() {
    let registry = Registry::builtin().unwrap();
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let (mut positives, mut near_misses) = (0, 0);
    let mut misses = Vec::new();
    for line in CORPUS.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let expected: Vec<(String, String)> = case["payments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c[0].as_str().unwrap().to_owned(),
                    c[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        if expected.is_empty() {
            near_misses += 1;
        } else {
            positives += expected.len();
        }
        let got = found(&registry, text);
        // A payment found with the wrong wallet or extent is both a false positive and a miss.
        for g in &got {
            if expected.contains(g) {
                tp += 1;
            } else {
                fp += 1;
                misses.push(format!("false positive {g:?} in {text:?}"));
            }
        }
        for e in &expected {
            if !got.contains(e) {
                fn_ += 1;
                misses.push(format!("missed {e:?} in {text:?}"));
            }
        }
    }
    let precision = 100.0 * tp as f64 / (tp + fp).max(1) as f64;
    let recall = 100.0 * tp as f64 / (tp + fn_).max(1) as f64;
    println!(
        "payment links: {positives} payment links and codes, {near_misses} near-misses: precision {precision:.1}% ({tp}/{}), recall {recall:.1}% ({tp}/{})",
        tp + fp,
        tp + fn_
    );
    for m in &misses {
        println!("  {m}");
    }
    assert!(positives >= 60 && near_misses >= 40, "corpus too small");
    assert!(precision >= 98.0, "precision {precision:.1}% < 98%");
    assert!(recall >= 95.0, "recall {recall:.1}% < 95%");
}

#[test]
fn crc16_ccitt_false_matches_published_values() {
    // The catalogue check value of CRC-16/CCITT-FALSE.
    assert_eq!(crc16_ccitt_false(b"123456789"), 0x29B1);
    assert_eq!(crc16_ccitt_false(b""), 0xFFFF);
    let (data, crc) = SPEC_EXAMPLE.split_at(SPEC_EXAMPLE.len() - 4);
    assert_eq!(crc, "A13A");
    assert_eq!(crc16_ccitt_false(data.as_bytes()), 0xA13A);
}

#[test]
fn the_spec_example_is_a_payment_code_of_an_unknown_provider_and_a_wrong_crc_is_not() {
    let registry = Registry::builtin().unwrap();
    let text = format!("扫这个：{SPEC_EXAMPLE} 谢谢");
    let got = registry.find_payment_links(&text, &[], 10);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].text, SPEC_EXAMPLE);
    assert_eq!(got[0].form, PaymentForm::Emvco);
    let wallet = registry.payment_wallet(&got[0]);
    assert_eq!(
        (wallet.id.as_str(), wallet.owner.as_str()),
        ("unknown", "unknown")
    );
    for wrong in ["A13B", "a13a0", "0000"] {
        let bad = format!("{}{wrong}", &SPEC_EXAMPLE[..SPEC_EXAMPLE.len() - 4]);
        // `a13a0`: the right CRC in lower case, but followed by a digit: a longer number.
        assert!(
            registry.find_payment_links(&bad, &[], 10).is_empty(),
            "{wrong}"
        );
    }
    // Lower-case hex is still the CRC.
    let lower = format!("{}a13a", &SPEC_EXAMPLE[..SPEC_EXAMPLE.len() - 4]);
    assert_eq!(registry.find_payment_links(&lower, &[], 10).len(), 1);
}

/// A payload built here, CRC computed by our function; the provider comes from the template's
/// AID or from UnionPay's reserved tag.
fn payload(account: &str) -> String {
    let body = format!("000201010211{account}5204541153031565802CN5909LUCKYSHOP6008HANGZHOU6304");
    format!("{body}{:04X}", crc16_ccitt_false(body.as_bytes()))
}

#[test]
fn emvco_provider_comes_from_the_merchant_account_information() {
    let registry = Registry::builtin().unwrap();
    let wallet = |text: &str| {
        let got = registry.find_payment_links(text, &[], 10);
        assert_eq!(got.len(), 1, "{text}: {got:?}");
        registry.payment_wallet(&got[0]).id.clone()
    };
    // Template 26 with UnionPay's AID in sub-tag 00 (any case).
    assert_eq!(
        wallet(&payload("26300010A0000003330112123456789012")),
        "unionpay"
    );
    assert_eq!(
        wallet(&payload("26300010a0000003330112123456789012")),
        "unionpay"
    );
    // UnionPay's reserved primitive tag 15.
    assert_eq!(wallet(&payload("15166212345678901234")), "unionpay");
    // A GUID nobody registered.
    assert_eq!(wallet(&payload("26190015com.example.pay")), "unknown");
}

#[test]
fn help_pages_on_wallet_domains_are_not_payment_links() {
    let registry = Registry::builtin().unwrap();
    for text in [
        "https://www.alipay.com/help",
        "https://pay.weixin.qq.com/index.php",
        "https://qr.alipay.com/",
        "https://qr.alipay.com/help.htm",
        "https://qr.95516.com/help",
        "weixin://dl/scan",
        "用支付宝付 ¥38.00",
    ] {
        assert!(found(&registry, text).is_empty(), "{text}");
        // Their hosts are still the wallets' platforms (the policy's `payments` category).
    }
    assert_eq!(registry.classify("qr.95516.com").platform.id, "unionpay");
    assert_eq!(registry.classify("www.jdpay.com").platform.owner, "jd");
}

#[test]
fn a_payment_url_takes_the_extent_extract_gives_it() {
    let registry = Registry::builtin().unwrap();
    let text = "付款（https://qr.alipay.com/fkx12345abcdefg789）谢谢";
    let got = found(&registry, text);
    let url = extract(text)[0].url;
    assert_eq!(got, [(url.to_owned(), "alipay".to_owned())]);
    // A deep link inside another URL is part of that URL, not a second link.
    let text = "https://example.com/go?to=alipays://platformapi/startapp?appId=20000067";
    assert!(found(&registry, text).is_empty());
    assert_eq!(registry.find_payment_links(text, &[], 10).len(), 1);
}

#[test]
fn deep_links_end_at_sentence_punctuation_and_other_schemes_are_not_theirs() {
    let registry = Registry::builtin().unwrap();
    let got = found(
        &registry,
        "点 weixin://wxpay/bizpayurl?pr=Ab3dE5f. 然后(wxp://f2f0Ab3dE5fG7hK9mN2pQ4rS)",
    );
    assert_eq!(
        got,
        [
            (
                "weixin://wxpay/bizpayurl?pr=Ab3dE5f".to_owned(),
                "wechat-pay".to_owned()
            ),
            (
                "wxp://f2f0Ab3dE5fG7hK9mN2pQ4rS".to_owned(),
                "wechat-pay".to_owned()
            ),
        ]
    );
    assert!(found(&registry, "myalipays://platformapi/startapp?appId=1").is_empty());
    assert_eq!(
        found(&registry, "UPWALLET://native/codepay"),
        [(
            "UPWALLET://native/codepay".to_owned(),
            "unionpay".to_owned()
        )]
    );
    let jd = found(&registry, "jdpay://?params=%7B%22orderId%22%3A%221%22%7D");
    let wallet = registry.platform(&jd[0].1).unwrap();
    assert_eq!(
        (wallet.id.as_str(), wallet.owner.as_str()),
        ("jd-pay", "jd")
    );
}

#[test]
fn spans_count_code_points_and_utf16_units() {
    let registry = Registry::builtin().unwrap();
    let text = "😀付款 wxp://f2f0Ab3dE5fG7hK9mN2pQ4rS";
    let p: &FoundPayment<'_> = &registry.find_payment_links(text, &[], 10)[0];
    assert_eq!(&text[p.byte_start..p.byte_end], p.text);
    assert_eq!((p.start, p.end), (4, 34));
    assert_eq!((p.start_utf16, p.end_utf16), (5, 35));
}

/// 16 KiB of payment-like tokens (links, `000201` starts that never reach a CRC, valid payloads):
/// fast, capped, and doubling the text does not much more than double the time.
#[test]
fn sixteen_kib_of_hostile_input_is_fast_linear_and_capped() {
    let registry = Registry::builtin().unwrap();
    let token = format!("wxp://f2f0Ab3dE5fG7hK9mN2pQ4rS 0002010102112630 {SPEC_EXAMPLE} ");
    let make = |bytes: usize| token.repeat(bytes / token.len() + 1);
    let small = make(16 * 1024);
    let started = Instant::now();
    let all = registry.find_payment_links(&small, &[], usize::MAX);
    assert!(
        started.elapsed() < HOSTILE_BUDGET,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(all.len(), 2 * (small.len() / token.len()));
    assert_eq!(registry.find_payment_links(&small, &[], 50).len(), 50);
    // Nested starts: every `000201` parses up to the payload cap, then the scan moves on.
    let nested = "000201".repeat(16 * 1024 / 6);
    let started = Instant::now();
    assert!(
        registry
            .find_payment_links(&nested, &[], usize::MAX)
            .is_empty()
    );
    assert!(
        started.elapsed() < HOSTILE_BUDGET,
        "{:?}",
        started.elapsed()
    );
    let best = |text: &str| {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(registry.find_payment_links(text, &[], usize::MAX));
                t.elapsed()
            })
            .min()
            .unwrap()
    };
    let big = make(16 * 16 * 1024);
    let (t_small, t_big) = (best(&small), best(&big));
    assert!(
        t_big < t_small * 16 * 4 + Duration::from_millis(50),
        "16x the text took {t_big:?} vs {t_small:?}"
    );
}

#[test]
fn registry_errors_name_the_payment_links_field() {
    let base = "[owners.a]\nname = \"A\"\n[[platforms]]\nid = \"x\"\nname = \"X\"\nowner = \"a\"\ncategory = \"payments\"\ndomains = [\"x.com\"]\n[[platforms.payment_links]]\n";
    for (entry, words) in [
        ("code = [4, 8]\n", "prefixes"),
        ("prefixes = [\"x.com/pay\"]\n", "scheme"),
        ("prefixes = [\"xpay://\"]\ncode = [8, 4]\n", "code"),
        ("emvco_tags = [26]\n", "emvco_tags"),
        ("emvco_ids = [\"\"]\n", "emvco_ids"),
    ] {
        let e = Registry::from_toml_str(&format!("{base}{entry}"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("payment_links") && e.contains(words),
            "{entry}: {e}"
        );
    }
    let ok = Registry::from_toml_str(&format!("{base}prefixes = [\"xpay://\"]\n")).unwrap();
    assert_eq!(ok.find_payment_links("xpay://q", &[], 1).len(), 1);
}
