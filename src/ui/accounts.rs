//! Accounts: the list, an account's page (settings, counts, numbers, civic addresses), the
//! create/edit form with every service's settings, and deletion with its confirmation.

use super::access::error_text;
use super::numbers::{NumberRow, NumberTable};
use super::widgets::*;
use crate::domain::Service;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// Rows per page of the account list.
#[cfg(feature = "ssr")]
const PAGE: i64 = 50;

/// One service's switches on an account, as the pages show them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSetting {
    pub service: Service,
    pub label: String,
    pub enabled: bool,
    pub sync_enabled: bool,
    /// Whether the service has a "sync with backend service" switch.
    pub syncable: bool,
    pub numbers: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DirectRoutingView {
    pub call_screening: bool,
    pub subdomain: String,
    pub region1_token: String,
    pub region2_token: String,
}

/// An account with its read-only facts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    pub name: String,
    pub correlation_id: Option<String>,
    pub teams_tenant_id: Option<String>,
    pub services: Vec<ServiceSetting>,
    pub direct_routing: Option<DirectRoutingView>,
    pub subdomain_status: String,
    pub sync_status: String,
    pub sync_errors: Vec<String>,
    pub version: i64,
    pub updated_at: String,
}

impl AccountView {
    pub fn enabled_labels(&self) -> Vec<String> {
        self.services
            .iter()
            .filter(|s| s.enabled)
            .map(|s| s.label.clone())
            .collect()
    }

    pub fn total_numbers(&self) -> i64 {
        // A number may use two services (Operator Connect and Direct Routing, say), so the
        // largest per-service count is a floor, not the total; the page shows per-service counts.
        self.services.iter().map(|s| s.numbers).max().unwrap_or(0)
    }
}

#[cfg(feature = "ssr")]
pub(crate) fn account_view(record: crate::provisioning::AccountRecord) -> AccountView {
    use crate::domain::FlowThrough;
    let account = &record.account;
    AccountView {
        name: account.name.as_str().to_owned(),
        correlation_id: account.correlation_id.clone(),
        teams_tenant_id: account
            .teams_tenant_id
            .as_ref()
            .map(|t| t.as_str().to_owned()),
        services: Service::ALL
            .into_iter()
            .map(|service| {
                let block = account.services.get(service).unwrap_or_default();
                ServiceSetting {
                    service,
                    label: service.label().to_owned(),
                    enabled: block.enabled,
                    sync_enabled: block.sync_enabled,
                    syncable: service.traits().flow_through == FlowThrough::WhenSyncEnabled,
                    numbers: record.number_counts.0[service.index()],
                }
            })
            .collect(),
        direct_routing: account.direct_routing.as_ref().map(|dr| DirectRoutingView {
            call_screening: dr.call_screening,
            subdomain: dr.subdomain.as_str().to_owned(),
            region1_token: dr.region1_token.as_str().to_owned(),
            region2_token: dr.region2_token.as_str().to_owned(),
        }),
        subdomain_status: record.subdomain_status.as_str().to_owned(),
        sync_status: record.provisioning_status.as_str().to_owned(),
        sync_errors: record
            .provisioning_errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect(),
        version: record.version,
        updated_at: record.updated_at.clone(),
    }
}

/// What the account list shows.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountQuery {
    pub q: Option<String>,
    pub service: Option<String>,
    /// Sync status: pending, synced or failed.
    pub status: Option<String>,
    /// Only accounts carrying this tag.
    pub tag: Option<String>,
    pub sort: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountPage {
    pub rows: Vec<AccountView>,
    pub next_after: Option<String>,
    pub total: i64,
}

/// The store's filter for the accounts list's query, or what is wrong with it.
#[cfg(feature = "ssr")]
pub(crate) fn account_filter(
    query: &AccountQuery,
) -> Result<crate::provisioning::AccountFilter, ServerFnError> {
    let service =
        match non_empty(query.service.clone()) {
            Some(wire) => Some(Service::from_wire_name(&wire).ok_or_else(|| {
                ServerFnError::new(format!("service: no service is called {wire}"))
            })?),
            None => None,
        };
    let status =
        match non_empty(query.status.clone()) {
            None => None,
            Some(text) => Some(crate::domain::ProvisioningStatus::parse(&text).ok_or_else(
                || ServerFnError::new("Sync status: must be pending, synced or failed"),
            )?),
        };
    let tag = match non_empty(query.tag.clone()) {
        Some(text) => Some(
            crate::domain::Tag::parse(text.trim())
                .map_err(|v| ServerFnError::new(format!("Tag: {}", v.message)))?,
        ),
        None => None,
    };
    Ok(crate::provisioning::AccountFilter {
        service,
        tag,
        name_prefix: non_empty(query.q.clone()),
        expr: status.map(|status| {
            use crate::provisioning::filter::{Expr, Field, Value};
            Expr::Eq(
                Field::ProvisioningStatus,
                Value::Text(status.as_str().to_owned()),
            )
        }),
    })
}

#[server(endpoint = "accounts/list")]
pub async fn list_accounts(
    #[server(default)] query: AccountQuery,
) -> Result<AccountPage, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::AccountName;
    use crate::provisioning::NumberOrder;
    let (state, actor) = (state()?, actor()?);
    let filter = account_filter(&query)?;
    let order = match query.sort.as_deref() {
        Some("name-desc") => NumberOrder::Descending,
        _ => NumberOrder::Ascending,
    };
    let after = non_empty(query.after).and_then(|a| AccountName::parse(&a).ok());
    let mut records = state
        .core
        .list_accounts_in_order(&actor, &filter, order, after.as_ref(), PAGE + 1)
        .await
        .map_err(refused)?;
    let more = keep_page(&mut records, PAGE);
    let total = state
        .core
        .count_accounts(&actor, &filter)
        .await
        .map_err(refused)?;
    let rows: Vec<AccountView> = records.into_iter().map(account_view).collect();
    Ok(AccountPage {
        next_after: more.then(|| rows.last().map(|r| r.name.clone())).flatten(),
        rows,
        total,
    })
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountDetail {
    pub account: AccountView,
    pub numbers: Vec<NumberRow>,
    pub number_count: i64,
    pub civic_addresses: Vec<super::civic::CivicView>,
    /// Why civic addresses are not listed, when they are not.
    pub civic_note: Option<String>,
    pub customer_domains: Vec<String>,
}

#[server(endpoint = "accounts/detail")]
pub async fn load_account(name: String) -> Result<AccountDetail, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::AccountName;
    use crate::provisioning::{NumberFilter, NumberOrder};
    let (state, actor) = (state()?, actor()?);
    let name = AccountName::parse(&name)
        .map_err(|v| ServerFnError::new(format!("account name: {}", v.message)))?;
    let record = state
        .core
        .get_account(&actor, &name)
        .await
        .map_err(refused)?;
    let filter = NumberFilter {
        account: Some(name.clone()),
        ..NumberFilter::default()
    };
    let numbers = state
        .core
        .list_numbers(&actor, &filter, NumberOrder::Ascending, None, 20)
        .await
        .map_err(refused)?;
    let number_count = state
        .core
        .count_numbers(&actor, &filter)
        .await
        .map_err(refused)?;
    let settings = state.core.settings(&actor).await.map_err(refused)?;
    let customer_domains = match (&record.account.direct_routing, &settings.base_domain) {
        (Some(dr), Some(base)) => [1, 2]
            .map(|region| {
                crate::domain::CustomerDomain {
                    label: dr.subdomain.as_str(),
                    region,
                    base: base.as_str(),
                }
                .to_string()
            })
            .to_vec(),
        _ => Vec::new(),
    };
    let (civic_addresses, civic_note) = if record.account.teams_tenant_id.is_none() {
        (
            Vec::new(),
            Some("This account has no Teams tenant, so it has no civic addresses.".to_owned()),
        )
    } else {
        match state
            .core
            .list_civic_addresses(&actor, &name, None, 200)
            .await
        {
            Ok(found) => (
                found.into_iter().map(super::civic::civic_view).collect(),
                None,
            ),
            Err(error) => (Vec::new(), Some(error_text(&refused(error)))),
        }
    };
    Ok(AccountDetail {
        account: account_view(record),
        numbers: super::numbers::with_tags(
            &state.core,
            &actor,
            numbers
                .into_iter()
                .map(super::numbers::number_row)
                .collect(),
        )
        .await
        .map_err(refused)?,
        number_count,
        civic_addresses,
        civic_note,
        customer_domains,
    })
}

/// Everything the account form needs: the account when editing, the Direct Routing domains.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AccountFormData {
    pub account: Option<AccountView>,
    pub region_domains: Option<[String; 2]>,
}

#[server(endpoint = "accounts/form")]
pub async fn load_account_form(name: Option<String>) -> Result<AccountFormData, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::AccountName;
    let (state, actor) = (state()?, actor()?);
    let account = match non_empty(name) {
        Some(name) => {
            let name = AccountName::parse(&name)
                .map_err(|v| ServerFnError::new(format!("account name: {}", v.message)))?;
            Some(account_view(
                state
                    .core
                    .get_account(&actor, &name)
                    .await
                    .map_err(refused)?,
            ))
        }
        None => None,
    };
    let settings = state.core.settings(&actor).await.map_err(refused)?;
    Ok(AccountFormData {
        account,
        region_domains: settings.direct_routing_domains(),
    })
}

/// The account form as posted: checkboxes are present ("on") when ticked.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountForm {
    pub name: String,
    /// The version being edited; absent when creating.
    pub version: Option<i64>,
    pub correlation_id: Option<String>,
    pub teams_tenant_id: Option<String>,
    pub call_screening: Option<String>,
    pub subdomain: Option<String>,
    pub region1_token: Option<String>,
    pub region2_token: Option<String>,
    /// The service boxes ticked, each under the service table's `form_name`, and their sync
    /// boxes under `<form_name>_sync`: whatever else the form posts.
    #[serde(flatten)]
    pub switches: std::collections::BTreeMap<String, String>,
}

impl AccountForm {
    /// Whether `service`'s box is ticked.
    pub fn ticks(&self, service: Service) -> bool {
        self.switches.contains_key(service.traits().form_name)
    }

    /// Whether `service`'s sync box is ticked; only a service that syncs when asked has one.
    pub fn syncs(&self, service: Service) -> bool {
        service.traits().flow_through == crate::domain::service::FlowThrough::WhenSyncEnabled
            && self
                .switches
                .contains_key(&format!("{}_sync", service.traits().form_name))
    }
}

/// The account form's field a violation concerns, from its path in ACG's shape; `None` for
/// what no field holds.
#[cfg(feature = "ssr")]
fn account_form_key(violation: &crate::domain::Violation) -> Option<String> {
    let key = match violation.field.as_str() {
        "name" | "accountName" => "name".to_owned(),
        "correlationId" => "correlation_id".to_owned(),
        "serviceDetails.teamsTenantId" => "teams_tenant_id".to_owned(),
        field => {
            let rest = field.strip_prefix("serviceDetails.")?;
            let (wire, rest) = rest.split_once('.').unwrap_or((rest, ""));
            let form_name = Service::from_wire_name(wire)?.traits().form_name;
            match rest.strip_prefix("configuration.").unwrap_or(rest) {
                "" | "enabled" => form_name.to_owned(),
                "syncEnabled" => format!("{form_name}_sync"),
                "subdomain" => "subdomain".to_owned(),
                "region1Token" => "region1_token".to_owned(),
                "region2Token" => "region2_token".to_owned(),
                "callScreening" => "call_screening".to_owned(),
                _ => return None,
            }
        }
    };
    Some(key)
}

/// Creates or changes an account through the core, then shows it.
#[server(endpoint = "accounts/save")]
pub async fn save_account(form: AccountForm) -> Result<(), ServerFnError> {
    use super::access::keyed;
    use super::access::server::{actor, refused_naming, state};
    use crate::domain::{
        Account, AccountName, AccountServices, DirectRoutingConfig, SubdomainLabel, SubdomainToken,
        TenantId, Violation,
    };
    use crate::provisioning::Precondition;
    let (state, actor) = (state()?, actor()?);
    fn note<T>(
        problems: &mut Vec<String>,
        (key, field): (&str, &str),
        result: Result<T, Violation>,
    ) -> Option<T> {
        result
            .map_err(|v| problems.push(keyed(key, format!("{field}: {}", v.message))))
            .ok()
    }
    let mut problems: Vec<String> = Vec::new();
    let name = note(
        &mut problems,
        ("name", "Account name"),
        AccountName::parse(form.name.trim()),
    );
    let tenant = non_empty(form.teams_tenant_id.clone()).and_then(|t| {
        note(
            &mut problems,
            ("teams_tenant_id", "Teams tenant ID"),
            TenantId::parse(&t),
        )
    });
    let ticked = |v: &Option<String>| v.is_some();
    let subdomain = non_empty(form.subdomain.clone());
    let token1 = non_empty(form.region1_token.clone());
    let token2 = non_empty(form.region2_token.clone());
    let direct_routing = if subdomain.is_some() || token1.is_some() || token2.is_some() {
        let label = note(
            &mut problems,
            ("subdomain", "Subdomain"),
            SubdomainLabel::parse(subdomain.as_deref().unwrap_or_default()),
        );
        let first = note(
            &mut problems,
            ("region1_token", "Region 1 token"),
            SubdomainToken::parse(token1.as_deref().unwrap_or_default()),
        );
        let second = note(
            &mut problems,
            ("region2_token", "Region 2 token"),
            SubdomainToken::parse(token2.as_deref().unwrap_or_default()),
        );
        match (label, first, second) {
            (Some(subdomain), Some(region1_token), Some(region2_token)) => {
                Some(DirectRoutingConfig {
                    call_screening: ticked(&form.call_screening),
                    subdomain,
                    region1_token,
                    region2_token,
                })
            }
            _ => None,
        }
    } else {
        None
    };
    if !problems.is_empty() {
        return Err(ServerFnError::new(problems.join("\n")));
    }
    let Some(name) = name else {
        unreachable!("a name that did not parse is a problem above")
    };
    let services = Service::ALL
        .into_iter()
        .fold(AccountServices::default(), |services, service| {
            services.with(service, form.ticks(service), form.syncs(service))
        });
    let account = Account {
        name: name.clone(),
        correlation_id: non_empty(form.correlation_id),
        teams_tenant_id: tenant,
        services,
        direct_routing,
    };
    let precondition = match form.version {
        Some(version) => Precondition::if_match(version),
        None => Precondition::IF_ABSENT,
    };
    match state.core.put_account(&actor, account, precondition).await {
        Ok(_) => {
            leptos_axum::redirect(&format!("/accounts/{}?saved=1", encode(name.as_str())));
            Ok(())
        }
        Err(crate::provisioning::ProvisioningError::PreconditionFailed { current: None, .. }) => Err(
            ServerFnError::new(format!("Account {name} was deleted by someone else while you edited it.")),
        ),
        Err(crate::provisioning::ProvisioningError::PreconditionFailed { .. }) if form.version.is_none() => Err(
            ServerFnError::new(format!("An account named {name} already exists: pick another name or edit that account.")),
        ),
        Err(crate::provisioning::ProvisioningError::PreconditionFailed { .. }) => Err(ServerFnError::new(format!(
            "Someone else changed account {name} while you edited it. Open it again to see their change, then redo yours."
        ))),
        Err(error) => Err(refused_naming(error, |_| None, account_form_key)),
    }
}

/// Deletes an account; its numbers too only when asked, after the confirmation is ticked.
#[server(endpoint = "accounts/delete")]
pub async fn delete_account(
    name: String,
    with_numbers: Option<String>,
    confirm: Option<String>,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::AccountName;
    use crate::provisioning::Precondition;
    let (state, actor) = (state()?, actor()?);
    if confirm.is_none() {
        return Err(ServerFnError::new(
            "Tick the confirmation to delete the account.",
        ));
    }
    let name = AccountName::parse(&name)
        .map_err(|v| ServerFnError::new(format!("account name: {}", v.message)))?;
    state
        .core
        .delete_account(&actor, &name, with_numbers.is_some(), Precondition::NONE)
        .await
        .map_err(refused)?;
    leptos_axum::redirect(&format!("/accounts?deleted={}", encode(name.as_str())));
    Ok(())
}

#[component]
pub fn AccountsPage() -> impl IntoView {
    let query = use_query_map();
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    let current = move || {
        let q = query.get();
        AccountQuery {
            q: q.get("q"),
            service: q.get("service"),
            status: q.get("status"),
            tag: q.get("tag"),
            sort: q.get("sort"),
            after: q.get("after"),
        }
    };
    let page = Resource::new(current, list_accounts);
    let initial = current();
    let filter_query = query_string(&[
        ("q", &initial.q),
        ("service", &initial.service),
        ("status", &initial.status),
        ("tag", &initial.tag),
    ]);
    let export_href = with_query("/accounts/export.csv", &filter_query);
    view! {
        <Title text="Accounts"/>
        <div class="page-head">
            <h1>"Accounts"</h1>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let can_change = me.await.ok().flatten().is_some_and(|m| m.abilities.change);
                    can_change.then(|| view! { <a class="button" href="/accounts/new">"Create account"</a> })
                })}
            </Suspense>
        </div>
        {move || query.get().get("deleted").filter(|n| crate::domain::AccountName::parse(n).is_ok()).map(|name| view! { <Notice>{format!("Account {name} was deleted.")}</Notice> })}
        <form class="filters" method="get" action="/accounts" role="search">
            <div class="field">
                <label for="q">"Name starts with"</label>
                <input id="q" name="q" value=initial.q.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="service">"Service"</label>
                <select id="service" name="service">
                    <option value="">"Any"</option>
                    {Service::ALL.into_iter().map(|s| {
                        let selected = initial.service.as_deref() == Some(s.wire_name());
                        view! { <option value=s.wire_name() selected=selected>{s.label()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="status">"Sync status"</label>
                <select id="status" name="status">
                    <option value="">"Any"</option>
                    {["pending", "synced", "failed"].into_iter().map(|s| {
                        let selected = initial.status.as_deref() == Some(s);
                        view! { <option value=s selected=selected>{s}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="tag">"Tag"</label>
                <input id="tag" name="tag" value=initial.tag.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="sort">"Sort"</label>
                <select id="sort" name="sort">
                    <option value="name">"Name, A to Z"</option>
                    <option value="name-desc" selected=initial.sort.as_deref() == Some("name-desc")>"Name, Z to A"</option>
                </select>
            </div>
            <button type="submit">"Search"</button>
        </form>
        <p><a class="button secondary" href=export_href download="accounts.csv">"Export these accounts (CSV)"</a></p>
        <Suspense fallback=|| view! { <p>"Loading accounts…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(page) if page.rows.is_empty() => view! {
                        <div class="empty">
                            <p>"No accounts match."</p>
                            <p>"Create an account for each customer, then add its numbers. Accounts for Operator Connect customers can also be created from their "
                               <a href="/requests-for-information">"request for information"</a>"."</p>
                        </div>
                    }.into_any(),
                    Ok(page) => {
                        let shown = page.rows.len();
                        view! {
                            <table class="list">
                                <caption class="visually-hidden">"Accounts"</caption>
                                <thead><tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Services"</th>
                                    <th scope="col">"Teams tenant"</th>
                                    <th scope="col">"Sync"</th>
                                </tr></thead>
                                <tbody>
                                    {page.rows.into_iter().map(|row| {
                                        let href = format!("/accounts/{}", encode(&row.name));
                                        let services = row.enabled_labels().join(", ");
                                        view! { <tr>
                                            <td><a href=href>{row.name.clone()}</a></td>
                                            <td>{if services.is_empty() { "none".to_owned() } else { services }}</td>
                                            <td class="mono">{row.teams_tenant_id.clone().unwrap_or_default()}</td>
                                            <td><SyncBadge status=row.sync_status.clone()/></td>
                                        </tr> }
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <Pager path="/accounts" next_after=page.next_after shown total=page.total.to_string()/>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AccountPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    let detail = Resource::new(
        move || params.get().get("name").unwrap_or_default(),
        load_account,
    );
    let delete = ServerAction::<DeleteAccount>::new();
    view! {
        <Suspense fallback=|| view! { <p>"Loading the account…"</p> }>
            {move || Suspend::new(async move {
                let me = me.await.ok().flatten();
                let abilities = me.map(|m| m.abilities).unwrap_or_default();
                match detail.await {
                    Err(error) => view! { <Title text="Account"/><h1>"Account"</h1><LoadError message=error_text(&error)/> }.into_any(),
                    Ok(detail) => {
                        let account = detail.account.clone();
                        let name = account.name.clone();
                        let edit_href = format!("/accounts/{}/edit", encode(&name));
                        let numbers_href = format!("/numbers?account={}", encode(&name));
                        let add_href = format!("/numbers/new?account={}", encode(&name));
                        view! {
                            <Title text=name.clone()/>
                            <div class="page-head">
                                <h1>{format!("Account {name}")}</h1>
                                {abilities.change.then(|| view! {
                                    <a class="button" href=edit_href>"Edit account"</a>
                                    <a class="button secondary" href=add_href.clone()>"Add numbers"</a>
                                })}
                            </div>
                            {query.get_untracked().get("saved").map(|_| view! { <Notice>"Saved."</Notice> })}
                            <section aria-labelledby="settings-heading">
                                <h2 id="settings-heading">"Settings"</h2>
                                <dl class="facts">
                                    <dt>"Teams tenant ID"</dt><dd class="mono">{account.teams_tenant_id.clone().unwrap_or_else(|| "none".to_owned())}</dd>
                                    <dt>"Correlation ID"</dt><dd>{account.correlation_id.clone().unwrap_or_else(|| "none".to_owned())}</dd>
                                    <dt>"Sync status"</dt><dd><SyncBadge status=account.sync_status.clone()/>
                                        <ul class="sync-errors">{account.sync_errors.iter().map(|e| view! { <li>{e.clone()}</li> }).collect_view()}</ul>
                                    </dd>
                                    <dt>"Last changed"</dt><dd>{account.updated_at.clone()}</dd>
                                </dl>
                                <table class="list">
                                    <caption>"Services and their numbers"</caption>
                                    <thead><tr><th scope="col">"Service"</th><th scope="col">"Enabled"</th><th scope="col">"Sync with backend service"</th><th scope="col">"Numbers"</th></tr></thead>
                                    <tbody>
                                        {account.services.iter().map(|s| view! { <tr>
                                            <td>{s.label.clone()}</td>
                                            <td>{if s.enabled { "yes" } else { "no" }}</td>
                                            <td>{if !s.syncable { "not offered" } else if s.sync_enabled { "yes" } else { "no" }}</td>
                                            <td>{s.numbers}</td>
                                        </tr> }).collect_view()}
                                    </tbody>
                                </table>
                                {account.direct_routing.clone().map(|dr| view! {
                                    <h3>"Direct Routing"</h3>
                                    <dl class="facts">
                                        <dt>"Subdomain"</dt><dd class="mono">{dr.subdomain.clone()}</dd>
                                        <dt>"Customer domains"</dt><dd class="mono">{if detail.customer_domains.is_empty() { "set the base domain in Settings to see them".to_owned() } else { detail.customer_domains.join(", ") }}</dd>
                                        <dt>"Subdomain status"</dt><dd>{account.subdomain_status.clone()}</dd>
                                        <dt>"Call screening"</dt><dd>{if dr.call_screening { "on" } else { "off" }}</dd>
                                        <dt>"Region 1 token"</dt><dd class="mono">{dr.region1_token.clone()}</dd>
                                        <dt>"Region 2 token"</dt><dd class="mono">{dr.region2_token.clone()}</dd>
                                    </dl>
                                    <p><a href=format!("/accounts/{}/onboarding", encode(&name))>"Direct Routing onboarding: the customer's steps"</a></p>
                                })}
                            </section>
                            <section aria-labelledby="numbers-heading">
                                <h2 id="numbers-heading">{format!("Numbers ({})", detail.number_count)}</h2>
                                {if detail.numbers.is_empty() {
                                    view! { <p class="empty">"No numbers yet. " {abilities.change.then(|| view! { <a href=add_href.clone()>"Add numbers"</a> })}</p> }.into_any()
                                } else {
                                    view! {
                                        <NumberTable rows=detail.numbers.clone()/>
                                        <p><a href=numbers_href>{format!("All {} of {name}", counted(detail.number_count, "number", "numbers"))}</a></p>
                                    }.into_any()
                                }}
                            </section>
                            <section aria-labelledby="civic-heading">
                                <h2 id="civic-heading">"Civic addresses"</h2>
                                {detail.civic_note.clone().map(|note| view! { <p class="empty">{note}</p> })}
                                {(detail.civic_note.is_none() && detail.civic_addresses.is_empty()).then(|| view! {
                                    <p class="empty">"No civic addresses: they arrive from the customer's Teams tenant once sync runs."</p>
                                })}
                                {detail.civic_addresses.iter().map(|c| view! {
                                    <article class="civic">
                                        <h3>{c.summary.clone()}</h3>
                                        <dl class="facts">
                                            <dt>"ID"</dt><dd class="mono">{c.id.clone()}</dd>
                                            <dt>"Company"</dt><dd>{c.company.clone().unwrap_or_default()}</dd>
                                            <dt>"Description"</dt><dd>{c.description.clone().unwrap_or_default()}</dd>
                                            <dt>"Validated"</dt><dd>{c.validated.clone().unwrap_or_else(|| "unknown".to_owned())}</dd>
                                        </dl>
                                        <table class="list"><caption>"Locations"</caption>
                                            <thead><tr><th scope="col">"Location ID"</th><th scope="col">"Description"</th><th scope="col">"ELIN"</th></tr></thead>
                                            <tbody>{c.locations.iter().map(|(id, description, elin)| view! { <tr>
                                                <td class="mono">{id.clone()}</td><td>{description.clone().unwrap_or_default()}</td><td>{elin.clone().unwrap_or_default()}</td>
                                            </tr> }).collect_view()}</tbody>
                                        </table>
                                    </article>
                                }).collect_view()}
                            </section>
                            <super::labels::LabelsPanel kind="account" key=name.clone() can_change=abilities.change saved=query.get_untracked().get("labelled").is_some()/>
                            <super::audit::History kind=None key=None account=Some(name.clone())/>
                            {(!abilities.remove).then(|| action_error(delete))}
                            {abilities.remove.then(|| view! {
                                <section aria-labelledby="delete-heading" class="danger-zone">
                                    <h2 id="delete-heading">"Delete this account"</h2>
                                    {action_error(delete)}
                                    <ActionForm action=delete>
                                        <input type="hidden" name="name" value=name.clone()/>
                                        {(detail.number_count > 0).then(|| view! {
                                            <label class="check"><input type="checkbox" name="with_numbers"/>
                                                {format!(" Also delete its {} (without this, an account with numbers is not deleted)", counted(detail.number_count, "number", "numbers"))}
                                            </label>
                                        })}
                                        <label class="check"><input type="checkbox" name="confirm" required=true/>
                                            {format!(" Yes, delete account {name}{}", if detail.number_count > 0 { format!(" ({} {} being routed if deleted with it)", counted(detail.number_count, "number", "numbers"), if detail.number_count == 1 { "stops" } else { "stop" }) } else { String::new() })}
                                        </label>
                                        <button type="submit" class="danger">"Delete account"</button>
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

/// `/accounts/new` and `/accounts/:name/edit`.
#[component]
pub fn AccountFormPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let data = Resource::new(move || params.get().get("name"), load_account_form);
    let save = ServerAction::<SaveAccount>::new();
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(error) => view! { <Title text="Account"/><h1>"Account"</h1><LoadError message=error_text(&error)/> }.into_any(),
                    Ok(data) => {
                        let q = query.get_untracked();
                        view! { <AccountFormBody data prefill_name=q.get("name") prefill_tenant=q.get("tenant") save/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn AccountFormBody(
    data: AccountFormData,
    prefill_name: Option<String>,
    prefill_tenant: Option<String>,
    save: ServerAction<SaveAccount>,
) -> impl IntoView {
    use crate::domain::rules::MAX_CUSTOMER_FQDN;
    let editing = data.account.is_some();
    let account = data.account.clone();
    let title = match &account {
        Some(a) => format!("Edit account {}", a.name),
        None => "Create account".to_owned(),
    };
    let service = |s: Service| {
        account
            .as_ref()
            .and_then(|a| a.services.iter().find(|x| x.service == s).cloned())
    };
    let on = |s: Service| service(s).is_some_and(|x| x.enabled);
    let sync_on = |s: Service| service(s).is_some_and(|x| x.sync_enabled);
    // A new account made from a consent is for Operator Connect, the service consents are for.
    let from_rfi = prefill_tenant.is_some() && !editing;
    let dr = account.as_ref().and_then(|a| a.direct_routing.clone());
    let subdomain = RwSignal::new(dr.as_ref().map(|d| d.subdomain.clone()).unwrap_or_default());
    let domains = data.region_domains.clone();
    let fqdns = move || {
        let label = subdomain.get();
        match &domains {
            None => vec!["Set the base domain in Settings to see the customer domains.".to_owned()],
            Some(_) if label.is_empty() => {
                vec!["Enter a subdomain to see the customer domains.".to_owned()]
            }
            Some(domains) => domains
                .iter()
                .map(|d| {
                    let fqdn = format!("{label}.{d}");
                    let len = fqdn.len();
                    if len > MAX_CUSTOMER_FQDN {
                        format!("{fqdn}: {len} characters, too long (at most {MAX_CUSTOMER_FQDN})")
                    } else {
                        format!("{fqdn}: {len} of {MAX_CUSTOMER_FQDN} characters")
                    }
                })
                .collect(),
        }
    };
    let refusal = refusal_of(save);
    // The boxes are named by the service table, as `AccountForm` reads them.
    let box_name = |s: Service| format!("form[{}]", s.traits().form_name);
    let sync_name = |s: Service| format!("form[{}_sync]", s.traits().form_name);
    // Direct Routing's own settings: the customer's subdomain and its tokens.
    let mut direct_routing = Some(view! {
        <Checkbox name="form[call_screening]" label="Enable call screening" checked=dr.as_ref().is_none_or(|d| d.call_screening)/>
        <div class="field">
            <label for="field-subdomain">"Subdomain"</label>
            <input id="field-subdomain" name="form[subdomain]" aria-describedby="fqdns"
                value=dr.as_ref().map(|d| d.subdomain.clone()).unwrap_or_default()
                on:input=move |ev| subdomain.set(event_target_value(&ev))/>
            <small class="hint">"A DNS label, e.g. contoso. The customer's domains are this label under each region's domain:"</small>
            <ul id="fqdns" class="fqdns" aria-live="polite">{move || fqdns().into_iter().map(|f| view! { <li class="mono">{f}</li> }).collect_view()}</ul>
            <FieldError refusal key="subdomain"/>
        </div>
        <CheckedInput name="form[region1_token]" label="Region 1 token" value=dr.as_ref().map(|d| d.region1_token.clone()).unwrap_or_default()
            check=check_token hint="The TXT value Microsoft 365 gave for the region 1 domain."/>
        <FieldError refusal key="region1_token"/>
        <CheckedInput name="form[region2_token]" label="Region 2 token" value=dr.as_ref().map(|d| d.region2_token.clone()).unwrap_or_default()
            check=check_token hint="The TXT value for the region 2 domain."/>
        <FieldError refusal key="region2_token"/>
    });
    // One fieldset per service, from the service table.
    let fieldsets = Service::ALL.into_iter().map(|s| {
                let traits = s.traits();
                let label = s.label();
                let syncable = traits.flow_through == crate::domain::FlowThrough::WhenSyncEnabled;
                let checked = on(s) || (from_rfi && s == Service::TeamsOperatorConnect);
                let apart = Service::phrase(
                    Service::ALL
                        .into_iter()
                        .filter(|other| *other != s && !s.combines_with(*other)),
                    "or",
                );
                view! {
                    <fieldset>
                        <legend>{label}</legend>
                        <Checkbox name=box_name(s) label=format!("Enable {label}") checked/>
                        <FieldError refusal key=traits.form_name/>
                        {syncable.then(|| view! {
                            <Checkbox name=sync_name(s) label=format!("Sync with backend service (provision numbers in {label})") checked=sync_on(s)/>
                            <FieldError refusal key=format!("{}_sync", traits.form_name)/>
                        })}
                        {(s == Service::TeamsDirectRouting).then(|| direct_routing.take())}
                        {(!apart.is_empty()).then(|| view! {
                            <small class="hint">{format!("{label} cannot share a number with {apart}.")}</small>
                        })}
                    </fieldset>
                }
    }).collect_view();
    view! {
        <Title text=title.clone()/>
        <h1>{title}</h1>
        {action_error(save)}
        <ActionForm action=save attr:class="form">
            {account.as_ref().map(|a| view! { <input type="hidden" name="form[version]" value=a.version.to_string()/> })}
            <fieldset>
                <legend>"Account"</legend>
                <CheckedInput name="form[name]" label="Account name" required=true readonly=editing
                    value=account.as_ref().map(|a| a.name.clone()).or(prefill_name).unwrap_or_default()
                    check=check_account_name
                    hint="Letters, digits, _ and -, up to 100 characters; it cannot be changed later."/>
                <FieldError refusal key="name"/>
                <CheckedInput name="form[teams_tenant_id]" label="Teams tenant ID"
                    value=account.as_ref().and_then(|a| a.teams_tenant_id.clone()).or(prefill_tenant).unwrap_or_default()
                    check=check_tenant
                    hint=format!("The customer's Microsoft Entra tenant (a GUID); needed for {}.", Service::teams_labels())/>
                <FieldError refusal key="teams_tenant_id"/>
                <CheckedInput name="form[correlation_id]" label="Correlation ID (optional)"
                    value=account.as_ref().and_then(|a| a.correlation_id.clone()).unwrap_or_default()
                    check=check_correlation hint="Your own reference for this customer."/>
                <FieldError refusal key="correlation_id"/>
            </fieldset>
            {fieldsets}
            <button type="submit">{if editing { "Save changes" } else { "Create account" }}</button>
        </ActionForm>
    }
}

fn check_account_name(text: &str) -> Option<String> {
    crate::domain::AccountName::parse(text.trim())
        .err()
        .map(|v| format!("Account name {}", v.message))
}

fn check_tenant(text: &str) -> Option<String> {
    crate::domain::TenantId::parse(text.trim())
        .err()
        .map(|v| format!("Teams tenant ID {}", v.message))
}

fn check_token(text: &str) -> Option<String> {
    crate::domain::SubdomainToken::parse(text.trim())
        .err()
        .map(|v| format!("Token {}", v.message))
}

fn check_correlation(text: &str) -> Option<String> {
    let max = crate::domain::Account::CORRELATION_ID_MAX_LEN;
    (text.chars().count() > max).then(|| format!("Correlation ID must be at most {max} characters"))
}
