//! Cheap checks before Cedar sees a policy text. Cedar's parser and validator
//! recurse over the syntax tree, so a hostile text (100,000 nested
//! parentheses) could overflow the stack; these bound its size and nesting,
//! and loading runs on a thread with a large stack (see `EngineSettings`).

use crate::error::PolicyError;

/// Refuse texts over `max_bytes` or nested deeper than `max_nesting`
/// (parentheses, brackets and braces outside strings and comments).
pub(crate) fn check(text: &str, max_bytes: usize, max_nesting: usize) -> Result<(), PolicyError> {
    if text.len() > max_bytes {
        return Err(PolicyError::TooLarge {
            bytes: text.len(),
            max: max_bytes,
        });
    }
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut line = 1usize;
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'\n' => line += 1,
            b'"' => {
                // A string literal; `\"` does not end it.
                while let Some(c) = bytes.next() {
                    match c {
                        b'\\' => {
                            bytes.next();
                        }
                        b'"' => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                }
            }
            b'/' if bytes.peek() == Some(&b'/') => {
                for c in bytes.by_ref() {
                    if c == b'\n' {
                        line += 1;
                        break;
                    }
                }
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
                if depth > max_nesting {
                    return Err(PolicyError::TooDeep {
                        line,
                        max: max_nesting,
                    });
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;
    use crate::error::PolicyError;

    #[test]
    fn nesting_outside_strings_and_comments_counts() {
        assert!(check("((()))", 100, 3).is_ok());
        assert!(matches!(
            check("x\n((((", 100, 3),
            Err(PolicyError::TooDeep { line: 2, max: 3 })
        ));
        assert!(check("\"((((\\\"((((\" // ((((\n()", 100, 1).is_ok());
        assert!(matches!(
            check("abcdef", 5, 3),
            Err(PolicyError::TooLarge { bytes: 6, max: 5 })
        ));
    }
}
