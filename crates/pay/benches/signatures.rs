//! Notification verification per second, both wire formats, RSA-2048 (the cost a server pays per
//! provider notification): `cargo bench -p kaifang-pay --bench signatures`. Criterion's `thrpt`
//! line is verifications per second on one core. Keys are parsed once (as a server holds them);
//! each iteration verifies the same realistic notification, so the CPU caches are warm (nothing is
//! cached by the code). Signing is measured beside it: the private-key operation, about ten times
//! dearer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kaifang_pay::alipay::{AppSigner, NotificationVerifier};
use kaifang_pay::keys::PrivateKey;
use kaifang_pay::wechat::{self, MerchantSigner, NotificationHeaders, PlatformVerifier};

const KEY: &str = include_str!("../tests/fixtures/TEST_ONLY_rsa2048_key.pem");

fn bench(c: &mut Criterion) {
    let key = PrivateKey::from_pem_or_base64(KEY).unwrap();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));

    // WeChat Pay: a TRANSACTION.SUCCESS notification body (resource still encrypted, as received).
    let body = r#"{"id":"EV-2018022511223320873","create_time":"2024-09-20T10:15:09+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"支付成功","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"dChD0Lo0n33jAwXwkTDHf/jWbEmOskdyIbabB90lsRfW0Npija+NHRKiR8mpUN0MwhJBHnAhtcNS3+zcQl+tbSZvMXSNMGtCPObKFPV3S1pNwrjX+7c6s4lQlyMGKedBTL96qlnTaymZ","associated_data":"transaction","nonce":"cafebabeface"}}"#;
    let now = 1_726_798_509;
    let ts = now.to_string();
    let signer = MerchantSigner::new("1900000001", "SERIAL", key.clone()).unwrap();
    let signature = signer
        .sign(&wechat::notification_message(&ts, "fdasflkja484w", body))
        .unwrap();
    let verifier = PlatformVerifier::new("SERIAL", key.public_key());
    let headers = NotificationHeaders {
        signature: &signature,
        timestamp: &ts,
        nonce: "fdasflkja484w",
        serial: "SERIAL",
    };
    verifier.verify(&headers, body, now).unwrap();
    group.bench_function("wechatpay_v3_notification", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&headers), black_box(body), now)
                .unwrap()
        })
    });

    // Alipay: a TRADE_SUCCESS notification as its form body (decoding and sorting included).
    let mut fields = vec![
        ("gmt_create", "2024-09-20 10:15:02"),
        ("charset", "utf-8"),
        ("notify_type", "trade_status_sync"),
        ("notify_id", "ac05099524730693a8b330c5ecf72da9786"),
        ("notify_time", "2024-09-20 10:15:09"),
        ("trade_status", "TRADE_SUCCESS"),
        ("app_id", "2014072300007148"),
        ("out_trade_no", "K-42"),
        ("trade_no", "2024092022001404010000000001"),
        ("total_amount", "128.00"),
        ("subject", "Kaifang order K-42"),
        ("version", "1.0"),
        ("sign_type", "RSA2"),
    ];
    let sign = AppSigner::new(key.clone()).sign(fields.clone()).unwrap();
    fields.push(("sign", &sign));
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let alipay = NotificationVerifier::new("2014072300007148", key.public_key());
    alipay.verify_form(&form).unwrap();
    group.bench_function("alipay_rsa2_notification", |b| {
        b.iter(|| alipay.verify_form(black_box(&form)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("sign");
    group.throughput(Throughput::Elements(1));
    group.bench_function("wechatpay_v3_authorization", |b| {
        b.iter(|| {
            signer
                .authorization(
                    "POST",
                    "/v3/pay/transactions/native",
                    now,
                    "593BEC0C930BF1AFEB40B4A08C8FB242",
                    black_box(body),
                )
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
