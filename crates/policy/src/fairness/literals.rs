//! The constants a policy set compares facts against, found in the policies'
//! JSON syntax tree (as [`crate::reads`] finds which facts are read). The
//! complete check turns them into candidate values: a decision can only
//! change where a fact crosses one of these constants.

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::PolicySet;
use serde_json::{Map, Value};

/// Comparisons whose other side, when it is a literal, names a candidate value.
const COMPARISONS: [&str; 5] = ["==", "!=", "contains", "containsAll", "containsAny"];
/// Arithmetic: a member count under one of these is not compared with a
/// plain constant, so its boundaries cannot be read off the text.
const ARITHMETIC: [&str; 4] = ["+", "-", "*", "neg"];
/// Stands for `context.operator` among the literals an attribute is compared
/// with: the check knows the operator, the policy text does not.
pub(crate) const OPERATOR: &str = "\u{0}context.operator";
/// Deepest tree walked; deeper policies count as using everything opaquely.
const MAX_DEPTH: usize = 512;

/// What [`of`] found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Literals {
    /// Every integer literal, anywhere.
    pub(crate) longs: BTreeSet<i64>,
    /// Every string literal, anywhere.
    pub(crate) strings: BTreeSet<String>,
    /// Per attribute name: the string literals it is compared with
    /// (`resource.domain == "x"`, `resource.lists.contains("y")`).
    pub(crate) compared: BTreeMap<String, BTreeSet<String>>,
    /// Attributes also used in some other way (compared with a non-literal,
    /// matched with `like`, passed whole into an expression): their literals
    /// alone do not tell which of their values the policy can tell apart.
    pub(crate) opaque: BTreeSet<String>,
    /// `member_count` appears under arithmetic.
    pub(crate) member_count_arithmetic: bool,
    /// Accesses per attribute, and those a literal comparison or `isEmpty`
    /// accounts for: any other use makes the attribute opaque.
    accesses: BTreeMap<String, usize>,
    accounted: BTreeMap<String, usize>,
}

impl Literals {
    /// String literals `attr` is compared with ([`OPERATOR`] for `context.operator`).
    pub(crate) fn compared(&self, attr: &str) -> impl Iterator<Item = &String> {
        self.compared.get(attr).into_iter().flatten()
    }

    /// The class of `value` of attribute `attr` as the policy can see it:
    /// itself when the policy names it (or uses `attr` opaquely), else one
    /// shared class for every value it never names.
    pub(crate) fn class_of<'v>(
        &self,
        attr: &str,
        value: &'v str,
        operator: &str,
    ) -> Option<&'v str> {
        if self.opaque.contains(attr) {
            return Some(value);
        }
        let named = self.compared.get(attr).is_some_and(|set| {
            set.contains(value) || (value == operator && set.contains(OPERATOR))
        });
        named.then_some(value)
    }
}

/// The literals of every policy in `policies`. A policy whose tree cannot be
/// read makes every attribute opaque and member counts arithmetic.
pub(crate) fn of(policies: &PolicySet) -> Literals {
    let mut found = Literals::default();
    for policy in policies.policies() {
        match policy.to_json() {
            Ok(json) => walk(json.get("conditions").unwrap_or(&json), &mut found, 0),
            Err(_) => everything_opaque(&mut found),
        }
    }
    for (attr, n) in &found.accesses {
        if found.accounted.get(attr).copied().unwrap_or(0) < *n {
            found.opaque.insert(attr.clone());
        }
    }
    found
}

fn everything_opaque(found: &mut Literals) {
    found.member_count_arithmetic = true;
    for attr in ["lists", "domain", "platform", "owner", "category"] {
        found.opaque.insert(attr.to_owned());
    }
}

fn walk(value: &Value, found: &mut Literals, depth: usize) {
    if depth > MAX_DEPTH {
        everything_opaque(found);
        return;
    }
    match value {
        Value::Object(map) => {
            if let Some(v) = map.get("Value") {
                literal(v, found);
            }
            for (op, operands) in map {
                if COMPARISONS.contains(&op.as_str()) {
                    compare(operands, found);
                }
                if ARITHMETIC.contains(&op.as_str()) && mentions(operands, "member_count", 0) {
                    found.member_count_arithmetic = true;
                }
                if op == "." || op == "has" {
                    access(op, operands, found);
                }
                if op == "isEmpty"
                    && let Some(attr) = operands.get("arg").and_then(accessed)
                {
                    *found.accounted.entry(attr.to_owned()).or_default() += 1;
                }
            }
            for inner in map.values() {
                walk(inner, found, depth + 1);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, found, depth + 1)),
        _ => {}
    }
}

fn literal(value: &Value, found: &mut Literals) {
    match value {
        Value::Number(n) => {
            if let Some(n) = n.as_i64() {
                // `-5` may be written as a negation of 5; both are candidates.
                found.longs.insert(n);
                found.longs.insert(n.saturating_neg());
            }
        }
        Value::String(s) => {
            found.strings.insert(s.clone());
        }
        Value::Array(items) => items.iter().for_each(|v| literal(v, found)),
        _ => {}
    }
}

/// `left op right`: when one side is an attribute access and the other a
/// literal, the literal is a candidate for the attribute.
fn compare(operands: &Value, found: &mut Literals) {
    let (Some(left), Some(right)) = (operands.get("left"), operands.get("right")) else {
        return;
    };
    for (side, other) in [(left, right), (right, left)] {
        let Some(attr) = accessed(side) else { continue };
        let mut strings = BTreeSet::new();
        if literal_strings(other, &mut strings) {
            *found.accounted.entry(attr.to_owned()).or_default() += 1;
            found
                .compared
                .entry(attr.to_owned())
                .or_default()
                .extend(strings);
        }
    }
}

/// Count every access of an attribute; [`of`] compares the count with the
/// accesses [`compare`] and `isEmpty` account for.
fn access(op: &str, operands: &Value, found: &mut Literals) {
    if op != "." {
        return; // `has` reads no value
    }
    if let Some(attr) = operands.get("attr").and_then(Value::as_str) {
        *found.accesses.entry(attr.to_owned()).or_default() += 1;
    }
}

/// The attribute an expression reads directly (`resource.domain` → `domain`).
fn accessed(value: &Value) -> Option<&str> {
    value
        .get(".")
        .and_then(|a| a.get("attr"))
        .and_then(Value::as_str)
}

/// Collect the strings of a pure literal (`"x"`, `["x", "y"]`); false when
/// `value` is not one.
fn literal_strings(value: &Value, out: &mut BTreeSet<String>) -> bool {
    let Some(map) = value.as_object() else {
        return false;
    };
    if map
        .get(".")
        .and_then(|a| a.get("attr"))
        .and_then(Value::as_str)
        == Some("operator")
        && map
            .get(".")
            .and_then(|a| a.get("left"))
            .and_then(|l| l.get("Var"))
            .and_then(Value::as_str)
            == Some("context")
    {
        out.insert(OPERATOR.to_owned());
        return true;
    }
    if let Some(v) = map.get("Value") {
        return match v {
            Value::String(s) => {
                out.insert(s.clone());
                true
            }
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        };
    }
    if let Some(Value::Array(items)) = map.get("Set") {
        return items.iter().all(|v| literal_strings(v, out));
    }
    false
}

fn mentions(value: &Value, attr: &str, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return true;
    }
    match value {
        Value::Object(map) => {
            accessed_in(map, attr) || map.values().any(|v| mentions(v, attr, depth + 1))
        }
        Value::Array(items) => items.iter().any(|v| mentions(v, attr, depth + 1)),
        _ => false,
    }
}

fn accessed_in(map: &Map<String, Value>, attr: &str) -> bool {
    map.get(".")
        .and_then(|a| a.get("attr"))
        .and_then(Value::as_str)
        == Some(attr)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::of;
    use cedar_policy::PolicySet;

    fn lits(text: &str) -> super::Literals {
        of(&text.parse::<PolicySet>().unwrap())
    }

    #[test]
    fn finds_member_count_boundaries_and_compared_strings() {
        let l = lits(
            r#"forbid (principal, action, resource) when {
                 context.conversation.member_count > 200 &&
                 resource.domain == "taobao.com" &&
                 ["a", "b"].contains(resource.platform) &&
                 resource.lists.contains("malware")
               };"#,
        );
        assert!(l.longs.contains(&200));
        assert_eq!(l.compared("domain").collect::<Vec<_>>(), ["taobao.com"]);
        assert_eq!(l.compared("platform").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(l.compared("lists").collect::<Vec<_>>(), ["malware"]);
        // `member_count` is compared with `>`, not a string literal: opaque to
        // strings, bounded by the integer literals instead.
        assert!(!l.opaque.contains("domain") && !l.opaque.contains("lists"));
        assert!(!l.member_count_arithmetic);
    }

    #[test]
    fn arithmetic_and_non_literal_comparisons_are_flagged() {
        let l = lits(
            r#"forbid (principal, action, resource) when {
                 context.conversation.member_count * 3 > 100 &&
                 resource.lists.contains(resource.owner)
               };"#,
        );
        assert!(l.member_count_arithmetic);
        assert!(l.opaque.contains("lists") && l.opaque.contains("owner"));
    }
}
