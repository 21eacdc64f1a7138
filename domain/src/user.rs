use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Invalid;

/// What a user may do beyond their own tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Operates the instance: the ops endpoints.
    Admin,
    /// An ordinary account.
    User,
}

impl Role {
    /// The lowercase name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

/// The public view of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserProfile {
    /// Account id.
    pub id: String,
    /// Email as the user typed it (unique regardless of case).
    pub email: String,
    /// Display name.
    pub name: Option<String>,
    /// IANA timezone used for natural-language dates and recurrence.
    pub timezone: String,
    /// `admin` or `user`.
    pub role: Role,
    /// When the account was created.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Checks an email address for the shape `local@domain.tld` and returns it trimmed.
pub fn validate_email(email: &str) -> Result<String, Invalid> {
    let email = email.trim();
    let invalid = || Invalid::new("email", "must be an email address such as ada@example.com");
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !domain.contains('@');
    if local.is_empty() || local.len() > 64 || !domain_ok {
        return Err(invalid());
    }
    Ok(email.to_string())
}

/// Minimum password length, in characters.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Checks a new password: 8 to 1024 characters.
pub fn validate_password(password: &str) -> Result<(), Invalid> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(Invalid::new("password", format!("must be at least {MIN_PASSWORD_LEN} characters")));
    }
    if len > 1024 {
        return Err(Invalid::new("password", "must be at most 1024 characters"));
    }
    Ok(())
}

/// Parses an IANA timezone name such as `Europe/Berlin`.
pub fn parse_timezone(name: &str) -> Result<Tz, Invalid> {
    name.trim()
        .parse::<Tz>()
        .map_err(|_| Invalid::new("timezone", format!("{name:?} is not an IANA timezone such as Europe/Berlin")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert_eq!(validate_email("  Ada@Example.com ").unwrap(), "Ada@Example.com");
        for bad in ["", "ada", "ada@", "@x.io", "ada@localhost", "a b@x.io", "ada@x..io", "ada@.x.io"] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn timezones_and_passwords() {
        assert!(parse_timezone("America/New_York").is_ok());
        assert!(parse_timezone("UTC").is_ok());
        assert_eq!(parse_timezone("Mars/Olympus").unwrap_err().field, "timezone");
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
    }
}
