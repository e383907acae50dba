//! The launch checklist: what a deployment needs before its services go live, each line with
//! its state and where to fix it: the deployment's settings, Operator Connect answering the
//! consent pull, accounts per service, each service's test numbers, the SIP edge and the DNS
//! responder reporting in. Also takes those reports (observations, not changes: no audit
//! event). Depends on `domain` and `store`.

use super::verification::{LAB_COUNT, PRODUCTION_COUNT};
use super::{now, Actor, Permission, Provisioning, ProvisioningError};
use crate::domain::Service;
use crate::store::reports::{self, ComponentReport};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The consent pull reports as this component.
pub const OPERATOR_CONNECT: &str = "operatorConnect";
/// Each edge process reports as this component, and as [`DNS`] when it serves DNS.
pub const EDGE: &str = "edge";
pub const DNS: &str = "dns";

/// A consent pull older than this counts as not running.
const PULL_FRESH_MINUTES: i64 = 30;
/// An edge (or DNS responder) silent for longer than this counts as down.
const EDGE_FRESH_SECONDS: i64 = 120;

/// Where a line stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LineState {
    Done,
    /// Not done yet: something to do.
    ToDo,
    /// Was working and is not now.
    Failing,
    /// Nothing has reported: Numbat cannot tell.
    Unknown,
}

impl LineState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Done => "Done",
            Self::ToDo => "To do",
            Self::Failing => "Failing",
            Self::Unknown => "Unknown",
        }
    }
}

/// One line of the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChecklistLine {
    pub item: String,
    pub state: LineState,
    pub detail: String,
    /// Where to fix it (a portal path).
    pub fix: String,
}

fn line(
    item: impl Into<String>,
    state: LineState,
    detail: impl Into<String>,
    fix: &str,
) -> ChecklistLine {
    ChecklistLine {
        item: item.into(),
        state,
        detail: detail.into(),
        fix: fix.to_owned(),
    }
}

/// This process's name in reports: the host's name and the process id.
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".to_owned());
    format!("{host}:{}", std::process::id())
}

/// Reports, every `every`, that this edge is alive and what it serves (and, with `dns`, that
/// its DNS responder is too); runs until the process ends.
pub async fn report_edge_every(
    core: Provisioning,
    serves: String,
    dns: Option<String>,
    every: std::time::Duration,
) {
    let actor = Actor::new("edge", &[super::Role::Admin], super::Door::System);
    let node = node_name();
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        let mut reports = vec![(EDGE, serves.clone())];
        if let Some(dns) = &dns {
            reports.push((DNS, dns.clone()));
        }
        for (component, detail) in reports {
            if let Err(error) = core
                .report_component(&actor, component, &node, true, &detail)
                .await
            {
                tracing::warn!(%error, "recording that the edge is alive failed");
            }
        }
    }
}

/// Seconds since `at` (RFC 3339); a time that does not parse counts as long ago.
fn age_seconds(at: &str, clock: OffsetDateTime) -> i64 {
    OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
        .map(|t| (clock - t).whole_seconds())
        .unwrap_or(i64::MAX)
}

impl Provisioning {
    /// Records what `component` on `node` says about itself now (a bounded detail).
    pub async fn report_component(
        &self,
        actor: &Actor,
        component: &str,
        node: &str,
        ok: bool,
        detail: &str,
    ) -> Result<(), ProvisioningError> {
        actor.permit(Permission::Write)?;
        let cut = |text: &str, max: usize| text.chars().take(max).collect::<String>();
        let report = ComponentReport {
            component: cut(component, 40),
            node: cut(node, 200),
            ok,
            detail: cut(detail, 500),
            at: now(),
        };
        Ok(reports::record(&self.db, &report).await?)
    }

    /// The checklist as things stand now.
    pub async fn launch_checklist(
        &self,
        actor: &Actor,
    ) -> Result<Vec<ChecklistLine>, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let clock = OffsetDateTime::now_utc();
        let settings = self.settings_unchecked().await?;
        let mut lines = Vec::new();
        lines.push(match &settings.sip_header_name {
            Some(name) => line(
                "Custom SIP header name",
                LineState::Done,
                format!("{name}"),
                "/admin/settings",
            ),
            None => line(
                "Custom SIP header name",
                LineState::ToDo,
                "Not set: no number's custom value reaches the gateway until it is.",
                "/admin/settings",
            ),
        });
        let mut per_service = Vec::new();
        for service in Service::ALL {
            let filter = super::AccountFilter {
                service: Some(service),
                ..Default::default()
            };
            per_service.push((
                service,
                crate::store::accounts::count(&self.db, &filter).await?,
            ));
        }
        let offers_direct_routing = per_service
            .iter()
            .any(|(s, n)| *s == Service::TeamsDirectRouting && *n > 0);
        lines.push(match (&settings.base_domain, offers_direct_routing) {
            (Some(domain), _) => line("Direct Routing base domain", LineState::Done, format!("{domain}"), "/admin/settings"),
            (None, true) => line("Direct Routing base domain", LineState::ToDo, "Not set, and Direct Routing accounts exist: their customer domains cannot be built.", "/admin/settings"),
            (None, false) => line("Direct Routing base domain", LineState::ToDo, "Not set: needed before the first Direct Routing account.", "/admin/settings"),
        });

        let all = reports::all(&self.db).await?;
        let newest = |component: &str| all.iter().find(|r| r.component == component);
        lines.push(match newest(OPERATOR_CONNECT) {
            None => line(
                "Operator Connect answering, consents pulled",
                LineState::Unknown,
                "No consent pull has run: sync with Operator Connect is off or has not started.",
                "/requests-for-information",
            ),
            Some(r) if !r.ok => line(
                "Operator Connect answering, consents pulled",
                LineState::Failing,
                format!("The last pull, at {}, failed: {}", r.at, r.detail),
                "/requests-for-information",
            ),
            Some(r) if age_seconds(&r.at, clock) > PULL_FRESH_MINUTES * 60 => line(
                "Operator Connect answering, consents pulled",
                LineState::Failing,
                format!("The last pull was at {}: is sync still running?", r.at),
                "/requests-for-information",
            ),
            Some(r) => line(
                "Operator Connect answering, consents pulled",
                LineState::Done,
                format!("Pulled at {}: {}", r.at, r.detail),
                "/requests-for-information",
            ),
        });

        let with_accounts: Vec<(Service, i64)> = per_service
            .iter()
            .copied()
            .filter(|(_, n)| *n > 0)
            .collect();
        if with_accounts.is_empty() {
            lines.push(line(
                "Accounts",
                LineState::ToDo,
                "No account yet: create one for each service you offer.",
                "/accounts/new",
            ));
        }
        let verification = self.verification_status(actor).await?;
        for (service, accounts) in &with_accounts {
            lines.push(line(
                format!("Accounts with {}", service.label()),
                LineState::Done,
                if *accounts == 1 {
                    "1 account".to_owned()
                } else {
                    format!("{accounts} accounts")
                },
                &format!("/accounts?service={}", service.wire_name()),
            ));
            let status = verification.iter().find(|v| v.service == *service);
            let (ready, synced) = status.map_or((0, 0), |s| (s.ready, s.synced));
            let state = if synced >= PRODUCTION_COUNT {
                LineState::Done
            } else {
                LineState::ToDo
            };
            lines.push(line(
                format!("Test numbers of {}", service.label()),
                state,
                format!("{ready} ready, {synced} synced; {PRODUCTION_COUNT} asked in production, {LAB_COUNT} in a lab"),
                "/review#verification-heading",
            ));
        }
        let launchable: Vec<Service> = with_accounts
            .iter()
            .map(|(s, _)| *s)
            .filter(|s| super::live::can_launch(*s))
            .collect();
        if !settings.launched.is_empty() || !launchable.is_empty() {
            let not_yet: Vec<Service> = launchable
                .iter()
                .copied()
                .filter(|s| !settings.launched.contains(s))
                .collect();
            let live = Service::phrase(settings.launched.iter().copied(), "and");
            let waiting = Service::phrase(not_yet.iter().copied(), "and");
            lines.push(match (settings.launched.is_empty(), not_yet.is_empty()) {
                (true, _) => line("Live services", LineState::ToDo, format!("None yet: mark {waiting} live once Microsoft has verified it; the portal then shows its numbers read-only and changes go through the API."), "/admin/settings"),
                (false, true) => line("Live services", LineState::Done, format!("{live}: the portal shows their numbers read-only; changes go through the API."), "/admin/settings"),
                (false, false) => line("Live services", LineState::ToDo, format!("{live} live (the portal shows their numbers read-only); {waiting} not yet."), "/admin/settings"),
            });
        }

        let fresh = |component: &str| {
            let all: Vec<&ComponentReport> =
                all.iter().filter(|r| r.component == component).collect();
            let alive: Vec<&&ComponentReport> = all
                .iter()
                .filter(|r| r.ok && age_seconds(&r.at, clock) <= EDGE_FRESH_SECONDS)
                .collect();
            (
                all.first().copied(),
                alive.len(),
                alive.first().map(|r| r.detail.clone()),
            )
        };
        let (last, alive, detail) = fresh(EDGE);
        lines.push(match (last, alive) {
            (None, _) => line(
                "The SIP edge answering",
                LineState::Unknown,
                "No edge has reported: start numbat edge with this database.",
                "/review",
            ),
            (Some(r), 0) => line(
                "The SIP edge answering",
                LineState::Failing,
                format!("No edge has reported since {}.", r.at),
                "/review",
            ),
            (Some(_), n) => line(
                "The SIP edge answering",
                LineState::Done,
                format!(
                    "{} reporting: {}",
                    if n == 1 {
                        "1 edge".to_owned()
                    } else {
                        format!("{n} edges")
                    },
                    detail.unwrap_or_default()
                ),
                "/review",
            ),
        });
        let (last, alive, detail) = fresh(DNS);
        if offers_direct_routing || last.is_some() {
            lines.push(match (last, alive) {
                (None, _) => line("The DNS responder answering", LineState::ToDo, "No edge serves DNS: Direct Routing's customer domains need numbat edge --dns-listen.", "/review"),
                (Some(r), 0) => line("The DNS responder answering", LineState::Failing, format!("No DNS responder has reported since {}.", r.at), "/review"),
                (Some(_), _) => line("The DNS responder answering", LineState::Done, detail.unwrap_or_default(), "/review"),
            });
        }
        Ok(lines)
    }
}
