//! A change's field-by-field difference, worked out from the before and after JSON the audit
//! trail keeps: what a person reviewing the history wants to read.

use serde::Serialize;
use std::collections::BTreeMap;

/// One field that a change set, altered or removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// A dotted path, e.g. `services.teamsOperatorConnect.configuration.usage`.
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// The fields that differ between `before` and `after` (either may be absent: a creation or a
/// deletion), in path order. Text that is not JSON is compared as one value.
pub fn field_changes(before: Option<&str>, after: Option<&str>) -> Vec<FieldChange> {
    let (before, after) = (flat(before), flat(after));
    let mut fields: Vec<&String> = before.keys().chain(after.keys()).collect();
    fields.sort();
    fields.dedup();
    fields
        .into_iter()
        .filter(|field| before.get(*field) != after.get(*field))
        .map(|field| FieldChange {
            field: field.clone(),
            before: before.get(field).cloned(),
            after: after.get(field).cloned(),
        })
        .collect()
}

fn flat(json: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(text) = json {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => flatten("", &value, &mut out),
            Err(_) => {
                out.insert(String::new(), text.to_owned());
            }
        }
    }
    out
}

fn flatten(path: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Null => {}
        Value::Object(fields) => {
            for (key, value) in fields {
                flatten(&join(key), value, out);
            }
        }
        // A list of plain values reads best as one value; a list of objects item by item.
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            if !items.is_empty() {
                let text: Vec<String> = items.iter().map(scalar).collect();
                out.insert(path.to_owned(), text.join(", "));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), item, out);
            }
        }
        other => {
            out.insert(path.to_owned(), scalar(other));
        }
    }
}

fn scalar(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_fields_that_differ_are_listed() {
        let before = r#"{"telephoneNumber":"+441632960001","customSipHeader":"a","services":{"teamsDirectRouting":true,"zoomPhoneCloudPeering":null}}"#;
        let after = r#"{"telephoneNumber":"+441632960001","customSipHeader":"b","services":{"teamsDirectRouting":true,"teamsOperatorConnect":{"enabled":true,"configuration":{"choosableCapabilities":["InboundCalling","OutboundCalling"]}}}}"#;
        let changes = field_changes(Some(before), Some(after));
        assert_eq!(
            changes,
            [
                FieldChange {
                    field: "customSipHeader".into(),
                    before: Some("a".into()),
                    after: Some("b".into())
                },
                FieldChange {
                    field: "services.teamsOperatorConnect.configuration.choosableCapabilities"
                        .into(),
                    before: None,
                    after: Some("InboundCalling, OutboundCalling".into())
                },
                FieldChange {
                    field: "services.teamsOperatorConnect.enabled".into(),
                    before: None,
                    after: Some("true".into())
                },
            ]
        );
    }

    #[test]
    fn a_creation_lists_every_field_and_a_deletion_removes_them() {
        let number = r#"{"telephoneNumber":"+441632960001","accountName":"contoso"}"#;
        assert_eq!(field_changes(None, Some(number)).len(), 2);
        let gone = field_changes(Some(number), None);
        assert!(gone.iter().all(|c| c.after.is_none() && c.before.is_some()));
    }
}
