//! [`Decimal`]: a plain decimal literal kept as its text and as an exact reduced fraction.
//!
//! The gates compare scores against `min_valid_turn_frac`, `win_margin` and `gate_alpha`
//! exactly (spec/determinism.md §5), so these keys are read from the literal text in
//! chain.toml, never through a binary float: `0.05` is 1/20, not 0.05000000000000000277.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// A plain decimal literal: an optional `-`, ASCII digits, at most one `.` followed by digits.
/// No exponent, underscore, `+`, `inf` or `nan`.
///
/// The fraction is reduced, the denominator is positive, and both fit in 128 bits (at most
/// 38 digits in all), so any language can redo the arithmetic from the text alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decimal {
    text: String,
    numer: i128,
    denom: u128,
    approx: u64, // f64 bits, so the type stays Eq
}

/// Why a text is not a [`Decimal`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("must be a plain decimal literal (digits with at most one `.`; no exponent, underscore, `+`, inf or nan)")]
    NotPlain,
    #[error("has too many digits to be held exactly (at most 38 significant digits)")]
    TooManyDigits,
}

impl Decimal {
    /// Checks `text` is a plain decimal literal and computes its exact value.
    pub fn parse(text: &str) -> Result<Decimal, DecimalError> {
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int_part, frac_part) = match unsigned.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (unsigned, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
            return Err(DecimalError::NotPlain);
        }
        let frac_part = frac_part.unwrap_or("");

        let mut magnitude: u128 = 0;
        for b in int_part.bytes().chain(frac_part.bytes()) {
            magnitude = magnitude
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(b - b'0')))
                .ok_or(DecimalError::TooManyDigits)?;
        }
        let scale = u32::try_from(frac_part.len()).map_err(|_| DecimalError::TooManyDigits)?;
        let denom = 10u128.checked_pow(scale).ok_or(DecimalError::TooManyDigits)?;
        let g = gcd(magnitude, denom);
        let (magnitude, denom) = (magnitude / g, denom / g);
        let numer = i128::try_from(magnitude).map_err(|_| DecimalError::TooManyDigits)?;
        let numer = if negative { -numer } else { numer };
        // Rust's float parser rounds a decimal string correctly (to nearest, ties to even).
        let approx: f64 = text.parse().map_err(|_| DecimalError::NotPlain)?;
        Ok(Decimal { text: text.to_owned(), numer, denom, approx: approx.to_bits() })
    }

    /// The literal exactly as written in chain.toml.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The exact value as a reduced fraction `(numerator, denominator)`, denominator ≥ 1:
    /// `"0.5"` → (1, 2), `"2.0"` → (2, 1), `"0.05"` → (1, 20).
    pub fn numer_denom(&self) -> (i128, u128) {
        (self.numer, self.denom)
    }

    /// The binary64 nearest the exact value, for display and for the bootstrap quantile.
    pub fn as_f64(&self) -> f64 {
        f64::from_bits(self.approx)
    }

    /// Compares the exact value with the integer `n`. The config's range checks use it with
    /// the bounds 0, 1 and 100.
    pub(crate) fn cmp_int(&self, n: i128) -> Ordering {
        // numer/denom vs n  ⇔  numer vs n·denom (denom > 0). If n·denom overflows i128, its
        // magnitude exceeds any numerator, so the sign of n decides.
        match i128::try_from(self.denom).ok().and_then(|d| n.checked_mul(d)) {
            Some(scaled) => self.numer.cmp(&scaled),
            None if n > 0 => Ordering::Less,
            None => Ordering::Greater,
        }
    }
}

impl FromStr for Decimal {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Decimal, DecimalError> {
        Decimal::parse(s)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_exactly() {
        let cases: &[(&str, (i128, u128))] = &[
            ("0.5", (1, 2)),
            ("2.0", (2, 1)),
            ("2", (2, 1)),
            ("0.05", (1, 20)),
            ("0.001", (1, 1000)),
            ("1", (1, 1)),
            ("0", (0, 1)),
            ("0.000", (0, 1)),
            ("-0.25", (-1, 4)),
            ("12.50", (25, 2)),
        ];
        for (text, want) in cases {
            let d = Decimal::parse(text).unwrap();
            assert_eq!(d.numer_denom(), *want, "{text}");
            assert_eq!(d.text(), *text);
        }
        assert_eq!(Decimal::parse("0.05").unwrap().as_f64(), 0.05);
    }

    #[test]
    fn rejects_everything_but_plain_literals() {
        for text in [
            "", "-", ".5", "5.", "1e-2", "1E2", "0.5_0", "+0.5", "inf", "-inf", "nan", "1..2", "1.2.3", " 1", "0x10",
            "--1", "١",
        ] {
            assert_eq!(Decimal::parse(text), Err(DecimalError::NotPlain), "{text:?}");
        }
    }

    #[test]
    fn too_many_digits_is_an_error_not_a_rounding() {
        // 38 fractional digits: the denominator 10^38 fits in u128.
        let ok = format!("0.{}1", "0".repeat(37));
        assert_eq!(Decimal::parse(&ok).unwrap().numer_denom(), (1, 10u128.pow(38)));
        let too_long = format!("0.{}1", "0".repeat(38));
        assert_eq!(Decimal::parse(&too_long), Err(DecimalError::TooManyDigits));
        let too_big = "9".repeat(40);
        assert_eq!(Decimal::parse(&too_big), Err(DecimalError::TooManyDigits));
    }

    #[test]
    fn compares_exactly_against_integers() {
        use Ordering::*;
        let half = Decimal::parse("0.5").unwrap();
        assert_eq!(half.cmp_int(0), Greater);
        assert_eq!(half.cmp_int(1), Less);
        assert_eq!(Decimal::parse("1.000").unwrap().cmp_int(1), Equal);
        assert_eq!(Decimal::parse("100.0").unwrap().cmp_int(100), Equal);
        assert_eq!(Decimal::parse("100.01").unwrap().cmp_int(100), Greater);
        let huge = Decimal::parse(&"9".repeat(38)).unwrap();
        assert_eq!(huge.cmp_int(100), Greater);
        let tiny = Decimal::parse(&format!("-{}", "9".repeat(38))).unwrap();
        assert_eq!(tiny.cmp_int(0), Less);
        // 100 · 10^38 overflows: the bound is larger than any representable value.
        let fine = Decimal::parse(&format!("0.{}1", "0".repeat(37))).unwrap();
        assert_eq!(fine.cmp_int(100), Less);
        assert_eq!(fine.cmp_int(-100), Greater);
    }
}
