//! [`ServeConfig`]: what `cascade serve` configures, and the rules it must satisfy before binding.

use std::net::SocketAddr;
use std::path::PathBuf;

/// The default listen address of the endpoint.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4566";
/// The environment variable that may carry the auth token instead of `--auth-token`.
pub const AUTH_TOKEN_ENV: &str = "CASCADE_AUTH_TOKEN";
/// The largest request body accepted: DynamoDB's 16 MB request limit, with room for JSON framing.
pub const DEFAULT_MAX_BODY_BYTES: usize = 17 * 1024 * 1024;
/// The file of the environment's store inside its state folder.
pub const STORE_FILE: &str = "state.db";

/// The settings of one endpoint.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// The environment name (`dev`), shown at start.
    pub env: String,
    /// The environment's state folder (`.cascade/<env>/`); the store is [`STORE_FILE`] inside it.
    pub state_dir: PathBuf,
    /// When set, every request must carry it (see `identity.rs`). Required off loopback.
    pub auth_token: Option<String>,
    pub max_body_bytes: usize,
}

/// A configuration the endpoint refuses to start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "listening on `{0}` (not a loopback address) requires an auth token: pass --auth-token or set {AUTH_TOKEN_ENV}"
    )]
    TokenRequired(SocketAddr),
    #[error("the auth token must not be empty")]
    EmptyToken,
}

impl ServeConfig {
    /// The defaults of `cascade serve` for environment `env` with state in `state_dir`.
    pub fn new(env: &str, state_dir: impl Into<PathBuf>) -> ServeConfig {
        ServeConfig {
            listen: DEFAULT_LISTEN.parse().expect("the default address parses"),
            env: env.to_owned(),
            state_dir: state_dir.into(),
            auth_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Checks the rules: an address other than loopback requires a non-empty auth token, because
    /// anyone who can reach the port would otherwise be the administrator of the local cloud.
    pub fn check(&self) -> Result<(), ConfigError> {
        match &self.auth_token {
            Some(token) if token.is_empty() => Err(ConfigError::EmptyToken),
            None if !self.listen.ip().is_loopback() => Err(ConfigError::TokenRequired(self.listen)),
            _ => Ok(()),
        }
    }

    /// The line printed at start, naming the address, the environment and the auth rule.
    pub fn startup_message(&self, bound: SocketAddr) -> String {
        let auth = if self.auth_token.is_some() {
            "every request must carry the auth token (header x-cascade-auth-token, or as the secret access key of its signature)"
        } else {
            "any access key is the local administrator"
        };
        format!(
            "cascade endpoint for environment `{}` listening on http://{bound} (SQS, DynamoDB, DynamoDB Streams); state in {}; {auth}",
            self.env,
            self.state_dir.display()
        )
    }
}
