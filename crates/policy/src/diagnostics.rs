//! Render Cedar's diagnostics as plain text: every error, its location as
//! line and column in the policy text, its help, and related errors.

use std::fmt::Write as _;

use miette::Diagnostic;

/// Most related diagnostics followed, so a pathological error chain stays bounded.
const MAX_RELATED_DEPTH: usize = 8;

/// Append one diagnostic (and its related ones) to `out`.
pub(crate) fn render(out: &mut String, diag: &dyn Diagnostic, source: &str) {
    render_at(out, diag, source, 0);
}

fn render_at(out: &mut String, diag: &dyn Diagnostic, source: &str, depth: usize) {
    let indent = "  ".repeat(depth);
    let _ = writeln!(out, "{indent}error: {diag}");
    if let Some(labels) = diag.labels() {
        for label in labels {
            let (line, column) = line_column(source, label.offset());
            let snippet = source
                .get(label.offset()..label.offset().saturating_add(label.len()))
                .unwrap_or("");
            let _ = write!(out, "{indent}  --> line {line}, column {column}");
            if !snippet.is_empty() && snippet.len() <= 80 && !snippet.contains('\n') {
                let _ = write!(out, ": `{snippet}`");
            }
            match label.label() {
                Some(text) => {
                    let _ = writeln!(out, " ({text})");
                }
                None => out.push('\n'),
            }
        }
    }
    if let Some(help) = diag.help() {
        let _ = writeln!(out, "{indent}  help: {help}");
    }
    if depth < MAX_RELATED_DEPTH
        && let Some(related) = diag.related()
    {
        for inner in related {
            render_at(out, inner, source, depth + 1);
        }
    }
}

/// 1-based line and column (in characters) of a byte offset; clamped to the text.
fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(source.len());
    while !source.is_char_boundary(end) {
        end -= 1;
    }
    let before = &source[..end];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn line_column_counts_characters_and_clamps() {
        assert_eq!(line_column("ab\ncd", 0), (1, 1));
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 3), (2, 1));
        assert_eq!(line_column("ab", 99), (1, 3));
        // Inside a multi-byte character: falls back to its start.
        assert_eq!(line_column("é", 1), (1, 1));
    }
}
