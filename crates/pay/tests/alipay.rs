//! Alipay OpenAPI: the signing content, RSA2 signing (checked against OpenSSL), and asynchronous
//! notification verification with its refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kaifang_pay::Error;
use kaifang_pay::alipay::{AppSigner, NotificationVerifier, signing_content};
use kaifang_pay::keys::{PrivateKey, PublicKey};

const KEY: &str = include_str!("fixtures/TEST_ONLY_rsa2048_key.pem");
const PUB: &str = include_str!("fixtures/TEST_ONLY_rsa2048_pub.pem");
const APP_ID: &str = "2014072300007148";

fn request_params() -> Vec<(&'static str, &'static str)> {
    // Deliberately unsorted, with sign_type, an empty value and a sign to be left out.
    vec![
        ("timestamp", "2024-09-20 10:15:00"),
        ("method", "alipay.trade.page.pay"),
        ("app_id", APP_ID),
        ("sign_type", "RSA2"),
        ("sign", "ignored"),
        ("return_url", ""),
        ("version", "1.0"),
        ("charset", "utf-8"),
        ("notify_url", "http://127.0.0.1:8080/pay/alipay/notify"),
        (
            "biz_content",
            r#"{"out_trade_no":"K-42","total_amount":"128.00","subject":"Kaifang order K-42","product_code":"FAST_INSTANT_TRADE_PAY"}"#,
        ),
    ]
}

const EXPECTED_CONTENT: &str = r#"app_id=2014072300007148&biz_content={"out_trade_no":"K-42","total_amount":"128.00","subject":"Kaifang order K-42","product_code":"FAST_INSTANT_TRADE_PAY"}&charset=utf-8&method=alipay.trade.page.pay&notify_url=http://127.0.0.1:8080/pay/alipay/notify&timestamp=2024-09-20 10:15:00&version=1.0"#;

/// `printf '%s' "$EXPECTED_CONTENT" | openssl dgst -sha256 -sign fixtures/TEST_ONLY_rsa2048_key.pem | base64 -w0`
/// (OpenSSL, independent of RustCrypto; PKCS#1 v1.5 is deterministic).
const OPENSSL_SIGNATURE: &str = "GL+p4jMjB/eowNGqXO9Lru+ilydHN0LjZ6lh+211fck5J3JdPlmXIf73lkNDDUkU9kwLxqH8SFhuvbuBFuXBA73rYnsXW8vpL0NIaLmU/y+sc3EC4XMtpWIuYXjzdsq02msnPSri1quI/FDgAO4V3Q50eCvA6AwkGNQK7McBNThpZguo5IEVUYHVphMF9qdlzSo2QC7YHaZm4hhz5bexgsuj2+TmYF++niqBnIqd1ZXkZJcj2VXDZYbEUI6N5/MPmht2UzxbcDiqJPONFFw3Bu8XtrERM9E5LfMK/nu03IVvfQsqNPQTj79/oCJc/Tytez9aVgGWRljnq6GVlq5o7Q==";

fn signer() -> AppSigner {
    AppSigner::new(PrivateKey::from_pem_or_base64(KEY).unwrap())
}

fn verifier() -> NotificationVerifier {
    NotificationVerifier::new(APP_ID, PublicKey::from_pem_or_base64(PUB).unwrap())
}

#[test]
fn signing_content_sorts_and_leaves_out_sign_sign_type_and_empty_values() {
    assert_eq!(signing_content(request_params()).unwrap(), EXPECTED_CONTENT);
    assert_eq!(
        signing_content([("a", "1"), ("a", "2")]),
        Err(Error::DuplicateField("a".into()))
    );
}

#[test]
fn rsa2_signature_matches_openssl_byte_for_byte() {
    assert_eq!(signer().sign(request_params()).unwrap(), OPENSSL_SIGNATURE);
}

#[test]
fn keys_load_from_the_console_s_bare_base64_too() {
    let bare: String = PUB.lines().filter(|l| !l.starts_with("-----")).collect();
    let key = PublicKey::from_pem_or_base64(&bare).unwrap();
    key.verify_base64(EXPECTED_CONTENT.as_bytes(), OPENSSL_SIGNATURE)
        .unwrap();
}

/// A TRADE_SUCCESS notification as Alipay sends it, signed with the test key.
fn notification(app_id: &str) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = [
        ("gmt_create", "2024-09-20 10:15:02"),
        ("charset", "utf-8"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
        ("notify_time", "2024-09-20 10:15:09"),
        ("trade_status", "TRADE_SUCCESS"),
        ("app_id", app_id),
        ("out_trade_no", "K-42"),
        ("trade_no", "2024092022001404010000000001"),
        ("total_amount", "128.00"),
        ("buyer_pay_amount", "128.00"),
        ("subject", "Kaifang order K-42 商品"),
        ("version", "1.0"),
        ("sign_type", "RSA2"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let sign = signer()
        .sign(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .unwrap();
    fields.push(("sign".into(), sign));
    fields
}

fn as_pairs(fields: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))
}

#[test]
fn a_signed_notification_is_verified_and_its_fields_returned() {
    let fields = notification(APP_ID);
    let parsed = verifier().verify(as_pairs(&fields)).unwrap();
    assert_eq!(parsed["out_trade_no"], "K-42");
    assert_eq!(parsed["total_amount"], "128.00");
    assert_eq!(parsed["trade_status"], "TRADE_SUCCESS");
    assert!(!parsed.contains_key("sign"));
    assert!(!parsed.contains_key("sign_type"));

    // The same notification as a form body, percent-encoded (the sign's + and /, the Chinese
    // subject, the spaces).
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(as_pairs(&fields))
        .finish();
    assert_eq!(verifier().verify_form(&body).unwrap(), parsed);
}

#[test]
fn forged_unsigned_or_foreign_notifications_are_refused() {
    // An amount changed after signing.
    let mut raised = notification(APP_ID);
    for (k, v) in raised.iter_mut() {
        if k == "total_amount" {
            *v = "1280.00".into();
        }
    }
    assert_eq!(
        verifier().verify(as_pairs(&raised)),
        Err(Error::BadSignature)
    );

    // A field added after signing.
    let mut added = notification(APP_ID);
    added.push(("refund_fee".into(), "128.00".into()));
    assert_eq!(
        verifier().verify(as_pairs(&added)),
        Err(Error::BadSignature)
    );

    // No sign, or an empty one.
    let unsigned: Vec<_> = notification(APP_ID)
        .into_iter()
        .filter(|(k, _)| k != "sign")
        .collect();
    assert_eq!(
        verifier().verify(as_pairs(&unsigned)),
        Err(Error::MissingField("sign"))
    );
    let mut empty = unsigned.clone();
    empty.push(("sign".into(), String::new()));
    assert_eq!(
        verifier().verify(as_pairs(&empty)),
        Err(Error::MissingField("sign"))
    );

    // Not base64.
    let mut garbage = unsigned.clone();
    garbage.push(("sign".into(), "@@@".into()));
    assert_eq!(
        verifier().verify(as_pairs(&garbage)),
        Err(Error::BadSignature)
    );

    // Correctly signed, for another application.
    let foreign = notification("2021000000000000");
    assert_eq!(
        verifier().verify(as_pairs(&foreign)),
        Err(Error::WrongAppId {
            got: "2021000000000000".into(),
            expected: APP_ID.into()
        })
    );

    // A field given twice (which one was signed?).
    let mut doubled = notification(APP_ID);
    doubled.push(("out_trade_no".into(), "K-43".into()));
    assert_eq!(
        verifier().verify(as_pairs(&doubled)),
        Err(Error::DuplicateField("out_trade_no".into()))
    );

    // Signed by another key (the WeChat test key stands in for an attacker's).
    let other = PrivateKey::from_pem_or_base64(include_str!(
        "fixtures/TEST_ONLY_wechatpay_go_signer_key.pem"
    ))
    .unwrap();
    let mut fields: Vec<_> = unsigned.clone();
    let sign = AppSigner::new(other).sign(as_pairs(&fields)).unwrap();
    fields.push(("sign".into(), sign));
    assert_eq!(
        verifier().verify(as_pairs(&fields)),
        Err(Error::BadSignature)
    );
}
