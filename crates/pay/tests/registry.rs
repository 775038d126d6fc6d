//! The wallet registry: the shipped file parses and agrees with data/platforms.toml; a broken entry
//! is refused with its name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};

use kaifang_pay::{AdapterKind, Error, WalletRegistry};

const WALLETS: &str = include_str!("../../../data/wallets.toml");
const PLATFORMS: &str = include_str!("../../../data/platforms.toml");

/// (platform id -> (owner, category)) and the owner ids of data/platforms.toml.
fn platforms() -> (BTreeMap<String, (String, String)>, BTreeSet<String>) {
    let value: toml::Value = toml::from_str(PLATFORMS).unwrap();
    let owners = value["owners"]
        .as_table()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let platforms = value["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let s = |k: &str| p[k].as_str().unwrap().to_owned();
            (s("id"), (s("owner"), s("category")))
        })
        .collect();
    (platforms, owners)
}

#[test]
fn the_shipped_registry_parses_and_lists_the_required_wallets() {
    let registry = WalletRegistry::parse(WALLETS).unwrap();
    let wallet = |id: &str| registry.wallet(id).unwrap();
    assert_eq!(wallet("wechat-pay").owner, "tencent");
    assert_eq!(wallet("wechat-pay").adapter, AdapterKind::WechatpayV3);
    assert_eq!(wallet("alipay").owner, "ant");
    assert_eq!(wallet("alipay").adapter, AdapterKind::AlipayOpenapi);
    assert_eq!(wallet("unionpay").owner, "unionpay");
    assert_eq!(wallet("jd-pay").owner, "jd");
    // The 2024 openings the issue is about.
    let accepts = |p: &str| registry.merchant(p).unwrap().accepts.clone();
    for p in ["taobao", "tmall"] {
        assert!(accepts(p).contains(&"wechat-pay".to_owned()), "{p}");
        assert!(accepts(p).contains(&"alipay".to_owned()), "{p}");
    }
    for w in ["wechat-pay", "jd-pay", "unionpay", "alipay"] {
        assert!(accepts("jd").contains(&w.to_owned()), "jd {w}");
    }
}

#[test]
fn merchants_are_exactly_the_commerce_platforms_and_owners_are_known() {
    let registry = WalletRegistry::parse(WALLETS).unwrap();
    let (platforms, platform_owners) = platforms();
    let commerce: BTreeSet<&str> = platforms
        .iter()
        .filter(|(_, (_, category))| category == "commerce")
        .map(|(id, _)| id.as_str())
        .collect();
    let merchants: BTreeSet<&str> = registry
        .merchants
        .iter()
        .map(|m| m.platform.as_str())
        .collect();
    assert_eq!(
        merchants, commerce,
        "merchants vs commerce platforms of data/platforms.toml"
    );
    for w in &registry.wallets {
        assert!(
            platform_owners.contains(&w.owner) || registry.owners.contains_key(&w.owner),
            "wallet {} has undeclared owner {}",
            w.id,
            w.owner
        );
        // A wallet that is also a platform (alipay, wechat-pay, paypal) has the same owner there.
        if let Some((owner, _)) = platforms.get(&w.id) {
            assert_eq!(
                owner, &w.owner,
                "wallet {} owner differs from data/platforms.toml",
                w.id
            );
        }
    }
    // The file declares only owners the platform registry lacks.
    for id in registry.owners.keys() {
        assert!(
            !platform_owners.contains(id),
            "owner {id} is already in data/platforms.toml"
        );
    }
}

const BASE: &str = r#"
[[wallets]]
id = "alipay"
name = "Alipay"
owner = "ant"
adapter = "alipay_openapi"
"#;

fn entry_error(text: &str) -> (String, String) {
    match WalletRegistry::parse(text) {
        Err(Error::RegistryEntry { entry, reason }) => (entry, reason),
        other => panic!("expected an entry error, got {other:?}"),
    }
}

#[test]
fn broken_entries_are_refused_by_name() {
    let unknown_adapter = BASE.replace("alipay_openapi", "stripe");
    let (entry, reason) = entry_error(&unknown_adapter);
    assert_eq!(entry, r#"wallets[0] "alipay""#);
    assert!(
        reason.contains(r#"unknown adapter kind "stripe""#),
        "{reason}"
    );

    let duplicate = format!("{BASE}{BASE}");
    let (entry, reason) = entry_error(&duplicate);
    assert_eq!(entry, r#"wallets[1] "alipay""#);
    assert_eq!(reason, "duplicate wallet id");

    let unknown_wallet = format!(
        "{BASE}\n[[merchants]]\nplatform = \"taobao\"\naccepts = [\"alipay\", \"applepay\"]\n"
    );
    let (entry, reason) = entry_error(&unknown_wallet);
    assert_eq!(entry, r#"merchants[0] "taobao""#);
    assert_eq!(reason, r#"accepts unknown wallet "applepay""#);

    let merchant = "\n[[merchants]]\nplatform = \"jd\"\naccepts = [\"alipay\"]\n";
    let (entry, reason) = entry_error(&format!("{BASE}{merchant}{merchant}"));
    assert_eq!(entry, r#"merchants[1] "jd""#);
    assert_eq!(reason, "duplicate merchant");

    let twice =
        format!("{BASE}\n[[merchants]]\nplatform = \"jd\"\naccepts = [\"alipay\", \"alipay\"]\n");
    assert_eq!(entry_error(&twice).1, r#"accepts "alipay" twice"#);

    let upper = BASE.replace("id = \"alipay\"", "id = \"AliPay\"");
    assert_eq!(entry_error(&upper).0, r#"wallets[0] "AliPay""#);
}

#[test]
fn syntax_errors_and_unknown_keys_are_refused() {
    assert!(matches!(
        WalletRegistry::parse("[[wallets]\n"),
        Err(Error::RegistrySyntax(_))
    ));
    let typo = BASE.replace("adapter =", "adaptor =");
    match WalletRegistry::parse(&typo) {
        Err(Error::RegistrySyntax(m)) => assert!(m.contains("adaptor"), "{m}"),
        other => panic!("{other:?}"),
    }
}

/// The compiled-in registry (what the non-discrimination check uses by default) is the shipped file.
#[test]
fn the_builtin_registry_is_the_shipped_file() {
    assert_eq!(
        WalletRegistry::builtin().unwrap(),
        WalletRegistry::parse(WALLETS).unwrap()
    );
}
