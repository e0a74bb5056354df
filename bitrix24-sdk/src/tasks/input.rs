//! [`TaskFields`]: the `fields` of `tasks.task.add` and `tasks.task.update`.

use super::TaskPriority;
use crate::types::{Id, field_map, setters};

field_map! {
    /// The `fields` of `tasks.task.add` and `tasks.task.update` (`UPPER_SNAKE` names, as the
    /// methods document them; their replies use camelCase).
    ///
    /// ```
    /// use bitrix24::tasks::{TaskFields, TaskPriority};
    /// let fields = TaskFields::new()
    ///     .title("Approve invoice #42")
    ///     .responsible_id(123_u64)
    ///     .priority(TaskPriority::High)
    ///     .crm_bindings(["D_10"]);
    /// assert_eq!(
    ///     serde_json::to_value(&fields).unwrap(),
    ///     serde_json::json!({
    ///         "TITLE": "Approve invoice #42",
    ///         "RESPONSIBLE_ID": 123,
    ///         "PRIORITY": 2,
    ///         "UF_CRM_TASK": ["D_10"]
    ///     })
    /// );
    /// ```
    pub struct TaskFields;
}

impl TaskFields {
    setters! {
        /// `TITLE`: title (required on create).
        text title = "TITLE";
        /// `DESCRIPTION`: description.
        text description = "DESCRIPTION";
        /// `RESPONSIBLE_ID`: the responsible user (required on create).
        id responsible_id = "RESPONSIBLE_ID";
        /// `CREATED_BY`: the creator (defaults to the caller).
        id created_by = "CREATED_BY";
        /// `ACCOMPLICES`: participants.
        ids accomplices = "ACCOMPLICES";
        /// `AUDITORS`: observers.
        ids auditors = "AUDITORS";
        /// `DEADLINE`: deadline (ISO-8601).
        date deadline = "DEADLINE";
        /// `START_DATE_PLAN`: planned start (ISO-8601).
        date start_date_plan = "START_DATE_PLAN";
        /// `END_DATE_PLAN`: planned end (ISO-8601).
        date end_date_plan = "END_DATE_PLAN";
        /// `GROUP_ID`: the workgroup or project.
        id group_id = "GROUP_ID";
        /// `STAGE_ID`: the Kanban stage.
        id stage_id = "STAGE_ID";
        /// `PARENT_ID`: the parent task.
        id parent_id = "PARENT_ID";
        /// `DEPENDS_ON`: tasks this one depends on.
        ids depends_on = "DEPENDS_ON";
        /// `TAGS`: tags.
        texts tags = "TAGS";
        /// `MARK`: the creator's mark (`P` positive, `N` negative).
        text mark = "MARK";
        /// `ALLOW_CHANGE_DEADLINE`: whether the responsible user may move the deadline.
        flag allow_change_deadline = "ALLOW_CHANGE_DEADLINE";
        /// `TASK_CONTROL`: whether the creator must approve the result.
        flag task_control = "TASK_CONTROL";
        /// `ALLOW_TIME_TRACKING`: whether time tracking is on.
        flag allow_time_tracking = "ALLOW_TIME_TRACKING";
        /// `MATCH_WORK_TIME`: whether dates skip non-working time.
        flag match_work_time = "MATCH_WORK_TIME";
        /// `TIME_ESTIMATE`: estimated time, in seconds.
        int time_estimate = "TIME_ESTIMATE";
        /// `XML_ID`: external code.
        text xml_id = "XML_ID";
        /// `SITE_ID`: the site (multi-site portals).
        text site_id = "SITE_ID";
        /// `UF_CRM_TASK`: linked CRM records (`L_4` lead, `C_7` contact, `CO_5` company,
        /// `D_10` deal, `T<type>_<id>` smart process).
        texts crm_bindings = "UF_CRM_TASK";
    }

    /// `PRIORITY`: 0 low, 1 average, 2 high.
    #[must_use]
    pub fn priority(self, priority: TaskPriority) -> Self {
        self.set("PRIORITY", priority.code())
    }

    /// `UF_TASK_WEBDAV_FILES`: attaches Disk files by file id (sent as `n<id>`, the form for
    /// files not yet attached anywhere).
    #[must_use]
    pub fn disk_files<I: Into<Id>>(self, file_ids: impl IntoIterator<Item = I>) -> Self {
        let files: Vec<serde_json::Value> = file_ids
            .into_iter()
            .map(|id| format!("n{}", id.into()).into())
            .collect();
        self.set("UF_TASK_WEBDAV_FILES", files)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_the_documented_body() {
        let fields = TaskFields::new()
            .title("Название задачи")
            .deadline("2025-12-31T23:59:59")
            .created_by(456_u64)
            .responsible_id(123_u64)
            .crm_bindings(["L_4", "C_7", "CO_5", "D_10"])
            .disk_files([12345_u64, 67890]);
        assert_eq!(
            serde_json::to_value(&fields).unwrap(),
            json!({"TITLE":"Название задачи","DEADLINE":"2025-12-31T23:59:59","CREATED_BY":456,
                   "RESPONSIBLE_ID":123,"UF_CRM_TASK":["L_4","C_7","CO_5","D_10"],
                   "UF_TASK_WEBDAV_FILES":["n12345","n67890"]})
        );
        let more = TaskFields::new()
            .priority(TaskPriority::Low)
            .accomplices([1_u64])
            .auditors([2_u64])
            .tags(["a"])
            .task_control(true)
            .time_estimate(3600);
        assert_eq!(
            serde_json::to_value(&more).unwrap(),
            json!({"PRIORITY": 0, "ACCOMPLICES": [1], "AUDITORS": [2], "TAGS": ["a"],
                   "TASK_CONTROL": "Y", "TIME_ESTIMATE": 3600})
        );
    }
}
