//! Which server each client of a run talks to, when the run is given
//! several nodes of one cluster.
use serde::Serialize;

use crate::Error;

/// The servers of a run and how clients are placed on them. Printed with
/// the figures, so that a report says which node each side used.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    /// Every server, in the order given. A, B and E place their clients
    /// round-robin over these.
    pub all: Vec<String>,
    /// Where C's sender and D's sender are: the first server.
    pub senders: String,
    /// Where C's receiver and D's members are, round-robin: the servers
    /// after the first, or the first if it is the only one. So with two
    /// nodes C and D time delivery from one node to the other.
    pub receivers: Vec<String>,
}

impl Placement {
    /// The placement over `servers` (at least one, each an `http` or
    /// `https` URL), checked before any traffic.
    pub fn new(servers: &[String]) -> Result<Self, Error> {
        let (first, rest) = servers.split_first().ok_or(Error::NoServer)?;
        for s in servers {
            match url::Url::parse(s) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.has_host() => {}
                _ => return Err(Error::BadUrl(s.clone())),
            }
        }
        Ok(Self {
            all: servers.to_vec(),
            senders: first.clone(),
            receivers: if rest.is_empty() {
                vec![first.clone()]
            } else {
                rest.to_vec()
            },
        })
    }

    /// The server of the `i`th client of a scenario that mixes roles.
    pub fn any(&self, i: usize) -> &str {
        &self.all[i % self.all.len()]
    }

    /// The server of the `i`th receiving client of C or D.
    pub fn receiver(&self, i: usize) -> &str {
        &self.receivers[i % self.receivers.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("http://127.0.0.1:{i}")).collect()
    }

    #[test]
    fn one_server_serves_every_side() {
        let p = Placement::new(&urls(1)).unwrap();
        assert_eq!(p.senders, "http://127.0.0.1:1");
        assert_eq!(p.receiver(0), "http://127.0.0.1:1");
        assert_eq!(p.receiver(5), "http://127.0.0.1:1");
        assert_eq!(p.any(3), "http://127.0.0.1:1");
    }

    #[test]
    fn with_several_servers_senders_use_the_first_and_receivers_never_do() {
        let p = Placement::new(&urls(3)).unwrap();
        assert_eq!(p.senders, "http://127.0.0.1:1");
        let receivers: Vec<&str> = (0..4).map(|i| p.receiver(i)).collect();
        assert_eq!(
            receivers,
            [
                "http://127.0.0.1:2",
                "http://127.0.0.1:3",
                "http://127.0.0.1:2",
                "http://127.0.0.1:3"
            ]
        );
        let mixed: Vec<&str> = (0..4).map(|i| p.any(i)).collect();
        assert_eq!(
            mixed,
            [
                "http://127.0.0.1:1",
                "http://127.0.0.1:2",
                "http://127.0.0.1:3",
                "http://127.0.0.1:1"
            ]
        );
    }

    #[test]
    fn no_server_or_a_malformed_one_is_an_error() {
        assert!(matches!(Placement::new(&[]), Err(Error::NoServer)));
        for bad in ["not a url", "ftp://127.0.0.1:1", "http://"] {
            let servers = vec!["http://127.0.0.1:1".to_owned(), bad.to_owned()];
            assert!(
                matches!(Placement::new(&servers), Err(Error::BadUrl(s)) if s == bad),
                "{bad}"
            );
        }
    }
}
