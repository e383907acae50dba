//! SIP over TLS for the edge (rustls with ring): its certificate chain and key from PEM files,
//! reloaded on SIGHUP and when the files change (a bad new file keeps the old ones, with a
//! warning); peers' certificates verified against a CA file, or Mozilla's roots without one;
//! mutual TLS (a client certificate required and verified) on the sides that ask for it, as
//! Microsoft's SIP proxies require. The edge presents the same certificate as a client.
//! Depends on [`super::addressing`] only.

use super::addressing::Side;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// How often the files are looked at for changes.
const WATCH_EVERY: Duration = Duration::from_secs(5);

/// Where the TLS material is, and which sides require a client certificate.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Trust anchors for peers' certificates; Mozilla's roots when `None`.
    pub ca: Option<PathBuf>,
    /// Per side (operator, service): whether a peer connecting there must present a
    /// certificate the trust anchors vouch for.
    pub client_auth: [bool; 2],
}

struct Configs {
    servers: [Arc<ServerConfig>; 2],
    client: Arc<ClientConfig>,
    stamps: Vec<Option<SystemTime>>,
}

pub struct Tls {
    files: TlsFiles,
    configs: RwLock<Configs>,
}

fn slot(side: Side) -> usize {
    match side {
        Side::Operator => 0,
        Side::Service => 1,
    }
}

impl Tls {
    /// Reads and checks the files; an error names the file and what is wrong with it.
    pub fn load(files: TlsFiles) -> anyhow::Result<Arc<Self>> {
        let configs = build(&files)?;
        Ok(Arc::new(Self {
            files,
            configs: RwLock::new(configs),
        }))
    }

    pub fn acceptor(&self, side: Side) -> tokio_rustls::TlsAcceptor {
        let configs = self.configs.read().expect("tls lock");
        tokio_rustls::TlsAcceptor::from(configs.servers[slot(side)].clone())
    }

    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        let configs = self.configs.read().expect("tls lock");
        tokio_rustls::TlsConnector::from(configs.client.clone())
    }

    /// The name a next hop's certificate must hold, for SNI and verification: a DNS name or
    /// an IP address.
    pub fn server_name(name: &str) -> Option<ServerName<'static>> {
        ServerName::try_from(name.to_owned()).ok()
    }

    /// Loads the files again; on failure the ones in use stay.
    pub fn reload(&self) -> bool {
        match build(&self.files) {
            Ok(configs) => {
                *self.configs.write().expect("tls lock") = configs;
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate and key reloaded");
                true
            }
            Err(error) => {
                tracing::warn!(error = %crate::telemetry::error_chain(error.as_ref()), "TLS files not reloaded: the ones in use stay");
                false
            }
        }
    }

    fn changed(&self) -> bool {
        let now = stamps(&self.files);
        now != self.configs.read().expect("tls lock").stamps
    }

    /// Reloads on SIGHUP and when a file's modification time changes, until the process ends.
    pub fn watch(self: &Arc<Self>) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut hangup =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            loop {
                let signalled = async {
                    match hangup.as_mut() {
                        Some(signal) => {
                            signal.recv().await;
                        }
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    _ = signalled => {
                        tracing::info!("SIGHUP: reloading the TLS files");
                        me.reload();
                    }
                    _ = tokio::time::sleep(WATCH_EVERY) => {
                        if me.changed() {
                            me.reload();
                        }
                    }
                }
            }
        });
    }
}

fn stamps(files: &TlsFiles) -> Vec<Option<SystemTime>> {
    [Some(&files.cert), Some(&files.key), files.ca.as_ref()]
        .iter()
        .flatten()
        .map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .collect()
}

fn build(files: &TlsFiles) -> anyhow::Result<Configs> {
    use anyhow::Context;
    let stamps = stamps(files);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .with_context(|| {
            format!(
                "--tls-cert {}: not a PEM certificate chain",
                files.cert.display()
            )
        })?;
    anyhow::ensure!(
        !certs.is_empty(),
        "--tls-cert {}: holds no certificate",
        files.cert.display()
    );
    let key = PrivateKeyDer::from_pem_file(&files.key)
        .with_context(|| format!("--tls-key {}: not a PEM private key", files.key.display()))?;
    let mut roots = RootCertStore::empty();
    match &files.ca {
        Some(ca) => {
            let cas: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .with_context(|| format!("--tls-ca {}: not PEM certificates", ca.display()))?;
            let (added, _) = roots.add_parsable_certificates(cas);
            anyhow::ensure!(
                added > 0,
                "--tls-ca {}: holds no usable certificate",
                ca.display()
            );
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let roots = Arc::new(roots);
    let server = |client_auth: bool| -> anyhow::Result<Arc<ServerConfig>> {
        let verifier = if client_auth {
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .context("the client certificate verifier")?
        } else {
            WebPkiClientVerifier::no_client_auth()
        };
        let config = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(certs.clone(), key.clone_key())
            .with_context(|| {
                format!(
                    "--tls-key {} does not go with --tls-cert {}",
                    files.key.display(),
                    files.cert.display()
                )
            })?;
        Ok(Arc::new(config))
    };
    let client = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots.clone())
        .with_client_auth_cert(certs.clone(), key.clone_key())
        .context("the edge's certificate as a client's")?;
    Ok(Configs {
        servers: [server(files.client_auth[0])?, server(files.client_auth[1])?],
        client: Arc::new(client),
        stamps,
    })
}
