//! Passwords (argon2id, hashed off the async runtime) and access tokens (HS256 JWTs).

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

/// Hashes a password with argon2id on the blocking pool.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
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

/// Checks a password against a stored hash on the blocking pool. With no stored hash
/// (unknown email) it still spends the same work, so timing does not reveal accounts.
pub async fn verify_password(password: String, stored: Option<String>) -> Result<bool, ApiError> {
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
    /// Set on service tokens: who acts for the user (`workflow:<instance>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    act: Option<String>,
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

    /// A token for `user_id`, and when it expires.
    pub fn issue(&self, user_id: &str, now: DateTime<Utc>) -> Result<(String, DateTime<Utc>), ApiError> {
        let expires = now + self.inner.ttl;
        let claims = Claims { sub: user_id.to_string(), iat: now.timestamp(), exp: expires.timestamp(), act: None };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.inner.encoding)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))?;
        Ok((token, expires))
    }

    /// A short-lived service token: `actor` (a workflow) acting for `user_id`. Activities
    /// in the Dapr runtime present it to the task API; it is never a user's password or
    /// a standing admin credential, and it expires in minutes.
    pub fn issue_service(&self, user_id: &str, actor: &Actor, now: DateTime<Utc>) -> Result<String, ApiError> {
        let claims = Claims {
            sub: user_id.to_string(),
            iat: now.timestamp(),
            exp: (now + SERVICE_TOKEN_TTL).timestamp(),
            act: Some(actor.as_string()),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.inner.encoding)
            .map_err(|e| ApiError::Internal(format!("signing token: {e}")))
    }

    /// The user id of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Result<String, ApiError> {
        self.verify_caller(token).map(|(user_id, _)| user_id)
    }

    /// The user id of a valid, unexpired token, and who acts: the user, or the
    /// workflow named by a service token.
    pub fn verify_caller(&self, token: &str) -> Result<(String, Actor), ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.inner.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::Unauthorized("the token has expired".into()),
            _ => ApiError::Unauthorized("the token is invalid".into()),
        })?;
        let actor = match claims.act.as_deref() {
            None => Actor::User,
            Some(act) => match Actor::parse(act) {
                Some(actor @ Actor::Workflow(_)) => actor,
                _ => return Err(ApiError::Unauthorized("the token is invalid".into())),
            },
        };
        Ok((claims.sub, actor))
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
        let (token, _) = tokens.issue("u1", Utc::now()).unwrap();
        assert_eq!(tokens.verify(&token).unwrap(), "u1");
        let (old, _) = tokens.issue("u1", Utc::now() - Duration::hours(2)).unwrap();
        assert!(tokens.verify(&old).is_err());
        let other = Tokens::new(b"another secret of enough length!!", Duration::hours(1));
        assert!(other.verify(&token).is_err());
        assert!(tokens.verify("not.a.token").is_err());
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
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!verify_password("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!verify_password("decoy password".into(), None).await.unwrap());
    }
}
