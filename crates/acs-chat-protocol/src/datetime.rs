//! [`DateTime`]: the timestamps of the wire format.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// A point in time, always held in UTC.
///
/// Parsed from RFC 3339 with any number of fractional-second digits and any offset (the service
/// sends 7 digits, e.g. `2020-06-25T17:44:37.6830000Z`); written as RFC 3339 in UTC with a `Z`,
/// without a fraction for whole seconds and with the fraction's trailing zeros trimmed otherwise
/// (`2020-06-06T05:55:41Z`, `2020-06-25T17:44:37.683Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateTime(OffsetDateTime);

/// The error of [`DateTime::parse`] and the other fallible constructors of [`DateTime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTimeError {
    message: String,
}

impl fmt::Display for DateTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DateTimeError {}

impl DateTime {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: DateTime = DateTime(OffsetDateTime::UNIX_EPOCH);

    /// Parses an RFC 3339 timestamp (any fraction length, any offset), normalised to UTC.
    pub fn parse(text: &str) -> Result<Self, DateTimeError> {
        let parsed = OffsetDateTime::parse(text, &Rfc3339).map_err(|e| DateTimeError {
            message: format!("`{}` is not an RFC 3339 date-time: {e}", shown(text)),
        })?;
        // `to_offset` panics when the UTC instant falls outside the supported years (e.g.
        // `9999-12-31T23:59:59-23:59` is year 10000 in UTC): use the checked form.
        let utc = parsed
            .checked_to_offset(UtcOffset::UTC)
            .ok_or_else(|| DateTimeError {
                message: format!("`{}` is outside years 0000..=9999 in UTC", shown(text)),
            })?;
        Self::checked(utc)
    }

    /// Seconds since the Unix epoch.
    pub fn from_unix_timestamp(seconds: i64) -> Result<Self, DateTimeError> {
        let t = OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| DateTimeError {
            message: format!("{seconds} is out of range: {e}"),
        })?;
        Self::checked(t)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn from_unix_timestamp_nanos(nanos: i128) -> Result<Self, DateTimeError> {
        let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|e| DateTimeError {
            message: format!("{nanos} ns is out of range: {e}"),
        })?;
        Self::checked(t)
    }

    /// Converts a [`SystemTime`] (for callers that read a clock; this crate never does).
    pub fn from_system_time(time: SystemTime) -> Result<Self, DateTimeError> {
        // Whole seconds and the nanoseconds apart: no 128-bit division on this hot path (a
        // client reads the clock on every call). After the epoch (any real clock) the
        // nanoseconds are set in place, which is cheaper than adding a duration.
        let t = match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_secs())
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .and_then(|t| t.replace_nanosecond(after.subsec_nanos()).ok()),
            Err(before) => {
                let d = before.duration();
                i64::try_from(d.as_secs())
                    .ok()
                    .and_then(|s| OffsetDateTime::from_unix_timestamp(-s).ok())
                    .and_then(|t| {
                        t.checked_sub(time::Duration::nanoseconds(i64::from(d.subsec_nanos())))
                    })
            }
        };
        let t = t.ok_or_else(|| DateTimeError {
            message: "the system time is out of range".into(),
        })?;
        Self::checked(t)
    }

    /// Years outside 0000..=9999 cannot be written as RFC 3339.
    fn checked(t: OffsetDateTime) -> Result<Self, DateTimeError> {
        if (0..=9999).contains(&t.year()) {
            Ok(Self(t))
        } else {
            Err(DateTimeError {
                message: format!("year {} is outside 0000..=9999", t.year()),
            })
        }
    }

    /// Whole seconds since the Unix epoch.
    pub fn unix_timestamp(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_timestamp_nanos(&self) -> i128 {
        self.0.unix_timestamp_nanos()
    }

    /// The same instant as a [`SystemTime`].
    pub fn to_system_time(&self) -> SystemTime {
        SystemTime::from(self.0)
    }

    /// RFC 3339 in UTC with exactly `fraction_digits` fractional digits (at most 9), the way the
    /// service writes timestamps (`2020-06-25T17:44:37.6830000Z` with 7); extra precision is
    /// truncated.
    pub fn to_rfc3339_fixed(&self, fraction_digits: u8) -> String {
        let digits = nanosecond_digits(self.0.nanosecond());
        let digits = std::str::from_utf8(&digits).unwrap_or_default();
        let mut out = String::with_capacity(30);
        let _ = self.write_with_fraction(&mut out, &digits[..usize::from(fraction_digits.min(9))]);
        out
    }

    /// `YYYY-MM-DDTHH:MM:SS`, then `.fraction` when it is not empty, then `Z`.
    fn write_with_fraction(&self, out: &mut impl fmt::Write, fraction: &str) -> fmt::Result {
        let t = self.0;
        write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )?;
        if !fraction.is_empty() {
            out.write_char('.')?;
            out.write_str(fraction)?;
        }
        out.write_char('Z')
    }

    /// `self + duration`, or `None` past year 9999.
    pub fn checked_add(&self, duration: Duration) -> Option<Self> {
        let d = time::Duration::try_from(duration).ok()?;
        self.0.checked_add(d).and_then(|t| Self::checked(t).ok())
    }

    /// `self - duration`, or `None` before year 0.
    pub fn checked_sub(&self, duration: Duration) -> Option<Self> {
        let d = time::Duration::try_from(duration).ok()?;
        self.0.checked_sub(d).and_then(|t| Self::checked(t).ok())
    }

    /// How long after `earlier` this is; zero when it is not after it.
    pub fn saturating_duration_since(&self, earlier: DateTime) -> Duration {
        let diff = self.0 - earlier.0;
        Duration::try_from(diff).unwrap_or(Duration::ZERO)
    }

    /// The RFC 3339 form, in UTC with `Z`.
    pub fn to_rfc3339(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.formatted() {
            Some(text) => f.write_str(text.as_str()),
            None => {
                let digits = nanosecond_digits(self.0.nanosecond());
                let digits = std::str::from_utf8(&digits).unwrap_or_default();
                self.write_with_fraction(f, digits.trim_end_matches('0'))
            }
        }
    }
}

/// `text` as an error quotes it: at most 64 characters, control and bidi characters escaped.
fn shown(text: &str) -> String {
    let mut out = String::new();
    let _ = crate::error::write_bounded(&mut out, text, 64);
    out
}

/// The nine decimal digits of a nanosecond count, without allocating.
fn nanosecond_digits(mut n: u32) -> [u8; 9] {
    let mut digits = [b'0'; 9];
    for d in digits.iter_mut().rev() {
        *d = b'0' + (n % 10) as u8;
        n /= 10;
    }
    digits
}

impl fmt::Debug for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DateTime({self})")
    }
}

impl FromStr for DateTime {
    type Err = DateTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for DateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // One string (serde_json escapes every piece `collect_str` hands it).
        match self.formatted() {
            Some(text) => serializer.serialize_str(text.as_str()),
            None => serializer.collect_str(self),
        }
    }
}

impl DateTime {
    /// The text `Display` writes (UTC with `Z`, the fraction without trailing zeros), by the
    /// `time` crate's RFC 3339 formatter, on the stack: a third of the instructions of the
    /// `fmt` machinery. `None` if it could not be written (not for a date-time in the years
    /// this type holds).
    fn formatted(&self) -> Option<Formatted> {
        let mut text = Formatted::default();
        let mut out = &mut text.buf[..];
        self.0.format_into(&mut out, &Rfc3339).ok()?;
        let left = out.len();
        text.len = FORMATTED_LEN - left;
        Some(text)
    }
}

/// The longest text `Display` writes: `YYYY-MM-DDTHH:MM:SS.fffffffffZ`.
const FORMATTED_LEN: usize = 30;

/// A date-time's text, on the stack.
struct Formatted {
    buf: [u8; FORMATTED_LEN],
    len: usize,
}

impl Default for Formatted {
    fn default() -> Self {
        Self {
            buf: [0; FORMATTED_LEN],
            len: 0,
        }
    }
}

impl Formatted {
    fn as_str(&self) -> &str {
        // Only whole `str`s are written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for DateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DateTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an RFC 3339 date-time string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DateTime, E> {
                // `invalid_value` quotes the text, which the protocol's decode errors leave out
                // (a response's content never ends up in an error); `DateTimeError` would not.
                DateTime::parse(v).map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
            }
        }
        deserializer.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_its_display_text_up_to_the_longest() {
        for text in [
            "0000-01-01T00:00:00Z",
            "2020-06-25T17:44:37.683Z",
            "2020-06-25T17:44:37.000000001Z",
            "9999-12-31T23:59:59.999999999Z",
        ] {
            let t = DateTime::parse(text).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(serde_json::to_string(&t).unwrap(), format!("\"{text}\""));
        }
        assert_eq!("9999-12-31T23:59:59.999999999Z".len(), FORMATTED_LEN);
    }

    #[test]
    fn from_system_time_on_both_sides_of_the_epoch() {
        let epoch = SystemTime::UNIX_EPOCH;
        let cases: [(SystemTime, &str); 4] = [
            (epoch, "1970-01-01T00:00:00Z"),
            (
                epoch + Duration::new(1, 500_000_000),
                "1970-01-01T00:00:01.5Z",
            ),
            (
                epoch - Duration::new(1, 250_000_000),
                "1969-12-31T23:59:58.75Z",
            ),
            (
                epoch + Duration::new(1_593_107_077, 683_000_001),
                "2020-06-25T17:44:37.683000001Z",
            ),
        ];
        for (time, text) in cases {
            let t = DateTime::from_system_time(time).unwrap();
            assert_eq!(t.to_string(), text);
            assert_eq!(t, DateTime::parse(text).unwrap());
        }
        // Far outside 0000..=9999: an error, not a panic.
        assert!(DateTime::from_system_time(epoch + Duration::from_secs(u64::MAX / 2)).is_err());
    }

    #[test]
    fn parses_seven_fraction_digits_and_offsets() {
        let t = DateTime::parse("2020-06-25T17:44:37.6830000Z").unwrap();
        assert_eq!(t.to_string(), "2020-06-25T17:44:37.683Z");
        let t = DateTime::parse("2023-10-10T21:39:39.3244584+00:00").unwrap();
        assert_eq!(t.to_string(), "2023-10-10T21:39:39.3244584Z");
        let t = DateTime::parse("2020-06-06T07:55:41+02:00").unwrap();
        assert_eq!(t.to_string(), "2020-06-06T05:55:41Z");
        let t = DateTime::parse("2020-06-06T05:55:41.123456789123Z").unwrap();
        assert_eq!(t.unix_timestamp_nanos() % 1_000_000_000, 123_456_789);
    }

    #[test]
    fn fixed_fraction_digits() {
        let t = DateTime::parse("2020-06-25T17:44:37.683Z").unwrap();
        assert_eq!(t.to_rfc3339_fixed(7), "2020-06-25T17:44:37.6830000Z");
        assert_eq!(t.to_rfc3339_fixed(0), "2020-06-25T17:44:37Z");
        assert_eq!(t.to_rfc3339_fixed(12), "2020-06-25T17:44:37.683000000Z");
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "2020-06-06",
            "yesterday",
            "2020-13-01T00:00:00Z",
            "1/1/1970 12:00:00 AM +00:00",
        ] {
            assert!(DateTime::parse(bad).is_err(), "{bad}");
        }
    }

    /// Found by the `datetime` fuzz target: the error quoted the text whole, however long,
    /// with its control characters.
    #[test]
    fn errors_quote_the_text_bounded_and_escaped() {
        let err = DateTime::parse(&format!("\u{1b}[2J{}", "x".repeat(5000)))
            .unwrap_err()
            .to_string();
        assert!(err.len() < 256, "{} bytes", err.len());
        assert!(
            err.contains("\\u{1b}[2J") && !err.contains('\u{1b}'),
            "{err}"
        );
        assert!(err.contains("(5004 bytes in all)"), "{err}");
        let err = DateTime::parse("yesterday").unwrap_err().to_string();
        assert!(
            err.starts_with("`yesterday` is not an RFC 3339 date-time"),
            "{err}"
        );
    }

    #[test]
    fn unix_round_trip_and_arithmetic() {
        let t = DateTime::from_unix_timestamp(1_600_000_000).unwrap();
        assert_eq!(t.unix_timestamp(), 1_600_000_000);
        let later = t.checked_add(Duration::from_secs(90)).unwrap();
        assert_eq!(later.saturating_duration_since(t), Duration::from_secs(90));
        assert_eq!(t.saturating_duration_since(later), Duration::ZERO);
        assert!(DateTime::from_unix_timestamp(i64::MAX).is_err());
        assert!(DateTime::from_unix_timestamp(-100_000_000_000).is_err());
    }

    #[test]
    fn offsets_that_leave_the_supported_years_are_errors_not_panics() {
        for text in [
            "9999-12-31T23:59:59-23:59",
            "9999-12-31T23:00:00-01:00",
            "0000-01-01T00:00:00+00:01",
            "0000-01-01T00:59:59.999999999+23:59",
        ] {
            let err = DateTime::parse(text).unwrap_err();
            assert!(err.to_string().contains("0000..=9999"), "{text}: {err}");
        }
        // The edges themselves are fine.
        assert_eq!(
            DateTime::parse("9999-12-31T23:59:59.999999999+00:00")
                .unwrap()
                .to_string(),
            "9999-12-31T23:59:59.999999999Z"
        );
        assert_eq!(
            DateTime::parse("0000-01-01T23:59:59+23:59")
                .unwrap()
                .to_string(),
            "0000-01-01T00:00:59Z"
        );
    }
}
