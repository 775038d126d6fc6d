//! Domain threat lists. One compact index holds every list: a hash table from a 64-bit hash of the
//! domain to (offset in a shared byte arena, bit mask of lists), so a million domains cost about
//! 40 bytes each. A hit is confirmed against the arena, so hash collisions never block a wrong domain.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::path::Path;

use crate::Error;
use crate::hash::{FastBuild, hash_bytes};
use crate::registry::ascii_domain;

/// What loading one list did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListStats {
    /// Domains read from the list (duplicates included).
    pub domains: usize,
    /// Lines or names skipped as not being domains (`localhost`, IP addresses, garbage).
    pub skipped: usize,
}

/// Named domain blocklists. A host is on a list when it or any parent domain is listed.
#[derive(Debug, Default, Clone)]
pub struct Blocklists {
    names: Vec<String>,
    index: HashMap<u64, (u32, u32), FastBuild>,
    /// Every distinct domain, each followed by `\n`.
    arena: Vec<u8>,
    /// Domains whose hash collided with another domain's (practically never used).
    collided: HashMap<Box<str>, u32>,
}

/// Host-file names that are not blocking entries.
const HOSTS_NOISE: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "0.0.0.0",
];

impl Blocklists {
    /// The most lists one [`Blocklists`] can hold (a bit each).
    pub const MAX_LISTS: usize = 32;

    /// No lists.
    pub fn new() -> Blocklists {
        Blocklists::default()
    }

    /// Load every `(name, path)` pair; the first missing or unreadable file is an error naming it.
    pub fn from_files<N: AsRef<str>, P: AsRef<Path>>(
        files: impl IntoIterator<Item = (N, P)>,
    ) -> Result<Blocklists, Error> {
        let mut lists = Blocklists::new();
        for (name, path) in files {
            lists.load(name.as_ref(), path)?;
        }
        Ok(lists)
    }

    /// Read the file at `path` into the list `name` (added to it if the name is already loaded).
    pub fn load(&mut self, name: &str, path: impl AsRef<Path>) -> Result<ListStats, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        self.add_list(name, &text)
    }

    /// Add the domains in `text` to the list `name`. Formats (may be mixed): one domain a line, or
    /// hosts-file lines (`0.0.0.0 example.com other.example`); `#` starts a comment; blank lines are
    /// ignored; `*.` and leading dots are dropped (parents match subdomains anyway).
    pub fn add_list(&mut self, name: &str, text: &str) -> Result<ListStats, Error> {
        let bit = self.list_bit(name)?;
        let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
        self.index.reserve(lines);
        self.arena.reserve(text.len());
        let mut stats = ListStats::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace().peekable();
            if words.peek().is_some_and(|w| is_ip(w)) {
                words.next();
            }
            for word in words {
                let word = word.trim_start_matches("*.").trim_start_matches('.');
                match normalise_entry(word) {
                    Some(d) => {
                        self.insert(d.as_ref(), bit)?;
                        stats.domains += 1;
                    }
                    None => stats.skipped += 1,
                }
            }
        }
        self.arena.shrink_to_fit();
        self.index.shrink_to_fit();
        Ok(stats)
    }

    fn list_bit(&mut self, name: &str) -> Result<u32, Error> {
        let pos = match self.names.iter().position(|n| n == name) {
            Some(p) => p,
            None if self.names.len() >= Self::MAX_LISTS => {
                return Err(Error::TooManyLists {
                    max: Self::MAX_LISTS,
                });
            }
            None => {
                self.names.push(name.to_owned());
                self.names.len() - 1
            }
        };
        Ok(1 << pos)
    }

    fn arena_has(&self, start: u32, domain: &str) -> bool {
        let s = start as usize;
        let e = s + domain.len();
        self.arena.get(s..e) == Some(domain.as_bytes()) && self.arena.get(e) == Some(&b'\n')
    }

    fn insert(&mut self, domain: &str, bit: u32) -> Result<(), Error> {
        let h = hash_bytes(domain.as_bytes());
        let next = u32::try_from(self.arena.len()).map_err(|_| Error::ListsTooLarge)?;
        match self.index.entry(h) {
            Entry::Vacant(v) => {
                v.insert((next, bit));
                self.arena.extend_from_slice(domain.as_bytes());
                self.arena.push(b'\n');
            }
            Entry::Occupied(mut o) => {
                let (start, mask) = *o.get();
                let s = start as usize;
                let same = self.arena.get(s..s + domain.len()) == Some(domain.as_bytes())
                    && self.arena.get(s + domain.len()) == Some(&b'\n');
                if same {
                    o.insert((start, mask | bit));
                } else {
                    *self.collided.entry(domain.into()).or_default() |= bit;
                }
            }
        }
        Ok(())
    }

    fn mask_of(&self, domain: &str) -> u32 {
        let mut mask = match self.index.get(&hash_bytes(domain.as_bytes())) {
            Some(&(start, m)) if self.arena_has(start, domain) => m,
            _ => 0,
        };
        if !self.collided.is_empty() {
            mask |= self.collided.get(domain).copied().unwrap_or(0);
        }
        mask
    }

    /// Bit mask of the lists `host` or one of its parent domains is on (bit i = [`Self::names`]`[i]`).
    pub fn mask_for(&self, host: &str) -> u32 {
        if self.names.is_empty() {
            return 0;
        }
        let owned;
        let mut host = host.trim_end_matches('.');
        if !host.is_ascii() || host.bytes().any(|b| b.is_ascii_uppercase()) {
            owned = ascii_domain(host).unwrap_or_default();
            host = &owned;
        }
        // An IP literal is matched as a whole, never by its trailing octets.
        if host.starts_with('[') || host.parse::<IpAddr>().is_ok() {
            return self.mask_of(host);
        }
        let mut mask = 0;
        let mut suffix = host;
        loop {
            mask |= self.mask_of(suffix);
            match suffix.find('.') {
                Some(dot) => suffix = &suffix[dot + 1..],
                None => return mask,
            }
        }
    }

    /// Names of the lists `host` or one of its parent domains is on, in load order.
    pub fn lists_for(&self, host: &str) -> Vec<&str> {
        let mask = self.mask_for(host);
        if mask == 0 {
            return Vec::new();
        }
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, n)| n.as_str())
            .collect()
    }

    /// The list names, in load order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of distinct domains over all lists.
    pub fn len(&self) -> usize {
        self.index.len() + self.collided.len()
    }

    /// No domains at all?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate heap use in bytes (index buckets, arena, collision table).
    pub fn heap_bytes(&self) -> usize {
        let bucket = std::mem::size_of::<(u64, (u32, u32))>() + 1;
        self.index.capacity() * bucket + self.arena.capacity() + self.collided.len() * 64
    }
}

/// Cheap pre-check before the full parse: hosts files repeat `0.0.0.0` on every line.
fn is_ip(word: &str) -> bool {
    matches!(word, "0.0.0.0" | "127.0.0.1" | "::" | "::1")
        || (word
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
            && word.parse::<IpAddr>().is_ok())
}

fn normalise_entry(word: &str) -> Option<Cow<'_, str>> {
    if word.is_empty() || HOSTS_NOISE.contains(&word) || is_ip(word) {
        return None;
    }
    let plain =
        |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_');
    let d = if word.bytes().all(plain) {
        Cow::Borrowed(word.trim_end_matches('.'))
    } else {
        Cow::Owned(ascii_domain(word)?)
    };
    // A listed name needs a dot: a bare TLD or single label would block far too much by accident.
    let ok = d.contains('.')
        && d.len() <= 253
        && d.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_')
        })
        && d.split('.').all(|l| !l.is_empty() && l.len() <= 63);
    ok.then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parent_matching() {
        let mut b = Blocklists::new();
        let s = b.add_list("malware", "# comment\n\nevil.example\n0.0.0.0 bad.example other.example # tail\n127.0.0.1 localhost\n*.wild.example\nNOT A DOMAIN!\n").unwrap();
        assert_eq!(s.domains, 4);
        assert_eq!(s.skipped, 4);
        b.add_list("phishing", "bad.example\n").unwrap();
        assert_eq!(b.lists_for("evil.example"), vec!["malware"]);
        assert_eq!(b.lists_for("a.b.EVIL.example."), vec!["malware"]);
        assert_eq!(b.lists_for("bad.example"), vec!["malware", "phishing"]);
        assert_eq!(b.lists_for("x.wild.example"), vec!["malware"]);
        assert!(b.lists_for("notevil.example").is_empty());
        assert!(b.lists_for("example").is_empty());
        assert_eq!(b.len(), 4);
    }

    #[test]
    fn missing_file_is_named() {
        let e = Blocklists::from_files([("x", "/nonexistent/kaifang-list.txt")]).unwrap_err();
        assert!(
            e.to_string().contains("/nonexistent/kaifang-list.txt"),
            "{e}"
        );
    }

    #[test]
    fn too_many_lists() {
        let mut b = Blocklists::new();
        for i in 0..Blocklists::MAX_LISTS {
            b.add_list(&format!("l{i}"), "a.example\n").unwrap();
        }
        assert!(matches!(
            b.add_list("one-more", "b.example"),
            Err(Error::TooManyLists { .. })
        ));
        assert_eq!(b.lists_for("a.example").len(), Blocklists::MAX_LISTS);
    }
}
