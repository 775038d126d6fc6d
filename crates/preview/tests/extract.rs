//! The extractor on pages written for each rule and each kind of bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use kaifang_preview::{ExtractConfig, PreviewKind, apply_oembed, extract};

fn url(s: &str) -> url::Url {
    url::Url::parse(s).unwrap()
}

fn run(html: &[u8], page: &str, ct: Option<&str>) -> kaifang_preview::Preview {
    extract(html, &url(page), ct, &ExtractConfig::default())
}

const TAOBAO: &str = r#"<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>【淘宝】不锈钢保温杯 500ml-淘宝网</title>
<meta property="og:title" content="不锈钢保温杯 500ml">
<meta property="og:image" content="//img.alicdn.com/bao/uploaded/cup.jpg">
<meta property="og:site_name" content="淘宝网">
<link rel="canonical" href="https://item.taobao.com/item.htm?id=678">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"Product","name":"不锈钢保温杯",
 "offers":{"@type":"Offer","price":"199.00","priceCurrency":"CNY"}}</script></head><body><p>…</p></body></html>"#;

#[test]
fn a_taobao_style_product_page_becomes_a_product_card() {
    let p = run(
        TAOBAO.as_bytes(),
        "https://item.taobao.com/item.htm?id=678&spm=x",
        None,
    );
    assert_eq!(p.title.as_deref(), Some("不锈钢保温杯 500ml"));
    assert_eq!(
        p.image.as_deref(),
        Some("https://img.alicdn.com/bao/uploaded/cup.jpg")
    );
    assert_eq!(p.publisher.as_deref(), Some("淘宝网"));
    assert_eq!(
        (p.price.as_deref(), p.currency.as_deref()),
        (Some("199.00"), Some("CNY"))
    );
    assert_eq!(p.kind, PreviewKind::Product);
    assert_eq!(p.url, "https://item.taobao.com/item.htm?id=678");
    assert_eq!(p.lang.as_deref(), Some("zh"));
    assert_eq!(
        p.icon.as_deref(),
        Some("https://item.taobao.com/favicon.ico")
    );
    let json = serde_json::to_value(&p).unwrap();
    for k in [
        "url",
        "title",
        "description",
        "image",
        "icon",
        "publisher",
        "author",
        "date",
        "lang",
        "price",
        "currency",
        "video",
        "kind",
    ] {
        assert!(json.get(k).is_some(), "missing {k}");
    }
    assert_eq!(json["kind"], "product");
}

#[test]
fn gbk_big5_and_shift_jis_pages() {
    let (gbk, _, _) = encoding_rs::GBK
        .encode("<html><head><meta charset=\"gbk\"><title>京东商城</title></head></html>");
    assert_eq!(
        run(&gbk, "https://www.jd.com/", None).title.as_deref(),
        Some("京东商城")
    );
    let (big5, _, _) = encoding_rs::BIG5.encode("<meta http-equiv=\"Content-Type\" content=\"text/html; charset=big5\"><title>蝦皮購物</title>");
    assert_eq!(
        run(&big5, "https://shopee.tw/", None).title.as_deref(),
        Some("蝦皮購物")
    );
    let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("<title>楽天市場</title>");
    assert_eq!(
        run(
            &sjis,
            "https://www.rakuten.co.jp/",
            Some("text/html; charset=Shift_JIS")
        )
        .title
        .as_deref(),
        Some("楽天市場")
    );
}

#[test]
fn a_wrong_declared_charset_does_not_garble_utf8() {
    let page = "<meta charset=\"windows-1251\"><title>Интересные наблюдения</title>";
    assert_eq!(
        run(page.as_bytes(), "https://pikabu.ru/", None)
            .title
            .as_deref(),
        Some("Интересные наблюдения")
    );
    // Bytes that fit no declaration still produce text, never a crash.
    let p = run(
        b"<title>\xff\xfe\xfd ok</title>",
        "https://x.test/",
        Some("text/html; charset=utf-8"),
    );
    assert!(p.title.unwrap().ends_with("ok"));
}

#[test]
fn relative_urls_resolve_against_base_and_only_http_survives() {
    let page = r#"<head><base href="https://cdn.test/assets/"><meta property="og:image" content="pic.png">
        <meta property="og:video" content="javascript:alert(1)"><link rel="icon" sizes="32x32" href="/i.png"></head>"#;
    let p = run(page.as_bytes(), "https://site.test/a/b", None);
    assert_eq!(p.image.as_deref(), Some("https://cdn.test/assets/pic.png"));
    assert_eq!(p.video, None);
    assert_eq!(p.icon.as_deref(), Some("https://cdn.test/i.png"));
}

#[test]
fn entities_whitespace_and_caps() {
    let long = "长".repeat(1500);
    let page = format!(
        "<meta property=\"og:title\" content=\"  A &amp; B&nbsp;\n\t C &#x4E2D; \"><meta name=description content=\"{long}\">"
    );
    let p = run(page.as_bytes(), "https://x.test/", None);
    assert_eq!(p.title.as_deref(), Some("A & B C 中"));
    assert_eq!(p.description.unwrap().chars().count(), 1001);
}

#[test]
fn precedence_is_open_graph_then_twitter_then_json_ld_then_html() {
    let all = r#"<title>html</title><meta name="twitter:title" content="twitter"><meta property="og:title" content="og">
        <script type="application/ld+json">{"@type":"Article","headline":"ld"}</script>"#;
    assert_eq!(
        run(all.as_bytes(), "https://x.test/", None)
            .title
            .as_deref(),
        Some("og")
    );
    let no_og = all.replace("og:title", "x");
    assert_eq!(
        run(no_og.as_bytes(), "https://x.test/", None)
            .title
            .as_deref(),
        Some("twitter")
    );
    let no_tw = no_og.replace("twitter:title", "y");
    assert_eq!(
        run(no_tw.as_bytes(), "https://x.test/", None)
            .title
            .as_deref(),
        Some("ld")
    );
}

#[test]
fn videos_articles_and_oembed() {
    let page = r#"<meta property="og:type" content="video.other"><meta property="og:video" content="https://v.test/1.mp4">
        <link rel="alternate" type="application/json+oembed" href="/oembed?url=x">"#;
    let mut p = run(page.as_bytes(), "https://www.douyin.com/video/1", None);
    assert_eq!(p.kind, PreviewKind::Video);
    assert_eq!(
        p.oembed_url.as_deref(),
        Some("https://www.douyin.com/oembed?url=x")
    );
    apply_oembed(&mut p, r#"{"type":"video","title":"跳舞","author_name":"小明","provider_name":"抖音","thumbnail_url":"https://p.test/t.jpg"}"#.as_bytes());
    assert_eq!(
        (
            p.title.as_deref(),
            p.author.as_deref(),
            p.publisher.as_deref()
        ),
        (Some("跳舞"), Some("小明"), Some("抖音"))
    );
    apply_oembed(&mut p, b"not json");
    let article = r#"<meta property="og:type" content="article"><meta property="article:published_time" content="2021-09-17T08:00:00Z">"#;
    let p = run(article.as_bytes(), "https://news.test/", None);
    assert_eq!(
        (p.kind, p.date.as_deref()),
        (PreviewKind::Article, Some("2021-09-17T08:00:00.000Z"))
    );
}

#[test]
fn weixin_articles_use_the_site_rule() {
    let page = r#"<html><head><title></title></head><body><script>var msg_title = '微信开放外链'.html(false); var msg_desc = "淘宝链接";</script></body></html>"#;
    let p = run(page.as_bytes(), "https://mp.weixin.qq.com/s/abc", None);
    assert_eq!(p.title.as_deref(), Some("微信开放外链"));
    assert_eq!(p.description.as_deref(), Some("淘宝链接"));
    // The same scripts elsewhere are ignored.
    let p = run(page.as_bytes(), "https://example.com/s/abc", None);
    assert_eq!(p.title, None);
}

#[test]
fn hostile_html_never_panics() {
    let huge_attr = format!(
        "<meta property=\"og:title\" content=\"{}\">",
        "x".repeat(3_000_000)
    );
    let p = run(huge_attr.as_bytes(), "https://x.test/", None);
    assert_eq!(p.title.unwrap().chars().count(), 301);
    for page in [
        "",
        "<",
        "<<<>>>",
        "<meta",
        "<script>",
        "<!--",
        "<title>unclosed",
        "<a href='x",
        "\u{0}\u{1}<meta content=>",
        "<svg><![CDATA[ <meta property=og:title content=x> ]]>",
    ] {
        run(page.as_bytes(), "https://x.test/", None);
    }
    let no_head = "<body><h1>Hi</h1><img src=\"/hero.jpg\"></body>";
    assert_eq!(
        run(no_head.as_bytes(), "https://x.test/p", None)
            .image
            .as_deref(),
        Some("https://x.test/hero.jpg")
    );
}

#[test]
fn a_bom_beats_the_declared_charset() {
    let mut page = b"\xEF\xBB\xBF<meta charset=gbk>".to_vec();
    page.extend_from_slice("<title>淘宝</title>".as_bytes());
    assert_eq!(
        run(&page, "https://x.test/", Some("text/html; charset=gbk"))
            .title
            .as_deref(),
        Some("淘宝")
    );
    // encoding_rs does not encode into UTF-16; a UTF-16 BOM page is built by hand.
    let mut page = vec![0xFF, 0xFE];
    for u in "<title>抖音</title>".encode_utf16() {
        page.extend_from_slice(&u.to_le_bytes());
    }
    assert_eq!(
        run(&page, "https://x.test/", None).title.as_deref(),
        Some("抖音")
    );
}

#[test]
fn json_ld_video_objects_and_player_pages() {
    let page = r#"<head><script type="application/ld+json">{"@context":"https://schema.org","@graph":[
        {"@type":"VideoObject","name":"跳舞","thumbnailUrl":["/t.jpg"],"contentUrl":"/v/1.mp4",
         "embedUrl":"https://player.test/1","uploadDate":"2024-02-03T20:38:00+08:00"}]}</script></head>"#;
    let p = run(page.as_bytes(), "https://v.test/watch/1", None);
    assert_eq!(p.kind, PreviewKind::Video);
    assert_eq!(p.title.as_deref(), Some("跳舞"));
    assert_eq!(p.image.as_deref(), Some("https://v.test/t.jpg"));
    assert_eq!(p.video.as_deref(), Some("https://v.test/v/1.mp4"));
    assert_eq!(p.date.as_deref(), Some("2024-02-03T12:38:00.000Z"));
    // A player page is not a playable video, but the page is still a video.
    let player = r#"<meta property="og:type" content="video.other">
        <meta property="og:video" content="https://player.test/embed/1"><meta property="og:video:type" content="text/html">"#;
    let p = run(player.as_bytes(), "https://v.test/2", None);
    assert_eq!((p.video, p.kind), (None, PreviewKind::Video));
    let body =
        r#"<body><video poster="/p.jpg"><source src="/v.webm" type="video/webm"></video></body>"#;
    let p = run(body.as_bytes(), "https://v.test/3", None);
    assert_eq!(p.video.as_deref(), Some("https://v.test/v.webm"));
    assert_eq!(p.image.as_deref(), Some("https://v.test/p.jpg"));
}

#[test]
fn authors_from_json_ld_meta_and_bylines() {
    let ld = r#"<script type="application/ld+json">{"@type":"NewsArticle","author":[{"name":"David K. Li"},{"name":"Doha Madani"}]}</script>"#;
    assert_eq!(
        run(ld.as_bytes(), "https://n.test/", None)
            .author
            .as_deref(),
        Some("David K. Li and Doha Madani")
    );
    let byline = r#"<meta name="twitter:creator" content="@desk"><body><div class="article-byline">By <a href="/p/1">Jane Doe</a></div></body>"#;
    assert_eq!(
        run(byline.as_bytes(), "https://n.test/", None)
            .author
            .as_deref(),
        Some("Jane Doe")
    );
    let rel = r#"<body><p>Posted by <a rel="author" href="/u/kyt">Kyt&nbsp;Dotson</a></p></body>"#;
    assert_eq!(
        run(rel.as_bytes(), "https://n.test/", None)
            .author
            .as_deref(),
        Some("Kyt Dotson")
    );
    // One word in a class="author" element is not trusted; the handle is the last resort.
    let weak = r#"<meta name="twitter:creator" content="@desk"><span class="author">Staff</span>"#;
    assert_eq!(
        run(weak.as_bytes(), "https://n.test/", None)
            .author
            .as_deref(),
        Some("desk")
    );
}

#[test]
fn titles_fall_back_to_the_first_heading_never_an_svg_title() {
    let page = r#"<head><title></title></head><body><svg><title>icon</title></svg>
        <h1>Resolving the <em>Time</em> Paradox</h1></body>"#;
    assert_eq!(
        run(page.as_bytes(), "https://x.test/", None)
            .title
            .as_deref(),
        Some("Resolving the Time Paradox")
    );
}

#[test]
fn dates_are_utc_and_unparseable_dates_are_dropped() {
    let page = r#"<meta property="article:published_time" content="3 May 2016">
        <meta property="article:modified_time" content="2016-05-03T14:58:00-04:00">"#;
    assert_eq!(
        run(page.as_bytes(), "https://x.test/", None)
            .date
            .as_deref(),
        Some("2016-05-03T18:58:00.000Z")
    );
}

#[test]
fn a_page_without_date_metadata_gets_the_date_written_in_its_body() {
    let date = |body: &str| {
        let page = format!("<html><head><title>t</title></head><body>{body}</body></html>");
        run(page.as_bytes(), "https://x.test/", None).date
    };
    // A dated post, as blogs write it: noon UTC for a day without a time.
    assert_eq!(
        date(r#"<div class="post"><div class="date">Thursday, May 26, 2016 </div><h2>Bars</h2></div>"#)
            .as_deref(),
        Some("2016-05-26T12:00:00.000Z")
    );
    // Blogger: the exact instant sits in the title of an itemprop element.
    assert_eq!(
        date(r#"<abbr class="published" itemprop="datePublished" title="2024-02-03T20:38:00Z">8:38 pm</abbr>"#)
            .as_deref(),
        Some("2024-02-03T20:38:00.000Z")
    );
    // A byline with the date among other words.
    assert_eq!(
        date(r#"<p class="post-meta"> by <a rel="author" href="/a/kyt">Kyt Dotson</a> | May 16, 2016 | 3 comments</p>"#)
            .as_deref(),
        Some("2016-05-16T12:00:00.000Z")
    );
    // A `<time>` without `datetime`.
    assert_eq!(
        date("<time>26 May 2016</time>").as_deref(),
        Some("2016-05-26T12:00:00.000Z")
    );
    // A date-ish class without a date is skipped for the next one.
    assert_eq!(
        date(r#"<span class="update-label">soon</span><span class="timestamp">2016-04-08T20:30:39+00:00</span>"#)
            .as_deref(),
        Some("2016-04-08T20:30:39.000Z")
    );
    // Dates in running text, outside date elements, are not taken.
    assert_eq!(
        date("<p>The prize was announced on October 13, 2016.</p>"),
        None
    );
    // Metadata wins over the body.
    let page = r#"<meta property="article:published_time" content="2016-05-03T14:58:00Z"><body><div class="date">May 26, 2016</div>"#;
    assert_eq!(
        run(page.as_bytes(), "https://x.test/", None)
            .date
            .as_deref(),
        Some("2016-05-03T14:58:00.000Z")
    );
}

#[test]
fn the_body_scan_is_bounded() {
    let mut cfg = ExtractConfig::default();
    cfg.max_body_scan_bytes = 1024;
    let page = format!(
        "<head></head><body>{}<script type=\"application/ld+json\">{{\"@type\":\"Product\",\"offers\":{{\"price\":1}}}}</script>",
        "<p>filler</p>".repeat(1000)
    );
    let p = extract(page.as_bytes(), &url("https://x.test/"), None, &cfg);
    assert_eq!((p.price, p.kind), (None, PreviewKind::Page));
    let p = run(page.as_bytes(), "https://x.test/", None);
    assert_eq!(p.price.as_deref(), Some("1"));
}

#[test]
fn body_fallbacks_for_description_and_picture() {
    let page = r#"<head><title>T</title></head><body><img src="/logo.png" alt="logo">
        <article><p>Short.</p><img src="/hero.jpg"><p class="lead">AMD is introducing <a href="/r">Ryzen PRO</a> processors for business and commercial desktops.</p></article></body>"#;
    let p = run(page.as_bytes(), "https://x.test/a", None);
    assert_eq!(
        p.description.as_deref(),
        Some("AMD is introducing Ryzen PRO processors for business and commercial desktops.")
    );
    assert_eq!(p.image.as_deref(), Some("https://x.test/hero.jpg"));
}
