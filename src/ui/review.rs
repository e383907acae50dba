//! The admins' review (open to anyone who may read): numbers per service, per sync status and
//! per account as bar charts drawn on the server in SVG, numbers with no service, failed syncs,
//! each service's verification numbers (`verification`) and recent changes. Every figure links to the filtered list behind it.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// One bar: what it counts, how many, and the list behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub label: String,
    pub value: i64,
    pub href: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub per_service: Vec<Figure>,
    pub per_status: Vec<Figure>,
    pub per_account: Vec<Figure>,
    pub without_service: i64,
    pub failed_numbers: i64,
    pub failed_accounts: i64,
    pub recent: Vec<super::audit::AuditRow>,
}

#[server(endpoint = "review")]
pub async fn load_review() -> Result<Review, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let figures = state.core.review_figures(&actor).await.map_err(refused)?;
    let recent = state
        .core
        .recent_audit_events(&actor, &Default::default(), None, 10)
        .await
        .map_err(refused)?
        .into_iter()
        .map(super::audit::audit_row)
        .collect();
    let failed_numbers = figures
        .per_status
        .iter()
        .find(|(s, _)| s == "failed")
        .map_or(0, |(_, n)| *n);
    Ok(Review {
        per_service: figures
            .per_service
            .iter()
            .map(|(service, n)| Figure {
                label: service.label().to_owned(),
                value: *n,
                href: format!("/numbers?service={}", service.wire_name()),
            })
            .collect(),
        per_status: figures
            .per_status
            .iter()
            .map(|(status, n)| Figure {
                label: status.clone(),
                value: *n,
                href: format!("/numbers?status={status}"),
            })
            .collect(),
        per_account: figures
            .per_account
            .iter()
            .map(|(account, n)| Figure {
                label: account.clone(),
                value: *n,
                href: format!("/numbers?account={}", encode(account)),
            })
            .collect(),
        without_service: figures.without_service,
        failed_numbers,
        failed_accounts: figures.failed_accounts,
        recent,
    })
}

/// A horizontal bar chart drawn as SVG (no script), with the same figures as a table beside it
/// for keyboards and screen readers; each bar and row links to its list.
#[component]
fn BarChart(
    title: &'static str,
    id: &'static str,
    figures: Vec<Figure>,
    /// What the chart says instead when it has nothing to draw, and why.
    empty: &'static str,
) -> impl IntoView {
    if figures.iter().all(|f| f.value == 0) {
        return view! {
            <figure class="chart" aria-labelledby=format!("{id}-caption")>
                <figcaption id=format!("{id}-caption")><h2>{title}</h2></figcaption>
                <p class="empty">{empty}</p>
            </figure>
        }
        .into_any();
    }
    const WIDTH: f64 = 640.0;
    const LABEL: f64 = 230.0;
    const ROW: f64 = 30.0;
    const BAR: f64 = 20.0;
    let most = figures.iter().map(|f| f.value).max().unwrap_or(0).max(1) as f64;
    let room = WIDTH - LABEL - 90.0;
    let height = (figures.len() as f64 * ROW).max(ROW);
    let bars = figures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let y = i as f64 * ROW;
            let width = if f.value > 0 {
                (f.value as f64 / most * room).max(2.0)
            } else {
                0.0
            };
            view! {
                <a href=f.href.clone() tabindex="-1">
                    <text x="0" y=format!("{:.0}", y + BAR * 0.75) class="chart-label">{f.label.clone()}</text>
                    <rect x=format!("{LABEL}") y=format!("{y:.0}") width=format!("{width:.1}") height=format!("{BAR}") class="chart-bar" rx="3"/>
                    <text x=format!("{:.1}", LABEL + width + 8.0) y=format!("{:.0}", y + BAR * 0.75) class="chart-value">{f.value.to_string()}</text>
                </a>
            }
        })
        .collect_view();
    view! {
        <figure class="chart" aria-labelledby=format!("{id}-caption")>
            <figcaption id=format!("{id}-caption")><h2>{title}</h2></figcaption>
            <svg viewBox=format!("0 0 {WIDTH} {height:.0}") width="100%" preserveAspectRatio="xMinYMin meet" aria-hidden="true" focusable="false">
                {bars}
            </svg>
            <table class="list compact">
                <caption class="visually-hidden">{title}</caption>
                <tbody>{figures.into_iter().map(|f| view! { <tr>
                    <th scope="row"><a href=f.href>{f.label}</a></th><td class="number">{f.value}</td>
                </tr> }).collect_view()}</tbody>
            </table>
        </figure>
    }
    .into_any()
}

/// The words after a figure, as people write them: `one` after 1, `many` after any other count.
fn noun(count: i64, one: &'static str, many: &'static str) -> &'static str {
    if count == 1 {
        one
    } else {
        many
    }
}

#[component]
pub fn ReviewPage() -> impl IntoView {
    let review = Resource::new(|| (), |_| load_review());
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    view! {
        <Title text="Review"/>
        <h1>"Review"</h1>
        <p class="lead">"How numbers are assigned and whether they reached their platforms. Each figure opens the list behind it. What ACG bills for is on "<a href="/billing">"Billable users"</a>"."</p>
        <Suspense fallback=|| view! { <p>"Counting…"</p> }>
            {move || Suspend::new(async move {
                let can_change = me.await.ok().flatten().is_some_and(|m| m.abilities.change);
                match review.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(review) => view! {
                        <div class="figures">
                            <a class="figure" href="/numbers?service=none">
                                <strong>{review.without_service}</strong>{noun(review.without_service, " number with no service", " numbers with no service")}
                            </a>
                            <a class="figure" href="/numbers?status=failed">
                                <strong>{review.failed_numbers}</strong>{noun(review.failed_numbers, " number failed to sync", " numbers failed to sync")}
                            </a>
                            <a class="figure" href="/accounts?status=failed">
                                <strong>{review.failed_accounts}</strong>{noun(review.failed_accounts, " account failed to sync", " accounts failed to sync")}
                            </a>
                        </div>
                        <div class="charts">
                            <BarChart title="Numbers per service" id="per-service" figures=review.per_service
                                empty="No number has a service yet: the bars appear once numbers are added with one."/>
                            <BarChart title="Numbers per sync status" id="per-status" figures=review.per_status
                                empty="No numbers yet, so no sync status to count."/>
                            <BarChart title="Accounts with the most numbers" id="per-account" figures=review.per_account
                                empty="No account has numbers yet: the ten accounts with the most numbers appear here once numbers are added (an account's page has Add numbers; Imports takes a CSV file)."/>
                        </div>
                        <super::verification::VerificationSection can_change/>
                        <h2>"Recent changes"</h2>
                        {if review.recent.is_empty() {
                            view! { <p class="empty">"No change recorded yet."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="recent">
                                    {review.recent.into_iter().map(|r| view! {
                                        <li>{format!("{} · {} {} {} · {} ({})", r.at, r.actor, r.action, r.resource_type, r.resource_key, r.door)}</li>
                                    }).collect_view()}
                                </ul>
                                <p><a href="/audit">"The whole audit trail"</a></p>
                            }.into_any()
                        }}
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
