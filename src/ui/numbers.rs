//! Numbers: the searchable list (fast at a million numbers: keyset pages, capped counts), adding
//! numbers by hand, a number's page for editing, and deletion with confirmation.

use super::access::error_text;
use super::widgets::*;
use crate::domain::{LineType, Service};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// Rows per page of the number list.
#[cfg(feature = "ssr")]
pub const PAGE: i64 = 50;
/// Counts stop here: past it the page says "more than".
#[cfg(feature = "ssr")]
pub const COUNT_CAP: i64 = 10_000;
/// Counts of a list filtered by tag stop here: each tagged number is looked up in the numbers
/// (a tagged number may be in the inventory instead), so counting to 10,000 costs more than the
/// page itself (about 14 ms at a million numbers, where 1,000 costs 1.5).
#[cfg(feature = "ssr")]
pub const TAG_COUNT_CAP: i64 = 1_000;
/// Numbers one "Add numbers" form may carry.
pub const MAX_ADD: usize = 1_000;

/// A number as the lists show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberRow {
    pub number: String,
    pub account: String,
    pub services: Vec<String>,
    pub custom_header: Option<String>,
    pub line_type: String,
    pub country: Option<String>,
    pub sync_status: String,
    /// Its tags (filled in by the lists that show them).
    #[serde(default)]
    pub tags: Vec<String>,
}

#[cfg(feature = "ssr")]
pub(crate) fn number_row(record: crate::provisioning::NumberRecord) -> NumberRow {
    let number = &record.number;
    NumberRow {
        number: number.telephone_number.as_str().to_owned(),
        account: number.account_name.as_str().to_owned(),
        services: Service::ALL
            .into_iter()
            .filter(|s| number.services.is_enabled(*s))
            .map(|s| s.label().to_owned())
            .collect(),
        custom_header: number
            .custom_sip_header
            .as_ref()
            .map(|h| h.as_str().to_owned()),
        line_type: record.line_type.as_str().to_owned(),
        country: record.country.clone(),
        sync_status: record.provisioning_status.as_str().to_owned(),
        tags: Vec::new(),
    }
}

/// `rows` with their tags, read in one go.
#[cfg(feature = "ssr")]
pub(crate) async fn with_tags(
    core: &crate::provisioning::Provisioning,
    actor: &crate::provisioning::Actor,
    mut rows: Vec<NumberRow>,
) -> Result<Vec<NumberRow>, crate::provisioning::ProvisioningError> {
    let keys: Vec<&str> = rows.iter().map(|r| r.number.as_str()).collect();
    let kind = crate::provisioning::labels::LabelledKind::Number;
    let mut labels = core.labels_of(actor, kind, &keys).await?;
    for row in &mut rows {
        if let Some(found) = labels.remove(&row.number) {
            row.tags = found.labels.tags.iter().map(|t| t.to_string()).collect();
        }
    }
    Ok(rows)
}

#[component]
pub fn NumberTable(
    rows: Vec<NumberRow>,
    /// Adds a tick box per row that belongs to the form with this id (bulk actions).
    #[prop(default = None)]
    select_for: Option<&'static str>,
) -> impl IntoView {
    view! {
        <table class="list">
            <caption class="visually-hidden">"Numbers"</caption>
            <thead><tr>
                {select_for.map(|_| view! { <th scope="col"><span class="visually-hidden">"Select"</span></th> })}
                <th scope="col">"Number"</th>
                <th scope="col">"Account"</th>
                <th scope="col">"Services"</th>
                <th scope="col">"Custom header"</th>
                <th scope="col">"Line type"</th>
                <th scope="col">"Sync"</th>
                <th scope="col">"Tags"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| {
                    let href = format!("/numbers/{}", encode(&row.number));
                    let account_href = format!("/accounts/{}", encode(&row.account));
                    let select = select_for.map(|form| {
                        let label = format!("Select {}", row.number);
                        view! { <td><input type="checkbox" name="selected" form=form value=row.number.clone() aria-label=label/></td> }
                    });
                    view! { <tr>
                        {select}
                        <td class="mono"><a href=href>{row.number.clone()}</a></td>
                        <td><a href=account_href>{row.account.clone()}</a></td>
                        <td>{row.services.join(", ")}</td>
                        <td class="mono">{row.custom_header.clone().unwrap_or_default()}</td>
                        <td>{row.line_type.clone()}{row.country.clone().map(|c| format!(" ({c})"))}</td>
                        <td><SyncBadge status=row.sync_status.clone()/></td>
                        <td>{row.tags.iter().map(|t| {
                            let href = format!("/numbers?tag={}", encode(t));
                            view! { <a class="tag" href=href>{t.clone()}</a>" " }
                        }).collect_view()}</td>
                    </tr> }
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// What the number list shows; every field comes from the page's query string.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct NumberQuery {
    /// `+44…` searches by prefix; digits alone search anywhere in the number.
    pub q: Option<String>,
    pub account: Option<String>,
    pub service: Option<String>,
    pub status: Option<String>,
    pub line_type: Option<String>,
    /// `yes` or `no`.
    pub header: Option<String>,
    /// Only numbers carrying this tag.
    pub tag: Option<String>,
    /// `desc` for highest first.
    pub sort: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberPage {
    pub rows: Vec<NumberRow>,
    pub next_after: Option<String>,
    pub total: String,
}

#[cfg(feature = "ssr")]
pub(crate) fn number_filter(
    query: &NumberQuery,
) -> Result<crate::provisioning::NumberFilter, ServerFnError> {
    use crate::domain::{AccountName, ProvisioningStatus};
    let bad = |field: &str, rule: &str| ServerFnError::new(format!("{field}: {rule}"));
    let mut filter = crate::provisioning::NumberFilter::default();
    if let Some(q) = non_empty(query.q.clone()) {
        let compact: String = q
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("Search", "enter digits, optionally starting with +"));
        }
        if compact.starts_with('+') {
            filter.prefix = Some(compact);
        } else {
            filter.contains = Some(compact);
        }
    }
    if let Some(account) = non_empty(query.account.clone()) {
        filter.account =
            Some(AccountName::parse(&account).map_err(|v| bad("Account", &v.message))?);
    }
    match non_empty(query.service.clone()).as_deref() {
        None => {}
        Some("none") => filter.no_service = true,
        Some(service) => {
            filter.service = Some(
                Service::from_wire_name(service).ok_or_else(|| bad("Service", "not a service"))?,
            )
        }
    }
    if let Some(status) = non_empty(query.status.clone()) {
        filter.status = Some(
            ProvisioningStatus::parse(&status)
                .ok_or_else(|| bad("Sync status", "must be pending, synced or failed"))?,
        );
    }
    if let Some(line_type) = non_empty(query.line_type.clone()) {
        filter.line_type =
            Some(LineType::parse(&line_type).map_err(|v| bad("Line type", &v.message))?);
    }
    filter.has_custom_header = match query.header.as_deref() {
        Some("yes") => Some(true),
        Some("no") => Some(false),
        _ => None,
    };
    if let Some(tag) = non_empty(query.tag.clone()) {
        let tag = tag.trim();
        filter.tag = Some(crate::domain::Tag::parse(tag).map_err(|v| bad("Tag", &v.message))?);
    }
    Ok(filter)
}

#[server(endpoint = "numbers/list")]
pub async fn list_numbers(
    #[server(default)] query: NumberQuery,
) -> Result<NumberPage, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::TelephoneNumber;
    use crate::provisioning::NumberOrder;
    let (state, actor) = (state()?, actor()?);
    let filter = number_filter(&query)?;
    let order = if query.sort.as_deref() == Some("desc") {
        NumberOrder::Descending
    } else {
        NumberOrder::Ascending
    };
    let after = non_empty(query.after).and_then(|a| TelephoneNumber::parse(&a).ok());
    let mut records = state
        .core
        .list_numbers(&actor, &filter, order, after.as_ref(), PAGE + 1)
        .await
        .map_err(refused)?;
    let more = keep_page(&mut records, PAGE);
    // Counting a search anywhere in the number reads every number (no index helps), so the
    // page says how many it shows and whether there are more, not the total.
    let total = if filter.contains.is_some() {
        if more {
            "many (not counted for a search anywhere in the number)".to_owned()
        } else {
            records.len().to_string()
        }
    } else {
        let cap = if filter.tag.is_some() {
            TAG_COUNT_CAP
        } else {
            COUNT_CAP
        };
        let count = state
            .core
            .count_numbers_capped(&actor, &filter, cap)
            .await
            .map_err(refused)?;
        count_text(count, cap)
    };
    let rows: Vec<NumberRow> = records.into_iter().map(number_row).collect();
    let rows = with_tags(&state.core, &actor, rows)
        .await
        .map_err(refused)?;
    Ok(NumberPage {
        next_after: more
            .then(|| rows.last().map(|r| r.number.clone()))
            .flatten(),
        rows,
        total,
    })
}

/// Operator Connect or Teams Phone Mobile settings of a number, as the form shows them.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct TeamsSettings {
    /// The service these are the settings of (its form name), when the number has one on.
    pub of: Option<String>,
    pub assignment_status: Option<String>,
    pub usage: Option<String>,
    pub capabilities: String,
    /// Comma-separated, as the form edits them.
    pub additional_usages: String,
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    pub allow_tenant_address_update: bool,
    pub displayed_country_code: Option<String>,
}

/// The Teams settings an account's tenant offers: its capability plans' usages and
/// capabilities, and its civic addresses.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
pub struct TeamsChoices {
    /// Usages the plans offer (none when the plans could not be read).
    pub usages: Vec<String>,
    /// Capabilities the plans let a number choose.
    pub capabilities: Vec<String>,
    /// Why the plans are not offered, when they are not.
    pub plans_note: Option<String>,
    pub addresses: Vec<super::civic::CivicView>,
}

/// One number with everything its page shows and its form edits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberDetail {
    pub row: NumberRow,
    pub enabled: Vec<Service>,
    pub teams: Option<TeamsSettings>,
    pub sync_errors: Vec<String>,
    pub version: i64,
    pub updated_at: String,
}

/// What the number forms need besides the number: the header's name and account names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NumberFormData {
    pub number: Option<NumberDetail>,
    /// What the account's Teams tenant offers, when the account is known and has one.
    pub choices: Option<TeamsChoices>,
    /// Why the portal may not change this number: a service of it is live.
    pub live: Option<String>,
    pub header_name: Option<String>,
    pub accounts: Vec<String>,
}

#[server(endpoint = "numbers/form")]
pub async fn load_number_form(
    number: Option<String>,
    account: Option<String>,
) -> Result<NumberFormData, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::TelephoneNumber;
    use crate::provisioning::AccountFilter;
    let (state, actor) = (state()?, actor()?);
    let number = match non_empty(number) {
        None => None,
        Some(text) => {
            let parsed = TelephoneNumber::parse(&text)
                .map_err(|v| ServerFnError::new(format!("Number {text}: {}", v.message)))?;
            let record = state
                .core
                .get_number(&actor, None, &parsed)
                .await
                .map_err(refused)?;
            let services = &record.number.services;
            // The form edits one Teams block: the first Teams service that is on. The save names
            // it, and the core keeps the other's settings.
            let teams = Service::teams()
                .find_map(|service| {
                    services
                        .teams(service)
                        .filter(|b| b.enabled)
                        .map(|b| (service, b))
                })
                .map(|(service, t)| {
                    let config = t.configuration.as_ref();
                    TeamsSettings {
                        of: Some(service.traits().form_name.to_owned()),
                        assignment_status: t.assignment_status.map(|a| match a {
                            crate::domain::AssignmentStatus::Assigned => "assigned".to_owned(),
                            crate::domain::AssignmentStatus::Unassigned => "unassigned".to_owned(),
                        }),
                        usage: config.map(|c| c.usage.as_str().to_owned()),
                        capabilities: config
                            .map(|c| {
                                c.choosable_capabilities
                                    .iter()
                                    .map(|x| x.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default(),
                        additional_usages: config
                            .map(|c| {
                                c.additional_usages
                                    .iter()
                                    .map(|u| u.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            })
                            .unwrap_or_default(),
                        civic_address_id: config.and_then(|c| c.civic_address_id.clone()),
                        location_id: config.and_then(|c| c.location_id.clone()),
                        allow_tenant_address_update: config
                            .is_some_and(|c| c.allow_tenant_address_update),
                        displayed_country_code: config
                            .and_then(|c| c.displayed_country_code.clone()),
                    }
                });
            Some(NumberDetail {
                enabled: Service::ALL
                    .into_iter()
                    .filter(|s| services.is_enabled(*s))
                    .collect(),
                teams,
                sync_errors: record
                    .provisioning_errors
                    .iter()
                    .map(|e| format!("{}: {}", e.code, e.message))
                    .collect(),
                version: record.version,
                updated_at: record.updated_at.clone(),
                row: number_row(record),
            })
        }
    };
    let settings = state.core.settings(&actor).await.map_err(refused)?;
    let chosen_account = number
        .as_ref()
        .map(|n| n.row.account.clone())
        .or_else(|| non_empty(account))
        .and_then(|a| crate::domain::AccountName::parse(&a).ok());
    let choices = match chosen_account {
        Some(account) => teams_choices(&state, &actor, &account).await,
        None => None,
    };
    let accounts = state
        .core
        .list_accounts(&actor, &AccountFilter::default(), None, 500)
        .await
        .map_err(refused)?
        .into_iter()
        .map(|a| a.account.name.as_str().to_owned())
        .collect();
    // The core refuses a portal change to a live service's number; the page says so first.
    let live = number.as_ref().and_then(|n| {
        let service = settings.launched.iter().find(|s| n.enabled.contains(s))?;
        Some(format!(
            "{} is live: this number is read-only here and changes through the Provisioning API, as the programme requires once a service is launched.",
            service.label()
        ))
    });
    Ok(NumberFormData {
        number,
        choices,
        live,
        header_name: settings.sip_header_name.map(|h| h.as_str().to_owned()),
        accounts,
    })
}

/// What `account`'s Teams tenant offers the form; none for an account without a tenant (it
/// can have no Teams service). Plans or addresses that cannot be read leave their fields typed.
#[cfg(feature = "ssr")]
async fn teams_choices(
    state: &crate::state::AppState,
    actor: &crate::provisioning::Actor,
    account: &crate::domain::AccountName,
) -> Option<TeamsChoices> {
    let tenant = state.core.teams_tenant(actor, account).await.ok()?;
    let mut choices = TeamsChoices::default();
    match state.capability_plans_of(tenant.as_str()).await {
        Ok(plans) => {
            for plan in &plans {
                if !choices.usages.contains(&plan.usage) {
                    choices.usages.push(plan.usage.clone());
                }
                for c in &plan.choosable_capabilities {
                    if !choices.capabilities.contains(c) {
                        choices.capabilities.push(c.clone());
                    }
                }
            }
        }
        Err(error) => {
            choices.plans_note = Some(format!(
                "The account's capability plans could not be read from Operator Connect ({error}): type the capabilities."
            ))
        }
    }
    if let Ok(found) = state
        .core
        .list_civic_addresses(actor, account, None, super::civic::SHOWN_ADDRESSES)
        .await
    {
        choices.addresses = found.into_iter().map(super::civic::civic_view).collect();
    }
    Some(choices)
}

/// The number form as posted (adding several or editing one).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NumberForm {
    pub account: String,
    /// Adding: the numbers, separated by new lines, commas or spaces. Editing: the one number.
    pub numbers: String,
    /// Editing: the version shown.
    pub version: Option<i64>,
    pub custom_header: Option<String>,
    pub assignment_status: Option<String>,
    pub usage: Option<String>,
    pub capabilities: Option<String>,
    pub additional_usages: Option<String>,
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    pub allow_tenant_address_update: Option<String>,
    pub displayed_country_code: Option<String>,
    /// Editing: the Teams service (its form name) whose settings the form showed, if any.
    pub teams_settings_of: Option<String>,
    /// The service boxes ticked, each under the service table's `form_name`
    /// (`form[zoom]=on`): whatever else the form posts.
    #[serde(flatten)]
    pub services: std::collections::BTreeMap<String, String>,
}

/// The form key of the capability box shown at `position`: `cap007_InboundCalling`. The
/// position keeps the order a stored number's capabilities had, so an unchanged save is
/// unchanged.
pub fn capability_key(position: usize, name: &str) -> String {
    format!("cap{position:03}_{name}")
}

/// The capability a ticked box's key names, if the key is one.
#[cfg(feature = "ssr")]
pub fn ticked_capability(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("cap")?;
    let (position, name) = rest.split_once('_')?;
    (position.len() == 3 && position.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
        .then_some(name)
}

impl NumberForm {
    /// Whether `service`'s box is ticked.
    pub fn ticks(&self, service: Service) -> bool {
        self.services.contains_key(service.traits().form_name)
    }
}

/// The numbers the form describes, or every problem with it: the portal's translation, as the
/// API's is `NumberIn::into_domain` and a CSV row's `Heading::number`.
#[cfg(feature = "ssr")]
pub fn numbers_from_form(form: &NumberForm) -> Result<Vec<crate::domain::Number>, ServerFnError> {
    use super::access::keyed;
    use crate::domain::number::{Capability, Usage};
    use crate::domain::{
        AccountName, AssignmentStatus, CustomSipHeader, Number, NumberService, NumberServices,
        TeamsNumberConfig, TelephoneNumber,
    };
    /// A comma- or space-separated list, each item parsed; an item that does not parse is a
    /// problem of the form field `key`, called `label`.
    fn parse_list<T>(
        raw: &Option<String>,
        parse: impl Fn(&str) -> Result<T, crate::domain::Violation>,
        (key, label): (&str, &str),
        problems: &mut Vec<String>,
    ) -> Vec<T> {
        raw.as_deref()
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|item| !item.is_empty())
            .filter_map(|item| {
                parse(item)
                    .map_err(|v| {
                        problems.push(keyed(key, format!("{label}: {item} {}", v.message)))
                    })
                    .ok()
            })
            .collect()
    }
    let mut problems: Vec<String> = Vec::new();
    let account = match AccountName::parse(form.account.trim()) {
        Ok(a) => Some(a),
        Err(v) => {
            problems.push(keyed("account", format!("Account: {}", v.message)));
            None
        }
    };
    let texts: Vec<&str> = form
        .numbers
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
        .collect();
    if texts.is_empty() {
        problems.push(keyed(
            "numbers",
            "Telephone numbers: enter at least one number in E.164 form, e.g. +442079460000",
        ));
    }
    if texts.len() > MAX_ADD {
        problems.push(keyed(
            "numbers",
            format!(
                "Telephone numbers: at most {MAX_ADD} at once here ({} given); upload a CSV for more",
                texts.len()
            ),
        ));
    }
    let mut numbers = Vec::new();
    for text in &texts {
        match TelephoneNumber::parse(text) {
            Ok(n) if numbers.contains(&n) => problems.push(keyed(
                "numbers",
                format!("Telephone numbers: {text} is listed twice"),
            )),
            Ok(n) => numbers.push(n),
            Err(v) => problems.push(keyed(
                "numbers",
                format!("Telephone numbers: {text} {}", v.message),
            )),
        }
    }
    let header = match non_empty(form.custom_header.clone()) {
        None => None,
        Some(text) => match CustomSipHeader::parse(&text) {
            Ok(h) => Some(h),
            Err(v) => {
                problems.push(keyed(
                    "custom_header",
                    format!("Custom SIP header value: {}", v.message),
                ));
                None
            }
        },
    };
    let ticked = |v: &Option<String>| v.is_some();
    let teams = if Service::teams().any(|s| form.ticks(s)) {
        let assignment_status = match non_empty(form.assignment_status.clone()) {
            None => None,
            Some(text) => AssignmentStatus::parse(&text)
                .map_err(|v| {
                    problems.push(keyed(
                        "assignment_status",
                        format!("Assignment status: {}", v.message),
                    ))
                })
                .ok(),
        };
        let configuration = match non_empty(form.usage.clone()) {
            None => None,
            Some(text) => {
                let usage = Usage::parse(&text)
                    .map_err(|v| problems.push(keyed("usage", format!("Usage: {}", v.message))))
                    .ok();
                // Ticked boxes first, in the order the form showed them (their keys carry it),
                // then any typed; each once.
                let mut capabilities: Vec<Capability> = Vec::new();
                for name in form.services.keys().filter_map(|k| ticked_capability(k)) {
                    match Capability::parse(name) {
                        Ok(c) if !capabilities.contains(&c) => capabilities.push(c),
                        Ok(_) => {}
                        // The box's name is not echoed: a hand-made post could put anything there.
                        Err(v) => problems.push(keyed(
                            "capabilities",
                            format!("Capabilities: a ticked box {}", v.message),
                        )),
                    }
                }
                for c in parse_list(
                    &form.capabilities,
                    Capability::parse,
                    ("capabilities", "Capabilities"),
                    &mut problems,
                ) {
                    if !capabilities.contains(&c) {
                        capabilities.push(c);
                    }
                }
                let additional_usages: Vec<Usage> = parse_list(
                    &form.additional_usages,
                    Usage::parse,
                    ("additional_usages", "Additional usages"),
                    &mut problems,
                );
                usage.map(|usage| TeamsNumberConfig {
                    usage,
                    choosable_capabilities: capabilities,
                    additional_usages,
                    civic_address_id: non_empty(form.civic_address_id.clone()),
                    location_id: non_empty(form.location_id.clone()),
                    allow_tenant_address_update: ticked(&form.allow_tenant_address_update),
                    displayed_country_code: non_empty(form.displayed_country_code.clone()),
                })
            }
        };
        Some(NumberService {
            enabled: true,
            assignment_status,
            configuration,
        })
    } else {
        None
    };
    if !problems.is_empty() {
        return Err(ServerFnError::new(problems.join("\n")));
    }
    let account = account.expect("an account that did not parse is a problem above");
    Ok(numbers
        .into_iter()
        .map(|telephone_number| Number {
            telephone_number,
            account_name: account.clone(),
            services: Service::ALL.into_iter().fold(
                NumberServices::default(),
                |mut services, service| {
                    match (form.ticks(service), service.traits().teams_tenant) {
                        (true, true) => services.set_teams(service, teams.clone()),
                        (ticked, _) => services.set_enabled(service, ticked),
                    }
                    services
                },
            ),
            custom_sip_header: header.clone(),
        })
        .collect())
}

/// Adds new numbers to an account; numbers that already exist are refused, not replaced.
#[server(endpoint = "numbers/add")]
pub async fn add_numbers(form: NumberForm) -> Result<(), ServerFnError> {
    use super::access::server::{actor, state};
    let (state, actor) = (state()?, actor()?);
    let numbers = numbers_from_form(&form)?;
    let account = numbers[0].account_name.clone();
    let count = numbers.len();
    state
        .core
        .create_numbers(&actor, &account, numbers)
        .await
        .map_err(|e| refused_batch(e, &form))?;
    leptos_axum::redirect(&format!(
        "/numbers?account={}&added={count}",
        encode(account.as_str())
    ));
    Ok(())
}

/// The number form's field a violation concerns, from its path in ACG's shape (the form is a
/// translation of that shape, so each path has its field); `None` for what no field holds.
#[cfg(feature = "ssr")]
fn number_form_key(violation: &crate::domain::Violation) -> Option<String> {
    let key = match violation.field.as_str() {
        "telephoneNumber" => "numbers",
        "accountName" => "account",
        "customSipHeader" | "configuration.customSipHeader" => "custom_header",
        field => {
            let rest = field.strip_prefix("serviceDetails.")?;
            let (wire, rest) = rest.split_once('.').unwrap_or((rest, ""));
            let service = Service::from_wire_name(wire)?;
            let setting = rest.strip_prefix("configuration.").unwrap_or(rest);
            match setting.split(['[', '.']).next().unwrap_or_default() {
                "" | "enabled" | "configuration" => service.traits().form_name,
                "assignmentStatus" => "assignment_status",
                "usage" => "usage",
                "choosableCapabilities" => "capabilities",
                "additionalUsages" => "additional_usages",
                "civicAddressId" => "civic_address_id",
                "locationId" => "location_id",
                "allowTenantAddressUpdate" => "allow_tenant_address_update",
                "displayedCountryCode" => "displayed_country_code",
                _ => return None,
            }
        }
    };
    Some(key.to_owned())
}

/// A batch refusal names the numbers by their text, not their index in the batch.
#[cfg(feature = "ssr")]
fn refused_batch(
    error: crate::provisioning::ProvisioningError,
    form: &NumberForm,
) -> ServerFnError {
    let texts: Vec<&str> = form
        .numbers
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
        .collect();
    super::access::server::refused_naming(
        error,
        |item| texts.get(item).map(|t| (*t).to_owned()),
        number_form_key,
    )
}

/// Changes one number (its version must still be the one shown).
#[server(endpoint = "numbers/save")]
pub async fn save_number(form: NumberForm) -> Result<(), ServerFnError> {
    use super::access::server::{actor, state};
    use crate::provisioning::{Precondition, ProvisioningError};
    let (state, actor) = (state()?, actor()?);
    let mut numbers = numbers_from_form(&form)?;
    if numbers.len() != 1 {
        return Err(ServerFnError::new(
            "Telephone number: exactly one number is edited here",
        ));
    }
    let number = numbers.remove(0);
    let text = number.telephone_number.as_str().to_owned();
    let precondition = form
        .version
        .map(Precondition::if_match)
        .unwrap_or(Precondition::IF_EXISTS);
    // What the form did not show (a Teams service switched off, or the second one on), the
    // core keeps.
    let shown = non_empty(form.teams_settings_of.clone()).and_then(|name| {
        Service::ALL
            .into_iter()
            .find(|s| s.traits().form_name == name)
    });
    match state.core.edit_number(&actor, number, shown, precondition).await {
        Ok(_) => {
            leptos_axum::redirect(&format!("/numbers/{}?saved=1", encode(&text)));
            Ok(())
        }
        Err(ProvisioningError::PreconditionFailed { .. }) => Err(ServerFnError::new(format!(
            "Someone else changed or deleted {text} while you edited it. Open it again, then redo your change."
        ))),
        Err(error) => Err(super::access::server::refused_naming(error, |_| None, number_form_key)),
    }
}

/// Deletes one number after the confirmation is ticked.
#[server(endpoint = "numbers/delete")]
pub async fn delete_number(
    number: String,
    account: String,
    confirm: Option<String>,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::provisioning::Precondition;
    let (state, actor) = (state()?, actor()?);
    if confirm.is_none() {
        return Err(ServerFnError::new(
            "Tick the confirmation to delete the number.",
        ));
    }
    let (parsed, account) = number_and_account(&number, &account)?;
    state
        .core
        .delete_number(&actor, &account, &parsed, Precondition::NONE)
        .await
        .map_err(refused)?;
    leptos_axum::redirect(&format!("/numbers?deleted={}", encode(&number)));
    Ok(())
}

/// A form's number and account, parsed, or the rule the first broke.
#[cfg(feature = "ssr")]
fn number_and_account(
    number: &str,
    account: &str,
) -> Result<(crate::domain::TelephoneNumber, crate::domain::AccountName), ServerFnError> {
    let number = crate::domain::TelephoneNumber::parse(number)
        .map_err(|v| ServerFnError::new(format!("Number: {}", v.message)))?;
    let account = crate::domain::AccountName::parse(account)
        .map_err(|v| ServerFnError::new(format!("Account: {}", v.message)))?;
    Ok((number, account))
}

/// Sends a number that did not sync (failed, or pending with nothing on the way) to Operator
/// Connect again.
#[server(endpoint = "numbers/retry-sync")]
pub async fn retry_number_sync(number: String, account: String) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    let (state, actor) = (state()?, actor()?);
    let (parsed, account) = number_and_account(&number, &account)?;
    state
        .core
        .retry_sync(&actor, &account, Some(std::slice::from_ref(&parsed)))
        .await
        .map_err(refused)?;
    leptos_axum::redirect(&format!("/numbers/{}?retried=1", encode(&number)));
    Ok(())
}

#[component]
pub fn NumbersPage() -> impl IntoView {
    let query = use_query_map();
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    let current = move || {
        let q = query.get();
        NumberQuery {
            q: q.get("q"),
            account: q.get("account"),
            service: q.get("service"),
            status: q.get("status"),
            line_type: q.get("line_type"),
            header: q.get("header"),
            tag: q.get("tag"),
            sort: q.get("sort"),
            after: q.get("after"),
        }
    };
    let page = Resource::new(current, list_numbers);
    let initial = current();
    let add_href = match &initial.account {
        Some(a) => format!("/numbers/new?account={}", encode(a)),
        None => "/numbers/new".to_owned(),
    };
    let selected = |value: &Option<String>, option: &str| value.as_deref() == Some(option);
    // The list's filter as a query string: for the export link and for bulk actions.
    let filter_query = query_string(&[
        ("q", &initial.q),
        ("account", &initial.account),
        ("service", &initial.service),
        ("status", &initial.status),
        ("line_type", &initial.line_type),
        ("header", &initial.header),
        ("tag", &initial.tag),
    ]);
    let export_href = with_query("/numbers/export.csv", &filter_query);
    view! {
        <Title text="Numbers"/>
        <div class="page-head">
            <h1>"Numbers"</h1>
            <Suspense fallback=|| ()>
                {move || {
                    let add_href = add_href.clone();
                    Suspend::new(async move {
                        let can_change = me.await.ok().flatten().is_some_and(|m| m.abilities.change);
                        can_change.then(|| view! {
                            <a class="button" href=add_href>"Add numbers"</a>
                            " "
                            <a class="button secondary" href="/imports">"Import CSV"</a>
                        })
                    })
                }}
            </Suspense>
        </div>
        {move || {
            let q = query.get();
            view! {
                // Only what the server's own redirect writes: a made-up link cannot put words
                // of its own on the page.
                {q.get("added").and_then(|n| n.parse::<u16>().ok()).map(|n| view! { <Notice>{format!("Added {}.", counted(i64::from(n), "number", "numbers"))}</Notice> })}
                {q.get("deleted").filter(|n| crate::domain::TelephoneNumber::parse(n).is_ok()).map(|n| view! { <Notice>{format!("Deleted {n}.")}</Notice> })}
                {q.get("bulk_error").map(|message| view! { <ErrorNotice message/> })}
            }
        }}
        <form class="filters" method="get" action="/numbers" role="search">
            <div class="field">
                <label for="q">"Number"</label>
                <input id="q" name="q" inputmode="tel" value=initial.q.clone().unwrap_or_default() aria-describedby="q-hint"/>
                <small id="q-hint" class="hint">"+44 20 finds numbers starting with it; digits alone find them anywhere."</small>
            </div>
            <div class="field">
                <label for="account">"Account"</label>
                <input id="account" name="account" value=initial.account.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="service">"Service"</label>
                <select id="service" name="service">
                    <option value="">"Any"</option>
                    {Service::ALL.into_iter().map(|s| view! {
                        <option value=s.wire_name() selected=selected(&initial.service, s.wire_name())>{s.label()}</option>
                    }).collect_view()}
                    <option value="none" selected=selected(&initial.service, "none")>"None (no service enabled)"</option>
                </select>
            </div>
            <div class="field">
                <label for="status">"Sync status"</label>
                <select id="status" name="status">
                    <option value="">"Any"</option>
                    {["pending", "synced", "failed"].into_iter().map(|s| view! {
                        <option value=s selected=selected(&initial.status, s)>{s}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="line_type">"Line type"</label>
                <select id="line_type" name="line_type">
                    <option value="">"Any"</option>
                    {LineType::ALL.into_iter().map(|t| view! {
                        <option value=t.as_str() selected=selected(&initial.line_type, t.as_str())>{t.as_str()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="header">"Custom header"</label>
                <select id="header" name="header">
                    <option value="">"Either"</option>
                    <option value="yes" selected=selected(&initial.header, "yes")>"Has one"</option>
                    <option value="no" selected=selected(&initial.header, "no")>"Has none"</option>
                </select>
            </div>
            <div class="field">
                <label for="tag">"Tag"</label>
                <input id="tag" name="tag" value=initial.tag.clone().unwrap_or_default()/>
            </div>
            <div class="field">
                <label for="sort">"Sort"</label>
                <select id="sort" name="sort">
                    <option value="asc">"Lowest first"</option>
                    <option value="desc" selected=selected(&initial.sort, "desc")>"Highest first"</option>
                </select>
            </div>
            <button type="submit">"Search"</button>
        </form>
        <Suspense fallback=|| view! { <p>"Loading numbers…"</p> }>
            {move || {
                let (filter_query, export_href) = (filter_query.clone(), export_href.clone());
                Suspend::new(async move {
                match page.await {
                    Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                    Ok(page) if page.rows.is_empty() => view! {
                        <div class="empty">
                            <p>"No numbers match."</p>
                            <p>"Widen the search, or add numbers to an account with " <a href="/numbers/new">"Add numbers"</a>"."</p>
                        </div>
                    }.into_any(),
                    Ok(page) => {
                        let shown = page.rows.len();
                        let abilities = me.await.ok().flatten().map(|m| m.abilities).unwrap_or_default();
                        let bulk = (abilities.change || abilities.remove).then(|| view! {
                            <BulkActions filter_query=filter_query.clone() total=page.total.clone() abilities/>
                        });
                        let select_for = bulk.is_some().then_some("bulk-form");
                        view! {
                            <p><a class="button secondary" href=export_href.clone() download="numbers.csv">"Export these numbers (CSV)"</a></p>
                            <NumberTable rows=page.rows select_for/>
                            <Pager path="/numbers" next_after=page.next_after shown total=page.total/>
                            {bulk}
                        }.into_any()
                    }
                }
            })}}
        </Suspense>
    }
}

/// The bulk action panel under the number list: what to do, to which numbers (the ticked
/// ones, or every number the search matches). Runs as a job; its page shows the result.
#[component]
fn BulkActions(
    filter_query: String,
    total: String,
    abilities: crate::domain::portal::Abilities,
) -> impl IntoView {
    view! {
        <form id="bulk-form" class="card bulk" method="post" action="/numbers/bulk">
            <h2>"Change many numbers"</h2>
            <input type="hidden" name="filter" value=filter_query/>
            <fieldset>
                <legend>"Which numbers"</legend>
                <label class="check"><input type="radio" name="scope" value="selected" checked/>" The numbers ticked above"</label>
                <label class="check"><input type="radio" name="scope" value="matching"/>{format!(" Every number the search matches ({total})")}</label>
            </fieldset>
            <div class="field">
                <label for="bulk-action">"What to do"</label>
                <select id="bulk-action" name="action" required>
                    <option value="">"Choose…"</option>
                    {abilities.change.then(|| view! {
                        <option value="enable">"Enable a service"</option>
                        <option value="disable">"Disable a service"</option>
                        <option value="setHeader">"Set the custom header value"</option>
                        <option value="clearHeader">"Clear the custom header value"</option>
                        <option value="tag">"Add tags"</option>
                        <option value="untag">"Remove tags"</option>
                    })}
                    {(abilities.change && abilities.remove).then(|| view! { <option value="move">"Move to another account"</option> })}
                    {abilities.remove.then(|| view! { <option value="delete">"Delete"</option> })}
                </select>
            </div>
            <div class="field">
                <label for="bulk-service">"Service (to enable or disable)"</label>
                <select id="bulk-service" name="service">
                    <option value="">"—"</option>
                    {Service::ALL.into_iter().map(|s| view! { <option value=s.wire_name()>{s.label()}</option> }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="bulk-header">"Custom header value (to set)"</label>
                <input id="bulk-header" name="header"/>
            </div>
            <div class="field">
                <label for="bulk-tags">"Tags (to add or remove), separated by ; or ,"</label>
                <input id="bulk-tags" name="tags"/>
            </div>
            <div class="field">
                <label for="bulk-account">"Account (to move to)"</label>
                <input id="bulk-account" name="target_account"/>
            </div>
            {abilities.remove.then(|| view! {
                <label class="check"><input type="checkbox" name="confirm" value="yes"/>" Yes, delete them (needed to delete)"</label>
            })}
            <p class="hint">"Every rule still applies: numbers a rule refuses are left as they were and listed on the result page."</p>
            <button type="submit">"Apply to the numbers"</button>
        </form>
    }
}

/// `/numbers/new` (several numbers) and `/numbers/:number` (one number, editable).
#[component]
pub fn NumberFormPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let me = use_context::<super::MeResource>().expect("the app provides the signed-in person");
    let add = ServerAction::<AddNumbers>::new();
    let save = ServerAction::<SaveNumber>::new();
    let delete = ServerAction::<DeleteNumber>::new();
    let retry = ServerAction::<RetryNumberSync>::new();
    let locate = ServerAction::<super::emergency::SaveEmergency>::new();
    // A save, a retry or an emergency location change returns to this same page: their
    // versions make it load the number again (and the form its new version).
    let data = Resource::new(
        move || {
            (
                params.get().get("number"),
                query.get().get("account"),
                save.version().get(),
                retry.version().get(),
                locate.version().get(),
            )
        },
        |(number, account, _, _, _)| load_number_form(number, account),
    );
    view! {
        <Suspense fallback=|| view! { <p>"Loading…"</p> }>
            {move || {
                let q = query.get();
                Suspend::new(async move {
                let abilities = me.await.ok().flatten().map(|m| m.abilities).unwrap_or_default();
                match data.await {
                    Err(error) => view! { <Title text="Number"/><h1>"Number"</h1><LoadError message=error_text(&error)/> }.into_any(),
                    Ok(data) => {
                        view! { <NumberFormBody data abilities prefill_account=q.get("account") saved=q.get("saved").is_some() retried=q.get("retried").is_some() labelled=q.get("labelled").is_some() located=q.get("located").is_some() add save delete retry locate/> }.into_any()
                    }
                }
            })}}
        </Suspense>
    }
}

#[component]
fn NumberFormBody(
    data: NumberFormData,
    abilities: crate::domain::portal::Abilities,
    prefill_account: Option<String>,
    saved: bool,
    retried: bool,
    /// Reached from a save of the tags and note.
    labelled: bool,
    /// Reached from a change of the emergency location.
    located: bool,
    add: ServerAction<AddNumbers>,
    save: ServerAction<SaveNumber>,
    delete: ServerAction<DeleteNumber>,
    retry: ServerAction<RetryNumberSync>,
    locate: ServerAction<super::emergency::SaveEmergency>,
) -> impl IntoView {
    let detail = data.number.clone();
    let editing = detail.is_some();
    let has = |s: Service| detail.as_ref().is_some_and(|d| d.enabled.contains(&s));
    // Per service (in `Service::ALL` order), whether its box is ticked; the header field is
    // unavailable while a service the service table gives no custom header is ticked.
    let ticked = Service::ALL.map(|s| RwSignal::new(has(s)));
    let header_blocked = move || {
        Service::ALL
            .iter()
            .zip(ticked)
            .any(|(s, on)| !s.traits().custom_header && on.get())
    };
    let headerless = Service::ALL
        .iter()
        .filter(|s| !s.traits().custom_header)
        .map(|s| s.label())
        .collect::<Vec<_>>()
        .join(" or ");
    let header_rule_blocked =
        format!("Unavailable: numbers with {headerless} cannot carry a custom header.");
    let header_rule = format!(
        "Up to 100 characters, sent to the gateway on calls to and from this number. Not available with {headerless}."
    );
    let header_problem = RwSignal::new(None::<String>);
    // The form's last refusal: each line about a field is shown beside it too (JavaScript on or
    // off: without it the refusal comes back with the page).
    let refusal = if editing {
        refusal_of(save)
    } else {
        refusal_of(add)
    };
    let beside = move |key: &'static str| view! { <FieldError refusal key/> };
    let teams = detail
        .as_ref()
        .and_then(|d| d.teams.clone())
        .unwrap_or_default();
    let header_name = data.header_name.clone();
    let header_label = match &header_name {
        Some(name) => format!("Custom SIP header value (sent in the {name} header)"),
        None => "Custom SIP header value (set the header's name in Settings first)".to_owned(),
    };
    let title = match &detail {
        Some(d) => format!("Number {}", d.row.number),
        None => "Add numbers".to_owned(),
    };
    let live = data.live.clone();
    // Tags and notes stay the operator's own, live or not.
    let may_label = abilities.change;
    // A live service's number is read-only whatever the person's role.
    let abilities = crate::domain::portal::Abilities {
        change: abilities.change && live.is_none(),
        remove: abilities.remove && live.is_none(),
        ..abilities
    };
    let read_only = !abilities.change && live.is_none();
    // A number that is not synced can be sent to Operator Connect again by whoever may change it.
    let retry_target = detail
        .as_ref()
        .filter(|d| abilities.change && d.row.sync_status != "synced")
        .map(|d| (d.row.number.clone(), d.row.account.clone()));
    // The Teams settings' choices: the account's plans and addresses when it is known.
    let choices = data.choices.clone().unwrap_or_default();
    let plans_note = choices.plans_note.clone();
    let mut usages = choices.usages.clone();
    if usages.is_empty() {
        usages = crate::domain::number::Usage::ALL
            .iter()
            .map(|u| u.as_str().to_owned())
            .collect();
    }
    if let Some(current) = teams.usage.clone().filter(|u| !usages.contains(u)) {
        usages.push(current);
    }
    let stored_capabilities: Vec<String> = teams
        .capabilities
        .split([',', ' '])
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect();
    // A stored number's capabilities first, in its order, so an unchanged save is unchanged.
    let offered_capabilities: Vec<String> = if choices.capabilities.is_empty() {
        Vec::new()
    } else {
        let mut offered: Vec<String> = stored_capabilities
            .iter()
            .filter(|c| choices.capabilities.contains(c))
            .cloned()
            .collect();
        for c in &choices.capabilities {
            if !offered.contains(c) {
                offered.push(c.clone());
            }
        }
        offered
    };
    let other_capabilities = stored_capabilities
        .iter()
        .filter(|c| !offered_capabilities.contains(c))
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    let addresses = choices.addresses.clone();
    // With the bundle loaded, the Teams settings show only while a Teams service is ticked;
    // without it they are always there, under their services' names.
    let scripted = RwSignal::new(false);
    Effect::new(move |_| scripted.set(true));
    let teams_ticked = move || {
        Service::ALL
            .iter()
            .zip(ticked)
            .any(|(s, on)| s.traits().teams_tenant && on.get())
    };
    let form_body = view! {
        {detail.as_ref().map(|d| view! { <input type="hidden" name="form[version]" value=d.version.to_string()/> })}
        {teams.of.clone().map(|of| view! { <input type="hidden" name="form[teams_settings_of]" value=of/> })}
        <fieldset disabled=read_only>
            <legend>{if editing { "Number" } else { "Numbers" }}</legend>
            <div class="field">
                <label for="field-account">"Account"</label>
                <input id="field-account" name="form[account]" aria-describedby="error-account" list="account-names" required=true readonly=editing
                    value=detail.as_ref().map(|d| d.row.account.clone()).or(prefill_account).unwrap_or_default()/>
                <datalist id="account-names">{data.accounts.iter().map(|a| view! { <option value=a.clone()></option> }).collect_view()}</datalist>
                {beside("account")}
            </div>
            {if let Some(d) = &detail {
                view! { <input type="hidden" name="form[numbers]" value=d.row.number.clone()/> {beside("numbers")} }.into_any()
            } else {
                let problem = RwSignal::new(None::<String>);
                view! {
                    <div class="field">
                        <label for="field-numbers">"Telephone numbers"</label>
                        <textarea id="field-numbers" name="form[numbers]" rows="6" required=true aria-describedby="numbers-hint numbers-error error-numbers"
                            on:input=move |ev| problem.set(check_number_list(&event_target_value(&ev)))></textarea>
                        <small id="numbers-hint" class="hint">{format!("In E.164 form (+ and country code), one per line or separated by commas; up to {MAX_ADD}. Paste from a spreadsheet works.")}</small>
                        <small id="numbers-error" class="field-error" aria-live="polite">{move || problem.get()}</small>
                        {beside("numbers")}
                    </div>
                }.into_any()
            }}
        </fieldset>
        <fieldset disabled=read_only>
            <legend>"Services"</legend>
            {Service::ALL.into_iter().zip(ticked).map(|(service, on)| view! {
                <label class="check">
                    <input type="checkbox" name=format!("form[{}]", service.traits().form_name) checked=has(service)
                        on:change=move |ev| on.set(event_target_checked(&ev))/>
                    " " {service.label()}
                </label>
                {beside(service.traits().form_name)}
            }).collect_view()}
        </fieldset>
        <fieldset disabled=read_only>
            <legend>"Custom SIP header"</legend>
            <div class="field">
                <label for="field-header">{header_label}</label>
                <input id="field-header" name="form[custom_header]" aria-describedby="header-rule header-error error-custom_header"
                    value=detail.as_ref().and_then(|d| d.row.custom_header.clone()).unwrap_or_default()
                    disabled=header_blocked
                    aria-invalid=move || header_problem.get().is_some().then_some("true")
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        header_problem.set(
                            crate::domain::CustomSipHeader::parse(text.trim())
                                .err()
                                .filter(|_| !text.trim().is_empty())
                                .map(|v| format!("Custom SIP header value {}", v.message)),
                        );
                    }/>
                <small id="header-error" class="field-error" aria-live="polite">{move || header_problem.get()}</small>
                {beside("custom_header")}
                <small id="header-rule" class="hint">
                    {move || if header_blocked() { header_rule_blocked.clone() } else { header_rule.clone() }}
                </small>
            </div>
        </fieldset>
        <fieldset disabled=read_only hidden=move || scripted.get() && !teams_ticked()>
            <legend>{match Service::ALL.into_iter().find(|s| teams.of.as_deref() == Some(s.traits().form_name)) {
                Some(shown) => format!("{} settings (of {})", Service::teams_labels(), shown.label()),
                None => format!("{} settings (only for numbers with one of them)", Service::teams_labels()),
            }}</legend>
            <div class="field">
                <label for="field-usage">"Usage"</label>
                <select id="field-usage" name="form[usage]" aria-describedby="error-usage">
                    <option value="">"Not set"</option>
                    {usages.iter().map(|u| view! {
                        <option value=u.clone() selected=teams.usage.as_deref() == Some(u.as_str())>{u.clone()}</option>
                    }).collect_view()}
                </select>
                {beside("usage")}
            </div>
            {if offered_capabilities.is_empty() {
                view! {
                    <div class="field">
                        <label for="field-capabilities">"Capabilities"</label>
                        <input id="field-capabilities" name="form[capabilities]" aria-describedby="capabilities-hint error-capabilities"
                            value=teams.capabilities.clone()/>
                        <small id="capabilities-hint" class="hint">{plans_note.clone().unwrap_or_else(|| "Comma-separated, from the account's capability plans (choose the account first to pick them from a list): InboundCalling, OutboundCalling, Mobile, …".to_owned())}</small>
                        {beside("capabilities")}
                    </div>
                }.into_any()
            } else {
                view! {
                    <fieldset class="choices" aria-describedby="capabilities-hint error-capabilities">
                        <legend>"Capabilities"</legend>
                        {offered_capabilities.iter().enumerate().map(|(i, c)| view! {
                            <label class="check"><input type="checkbox" name=format!("form[{}]", capability_key(i, c)) checked=stored_capabilities.contains(c)/>" "{c.clone()}</label>
                        }).collect_view()}
                        <small id="capabilities-hint" class="hint">"From the account's capability plans; at least one."</small>
                        <div class="field">
                            <label for="field-capabilities">"Other capabilities"</label>
                            <input id="field-capabilities" name="form[capabilities]" aria-describedby="other-capabilities-hint"
                                value=other_capabilities.clone()/>
                            <small id="other-capabilities-hint" class="hint">"Comma-separated, only for one the plans above do not offer."</small>
                        </div>
                        {beside("capabilities")}
                    </fieldset>
                }.into_any()
            }}
            <div class="field">
                <label for="field-additional-usages">"Additional usages"</label>
                <input id="field-additional-usages" name="form[additional_usages]" aria-describedby="additional-usages-hint error-additional_usages"
                    value=teams.additional_usages.clone()/>
                <small id="additional-usages-hint" class="hint">"Comma-separated, besides the usage above: CallingUserAssignment, FirstPartyAppAssignment, ConferenceAssignment"</small>
                {beside("additional_usages")}
            </div>
            <div class="field">
                <label for="field-assignment">"Assignment status"</label>
                <select id="field-assignment" name="form[assignment_status]" aria-describedby="error-assignment_status">
                    <option value="">"Not set"</option>
                    <option value="assigned" selected=teams.assignment_status.as_deref() == Some("assigned")>"assigned"</option>
                    <option value="unassigned" selected=teams.assignment_status.as_deref() == Some("unassigned")>"unassigned"</option>
                </select>
                {beside("assignment_status")}
            </div>
            {if addresses.is_empty() {
                view! {
                    <div class="field">
                        <label for="field-civic">"Civic address ID"</label>
                        <input id="field-civic" name="form[civic_address_id]" aria-describedby="civic-hint error-civic_address_id" value=teams.civic_address_id.clone().unwrap_or_default()/>
                        <small id="civic-hint" class="hint">"One of the tenant's civic addresses (the account's page lists them once sync has pulled them)."</small>
                        {beside("civic_address_id")}
                    </div>
                    <div class="field">
                        <label for="field-location">"Location ID"</label>
                        <input id="field-location" name="form[location_id]" aria-describedby="error-location_id" value=teams.location_id.clone().unwrap_or_default()/>
                        {beside("location_id")}
                    </div>
                }.into_any()
            } else {
                let chosen = teams.civic_address_id.clone().unwrap_or_default();
                let chosen_location = teams.location_id.clone().unwrap_or_default();
                let unknown_address = (!chosen.is_empty() && !addresses.iter().any(|a| a.id == chosen)).then(|| chosen.clone());
                let unknown_location = (!chosen_location.is_empty() && !addresses.iter().any(|a| a.locations.iter().any(|l| l.0 == chosen_location))).then(|| chosen_location.clone());
                view! {
                    <div class="field">
                        <label for="field-civic">"Civic address"</label>
                        <select id="field-civic" name="form[civic_address_id]" aria-describedby="error-civic_address_id">
                            <option value="" selected=chosen.is_empty()>"None"</option>
                            {unknown_address.map(|id| view! { <option value=id.clone() selected=true>{format!("{id} (not among the tenant's addresses)")}</option> })}
                            {addresses.iter().map(|a| view! {
                                <option value=a.id.clone() selected=a.id == chosen>{super::civic::address_label(a)}</option>
                            }).collect_view()}
                        </select>
                        {beside("civic_address_id")}
                    </div>
                    <div class="field">
                        <label for="field-location">"Location"</label>
                        <select id="field-location" name="form[location_id]" aria-describedby="error-location_id">
                            <option value="" selected=chosen_location.is_empty()>"None"</option>
                            {unknown_location.map(|id| view! { <option value=id.clone() selected=true>{format!("{id} (not among the tenant's locations)")}</option> })}
                            {addresses.iter().filter(|a| !a.locations.is_empty()).map(|a| view! {
                                <optgroup label=super::civic::address_label(a)>
                                    {a.locations.iter().map(|(id, description, _)| view! {
                                        <option value=id.clone() selected=*id == chosen_location>{super::civic::location_label(id, description.as_deref())}</option>
                                    }).collect_view()}
                                </optgroup>
                            }).collect_view()}
                        </select>
                        {beside("location_id")}
                    </div>
                }.into_any()
            }}
            <Checkbox name="form[allow_tenant_address_update]" label="Allow the customer to update the address" checked=teams.allow_tenant_address_update/>
            {beside("allow_tenant_address_update")}
            <div class="field">
                <label for="field-country">"Displayed country code (North American toll-free only)"</label>
                <input id="field-country" name="form[displayed_country_code]" aria-describedby="error-displayed_country_code" value=teams.displayed_country_code.clone().unwrap_or_default()/>
                {beside("displayed_country_code")}
            </div>
        </fieldset>
    };
    view! {
        <Title text=title.clone()/>
        <h1>{title}</h1>
        {saved.then(|| view! { <Notice>"Saved."</Notice> })}
        {retried.then(|| view! { <Notice>"Sent to Operator Connect again; its status is pending until the answer comes."</Notice> })}
        {detail.as_ref().map(|d| view! {
            <dl class="facts">
                <dt>"Account"</dt><dd><a href=format!("/accounts/{}", encode(&d.row.account))>{d.row.account.clone()}</a></dd>
                <dt>"Line type"</dt><dd>{d.row.line_type.clone()}{d.row.country.clone().map(|c| format!(" ({c})"))}</dd>
                <dt>"Sync status"</dt><dd><SyncBadge status=d.row.sync_status.clone()/>
                    <ul class="sync-errors">{d.sync_errors.iter().map(|e| view! { <li>{e.clone()}</li> }).collect_view()}</ul></dd>
                <dt>"Last changed"</dt><dd>{d.updated_at.clone()}</dd>
            </dl>
        })}
        {retry_target.map(|(number, account)| view! {
            {action_error(retry)}
            <ActionForm action=retry>
                <input type="hidden" name="number" value=number/>
                <input type="hidden" name="account" value=account/>
                <button type="submit">"Send to Operator Connect again"</button>
            </ActionForm>
        })}
        {read_only.then(|| view! { <p class="hint">"Your role lets you view numbers, not change them."</p> })}
        {live.clone().map(|reason| view! { <Notice>{reason}</Notice> })}
        {if editing {
            view! {
                {action_error(save)}
                <ActionForm action=save attr:class="form">
                    <fieldset class="plain" disabled=live.is_some()>{form_body}</fieldset>
                    {abilities.change.then(|| view! { <button type="submit">"Save changes"</button> })}
                </ActionForm>
            }.into_any()
        } else {
            view! {
                {action_error(add)}
                <ActionForm action=add attr:class="form">
                    {form_body}
                    {abilities.change.then(|| view! { <button type="submit">"Add numbers"</button> })}
                </ActionForm>
            }.into_any()
        }}
        {detail.as_ref().filter(|d| d.enabled.iter().any(|s| s.traits().teams_tenant)).map(|d| view! {
            <super::emergency::EmergencyPanel number=d.row.number.clone() can_change=abilities.change saved=located save=locate/>
        })}
        {detail.as_ref().map(|d| view! {
            <super::labels::LabelsPanel kind="number" key=d.row.number.clone() can_change=may_label saved=labelled/>
            <super::audit::History kind=Some("number") key=Some(d.row.number.clone()) account=None/>
        })}
        {(!abilities.remove).then(|| action_error(delete))}
        {detail.filter(|_| abilities.remove).map(|d| view! {
            <section class="danger-zone" aria-labelledby="delete-heading">
                <h2 id="delete-heading">"Delete this number"</h2>
                {action_error(delete)}
                <ActionForm action=delete>
                    <input type="hidden" name="number" value=d.row.number.clone()/>
                    <input type="hidden" name="account" value=d.row.account.clone()/>
                    <label class="check"><input type="checkbox" name="confirm" required=true/>
                        {format!(" Yes, delete {}: calls to and from it stop being routed for {}", d.row.number, d.row.account)}
                    </label>
                    <button type="submit" class="danger">"Delete number"</button>
                </ActionForm>
            </section>
        })}
    }
}

/// The first problem with a pasted list of numbers, for the as-you-type check.
fn check_number_list(text: &str) -> Option<String> {
    let items: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .filter(|t| !t.is_empty())
        .collect();
    if items.len() > MAX_ADD {
        return Some(format!(
            "{} numbers: at most {MAX_ADD} at once",
            items.len()
        ));
    }
    items.iter().find_map(|item| {
        crate::domain::TelephoneNumber::parse(item)
            .err()
            .map(|v| format!("{item} {}", v.message))
    })
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    #[test]
    fn a_capability_box_key_carries_its_position_and_name_and_nothing_else() {
        assert_eq!(capability_key(7, "InboundCalling"), "cap007_InboundCalling");
        assert_eq!(
            ticked_capability("cap007_InboundCalling"),
            Some("InboundCalling")
        );
        for other in [
            "cap7_Inbound",
            "capxyz_Inbound",
            "cap001_",
            "zoom",
            "cap0001_X",
            "cap١٢٣_X",
        ] {
            assert_eq!(ticked_capability(other), None, "{other}");
        }
    }

    #[test]
    fn a_hand_made_capability_box_is_refused_by_its_rule_without_echoing_it() {
        let hostile = format!("Inbound\r\nSet-Cookie: x{}", "A".repeat(10_000));
        let mut form = NumberForm {
            account: "oc-co".into(),
            numbers: "+442079460300".into(),
            usage: Some("CallingUserAssignment".into()),
            ..NumberForm::default()
        };
        form.services.insert("operator_connect".into(), "on".into());
        form.services
            .insert(capability_key(0, "InboundCalling"), "on".into());
        form.services
            .insert(capability_key(1, &hostile), "on".into());
        let error = numbers_from_form(&form).unwrap_err().to_string();
        assert!(
            error.contains("Capabilities: a ticked box must be a capability name"),
            "{error}"
        );
        assert!(
            error.len() < 500 && !error.contains("Set-Cookie"),
            "{error}"
        );

        // Ticked boxes keep the order they were shown in; a typed one comes after, each once.
        form.services.remove(&capability_key(1, &hostile));
        form.services
            .insert(capability_key(1, "OutboundCalling"), "on".into());
        form.capabilities = Some("Mobile, InboundCalling".into());
        let numbers = numbers_from_form(&form).unwrap();
        let config = numbers[0]
            .services
            .teams(Service::TeamsOperatorConnect)
            .and_then(|b| b.configuration.clone())
            .unwrap();
        let names: Vec<&str> = config
            .choosable_capabilities
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(names, ["InboundCalling", "OutboundCalling", "Mobile"]);
    }
}
