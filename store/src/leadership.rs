//! One active instance per role (an outbox consumer, the Dapr publisher) when
//! several processes share a PostgreSQL database.

use crate::{Db, Store, StoreResult};

/// Held while this process performs a role; dropping it gives the role up.
pub struct Leadership {
    // The session-level advisory lock lives as long as this connection, which is
    // detached from the pool so that dropping it ends the session (and the lock).
    _connection: Option<sqlx::PgConnection>,
}

/// A stable lock key for a role name (FNV-1a).
fn lock_key(role: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in role.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

impl Store {
    /// Takes `role` if no other process holds it. On SQLite one process owns the
    /// database, so the role is always granted.
    pub async fn try_lead(&self, role: &str) -> StoreResult<Option<Leadership>> {
        let Db::Postgres(pool) = &self.db else { return Ok(Some(Leadership { _connection: None })) };
        let mut connection = pool.acquire().await?;
        let granted: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(role))
            .fetch_one(&mut *connection)
            .await?;
        Ok(granted.then(|| Leadership { _connection: Some(connection.detach()) }))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(super::lock_key("audit"), super::lock_key("audit"));
        assert_ne!(super::lock_key("audit"), super::lock_key("notification"));
    }
}
