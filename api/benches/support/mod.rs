//! What every benchmark of this crate needs: its sizes from the environment and the
//! percentiles of what it measured. Each bench includes it (the consumers' latency
//! bench too, by `#[path]`).
#![allow(dead_code)]

use std::str::FromStr;
use std::time::Duration;

/// `name` from the environment, else `full` (or `smoke` under `BENCH_SMOKE`, the tiny
/// pass `make test` runs so that benchmarks keep working).
pub fn env_number<T: FromStr>(name: &str, full: T, smoke: T) -> T {
    let default = if std::env::var_os("BENCH_SMOKE").is_some() { smoke } else { full };
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The `p` quantile (0 to 1) of `sorted`, nearest rank; the default when empty.
pub fn percentile<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The `p` quantile of `sorted` in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    percentile(sorted, p).as_secs_f64() * 1000.0
}
