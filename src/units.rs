//! Units that travel through the whole agent: [`Bytes`] and human durations.
//!
//! Every memory figure is a [`Bytes`] (a `u64` count of bytes), converted once at parse time, so
//! no module ever wonders whether a number is kB, MiB or pages. Sizes are written the way a
//! Jetson user writes them in a config file or on the command line:
//!
//! ```text
//! 512MiB   5.5GiB   64KiB   1TiB   1048576   (IEC suffixes, or a plain count of bytes)
//! 250ms    30s      5m      1.5h   2d        (durations)
//! ```
//!
//! Decimal suffixes (`MB`, `GB`) are refused on purpose: tegrastats prints `MB` meaning MiB,
//! and a limit that silently differs by 7 % is the kind of trap this tool exists to remove.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A memory figure in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Bytes(pub u64);

impl Bytes {
    pub const ZERO: Bytes = Bytes(0);
    pub const KIB: u64 = 1 << 10;
    pub const MIB: u64 = 1 << 20;
    pub const GIB: u64 = 1 << 30;

    pub const fn from_kib(kib: u64) -> Bytes {
        Bytes(kib.saturating_mul(Self::KIB))
    }

    pub const fn from_mib(mib: u64) -> Bytes {
        Bytes(mib.saturating_mul(Self::MIB))
    }

    pub const fn from_gib(gib: u64) -> Bytes {
        Bytes(gib.saturating_mul(Self::GIB))
    }

    pub const fn get(self) -> u64 {
        self.0
    }

    pub fn saturating_sub(self, other: Bytes) -> Bytes {
        Bytes(self.0.saturating_sub(other.0))
    }

    pub fn saturating_add(self, other: Bytes) -> Bytes {
        Bytes(self.0.saturating_add(other.0))
    }

    /// The figure in MiB as a float, for human output and ratios.
    pub fn as_mib_f64(self) -> f64 {
        self.0 as f64 / Self::MIB as f64
    }
}

impl std::ops::Add for Bytes {
    type Output = Bytes;
    fn add(self, rhs: Bytes) -> Bytes {
        self.saturating_add(rhs)
    }
}

impl std::iter::Sum for Bytes {
    fn sum<I: Iterator<Item = Bytes>>(iter: I) -> Bytes {
        iter.fold(Bytes::ZERO, |a, b| a + b)
    }
}

/// Human form: the largest IEC unit that keeps the figure at or above 1, one decimal.
impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 as f64;
        if self.0 >= Self::GIB {
            write!(f, "{:.1}GiB", b / Self::GIB as f64)
        } else if self.0 >= Self::MIB {
            write!(f, "{:.1}MiB", b / Self::MIB as f64)
        } else if self.0 >= Self::KIB {
            write!(f, "{:.1}KiB", b / Self::KIB as f64)
        } else {
            write!(f, "{}B", self.0)
        }
    }
}

/// Why a size or duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("empty value")]
    Empty,
    #[error("{0:?} is not a number followed by a unit")]
    NotANumber(String),
    #[error("unknown size unit {unit:?} in {input:?}: use B, KiB, MiB, GiB or TiB (tegrastats' \"MB\" means MiB; write MiB)")]
    SizeUnit { input: String, unit: String },
    #[error("unknown duration unit {unit:?} in {input:?}: use ms, s, m, h or d")]
    DurationUnit { input: String, unit: String },
    #[error("{0:?} is out of range")]
    OutOfRange(String),
}

fn split_number(input: &str) -> Result<(f64, &str), UnitError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(end);
    let value: f64 = num
        .parse()
        .map_err(|_| UnitError::NotANumber(input.to_string()))?;
    if !value.is_finite() {
        return Err(UnitError::OutOfRange(input.to_string()));
    }
    Ok((value, unit.trim()))
}

fn scaled(input: &str, value: f64, scale: f64) -> Result<u64, UnitError> {
    let v = value * scale;
    if !(0.0..=u64::MAX as f64).contains(&v) {
        return Err(UnitError::OutOfRange(input.to_string()));
    }
    Ok(v.round() as u64)
}

impl FromStr for Bytes {
    type Err = UnitError;

    fn from_str(input: &str) -> Result<Bytes, UnitError> {
        let (value, unit) = split_number(input)?;
        let scale = match unit {
            "" | "B" => 1u64,
            "KiB" => Self::KIB,
            "MiB" => Self::MIB,
            "GiB" => Self::GIB,
            "TiB" => Self::GIB << 10,
            other => {
                return Err(UnitError::SizeUnit {
                    input: input.to_string(),
                    unit: other.to_string(),
                })
            }
        };
        scaled(input, value, scale as f64).map(Bytes)
    }
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// Config files may write a size as a string (`"2GiB"`) or a plain integer of bytes.
impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Ok(Bytes(n)),
            Raw::Text(s) => s.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Parses `250ms`, `30s`, `5m`, `1.5h`, `2d`. A bare number is refused: units are not guessed.
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let (value, unit) = split_number(input)?;
    let millis_per = match unit {
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" | "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        other => {
            return Err(UnitError::DurationUnit {
                input: input.to_string(),
                unit: other.to_string(),
            })
        }
    };
    let micros = scaled(input, value, millis_per * 1_000.0)?;
    Ok(Duration::from_micros(micros))
}

/// Short human form of a duration: `250ms`, `30s`, `5m`, `2h`, `1.5h`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        trim_float(d.as_secs_f64(), "s")
    } else if ms < 3_600_000 {
        trim_float(d.as_secs_f64() / 60.0, "m")
    } else if ms < 86_400_000 {
        trim_float(d.as_secs_f64() / 3_600.0, "h")
    } else {
        trim_float(d.as_secs_f64() / 86_400.0, "d")
    }
}

fn trim_float(v: f64, unit: &str) -> String {
    let s = format!("{v:.1}");
    let s = s.strip_suffix(".0").unwrap_or(&s);
    format!("{s}{unit}")
}

/// A [`Duration`] that (de)serializes as a human string such as `"30s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = UnitError;
    fn from_str(s: &str) -> Result<Self, UnitError> {
        parse_duration(s).map(HumanDuration)
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_iec_sizes_and_plain_bytes() {
        assert_eq!("512MiB".parse::<Bytes>(), Ok(Bytes(512 << 20)));
        assert_eq!(
            "5.5GiB".parse::<Bytes>(),
            Ok(Bytes(5 * (1 << 30) + (1 << 29)))
        );
        assert_eq!("64KiB".parse::<Bytes>(), Ok(Bytes(64 << 10)));
        assert_eq!("1048576".parse::<Bytes>(), Ok(Bytes(1 << 20)));
        assert_eq!(" 2 GiB ".parse::<Bytes>(), Ok(Bytes(2 << 30)));
    }

    #[test]
    fn refuses_decimal_size_units_with_a_hint() {
        let err = "2GB".parse::<Bytes>().unwrap_err();
        assert!(err.to_string().contains("GiB"), "{err}");
        assert!("".parse::<Bytes>().is_err());
        assert!("GiB".parse::<Bytes>().is_err());
        assert!("-1GiB".parse::<Bytes>().is_err());
        assert!("1e400".parse::<Bytes>().is_err());
    }

    #[test]
    fn parses_durations_and_refuses_bare_numbers() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("5 fortnights").is_err());
    }

    #[test]
    fn formats_sizes_and_durations_for_people() {
        assert_eq!(Bytes::from_mib(1536).to_string(), "1.5GiB");
        assert_eq!(Bytes(512).to_string(), "512B");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(90)), "1.5m");
        assert_eq!(format_duration(Duration::from_secs(30)), "30s");
    }

    #[test]
    fn sizes_deserialize_from_strings_or_integers() {
        #[derive(Deserialize)]
        struct T {
            a: Bytes,
            b: Bytes,
        }
        let t: T = toml::from_str("a = \"1GiB\"\nb = 4096").unwrap();
        assert_eq!((t.a, t.b), (Bytes::from_gib(1), Bytes(4096)));
        assert!(toml::from_str::<T>("a = \"1GB\"\nb = 1").is_err());
    }

    proptest! {
        #[test]
        fn size_parsing_never_panics(s in ".{0,24}") {
            let _ = s.parse::<Bytes>();
            let _ = parse_duration(&s);
        }

        #[test]
        fn whole_mib_round_trip(n in 0u64..1_000_000) {
            prop_assert_eq!(format!("{n}MiB").parse::<Bytes>(), Ok(Bytes::from_mib(n)));
        }
    }
}
