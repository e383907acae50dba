//! The CSV columns of a number: ACG's portal format, each heading the API's JSON path with `_`
//! for `.` (`serviceDetails_teamsOperatorConnect_configuration_usage`).
//!
//! An empty cell means "not given". Booleans are `true` or `false`. A list (capabilities,
//! additional usages) is written in one cell with its items separated by `;`, e.g.
//! `InboundCalling;OutboundCalling`. Parsing goes through the API's own input type, so a cell
//! obeys exactly the rules the same JSON would.

use crate::domain::Code;
use crate::domain::{
    AccountName, Number, NumberService, NumberServices, Service, Tags, Violation, Violations,
};
use crate::wire::TeamsConfigIn;
use crate::wire::{NumberConfigurationIn, NumberIn, NumberServiceIn, NumberServicesIn};
use std::collections::HashMap;

/// The fields of a Teams service's block, after `serviceDetails_<service>_`.
const TEAMS_FIELDS: [&str; 9] = [
    "enabled",
    "assignmentStatus",
    "configuration_usage",
    "configuration_choosableCapabilities",
    "configuration_additionalUsages",
    "configuration_civicAddressId",
    "configuration_locationId",
    "configuration_allowTenantAddressUpdate",
    "configuration_displayedCountryCode",
];

pub const TELEPHONE_NUMBER: &str = "telephoneNumber";
pub const ACCOUNT_NAME: &str = "accountName";
pub const CUSTOM_SIP_HEADER: &str = "configuration_customSipHeader";
/// Numbat's own column after ACG's: the number's tags, separated by `;`. When a file has it,
/// each row's cell is the number's whole set of tags (blank: none); without it, tags are left
/// as they are.
pub const TAGS: &str = "tags";
/// The single heading of ACG's older one-number-per-line files.
pub const PLAIN_HEADING: &str = "Numbers";

/// Whether a service's numbers carry a block of Teams settings (Operator Connect, Teams Phone
/// Mobile) or only `enabled`.
fn has_teams_block(service: Service) -> bool {
    service.traits().teams_tenant
}

/// Every column of a number, in the order an export writes them.
pub fn number_columns() -> Vec<String> {
    let mut columns = vec![TELEPHONE_NUMBER.to_owned(), ACCOUNT_NAME.to_owned()];
    for service in Service::ALL {
        let prefix = format!("serviceDetails_{}_", service.wire_name());
        if has_teams_block(service) {
            columns.extend(TEAMS_FIELDS.iter().map(|f| format!("{prefix}{f}")));
        } else {
            columns.push(format!("{prefix}enabled"));
        }
    }
    columns.push(CUSTOM_SIP_HEADER.to_owned());
    columns
}

/// Every column an export writes and an import reads: ACG's, then [`TAGS`].
pub fn export_columns() -> Vec<String> {
    let mut columns = number_columns();
    columns.push(TAGS.to_owned());
    columns
}

/// The column a field path names: `serviceDetails.teamsPhoneMobile.configuration.usage` →
/// `serviceDetails_teamsPhoneMobile_configuration_usage`; list items name their list.
pub fn column_of(field: &str) -> String {
    let mut column = String::with_capacity(field.len());
    let mut in_index = false;
    for c in field.chars() {
        match c {
            '[' => in_index = true,
            ']' => in_index = false,
            '.' => column.push('_'),
            _ if !in_index => column.push(c),
            _ => {}
        }
    }
    column
}

/// Where each known column is in a file's heading row.
#[derive(Debug)]
pub struct Heading {
    positions: HashMap<String, usize>,
}

/// What fills a row's blanks: the account given on the command line or form.
#[derive(Clone, Debug, Default)]
pub struct RowDefaults {
    pub account: Option<AccountName>,
}

impl Heading {
    /// Reads a heading row; every name must be a known column, once, and `telephoneNumber`
    /// must be there.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let known = export_columns();
        let mut positions = HashMap::new();
        for (position, name) in names.into_iter().enumerate() {
            let name = name.trim().trim_start_matches('\u{feff}');
            if !known.iter().any(|k| k == name) {
                return Err(format!(
                    "column {} (heading {name:?}) is not a column of a number; the columns are {}",
                    position + 1,
                    known.join(", ")
                ));
            }
            if positions.insert(name.to_owned(), position).is_some() {
                return Err(format!("column {name} appears twice in the heading row"));
            }
        }
        if !positions.contains_key(TELEPHONE_NUMBER) {
            return Err(format!("the heading row has no {TELEPHONE_NUMBER} column"));
        }
        Ok(Self { positions })
    }

    fn cell<'r>(&self, record: &'r csv::StringRecord, column: &str) -> Option<&'r str> {
        let position = *self.positions.get(column)?;
        record
            .get(position)
            .map(str::trim)
            .filter(|c| !c.is_empty())
    }

    /// The tags a row gives its number: `None` when the file has no [`TAGS`] column.
    pub fn tags(&self, record: &csv::StringRecord) -> Result<Option<Tags>, Violations> {
        let Some(&position) = self.positions.get(TAGS) else {
            return Ok(None);
        };
        Tags::parse_text(TAGS, record.get(position).unwrap_or_default()).map(Some)
    }

    /// The number a row describes, or every cell that breaks a rule (named by field path).
    pub fn number(
        &self,
        record: &csv::StringRecord,
        defaults: &RowDefaults,
    ) -> Result<Number, Violations> {
        let mut v = Violations::new();
        if record.len() > self.positions.len() {
            v.push(Violation::new(
                "",
                Code::TooManyCells,
                format!(
                    "the row has {} cells but the heading names {} columns",
                    record.len(),
                    self.positions.len()
                ),
            ));
        }
        let account_name = match (self.cell(record, ACCOUNT_NAME), &defaults.account) {
            (Some(name), Some(default)) if name != default.as_str() => {
                v.push(Violation::new(
                    "accountName",
                    Code::AccountMismatch,
                    format!("must be {default} (or empty): this import is for account {default}"),
                ));
                default.to_string()
            }
            (Some(name), _) => name.to_owned(),
            (None, Some(default)) => default.to_string(),
            (None, None) => {
                v.push(Violation::new(
                    "accountName",
                    Code::Required,
                    "is required (or give the account for the whole file)",
                ));
                String::new()
            }
        };
        let mut services = NumberServicesIn::default();
        for service in Service::ALL {
            let prefix = format!("serviceDetails_{}_", service.wire_name());
            let path = format!("serviceDetails.{}", service.wire_name());
            let cell = |field: &str| self.cell(record, &format!("{prefix}{field}"));
            let block = if has_teams_block(service) {
                self.teams_block(&mut v, &path, &cell)
            } else {
                cell("enabled")
                    .and_then(|raw| boolean(&mut v, &format!("{path}.enabled"), raw))
                    .map(|enabled| NumberServiceIn {
                        enabled,
                        assignment_status: None,
                        configuration: None,
                    })
            };
            services.set(service, block);
        }
        let wire = NumberIn {
            telephone_number: self
                .cell(record, TELEPHONE_NUMBER)
                .unwrap_or_default()
                .to_owned(),
            account_name,
            service_details: services,
            configuration: Some(NumberConfigurationIn {
                custom_sip_header: self.cell(record, CUSTOM_SIP_HEADER).map(str::to_owned),
            }),
        };
        match wire.into_domain() {
            Ok(number) if v.is_empty() => Ok(number),
            Ok(_) => Err(v),
            Err(more) => {
                // A blank the checks above already named is not named twice.
                for violation in more.0 {
                    if !v.iter().any(|seen| seen.field == violation.field) {
                        v.push(violation);
                    }
                }
                Err(v)
            }
        }
    }

    fn teams_block<'c>(
        &self,
        v: &mut Violations,
        path: &str,
        cell: &impl Fn(&str) -> Option<&'c str>,
    ) -> Option<NumberServiceIn> {
        if TEAMS_FIELDS.iter().all(|field| cell(field).is_none()) {
            return None;
        }
        let enabled = match cell("enabled") {
            Some(raw) => boolean(v, &format!("{path}.enabled"), raw).unwrap_or(false),
            None => {
                v.push(Violation::new(
                    format!("{path}.enabled"),
                    Code::Required,
                    "must be true or false when other columns of the service are filled in",
                ));
                false
            }
        };
        let has_configuration = TEAMS_FIELDS
            .iter()
            .filter(|f| f.starts_with("configuration_"))
            .any(|field| cell(field).is_some());
        let configuration = has_configuration.then(|| TeamsConfigIn {
            usage: cell("configuration_usage").unwrap_or_default().to_owned(),
            choosable_capabilities: list(cell("configuration_choosableCapabilities")),
            additional_usages: list(cell("configuration_additionalUsages")),
            civic_address_id: cell("configuration_civicAddressId").map(str::to_owned),
            location_id: cell("configuration_locationId").map(str::to_owned),
            allow_tenant_address_update: cell("configuration_allowTenantAddressUpdate")
                .and_then(|raw| {
                    boolean(
                        v,
                        &format!("{path}.configuration.allowTenantAddressUpdate"),
                        raw,
                    )
                })
                .unwrap_or(false),
            displayed_country_code: cell("configuration_displayedCountryCode").map(str::to_owned),
        });
        Some(NumberServiceIn {
            enabled,
            assignment_status: cell("assignmentStatus").map(str::to_owned),
            configuration,
        })
    }
}

fn boolean(v: &mut Violations, field: &str, raw: &str) -> Option<bool> {
    v.parse(field, raw, |raw| match raw.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Violation::new(
            "",
            Code::InvalidValue,
            "must be true or false",
        )),
    })
}

/// A list cell: items separated by `;` (a `,` inside a quoted cell works too).
fn list(cell: Option<&str>) -> Vec<String> {
    cell.map(|c| {
        c.split([';', ','])
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    })
    .unwrap_or_default()
}

/// A number as a row in `number_columns()` order.
pub fn number_row(number: &Number) -> Vec<String> {
    let mut row = Vec::with_capacity(24);
    row.push(number.telephone_number.to_string());
    row.push(number.account_name.to_string());
    let services = &number.services;
    for service in Service::ALL {
        if has_teams_block(service) {
            teams_cells(&mut row, services.teams(service));
        } else {
            row.push(enabled_cell(services, service));
        }
    }
    row.push(
        number
            .custom_sip_header
            .as_ref()
            .map(|h| h.as_str().to_owned())
            .unwrap_or_default(),
    );
    row
}

fn enabled_cell(services: &NumberServices, service: Service) -> String {
    services
        .get(service)
        .map(|b| b.enabled.to_string())
        .unwrap_or_default()
}

fn teams_cells(row: &mut Vec<String>, teams: Option<&NumberService>) {
    let Some(teams) = teams else {
        row.extend(std::iter::repeat_n(String::new(), TEAMS_FIELDS.len()));
        return;
    };
    row.push(teams.enabled.to_string());
    row.push(
        teams
            .assignment_status
            .map(|s| match s {
                crate::domain::AssignmentStatus::Assigned => "assigned",
                crate::domain::AssignmentStatus::Unassigned => "unassigned",
            })
            .unwrap_or_default()
            .to_owned(),
    );
    let Some(c) = &teams.configuration else {
        row.extend(std::iter::repeat_n(String::new(), TEAMS_FIELDS.len() - 2));
        return;
    };
    let joined = |items: Vec<&str>| items.join(";");
    row.push(c.usage.as_str().to_owned());
    row.push(joined(
        c.choosable_capabilities
            .iter()
            .map(|c| c.as_str())
            .collect(),
    ));
    row.push(joined(
        c.additional_usages.iter().map(|u| u.as_str()).collect(),
    ));
    row.push(c.civic_address_id.clone().unwrap_or_default());
    row.push(c.location_id.clone().unwrap_or_default());
    row.push(c.allow_tenant_address_update.to_string());
    row.push(c.displayed_country_code.clone().unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(cells: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(cells.to_vec())
    }

    #[test]
    fn the_columns_are_acgs_paths_with_underscores() {
        let columns = number_columns();
        assert_eq!(columns[0], "telephoneNumber");
        assert!(columns.contains(&"serviceDetails_teamsDirectRouting_enabled".to_owned()));
        assert!(columns.contains(
            &"serviceDetails_teamsPhoneMobile_configuration_choosableCapabilities".to_owned()
        ));
        assert_eq!(columns.last().unwrap(), "configuration_customSipHeader");
        assert_eq!(columns.len(), 2 + 9 + 1 + 9 + 1 + 1 + 1);
    }

    #[test]
    fn a_field_path_names_its_column() {
        assert_eq!(
            column_of("serviceDetails.teamsOperatorConnect.configuration.choosableCapabilities[1]"),
            "serviceDetails_teamsOperatorConnect_configuration_choosableCapabilities"
        );
    }

    #[test]
    fn an_unknown_heading_is_named() {
        let error = Heading::parse(["telephoneNumber", "colour"]).unwrap_err();
        assert!(error.contains("\"colour\""), "{error}");
        assert!(error.contains("column 2"), "{error}");
    }

    #[test]
    fn a_row_with_a_list_cell_becomes_a_number_and_writes_back_the_same() {
        let heading = Heading::parse([
            "telephoneNumber",
            "accountName",
            "serviceDetails_teamsOperatorConnect_enabled",
            "serviceDetails_teamsOperatorConnect_configuration_usage",
            "serviceDetails_teamsOperatorConnect_configuration_choosableCapabilities",
        ])
        .unwrap();
        let number = heading
            .number(
                &record(&[
                    "+441632960001",
                    "contoso",
                    "TRUE",
                    "CallingUserAssignment",
                    "InboundCalling; OutboundCalling",
                ]),
                &RowDefaults::default(),
            )
            .unwrap();
        let oc = number.services.get(Service::TeamsOperatorConnect).unwrap();
        assert!(oc.enabled);
        let caps: Vec<_> = oc
            .configuration
            .as_ref()
            .unwrap()
            .choosable_capabilities
            .iter()
            .map(|c| c.as_str())
            .collect();
        assert_eq!(caps, ["InboundCalling", "OutboundCalling"]);

        let row = number_row(&number);
        let all = number_columns();
        let heading = Heading::parse(all.iter().map(String::as_str)).unwrap();
        let again = heading
            .number(&csv::StringRecord::from(row), &RowDefaults::default())
            .unwrap();
        assert_eq!(again, number);
    }

    #[test]
    fn bad_cells_are_each_named_by_field() {
        let heading = Heading::parse([
            "telephoneNumber",
            "accountName",
            "serviceDetails_teamsDirectRouting_enabled",
            "serviceDetails_teamsPhoneMobile_configuration_usage",
        ])
        .unwrap();
        let errors = heading
            .number(
                &record(&["0161 496 0000", "", "yes", "Sometimes"]),
                &RowDefaults::default(),
            )
            .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|v| v.field.as_str()).collect();
        for expected in [
            "telephoneNumber",
            "accountName",
            "serviceDetails.teamsDirectRouting.enabled",
            "serviceDetails.teamsPhoneMobile.enabled",
        ] {
            assert!(
                fields.contains(&expected),
                "{expected} missing from {fields:?}"
            );
        }
    }
}
