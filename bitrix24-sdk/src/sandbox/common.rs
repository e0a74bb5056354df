//! Methods outside the modelled scopes that integrations and the docs' examples rely on:
//! `app.info`, `profile`, `department.get`.

use serde_json::{Value, json};

use super::list::{ListShape, Table, list, parse_filter, parse_order, parse_start};
use super::registry::{CallerKind, Ctx, Registry};
use super::reply::{Fail, Outcome, Reply};

/// The departments every sandbox has, as `department.get` returns them.
fn departments() -> Table {
    let mut table = Table::default();
    for (id, name, parent) in [
        (1, "Company", None),
        (2, "Sales", Some(1)),
        (3, "Support", Some(1)),
    ] {
        let Value::Object(mut row) =
            json!({ "ID": id.to_string(), "NAME": name, "SORT": 500, "UF_HEAD": "1" })
        else {
            continue;
        };
        if let Some(parent) = parent {
            row.insert("PARENT".into(), Value::String(format!("{parent}")));
        }
        table.put(id, row);
    }
    table
}

/// `app.info`: the calling application; webhooks have no application context.
fn app_info(ctx: &mut Ctx<'_>) -> Outcome {
    let CallerKind::App { client_id } = &ctx.caller.kind else {
        return Err(Fail::new(
            403,
            "ACCESS_DENIED",
            "Access denied! Application context required",
        ));
    };
    Ok(Reply::new(json!({
        "ID": 1,
        "CODE": client_id,
        "VERSION": 1,
        "STATUS": "L",
        "INSTALLED": true,
        "PAYMENT_EXPIRED": "N",
        "DAYS": null,
        "LANGUAGE_ID": "en",
        "LICENSE": "en_project",
        "LICENSE_TYPE": "project",
        "LICENSE_FAMILY": "project",
    })))
}

/// `profile`: the calling user, briefly.
#[allow(
    clippy::unnecessary_wraps,
    reason = "every handler has the same signature"
)]
fn profile(ctx: &mut Ctx<'_>) -> Outcome {
    let user = super::user::get(ctx.state, ctx.caller.user_id)
        .cloned()
        .unwrap_or_default();
    Ok(Reply::new(json!({
        "ID": ctx.caller.user_id.to_string(),
        "ADMIN": ctx.caller.user_id == 1,
        "NAME": user.get("NAME").cloned().unwrap_or(Value::Null),
        "LAST_NAME": user.get("LAST_NAME").cloned().unwrap_or(Value::Null),
        "PERSONAL_GENDER": "",
        "TIME_ZONE": "",
        "TIME_ZONE_OFFSET": 0,
    })))
}

/// `department.get`: filters are top-level keys (`ID`, `NAME`, `PARENT`, `UF_HEAD`).
fn department_get(ctx: &mut Ctx<'_>) -> Outcome {
    let table = departments();
    let mut filter = serde_json::Map::new();
    for (key, value) in &ctx.params.0 {
        if ["ID", "NAME", "PARENT", "UF_HEAD"]
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key))
        {
            filter.insert(key.to_ascii_uppercase(), value.clone());
        }
    }
    let conds = parse_filter(Some(&Value::Object(filter)))?;
    let order = parse_order(ctx.params.get("sort").map(|sort| {
        json!({ sort.as_str().unwrap_or("ID"): ctx.params.str("order").unwrap_or_else(|| "ASC".into()) })
    }).as_ref());
    let page = list(
        &table,
        &conds,
        &order,
        parse_start(ctx.params),
        ListShape {
            id_field: "ID",
            default_desc: false,
        },
    );
    let rows = page
        .rows
        .iter()
        .map(|row| Value::Object((*row).clone()))
        .collect();
    Ok(Reply::page(
        Value::Array(rows),
        page.total,
        page.next,
        page.work,
    ))
}

pub(crate) fn register(registry: &mut Registry) {
    registry.method("app.info", app_info);
    registry.method("profile", profile);
    registry.method("department.get", department_get);
}
