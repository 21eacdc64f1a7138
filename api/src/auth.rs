//! Passwords (argon2id, hashed off the async runtime, a bounded number at a time),
//! access tokens (HS256 JWTs naming their session) and sessions (checked on every
//! request through a short-lived cache, so ending one takes effect at once here and
//! within [`SESSION_CACHE_TTL`] on other replicas).

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::{DateTime, Duration, Utc};
use errand_domain::event::Actor;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::limits::HashGate;
use errand_store::{SessionRecord, Store, UserRecord};

/// Hashes a password with argon2id on the blocking pool, when `gate` gives a turn.
pub async fn hash_password(gate: &HashGate, password: String) -> Result<String, ApiError> {
    let _turn = gate.enter().await?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| ApiError::Internal(format!("hashing password: {e}")))
    })
    .await
    .map_err(|e| ApiError::Internal(format!("hashing task: {e}")))?
}

/// Checks a password against a stored hash on the blocking pool, when `gate` gives a
/// turn. With no stored hash (unknown email) it still spends the same work, so timing
/// does not reveal accounts.
pub async fn verify_password(gate: &HashGate, password: String, stored: Option<String>) -> Result<bool, ApiError> {
    let _turn = gate.enter().await?;
    tokio::task::spawn_blocking(move || {
        static DECOY: OnceLock<String> = OnceLock::new();
        let decoy = DECOY.get_or_init(|| {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default().hash_password(b"decoy password", &salt).map(|h| h.to_string()).unwrap_or_default()
        });
        let known = stored.is_some();
        let hash = stored.unwrap_or_else(|| decoy.clone());
        let parsed = PasswordHash::new(&hash).map_err(|e| ApiError::Internal(format!("stored hash: {e}")))?;
        let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(|e| ApiError::Internal(format!("verify task: {e}")))?
}

/// Issues and verifies access tokens; cheap to clone.
#[derive(Clone)]
pub struct Tokens {
    inner: Arc<TokenKeys>,
}

struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    /// The session of a user's token; service tokens have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    /// Set on service tokens: who acts for the user (`workflow:<instance>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act: Option<String>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The user.
    pub user_id: String,
    /// Who acts: the user, or a workflow with a service token.
    pub actor: Actor,
    /// The session of a user's token.
    pub session_id: Option<String>,
}

/// How long a service token (a workflow acting for a user) is valid.
const SERVICE_TOKEN_TTL: Duration = Duration::minutes(5);

impl Tokens {
    /// Tokens signed with `secret`, valid for `ttl`.
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Tokens {
            inner: Arc::new(TokenKeys {
                encoding: EncodingKey::from_secret(secret),
                decoding: DecodingKey::from_secret(secret),
                ttl,
            }),
        }
    }

    /// How long a user's token (and its session) lasts.
    pub fn ttl(&self) -> Duration {
        self.inner.ttl
    }

    /// A token for `user_id` in session `session_id`, valid until `expires`.
    pub fn issue(
        &self,
        user_id: &str,
        session_id: &str,
        now: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: expires.timestamp(),
            sid: Some(session_id.to_string()),
            act: None,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.inner.encoding)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
    }

    /// A short-lived service token: `actor` (a workflow) acting for `user_id`. Activities
    /// in the Dapr runtime present it to the task API; it is never a user's password or
    /// a standing admin credential, and it expires in minutes.
    pub fn issue_service(&self, user_id: &str, actor: &Actor, now: DateTime<Utc>) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: (now + SERVICE_TOKEN_TTL).timestamp(),
            sid: None,
            act: Some(actor.as_string()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.inner.encoding)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
    }

    /// What a valid, unexpired token says: the user, who acts (the user, or the
    /// workflow named by a service token), and the session of a user's token.
    pub fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::Unauthorized("the token has expired".into()),
            _ => ApiError::Unauthorized("the token is invalid".into()),
        })?;
        let actor = match (claims.act.as_deref(), &claims.sid) {
            (None, Some(_)) => Actor::User,
            (Some(act), None) => match Actor::parse(act) {
                Some(actor @ Actor::Workflow(_)) => actor,
                _ => return Err(ApiError::Unauthorized("the token is invalid".into())),
            },
            // Tokens from before sessions existed name none: they must log in again.
            _ => return Err(ApiError::Unauthorized("the token is invalid; log in again".into())),
        };
        Ok(Verified { user_id: claims.sub, actor, session_id: claims.sid })
    }
}

/// How long a checked session is trusted before the store is asked again (on other
/// replicas, how long an ended session may still work).
pub const SESSION_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

/// Sessions: started at sign-up and log-in, checked on every request, ended by
/// log-out, a password change or an admin; cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    store: Store,
    tokens: Tokens,
    /// Live sessions recently checked, by id, with their account.
    checked: moka::sync::Cache<String, Arc<UserRecord>>,
}

impl Sessions {
    /// Sessions in `store`, with tokens from `tokens`.
    pub fn new(store: Store, tokens: Tokens) -> Self {
        let checked = moka::sync::Cache::builder()
            .max_capacity(100_000)
            .time_to_live(SESSION_CACHE_TTL)
            .support_invalidation_closures()
            .build();
        Sessions { store, tokens, checked }
    }

    /// The token issuer.
    pub fn tokens(&self) -> &Tokens {
        &self.tokens
    }

    /// Starts a session for `user_id`: its token and when it expires.
    pub async fn start(&self, user_id: &str, now: DateTime<Utc>) -> Result<(String, DateTime<Utc>), ApiError> {
        let expires_at = now + self.tokens.ttl();
        let session = SessionRecord {
            id: errand_domain::new_id(),
            user_id: user_id.to_string(),
            created_at: now,
            expires_at,
            revoked_at: None,
        };
        self.store.create_session(&session).await?;
        Ok((self.tokens.issue(user_id, &session.id, now, expires_at)?, expires_at))
    }

    /// The account of a presented token, if its session (or, for a service token, its
    /// account) is still good.
    pub async fn caller(&self, token: &str) -> Result<(UserRecord, Actor, Option<String>), ApiError> {
        let Verified { user_id, actor, session_id } = self.tokens.verify(token)?;
        let user = match &session_id {
            Some(id) => self.session_user(id, &user_id).await?,
            None => self
                .store
                .user_by_id(&user_id)
                .await?
                .ok_or_else(|| ApiError::Unauthorized("the account of this token no longer exists".into()))?,
        };
        if user.disabled_at.is_some() {
            return Err(ApiError::Unauthorized("this account is disabled".into()));
        }
        Ok((user, actor, session_id))
    }

    async fn session_user(&self, session_id: &str, user_id: &str) -> Result<UserRecord, ApiError> {
        if let Some(user) = self.checked.get(session_id) {
            return Ok(user.as_ref().clone());
        }
        let ended = || ApiError::Unauthorized("this session has ended; log in again".into());
        let session = self.store.session(session_id).await?.ok_or_else(ended)?;
        if session.user_id != user_id || session.revoked_at.is_some() || session.expires_at <= Utc::now() {
            return Err(ended());
        }
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("the account of this token no longer exists".into()))?;
        self.checked.insert(session_id.to_string(), Arc::new(user.clone()));
        Ok(user)
    }

    /// Whether a session is still good: not ended, not expired, its account enabled.
    /// A failure to ask the store counts as live (a stream need not end for it).
    pub async fn is_live(&self, session_id: &str, user_id: &str) -> bool {
        match self.session_user(session_id, user_id).await {
            Ok(user) => user.disabled_at.is_none(),
            Err(ApiError::Unauthorized(_)) => false,
            Err(_) => true,
        }
    }

    /// Ends one session (log-out).
    pub async fn end(&self, session_id: &str, now: DateTime<Utc>) -> Result<(), ApiError> {
        self.store.revoke_session(session_id, now).await?;
        self.checked.invalidate(session_id);
        Ok(())
    }

    /// Ends every session of `user_id` but `keep`; returns how many ended.
    pub async fn end_others(&self, user_id: &str, keep: Option<&str>, now: DateTime<Utc>) -> Result<u64, ApiError> {
        let ended = self.store.revoke_sessions(user_id, keep, now).await?;
        self.forget_user(user_id);
        Ok(ended)
    }

    /// Drops what is cached about `user_id`'s sessions, so the next request reads the
    /// account (after a change to it) or finds the session ended.
    pub fn forget_user(&self, user_id: &str) {
        let user_id = user_id.to_string();
        if let Err(e) = self.checked.invalidate_entries_if(move |_, user| user.profile.id == user_id) {
            tracing::warn!(error = %e, "could not invalidate cached sessions; they expire within seconds");
        }
    }
}

impl errand_activities::ServiceTokens for Tokens {
    fn mint(&self, user_id: &str, actor: &Actor) -> Result<String, String> {
        self.issue_service(user_id, actor, chrono::Utc::now()).map_err(|e| e.to_string())
    }
}

/// The signing secret: `configured` when set, else the one kept in
/// `<data dir>/jwt-secret`, created on first start with mode 0600.
pub fn load_or_create_secret(configured: Option<&str>, data_dir: &Path) -> std::io::Result<Vec<u8>> {
    if let Some(secret) = configured {
        return Ok(secret.as_bytes().to_vec());
    }
    let path = data_dir.join("jwt-secret");
    let mut bytes = [0u8; 64];
    rand::thread_rng().fill_bytes(&mut bytes);
    let encoded = STANDARD.encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(&path) {
        Ok(mut file) => {
            file.write_all(encoded.as_bytes())?;
            file.sync_all()?;
            Ok(encoded.into_bytes())
        }
        // Created by an earlier start (or a concurrent one): use what is there.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let stored = std::fs::read_to_string(&path)?;
            let stored = stored.trim();
            if stored.len() < 32 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{} holds no usable secret; delete it to generate a new one", path.display()),
                ));
            }
            Ok(stored.as_bytes().to_vec())
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_expire() {
        let tokens = Tokens::new(b"0123456789abcdef0123456789abcdef", Duration::hours(1));
        let now = Utc::now();
        let token = tokens.issue("u1", "s1", now, now + Duration::hours(1)).unwrap();
        let verified = tokens.verify(&token).unwrap();
        assert_eq!((verified.user_id.as_str(), verified.session_id.as_deref()), ("u1", Some("s1")));
        let old = tokens.issue("u1", "s1", now - Duration::hours(2), now - Duration::hours(1)).unwrap();
        assert!(tokens.verify(&old).is_err());
        let other = Tokens::new(b"another secret of enough length!!", Duration::hours(1));
        assert!(other.verify(&token).is_err());
        assert!(tokens.verify("not.a.token").is_err());
        // A token without a session (issued before sessions existed) is refused.
        let legacy = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "u1", "iat": now.timestamp(), "exp": (now + Duration::hours(1)).timestamp()}),
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef"),
        )
        .unwrap();
        assert!(tokens.verify(&legacy).is_err());
        let service = tokens.issue_service("u1", &Actor::Workflow("w1".into()), now).unwrap();
        assert_eq!(tokens.verify(&service).unwrap().actor, Actor::Workflow("w1".into()));
    }

    #[test]
    fn secret_is_created_once_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create_secret(None, dir.path()).unwrap();
        let second = load_or_create_secret(None, dir.path()).unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("jwt-secret")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(load_or_create_secret(Some("configured"), dir.path()).unwrap(), b"configured");
    }

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let gate = HashGate::new(1, 1);
        let hash = hash_password(&gate, "correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(&gate, "correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password(&gate, "wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!verify_password(&gate, "decoy password".into(), None).await.unwrap());
    }
}
