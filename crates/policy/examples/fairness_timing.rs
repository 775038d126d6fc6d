//! Times the non-discrimination check (docs/benchmarks.md, "fairness check"):
//! the default policy, and a generated 200-rule policy, fair and with one
//! planted rule, against the built-in registry for operator tencent.
//!
//!     cargo run --release -p kaifang-policy --example fairness_timing
//!
//! Each figure is the median of the runs; every run starts from a new engine
//! (no table, no decision cached), so no run profits from an earlier one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use kaifang_links::Registry;
use kaifang_policy::{
    DEFAULT_POLICY, FairnessSettings, PlatformFacts, PolicyEngine, check_complete,
    check_non_discrimination,
};

const OPERATOR: &str = "tencent";
const RUNS: usize = 7;

/// 200 rules an operator might accumulate: five base permits, 110 per-domain
/// blocks and warnings, 20 size thresholds per category, 20 threat-list rules
/// over 5 list names, 20 penalty, role and flag rules, 15 rules on unknown
/// sites, 10 category rules. All treat every owner alike.
fn generated() -> String {
    let mut p = String::from(
        r#"@id("deliver-all") permit (principal, action == Kaifang::Action::"deliver", resource);
@id("linkify-all") permit (principal, action == Kaifang::Action::"linkify", resource);
@id("open-all") permit (principal, action == Kaifang::Action::"open_directly", resource);
@id("preview-all") permit (principal, action == Kaifang::Action::"preview", resource);
@id("no-preview-for-codes") forbid (principal, action == Kaifang::Action::"preview", resource) when { resource.kind == "share_code" };
"#,
    );
    let actions = ["deliver", "linkify", "open_directly"];
    for i in 0..110 {
        let a = actions[i % 3];
        p += &format!(
            "@id(\"site-{i}\") forbid (principal, action == Kaifang::Action::\"{a}\", resource) when {{ resource.domain == \"spam-site-{i}.example\" }};\n"
        );
    }
    let categories = [
        "video",
        "social",
        "news",
        "music",
        "payments",
        "messaging",
        "commerce",
    ];
    for i in 0..20 {
        let t = 25 * (i + 1);
        let c = categories[i % categories.len()];
        p += &format!(
            "@id(\"size-{i}\") forbid (principal, action == Kaifang::Action::\"open_directly\", resource) when {{ context.conversation.kind == \"group\" && context.conversation.member_count > {t} && resource.category == \"{c}\" }};\n"
        );
    }
    let lists = ["malware", "phishing", "ads", "spam", "adult"];
    for i in 0..20 {
        let l = lists[i % lists.len()];
        let (a, cond) = match i % 4 {
            0 => ("deliver", String::new()),
            1 => ("linkify", " && principal.role == \"member\"".to_owned()),
            2 => (
                "open_directly",
                " && context.conversation.kind == \"group\"".to_owned(),
            ),
            _ => (
                "preview",
                format!(" && context.conversation.member_count > {}", 100 * i),
            ),
        };
        p += &format!(
            "@id(\"list-{i}\") forbid (principal, action == Kaifang::Action::\"{a}\", resource) when {{ resource.lists.contains(\"{l}\"){cond} }};\n"
        );
    }
    let flagged = [
        "resource.penalty == \"restricted\"",
        "resource.penalty == \"suspended\"",
        "resource.mixed_script",
        "resource.lookalike",
        "resource.bidi",
    ];
    for i in 0..20 {
        let f = flagged[i % flagged.len()];
        let a = actions[i % 3];
        let role = ["owner", "admin", "member"][i % 3];
        p += &format!(
            "@id(\"flag-{i}\") forbid (principal, action == Kaifang::Action::\"{a}\", resource) when {{ {f} && principal.role == \"{role}\" }};\n"
        );
    }
    for i in 0..15 {
        let t = 40 * (i + 1);
        p += &format!(
            "@id(\"unknown-{i}\") forbid (principal, action == Kaifang::Action::\"linkify\", resource) when {{ resource.platform == \"unknown\" && context.conversation.member_count > {t} }};\n"
        );
    }
    for (i, c) in categories
        .iter()
        .chain(["maps", "search", "storage"].iter())
        .enumerate()
    {
        p += &format!(
            "@id(\"category-{i}\") forbid (principal, action == Kaifang::Action::\"preview\", resource) when {{ resource.category == \"{c}\" && principal.role == \"member\" && context.conversation.kind == \"group\" }};\n"
        );
    }
    p
}

/// The generated policy with its last rule replaced by a planted one: rival
/// links inert in groups of more than 3,000.
fn planted() -> String {
    let mut p = generated();
    let last = p.trim_end().rfind('\n').unwrap();
    p.truncate(last + 1);
    p += "@id(\"planted\") forbid (principal, action == Kaifang::Action::\"linkify\", resource) when { !resource.operator_owned && context.conversation.member_count > 3000 };\n";
    p
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn time(name: &str, text: &str, platforms: &[PlatformFacts]) {
    let rules = PolicyEngine::new(text, OPERATOR)
        .unwrap()
        .policy_ids()
        .len();
    let mut complete = Vec::new();
    let mut full = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let engine = PolicyEngine::new(text, OPERATOR).unwrap();
        let t = Instant::now();
        let check = check_complete(&engine, platforms, OPERATOR, &FairnessSettings::default());
        complete.push(t.elapsed());
        let engine = PolicyEngine::new(text, OPERATOR).unwrap();
        let t = Instant::now();
        let report = check_non_discrimination(&engine, platforms, OPERATOR);
        full.push(t.elapsed());
        assert_eq!(report.check.counterexamples, check.counterexamples);
        last = Some(check);
    }
    let check = last.unwrap();
    println!(
        "{name}: {rules} rules; complete check {:.1} ms, with the sampled matrix {:.1} ms (median of {RUNS}); {} {} cases, {} Cedar evaluations, {} counterexample(s), exhaustive {}",
        median(complete).as_secs_f64() * 1e3,
        median(full).as_secs_f64() * 1e3,
        check.method,
        check.cases,
        check.decisions,
        check.counterexamples.len(),
        check.exhaustive
    );
    for n in &check.notes {
        println!("    {n}");
    }
}

fn main() {
    let platforms = PlatformFacts::from_registry(&Registry::builtin().unwrap());
    println!(
        "{} platforms in the built-in registry, operator {OPERATOR}",
        platforms.len()
    );
    time("default policy", DEFAULT_POLICY, &platforms);
    time("generated, fair", &generated(), &platforms);
    time("generated, one planted rule", &planted(), &platforms);
}
