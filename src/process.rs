//! What every Numbat process takes from its environment: the database it works on, secrets
//! read from files or variables (never from the command line), and the signal to stop.
//! Depends on clap, tokio and tracing only; the subsystems' own flags build on it.

use clap::Args;

/// The database flag every command that opens the database shares.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (the file and its folder are created when missing) or `postgres://…`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

/// The SQLite file used when no database URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/numbat.db";

/// A secret from `file` (its first line) when given, else from the environment variable `var`.
/// Secrets are never command-line values: `ps` shows those to everyone on the machine.
pub fn secret(var: &str, file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| anyhow::anyhow!("cannot read the secret file {}: {e}", file.display()))?;
        let secret = text.lines().next().unwrap_or_default().trim().to_owned();
        anyhow::ensure!(
            !secret.is_empty(),
            "the secret file {} is empty",
            file.display()
        );
        return Ok(Some(secret));
    }
    Ok(std::env::var(var).ok().filter(|s| !s.is_empty()))
}
/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment this is made: a signal that comes
/// before anyone waits is kept for [`Shutdown::wait`] rather than killing the process outright
/// (the default), so a service manager's stop during start-up is still a clean one.
pub struct Shutdown {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    /// Starts listening. Needs a tokio runtime.
    pub fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Self {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// Resolves on the first SIGINT or SIGTERM since [`Shutdown::listen`].
    pub async fn wait(mut self) {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                () = next(&mut self.interrupt) => tracing::info!("SIGINT received: finishing requests in flight"),
                () = next(&mut self.terminate) => tracing::info!("SIGTERM received: finishing requests in flight"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("Ctrl-C received: finishing requests in flight");
        }
    }
}

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM from now on.
pub async fn shutdown_signal() {
    Shutdown::listen().wait().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_comes_from_its_file_else_its_variable() {
        let folder = tempfile::tempdir().unwrap();
        let file = folder.path().join("secret");
        std::fs::write(&file, "s3cret-from-file\nsecond line ignored\n").unwrap();
        assert_eq!(
            secret("NUMBAT_TEST_UNSET_SECRET_VARIABLE", Some(&file)).unwrap(),
            Some("s3cret-from-file".to_owned())
        );
        assert_eq!(
            secret("NUMBAT_TEST_UNSET_SECRET_VARIABLE", None).unwrap(),
            None
        );
        std::fs::write(&file, "\n").unwrap();
        let empty = secret("NUMBAT_TEST_UNSET_SECRET_VARIABLE", Some(&file)).unwrap_err();
        assert!(empty.to_string().contains("is empty"), "{empty}");
        let missing = secret("X", Some(&folder.path().join("nope"))).unwrap_err();
        assert!(
            missing.to_string().contains("cannot read the secret file"),
            "{missing}"
        );
    }
}
