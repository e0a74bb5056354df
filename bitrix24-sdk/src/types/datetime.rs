//! [`BxDateTime`]: a portal date-time that keeps its raw text.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A date-time as the portal writes it, with its parsed parts.
///
/// REST methods write ISO-8601 with the portal's offset (`2024-05-23T18:18:25+03:00`); some old
/// fields use the portal's display format (`23.05.2024 18:18:25`) or a plain
/// `2024-05-23 18:18:25` without an offset, and dates may have no time at all. The raw text is
/// always kept, so nothing is lost when it is written back; [`BxDateTime::parts`] is `None` for a
/// form this SDK does not recognise (for example a US-locale portal's `05/23/2024 06:18:25 pm`).
///
/// In the models, empty values (`""`, `null`, and the `{}` some methods print for an unset date)
/// are `None`, not a `BxDateTime`.
///
/// ```
/// use bitrix24::types::BxDateTime;
/// let t: BxDateTime = "2024-05-23T18:18:25+03:00".parse().unwrap();
/// assert_eq!(t.raw(), "2024-05-23T18:18:25+03:00");
/// assert_eq!(t.parts().unwrap().hour, 18);
/// assert_eq!(t.unix_timestamp(), Some(1_716_477_505));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BxDateTime {
    raw: String,
    parts: Option<DateTimeParts>,
}

/// The fields of a parsed [`BxDateTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub struct DateTimeParts {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, 1 to 31.
    pub day: u8,
    /// The hour, 0 to 23 (0 for a date without a time).
    pub hour: u8,
    /// The minute, 0 to 59.
    pub minute: u8,
    /// The second, 0 to 60 (a leap second is kept as written).
    pub second: u8,
    /// The offset from UTC in minutes, when the text has one (`+03:00` is 180, `Z` is 0).
    pub offset_minutes: Option<i16>,
    /// Whether the text had a time of day, not only a date.
    pub has_time: bool,
}

/// The text is not a date-time form this SDK recognises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseDateTimeError(());

impl fmt::Display for ParseDateTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "expected an ISO-8601 date-time (2024-05-23T18:18:25+03:00) or dd.mm.yyyy HH:MM:SS",
        )
    }
}

impl std::error::Error for ParseDateTimeError {}

impl BxDateTime {
    /// Parses a recognised form; fails on anything else (use [`BxDateTime::from_raw`] to keep
    /// unrecognised text).
    ///
    /// # Errors
    /// When the text is not ISO-8601 (`YYYY-MM-DD`, optionally with `THH:MM[:SS[.fff]]` or a
    /// space instead of `T`, optionally with `Z`/`±HH:MM`/`±HHMM`/`±HH`) or the legacy
    /// `dd.mm.yyyy[ HH:MM[:SS]]`, or names an impossible date.
    pub fn parse(text: &str) -> Result<Self, ParseDateTimeError> {
        let parts = parse_parts(text.trim()).ok_or(ParseDateTimeError(()))?;
        Ok(Self {
            raw: text.to_owned(),
            parts: Some(parts),
        })
    }

    /// Keeps any text, parsing it when it is a recognised form.
    pub fn from_raw(text: impl Into<String>) -> Self {
        let raw = text.into();
        let parts = parse_parts(raw.trim());
        Self { raw, parts }
    }

    /// The date-time of a unix timestamp at the given offset, written as ISO-8601 (the form
    /// every method accepts).
    ///
    /// # Errors
    /// When the offset is not within ±24 hours or the date is outside years 0 to 9999.
    pub fn from_unix_timestamp(
        seconds: i64,
        offset_minutes: i16,
    ) -> Result<Self, ParseDateTimeError> {
        if offset_minutes.unsigned_abs() >= 24 * 60 {
            return Err(ParseDateTimeError(()));
        }
        let local = seconds
            .checked_add(i64::from(offset_minutes) * 60)
            .ok_or(ParseDateTimeError(()))?;
        let days = local.div_euclid(86_400);
        let of_day = local.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return Err(ParseDateTimeError(()));
        }
        let parts = DateTimeParts {
            year: i32::try_from(year).map_err(|_| ParseDateTimeError(()))?,
            month,
            day,
            hour: small(of_day / 3600),
            minute: small(of_day % 3600 / 60),
            second: small(of_day % 60),
            offset_minutes: Some(offset_minutes),
            has_time: true,
        };
        Ok(Self {
            raw: iso8601(&parts),
            parts: Some(parts),
        })
    }

    /// The text exactly as the portal wrote it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The raw text, by value.
    pub fn into_raw(self) -> String {
        self.raw
    }

    /// The parsed fields, or `None` for an unrecognised form.
    pub fn parts(&self) -> Option<DateTimeParts> {
        self.parts
    }

    /// The offset from UTC in minutes, when the text has one.
    pub fn offset_minutes(&self) -> Option<i16> {
        self.parts.and_then(|p| p.offset_minutes)
    }

    /// Seconds since the unix epoch; `None` without an offset (the instant is then unknown).
    pub fn unix_timestamp(&self) -> Option<i64> {
        let p = self.parts?;
        let offset = i64::from(p.offset_minutes?);
        let days = days_from_civil(i64::from(p.year), i64::from(p.month), i64::from(p.day));
        let local = days * 86_400
            + i64::from(p.hour) * 3600
            + i64::from(p.minute) * 60
            + i64::from(p.second);
        Some(local - offset * 60)
    }

    /// The value as ISO-8601 (`YYYY-MM-DDTHH:MM:SS` plus the offset when known); `None` for an
    /// unrecognised form.
    pub fn to_iso8601(&self) -> Option<String> {
        self.parts.as_ref().map(iso8601)
    }
}

/// A value that is known to be below 256.
fn small(v: i64) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

fn iso8601(p: &DateTimeParts) -> String {
    let mut out = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        p.year, p.month, p.day, p.hour, p.minute, p.second
    );
    if let Some(offset) = p.offset_minutes {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        // Writing to a String cannot fail.
        let _ = write!(out, "{sign}{:02}:{:02}", abs / 60, abs % 60);
    }
    out
}

impl fmt::Display for BxDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl From<BxDateTime> for String {
    fn from(value: BxDateTime) -> Self {
        value.raw
    }
}

impl FromStr for BxDateTime {
    type Err = ParseDateTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for BxDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for BxDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = BxDateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a date-time string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<BxDateTime, E> {
                Ok(BxDateTime::from_raw(v))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<BxDateTime, E> {
                Ok(BxDateTime::from_raw(v))
            }
        }
        deserializer.deserialize_str(V)
    }
}

/// A byte cursor over the text being parsed.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let chunk = self.bytes.get(self.at..self.at + n)?;
        let mut value = 0_u32;
        for b in chunk {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + u32::from(b - b'0');
        }
        self.at += n;
        Some(value)
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.bytes.get(self.at) == Some(&byte) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }
}

fn parse_parts(text: &str) -> Option<DateTimeParts> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let (year, month, day) = if text.as_bytes().get(2) == Some(&b'.') {
        // Legacy display form: dd.mm.yyyy.
        let day = c.digits(2)?;
        c.eat(b'.').then_some(())?;
        let month = c.digits(2)?;
        c.eat(b'.').then_some(())?;
        (c.digits(4)?, month, day)
    } else {
        let year = c.digits(4)?;
        c.eat(b'-').then_some(())?;
        let month = c.digits(2)?;
        c.eat(b'-').then_some(())?;
        (year, month, c.digits(2)?)
    };
    let mut parts = DateTimeParts {
        year: i32::try_from(year).ok()?,
        month: u8::try_from(month).ok()?,
        day: u8::try_from(day).ok()?,
        hour: 0,
        minute: 0,
        second: 0,
        offset_minutes: None,
        has_time: false,
    };
    if !(1..=12).contains(&parts.month)
        || parts.day == 0
        || parts.day > days_in_month(parts.year, parts.month)
    {
        return None;
    }
    if c.done() {
        return Some(parts);
    }
    if !(c.eat(b'T') || c.eat(b' ')) {
        return None;
    }
    parts.has_time = true;
    parts.hour = u8::try_from(c.digits(2)?).ok()?;
    c.eat(b':').then_some(())?;
    parts.minute = u8::try_from(c.digits(2)?).ok()?;
    if c.eat(b':') {
        parts.second = u8::try_from(c.digits(2)?).ok()?;
        if c.eat(b'.') || c.eat(b',') {
            // Fractions of a second are dropped; the raw text keeps them.
            let start = c.at;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.at += 1;
            }
            (c.at > start).then_some(())?;
        }
    }
    if parts.hour > 23 || parts.minute > 59 || parts.second > 60 {
        return None;
    }
    match c.peek() {
        None => {}
        Some(b'Z' | b'z') => {
            c.at += 1;
            parts.offset_minutes = Some(0);
        }
        Some(sign @ (b'+' | b'-')) => {
            c.at += 1;
            let hours = c.digits(2)?;
            let minutes = if c.eat(b':') {
                c.digits(2)?
            } else if c.done() {
                0
            } else {
                c.digits(2)?
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            let total = i16::try_from(hours * 60 + minutes).ok()?;
            parts.offset_minutes = Some(if sign == b'-' { -total } else { total });
        }
        Some(_) => return None,
    }
    c.done().then_some(parts)
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, small(month), small(day))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(
        year: i32,
        month: u8,
        day: u8,
        hms: Option<(u8, u8, u8)>,
        offset: Option<i16>,
    ) -> DateTimeParts {
        let (hour, minute, second) = hms.unwrap_or((0, 0, 0));
        DateTimeParts {
            year,
            month,
            day,
            hour,
            minute,
            second,
            offset_minutes: offset,
            has_time: hms.is_some(),
        }
    }

    #[test]
    fn parses_every_documented_form() {
        let table = [
            (
                "2024-05-23T18:18:25+03:00",
                p(2024, 5, 23, Some((18, 18, 25)), Some(180)),
            ),
            (
                "2024-07-25T13:06:54+00:00",
                p(2024, 7, 25, Some((13, 6, 54)), Some(0)),
            ),
            (
                "2024-01-01T00:00:00-05:30",
                p(2024, 1, 1, Some((0, 0, 0)), Some(-330)),
            ),
            (
                "2024-01-01T10:00:00Z",
                p(2024, 1, 1, Some((10, 0, 0)), Some(0)),
            ),
            (
                "2024-01-01T10:00:00+0300",
                p(2024, 1, 1, Some((10, 0, 0)), Some(180)),
            ),
            (
                "2024-01-01T10:00:00+03",
                p(2024, 1, 1, Some((10, 0, 0)), Some(180)),
            ),
            (
                "2024-01-01T10:00:00.123456+03:00",
                p(2024, 1, 1, Some((10, 0, 0)), Some(180)),
            ),
            ("2024-01-01T10:00", p(2024, 1, 1, Some((10, 0, 0)), None)),
            (
                "2024-07-23 08:08:50",
                p(2024, 7, 23, Some((8, 8, 50)), None),
            ),
            ("2024-02-29", p(2024, 2, 29, None, None)),
            (
                "23.05.2024 18:18:25",
                p(2024, 5, 23, Some((18, 18, 25)), None),
            ),
            ("23.05.2024 18:18", p(2024, 5, 23, Some((18, 18, 0)), None)),
            ("11.11.2001", p(2001, 11, 11, None, None)),
        ];
        for (text, want) in table {
            let parsed = BxDateTime::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(parsed.parts(), Some(want), "{text}");
            assert_eq!(parsed.raw(), text);
            let lenient = BxDateTime::from_raw(text);
            assert_eq!(lenient, parsed, "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_a_date() {
        for text in [
            "",
            "{}",
            "yesterday",
            "2024-13-01",
            "2023-02-29",
            "2024-04-31",
            "2024-00-10",
            "2024-01-01T24:00:00",
            "2024-01-01T10:60:00",
            "2024-01-01T10:00:00+25:00",
            "2024-01-01T10:00:00 trailing",
            "2024-01-01X10:00",
            "32.01.2024",
            "05/23/2024 06:18:25 pm",
            "2024-1-1",
        ] {
            assert!(BxDateTime::parse(text).is_err(), "{text}");
            let kept = BxDateTime::from_raw(text);
            assert_eq!(kept.raw(), text);
            assert_eq!(kept.parts(), None, "{text}");
            assert_eq!(kept.unix_timestamp(), None);
            assert_eq!(kept.to_iso8601(), None);
        }
    }

    #[test]
    fn converts_to_and_from_unix_time() {
        let table = [
            ("1970-01-01T00:00:00+00:00", Some(0)),
            ("2024-05-23T18:18:25+03:00", Some(1_716_477_505)),
            ("2024-05-23T15:18:25Z", Some(1_716_477_505)),
            ("1969-12-31T23:59:59Z", Some(-1)),
            ("2000-03-01T00:00:00-01:00", Some(951_872_400)),
            ("2024-05-23 18:18:25", None),
        ];
        for (text, want) in table {
            assert_eq!(
                BxDateTime::parse(text).unwrap().unix_timestamp(),
                want,
                "{text}"
            );
        }
        let t = BxDateTime::from_unix_timestamp(1_716_477_505, 180).unwrap();
        assert_eq!(t.raw(), "2024-05-23T18:18:25+03:00");
        let t = BxDateTime::from_unix_timestamp(-1, -90).unwrap();
        assert_eq!(t.raw(), "1969-12-31T22:29:59-01:30");
        assert_eq!(t.unix_timestamp(), Some(-1));
        assert!(BxDateTime::from_unix_timestamp(0, 24 * 60).is_err());
        assert!(BxDateTime::from_unix_timestamp(i64::MAX, 0).is_err());
        let legacy = BxDateTime::parse("23.05.2024 18:18:25").unwrap();
        assert_eq!(legacy.to_iso8601().unwrap(), "2024-05-23T18:18:25");
    }

    #[test]
    fn serde_keeps_the_raw_text() {
        let t: BxDateTime = serde_json::from_str("\"2024-05-23T18:18:25+03:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            "\"2024-05-23T18:18:25+03:00\""
        );
        assert_eq!(t.to_string(), "2024-05-23T18:18:25+03:00");
        assert_eq!(t.offset_minutes(), Some(180));
        let odd: BxDateTime = serde_json::from_str("\"soon\"").unwrap();
        assert_eq!(odd.parts(), None);
        assert_eq!(odd.clone().into_raw(), "soon");
        assert!(serde_json::from_str::<BxDateTime>("5").is_err());
        assert!(serde_json::from_str::<BxDateTime>("{}").is_err());
    }
}
