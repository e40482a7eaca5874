//! The DynamoDB number type: a decimal of at most 38 significant digits.
//!
//! A [`Number`] is kept normalised, as DynamoDB keeps it: a sign, the significant digits without
//! leading or trailing zeros, and an exponent, so that equal values have equal representations
//! (`1.50`, `15E-1` and `+1.5` are one value, and `-0` is `0`). The value is `0.d1d2...dn * 10^exponent`.
//!
//! The type is hand-written rather than taken from a big-decimal crate because DynamoDB's rules are
//! narrower than general arbitrary precision: 38 digits, a fixed exponent range, exact addition and
//! subtraction that fail instead of rounding, and a byte encoding that sorts like the values (used
//! for sort keys in `encoding.rs`). Those rules are the whole of the arithmetic needed.

use std::cmp::Ordering;
use std::fmt;

/// The most significant digits DynamoDB stores in a number.
pub const MAX_DIGITS: usize = 38;
/// The exponent (in the `0.ddd * 10^e` form) of the largest magnitude, 9.99...E+125.
const MAX_EXPONENT: i32 = 126;
/// The exponent of the smallest magnitude, 1E-130.
const MIN_EXPONENT: i32 = -129;

/// Why a text is not a DynamoDB number. The messages are DynamoDB's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("A value provided cannot be converted into a number")]
    NotANumber,
    #[error("Attempting to store more than 38 significant digits in a Number")]
    TooManyDigits,
    #[error(
        "Number overflow. Attempting to store a number with magnitude larger than supported range"
    )]
    Overflow,
    #[error("Number underflow. Attempting to store a number with magnitude smaller than supported range")]
    Underflow,
}

/// A normalised DynamoDB number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Number {
    negative: bool,
    /// Significant digits, each 0..=9, the first and last never 0; empty for zero.
    digits: Vec<u8>,
    /// The value is `0.digits * 10^exponent`; 0 for zero.
    exponent: i32,
}

impl Number {
    /// Zero.
    pub fn zero() -> Number {
        Number {
            negative: false,
            digits: Vec::new(),
            exponent: 0,
        }
    }

    /// Parses DynamoDB's number text: an optional sign, digits with an optional point, and an
    /// optional exponent (`-1.5`, `.5`, `1e3`, `2E+10`).
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if let Some(&c) = bytes.first() {
            if c == b'+' || c == b'-' {
                negative = c == b'-';
                i = 1;
            }
        }
        let mut mantissa = Vec::new();
        let mut point_at: Option<usize> = None;
        let mut any_digit = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                mantissa.push(c - b'0');
                any_digit = true;
            } else if c == b'.' && point_at.is_none() {
                point_at = Some(mantissa.len());
            } else {
                break;
            }
            i += 1;
        }
        if !any_digit {
            return Err(NumberError::NotANumber);
        }
        let mut exp_part: i64 = 0;
        if i < bytes.len() {
            if bytes[i] != b'e' && bytes[i] != b'E' {
                return Err(NumberError::NotANumber);
            }
            i += 1;
            let mut exp_negative = false;
            if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
                exp_negative = bytes[i] == b'-';
                i += 1;
            }
            if i == bytes.len() {
                return Err(NumberError::NotANumber);
            }
            while i < bytes.len() {
                let c = bytes[i];
                if !c.is_ascii_digit() {
                    return Err(NumberError::NotANumber);
                }
                // Saturate: anything this large is out of range anyway.
                exp_part = (exp_part * 10 + i64::from(c - b'0')).min(1_000_000_000);
                i += 1;
            }
            if exp_negative {
                exp_part = -exp_part;
            }
        }
        let int_len = point_at.unwrap_or(mantissa.len()) as i64;
        Number::from_parts(negative, mantissa, int_len + exp_part)
    }

    /// Builds a number from raw digits (leading and trailing zeros allowed) whose value is
    /// `0.digits * 10^exponent`, normalising and checking DynamoDB's limits.
    fn from_parts(
        negative: bool,
        mut digits: Vec<u8>,
        exponent: i64,
    ) -> Result<Number, NumberError> {
        let leading = digits.iter().take_while(|&&d| d == 0).count();
        if leading == digits.len() {
            return Ok(Number::zero());
        }
        digits.drain(..leading);
        let exponent = exponent - leading as i64;
        while digits.last() == Some(&0) {
            digits.pop();
        }
        if digits.len() > MAX_DIGITS {
            return Err(NumberError::TooManyDigits);
        }
        if exponent > i64::from(MAX_EXPONENT) {
            return Err(NumberError::Overflow);
        }
        if exponent < i64::from(MIN_EXPONENT) {
            return Err(NumberError::Underflow);
        }
        Ok(Number {
            negative,
            digits,
            exponent: exponent as i32,
        })
    }

    /// Whether the number is zero.
    pub fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Whether the number is below zero.
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// The number of significant digits (at least 1; zero has one).
    pub fn significant_digits(&self) -> usize {
        self.digits.len().max(1)
    }

    /// The sum, exact, or an error when the exact sum does not fit DynamoDB's limits.
    pub fn add(&self, other: &Number) -> Result<Number, NumberError> {
        if self.is_zero() {
            return Ok(other.clone());
        }
        if other.is_zero() {
            return Ok(self.clone());
        }
        // Align both magnitudes as integers scaled by 10^low.
        let low = (self.exponent - self.digits.len() as i32)
            .min(other.exponent - other.digits.len() as i32);
        let high = self.exponent.max(other.exponent);
        let width = (high - low) as usize;
        let a = self.aligned(high, width);
        let b = other.aligned(high, width);
        let (negative, digits) = if self.negative == other.negative {
            (self.negative, add_magnitudes(&a, &b))
        } else {
            match a.cmp(&b) {
                Ordering::Equal => return Ok(Number::zero()),
                Ordering::Greater => (self.negative, sub_magnitudes(&a, &b)),
                Ordering::Less => (other.negative, sub_magnitudes(&b, &a)),
            }
        };
        // `add_magnitudes` may carry into one extra leading digit.
        let exponent = i64::from(high) + (digits.len() as i64 - width as i64);
        Number::from_parts(negative, digits, exponent)
    }

    /// The difference, exact, or an error when it does not fit DynamoDB's limits.
    pub fn sub(&self, other: &Number) -> Result<Number, NumberError> {
        self.add(&other.negated())
    }

    /// The number with its sign flipped (zero stays zero).
    pub fn negated(&self) -> Number {
        let mut n = self.clone();
        if !n.is_zero() {
            n.negative = !n.negative;
        }
        n
    }

    /// The digits placed in a window of `width` digits whose first digit has weight 10^(high-1).
    fn aligned(&self, high: i32, width: usize) -> Vec<u8> {
        let mut out = vec![0u8; width];
        let start = (high - self.exponent) as usize;
        out[start..start + self.digits.len()].copy_from_slice(&self.digits);
        out
    }

    /// A byte string whose bytewise order is the numeric order, for sort keys.
    ///
    /// Layout: a class byte (0 negative, 1 zero, 2 positive), then for non-zero numbers the biased
    /// exponent as two big-endian bytes and one byte per digit (digit + 1). Negative numbers
    /// complement every byte after the class and end with 0xFF, so that a shorter digit string (a
    /// smaller magnitude, a larger value) sorts after the longer strings it prefixes.
    pub fn sort_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + self.digits.len());
        self.write_sort_bytes(&mut out);
        out
    }

    /// Appends [`Number::sort_bytes`] to `out` (the stored item format embeds them).
    pub fn write_sort_bytes(&self, out: &mut Vec<u8>) {
        if self.is_zero() {
            out.push(1);
            return;
        }
        let biased = (self.exponent + 0x8000) as u16;
        let body = biased
            .to_be_bytes()
            .into_iter()
            .chain(self.digits.iter().map(|d| d + 1));
        if self.negative {
            out.push(0);
            out.extend(body.map(|b| !b));
            out.push(0xFF);
        } else {
            out.push(2);
            out.extend(body);
        }
    }

    /// The length of [`Number::sort_bytes`].
    pub fn sort_bytes_len(&self) -> usize {
        match (self.is_zero(), self.negative) {
            (true, _) => 1,
            (false, false) => 3 + self.digits.len(),
            (false, true) => 4 + self.digits.len(),
        }
    }

    /// The inverse of [`Number::sort_bytes`]; `None` when the bytes are not such an encoding.
    pub fn from_sort_bytes(bytes: &[u8]) -> Option<Number> {
        match bytes.split_first()? {
            (1, []) => Some(Number::zero()),
            (2, rest) if rest.len() >= 3 => Number::decode_body(false, rest),
            (0, rest) if rest.len() >= 4 && rest.last() == Some(&0xFF) => {
                let body: Vec<u8> = rest[..rest.len() - 1].iter().map(|b| !b).collect();
                Number::decode_body(true, &body)
            }
            _ => None,
        }
    }

    fn decode_body(negative: bool, body: &[u8]) -> Option<Number> {
        let exponent = i32::from(u16::from_be_bytes([body[0], body[1]])) - 0x8000;
        let digits: Vec<u8> = body[2..]
            .iter()
            .map(|b| b.checked_sub(1).filter(|d| *d <= 9))
            .collect::<Option<_>>()?;
        Number::from_parts(negative, digits, i64::from(exponent)).ok()
    }
}

fn add_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len() + 1];
    let mut carry = 0;
    for i in (0..a.len()).rev() {
        let s = a[i] + b[i] + carry;
        out[i + 1] = s % 10;
        carry = s / 10;
    }
    out[0] = carry;
    if carry == 0 {
        out.remove(0);
    }
    out
}

/// `a - b` for aligned magnitudes with `a > b`.
fn sub_magnitudes(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i8;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i8 - b[i] as i8 - borrow;
        borrow = 0;
        if d < 0 {
            d += 10;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    out
}

impl Ord for Number {
    fn cmp(&self, other: &Number) -> Ordering {
        let class = |n: &Number| match (n.is_zero(), n.negative) {
            (true, _) => 1,
            (false, true) => 0,
            (false, false) => 2,
        };
        let by_class = class(self).cmp(&class(other));
        if by_class != Ordering::Equal || self.is_zero() {
            return by_class;
        }
        let magnitude = self
            .exponent
            .cmp(&other.exponent)
            .then_with(|| self.digits.cmp(&other.digits));
        if self.negative {
            magnitude.reverse()
        } else {
            magnitude
        }
    }
}

impl PartialOrd for Number {
    fn partial_cmp(&self, other: &Number) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Plain notation, as DynamoDB returns numbers: no exponent, no needless zeros (`1000`, `0.001`,
/// `-12.5`).
impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_zero() {
            return f.write_str("0");
        }
        let mut s = String::with_capacity(self.digits.len() + 8);
        if self.negative {
            s.push('-');
        }
        let digit = |d: &u8| char::from(b'0' + d);
        let n = self.digits.len() as i32;
        if self.exponent <= 0 {
            s.push_str("0.");
            s.extend(std::iter::repeat_n('0', (-self.exponent) as usize));
            s.extend(self.digits.iter().map(digit));
        } else if self.exponent >= n {
            s.extend(self.digits.iter().map(digit));
            s.extend(std::iter::repeat_n('0', (self.exponent - n) as usize));
        } else {
            let (int, frac) = self.digits.split_at(self.exponent as usize);
            s.extend(int.iter().map(digit));
            s.push('.');
            s.extend(frac.iter().map(digit));
        }
        f.write_str(&s)
    }
}

impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl From<i64> for Number {
    fn from(value: i64) -> Number {
        // An i64 has at most 19 digits, always within DynamoDB's limits.
        Number::parse(&value.to_string()).unwrap_or_else(|_| Number::zero())
    }
}

impl std::str::FromStr for Number {
    type Err = NumberError;
    fn from_str(s: &str) -> Result<Number, NumberError> {
        Number::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    /// Parses each input and prints its normal form or the error.
    fn check_parse(inputs: &[&str], expected: Expect) {
        let out: Vec<String> = inputs
            .iter()
            .map(|i| match Number::parse(i) {
                Ok(n) => format!("{i} -> {n}"),
                Err(e) => format!("{i} -> error: {e}"),
            })
            .collect();
        expected.assert_eq(&out.join("\n"));
    }

    #[test]
    fn parse_normalises_like_dynamodb() {
        check_parse(
            &[
                "0",
                "-0",
                "000.000",
                "1.50",
                "+7",
                ".5",
                "5.",
                "1e3",
                "15E-1",
                "-0.00120",
                "1E+125",
                "9.9999999999999999999999999999999999999E+125",
                "1E126",
                "1E-130",
                "1E-131",
                "12345678901234567890123456789012345678",
                "123456789012345678901234567890123456789",
                "1000000000000000000000000000000000000000000",
                "abc",
                "",
                "-",
                "1e",
                "1.2.3",
                " 1",
                "0x10",
                "1e+",
            ],
            expect![[r#"
                0 -> 0
                -0 -> 0
                000.000 -> 0
                1.50 -> 1.5
                +7 -> 7
                .5 -> 0.5
                5. -> 5
                1e3 -> 1000
                15E-1 -> 1.5
                -0.00120 -> -0.0012
                1E+125 -> 100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
                9.9999999999999999999999999999999999999E+125 -> 999999999999999999999999999999999999990000000000000000000000000000000000000000000000000000000000000000000000000000000000000000
                1E126 -> error: Number overflow. Attempting to store a number with magnitude larger than supported range
                1E-130 -> 0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001
                1E-131 -> error: Number underflow. Attempting to store a number with magnitude smaller than supported range
                12345678901234567890123456789012345678 -> 12345678901234567890123456789012345678
                123456789012345678901234567890123456789 -> error: Attempting to store more than 38 significant digits in a Number
                1000000000000000000000000000000000000000000 -> 1000000000000000000000000000000000000000000
                abc -> error: A value provided cannot be converted into a number
                 -> error: A value provided cannot be converted into a number
                - -> error: A value provided cannot be converted into a number
                1e -> error: A value provided cannot be converted into a number
                1.2.3 -> error: A value provided cannot be converted into a number
                 1 -> error: A value provided cannot be converted into a number
                0x10 -> error: A value provided cannot be converted into a number
                1e+ -> error: A value provided cannot be converted into a number"#]],
        );
    }

    fn check_arith(cases: &[(&str, char, &str)], expected: Expect) {
        let out: Vec<String> = cases
            .iter()
            .map(|(a, op, b)| {
                let (x, y) = (Number::parse(a).unwrap(), Number::parse(b).unwrap());
                let r = if *op == '+' { x.add(&y) } else { x.sub(&y) };
                match r {
                    Ok(n) => format!("{a} {op} {b} = {n}"),
                    Err(e) => format!("{a} {op} {b} = error: {e}"),
                }
            })
            .collect();
        expected.assert_eq(&out.join("\n"));
    }

    #[test]
    fn addition_and_subtraction_are_exact_within_38_digits() {
        check_arith(
            &[
                ("1", '+', "2"),
                ("0.1", '+', "0.2"),
                ("9.99", '+', "0.01"),
                ("5", '-', "7"),
                ("-5", '-', "-5"),
                ("100", '-', "0.001"),
                ("1E125", '+', "1"),
                ("99999999999999999999999999999999999999", '+', "1"),
                ("9E125", '+', "9E125"),
                ("0", '-', "3.5"),
                ("-1.25", '+', "1.2"),
            ],
            expect![[r#"
                1 + 2 = 3
                0.1 + 0.2 = 0.3
                9.99 + 0.01 = 10
                5 - 7 = -2
                -5 - -5 = 0
                100 - 0.001 = 99.999
                1E125 + 1 = error: Attempting to store more than 38 significant digits in a Number
                99999999999999999999999999999999999999 + 1 = 100000000000000000000000000000000000000
                9E125 + 9E125 = error: Number overflow. Attempting to store a number with magnitude larger than supported range
                0 - 3.5 = -3.5
                -1.25 + 1.2 = -0.05"#]],
        );
    }

    #[test]
    fn order_and_sort_bytes_agree() {
        let texts = [
            "-1E125", "-100", "-1.23", "-1.2", "-1", "-0.5", "-1E-130", "0", "1E-130", "0.5", "1",
            "1.2", "1.23", "9", "10", "100", "1E125",
        ];
        let numbers: Vec<Number> = texts.iter().map(|t| Number::parse(t).unwrap()).collect();
        for pair in numbers.windows(2) {
            assert!(pair[0] < pair[1], "{:?} < {:?}", pair[0], pair[1]);
            assert!(
                pair[0].sort_bytes() < pair[1].sort_bytes(),
                "{:?} bytes",
                pair
            );
        }
        for n in &numbers {
            assert_eq!(Number::from_sort_bytes(&n.sort_bytes()).as_ref(), Some(n));
        }
        assert_eq!(Number::from_sort_bytes(&[7, 1]), None);
    }
}
