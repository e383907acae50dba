//! Sync's flags: where Operator Connect is and how sync paces itself, and the emulator's.
//! Depends on `process` (the database flag, secrets) and clap.

use crate::process::{secret, DatabaseArgs};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where Operator Connect is, and how sync paces itself.
#[derive(Debug, Clone, Args)]
pub struct SyncArgs {
    /// Base URL of Operator Connect's APIs (both, and the token endpoint at
    /// <URL>/<tenant>/oauth2/v2.0/token unless --oc-token-url says otherwise). Without it sync is
    /// off: changes wait in the outbox, pending.
    #[arg(long, env = "NUMBAT_OC_URL")]
    pub oc_url: Option<String>,
    /// Base URL of the Operator Management API (consents), when not at --oc-url.
    #[arg(long, env = "NUMBAT_OC_MANAGEMENT_URL")]
    pub oc_management_url: Option<String>,
    /// Base URL of the Telephone Number Management API, when not at --oc-url.
    #[arg(long, env = "NUMBAT_OC_NUMBERS_URL")]
    pub oc_numbers_url: Option<String>,
    /// The OAuth2 token endpoint (e.g. https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token).
    #[arg(long, env = "NUMBAT_OC_TOKEN_URL")]
    pub oc_token_url: Option<String>,
    /// The operator's Entra ID tenant, in the default token endpoint.
    #[arg(long, env = "NUMBAT_OC_TENANT", default_value = "common")]
    pub oc_tenant: String,
    #[arg(long, env = "NUMBAT_OC_CLIENT_ID", default_value = "numbat")]
    pub oc_client_id: String,
    /// A file holding the client secret (its first line). Without it the secret comes from
    /// `NUMBAT_OC_CLIENT_SECRET`, else it is the emulator's. Never a command-line value, which
    /// `ps` would show to every user of the machine.
    #[arg(long, env = "NUMBAT_OC_CLIENT_SECRET_FILE")]
    pub oc_client_secret_file: Option<std::path::PathBuf>,
    /// The scope tokens are asked for.
    #[arg(long, env = "NUMBAT_OC_SCOPE", default_value = super::client::DEFAULT_SCOPE)]
    pub oc_scope: String,
    /// Seconds one upstream request may take.
    #[arg(long, env = "NUMBAT_OC_TIMEOUT_SECS", default_value_t = 10)]
    pub oc_timeout_secs: u64,
    /// Workers in this process (0: none here).
    #[arg(long, env = "NUMBAT_SYNC_WORKERS", default_value_t = 1)]
    pub sync_workers: usize,
    /// Most numbers in one upstream order.
    #[arg(long, env = "NUMBAT_SYNC_BATCH_SIZE", default_value_t = 500)]
    pub sync_batch_size: i64,
    /// Milliseconds between polls of an upstream order.
    #[arg(long, env = "NUMBAT_SYNC_POLL_MS", default_value_t = 500)]
    pub sync_poll_ms: u64,
    /// Seconds a worker holds a batch without renewing; another worker takes it over after.
    #[arg(long, env = "NUMBAT_SYNC_LEASE_SECS", default_value_t = 60)]
    pub sync_lease_secs: u64,
    /// First retry delay in milliseconds after a transient failure; doubles up to 5 minutes.
    #[arg(long, env = "NUMBAT_SYNC_BACKOFF_MS", default_value_t = 1000)]
    pub sync_backoff_ms: u64,
    /// Attempts before a batch's jobs fail for an unavailable upstream.
    #[arg(long, env = "NUMBAT_SYNC_MAX_ATTEMPTS", default_value_t = 50)]
    pub sync_max_attempts: i64,
    /// Seconds between pulls of consents and civic addresses (0: never).
    #[arg(long, env = "NUMBAT_CONSENT_POLL_SECS", default_value_t = 60)]
    pub consent_poll_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct SyncWorkerArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub sync: SyncArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EmulatorArgs {
    #[arg(
        long,
        env = "NUMBAT_OC_EMULATOR_LISTEN",
        default_value = "127.0.0.1:3001"
    )]
    pub listen: SocketAddr,
    #[arg(long, default_value = "numbat")]
    pub client_id: String,
    #[arg(long, default_value = "numbat-emulator-secret")]
    pub client_secret: String,
    /// JSON with any of `consents`, `civicAddresses`, `capabilityPlans` (the upstream's
    /// shapes); what it leaves out is the demonstration data's.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Milliseconds an order takes to complete.
    #[arg(long, default_value_t = 500)]
    pub order_delay_ms: u64,
    /// Milliseconds added to each request (half to all of it, at random).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of requests answered 5xx (0 to 1): half before, half after taking effect.
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Share of requests whose connection is dropped after taking effect.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Share of requests that start a burst of 429s.
    #[arg(long, default_value_t = 0.0)]
    pub throttle_rate: f64,
    /// Requests in a row a burst of 429s refuses.
    #[arg(long, default_value_t = 3)]
    pub throttle_burst: u32,
    /// Seconds a 429 asks the client to wait (Retry-After).
    #[arg(long, default_value_t = 1)]
    pub retry_after: u64,
    /// Seconds a token lasts.
    #[arg(long, default_value_t = 3600)]
    pub token_lifetime_secs: u64,
}
impl SyncArgs {
    /// Operator Connect's client secret: `--oc-client-secret-file`, else
    /// `NUMBAT_OC_CLIENT_SECRET`, else the emulator's.
    pub fn oc_client_secret(&self) -> anyhow::Result<String> {
        Ok(secret(
            "NUMBAT_OC_CLIENT_SECRET",
            self.oc_client_secret_file.as_deref(),
        )?
        .unwrap_or_else(|| "numbat-emulator-secret".to_owned()))
    }
}
