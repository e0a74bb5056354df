//! Cleaning of free-text values.

/// Trims `input` and removes control characters.
///
/// Multi-line fields keep newlines (CR LF and lone CR become LF) and tabs. Single-line fields
/// turn them into spaces, since a line break in a name or a UTM tag is always a paste accident
/// and would break CRM titles and CSV exports.
pub(super) fn clean(input: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if multiline => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\n' | '\t' if multiline => out.push(c),
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn single_line_values_lose_line_breaks_and_controls() {
        assert_eq!(clean("  Иван\tПетров \r\n", false), "Иван Петров");
        assert_eq!(
            clean("a\u{0}b\u{7}c\u{1b}[31md\u{7f}\u{85}", false),
            "abc[31md"
        );
        assert_eq!(clean(" \n\t ", false), "");
    }

    #[test]
    fn multi_line_values_keep_newlines_and_tabs() {
        assert_eq!(
            clean("\n Hello,\r\n\tworld\rbye\u{0} \n", true),
            "Hello,\n\tworld\nbye"
        );
    }
}
