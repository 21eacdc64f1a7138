//! Secrets from a Dapr secret store (Dapr runtime): the JWT secret, the database URL and
//! the OpenAI key come from one secret (`errand` by default) instead of the
//! environment, so they need not sit in a pod spec or a ConfigMap. The secret is a set
//! of keys, as a Kubernetes Secret is (and the local file store with `multiValued`):
//! `jwt-secret`, `database-url`, `openai-api-key`, each optional. Settings given by
//! flags or `ERRAND_*` variables win over the store; the store wins over `errand.toml`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::{DaprSecret, Settings};

/// How long to wait for daprd to load its components at start.
const READY_WAIT: Duration = Duration::from_secs(60);
/// Each request to daprd.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);

/// Reads `secret` through daprd at `dapr_http` into a layer of settings. Waits up to a
/// minute for daprd to be ready (it starts beside the app); a missing store or secret
/// is an error that names it.
pub async fn read(dapr_http: &str, secret: &DaprSecret) -> Result<Settings, String> {
    let client = reqwest::Client::builder().timeout(REQUEST_DEADLINE).build().map_err(|e| e.to_string())?;
    wait_for_components(&client, dapr_http).await?;
    let url = format!("{}/v1.0/secrets/{}/{}", dapr_http.trim_end_matches('/'), secret.store, secret.name);
    let response = client.get(&url).send().await.map_err(|e| format!("reading secret {:?}: {e}", secret.name))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("reading secret {:?}: {e}", secret.name))?;
    if !status.is_success() {
        return Err(format!(
            "secret {:?} from Dapr secret store {:?}: daprd answered {status}: {}",
            secret.name,
            secret.store,
            body.trim()
        ));
    }
    let values: HashMap<String, String> = serde_json::from_str(&body)
        .map_err(|e| format!("secret {:?}: daprd's answer is not a set of keys: {e}", secret.name))?;
    Ok(settings_from(&secret.name, values))
}

/// The settings named by the secret's keys.
fn settings_from(name: &str, values: HashMap<String, String>) -> Settings {
    let mut settings = Settings::default();
    for (key, value) in values {
        let slot = match key.as_str() {
            "jwt-secret" => &mut settings.jwt_secret,
            "database-url" => &mut settings.database_url,
            "openai-api-key" => &mut settings.openai_api_key,
            // A shared Secret may hold other keys (a chart's database password, say).
            _ => {
                tracing::info!(secret = name, key, "key not used by Errand");
                continue;
            }
        };
        if !value.is_empty() {
            *slot = Some(value);
        }
    }
    settings
}

/// Waits until daprd answers that its components are loaded (`/v1.0/healthz/outbound`).
async fn wait_for_components(client: &reqwest::Client, dapr_http: &str) -> Result<(), String> {
    let url = format!("{}/v1.0/healthz/outbound", dapr_http.trim_end_matches('/'));
    let started = Instant::now();
    let mut last = String::from("no answer");
    while started.elapsed() < READY_WAIT {
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("status {}", r.status()),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("daprd at {dapr_http} was not ready for secrets after {} s ({last})", READY_WAIT.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_settings_and_others_are_left_alone() {
        let values = HashMap::from([
            ("jwt-secret".to_string(), "s".repeat(40)),
            ("database-url".to_string(), "postgres://db/errand".to_string()),
            ("openai-api-key".to_string(), String::new()),
            ("postgres-password".to_string(), "x".to_string()),
        ]);
        let settings = settings_from("errand", values);
        assert_eq!(settings.jwt_secret.as_deref(), Some("s".repeat(40).as_str()));
        assert_eq!(settings.database_url.as_deref(), Some("postgres://db/errand"));
        assert_eq!(settings.openai_api_key, None, "an empty key sets nothing");
    }
}
