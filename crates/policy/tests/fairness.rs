#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The non-discrimination check: the default passes, self-preferencing is caught.

use kaifang_policy::{
    ContestedCategories, ConversationKind, DEFAULT_POLICY, FairnessSettings, LinkKind,
    PlatformFacts, PolicyEngine, Treatment, check_non_discrimination,
    check_non_discrimination_with,
};

fn p(id: &str, owner: &str, category: &str, domain: &str) -> PlatformFacts {
    PlatformFacts {
        id: id.into(),
        name: id.to_uppercase(),
        owner: owner.into(),
        category: category.into(),
        domain: domain.into(),
        ..PlatformFacts::default()
    }
}

/// A slice of the registry, operator tencent: it competes in video, payments,
/// messaging and (through a shop) commerce; not in search or social.
fn registry() -> Vec<PlatformFacts> {
    vec![
        p("wechat", "tencent", "messaging", "weixin.qq.com"),
        p("whatsapp", "meta", "messaging", "whatsapp.com"),
        p("tencent-video", "tencent", "video", "v.qq.com"),
        p("bilibili", "bilibili", "video", "bilibili.com"),
        p("douyin", "bytedance", "video", "douyin.com"),
        p("youku", "alibaba", "video", "youku.com"),
        p("wechat-pay", "tencent", "payments", "pay.weixin.qq.com"),
        p("alipay", "ant", "payments", "alipay.com"),
        p("wechat-shop", "tencent", "commerce", "shop.weixin.qq.com"),
        p("taobao", "alibaba", "commerce", "taobao.com"),
        p("jd", "jd", "commerce", "jd.com"),
        p("baidu", "baidu", "search", "baidu.com"),
        p("weibo", "sina", "social", "weibo.com"),
    ]
}

const BASE: &str = r#"
    @id("deliver-all") permit (principal, action == Kaifang::Action::"deliver", resource);
    @id("links-live") permit (principal, action in [Kaifang::Action::"linkify", Kaifang::Action::"open_directly"], resource);
    @id("previews") permit (principal, action == Kaifang::Action::"preview", resource);
"#;

#[test]
fn the_default_policy_passes() {
    let engine = PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &registry(), "tencent");
    assert!(report.passed, "{:#?}", report.offences);
    assert!(report.offences.is_empty() && report.offending_policies.is_empty());

    // The matrix: a row per platform, a cell per context (direct + 3 group sizes) × 3 roles,
    // for URLs, again for share codes and again for payment links.
    assert_eq!(report.rows.len(), registry().len());
    assert_eq!(report.contexts.len(), 36);
    assert_eq!(
        report
            .contexts
            .iter()
            .filter(|c| c.link == LinkKind::ShareCode)
            .count(),
        12
    );
    assert_eq!(
        report
            .contexts
            .iter()
            .filter(|c| c.link == LinkKind::Payment)
            .count(),
        12
    );
    let row = |id: &str| report.rows.iter().find(|r| r.platform == id).unwrap();
    let group_col = report
        .contexts
        .iter()
        .position(|c| c.kind == ConversationKind::Group)
        .unwrap();
    // Rivals are inert in groups (2021), and so is the house where it competes…
    assert_eq!(row("taobao").cells[group_col].treatment, Treatment::Inert);
    assert_eq!(
        row("tencent-video").cells[group_col].treatment,
        Treatment::Inert
    );
    assert_eq!(
        row("wechat-shop").cells[group_col].treatment,
        Treatment::Inert
    );
    // …and everything is live in direct chats.
    assert!(
        report
            .rows
            .iter()
            .all(|r| r.cells[0].treatment == Treatment::Live && r.cells[0].preview)
    );
    assert!(row("tencent-video").house && !row("taobao").house);
}

#[test]
fn the_house_stays_live_in_groups_where_no_rival_competes() {
    let mut platforms = registry();
    platforms.retain(|p| p.id != "whatsapp");
    let engine = PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &platforms, "tencent");
    assert!(report.passed);
    let wechat = report.rows.iter().find(|r| r.platform == "wechat").unwrap();
    assert!(wechat.cells.iter().all(|c| c.treatment == Treatment::Live));
}

#[test]
fn a_planted_rule_keeping_rival_commerce_inert_in_groups_is_caught() {
    let planted = format!(
        r#"{BASE}
        @id("planted-rival-commerce-inert")
        forbid (principal, action == Kaifang::Action::"linkify", resource)
        when {{ context.conversation.kind == "group" && resource.category == "commerce" && !resource.operator_owned }};"#
    );
    let engine = PolicyEngine::new(&planted, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &registry(), "tencent");
    assert!(!report.passed);
    assert_eq!(report.offending_policies, ["planted-rival-commerce-inert"]);
    // Taobao and JD against WeChat Shop, in 3 group sizes × 3 roles, for URLs, codes and payment
    // links (the check compares every kind for every platform: an over-approximation).
    assert_eq!(report.offences.len(), 2 * 9 * 3);
    for o in &report.offences {
        assert!(o.rival == "taobao" || o.rival == "jd", "{o:?}");
        assert_eq!(o.house, "wechat-shop");
        assert_eq!(o.category, "commerce");
        assert_eq!(o.context.kind, ConversationKind::Group);
        assert_eq!(
            (o.rival_treatment, o.house_treatment),
            (Treatment::Inert, Treatment::Live)
        );
        assert_eq!(o.policies, ["planted-rival-commerce-inert"]);
        assert_eq!(o.house_policies, ["links-live"]);
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["offences"][0]["rival_treatment"], "inert");
    assert_eq!(json["offences"][0]["context"]["kind"], "group");
}

#[test]
fn the_literal_2021_rule_is_self_preferencing_in_every_contested_category() {
    let literal = format!(
        r#"{BASE}
        @id("groups-rivals-inert")
        forbid (principal, action == Kaifang::Action::"linkify", resource)
        when {{ context.conversation.kind == "group" && !resource.operator_owned }};"#
    );
    let engine = PolicyEngine::new(&literal, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &registry(), "tencent");
    let mut categories: Vec<&str> = report
        .offences
        .iter()
        .map(|o| o.category.as_str())
        .collect();
    categories.sort_unstable();
    categories.dedup();
    assert_eq!(categories, ["commerce", "messaging", "payments", "video"]);
    assert_eq!(report.offending_policies, ["groups-rivals-inert"]);
}

#[test]
fn preview_denied_to_rivals_only_is_caught() {
    let text = format!(
        r#"{BASE}
        @id("no-rival-previews")
        forbid (principal, action == Kaifang::Action::"preview", resource)
        when {{ !resource.operator_owned }};"#
    );
    let engine = PolicyEngine::new(&text, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &registry(), "tencent");
    assert!(!report.passed);
    let o = &report.offences[0];
    assert_eq!(
        (o.rival_treatment, o.house_treatment),
        (Treatment::Live, Treatment::Live)
    );
    assert!(!o.rival_preview && o.house_preview);
    assert_eq!(o.policies, ["no-rival-previews"]);
    assert_eq!(report.offending_policies, ["no-rival-previews"]);
}

#[test]
fn a_permit_only_for_the_house_is_named_through_the_house_policies() {
    let text = r#"
        @id("deliver-all") permit (principal, action == Kaifang::Action::"deliver", resource);
        @id("house-links") permit (principal, action, resource) when { resource.operator_owned };
    "#;
    let engine = PolicyEngine::new(text, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &registry(), "tencent");
    let o = &report.offences[0];
    assert_eq!(o.rival_treatment, Treatment::Inert);
    assert!(o.policies.is_empty(), "nothing permitted the rival: {o:?}");
    assert_eq!(o.house_policies, ["house-links"]);
    assert_eq!(report.offending_policies, ["house-links"]);
}

#[test]
fn settings_choose_the_group_sizes() {
    let engine = PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap();
    let settings = FairnessSettings {
        group_sizes: vec![],
        ..FairnessSettings::default()
    };
    let report = check_non_discrimination_with(&engine, &registry(), "tencent", &settings);
    assert_eq!(report.contexts.len(), 9);
    assert!(
        report
            .contexts
            .iter()
            .all(|c| c.kind == ConversationKind::Direct)
    );
    assert_eq!(report.contexts[0].label(), "direct/2/owner");
}

#[test]
fn contested_categories_need_the_house_and_a_rival() {
    let reg = registry();
    let c = ContestedCategories::new(
        reg.iter().map(|p| (p.owner.as_str(), p.category.as_str())),
        "tencent",
    );
    for cat in ["video", "payments", "messaging", "commerce"] {
        assert!(c.contains(cat), "{cat}");
    }
    assert!(!c.contains("search") && !c.contains("social") && !c.contains("unknown"));
}

/// Share codes are covered: keeping only rivals' codes as text is caught,
/// in the share-code columns of the matrix.
#[test]
fn a_rule_against_rivals_share_codes_is_caught() {
    let planted = format!(
        r#"{BASE}
        @id("rival-codes-inert")
        forbid (principal, action == Kaifang::Action::"linkify", resource)
        when {{ resource.kind == "share_code" && !resource.operator_owned }};"#
    );
    let engine = PolicyEngine::new(&planted, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &registry(), "tencent");
    assert!(!report.passed);
    assert_eq!(report.offending_policies, ["rival-codes-inert"]);
    assert!(!report.offences.is_empty());
    for o in &report.offences {
        assert_eq!(o.context.link, LinkKind::ShareCode, "{o:?}");
        assert!(o.context.label().ends_with("/share_code"));
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["offences"][0]["context"]["link"], "share_code");
}

/// Payment links are compared too: a rule that leaves rival wallets' payment links as text while
/// the house wallet's stay links is self-preferencing, caught in the payment columns, house wallet
/// against the rival wallets.
#[test]
fn a_rule_against_rival_wallets_payment_links_is_caught() {
    let planted = format!(
        r#"{BASE}
        @id("rival-payments-inert")
        forbid (principal, action == Kaifang::Action::"linkify", resource)
        when {{ resource.kind == "payment" && !resource.operator_owned }};"#
    );
    let engine = PolicyEngine::new(&planted, "tencent").unwrap();
    let report = check_non_discrimination(&engine, &registry(), "tencent");
    assert!(!report.passed);
    assert_eq!(report.offending_policies, ["rival-payments-inert"]);
    assert!(
        report
            .offences
            .iter()
            .any(|o| o.house == "wechat-pay" && o.rival == "alipay"),
        "{:#?}",
        report.offences
    );
    for o in &report.offences {
        assert_eq!(o.context.link, LinkKind::Payment, "{o:?}");
        assert!(o.context.label().ends_with("/payment"));
    }
    // The complete check proves it too, with a counterexample.
    assert!(!report.check.counterexamples.is_empty());
}

fn complete(text: &str, settings: &FairnessSettings) -> kaifang_policy::CompleteCheck {
    let engine = PolicyEngine::new(text, "tencent").unwrap();
    kaifang_policy::check_complete(&engine, &registry(), "tencent", settings)
}

/// Arithmetic on the member count hides its boundary from the text: every
/// count is tried, and the one past 1,500 is found.
#[test]
fn arithmetic_on_the_member_count_is_enumerated_count_by_count() {
    let text = format!(
        r#"{BASE}
        @id("doubled") forbid (principal, action == Kaifang::Action::"linkify", resource)
        when {{ context.conversation.member_count * 2 > 3001 && !resource.operator_owned }};"#
    );
    let check = complete(&text, &FairnessSettings::default());
    assert!(check.exhaustive);
    let c = check.counterexamples.first().expect("caught");
    assert!(c.context.member_count >= 1501, "{c:?}");
    assert_eq!(c.policies, ["doubled"]);
}

/// The largest group is a setting: beyond it a rule cannot apply.
#[test]
fn groups_larger_than_the_largest_allowed_are_not_considered() {
    let text = format!(
        r#"{BASE}
        @id("beyond") forbid (principal, action == Kaifang::Action::"linkify", resource)
        when {{ context.conversation.member_count > 20000 && !resource.operator_owned }};"#
    );
    assert!(
        complete(&text, &FairnessSettings::default())
            .counterexamples
            .is_empty()
    );
    let bigger = FairnessSettings {
        max_group_members: 50_000,
        ..FairnessSettings::default()
    };
    let check = complete(&text, &bigger);
    assert_eq!(check.counterexamples[0].context.member_count, 20_001);
}

/// Too many list names for every combination: the check says it sampled.
#[test]
fn many_list_names_make_the_check_say_it_is_not_exhaustive() {
    let names: Vec<String> = (0..8).map(|i| format!("\"list-{i}\"")).collect();
    let text = format!(
        r#"{BASE}
        @id("lists") forbid (principal, action == Kaifang::Action::"deliver", resource)
        when {{ resource.lists.containsAny([{}]) }};"#,
        names.join(", ")
    );
    let check = complete(&text, &FairnessSettings::default());
    assert!(!check.exhaustive);
    assert!(
        check
            .notes
            .iter()
            .any(|n| n.contains("not every combination")),
        "{:?}",
        check.notes
    );
    assert!(check.counterexamples.is_empty());
    let few = FairnessSettings {
        max_named_lists: 8,
        ..FairnessSettings::default()
    };
    assert!(complete(&text, &few).exhaustive);
}
