//! Writing numbers as CSV in the import's columns (ACG's, then their tags), a page at a time, so an export of any size
//! streams and imports back unchanged.

use super::columns::{export_columns, number_row};
use crate::domain::TelephoneNumber;
use crate::provisioning::{Actor, NumberFilter, NumberOrder, Provisioning, ProvisioningError};

/// Numbers read per page.
const PAGE_ROWS: i64 = 5000;

/// An export under way: each `next_chunk` is the CSV text of the next page (the first starts
/// with the heading row), until `None`.
pub struct NumberExport {
    core: Provisioning,
    actor: Actor,
    filter: NumberFilter,
    after: Option<TelephoneNumber>,
    heading_written: bool,
    done: bool,
}

impl NumberExport {
    pub fn new(core: Provisioning, actor: Actor, filter: NumberFilter) -> Self {
        Self {
            core,
            actor,
            filter,
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
            .list_numbers(
                &self.actor,
                &self.filter,
                NumberOrder::Ascending,
                self.after.as_ref(),
                PAGE_ROWS,
            )
            .await?;
        let mut writer = csv::Writer::from_writer(Vec::with_capacity(page.len() * 96 + 512));
        if !self.heading_written {
            writer.write_record(export_columns()).expect(IN_MEMORY);
            self.heading_written = true;
        }
        let keys: Vec<&str> = page
            .iter()
            .map(|r| r.number.telephone_number.as_str())
            .collect();
        let kind = crate::provisioning::labels::LabelledKind::Number;
        let labels = self.core.labels_of(&self.actor, kind, &keys).await?;
        for record in &page {
            let mut row = number_row(&record.number);
            let key = record.number.telephone_number.as_str();
            row.push(
                labels
                    .get(key)
                    .map(|l| l.labels.tags.to_text())
                    .unwrap_or_default(),
            );
            writer
                .write_record(super::cells::neutralise_row(row))
                .expect(IN_MEMORY);
        }
        self.done = (page.len() as i64) < PAGE_ROWS;
        self.after = page.last().map(|r| r.number.telephone_number.clone());
        let bytes = writer.into_inner().expect(IN_MEMORY);
        Ok(Some(bytes))
    }
}

const IN_MEMORY: &str = "writing CSV into memory cannot fail";
