#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Decisions under the default policy, refusal of bad policies, the cache.

use kaifang_policy::{
    BIDI_FLOOR_ID, Context, ConversationKind, DEFAULT_POLICY, Decision, EngineSettings, LinkFacts,
    PolicyEngine, PolicyError, Role, Treatment,
};

fn link(platform: &str, owner: &str, category: &str, domain: &str) -> LinkFacts {
    LinkFacts {
        platform: platform.into(),
        owner: owner.into(),
        category: category.into(),
        domain: domain.into(),
        ..LinkFacts::default()
    }
}

fn taobao() -> LinkFacts {
    link("taobao", "alibaba", "commerce", "taobao.com")
}

fn wechat() -> LinkFacts {
    link("wechat", "tencent", "messaging", "weixin.qq.com")
}

fn direct() -> Context {
    Context {
        conversation_kind: ConversationKind::Direct,
        member_count: 2,
        sender_role: Role::Member,
    }
}

fn group() -> Context {
    Context {
        conversation_kind: ConversationKind::Group,
        member_count: 40,
        sender_role: Role::Member,
    }
}

fn engine() -> PolicyEngine {
    PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap()
}

fn ids(d: &Decision) -> Vec<&str> {
    d.policies.iter().map(String::as_str).collect()
}

#[test]
fn taobao_is_live_in_a_direct_chat_with_a_preview() {
    let d = engine().decide(&direct(), &taobao());
    assert_eq!(d.treatment, Treatment::Live);
    assert!(d.preview);
    assert_eq!(ids(&d), ["links-live"]);
}

#[test]
fn taobao_is_inert_in_a_group_naming_the_policy() {
    let d = engine().decide(&group(), &taobao());
    assert_eq!(d.treatment, Treatment::Inert);
    assert!(!d.preview);
    assert_eq!(ids(&d), ["groups-rival-platforms-inert"]);
}

#[test]
fn the_operators_own_uncontested_platform_is_live_in_a_group() {
    let d = engine().decide(&group(), &wechat());
    assert_eq!(d.treatment, Treatment::Live);
    assert!(d.preview);
}

#[test]
fn the_operators_own_contested_platform_is_inert_in_a_group_too() {
    let video = LinkFacts {
        category_contested: true,
        ..link("tencent-video", "tencent", "video", "v.qq.com")
    };
    let d = engine().decide(&group(), &video);
    assert_eq!(d.treatment, Treatment::Inert);
    assert_eq!(ids(&d), ["groups-contested-house-inert"]);
    assert_eq!(
        engine().decide(&direct(), &video).treatment,
        Treatment::Live
    );
}

#[test]
fn unregistered_sites_stay_live_in_groups() {
    let blog = LinkFacts {
        domain: "example.org".into(),
        ..LinkFacts::default()
    };
    assert_eq!(engine().decide(&group(), &blog).treatment, Treatment::Live);
}

#[test]
fn threat_listed_domains_are_blocked_everywhere_with_the_policy_id() {
    let bad = LinkFacts {
        lists: vec!["phishing".into()],
        ..link("unknown", "unknown", "unknown", "evil.example")
    };
    for ctx in [direct(), group()] {
        let d = engine().decide(&ctx, &bad);
        assert_eq!(d.treatment, Treatment::Blocked);
        assert!(!d.preview);
        assert_eq!(ids(&d), ["threat-listed-blocked"]);
    }
    // Even the operator's own platform.
    let own_bad = LinkFacts {
        lists: vec!["malware".into()],
        ..wechat()
    };
    assert_eq!(
        engine().decide(&direct(), &own_bad).treatment,
        Treatment::Blocked
    );
}

#[test]
fn bidi_links_are_inert_by_policy_and_by_the_floor() {
    let bidi = LinkFacts {
        bidi: true,
        ..taobao()
    };
    let d = engine().decide(&direct(), &bidi);
    assert_eq!(d.treatment, Treatment::Inert);
    assert_eq!(ids(&d), ["bidi-inert"]);

    // A policy that permits everything still cannot make it live.
    let open =
        PolicyEngine::new(r#"@id("all") permit (principal, action, resource);"#, "x").unwrap();
    let d = open.decide(&direct(), &bidi);
    assert_eq!(d.treatment, Treatment::Inert);
    assert!(!d.preview);
    assert_eq!(ids(&d), [BIDI_FLOOR_ID]);
    // ...but a block stays a block.
    let deny = PolicyEngine::new("", "x").unwrap();
    assert_eq!(deny.decide(&direct(), &bidi).treatment, Treatment::Blocked);
}

#[test]
fn warn_and_preview_are_decided_separately() {
    let text = r#"
        @id("all") permit (principal, action, resource);
        @id("warn-video") forbid (principal, action == Kaifang::Action::"open_directly", resource)
            when { resource.category == "video" };
        @id("no-preview-for-members") forbid (principal, action == Kaifang::Action::"preview", resource)
            when { principal.role == "member" };
    "#;
    let e = PolicyEngine::new(text, "tencent").unwrap();
    let video = link("bilibili", "bilibili", "video", "bilibili.com");
    let d = e.decide(&direct(), &video);
    assert_eq!(d.treatment, Treatment::Warn);
    assert!(!d.preview);
    assert_eq!(ids(&d), ["warn-video"]);
    let admin = Context {
        sender_role: Role::Admin,
        ..direct()
    };
    let d = e.decide(&admin, &video);
    assert_eq!(d.treatment, Treatment::Warn);
    assert!(d.preview);
}

#[test]
fn decisions_serialise_with_lowercase_treatments() {
    let d = engine().decide(&group(), &taobao());
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"treatment": "inert", "preview": false, "policies": ["groups-rival-platforms-inert"]})
    );
    let back: Decision = serde_json::from_value(json).unwrap();
    assert_eq!(back, d);
    assert!(Treatment::Blocked < Treatment::Inert && Treatment::Warn < Treatment::Live);
}

#[test]
fn invalid_policy_text_is_refused_with_cedars_message() {
    let err = PolicyEngine::new(
        "permit (principal, action, resource)\nwhen { 1 + };",
        "tencent",
    )
    .unwrap_err();
    let PolicyError::Parse(text) = &err else {
        panic!("expected a parse error, got {err:?}");
    };
    assert!(text.contains("unexpected token"), "{text}");
    assert!(text.contains("line 2"), "{text}");
}

#[test]
fn every_parse_error_is_kept() {
    let err = PolicyEngine::new(
        "permit (principal, action, resource) when { 1 + };\nforbid (;",
        "t",
    )
    .unwrap_err()
    .to_string();
    assert!(err.matches("error:").count() >= 2, "{err}");
}

#[test]
fn a_policy_reading_an_unknown_attribute_fails_validation() {
    let text = r#"forbid (principal, action, resource) when { resource.colour == "red" };"#;
    let err = PolicyEngine::new(text, "tencent").unwrap_err();
    let PolicyError::Validation(message) = &err else {
        panic!("expected a validation error, got {err:?}");
    };
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn type_errors_and_unknown_actions_fail_validation() {
    for text in [
        r#"forbid (principal, action, resource) when { resource.lists == "x" && resource.bidi + 1 == 2 };"#,
        r#"permit (principal, action == Kaifang::Action::"fly", resource);"#,
        r#"permit (principal, action, resource) when { context.conversation.kind > 3 };"#,
    ] {
        let err = PolicyEngine::new(text, "tencent").unwrap_err();
        assert!(matches!(err, PolicyError::Validation(_)), "{text}: {err:?}");
    }
}

#[test]
fn templates_and_duplicate_ids_are_refused() {
    let template = "permit (principal == ?principal, action, resource);";
    assert!(matches!(
        PolicyEngine::new(template, "t").unwrap_err(),
        PolicyError::Template(_)
    ));
    let dup = r#"@id("a") permit (principal, action, resource);
                 @id("a") forbid (principal, action, resource);"#;
    assert!(matches!(
        PolicyEngine::new(dup, "t").unwrap_err(),
        PolicyError::DuplicateId(id) if id == "a"
    ));
}

#[test]
fn unannotated_policies_are_reported_by_cedar_id() {
    let e = PolicyEngine::new("forbid (principal, action, resource);", "t").unwrap();
    assert_eq!(ids(&e.decide(&direct(), &taobao())), ["policy0"]);
}

#[test]
fn the_operator_is_readable_from_the_context() {
    let text = r#"
        @id("all") permit (principal, action, resource);
        @id("rivals-warn") forbid (principal, action == Kaifang::Action::"open_directly", resource)
            when { resource.owner != context.operator };
    "#;
    let e = PolicyEngine::new(text, "alibaba").unwrap();
    assert_eq!(e.decide(&direct(), &taobao()).treatment, Treatment::Live);
    assert_eq!(e.decide(&direct(), &wechat()).treatment, Treatment::Warn);
}

#[test]
fn the_cache_keys_on_what_the_default_policy_reads() {
    let e = engine();
    let fields = e.cache_key_fields();
    assert!(fields.contains(&"platform") && fields.contains(&"kind") && fields.contains(&"lists"));
    assert!(
        !fields.contains(&"domain")
            && !fields.contains(&"member_count")
            && !fields.contains(&"role")
    );

    // Two Taobao domains and three group sizes share one entry.
    for (domain, members) in [("taobao.com", 3), ("tb.cn", 40), ("m.taobao.com", 500)] {
        let facts = LinkFacts {
            domain: domain.into(),
            ..taobao()
        };
        let ctx = Context {
            member_count: members,
            ..group()
        };
        assert_eq!(e.decide(&ctx, &facts).treatment, Treatment::Inert);
    }
    assert_eq!(e.cache_len(), 1);
    // A fact the policy reads is a new entry, with its own decision.
    assert_eq!(e.decide(&direct(), &taobao()).treatment, Treatment::Live);
    assert_eq!(e.cache_len(), 2);
}

#[test]
fn a_policy_reading_member_count_keys_on_it() {
    let text = r#"
        @id("all") permit (principal, action, resource);
        @id("big-groups-inert") forbid (principal, action == Kaifang::Action::"linkify", resource)
            when { context.conversation.member_count > 100 };
    "#;
    let e = PolicyEngine::new(text, "tencent").unwrap();
    assert!(e.cache_key_fields().contains(&"member_count"));
    let small = Context {
        member_count: 10,
        ..group()
    };
    let big = Context {
        member_count: 101,
        ..group()
    };
    // Same facts, asked twice each: cached answers must not bleed between sizes.
    for _ in 0..2 {
        assert_eq!(e.decide(&small, &taobao()).treatment, Treatment::Live);
        assert_eq!(e.decide(&big, &taobao()).treatment, Treatment::Inert);
    }
    assert_eq!(e.cache_len(), 2);
}

#[test]
fn the_cache_stays_bounded_and_can_be_disabled() {
    let e = PolicyEngine::with_settings(
        r#"@id("all") permit (principal, action, resource is Kaifang::Link) when { resource.domain != "" };"#,
        "t",
        EngineSettings {
            cache_capacity: 64,
            ..EngineSettings::default()
        },
    )
    .unwrap();
    for i in 0..1_000 {
        let facts = LinkFacts {
            domain: format!("site{i}.example"),
            ..LinkFacts::default()
        };
        assert_eq!(e.decide(&direct(), &facts).treatment, Treatment::Live);
        assert!(e.cache_len() <= 64);
    }
    let off = PolicyEngine::with_settings(
        DEFAULT_POLICY,
        "t",
        EngineSettings {
            cache_capacity: 0,
            ..EngineSettings::default()
        },
    )
    .unwrap();
    assert_eq!(off.decide(&group(), &taobao()).treatment, Treatment::Inert);
    assert_eq!(off.cache_len(), 0);
}

#[test]
fn the_engine_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PolicyEngine>();
    let e = std::sync::Arc::new(engine());
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    let ctx = if (i + t) % 2 == 0 { direct() } else { group() };
                    let want = if ctx.conversation_kind == ConversationKind::Direct {
                        Treatment::Live
                    } else {
                        Treatment::Inert
                    };
                    assert_eq!(e.decide(&ctx, &taobao()).treatment, want);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

#[test]
fn hostile_policy_texts_are_refused_without_crashing() {
    // Scoped to links: a wallet (`offer_wallet`'s resource) has no `bidi`, and strict
    // validation refuses a rule that could read it from one.
    let when = |body: String| {
        format!("permit (principal, action, resource is Kaifang::Link) when {{ {body} }};")
    };
    // Deep nesting is refused before Cedar recurses into it.
    let deep = when(format!(
        "{}true{}",
        "(".repeat(100_000),
        ")".repeat(100_000)
    ));
    assert!(matches!(
        PolicyEngine::new(&deep, "t").unwrap_err(),
        PolicyError::TooDeep { .. }
    ));
    assert!(matches!(
        PolicyEngine::new(&" ".repeat(300_000), "t").unwrap_err(),
        PolicyError::TooLarge { .. }
    ));
    let nested = when(format!("{}true{}", "[".repeat(65), "]".repeat(65)));
    assert!(matches!(
        PolicyEngine::new(&nested, "t").unwrap_err(),
        PolicyError::TooDeep { line: 1, max: 64 }
    ));
    // Long flat chains load (on the loader's big stack) and decide on a small one.
    let ctx = direct();
    for body in [
        format!("true{}", " && resource.bidi".repeat(7_000)),
        format!("{}true", "if resource.bidi then false else ".repeat(7_000)),
        format!("1{} == 2", " + 1".repeat(7_000)),
    ] {
        let text = when(body);
        let d = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let e = PolicyEngine::new(&text, "t").unwrap();
                e.decide(&ctx, &LinkFacts::default()).treatment
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(d, Treatment::Blocked);
    }
    for text in [
        "\u{0}".repeat(10_000),
        "@id(\"".repeat(1_000),
        "!".repeat(5_000),
    ] {
        assert!(PolicyEngine::new(&text, "t").is_err());
    }
}
