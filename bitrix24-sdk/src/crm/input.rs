//! Input builders for the `fields` of CRM add and update calls.
//!
//! Only the fields a caller sets are sent: on `.update` an unset field keeps its value.

use crate::types::{Id, MultiFieldType, field_map, multi_field_setters, setters};

field_map! {
    /// The `fields` of `crm.lead.add` and `crm.lead.update` (`UPPER_SNAKE` names).
    ///
    /// ```
    /// use bitrix24::crm::LeadFields;
    /// let fields = LeadFields::new()
    ///     .title("Website form")
    ///     .name("Ann")
    ///     .phone("+1 555 0100", "WORK")
    ///     .opened(true)
    ///     .uf("UF_CRM_SOURCE_PAGE", "/pricing");
    /// assert_eq!(
    ///     serde_json::to_value(&fields).unwrap(),
    ///     serde_json::json!({
    ///         "TITLE": "Website form",
    ///         "NAME": "Ann",
    ///         "PHONE": [{"VALUE": "+1 555 0100", "VALUE_TYPE": "WORK"}],
    ///         "OPENED": "Y",
    ///         "UF_CRM_SOURCE_PAGE": "/pricing"
    ///     })
    /// );
    /// ```
    pub struct LeadFields;
}

field_map! {
    /// The `fields` of `crm.deal.add` and `crm.deal.update` (`UPPER_SNAKE` names).
    pub struct DealFields;
}

field_map! {
    /// The `fields` of `crm.contact.add` and `crm.contact.update` (`UPPER_SNAKE` names).
    pub struct ContactFields;
}

field_map! {
    /// The `fields` of `crm.company.add` and `crm.company.update` (`UPPER_SNAKE` names).
    pub struct CompanyFields;
}

field_map! {
    /// The `fields` of `crm.item.add` and `crm.item.update` (camelCase names; user fields as
    /// `ufCrm…`, parent links as `parentId<entityTypeId>`).
    ///
    /// ```
    /// use bitrix24::crm::ItemFields;
    /// let fields = ItemFields::new().title("Renewal").stage_id("C9:NEW").parent_id(1220, 2_u64);
    /// assert_eq!(
    ///     serde_json::to_value(&fields).unwrap(),
    ///     serde_json::json!({"title": "Renewal", "stageId": "C9:NEW", "parentId1220": 2})
    /// );
    /// ```
    pub struct ItemFields;
}

/// Setters every `UPPER_SNAKE` CRM entity shares.
macro_rules! common_setters {
    () => {
        setters! {
            /// `COMMENTS`: comment (BB-code allowed).
            text comments = "COMMENTS";
            /// `ASSIGNED_BY_ID`: the responsible user.
            id assigned_by_id = "ASSIGNED_BY_ID";
            /// `OPENED`: whether every user may see it.
            flag opened = "OPENED";
            /// `ORIGINATOR_ID`: the external system the record comes from.
            text originator_id = "ORIGINATOR_ID";
            /// `ORIGIN_ID`: the record's id in that external system.
            text origin_id = "ORIGIN_ID";
            /// `UTM_SOURCE`.
            text utm_source = "UTM_SOURCE";
            /// `UTM_MEDIUM`.
            text utm_medium = "UTM_MEDIUM";
            /// `UTM_CAMPAIGN`.
            text utm_campaign = "UTM_CAMPAIGN";
            /// `UTM_CONTENT`.
            text utm_content = "UTM_CONTENT";
            /// `UTM_TERM`.
            text utm_term = "UTM_TERM";
        }
    };
}

/// Address setters of leads, contacts and companies.
macro_rules! address_setters {
    () => {
        setters! {
            /// `ADDRESS`: street, house and flat.
            text address = "ADDRESS";
            /// `ADDRESS_2`: the second address line.
            text address_2 = "ADDRESS_2";
            /// `ADDRESS_CITY`.
            text address_city = "ADDRESS_CITY";
            /// `ADDRESS_POSTAL_CODE`.
            text address_postal_code = "ADDRESS_POSTAL_CODE";
            /// `ADDRESS_REGION`: district.
            text address_region = "ADDRESS_REGION";
            /// `ADDRESS_PROVINCE`: region or province.
            text address_province = "ADDRESS_PROVINCE";
            /// `ADDRESS_COUNTRY`.
            text address_country = "ADDRESS_COUNTRY";
            /// `ADDRESS_COUNTRY_CODE`.
            text address_country_code = "ADDRESS_COUNTRY_CODE";
        }
    };
}

/// Name setters of leads and contacts.
macro_rules! person_setters {
    () => {
        setters! {
            /// `HONORIFIC`: salutation code (`crm.status.list` with `HONORIFIC`).
            text honorific = "HONORIFIC";
            /// `NAME`: first name.
            text name = "NAME";
            /// `SECOND_NAME`: middle name.
            text second_name = "SECOND_NAME";
            /// `LAST_NAME`: last name.
            text last_name = "LAST_NAME";
            /// `BIRTHDATE`: date of birth (ISO-8601 or the portal's date format).
            date birthdate = "BIRTHDATE";
            /// `POST`: job title.
            text post = "POST";
            /// `SOURCE_ID`: source code (`crm.status.list` with `SOURCE`).
            text source_id = "SOURCE_ID";
            /// `SOURCE_DESCRIPTION`: more about the source.
            text source_description = "SOURCE_DESCRIPTION";
        }
    };
}

/// `parent_id(entity_type_id, id)` for `PARENT_ID_<entityTypeId>`.
macro_rules! parent_setter {
    () => {
        /// `PARENT_ID_<entity_type_id>`: links the record to a parent of a smart-process type.
        #[must_use]
        pub fn parent_id(self, entity_type_id: u64, id: impl Into<Id>) -> Self {
            self.set(format!("PARENT_ID_{entity_type_id}"), id.into().get())
        }
    };
}

impl LeadFields {
    setters! {
        /// `TITLE`: the lead's title.
        text title = "TITLE";
        /// `STATUS_ID`: stage code (`NEW`, `IN_PROCESS`, …).
        text status_id = "STATUS_ID";
        /// `STATUS_DESCRIPTION`: more about the stage.
        text status_description = "STATUS_DESCRIPTION";
        /// `COMPANY_TITLE`: the company name typed into the lead.
        text company_title = "COMPANY_TITLE";
        /// `COMPANY_ID`: links an existing company.
        id company_id = "COMPANY_ID";
        /// `CONTACT_ID`: links an existing contact.
        id contact_id = "CONTACT_ID";
        /// `CONTACT_IDS`: links several existing contacts.
        ids contact_ids = "CONTACT_IDS";
        /// `CURRENCY_ID`: currency code.
        text currency_id = "CURRENCY_ID";
        /// `OPPORTUNITY`: expected amount.
        number opportunity = "OPPORTUNITY";
        /// `IS_MANUAL_OPPORTUNITY`: whether the amount is typed in rather than computed.
        flag is_manual_opportunity = "IS_MANUAL_OPPORTUNITY";
    }
    person_setters!();
    common_setters!();
    address_setters!();
    multi_field_setters! {
        /// Adds a phone number (`PHONE`; `value_type` `WORK`, `MOBILE`, `HOME`, …).
        phone = "PHONE";
        /// Adds an e-mail address (`EMAIL`; `value_type` `WORK`, `HOME`, …).
        email = "EMAIL";
        /// Adds a web site (`WEB`).
        web = "WEB";
        /// Adds a messenger handle (`IM`; `value_type` `TELEGRAM`, `SKYPE`, …).
        im = "IM";
        /// Adds a link to a record in another system (`LINK`).
        link = "LINK";
    }
}

impl DealFields {
    setters! {
        /// `TITLE`: the deal's title.
        text title = "TITLE";
        /// `TYPE_ID`: deal type code (`SALE`, `COMPLEX`, `SERVICE`, …).
        text type_id = "TYPE_ID";
        /// `CATEGORY_ID`: the pipeline (only on create).
        id category_id = "CATEGORY_ID";
        /// `STAGE_ID`: stage code.
        text stage_id = "STAGE_ID";
        /// `IS_RECURRING`: whether it is a recurring-deal template.
        flag is_recurring = "IS_RECURRING";
        /// `IS_RETURN_CUSTOMER`: whether it is a repeat deal of a known client.
        flag is_return_customer = "IS_RETURN_CUSTOMER";
        /// `IS_REPEATED_APPROACH`: whether the client came back with a repeat request.
        flag is_repeated_approach = "IS_REPEATED_APPROACH";
        /// `PROBABILITY`: probability of success, in percent.
        int probability = "PROBABILITY";
        /// `CURRENCY_ID`: currency code.
        text currency_id = "CURRENCY_ID";
        /// `OPPORTUNITY`: amount.
        number opportunity = "OPPORTUNITY";
        /// `IS_MANUAL_OPPORTUNITY`: whether the amount is typed in rather than computed.
        flag is_manual_opportunity = "IS_MANUAL_OPPORTUNITY";
        /// `TAX_VALUE`: tax amount.
        number tax_value = "TAX_VALUE";
        /// `COMPANY_ID`: the client company.
        id company_id = "COMPANY_ID";
        /// `CONTACT_ID`: the main client contact.
        id contact_id = "CONTACT_ID";
        /// `CONTACT_IDS`: every client contact.
        ids contact_ids = "CONTACT_IDS";
        /// `BEGINDATE`: start date.
        date begindate = "BEGINDATE";
        /// `CLOSEDATE`: expected close date.
        date closedate = "CLOSEDATE";
        /// `CLOSED`: whether the deal is closed.
        flag closed = "CLOSED";
        /// `SOURCE_ID`: source code.
        text source_id = "SOURCE_ID";
        /// `SOURCE_DESCRIPTION`: more about the source.
        text source_description = "SOURCE_DESCRIPTION";
        /// `ADDITIONAL_INFO`: additional information.
        text additional_info = "ADDITIONAL_INFO";
        /// `LOCATION_ID`: location (for tax calculation).
        text location_id = "LOCATION_ID";
        /// `TRACE`: the visitor trace from the site's tracking script.
        text trace = "TRACE";
    }
    common_setters!();
    parent_setter!();
}

impl ContactFields {
    setters! {
        /// `PHOTO`: the contact's photo.
        file photo = "PHOTO";
        /// `TYPE_ID`: contact type code (`CLIENT`, `SUPPLIER`, `PARTNER`, …).
        text type_id = "TYPE_ID";
        /// `EXPORT`: whether it is included in exports.
        flag export = "EXPORT";
        /// `COMPANY_ID`: the main company.
        id company_id = "COMPANY_ID";
        /// `COMPANY_IDS`: every linked company.
        ids company_ids = "COMPANY_IDS";
        /// `TRACE`: the visitor trace from the site's tracking script.
        text trace = "TRACE";
    }
    person_setters!();
    common_setters!();
    address_setters!();
    parent_setter!();
    multi_field_setters! {
        /// Adds a phone number (`PHONE`; `value_type` `WORK`, `MOBILE`, `HOME`, …).
        phone = "PHONE";
        /// Adds an e-mail address (`EMAIL`; `value_type` `WORK`, `HOME`, …).
        email = "EMAIL";
        /// Adds a web site (`WEB`).
        web = "WEB";
        /// Adds a messenger handle (`IM`; `value_type` `TELEGRAM`, `SKYPE`, …).
        im = "IM";
        /// Adds a link to a record in another system (`LINK`).
        link = "LINK";
    }
}

impl CompanyFields {
    setters! {
        /// `TITLE`: the company name.
        text title = "TITLE";
        /// `COMPANY_TYPE`: company type code (`CUSTOMER`, `SUPPLIER`, …).
        text company_type = "COMPANY_TYPE";
        /// `INDUSTRY`: industry code.
        text industry = "INDUSTRY";
        /// `EMPLOYEES`: head-count range code (`EMPLOYEES_1`, …).
        text employees = "EMPLOYEES";
        /// `CURRENCY_ID`: currency of the revenue.
        text currency_id = "CURRENCY_ID";
        /// `REVENUE`: annual revenue.
        number revenue = "REVENUE";
        /// `LOGO`: the company's logo.
        file logo = "LOGO";
        /// `IS_MY_COMPANY`: whether it is one of the portal's own companies.
        flag is_my_company = "IS_MY_COMPANY";
        /// `SOURCE_ID`: source code.
        text source_id = "SOURCE_ID";
        /// `SOURCE_DESCRIPTION`: more about the source.
        text source_description = "SOURCE_DESCRIPTION";
    }
    common_setters!();
    address_setters!();
    parent_setter!();
    multi_field_setters! {
        /// Adds a phone number (`PHONE`; `value_type` `WORK`, `MOBILE`, …).
        phone = "PHONE";
        /// Adds an e-mail address (`EMAIL`).
        email = "EMAIL";
        /// Adds a web site (`WEB`).
        web = "WEB";
        /// Adds a messenger handle (`IM`).
        im = "IM";
    }
}

impl ItemFields {
    setters! {
        /// `title`.
        text title = "title";
        /// `xmlId`: external code.
        text xml_id = "xmlId";
        /// `categoryId`: the pipeline (only on create).
        id category_id = "categoryId";
        /// `stageId`: stage code.
        text stage_id = "stageId";
        /// `typeId`: type code (deals, contacts).
        text type_id = "typeId";
        /// `name`: first name (leads, contacts).
        text name = "name";
        /// `secondName`: middle name.
        text second_name = "secondName";
        /// `lastName`: last name.
        text last_name = "lastName";
        /// `honorific`: salutation code.
        text honorific = "honorific";
        /// `post`: job title.
        text post = "post";
        /// `birthdate`: date of birth.
        date birthdate = "birthdate";
        /// `companyTitle`: the company name typed into a lead.
        text company_title = "companyTitle";
        /// `assignedById`: the responsible user.
        id assigned_by_id = "assignedById";
        /// `opened`: whether every user may see it.
        flag opened = "opened";
        /// `opportunity`: amount.
        number opportunity = "opportunity";
        /// `isManualOpportunity`: whether the amount is typed in rather than computed.
        flag is_manual_opportunity = "isManualOpportunity";
        /// `taxValue`: tax amount.
        number tax_value = "taxValue";
        /// `currencyId`: currency code.
        text currency_id = "currencyId";
        /// `probability`: probability of success, in percent.
        int probability = "probability";
        /// `companyId`: the client company.
        id company_id = "companyId";
        /// `contactId`: the main client contact.
        id contact_id = "contactId";
        /// `contactIds`: every client contact.
        ids contact_ids = "contactIds";
        /// `leadId`: the lead it comes from.
        id lead_id = "leadId";
        /// `quoteId`: the quote it comes from.
        id quote_id = "quoteId";
        /// `mycompanyId`: the portal's own company on documents.
        id mycompany_id = "mycompanyId";
        /// `observers`: observer user ids.
        ids observers = "observers";
        /// `begindate`: start date.
        date begindate = "begindate";
        /// `closedate`: expected close date.
        date closedate = "closedate";
        /// `sourceId`: source code.
        text source_id = "sourceId";
        /// `sourceDescription`: more about the source.
        text source_description = "sourceDescription";
        /// `comments`: comment (BB-code allowed).
        text comments = "comments";
        /// `additionalInfo`: additional information.
        text additional_info = "additionalInfo";
        /// `webformId`: the CRM form it came from.
        id webform_id = "webformId";
        /// `originatorId`: the external system the record comes from.
        text originator_id = "originatorId";
        /// `originId`: the record's id in that external system.
        text origin_id = "originId";
        /// `utmSource`.
        text utm_source = "utmSource";
        /// `utmMedium`.
        text utm_medium = "utmMedium";
        /// `utmCampaign`.
        text utm_campaign = "utmCampaign";
        /// `utmContent`.
        text utm_content = "utmContent";
        /// `utmTerm`.
        text utm_term = "utmTerm";
    }

    /// `parentId<entity_type_id>`: links the item to a parent record.
    #[must_use]
    pub fn parent_id(self, entity_type_id: u64, id: impl Into<Id>) -> Self {
        self.set(format!("parentId{entity_type_id}"), id.into().get())
    }

    /// Adds a multi-field value to `fm` (leads, contacts, companies): `{typeId, valueType,
    /// value}`.
    #[must_use]
    pub fn fm(
        self,
        field: MultiFieldType,
        value: impl Into<String>,
        value_type: impl Into<String>,
    ) -> Self {
        let entry = serde_json::json!({
            "typeId": String::from(field),
            "valueType": value_type.into(),
            "value": value.into(),
        });
        self.push("fm", entry)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::types::{FileData, MultiFieldInput};

    #[test]
    #[allow(clippy::too_many_lines)]
    fn builders_send_only_what_is_set() {
        let table = [
            (serde_json::to_value(LeadFields::new()).unwrap(), json!({})),
            (
                serde_json::to_value(
                    LeadFields::new()
                        .title("ИП Титов")
                        .status_id("NEW")
                        .opened(true)
                        .assigned_by_id(1_u64)
                        .currency_id("USD")
                        .opportunity(12500.0)
                        .phone("555888", "WORK")
                        .web("www.mysite.com", "WORK"),
                )
                .unwrap(),
                json!({
                    "TITLE": "ИП Титов", "STATUS_ID": "NEW", "OPENED": "Y", "ASSIGNED_BY_ID": 1,
                    "CURRENCY_ID": "USD", "OPPORTUNITY": 12500.0,
                    "PHONE": [{"VALUE": "555888", "VALUE_TYPE": "WORK"}],
                    "WEB": [{"VALUE": "www.mysite.com", "VALUE_TYPE": "WORK"}]
                }),
            ),
            (
                serde_json::to_value(
                    LeadFields::new()
                        .phone("1", "WORK")
                        .multi_field(MultiFieldType::Phone, MultiFieldInput::delete(9_u64))
                        .multi_field(
                            MultiFieldType::Email,
                            MultiFieldInput::change(Id(3), "a@b.c", "HOME"),
                        ),
                )
                .unwrap(),
                json!({
                    "PHONE": [{"VALUE": "1", "VALUE_TYPE": "WORK"}, {"ID": 9, "DELETE": "Y"}],
                    "EMAIL": [{"ID": 3, "VALUE": "a@b.c", "VALUE_TYPE": "HOME"}]
                }),
            ),
            (
                serde_json::to_value(
                    DealFields::new()
                        .title("Deal")
                        .category_id(0_u64)
                        .contact_ids([84_u64, 83])
                        .probability(99)
                        .closed(false)
                        .parent_id(1220, 22_u64)
                        .uf("UF_CRM_1721244482250", "hi"),
                )
                .unwrap(),
                json!({
                    "TITLE": "Deal", "CATEGORY_ID": 0, "CONTACT_IDS": [84, 83], "PROBABILITY": 99,
                    "CLOSED": "N", "PARENT_ID_1220": 22, "UF_CRM_1721244482250": "hi"
                }),
            ),
            (
                serde_json::to_value(
                    ContactFields::new()
                        .name("Ivan")
                        .photo(FileData::new("p.png", "x"))
                        .company_ids([12_u64, 13])
                        .email("i@example.com", "WORK"),
                )
                .unwrap(),
                json!({
                    "NAME": "Ivan", "PHOTO": {"fileData": ["p.png", "eA=="]},
                    "COMPANY_IDS": [12, 13],
                    "EMAIL": [{"VALUE": "i@example.com", "VALUE_TYPE": "WORK"}]
                }),
            ),
            (
                serde_json::to_value(
                    CompanyFields::new()
                        .title("ACME")
                        .revenue(500_000.0)
                        .logo(FileData::remove(4_u64))
                        .is_my_company(false),
                )
                .unwrap(),
                json!({
                    "TITLE": "ACME", "REVENUE": 500_000.0, "LOGO": {"id": 4, "remove": "Y"},
                    "IS_MY_COMPANY": "N"
                }),
            ),
            (
                serde_json::to_value(
                    ItemFields::new()
                        .title("Item")
                        .assigned_by_id(6_u64)
                        .observers([2_u64, 3])
                        .fm(MultiFieldType::Phone, "+1", "WORK")
                        .uf("ufCrm_1721244707107", 1111.1),
                )
                .unwrap(),
                json!({
                    "title": "Item", "assignedById": 6, "observers": [2, 3],
                    "fm": [{"typeId": "PHONE", "valueType": "WORK", "value": "+1"}],
                    "ufCrm_1721244707107": 1111.1
                }),
            ),
        ];
        for (got, want) in table {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn builders_read_any_object_back() {
        let body =
            json!({"TITLE": "x", "PHONE": [{"VALUE": "1", "VALUE_TYPE": "WORK"}], "UF_CRM_1": 5});
        let fields: LeadFields = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(fields.get("UF_CRM_1"), Some(&json!(5)));
        assert_eq!(serde_json::to_value(&fields).unwrap(), body);
        let fields = fields.unset("UF_CRM_1").set("NAME", "Ann");
        assert_eq!(fields.as_map().len(), 3);
        assert!(!fields.is_empty());
        assert_eq!(
            serde_json::Value::from(fields.clone()),
            json!(fields.into_map())
        );
        assert!(serde_json::from_value::<LeadFields>(json!([1])).is_err());
    }
}
