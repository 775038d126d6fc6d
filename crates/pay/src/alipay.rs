//! Alipay OpenAPI style: the RSA2 (SHA256withRSA) signing content, signing, and the verification
//! of asynchronous notifications (answered `success` by the caller once handled).
//!
//! Signing content: every parameter except `sign` and `sign_type`, and except empty values, sorted
//! by key (byte order), as `k=v` joined with `&`, values raw (not URL-encoded), in UTF-8.

use std::collections::BTreeMap;

use crate::Error;
use crate::keys::{PrivateKey, PublicKey};

/// The answer Alipay expects once a notification is handled; anything else makes it retry.
pub const NOTIFICATION_ACK: &str = "success";

/// The content an RSA2 signature covers. A duplicate key is refused: which of the two values was
/// signed would be ambiguous.
pub fn signing_content<'a, I>(params: I) -> Result<String, Error>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let sorted = collect_unique(params)?;
    Ok(content_of(&sorted))
}

fn collect_unique<'a, I>(params: I) -> Result<BTreeMap<&'a str, &'a str>, Error>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut sorted = BTreeMap::new();
    for (k, v) in params {
        if sorted.insert(k, v).is_some() {
            return Err(Error::DuplicateField(k.to_owned()));
        }
    }
    Ok(sorted)
}

fn content_of(sorted: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    for (k, v) in sorted {
        if *k == "sign" || *k == "sign_type" || v.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Signs requests with the application's private key.
#[derive(Debug, Clone)]
pub struct AppSigner {
    key: PrivateKey,
}

impl AppSigner {
    /// A signer with the application's private key.
    pub fn new(key: PrivateKey) -> AppSigner {
        AppSigner { key }
    }

    /// The base64 RSA2 `sign` of these parameters.
    pub fn sign<'a, I>(&self, params: I) -> Result<String, Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        self.key.sign_base64(signing_content(params)?.as_bytes())
    }
}

/// Verifies asynchronous notifications with Alipay's public key, for one application.
#[derive(Debug, Clone)]
pub struct NotificationVerifier {
    app_id: String,
    alipay_key: PublicKey,
}

impl NotificationVerifier {
    /// A verifier for notifications addressed to `app_id`, signed with `alipay_key`.
    pub fn new(app_id: &str, alipay_key: PublicKey) -> NotificationVerifier {
        NotificationVerifier {
            app_id: app_id.to_owned(),
            alipay_key,
        }
    }

    /// Verifies a notification given as its decoded fields; returns them (without `sign` and
    /// `sign_type`) when the signature holds and the notification is for this application.
    pub fn verify<'a, I>(&self, fields: I) -> Result<BTreeMap<String, String>, Error>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let sorted = collect_unique(fields)?;
        let sign = match sorted.get("sign") {
            Some(s) if !s.is_empty() => *s,
            _ => return Err(Error::MissingField("sign")),
        };
        // The signature first: an unsigned app_id says nothing.
        self.alipay_key
            .verify_base64(content_of(&sorted).as_bytes(), sign)?;
        match sorted.get("app_id") {
            None => return Err(Error::MissingField("app_id")),
            Some(got) if *got != self.app_id => {
                return Err(Error::WrongAppId {
                    got: (*got).to_owned(),
                    expected: self.app_id.clone(),
                });
            }
            Some(_) => {}
        }
        Ok(sorted
            .into_iter()
            .filter(|(k, _)| *k != "sign" && *k != "sign_type")
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect())
    }

    /// Verifies a notification as received: an `application/x-www-form-urlencoded` body.
    pub fn verify_form(&self, body: &str) -> Result<BTreeMap<String, String>, Error> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        self.verify(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}
