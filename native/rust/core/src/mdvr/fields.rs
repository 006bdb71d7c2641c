//! Token grammar of the comma-separated fields.
//!
//! Every rule is deliberately narrow and spelled out, because the pure-Python reference parser
//! (`protocols/mdvr_ref.py`) implements the same rules and the two are compared value for value:
//! Python's `int()`/`float()` alone would accept `1_0`, ` 1`, `inf` or `1e5`, Rust's would accept
//! some of those and not others. Each function returns `None` for anything outside its grammar;
//! callers turn that into an absent field.
//!
//! | rule | grammar | value |
//! |---|---|---|
//! | integer | `[+-]?[0-9]{1,18}` | i64 (18 digits never overflow) |
//! | unsigned | `[0-9]{1,18}` | i64 ≥ 0 |
//! | decimal | `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)`, ≤ 32 chars | f64, correctly rounded |
//! | flags | exactly 16 hex digits | 8 bytes, byte 1 first |
//! | channel mask | see [`channel_mask`] | i64 |
//! | coordinate | degree token `[+-]?[0-9]{1,18}`, minutes and seconds×10⁷ unsigned | f64 |

/// Longest decimal token accepted (keeps the float parse bounded; real ones are ≤ 10 chars).
pub const MAX_DECIMAL_LEN: usize = 32;
/// Longest digit run accepted by the integer rules: 18 digits always fit an i64.
pub const MAX_INT_DIGITS: usize = 18;
/// Longest hex channel mask: 15 hex digits always fit an i64.
pub const MAX_HEX_MASK_DIGITS: usize = 15;

fn all_digits(tok: &[u8]) -> bool {
    tok.iter().all(u8::is_ascii_digit)
}

fn digits_value(tok: &[u8]) -> Option<i64> {
    if tok.is_empty() || tok.len() > MAX_INT_DIGITS || !all_digits(tok) {
        return None;
    }
    // ≤ 18 digits: at most 999_999_999_999_999_999 < i64::MAX, so plain arithmetic is exact.
    Some(
        tok.iter()
            .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0')),
    )
}

/// Split an optional leading sign: `(negative, rest)`.
fn split_sign(tok: &[u8]) -> (bool, &[u8]) {
    match tok.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, tok),
    }
}

/// `[+-]?[0-9]{1,18}`.
pub fn integer(tok: &[u8]) -> Option<i64> {
    let (negative, digits) = split_sign(tok);
    let v = digits_value(digits)?;
    Some(if negative { -v } else { v })
}

/// `[0-9]{1,18}` (no sign).
pub fn unsigned(tok: &[u8]) -> Option<i64> {
    digits_value(tok)
}

/// `[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)` of at most [`MAX_DECIMAL_LEN`] bytes.
pub fn decimal(tok: &[u8]) -> Option<f64> {
    if tok.len() > MAX_DECIMAL_LEN {
        return None;
    }
    let (_, body) = split_sign(tok);
    let (int_part, frac_part) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (body.get(..dot)?, Some(body.get(dot + 1..)?)),
        None => (body, None),
    };
    let has_digits = !int_part.is_empty() || frac_part.is_some_and(|f| !f.is_empty());
    if !has_digits || !all_digits(int_part) || !frac_part.is_none_or(all_digits) {
        return None;
    }
    // The grammar above is a subset of what `f64::from_str` accepts (sign, "1.", ".5").
    std::str::from_utf8(tok).ok()?.parse::<f64>().ok()
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Exactly 16 hex digits → 8 bytes (the status flags and mask of §3, fields 10 and 11).
pub fn flags(tok: &[u8]) -> Option<[u8; 8]> {
    if tok.len() != 16 {
        return None;
    }
    let mut out = [0u8; 8];
    for (byte, pair) in out.iter_mut().zip(tok.chunks_exact(2)) {
        let [hi, lo] = pair else { return None };
        *byte = (hex_value(*hi)? << 4) | hex_value(*lo)?;
    }
    Some(out)
}

/// A channel mask, decimal or hex (§4.5: real devices send decimal `1`, `2`, `16`, `128`; the
/// doc writes 4 hex digits such as `000A`). Decided per token:
///
/// 1. exactly 4 hex digits starting with `0` → hex (the doc's zero-padded format: `0010` = 16);
/// 2. otherwise 1–18 decimal digits → decimal;
/// 3. otherwise 1–15 hex digits → hex (`F7`);
/// 4. anything else → `None`.
pub fn channel_mask(tok: &[u8]) -> Option<i64> {
    let is_hex = |t: &[u8]| !t.is_empty() && t.iter().all(u8::is_ascii_hexdigit);
    if tok.len() == 4 && tok.first() == Some(&b'0') && is_hex(tok) {
        return hex_i64(tok);
    }
    if let Some(v) = unsigned(tok) {
        return Some(v);
    }
    if tok.len() <= MAX_HEX_MASK_DIGITS && is_hex(tok) {
        return hex_i64(tok);
    }
    None
}

fn hex_i64(tok: &[u8]) -> Option<i64> {
    if tok.is_empty() || tok.len() > MAX_HEX_MASK_DIGITS {
        return None;
    }
    tok.iter()
        .try_fold(0i64, |acc, &c| Some(acc * 16 + i64::from(hex_value(c)?)))
}

/// One coordinate from its three tokens (§3 fields 2–4 / 5–7): `deg + min/60 + sec/(10⁷·3600)`
/// with the sign of the degree token applied to the whole value (`-0,0,0` is −0.0, `+28` is
/// positive). Evaluated in this exact order so the Python reference gets the same bits.
pub fn coordinate(deg: &[u8], min: &[u8], sec: &[u8]) -> Option<f64> {
    let (negative, deg_digits) = split_sign(deg);
    let d = digits_value(deg_digits)? as f64;
    let m = digits_value(min)? as f64;
    let s = digits_value(sec)? as f64;
    let v = d + m / 60.0 + s / 36_000_000_000.0;
    Some(if negative { -v } else { v })
}

/// An optional text-encoded boolean: `1` is true, anything else false (§4: success flags,
/// "snapshot taken", C508 start/stop).
pub fn flag_one(tok: &[u8]) -> bool {
    tok == b"1"
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(integer(b"0"), Some(0));
        assert_eq!(integer(b"-34"), Some(-34));
        assert_eq!(integer(b"+28"), Some(28));
        assert_eq!(
            integer(b"999999999999999999"),
            Some(999_999_999_999_999_999)
        );
        for bad in [
            &b""[..],
            b"-",
            b"+",
            b"1_0",
            b" 1",
            b"1 ",
            b"0x1",
            b"1e5",
            b"1.0",
        ] {
            assert_eq!(integer(bad), None, "{bad:?}");
        }
        assert_eq!(integer(b"1000000000000000000"), None, "19 digits");
        assert_eq!(unsigned(b"-1"), None);
        assert_eq!(unsigned(b"+1"), None);
    }

    #[test]
    fn decimals() {
        assert_eq!(decimal(b"0.00"), Some(0.0));
        assert_eq!(decimal(b"-1"), Some(-1.0));
        assert_eq!(decimal(b"+1."), Some(1.0));
        assert_eq!(decimal(b".5"), Some(0.5));
        assert_eq!(decimal(b"12.345"), Some(12.345));
        for bad in [
            &b""[..],
            b".",
            b"-.",
            b"+",
            b"1e5",
            b"inf",
            b"nan",
            b"1.2.3",
            b" 1",
            b"1_0",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
        }
        assert_eq!(decimal(&[b'1'; 33]), None);
        assert!(decimal(&[b'1'; 32]).is_some());
    }

    #[test]
    fn flag_bytes() {
        assert_eq!(
            flags(b"FFF7000000307783"),
            Some([0xFF, 0xF7, 0, 0, 0, 0x30, 0x77, 0x83])
        );
        assert_eq!(flags(b"fff7000000307783"), flags(b"FFF7000000307783"));
        assert_eq!(flags(b"FFF700000030778"), None);
        assert_eq!(flags(b"FFF700000030778G"), None);
    }

    #[test]
    fn channel_masks() {
        assert_eq!(channel_mask(b"1"), Some(1));
        assert_eq!(channel_mask(b"128"), Some(128));
        assert_eq!(channel_mask(b"000A"), Some(10));
        assert_eq!(channel_mask(b"0010"), Some(16));
        assert_eq!(channel_mask(b"1010"), Some(1010));
        assert_eq!(channel_mask(b"F7"), Some(0xF7));
        assert_eq!(channel_mask(b""), None);
        assert_eq!(channel_mask(b"-1"), None);
        assert_eq!(channel_mask(b"G"), None);
        assert_eq!(
            channel_mask(b"FFFFFFFFFFFFFFF"),
            Some(0x0FFF_FFFF_FFFF_FFFF)
        );
        assert_eq!(channel_mask(b"FFFFFFFFFFFFFFFF"), None);
    }

    #[test]
    fn coordinates() {
        let lon = coordinate(b"18", b"49", b"159000000").unwrap();
        let lat = coordinate(b"-34", b"5", b"24180000").unwrap();
        assert!((lon - 18.821_083).abs() < 1e-6, "{lon}");
        assert!((lat + 34.084_005).abs() < 1e-6, "{lat}");
        let neg_zero = coordinate(b"-0", b"0", b"0").unwrap();
        assert!(neg_zero == 0.0 && neg_zero.is_sign_negative());
        assert_eq!(coordinate(b"+28", b"0", b"0"), Some(28.0));
        assert_eq!(coordinate(b"28", b"-5", b"0"), None);
        assert_eq!(coordinate(b"", b"0", b"0"), None);
    }
}
