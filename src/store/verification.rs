//! Service verification numbers as stored: which numbers are marked as test numbers of which
//! service. Holds no rule. Depends on `domain`.

use super::tx::{on_pool, on_tx};
use super::{Database, StoreError, Tx};
use crate::domain::{Service, TelephoneNumber};

/// Every mark, by service then number (a few per service: the whole table is small).
pub async fn all(db: &Database) -> Result<Vec<(Service, TelephoneNumber)>, StoreError> {
    const SQL: &str =
        "SELECT service, telephone_number FROM verification_numbers ORDER BY service, telephone_number";
    let rows: Vec<(String, String)> =
        on_pool!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await?);
    rows.into_iter()
        .map(|(service, number)| {
            let service = Service::from_wire_name(&service)
                .ok_or_else(|| StoreError::Corrupt(format!("verification service {service}")))?;
            let number = TelephoneNumber::parse(&number)
                .map_err(|e| StoreError::Corrupt(format!("verification number: {e}")))?;
            Ok((service, number))
        })
        .collect()
}

/// Holds the service's marks for the rest of `tx`, so two writers marking numbers of one
/// service take turns (SQLite's write transaction already does; PostgreSQL takes an advisory
/// lock named after the service).
pub async fn lock_service(tx: &mut Tx, service: Service) -> Result<(), StoreError> {
    if let Tx::Postgres(transaction) = tx {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!("numbat.verification.{}", service.wire_name()))
            .execute(&mut **transaction)
            .await?;
    }
    Ok(())
}

/// The service's marked numbers, locked for the rest of `tx` where the database can.
pub async fn of_service_for_update(
    tx: &mut Tx,
    service: Service,
) -> Result<Vec<String>, StoreError> {
    let sql = format!(
        "SELECT telephone_number FROM verification_numbers WHERE service = $1 \
         ORDER BY telephone_number{}",
        tx.lock_clause()
    );
    let rows: Vec<(String,)> = on_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(service.wire_name()).fetch_all(&mut *conn).await?
    });
    Ok(rows.into_iter().map(|(n,)| n).collect())
}

/// Marks `number` as a test number of `service` (already marked: nothing happens).
pub async fn add(
    tx: &mut Tx,
    service: Service,
    number: &TelephoneNumber,
    at: &str,
) -> Result<(), StoreError> {
    const SQL: &str = "INSERT INTO verification_numbers (service, telephone_number, created_at) \
                       VALUES ($1, $2, $3) ON CONFLICT (service, telephone_number) DO NOTHING";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(service.wire_name()).bind(number.as_str()).bind(at).execute(&mut *conn).await?;
    });
    Ok(())
}

pub async fn remove(
    tx: &mut Tx,
    service: Service,
    number: &TelephoneNumber,
) -> Result<(), StoreError> {
    const SQL: &str =
        "DELETE FROM verification_numbers WHERE service = $1 AND telephone_number = $2";
    on_tx!(tx, conn => {
        sqlx::query(SQL).bind(service.wire_name()).bind(number.as_str()).execute(&mut *conn).await?;
    });
    Ok(())
}
