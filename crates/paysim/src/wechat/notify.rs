//! Notifications: built, signed and sealed; held, doubled or sent as the faults say; POSTed
//! to loopback only.

use kaifang_pay::wechat::encrypt_resource;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{NOTIFY_TIMEOUT, Outgoing, Sim, Store, rfc3339};
use crate::notify::{client, is_loopback_url, release};
use crate::{now_unix, random};

impl Sim {
    /// A signed, sealed notification of `event_type` for `resource` (plaintext JSON).
    pub(super) fn notification(
        &self,
        url: &str,
        event_type: &str,
        original_type: &str,
        summary: &str,
        resource: &Value,
    ) -> Outgoing {
        let nonce = random(12);
        let ciphertext = encrypt_resource(
            &self.config.api_v3_key,
            original_type,
            &nonce,
            resource.to_string().as_bytes(),
        )
        // Cannot fail: the nonce is 12 ASCII characters, as AES-GCM wants.
        .unwrap_or_default();
        let body = json!({
            "id": format!("EV-{}", random(24)),
            "create_time": rfc3339(now_unix()),
            "event_type": event_type,
            "resource_type": "encrypt-resource",
            "summary": summary,
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "nonce": nonce,
                "associated_data": original_type,
                "original_type": original_type,
            }
        })
        .to_string();
        Outgoing {
            url: url.to_owned(),
            headers: self.signature_headers(&body),
            body,
        }
    }

    /// Sends a notification, honouring the faults: out of order holds it until the next one and
    /// then sends newest first (see [`release`]); duplicate sends each one twice, byte for byte.
    pub(super) fn deliver(&self, store: &mut Store, out: Outgoing) {
        let faults = self.faults.get();
        for out in release(&mut store.held, out, faults) {
            if faults.duplicate {
                let _ = self.outbox.send(out.clone());
            }
            let _ = self.outbox.send(out);
        }
    }
}

/// POSTs notifications one after another, in the order queued, to loopback addresses only.
pub(super) async fn send_notifications(mut queue: mpsc::UnboundedReceiver<Outgoing>) {
    let client = match client(NOTIFY_TIMEOUT) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("wechat simulator: no HTTP client, notifications are off: {e}");
            return;
        }
    };
    while let Some(out) = queue.recv().await {
        if !is_loopback_url(&out.url) {
            tracing::warn!("wechat simulator: notify_url is not loopback, notification dropped");
            continue;
        }
        let mut request = client
            .post(&out.url)
            .header("Content-Type", "application/json")
            .body(out.body);
        for (name, value) in out.headers {
            request = request.header(name, value);
        }
        match request.send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => tracing::info!("wechat simulator: notification answered {}", r.status()),
            Err(e) => tracing::info!("wechat simulator: notification not delivered: {e}"),
        }
    }
}
