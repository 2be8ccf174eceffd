//! Exact token amounts for strategies. Thresholds are written in whole tokens
//! ("100000", "0.5") while the chain holds base units; comparing them as
//! floating point would put a proposal on the wrong side of a threshold, so
//! both sides are scaled to integers and compared exactly.

use std::cmp::Ordering;
use std::fmt;

use alloy::primitives::{U256, U512};

/// Beyond this many decimals `10^scale` no longer fits the comparison's
/// headroom; no real token comes close (18 is the norm).
pub const MAX_SCALE: u32 = 77;

/// A non-negative decimal number: `mantissa / 10^scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal {
    pub mantissa: U256,
    pub scale: u32,
}

impl Decimal {
    /// Parses `"1000"` or `"0.5"`: digits, an optional `.` and at least one
    /// digit after it. No sign, exponent or separators.
    pub fn parse(s: &str) -> Option<Decimal> {
        let (whole, frac) = match s.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (s, None),
        };
        let digits_ok = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits_ok(whole) || frac.is_some_and(|f| !digits_ok(f)) {
            return None;
        }
        let frac = frac.unwrap_or("");
        let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= MAX_SCALE)?;
        let mantissa = U256::from_str_radix(&format!("{whole}{frac}"), 10).ok()?;
        Some(Decimal { mantissa, scale })
    }

    /// `mantissa` base units of a token with `decimals` decimals.
    pub fn from_base_units(raw: U256, decimals: u8) -> Option<Decimal> {
        let scale = u32::from(decimals);
        (scale <= MAX_SCALE).then_some(Decimal {
            mantissa: raw,
            scale,
        })
    }

    fn scaled(&self, to_scale: u32) -> U512 {
        // Both scales are at most MAX_SCALE, so 10^(to - self) < 2^256 and the
        // product stays below 2^512: no overflow is possible.
        let factor = U512::from(10u8).pow(U512::from(to_scale - self.scale));
        U512::from(self.mantissa) * factor
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        self.scaled(scale).cmp(&other.scaled(scale))
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Decimal {
    /// Plain notation without trailing zeros: `1500.25`, `0.001`, `7`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.mantissa.to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            return f.write_str(&digits);
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, frac) = padded.split_at(padded.len() - scale);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            f.write_str(whole)
        } else {
            write!(f, "{whole}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    #[test]
    fn parses_plain_decimals_only() {
        assert_eq!(d("100").mantissa, U256::from(100));
        assert_eq!(d("0.5").scale, 1);
        for bad in ["", ".", "1.", ".5", "-1", "1e5", "1,000", " 1", "0x10"] {
            assert!(Decimal::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn compares_across_scales_exactly() {
        let table = [
            ("100000", "100000.0", Ordering::Equal),
            ("99999.999999999999999999", "100000", Ordering::Less),
            ("100000.000000000000000001", "100000", Ordering::Greater),
            ("0.5", "0.49", Ordering::Greater),
            ("0", "0.000", Ordering::Equal),
        ];
        for (a, b, want) in table {
            assert_eq!(d(a).cmp(&d(b)), want, "{a} vs {b}");
        }
    }

    #[test]
    fn base_units_compare_with_whole_tokens() {
        let usdc = |raw: u64| Decimal::from_base_units(U256::from(raw), 6).unwrap();
        assert_eq!(usdc(100_000_000_000).cmp(&d("100000")), Ordering::Equal);
        assert_eq!(usdc(100_000_000_001).cmp(&d("100000")), Ordering::Greater);
        let huge = Decimal::from_base_units(U256::MAX, 0).unwrap();
        assert_eq!(huge.cmp(&d("1.5")), Ordering::Greater);
        assert!(Decimal::from_base_units(U256::from(1), 78).is_none());
    }

    #[test]
    fn displays_without_trailing_zeros() {
        let wei = |raw: u128| Decimal::from_base_units(U256::from(raw), 18).unwrap();
        assert_eq!(wei(1_500_250_000_000_000_000_000).to_string(), "1500.25");
        assert_eq!(wei(1_000_000_000_000_000).to_string(), "0.001");
        assert_eq!(wei(7_000_000_000_000_000_000).to_string(), "7");
        assert_eq!(d("12").to_string(), "12");
    }
}
