#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The whole pipeline on message text, with the builtin registry.

use std::sync::Arc;

use kaifang_links::{Blocklists, Registry};
use kaifang_policy::{
    Context, ConversationKind, DEFAULT_POLICY, LINK_CAP_ID, LinkEngine, LinkEngineSettings,
    LinkKind, MALFORMED_ID, Penalty, PenaltyBook, PlatformFacts, PolicyEngine, Role, Treatment,
    check_non_discrimination,
};

fn ctx(kind: ConversationKind) -> Context {
    Context {
        conversation_kind: kind,
        member_count: if kind == ConversationKind::Direct {
            2
        } else {
            30
        },
        sender_role: Role::Member,
    }
}

fn engine_with(settings: LinkEngineSettings) -> LinkEngine {
    let mut lists = Blocklists::new();
    lists.add_list("phishing", "evil-site.com\n").unwrap();
    LinkEngine::new(
        Arc::new(PolicyEngine::new(DEFAULT_POLICY, "tencent").unwrap()),
        Arc::new(Registry::builtin().unwrap()),
        Arc::new(lists),
        settings,
    )
}

fn engine() -> LinkEngine {
    engine_with(LinkEngineSettings::default())
}

const TAOBAO: &str = "快来看 https://item.taobao.com/item.htm?id=678&spm=a21 超便宜";

#[test]
fn taobao_live_in_direct_inert_in_group() {
    let e = engine();
    let d = e.evaluate(TAOBAO, &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 1);
    let l = &d[0];
    assert_eq!(l.url, "https://item.taobao.com/item.htm?id=678&spm=a21");
    assert_eq!(
        l.canonical.as_deref(),
        Some("https://item.taobao.com/item.htm?id=678")
    );
    assert_eq!(
        (l.platform.as_str(), l.owner.as_str(), l.category.as_str()),
        ("taobao", "alibaba", "commerce")
    );
    assert_eq!((l.treatment, l.preview), (Treatment::Live, true));

    let g = e.evaluate(TAOBAO, &ctx(ConversationKind::Group));
    assert_eq!((g[0].treatment, g[0].preview), (Treatment::Inert, false));
    assert_eq!(&g[0].policies[..], ["groups-rival-platforms-inert"]);
}

#[test]
fn spans_and_json_shape() {
    let e = engine();
    let d = e.evaluate("😀 jd.com/1.html", &ctx(ConversationKind::Direct));
    let json = serde_json::to_value(&d[0]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "kind": "url", "url": "jd.com/1.html", "canonical": "https://jd.com/1.html",
            "start": 2, "end": 15, "start_utf16": 3, "end_utf16": 16,
            "platform": "jd", "owner": "jd", "category": "commerce",
            "domain": "jd.com", "display_host": "jd.com", "lists": [], "flags": [],
            "treatment": "live", "preview": true, "policies": ["links-live"]
        })
    );
}

#[test]
fn blocklisted_domains_are_blocked_with_the_policy_id() {
    let e = engine();
    for kind in [ConversationKind::Direct, ConversationKind::Group] {
        let d = e.evaluate("see https://login.evil-site.com/x now", &ctx(kind));
        assert_eq!(d[0].treatment, Treatment::Blocked);
        assert_eq!(&d[0].policies[..], ["threat-listed-blocked"]);
    }
}

#[test]
fn the_operators_own_platforms_get_the_rivals_group_treatment() {
    // Tencent competes in every category it has a platform in, so WeChat is inert in groups too.
    let e = engine();
    let g = e.evaluate(
        "https://mp.weixin.qq.com/s/abc",
        &ctx(ConversationKind::Group),
    );
    assert_eq!(g[0].platform, "wechat");
    assert_eq!(g[0].treatment, Treatment::Inert);
    assert_eq!(&g[0].policies[..], ["groups-contested-house-inert"]);
    let d = e.evaluate(
        "https://mp.weixin.qq.com/s/abc",
        &ctx(ConversationKind::Direct),
    );
    assert_eq!(d[0].treatment, Treatment::Live);
    // Unregistered sites are not platforms: live in groups.
    let u = e.evaluate(
        "https://my-little-blog.example.org/post",
        &ctx(ConversationKind::Group),
    );
    assert_eq!(
        (u[0].platform.as_str(), u[0].treatment),
        ("unknown", Treatment::Live)
    );
}

#[test]
fn bidi_controls_make_a_link_inert() {
    let e = engine();
    let d = e.evaluate(
        "https://example.com/\u{202E}gpj.exe",
        &ctx(ConversationKind::Direct),
    );
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].treatment, Treatment::Inert);
    assert!(!d[0].preview);
}

#[test]
fn links_past_the_cap_are_inert_unless_threat_listed() {
    let e = engine_with(LinkEngineSettings {
        max_decided_links: 3,
        ..LinkEngineSettings::default()
    });
    let mut text: String = (0..10)
        .map(|i| format!("https://a{i}.example.com/ "))
        .collect();
    text.push_str("https://evil-site.com/");
    let d = e.evaluate(&text, &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 11);
    assert!(d[..3].iter().all(|l| l.treatment == Treatment::Live));
    assert!(
        d[3..10]
            .iter()
            .all(|l| l.treatment == Treatment::Inert && l.policies[..] == [LINK_CAP_ID])
    );
    assert!(d[3..10].iter().all(|l| l.canonical.is_none()));
    assert_eq!(d[10].treatment, Treatment::Blocked);
}

#[test]
fn ten_thousand_urls_stay_bounded() {
    let e = engine();
    let text: String = (0..10_000).map(|i| format!("x{i}.com ")).collect();
    let started = std::time::Instant::now();
    let d = e.evaluate(&text, &ctx(ConversationKind::Group));
    assert_eq!(d.len(), 1_000, "extraction cap");
    assert_eq!(
        d.iter().filter(|l| l.policies[..] == [LINK_CAP_ID]).count(),
        950
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn malformed_links_are_plain_text() {
    let e = engine();
    let d = e.evaluate(
        "http://exa mple.com http://[::zz]/ https://1.2.3.4.5/",
        &ctx(ConversationKind::Direct),
    );
    for l in &d {
        if l.canonical.is_none() {
            assert_eq!(
                (l.treatment, &l.policies[..]),
                (Treatment::Inert, &[MALFORMED_ID.to_owned()][..])
            );
        }
    }
    assert!(e.evaluate("", &ctx(ConversationKind::Direct)).is_empty());
    assert!(
        e.evaluate(&".:/".repeat(5_000), &ctx(ConversationKind::Direct))
            .len()
            <= 1_000
    );
}

#[test]
fn the_default_policy_passes_over_the_builtin_registry() {
    let registry = Registry::builtin().unwrap();
    let platforms = PlatformFacts::from_registry(&registry);
    for operator in ["tencent", "alibaba", "bytedance", "google"] {
        let engine = PolicyEngine::new(DEFAULT_POLICY, operator).unwrap();
        let report = check_non_discrimination(&engine, &platforms, operator);
        assert!(report.passed, "{operator}: {:?}", report.offences.first());
        assert_eq!(report.rows.len(), platforms.len());
    }
}

const PASSPHRASE: &str = "【夏季新款】复制这段描述￥Ab3dE5fG7hK￥后到👉淘宝👈";

/// Issue 12's "done when": under the default policy a Taobao passphrase is
/// plain text in a group and a live chip in a direct chat, like a Taobao URL.
#[test]
fn a_taobao_passphrase_is_inert_in_groups_and_live_in_direct_chats() {
    let e = engine();
    let d = e.evaluate(PASSPHRASE, &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 1, "{d:?}");
    let code = &d[0];
    assert_eq!(code.kind, LinkKind::ShareCode);
    assert_eq!(code.url, "￥Ab3dE5fG7hK￥");
    assert_eq!(
        (
            code.platform.as_str(),
            code.owner.as_str(),
            code.domain.as_str()
        ),
        ("taobao", "alibaba", "taobao.com")
    );
    assert_eq!((code.start, code.end), (12, 25));
    assert_eq!((code.treatment, code.preview), (Treatment::Live, false));
    let json = serde_json::to_value(code).unwrap();
    assert_eq!(json["kind"], "share_code");

    let g = e.evaluate(PASSPHRASE, &ctx(ConversationKind::Group));
    assert_eq!(g[0].treatment, Treatment::Inert);
    assert_eq!(&g[0].policies[..], ["groups-rival-platforms-inert"]);
    // URLs say so too.
    let url = e.evaluate(TAOBAO, &ctx(ConversationKind::Direct));
    assert_eq!(serde_json::to_value(&url[0]).unwrap()["kind"], "url");
}

/// An operator can treat codes apart from URLs: the schema exposes `kind`.
#[test]
fn a_policy_can_tell_codes_from_urls() {
    let policy = format!(
        "{DEFAULT_POLICY}\n@id(\"codes-warn\") forbid (principal, action == Kaifang::Action::\"open_directly\", resource) when {{ resource.kind == \"share_code\" }};"
    );
    let e = LinkEngine::new(
        Arc::new(PolicyEngine::new(&policy, "tencent").unwrap()),
        Arc::new(Registry::builtin().unwrap()),
        Arc::new(Blocklists::new()),
        LinkEngineSettings::default(),
    );
    let text = format!("{TAOBAO} {PASSPHRASE}");
    let d = e.evaluate(&text, &ctx(ConversationKind::Direct));
    let got: Vec<(LinkKind, Treatment)> = d.iter().map(|l| (l.kind, l.treatment)).collect();
    assert_eq!(
        got,
        [
            (LinkKind::Url, Treatment::Live),
            (LinkKind::ShareCode, Treatment::Warn)
        ]
    );
    // Asked again, from the cache: the kind is part of the key.
    let again = e.evaluate(&text, &ctx(ConversationKind::Direct));
    assert_eq!(again[1].treatment, Treatment::Warn);
    assert_eq!(again[0].treatment, Treatment::Live);
}

/// A code inside a URL belongs to the URL: one link, not two.
#[test]
fn a_code_inside_a_url_is_one_link() {
    let d = engine().evaluate(
        "淘宝 https://s.click.taobao.com/t?e=(Ab3dE5fG7hK)&p=/Zz9yX8wV7uT/",
        &ctx(ConversationKind::Direct),
    );
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].kind, LinkKind::Url);
}

/// 16 KiB of code-like tokens: URLs and codes share the per-message cap
/// (`links.max_links_per_message`); the rest is plain text.
#[test]
fn sixteen_kib_of_codes_obeys_the_link_cap() {
    let e = engine_with(LinkEngineSettings {
        max_decided_links: 20,
        ..LinkEngineSettings::default()
    });
    let text = "￥Ab3dE5fG7hK￥ 淘宝 https://jd.com/1.html ".repeat(16 * 1024 / 40);
    assert!(text.len() >= 15 * 1024);
    let d = e.evaluate(&text, &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 2 * (16 * 1024 / 40));
    assert!(d.windows(2).all(|w| w[0].start < w[1].start));
    let (decided, capped) = d.split_at(20);
    assert!(decided.iter().all(|l| l.treatment == Treatment::Live));
    assert!(
        capped
            .iter()
            .all(|l| l.treatment == Treatment::Inert && l.policies[..] == [LINK_CAP_ID])
    );
    assert!(capped.iter().any(|l| l.kind == LinkKind::ShareCode));
}

/// A typosquat of a registered domain opens through the warning page under
/// the default policy, flagged; the real domain and unrelated sites do not.
#[test]
fn lookalike_domains_are_warned() {
    let e = engine();
    for url in [
        "https://taobaoo.com/item",
        "https://www.taob4o.com/",
        "https://tmal.com/x",
    ] {
        let d = e.evaluate(url, &ctx(ConversationKind::Direct));
        assert_eq!(d[0].treatment, Treatment::Warn, "{url}: {d:?}");
        assert_eq!(&d[0].policies[..], ["lookalikes-warn"], "{url}");
        assert!(d[0].lookalike(), "{url}");
        assert_eq!(d[0].platform, "unknown");
    }
    for url in [
        "https://item.taobao.com/x",
        "https://example.org/",
        "https://jb.com/",
    ] {
        let d = e.evaluate(url, &ctx(ConversationKind::Direct));
        assert!(!d[0].lookalike(), "{url}");
        assert_eq!(d[0].treatment, Treatment::Live, "{url}");
    }
}

#[test]
fn a_penalised_domain_is_inert_while_the_book_says_so() {
    let book = Arc::new(PenaltyBook::new());
    let e = engine().with_penalties(Arc::clone(&book));
    let direct = ctx(ConversationKind::Direct);
    let decide = |text: &str| {
        let d = e.evaluate(text, &direct);
        (d[0].treatment, d[0].penalty, d[0].policies.to_vec())
    };
    let code = "复制这段描述￥AbCd1234XyZ￥打开淘宝";
    let before = decide(TAOBAO);
    assert_eq!((before.0, before.1), (Treatment::Live, Penalty::None));
    assert_eq!(decide(code).0, Treatment::Live);

    // Restricted: the default policy makes its links (and its codes) plain text,
    // although the decision for this context was already cached as live.
    book.replace([("taobao.com".to_owned(), Penalty::Restricted)]);
    let expected = vec!["penalised-domains-inert".to_owned()];
    assert_eq!(
        decide(TAOBAO),
        (Treatment::Inert, Penalty::Restricted, expected.clone())
    );
    assert_eq!(
        decide(code),
        (Treatment::Inert, Penalty::Restricted, expected)
    );
    // Another platform's links are untouched.
    let jd = e.evaluate("https://item.jd.com/100012043978.html", &direct);
    assert_eq!(
        (jd[0].treatment, jd[0].penalty),
        (Treatment::Live, Penalty::None)
    );

    book.replace([("taobao.com".to_owned(), Penalty::Suspended)]);
    assert_eq!(decide(TAOBAO).1, Penalty::Suspended);
    assert_eq!(decide(TAOBAO).0, Treatment::Inert);

    // Lifted: live again, and the JSON says nothing about penalties.
    book.replace([]);
    assert_eq!(decide(TAOBAO), before);
    let json = serde_json::to_value(&e.evaluate(TAOBAO, &direct)[0]).unwrap();
    assert!(json.get("penalty").is_none(), "{json}");
}

// Payment links (issue 10, item 1): links of `kind: "payment"`, named after their wallet and
// decided by the same policy.

const WXP: &str = "wxp://f2f0qzJL49oCBGKRbD4ugro9eeYs3PSZNop";
const ALIPAY_QR: &str = "https://qr.alipay.com/tsxwounogmbivowr90";
const UNIONPAY_EMVCO: &str = "00020101021137330010a00000033301151154887138211385204581253031565802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104幸运水果0202上海63042DA7";

#[test]
fn a_wallet_deep_link_is_a_payment_link_of_its_wallet() {
    let text = format!("我的收款码 {WXP} 谢谢");
    let d = engine().evaluate(&text, &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 1, "{d:?}");
    let l = &d[0];
    assert_eq!(l.kind, LinkKind::Payment);
    assert_eq!(l.url, WXP);
    assert_eq!(
        (l.platform.as_str(), l.owner.as_str(), l.category.as_str()),
        ("wechat-pay", "tencent", "payments")
    );
    assert_eq!(l.treatment, Treatment::Live);
    assert!(!l.preview, "a payment link is never previewed");
    assert_eq!(l.canonical, None);
    // Offsets are the link's place in the text, in code points and UTF-16 units.
    let prefix = "我的收款码 ";
    assert_eq!(l.start, prefix.chars().count());
    assert_eq!(l.end_utf16 - l.start_utf16, WXP.len());
}

#[test]
fn a_payment_url_is_one_link_of_kind_payment_with_its_url_facts() {
    let text = format!("{ALIPAY_QR}\n谢谢老板");
    let d = engine().evaluate(&text, &ctx(ConversationKind::Direct));
    assert_eq!(
        d.len(),
        1,
        "found once, not as a URL and again as a payment: {d:?}"
    );
    let l = &d[0];
    assert_eq!(l.kind, LinkKind::Payment);
    assert_eq!((l.platform.as_str(), l.owner.as_str()), ("alipay", "ant"));
    assert_eq!(l.domain.as_str(), "alipay.com");
    assert!(
        l.canonical.is_some(),
        "a payment URL is normalised like any URL"
    );
    assert!(!l.preview, "a payment page is never fetched for a preview");
}

#[test]
fn a_help_page_on_a_wallet_domain_stays_a_url() {
    let d = engine().evaluate(
        "看看 https://qr.alipay.com/help.htm 和 https://pay.weixin.qq.com/index.php/public/wechatpay",
        &ctx(ConversationKind::Direct),
    );
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(d.iter().all(|l| l.kind == LinkKind::Url), "{d:?}");
}

#[test]
fn an_emvco_payload_names_its_provider_from_the_merchant_account() {
    let text = format!("扫这个：{UNIONPAY_EMVCO}");
    let d = engine().evaluate(&text, &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0].kind, LinkKind::Payment);
    assert_eq!(
        (d[0].platform.as_str(), d[0].owner.as_str()),
        ("unionpay", "unionpay")
    );
    assert_eq!(d[0].url, UNIONPAY_EMVCO);
}

#[test]
fn a_url_written_inside_a_deep_link_is_not_a_second_link() {
    let deep = "alipays://platformapi/startapp?appId=20000067&url=https://qr.alipay.com/fkxfap06ip1zk6u8oek";
    let d = engine().evaluate(&format!("付款 {deep} 谢谢"), &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].kind, d[0].url.as_str()), (LinkKind::Payment, deep));
}

#[test]
fn links_of_every_kind_come_in_order_of_appearance() {
    let text = format!("{TAOBAO} 付款 {WXP} 口令 ￥Ab3dE5fG7hK￥ 再付 {ALIPAY_QR}");
    let d = engine().evaluate(&text, &ctx(ConversationKind::Direct));
    let kinds: Vec<_> = d.iter().map(|l| (l.kind, l.platform.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (LinkKind::Url, "taobao"),
            (LinkKind::Payment, "wechat-pay"),
            (LinkKind::ShareCode, "taobao"),
            (LinkKind::Payment, "alipay"),
        ]
    );
    assert!(d.windows(2).all(|w| w[0].end <= w[1].start), "{d:?}");
}

#[test]
fn a_policy_can_treat_payment_links_by_kind() {
    let policy = format!(
        "{DEFAULT_POLICY}\n@id(\"payments-inert-in-groups\")\nforbid (principal, action == Kaifang::Action::\"linkify\", resource)\nwhen {{ resource.kind == \"payment\" && context.conversation.kind == \"group\" }};\n"
    );
    let e = LinkEngine::new(
        Arc::new(PolicyEngine::new(&policy, "tencent").unwrap()),
        Arc::new(Registry::builtin().unwrap()),
        Arc::new(Blocklists::new()),
        LinkEngineSettings::default(),
    );
    let text = format!("{WXP} https://www.jd.com/");
    let direct = e.evaluate(&text, &ctx(ConversationKind::Direct));
    assert_eq!(direct[0].treatment, Treatment::Live);
    let group = e.evaluate(&text, &ctx(ConversationKind::Group));
    assert_eq!(group[0].treatment, Treatment::Inert);
    assert!(
        group[0]
            .policies
            .iter()
            .any(|p| p == "payments-inert-in-groups"),
        "{:?}",
        group[0].policies
    );
    // An ordinary URL in the same message is not a payment and is untouched by that rule.
    assert!(
        !group[1]
            .policies
            .iter()
            .any(|p| p == "payments-inert-in-groups")
    );
}

#[test]
fn payment_links_past_the_cap_are_plain_text_with_their_wallet_named() {
    let e = engine_with(LinkEngineSettings {
        max_decided_links: 1,
        ..LinkEngineSettings::default()
    });
    let d = e.evaluate(&format!("{TAOBAO} {WXP}"), &ctx(ConversationKind::Direct));
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].kind, LinkKind::Payment);
    assert_eq!(d[1].treatment, Treatment::Inert);
    assert_eq!(d[1].platform.as_str(), "wechat-pay");
    assert_eq!(&*d[1].policies, [LINK_CAP_ID.to_owned()]);
}
