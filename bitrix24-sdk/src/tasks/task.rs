//! [`Task`]: a task of `tasks.task.*`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::list::Identified;
use crate::types::{BxDateTime, Id, int_enum, lenient, via_value};

/// A task, as `tasks.task.get`, `tasks.task.list`, `tasks.task.add`, `tasks.task.update` and
/// the status changes (`tasks.task.start`, `.pause`, `.complete`, `.defer`, `.renew`, `.approve`,
/// `.disapprove`, `.delegate`) return it (inside [`TaskEnvelope`] / [`TasksPage`]).
///
/// Field names are camelCase (the `tasks.task.*` output form); `tasks.task.list` returns only the
/// selected fields. User fields (`ufCrmTask`, `ufTaskWebdavFiles`, `ufAuto…`) are in
/// [`Task::extra`] except the two modelled below; read others with [`Task::uf`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct Task {
    /// `id`: the id.
    pub id: Id,
    /// `parentId`: the parent task.
    #[serde(rename = "parentId", default, with = "lenient::opt")]
    pub parent_id: Option<Id>,
    /// `title`: title.
    #[serde(default, with = "lenient::empty_as_none")]
    pub title: Option<String>,
    /// `description`: description (BB-code when `descriptionInBbcode` is set).
    #[serde(default, with = "lenient::empty_as_none")]
    pub description: Option<String>,
    /// `descriptionInBbcode`: whether the description is BB-code.
    #[serde(rename = "descriptionInBbcode", default, with = "lenient::yes_no")]
    pub description_in_bbcode: Option<bool>,
    /// `mark`: the creator's mark: `P` positive, `N` negative.
    #[serde(default, with = "lenient::empty_as_none")]
    pub mark: Option<String>,
    /// `priority`: priority.
    #[serde(default, with = "lenient::opt")]
    pub priority: Option<TaskPriority>,
    /// `status`: status.
    #[serde(default, with = "lenient::opt")]
    pub status: Option<TaskStatus>,
    /// `subStatus`: the status as the current user sees it (for example overdue).
    #[serde(rename = "subStatus", default, with = "lenient::opt")]
    pub sub_status: Option<TaskStatus>,
    /// `multitask`: whether it was created for several responsible users at once.
    #[serde(default, with = "lenient::yes_no")]
    pub multitask: Option<bool>,
    /// `notViewed`: whether the responsible user has not opened it yet.
    #[serde(rename = "notViewed", default, with = "lenient::yes_no")]
    pub not_viewed: Option<bool>,
    /// `replicate`: whether it repeats on a schedule.
    #[serde(default, with = "lenient::yes_no")]
    pub replicate: Option<bool>,
    /// `groupId`: the workgroup or project (`0` when none).
    #[serde(rename = "groupId", default, with = "lenient::opt")]
    pub group_id: Option<Id>,
    /// `stageId`: the Kanban or My Plan stage.
    #[serde(rename = "stageId", default, with = "lenient::opt")]
    pub stage_id: Option<Id>,
    /// `sprintId`: the Scrum sprint.
    #[serde(rename = "sprintId", default, with = "lenient::opt")]
    pub sprint_id: Option<Id>,
    /// `backlogId`: the Scrum backlog.
    #[serde(rename = "backlogId", default, with = "lenient::opt")]
    pub backlog_id: Option<Id>,
    /// `flowId`: the flow it belongs to.
    #[serde(rename = "flowId", default, with = "lenient::opt")]
    pub flow_id: Option<Id>,
    /// `createdBy`: the creator.
    #[serde(rename = "createdBy", default, with = "lenient::opt")]
    pub created_by: Option<Id>,
    /// `createdDate`: when it was created.
    #[serde(rename = "createdDate", default, with = "lenient::opt")]
    pub created_date: Option<BxDateTime>,
    /// `responsibleId`: the responsible user.
    #[serde(rename = "responsibleId", default, with = "lenient::opt")]
    pub responsible_id: Option<Id>,
    /// `accomplices`: participants.
    #[serde(default, with = "lenient::seq")]
    pub accomplices: Vec<Id>,
    /// `auditors`: observers.
    #[serde(default, with = "lenient::seq")]
    pub auditors: Vec<Id>,
    /// `changedBy`: who changed it last.
    #[serde(rename = "changedBy", default, with = "lenient::opt")]
    pub changed_by: Option<Id>,
    /// `changedDate`: when it was changed last.
    #[serde(rename = "changedDate", default, with = "lenient::opt")]
    pub changed_date: Option<BxDateTime>,
    /// `statusChangedBy`: who changed the status last.
    #[serde(rename = "statusChangedBy", default, with = "lenient::opt")]
    pub status_changed_by: Option<Id>,
    /// `statusChangedDate`: when the status changed last.
    #[serde(rename = "statusChangedDate", default, with = "lenient::opt")]
    pub status_changed_date: Option<BxDateTime>,
    /// `closedBy`: who closed it.
    #[serde(rename = "closedBy", default, with = "lenient::opt")]
    pub closed_by: Option<Id>,
    /// `closedDate`: when it was closed.
    #[serde(rename = "closedDate", default, with = "lenient::opt")]
    pub closed_date: Option<BxDateTime>,
    /// `activityDate`: when anything last happened in it.
    #[serde(rename = "activityDate", default, with = "lenient::opt")]
    pub activity_date: Option<BxDateTime>,
    /// `dateStart`: when work on it started.
    #[serde(rename = "dateStart", default, with = "lenient::opt")]
    pub date_start: Option<BxDateTime>,
    /// `deadline`: deadline.
    #[serde(default, with = "lenient::opt")]
    pub deadline: Option<BxDateTime>,
    /// `startDatePlan`: planned start.
    #[serde(rename = "startDatePlan", default, with = "lenient::opt")]
    pub start_date_plan: Option<BxDateTime>,
    /// `endDatePlan`: planned end.
    #[serde(rename = "endDatePlan", default, with = "lenient::opt")]
    pub end_date_plan: Option<BxDateTime>,
    /// `guid`: globally unique id.
    #[serde(default, with = "lenient::empty_as_none")]
    pub guid: Option<String>,
    /// `xmlId`: external code.
    #[serde(rename = "xmlId", default, with = "lenient::empty_as_none")]
    pub xml_id: Option<String>,
    /// `commentsCount`: number of comments.
    #[serde(rename = "commentsCount", default, with = "lenient::opt_u64")]
    pub comments_count: Option<u64>,
    /// `serviceCommentsCount`: number of system comments.
    #[serde(rename = "serviceCommentsCount", default, with = "lenient::opt_u64")]
    pub service_comments_count: Option<u64>,
    /// `newCommentsCount`: comments the current user has not read.
    #[serde(rename = "newCommentsCount", default, with = "lenient::opt_u64")]
    pub new_comments_count: Option<u64>,
    /// `allowChangeDeadline`: whether the responsible user may move the deadline.
    #[serde(rename = "allowChangeDeadline", default, with = "lenient::yes_no")]
    pub allow_change_deadline: Option<bool>,
    /// `allowTimeTracking`: whether time tracking is on.
    #[serde(rename = "allowTimeTracking", default, with = "lenient::yes_no")]
    pub allow_time_tracking: Option<bool>,
    /// `taskControl`: whether the creator must approve the result.
    #[serde(rename = "taskControl", default, with = "lenient::yes_no")]
    pub task_control: Option<bool>,
    /// `addInReport`: whether it counts in the work report.
    #[serde(rename = "addInReport", default, with = "lenient::yes_no")]
    pub add_in_report: Option<bool>,
    /// `forkedByTemplateId`: the template it was created from.
    #[serde(rename = "forkedByTemplateId", default, with = "lenient::opt")]
    pub forked_by_template_id: Option<Id>,
    /// `timeEstimate`: estimated time, in seconds.
    #[serde(rename = "timeEstimate", default, with = "lenient::opt_u64")]
    pub time_estimate: Option<u64>,
    /// `timeSpentInLogs`: time tracked, in seconds.
    #[serde(rename = "timeSpentInLogs", default, with = "lenient::opt_u64")]
    pub time_spent_in_logs: Option<u64>,
    /// `matchWorkTime`: whether dates skip non-working time.
    #[serde(rename = "matchWorkTime", default, with = "lenient::yes_no")]
    pub match_work_time: Option<bool>,
    /// `forumTopicId`: the comment thread's forum topic.
    #[serde(rename = "forumTopicId", default, with = "lenient::opt")]
    pub forum_topic_id: Option<Id>,
    /// `forumId`: the comments forum.
    #[serde(rename = "forumId", default, with = "lenient::opt")]
    pub forum_id: Option<Id>,
    /// `siteId`: site id.
    #[serde(rename = "siteId", default, with = "lenient::empty_as_none")]
    pub site_id: Option<String>,
    /// `subordinate`: whether a subordinate of the current user takes part.
    #[serde(default, with = "lenient::yes_no")]
    pub subordinate: Option<bool>,
    /// `favorite`: whether it is in the current user's favourites.
    #[serde(default, with = "lenient::yes_no")]
    pub favorite: Option<bool>,
    /// `isMuted`: whether the current user muted it.
    #[serde(rename = "isMuted", default, with = "lenient::yes_no")]
    pub is_muted: Option<bool>,
    /// `isPinned`: whether the current user pinned it.
    #[serde(rename = "isPinned", default, with = "lenient::yes_no")]
    pub is_pinned: Option<bool>,
    /// `isPinnedInGroup`: whether it is pinned in its group.
    #[serde(rename = "isPinnedInGroup", default, with = "lenient::yes_no")]
    pub is_pinned_in_group: Option<bool>,
    /// `viewedDate`: when the current user last opened it.
    #[serde(rename = "viewedDate", default, with = "lenient::opt")]
    pub viewed_date: Option<BxDateTime>,
    /// `durationPlan`: planned duration, in `durationType` units.
    #[serde(rename = "durationPlan", default, with = "lenient::opt_u64")]
    pub duration_plan: Option<u64>,
    /// `durationFact`: actual duration, in minutes.
    #[serde(rename = "durationFact", default, with = "lenient::opt_u64")]
    pub duration_fact: Option<u64>,
    /// `durationType`: unit of `durationPlan` (`secs`, `mins`, `hours`, `days`, …).
    #[serde(rename = "durationType", default, with = "lenient::empty_as_none")]
    pub duration_type: Option<String>,
    /// `creator`: the creator's card.
    #[serde(default, with = "lenient::opt")]
    pub creator: Option<TaskMember>,
    /// `responsible`: the responsible user's card.
    #[serde(default, with = "lenient::opt")]
    pub responsible: Option<TaskMember>,
    /// `accomplicesData`: participants' cards, by user id.
    #[serde(rename = "accomplicesData", default, with = "lenient::map")]
    pub accomplices_data: BTreeMap<String, TaskMember>,
    /// `auditorsData`: observers' cards, by user id.
    #[serde(rename = "auditorsData", default, with = "lenient::map")]
    pub auditors_data: BTreeMap<String, TaskMember>,
    /// `group`: the workgroup's card (`[]` when none).
    #[serde(default)]
    pub group: Option<Value>,
    /// `checklist`: checklist items.
    #[serde(default, with = "lenient::seq")]
    pub checklist: Vec<Value>,
    /// `tags`: tags, by tag id.
    #[serde(default)]
    pub tags: Option<Value>,
    /// `action`: what the current user may do with it (`complete`, `edit`, …), as booleans.
    #[serde(default)]
    pub action: Option<Value>,
    /// `ufCrmTask`: linked CRM records (`L_4`, `C_7`, `CO_5`, `D_10`, `T88_3`).
    #[serde(rename = "ufCrmTask", default, with = "lenient::seq")]
    pub uf_crm_task: Vec<String>,
    /// `ufTaskWebdavFiles`: attached Disk files (attachment ids, or `n<fileId>`).
    #[serde(rename = "ufTaskWebdavFiles", default, with = "lenient::seq")]
    pub uf_task_webdav_files: Vec<Value>,
    /// Every other field, verbatim: other user fields and fields this SDK does not model.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(Task);

impl Task {
    /// A user field or any other field this model leaves in [`Task::extra`].
    pub fn uf(&self, name: &str) -> Option<&Value> {
        self.extra.get(name)
    }
}

impl Identified for Task {
    fn row_id(&self) -> Option<u64> {
        Some(self.id.get())
    }
}

int_enum! {
    /// A task's status (`status`, `STATUS`).
    pub enum TaskStatus {
        /// 1: new (legacy; new tasks start as pending).
        New = 1,
        /// 2: pending, waiting to be started.
        Pending = 2,
        /// 3: in progress.
        InProgress = 3,
        /// 4: supposedly completed, waiting for the creator's approval.
        SupposedlyCompleted = 4,
        /// 5: completed.
        Completed = 5,
        /// 6: deferred.
        Deferred = 6,
        /// 7: declined (legacy).
        Declined = 7,
    }
}

int_enum! {
    /// A task's priority (`priority`, `PRIORITY`).
    pub enum TaskPriority {
        /// 0: low.
        Low = 0,
        /// 1: average (the default).
        Average = 1,
        /// 2: high.
        High = 2,
    }
}

/// `{"task": {…}}`: the `result` of `tasks.task.get`, `.add`, `.update` and the status changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskEnvelope {
    /// `task`: the task.
    pub task: Task,
}

/// `{"tasks": […]}`: the `result` of `tasks.task.list` (one page).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TasksPage {
    /// `tasks`: the page's rows.
    #[serde(default, with = "lenient::seq")]
    pub tasks: Vec<Task>,
}

/// A user's card inside a [`Task`] (`creator`, `responsible`, `auditorsData`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
#[non_exhaustive]
pub struct TaskMember {
    /// `id`: the id.
    pub id: Id,
    /// `name`: display name.
    #[serde(default, with = "lenient::empty_as_none")]
    pub name: Option<String>,
    /// `link`: profile path.
    #[serde(default, with = "lenient::empty_as_none")]
    pub link: Option<String>,
    /// `icon`: avatar URL or path.
    #[serde(default, with = "lenient::empty_as_none")]
    pub icon: Option<String>,
    /// `workPosition`: job title.
    #[serde(rename = "workPosition", default, with = "lenient::empty_as_none")]
    pub work_position: Option<String>,
    /// Every other field, verbatim.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

via_value!(TaskMember);
