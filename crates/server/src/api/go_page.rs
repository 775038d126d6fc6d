//! The warning page `/go` opens through: the one page where a person decides
//! whether to trust a link. Bilingual (zh/en), the web client's look
//! (`/app/go.css`), no inline script or style, so its CSP can forbid both.

use kaifang_policy::Treatment;

use crate::service::links::LinkDecision;

/// Page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// 中文.
    Zh,
    /// English.
    En,
}

impl Lang {
    fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// `?lang=` wins; else the `Accept-Language` tag of highest weight that
    /// is zh or en (ties: first listed); else English.
    pub fn choose(query: Option<&str>, accept_language: Option<&str>) -> Lang {
        match query {
            Some("zh") => return Lang::Zh,
            Some("en") => return Lang::En,
            _ => {}
        }
        let mut best: Option<(f32, Lang)> = None;
        for item in accept_language.unwrap_or_default().split(',').take(32) {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("zh") => Lang::Zh,
                Some("en") => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }
}

/// Escape for HTML text and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One phrase in both languages.
fn tr(lang: Lang, zh: &str, en: &str) -> String {
    match lang {
        Lang::Zh => zh.to_owned(),
        Lang::En => en.to_owned(),
    }
}

/// The host with its registrable domain emphasised: `item.<b>taobao.com</b>`.
fn host_html(host: &str, domain: &str) -> String {
    match host.strip_suffix(domain) {
        Some(prefix) if !domain.is_empty() && (prefix.is_empty() || prefix.ends_with('.')) => {
            format!(
                "{}<strong class=\"domain\">{}</strong>",
                escape(prefix),
                escape(domain)
            )
        }
        _ => format!("<strong class=\"domain\">{}</strong>", escape(host)),
    }
}

/// The platform's name in the page's language (the registry's `name_zh`
/// when it has one).
fn platform_name(lang: Lang, d: &LinkDecision) -> &str {
    match (lang, &d.platform_name_zh) {
        (Lang::Zh, Some(zh)) => zh,
        _ => &d.platform_name,
    }
}

/// Why the page appears, in plain words.
fn why(lang: Lang, d: &LinkDecision, kind_group: bool) -> String {
    let l = &d.decision;
    let platform = escape(platform_name(lang, d));
    let chat = match (lang, kind_group) {
        (Lang::Zh, true) => "群聊",
        (Lang::Zh, false) => "单聊",
        (Lang::En, true) => "group chats",
        (Lang::En, false) => "one-to-one chats",
    };
    let mut out = match l.treatment {
        Treatment::Blocked => tr(
            lang,
            &format!(
                "此地址在威胁名单上（{}），不能打开。",
                escape(&l.lists.join("、"))
            ),
            &format!(
                "This address is on a threat list ({}); it cannot be opened.",
                escape(&l.lists.join(", "))
            ),
        ),
        Treatment::Inert => tr(
            lang,
            &format!(
                "在{chat}中，{platform} 的链接以文字显示，不直接打开。您可以复制链接，自行决定是否打开。"
            ),
            &format!(
                "In {chat}, links to {platform} are shown as text, not opened directly. You can copy the link and decide for yourself."
            ),
        ),
        Treatment::Warn => tr(
            lang,
            "本服务的链接规则让此类链接先经过本页，方便您在前往之前看清它通向哪里。",
            "This server’s link rules send links like this through this page first, so you can see where it leads before you go.",
        ),
        Treatment::Live => tr(
            lang,
            "本服务的链接规则允许此链接直接打开。",
            "This server’s link rules let this link open directly.",
        ),
    };
    if l.mixed_script() {
        out.push(' ');
        out.push_str(&tr(
            lang,
            "注意：此地址混用了多种文字，可能在冒充其他网站。",
            "Careful: the address mixes writing systems and may imitate another site.",
        ));
    }
    if l.lookalike() {
        out.push(' ');
        out.push_str(&tr(
            lang,
            "注意：此地址与已登记平台的域名只差一个字符，可能是仿冒网站。",
            "Careful: the address is one character away from a registered platform’s domain and may be an imitation.",
        ));
    }
    out
}

/// What the page needs besides the decision.
pub struct Page<'a> {
    /// The decision for the link.
    pub link: &'a LinkDecision,
    /// Shared in a group (else a direct chat).
    pub group: bool,
    /// The URL the page was asked for (for the language switch).
    pub requested: &'a str,
    /// The page's language.
    pub lang: Lang,
}

/// Percent-encode a query value.
fn query_value(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn head(lang: Lang, title: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{}</title>\
         <link rel=\"stylesheet\" href=\"/app/go.css\"></head><body><main class=\"go-card\">",
        lang.code(),
        escape(title)
    )
}

/// The warning page.
pub fn render(page: &Page<'_>) -> String {
    let (lang, d) = (page.lang, page.link);
    let l = &d.decision;
    let url = l.canonical.as_deref().unwrap_or(&l.url);
    let title = tr(lang, "即将离开开放", "You are leaving Kaifang");
    let mut html = head(lang, &title);
    let switch = format!(
        "/go?url={}&kind={}&lang={}",
        query_value(page.requested),
        if page.group { "group" } else { "direct" },
        lang.other().code()
    );
    html.push_str(&format!(
        "<nav class=\"go-lang\"><a id=\"go-lang\" href=\"{}\" hreflang=\"{}\">{}</a></nav>",
        escape(&switch),
        lang.other().code(),
        match lang {
            Lang::Zh => "English",
            Lang::En => "中文",
        }
    ));
    html.push_str(&format!("<h1>{}</h1>", escape(&title)));
    let platform = if l.platform == "unknown" {
        tr(lang, "未登记的网站", "not a registered platform")
    } else {
        format!(
            "{} · {}",
            escape(platform_name(lang, d)),
            tr(
                lang,
                &format!("属于 {}", escape(&d.owner_name)),
                &format!("owned by {}", escape(&d.owner_name))
            )
        )
    };
    html.push_str(&format!(
        "<p class=\"go-host\" id=\"go-host\">{}</p><p class=\"go-platform\" id=\"go-platform\">{}</p>",
        host_html(&l.display_host, &l.domain),
        platform
    ));
    html.push_str(&format!(
        "<p class=\"go-url\"><code id=\"go-url\">{}</code></p>",
        escape(url)
    ));
    html.push_str(&format!(
        "<p class=\"go-why\" id=\"go-why\">{}</p><p class=\"go-policy\" id=\"go-policy\">{} <code>{}</code></p>",
        why(lang, d, page.group),
        tr(lang, "规则：", "Rule:"),
        escape(&l.policies.join(", "))
    ));
    html.push_str("<div class=\"go-actions\">");
    html.push_str(&format!(
        "<a class=\"button\" id=\"go-back\" href=\"/\">{}</a>",
        tr(lang, "返回", "Go back")
    ));
    match l.treatment {
        Treatment::Live | Treatment::Warn => html.push_str(&format!(
            "<a class=\"button primary\" id=\"go-continue\" rel=\"noopener noreferrer nofollow\" href=\"{}\">{}</a>",
            escape(url),
            tr(lang, "继续前往", "Continue")
        )),
        Treatment::Inert => html.push_str(&format!(
            "<button type=\"button\" class=\"primary\" id=\"go-copy\" data-url=\"{}\" data-copied=\"{}\">{}</button>",
            escape(url),
            tr(lang, "已复制", "Copied"),
            tr(lang, "复制链接", "Copy link")
        )),
        Treatment::Blocked => {}
    }
    html.push_str("</div></main><script src=\"/app/go.js\"></script></body></html>");
    html
}

/// The page for a `/go` request that is not a valid link: a 400, never a redirect.
pub fn invalid(lang: Lang, reason: &str) -> String {
    let title = tr(lang, "无效的链接", "Not a valid link");
    let mut html = head(lang, &title);
    html.push_str(&format!(
        "<h1>{}</h1><p class=\"go-why\" id=\"go-why\">{}</p><p class=\"go-policy\"><code>{}</code></p>\
         <div class=\"go-actions\"><a class=\"button\" id=\"go-back\" href=\"/\">{}</a></div></main></body></html>",
        escape(&title),
        tr(
            lang,
            "这不是可以打开的 http(s) 链接。",
            "This is not an http(s) link that can be opened."
        ),
        escape(reason),
        tr(lang, "返回", "Go back")
    ));
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_heaviest_of_zh_and_en() {
        assert_eq!(
            Lang::choose(None, Some("zh-CN,zh;q=0.9,en;q=0.8")),
            Lang::Zh
        );
        assert_eq!(
            Lang::choose(None, Some("fr, en-GB;q=0.7, zh;q=0.5")),
            Lang::En
        );
        assert_eq!(Lang::choose(None, Some("en;q=0.2, zh-TW;q=0.9")), Lang::Zh);
        assert_eq!(Lang::choose(None, Some("de")), Lang::En);
        assert_eq!(Lang::choose(None, None), Lang::En);
        assert_eq!(Lang::choose(Some("zh"), Some("en")), Lang::Zh);
        assert_eq!(Lang::choose(Some("xx"), Some("zh")), Lang::Zh);
    }

    #[test]
    fn the_registrable_domain_is_emphasised_on_a_label_boundary() {
        assert_eq!(
            host_html("item.taobao.com", "taobao.com"),
            "item.<strong class=\"domain\">taobao.com</strong>"
        );
        assert_eq!(
            host_html("nottaobao.com", "taobao.com"),
            "<strong class=\"domain\">nottaobao.com</strong>"
        );
        assert_eq!(
            host_html("<x>", ""),
            "<strong class=\"domain\">&lt;x&gt;</strong>"
        );
    }
}
