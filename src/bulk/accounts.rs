//! Accounts as CSV, one account a row, each heading the path of a field in the API's account
//! JSON with `_` for `.` (`serviceDetails_teamsDirectRouting_configuration_subdomain`), read
//! a page at a time so any number of accounts streams.

use crate::domain::{AccountName, Service};
use crate::provisioning::NumberOrder;
use crate::provisioning::{AccountFilter, Actor, Provisioning, ProvisioningError};
use crate::wire::AccountOut;
use std::collections::HashMap;

/// Accounts read per page.
const PAGE_ROWS: i64 = 1000;

/// Every column of an account, in the order an export writes them.
pub fn account_columns() -> Vec<String> {
    let mut columns = vec![
        "name".to_owned(),
        "correlationId".to_owned(),
        "serviceDetails_teamsTenantId".to_owned(),
    ];
    for service in Service::ALL {
        let prefix = format!("serviceDetails_{}", service.wire_name());
        columns.push(format!("{prefix}_enabled"));
        if service.has_sync_switch() {
            columns.push(format!("{prefix}_syncEnabled"));
        }
        if service == Service::TeamsDirectRouting {
            for field in [
                "configuration_callScreening",
                "configuration_subdomain",
                "configuration_subdomainTokens_region1Token",
                "configuration_subdomainTokens_region2Token",
                "subdomainStatus",
            ] {
                columns.push(format!("{prefix}_{field}"));
            }
        }
        columns.push(format!("{prefix}_numberCount"));
    }
    columns.push("serviceProvisioningStatus".to_owned());
    columns
}

/// An account as a row in `account_columns()` order: its API JSON, flattened.
fn account_row(record: &crate::provisioning::AccountRecord, columns: &[String]) -> Vec<String> {
    let json = serde_json::to_value(AccountOut::from(record)).expect("an account serialises");
    let mut cells = HashMap::new();
    flatten("", &json, &mut cells);
    columns
        .iter()
        .map(|c| cells.remove(c).unwrap_or_default())
        .collect()
}

fn flatten(path: &str, value: &serde_json::Value, out: &mut HashMap<String, String>) {
    use serde_json::Value;
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}_{key}")
                };
                flatten(&path, value, out);
            }
        }
        Value::Null | Value::Array(_) => {}
        Value::String(text) => {
            out.insert(path.to_owned(), text.clone());
        }
        other => {
            out.insert(path.to_owned(), other.to_string());
        }
    }
}

/// An accounts export under way: each `next_chunk` is the CSV text of the next page (the first
/// starts with the heading row), until `None`.
pub struct AccountExport {
    core: Provisioning,
    actor: Actor,
    filter: AccountFilter,
    columns: Vec<String>,
    after: Option<AccountName>,
    heading_written: bool,
    done: bool,
}

impl AccountExport {
    pub fn new(core: Provisioning, actor: Actor, filter: AccountFilter) -> Self {
        Self {
            core,
            actor,
            filter,
            columns: account_columns(),
            after: None,
            heading_written: false,
            done: false,
        }
    }

    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, ProvisioningError> {
        if self.done {
            return Ok(None);
        }
        let page = self
            .core
            .list_accounts_in_order(
                &self.actor,
                &self.filter,
                NumberOrder::Ascending,
                self.after.as_ref(),
                PAGE_ROWS,
            )
            .await?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        if !self.heading_written {
            writer.write_record(&self.columns).expect(IN_MEMORY);
            self.heading_written = true;
        }
        for record in &page {
            writer
                .write_record(super::cells::neutralise_row(account_row(
                    record,
                    &self.columns,
                )))
                .expect(IN_MEMORY);
        }
        self.done = (page.len() as i64) < PAGE_ROWS;
        self.after = page.last().map(|r| r.account.name.clone());
        Ok(Some(writer.into_inner().expect(IN_MEMORY)))
    }
}

const IN_MEMORY: &str = "writing CSV into memory cannot fail";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_follow_the_apis_account_json() {
        let columns = account_columns();
        assert_eq!(columns[0], "name");
        assert!(columns.contains(
            &"serviceDetails_teamsDirectRouting_configuration_subdomainTokens_region1Token"
                .to_owned()
        ));
        assert!(columns.contains(&"serviceDetails_teamsOperatorConnect_syncEnabled".to_owned()));
        assert!(
            !columns.contains(&"serviceDetails_azureOperatorCallProtection_syncEnabled".to_owned())
        );
    }
}
