//! Standard base64 (RFC 4648 §4, with `=` padding), the encoding Bitrix24 expects for inline
//! file content.
//!
//! The SDK only ever encodes, and only small files (larger ones go through the two-step
//! upload), so a few lines here spare every user a dependency.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The base64 text of `bytes`, padded, without line breaks and without a `data:` prefix.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    let mut chunks = bytes.chunks_exact(3);
    for chunk in &mut chunks {
        let n = (u32::from(chunk[0]) << 16) | (u32::from(chunk[1]) << 8) | u32::from(chunk[2]);
        for shift in [18, 12, 6, 0] {
            out.push(symbol(n >> shift));
        }
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.push(symbol(n >> 18));
            out.push(symbol(n >> 12));
            out.push_str("==");
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.push(symbol(n >> 18));
            out.push(symbol(n >> 12));
            out.push(symbol(n >> 6));
            out.push('=');
        }
        _ => {}
    }
    out
}

/// The length of the padded encoding of `len` bytes.
pub(crate) fn encoded_len(len: usize) -> usize {
    len.div_ceil(3).saturating_mul(4)
}

fn symbol(sextet: u32) -> char {
    // The mask keeps the index below 64, so the lookup cannot go out of bounds.
    char::from(ALPHABET[(sextet & 63) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_test_vectors() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(encode(plain.as_bytes()), encoded, "{plain:?}");
            assert_eq!(encoded_len(plain.len()), encoded.len(), "{plain:?}");
        }
    }

    #[test]
    fn uses_the_standard_alphabet_for_every_byte() {
        // 0xfb 0xff 0xbf exercises `+` and `/`, which the URL-safe alphabet would replace.
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
        let all: Vec<u8> = (0..=255).collect();
        let encoded = encode(&all);
        assert_eq!(encoded.len(), encoded_len(256));
        assert!(encoded.starts_with("AAECAwQFBgcICQoLDA0ODxAR"));
        assert!(encoded.ends_with("+/w=="));
    }

    #[test]
    fn round_trips_against_a_reference_decoder() {
        fn decode(text: &str) -> Vec<u8> {
            let mut bits = 0u32;
            let mut count = 0;
            let mut out = Vec::new();
            for c in text.bytes().filter(|&c| c != b'=') {
                let value = ALPHABET.iter().position(|&a| a == c).unwrap();
                bits = (bits << 6) | u32::try_from(value).unwrap();
                count += 6;
                if count >= 8 {
                    count -= 8;
                    out.push(u8::try_from((bits >> count) & 0xff).unwrap());
                }
            }
            out
        }
        let mut state = 0x2545_f491_u32;
        for len in 0..200 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state.to_le_bytes()[0]
                })
                .collect();
            assert_eq!(decode(&encode(&bytes)), bytes, "length {len}");
        }
    }
}
