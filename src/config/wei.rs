//! An amount of wei as operators write it: a plain integer of wei, or a
//! number with a unit (`"30 gwei"`, `"0.5 ether"`, `"21000 wei"`).

use std::fmt;
use std::str::FromStr;

use alloy::primitives::U256;
use alloy::primitives::utils::{ParseUnits, parse_units};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Wei(pub U256);

impl Wei {
    pub fn gwei(n: u64) -> Wei {
        Wei(U256::from(n) * U256::from(1_000_000_000u64))
    }

    /// As `u128` (fee fields); saturating, no fee is near `u128::MAX`.
    pub fn as_u128(self) -> u128 {
        self.0.saturating_to()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not an amount: write wei as an integer, or a number with a unit (wei, gwei, ether), e.g. \"30 gwei\""
)]
pub struct WeiError {
    input: String,
}

impl FromStr for Wei {
    type Err = WeiError;
    fn from_str(s: &str) -> Result<Wei, WeiError> {
        let err = || WeiError {
            input: s.to_owned(),
        };
        let text = s.trim();
        let (number, unit) = match text.split_once(char::is_whitespace) {
            Some((n, u)) => (n.trim(), u.trim()),
            None => (text, "wei"),
        };
        let unit = match unit.to_ascii_lowercase().as_str() {
            "wei" => "wei",
            "gwei" => "gwei",
            "eth" | "ether" => "ether",
            _ => return Err(err()),
        };
        match parse_units(number, unit).map_err(|_| err())? {
            ParseUnits::U256(v) => Ok(Wei(v)),
            ParseUnits::I256(_) => Err(err()),
        }
    }
}

impl fmt::Display for Wei {
    /// Gwei with up to 9 decimals when that reads better than wei.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gwei = U256::from(1_000_000_000u64);
        if self.0 >= gwei {
            let text = alloy::primitives::utils::format_units(self.0, "gwei")
                .unwrap_or_else(|_| self.0.to_string());
            let text = text.trim_end_matches('0').trim_end_matches('.');
            write!(f, "{text} gwei")
        } else {
            write!(f, "{} wei", self.0)
        }
    }
}

impl Serialize for Wei {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Wei {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Wei, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Wei(U256::from(n))),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_plain_wei() {
        assert_eq!("30 gwei".parse::<Wei>().unwrap(), Wei::gwei(30));
        assert_eq!(
            "1.5 gwei".parse::<Wei>().unwrap().0,
            U256::from(1_500_000_000u64)
        );
        assert_eq!(
            "0.5 ether".parse::<Wei>().unwrap().0,
            U256::from(500_000_000_000_000_000u64)
        );
        assert_eq!("21000".parse::<Wei>().unwrap().0, U256::from(21_000u64));
        assert!("30 gwie".parse::<Wei>().is_err());
        assert!("-1 gwei".parse::<Wei>().is_err());
        assert!("lots".parse::<Wei>().is_err());
    }

    #[test]
    fn displays_in_gwei() {
        assert_eq!(Wei::gwei(200).to_string(), "200 gwei");
        assert_eq!("1.25 gwei".parse::<Wei>().unwrap().to_string(), "1.25 gwei");
        assert_eq!(Wei(U256::from(7u64)).to_string(), "7 wei");
    }

    #[test]
    fn yaml_numbers_and_strings() {
        let v: Wei = serde_norway::from_str("1000").unwrap();
        assert_eq!(v.0, U256::from(1000u64));
        let v: Wei = serde_norway::from_str("\"2 gwei\"").unwrap();
        assert_eq!(v, Wei::gwei(2));
    }
}
