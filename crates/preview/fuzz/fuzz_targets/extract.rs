#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes, any declared charset: extraction returns, never panics.
    let page = url::Url::parse("https://fuzz.test/a/b?c=d").expect("static URL");
    let ct = data.first().map(|b| if b % 2 == 0 { "text/html; charset=gbk" } else { "text/html" });
    let mut p = kaifang_preview::extract(data, &page, ct, &Default::default());
    kaifang_preview::apply_oembed(&mut p, data);
});
