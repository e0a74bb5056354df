//! [`FieldInfo`]: the field descriptions `*.fields` and `*.getFields` methods return.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lenient;

/// One field's description, as `crm.lead.fields`, `crm.deal.fields`, `crm.company.fields`,
/// `crm.item.fields`, `crm.timeline.comment.fields` and `tasks.task.getFields` return it.
///
/// The CRM methods write `isRequired`/`isReadOnly`/…; `tasks.task.getFields` writes `required`,
/// `primary`, `default` and `values` (read into the same fields where they mean the same).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldInfo {
    /// `type`: `string`, `integer`, `double`, `char`, `date`, `datetime`, `crm_status`,
    /// `crm_multifield`, `user`, `enumeration`, `file`, …
    #[serde(rename = "type", default, with = "lenient::empty_as_none")]
    pub field_type: Option<String>,
    /// `title`: the field's display name in the portal's language.
    #[serde(default, with = "lenient::empty_as_none")]
    pub title: Option<String>,
    /// `isRequired` (CRM) or `required` (tasks).
    #[serde(
        rename = "isRequired",
        alias = "required",
        default,
        with = "lenient::yes_no"
    )]
    pub is_required: Option<bool>,
    /// `isReadOnly`: set by the portal, not by callers.
    #[serde(rename = "isReadOnly", default, with = "lenient::yes_no")]
    pub is_read_only: Option<bool>,
    /// `isImmutable`: can be set on creation only.
    #[serde(rename = "isImmutable", default, with = "lenient::yes_no")]
    pub is_immutable: Option<bool>,
    /// `isMultiple`: holds a list of values.
    #[serde(rename = "isMultiple", default, with = "lenient::yes_no")]
    pub is_multiple: Option<bool>,
    /// `isDynamic`: a user field (`UF_*`) or another portal-defined field.
    #[serde(rename = "isDynamic", default, with = "lenient::yes_no")]
    pub is_dynamic: Option<bool>,
    /// `isDeprecated`: kept for compatibility; do not use.
    #[serde(rename = "isDeprecated", default, with = "lenient::yes_no")]
    pub is_deprecated: Option<bool>,
    /// `primary` (tasks): the primary key.
    #[serde(default, with = "lenient::yes_no")]
    pub primary: Option<bool>,
    /// `statusType`: the status list (`crm.status.list` `ENTITY_ID`) of a `crm_status` field.
    #[serde(rename = "statusType", default, with = "lenient::empty_as_none")]
    pub status_type: Option<String>,
    /// `upperName` (`crm.item.fields`): the field's `UPPER_SNAKE` name.
    #[serde(rename = "upperName", default, with = "lenient::empty_as_none")]
    pub upper_name: Option<String>,
    /// `items`: the choices of an `enumeration` field (`[{ID, VALUE}]`).
    #[serde(default)]
    pub items: Option<Value>,
    /// `values` (tasks): the choices of an `enum` field, code to title.
    #[serde(default)]
    pub values: Option<Value>,
    /// `default` (tasks): the value used when the field is not given.
    #[serde(default)]
    pub default: Option<Value>,
    /// `settings`: type-specific settings (`parentEntityTypeId`, sizes, …).
    #[serde(default)]
    pub settings: Option<Value>,
    /// Anything else (`listLabel`, `formLabel`, `filterLabel`, …).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// Field name to description: the `result` of `crm.lead.fields` and the other CRM `.fields`
/// methods.
pub type FieldMap = BTreeMap<String, FieldInfo>;

/// `{"fields": {…}}`: the `result` of `crm.item.fields` and `tasks.task.getFields`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FieldsEnvelope {
    /// `fields`: field name to description.
    #[serde(default, with = "lenient::map")]
    pub fields: FieldMap,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_crm_and_tasks_descriptions() {
        let crm: FieldInfo = serde_json::from_value(json!({
            "type": "crm_status", "isRequired": false, "isReadOnly": true, "isImmutable": false,
            "isMultiple": false, "isDynamic": false, "statusType": "SOURCE", "title": "Source",
            "listLabel": "Src"
        }))
        .unwrap();
        assert_eq!(crm.field_type.as_deref(), Some("crm_status"));
        assert_eq!(crm.is_read_only, Some(true));
        assert_eq!(crm.status_type.as_deref(), Some("SOURCE"));
        assert_eq!(crm.extra["listLabel"], "Src");

        let task: FieldInfo = serde_json::from_value(json!({
            "title": "Priority", "type": "enum", "values": {"2": "High"}, "default": 1,
            "required": true
        }))
        .unwrap();
        assert_eq!(task.is_required, Some(true));
        assert_eq!(task.default, Some(json!(1)));
        assert!(task.extra.is_empty());

        let envelope: FieldsEnvelope =
            serde_json::from_value(json!({"fields": {"ID": {"type": "integer", "primary": true}}}))
                .unwrap();
        assert_eq!(envelope.fields["ID"].primary, Some(true));
    }
}
