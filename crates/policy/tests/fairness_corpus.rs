#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The complete non-discrimination check over a corpus of operator policies
//! (tests/fairness_corpus): every planted self-preferencing policy is caught
//! with a counterexample that holds, no fair policy is flagged, and the
//! default policy is fair for every owner in the built-in registry.

use std::path::{Path, PathBuf};

use kaifang_links::Registry;
use kaifang_policy::{
    ContestedCategories, Counterexample, DEFAULT_POLICY, FairnessReport, FairnessSettings,
    METHOD_ENUMERATED, PlatformFacts, PolicyEngine, check_complete, check_non_discrimination,
};

/// Operator the corpus is written against: Tencent competes in video,
/// payments, messaging, social, music and news in the built-in registry.
const OPERATOR: &str = "tencent";

fn corpus(kind: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fairness_corpus")
        .join(kind);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "cedar"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

fn platforms() -> Vec<PlatformFacts> {
    PlatformFacts::from_registry(&Registry::builtin().unwrap())
}

fn check(text: &str, operator: &str) -> (PolicyEngine, FairnessReport) {
    let engine = PolicyEngine::new(text, operator).unwrap();
    let report = check_non_discrimination(&engine, &platforms(), operator);
    assert_eq!(report.check.method, METHOD_ENUMERATED);
    (engine, report)
}

/// A counterexample must hold when the two links are decided again through
/// the public API: same context, same category, the rival worse.
fn assert_holds(engine: &PolicyEngine, c: &Counterexample, name: &str) {
    let r = engine.decide(&c.context, &c.rival);
    let h = engine.decide(&c.context, &c.house);
    assert_eq!(
        (r.treatment, h.treatment),
        (c.rival_treatment, c.house_treatment),
        "{name}"
    );
    let worse = r.treatment < h.treatment || (!c.rival_preview && c.house_preview);
    assert!(worse, "{name}: not worse: {c:#?}");
    assert_eq!(c.rival.category, c.house.category, "{name}");
    assert_ne!(c.rival.owner, OPERATOR, "{name}");
    assert_eq!(c.house.owner, OPERATOR, "{name}");
    // Alike in every fact but identity.
    let (a, b) = (&c.rival, &c.house);
    assert_eq!(
        (
            &a.kind,
            &a.lists,
            a.bidi,
            a.mixed_script,
            a.lookalike,
            a.penalty
        ),
        (
            &b.kind,
            &b.lists,
            b.bidi,
            b.mixed_script,
            b.lookalike,
            b.penalty
        ),
        "{name}"
    );
}

#[test]
fn every_planted_policy_is_caught_and_no_fair_policy_is_flagged() {
    let planted = corpus("planted");
    let fair = corpus("fair");
    assert!(planted.len() >= 15 && fair.len() >= 10);

    let mut caught = 0;
    let mut sampler_missed = Vec::new();
    for (name, text) in &planted {
        let (engine, report) = check(text, OPERATOR);
        assert!(!report.passed, "{name} passed: {:#?}", report.check.notes);
        assert!(!report.check.counterexamples.is_empty(), "{name}");
        for c in &report.check.counterexamples {
            assert_holds(&engine, c, name);
        }
        assert!(!report.offending_policies.is_empty(), "{name}");
        caught += 1;
        // The matrix is today's sampler (3 group sizes, each platform's first
        // domain, no lists, flags or penalties): did it see anything?
        if report.offences.is_empty() {
            sampler_missed.push(name.clone());
        }
    }
    let mut flagged = Vec::new();
    for (name, text) in &fair {
        let (_, report) = check(text, OPERATOR);
        if !report.passed {
            flagged.push((name.clone(), report.check.counterexamples));
        }
    }
    println!(
        "planted caught: {caught}/{} ({:.0}%); sampled matrix alone missed {}/{}: {sampler_missed:?}",
        planted.len(),
        100.0 * caught as f64 / planted.len() as f64,
        sampler_missed.len(),
        planted.len()
    );
    println!(
        "fair flagged: {}/{} ({:.0}% false alarms)",
        flagged.len(),
        fair.len(),
        100.0 * flagged.len() as f64 / fair.len() as f64
    );
    assert!(flagged.is_empty(), "false alarms: {flagged:#?}");
    // The gain over sampling, pinned so a regression in either is noticed.
    assert!(
        sampler_missed.len() >= 10,
        "the corpus should mostly defeat sampling: {sampler_missed:?}"
    );
}

#[test]
fn the_default_policy_is_fair_for_every_owner_in_the_registry() {
    let registry = Registry::builtin().unwrap();
    let mut owners: Vec<&str> = registry
        .platforms()
        .iter()
        .map(|p| p.owner.as_str())
        .collect();
    owners.sort_unstable();
    owners.dedup();
    assert!(owners.len() > 20);
    let platforms = platforms();
    for owner in owners {
        let engine = PolicyEngine::new(DEFAULT_POLICY, owner).unwrap();
        let check = check_complete(&engine, &platforms, owner, &FairnessSettings::default());
        assert_eq!(check.method, METHOD_ENUMERATED);
        assert!(
            check.counterexamples.is_empty(),
            "{owner}: {:#?}",
            check.counterexamples
        );
        assert!(check.exhaustive, "{owner}: {:?}", check.notes);
        // An owner alone in all its categories has nothing to compare.
        let competes = ContestedCategories::new(
            platforms
                .iter()
                .map(|p| (p.owner.as_str(), p.category.as_str())),
            owner,
        );
        let competes = platforms.iter().any(|p| competes.contains(&p.category));
        assert_eq!(check.cases > 0, competes, "{owner}");
    }
}

/// The reported counterexample is concrete: it names the facts a sampler
/// never tries (here, a group of more than 1,000 members).
#[test]
fn a_counterexample_names_the_context_and_both_links() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fairness_corpus/planted/p01-huge-groups.cedar"),
    )
    .unwrap();
    let (_, report) = check(&text, OPERATOR);
    let c = &report.check.counterexamples[0];
    assert!(c.context.member_count > 1000, "{c:#?}");
    assert_eq!(report.offending_policies, ["huge-groups-rivals-inert"]);
    assert_eq!(c.policies, ["huge-groups-rivals-inert"]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["check"]["method"], "enumerated");
    assert!(json["check"]["cases"].as_u64().unwrap() > 0);
    assert_eq!(
        json["check"]["counterexamples"][0]["rival_treatment"],
        "inert"
    );
}

/// Wallet offers (tests/fairness_corpus/wallets-planted, wallets-fair): every planted policy
/// offers the house's wallet somewhere a rival's is refused, and is caught with an offence that
/// holds when the offers are asked again through the public API; no fair one is flagged; the
/// link corpus, which has no wallet rule (nothing offered), is fair for wallets too.
#[test]
fn every_planted_wallet_policy_is_caught_and_no_fair_one_is_flagged() {
    let registry = kaifang_pay::WalletRegistry::builtin().unwrap();
    let wallets: Vec<kaifang_policy::WalletFacts> = registry
        .wallets
        .iter()
        .map(|w| kaifang_policy::WalletFacts {
            id: w.id.clone(),
            owner: w.owner.clone(),
        })
        .collect();
    let planted = corpus("wallets-planted");
    let fair = corpus("wallets-fair");
    assert!(planted.len() >= 5 && fair.len() >= 4);
    for (name, text) in &planted {
        let (engine, report) = check(text, OPERATOR);
        assert!(!report.passed, "{name}");
        // Wallet rules do not touch links.
        assert!(report.check.counterexamples.is_empty(), "{name}");
        assert!(!report.wallets.offences.is_empty(), "{name}");
        assert!(!report.offending_policies.is_empty(), "{name}");
        for o in &report.wallets.offences {
            let merchant = kaifang_policy::MerchantFacts {
                platform: o.merchant.clone(),
                owner: o.merchant_owner.clone(),
                accepts: registry.merchant(&o.merchant).unwrap().accepts.clone(),
            };
            let offers = engine.offer_wallets(&o.context, &merchant, &wallets);
            let offered = |id: &str| offers.iter().find(|x| x.wallet == id).unwrap().offered;
            assert!(offered(&o.house) && !offered(&o.rival), "{name}: {o:#?}");
            assert_eq!(registry.wallet(&o.house).unwrap().owner, OPERATOR, "{name}");
            assert_ne!(o.rival_owner, OPERATOR, "{name}");
        }
    }
    for (name, text) in fair.iter().chain(&corpus("fair")).chain(&corpus("planted")) {
        let engine = PolicyEngine::new(text, OPERATOR).unwrap();
        let wallets = kaifang_policy::check_wallets(
            &engine,
            &platforms(),
            OPERATOR,
            &FairnessSettings::default(),
        );
        assert!(wallets.passed(), "{name}: {:#?}", wallets.offences);
        assert!(wallets.exhaustive && wallets.cases > 0, "{name}");
    }
    println!(
        "wallets: planted caught {}/{}, fair flagged 0/{}",
        planted.len(),
        planted.len(),
        fair.len()
    );
}
