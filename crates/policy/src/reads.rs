//! Which facts the policy set reads, found in the policies' JSON syntax tree.
//! The decision cache keys on exactly these, so a policy that never looks at
//! `domain` lets every link of one platform share one cache entry.

use cedar_policy::PolicySet;
use serde_json::Value;

/// A set of facts, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Reads(u16);

impl Reads {
    pub(crate) const PLATFORM: Self = Self(1);
    pub(crate) const OWNER: Self = Self(1 << 1);
    pub(crate) const CATEGORY: Self = Self(1 << 2);
    pub(crate) const DOMAIN: Self = Self(1 << 3);
    pub(crate) const LISTS: Self = Self(1 << 4);
    pub(crate) const BIDI: Self = Self(1 << 5);
    pub(crate) const MIXED_SCRIPT: Self = Self(1 << 6);
    pub(crate) const OPERATOR_OWNED: Self = Self(1 << 7);
    pub(crate) const CATEGORY_CONTESTED: Self = Self(1 << 8);
    pub(crate) const KIND: Self = Self(1 << 9);
    pub(crate) const MEMBER_COUNT: Self = Self(1 << 10);
    pub(crate) const ROLE: Self = Self(1 << 11);
    pub(crate) const LOOKALIKE: Self = Self(1 << 12);
    pub(crate) const PENALTY: Self = Self(1 << 13);
    pub(crate) const CONVERSATION: Self = Self(Self::KIND.0 | Self::MEMBER_COUNT.0);
    pub(crate) const ALL: Self = Self((1 << 14) - 1);

    /// Attribute names as the schema spells them, with the facts they stand for.
    const NAMES: [(&'static str, Self); 15] = [
        ("platform", Self::PLATFORM),
        ("owner", Self::OWNER),
        ("category", Self::CATEGORY),
        ("domain", Self::DOMAIN),
        ("lists", Self::LISTS),
        ("bidi", Self::BIDI),
        ("mixed_script", Self::MIXED_SCRIPT),
        ("lookalike", Self::LOOKALIKE),
        ("operator_owned", Self::OPERATOR_OWNED),
        ("category_contested", Self::CATEGORY_CONTESTED),
        ("penalty", Self::PENALTY),
        ("kind", Self::KIND),
        ("member_count", Self::MEMBER_COUNT),
        ("role", Self::ROLE),
        ("conversation", Self::CONVERSATION),
    ];

    pub(crate) fn has(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub(crate) fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Schema names of the facts in the set, in schema order.
    pub(crate) fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(name, bit)| *name != "conversation" && self.has(*bit))
            .map(|(name, _)| *name)
            .collect()
    }

    fn of_attr(name: &str) -> Self {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(Self::default(), |(_, bit)| *bit)
    }
}

/// Facts read by any policy in the set. Errs on the side of reading more:
/// a policy whose tree cannot be read counts as reading everything.
pub(crate) fn reads_of(policies: &PolicySet) -> Reads {
    let mut reads = Reads::default();
    for policy in policies.policies() {
        match policy.to_json() {
            Ok(json) => walk(
                json.get("conditions").unwrap_or(&json),
                false,
                &mut reads,
                0,
            ),
            Err(_) => return Reads::ALL,
        }
    }
    reads
}

/// Deepest tree walked; deeper policies are treated as reading everything.
/// Cedar's parser has its own nesting limit well below this.
const MAX_DEPTH: usize = 512;

/// `accessed` is true when `value` is the left side of an attribute access
/// (`value.attr` or `value has attr`), i.e. only that attribute is read.
fn walk(value: &Value, accessed: bool, reads: &mut Reads, depth: usize) {
    if depth > MAX_DEPTH {
        *reads = Reads::ALL;
        return;
    }
    match value {
        Value::Object(map) => {
            for op in [".", "has"] {
                if let Some(access) = map.get(op) {
                    for attr in attrs(access.get("attr")) {
                        let bit = Reads::of_attr(attr);
                        // `context.conversation` read whole (not `.kind`) reads both fields.
                        if bit != Reads::CONVERSATION || !accessed || op == "has" {
                            *reads = reads.with(bit);
                        }
                    }
                    if let Some(left) = access.get("left") {
                        walk(left, true, reads, depth + 1);
                    }
                    return;
                }
            }
            // The whole context used as a value (`context == {…}`) reads all of it.
            if !accessed && map.get("Var").and_then(Value::as_str) == Some("context") {
                *reads = reads.with(Reads::CONVERSATION);
            }
            for inner in map.values() {
                walk(inner, false, reads, depth + 1);
            }
        }
        Value::Array(items) => {
            for inner in items {
                walk(inner, false, reads, depth + 1);
            }
        }
        _ => {}
    }
}

/// The attribute name(s) of an access: a string, or a path of strings.
fn attrs(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Reads, reads_of};
    use cedar_policy::PolicySet;

    fn reads(text: &str) -> Reads {
        reads_of(&text.parse::<PolicySet>().unwrap())
    }

    #[test]
    fn finds_attributes_read_through_nested_access() {
        let r = reads(
            r#"forbid (principal, action, resource)
               when { context.conversation.kind == "group" && !resource.lists.isEmpty() };"#,
        );
        assert_eq!(r, Reads::KIND.with(Reads::LISTS));
    }

    #[test]
    fn whole_conversation_record_reads_both_fields() {
        let r = reads(
            r#"forbid (principal, action, resource)
               when { context.conversation == {"kind": "group", "member_count": 3} };"#,
        );
        assert!(r.has(Reads::KIND) && r.has(Reads::MEMBER_COUNT));
        assert!(!r.has(Reads::ROLE));
    }

    #[test]
    fn has_and_principal_attributes_count() {
        let r = reads(
            r#"permit (principal, action, resource)
               when { principal has role && principal.role == "admin" && resource has domain };"#,
        );
        assert_eq!(r, Reads::ROLE.with(Reads::DOMAIN));
    }

    #[test]
    fn scope_only_policies_read_nothing() {
        let r = reads(r#"permit (principal, action == Kaifang::Action::"deliver", resource);"#);
        assert_eq!(r, Reads::default());
        assert!(r.names().is_empty());
    }
}
