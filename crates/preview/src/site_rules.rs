//! Site-specific rules, for sites whose pages defeat the general rules.
//! Each rule names its host and has a test.

/// What a site rule found.
#[derive(Default)]
pub struct Found {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    pub publisher: Option<String>,
}

/// What the rules for `host` find in the page's inline scripts.
pub fn apply(host: &str, scripts: &[&str]) -> Found {
    if host == "mp.weixin.qq.com" {
        weixin(scripts)
    } else {
        Found::default()
    }
}

/// Whether `host` has a rule that needs inline scripts.
pub fn wants_scripts(host: &str) -> bool {
    host == "mp.weixin.qq.com"
}

fn js_var(script: &str, name: &str) -> Option<String> {
    // `var msg_title = '…'` or `"…"`, possibly with `.html(false)` after.
    let at = script.find(&format!("var {name}"))? + 4 + name.len();
    let rest = script[at..].trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let body = &rest[1..];
    let end = body.find(quote)?;
    let v = body[..end]
        .replace("\\x26", "&")
        .replace("\\x3c", "<")
        .replace("\\x3e", ">")
        .replace("\\x22", "\"")
        .replace("\\x27", "'");
    (!v.trim().is_empty()).then_some(v)
}

/// WeChat official-account articles (`mp.weixin.qq.com`) keep their title,
/// summary and cover in script variables; the `<title>` is often empty.
pub fn weixin(scripts: &[&str]) -> Found {
    let mut f = Found {
        publisher: Some("微信公众平台".into()),
        ..Found::default()
    };
    for s in scripts {
        f.title = f.title.take().or_else(|| js_var(s, "msg_title"));
        f.description = f.description.take().or_else(|| js_var(s, "msg_desc"));
        f.image = f.image.take().or_else(|| js_var(s, "msg_cdn_url"));
        if let Some(name) = js_var(s, "nickname") {
            f.publisher = Some(name);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weixin_articles_read_their_script_variables() {
        let script = r#"var nickname = "人民日报"; var msg_title = '微信开放外链：淘宝链接可以直接打开了'.html(false);
            var msg_desc = "9月17日起 \x26 更多"; var msg_cdn_url = "https://mmbiz.qpic.cn/cover.jpg";"#;
        let f = weixin(&[script]);
        assert_eq!(
            f.title.as_deref(),
            Some("微信开放外链：淘宝链接可以直接打开了")
        );
        assert_eq!(f.description.as_deref(), Some("9月17日起 & 更多"));
        assert_eq!(f.image.as_deref(), Some("https://mmbiz.qpic.cn/cover.jpg"));
        assert_eq!(f.publisher.as_deref(), Some("人民日报"));
        assert!(wants_scripts("mp.weixin.qq.com"));
        assert!(!wants_scripts("weixin.qq.com"));
    }
}
