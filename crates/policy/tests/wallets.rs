#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Wallet offers at checkout (`offer_wallet`): what the engine offers, that the registry's
//! acceptance list is a hard limit, and that the non-discrimination check flags a house
//! wallet offered where a rival's is refused.

use std::path::Path;

use kaifang_links::Registry;
use kaifang_pay::WalletRegistry;
use kaifang_policy::{
    Context, ConversationKind, DEFAULT_POLICY, FairnessSettings, MerchantFacts, NOT_ACCEPTED_ID,
    PickerOrder, PlatformFacts, PolicyEngine, Role, WalletCheck, WalletFacts, check_wallets,
};

const OPERATOR: &str = "tencent";

fn platforms() -> Vec<PlatformFacts> {
    PlatformFacts::from_registry(&Registry::builtin().unwrap())
}

fn wallets() -> Vec<WalletFacts> {
    WalletRegistry::builtin()
        .unwrap()
        .wallets
        .iter()
        .map(|w| WalletFacts {
            id: w.id.clone(),
            owner: w.owner.clone(),
        })
        .collect()
}

fn merchant(platform: &str) -> MerchantFacts {
    let registry = WalletRegistry::builtin().unwrap();
    let owner = platforms()
        .into_iter()
        .find(|p| p.id == platform)
        .unwrap()
        .owner;
    MerchantFacts {
        platform: platform.into(),
        owner,
        accepts: registry.merchant(platform).unwrap().accepts.clone(),
    }
}

fn ctx(kind: ConversationKind, member_count: u32, role: Role) -> Context {
    Context {
        conversation_kind: kind,
        member_count,
        sender_role: role,
    }
}

fn direct() -> Context {
    ctx(ConversationKind::Direct, 2, Role::Owner)
}

fn group() -> Context {
    ctx(ConversationKind::Group, 40, Role::Member)
}

fn offered(engine: &PolicyEngine, c: &Context, platform: &str) -> Vec<String> {
    engine
        .offer_wallets(c, &merchant(platform), &wallets())
        .into_iter()
        .filter(|o| o.offered)
        .map(|o| o.wallet)
        .collect()
}

fn check(text: &str) -> WalletCheck {
    let engine = PolicyEngine::new(text, OPERATOR).unwrap();
    check_wallets(
        &engine,
        &platforms(),
        OPERATOR,
        &FairnessSettings::default(),
    )
}

/// The default policy offers exactly what each merchant accepts, everywhere, and says which
/// rule did it; a wallet the merchant does not accept is refused as registry data.
#[test]
fn the_default_policy_offers_every_accepted_wallet_and_nothing_else() {
    let engine = PolicyEngine::new(DEFAULT_POLICY, OPERATOR).unwrap();
    let registry = WalletRegistry::builtin().unwrap();
    for m in &registry.merchants {
        for c in [
            direct(),
            group(),
            ctx(ConversationKind::Group, 9_000, Role::Admin),
        ] {
            let offers = engine.offer_wallets(&c, &merchant(&m.platform), &wallets());
            assert_eq!(offers.len(), wallets().len());
            for o in offers {
                let accepted = m.accepts.contains(&o.wallet);
                assert_eq!(o.offered, accepted, "{} {}", m.platform, o.wallet);
                let why = if accepted {
                    "wallets-offered"
                } else {
                    NOT_ACCEPTED_ID
                };
                assert_eq!(o.policies, [why], "{} {}", m.platform, o.wallet);
            }
        }
    }
    assert_eq!(
        offered(&engine, &group(), "jd"),
        ["wechat-pay", "alipay", "unionpay", "jd-pay"]
    );
    assert!(offered(&engine, &group(), "amazon").is_empty());
}

/// A policy cannot make a merchant take a wallet it does not accept, even one that permits
/// everything.
#[test]
fn a_wallet_the_merchant_does_not_accept_is_never_offered() {
    let engine = PolicyEngine::new(
        r#"@id("everything") permit (principal, action, resource);"#,
        OPERATOR,
    )
    .unwrap();
    let offers = engine.offer_wallets(&direct(), &merchant("taobao"), &wallets());
    let jd_pay = offers.iter().find(|o| o.wallet == "jd-pay").unwrap();
    assert!(!jd_pay.offered);
    assert_eq!(jd_pay.policies, [NOT_ACCEPTED_ID]);
    let alipay = offers.iter().find(|o| o.wallet == "alipay").unwrap();
    assert!(alipay.offered);
    assert_eq!(alipay.policies, ["everything"]);
}

/// A policy without an `offer_wallet` rule offers nothing (Cedar denies what is not
/// permitted), and names no policy for it.
#[test]
fn without_an_offer_rule_nothing_is_offered() {
    let engine = PolicyEngine::new(
        r#"@id("deliver-all") permit (principal, action == Kaifang::Action::"deliver", resource);"#,
        OPERATOR,
    )
    .unwrap();
    for o in engine.offer_wallets(&direct(), &merchant("jd"), &wallets()) {
        assert!(!o.offered);
        let expect: &[&str] = if merchant("jd").accepts.contains(&o.wallet) {
            &[]
        } else {
            &[NOT_ACCEPTED_ID]
        };
        assert_eq!(o.policies, expect, "{}", o.wallet);
    }
}

/// Every fact of the schema reaches the policy: the merchant, its owner and whether it is the
/// operator's, the wallet's id, owner and house flag, the conversation and the buyer's role.
#[test]
fn the_policy_sees_the_merchant_the_wallet_the_conversation_and_the_buyer() {
    let offer =
        r#"@id("all") permit (principal, action == Kaifang::Action::"offer_wallet", resource);"#;
    let with = |forbid: &str| {
        let text = format!(
            "{offer}\n@id(\"no\") forbid (principal, action == Kaifang::Action::\"offer_wallet\", resource) when {{ {forbid} }};"
        );
        PolicyEngine::new(&text, OPERATOR).unwrap()
    };
    let e = with(r#"context.merchant == "jd" && resource.id == "jd-pay""#);
    assert_eq!(
        offered(&e, &direct(), "jd"),
        ["wechat-pay", "alipay", "unionpay"]
    );
    assert_eq!(
        offered(&e, &direct(), "meituan"),
        ["wechat-pay", "alipay", "unionpay"]
    );
    let e = with(r#"context.merchant_owner == "alibaba" && resource.owner == "ant""#);
    assert_eq!(offered(&e, &direct(), "taobao"), ["wechat-pay"]);
    assert_eq!(
        offered(&e, &direct(), "pinduoduo"),
        ["wechat-pay", "alipay"]
    );
    let e = with("!context.merchant_operator_owned && resource.operator_owned");
    assert_eq!(offered(&e, &direct(), "pinduoduo"), ["alipay"]);
    let e = with(r#"resource.owner != context.operator"#);
    assert_eq!(offered(&e, &direct(), "meituan"), ["wechat-pay"]);
    let e =
        with(r#"context.conversation.kind == "group" && context.conversation.member_count > 100"#);
    assert_eq!(offered(&e, &group(), "pinduoduo").len(), 2);
    assert!(
        offered(
            &e,
            &ctx(ConversationKind::Group, 101, Role::Member),
            "pinduoduo"
        )
        .is_empty()
    );
    let e = with(r#"principal.role == "member""#);
    assert_eq!(offered(&e, &direct(), "pinduoduo").len(), 2);
    assert!(offered(&e, &group(), "pinduoduo").is_empty());
    // The refusing rule is named.
    let o = e.offer_wallets(&group(), &merchant("pinduoduo"), &wallets());
    assert!(
        o.iter()
            .filter(|o| !o.offered)
            .all(|o| !o.policies.is_empty())
    );
    assert!(o.iter().any(|o| o.policies == ["no"]));
}

/// Every shipped policy still passes strict validation with the wallet schema, and the
/// default and the realistic example offer every accepted wallet.
#[test]
fn every_shipped_policy_validates_and_offers_wallets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let mut files = vec![root.join("default.cedar")];
    for e in std::fs::read_dir(root.join("examples")).unwrap() {
        files.push(e.unwrap().path());
    }
    assert!(files.len() >= 4);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let engine =
            PolicyEngine::new(&text, OPERATOR).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        assert_eq!(
            offered(&engine, &group(), "taobao"),
            ["wechat-pay", "alipay"],
            "{}",
            f.display()
        );
        let report = check_wallets(
            &engine,
            &platforms(),
            OPERATOR,
            &FairnessSettings::default(),
        );
        assert!(report.passed(), "{}: {:#?}", f.display(), report.offences);
    }
}

/// Only the house wallet at Taobao: the rivals' are refused there.
const HOUSE_ONLY_AT_TAOBAO: &str = r#"
    @id("wallets-offered") permit (principal, action == Kaifang::Action::"offer_wallet", resource);
    @id("taobao-house-wallet-only")
    forbid (principal, action == Kaifang::Action::"offer_wallet", resource)
    when { context.merchant == "taobao" && !resource.operator_owned };
"#;

/// (a) Only the house wallet at a rival's shop: Tencent's WeChat Pay alone at Taobao.
#[test]
fn house_wallet_only_at_a_rival_shop_is_flagged() {
    let check = check(HOUSE_ONLY_AT_TAOBAO);
    assert!(!check.passed());
    assert_eq!(check.offences.len(), 1, "{:#?}", check.offences);
    let o = &check.offences[0];
    assert_eq!(
        (o.merchant.as_str(), o.merchant_owner.as_str()),
        ("taobao", "alibaba")
    );
    assert_eq!(
        (o.rival.as_str(), o.rival_owner.as_str()),
        ("alipay", "ant")
    );
    assert_eq!(o.house, "wechat-pay");
    assert_eq!(o.policies, ["taobao-house-wallet-only"]);
    assert_eq!(o.house_policies, ["wallets-offered"]);
    // Confirmed through the public API in the reported context.
    let engine = PolicyEngine::new(HOUSE_ONLY_AT_TAOBAO, OPERATOR).unwrap();
    assert_eq!(offered(&engine, &o.context, "taobao"), ["wechat-pay"]);
    assert_eq!(
        offered(&engine, &o.context, "tmall"),
        ["wechat-pay", "alipay"]
    );
    assert!(o.contexts >= 1);
    assert!(check.exhaustive && check.decisions > 0 && check.cases > 0);
    assert_eq!(check.picker, PickerOrder::Neutral);
}

/// (b) A rival wallet refused everywhere, the house's offered: flagged at every merchant
/// accepting both.
#[test]
fn refusing_a_rival_wallet_everywhere_is_flagged_at_every_merchant_taking_both() {
    let check = check(
        r#"
        @id("wallets-offered") permit (principal, action == Kaifang::Action::"offer_wallet", resource);
        @id("no-alipay") forbid (principal, action == Kaifang::Action::"offer_wallet", resource)
        when { resource.id == "alipay" };
        "#,
    );
    let registry = WalletRegistry::builtin().unwrap();
    let mut expected: Vec<&str> = registry
        .merchants
        .iter()
        .filter(|m| {
            m.accepts.iter().any(|w| w == "alipay") && m.accepts.iter().any(|w| w == "wechat-pay")
        })
        .map(|m| m.platform.as_str())
        .collect();
    expected.sort_unstable();
    let mut flagged: Vec<&str> = check.offences.iter().map(|o| o.merchant.as_str()).collect();
    flagged.sort_unstable();
    assert_eq!(flagged, expected);
    assert!(flagged.len() >= 4, "{flagged:?}");
    assert!(
        check
            .offences
            .iter()
            .all(|o| o.rival == "alipay" && o.house == "wechat-pay" && o.policies == ["no-alipay"])
    );
}

/// A rival refused only in conversations past a size the policy names: the check tries that
/// size, not only a sample.
#[test]
fn a_size_threshold_is_found_by_enumeration() {
    let check = check(
        r#"
        @id("wallets-offered") permit (principal, action == Kaifang::Action::"offer_wallet", resource);
        @id("huge-groups-house-only") forbid (principal, action == Kaifang::Action::"offer_wallet", resource)
        when { context.conversation.member_count > 7777 && !resource.operator_owned };
        "#,
    );
    assert!(!check.passed());
    assert!(check.offences.iter().all(|o| o.context.member_count > 7777));
    assert!(
        check
            .offences
            .iter()
            .any(|o| o.merchant == "jd" && o.rival == "unionpay")
    );
}

/// (c) Refusing every wallet in groups treats the house like its rivals: fair. So is refusing
/// only the house's wallet, and refusing everything at one merchant.
#[test]
fn refusing_alike_is_fair() {
    for forbid in [
        r#"context.conversation.kind == "group""#,
        r#"resource.operator_owned"#,
        r#"context.merchant == "jd""#,
        r#"principal.role == "member" && context.conversation.member_count > 50"#,
    ] {
        let text = format!(
            "@id(\"wallets-offered\") permit (principal, action == Kaifang::Action::\"offer_wallet\", resource);\n\
             @id(\"refused\") forbid (principal, action == Kaifang::Action::\"offer_wallet\", resource) when {{ {forbid} }};"
        );
        let check = check(&text);
        assert!(check.passed(), "{forbid}: {:#?}", check.offences);
        assert!(check.cases > 0 && check.exhaustive, "{forbid}");
    }
}

/// (d) The default policy is fair for wallets whoever operates the server, and the verdict
/// of the whole report includes it.
#[test]
fn the_default_policy_is_fair_for_wallets_for_every_wallet_owner() {
    let engine = PolicyEngine::new(DEFAULT_POLICY, OPERATOR).unwrap();
    let registry = WalletRegistry::builtin().unwrap();
    for w in &registry.wallets {
        let engine = PolicyEngine::new(DEFAULT_POLICY, &w.owner).unwrap();
        let check = check_wallets(
            &engine,
            &platforms(),
            &w.owner,
            &FairnessSettings::default(),
        );
        assert!(check.passed(), "{}: {:#?}", w.owner, check.offences);
        assert!(check.cases > 0 && check.exhaustive, "{}", w.owner);
        println!(
            "default policy, operator {}: {} case(s), {} decision(s)",
            w.owner, check.cases, check.decisions
        );
    }
    let report = kaifang_policy::check_non_discrimination(&engine, &platforms(), OPERATOR);
    assert!(report.passed);
    assert_eq!(report.wallets.picker, PickerOrder::Neutral);
    assert!(report.wallets.cases > 0);
}

/// A wallet offence fails the whole report and names its policy, as a link offence does; the
/// report carries the picker setting it was given.
#[test]
fn a_wallet_offence_fails_the_report_and_names_the_policy() {
    let text = format!(
        "{DEFAULT_POLICY}\n@id(\"planted-no-rival-wallets\") forbid (principal, action == Kaifang::Action::\"offer_wallet\", resource) when {{ !resource.operator_owned }};"
    );
    let engine = PolicyEngine::new(&text, OPERATOR).unwrap();
    let settings = FairnessSettings {
        picker: PickerOrder::Alphabetical,
        ..FairnessSettings::default()
    };
    let report =
        kaifang_policy::check_non_discrimination_with(&engine, &platforms(), OPERATOR, &settings);
    assert!(!report.passed);
    // The links are as fair as the default's.
    assert!(report.check.counterexamples.is_empty() && report.offences.is_empty());
    assert_eq!(report.offending_policies, ["planted-no-rival-wallets"]);
    assert_eq!(report.wallets.picker, PickerOrder::Alphabetical);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["wallets"]["picker"], "alphabetical");
    assert_eq!(json["wallets"]["offences"][0]["house"], "wechat-pay");
}

/// Past the decision budget the check samples conversations and says so, rather than running
/// for minutes or claiming completeness.
#[test]
fn past_the_budget_the_check_samples_and_says_so() {
    let text = r#"
        @id("wallets-offered") permit (principal, action == Kaifang::Action::"offer_wallet", resource);
        @id("odd-sizes") forbid (principal, action == Kaifang::Action::"offer_wallet", resource)
        when { context.conversation.member_count * 2 > 9000 && !resource.operator_owned };
    "#;
    let engine = PolicyEngine::new(text, OPERATOR).unwrap();
    let settings = FairnessSettings {
        max_wallet_decisions: 2_000,
        ..FairnessSettings::default()
    };
    let check = check_wallets(&engine, &platforms(), OPERATOR, &settings);
    assert!(!check.exhaustive);
    assert!(check.decisions <= 2_000, "{}", check.decisions);
    assert!(
        check.notes.iter().any(|n| n.contains("every")),
        "{:#?}",
        check.notes
    );
    // The sample is spread over the whole range, so it still reaches the large groups.
    assert!(!check.passed());
}

/// A custom wallet registry is used instead of the built-in one.
#[test]
fn a_given_wallet_registry_replaces_the_built_in_one() {
    let registry = WalletRegistry::parse(
        r#"
        [[wallets]]
        id = "house-pay"
        name = "House Pay"
        owner = "tencent"
        adapter = "none"
        [[wallets]]
        id = "rival-pay"
        name = "Rival Pay"
        owner = "rival"
        adapter = "none"
        [[merchants]]
        platform = "taobao"
        accepts = ["house-pay", "rival-pay"]
        "#,
    )
    .unwrap();
    let engine = PolicyEngine::new(
        r#"
        @id("wallets-offered") permit (principal, action == Kaifang::Action::"offer_wallet", resource);
        @id("no-rival-pay") forbid (principal, action == Kaifang::Action::"offer_wallet", resource)
        when { resource.id == "rival-pay" };
        "#,
        OPERATOR,
    )
    .unwrap();
    let settings = FairnessSettings {
        wallets: Some(registry),
        ..FairnessSettings::default()
    };
    let check = check_wallets(&engine, &platforms(), OPERATOR, &settings);
    assert_eq!(check.merchants, 1);
    assert_eq!(check.offences.len(), 1);
    assert_eq!(check.offences[0].rival, "rival-pay");
}

/// A rule that reads link facts without saying it is about links could now be asked about a
/// wallet, which has no such fact: strict validation refuses it with a message, where before
/// this schema it was accepted. (Operators scope such rules to link actions or to
/// `resource is Kaifang::Link`, as every shipped policy does.)
#[test]
fn an_unscoped_link_rule_is_refused_with_a_reason() {
    let err = PolicyEngine::new(
        r#"forbid (principal, action, resource) when { resource.bidi };"#,
        OPERATOR,
    )
    .unwrap_err();
    assert!(
        matches!(err, kaifang_policy::PolicyError::Validation(_)),
        "{err}"
    );
    assert!(err.to_string().contains("bidi"), "{err}");
    PolicyEngine::new(
        r#"forbid (principal, action, resource is Kaifang::Link) when { resource.bidi };"#,
        OPERATOR,
    )
    .unwrap();
}
