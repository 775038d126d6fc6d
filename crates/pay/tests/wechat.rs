//! WeChat Pay API v3: the signer reproduces wechatpay-go's published vector, notifications are
//! verified (signature, serial, window), resources decrypt and tampering is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kaifang_pay::Error;
use kaifang_pay::keys::{ApiV3Key, PrivateKey};
use kaifang_pay::wechat::{
    self, MerchantSigner, NotificationHeaders, PlatformVerifier, decrypt_resource, encrypt_resource,
};

/// wechatpay-go core/auth/signers/sha256withrsa_signer_test.go: testPrivateKeyStr.
const GO_KEY: &str = include_str!("fixtures/TEST_ONLY_wechatpay_go_signer_key.pem");
/// Same file: testExpectedSignature, the signature of testMessage "source".
const GO_SIGNATURE: &str = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6\
pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOh\
uH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwf\
LpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";
const GO_SERIAL: &str = "F5765756002FDD77";
const GO_MCHID: &str = "1234567890";

fn signer() -> MerchantSigner {
    let key = PrivateKey::from_pem_or_base64(GO_KEY).unwrap();
    MerchantSigner::new(GO_MCHID, GO_SERIAL, key).unwrap()
}

#[test]
fn signer_matches_wechatpay_go_published_signature_byte_for_byte() {
    assert_eq!(signer().sign("source").unwrap(), GO_SIGNATURE);
}

#[test]
fn authorization_header_has_the_documented_shape_and_a_verifiable_signature() {
    let body = r#"{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image","out_trade_no":"1217752501201407033233368018","notify_url":"https://example.invalid/notify","amount":{"total":100,"currency":"CNY"}}"#;
    let header = signer()
        .authorization(
            "POST",
            "/v3/pay/transactions/native",
            1_554_208_460,
            "593BEC0C930BF1AFEB40B4A08C8FB242",
            body,
        )
        .unwrap();
    let rest = header
        .strip_prefix("WECHATPAY2-SHA256-RSA2048 mchid=\"1234567890\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",signature=\"")
        .unwrap();
    let (signature, tail) = rest.split_once('"').unwrap();
    assert_eq!(
        tail,
        ",timestamp=\"1554208460\",serial_no=\"F5765756002FDD77\""
    );
    // The signature is over METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n.
    let message = format!(
        "POST\n/v3/pay/transactions/native\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n"
    );
    assert_eq!(
        wechat::request_message(
            "POST",
            "/v3/pay/transactions/native",
            1_554_208_460,
            "593BEC0C930BF1AFEB40B4A08C8FB242",
            body
        ),
        message
    );
    let public = PrivateKey::from_pem_or_base64(GO_KEY).unwrap().public_key();
    public.verify_base64(message.as_bytes(), signature).unwrap();
    assert_eq!(
        public.verify_base64(b"GET\n/\n1\nx\n\n", signature),
        Err(Error::BadSignature)
    );
}

#[test]
fn header_values_that_would_break_the_header_are_refused() {
    let s = signer();
    for nonce in ["", "a\"b", "a,b", "a\nb"] {
        assert_eq!(
            s.authorization("GET", "/v3/certificates", 1, nonce, ""),
            Err(Error::InvalidHeaderValue("nonce_str"))
        );
    }
    let key = PrivateKey::from_pem_or_base64(GO_KEY).unwrap();
    assert!(MerchantSigner::new("123\",x=\"", GO_SERIAL, key).is_err());
}

const NOW: i64 = 1_700_000_000;

/// A notification as WeChat Pay would send it, signed with the (test) platform key.
fn notification(timestamp: i64, body: &str) -> (String, String) {
    let ts = timestamp.to_string();
    let signature = signer()
        .sign(&wechat::notification_message(&ts, "fdasflkja484w", body))
        .unwrap();
    (ts, signature)
}

fn verifier() -> PlatformVerifier {
    let public = PrivateKey::from_pem_or_base64(GO_KEY).unwrap().public_key();
    PlatformVerifier::new("5157F09EFDC096DE15EBE81A47057A7232F1B8E1", public)
}

#[test]
fn a_signed_notification_within_the_window_is_accepted() {
    let body = r#"{"id":"EV-2018022511223320873","event_type":"TRANSACTION.SUCCESS"}"#;
    for skew in [0, -300, 300] {
        let (ts, sig) = notification(NOW + skew, body);
        let headers = NotificationHeaders {
            signature: &sig,
            timestamp: &ts,
            nonce: "fdasflkja484w",
            serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        };
        assert_eq!(
            verifier().verify(&headers, body, NOW),
            Ok(()),
            "skew {skew}"
        );
    }
}

#[test]
fn forged_late_or_foreign_notifications_are_refused() {
    let body = r#"{"id":"EV-1","event_type":"TRANSACTION.SUCCESS"}"#;
    let (ts, sig) = notification(NOW, body);
    let ok = NotificationHeaders {
        signature: &sig,
        timestamp: &ts,
        nonce: "fdasflkja484w",
        serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    };
    // A changed body (an amount raised), nonce or timestamp breaks the signature.
    assert_eq!(
        verifier().verify(&ok, &body.replace("EV-1", "EV-2"), NOW),
        Err(Error::BadSignature)
    );
    let other_nonce = NotificationHeaders {
        nonce: "other",
        ..ok
    };
    assert_eq!(
        verifier().verify(&other_nonce, body, NOW),
        Err(Error::BadSignature)
    );
    let moved = (NOW + 1).to_string();
    let moved_ts = NotificationHeaders {
        timestamp: &moved,
        ..ok
    };
    assert_eq!(
        verifier().verify(&moved_ts, body, NOW),
        Err(Error::BadSignature)
    );
    let garbage = NotificationHeaders {
        signature: "not base64!",
        ..ok
    };
    assert_eq!(
        verifier().verify(&garbage, body, NOW),
        Err(Error::BadSignature)
    );
    // Another platform key's serial.
    let foreign = NotificationHeaders {
        serial: "ABC",
        ..ok
    };
    assert_eq!(
        verifier().verify(&foreign, body, NOW),
        Err(Error::UnknownSerial("ABC".into()))
    );
    // Outside the window, both ways; and a narrower configured window.
    assert!(matches!(
        verifier().verify(&ok, body, NOW + 301),
        Err(Error::StaleTimestamp {
            window_secs: 300,
            ..
        })
    ));
    assert!(matches!(
        verifier().verify(&ok, body, NOW - 301),
        Err(Error::StaleTimestamp { .. })
    ));
    assert!(matches!(
        verifier().with_window(60).verify(&ok, body, NOW + 61),
        Err(Error::StaleTimestamp {
            window_secs: 60,
            ..
        })
    ));
    let bad_ts = NotificationHeaders {
        timestamp: "12:00",
        ..ok
    };
    assert_eq!(
        verifier().verify(&bad_ts, body, NOW),
        Err(Error::InvalidTimestamp("12:00".into()))
    );
}

fn api_key() -> ApiV3Key {
    ApiV3Key::new(b"0123456789abcdef0123456789ABCDEF").unwrap()
}

#[test]
fn resource_round_trips_and_any_tampering_is_refused() {
    let plaintext = br#"{"out_trade_no":"K-42","trade_state":"SUCCESS","amount":{"total":12800,"currency":"CNY"}}"#;
    let sealed = encrypt_resource(&api_key(), "transaction", "fdasflkja484", plaintext).unwrap();
    assert_eq!(
        decrypt_resource(&api_key(), "transaction", "fdasflkja484", &sealed).unwrap(),
        plaintext
    );
    // Flip one byte of the ciphertext.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(&sealed).unwrap();
    bytes[3] ^= 0x01;
    let flipped = b64.encode(&bytes);
    assert_eq!(
        decrypt_resource(&api_key(), "transaction", "fdasflkja484", &flipped),
        Err(Error::Decryption)
    );
    // Other associated data, nonce or key.
    assert_eq!(
        decrypt_resource(&api_key(), "certificate", "fdasflkja484", &sealed),
        Err(Error::Decryption)
    );
    assert_eq!(
        decrypt_resource(&api_key(), "transaction", "fdasflkja485", &sealed),
        Err(Error::Decryption)
    );
    let other = ApiV3Key::new(b"0123456789abcdef0123456789ABCDEX").unwrap();
    assert_eq!(
        decrypt_resource(&other, "transaction", "fdasflkja484", &sealed),
        Err(Error::Decryption)
    );
    assert_eq!(
        decrypt_resource(&api_key(), "transaction", "short", &sealed),
        Err(Error::InvalidNonce(5))
    );
    assert_eq!(
        decrypt_resource(&api_key(), "transaction", "fdasflkja484", "%%%"),
        Err(Error::Decryption)
    );
}

#[test]
fn resource_decryption_matches_an_independent_aes_gcm() {
    // No published WeChat resource vector was found; this one was sealed once by Python's
    // `cryptography` AESGCM (OpenSSL underneath, an implementation independent of RustCrypto's),
    // with NIST SP 800-38D test case 16's key, a WeChat-style 12-character nonce and
    // associated data "transaction":
    //   AESGCM(key).encrypt(b"cafebabeface", plaintext, b"transaction")
    let key = ApiV3Key::new(&hex_decode(
        "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
    ))
    .unwrap();
    let plaintext = br#"{"out_trade_no":"K-42","trade_state":"SUCCESS","amount":{"total":12800,"currency":"CNY"}}"#;
    let sealed = "dChD0Lo0n33jAwXwkTDHf/jWbEmOskdyIbabB90lsRfW0Npija+NHRKiR8mpUN0MwhJBHnAhtcNS3+zcQl+tbSZvMXSNMGtCPObKFPV3S1pNwrjX+7c6s4lQlyMGKedBTL96qlnTaymZ";
    assert_eq!(
        decrypt_resource(&key, "transaction", "cafebabeface", sealed).unwrap(),
        plaintext
    );
    assert_eq!(
        encrypt_resource(&key, "transaction", "cafebabeface", plaintext).unwrap(),
        sealed
    );
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_apiv3_key_must_be_32_bytes() {
    assert!(matches!(
        ApiV3Key::new(b"too short"),
        Err(Error::InvalidKey {
            what: "APIv3 key",
            ..
        })
    ));
}
