//! Resource quantities as appc (and Kubernetes) write them: a decimal
//! number with an optional suffix. Binary suffixes `Ki Mi Gi Ti Pi Ei`,
//! decimal `k M G T P E`, `m` for thousandths, or an exponent `e3`/`E-2`.
//! `"64Mi"`, `"32M"`, `"250m"`, `"1.5Gi"`, `"2"`.
//!
//! A quantity is converted to whole units of the caller's choice, rounding
//! up as Kubernetes does: memory in bytes, CPU in millicores.

/// What a quantity is converted to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Unit {
    /// One per unit: bytes.
    Whole,
    /// A thousand per unit: millicores.
    Milli,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QuantityError {
    Syntax,
    Negative,
    TooLarge,
}

/// A number split into its parts: `digits / 10^fraction_digits`.
struct Decimal {
    negative: bool,
    digits: u128,
    fraction_digits: u32,
}

/// Parses `text` and converts it to whole `unit`s, rounding up.
pub(crate) fn parse(text: &str, unit: Unit) -> Result<u64, QuantityError> {
    let split = text
        .char_indices()
        .find(|(_, c)| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .map_or(text.len(), |(i, _)| i);
    let (number, suffix) = text.split_at(split);
    let decimal = decimal(number)?;
    let (binary_shift, mut exp10) = suffix_scale(suffix)?;
    if decimal.negative && decimal.digits != 0 {
        return Err(QuantityError::Negative);
    }
    if let Unit::Milli = unit {
        exp10 += 3;
    }
    exp10 -= i64::from(decimal.fraction_digits);
    let scaled = decimal
        .digits
        .checked_mul(1 << binary_shift)
        .ok_or(QuantityError::TooLarge)?;
    let scaled = shift_decimal(scaled, exp10)?;
    u64::try_from(scaled).map_err(|_| QuantityError::TooLarge)
}

/// Reads `[+-]digits[.digits]`, with at least one digit.
fn decimal(text: &str) -> Result<Decimal, QuantityError> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all = whole.bytes().chain(fraction.bytes());
    if whole.len() + fraction.len() == 0 || !all.clone().all(|b| b.is_ascii_digit()) {
        return Err(QuantityError::Syntax);
    }
    let mut digits: u128 = 0;
    for b in all {
        digits = digits
            .checked_mul(10)
            .and_then(|d| d.checked_add(u128::from(b - b'0')))
            .ok_or(QuantityError::TooLarge)?;
    }
    let fraction_digits = u32::try_from(fraction.len()).map_err(|_| QuantityError::TooLarge)?;
    Ok(Decimal {
        negative,
        digits,
        fraction_digits,
    })
}

/// The suffix as a power of two and a power of ten.
fn suffix_scale(suffix: &str) -> Result<(u32, i64), QuantityError> {
    let scale = match suffix {
        "" => (0, 0),
        "Ki" => (10, 0),
        "Mi" => (20, 0),
        "Gi" => (30, 0),
        "Ti" => (40, 0),
        "Pi" => (50, 0),
        "Ei" => (60, 0),
        "m" => (0, -3),
        "k" => (0, 3),
        "M" => (0, 6),
        "G" => (0, 9),
        "T" => (0, 12),
        "P" => (0, 15),
        "E" => (0, 18),
        _ => (0, exponent(suffix)?),
    };
    Ok(scale)
}

/// Reads `e<int>` or `E<int>`.
fn exponent(suffix: &str) -> Result<i64, QuantityError> {
    let rest = suffix
        .strip_prefix(['e', 'E'])
        .ok_or(QuantityError::Syntax)?;
    let digits = rest.strip_prefix(['+', '-']).unwrap_or(rest);
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QuantityError::Syntax);
    }
    rest.parse().map_err(|_| QuantityError::Syntax)
}

/// `value * 10^exp10`, rounded up when `exp10` is negative.
fn shift_decimal(value: u128, exp10: i64) -> Result<u128, QuantityError> {
    if value == 0 {
        return Ok(0);
    }
    let power = u32::try_from(exp10.unsigned_abs())
        .ok()
        .and_then(|e| 10u128.checked_pow(e));
    match power {
        Some(power) if exp10 >= 0 => value.checked_mul(power).ok_or(QuantityError::TooLarge),
        Some(power) => Ok(value.div_ceil(power)),
        None if exp10 >= 0 => Err(QuantityError::TooLarge),
        // A divisor past u128: the result is a positive fraction below one.
        None => Ok(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> Result<u64, QuantityError> {
        parse(text, Unit::Whole)
    }

    fn millis(text: &str) -> Result<u64, QuantityError> {
        parse(text, Unit::Milli)
    }

    #[test]
    fn memory_suffixes() {
        assert_eq!(bytes("64Mi"), Ok(64 << 20));
        assert_eq!(bytes("32M"), Ok(32_000_000));
        assert_eq!(bytes("1.5Gi"), Ok(3 << 29));
        assert_eq!(bytes("1k"), Ok(1000));
        assert_eq!(bytes("1Ki"), Ok(1024));
        assert_eq!(bytes("123"), Ok(123));
        assert_eq!(bytes("1e3"), Ok(1000));
        assert_eq!(bytes("1E3"), Ok(1000));
        assert_eq!(bytes("+5"), Ok(5));
        assert_eq!(bytes("8Ei"), Ok(8 << 60));
    }

    #[test]
    fn rounds_up_to_whole_units() {
        assert_eq!(bytes("1500m"), Ok(2));
        assert_eq!(bytes("0.1"), Ok(1));
        assert_eq!(bytes("1e-40"), Ok(1));
        assert_eq!(millis("0.0001"), Ok(1));
    }

    #[test]
    fn cpu_in_millicores() {
        assert_eq!(millis("250m"), Ok(250));
        assert_eq!(millis("2"), Ok(2000));
        assert_eq!(millis("0.5"), Ok(500));
        assert_eq!(millis("1.25"), Ok(1250));
    }

    #[test]
    fn zero_is_zero() {
        assert_eq!(bytes("0"), Ok(0));
        assert_eq!(bytes("-0"), Ok(0));
        assert_eq!(bytes("0e999999"), Ok(0));
    }

    #[test]
    fn refusals() {
        for bad in [
            "", "Mi", "64Qi", "1.2.3", "1e", "1e+", "ten", "1 Mi", "--1", ".", "1Mi ",
        ] {
            assert_eq!(bytes(bad), Err(QuantityError::Syntax), "{bad:?}");
        }
        assert_eq!(bytes("-1"), Err(QuantityError::Negative));
        assert_eq!(bytes("16Ei"), Err(QuantityError::TooLarge));
        assert_eq!(bytes("1e20"), Err(QuantityError::TooLarge));
        assert_eq!(bytes("1e999999"), Err(QuantityError::TooLarge));
        assert_eq!(bytes(&"9".repeat(50)), Err(QuantityError::TooLarge));
    }
}
