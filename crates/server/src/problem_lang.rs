//! Problem answers in the reader's language: the web client sends its UI
//! language as `Accept-Language` on every call, and a Chinese interface
//! should not show English error titles. `type` and `status` never change
//! (clients branch on them); only the human `title`, and the `detail` when
//! it is one of the fixed sentences below, are translated. A detail that
//! embeds data (a policy's parse error, a size) stays English.

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;

pub use crate::api::go_page::Lang;

tokio::task_local! {
    /// The language chosen from the request's `Accept-Language`, for the
    /// whole of its handling, so that any problem built on the way knows it.
    static PROBLEM_LANG: Lang;
}

/// Middleware: chooses the language (q-values; `zh`, `zh-CN`, `zh-Hans`…
/// are Chinese; `*`, other languages and garbage fall back to English).
pub async fn scope(request: Request, next: Next) -> Response {
    let lang = choose(
        request
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    PROBLEM_LANG.scope(lang, next.run(request)).await
}

/// The language of an `Accept-Language` value.
pub fn choose(accept_language: Option<&str>) -> Lang {
    Lang::choose(None, accept_language)
}

/// The language of the request being answered (English outside one).
pub fn current() -> Lang {
    PROBLEM_LANG.try_with(|l| *l).unwrap_or(Lang::En)
}

/// The `Content-Language` value.
pub fn code(lang: Lang) -> &'static str {
    match lang {
        Lang::Zh => "zh-CN",
        Lang::En => "en",
    }
}

/// The Chinese title of a problem type (the part after `/problems/`).
pub fn title_zh(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "bad-request" => "请求有误",
        "unauthorized" => "需要登录",
        "forbidden" => "无权操作",
        "not-found" => "未找到",
        "turned-off" => "本服务器已关闭此功能",
        "method-not-allowed" => "不支持此方法",
        "conflict" => "冲突",
        "too-large" => "请求过大",
        "rate-limited" => "请求过于频繁",
        "unavailable" => "服务器繁忙",
        "database-unavailable" => "数据库暂不可用",
        "internal" => "服务器内部错误",
        "link-blocked" => "链接被拦截",
        "invalid-policy" => "策略无效",
        "image-unavailable" => "图片不可用",
        "preview-rule" => "此域名不显示预览",
        _ => return None,
    })
}

/// The Chinese form of a fixed detail sentence, if it is one.
pub fn detail_zh(detail: &str) -> Option<&'static str> {
    Some(match detail {
        "send Authorization: Bearer <token>" => "请发送 Authorization: Bearer <令牌>",
        "send Authorization: Bearer <token> or ?access_token=" => {
            "请发送 Authorization: Bearer <令牌> 或 ?access_token="
        }
        "signed out" => "已退出登录",
        "the account no longer exists" => "该账号已不存在",
        "the token is invalid or has been revoked" => "令牌无效或已被撤销",
        "wrong handle or password" => "用户名或密码错误",
        "that handle is taken" => "该用户名已被占用",
        "no such conversation" => "没有这个会话",
        "no such message" => "没有这条消息",
        "no such user" => "没有这个用户",
        "no such member" => "没有这个成员",
        "no such attachment" => "没有这个附件",
        "no such preview rule" => "没有这条预览规则",
        "the operator's preview rules exclude this link's host" => {
            "运营方的预览规则不为此链接的域名显示预览"
        }
        "no such page" | "no such resource" | "no such endpoint" => "没有这个地址",
        "this path does not answer that method; see the Allow header" => {
            "此路径不支持该方法；见 Allow 头"
        }
        "the server could not complete the request; it has been logged" => {
            "服务器未能完成请求，已记录"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_parsing() {
        // q-values: the heaviest of zh and en wins, ties go to the first.
        assert_eq!(choose(Some("en;q=0.5, zh-CN;q=0.8")), Lang::Zh);
        assert_eq!(choose(Some("zh-CN;q=0.3, en-US;q=0.9")), Lang::En);
        assert_eq!(choose(Some("zh;q=0, en;q=0.1")), Lang::En);
        // Regional and script subtags are Chinese.
        assert_eq!(choose(Some("zh-CN")), Lang::Zh);
        assert_eq!(choose(Some("zh-Hans")), Lang::Zh);
        assert_eq!(choose(Some("zh-Hans-CN,en;q=0.9")), Lang::Zh);
        assert_eq!(choose(Some("ZH-cn")), Lang::Zh);
        // `*` names no language we have: the default.
        assert_eq!(choose(Some("*")), Lang::En);
        assert_eq!(choose(Some("fr, *;q=0.5")), Lang::En);
        // Garbage and absence: English, never a panic.
        for junk in ["", ";;;,,,", "q=zh", "zh-;q=abc=1", "\u{7f}\u{0}", "日本語"] {
            let _ = choose(Some(junk));
        }
        assert_eq!(choose(Some(";;;,,,")), Lang::En);
        assert_eq!(choose(Some("日本語")), Lang::En);
        assert_eq!(choose(None), Lang::En);
    }

    #[test]
    fn every_problem_type_the_server_answers_has_a_chinese_title() {
        for kind in [
            "bad-request",
            "unauthorized",
            "forbidden",
            "not-found",
            "turned-off",
            "method-not-allowed",
            "conflict",
            "too-large",
            "rate-limited",
            "unavailable",
            "database-unavailable",
            "internal",
            "link-blocked",
            "invalid-policy",
            "image-unavailable",
            "preview-rule",
        ] {
            assert!(title_zh(kind).is_some(), "{kind}");
        }
        assert_eq!(title_zh("made-up"), None);
    }
}
