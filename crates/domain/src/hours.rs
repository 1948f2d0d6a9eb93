//! Compute hours, the unit users prepay and jobs are charged in.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Neg, Sub};

use serde::{Serialize, Serializer};

/// Micro-hours per hour. A micro-hour is 3.6 ms of compute: fine enough to charge measured
/// CPU time exactly, and an integer, so sums never drift.
const MICROS_PER_HOUR: i64 = 1_000_000;

/// An amount of compute time, possibly negative (a charge). Stored as whole micro-hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hours(i64);

impl Hours {
    /// Nothing.
    pub const ZERO: Self = Self(0);

    /// From whole micro-hours.
    pub fn from_micro(micro: i64) -> Self {
        Self(micro)
    }

    /// From a decimal number of hours, rounded to the nearest micro-hour; `None` when not
    /// finite or out of range.
    pub fn from_hours_f64(hours: f64) -> Option<Self> {
        let micro = (hours * MICROS_PER_HOUR as f64).round();
        (micro.is_finite() && micro.abs() < i64::MAX as f64).then_some(Self(micro as i64))
    }

    /// From compute time in milliseconds, rounded up to the next micro-hour so that work is
    /// never charged as free.
    pub fn from_millis_ceil(millis: u64) -> Self {
        // 1 micro-hour = 3.6 ms = 36 tenths of a millisecond.
        let tenths = i128::from(millis) * 10;
        let micro = (tenths + 35) / 36;
        Self(i64::try_from(micro).unwrap_or(i64::MAX))
    }

    /// Whole micro-hours.
    pub fn as_micro(self) -> i64 {
        self.0
    }

    /// Decimal hours, for display and JSON.
    pub fn as_hours_f64(self) -> f64 {
        self.0 as f64 / MICROS_PER_HOUR as f64
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Adds, or `None` on overflow.
    pub fn checked_add(self, other: Self) -> Option<Self> {
        self.0.checked_add(other.0).map(Self)
    }
}

impl Add for Hours {
    type Output = Self;
    fn add(self, other: Self) -> Self {
        Self(self.0.saturating_add(other.0))
    }
}

impl Sub for Hours {
    type Output = Self;
    fn sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }
}

impl Neg for Hours {
    type Output = Self;
    fn neg(self) -> Self {
        Self(self.0.saturating_neg())
    }
}

impl Sum for Hours {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / MICROS_PER_HOUR as u64;
        let frac = abs % MICROS_PER_HOUR as u64;
        write!(f, "{sign}{whole}.{frac:06} h")
    }
}

/// Serialised as decimal hours, which is what API clients read.
impl Serialize for Hours {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(self.as_hours_f64())
    }
}

/// Described to API clients as what it serialises to: a decimal number of hours.
impl utoipa::PartialSchema for Hours {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Double)))
            .description(Some(
                "Compute hours as a decimal number, exact to the micro-hour (3.6 ms); \
                 negative for charges.",
            ))
            .into()
    }
}

impl utoipa::ToSchema for Hours {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compute_time_is_rounded_up_to_the_next_micro_hour() {
        assert_eq!(Hours::from_millis_ceil(0), Hours::ZERO);
        assert_eq!(Hours::from_millis_ceil(1), Hours::from_micro(1));
        assert_eq!(Hours::from_millis_ceil(36), Hours::from_micro(10));
        assert_eq!(Hours::from_millis_ceil(3_600_000), Hours::from_micro(1_000_000));
    }

    #[test]
    fn hours_display_with_six_decimals() {
        assert_eq!(Hours::from_micro(1_500_000).to_string(), "1.500000 h");
        assert_eq!(Hours::from_micro(-250).to_string(), "-0.000250 h");
    }

    #[test]
    fn decimal_hours_convert_exactly_at_micro_precision() {
        assert_eq!(Hours::from_hours_f64(0.1), Some(Hours::from_micro(100_000)));
        assert_eq!(Hours::from_hours_f64(f64::NAN), None);
        assert_eq!(Hours::from_micro(-3) + Hours::from_micro(5), Hours::from_micro(2));
    }
}
