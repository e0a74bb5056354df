//! Rust names for REST names: modules and fields in `snake_case`, structs in `PascalCase`.

/// Words Rust reserves (2024 edition, strict and reserved). They can still be used as
/// identifiers through the raw form `r#type`.
const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that have no raw form; they get a trailing underscore instead.
const NO_RAW: &[&str] = &["crate", "self", "super", "Self"];

/// Splits a REST name segment into lower-case words: `getExternalLink` → `get_external_link`,
/// `UF_CRM_TASK` → `uf_crm_task`, `HTMLText` → `html_text`, `volatileType` → `volatile_type`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_is_lower);
            if boundary && !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out.trim_matches('_').to_owned()
}

/// `getTranscript` → `GetTranscript`, `getlist` → `Getlist`, `forceCommonScopeForAll` →
/// `ForceCommonScopeForAll`.
pub(crate) fn pascal_case(name: &str) -> String {
    let mut out = String::new();
    for word in snake_case(name).split('_').filter(|w| !w.is_empty()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'M');
    }
    out
}

/// A module or field name: `snake_case`, raw when it is a keyword (`r#type`), with a trailing
/// underscore when it has no raw form (`self_`), `p`-prefixed when it starts with a digit
/// (positional parameters `0`, `1` become `p0`, `p1`). Returns (identifier, plain name); the
/// plain name is the file name of a module.
pub(crate) fn ident(name: &str) -> (String, String) {
    let mut plain = snake_case(name);
    if plain.is_empty() || plain.starts_with(|c: char| c.is_ascii_digit()) {
        plain.insert(0, 'p');
    }
    if NO_RAW.contains(&plain.as_str()) {
        plain.push('_');
        return (plain.clone(), plain);
    }
    if KEYWORDS.contains(&plain.as_str()) {
        return (format!("r#{plain}"), plain);
    }
    (plain.clone(), plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake_case("getExternalLink"), "get_external_link");
        assert_eq!(snake_case("UF_CRM_TASK"), "uf_crm_task");
        assert_eq!(snake_case("TASKID"), "taskid");
        assert_eq!(snake_case("HTMLText"), "html_text");
        assert_eq!(snake_case("entityTypeId"), "entity_type_id");
        assert_eq!(snake_case("v2"), "v2");
        assert_eq!(snake_case("Flow"), "flow");
        assert_eq!(pascal_case("getTranscript"), "GetTranscript");
        assert_eq!(pascal_case("getlist"), "Getlist");
        assert_eq!(pascal_case("add"), "Add");
        assert_eq!(ident("type"), ("r#type".to_owned(), "type".to_owned()));
        assert_eq!(ident("TYPE").0, "r#type");
        assert_eq!(ident("self").0, "self_");
        assert_eq!(ident("0").0, "p0");
    }
}
