//! One value per configured wallet provider, with the same operations whichever it is, so that
//! the order service never asks which provider it speaks to.
use kaifang_wallets::alipay::{self, Alipay};
use kaifang_wallets::wechat::{self, Wechat};
use kaifang_wallets::{
    AdapterError, Notification, PaymentRequest, PaymentStart, ProviderTrade, RefundRequest,
    RefundResult, StatementLine,
};

use super::settings::PaymentsSettings;

/// A configured provider. (Boxed: each client holds its keys inline.)
pub enum Adapter {
    /// WeChat Pay API v3.
    Wechat(Box<Wechat>),
    /// Alipay OpenAPI.
    Alipay(Box<Alipay>),
}

/// The wallet ids of `data/wallets.toml` the adapters serve.
pub const WECHAT_PAY: &str = "wechat-pay";
/// See [`WECHAT_PAY`].
pub const ALIPAY: &str = "alipay";

impl Adapter {
    /// Every provider the settings configure, by wallet id. A provider whose keys do not load is
    /// refused at start, with the setting named.
    pub fn configured(settings: &PaymentsSettings) -> Result<Vec<(String, Adapter)>, String> {
        let mut out = Vec::new();
        if let Some(w) = &settings.wechat {
            let client = Wechat::new(settings.wechat_config(w)?)
                .map_err(|e| format!("payments.wechat: {e}"))?;
            out.push((WECHAT_PAY.to_owned(), Adapter::Wechat(Box::new(client))));
        }
        if let Some(a) = &settings.alipay {
            let client = Alipay::new(settings.alipay_config(a)?)
                .map_err(|e| format!("payments.alipay: {e}"))?;
            out.push((ALIPAY.to_owned(), Adapter::Alipay(Box::new(client))));
        }
        Ok(out)
    }

    /// Asks for a payment; the answer is the provider's page for the buyer.
    pub async fn create(&self, r: &PaymentRequest) -> Result<PaymentStart, AdapterError> {
        match self {
            Adapter::Wechat(c) => c.create(r).await,
            Adapter::Alipay(c) => c.create(r).await,
        }
    }

    /// The trade as the provider knows it.
    pub async fn query(&self, out_trade_no: &str) -> Result<ProviderTrade, AdapterError> {
        match self {
            Adapter::Wechat(c) => c.query(out_trade_no).await,
            Adapter::Alipay(c) => c.query(out_trade_no).await,
        }
    }

    /// Gives money back.
    pub async fn refund(&self, r: &RefundRequest) -> Result<RefundResult, AdapterError> {
        match self {
            Adapter::Wechat(c) => c.refund(r).await,
            Adapter::Alipay(c) => c.refund(r).await,
        }
    }

    /// The provider's statement of a UTC day (`YYYY-MM-DD`).
    pub async fn statement(&self, date: &str) -> Result<Vec<StatementLine>, AdapterError> {
        match self {
            Adapter::Wechat(c) => c.statement(date).await,
            Adapter::Alipay(c) => c.statement(date).await,
        }
    }

    /// Checks a notification as received.
    pub fn verify_notification(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now_unix: i64,
    ) -> Result<Notification, AdapterError> {
        match self {
            Adapter::Wechat(c) => c.verify_notification(headers, body, now_unix),
            Adapter::Alipay(c) => c.verify_notification(headers, body, now_unix),
        }
    }

    /// What to answer a notification once handled: status and body.
    pub fn ack(&self) -> (u16, &'static str) {
        match self {
            Adapter::Wechat(_) => wechat::NOTIFICATION_ACK,
            Adapter::Alipay(_) => (200, alipay::NOTIFICATION_ACK),
        }
    }
}
