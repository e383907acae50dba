//! Flow-through provisioning to Operator Connect: the upstream's wire format, a client for it,
//! the outbox worker that pushes the core's jobs, the consent pull, and an emulator of the
//! upstream to run against. Each part owns its flags (`args`). Depends on the core, `store`
//! (the outbox), `wire`, `demo` (the emulator's seed) and `process`; never on a door.

mod args;
pub mod client;
pub mod consents;
pub mod emulator;
pub mod wire;
pub mod worker;

pub use args::{EmulatorArgs, SyncArgs, SyncWorkerArgs};
pub use client::{OcClient, OcConfig, UpstreamError};
pub use worker::{Worker, WorkerConfig};

use crate::store::Database;
use std::sync::Arc;
use std::time::Duration;

/// The Operator Connect client the flags describe; none when sync is off (no --oc-url).
pub fn client_from(args: &SyncArgs) -> anyhow::Result<Option<Arc<OcClient>>> {
    let Some(base) = args.oc_url.as_deref() else {
        return Ok(None);
    };
    let mut config = OcConfig::at(
        base,
        &args.oc_tenant,
        &args.oc_client_id,
        &args.oc_client_secret()?,
    );
    if let Some(url) = &args.oc_management_url {
        config.management_url = url.clone();
    }
    if let Some(url) = &args.oc_numbers_url {
        config.numbers_url = url.clone();
    }
    if let Some(url) = &args.oc_token_url {
        config.token_url = url.clone();
    }
    config.scope = args.oc_scope.clone();
    config.request_timeout = Duration::from_secs(args.oc_timeout_secs.max(1));
    Ok(Some(Arc::new(
        OcClient::new(config).map_err(anyhow::Error::msg)?,
    )))
}

pub fn worker_config(args: &SyncArgs) -> WorkerConfig {
    WorkerConfig {
        batch_size: args.sync_batch_size.clamp(1, 1_000),
        lease: Duration::from_secs(args.sync_lease_secs.max(1)),
        poll_interval: Duration::from_millis(args.sync_poll_ms),
        idle_wait: Duration::from_millis(args.sync_poll_ms.clamp(50, 1_000)),
        backoff_base: Duration::from_millis(args.sync_backoff_ms),
        backoff_cap: Duration::from_secs(300),
        max_attempts: args.sync_max_attempts.max(1),
    }
}

/// Starts this process's workers and consent pull in the background, and gives back the
/// client they share; none when sync is off.
pub fn start(db: &Database, args: &SyncArgs) -> anyhow::Result<Option<Arc<OcClient>>> {
    let Some(client) = client_from(args)? else {
        tracing::info!(
            "sync is off (no --oc-url): changes for Operator Connect wait in the outbox"
        );
        return Ok(None);
    };
    for _ in 0..args.sync_workers {
        let worker = Worker::new(db.clone(), client.clone(), worker_config(args));
        tokio::spawn(worker.run());
    }
    if args.consent_poll_secs > 0 {
        let core = crate::provisioning::Provisioning::new(db.clone());
        let every = Duration::from_secs(args.consent_poll_secs);
        tokio::spawn(consents::pull_every(core, client.clone(), every));
    }
    tracing::info!(
        upstream = args.oc_url.as_deref().unwrap_or_default(),
        workers = args.sync_workers,
        "sync with Operator Connect on"
    );
    Ok(Some(client))
}

/// `numbat sync-worker`: workers and the consent pull, until SIGINT or SIGTERM.
pub async fn run_worker(db: Database, args: &SyncArgs) -> anyhow::Result<()> {
    if start(&db, args)?.is_none() {
        anyhow::bail!("--oc-url (NUMBAT_OC_URL) is needed: it says where Operator Connect is");
    }
    crate::process::shutdown_signal().await;
    Ok(())
}

/// `numbat oc-emulator`.
pub async fn run_emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let mut config = emulator::EmulatorConfig {
        client_id: args.client_id,
        client_secret: args.client_secret,
        token_lifetime: Duration::from_secs(args.token_lifetime_secs.max(1)),
        order_delay: Duration::from_millis(args.order_delay_ms),
        latency: Duration::from_millis(args.latency_ms),
        error_rate: args.error_rate.clamp(0.0, 1.0),
        drop_rate: args.drop_rate.clamp(0.0, 1.0),
        throttle_rate: args.throttle_rate.clamp(0.0, 1.0),
        throttle_burst: args.throttle_burst.max(1),
        retry_after: args.retry_after,
        ..emulator::EmulatorConfig::default()
    };
    if let Some(path) = &args.seed {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        struct Seed {
            consents: Option<Vec<wire::Consent>>,
            civic_addresses: Option<Vec<wire::CivicAddress>>,
            capability_plans: Option<Vec<crate::wire::CapabilityPlan>>,
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--seed {}: {e}", path.display()))?;
        let seed: Seed = serde_json::from_str(&text)
            .map_err(|e| anyhow::anyhow!("--seed {}: {e}", path.display()))?;
        if let Some(consents) = seed.consents {
            config.consents = consents;
        }
        if let Some(addresses) = seed.civic_addresses {
            config.civic_addresses = addresses;
        }
        if let Some(plans) = seed.capability_plans {
            config.capability_plans = plans;
        }
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, consents = config.consents.len(), "Operator Connect emulator listening");
    tokio::select! {
        served = emulator::serve(listener, config) => served?,
        () = crate::process::shutdown_signal() => {}
    }
    Ok(())
}
