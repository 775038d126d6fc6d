//! The penalties in force, by registrable domain, as the link engine reads
//! them for every link.
//!
//! The book holds only what is in force now: the server works out from the
//! penalty ladder and the clock which penalties apply and replaces the whole
//! book when that changes (a strike upheld, an appeal granted, a penalty
//! expiring). Keeping time out of here keeps this crate free of clocks and
//! I/O, and lets every node compute the same book from the same rows.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use crate::model::Penalty;

type Book = HashMap<Box<str>, Penalty, foldhash::fast::RandomState>;

/// Penalties in force by registrable domain (`"taobao.com"`), shared by every
/// link engine the server builds, so a policy change keeps them.
#[derive(Debug, Default)]
pub struct PenaltyBook {
    /// Whether any penalty is in force: almost always false, and then a
    /// decision takes no lock.
    any: AtomicBool,
    domains: RwLock<Arc<Book>>,
}

impl PenaltyBook {
    /// An empty book: no penalty anywhere.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replace every entry; `Penalty::None` entries are dropped.
    pub fn replace(&self, penalties: impl IntoIterator<Item = (String, Penalty)>) {
        let book: Book = penalties
            .into_iter()
            .filter(|(_, p)| *p != Penalty::None)
            .map(|(d, p)| (d.to_ascii_lowercase().into_boxed_str(), p))
            .collect();
        let any = !book.is_empty();
        *self.domains.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(book);
        self.any.store(any, Ordering::Release);
    }

    /// The penalty on a registrable domain (`Penalty::None` when there is none).
    pub fn get(&self, domain: &str) -> Penalty {
        if domain.is_empty() || !self.any.load(Ordering::Acquire) {
            return Penalty::None;
        }
        let book = self.domains.read().unwrap_or_else(PoisonError::into_inner);
        book.get(domain).copied().unwrap_or(Penalty::None)
    }

    /// Every penalty in force, sorted by domain.
    pub fn entries(&self) -> Vec<(String, Penalty)> {
        let book = Arc::clone(&self.domains.read().unwrap_or_else(PoisonError::into_inner));
        let mut out: Vec<_> = book.iter().map(|(d, p)| (d.to_string(), *p)).collect();
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaced_as_a_whole_and_none_dropped() {
        let book = PenaltyBook::new();
        assert_eq!(book.get("taobao.com"), Penalty::None);
        book.replace([
            ("Taobao.com".to_owned(), Penalty::Restricted),
            ("jd.com".to_owned(), Penalty::None),
        ]);
        assert_eq!(book.get("taobao.com"), Penalty::Restricted);
        assert_eq!(
            book.entries(),
            [("taobao.com".to_owned(), Penalty::Restricted)]
        );
        book.replace([("jd.com".to_owned(), Penalty::Suspended)]);
        assert_eq!(
            book.get("taobao.com"),
            Penalty::None,
            "the old entry is gone"
        );
        assert_eq!(book.get("jd.com"), Penalty::Suspended);
        book.replace([]);
        assert_eq!(book.get("jd.com"), Penalty::None);
    }
}
