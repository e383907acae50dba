//! Webhook subscriptions in the portal (AdminUser only): the list with each one's attempts and
//! state, a form to make one (its secret shown once), and one subscription's page with its
//! delivery log, where an event is delivered again, deliveries replayed since an event or a
//! time, a paused one resumed, its secret rotated, or it is deleted. Every change goes through
//! the core's webhook operations (`provisioning::webhooks`, `hooks::redeliver`), as the API's
//! and the command line's do.

use super::access::error_text;
use super::admin::{Secret, ShownOnce};
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookRow {
    pub id: i64,
    pub url: String,
    pub types: String,
    pub account: String,
    pub state: String,
    pub paused_reason: Option<String>,
    pub delivered: i64,
    pub failed: i64,
    pub parked: i64,
    pub cursor: String,
    pub next_attempt_at: Option<String>,
    pub created_at: String,
}

#[cfg(feature = "ssr")]
impl From<crate::provisioning::webhooks::SubscriptionView> for HookRow {
    fn from(s: crate::provisioning::webhooks::SubscriptionView) -> Self {
        HookRow {
            id: s.id,
            url: s.url,
            types: if s.types.is_empty() {
                "every event".to_owned()
            } else {
                s.types.join(", ")
            },
            account: s.account_name.unwrap_or_else(|| "every account".to_owned()),
            state: s.state,
            paused_reason: s.paused_reason,
            delivered: s.attempts.delivered,
            failed: s.attempts.failed,
            parked: s.attempts.parked,
            cursor: s.cursor,
            next_attempt_at: s.next_attempt_at,
            created_at: s.created_at,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HooksData {
    pub hooks: Vec<HookRow>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub event_id: String,
    pub event_type: String,
    pub outcome: String,
    pub attempt: i32,
    pub status: String,
    pub answer: String,
    pub at: String,
    pub requested_by: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HookData {
    pub hook: HookRow,
    pub deliveries: Vec<DeliveryRow>,
    pub secret: Option<Secret>,
}

/// How many attempts a subscription's page shows, newest first.
#[cfg(feature = "ssr")]
const LOG_SHOWN: i64 = 200;

#[server(endpoint = "admin/webhooks")]
pub async fn load_webhooks() -> Result<HooksData, ServerFnError> {
    use super::access::server::refused;
    let (state, by) = super::admin::server::admin()?;
    let hooks = state.core.webhooks(&by).await.map_err(refused)?;
    // A new subscription's secret is for its own page, which the form goes to: not taken here
    // (this list reloads as the form is answered).
    Ok(HooksData {
        hooks: hooks.into_iter().map(HookRow::from).collect(),
    })
}

#[server(endpoint = "admin/webhooks/create")]
pub async fn create_webhook(
    url: String,
    #[server(default)] types: String,
    #[server(default)] account: String,
    #[server(default)] from_start: Option<String>,
) -> Result<(), ServerFnError> {
    use super::access::server::refused;
    use crate::provisioning::webhooks::{SubscriptionRequest, MAX_TYPES};
    let (state, by) = super::admin::server::admin()?;
    let request = SubscriptionRequest {
        url,
        // One more than allowed is kept, so the core refuses a list too long by name.
        types: types
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .take(MAX_TYPES + 1)
            .map(str::to_owned)
            .collect(),
        account_name: non_empty(Some(account.trim().to_owned())),
        from_start: from_start.is_some(),
    };
    let made = state
        .core
        .create_webhook(&by, request)
        .await
        .map_err(refused)?;
    super::admin::server::show_once(
        format!(
            "Secret of webhook {}: give it to the receiver, which checks each delivery's signature with it",
            made.id
        ),
        made.secret.unwrap_or_default(),
    )
    .await?;
    leptos_axum::redirect(&format!("/admin/webhooks/{}", made.id));
    Ok(())
}

#[server(endpoint = "admin/webhooks/one")]
pub async fn load_webhook(id: i64) -> Result<HookData, ServerFnError> {
    use super::access::server::refused;
    let (state, by) = super::admin::server::admin()?;
    let hook = state.core.webhook(&by, id).await.map_err(refused)?;
    let deliveries = state
        .core
        .webhook_deliveries(&by, id, LOG_SHOWN)
        .await
        .map_err(refused)?
        .into_iter()
        .map(|d| DeliveryRow {
            event_id: d.event_id,
            event_type: d.event_type,
            outcome: d.outcome,
            attempt: d.attempt,
            status: d.status.map_or("no answer".to_owned(), |s| s.to_string()),
            answer: d.answer.unwrap_or_default(),
            at: d.at,
            requested_by: d.requested_by,
        })
        .collect();
    Ok(HookData {
        hook: hook.into(),
        deliveries,
        secret: super::admin::server::take_shown_once().await?,
    })
}

#[server(endpoint = "admin/webhooks/redeliver")]
pub async fn redeliver_webhook(id: i64, event: String) -> Result<(), ServerFnError> {
    use super::access::server::refused;
    let (state, by) = super::admin::server::admin()?;
    crate::hooks::redeliver(&state.core, &by, id, event.trim())
        .await
        .map_err(refused)?;
    leptos_axum::redirect(&format!("/admin/webhooks/{id}"));
    Ok(())
}

#[server(endpoint = "admin/webhooks/replay")]
pub async fn replay_webhook(id: i64, since: String) -> Result<(), ServerFnError> {
    use super::access::server::refused;
    let (state, by) = super::admin::server::admin()?;
    state
        .core
        .change_webhook(&by, id, false, Some(since.trim()))
        .await
        .map_err(refused)?;
    leptos_axum::redirect(&format!("/admin/webhooks/{id}"));
    Ok(())
}

#[server(endpoint = "admin/webhooks/resume")]
pub async fn resume_webhook(id: i64) -> Result<(), ServerFnError> {
    use super::access::server::refused;
    let (state, by) = super::admin::server::admin()?;
    state
        .core
        .change_webhook(&by, id, true, None)
        .await
        .map_err(refused)?;
    leptos_axum::redirect(&format!("/admin/webhooks/{id}"));
    Ok(())
}

#[server(endpoint = "admin/webhooks/rotate")]
pub async fn rotate_webhook(id: i64) -> Result<(), ServerFnError> {
    use super::access::server::refused;
    let (state, by) = super::admin::server::admin()?;
    let rotated = state
        .core
        .rotate_webhook_secret(&by, id)
        .await
        .map_err(refused)?;
    super::admin::server::show_once(
        format!("New secret of webhook {id}: the old one signs beside it for a day"),
        rotated.secret.unwrap_or_default(),
    )
    .await?;
    leptos_axum::redirect(&format!("/admin/webhooks/{id}"));
    Ok(())
}

#[server(endpoint = "admin/webhooks/delete")]
pub async fn delete_webhook(id: i64, confirm: Option<String>) -> Result<(), ServerFnError> {
    use super::access::server::refused;
    let (state, by) = super::admin::server::admin()?;
    if confirm.is_none() {
        return Err(ServerFnError::new(
            "Tick the confirmation to delete the webhook.",
        ));
    }
    state.core.delete_webhook(&by, id).await.map_err(refused)?;
    leptos_axum::redirect("/admin/webhooks");
    Ok(())
}

/// A subscription's state, with its attempts by outcome.
#[component]
fn Standing(hook: HookRow) -> impl IntoView {
    let class = if hook.state == "paused" {
        "badge failed"
    } else {
        "badge synced"
    };
    view! {
        <span class=class data-testid="webhook-state">{hook.state.clone()}</span>
        " "
        <span data-testid="webhook-attempts">{format!(
            "{} delivered, {} failed, {} parked",
            hook.delivered, hook.failed, hook.parked
        )}</span>
    }
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let create = ServerAction::<CreateWebhook>::new();
    let data = Resource::new(move || create.version().get(), |_| load_webhooks());
    view! {
        <Title text="Webhooks"/>
        <h1>"Webhooks"</h1>
        <p class="lead">"Numbat delivers each change of the " <a href="/api-docs">"change feed"</a>
            " to your systems as it commits: a signed " <code>"POST"</code>
            " (Standard Webhooks), one event at a time in commit order, retried for a day before it is parked and the subscription paused."</p>
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(data) if data.hooks.is_empty() => view! {
                        <p class="empty">"No webhooks yet. Make one for each system that should hear of changes."</p>
                    }.into_any(),
                    Ok(data) => view! {
                        <table class="list" data-testid="webhooks">
                            <caption class="visually-hidden">"Webhook subscriptions"</caption>
                            <thead><tr><th scope="col">"Webhook"</th><th scope="col">"Receiver"</th><th scope="col">"Takes"</th><th scope="col">"State"</th><th scope="col">"At event"</th></tr></thead>
                            <tbody>{data.hooks.into_iter().map(|h| view! { <tr>
                                <td><a href=format!("/admin/webhooks/{}", h.id)>{format!("Webhook {}", h.id)}</a></td>
                                <td><code>{h.url.clone()}</code></td>
                                <td>{format!("{} ({})", h.types, h.account)}</td>
                                <td><Standing hook=h.clone()/></td>
                                <td>{h.cursor.clone()}</td>
                            </tr> }).collect_view()}</tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
        <h2>"Make a webhook"</h2>
        {action_error(create)}
        <ActionForm action=create attr:class="form">
            <div class="field">
                <label for="webhook-url">"Receiver's address (https)"</label>
                <input id="webhook-url" name="url" type="url" required=true maxlength="2048" autocomplete="off" placeholder="https://hooks.example.com/numbat"/>
            </div>
            <div class="field">
                <label for="webhook-types">"Event or resource types, separated by commas (none: every event)"</label>
                <input id="webhook-types" name="types" autocomplete="off" placeholder="number, account.create, job.finish"/>
            </div>
            <div class="field">
                <label for="webhook-account">"Only this account's events (optional)"</label>
                <input id="webhook-account" name="account" autocomplete="off"/>
            </div>
            <Checkbox name="from_start" label="Deliver the feed from its start, not from now" checked=false/>
            <button type="submit">"Make webhook"</button>
        </ActionForm>
    }
}

#[component]
pub fn WebhookPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.get().get("id").and_then(|id| id.parse::<i64>().ok());
    let redeliver = ServerAction::<RedeliverWebhook>::new();
    let replay = ServerAction::<ReplayWebhook>::new();
    let resume = ServerAction::<ResumeWebhook>::new();
    let rotate = ServerAction::<RotateWebhook>::new();
    let delete = ServerAction::<DeleteWebhook>::new();
    let detail = Resource::new(
        move || {
            (
                id(),
                redeliver.version().get(),
                replay.version().get(),
                resume.version().get(),
                rotate.version().get(),
            )
        },
        |(id, ..)| async move {
            match id {
                Some(id) => load_webhook(id).await,
                None => Err(ServerFnError::new("There is no such webhook.")),
            }
        },
    );
    view! {
        <Title text="Webhook"/>
        {action_error(redeliver)}
        {action_error(replay)}
        {action_error(resume)}
        {action_error(rotate)}
        {action_error(delete)}
        <Transition fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Err(error) => view! { <h1>"Webhook"</h1><LoadError message=error_text(&error)/> }.into_any(),
                    Ok(data) => {
                        let hook = data.hook.clone();
                        let id = hook.id;
                        view! {
                            <h1>{format!("Webhook {id}")}</h1>
                            <p><a href="/admin/webhooks">"All webhooks"</a></p>
                            <ShownOnce secret=data.secret.clone()/>
                            <dl class="facts">
                                <dt>"Receiver"</dt><dd><code>{hook.url.clone()}</code></dd>
                                <dt>"Takes"</dt><dd>{format!("{} ({})", hook.types, hook.account)}</dd>
                                <dt>"State"</dt><dd><Standing hook=hook.clone()/></dd>
                                {hook.paused_reason.clone().map(|why| view! { <dt>"Why paused"</dt><dd data-testid="paused-reason">{why}</dd> })}
                                <dt>"Delivered up to event"</dt><dd>{hook.cursor.clone()}</dd>
                                {hook.next_attempt_at.clone().map(|at| view! { <dt>"Next attempt"</dt><dd>{at}</dd> })}
                                <dt>"Made"</dt><dd>{hook.created_at.clone()}</dd>
                            </dl>
                            {(hook.state == "paused").then(|| view! {
                                <ActionForm action=resume attr:class="inline">
                                    <input type="hidden" name="id" value=id.to_string()/>
                                    <button type="submit">"Resume, starting with the parked event"</button>
                                </ActionForm>
                            })}
                            <h2>"Deliveries"</h2>
                            {if data.deliveries.is_empty() {
                                view! { <p class="empty">"Nothing delivered yet."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="list" data-testid="deliveries">
                                        <caption class="visually-hidden">"Newest delivery attempts first"</caption>
                                        <thead><tr><th scope="col">"Time"</th><th scope="col">"Event"</th><th scope="col">"Type"</th><th scope="col">"Outcome"</th><th scope="col">"Attempt"</th><th scope="col">"Answer"</th><th scope="col">"Again"</th></tr></thead>
                                        <tbody>{data.deliveries.into_iter().map(|d| view! { <tr>
                                            <td>{d.at.clone()}</td>
                                            <td><code>{d.event_id.clone()}</code></td>
                                            <td>{d.event_type.clone()}</td>
                                            <td>{d.outcome.clone()}</td>
                                            <td>{match &d.requested_by {
                                                Some(by) => format!("asked by {by}"),
                                                None => d.attempt.to_string(),
                                            }}</td>
                                            <td>{if d.answer.is_empty() { d.status.clone() } else { format!("{}: {}", d.status, d.answer) }}</td>
                                            <td><ActionForm action=redeliver attr:class="inline">
                                                <input type="hidden" name="id" value=id.to_string()/>
                                                <input type="hidden" name="event" value=d.event_id.clone()/>
                                                <button type="submit" aria-label=format!("Deliver again: event {}", d.event_id)>"Deliver again"</button>
                                            </ActionForm></td>
                                        </tr> }).collect_view()}</tbody>
                                    </table>
                                }.into_any()
                            }}
                            <h2>"Deliver again"</h2>
                            <ActionForm action=redeliver attr:class="form">
                                <input type="hidden" name="id" value=id.to_string()/>
                                <div class="field">
                                    <label for="redeliver-event">"One event, now (its id)"</label>
                                    <input id="redeliver-event" name="event" required=true autocomplete="off" maxlength="41" placeholder="0.42"/>
                                </div>
                                <button type="submit">"Deliver this event again"</button>
                            </ActionForm>
                            <ActionForm action=replay attr:class="form">
                                <input type="hidden" name="id" value=id.to_string()/>
                                <div class="field">
                                    <label for="replay-since">"Every event after an event's id, or from a time on (RFC 3339)"</label>
                                    <input id="replay-since" name="since" required=true autocomplete="off" maxlength="64" placeholder="2026-12-07T09:00:00Z"/>
                                </div>
                                <button type="submit">"Replay"</button>
                            </ActionForm>
                            <h2>"Secret"</h2>
                            <ActionForm action=rotate attr:class="inline">
                                <input type="hidden" name="id" value=id.to_string()/>
                                <button type="submit">"Rotate the secret"</button>
                            </ActionForm>
                            <h2>"Delete"</h2>
                            <ActionForm action=delete attr:class="inline">
                                <input type="hidden" name="id" value=id.to_string()/>
                                <label class="check"><input type="checkbox" name="confirm" required=true/>{format!(" delete webhook {id} and its delivery log")}</label>
                                <button type="submit" class="danger">"Delete"</button>
                            </ActionForm>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
