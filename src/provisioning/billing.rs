//! Billable users: ACG bills each month for the most users the deployment had on any day of it
//! (beyond the users its service fee includes). What a service counts as a user follows ACG:
//! Direct Routing and Zoom, every number with the service on; Operator Connect and Teams Phone
//! Mobile, the numbers assigned in Operator Connect (on, and synced there); Call Protection,
//! every number with it on. Counts are taken once a day, by whichever node gets there first, and
//! kept as they were whatever changes later; the report reads only them. Taking a day is an
//! observation, not a change: it has no audit event. Depends on `domain` and `store`.

use super::{timestamp_of, Actor, Permission, Provisioning, ProvisioningError};
use crate::domain::{Code, Service, Violation};
use crate::store::billing::{self as stored, Counted};
use serde::Serialize;
use time::{Date, Month as CalendarMonth, OffsetDateTime};

/// Users ACG's service fee includes ("for testing and early adoption"), beyond which each
/// user is billed.
pub const INCLUDED_USERS: i64 = 999;

/// Whether `service` counts only the numbers synced to Operator Connect.
pub fn counts_only_synced(service: Service) -> bool {
    service.traits().teams_tenant
}

/// What each service counts, in `Service::ALL` order.
fn counted() -> Vec<Counted> {
    Service::ALL
        .into_iter()
        .map(|service| Counted {
            service,
            only_synced: counts_only_synced(service),
        })
        .collect()
}

/// A calendar month, as `YYYY-MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Month {
    year: i32,
    month: CalendarMonth,
}

impl Month {
    /// `YYYY-MM`, a year from 2000 to 9999.
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let bad = || {
            Violation::new(
                "month",
                Code::InvalidFormat,
                "must be a month as YYYY-MM, e.g. 2026-12",
            )
        };
        let (year, month) = raw.split_once('-').ok_or_else(bad)?;
        if year.len() != 4
            || month.len() != 2
            || !(year.bytes().chain(month.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        let month: u8 = month.parse().map_err(|_| bad())?;
        let month = CalendarMonth::try_from(month).map_err(|_| bad())?;
        if year < 2000 {
            return Err(bad());
        }
        Ok(Self { year, month })
    }

    pub fn of(date: Date) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    fn first(self) -> Date {
        Date::from_calendar_date(self.year, self.month, 1).expect("the first of a month exists")
    }

    fn last(self) -> Date {
        self.first()
            .replace_day(self.month.length(self.year))
            .expect("a month's last day exists")
    }

    pub fn previous(self) -> Self {
        Self::of(self.first().previous_day().unwrap_or(self.first()))
    }

    pub fn next(self) -> Self {
        Self::of(self.last().next_day().unwrap_or(self.last()))
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month as u8)
    }
}

fn day_text(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        date.month() as u8,
        date.day()
    )
}

/// One account's users of one service in a month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountUsers {
    pub account_name: String,
    /// The most on any day of the month.
    pub peak: i64,
    /// On the month's last day counted.
    pub latest: i64,
}

/// One service's users in a month.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceUsers {
    pub service: Service,
    /// What counts as a user of this service.
    pub rule: String,
    /// The most users of every account together on any day, and that day.
    pub peak: i64,
    pub peak_day: Option<String>,
    pub latest: i64,
    /// Every account that had users of this service on some day, most first.
    pub accounts: Vec<AccountUsers>,
}

/// One day's users, per service in `Service::ALL` order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DayUsers {
    pub day: String,
    pub users: Vec<i64>,
    pub total: i64,
}

/// A month's billable users.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BillableUsers {
    pub month: String,
    /// The days counted, oldest first (a day before the deployment, or one no node was running
    /// on, has no count).
    pub days_counted: usize,
    /// The most users of every service together on any day: what ACG bills for.
    pub peak: i64,
    pub peak_day: Option<String>,
    /// Users the service fee includes.
    pub included: i64,
    /// `peak` beyond `included`.
    pub billed: i64,
    pub services: Vec<ServiceUsers>,
    pub days: Vec<DayUsers>,
}

fn rule(service: Service) -> String {
    if counts_only_synced(service) {
        format!(
            "numbers with {} assigned in Operator Connect (on and synced)",
            service.label()
        )
    } else {
        format!("every number with {} on", service.label())
    }
}

impl Provisioning {
    /// Counts today's billable users, unless a node already has: true when this call did.
    /// Safe to run on every node at once.
    pub async fn take_billing_snapshot(
        &self,
        at: OffsetDateTime,
        node: &str,
    ) -> Result<bool, ProvisioningError> {
        let actor = Actor::new("billing", &[super::Role::Admin], super::Door::System);
        let permit = actor.permit(Permission::Write)?;
        let day = day_text(at.to_offset(time::UtcOffset::UTC).date());
        if stored::day_taken(&self.db, &day).await? {
            return Ok(false);
        }
        // Counted outside the transaction (one read of every number), so writers wait only for
        // the short write of the counts; two nodes may both count, one writes.
        let counted = counted();
        let mut rows = Vec::new();
        for (account, users) in stored::count_now(&self.db, &counted).await? {
            for (c, n) in counted.iter().zip(users) {
                if n > 0 {
                    rows.push((c.service, account.clone(), n));
                }
            }
        }
        let mut tx = self.begin(&permit).await?;
        if !stored::take_day(&mut tx, &day, &timestamp_of(at), node).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        stored::insert(&mut tx, &day, &rows).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// A month's billable users, from the days counted.
    pub async fn billable_users(
        &self,
        actor: &Actor,
        month: Month,
    ) -> Result<BillableUsers, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let (first, last) = (day_text(month.first()), day_text(month.last()));
        let days = stored::days(&self.db, &first, &last).await?;
        let latest_day = days.last().cloned().unwrap_or_default();
        let mut daily: Vec<DayUsers> = days
            .iter()
            .map(|day| DayUsers {
                day: day.clone(),
                users: vec![0; Service::COUNT],
                total: 0,
            })
            .collect();
        for (day, service, users) in stored::daily_totals(&self.db, &first, &last).await? {
            let (Some(entry), Some(service)) = (
                daily.iter_mut().find(|d| d.day == day),
                Service::from_wire_name(&service),
            ) else {
                continue;
            };
            entry.users[service.index()] = users;
            entry.total += users;
        }
        let mut services: Vec<ServiceUsers> = Service::ALL
            .into_iter()
            .map(|service| {
                let best = daily
                    .iter()
                    .max_by_key(|d| (d.users[service.index()], std::cmp::Reverse(d.day.clone())))
                    .filter(|d| d.users[service.index()] > 0);
                ServiceUsers {
                    service,
                    rule: rule(service),
                    peak: best.map_or(0, |d| d.users[service.index()]),
                    peak_day: best.map(|d| d.day.clone()),
                    latest: daily.last().map_or(0, |d| d.users[service.index()]),
                    accounts: Vec::new(),
                }
            })
            .collect();
        for (service, account, peak, latest) in
            stored::per_account(&self.db, &first, &last, &latest_day).await?
        {
            if let Some(service) = Service::from_wire_name(&service) {
                services[service.index()].accounts.push(AccountUsers {
                    account_name: account,
                    peak,
                    latest,
                });
            }
        }
        for service in &mut services {
            service.accounts.sort_by(|a, b| {
                b.peak
                    .cmp(&a.peak)
                    .then(a.account_name.cmp(&b.account_name))
            });
        }
        let best = daily
            .iter()
            .max_by_key(|d| (d.total, std::cmp::Reverse(d.day.clone())))
            .filter(|d| d.total > 0);
        let peak = best.map_or(0, |d| d.total);
        Ok(BillableUsers {
            month: month.to_string(),
            days_counted: daily.len(),
            peak,
            peak_day: best.map(|d| d.day.clone()),
            included: INCLUDED_USERS,
            billed: (peak - INCLUDED_USERS).max(0),
            services,
            days: daily,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_reads_as_people_write_it_and_nothing_else() {
        let december = Month::parse("2026-12").unwrap();
        assert_eq!(december.to_string(), "2026-12");
        assert_eq!(day_text(december.last()), "2026-12-31");
        assert_eq!(december.next().to_string(), "2027-01");
        assert_eq!(Month::parse("2024-02").unwrap().last().day(), 29);
        assert_eq!(
            Month::parse("2026-01").unwrap().previous().to_string(),
            "2025-12"
        );
        for bad in [
            "2026-13",
            "2026-00",
            "26-12",
            "2026-1",
            "2026/12",
            "",
            "1999-12",
            "２０２６-12",
            "2026-12-01",
            "+026-12",
        ] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }
}
