//! 我的政策 for signed-in enterprises and citizens: their bound profile's live matches (not only
//! what was pushed) in 强相关 / 待确认 / 差一项, rendered like the calculator's result with how to
//! apply on each match, and the 完善画像 loop — a 待确认 policy names the one fact that would
//! settle it, a 差一项 policy the condition it is short of when the person can change it, each
//! with a box for the fact's kind (a number, yes/no, a date, text, a list of names for enums,
//! regions and industries, checkboxes for household circumstances, the day a certificate was
//! obtained), saved through the API's own
//! profile update (identity locked for the owner), after which the page shows the new grouping.
//! Only facts a person states themselves are offered: identity fields and figures derived from
//! other ones never are. Also 我的画像: every fact of the profile by its name, with its 智能画像
//! labels and why each holds.

use std::collections::HashMap;

use api::{ApiError, AppState, Rule};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use matcher::{PolicyMatch, ReasonNode, Remedy};
use minijinja::context;
use profiles::facts::Value as FactValue;
use profiles::schema::{ATTRIBUTE_PREFIX, CERTIFICATION_PREFIX, FieldType};
use serde::Serialize;
use store::StoredProfile;

use crate::portal::{entries, household_choices, industry_choices, number, region_choices};
use crate::{Lang, Public, Signed, Viewer, checked_form, csrf_refused};

/// Policies per group.
const PER_GROUP: usize = 50;

/// Fields that say who the profile is: changed only by the service centre.
const IDENTITY: &[&str] = &[
    "kind",
    "name",
    "credit_code",
    "id_number",
    "id_masked",
    "id_hash",
    "birth_date",
];

/// The one fact a form asks for: the field's key, its name, the kind of box, and for a choice
/// (`select`, one of; `checks`, any of) the values offered as (value, name).
#[derive(Serialize)]
struct Fact {
    field: String,
    label: String,
    input: &'static str,
    choices: Vec<(String, String)>,
}

/// Where an editable fact goes in the profile document, and how its box reads.
struct Slot {
    label: String,
    field_type: FieldType,
    place: Place,
}

/// Where in the profile document a fact is written.
enum Place {
    /// A field of the document itself.
    Document,
    /// The attribute bag, for administrator-defined fields.
    Attribute(String),
    /// The day a certificate of this kind was obtained: its entry in `certifications`, added
    /// when the profile has none of that kind.
    Certificate(String),
}

/// The fact `key` when the profile's own user may state it here: a field of the schema, entered
/// rather than derived, not identity, and held directly in the profile document.
fn editable(
    viewer: &Viewer,
    schema: &profiles::AttributeSchema,
    document: &serde_json::Value,
    key: &str,
) -> Option<Slot> {
    if IDENTITY.contains(&key) {
        return None;
    }
    let def = schema.get(key).filter(|def| !def.derived)?;
    let field_type = def.field_type.clone();
    if matches!(field_type, FieldType::Set) && set_choices(viewer, key).is_none() {
        return None;
    }
    let place = if let Some(attribute) = key.strip_prefix(ATTRIBUTE_PREFIX) {
        Place::Attribute(attribute.to_owned())
    } else if let Some(kind) = key.strip_prefix(CERTIFICATION_PREFIX) {
        document.get("certifications")?;
        Place::Certificate(kind.to_owned())
    } else {
        document.get(key)?;
        Place::Document
    };
    let label = if viewer.lang == Lang::En {
        def.label_en.clone()
    } else {
        def.label_zh.clone()
    };
    Some(Slot {
        label,
        field_type,
        place,
    })
}

/// The values of a list a person ticks from, by name; `None` for a list with no known values
/// (an administrator's free list), which this page does not offer.
fn set_choices(viewer: &Viewer, key: &str) -> Option<Vec<(String, String)>> {
    (key == "household").then(|| household_choices(viewer))
}

/// The box for a field and, for a choice, its options named in the viewer's language: codes
/// (regions, industries, enum values) are never shown, only their names.
fn input_for(
    state: &AppState,
    viewer: &Viewer,
    key: &str,
    field_type: &FieldType,
) -> (&'static str, Vec<(String, String)>) {
    let named = |codes: &[String]| {
        codes
            .iter()
            .map(|code| {
                let (zh, en) = state.matching.value_name(key, code);
                (code.clone(), if viewer.lang == Lang::En { en } else { zh })
            })
            .collect()
    };
    match field_type {
        FieldType::Number => ("number", Vec::new()),
        FieldType::Bool => ("bool", Vec::new()),
        FieldType::Date => ("date", Vec::new()),
        FieldType::Text => ("text", Vec::new()),
        FieldType::Enum { values } => ("select", named(values)),
        FieldType::Region => ("select", region_choices(state, viewer)),
        FieldType::Industry => ("select", industry_choices(viewer)),
        FieldType::Set => ("checks", set_choices(viewer, key).unwrap_or_default()),
    }
}

/// The one fact that would settle a policy and that the person can state here: for 待确认 the
/// first missing one, for 差一项 the one condition short when the recipient can change it (a
/// region or a founding date is not theirs to act on, so no form is offered for them).
fn settling_fact(
    state: &AppState,
    viewer: &Viewer,
    schema: &profiles::AttributeSchema,
    document: &serde_json::Value,
    result: &PolicyMatch,
) -> Option<Fact> {
    let short = result.explanation.as_ref().and_then(|explanation| {
        let near = explanation.near_miss.as_ref()?;
        if near.remedy != Remedy::Changeable {
            return None;
        }
        settled_by(explanation.condition.as_ref()?, &near.path)
    });
    let mut candidates = result.missing_fields.iter().cloned().chain(short);
    candidates.find_map(|key| {
        let key = key.as_str();
        editable(viewer, schema, document, key).map(|slot| {
            let (input, choices) = input_for(state, viewer, key, &slot.field_type);
            Fact {
                field: key.to_owned(),
                label: slot.label,
                input,
                choices,
            }
        })
    })
}

/// The fact that settles the leaf at `path` of a reason tree: the field it tests or, for a
/// certificate the profile lacks, the day a certificate of that kind was obtained.
fn settled_by(node: &ReasonNode, path: &str) -> Option<String> {
    if node.path == path {
        let leaf = node.leaf.as_ref()?;
        if leaf.field == "certifications" {
            let kind = match &leaf.expected {
                serde_json::Value::Array(kinds) => kinds.first()?.as_str()?,
                expected => expected.as_str()?,
            };
            return Some(format!("{CERTIFICATION_PREFIX}{kind}"));
        }
        return Some(leaf.field.clone());
    }
    node.children
        .iter()
        .find_map(|child| settled_by(child, path))
}

/// Records that the profile's certificate of `kind` was obtained on `day`: its entry's date
/// when there is one (its expiry kept), a new entry otherwise.
fn record_certificate(document: &mut serde_json::Value, kind: &str, day: &str) {
    let Some(entries) = document["certifications"].as_array_mut() else {
        return;
    };
    match entries.iter_mut().find(|entry| entry["kind"] == kind) {
        Some(entry) => {
            // A certificate obtained again after its expiry is a new one, with no expiry known.
            if entry["expires_on"]
                .as_str()
                .is_some_and(|expires| expires < day)
            {
                entry["expires_on"] = serde_json::Value::Null;
            }
            entry["obtained_on"] = day.into();
        }
        None => entries.push(serde_json::json!({"kind": kind, "obtained_on": day})),
    }
}

/// The profile as the document an update sends: what the owner may not state (the stored
/// identity's digests and the birth date its number carries) left out, so the stored ones stay.
fn update_document(stored: &StoredProfile) -> Result<serde_json::Value, ApiError> {
    let mut document = serde_json::to_value(&stored.profile).map_err(|_| ApiError::internal())?;
    if let Some(object) = document.as_object_mut() {
        for key in ["id_masked", "id_hash", "birth_date"] {
            object.remove(key);
        }
    }
    Ok(document)
}

/// The viewer's own profile, or the page that refuses.
async fn own_profile(state: &AppState, viewer: &Viewer) -> Result<StoredProfile, Response> {
    let Some(profile_id) = viewer.user().and_then(|u| u.profile_id) else {
        return Err(viewer.message(
            StatusCode::FORBIDDEN,
            viewer.text("forbidden"),
            viewer.text("no_profile"),
        ));
    };
    viewer
        .allowed(state, Rule::ProfileOwner, Some(profile_id))
        .await?;
    state
        .store
        .profile(profile_id)
        .await
        .map_err(|error| ApiError::from(error).into_response())
}

/// `/my/policies`: the live matches of the viewer's profile.
pub(crate) async fn my_policies(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
) -> Response {
    let stored = match own_profile(&state, &viewer).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let (schema, document) = match (
        state.store.attribute_schema().await,
        update_document(&stored),
    ) {
        (Ok(schema), Ok(document)) => (schema, document),
        (Err(error), _) => return ApiError::from(error).into_response(),
        (_, Err(error)) => return error.into_response(),
    };
    let today = state.store.today();
    let matches = state
        .matching
        .matches(&stored.profile, today, PER_GROUP)
        .for_recipient();
    let listed: Vec<i64> = matches
        .eligible
        .iter()
        .chain(&matches.possible)
        .chain(&matches.near_miss)
        .map(|view| view.policy.id)
        .collect();
    // One read for the page; a policy deleted since the match was made is simply absent, and
    // the link to its page says so.
    let how_to_apply: HashMap<i64, Vec<minijinja::Value>> =
        match state.store.policies_by_ids(&listed).await {
            Ok(policies) => policies
                .iter()
                .map(|policy| (policy.id, apply_items(policy)))
                .collect(),
            Err(error) => return ApiError::from(error).into_response(),
        };
    // `settle`: offer the one fact for 待确认 (false) or 差一项 (true); eligible ones need none.
    let group_entries = |group: &[matching::MatchView], settle: Option<bool>| {
        group
            .iter()
            .zip(entries(&viewer, &schema, group))
            .map(|(view, entry)| {
                let apply = how_to_apply.get(&view.policy.id);
                let Some(short_of_one) = settle else {
                    return context! { apply => apply, ..minijinja::Value::from_serialize(&entry) };
                };
                // A list's matches carry no reason tree; the one condition short needs it.
                let explained = match &view.result.explanation {
                    None if short_of_one => state
                        .matching
                        .explain(view.policy.id, &stored.profile, today)
                        .ok(),
                    _ => None,
                };
                let result = explained.as_ref().unwrap_or(&view.result);
                let fact = settling_fact(&state, &viewer, &schema, &document, result);
                context! { fact => fact, apply => apply, ..minijinja::Value::from_serialize(&entry) }
            })
            .collect::<Vec<_>>()
    };
    let groups = vec![
        context! { key => "eligible", name => viewer.text("eligible"), entries => group_entries(&matches.eligible, None) },
        context! { key => "possible", name => viewer.text("undetermined"), help => viewer.text("undetermined_help"), entries => group_entries(&matches.possible, Some(false)) },
        context! { key => "near_miss", name => viewer.text("near_miss"), help => viewer.text("near_miss_help"), entries => group_entries(&matches.near_miss, Some(true)) },
    ];
    let title = viewer.text("my_policies");
    viewer.render(
        "my_policies.html",
        title,
        context! { groups => groups, as_of => today, name => stored.profile.name() },
    )
}

/// Each benefit item's how-to-apply fields (channel, materials, 办理时限, address, hotline,
/// window), with the calendar link of the month its window closes, for showing on the match.
fn apply_items(policy: &store::policy::Policy) -> Vec<minijinja::Value> {
    policy
        .content
        .benefit_items
        .iter()
        .map(|item| {
            context! {
                item => item,
                ics => crate::portal::calendar_link(item),
            }
        })
        .collect()
}

/// `POST /my/policies/fact`: states one fact of the viewer's profile, then back to the matches.
pub(crate) async fn supply_fact(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
    body: String,
) -> Response {
    let Some(fields) = checked_form(&viewer, &body) else {
        return csrf_refused(&viewer);
    };
    let stored = match own_profile(&state, &viewer).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let schema = match state.store.attribute_schema().await {
        Ok(schema) => schema,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let mut document = match update_document(&stored) {
        Ok(document) => document,
        Err(error) => return error.into_response(),
    };
    let key = fields.get("field").map(String::as_str).unwrap_or_default();
    let value = fields.get("value").map_or("", |v| v.trim());
    // Ticked boxes repeat `value`; the map above keeps only the last.
    let ticked: Vec<serde_json::Value> = form_urlencoded::parse(body.as_bytes())
        .filter(|(name, _)| name == "value")
        .map(|(_, value)| value.trim().to_owned().into())
        .collect();
    let Some(slot) = editable(&viewer, &schema, &document, key) else {
        let label = schema.get(key).map_or_else(
            || key.to_owned(),
            |def| {
                if viewer.lang == Lang::En {
                    def.label_en.clone()
                } else {
                    def.label_zh.clone()
                }
            },
        );
        let detail = format!("{label}：{}", viewer.text("fact_not_editable"));
        return viewer.message(
            StatusCode::UNPROCESSABLE_ENTITY,
            viewer.text("bad_form"),
            &detail,
        );
    };
    let typed = match slot.field_type {
        FieldType::Number => number(value),
        FieldType::Bool => serde_json::Value::Bool(value == "true"),
        // Ticking none states "none of these", itself a fact.
        FieldType::Set => serde_json::Value::Array(ticked),
        FieldType::Text
        | FieldType::Date
        | FieldType::Enum { .. }
        | FieldType::Region
        | FieldType::Industry => serde_json::Value::String(value.to_owned()),
    };
    match slot.place {
        Place::Attribute(attribute) => document["attributes"][attribute] = typed,
        Place::Certificate(kind) => record_certificate(&mut document, &kind, value),
        Place::Document => document[key] = typed,
    }
    let outcome = match api::parse_profile_value(document) {
        Ok(input) => api::save_profile(&state, &viewer.caller, stored.id, input).await,
        Err(error) => Err(error),
    };
    match outcome {
        Ok(_) => Redirect::to("/my/policies").into_response(),
        Err(error) if error.status().is_client_error() => {
            let message = match error.errors.first() {
                Some(problem) if viewer.lang == Lang::En => problem.message_en.clone(),
                Some(problem) => problem.message.clone(),
                None if viewer.lang == Lang::En => error.message_en().to_owned(),
                None => error.message_zh().to_owned(),
            };
            let detail = format!("{}：{message}", slot.label);
            viewer.message(error.status(), viewer.text("bad_form"), &detail)
        }
        Err(error) => error.into_response(),
    }
}

/// A fact's value as a person reads it: codes by their names, sets joined, whole numbers whole.
fn fact_text(state: &AppState, viewer: &Viewer, key: &str, value: &FactValue) -> String {
    let name = |code: &str| {
        let (zh, en) = state.matching.value_name(key, code);
        if viewer.lang == Lang::En { en } else { zh }
    };
    match value {
        FactValue::Bool(yes) => viewer.text(if *yes { "yes" } else { "no" }).to_owned(),
        FactValue::Number(number) if number.fract() == 0.0 && number.abs() < 1e15 => {
            format!("{number:.0}")
        }
        FactValue::Number(number) => number.to_string(),
        FactValue::Date(day) => day.to_string(),
        FactValue::Text(code) => name(code),
        FactValue::Set(codes) if codes.is_empty() => viewer.text("none_in_group").to_owned(),
        FactValue::Set(codes) => codes
            .iter()
            .map(|code| name(code))
            .collect::<Vec<_>>()
            .join("、"),
    }
}

/// Facts never shown on the page: the birth date the ID number carries stays with the service
/// centre, as in the API's reading of a profile.
const UNSHOWN: &[&str] = &["birth_date"];

/// `/profile` (我的画像): every fact of the viewer's profile by its name, the 智能画像 labels with
/// why each holds, and the 完善画像 prompts.
pub(crate) async fn profile_page(
    State(state): State<AppState>,
    Signed(viewer, _): Signed<Public>,
) -> Response {
    let stored = match own_profile(&state, &viewer).await {
        Ok(stored) => stored,
        Err(response) => return response,
    };
    let schema = match state.store.attribute_schema().await {
        Ok(schema) => schema,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let today = state.store.today();
    let en = viewer.lang == Lang::En;
    let label_of = |key: &str| {
        schema.get(key).map(|def| {
            if en {
                def.label_en.clone()
            } else {
                def.label_zh.clone()
            }
        })
    };
    let facts = stored.profile.facts(today);
    let rows: Vec<(String, String)> = facts
        .iter()
        .filter(|(key, _)| !UNSHOWN.contains(key))
        .filter_map(|(key, value)| {
            let label = label_of(key)?;
            Some((label, fact_text(&state, &viewer, key, value)))
        })
        .collect();
    let labels: Vec<minijinja::Value> = stored
        .labels
        .iter()
        .map(|label| {
            context! {
                name => label_of(label.key).unwrap_or_else(|| label.key.to_owned()),
                value => fact_text(&state, &viewer, label.key, &label.value),
                reason => if en { &label.reason_en } else { &label.reason_zh },
            }
        })
        .collect();
    let prompts = match api::completion(&state, &stored.profile, today).await {
        Ok(fields) => fields
            .into_iter()
            .map(|f| {
                let label = if en { f.label_en } else { f.label_zh };
                let titles: Vec<String> = f.settles.into_iter().map(|p| p.title).collect();
                context! { field => label, policies => titles.join("；") }
            })
            .collect::<Vec<_>>(),
        Err(error) => return error.into_response(),
    };
    let title = viewer.text("my_profile");
    viewer.render(
        "profile.html",
        title,
        context! { rows => rows, labels => labels, prompts => prompts },
    )
}
