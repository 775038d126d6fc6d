//! Homograph checks on host labels, after UTS #39's "highly restrictive" level: a label may use one
//! script, or Latin with the Han-based combinations of Chinese, Japanese and Korean. A label written
//! wholly in Cyrillic or Greek letters that look Latin, under an ASCII TLD, is also suspicious.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Greek,
    Cyrillic,
    Han,
    Hiragana,
    Katakana,
    Bopomofo,
    Hangul,
    /// Any other script, told apart by its 256-code-point block.
    Other(u32),
}

/// `None` for characters every script shares (digits, `-`, combining marks, the prolonged sound mark).
fn script(c: char) -> Option<Script> {
    let cp = u32::from(c);
    Some(match cp {
        0x30..=0x39 | 0x2D | 0x5F | 0x300..=0x36F | 0x30FC | 0x3005 => return None,
        0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F | 0x1E00..=0x1EFF => Script::Latin,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Script::Greek,
        0x400..=0x52F | 0x2DE0..=0x2DFF | 0xA640..=0xA69F => Script::Cyrillic,
        0x3040..=0x309F => Script::Hiragana,
        0x30A0..=0x30FF | 0x31F0..=0x31FF => Script::Katakana,
        0x3100..=0x312F | 0x31A0..=0x31BF => Script::Bopomofo,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Script::Hangul,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3FFFF => Script::Han,
        _ => Script::Other(cp >> 8),
    })
}

fn allowed_set(scripts: &[Script]) -> bool {
    use Script::*;
    if scripts.windows(2).all(|w| w[0] == w[1]) {
        return true;
    }
    let within = |set: &[Script]| scripts.iter().all(|s| set.contains(s));
    within(&[Latin, Han, Hiragana, Katakana])
        || within(&[Latin, Han, Bopomofo])
        || within(&[Latin, Han, Hangul])
}

/// Cyrillic and Greek letters that pass for Latin ones.
const LATIN_LOOKALIKES: &str = "аысԁеԍһіюјӏорԗԛѕԝхуъЬҽпгѵѡвкмнтαεικνορτυχ";

/// Is this Unicode label a likely homograph? `ascii_tld` says whether the host's TLD is ASCII.
pub(crate) fn suspicious_label(label: &str, ascii_tld: bool) -> bool {
    let scripts: Vec<Script> = label.chars().filter_map(script).collect();
    if !allowed_set(&scripts) {
        return true;
    }
    let whole_script = matches!(scripts.first(), Some(Script::Cyrillic | Script::Greek));
    whole_script
        && ascii_tld
        && label
            .chars()
            .all(|c| script(c).is_none() || LATIN_LOOKALIKES.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_mixed_and_lookalike_labels() {
        assert!(suspicious_label("pаypal", true)); // Cyrillic а
        assert!(suspicious_label("аррӏе", true)); // all-Cyrillic lookalike
        assert!(!suspicious_label("пример", false)); // Cyrillic under .рф
        assert!(!suspicious_label("淘宝", true));
        assert!(!suspicious_label("ドメイン名例", true));
        assert!(!suspicious_label("abc中文", true));
        assert!(!suspicious_label("bücher", true));
        assert!(suspicious_label("gοοgle", true)); // Greek omicrons
    }
}
