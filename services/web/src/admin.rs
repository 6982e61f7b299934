//! The administrators' pages: the policy list and the condition editor (validated by the server
//! as you type, then published, showing the audience it reaches), delivery and response
//! analytics with charts drawn on the server as SVG, the dead letter with re-drive, and the audit
//! log.

use api::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::BTreeMap;

use minijinja::context;
use store::{Paging, PolicyFilter};

use crate::{Admin, LangQuery, Signed, Viewer, checked_form, csrf_refused, known_word, with_lang};

pub(crate) async fn home(
    Signed(viewer, _): Signed<Admin>,
    Query(query): Query<LangQuery>,
) -> Response {
    let title = viewer.text("administration");
    with_lang(
        viewer.render("admin.html", title, context! {}),
        query.lang.as_deref(),
    )
}

pub(crate) async fn policies(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
) -> Response {
    let page = match state
        .store
        .list_policies(
            &PolicyFilter::default(),
            Paging {
                page: 1,
                per_page: Paging::MAX_PER_PAGE,
            },
        )
        .await
    {
        Ok(page) => page,
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let rows: Vec<_> = page
        .items
        .iter()
        .map(|p| {
            context! {
                id => p.id,
                title => p.content.title,
                doc_number => p.content.doc_number,
                status => policy_status_words(&viewer, p.content.status),
            }
        })
        .collect();
    let title = viewer.text("policies");
    viewer.render("admin_policies.html", title, context! { policies => rows })
}

pub(crate) async fn policy(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
    Path(id): Path<i64>,
) -> Response {
    let policy = match state.store.policy(id).await {
        Ok(policy) => policy,
        Err(store::StoreError::NotFound { .. }) => {
            return viewer.not_found();
        }
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let schema = match state.store.attribute_schema().await {
        Ok(schema) => schema,
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let name = |zh: &str, en: &str| {
        if viewer.lang == crate::Lang::En {
            en
        } else {
            zh
        }
        .to_owned()
    };
    let mut fields: Vec<_> = schema
        .fields()
        .map(|field| {
            let (kind, values) = match &field.field_type {
                profiles::FieldType::Bool => ("bool", Vec::new()),
                profiles::FieldType::Number => ("number", Vec::new()),
                profiles::FieldType::Text => ("text", Vec::new()),
                profiles::FieldType::Set => ("set", Vec::new()),
                profiles::FieldType::Date => ("date", Vec::new()),
                profiles::FieldType::Region => ("region", Vec::new()),
                profiles::FieldType::Industry => ("industry", Vec::new()),
                profiles::FieldType::Enum { values } => (
                    "enum",
                    values
                        .iter()
                        .map(|code| {
                            let (zh, en) = state.matching.value_name(&field.key, code);
                            (code.clone(), name(&zh, &en))
                        })
                        .collect(),
                ),
            };
            let label = name(&field.label_zh, &field.label_en);
            (
                label.clone(),
                context! { key => field.key, label => label, kind => kind, values => values },
            )
        })
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let fields: Vec<_> = fields.into_iter().map(|(_, field)| field).collect();
    let mut industries: Vec<(String, String)> = profiles::codes::industry_sections()
        .iter()
        .map(|s| (s.code.to_owned(), name(s.name_zh, s.name_en)))
        .collect();
    industries.extend(crate::portal::industry_choices(&viewer));
    let word = |key: &str| viewer.text(key);
    let ops: Vec<_> = matcher::Op::ALL
        .iter()
        .map(|op| (op.name(), word(&format!("op_{}", op.name()))))
        .collect();
    let words: std::collections::BTreeMap<&str, &str> = crate::text::dictionary(viewer.lang)
        .into_iter()
        .filter(|(key, _)| {
            key.starts_with("ed_")
                || key.starts_with("policy_status_")
                || EDITOR_WORDS.contains(key)
        })
        .collect();
    let statuses: Vec<_> = ["draft", "in_review", "published", "expired", "revoked"]
        .iter()
        .map(|s| (*s, word(&format!("policy_status_{s}"))))
        .collect();
    let status = serde_json::to_value(policy.content.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    viewer.render(
        "admin_policy.html",
        &policy.content.title,
        context! {
            id => id,
            status => status,
            status_word => word(&format!("policy_status_{status}")),
            content => policy.content,
            statuses => statuses,
            page_data => context! {
                id => id,
                policy => policy.content,
                csrf => viewer.caller.csrf_token(),
                words => words,
                fields => fields,
                ops => ops,
                regions => crate::portal::region_choices(&state, &viewer),
                industries => industries,
            },
        },
    )
}

/// The words the policy editor's script writes into the page, besides its own (`ed_…`) and the
/// statuses.
const EDITOR_WORDS: &[&str] = &[
    "targets",
    "conditions",
    "channel",
    "process",
    "offline_address",
    "time_limit",
    "hotline",
    "builder_group_kind",
    "add_condition",
    "add_group",
    "remove",
    "builder_field",
    "builder_op",
    "builder_value",
    "group_all",
    "group_any",
    "group_not",
    "yes",
    "no",
    "choose",
    "saved",
    "save_failed",
    "draft_warnings",
    "audience_live",
    "eligible",
    "undetermined",
    "editor_condition_unfinished",
    "publish_blocked",
    "publish_warnings",
    "nothing_missing",
    "district",
    "sample_pack_for",
    "no_sample",
    "published_no_push",
    "published_push_now",
    "published_push_at",
    "push_queued_now",
    "push_queued_at",
    "push_time_needed",
    "list_separator_help",
    "not_in_force",
    "with_undetermined",
];

pub(crate) async fn analytics(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
) -> Response {
    let mut rows = Vec::new();
    for id in state.matching.published_ids() {
        let Some(brief) = state.matching.brief(id) else {
            continue;
        };
        let figures = match state.store.policy_analytics(id, None).await {
            Ok(figures) => figures,
            Err(error) => return api::ApiError::from(error).into_response(),
        };
        if figures.audience == 0 {
            continue;
        }
        let short_title: String = brief.title.chars().take(22).collect();
        rows.push(context! {
            title => brief.title,
            short_title => short_title,
            audience => figures.audience,
            delivered_inbox => figures.delivered_inbox,
            delivered_email => figures.delivered_email,
            read_rate => figures.read_rate,
            useful_rate => figures.useful_rate,
        });
    }
    // Pushes per day in China over the last 30 days, and deliveries and reads per channel.
    let now = state.store.now();
    let times = match state
        .store
        .push_times_since(now - chrono::Duration::days(30))
        .await
    {
        Ok(times) => times,
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let mut per_day: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for time in times {
        *per_day
            .entry(crate::clock::local_day(time).format("%m-%d").to_string())
            .or_default() += 1;
    }
    let days: Vec<_> = per_day
        .into_iter()
        .map(|(day, count)| context! { day => day, count => count })
        .collect();
    let most = days
        .iter()
        .filter_map(|d| d.get_attr("count").ok()?.as_i64())
        .max()
        .unwrap_or(1)
        .max(1);
    let channels = match state.store.channel_totals().await {
        Ok(totals) => totals
            .into_iter()
            .map(|(channel, delivered, read)| context! { channel => channel, delivered => delivered, read => read })
            .collect::<Vec<_>>(),
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let title = viewer.text("analytics");
    viewer.render(
        "admin_analytics.html",
        title,
        context! { rows => rows, days => days, most => most, channels => channels },
    )
}

pub(crate) async fn dead_letters(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
) -> Response {
    match state
        .store
        .dead_letters(
            &store::DeadLetterFilter::default(),
            Paging {
                page: 1,
                per_page: Paging::MAX_PER_PAGE,
            },
        )
        .await
    {
        Ok(page) => {
            // The attempt log's addresses with their outcomes in words; the relay's own reply
            // stays as it came, for diagnosis.
            let letters: Vec<_> = page
                .items
                .iter()
                .map(|letter| {
                    let error = letter.last_error.as_deref().map(|line| {
                        store::read_address_summary(line).map_or_else(
                            || line.to_owned(),
                            |addresses| {
                                addresses
                                    .iter()
                                    .map(|(email, status, detail)| {
                                        let word = viewer
                                            .text(&format!("address_{}", status.as_str()));
                                        match detail {
                                            Some(detail) => format!("{email} {word}：{detail}"),
                                            None => format!("{email} {word}"),
                                        }
                                    })
                                    .collect::<Vec<_>>()
                                    .join("；")
                            },
                        )
                    });
                    context! { last_error_words => error, ..minijinja::Value::from_serialize(letter) }
                })
                .collect();
            let title = viewer.text("dead_letters");
            viewer.render(
                "admin_dead_letters.html",
                title,
                context! { letters => letters },
            )
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

pub(crate) async fn redrive(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    let Some(form) = checked_form(&viewer, &body) else {
        return csrf_refused(&viewer);
    };
    let accept_in_doubt = form.get("accept_in_doubt").is_some_and(|v| v == "on");
    match state
        .store
        .redrive(id, accept_in_doubt, &viewer.caller.actor())
        .await
    {
        Ok(()) | Err(store::StoreError::NotFound { .. }) => {
            state.pusher.wake();
            Redirect::to("/admin/dead-letters").into_response()
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

pub(crate) async fn audit(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
) -> Response {
    match state
        .store
        .audit_log(
            None,
            None,
            Paging {
                page: 1,
                per_page: Paging::MAX_PER_PAGE,
            },
        )
        .await
    {
        Ok(page) => {
            let entries: Vec<_> = page
                .items
                .iter()
                .map(|entry| {
                    context! {
                        at => entry.at,
                        actor => crate::requester_words(&viewer, &entry.actor),
                        action => known_word(&viewer, &format!("audit_{}", entry.action), "audit_other"),
                        entity => known_word(&viewer, &format!("entity_{}", entry.entity), "entity_other"),
                        entity_id => entry.entity_id,
                    }
                })
                .collect();
            let title = viewer.text("audit_log");
            viewer.render("admin_audit.html", title, context! { entries => entries })
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

/// A policy's status in words: 草稿, 待审核, 已发布, 已过期, 已废止.
fn policy_status_words(viewer: &Viewer, status: store::policy::PolicyStatus) -> &'static str {
    let key = serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(|s| format!("policy_status_{s}")))
        .unwrap_or_default();
    known_word(viewer, &key, "status_other")
}

#[derive(Default, serde::Serialize)]
struct ScheduleForm {
    name: String,
    cron: String,
    job: String,
    days_before: String,
}

/// What a schedule's job does, as a sentence: "每日汇总", "申报截止前 7 天提醒".
fn job_words(viewer: &Viewer, job: &serde_json::Value) -> String {
    match serde_json::from_value::<push::ScheduledJob>(job.clone()) {
        Ok(push::ScheduledJob::Digest { frequency }) => match frequency {
            store::Frequency::Weekly => viewer.text("weekly").to_owned(),
            _ => viewer.text("daily").to_owned(),
        },
        Ok(push::ScheduledJob::DeadlineReminder { days_before }) => viewer
            .text("deadline_reminder_before")
            .replace("{n}", &days_before.to_string()),
        Err(_) => viewer.text("job_unknown").to_owned(),
    }
}

async fn render_schedules(
    state: &AppState,
    viewer: &Viewer,
    form: &ScheduleForm,
    error: Option<String>,
) -> Response {
    let schedules = match state.store.schedules().await {
        Ok(schedules) => schedules,
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let now = chrono::Utc::now();
    let schedules: Vec<minijinja::Value> = schedules
        .iter()
        .map(|schedule| {
            // The same reading of the expression the scheduler fires by (China time).
            let next_runs: Vec<chrono::DateTime<chrono::Utc>> = push::parse_cron(&schedule.cron)
                .map(|cron| {
                    cron.after(&now.with_timezone(&chrono_tz::Asia::Shanghai))
                        .take(3)
                        .map(|run| run.with_timezone(&chrono::Utc))
                        .collect()
                })
                .unwrap_or_default();
            context! {
                job_words => job_words(viewer, &schedule.job.0),
                next_runs => next_runs,
                ..minijinja::Value::from_serialize(schedule)
            }
        })
        .collect();
    let title = viewer.text("schedules");
    let mut page = viewer.render(
        "admin_schedules.html",
        title,
        context! { schedules => schedules, form => form, error => error },
    );
    if error.is_some() {
        *page.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    page
}

pub(crate) async fn schedules(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
) -> Response {
    render_schedules(&state, &viewer, &ScheduleForm::default(), None).await
}

/// Creates a schedule from the form; a cron line that does not parse comes back with the reason.
pub(crate) async fn create_schedule(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
    body: String,
) -> Response {
    let Some(fields) = checked_form(&viewer, &body) else {
        return csrf_refused(&viewer);
    };
    let field = |key: &str| {
        fields
            .get(key)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    let form = ScheduleForm {
        name: field("name"),
        cron: field("cron"),
        job: field("job"),
        days_before: field("days_before"),
    };
    let job = match form.job.as_str() {
        "digest:weekly" => serde_json::json!({"kind": "digest", "frequency": "weekly"}),
        "deadline_reminder" => match form.days_before.parse::<u32>() {
            Ok(days) => serde_json::json!({"kind": "deadline_reminder", "days_before": days}),
            Err(_) => {
                let message = format!("{}: {}", viewer.text("days_before"), form.days_before);
                return render_schedules(&state, &viewer, &form, Some(message)).await;
            }
        },
        _ => serde_json::json!({"kind": "digest", "frequency": "daily"}),
    };
    let input = store::ScheduleInput {
        name: form.name.clone(),
        cron: form.cron.clone(),
        job,
        enabled: true,
    };
    let refused = |error: api::ApiError| {
        let message = if viewer.lang == crate::Lang::En {
            error.message_en()
        } else {
            error.message_zh()
        };
        message.to_owned()
    };
    if let Err(error) = push::validate_schedule(&input, state.pusher.min_schedule_interval()) {
        return render_schedules(&state, &viewer, &form, Some(refused(error.into()))).await;
    }
    match state
        .store
        .create_schedule(&input, &viewer.caller.actor())
        .await
    {
        Ok(_) => Redirect::to("/admin/schedules").into_response(),
        Err(error) => render_schedules(&state, &viewer, &form, Some(refused(error.into()))).await,
    }
}

pub(crate) async fn delete_schedule(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
    Path(id): Path<i64>,
    body: String,
) -> Response {
    if checked_form(&viewer, &body).is_none() {
        return csrf_refused(&viewer);
    }
    match state
        .store
        .delete_schedule(id, &viewer.caller.actor())
        .await
    {
        Ok(()) | Err(store::StoreError::NotFound { .. }) => {
            Redirect::to("/admin/schedules").into_response()
        }
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

pub(crate) async fn weights(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
) -> Response {
    let dimensions = match state.store.tag_dimensions().await {
        Ok(dimensions) => dimensions,
        Err(error) => return api::ApiError::from(error).into_response(),
    };
    let weights = state.matching.weights();
    // Each weight as a field of the form, named in words: the taxonomy's dimensions by their
    // labels, then the other score terms and their two horizons.
    let dimension_fields: Vec<_> = matcher::SCORED_DIMENSIONS
        .into_iter()
        .map(|code| {
            let weight = weights.dimensions.get(code).copied().unwrap_or(0.0);
            let label = dimensions
                .iter()
                .find(|d| d.code == code)
                .map_or(code, |d| {
                    if viewer.lang == crate::Lang::En {
                        d.label_en.as_str()
                    } else {
                        d.label_zh.as_str()
                    }
                });
            context! { code => code, label => label, value => weight }
        })
        .collect();
    let term_fields: Vec<_> = [
        ("interest", weights.interest),
        ("urgency", weights.urgency),
        ("freshness", weights.freshness),
        ("feedback", weights.feedback),
        (
            "urgency_horizon_days",
            f64::from(weights.urgency_horizon_days),
        ),
        (
            "freshness_half_life_days",
            f64::from(weights.freshness_half_life_days),
        ),
    ]
    .into_iter()
    .map(|(key, value)| {
        context! { key => key, label => viewer.text(&format!("weight_{key}")), value => value, whole => key.ends_with("_days") }
    })
    .collect();
    let words = context! {
        changed => viewer.text("changed"),
        mean_change => viewer.text("mean_change"),
        rising => viewer.text("rising"),
        falling => viewer.text("falling"),
        saved => viewer.text("saved"),
        none => viewer.text("codes_none"),
        profiles => viewer.text("tag_profiles"),
    };
    let title = viewer.text("weights");
    viewer.render(
        "admin_weights.html",
        title,
        context! { dimension_fields => dimension_fields, term_fields => term_fields, words => words },
    )
}

#[derive(serde::Deserialize, Default)]
pub(crate) struct TagsQuery {
    dimension: Option<String>,
}

pub(crate) async fn tags(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
    Query(query): Query<TagsQuery>,
) -> Response {
    let dimension = query.dimension.unwrap_or_else(|| "topic".to_owned());
    let (dimensions, tags) = match (
        state.store.tag_dimensions().await,
        state
            .store
            .list_tags(
                &store::TagFilter {
                    dimension: Some(dimension.clone()),
                    ..Default::default()
                },
                Paging {
                    page: 1,
                    per_page: Paging::MAX_PER_PAGE,
                },
            )
            .await,
    ) {
        (Ok(dimensions), Ok(tags)) => (dimensions, tags.items),
        (Err(error), _) | (_, Err(error)) => return api::ApiError::from(error).into_response(),
    };
    let rows: Vec<_> = tags
        .iter()
        .map(|tag| {
            let status = serde_json::to_value(tag.input.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            context! {
                id => tag.id,
                code => tag.input.code,
                label_zh => tag.input.label_zh,
                status => status,
                status_words => viewer.text(&format!("tag_{status}")),
                merged_into => tag.merged_into,
                weight => tag.input.weight,
                version => tag.version,
                input => tag.input,
            }
        })
        .collect();
    let words: BTreeMap<&str, &str> = [
        ("eligible", "eligible"),
        ("undetermined", "undetermined"),
        ("changed", "changed"),
        ("rising", "rising"),
        ("falling", "falling"),
        ("none", "codes_none"),
        ("profiles", "tag_profiles"),
        ("affects", "tag_affects"),
        ("policies_count", "tag_policies_count"),
        ("no_policies", "tag_no_policies"),
        ("confirm", "tag_confirm"),
        ("retire", "tag_retire"),
        ("save_tag", "tag_save"),
        ("rename_to", "tag_rename_to"),
        ("merge_to", "tag_merge_to"),
    ]
    .into_iter()
    .map(|(name, key)| (name, viewer.text(key)))
    .collect();
    let title = viewer.text("taxonomy");
    viewer.render(
        "admin_tags.html",
        title,
        context! { dimensions => dimensions, dimension => dimension, tags => rows, words => words },
    )
}

/// Creates a draft to edit in the policy editor; its content starts as a skeleton.
pub(crate) async fn new_policy(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Admin>,
    body: String,
) -> Response {
    if checked_form(&viewer, &body).is_none() {
        return csrf_refused(&viewer);
    }
    let skeleton = serde_json::json!({
        "title": format!("新政策草稿 {}", crate::clock::local_time(state.store.now(), viewer.lang)),
        "issuing_departments": [],
        "region_code": viewer.user().and_then(|u| u.region_code.clone()).unwrap_or_else(|| "110000".to_owned()),
        "level": "municipal",
        "status": "draft",
        "applicability": {"audiences": []},
    });
    let content: store::policy::PolicyContent = match serde_json::from_value(skeleton) {
        Ok(content) => content,
        Err(_) => return api::ApiError::internal().into_response(),
    };
    match state
        .store
        .create_policy(&content, &viewer.caller.actor(), store::PublishPush::Never)
        .await
    {
        Ok(policy) => Redirect::to(&format!("/admin/policies/{}", policy.id)).into_response(),
        Err(error) => api::ApiError::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use crate::text::{Lang, lookup};

    #[test]
    fn every_audited_action_entity_and_policy_status_has_words() {
        let actions = [
            "create",
            "update",
            "delete",
            "import",
            "merge",
            "rename",
            "cancel",
            "redrive",
            "confirm",
            "confirm_contact",
            "publish",
        ]
        .map(|a| format!("audit_{a}"));
        let entities = [
            "api_token",
            "attribute",
            "policy",
            "profile",
            "schedule",
            "tag",
            "user",
            "preferences",
            "weights",
            "push",
            "delivery",
        ]
        .map(|e| format!("entity_{e}"));
        let statuses = ["draft", "in_review", "published", "expired", "revoked"]
            .map(|s| format!("policy_status_{s}"));
        let addresses = [
            store::AddressStatus::Sent,
            store::AddressStatus::Refused,
            store::AddressStatus::Failed,
            store::AddressStatus::InDoubt,
        ]
        .map(|s| format!("address_{}", s.as_str()));
        for key in actions
            .iter()
            .chain(&entities)
            .chain(&statuses)
            .chain(&addresses)
            .map(String::as_str)
            .chain([
                "audit_other",
                "entity_other",
                "status_other",
                "role_contact",
            ])
        {
            for lang in [Lang::Zh, Lang::En] {
                assert_ne!(lookup(lang, key), "?", "{key}");
            }
        }
    }
}
