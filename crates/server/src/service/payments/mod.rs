//! Checkout in chat (issue 10): a product card's Buy action becomes an order priced from the card,
//! paid through the wallet the buyer picks among those offered, confirmed by the provider's signed
//! notification (or by a query when none comes), refunded in full or in part, and written to the
//! double-entry ledger. Every money movement is keyed by the provider's reference, so a duplicate
//! notification, a retried request or a restart in the middle records nothing twice.
//!
//! Order of work on a notification: verify → apply (idempotent) → remember the nonce. A crash after
//! applying loses nothing (the provider sends again, and applying again changes nothing); a replay
//! of a notification already handled is refused by the nonce store and changes nothing either.
pub mod adapters;
pub mod settings;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kaifang_pay::{Event as OrderEvent, Money, OrderState, WalletRegistry, transition};
use kaifang_policy::{MerchantFacts, WalletFacts};
use kaifang_store::{
    Balance, Chat, EntryLeg, Governance, IdempotencyKey, NewOrder, NewTransaction, Order, Payments,
    Store, TransactionKind, UserId,
};
use kaifang_wallets::reconcile::{Difference, LedgerKind, LedgerLine, reconcile};
use kaifang_wallets::{
    AdapterError, PaymentRequest, ProviderTrade, RefundRequest, TradeStatus, order_id_of,
    out_trade_no,
};
use serde_json::{Value, json};

pub use adapters::Adapter;
pub use settings::PaymentsSettings;

use crate::hub::Audience;
use crate::service::accounts::Caller;
use crate::service::error::{Error, Result};
use crate::service::events::Events;
use crate::service::links::Links;
use crate::service::messaging::Messaging;

/// A product card's price and the wallets its buyer may pay with.
#[derive(Debug, Clone)]
pub struct Quote {
    /// The merchant: the link's platform id.
    pub merchant: String,
    /// The card's title, shown on the provider's page.
    pub title: String,
    /// The price of one.
    pub unit_price: Money,
    /// The wallets offered, in the picker's order.
    pub wallets: Vec<String>,
}

/// One wallet's ledger against its provider's statement of a day.
#[derive(Debug)]
pub struct Reconciliation {
    /// The wallet.
    pub wallet: String,
    /// Transactions in the ledger that day (fees included).
    pub ledger_lines: usize,
    /// Lines in the provider's statement.
    pub statement_lines: usize,
    /// Every difference; none when they agree.
    pub differences: Vec<Difference>,
}

/// What a buyer orders.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    /// The conversation holding the card.
    pub conversation_id: i64,
    /// The message's sequence number.
    pub seq: i64,
    /// Which of its links.
    pub link_index: usize,
    /// How many.
    pub quantity: u32,
    /// The wallet picked.
    pub wallet: String,
}

/// An order and the provider's page where the buyer pays, when there is one to open.
#[derive(Debug)]
pub struct Placed {
    /// The order.
    pub order: Order,
    /// The provider's page; `None` when the provider did not answer in time (the order stays
    /// pending; a query says what happened).
    pub pay_url: Option<String>,
    /// The same `Idempotency-Key` with the same parameters: the first answer again.
    pub replay: bool,
}

/// Everything the service needs, named.
pub struct Parts {
    /// Orders and the ledger.
    pub store: Arc<dyn Payments>,
    /// Accounts (administrators).
    pub users: Arc<dyn Store>,
    /// Messages by position.
    pub chat: Arc<dyn Chat>,
    /// The audit log.
    pub audit: Arc<dyn Governance>,
    /// Membership checks.
    pub messaging: Arc<Messaging>,
    /// The registry and the operator.
    pub links: Arc<Links>,
    /// The `payment` events.
    pub events: Arc<Events>,
}

/// The payment service.
pub struct PaymentService {
    parts: Parts,
    wallets: WalletRegistry,
    adapters: BTreeMap<String, Adapter>,
    settings: PaymentsSettings,
    picker: kaifang_pay::PickerOrder,
    /// Where providers send notifications and buyers back: `payments.public_url`, or this server.
    public_url: String,
}

fn adapter_error(e: AdapterError) -> Error {
    match e {
        AdapterError::Timeout => Error::busy("the wallet provider did not answer in time", 5),
        AdapterError::Unreachable => Error::busy("the wallet provider could not be reached", 5),
        AdapterError::Refused { code } => Error::refused(
            "provider-refused",
            "The wallet provider refused",
            format!("the wallet provider refused: {code}"),
        ),
        other => Error::refused(
            "provider-error",
            "The wallet provider's answer is not valid",
            other.to_string(),
        ),
    }
}

fn state_of(order: &Order) -> Result<OrderState> {
    OrderState::parse(&order.state)
        .ok_or_else(|| Error::internal(format!("order {} has state {:?}", order.id, order.state)))
}

fn money(minor: i64, currency: &str) -> Result<Money> {
    kaifang_pay::Currency::from_code(currency)
        .and_then(|c| Money::from_minor(minor, c))
        .map_err(|e| Error::internal(format!("stored amount: {e}")))
}

impl PaymentService {
    /// Builds the service over the configured providers.
    pub fn new(
        parts: Parts,
        settings: PaymentsSettings,
        adapters: Vec<(String, Adapter)>,
        public_url: String,
    ) -> std::result::Result<Self, String> {
        settings.validate()?;
        let picker = settings.picker()?;
        let wallets = WalletRegistry::builtin().map_err(|e| format!("data/wallets.toml: {e}"))?;
        Ok(Self {
            parts,
            wallets,
            adapters: adapters.into_iter().collect(),
            settings,
            picker,
            public_url: public_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Whether any provider is configured.
    pub fn enabled(&self) -> bool {
        !self.adapters.is_empty()
    }

    /// The settings in force (the report shows the picker's order).
    pub fn settings(&self) -> &PaymentsSettings {
        &self.settings
    }

    /// The wallet registry.
    pub fn wallets(&self) -> &WalletRegistry {
        &self.wallets
    }

    fn turned_off(&self) -> Result<()> {
        if self.enabled() {
            Ok(())
        } else {
            Err(Error::TurnedOff(
                "payments are off: no wallet provider is configured ([payments.wechat], [payments.alipay])",
            ))
        }
    }

    /// The card at a link of a message the caller can read, and the wallets offered for it.
    pub async fn quote(
        &self,
        caller: &Caller,
        conversation_id: i64,
        seq: i64,
        link_index: usize,
    ) -> Result<Quote> {
        self.turned_off()?;
        // A non-member learns nothing: the conversation is not there.
        let message = self
            .parts
            .chat
            .message_at(conversation_id, seq)
            .await?
            .ok_or_else(|| Error::not_found("message"))?;
        let links: Vec<Value> = serde_json::from_str(&message.links).unwrap_or_default();
        let link = links.get(link_index).ok_or_else(|| {
            Error::invalid(format!(
                "the message has no link at index {link_index} (it has {})",
                links.len()
            ))
        })?;
        let membership = self
            .parts
            .messaging
            .membership(caller, conversation_id)
            .await?;
        let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
        let merchant = text(link, "platform").unwrap_or_default();
        let Some(shop) = self.wallets.merchant(&merchant) else {
            return Err(Error::refused(
                "not-a-shop",
                "Not a shop",
                format!("{merchant:?} is not a merchant of the wallet registry"),
            ));
        };
        let url = text(link, "url").unwrap_or_default();
        let previews: Value = message
            .previews
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null);
        let card = &previews[url.as_str()];
        let (Some(price), Some(currency)) = (text(card, "price"), text(card, "currency")) else {
            return Err(Error::refused(
                "no-price",
                "No price on this card",
                "the link's preview has no product price (yet): nothing to buy",
            ));
        };
        let unit_price = Money::parse_with_code(&price, &currency).map_err(|e| {
            Error::refused(
                "no-price",
                "No price on this card",
                format!("the card's price: {e}"),
            )
        })?;
        let ctx = crate::service::links::context(
            membership.kind,
            i64::try_from(membership.member_count).unwrap_or(i64::MAX),
            membership.role,
        );
        let last = self.parts.store.last_paid_wallet(caller.user_id).await?;
        let wallets = self.offered(caller.user_id, last.as_deref(), &ctx, &merchant, shop);
        Ok(Quote {
            merchant,
            title: text(card, "title").unwrap_or_else(|| url.clone()),
            unit_price,
            wallets,
        })
    }

    /// Creates the order (or returns the first answer for the same key and parameters) and asks
    /// the wallet's provider for a payment.
    pub async fn place(&self, caller: &Caller, key: &str, r: OrderRequest) -> Result<Placed> {
        if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
            return Err(Error::invalid(
                "an Idempotency-Key header of 1 to 255 printable characters is required",
            ));
        }
        if r.quantity == 0 || r.quantity > self.settings.max_quantity {
            return Err(Error::invalid(format!(
                "quantity must be 1 to {} (payments.max_quantity)",
                self.settings.max_quantity
            )));
        }
        let quote = self
            .quote(caller, r.conversation_id, r.seq, r.link_index)
            .await?;
        if !quote.wallets.contains(&r.wallet) {
            return Err(Error::refused(
                "wallet-not-offered",
                "Wallet not offered",
                format!(
                    "{:?} is not offered for this shop; offered: {}",
                    r.wallet,
                    quote.wallets.join(", ")
                ),
            ));
        }
        let amount = quote
            .unit_price
            .checked_mul(r.quantity)
            .map_err(|e| Error::invalid(format!("amount: {e}")))?;
        let now = crate::now_ms();
        let message = self
            .parts
            .chat
            .message_at(r.conversation_id, r.seq)
            .await?
            .ok_or_else(|| Error::not_found("message"))?;
        let (order, replay) = self
            .parts
            .store
            .create_order(
                NewOrder {
                    buyer: caller.user_id,
                    conversation_id: Some(r.conversation_id),
                    message_id: Some(message.id),
                    link_index: Some(i64::try_from(r.link_index).unwrap_or(i64::MAX)),
                    merchant: quote.merchant.clone(),
                    wallet: r.wallet.clone(),
                    amount_minor: amount.minor(),
                    currency: amount.currency().code().to_owned(),
                    state: OrderState::Created.as_str().to_owned(),
                    now,
                },
                IdempotencyKey {
                    key: key.to_owned(),
                    caller: caller.user_id.to_string(),
                    window_ms: self.settings.idempotency_window_secs.saturating_mul(1_000),
                },
            )
            .await?;
        if !replay {
            self.audit(
                caller.user_id,
                "order.create",
                json!({ "order": order.id, "merchant": order.merchant, "wallet": order.wallet,
                        "amount_minor": order.amount_minor, "currency": order.currency }),
            )
            .await?;
        }
        let state = state_of(&order)?;
        // Only an order that may still be paid goes to the provider; asking again with the same
        // trade reference gives the same page.
        if !matches!(state, OrderState::Created | OrderState::Pending) {
            return Ok(Placed {
                order,
                pay_url: None,
                replay,
            });
        }
        let adapter = self.adapter(&order.wallet)?;
        let request = PaymentRequest {
            out_trade_no: out_trade_no(order.id),
            description: quote.title.chars().take(100).collect(),
            amount,
            notify_url: format!(
                "{}/api/v1/payments/notify/{}",
                self.public_url, order.wallet
            ),
            return_url: format!("{}/?order={}", self.public_url, order.id),
        };
        let answer = adapter.create(&request).await;
        match answer {
            Ok(start) => {
                let order = self
                    .advance(&order, OrderEvent::RequestPayment, None)
                    .await?;
                Ok(Placed {
                    order,
                    pay_url: Some(start.pay_url),
                    replay,
                })
            }
            // The trade may exist at the provider: the order is pending until a query says.
            Err(AdapterError::Timeout) => {
                let order = self
                    .advance(&order, OrderEvent::RequestPayment, None)
                    .await?;
                tracing::warn!(order = order.id, wallet = %order.wallet, "wallet provider timed out; the order stays pending");
                Ok(Placed {
                    order,
                    pay_url: None,
                    replay,
                })
            }
            Err(e) => {
                // Asked for the first time and refused: no trade was made, so close the order and
                // nothing waits on it. A pending order was accepted before (a retry may be
                // refused because it is paid already, WeChat Pay's ORDERPAID): it stays pending
                // for its notification or a query.
                if state == OrderState::Created {
                    self.advance(&order, OrderEvent::Cancel, None).await?;
                }
                Err(adapter_error(e))
            }
        }
    }

    /// The wallets the policy in force offers at `shop` in this context, among those with a
    /// configured provider, in the picker's order for this buyer (whose last paid wallet was
    /// `last`).
    fn offered(
        &self,
        buyer: UserId,
        last: Option<&str>,
        ctx: &kaifang_policy::Context,
        merchant: &str,
        shop: &kaifang_pay::Merchant,
    ) -> Vec<String> {
        let owner_of = |platform: &str| {
            self.parts
                .links
                .registry()
                .platforms()
                .iter()
                .find(|p| p.id == platform)
                .map_or_else(|| kaifang_policy::UNKNOWN.to_owned(), |p| p.owner.clone())
        };
        let facts: Vec<WalletFacts> = shop
            .accepts
            .iter()
            .filter_map(|id| self.wallets.wallet(id))
            .map(|w| WalletFacts {
                id: w.id.clone(),
                owner: w.owner.clone(),
            })
            .collect();
        let merchant = MerchantFacts {
            platform: merchant.to_owned(),
            owner: owner_of(merchant),
            accepts: shop.accepts.clone(),
        };
        let engine = self.parts.links.active().engine.clone();
        let offers = engine.offer_wallets(ctx, &merchant, &facts);
        let offered: Vec<&str> = offers
            .iter()
            .filter(|o| o.offered && self.adapters.contains_key(&o.wallet))
            .map(|o| o.wallet.as_str())
            .collect();
        kaifang_pay::picker_order(self.picker, &buyer.to_string(), last, &offered)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn adapter(&self, wallet: &str) -> Result<&Adapter> {
        self.adapters
            .get(wallet)
            .ok_or_else(|| Error::not_found("wallet"))
    }

    /// Moves an order along `event` (a no-op when the edge leaves it where it is). Refused when
    /// the edge is not allowed.
    async fn advance(
        &self,
        order: &Order,
        event: OrderEvent,
        provider_ref: Option<&str>,
    ) -> Result<Order> {
        let from = state_of(order)?;
        let to = transition(from, event).map_err(|e| Error::conflict(e.to_string()))?;
        if to == from && provider_ref.is_none() {
            return Ok(order.clone());
        }
        let order = self
            .parts
            .store
            .set_order_state(
                order.id,
                from.as_str(),
                to.as_str(),
                provider_ref,
                crate::now_ms(),
            )
            .await?;
        if to != from {
            self.tell(&order);
        }
        Ok(order)
    }

    /// The buyer hears every change of their order in the conversation it was bought from.
    fn tell(&self, order: &Order) {
        let Some(conversation_id) = order.conversation_id else {
            return;
        };
        let event = json!({
            "type": "payment",
            "conversation_id": conversation_id,
            "order": order_json(order),
        });
        self.parts.events.ephemeral(
            conversation_id,
            Audience::Users(vec![order.buyer]),
            event.to_string(),
        );
    }

    async fn audit(&self, actor: UserId, action: &str, detail: Value) -> Result<()> {
        self.parts
            .audit
            .audit(actor, action, &detail.to_string())
            .await
            .map_err(Error::from)
    }

    /// The order, for its buyer or an administrator; anyone else is told it is not there.
    pub async fn order(&self, caller: &Caller, id: i64) -> Result<Order> {
        let order = self
            .parts
            .store
            .order(id)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        if order.buyer != caller.user_id {
            caller.admin(&*self.parts.users).await?;
        }
        Ok(order)
    }

    /// Applies what the provider says of a trade to its order, and records the payment.
    /// Idempotent: the same report twice changes nothing the second time.
    async fn apply(&self, order: &Order, trade: &ProviderTrade) -> Result<Order> {
        match trade.status {
            TradeStatus::Paid => {
                let expected = money(order.amount_minor, &order.currency)?;
                if trade.amount != expected {
                    self.audit(
                        order.buyer,
                        "payment.mismatch",
                        json!({ "order": order.id, "expected": expected.to_string(),
                                "reported": trade.amount.to_string() }),
                    )
                    .await?;
                    return Err(Error::refused(
                        "amount-mismatch",
                        "Amount does not match",
                        format!(
                            "the provider reports {} for order {}, which costs {expected}",
                            trade.amount, order.id
                        ),
                    ));
                }
                let Some(reference) = trade.provider_ref.as_deref().filter(|r| !r.is_empty())
                else {
                    return Err(Error::invalid(
                        "a paid trade without the provider's reference",
                    ));
                };
                let (_, recorded) = self
                    .parts
                    .store
                    .record(NewTransaction {
                        order_id: order.id,
                        kind: TransactionKind::Payment,
                        provider_ref: reference.to_owned(),
                        amount_minor: order.amount_minor,
                        entries: vec![
                            EntryLeg {
                                account: format!("provider:{}", order.wallet),
                                amount_minor: -order.amount_minor,
                                currency: order.currency.clone(),
                            },
                            EntryLeg {
                                account: format!("merchant:{}", order.merchant),
                                amount_minor: order.amount_minor,
                                currency: order.currency.clone(),
                            },
                        ],
                        now: crate::now_ms(),
                    })
                    .await?;
                if recorded {
                    self.audit(
                        order.buyer,
                        "payment.paid",
                        json!({ "order": order.id, "wallet": order.wallet, "provider_ref": reference }),
                    )
                    .await?;
                }
                let state = state_of(order)?;
                if matches!(state, OrderState::Created) {
                    // Paid before we heard the provider accepted: request, then paid.
                    let order = self
                        .advance(order, OrderEvent::RequestPayment, None)
                        .await?;
                    return self
                        .advance(&order, OrderEvent::Paid, Some(reference))
                        .await;
                }
                if matches!(state, OrderState::Pending | OrderState::Expired) {
                    return self.advance(order, OrderEvent::Paid, Some(reference)).await;
                }
                // Already paid (or refunded since): a duplicate report changes nothing.
                self.advance(order, OrderEvent::Paid, None).await
            }
            TradeStatus::Failed if state_of(order)? == OrderState::Pending => {
                self.advance(order, OrderEvent::PaymentFailed, None).await
            }
            TradeStatus::Closed
                if matches!(state_of(order)?, OrderState::Pending | OrderState::Created) =>
            {
                self.advance(order, OrderEvent::Cancel, None).await
            }
            _ => Ok(order.clone()),
        }
    }

    /// A provider's notification, as received. Returns the answer the provider expects.
    pub async fn notify(
        &self,
        wallet: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(u16, &'static str)> {
        let adapter = self.adapter(wallet)?;
        let now = crate::now_ms() / 1_000;
        let notification = adapter
            .verify_notification(headers, body, now)
            .map_err(|e| {
                tracing::warn!(wallet, error = %e, "notification refused");
                Error::refused(
                    "notification-refused",
                    "Notification refused",
                    e.to_string(),
                )
            })?;
        let order_id = order_id_of(&notification.trade.out_trade_no)
            .ok_or_else(|| Error::not_found("order"))?;
        let order = self
            .parts
            .store
            .order(order_id)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        if order.wallet != wallet {
            return Err(Error::refused(
                "notification-refused",
                "Notification refused",
                "the order was not placed with this wallet",
            ));
        }
        self.apply(&order, &notification.trade).await?;
        // After applying, so that a crash in between loses nothing; a replay applies nothing new.
        self.parts
            .store
            .remember_nonce(wallet, &notification.nonce, crate::now_ms())
            .await
            .map_err(|e| match e {
                kaifang_store::Error::Replay => Error::refused(
                    "notification-replayed",
                    "Notification replayed",
                    "this notification was handled before",
                ),
                other => Error::from(other),
            })?;
        Ok(adapter.ack())
    }

    /// Asks the provider what became of an order's trade (when no notification came), and applies
    /// the answer.
    pub async fn query(&self, caller: &Caller, id: i64) -> Result<Order> {
        let order = self.order(caller, id).await?;
        let adapter = self.adapter(&order.wallet)?;
        let trade = adapter
            .query(&out_trade_no(order.id))
            .await
            .map_err(adapter_error)?;
        if trade.status == TradeStatus::Unknown {
            return Ok(order);
        }
        self.apply(&order, &trade).await
    }

    /// Refunds `amount_minor` of a paid order (administrators). `key` makes a retry the same
    /// refund at the provider.
    pub async fn refund(
        &self,
        caller: &Caller,
        id: i64,
        amount_minor: i64,
        key: &str,
    ) -> Result<Order> {
        let by = caller.admin(&*self.parts.users).await?;
        if key.is_empty()
            || key.len() > 64
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::invalid(
                "an Idempotency-Key header of 1 to 64 letters, digits, - or _ is required",
            ));
        }
        let order = self
            .parts
            .store
            .order(id)
            .await?
            .ok_or_else(|| Error::not_found("order"))?;
        let paid = money(order.amount_minor, &order.currency)?;
        let amount = Money::from_minor(amount_minor, paid.currency())
            .map_err(|e| Error::invalid(format!("amount_minor: {e}")))?;
        let totals = self.parts.store.order_totals(order.id).await?;
        let refunded = money(totals.refunded_minor, &order.currency)?;
        let paid_so_far = money(totals.paid_minor, &order.currency)?;
        let to = transition(
            state_of(&order)?,
            OrderEvent::Refund {
                paid: paid_so_far,
                refunded_so_far: refunded,
                amount,
            },
        )
        .map_err(|e| Error::refused("refund-refused", "Refund refused", e.to_string()))?;
        let adapter = self.adapter(&order.wallet)?;
        let trade = out_trade_no(order.id);
        let result = adapter
            .refund(&RefundRequest {
                out_trade_no: trade.clone(),
                out_refund_no: format!("{trade}-{key}").chars().take(64).collect(),
                amount,
                total: paid,
            })
            .await
            .map_err(adapter_error)?;
        let (_, recorded) = self
            .parts
            .store
            .record(NewTransaction {
                order_id: order.id,
                kind: TransactionKind::Refund,
                provider_ref: result.provider_ref.clone(),
                amount_minor,
                entries: vec![
                    EntryLeg {
                        account: format!("merchant:{}", order.merchant),
                        amount_minor: -amount_minor,
                        currency: order.currency.clone(),
                    },
                    EntryLeg {
                        account: format!("provider:{}", order.wallet),
                        amount_minor,
                        currency: order.currency.clone(),
                    },
                ],
                now: crate::now_ms(),
            })
            .await?;
        if !recorded {
            // The same refund again (a retried request): its first answer stands.
            return Ok(order);
        }
        self.audit(
            by,
            "payment.refund",
            json!({ "order": order.id, "amount_minor": amount_minor, "provider_ref": result.provider_ref }),
        )
        .await?;
        let order = self
            .parts
            .store
            .set_order_state(order.id, &order.state, to.as_str(), None, crate::now_ms())
            .await?;
        self.tell(&order);
        Ok(order)
    }

    /// Every ledger account's balance per currency (administrators): each wallet provider's,
    /// each merchant's, and the fees. Non-zero balances only.
    pub async fn ledger(&self, caller: &Caller) -> Result<Vec<(String, Balance)>> {
        caller.admin(&*self.parts.users).await?;
        let accounts = self
            .wallets
            .wallets
            .iter()
            .map(|w| format!("provider:{}", w.id))
            .chain(
                self.wallets
                    .merchants
                    .iter()
                    .map(|m| format!("merchant:{}", m.platform)),
            )
            .chain(std::iter::once("fees".to_owned()));
        let mut out = Vec::new();
        for account in accounts {
            for balance in self.parts.store.balances(&account).await? {
                if balance.balance_minor != 0 {
                    out.push((account.clone(), balance));
                }
            }
        }
        Ok(out)
    }

    /// Compares the ledger with each configured provider's statement of a UTC day `date`
    /// (`YYYY-MM-DD`), administrators only: every difference, per wallet.
    pub async fn reconcile(&self, caller: &Caller, date: &str) -> Result<Vec<Reconciliation>> {
        caller.admin(&*self.parts.users).await?;
        let day = time::Date::parse(
            date,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| Error::invalid(format!("date {date:?}: write YYYY-MM-DD")))?;
        let from = day.midnight().assume_utc().unix_timestamp() * 1_000;
        let to = from + 86_400_000;
        let mut out = Vec::new();
        for (wallet, adapter) in &self.adapters {
            let ledger: Vec<LedgerLine> = self
                .parts
                .store
                .ledger_transactions(wallet, from, to)
                .await?
                .into_iter()
                .map(|t| {
                    let kind = match t.kind {
                        TransactionKind::Payment => LedgerKind::Payment,
                        TransactionKind::Refund => LedgerKind::Refund,
                        TransactionKind::Fee => LedgerKind::Fee,
                    };
                    Ok(LedgerLine::new(
                        kind,
                        t.order_id,
                        &t.provider_ref,
                        money(t.amount_minor, &t.currency)?,
                    ))
                })
                .collect::<Result<_>>()?;
            let statement = match adapter.statement(date).await {
                Ok(lines) => lines,
                // WeChat Pay has no bill for a day without trades.
                Err(AdapterError::Refused { code }) if code == "NO_STATEMENT_EXIST" => Vec::new(),
                Err(e) => return Err(adapter_error(e)),
            };
            out.push(Reconciliation {
                wallet: wallet.clone(),
                ledger_lines: ledger.len(),
                statement_lines: statement.len(),
                differences: reconcile(&ledger, &statement),
            });
        }
        Ok(out)
    }

    /// Deletes idempotency keys past their window and nonces past the notification window, every
    /// `payments.prune_every_secs`.
    pub async fn run_pruning(self: Arc<Self>) {
        let every = Duration::from_secs(self.settings.prune_every_secs);
        loop {
            tokio::time::sleep(every).await;
            let now = crate::now_ms();
            let keys = now - self.settings.idempotency_window_secs.saturating_mul(1_000);
            let nonces = now - self.settings.notification_window_secs.saturating_mul(2_000);
            let store = &self.parts.store;
            match (
                store.prune_idempotency_keys(keys).await,
                store.prune_nonces(nonces).await,
            ) {
                (Ok(k), Ok(n)) => tracing::debug!(keys = k, nonces = n, "payments pruned"),
                (Err(e), _) | (_, Err(e)) => tracing::warn!(error = %e, "payments pruning failed"),
            }
        }
    }
}

/// An order as the API and the `payment` events show it (`OrderView` in the API).
pub fn order_json(o: &Order) -> Value {
    let display =
        money(o.amount_minor, &o.currency).map_or_else(|_| String::new(), |m| m.to_string());
    json!({
        "id": o.id,
        "merchant": o.merchant,
        "wallet": o.wallet,
        "amount": { "amount_minor": o.amount_minor, "currency": o.currency, "display": display },
        "state": o.state,
        "conversation_id": o.conversation_id,
        "created_at": o.created_at,
        "updated_at": o.updated_at,
    })
}
