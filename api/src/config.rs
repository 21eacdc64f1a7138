//! Configuration: defaults, then an optional `errand.toml`, then `ERRAND_*`
//! environment variables, then command-line flags — validated once at start.
//! Nothing here reads the process environment itself: callers pass it in, so tests
//! never depend on it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::limits::LimitSettings;
use crate::server::ServerLimits;

/// Which runtime adapters to use (DESIGN §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// One process: SQLite by default, everything in-process.
    Embedded,
    /// Kubernetes with Dapr sidecars.
    Dapr,
}

pub use errand_telemetry::LogFormat;

/// The validated configuration of `errand serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, the JWT secret and later the search index.
    pub data_dir: PathBuf,
    /// `sqlite://...` or `postgres://...`.
    pub database_url: String,
    /// Runtime adapters.
    pub runtime: Runtime,
    /// Token signing secret; `None` means generate/keep one in the data dir.
    pub jwt_secret: Option<String>,
    /// Lifetime of access tokens.
    pub token_ttl: chrono::Duration,
    /// Log format.
    pub log_format: LogFormat,
    /// daprd's HTTP endpoint (Dapr runtime).
    pub dapr_http_endpoint: String,
    /// The Dapr pub/sub component (Dapr runtime).
    pub dapr_pubsub: String,
    /// daprd's gRPC endpoint, where its workflow engine is (Dapr runtime).
    pub dapr_grpc_endpoint: String,
    /// This app's Dapr app id: activities call the task API through it (Dapr runtime).
    pub dapr_app_id: String,
    /// An external durabletask sidecar to use instead of the embedded engine
    /// (embedded runtime), e.g. `http://127.0.0.1:4001`.
    pub workflow_sidecar: Option<String>,
    /// How long a confirmation waits for a decision.
    pub confirmation_timeout: std::time::Duration,
    /// The Dapr state store for conversations (Dapr runtime).
    pub dapr_statestore: String,
    /// Where the secrets come from in the Dapr runtime: a Dapr secret store and the
    /// secret in it (`None`: only from the other layers).
    pub dapr_secrets: Option<DaprSecret>,
    /// The chat model (`OPENAI_API_KEY`, `OPENAI_BASE_URL`, `ERRAND_LLM_MODEL`); `None`:
    /// the offline assistant.
    pub llm: Option<errand_assistant::LlmConfig>,
    /// Rate limits and stream caps.
    pub limits: LimitSettings,
    /// Connection limits and CORS.
    pub http: HttpSettings,
}

/// A secret in a Dapr secret store that holds some of `jwt-secret`, `database-url` and
/// `openai-api-key` (see [`crate::secrets`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaprSecret {
    /// The secret store component, e.g. `secretstore`.
    pub store: String,
    /// The secret's name in it, e.g. `errand`.
    pub name: String,
}

/// How the HTTP edge meets clients: connection limits and the origins allowed to call
/// the API from a browser (none by default: same origin only).
#[derive(Debug, Clone, Default)]
pub struct HttpSettings {
    /// Connection limits and the client deadline.
    pub server: ServerLimits,
    /// Origins allowed by CORS, e.g. `https://tasks.example.com`.
    pub cors_origins: Vec<String>,
    /// Where the web UI's files come from.
    pub ui: crate::ui::UiFiles,
}

/// One layer of settings; later layers override earlier ones field by field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `listen`
    pub listen: Option<String>,
    /// `data_dir`
    pub data_dir: Option<PathBuf>,
    /// `database_url`
    pub database_url: Option<String>,
    /// `runtime`
    pub runtime: Option<String>,
    /// `jwt_secret`
    pub jwt_secret: Option<String>,
    /// `token_ttl_hours`
    pub token_ttl_hours: Option<u32>,
    /// `log_format`
    pub log_format: Option<String>,
    /// `dapr_http_endpoint`
    pub dapr_http_endpoint: Option<String>,
    /// `dapr_pubsub`
    pub dapr_pubsub: Option<String>,
    /// `dapr_grpc_endpoint`
    pub dapr_grpc_endpoint: Option<String>,
    /// `dapr_app_id`
    pub dapr_app_id: Option<String>,
    /// `workflow_sidecar`
    pub workflow_sidecar: Option<String>,
    /// `confirmation_timeout_secs`
    pub confirmation_timeout_secs: Option<u64>,
    /// `openai_api_key`
    pub openai_api_key: Option<String>,
    /// `openai_base_url`
    pub openai_base_url: Option<String>,
    /// `llm_model`
    pub llm_model: Option<String>,
    /// `dapr_statestore`
    pub dapr_statestore: Option<String>,
    /// `dapr_secret_store`: read secrets from this Dapr secret store (Dapr runtime).
    pub dapr_secret_store: Option<String>,
    /// `dapr_secret_name`: the secret in it that holds Errand's secrets.
    pub dapr_secret_name: Option<String>,
    /// `auth_attempts_per_minute`: log-ins and sign-ups per client address.
    pub auth_attempts_per_minute: Option<u32>,
    /// `account_attempts_per_minute`: log-ins per account.
    pub account_attempts_per_minute: Option<u32>,
    /// `chat_per_minute`: chat messages per user.
    pub chat_per_minute: Option<u32>,
    /// `streams_per_user`: open event streams per user.
    pub streams_per_user: Option<u32>,
    /// `max_connections`
    pub max_connections: Option<u32>,
    /// `max_connections_per_address`
    pub max_connections_per_address: Option<u32>,
    /// `client_timeout_secs`: time a client has for its request headers, and again for its body.
    pub client_timeout_secs: Option<u64>,
    /// `cors_origins`: comma-separated origins.
    pub cors_origins: Option<String>,
    /// `trust_forwarded_for`: take the client address from `X-Forwarded-For`.
    pub trust_forwarded_for: Option<bool>,
    /// `ui_dir`: serve the web UI from this directory instead of the binary.
    pub ui_dir: Option<PathBuf>,
}

impl Settings {
    /// These settings over `base`: each field set here wins.
    pub fn or(self, base: Settings) -> Settings {
        Settings {
            listen: self.listen.or(base.listen),
            data_dir: self.data_dir.or(base.data_dir),
            database_url: self.database_url.or(base.database_url),
            runtime: self.runtime.or(base.runtime),
            jwt_secret: self.jwt_secret.or(base.jwt_secret),
            token_ttl_hours: self.token_ttl_hours.or(base.token_ttl_hours),
            log_format: self.log_format.or(base.log_format),
            dapr_http_endpoint: self.dapr_http_endpoint.or(base.dapr_http_endpoint),
            dapr_pubsub: self.dapr_pubsub.or(base.dapr_pubsub),
            dapr_grpc_endpoint: self.dapr_grpc_endpoint.or(base.dapr_grpc_endpoint),
            dapr_app_id: self.dapr_app_id.or(base.dapr_app_id),
            workflow_sidecar: self.workflow_sidecar.or(base.workflow_sidecar),
            confirmation_timeout_secs: self.confirmation_timeout_secs.or(base.confirmation_timeout_secs),
            openai_api_key: self.openai_api_key.or(base.openai_api_key),
            openai_base_url: self.openai_base_url.or(base.openai_base_url),
            llm_model: self.llm_model.or(base.llm_model),
            dapr_statestore: self.dapr_statestore.or(base.dapr_statestore),
            dapr_secret_store: self.dapr_secret_store.or(base.dapr_secret_store),
            dapr_secret_name: self.dapr_secret_name.or(base.dapr_secret_name),
            auth_attempts_per_minute: self.auth_attempts_per_minute.or(base.auth_attempts_per_minute),
            account_attempts_per_minute: self.account_attempts_per_minute.or(base.account_attempts_per_minute),
            chat_per_minute: self.chat_per_minute.or(base.chat_per_minute),
            streams_per_user: self.streams_per_user.or(base.streams_per_user),
            max_connections: self.max_connections.or(base.max_connections),
            max_connections_per_address: self.max_connections_per_address.or(base.max_connections_per_address),
            client_timeout_secs: self.client_timeout_secs.or(base.client_timeout_secs),
            cors_origins: self.cors_origins.or(base.cors_origins),
            trust_forwarded_for: self.trust_forwarded_for.or(base.trust_forwarded_for),
            ui_dir: self.ui_dir.or(base.ui_dir),
        }
    }

    /// The settings named by `ERRAND_*` variables in `env`.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Settings, ConfigError> {
        let get = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
        fn parsed<T: std::str::FromStr>(name: &'static str, value: Option<String>) -> Result<Option<T>, ConfigError> {
            value
                .map(|v| v.parse().map_err(|_| ConfigError::Invalid(name, format!("{v:?} is not a valid value"))))
                .transpose()
        }
        let token_ttl_hours = get("ERRAND_TOKEN_TTL_HOURS")
            .map(|v| {
                v.parse().map_err(|_| {
                    ConfigError::Invalid("ERRAND_TOKEN_TTL_HOURS", format!("{v:?} is not a number of hours"))
                })
            })
            .transpose()?;
        Ok(Settings {
            listen: get("ERRAND_LISTEN"),
            data_dir: get("ERRAND_DATA_DIR").map(PathBuf::from),
            database_url: get("ERRAND_DATABASE_URL"),
            runtime: get("ERRAND_RUNTIME"),
            jwt_secret: get("ERRAND_JWT_SECRET"),
            token_ttl_hours,
            log_format: get("ERRAND_LOG_FORMAT"),
            // Dapr's own variables: the sidecar sets DAPR_HTTP_PORT for its app.
            dapr_http_endpoint: get("DAPR_HTTP_ENDPOINT")
                .or_else(|| get("DAPR_HTTP_PORT").map(|port| format!("http://127.0.0.1:{port}"))),
            dapr_pubsub: get("ERRAND_DAPR_PUBSUB"),
            // ...and DAPR_GRPC_PORT for the gRPC API (workflows).
            dapr_grpc_endpoint: get("DAPR_GRPC_ENDPOINT")
                .or_else(|| get("DAPR_GRPC_PORT").map(|port| format!("http://127.0.0.1:{port}"))),
            dapr_app_id: get("ERRAND_DAPR_APP_ID").or_else(|| get("APP_ID")),
            workflow_sidecar: get("ERRAND_WORKFLOW_SIDECAR"),
            openai_api_key: get("OPENAI_API_KEY"),
            openai_base_url: get("OPENAI_BASE_URL"),
            llm_model: get("ERRAND_LLM_MODEL"),
            dapr_statestore: get("ERRAND_DAPR_STATESTORE"),
            dapr_secret_store: get("ERRAND_DAPR_SECRET_STORE"),
            dapr_secret_name: get("ERRAND_DAPR_SECRET_NAME"),
            auth_attempts_per_minute: parsed(
                "ERRAND_AUTH_ATTEMPTS_PER_MINUTE",
                get("ERRAND_AUTH_ATTEMPTS_PER_MINUTE"),
            )?,
            account_attempts_per_minute: parsed(
                "ERRAND_ACCOUNT_ATTEMPTS_PER_MINUTE",
                get("ERRAND_ACCOUNT_ATTEMPTS_PER_MINUTE"),
            )?,
            chat_per_minute: parsed("ERRAND_CHAT_PER_MINUTE", get("ERRAND_CHAT_PER_MINUTE"))?,
            streams_per_user: parsed("ERRAND_STREAMS_PER_USER", get("ERRAND_STREAMS_PER_USER"))?,
            max_connections: parsed("ERRAND_MAX_CONNECTIONS", get("ERRAND_MAX_CONNECTIONS"))?,
            max_connections_per_address: parsed(
                "ERRAND_MAX_CONNECTIONS_PER_ADDRESS",
                get("ERRAND_MAX_CONNECTIONS_PER_ADDRESS"),
            )?,
            client_timeout_secs: parsed("ERRAND_CLIENT_TIMEOUT_SECS", get("ERRAND_CLIENT_TIMEOUT_SECS"))?,
            cors_origins: get("ERRAND_CORS_ORIGINS"),
            trust_forwarded_for: parsed("ERRAND_TRUST_FORWARDED_FOR", get("ERRAND_TRUST_FORWARDED_FOR"))?,
            ui_dir: get("ERRAND_UI_DIR").map(PathBuf::from),
            confirmation_timeout_secs: get("ERRAND_CONFIRMATION_TIMEOUT_SECS")
                .map(|v| {
                    v.parse().map_err(|_| {
                        ConfigError::Invalid(
                            "ERRAND_CONFIRMATION_TIMEOUT_SECS",
                            format!("{v:?} is not a number of seconds"),
                        )
                    })
                })
                .transpose()?,
        })
    }

    /// The settings of a TOML file.
    pub fn from_file(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File(path.to_path_buf(), e.to_string()))?;
        toml::from_str(&text).map_err(|e| ConfigError::File(path.to_path_buf(), e.to_string()))
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or parsed.
    #[error("config file {0}: {1}")]
    File(PathBuf, String),
    /// A setting has an unusable value.
    #[error("invalid {0}: {1}")]
    Invalid(&'static str, String),
}

/// Facts about the surroundings that pick defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Surroundings {
    /// Running in a container: listen on all interfaces by default.
    pub in_container: bool,
    /// Stderr is a terminal: pretty logs by default.
    pub terminal: bool,
}

impl Config {
    /// Resolves the layers into a validated configuration.
    /// `file` is the content of `errand.toml` (if any), `env` the environment layer,
    /// `flags` the command line.
    pub fn resolve(
        file: Settings,
        env: Settings,
        flags: Settings,
        around: Surroundings,
    ) -> Result<Config, ConfigError> {
        let s = flags.or(env).or(file);
        let listen_text =
            s.listen.unwrap_or_else(|| if around.in_container { "0.0.0.0:8080" } else { "127.0.0.1:8080" }.to_string());
        let listen = listen_text.parse().map_err(|_| {
            ConfigError::Invalid("listen", format!("{listen_text:?} is not an address such as 127.0.0.1:8080"))
        })?;
        let data_dir = s.data_dir.unwrap_or_else(|| PathBuf::from("./data"));
        let database_url = s.database_url.unwrap_or_else(|| format!("sqlite://{}/errand.db", data_dir.display()));
        if !["sqlite:", "postgres:", "postgresql:"].iter().any(|p| database_url.starts_with(p)) {
            return Err(ConfigError::Invalid(
                "database_url",
                format!("{database_url:?} must start with sqlite:// or postgres://"),
            ));
        }
        let runtime = match s.runtime.as_deref().unwrap_or("embedded") {
            "embedded" => Runtime::Embedded,
            "dapr" => Runtime::Dapr,
            other => return Err(ConfigError::Invalid("runtime", format!("{other:?} is neither embedded nor dapr"))),
        };
        if let Some(secret) = &s.jwt_secret {
            if secret.len() < 32 {
                return Err(ConfigError::Invalid("jwt_secret", "must be at least 32 characters".into()));
            }
        }
        let hours = s.token_ttl_hours.unwrap_or(24 * 7);
        if !(1..=24 * 365).contains(&hours) {
            return Err(ConfigError::Invalid("token_ttl_hours", "must be between 1 and 8760".into()));
        }
        let log_format = match s.log_format.as_deref() {
            None if around.terminal => LogFormat::Pretty,
            None => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid("log_format", format!("{other:?} is neither json nor pretty")))
            }
        };
        let dapr_http_endpoint = s.dapr_http_endpoint.unwrap_or_else(|| "http://127.0.0.1:3500".into());
        if !(dapr_http_endpoint.starts_with("http://") || dapr_http_endpoint.starts_with("https://")) {
            return Err(ConfigError::Invalid(
                "dapr_http_endpoint",
                format!("{dapr_http_endpoint:?} is not an http(s) URL"),
            ));
        }
        let dapr_grpc_endpoint = s.dapr_grpc_endpoint.unwrap_or_else(|| "http://127.0.0.1:50001".into());
        if !(dapr_grpc_endpoint.starts_with("http://") || dapr_grpc_endpoint.starts_with("https://")) {
            return Err(ConfigError::Invalid(
                "dapr_grpc_endpoint",
                format!("{dapr_grpc_endpoint:?} is not an http(s) URL"),
            ));
        }
        if let Some(sidecar) = &s.workflow_sidecar {
            if !(sidecar.starts_with("http://") || sidecar.starts_with("https://")) {
                return Err(ConfigError::Invalid("workflow_sidecar", format!("{sidecar:?} is not an http(s) URL")));
            }
        }
        let confirmation_secs = s.confirmation_timeout_secs.unwrap_or(600);
        if !(1..=7 * 86_400).contains(&confirmation_secs) {
            return Err(ConfigError::Invalid("confirmation_timeout_secs", "must be between 1 and 604800".into()));
        }
        if let Some(base) = &s.openai_base_url {
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return Err(ConfigError::Invalid("openai_base_url", format!("{base:?} is not an http(s) URL")));
            }
        }
        let llm = s.openai_api_key.filter(|k| !k.is_empty()).map(|key| {
            let mut llm = errand_assistant::LlmConfig::new(key);
            llm.base_url = s.openai_base_url.clone();
            if let Some(model) = &s.llm_model {
                llm.model = model.clone();
            }
            llm
        });
        let positive = |name: &'static str, value: Option<u32>, default: u32| match value {
            Some(0) => Err(ConfigError::Invalid(name, "must be at least 1".into())),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let defaults = LimitSettings::default();
        let limits = LimitSettings {
            auth_per_address_per_minute: positive(
                "auth_attempts_per_minute",
                s.auth_attempts_per_minute,
                defaults.auth_per_address_per_minute,
            )?,
            auth_per_account_per_minute: positive(
                "account_attempts_per_minute",
                s.account_attempts_per_minute,
                defaults.auth_per_account_per_minute,
            )?,
            chat_per_user_per_minute: positive(
                "chat_per_minute",
                s.chat_per_minute,
                defaults.chat_per_user_per_minute,
            )?,
            streams_per_user: positive("streams_per_user", s.streams_per_user, defaults.streams_per_user as u32)?
                as usize,
            trust_forwarded_for: s.trust_forwarded_for.unwrap_or(false),
        };
        let server_defaults = ServerLimits::default();
        let client_secs = s.client_timeout_secs.unwrap_or(server_defaults.client_timeout.as_secs());
        if !(1..=3600).contains(&client_secs) {
            return Err(ConfigError::Invalid("client_timeout_secs", "must be between 1 and 3600".into()));
        }
        let server = ServerLimits {
            max_connections: positive("max_connections", s.max_connections, server_defaults.max_connections as u32)?
                as usize,
            max_connections_per_address: positive(
                "max_connections_per_address",
                s.max_connections_per_address,
                server_defaults.max_connections_per_address as u32,
            )? as usize,
            client_timeout: std::time::Duration::from_secs(client_secs),
        };
        // Both names end up in daprd's URL path: plain component and secret names only.
        let dapr_name = |field: &'static str, value: String| {
            let plain = !value.is_empty()
                && value.len() <= 253
                && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if plain {
                Ok(value)
            } else {
                Err(ConfigError::Invalid(field, format!("{value:?} is not a name of letters, digits, '-', '_' or '.'")))
            }
        };
        let dapr_secrets = match s.dapr_secret_store {
            Some(store) => Some(DaprSecret {
                store: dapr_name("dapr_secret_store", store)?,
                name: dapr_name("dapr_secret_name", s.dapr_secret_name.unwrap_or_else(|| "errand".into()))?,
            }),
            None => None,
        };
        let mut cors_origins = Vec::new();
        for origin in s.cors_origins.as_deref().unwrap_or("").split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.trim_start_matches("https://").trim_start_matches("http://").contains('/')
                && axum::http::HeaderValue::from_str(origin).is_ok();
            if !valid {
                return Err(ConfigError::Invalid(
                    "cors_origins",
                    format!("{origin:?} is not an origin such as https://tasks.example.com"),
                ));
            }
            cors_origins.push(origin.to_string());
        }
        Ok(Config {
            limits,
            http: HttpSettings {
                server,
                cors_origins,
                ui: s.ui_dir.map_or(crate::ui::UiFiles::Embedded, crate::ui::UiFiles::Directory),
            },
            dapr_statestore: s.dapr_statestore.unwrap_or_else(|| "statestore".into()),
            dapr_secrets,
            llm,
            dapr_app_id: s.dapr_app_id.unwrap_or_else(|| "errand".into()),
            workflow_sidecar: s.workflow_sidecar,
            confirmation_timeout: std::time::Duration::from_secs(confirmation_secs),
            dapr_grpc_endpoint,
            dapr_http_endpoint,
            dapr_pubsub: s.dapr_pubsub.unwrap_or_else(|| "pubsub".into()),
            listen,
            data_dir,
            database_url,
            runtime,
            jwt_secret: s.jwt_secret,
            token_ttl: chrono::Duration::hours(i64::from(hours)),
            log_format,
        })
    }
}

impl Config {
    /// The embedded workflow engine's database: its own SQLite file beside the task
    /// database (so workflow writes never contend with task writes), or the same
    /// PostgreSQL database (the engine keeps to its own schema there).
    pub fn engine_database_url(&self) -> String {
        if self.database_url.starts_with("sqlite:") {
            format!("sqlite://{}/engine.db", self.data_dir.display())
        } else {
            self.database_url.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Settings {
        Settings::from_env(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()).unwrap()
    }

    #[test]
    fn defaults() {
        let c = Config::resolve(Settings::default(), Settings::default(), Settings::default(), Surroundings::default())
            .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database_url, "sqlite://./data/errand.db");
        assert_eq!(c.runtime, Runtime::Embedded);
        assert_eq!(c.log_format, LogFormat::Json);
        let around = Surroundings { in_container: true, terminal: true };
        let c = Config::resolve(Settings::default(), Settings::default(), Settings::default(), around).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.log_format, LogFormat::Pretty);
    }

    #[test]
    fn later_layers_win_field_by_field() {
        let file: Settings =
            toml::from_str("listen = \"127.0.0.1:1\"\ndata_dir = \"/f\"\nruntime = \"embedded\"").unwrap();
        let environment = env(&[("ERRAND_LISTEN", "127.0.0.1:2"), ("ERRAND_DATA_DIR", "/e")]);
        let flags = Settings { listen: Some("127.0.0.1:3".into()), ..Default::default() };
        let c = Config::resolve(file, environment, flags, Surroundings::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3");
        assert_eq!(c.data_dir, PathBuf::from("/e"));
        assert_eq!(c.database_url, "sqlite:///e/errand.db");
        let dapr = env(&[("DAPR_HTTP_PORT", "3999"), ("ERRAND_DAPR_PUBSUB", "kafka"), ("DAPR_GRPC_PORT", "50009")]);
        let c = Config::resolve(Settings::default(), dapr, Settings::default(), Surroundings::default()).unwrap();
        assert_eq!((c.dapr_http_endpoint.as_str(), c.dapr_pubsub.as_str()), ("http://127.0.0.1:3999", "kafka"));
        assert_eq!(c.dapr_grpc_endpoint, "http://127.0.0.1:50009");
    }

    #[test]
    fn bad_values_are_named() {
        let cases = [
            (Settings { listen: Some("nowhere".into()), ..Default::default() }, "listen"),
            (Settings { runtime: Some("k8s".into()), ..Default::default() }, "runtime"),
            (Settings { database_url: Some("mysql://x".into()), ..Default::default() }, "database_url"),
            (Settings { jwt_secret: Some("short".into()), ..Default::default() }, "jwt_secret"),
            (Settings { log_format: Some("xml".into()), ..Default::default() }, "log_format"),
            (Settings { token_ttl_hours: Some(0), ..Default::default() }, "token_ttl_hours"),
            (
                Settings { dapr_http_endpoint: Some("localhost:3500".into()), ..Default::default() },
                "dapr_http_endpoint",
            ),
            (Settings { auth_attempts_per_minute: Some(0), ..Default::default() }, "auth_attempts_per_minute"),
            (Settings { client_timeout_secs: Some(0), ..Default::default() }, "client_timeout_secs"),
            (Settings { cors_origins: Some("tasks.example.com".into()), ..Default::default() }, "cors_origins"),
            (Settings { dapr_secret_store: Some("../v1.0/state".into()), ..Default::default() }, "dapr_secret_store"),
            (
                Settings {
                    dapr_secret_store: Some("secretstore".into()),
                    dapr_secret_name: Some("errand?x=1".into()),
                    ..Default::default()
                },
                "dapr_secret_name",
            ),
            (Settings { cors_origins: Some("https://a.example/path".into()), ..Default::default() }, "cors_origins"),
        ];
        for (flags, name) in cases {
            match Config::resolve(Settings::default(), Settings::default(), flags, Surroundings::default()) {
                Err(ConfigError::Invalid(field, _)) => assert_eq!(field, name),
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(toml::from_str::<Settings>("colour = 1").is_err());
        let bad_env = Settings::from_env(&[("ERRAND_TOKEN_TTL_HOURS".to_string(), "soon".to_string())].into());
        assert!(bad_env.is_err());
        let bad_env = Settings::from_env(&[("ERRAND_MAX_CONNECTIONS".to_string(), "many".to_string())].into());
        assert!(bad_env.is_err());
    }

    #[test]
    fn limits_and_cors_from_the_environment() {
        let settings = env(&[
            ("ERRAND_AUTH_ATTEMPTS_PER_MINUTE", "5"),
            ("ERRAND_MAX_CONNECTIONS", "64"),
            ("ERRAND_CLIENT_TIMEOUT_SECS", "2"),
            ("ERRAND_CORS_ORIGINS", "https://a.example, http://localhost:5173"),
            ("ERRAND_TRUST_FORWARDED_FOR", "true"),
        ]);
        let c = Config::resolve(Settings::default(), settings, Settings::default(), Surroundings::default()).unwrap();
        assert_eq!(c.limits.auth_per_address_per_minute, 5);
        assert_eq!(c.limits.auth_per_account_per_minute, 10);
        assert!(c.limits.trust_forwarded_for);
        assert_eq!(c.http.server.max_connections, 64);
        assert_eq!(c.http.server.client_timeout, std::time::Duration::from_secs(2));
        assert_eq!(c.http.cors_origins, ["https://a.example", "http://localhost:5173"]);
        let closed =
            Config::resolve(Settings::default(), Settings::default(), Settings::default(), Surroundings::default());
        assert!(closed.unwrap().http.cors_origins.is_empty());
    }
}
