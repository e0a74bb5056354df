//! The approvals page: pending and decided approvals, filters, counts, the median decision
//! time, CSV export.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::Approval;

/// The page's filters (`?state=pending&approver=3&q=text`).
#[derive(Debug, Default)]
pub(super) struct Filter {
    state: Option<String>,
    approver: Option<u64>,
    text: Option<String>,
}

impl Filter {
    pub(super) fn from_query(query: &HashMap<String, String>) -> Self {
        Self {
            state: query.get("state").filter(|s| !s.is_empty()).cloned(),
            approver: query.get("approver").and_then(|a| a.parse().ok()),
            text: query
                .get("q")
                .filter(|s| !s.is_empty())
                .map(|s| s.to_lowercase()),
        }
    }

    pub(super) fn matches(&self, approval: &Approval) -> bool {
        self.state.as_ref().is_none_or(|s| *s == approval.state)
            && self
                .approver
                .is_none_or(|user| approval.steps.iter().any(|s| s.user == user))
            && self
                .text
                .as_ref()
                .is_none_or(|t| approval.title.to_lowercase().contains(t))
    }
}

/// The median time from creation to decision, in milliseconds.
pub(super) fn median_decision_ms(approvals: &[Approval]) -> Option<i64> {
    let mut times: Vec<i64> = approvals
        .iter()
        .filter_map(|a| Some(a.decided_at?.saturating_sub(a.created_at)))
        .collect();
    if times.is_empty() {
        return None;
    }
    times.sort_unstable();
    let mid = times.len() / 2;
    Some(if times.len().is_multiple_of(2) {
        times[mid - 1].saturating_add(times[mid]) / 2
    } else {
        times[mid]
    })
}

/// `2024-05-01 12:30` (UTC) from Unix milliseconds.
pub(crate) fn format_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}",
        rem / 3600,
        (rem % 3600) / 60
    )
}

fn duration(ms: i64) -> String {
    let secs = ms / 1000;
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{} min", secs / 60)
    } else {
        format!("{}.{} h", secs / 3600, (secs % 3600) / 360)
    }
}

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn message(text: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Approvals</title></head><body><h1>Approvals</h1><p>{}</p></body></html>",
        escape(text)
    )
}

fn approvers(approval: &Approval) -> String {
    approval
        .steps
        .iter()
        .map(|s| format!("{} ({})", s.user, s.state))
        .collect::<Vec<_>>()
        .join(" → ")
}

pub(super) fn html(
    approvals: &[Approval],
    filter: &Filter,
    code: Option<&str>,
    bot: Option<&str>,
) -> String {
    let count = |state: &str| approvals.iter().filter(|a| a.state == state).count();
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Approvals</title></head><body><h1>Approvals</h1>",
    );
    let _ = write!(
        out,
        "<p id=\"counts\">Pending: <b>{}</b> · Approved: <b>{}</b> · Rejected: <b>{}</b> · Median decision time: <b>{}</b></p>",
        count("pending"),
        count("approved"),
        count("rejected"),
        median_decision_ms(approvals).map_or_else(|| "—".into(), duration)
    );
    let _ = write!(
        out,
        "<form method=\"get\"><select name=\"state\"><option value=\"\">all</option><option{}>pending</option><option{}>approved</option><option{}>rejected</option></select> \
         approver <input name=\"approver\" size=\"4\" value=\"{}\"> title <input name=\"q\" value=\"{}\"> <button>Filter</button> \
         <a href=\"?format=csv\">Export CSV</a></form>",
        if filter.state.as_deref() == Some("pending") {
            " selected"
        } else {
            ""
        },
        if filter.state.as_deref() == Some("approved") {
            " selected"
        } else {
            ""
        },
        if filter.state.as_deref() == Some("rejected") {
            " selected"
        } else {
            ""
        },
        filter.approver.map(|a| a.to_string()).unwrap_or_default(),
        escape(filter.text.as_deref().unwrap_or_default()),
    );
    if let Some(code) = code {
        let link = bot.map_or_else(String::new, |bot| {
            format!(
                " (<a href=\"https://t.me/{0}?start={1}\">open the bot</a>)",
                escape(bot),
                escape(code)
            )
        });
        let _ = write!(
            out,
            "<p id=\"link\">To decide from Telegram, send <code>/start {}</code> to the bot{link}. The code works once.</p>",
            escape(code)
        );
    }
    out.push_str("<table border=\"1\"><tr><th>Title</th><th>State</th><th>Approvers</th><th>Task</th><th>CRM</th><th>Deadline</th><th>Created</th><th>Decided</th><th>Channel</th><th>Reason</th></tr>");
    for a in approvals {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&a.state),
            escape(&a.title),
            escape(&a.state),
            escape(&approvers(a)),
            a.task_id.map(|t| t.to_string()).unwrap_or_default(),
            escape(a.crm_binding.as_deref().unwrap_or_default()),
            a.deadline_ms.map(format_time).unwrap_or_default(),
            format_time(a.created_at),
            a.decided_at.map(format_time).unwrap_or_default(),
            escape(a.channel.as_deref().unwrap_or_default()),
            escape(a.reason.as_deref().unwrap_or_default()),
        );
    }
    out.push_str("</table></body></html>");
    out
}

fn csv_field(text: &str) -> String {
    // A leading = + - @ would run as a formula in a spreadsheet.
    let text = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

pub(super) fn csv(approvals: &[Approval]) -> String {
    let mut out = String::from(
        "id,title,state,approvers,task_id,crm_binding,deadline,created_at,decided_at,decided_by,channel,reason\r\n",
    );
    for a in approvals {
        let row = [
            a.id.clone(),
            a.title.clone(),
            a.state.clone(),
            a.steps
                .iter()
                .map(|s| s.user.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            a.task_id.map(|t| t.to_string()).unwrap_or_default(),
            a.crm_binding.clone().unwrap_or_default(),
            a.deadline_ms.map(format_time).unwrap_or_default(),
            format_time(a.created_at),
            a.decided_at.map(format_time).unwrap_or_default(),
            a.decided_by.map(|u| u.to_string()).unwrap_or_default(),
            a.channel.clone().unwrap_or_default(),
            a.reason.clone().unwrap_or_default(),
        ];
        out.push_str(
            &row.iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
    }
    out
}

/// ISO 8601 in UTC (`2024-05-01T12:30:00+00:00`), as task `DEADLINE` takes it.
pub(crate) fn iso_time(ms: i64) -> String {
    let minutes = format_time(ms).replace(' ', "T");
    format!("{minutes}:{:02}+00:00", ms.div_euclid(1000).rem_euclid(60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_fields() {
        assert_eq!(format_time(0), "1970-01-01 00:00");
        assert_eq!(format_time(1_714_566_600_000), "2024-05-01 12:30");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
    }
}
