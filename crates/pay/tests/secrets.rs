//! Key material never shows in Debug output or in errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kaifang_pay::alipay::{AppSigner, NotificationVerifier};
use kaifang_pay::keys::{ApiV3Key, PrivateKey, PublicKey};
use kaifang_pay::wechat::{MerchantSigner, PlatformVerifier, decrypt_resource};

const KEY: &str = include_str!("fixtures/TEST_ONLY_rsa2048_key.pem");
const PUB: &str = include_str!("fixtures/TEST_ONLY_rsa2048_pub.pem");
const API_V3: &[u8; 32] = b"S3cr3tApiV3KeyOfThirtyTwoBytes!!";

/// Every 12-character window of the key's base64 body: any leak of the key shows one of them.
fn fragments(pem: &str) -> Vec<String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let chars: Vec<char> = body.chars().collect();
    chars.windows(12).map(|w| w.iter().collect()).collect()
}

fn assert_no_leak(output: &str, secret_fragments: &[String]) {
    assert!(!output.contains("BEGIN"), "PEM header in {output:?}");
    for f in secret_fragments {
        assert!(
            !output.contains(f.as_str()),
            "key fragment {f:?} in {output:?}"
        );
    }
    // A key printed in another encoding (a derived Debug prints the RSA numbers as thousands of
    // digits) makes the output long; the redacted forms are one short line.
    assert!(
        output.len() < 200,
        "{} characters: {output:?}",
        output.len()
    );
}

#[test]
fn debug_output_of_key_holders_shows_no_key_material() {
    let key = PrivateKey::from_pem_or_base64(KEY).unwrap();
    let public = PublicKey::from_pem_or_base64(PUB).unwrap();
    let api = ApiV3Key::new(API_V3).unwrap();
    let outputs = [
        format!("{key:?}"),
        format!("{key:#?}"),
        format!(
            "{:?}",
            MerchantSigner::new("1900000001", "ABC", key.clone()).unwrap()
        ),
        format!("{:?}", AppSigner::new(key.clone())),
        format!("{:?}", PlatformVerifier::new("ABC", public.clone())),
        format!("{:?}", NotificationVerifier::new("2021", public)),
        format!("{api:?}"),
    ];
    let secret = fragments(KEY);
    let api_text = String::from_utf8_lossy(API_V3).into_owned();
    for out in &outputs {
        assert_no_leak(out, &secret);
        assert!(!out.contains(&api_text[..8]), "APIv3 key in {out:?}");
    }
    assert_eq!(format!("{key:?}"), "PrivateKey(RSA-2048, redacted)");
    assert_eq!(format!("{api:?}"), "ApiV3Key(redacted)");
}

#[test]
fn errors_about_keys_show_no_key_material() {
    // A truncated private key, a key with a byte changed, bare base64 that is not a key.
    let truncated: String = KEY.chars().take(KEY.len() / 2).collect();
    let corrupted = KEY.replacen("MII", "MIJ", 1);
    let body: String = KEY.lines().filter(|l| !l.starts_with("-----")).collect();
    let bare_cut = &body[..body.len() / 2 - (body.len() / 2) % 4];
    let secret = fragments(KEY);
    for bad in [truncated.as_str(), corrupted.as_str(), bare_cut] {
        let err = PrivateKey::from_pem_or_base64(bad).unwrap_err();
        assert_no_leak(&err.to_string(), &secret);
        assert_no_leak(&format!("{err:?}"), &secret);
    }
    // An APIv3 key of the wrong length; a decryption under the wrong key.
    let err = ApiV3Key::new(&API_V3[..31]).unwrap_err();
    assert!(!err.to_string().contains("S3cr3t"), "{err}");
    let api = ApiV3Key::new(API_V3).unwrap();
    let err = decrypt_resource(
        &api,
        "transaction",
        "0123456789ab",
        "AAAAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("S3cr3t"));
}
