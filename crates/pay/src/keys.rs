//! Key holders. None prints its material: `Debug` says what kind of key it is and nothing else,
//! there is no `Display`, and a key that fails to load gives an error without any of its bytes.
//! Secrets come from files or the environment (the server's job); this crate only parses them.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::Error;

/// Both providers require RSA keys of at least 2048 bits.
const MIN_RSA_BITS: usize = 2048;

/// An RSA private key that signs with PKCS#1 v1.5 over SHA-256 (WeChat Pay's SHA256-RSA2048,
/// Alipay's RSA2).
#[derive(Clone)]
pub struct PrivateKey {
    signing: SigningKey<Sha256>,
    bits: usize,
}

impl PrivateKey {
    /// Reads a PEM key (`PRIVATE KEY`, PKCS#8, or `RSA PRIVATE KEY`, PKCS#1), or the bare base64
    /// DER that Alipay's console hands out.
    pub fn from_pem_or_base64(text: &str) -> Result<PrivateKey, Error> {
        let invalid = |reason: &str| Error::InvalidKey {
            what: "private key",
            reason: reason.to_owned(),
        };
        let key = if text.contains("-----BEGIN") {
            RsaPrivateKey::from_pkcs8_pem(text)
                .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
                .map_err(|_| invalid("not an RSA private key in PKCS#8 or PKCS#1 PEM"))?
        } else {
            let der =
                Zeroizing::new(decode_base64_lines(text).ok_or_else(|| invalid("not base64"))?);
            RsaPrivateKey::from_pkcs8_der(&der)
                .or_else(|_| RsaPrivateKey::from_pkcs1_der(&der))
                .map_err(|_| invalid("not an RSA private key in PKCS#8 or PKCS#1 DER"))?
        };
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(invalid(&format!(
                "{bits}-bit RSA, at least {MIN_RSA_BITS} needed"
            )));
        }
        Ok(PrivateKey {
            signing: SigningKey::<Sha256>::new(key),
            bits,
        })
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message`, base64 (standard alphabet, padded).
    /// Deterministic: the same key and message always give the same signature.
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, Error> {
        let signature: Signature = self.signing.try_sign(message).map_err(|_| Error::Signing)?;
        Ok(STANDARD.encode(signature.to_bytes()))
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        let key: &RsaPrivateKey = self.signing.as_ref();
        PublicKey::from_rsa(key.to_public_key())
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey(RSA-{}, redacted)", self.bits)
    }
}

/// An RSA public key that verifies PKCS#1 v1.5 SHA-256 signatures (a provider's platform key).
#[derive(Clone)]
pub struct PublicKey {
    verifying: VerifyingKey<Sha256>,
    bits: usize,
}

impl PublicKey {
    fn from_rsa(key: RsaPublicKey) -> PublicKey {
        let bits = key.size() * 8;
        PublicKey {
            verifying: VerifyingKey::<Sha256>::new(key),
            bits,
        }
    }

    /// Reads a PEM key (`PUBLIC KEY`, SPKI, or `RSA PUBLIC KEY`, PKCS#1), or bare base64 SPKI DER
    /// (Alipay's console format).
    pub fn from_pem_or_base64(text: &str) -> Result<PublicKey, Error> {
        let invalid = |reason: &str| Error::InvalidKey {
            what: "public key",
            reason: reason.to_owned(),
        };
        let key = if text.contains("-----BEGIN") {
            RsaPublicKey::from_public_key_pem(text)
                .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
                .map_err(|_| invalid("not an RSA public key in SPKI or PKCS#1 PEM"))?
        } else {
            let der = decode_base64_lines(text).ok_or_else(|| invalid("not base64"))?;
            RsaPublicKey::from_public_key_der(&der)
                .or_else(|_| RsaPublicKey::from_pkcs1_der(&der))
                .map_err(|_| invalid("not an RSA public key in SPKI or PKCS#1 DER"))?
        };
        let bits = key.size() * 8;
        if bits < MIN_RSA_BITS {
            return Err(invalid(&format!(
                "{bits}-bit RSA, at least {MIN_RSA_BITS} needed"
            )));
        }
        Ok(PublicKey::from_rsa(key))
    }

    /// Whether `signature_b64` (base64 RSASSA-PKCS1-v1_5 SHA-256) signs `message`.
    pub fn verify_base64(&self, message: &[u8], signature_b64: &str) -> Result<(), Error> {
        let bytes = STANDARD
            .decode(signature_b64.trim())
            .map_err(|_| Error::BadSignature)?;
        let signature = Signature::try_from(bytes.as_slice()).map_err(|_| Error::BadSignature)?;
        self.verifying
            .verify(message, &signature)
            .map_err(|_| Error::BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(RSA-{})", self.bits)
    }
}

/// WeChat Pay's APIv3 key: 32 bytes (a 32-character string in the merchant console) that is the
/// AES-256-GCM key of notification resources. Wiped from memory when dropped.
#[derive(Clone)]
pub struct ApiV3Key(Zeroizing<[u8; 32]>);

impl ApiV3Key {
    /// The key as set in the merchant console; exactly 32 bytes.
    pub fn new(key: &[u8]) -> Result<ApiV3Key, Error> {
        let bytes: [u8; 32] = key.try_into().map_err(|_| Error::InvalidKey {
            what: "APIv3 key",
            reason: format!("{} bytes, 32 needed", key.len()),
        })?;
        Ok(ApiV3Key(Zeroizing::new(bytes)))
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(redacted)")
    }
}

/// Base64 that may be wrapped over several lines.
fn decode_base64_lines(text: &str) -> Option<Vec<u8>> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    STANDARD.decode(compact.as_bytes()).ok()
}
