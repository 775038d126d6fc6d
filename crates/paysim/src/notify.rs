//! What both simulators' notifications share: loopback-only targets, the HTTP client they are
//! POSTed with, and the order the out-of-order fault releases them in. Building, signing and
//! retrying stay with each provider, whose formats and retry rules differ.
use std::time::Duration;

use crate::Faults;

/// Whether `url` is http(s) to a literal loopback address (127.0.0.0/8 or ::1). A name, even
/// `localhost`, is refused: it could resolve anywhere.
pub(crate) fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    matches!(url.scheme(), "http" | "https")
        && match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            _ => false,
        }
}

/// The client notifications are POSTed with: `timeout` per POST, and no redirect followed, since
/// a redirect could lead off loopback.
pub(crate) fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// The notifications to send now that `next` is due, given those `held`. Under the out-of-order
/// fault the first is held until the next one is due; then the newest goes first and the held
/// ones after it, newest first. Without the fault, anything still held (the fault was just
/// switched off) goes first, oldest first, then `next`.
pub(crate) fn release<T>(held: &mut Vec<T>, next: T, faults: Faults) -> Vec<T> {
    if faults.out_of_order && held.is_empty() {
        held.push(next);
        return Vec::new();
    }
    let mut earlier = std::mem::take(held);
    if faults.out_of_order {
        earlier.reverse();
        std::iter::once(next).chain(earlier).collect()
    } else {
        earlier.push(next);
        earlier
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_literal_loopback_addresses_are_notified() {
        for ok in [
            "http://127.0.0.1:8080/notify",
            "https://127.8.9.10/n",
            "http://[::1]:1/n",
        ] {
            assert!(is_loopback_url(ok), "{ok}");
        }
        for refused in [
            "http://localhost/n",
            "http://10.0.0.1/n",
            "http://192.0.2.1/notify",
            "http://[::ffff:10.0.0.1]/n",
            "http://127.0.0.1.example.com/n",
            "http://localhost.example.com/notify",
            "ftp://127.0.0.1/n",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(!is_loopback_url(refused), "{refused}");
        }
    }

    #[test]
    fn out_of_order_holds_one_then_sends_newest_first() {
        let shuffled = Faults {
            out_of_order: true,
            ..Faults::default()
        };
        let mut held = Vec::new();
        assert_eq!(release(&mut held, 1, shuffled), Vec::<i32>::new());
        assert_eq!(held, vec![1]);
        assert_eq!(release(&mut held, 2, shuffled), vec![2, 1]);
        assert!(held.is_empty());
        // Without the fault, each goes at once.
        assert_eq!(release(&mut held, 3, Faults::default()), vec![3]);
        // Switched off while one is held: the held one first, then the new one.
        release(&mut held, 4, shuffled);
        assert_eq!(release(&mut held, 5, Faults::default()), vec![4, 5]);
        assert!(held.is_empty());
    }
}
