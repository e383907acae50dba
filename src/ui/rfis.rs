//! Requests for Information: Operator Connect consents from Teams tenants, filterable; a
//! consent's detail; updating the customer relationship; creating an account from a consent.

use super::access::error_text;
use super::widgets::*;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// Consents the list reads at most (there are a few per customer, so this is every one in
/// practice); filters apply to these.
#[cfg(feature = "ssr")]
const READ_AT_MOST: i64 = 5_000;

/// The relationship statuses offered, as Operator Connect spells them, with their labels.
pub const RELATIONSHIP_STATUSES: [(&str, &str); 6] = [
    ("ConsentAcknowledged", "Consent acknowledged"),
    ("AgreementSigned", "Agreement signed"),
    ("ServiceActive", "Service active"),
    ("ConsentDeclined", "Consent declined (reason required)"),
    (
        "ContractTerminated",
        "Contract terminated (reason required)",
    ),
    ("OnHold", "On hold"),
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RfiView {
    pub tenant_id: String,
    pub company: Option<String>,
    pub account_name: Option<String>,
    pub consent_status: String,
    pub product_context: String,
    pub consented_on: Option<String>,
    pub countries: Vec<String>,
    pub contacts: Vec<(String, String, Option<String>)>,
    pub relationship_status: Option<String>,
    pub relationship_comment: Option<String>,
    pub relationship_changed: Option<String>,
    pub sync_status: String,
    pub sync_errors: Vec<String>,
}

#[cfg(feature = "ssr")]
fn rfi_view(record: crate::provisioning::RfiRecord) -> RfiView {
    let rfi = record.rfi;
    let relationship = rfi.customer_relationship.clone();
    RfiView {
        tenant_id: rfi.tenant_id.as_str().to_owned(),
        company: rfi.contacts.iter().find_map(|c| c.company_name.clone()),
        account_name: rfi.account_name.as_ref().map(|a| a.as_str().to_owned()),
        consent_status: rfi.status.as_str().to_owned(),
        product_context: rfi.product_context.clone(),
        consented_on: rfi.consented_on.clone(),
        countries: rfi.consented_countries.clone(),
        contacts: rfi
            .contacts
            .iter()
            .map(|c| {
                (
                    c.full_name.clone(),
                    c.email.clone(),
                    c.telephone_number.clone(),
                )
            })
            .collect(),
        relationship_status: relationship.as_ref().and_then(|r| r.status.clone()),
        relationship_comment: relationship.as_ref().and_then(|r| r.comment.clone()),
        relationship_changed: relationship.and_then(|r| r.last_modified_on),
        sync_status: record.provisioning_status.as_str().to_owned(),
        sync_errors: record
            .provisioning_errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect(),
    }
}

#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct RfiQuery {
    /// Part of the tenant ID, company name or account name.
    pub q: Option<String>,
    pub status: Option<String>,
    pub relationship: Option<String>,
}

#[server(endpoint = "rfis/list")]
pub async fn list_rfis(#[server(default)] query: RfiQuery) -> Result<Vec<RfiView>, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let records = state
        .core
        .list_rfis(&actor, None, READ_AT_MOST)
        .await
        .map_err(refused)?;
    let needle = non_empty(query.q).map(|q| q.to_lowercase());
    let status = non_empty(query.status);
    let relationship = non_empty(query.relationship);
    Ok(records
        .into_iter()
        .map(rfi_view)
        .filter(|r| {
            let text_matches = needle.as_ref().is_none_or(|n| {
                [
                    Some(&r.tenant_id),
                    r.company.as_ref(),
                    r.account_name.as_ref(),
                ]
                .into_iter()
                .flatten()
                .any(|field| field.to_lowercase().contains(n))
            });
            text_matches
                && status.as_ref().is_none_or(|s| &r.consent_status == s)
                && relationship
                    .as_ref()
                    .is_none_or(|s| r.relationship_status.as_ref() == Some(s))
        })
        .collect())
}

#[server(endpoint = "rfis/detail")]
pub async fn rfi_detail(tenant: String) -> Result<RfiView, ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let tenant = crate::domain::TenantId::parse(&tenant)
        .map_err(|v| ServerFnError::new(format!("Tenant ID: {}", v.message)))?;
    Ok(rfi_view(
        state.core.get_rfi(&actor, &tenant).await.map_err(refused)?,
    ))
}

/// Sets the customer relationship's status and reason through the core.
#[server(endpoint = "rfis/relationship")]
pub async fn update_relationship(
    tenant: String,
    status: String,
    comment: Option<String>,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::consent::RelationshipChange;
    use crate::provisioning::Precondition;
    let (state, actor) = (state()?, actor()?);
    let tenant_id = crate::domain::TenantId::parse(&tenant)
        .map_err(|v| ServerFnError::new(format!("Tenant ID: {}", v.message)))?;
    // The form always shows the reason, so an emptied field means no reason (not "keep it").
    let change = RelationshipChange {
        status: non_empty(Some(status)),
        comment: Some(comment.unwrap_or_default().trim().to_owned()),
    };
    state
        .core
        .update_relationship(&actor, &tenant_id, change, Precondition::NONE)
        .await
        .map_err(refused)?;
    leptos_axum::redirect(&format!(
        "/requests-for-information/{}?saved=1",
        encode(&tenant)
    ));
    Ok(())
}

#[component]
pub fn RfiListPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        let q = query.get();
        RfiQuery {
            q: q.get("q"),
            status: q.get("status"),
            relationship: q.get("relationship"),
        }
    };
    let list = Resource::new(current, list_rfis);
    let initial = current();
    let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    view! {
        <Title text="Requests for Information"/>
        <h1>"Requests for Information"</h1>
        <p class="lead">"Operator Connect and Teams Phone Mobile consents: enterprises that chose you as their operator in Microsoft Teams."</p>
        <form class="filters" method="get" action="/requests-for-information" role="search">
            <div class="field">
                <label for="q">"Tenant, company or account"</label>
                <input id="q" name="q" value=initial.q.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="status">"Consent"</label>
                <select id="status" name="status">
                    <option value="">"Any"</option>
                    {["active", "suspended", "removed"].into_iter().map(|s| view! {
                        <option value=s selected=selected(&initial.status, s)>{s}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="relationship">"Relationship"</label>
                <select id="relationship" name="relationship">
                    <option value="">"Any"</option>
                    {RELATIONSHIP_STATUSES.into_iter().map(|(value, label)| view! {
                        <option value=value selected=selected(&initial.relationship, value)>{label}</option>
                    }).collect_view()}
                </select>
            </div>
            <button type="submit">"Filter"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading requests…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! {
                        <div class="empty">
                            <p>"No requests for information match."</p>
                            <p>"Consents arrive from Operator Connect when an enterprise picks you in the Teams admin centre and sync is running. Clear the filters to see every one."</p>
                        </div>
                    }.into_any(),
                    Ok(rows) => view! {
                        <table class="list">
                            <caption class="visually-hidden">"Requests for information"</caption>
                            <thead><tr>
                                <th scope="col">"Tenant ID"</th><th scope="col">"Company"</th><th scope="col">"Consent"</th>
                                <th scope="col">"Relationship"</th><th scope="col">"Account"</th>
                            </tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| view! { <tr>
                                    <td class="mono"><a href=format!("/requests-for-information/{}", r.tenant_id)>{r.tenant_id.clone()}</a></td>
                                    <td>{r.company.clone().unwrap_or_default()}</td>
                                    <td>{r.consent_status.clone()}</td>
                                    <td>{r.relationship_status.clone().unwrap_or_else(|| "not set".to_owned())}</td>
                                    <td>{r.account_name.clone().map(|a| view! { <a href=format!("/accounts/{}", encode(&a))>{a.clone()}</a> })}</td>
                                </tr> }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn RfiPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    let update = ServerAction::<UpdateRelationship>::new();
    // An update returns to this same page: its version makes the page load the consent again.
    let detail = Resource::new(
        move || {
            (
                params.get().get("tenant").unwrap_or_default(),
                update.version().get(),
            )
        },
        |(tenant, _)| rfi_detail(tenant),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                let abilities = me.await.ok().flatten().map(|m| m.abilities).unwrap_or_default();
                match detail.await {
                    Err(error) => view! { <Title text="Request for information"/><h1>"Request for information"</h1><LoadError message=error_text(&error)/> }.into_any(),
                    Ok(r) => {
                        let company = r.company.clone().unwrap_or_else(|| r.tenant_id.clone());
                        let create_href = format!(
                            "/accounts/new?tenant={}&name={}",
                            encode(&r.tenant_id),
                            encode(&company.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect::<String>())
                        );
                        view! {
                            <Title text=company.clone()/>
                            <h1>{format!("Request for information: {company}")}</h1>
                            {move || query.get().get("saved").map(|_| view! { <Notice>"Relationship updated."</Notice> })}
                            <dl class="facts">
                                <dt>"Tenant ID"</dt><dd class="mono">{r.tenant_id.clone()}</dd>
                                <dt>"Consent"</dt><dd>{r.consent_status.clone()}</dd>
                                <dt>"Product"</dt><dd>{r.product_context.clone()}</dd>
                                <dt>"Consented on"</dt><dd>{r.consented_on.clone().unwrap_or_default()}</dd>
                                <dt>"Countries"</dt><dd>{r.countries.join(", ")}</dd>
                                <dt>"Account"</dt><dd>{match r.account_name.clone() {
                                    Some(a) => view! { <a href=format!("/accounts/{}", encode(&a))>{a.clone()}</a> }.into_any(),
                                    None => view! { <span>"none yet"</span> }.into_any(),
                                }}</dd>
                                <dt>"Relationship"</dt><dd>{r.relationship_status.clone().unwrap_or_else(|| "not set".to_owned())}
                                    {r.relationship_comment.clone().map(|c| format!(" ({c})"))}</dd>
                                <dt>"Sync status"</dt><dd><SyncBadge status=r.sync_status.clone()/>
                                    <ul class="sync-errors">{r.sync_errors.iter().map(|e| view! { <li>{e.clone()}</li> }).collect_view()}</ul></dd>
                            </dl>
                            <h2>"Contacts"</h2>
                            <ul>{r.contacts.iter().map(|(name, email, phone)| view! {
                                <li>{name.clone()} " · " <a href=format!("mailto:{email}")>{email.clone()}</a> {phone.clone().map(|p| format!(" · {p}"))}</li>
                            }).collect_view()}</ul>
                            {(abilities.change && r.account_name.is_none()).then(|| view! {
                                <p><a class="button" href=create_href>"Create account from this request"</a></p>
                            })}
                            {(!abilities.change).then(|| action_error(update))}
                            {abilities.change.then(|| view! {
                                <section aria-labelledby="relationship-heading">
                                    <h2 id="relationship-heading">"Update relationship status"</h2>
                                    {action_error(update)}
                                    <ActionForm action=update attr:class="form">
                                        <input type="hidden" name="tenant" value=r.tenant_id.clone()/>
                                        <div class="field">
                                            <label for="relationship-status">"New status"</label>
                                            <select id="relationship-status" name="status" required=true>
                                                {RELATIONSHIP_STATUSES.into_iter().map(|(value, label)| view! {
                                                    <option value=value selected=r.relationship_status.as_deref() == Some(value)>{label}</option>
                                                }).collect_view()}
                                            </select>
                                        </div>
                                        <div class="field">
                                            <label for="relationship-comment">"Reason or ticket (required for declined and terminated)"</label>
                                            <textarea id="relationship-comment" name="comment" rows="3" maxlength="1024">{r.relationship_comment.clone().unwrap_or_default()}</textarea>
                                        </div>
                                        <button type="submit">"Update status"</button>
                                    </ActionForm>
                                </section>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
