//! The emergency location on an Operator Connect or Teams Phone Mobile number's page: its civic
//! address and location, chosen from the tenant's (not typed), and changed through the same
//! core command as the API's `PUT /emergencyLocations/{number}`. The form carries the number's
//! version, so a change someone else made meanwhile is not overwritten; it reads the same with
//! JavaScript on and off (the locations are grouped under their address).

use super::access::error_text;
use super::civic::{address_label, CivicView};
use super::widgets::*;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

/// A number's emergency location and the choices the form offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EmergencyView {
    /// The service whose settings hold it, as people read it.
    pub service: String,
    pub civic_address_id: Option<String>,
    pub location_id: Option<String>,
    pub allow_tenant_address_update: bool,
    pub version: i64,
    pub addresses: Vec<CivicView>,
    /// Why there is nothing to choose from, when there is not.
    pub no_choice: Option<String>,
}

#[server(endpoint = "emergency/load")]
pub async fn load_emergency(number: String) -> Result<EmergencyView, ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::{AccountName, TelephoneNumber};
    let (state, actor) = (state()?, actor()?);
    let shown = super::civic::SHOWN_ADDRESSES;
    let number = TelephoneNumber::parse(&number)
        .map_err(|v| ServerFnError::new(format!("Number: {}", v.message)))?;
    let view = state
        .core
        .emergency_location(&actor, &number)
        .await
        .map_err(refused)?;
    let account = AccountName::parse(&view.account_name)
        .map_err(|v| ServerFnError::new(format!("Account: {}", v.message)))?;
    let (addresses, no_choice) = match state
        .core
        .list_civic_addresses(&actor, &account, None, shown + 1)
        .await
    {
        Ok(found) if found.is_empty() => (
            Vec::new(),
            Some(format!(
                "Account {account} has no civic addresses yet: they arrive from the customer's Teams tenant with the consent pull."
            )),
        ),
        Ok(mut found) => {
            let more = found.len() as i64 > shown;
            found.truncate(shown as usize);
            (
                found.into_iter().map(super::civic::civic_view).collect(),
                more.then(|| {
                    format!("The tenant has more than {shown} civic addresses; the first {shown} are offered. Set another through the API.")
                }),
            )
        }
        Err(error) => (Vec::new(), Some(error_text(&refused(error)))),
    };
    Ok(EmergencyView {
        service: view.service.label().to_owned(),
        civic_address_id: view.location.civic_address_id,
        location_id: view.location.location_id,
        allow_tenant_address_update: view.location.allow_tenant_address_update,
        version: view.version,
        addresses,
        no_choice,
    })
}

/// Changes the number's emergency location if it is still at the version the form showed;
/// then the number's page again, saying so. A blank choice is none.
#[server(endpoint = "emergency/save")]
pub async fn save_emergency(
    number: String,
    civic_address_id: String,
    location_id: String,
    allow_tenant_address_update: Option<String>,
    version: i64,
) -> Result<(), ServerFnError> {
    use super::access::server::{actor, refused, state};
    use crate::domain::TelephoneNumber;
    use crate::provisioning::emergency::EmergencyLocation;
    use crate::provisioning::{Precondition, ProvisioningError};
    let (state, actor) = (state()?, actor()?);
    let parsed = TelephoneNumber::parse(&number)
        .map_err(|v| ServerFnError::new(format!("Number: {}", v.message)))?;
    let civic_address_id = non_empty(Some(civic_address_id));
    let location_id = non_empty(Some(location_id));
    let change = EmergencyLocation::parse(
        civic_address_id.as_deref(),
        location_id.as_deref(),
        allow_tenant_address_update.is_some(),
    )
    .map_err(|violations| {
        let lines: Vec<String> = violations
            .iter()
            .map(|v| format!("{}: {}", field_name(&v.field), v.message))
            .collect();
        ServerFnError::new(lines.join("\n"))
    })?;
    match state
        .core
        .set_emergency_location(&actor, &parsed, change, Precondition::if_match(version))
        .await
    {
        Ok(_) => {
            leptos_axum::redirect(&format!("/numbers/{}?located=1", encode(&number)));
            Ok(())
        }
        Err(ProvisioningError::PreconditionFailed { .. }) => Err(ServerFnError::new(
            "Someone else changed this number while you chose its location. Open the page again, then redo your change.",
        )),
        Err(error) => Err(refused(error)),
    }
}

/// A field of the emergency location as the form labels it.
#[cfg(feature = "ssr")]
fn field_name(field: &str) -> &str {
    match field {
        "civicAddressId" => "Civic address",
        "locationId" => "Location",
        other => other,
    }
}

/// The emergency location of `number`, with a form to change it when `can_change`.
#[component]
pub fn EmergencyPanel(
    number: String,
    can_change: bool,
    /// Whether the page was reached from a save of this form.
    saved: bool,
    save: ServerAction<SaveEmergency>,
) -> impl IntoView {
    let load_number = number.clone();
    let data = Resource::new(
        move || save.version().get(),
        move |_| load_emergency(load_number.clone()),
    );
    view! {
        <section class="card emergency" aria-labelledby="emergency-heading">
            <h2 id="emergency-heading">"Emergency location"</h2>
            {move || (saved || matches!(save.value().get(), Some(Ok(())))).then(|| view! { <Notice>"Emergency location saved; it is sent to Operator Connect with the number."</Notice> })}
            {action_error(save)}
            <Suspense fallback=|| view! { <p>"Loading…"</p> }>
                {move || {
                    let number = number.clone();
                    Suspend::new(async move {
                        match data.await {
                            Err(error) => view! { <LoadError message=error_text(&error)/> }.into_any(),
                            Ok(view) => emergency_body(view, number, can_change, save).into_any(),
                        }
                    })
                }}
            </Suspense>
        </section>
    }
}

fn emergency_body(
    view: EmergencyView,
    number: String,
    can_change: bool,
    save: ServerAction<SaveEmergency>,
) -> impl IntoView {
    let current = view
        .civic_address_id
        .as_ref()
        .map(|id| {
            view.addresses.iter().find(|a| &a.id == id).map_or_else(
                || format!("{id} (not among the tenant's addresses Numbat knows)"),
                address_label,
            )
        })
        .unwrap_or_else(|| "none".to_owned());
    let location = view.location_id.clone().map(|id| {
        let described = view
            .addresses
            .iter()
            .flat_map(|a| &a.locations)
            .find(|(l, _, _)| *l == id)
            .and_then(|(_, description, _)| description.as_deref());
        super::civic::location_label(&id, described)
    });
    let facts = view! {
        <dl class="facts">
            <dt>"Service"</dt><dd>{view.service.clone()}</dd>
            <dt>"Civic address"</dt><dd>{current}</dd>
            <dt>"Location"</dt><dd>{location.unwrap_or_else(|| "none".to_owned())}</dd>
            <dt>"Enterprise may update the address"</dt><dd>{if view.allow_tenant_address_update { "yes" } else { "no" }}</dd>
        </dl>
    };
    let note = view
        .no_choice
        .clone()
        .map(|n| view! { <p class="empty">{n}</p> });
    let form = (can_change && !view.addresses.is_empty()).then(|| {
        let chosen = view.civic_address_id.clone().unwrap_or_default();
        let chosen_location = view.location_id.clone().unwrap_or_default();
        view! {
            <ActionForm action=save attr:class="form">
                <input type="hidden" name="number" value=number.clone()/>
                <input type="hidden" name="version" value=view.version.to_string()/>
                <div class="field">
                    <label for="emergency-address">"Civic address"</label>
                    <select id="emergency-address" name="civic_address_id">
                        <option value="" selected=chosen.is_empty()>"None (the enterprise sets it)"</option>
                        {view.addresses.iter().map(|a| {
                            let selected = a.id == chosen;
                            view! { <option value=a.id.clone() selected=selected>{address_label(a)}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <div class="field">
                    <label for="emergency-location">"Location"</label>
                    <select id="emergency-location" name="location_id" aria-describedby="emergency-location-rule">
                        <option value="" selected=chosen_location.is_empty()>"None (the address's default)"</option>
                        {view.addresses.iter().filter(|a| !a.locations.is_empty()).map(|a| view! {
                            <optgroup label=address_label(a)>
                                {a.locations.iter().map(|(id, description, _)| {
                                    let selected = *id == chosen_location;
                                    let text = super::civic::location_label(id, description.as_deref());
                                    view! { <option value=id.clone() selected=selected>{text}</option> }
                                }).collect_view()}
                            </optgroup>
                        }).collect_view()}
                    </select>
                    <small id="emergency-location-rule" class="hint">"A location must be one of the chosen address's."</small>
                </div>
                <label class="check"><input type="checkbox" name="allow_tenant_address_update" checked=view.allow_tenant_address_update/>" The enterprise may update the address in Teams"</label>
                <button type="submit">"Save emergency location"</button>
            </ActionForm>
        }
    });
    view! { {facts}{note}{form} }
}
