//! Filter expressions over stored fields (what an OData-style `filter` becomes), compiled to
//! SQL with every value bound as a parameter and every column from a fixed list; or, for the
//! small lists kept as documents (consents, civic addresses), tested against a record's wire
//! form in memory. Also the order a number list comes in. Depends on `domain` only.

use crate::domain::Service;

/// A field a filter may test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    TelephoneNumber,
    AccountName,
    ProvisioningStatus,
    LineType,
    Country,
    CustomSipHeader,
    CorrelationId,
    TeamsTenantId,
    ServiceEnabled(Service),
    /// A field of a document-shaped resource, by where it sits in its wire form.
    Wire(WireField),
}

/// The fields of consents and civic addresses a filter may test, as the API writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireField {
    Id,
    TenantId,
    AccountName,
    ConsentStatus,
    RelationshipStatus,
    ProvisioningStatus,
    ValidationStatus,
    Country,
    StateOrProvince,
    CityOrTown,
    PostalOrZipCode,
    CompanyName,
    Description,
    DefaultLocationId,
}

impl WireField {
    /// Where the field sits in the resource's JSON (a JSON pointer).
    pub fn pointer(self) -> &'static str {
        match self {
            WireField::Id => "/id",
            WireField::TenantId => "/tenantId",
            WireField::AccountName => "/accountName",
            WireField::ConsentStatus => "/status",
            WireField::RelationshipStatus => "/customerRelationship/status",
            WireField::ProvisioningStatus => "/serviceProvisioningStatus",
            WireField::ValidationStatus => "/validationStatus",
            WireField::Country => "/country",
            WireField::StateOrProvince => "/stateOrProvince",
            WireField::CityOrTown => "/cityOrTown",
            WireField::PostalOrZipCode => "/postalOrZipCode",
            WireField::CompanyName => "/companyName",
            WireField::Description => "/description",
            WireField::DefaultLocationId => "/defaultLocationId",
        }
    }
}

impl Field {
    /// The column in `table` (`numbers` or `accounts`), or `None` where the table lacks it.
    fn column(self, table: Table) -> Option<String> {
        Some(match (self, table) {
            (Field::TelephoneNumber, Table::Numbers) => "telephone_number".into(),
            (Field::AccountName, Table::Numbers) => "account_name".into(),
            (Field::AccountName, Table::Accounts) => "name".into(),
            (Field::ProvisioningStatus, _) => "provisioning_status".into(),
            (Field::LineType, Table::Numbers) => "line_type".into(),
            (Field::Country, Table::Numbers) => "country".into(),
            (Field::CustomSipHeader, Table::Numbers) => "custom_sip_header".into(),
            (Field::CorrelationId, Table::Accounts) => "correlation_id".into(),
            (Field::TeamsTenantId, Table::Accounts) => "teams_tenant_id".into(),
            (Field::ServiceEnabled(service), _) => {
                super::service_columns::column(service, "enabled").into()
            }
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Table {
    Numbers,
    Accounts,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Bool(bool),
    Null,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Eq(Field, Value),
    Ne(Field, Value),
    StartsWith(Field, String),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

impl Expr {
    /// Whether a resource, in the JSON form the API answers with, passes the expression, with
    /// SQL's meaning: `eq` compares exactly, `ne` and `eq false` also pass a field that is
    /// absent or null, `eq null` passes only those. Only [`Field::Wire`] fields are looked up;
    /// any other field is absent here.
    pub fn matches(&self, wire: &serde_json::Value) -> bool {
        use serde_json::Value as Json;
        let get = |field: &Field| match field {
            Field::Wire(w) => wire.pointer(w.pointer()).filter(|v| !v.is_null()),
            _ => None,
        };
        match self {
            Expr::Eq(field, Value::Null) => get(field).is_none(),
            Expr::Ne(field, Value::Null) => get(field).is_some(),
            Expr::Eq(field, Value::Bool(b)) => {
                get(field).and_then(Json::as_bool).unwrap_or(false) == *b
            }
            Expr::Ne(field, Value::Bool(b)) => {
                get(field).and_then(Json::as_bool).unwrap_or(false) != *b
            }
            Expr::Eq(field, Value::Text(text)) => {
                get(field).and_then(Json::as_str) == Some(text.as_str())
            }
            Expr::Ne(field, Value::Text(text)) => {
                get(field).and_then(Json::as_str) != Some(text.as_str())
            }
            Expr::StartsWith(field, prefix) => get(field)
                .and_then(Json::as_str)
                .is_some_and(|v| v.starts_with(prefix.as_str())),
            Expr::And(a, b) => a.matches(wire) && b.matches(wire),
            Expr::Or(a, b) => a.matches(wire) || b.matches(wire),
            Expr::Not(a) => !a.matches(wire),
        }
    }

    /// Whether every field the expression names exists in `table`.
    pub fn fits(&self, table: Table) -> Result<(), Field> {
        match self {
            Expr::Eq(f, _) | Expr::Ne(f, _) | Expr::StartsWith(f, _) => {
                f.column(table).map(|_| ()).ok_or(*f)
            }
            Expr::And(a, b) | Expr::Or(a, b) => a.fits(table).and(b.fits(table)),
            Expr::Not(a) => a.fits(table),
        }
    }
}

/// Appends `expr` as SQL to a query builder of either database. Call `Expr::fits` first.
pub fn push_expr<'a, DB: sqlx::Database>(
    query: &mut sqlx::QueryBuilder<'a, DB>,
    expr: &Expr,
    table: Table,
) where
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let column = |f: &Field| f.column_for(table);
    match expr {
        Expr::Eq(field, Value::Null) => {
            query.push(format!("{} IS NULL", column(field)));
        }
        Expr::Ne(field, Value::Null) => {
            query.push(format!("{} IS NOT NULL", column(field)));
        }
        Expr::Eq(field, Value::Bool(true)) | Expr::Ne(field, Value::Bool(false)) => {
            query.push(format!("{} = TRUE", column(field)));
        }
        Expr::Eq(field, Value::Bool(false)) | Expr::Ne(field, Value::Bool(true)) => {
            query.push(format!("({0} IS NULL OR {0} = FALSE)", column(field)));
        }
        Expr::Eq(field, Value::Text(text)) => {
            query
                .push(format!("{} = ", column(field)))
                .push_bind(text.clone());
        }
        Expr::Ne(field, Value::Text(text)) => {
            let c = column(field);
            query
                .push(format!("({c} IS NULL OR {c} <> "))
                .push_bind(text.clone())
                .push(")");
        }
        Expr::StartsWith(field, prefix) => {
            // Only on ASCII keys (C-collated on PostgreSQL): a range keeps both databases on
            // their indexes.
            let c = column(field);
            query.push(format!("({c} >= ")).push_bind(prefix.clone());
            query
                .push(format!(" AND {c} < "))
                .push_bind(format!("{prefix}\u{7f}"))
                .push(")");
        }
        Expr::And(a, b) | Expr::Or(a, b) => {
            let joiner = if matches!(expr, Expr::And(..)) {
                " AND "
            } else {
                " OR "
            };
            query.push("(");
            push_expr(query, a, table);
            query.push(joiner);
            push_expr(query, b, table);
            query.push(")");
        }
        Expr::Not(a) => {
            query.push("NOT (");
            push_expr(query, a, table);
            query.push(")");
        }
    }
}

impl Field {
    /// The column, for an expression already checked with `Expr::fits`.
    pub fn column_for(&self, table: Table) -> String {
        self.column(table)
            .expect("the expression was checked against this table")
    }
}
/// Order of a number list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NumberOrder {
    #[default]
    Ascending,
    Descending,
}
