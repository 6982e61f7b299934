//! The policy document: what administrators write and the service stores, versions and pushes —
//! 文号, dates, status, 解读, Q&A, benefit items (Art. 24) and applicability — and the rules a
//! policy must satisfy before it is saved.

use chrono::{DateTime, NaiveDate, Utc};
use matcher::{AmountRule, Applicability};
use profiles::AttributeSchema;

use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Administrative level of the issuing body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyLevel {
    National,
    Provincial,
    Municipal,
    District,
}

/// 公开属性.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    #[default]
    Public,
    OnRequest,
}

/// Lifecycle: draft → in_review → published → expired / revoked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    #[default]
    Draft,
    InReview,
    Published,
    Expired,
    Revoked,
}

impl PolicyStatus {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::Draft => ("草稿", "draft"),
            Self::InReview => ("待审核", "in review"),
            Self::Published => ("已发布", "published"),
            Self::Expired => ("已过期", "expired"),
            Self::Revoked => ("已废止", "revoked"),
        }
    }

    /// Why a saved policy may not go from this status to `next`, as a problem of its `status`:
    /// only a published policy is revoked or expires (a draft is deleted instead), one published
    /// does not go back to a draft (which could then be deleted, its notices still out), and a
    /// revoked one stays revoked.
    pub(crate) fn refuses(self, next: Self) -> Option<FieldError> {
        let (was_zh, was_en) = self.names();
        let (next_zh, next_en) = next.names();
        let (why_zh, why_en) = match (self, next) {
            (was, next) if was == next => return None,
            (Self::Revoked, _) => (
                "已废止的政策不能再改变状态",
                "a revoked policy stays revoked",
            ),
            (Self::Draft | Self::InReview, Self::Expired | Self::Revoked) => (
                "只有已发布的政策才会废止或过期，未发布的政策可以直接删除",
                "only a published policy is revoked or expires; an unpublished one can be deleted",
            ),
            (Self::Published | Self::Expired, Self::Draft | Self::InReview) => (
                "已发布过的政策不能退回草稿或待审核，可直接修订，或将其废止",
                "a policy once published does not go back to draft or review; edit it as it is, or revoke it",
            ),
            _ => return None,
        };
        Some(FieldError::new(
            "status",
            "status_transition",
            format!("政策状态不能从“{was_zh}”改为“{next_zh}”：{why_zh}"),
            format!("a policy cannot go from {was_en} to {next_en}: {why_en}"),
        ))
    }
}

/// How the benefit reaches the recipient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    /// 申请兑现: the recipient applies.
    #[default]
    Apply,
    /// 免申即享: granted without an application; the pack asks for a confirmation.
    NoApplication,
    /// 直达快享: fast-tracked; the pack asks for a confirmation.
    FastTrack,
}

/// 政策解读: the key points a reader needs, in plain language.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Interpretation {
    #[serde(default)]
    pub key_points: Vec<String>,
}

/// One entry of 简明问答.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QaPair {
    pub question: String,
    pub answer: String,
}

/// 惠企政策事项: the fields Art. 24 asks every benefit item to publish.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BenefitItem {
    pub name: String,
    /// 适用对象.
    #[serde(default)]
    pub targets: String,
    /// 申报条件, in words; the machine-checked form is the policy's condition tree.
    #[serde(default)]
    pub conditions: String,
    /// 申报材料.
    #[serde(default)]
    pub materials: Vec<String>,
    /// 兑现渠道.
    #[serde(default)]
    pub channel: String,
    /// 办理流程.
    #[serde(default)]
    pub process: String,
    pub online_url: Option<String>,
    pub offline_address: Option<String>,
    /// 办理时限, e.g. 20个工作日.
    pub time_limit: Option<String>,
    pub hotline: Option<String>,
    pub window_opens: Option<NaiveDate>,
    pub window_closes: Option<NaiveDate>,
    /// How much the item is worth (万元), for the policy calculator.
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    pub amount: Option<AmountRule>,
}

/// Everything an administrator writes about a policy. Also the body of create and update requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyContent {
    /// 发文字号, e.g. 京政办发〔2025〕8号.
    #[serde(default)]
    pub doc_number: String,
    pub title: String,
    pub issuing_departments: Vec<String>,
    /// GB/T 2260 code of the issuing region.
    pub region_code: String,
    pub level: PolicyLevel,
    /// 成文日期.
    pub written_on: Option<NaiveDate>,
    /// 发布日期.
    pub published_on: Option<NaiveDate>,
    pub valid_from: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    #[serde(default)]
    pub disclosure: Disclosure,
    #[serde(default)]
    pub status: PolicyStatus,
    #[serde(default)]
    pub delivery_mode: DeliveryMode,
    #[serde(default)]
    pub summary: String,
    #[serde(default)]
    pub full_text: String,
    /// Topic tag codes (taxonomy dimension `topic`).
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default)]
    pub interpretation: Interpretation,
    #[serde(default)]
    pub qa: Vec<QaPair>,
    #[serde(default)]
    pub benefit_items: Vec<BenefitItem>,
    #[serde(default)]
    pub related_policy_ids: Vec<i64>,
    /// Audience classes, tags per dimension and the eligibility condition tree.
    #[schema(value_type = Object)]
    pub applicability: Applicability,
}

/// A stored policy: its content plus identity and bookkeeping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Policy {
    pub id: i64,
    /// Increases by one on every saved edit; earlier versions stay readable.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(flatten)]
    pub content: PolicyContent,
}

const MAX_TITLE_CHARS: usize = 300;
/// Related policies one policy may list: a reader follows a handful, not a catalogue.
const MAX_RELATED_POLICIES: usize = 50;

/// What the skeleton of a new draft puts where a value is still to be written.
pub const TO_BE_FILLED: &str = "（待填写）";

fn unwritten(text: &str) -> bool {
    let text = text.trim();
    text.is_empty() || text == TO_BE_FILLED
}

/// Problems a draft is saved with, to be finished before review: an unfinished condition or
/// amount (rule `applicability`) and the issuing departments. Anything else would make the
/// stored record itself wrong (a bad date, an unknown region) and refuses even a draft.
fn may_wait_in_draft(problem: &FieldError) -> bool {
    problem.rule == "applicability" || problem.field == "issuing_departments"
}

/// One thing a recipient of the policy's pack would miss, found before publishing.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Gap {
    /// JSON path of the field to fill in, e.g. `benefit_items[0].window_closes`.
    pub field: String,
    /// Publishing is refused while a blocking gap remains; the others are warnings.
    pub blocks: bool,
    pub message_zh: String,
    pub message_en: String,
}

/// The items of `items` listed before, each with its position.
fn repeats<T: PartialEq>(items: &[T]) -> impl Iterator<Item = (usize, &T)> {
    items
        .iter()
        .enumerate()
        .filter(move |(i, item)| items[..*i].contains(item))
}

impl PolicyContent {
    /// Checks the rules no stored policy may break, collecting every problem.
    pub fn validate(&self, schema: &AttributeSchema) -> Result<(), Vec<FieldError>> {
        let mut problems = Vec::new();
        let mut fail = |field: String, rule: &str, zh: String, en: String| {
            problems.push(FieldError::new(field, rule, zh, en));
        };
        let title = self.title.trim();
        if title.is_empty() {
            fail(
                "title".into(),
                "required",
                "标题不能为空".into(),
                "title must not be empty".into(),
            );
        } else if title.chars().count() > MAX_TITLE_CHARS {
            fail(
                "title".into(),
                "too_long",
                format!("标题不能超过{MAX_TITLE_CHARS}个字符"),
                format!("title must be at most {MAX_TITLE_CHARS} characters"),
            );
        }
        if self.issuing_departments.iter().all(|d| d.trim().is_empty()) {
            fail(
                "issuing_departments".into(),
                "required",
                "至少填写一个发文机关".into(),
                "at least one issuing department is required".into(),
            );
        }
        if !profiles::codes::is_valid_region(&self.region_code) {
            fail(
                "region_code".into(),
                "region_code",
                format!(
                    "“{}”不是有效的行政区划代码（GB/T 2260，6位数字）",
                    self.region_code
                ),
                format!(
                    "{:?} is not a GB/T 2260 region code (6 digits)",
                    self.region_code
                ),
            );
        }
        let dates = [
            ("written_on".to_owned(), self.written_on),
            ("published_on".to_owned(), self.published_on),
            ("valid_from".to_owned(), self.valid_from),
            ("valid_until".to_owned(), self.valid_until),
        ]
        .into_iter()
        .chain(self.benefit_items.iter().enumerate().flat_map(|(i, item)| {
            [
                (
                    format!("benefit_items[{i}].window_opens"),
                    item.window_opens,
                ),
                (
                    format!("benefit_items[{i}].window_closes"),
                    item.window_closes,
                ),
            ]
        }));
        for (field, date) in dates {
            if let Some((zh, en)) = date.and_then(profiles::dates::out_of_range) {
                fail(field, "out_of_range", zh, en);
            }
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && from > until
        {
            fail(
                "valid_until".into(),
                "date_order",
                "有效期截止日期早于起始日期".into(),
                "valid_until is before valid_from".into(),
            );
        }
        for (i, item) in self.benefit_items.iter().enumerate() {
            if item.name.trim().is_empty() {
                fail(
                    format!("benefit_items[{i}].name"),
                    "required",
                    "事项名称不能为空".into(),
                    "benefit item name must not be empty".into(),
                );
            }
            if let (Some(opens), Some(closes)) = (item.window_opens, item.window_closes)
                && opens > closes
            {
                fail(
                    format!("benefit_items[{i}].window_closes"),
                    "date_order",
                    "申报截止日期早于开始日期".into(),
                    "window_closes is before window_opens".into(),
                );
            }
            if let Some(url) = &item.online_url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                fail(
                    format!("benefit_items[{i}].online_url"),
                    "url",
                    "在线办理链接须以 http:// 或 https:// 开头".into(),
                    "online_url must start with http:// or https://".into(),
                );
            }
        }
        if self.related_policy_ids.len() > MAX_RELATED_POLICIES {
            fail(
                "related_policy_ids".into(),
                "too_many",
                format!("相关政策不能超过{MAX_RELATED_POLICIES}项"),
                format!("at most {MAX_RELATED_POLICIES} related policies may be listed"),
            );
        }
        let topics = repeats(&self.topics).map(|(i, topic)| {
            (
                format!("topics[{i}]"),
                format!("政策主题“{topic}”重复"),
                format!("topic {topic} is listed twice"),
            )
        });
        let related = repeats(&self.related_policy_ids).map(|(i, id)| {
            (
                format!("related_policy_ids[{i}]"),
                format!("相关政策 {id} 重复"),
                format!("related policy {id} is listed twice"),
            )
        });
        for (field, zh, en) in topics.chain(related) {
            fail(field, "duplicate", zh, en);
        }
        let mut condition_errors = Vec::new();
        if let Err(errors) = self.applicability.validate(schema) {
            condition_errors.extend(errors.into_iter().map(|e| ("applicability.", e)));
        }
        for (i, item) in self.benefit_items.iter().enumerate() {
            if let Some(amount) = &item.amount
                && let Err(errors) = amount.validate(schema, &format!("benefit_items[{i}].amount"))
            {
                condition_errors.extend(errors.into_iter().map(|e| ("", e)));
            }
        }
        for (prefix, error) in condition_errors {
            problems.push(FieldError::new(
                format!("{prefix}{}", error.path),
                "applicability",
                error.message_zh,
                error.message_en,
            ));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The rules a save applies at the policy's status: `Ok` with the problems a draft is kept
    /// with (reported as warnings, checked again at review and publish), `Err` with those that
    /// refuse the save.
    pub fn check_save(&self, schema: &AttributeSchema) -> Result<Vec<FieldError>, Vec<FieldError>> {
        let Err(problems) = self.validate(schema) else {
            return Ok(Vec::new());
        };
        if self.status != PolicyStatus::Draft {
            return Err(problems);
        }
        let (waiting, refused): (Vec<_>, Vec<_>) =
            problems.into_iter().partition(may_wait_in_draft);
        if refused.is_empty() {
            Ok(waiting)
        } else {
            Err(refused)
        }
    }

    /// What a recipient would miss if the policy went out as it stands: without a 文号, an
    /// issuing department, a benefit item or a way to apply it is not published (blocking);
    /// a missing window, amount, process, materials, hotline, summary or full text is a warning.
    pub fn completeness(&self) -> Vec<Gap> {
        let mut gaps = Vec::new();
        let mut gap = |field: String, blocks: bool, zh: String, en: String| {
            gaps.push(Gap {
                field,
                blocks,
                message_zh: zh,
                message_en: en,
            });
        };
        if unwritten(&self.doc_number) {
            gap(
                "doc_number".into(),
                true,
                "未填写文号：收件人无法核对政策出处".into(),
                "no document number: recipients cannot verify the source".into(),
            );
        }
        if self.issuing_departments.iter().all(|d| unwritten(d)) {
            gap(
                "issuing_departments".into(),
                true,
                "未填写发文机关".into(),
                "no issuing department".into(),
            );
        }
        if self.benefit_items.is_empty() {
            gap(
                "benefit_items".into(),
                true,
                "没有惠企政策事项：收件人不知道能享受什么、怎样申报".into(),
                "no benefit item: recipients learn neither what they get nor how to apply".into(),
            );
        }
        if self.summary.trim().is_empty() {
            gap(
                "summary".into(),
                false,
                "未填写摘要".into(),
                "no summary".into(),
            );
        }
        if self.full_text.trim().is_empty() {
            gap(
                "full_text".into(),
                false,
                "未填写原文".into(),
                "no full text".into(),
            );
        }
        let applies = self.delivery_mode == DeliveryMode::Apply;
        for (i, item) in self.benefit_items.iter().enumerate() {
            let name = item.name.trim();
            let at = |field: &str| format!("benefit_items[{i}].{field}");
            let no_way = unwritten(&item.channel)
                && item.online_url.as_deref().is_none_or(unwritten)
                && item.offline_address.as_deref().is_none_or(unwritten);
            if applies && no_way {
                gap(
                    at("channel"),
                    true,
                    format!("事项“{name}”没有申报渠道（兑现渠道、线上办理链接或线下地址）"),
                    format!("item “{name}” says nowhere to apply (channel, online URL or address)"),
                );
            }
            if applies && item.window_closes.is_none() {
                gap(
                    at("window_closes"),
                    false,
                    format!("事项“{name}”未填写申报截止日期"),
                    format!("item “{name}” has no closing date"),
                );
            }
            if item.amount.is_none() {
                gap(
                    at("amount"),
                    false,
                    format!("事项“{name}”未填写支持金额"),
                    format!("item “{name}” states no amount"),
                );
            }
            if applies && unwritten(&item.process) {
                gap(
                    at("process"),
                    false,
                    format!("事项“{name}”未填写办理流程"),
                    format!("item “{name}” has no process"),
                );
            }
            if applies && item.materials.iter().all(|m| unwritten(m)) {
                gap(
                    at("materials"),
                    false,
                    format!("事项“{name}”未填写申报材料"),
                    format!("item “{name}” lists no materials"),
                );
            }
            if item.hotline.as_deref().is_none_or(unwritten) {
                gap(
                    at("hotline"),
                    false,
                    format!("事项“{name}”未填写咨询电话"),
                    format!("item “{name}” has no hotline"),
                );
            }
        }
        gaps
    }

    /// Tags by dimension as stored for filtering: topics, audiences and applicability tags.
    pub(crate) fn tag_rows(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = self
            .topics
            .iter()
            .map(|t| ("topic".to_owned(), t.clone()))
            .collect();
        rows.extend(
            self.applicability
                .audiences
                .iter()
                .map(|a| ("audience".to_owned(), crate::policies::enum_text(a))),
        );
        for (dimension, codes) in self.applicability.tags.iter() {
            rows.extend(codes.iter().map(|c| (dimension.clone(), c.clone())));
        }
        rows.sort();
        rows.dedup();
        rows
    }
}
