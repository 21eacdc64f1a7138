use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use errand_domain::{parse_timezone, Role, UserProfile};

use crate::{from_ms, on_read, on_write, to_ms, Store, StoreError, StoreResult};

/// A stored account, with what authentication needs.
#[derive(Debug, Clone)]
pub struct UserRecord {
    /// The public view.
    pub profile: UserProfile,
    /// The PHC-format argon2id hash.
    pub password_hash: String,
    /// The parsed timezone of `profile.timezone`.
    pub tz: Tz,
    /// When an admin disabled the account (`None`: it is enabled).
    pub disabled_at: Option<DateTime<Utc>>,
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Account id.
    pub id: String,
    /// Email as typed.
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// PHC-format password hash.
    pub password_hash: String,
    /// IANA timezone.
    pub timezone: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    email: String,
    name: Option<String>,
    password_hash: String,
    timezone: String,
    role: String,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl UserRow {
    fn into_record(self) -> StoreResult<UserRecord> {
        let tz = parse_timezone(&self.timezone).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let role = Role::parse(&self.role).ok_or_else(|| StoreError::Corrupt(format!("role {:?}", self.role)))?;
        Ok(UserRecord {
            profile: UserProfile {
                id: self.id,
                email: self.email,
                name: self.name,
                timezone: self.timezone,
                role,
                created_at: from_ms(self.created_at)?,
            },
            password_hash: self.password_hash,
            tz,
            disabled_at: self.disabled_at.map(from_ms).transpose()?,
        })
    }
}

const USER_COLUMNS: &str = "id, email, name, password_hash, timezone, role, created_at, disabled_at";

/// The key that makes emails unique regardless of case.
pub(crate) fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Store {
    /// Creates an account. The first account of an instance becomes `admin`.
    /// Returns `None` when the email is taken (in any letter case).
    pub async fn create_user(&self, user: &NewUser) -> StoreResult<Option<UserRecord>> {
        let key = email_key(&user.email);
        let outcome: Result<Option<String>, sqlx::Error> = on_write!(self, |pool| {
            let mut tx = pool.begin().await?;
            // Claiming this row is atomic in both backends, so exactly one account
            // can ever be the first admin, however many sign up at once.
            let claimed = sqlx::query(
                "INSERT INTO instance_facts (name, value) VALUES ('first_admin', $1) ON CONFLICT (name) DO NOTHING",
            )
            .bind(&user.id)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let role = if claimed { Role::Admin } else { Role::User };
            let inserted = sqlx::query(
                "INSERT INTO users (id, email, email_key, name, password_hash, timezone, role, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (email_key) DO NOTHING",
            )
            .bind(&user.id)
            .bind(&user.email)
            .bind(&key)
            .bind(&user.name)
            .bind(&user.password_hash)
            .bind(&user.timezone)
            .bind(role.as_str())
            .bind(to_ms(user.created_at))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 1 {
                tx.commit().await?;
                Ok(Some(user.id.clone()))
            } else {
                tx.rollback().await?;
                Ok(None)
            }
        });
        match outcome? {
            Some(id) => self.user_by_id(&id).await,
            None => Ok(None),
        }
    }

    /// Looks an account up by email, ignoring case.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email_key = $1");
        let row: Option<UserRow> =
            on_read!(self, |pool| sqlx::query_as(&sql).bind(email_key(email)).fetch_optional(pool).await)?;
        row.map(UserRow::into_record).transpose()
    }

    /// Looks an account up by id.
    pub async fn user_by_id(&self, id: &str) -> StoreResult<Option<UserRecord>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> = on_read!(self, |pool| sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?;
        row.map(UserRow::into_record).transpose()
    }

    /// Changes an account's display name (`Some(None)` clears it) and timezone; the
    /// account as it is then, or `None` when there is no such account.
    pub async fn update_profile(
        &self,
        user_id: &str,
        name: Option<Option<String>>,
        timezone: Option<&str>,
    ) -> StoreResult<Option<UserRecord>> {
        on_write!(self, |pool| async {
            let mut tx = pool.begin().await?;
            if let Some(name) = &name {
                sqlx::query("UPDATE users SET name = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(name)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(timezone) = timezone {
                sqlx::query("UPDATE users SET timezone = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(timezone)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await
        }
        .await)?;
        self.user_by_id(user_id).await
    }

    /// Replaces an account's password hash. False when there is no such account.
    pub async fn set_password_hash(&self, user_id: &str, password_hash: &str) -> StoreResult<bool> {
        let rows = on_write!(self, |pool| {
            sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user_id)
                .bind(password_hash)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// Disables an account (`at`: when) or enables it again (`None`). False when
    /// there is no such account.
    pub async fn set_disabled(&self, user_id: &str, at: Option<DateTime<Utc>>) -> StoreResult<bool> {
        let rows = on_write!(self, |pool| {
            sqlx::query("UPDATE users SET disabled_at = $2 WHERE id = $1")
                .bind(user_id)
                .bind(at.map(to_ms))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows == 1)
    }

    /// Accounts in id order after `after`, optionally only those whose email key
    /// starts with `email_prefix` (admin listing).
    pub async fn users(
        &self,
        email_prefix: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> StoreResult<Vec<UserRecord>> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id > $1 AND ($2 = '' OR substr(email_key, 1, length($2)) = $2) \
             ORDER BY id LIMIT $3"
        );
        let rows: Vec<UserRow> = on_read!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(after.unwrap_or(""))
                .bind(email_prefix.map(email_key).unwrap_or_default())
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        rows.into_iter().map(UserRow::into_record).collect()
    }

    /// Makes the account with this email an admin. False when there is no such account.
    pub async fn grant_admin(&self, email: &str) -> StoreResult<bool> {
        let rows = on_write!(self, |pool| {
            sqlx::query("UPDATE users SET role = 'admin' WHERE email_key = $1")
                .bind(email_key(email))
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(rows == 1)
    }
}
