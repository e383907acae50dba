//! Billable users: a month's users per service and account as ACG bills them (the most on any
//! day), from the daily counts; a chart of the days drawn as SVG with the same figures as a
//! table, the month chosen with a plain form, and the whole month as CSV. Read-only.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// The accounts a service's table lists (the CSV has every one).
#[cfg(feature = "ssr")]
pub const TOP_ACCOUNTS: usize = 10;

/// `?month=YYYY-MM` (none: this month).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BillingQuery {
    pub month: Option<String>,
}

/// The month asked for, or this month (UTC); the error names the field and the rule.
#[cfg(feature = "ssr")]
pub fn billing_month(raw: Option<&str>) -> Result<crate::provisioning::billing::Month, String> {
    use crate::provisioning::billing::Month;
    match raw.map(str::trim).filter(|m| !m.is_empty()) {
        None => Ok(Month::of(time::OffsetDateTime::now_utc().date())),
        Some(raw) => Month::parse(raw).map_err(|v| format!("Month: {}", v.message)),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceView {
    pub label: String,
    pub rule: String,
    pub peak: i64,
    pub peak_day: Option<String>,
    pub latest: i64,
    /// (account, most on a day, on the last day counted), most first.
    pub top: Vec<(String, i64, i64)>,
    /// Accounts beyond `top`.
    pub more: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BillingView {
    pub month: String,
    pub previous: String,
    pub next: String,
    pub days_counted: usize,
    pub peak: i64,
    pub peak_day: Option<String>,
    pub included: i64,
    pub billed: i64,
    pub services: Vec<ServiceView>,
    /// (day, users of every service together).
    pub days: Vec<(String, i64)>,
}

#[server(endpoint = "billing")]
pub async fn load_billing(month: Option<String>) -> Result<BillingView, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let month = billing_month(month.as_deref()).map_err(ServerFnError::new)?;
    let report = state
        .core
        .billable_users(&actor, month)
        .await
        .map_err(refused)?;
    Ok(BillingView {
        month: report.month,
        previous: month.previous().to_string(),
        next: month.next().to_string(),
        days_counted: report.days_counted,
        peak: report.peak,
        peak_day: report.peak_day,
        included: report.included,
        billed: report.billed,
        services: report
            .services
            .into_iter()
            .map(|s| ServiceView {
                label: s.service.label().to_owned(),
                rule: s.rule,
                peak: s.peak,
                peak_day: s.peak_day,
                latest: s.latest,
                more: s.accounts.len().saturating_sub(TOP_ACCOUNTS),
                top: s
                    .accounts
                    .into_iter()
                    .take(TOP_ACCOUNTS)
                    .map(|a| (a.account_name, a.peak, a.latest))
                    .collect(),
            })
            .collect(),
        days: report.days.into_iter().map(|d| (d.day, d.total)).collect(),
    })
}

/// "1 user", "2 users".
fn users(count: i64) -> String {
    if count == 1 {
        "1 user".to_owned()
    } else {
        format!("{count} users")
    }
}

/// The days of the month as columns, drawn as SVG (no script); the table beside it has the
/// same figures for keyboards and screen readers.
#[component]
fn DaysChart(days: Vec<(String, i64)>) -> impl IntoView {
    if days.iter().all(|d| d.1 == 0) {
        return view! {
            <figure class="chart" aria-labelledby="days-caption">
                <figcaption id="days-caption"><h2>"Users per day"</h2></figcaption>
                <p class="empty">"No users on any day counted this month: a number counts once it has a service (and, for Operator Connect and Teams Phone Mobile, once it is in Operator Connect)."</p>
            </figure>
        }
        .into_any();
    }
    const WIDTH: f64 = 640.0;
    const HEIGHT: f64 = 160.0;
    const TOP: f64 = 16.0;
    let most = days.iter().map(|d| d.1).max().unwrap_or(0).max(1) as f64;
    let step = WIDTH / days.len().max(1) as f64;
    let bar = (step * 0.7).max(2.0);
    let columns = days
        .iter()
        .enumerate()
        .map(|(i, (day, total))| {
            let height = if *total > 0 {
                (*total as f64 / most * (HEIGHT - TOP)).max(2.0)
            } else {
                0.0
            };
            let x = i as f64 * step + (step - bar) / 2.0;
            view! {
                <rect x=format!("{x:.1}") y=format!("{:.1}", HEIGHT - height) width=format!("{bar:.1}") height=format!("{height:.1}") class="chart-bar" rx="2">
                    <title>{format!("{day}: {}", users(*total))}</title>
                </rect>
            }
        })
        .collect_view();
    view! {
        <figure class="chart" aria-labelledby="days-caption">
            <figcaption id="days-caption"><h2>"Users per day"</h2></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") width="100%" preserveAspectRatio="xMinYMin meet" aria-hidden="true" focusable="false">
                {columns}
            </svg>
            <details>
                <summary>"The figures"</summary>
                <table class="list compact">
                    <caption class="visually-hidden">"Users per day, every service together"</caption>
                    <thead><tr><th scope="col">"Day"</th><th scope="col">"Users"</th></tr></thead>
                    <tbody>{days.into_iter().map(|(day, total)| view! { <tr>
                        <th scope="row">{day}</th><td class="number">{total}</td>
                    </tr> }).collect_view()}</tbody>
                </table>
            </details>
        </figure>
    }
    .into_any()
}

#[component]
pub fn BillingPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(move || query.get().get("month"), load_billing);
    view! {
        <Title text="Billable users"/>
        <h1>"Billable users"</h1>
        <p class="lead">"ACG bills each month for the most users the deployment had on any day of it, beyond those its service fee includes. Numbat counts them once a day, and keeps each day's count whatever changes later."</p>
        <Suspense fallback=|| view! { <p>"Counting…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(b) => billing_body(b).into_any(),
                }
            })}
        </Suspense>
    }
}

fn billing_body(b: BillingView) -> impl IntoView {
    let export = format!("/billing/export.csv?month={}", encode(&b.month));
    let peak_text = match &b.peak_day {
        Some(day) => format!("{} (on {day})", users(b.peak)),
        None => users(0),
    };
    view! {
        <nav class="month-nav" aria-label="Months">
            <a href=format!("/billing?month={}", b.previous)>{format!("← {}", b.previous)}</a>
            <form method="get" action="/billing" class="inline">
                <label for="billing-month">"Month"</label>
                <input id="billing-month" name="month" type="month" value=b.month.clone() required=true pattern="[0-9]{4}-[0-9]{2}"/>
                <button type="submit">"Show"</button>
            </form>
            <a href=format!("/billing?month={}", b.next)>{format!("{} →", b.next)}</a>
        </nav>
        <h2>{format!("Month {}", b.month)}</h2>
        {if b.days_counted == 0 {
            view! { <p class="empty">"No day of this month has been counted: the running server counts each day once, at its first check after midnight UTC (and when it starts)."</p> }.into_any()
        } else {
            view! {
                <dl class="facts">
                    <dt>"Most users on a day, every service"</dt><dd>{peak_text}</dd>
                    <dt>"Included in the service fee"</dt><dd>{users(b.included)}</dd>
                    <dt>"Billed beyond that"</dt><dd>{users(b.billed)}</dd>
                    <dt>"Days counted"</dt><dd>{b.days_counted}</dd>
                </dl>
                <DaysChart days=b.days.clone()/>
                <table class="list">
                    <caption>"Per service"</caption>
                    <thead><tr>
                        <th scope="col">"Service"</th><th scope="col">"Counts"</th><th scope="col">"Most on a day"</th>
                        <th scope="col">"Last day counted"</th><th scope="col">"Accounts with the most"</th>
                    </tr></thead>
                    <tbody>{b.services.iter().map(|s| view! { <tr>
                        <th scope="row">{s.label.clone()}</th>
                        <td>{s.rule.clone()}</td>
                        <td class="number">{s.peak}{s.peak_day.clone().map(|d| format!(" ({d})"))}</td>
                        <td class="number">{s.latest}</td>
                        <td>{if s.top.is_empty() {
                            view! { <span class="empty">"none"</span> }.into_any()
                        } else {
                            view! {
                                <ul class="plain">{s.top.iter().map(|(account, peak, _)| view! {
                                    <li><a href=format!("/accounts/{}", encode(account))>{account.clone()}</a>{format!(": {}", users(*peak))}</li>
                                }).collect_view()}</ul>
                                {(s.more > 0).then(|| view! { <small class="hint">{format!("and {} more in the CSV file", s.more)}</small> })}
                            }.into_any()
                        }}</td>
                    </tr> }).collect_view()}</tbody>
                </table>
            }.into_any()
        }}
        <p><a href=export download="">"Download this month as CSV"</a></p>
    }
}
