//! WeChat Pay API v3 style: request signing (`WECHATPAY2-SHA256-RSA2048`), notification
//! verification (`Wechatpay-Signature` over `TIMESTAMP\nNONCE\nBODY\n`, serial, timestamp window)
//! and notification resource decryption (AES-256-GCM under the APIv3 key).
//!
//! The platform key is given as a public key with its serial (WeChat Pay's "platform public key"
//! mode, or a certificate's key extracted by the caller); X.509 parsing is not done here.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Error;
use crate::keys::{ApiV3Key, PrivateKey, PublicKey};

/// The scheme of the `Authorization` header.
pub const AUTH_SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The default notification timestamp window, in seconds (5 minutes, as WeChat Pay recommends).
pub const DEFAULT_WINDOW_SECS: i64 = 300;

/// The message a request signature covers: `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, where URL is
/// the path with its query (e.g. `/v3/pay/transactions/native`) and BODY is empty for a GET.
pub fn request_message(method: &str, url: &str, timestamp: i64, nonce: &str, body: &str) -> String {
    format!("{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The message a notification (or response) signature covers: `TIMESTAMP\nNONCE\nBODY\n`.
pub fn notification_message(timestamp: &str, nonce: &str, body: &str) -> String {
    format!("{timestamp}\n{nonce}\n{body}\n")
}

/// A merchant's request signer: merchant id, the serial of its API certificate, its private key.
#[derive(Debug, Clone)]
pub struct MerchantSigner {
    mchid: String,
    serial_no: String,
    key: PrivateKey,
}

impl MerchantSigner {
    /// A signer; the merchant id and serial must be non-empty and header-safe.
    pub fn new(mchid: &str, serial_no: &str, key: PrivateKey) -> Result<MerchantSigner, Error> {
        header_safe("mchid", mchid)?;
        header_safe("serial_no", serial_no)?;
        Ok(MerchantSigner {
            mchid: mchid.to_owned(),
            serial_no: serial_no.to_owned(),
            key,
        })
    }

    /// The base64 signature of `message` with the merchant key.
    pub fn sign(&self, message: &str) -> Result<String, Error> {
        self.key.sign_base64(message.as_bytes())
    }

    /// The `Authorization` header value for a request. `timestamp` (Unix seconds) and `nonce` (a
    /// random string, 32 characters in WeChat's SDKs) are the caller's: this crate has no clock
    /// and no randomness.
    pub fn authorization(
        &self,
        method: &str,
        url: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> Result<String, Error> {
        header_safe("nonce_str", nonce)?;
        let signature = self.sign(&request_message(method, url, timestamp, nonce, body))?;
        Ok(format!(
            "{AUTH_SCHEME} mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
            self.mchid, self.serial_no
        ))
    }
}

/// The four `Wechatpay-*` headers of a notification, as received.
#[derive(Debug, Clone, Copy)]
pub struct NotificationHeaders<'a> {
    /// `Wechatpay-Signature`: base64.
    pub signature: &'a str,
    /// `Wechatpay-Timestamp`: Unix seconds.
    pub timestamp: &'a str,
    /// `Wechatpay-Nonce`.
    pub nonce: &'a str,
    /// `Wechatpay-Serial`: the serial of the platform key that signed.
    pub serial: &'a str,
}

/// Verifies notifications signed by WeChat Pay's platform key.
#[derive(Debug, Clone)]
pub struct PlatformVerifier {
    serial: String,
    key: PublicKey,
    window_secs: i64,
}

impl PlatformVerifier {
    /// A verifier for the platform key with this serial; the window is [`DEFAULT_WINDOW_SECS`].
    pub fn new(serial: &str, key: PublicKey) -> PlatformVerifier {
        PlatformVerifier {
            serial: serial.to_owned(),
            key,
            window_secs: DEFAULT_WINDOW_SECS,
        }
    }

    /// The same verifier accepting timestamps within `window_secs` of "now" either way.
    pub fn with_window(mut self, window_secs: i64) -> PlatformVerifier {
        self.window_secs = window_secs;
        self
    }

    /// Checks, in this order, the serial, the timestamp window around `now` (Unix seconds), then
    /// the signature over `TIMESTAMP\nNONCE\nBODY\n`. Replays inside the window are the nonce
    /// store's to refuse (not built yet).
    pub fn verify(
        &self,
        headers: &NotificationHeaders<'_>,
        body: &str,
        now: i64,
    ) -> Result<(), Error> {
        if headers.serial != self.serial {
            return Err(Error::UnknownSerial(headers.serial.to_owned()));
        }
        let timestamp: i64 = headers
            .timestamp
            .parse()
            .map_err(|_| Error::InvalidTimestamp(headers.timestamp.to_owned()))?;
        if timestamp.abs_diff(now) > self.window_secs.unsigned_abs() {
            return Err(Error::StaleTimestamp {
                timestamp,
                now,
                window_secs: self.window_secs,
            });
        }
        let message = notification_message(headers.timestamp, headers.nonce, body);
        self.key
            .verify_base64(message.as_bytes(), headers.signature)
    }
}

/// Decrypts a notification's `resource`: `ciphertext` is base64 of the AES-256-GCM ciphertext
/// followed by its 16-byte tag; `nonce` is the 12-character string; `associated_data` is
/// authenticated too. Returns the plaintext (JSON, for the caller to parse).
pub fn decrypt_resource(
    key: &ApiV3Key,
    associated_data: &str,
    nonce: &str,
    ciphertext_b64: &str,
) -> Result<Vec<u8>, Error> {
    let nonce = resource_nonce(nonce)?;
    let ciphertext = STANDARD
        .decode(ciphertext_b64)
        .map_err(|_| Error::Decryption)?;
    let cipher = Aes256Gcm::new(key.bytes().into());
    cipher
        .decrypt(
            nonce,
            Payload {
                msg: &ciphertext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| Error::Decryption)
}

/// Encrypts a resource the way WeChat Pay does (for the simulator and tests); the nonce is the
/// caller's and must never repeat under one key.
pub fn encrypt_resource(
    key: &ApiV3Key,
    associated_data: &str,
    nonce: &str,
    plaintext: &[u8],
) -> Result<String, Error> {
    let nonce = resource_nonce(nonce)?;
    let cipher = Aes256Gcm::new(key.bytes().into());
    let sealed = cipher
        .encrypt(
            nonce,
            Payload {
                msg: plaintext,
                aad: associated_data.as_bytes(),
            },
        )
        .map_err(|_| Error::Decryption)?;
    Ok(STANDARD.encode(sealed))
}

fn resource_nonce(nonce: &str) -> Result<&Nonce<aes_gcm::aead::consts::U12>, Error> {
    let bytes = nonce.as_bytes();
    if bytes.len() != 12 {
        return Err(Error::InvalidNonce(bytes.len()));
    }
    Ok(Nonce::from_slice(bytes))
}

/// A value placed inside `key="value"` in the header must not end the quotes or the list.
fn header_safe(what: &'static str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty()
        || value
            .chars()
            .any(|c| c == '"' || c == ',' || c.is_control())
    {
        return Err(Error::InvalidHeaderValue(what));
    }
    Ok(())
}
