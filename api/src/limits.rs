//! What keeps one client from taking the server from everyone else: keyed rate
//! limits (governor's GCRA) for logins, sign-ups and chat, a bound on concurrent
//! password hashing, and a cap on each user's open event streams.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

/// At most `per_minute` requests per key, in a burst or spread out; cheap to clone.
#[derive(Clone)]
pub struct RateLimit<K: Hash + Eq + Clone> {
    limiter: Arc<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> RateLimit<K> {
    /// `per_minute` requests a minute per key (at least one).
    pub fn per_minute(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        RateLimit { limiter: Arc::new(RateLimiter::keyed(quota)) }
    }

    /// Admits one request for `key`, or says (429) how long to wait.
    pub fn admit(&self, key: &K) -> Result<(), ApiError> {
        self.limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited { retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64 }
        })
    }

    /// Forgets keys whose quota has fully recovered, so the map holds only recent keys.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }

    /// Keys currently tracked.
    pub fn tracked(&self) -> usize {
        self.limiter.len()
    }
}

/// Bounds concurrent argon2 hashing (19 MiB and tens of milliseconds of a core each):
/// `permits` at a time, and at most `waiting` more queued; beyond that a request is
/// turned away at once (429) instead of piling up until task reads starve.
#[derive(Clone)]
pub struct HashGate {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

impl HashGate {
    /// A gate of `permits` hashes at once and `max_waiting` in line.
    pub fn new(permits: usize, max_waiting: usize) -> Self {
        HashGate { permits: Arc::new(Semaphore::new(permits.max(1))), waiting: Default::default(), max_waiting }
    }

    /// One hash on a machine with `cores` cores: leave one core for everything else.
    pub fn for_cores(cores: usize) -> Self {
        let permits = cores.saturating_sub(1).max(1);
        HashGate::new(permits, permits * 16)
    }

    /// Waits for a turn to hash, or refuses when the line is full.
    pub async fn enter(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("errand_auth_hash_rejected_total").increment(1);
            return Err(ApiError::RateLimited { retry_after_secs: 1 });
        }
        let permit = self.permits.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit.map_err(|_| ApiError::Unavailable("the password hasher is shut down".into()))
    }
}

/// Caps each user's concurrent long-lived streams (SSE).
#[derive(Clone)]
pub struct StreamSlots {
    open: Arc<Mutex<HashMap<String, usize>>>,
    per_user: usize,
}

/// One open stream; the slot frees itself when dropped. Open streams are the gauge
/// `errand_sse_connections{stream}`.
pub struct StreamSlot {
    open: Arc<Mutex<HashMap<String, usize>>>,
    user_id: String,
    stream: &'static str,
}

impl StreamSlots {
    /// At most `per_user` open streams per user.
    pub fn new(per_user: usize) -> Self {
        StreamSlots { open: Default::default(), per_user }
    }

    /// Takes a slot of `stream` (which stream it is, for the gauge) for `user_id`, or
    /// refuses (429) when all are in use.
    pub fn take(&self, user_id: &str, stream: &'static str) -> Result<StreamSlot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = open.entry(user_id.to_string()).or_default();
        if *count >= self.per_user {
            return Err(ApiError::RateLimited { retry_after_secs: 5 });
        }
        *count += 1;
        metrics::gauge!("errand_sse_connections", "stream" => stream).increment(1.0);
        Ok(StreamSlot { open: self.open.clone(), user_id: user_id.to_string(), stream })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        metrics::gauge!("errand_sse_connections", "stream" => self.stream).decrement(1.0);
        let mut open = self.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// The address a request came from: the TCP peer, or behind a trusted reverse proxy
/// the last address it appended to `X-Forwarded-For`.
pub fn client_address(parts: &Parts, trust_forwarded_for: bool) -> IpAddr {
    if trust_forwarded_for {
        // Only the proxy's own entry counts: earlier ones are whatever the client sent.
        let header = parts.headers.get_all("x-forwarded-for").iter().next_back().and_then(|v| v.to_str().ok());
        if let Some(address) = header.and_then(|v| v.rsplit(',').next()).and_then(|v| v.trim().parse().ok()) {
            return address;
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// Every limiter of the API; cheap to clone.
#[derive(Clone)]
pub struct Limits {
    /// Log-ins and sign-ups per client address.
    pub auth_per_address: RateLimit<IpAddr>,
    /// Log-ins (and password changes) per account, by email key.
    pub auth_per_account: RateLimit<String>,
    /// Chat messages per user.
    pub chat_per_user: RateLimit<String>,
    /// Password hashing.
    pub hashing: HashGate,
    /// Open event streams per user.
    pub streams: StreamSlots,
    /// Read the client address from `X-Forwarded-For` (behind a reverse proxy).
    pub trust_forwarded_for: bool,
}

/// How the limits are set (`errand serve` reads them from its configuration).
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Log-ins and sign-ups per client address per minute.
    pub auth_per_address_per_minute: u32,
    /// Log-ins per account per minute.
    pub auth_per_account_per_minute: u32,
    /// Chat messages per user per minute.
    pub chat_per_user_per_minute: u32,
    /// Concurrent event streams per user.
    pub streams_per_user: usize,
    /// Trust `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            auth_per_address_per_minute: 60,
            auth_per_account_per_minute: 10,
            chat_per_user_per_minute: 200,
            streams_per_user: 8,
            trust_forwarded_for: false,
        }
    }
}

impl Limits {
    /// The limiters of `settings`, hashing bounded by this machine's cores.
    pub fn new(settings: &LimitSettings) -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Limits {
            auth_per_address: RateLimit::per_minute(settings.auth_per_address_per_minute),
            auth_per_account: RateLimit::per_minute(settings.auth_per_account_per_minute),
            chat_per_user: RateLimit::per_minute(settings.chat_per_user_per_minute),
            hashing: HashGate::for_cores(cores),
            streams: StreamSlots::new(settings.streams_per_user),
            trust_forwarded_for: settings.trust_forwarded_for,
        }
    }

    /// Forgets idle keys every minute, so memory follows recent clients only.
    pub async fn forget_idle_keys(self) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            every.tick().await;
            self.auth_per_address.forget_idle();
            self.auth_per_account.forget_idle();
            self.chat_per_user.forget_idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_quota_then_waits_and_keys_are_independent() {
        let limit = RateLimit::per_minute(3);
        for _ in 0..3 {
            assert!(limit.admit(&"ada".to_string()).is_ok());
        }
        match limit.admit(&"ada".to_string()) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert!((1..=20).contains(&retry_after_secs)),
            other => panic!("{other:?}"),
        }
        assert!(limit.admit(&"bob".to_string()).is_ok());
        assert_eq!(limit.tracked(), 2);
    }

    #[tokio::test]
    async fn the_hash_gate_queues_a_few_then_turns_away() {
        let gate = HashGate::new(1, 1);
        let first = gate.enter().await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter().await.map(|_| ()) })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(matches!(gate.enter().await, Err(ApiError::RateLimited { .. })), "the line is full");
        drop(first);
        assert!(waiter.await.unwrap().is_ok(), "the one in line gets its turn");
        assert!(gate.enter().await.is_ok());
    }

    #[test]
    fn stream_slots_free_themselves() {
        let slots = StreamSlots::new(2);
        let a = slots.take("ada", "test").unwrap();
        let _b = slots.take("ada", "test").unwrap();
        assert!(slots.take("ada", "test").is_err());
        assert!(slots.take("bob", "test").is_ok());
        drop(a);
        assert!(slots.take("ada", "test").is_ok());
    }
}
