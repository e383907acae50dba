//! The `filter` query parameter: a documented subset of OData — `eq` and `ne` on the fields
//! below, `startswith(field,'text')` on keys, `and`, `or`, `not` and parentheses — parsed into
//! the store's filter expression. Bounded: at most `MAX_FILTER_LEN` bytes and `MAX_DEPTH`
//! nested parentheses or `not`s, so no filter can exhaust the stack or the database.

use super::error::ApiError;
use crate::domain::Code;
use crate::domain::{Service, Violation};
use crate::provisioning::filter::{Expr, Field, Value, WireField};

/// Which list a filter is for: it decides the field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Numbers,
    Accounts,
    /// Requests for information (consents), filtered in memory.
    Rfis,
    /// A Teams tenant's civic addresses, filtered in memory.
    CivicAddresses,
}

impl Resource {
    fn field(self, name: &str) -> Option<Field> {
        let name = name.replace('/', ".");
        let service = |rest: &str| {
            let wire = rest
                .strip_prefix("serviceDetails.")?
                .strip_suffix(".enabled")?;
            Service::from_wire_name(wire).map(Field::ServiceEnabled)
        };
        match (self, name.as_str()) {
            (Resource::Rfis, "serviceProvisioningStatus") => {
                Some(Field::Wire(WireField::ProvisioningStatus))
            }
            (Resource::Numbers | Resource::Accounts, "serviceProvisioningStatus") => {
                Some(Field::ProvisioningStatus)
            }
            (Resource::Numbers, "telephoneNumber") => Some(Field::TelephoneNumber),
            (Resource::Numbers, "accountName") => Some(Field::AccountName),
            (Resource::Numbers, "configuration.customSipHeader") => Some(Field::CustomSipHeader),
            (Resource::Numbers, "lineType") => Some(Field::LineType),
            (Resource::Numbers, "country") => Some(Field::Country),
            (Resource::Accounts, "name") => Some(Field::AccountName),
            (Resource::Accounts, "correlationId") => Some(Field::CorrelationId),
            (Resource::Accounts, "serviceDetails.teamsTenantId") => Some(Field::TeamsTenantId),
            (Resource::Rfis, "id") => Some(Field::Wire(WireField::Id)),
            (Resource::Rfis, "tenantId") => Some(Field::Wire(WireField::TenantId)),
            (Resource::Rfis, "accountName") => Some(Field::Wire(WireField::AccountName)),
            (Resource::Rfis, "status") => Some(Field::Wire(WireField::ConsentStatus)),
            (Resource::Rfis, "customerRelationship.status") => {
                Some(Field::Wire(WireField::RelationshipStatus))
            }
            (Resource::CivicAddresses, field) => Some(Field::Wire(match field {
                "id" => WireField::Id,
                "tenantId" => WireField::TenantId,
                "validationStatus" => WireField::ValidationStatus,
                "country" => WireField::Country,
                "stateOrProvince" => WireField::StateOrProvince,
                "cityOrTown" => WireField::CityOrTown,
                "postalOrZipCode" => WireField::PostalOrZipCode,
                "companyName" => WireField::CompanyName,
                "description" => WireField::Description,
                "defaultLocationId" => WireField::DefaultLocationId,
                _ => return None,
            })),
            (Resource::Rfis, _) => None,
            (_, other) => service(other),
        }
    }

    fn supported(self) -> &'static str {
        match self {
            Resource::Numbers => {
                "eq/ne on telephoneNumber, accountName, serviceProvisioningStatus, configuration/customSipHeader \
                 (also null), lineType, country, serviceDetails/<service>/enabled (true/false); \
                 startswith(telephoneNumber,'+44'); and, or, not, parentheses"
            }
            Resource::Accounts => {
                "eq/ne on name, correlationId, serviceProvisioningStatus, serviceDetails/teamsTenantId (also null), \
                 serviceDetails/<service>/enabled (true/false); startswith(name,'abc'); and, or, not, parentheses"
            }
            Resource::Rfis => {
                "eq/ne on id, tenantId, accountName, status, customerRelationship/status, \
                 serviceProvisioningStatus (also null); startswith(tenantId,'abc'); and, or, not, parentheses"
            }
            Resource::CivicAddresses => {
                "eq/ne on id, tenantId, validationStatus, country, stateOrProvince, cityOrTown, \
                 postalOrZipCode, companyName, description, defaultLocationId (also null); \
                 startswith on any of them; and, or, not, parentheses"
            }
        }
    }
}

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 2048;
/// The deepest nesting of parentheses and `not` accepted.
pub const MAX_DEPTH: usize = 32;
/// The most conditions one filter may combine.
pub const MAX_CONDITIONS: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    Comma,
}

fn tokens(input: &str) -> Result<Vec<Token>, String> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            ' ' | '\t' => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            ',' => {
                chars.next();
                out.push(Token::Comma);
            }
            '\'' => {
                chars.next();
                let mut text = String::new();
                loop {
                    match chars.next() {
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            text.push('\'');
                        }
                        Some('\'') => break,
                        Some(c) => text.push(c),
                        None => return Err("a quoted string is not closed".into()),
                    }
                }
                out.push(Token::Text(text));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_alphanumeric() || "._/-+".contains(c) {
                        word.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if word.is_empty() {
                    return Err(format!("unexpected character {c:?}"));
                }
                out.push(Token::Word(word));
            }
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    resource: Resource,
    /// Parentheses and `not`s open around the token being read.
    depth: usize,
    conditions: usize,
}

impl Parser {
    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w == word)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, wanted: Token, what: &str) -> Result<(), String> {
        match self.next() {
            Some(token) if token == wanted => Ok(()),
            _ => Err(format!("expected {what}")),
        }
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut left = self.and()?;
        while self.peek_word("or") {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        while self.peek_word("and") {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    /// Enters one level of nesting, refusing past `MAX_DEPTH` (the parser recurses per level).
    fn nest<T>(&mut self, inner: impl FnOnce(&mut Self) -> Result<T, String>) -> Result<T, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "the filter nests parentheses and not more than {MAX_DEPTH} deep"
            ));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.peek_word("not") {
            self.at += 1;
            return self.nest(|p| Ok(Expr::Not(Box::new(p.unary()?))));
        }
        self.primary()
    }

    fn field(&self, name: &str) -> Result<Field, String> {
        self.resource
            .field(name)
            .ok_or_else(|| format!("{name} cannot be filtered on"))
    }

    fn primary(&mut self) -> Result<Expr, String> {
        if !matches!(self.tokens.get(self.at), Some(Token::Open)) {
            self.conditions += 1;
            if self.conditions > MAX_CONDITIONS {
                return Err(format!(
                    "the filter combines more than {MAX_CONDITIONS} conditions"
                ));
            }
        }
        match self.next() {
            Some(Token::Open) => self.nest(|p| {
                let inner = p.or()?;
                p.expect(Token::Close, ")")?;
                Ok(inner)
            }),
            Some(Token::Word(word)) if word == "startswith" => {
                self.expect(Token::Open, "( after startswith")?;
                let Some(Token::Word(name)) = self.next() else {
                    return Err("startswith needs a field".into());
                };
                let field = self.field(&name)?;
                let prefixable = match self.resource {
                    Resource::Numbers | Resource::Accounts => {
                        matches!(field, Field::TelephoneNumber | Field::AccountName)
                    }
                    Resource::Rfis => matches!(
                        field,
                        Field::Wire(WireField::TenantId | WireField::AccountName | WireField::Id)
                    ),
                    Resource::CivicAddresses => true,
                };
                if !prefixable {
                    return Err(format!(
                        "startswith works on telephoneNumber and names, not {name}"
                    ));
                }
                self.expect(Token::Comma, ", in startswith")?;
                let Some(Token::Text(prefix)) = self.next() else {
                    return Err("startswith needs a quoted prefix".into());
                };
                self.expect(Token::Close, ") after startswith")?;
                Ok(Expr::StartsWith(field, prefix))
            }
            Some(Token::Word(name)) => {
                let field = self.field(&name)?;
                let op = match self.next() {
                    Some(Token::Word(op)) if op == "eq" || op == "ne" => op,
                    _ => return Err(format!("expected eq or ne after {name}")),
                };
                let value = match self.next() {
                    Some(Token::Text(text)) => Value::Text(text),
                    Some(Token::Word(w)) if w == "true" => Value::Bool(true),
                    Some(Token::Word(w)) if w == "false" => Value::Bool(false),
                    Some(Token::Word(w)) if w == "null" => Value::Null,
                    _ => {
                        return Err(format!(
                            "expected a quoted value, true, false or null after {name} {op}"
                        ))
                    }
                };
                let boolean = matches!(field, Field::ServiceEnabled(_));
                if boolean != matches!(value, Value::Bool(_)) {
                    return Err(if boolean {
                        format!("{name} is true or false")
                    } else {
                        format!("{name} takes a quoted value or null")
                    });
                }
                Ok(if op == "eq" {
                    Expr::Eq(field, value)
                } else {
                    Expr::Ne(field, value)
                })
            }
            _ => Err("expected a condition".into()),
        }
    }
}

/// Parses `filter` for `resource`, or a 400 that says what is supported.
pub fn parse(filter: &str, resource: Resource) -> Result<Expr, ApiError> {
    let fail = |why: String| {
        ApiError::invalid(Violation::new(
            "filter",
            Code::UnsupportedFilter,
            format!("{why}. Supported: {}", resource.supported()),
        ))
    };
    if filter.len() > MAX_FILTER_LEN {
        return Err(fail(format!(
            "the filter is longer than {MAX_FILTER_LEN} bytes"
        )));
    }
    let tokens = tokens(filter).map_err(fail)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        resource,
        depth: 0,
        conditions: 0,
    };
    let expr = parser.or().map_err(fail)?;
    if parser.at < parser.tokens.len() {
        return Err(fail(
            "unexpected text after the end of the expression".into(),
        ));
    }
    Ok(expr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let expr = parse(
            "accountName eq 'a' or not lineType eq 'mobile' and startswith(telephoneNumber,'+44')",
            Resource::Numbers,
        )
        .unwrap();
        let expected = Expr::Or(
            Box::new(Expr::Eq(Field::AccountName, Value::Text("a".into()))),
            Box::new(Expr::And(
                Box::new(Expr::Not(Box::new(Expr::Eq(
                    Field::LineType,
                    Value::Text("mobile".into()),
                )))),
                Box::new(Expr::StartsWith(Field::TelephoneNumber, "+44".into())),
            )),
        );
        assert_eq!(expr, expected);
    }

    #[test]
    fn quotes_escape_by_doubling() {
        let expr = parse(
            "configuration/customSipHeader eq 'o''brien'",
            Resource::Numbers,
        )
        .unwrap();
        assert_eq!(
            expr,
            Expr::Eq(Field::CustomSipHeader, Value::Text("o'brien".into()))
        );
    }

    #[test]
    fn nesting_length_and_breadth_are_bounded_with_a_named_limit() {
        let nested = |depth: usize| {
            format!(
                "{}accountName eq 'a'{}",
                "(".repeat(depth),
                ")".repeat(depth)
            )
        };
        assert!(parse(&nested(MAX_DEPTH), Resource::Numbers).is_ok());
        // Far past the limit, as an attacker would send it: refused, not a stack overflow.
        for hostile in [
            nested(MAX_DEPTH + 1),
            "(".repeat(15_000),
            "not ".repeat(15_000) + "accountName eq 'a'",
        ] {
            let error = parse(&hostile, Resource::Numbers).unwrap_err();
            assert_eq!(error.body.target.as_deref(), Some("filter"));
            assert!(
                error.body.message.contains("deep") || error.body.message.contains("longer than"),
                "{}",
                error.body.message
            );
        }
        let error = parse(&"(".repeat(MAX_DEPTH + 1), Resource::Numbers).unwrap_err();
        assert!(
            error.body.message.contains("32 deep"),
            "{}",
            error.body.message
        );
        let wide = vec!["accountName eq 'a'"; MAX_CONDITIONS + 1].join(" or ");
        assert!(wide.len() < MAX_FILTER_LEN);
        let error = parse(&wide, Resource::Numbers).unwrap_err();
        assert!(error.body.message.contains("more than 64 conditions"));
    }

    #[test]
    fn what_is_not_supported_says_what_is() {
        for bad in [
            "telephoneNumber gt '+1'",
            "price eq '1'",
            "(accountName eq 'a'",
            "serviceDetails/teamsDirectRouting/enabled eq 'yes'",
            "startswith(lineType,'f')",
        ] {
            let error = parse(bad, Resource::Numbers).unwrap_err();
            assert!(
                error
                    .body
                    .message
                    .contains("Supported: eq/ne on telephoneNumber"),
                "{bad}: {}",
                error.body.message
            );
            assert_eq!(error.body.target.as_deref(), Some("filter"));
        }
    }
}
