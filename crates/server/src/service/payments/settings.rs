//! `[payments]` settings: the limits of checkout and how to reach each wallet provider. Secrets
//! (private keys, the APIv3 key) are never written in the settings themselves: each is a
//! reference, `file:<path>` or `env:<VARIABLE>`, read at start. An error names the setting and the
//! reference, never the secret.
use std::time::Duration;

use kaifang_pay::PickerOrder;
use kaifang_pay::keys::{ApiV3Key, PrivateKey, PublicKey};
use kaifang_wallets::alipay::AlipayConfig;
use kaifang_wallets::wechat::WechatConfig;
use serde::{Deserialize, Serialize};

/// Checkout in chat (docs/payments.md). Off unless at least one provider is configured.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsSettings {
    /// The address providers send notifications to and send buyers back to, e.g.
    /// `https://chat.example.com` (default empty: the server's own `http://<listen>`).
    pub public_url: String,
    /// How long an `Idempotency-Key` is kept, in seconds (default 86,400: Stripe's 24 hours).
    pub idempotency_window_secs: i64,
    /// How far a notification's timestamp may be from now, either way, in seconds (default 300).
    pub notification_window_secs: i64,
    /// How long to wait for a provider's answer, in milliseconds (default 5,000); after it the
    /// order stays pending until a query says what happened.
    pub provider_timeout_ms: u64,
    /// The most of one product one order may hold (default 99).
    pub max_quantity: u32,
    /// How often old idempotency keys and notification nonces are deleted, in seconds
    /// (default 3,600).
    pub prune_every_secs: u64,
    /// The wallet picker's order: `neutral` (default: the buyer's last choice, then an order
    /// rotated per buyer so that no wallet, the house's included, is always first),
    /// `alphabetical` or `registry`. Shown in the fairness check and the transparency report.
    pub picker_order: String,
    /// WeChat Pay API v3; absent: not offered.
    pub wechat: Option<WechatSettings>,
    /// Alipay OpenAPI; absent: not offered.
    pub alipay: Option<AlipaySettings>,
}

impl Default for PaymentsSettings {
    fn default() -> Self {
        Self {
            public_url: String::new(),
            idempotency_window_secs: 86_400,
            notification_window_secs: 300,
            provider_timeout_ms: 5_000,
            max_quantity: 99,
            prune_every_secs: 3_600,
            picker_order: "neutral".to_owned(),
            wechat: None,
            alipay: None,
        }
    }
}

/// How to reach WeChat Pay as one merchant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSettings {
    /// API root (`https://api.mch.weixin.qq.com`; the simulator's address in tests).
    pub base_url: String,
    /// Merchant id.
    pub mchid: String,
    /// App id.
    pub appid: String,
    /// Serial of the merchant's API certificate.
    pub merchant_serial: String,
    /// The merchant's private key (PEM): `file:<path>` or `env:<VARIABLE>`.
    pub merchant_key: String,
    /// Serial of WeChat Pay's platform key.
    pub platform_serial: String,
    /// WeChat Pay's platform public key (PEM): `file:<path>` or `env:<VARIABLE>`.
    pub platform_key: String,
    /// The 32-byte APIv3 key: `file:<path>` or `env:<VARIABLE>`.
    pub api_v3_key: String,
    /// Sent as the payer's address (default `127.0.0.1`).
    #[serde(default = "loopback")]
    pub payer_client_ip: String,
}

fn loopback() -> String {
    "127.0.0.1".to_owned()
}

/// How to reach Alipay as one app.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipaySettings {
    /// Gateway root (`https://openapi.alipay.com`; the simulator's address in tests).
    pub base_url: String,
    /// App id.
    pub app_id: String,
    /// The app's private key: `file:<path>` or `env:<VARIABLE>`.
    pub app_key: String,
    /// Alipay's public key: `file:<path>` or `env:<VARIABLE>`.
    pub alipay_key: String,
}

/// A key that does not load: the setting and the reason, none of the key's bytes.
fn key_err(setting: &'static str) -> impl Fn(kaifang_pay::Error) -> String {
    move |e| format!("{setting}: {e}")
}

/// Reads a secret reference. The error names the setting and the reference only.
fn secret(setting: &str, reference: &str) -> Result<String, String> {
    if let Some(path) = reference.strip_prefix("file:") {
        return std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| format!("{setting}: cannot read {path}: {}", e.kind()));
    }
    if let Some(var) = reference.strip_prefix("env:") {
        return std::env::var(var)
            .map(|s| s.trim().to_owned())
            .map_err(|_| format!("{setting}: the environment variable {var} is not set"));
    }
    Err(format!(
        "{setting}: write file:<path> or env:<VARIABLE>, never the secret itself"
    ))
}

impl PaymentsSettings {
    /// The provider timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.provider_timeout_ms)
    }

    /// Checks the limits; a bad one is refused at start, named.
    pub fn validate(&self) -> Result<(), String> {
        if self.idempotency_window_secs < 60 {
            return Err("payments.idempotency_window_secs must be at least 60".into());
        }
        if !(1..=3_600).contains(&self.notification_window_secs) {
            return Err("payments.notification_window_secs must be 1 to 3600".into());
        }
        if !(100..=120_000).contains(&self.provider_timeout_ms) {
            return Err("payments.provider_timeout_ms must be 100 to 120000".into());
        }
        if !(1..=10_000).contains(&self.max_quantity) {
            return Err("payments.max_quantity must be 1 to 10000".into());
        }
        if self.prune_every_secs == 0 {
            return Err("payments.prune_every_secs must be at least 1".into());
        }
        self.picker()?;
        Ok(())
    }

    /// The picker order the setting names.
    pub fn picker(&self) -> Result<PickerOrder, String> {
        self.picker_order
            .parse()
            .map_err(|e| format!("payments.picker_order: {e}"))
    }

    /// The WeChat Pay adapter's configuration, secrets read.
    pub fn wechat_config(&self, w: &WechatSettings) -> Result<WechatConfig, String> {
        Ok(WechatConfig {
            base_url: w.base_url.clone(),
            mchid: w.mchid.clone(),
            appid: w.appid.clone(),
            merchant_serial: w.merchant_serial.clone(),
            merchant_key: PrivateKey::from_pem_or_base64(&secret(
                "payments.wechat.merchant_key",
                &w.merchant_key,
            )?)
            .map_err(key_err("payments.wechat.merchant_key"))?,
            platform_serial: w.platform_serial.clone(),
            platform_key: PublicKey::from_pem_or_base64(&secret(
                "payments.wechat.platform_key",
                &w.platform_key,
            )?)
            .map_err(key_err("payments.wechat.platform_key"))?,
            api_v3_key: ApiV3Key::new(
                secret("payments.wechat.api_v3_key", &w.api_v3_key)?.as_bytes(),
            )
            .map_err(key_err("payments.wechat.api_v3_key"))?,
            payer_client_ip: w.payer_client_ip.clone(),
            timeout: self.timeout(),
            window_secs: self.notification_window_secs,
        })
    }

    /// The Alipay adapter's configuration, secrets read.
    pub fn alipay_config(&self, a: &AlipaySettings) -> Result<AlipayConfig, String> {
        Ok(AlipayConfig {
            base_url: a.base_url.clone(),
            app_id: a.app_id.clone(),
            app_key: PrivateKey::from_pem_or_base64(&secret(
                "payments.alipay.app_key",
                &a.app_key,
            )?)
            .map_err(key_err("payments.alipay.app_key"))?,
            alipay_key: PublicKey::from_pem_or_base64(&secret(
                "payments.alipay.alipay_key",
                &a.alipay_key,
            )?)
            .map_err(key_err("payments.alipay.alipay_key"))?,
            timeout: self.timeout(),
            notify_window: Duration::from_secs(
                u64::try_from(self.notification_window_secs).unwrap_or(300),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_come_from_files_or_the_environment_and_errors_never_hold_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(&path, "s3cret-material\n").unwrap();
        let file = format!("file:{}", path.display());
        assert_eq!(secret("x", &file).unwrap(), "s3cret-material");
        let missing = secret("payments.alipay.app_key", "file:/nonexistent/k").unwrap_err();
        assert!(
            missing.starts_with("payments.alipay.app_key: cannot read"),
            "{missing}"
        );
        let inline = secret("payments.wechat.api_v3_key", "s3cret-material").unwrap_err();
        assert!(!inline.contains("s3cret"), "{inline}");
        let unset = secret("x", "env:KAIFANG_TEST_SURELY_UNSET_VARIABLE").unwrap_err();
        assert!(
            unset.contains("KAIFANG_TEST_SURELY_UNSET_VARIABLE"),
            "{unset}"
        );
    }

    #[test]
    fn limits_are_checked_and_named() {
        assert_eq!(PaymentsSettings::default().validate(), Ok(()));
        let bad = PaymentsSettings {
            picker_order: "house-first".into(),
            ..PaymentsSettings::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("payments.picker_order")
        );
        let bad = PaymentsSettings {
            provider_timeout_ms: 0,
            ..PaymentsSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("provider_timeout_ms"));
    }
}
