//! Pragmatic e-mail address syntax check.
//!
//! Not RFC 5322: quoted local parts, comments and IP-literal domains are refused because real
//! customers do not type them and a CRM cannot reliably mail them either. International (IDN)
//! domains and UTF-8 local parts (RFC 6531) are accepted as typed.

/// Longest address that fits the SMTP path limit (RFC 5321, 4.5.3.1.3).
pub(super) const MAX_EMAIL_CHARS: usize = 254;
const MAX_LOCAL_BYTES: usize = 64;
const MAX_DOMAIN_BYTES: usize = 253;
const MAX_LABEL_BYTES: usize = 63;

/// Returns the address trimmed, with its domain lowercased, or `None` when it is not valid.
///
/// The local part keeps its case: servers may treat it case-sensitively.
pub(super) fn normalize_email(input: &str) -> Option<String> {
    let input = input.trim();
    if input.chars().count() > MAX_EMAIL_CHARS {
        return None;
    }
    let (local, domain) = input.split_once('@')?;
    if domain.contains('@') || !valid_local(local) {
        return None;
    }
    let domain = domain.to_lowercase();
    valid_domain(&domain).then(|| format!("{local}@{domain}"))
}

fn valid_local(local: &str) -> bool {
    // RFC 5322 atext plus dots, plus any non-ASCII character for RFC 6531 addresses.
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~".contains(c)
            || (!c.is_ascii() && !c.is_whitespace() && !c.is_control())
    };
    !local.is_empty()
        && local.len() <= MAX_LOCAL_BYTES
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= MAX_LABEL_BYTES
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    // An all-digit top-level label means an IP address or a typo ("mail.ru.123"), never a
    // deliverable domain.
    let tld_ok = labels
        .last()
        .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    domain.len() <= MAX_DOMAIN_BYTES && labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_lowercases_the_domain() {
        assert_eq!(
            normalize_email("ivan@example.com").as_deref(),
            Some("ivan@example.com")
        );
        assert_eq!(
            normalize_email("  Ivan.Petrov@Example.COM \n").as_deref(),
            Some("Ivan.Petrov@example.com")
        );
        assert_eq!(
            normalize_email("a+tag@mail.co.uk").as_deref(),
            Some("a+tag@mail.co.uk")
        );
        assert_eq!(
            normalize_email("o'brien@my-host.io").as_deref(),
            Some("o'brien@my-host.io")
        );
        assert_eq!(
            normalize_email("x@xn--d1acufc.xn--p1ai").as_deref(),
            Some("x@xn--d1acufc.xn--p1ai")
        );
    }

    #[test]
    fn accepts_international_domains_as_unicode() {
        assert_eq!(
            normalize_email("info@Пример.РФ").as_deref(),
            Some("info@пример.рф")
        );
        assert_eq!(
            normalize_email("иван@почта.рф").as_deref(),
            Some("иван@почта.рф")
        );
        assert_eq!(
            normalize_email("user@bücher.de").as_deref(),
            Some("user@bücher.de")
        );
    }

    #[test]
    fn rejects_invalid_addresses() {
        for input in [
            "",
            "plain",
            "@example.com",
            "ivan@",
            "ivan@localhost",
            "ivan@@example.com",
            "a@b@example.com",
            "ivan petrov@example.com",
            "ivan@exa mple.com",
            "ivan@example..com",
            "ivan@.example.com",
            "ivan@example.com.",
            "ivan@-example.com",
            "ivan@example-.com",
            "ivan@exam_ple.com",
            "ivan@192.168.0.1",
            "ivan@[192.168.0.1]",
            ".ivan@example.com",
            "ivan.@example.com",
            "iv..an@example.com",
            "\"ivan\"@example.com",
            "ivan<x>@example.com",
            "iv\tan@example.com",
        ] {
            assert_eq!(normalize_email(input), None, "{input:?} must be rejected");
        }
    }

    #[test]
    fn enforces_length_limits() {
        let local64 = "a".repeat(64);
        assert!(normalize_email(&format!("{local64}@example.com")).is_some());
        assert_eq!(normalize_email(&format!("a{local64}@example.com")), None);
        let label63 = "b".repeat(63);
        assert!(normalize_email(&format!("x@{label63}.com")).is_some());
        assert_eq!(normalize_email(&format!("x@b{label63}.com")), None);
        let long_domain = format!("{label63}.{label63}.{label63}.{label63}.com");
        assert_eq!(normalize_email(&format!("x@{long_domain}")), None);
    }
}
