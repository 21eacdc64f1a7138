//! Instants as microseconds since the Unix epoch (how the database stores them) and
//! their protobuf form.

use prost_types::Timestamp;

/// The wall clock now, in microseconds.
pub(crate) fn now_micros() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    since.as_micros() as i64
}

pub(crate) fn timestamp(micros: i64) -> Timestamp {
    Timestamp { seconds: micros.div_euclid(1_000_000), nanos: (micros.rem_euclid(1_000_000) * 1_000) as i32 }
}

/// Saturates instead of overflowing for far-future values (9999-12-31 waits).
pub(crate) fn from_timestamp(ts: &Timestamp) -> i64 {
    ts.seconds.saturating_mul(1_000_000).saturating_add(i64::from(ts.nanos.clamp(0, 999_999_999)) / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_saturates() {
        for micros in [0, 1, 1_700_000_000_123_456, -1] {
            assert_eq!(from_timestamp(&timestamp(micros)), micros);
        }
        let far = Timestamp { seconds: 253_402_300_799, nanos: 999_999_999 };
        assert!(from_timestamp(&far) > 253_000_000_000 * 1_000_000);
        assert_eq!(from_timestamp(&Timestamp { seconds: i64::MAX, nanos: 0 }), i64::MAX);
    }
}
