//! Phone numbers to E.164.

use phonenumber::{Mode, country};

/// Longest input worth handing to the parser; E.164 has at most 15 digits, the rest is room for
/// separators people type.
pub(super) const MAX_PHONE_CHARS: usize = 64;

/// Normalizes a phone number typed into the form to E.164 (`+79991234567`).
///
/// Numbers without a leading `+` are read as national numbers of `region`, so with
/// [`country::Id::RU`] the habitual `8 999 123-45-67` becomes `+79991234567`. Returns `None`
/// when the input is not a valid number.
pub(super) fn normalize_phone(input: &str, region: country::Id) -> Option<String> {
    let input = input.trim();
    if input.is_empty() || input.chars().count() > MAX_PHONE_CHARS {
        return None;
    }
    // The parser is lenient in ways a contact form should not be: it turns letters into digits
    // (vanity numbers like 1-800-FLOWERS) and reads "ext. 12" suffixes that a CRM phone field
    // would silently drop. Only digits and the separators people actually type get through.
    let allowed =
        |c: char| c.is_ascii_digit() || matches!(c, ' ' | '\u{a0}' | '-' | '(' | ')' | '.' | '+');
    if !input.chars().all(allowed) || input.rfind('+').is_some_and(|i| i != 0) {
        return None;
    }
    let digits = input.chars().filter(char::is_ascii_digit).count();
    if !(3..=17).contains(&digits) {
        return None;
    }
    let number = phonenumber::parse(Some(region), input).ok()?;
    phonenumber::is_valid(&number).then(|| number.format().mode(Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ru(input: &str) -> Option<String> {
        normalize_phone(input, country::Id::RU)
    }

    #[test]
    fn russian_trunk_prefix_8_becomes_plus_7() {
        assert_eq!(ru("89991234567").as_deref(), Some("+79991234567"));
        assert_eq!(ru("8 (999) 123-45-67").as_deref(), Some("+79991234567"));
        assert_eq!(ru("8-495-123-45-67").as_deref(), Some("+74951234567"));
    }

    #[test]
    fn international_forms_of_russian_numbers() {
        assert_eq!(ru("+79991234567").as_deref(), Some("+79991234567"));
        assert_eq!(ru("+7 (999) 123-45-67").as_deref(), Some("+79991234567"));
        assert_eq!(ru(" +7 999 123 45 67 ").as_deref(), Some("+79991234567"));
        assert_eq!(ru("+7.999.123.45.67").as_deref(), Some("+79991234567"));
        assert_eq!(ru("9991234567").as_deref(), Some("+79991234567"));
    }

    #[test]
    fn foreign_numbers_with_plus_keep_their_country() {
        assert_eq!(ru("+44 20 7946 0958").as_deref(), Some("+442079460958"));
        assert_eq!(ru("+1 (415) 555-2671").as_deref(), Some("+14155552671"));
        assert_eq!(ru("+49 30 901820").as_deref(), Some("+4930901820"));
    }

    #[test]
    fn default_region_applies_to_national_numbers() {
        assert_eq!(
            normalize_phone("020 7946 0958", country::Id::GB).as_deref(),
            Some("+442079460958")
        );
        assert_eq!(
            normalize_phone("(415) 555-2671", country::Id::US).as_deref(),
            Some("+14155552671")
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for input in [
            "",
            "   ",
            "abc",
            "call me",
            "12",
            "8999",
            "+7999123456789012",
            "1-800-FLOWERS",
            "+7 999 123-45-67 ext. 12",
            "7+9991234567",
            "++79991234567",
            "8 (000) 000-00-00",
            "+0 999 123 45 67",
            "89991234567; DROP TABLE",
        ] {
            assert_eq!(ru(input), None, "{input:?} must be rejected");
        }
        assert_eq!(ru(&"1".repeat(MAX_PHONE_CHARS + 1)), None);
    }
}
