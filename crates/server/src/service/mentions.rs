//! Mentions: `@handle` and `@all` in a message's text. Finding them is a
//! pure function of the text; deciding which count needs the members, and
//! is done by [`resolve`], also pure. A mention that does not name a
//! member (an unknown handle, a non-member, `@all` where the sender may not
//! use it) stays plain text: sending never fails over a word.
use kaifang_store::{Member, Role, UserId};
use serde::{Deserialize, Serialize};

/// What a text mentions, before anyone checks who exists.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Found {
    /// `@all` appears.
    pub all: bool,
    /// Handles after `@`, in order of first appearance, once each.
    pub handles: Vec<String>,
}

/// Characters a handle is made of (the account rules: `[a-z0-9_]{3,32}`).
fn handle_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
}

/// A character right before `@` that makes it part of something else: an
/// e-mail address (`x@host`), a URL path (`/@user`) or a word. Any other
/// character, Chinese text included, may precede a mention.
fn glued(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_./@-+:=?&#%~".contains(c)
}

/// Finds the mentions in `text`. A mention is `@` at the start or after a
/// character that does not glue it to something else, followed by a whole
/// handle: 3 to 32 handle characters not followed by another letter or
/// digit (`@Bob` and `@bob2x…` longer than a handle are not mentions).
/// `@all` is everyone, even if an account took the handle `all`.
pub fn find(text: &str) -> Found {
    let mut found = Found::default();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == '@' && !prev.is_some_and(glued) {
            let tail = &text[i + 1..];
            let len = tail.find(|c: char| !handle_char(c)).unwrap_or(tail.len());
            let after = tail[len..].chars().next();
            let whole = !after.is_some_and(|c| c.is_ascii_alphanumeric());
            if (3..=32).contains(&len) && whole {
                let handle = &tail[..len];
                if handle == "all" {
                    found.all = true;
                } else if !found.handles.iter().any(|h| h == handle) {
                    found.handles.push(handle.to_owned());
                }
            }
        }
        prev = Some(c);
    }
    found
}

/// One mentioned member, as stored with the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mentioned {
    /// The member's id.
    pub id: UserId,
    /// Their handle.
    pub handle: String,
}

/// The mentions stored with a message (`messages.mentions`, JSON).
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mentions {
    /// `@all` counted: every member is mentioned.
    pub all: bool,
    /// The members mentioned by handle.
    pub users: Vec<Mentioned>,
}

impl Found {
    /// Nothing that looks like a mention.
    pub fn is_empty(&self) -> bool {
        !self.all && self.handles.is_empty()
    }
}

impl Mentions {
    /// Nothing mentioned.
    pub fn is_empty(&self) -> bool {
        !self.all && self.users.is_empty()
    }
}

/// Who may use `@all`: everyone in a direct chat or in a group of at most
/// `all_max_members`; in a larger group only its owner and admins.
pub fn may_mention_all(direct: bool, members: usize, role: Role, all_max_members: usize) -> bool {
    direct || members <= all_max_members || role >= Role::Admin
}

/// Keeps the mentions of current members; `all` only when allowed.
pub fn resolve(found: &Found, members: &[Member], all_allowed: bool) -> Mentions {
    let users = found
        .handles
        .iter()
        .filter_map(|h| members.iter().find(|m| &m.handle == h))
        .map(|m| Mentioned {
            id: m.user_id,
            handle: m.handle.clone(),
        })
        .collect();
    Mentions {
        all: found.all && all_allowed,
        users,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handles(text: &str) -> Vec<String> {
        find(text).handles
    }

    #[test]
    fn finds_handles_in_text_of_any_script() {
        assert_eq!(handles("hi @bob and @carol_2"), ["bob", "carol_2"]);
        assert_eq!(handles("@bob, see this"), ["bob"]);
        assert_eq!(handles("你好@bob你看"), ["bob"]);
        assert_eq!(handles("(@bob)"), ["bob"]);
        assert_eq!(handles("@bob @bob @bob"), ["bob"], "once each");
    }

    #[test]
    fn leaves_what_is_not_a_mention() {
        for text in [
            "mail alice@bob.com",
            "https://medium.com/@bob",
            "@Bob is not a handle",
            "@bo is too short",
            "@abcdefghijklmnopqrstuvwxyz0123456 is 33 long",
            "@bobX glued to capitals",
            "@ bob",
            "@@bob",
            "",
        ] {
            assert_eq!(find(text), Found::default(), "{text}");
        }
    }

    #[test]
    fn all_is_everyone_not_a_handle() {
        let f = find("@all meeting at 3, @bob too");
        assert!(f.all);
        assert_eq!(f.handles, ["bob"]);
        assert!(!find("@allison").all);
        assert_eq!(handles("@allison"), ["allison"]);
    }

    fn member(id: UserId, handle: &str) -> Member {
        Member {
            user_id: id,
            handle: handle.into(),
            display_name: handle.into(),
            role: Role::Member,
            avatar: None,
        }
    }

    #[test]
    fn only_members_count_and_the_rest_stay_text() {
        let members = [member(1, "alice"), member(2, "bob")];
        let found = find("@bob @ghost @carol @all");
        let m = resolve(&found, &members, false);
        assert_eq!(
            m.users,
            [Mentioned {
                id: 2,
                handle: "bob".into()
            }]
        );
        assert!(!m.all, "@all not allowed: plain text");
        assert!(resolve(&found, &members, true).all);
        assert!(resolve(&find("@ghost"), &members, true).is_empty());
    }

    #[test]
    fn all_in_large_groups_is_for_owners_and_admins() {
        assert!(may_mention_all(true, 2, Role::Member, 0));
        assert!(may_mention_all(false, 20, Role::Member, 20));
        assert!(!may_mention_all(false, 21, Role::Member, 20));
        assert!(may_mention_all(false, 21, Role::Admin, 20));
        assert!(may_mention_all(false, 5000, Role::Owner, 20));
    }
}
