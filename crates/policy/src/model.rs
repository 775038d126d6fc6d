//! The facts a decision is made from, and the decision itself.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// What the link engine knows about one link, in the words the policy uses.
///
/// Owner, platform and category are `"unknown"` for links the registry does
/// not know (the [`Default`] value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LinkFacts {
    /// A URL, or a platform's share code (`￥AbCd1234XyZ￥`).
    #[serde(default)]
    pub kind: LinkKind,
    /// Platform id from the registry (`"taobao"`), or `"unknown"`.
    pub platform: String,
    /// Owner of the platform (`"alibaba"`), or `"unknown"`.
    pub owner: String,
    /// Platform category (`"commerce"`), or `"unknown"`.
    pub category: String,
    /// Registrable domain of the host (`"taobao.com"`).
    pub domain: String,
    /// Names of the threat lists the domain is on.
    pub lists: Vec<String>,
    /// The URL contains bidi control characters; such a link is never more
    /// than [`Treatment::Inert`], whatever the policy says.
    pub bidi: bool,
    /// The host mixes scripts (possible homograph).
    pub mixed_script: bool,
    /// The domain is not registered but is one edit away from a registered
    /// platform's domain (`taobaoo.com`): a possible typosquat.
    #[serde(default)]
    pub lookalike: bool,
    /// The operator owns a registered platform in this category and so does at
    /// least one other owner. See [`ContestedCategories`](crate::ContestedCategories).
    pub category_contested: bool,
    /// The penalty in force on the registrable domain (moderators' upheld
    /// complaints, read from a [`PenaltyBook`](crate::PenaltyBook)).
    #[serde(default)]
    pub penalty: Penalty,
}

impl Default for LinkFacts {
    fn default() -> Self {
        Self {
            kind: LinkKind::Url,
            platform: UNKNOWN.to_owned(),
            owner: UNKNOWN.to_owned(),
            category: UNKNOWN.to_owned(),
            domain: String::new(),
            lists: Vec::new(),
            bidi: false,
            mixed_script: false,
            lookalike: false,
            category_contested: false,
            penalty: Penalty::None,
        }
    }
}

/// [`LinkFacts`] borrowed: what the link engine hands the decision cache, so a cached decision
/// costs no copy of the facts' strings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FactsRef<'a> {
    pub(crate) kind: LinkKind,
    pub(crate) platform: &'a str,
    pub(crate) owner: &'a str,
    pub(crate) category: &'a str,
    pub(crate) domain: &'a str,
    pub(crate) lists: &'a [String],
    pub(crate) bidi: bool,
    pub(crate) mixed_script: bool,
    pub(crate) lookalike: bool,
    pub(crate) category_contested: bool,
    pub(crate) penalty: Penalty,
}

impl<'a> From<&'a LinkFacts> for FactsRef<'a> {
    fn from(f: &'a LinkFacts) -> Self {
        FactsRef {
            kind: f.kind,
            platform: &f.platform,
            owner: &f.owner,
            category: &f.category,
            domain: &f.domain,
            lists: &f.lists,
            bidi: f.bidi,
            mixed_script: f.mixed_script,
            lookalike: f.lookalike,
            category_contested: f.category_contested,
            penalty: f.penalty,
        }
    }
}

impl FactsRef<'_> {
    /// The owned facts, for Cedar (asked only on a cache miss).
    pub(crate) fn to_facts(self) -> LinkFacts {
        LinkFacts {
            kind: self.kind,
            platform: self.platform.to_owned(),
            owner: self.owner.to_owned(),
            category: self.category.to_owned(),
            domain: self.domain.to_owned(),
            lists: self.lists.to_vec(),
            bidi: self.bidi,
            mixed_script: self.mixed_script,
            lookalike: self.lookalike,
            category_contested: self.category_contested,
            penalty: self.penalty,
        }
    }
}

/// What kind of link: a URL, a share code that a platform's app opens
/// (a Taobao passphrase, a Douyin share text, …), or a payment link (a wallet
/// deep link, a payment URL, an EMVCo payment payload). Policies see it as
/// `resource.kind`, `"url"`, `"share_code"` or `"payment"`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// An http(s) URL.
    #[default]
    Url,
    /// A platform's share code: "live" is a chip that copies it and names
    /// the platform, "inert" is plain text; codes never get previews.
    ShareCode,
    /// A wallet's payment link or code (`alipays://…`, `https://qr.alipay.com/…`,
    /// `wxp://…`, an EMVCo payload): "live" opens it (a deep link opens the
    /// wallet's app), "inert" is plain text; payment pages never get previews.
    Payment,
}

impl LinkKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Url, Self::ShareCode, Self::Payment];

    /// The name policies compare against: `"url"`, `"share_code"` or `"payment"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::ShareCode => "share_code",
            Self::Payment => "payment",
        }
    }
}

/// A penalty in force on a link's registrable domain, from upheld complaints
/// and the penalty ladder. Policies see it as `resource.penalty`; what it
/// means (inert, warn, blocked) is the policy's to say, never the engine's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Penalty {
    /// No penalty.
    #[default]
    None,
    /// Restricted until the page is fixed and an appeal is granted.
    Restricted,
    /// Suspended for a while (12 hours, a day, a week on the default ladder).
    Suspended,
}

impl Penalty {
    /// Every state, lightest first.
    pub const ALL: [Self; 3] = [Self::None, Self::Restricted, Self::Suspended];

    /// The name policies compare against: `"none"`, `"restricted"` or `"suspended"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Restricted => "restricted",
            Self::Suspended => "suspended",
        }
    }

    /// Whether there is no penalty (serde's `skip_serializing_if`).
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }

    /// The state named by [`Penalty::as_str`].
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The registry's word for "no platform matched".
pub const UNKNOWN: &str = "unknown";

/// Kind of conversation a message is sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationKind {
    /// One-to-one conversation.
    Direct,
    /// Group conversation.
    Group,
}

impl ConversationKind {
    /// The name policies compare against: `"direct"` or `"group"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Direct => "direct",
            Self::Group => "group",
        }
    }
}

/// The sender's role in the conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Created the conversation.
    Owner,
    /// Administers the conversation.
    Admin,
    /// Any other member.
    Member,
}

impl Role {
    /// The name policies compare against: `"owner"`, `"admin"` or `"member"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Admin => "admin",
            Self::Member => "member",
        }
    }
}

/// Where a link is sent and by whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Context {
    /// Direct or group conversation.
    pub conversation_kind: ConversationKind,
    /// Members of the conversation, the sender included.
    pub member_count: u32,
    /// The sender's role in the conversation.
    pub sender_role: Role,
}

/// How a link is delivered, worst first: the order is the one the
/// non-discrimination check compares with. [`Treatment::as_str`] is the one
/// spelling: `Display`, serde and the link-share log all use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Treatment {
    /// `deliver` denied: the message is refused.
    Blocked,
    /// `linkify` denied: delivered as plain text, no link, no preview.
    Inert,
    /// `open_directly` denied: a link that opens through an interstitial page.
    Warn,
    /// Everything permitted.
    Live,
}

impl Treatment {
    /// Every treatment, worst first.
    pub const ALL: [Self; 4] = [Self::Blocked, Self::Inert, Self::Warn, Self::Live];

    /// Lowercase name: how the API, the CLI and the link-share log spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Blocked => "blocked",
            Self::Inert => "inert",
            Self::Warn => "warn",
            Self::Live => "live",
        }
    }

    /// The treatment [`Treatment::as_str`] spells `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl Serialize for Treatment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Treatment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        Self::parse(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown treatment {name:?}")))
    }
}

impl fmt::Display for Treatment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome for one link. Cheap to clone (the policy ids are shared), so a
/// cache hit costs no allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// How the link is delivered.
    pub treatment: Treatment,
    /// Whether a preview may be shown; only ever true for live and warn links.
    pub preview: bool,
    /// Ids of the policies that decided the treatment (the `@id` annotation
    /// when present, else Cedar's own id), sorted.
    pub policies: Arc<[String]>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// The API, the CLI and the link-share log must spell a treatment alike:
    /// serde and `Display` go through `as_str`, and `parse` undoes it.
    #[test]
    fn a_treatment_has_one_spelling() {
        let names: Vec<&str> = Treatment::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(names, ["blocked", "inert", "warn", "live"]);
        for t in Treatment::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
            assert_eq!(t.to_string(), t.as_str());
            assert_eq!(Treatment::parse(t.as_str()), Some(t));
            let back: Treatment = serde_json::from_str(&format!("\"{t}\"")).unwrap();
            assert_eq!(back, t);
        }
        assert!(serde_json::from_str::<Treatment>("\"Live\"").is_err());
        // Worst first, as the fairness check compares.
        assert!(Treatment::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
