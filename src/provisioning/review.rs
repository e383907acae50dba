//! The figures of the admins' review: numbers per service, per status and per account,
//! numbers with no service, failed syncs.

use super::{Actor, NumberFilter, Permission, Provisioning, ProvisioningError};
use crate::domain::Service;
use crate::store::{accounts, numbers};

/// Accounts the review lists by number count.
const TOP_ACCOUNTS: i64 = 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReviewFigures {
    pub per_service: Vec<(Service, i64)>,
    /// (status, numbers), every status present.
    pub per_status: Vec<(String, i64)>,
    /// The accounts with the most numbers, most first.
    pub per_account: Vec<(String, i64)>,
    pub without_service: i64,
    pub failed_accounts: i64,
}

impl Provisioning {
    pub async fn review_figures(&self, actor: &Actor) -> Result<ReviewFigures, ProvisioningError> {
        actor.permit(Permission::Read)?;
        let per_service = accounts::numbers_per_service(&self.db).await?;
        let mut per_status = numbers::count_by_status(&self.db).await?;
        for status in crate::domain::ProvisioningStatus::ALL {
            if !per_status.iter().any(|(s, _)| s == status.as_str()) {
                per_status.push((status.as_str().to_owned(), 0));
            }
        }
        let order = |s: &str| {
            crate::domain::ProvisioningStatus::ALL
                .iter()
                .position(|x| x.as_str() == s)
        };
        per_status.sort_by_key(|(s, _)| order(s));
        let without = NumberFilter {
            no_service: true,
            ..NumberFilter::default()
        };
        Ok(ReviewFigures {
            per_service: Service::ALL.into_iter().zip(per_service).collect(),
            per_status,
            per_account: numbers::count_by_account(&self.db, TOP_ACCOUNTS).await?,
            without_service: numbers::count(&self.db, &without).await?,
            failed_accounts: accounts::count_failed(&self.db).await?,
        })
    }
}
