//! `date-time` (INTERNALDATE, APPEND) and `date` (SEARCH).

use super::chars::{DIGIT, span};
use crate::encode::Encode;
use nom::Parser;
use nom::branch::alt;
use nom::sequence::{delimited, preceded};

use crate::error::{PResult, ParseErrorKind, ValidationError, fail};

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// A calendar date (`date`), as used by SEARCH keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// A date; `month` is 1 to 12, the year has four digits.
    pub fn try_new(year: u16, month: u8, day: u8) -> Result<Self, ValidationError> {
        if !(1..=9999).contains(&year)
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return Err(ValidationError::new("date", "no such day"));
        }
        Ok(Self { year, month, day })
    }

    /// Year.
    pub const fn year(&self) -> u16 {
        self.year
    }

    /// Month, 1 to 12.
    pub const fn month(&self) -> u8 {
        self.month
    }

    /// Day of the month, from 1.
    pub const fn day(&self) -> u8 {
        self.day
    }
}

fn push2(n: u8, out: &mut Vec<u8>) {
    out.push(b'0' + n / 10);
    out.push(b'0' + n % 10);
}

fn push_month_year(d: &Date, out: &mut Vec<u8>) {
    out.push(b'-');
    out.extend_from_slice(MONTHS[usize::from(d.month - 1) % 12]);
    out.push(b'-');
    let y = d.year;
    push2((y / 100) as u8, out);
    push2((y % 100) as u8, out);
}

impl Encode for Date {
    /// Writes `d-Mon-yyyy` (unquoted).
    fn encode(&self, out: &mut Vec<u8>) {
        if self.day >= 10 {
            push2(self.day, out);
        } else {
            out.push(b'0' + self.day);
        }
        push_month_year(self, out);
    }
}

/// An instant with its zone offset (`date-time`), as used by INTERNALDATE and APPEND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DateTime {
    date: Date,
    hour: u8,
    minute: u8,
    second: u8,
    /// Zone offset in minutes east of UTC.
    zone: i16,
}

impl DateTime {
    /// A date-time; `zone_minutes` is the offset east of UTC, within ±99:59.
    pub fn try_new(
        date: Date,
        hour: u8,
        minute: u8,
        second: u8,
        zone_minutes: i16,
    ) -> Result<Self, ValidationError> {
        if hour > 23 || minute > 59 || second > 60 || zone_minutes.unsigned_abs() > 99 * 60 + 59 {
            return Err(ValidationError::new(
                "date-time",
                "time or zone out of range",
            ));
        }
        Ok(Self {
            date,
            hour,
            minute,
            second,
            zone: zone_minutes,
        })
    }

    /// The date part.
    pub const fn date(&self) -> Date {
        self.date
    }

    /// Hour, minute and second.
    pub const fn time(&self) -> (u8, u8, u8) {
        (self.hour, self.minute, self.second)
    }

    /// Zone offset in minutes east of UTC.
    pub const fn zone_minutes(&self) -> i16 {
        self.zone
    }
}

impl Encode for DateTime {
    /// Writes `"dd-Mon-yyyy hh:mm:ss +zzzz"` with a space-padded day.
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        if self.date.day >= 10 {
            push2(self.date.day, out);
        } else {
            out.push(b' ');
            out.push(b'0' + self.date.day);
        }
        push_month_year(&self.date, out);
        out.push(b' ');
        push2(self.hour, out);
        out.push(b':');
        push2(self.minute, out);
        out.push(b':');
        push2(self.second, out);
        out.push(b' ');
        out.push(if self.zone < 0 { b'-' } else { b'+' });
        let z = self.zone.unsigned_abs();
        push2((z / 60) as u8, out);
        push2((z % 60) as u8, out);
        out.push(b'"');
    }
}

fn fixed_digits(i: &[u8], n: usize) -> PResult<'_, u32> {
    if i.len() < n || span(&i[..n], DIGIT) != n {
        return fail(i, ParseErrorKind::BadDateTime);
    }
    let v = i[..n]
        .iter()
        .fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
    Ok((&i[n..], v))
}

fn expect(i: &[u8], c: u8) -> PResult<'_, ()> {
    match i.first() {
        Some(&b) if b == c => Ok((&i[1..], ())),
        _ => fail(i, ParseErrorKind::BadDateTime),
    }
}

fn month(i: &[u8]) -> PResult<'_, u8> {
    if i.len() >= 3 {
        for (n, m) in MONTHS.iter().enumerate() {
            if i[..3].eq_ignore_ascii_case(&m[..]) {
                return Ok((&i[3..], n as u8 + 1));
            }
        }
    }
    fail(i, ParseErrorKind::BadDateTime)
}

/// `date-text`: `1*2DIGIT "-" month "-" 4DIGIT`.
fn date_text(i: &[u8]) -> PResult<'_, Date> {
    let start = i;
    let n = span(i, DIGIT);
    if n == 0 || n > 2 {
        return fail(i, ParseErrorKind::BadDateTime);
    }
    let dash = |j| expect(j, b'-');
    let (i, (day, (), m, (), year)) = (
        |j| fixed_digits(j, n),
        dash,
        month,
        dash,
        |j| fixed_digits(j, 4),
    )
        .parse(i)?;
    match Date::try_new(year as u16, m, day as u8) {
        Ok(d) => Ok((i, d)),
        Err(_) => fail(start, ParseErrorKind::BadDateTime),
    }
}

/// Parses a `date`: date-text, optionally in double quotes.
pub(crate) fn date(i: &[u8]) -> PResult<'_, Date> {
    alt((
        delimited(|j| expect(j, b'"'), date_text, |j| expect(j, b'"')),
        date_text,
    ))
    .parse(i)
}

/// The sign of a zone.
fn zone_sign(i: &[u8]) -> PResult<'_, i16> {
    match i.first() {
        Some(b'+') => Ok((&i[1..], 1)),
        Some(b'-') => Ok((&i[1..], -1)),
        _ => fail(i, ParseErrorKind::BadDateTime),
    }
}

/// Parses a `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"` (day may be space-padded).
pub(crate) fn date_time(i: &[u8]) -> PResult<'_, DateTime> {
    let start = i;
    let ch = |c| move |j| expect(j, c);
    let day = alt((preceded(ch(b' '), |j| fixed_digits(j, 1)), |j| {
        fixed_digits(j, 2)
    }));

    let two = |j| fixed_digits(j, 2);
    let (i, (day, m, year, hour, minute, second, sign, zh, zm)) = delimited(
        ch(b'"'),
        (
            day,
            preceded(ch(b'-'), month),
            preceded(ch(b'-'), |j| fixed_digits(j, 4)),
            preceded(ch(b' '), two),
            preceded(ch(b':'), two),
            preceded(ch(b':'), two),
            preceded(ch(b' '), zone_sign),
            two,
            two,
        ),
        ch(b'"'),
    )
    .parse(i)?;
    if zm > 59 {
        return fail(start, ParseErrorKind::BadDateTime);
    }
    let zone = sign * (zh as i16 * 60 + zm as i16);
    let dt = Date::try_new(year as u16, m, day as u8)
        .and_then(|d| DateTime::try_new(d, hour as u8, minute as u8, second as u8, zone));
    match dt {
        Ok(dt) => Ok((i, dt)),
        Err(_) => fail(start, ParseErrorKind::BadDateTime),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        let (_, dt) = date_time(b"\"17-Jul-1996 02:44:25 -0700\"").unwrap();
        assert_eq!(dt.to_vec(), b"\"17-Jul-1996 02:44:25 -0700\"");
        assert_eq!(dt.zone_minutes(), -420);
        let (_, dt) = date_time(b"\" 7-feb-1994 21:52:25 +0100\"").unwrap();
        assert_eq!(dt.to_vec(), b"\" 7-Feb-1994 21:52:25 +0100\"");
        for bad in [
            &b"\"7-Feb-1994 21:52:25 +0100\""[..],
            b"\"30-Feb-1994 21:52:25 +0100\"",
            b"\"07-Feb-1994 24:00:00 +0100\"",
            b"\"07-Foo-1994 21:52:25 +0100\"",
            b"\"07-Feb-1994 21:52:25 0100\"",
        ] {
            assert!(date_time(bad).is_err(), "{bad:?}");
        }
        assert_eq!(date(b"1-Feb-1994").unwrap().1.to_vec(), b"1-Feb-1994");
        assert_eq!(date(b"\"01-Feb-1994\"").unwrap().1.to_vec(), b"1-Feb-1994");
        assert!(date(b"123-Feb-1994").is_err());
        assert!(date(b"29-Feb-1900").is_err());
        assert!(date(b"29-Feb-2000").is_ok());
    }
}
