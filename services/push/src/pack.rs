//! The 政策服务包: what one recipient receives from one push — each policy with its summary, the
//! key points of its 解读, why it matched, how to apply and by when, and related policies — built
//! at send time, after re-checking that the policy is still in force and the recipient still
//! qualifies.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use matcher::{PolicyMatch, ReasonNode, Verdict};
use matching::Matching;
use profiles::Profile;
use serde::{Deserialize, Serialize};
use store::policy::{DeliveryMode, Policy};
use store::{PlannedPolicy, Store};

use crate::PushError;

/// One pack, as stored in the inbox and rendered into e-mail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServicePack {
    pub push_id: i64,
    pub profile_id: i64,
    pub recipient: String,
    pub generated_on: NaiveDate,
    pub items: Vec<PackItem>,
}

/// One policy of a pack.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PackItem {
    pub policy_id: i64,
    pub title: String,
    pub doc_number: String,
    pub issuing_departments: Vec<String>,
    pub summary: String,
    pub key_points: Vec<String>,
    /// Why it was pushed: `match`, `deadline:<date>`, `staff:<push id>`.
    pub push_reason: String,
    /// `eligible` (强相关) or `undetermined` (待确认).
    pub verdict: String,
    /// 匹配度 0–100.
    pub score: f64,
    pub conditions_met: usize,
    pub conditions_total: usize,
    pub reasons: Vec<ReasonLine>,
    /// Fields that would settle an undetermined verdict.
    pub missing_fields: Vec<String>,
    /// The same by name, as recipients read them (packs stored before had none).
    #[serde(default)]
    pub missing_zh: Vec<String>,
    #[serde(default)]
    pub missing_en: Vec<String>,
    pub how_to_apply: Vec<ApplyStep>,
    /// The earliest closing application window.
    pub deadline: Option<NaiveDate>,
    /// 政策计算器: estimated benefit in 万元, where the policy states amounts.
    pub estimated_amount: Option<f64>,
    /// The same as people write it ("约 50 万元"), computed in 分: what recipients are shown.
    /// Packs stored before it existed have none.
    #[serde(default)]
    pub estimated_amount_zh: Option<String>,
    pub related: Vec<RelatedPolicy>,
    /// 免申即享 / 直达快享: the recipient is asked to confirm (意愿确认).
    pub confirm_required: bool,
}

/// One human-readable reason.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReasonLine {
    pub zh: String,
    pub en: String,
    pub clause: Option<String>,
}

/// Whether a reason belongs in what a recipient reads: the conditions, and the score terms that
/// raised the policy for them (a close deadline, a matching region). Terms that added nothing, and
/// other recipients' feedback, are how the ranking works, not why the policy applies to them.
fn tells_the_recipient(reason: &matcher::Reason) -> bool {
    if !reason.code.starts_with("score.") {
        return true;
    }
    reason.code != "score.feedback" && reason.contribution.is_some_and(|points| points > 0.0)
}

/// The names of the facts that would settle a verdict, as the reason tree's leaves label them
/// (with the attribute schema's labels); a fact no leaf tests by its built-in label.
fn missing_names(result: &matcher::PolicyMatch, citizen: bool) -> (Vec<String>, Vec<String>) {
    fn leaf_label(node: &ReasonNode, field: &str) -> Option<(String, String)> {
        match &node.leaf {
            Some(leaf) if leaf.field == field => {
                Some((leaf.field_zh.clone(), leaf.field_en.clone()))
            }
            _ => node
                .children
                .iter()
                .find_map(|child| leaf_label(child, field)),
        }
    }
    let root = result
        .explanation
        .as_ref()
        .and_then(|explanation| explanation.condition.as_ref());
    result
        .missing_fields
        .iter()
        .map(|field| {
            root.and_then(|root| leaf_label(root, field))
                .unwrap_or_else(|| matcher::fact_label(field, citizen))
        })
        .unzip()
}

/// How to claim one benefit item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApplyStep {
    pub name: String,
    pub channel: String,
    pub process: String,
    pub materials: Vec<String>,
    pub online_url: Option<String>,
    pub offline_address: Option<String>,
    /// 办理时限 and when applications open (packs stored before had neither).
    #[serde(default)]
    pub time_limit: Option<String>,
    pub hotline: Option<String>,
    #[serde(default)]
    pub window_opens: Option<NaiveDate>,
    pub window_closes: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RelatedPolicy {
    pub policy_id: i64,
    pub title: String,
}

/// Why a planned policy was left out of a pack at send time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// No longer published (revoked, expired by status, deleted).
    Withdrawn,
    /// Published but out of its validity period on the send day.
    Expired,
    /// The recipient's profile no longer qualifies.
    NoLongerEligible,
    /// The recipient muted one of its topics since planning.
    Muted,
}

impl DropReason {
    pub fn code(self) -> &'static str {
        match self {
            Self::Withdrawn => "policy_withdrawn",
            Self::Expired => "policy_expired",
            Self::NoLongerEligible => "no_longer_eligible",
            Self::Muted => "topic_muted",
        }
    }
}

/// Policies read once per batch of deliveries.
#[derive(Default)]
pub struct PolicyCache {
    policies: HashMap<i64, Option<Arc<Policy>>>,
}

impl PolicyCache {
    pub async fn get(&mut self, store: &Store, id: i64) -> Result<Option<Arc<Policy>>, PushError> {
        if let Some(known) = self.policies.get(&id) {
            return Ok(known.clone());
        }
        let policy = match store.policy(id).await {
            Ok(policy) => Some(Arc::new(policy)),
            Err(store::StoreError::NotFound { .. }) => None,
            Err(error) => return Err(error.into()),
        };
        self.policies.insert(id, policy.clone());
        Ok(policy)
    }
}

/// A pack with what was left out of it.
pub struct BuiltPack {
    pub pack: ServicePack,
    pub dropped: Vec<(i64, DropReason)>,
}

/// Builds packs for one batch of deliveries on one day, reading each policy once.
pub struct Packer<'a> {
    pub store: &'a Store,
    pub matching: &'a Matching,
    pub as_of: NaiveDate,
    pub cache: PolicyCache,
}

impl Packer<'_> {
    /// One recipient's pack from the policies planned for it.
    pub async fn build(
        &mut self,
        (profile_id, profile): (i64, &Profile),
        push_id: i64,
        planned: &[PlannedPolicy],
        muted_topics: &[String],
    ) -> Result<BuiltPack, PushError> {
        let (store, matching, as_of) = (self.store, self.matching, self.as_of);
        let cache = &mut self.cache;
        let mut items = Vec::new();
        let mut dropped = Vec::new();
        for plan in planned {
            let Some(policy) = cache.get(store, plan.policy_id).await? else {
                dropped.push((plan.policy_id, DropReason::Withdrawn));
                continue;
            };
            matching.ensure_policy(plan.policy_id).await?;
            let Some(brief) = matching.brief(plan.policy_id) else {
                dropped.push((plan.policy_id, DropReason::Withdrawn));
                continue;
            };
            if !brief.in_force_on(as_of) {
                dropped.push((plan.policy_id, DropReason::Expired));
                continue;
            }
            if policy
                .content
                .topics
                .iter()
                .any(|t| muted_topics.contains(t))
            {
                dropped.push((plan.policy_id, DropReason::Muted));
                continue;
            }
            let result = matching.explain(plan.policy_id, profile, as_of)?;
            let qualifies = match result.verdict {
                Verdict::Eligible => true,
                Verdict::Undetermined => plan.allow_undetermined,
                Verdict::NotEligible => false,
            };
            if !qualifies {
                dropped.push((plan.policy_id, DropReason::NoLongerEligible));
                continue;
            }
            let related = published_related(matching, &policy);
            items.push(pack_item(
                &policy,
                &result,
                profile,
                (plan.reason.clone(), brief.window_closes),
                related,
            ));
        }
        items.sort_by(|a, b| {
            b.score
                .total_cmp(&a.score)
                .then(a.policy_id.cmp(&b.policy_id))
        });
        Ok(BuiltPack {
            pack: ServicePack {
                push_id,
                profile_id,
                recipient: profile.name().to_owned(),
                generated_on: as_of,
                items,
            },
            dropped,
        })
    }
}

/// The related policies of `policy` that are published, by title.
pub(crate) fn published_related(matching: &Matching, policy: &Policy) -> Vec<RelatedPolicy> {
    policy
        .content
        .related_policy_ids
        .iter()
        .filter_map(|id| {
            matching.brief(*id).map(|brief| RelatedPolicy {
                policy_id: *id,
                title: brief.title,
            })
        })
        .collect()
}

/// One policy as `profile` reads it in a pack, from its match `result`, pushed for `reason`
/// with its earliest closing window as the deadline.
pub fn pack_item(
    policy: &Policy,
    result: &PolicyMatch,
    profile: &Profile,
    (reason, deadline): (String, Option<NaiveDate>),
    related: Vec<RelatedPolicy>,
) -> PackItem {
    let (missing_zh, missing_en) =
        missing_names(result, profile.kind() == profiles::ProfileKind::Citizen);
    let content = &policy.content;
    PackItem {
        policy_id: policy.id,
        title: content.title.clone(),
        doc_number: content.doc_number.clone(),
        issuing_departments: content.issuing_departments.clone(),
        summary: content.summary.clone(),
        key_points: content.interpretation.key_points.clone(),
        push_reason: reason,
        verdict: match result.verdict {
            Verdict::Eligible => "eligible",
            _ => "undetermined",
        }
        .to_owned(),
        score: result.score,
        conditions_met: result.met,
        conditions_total: result.total,
        reasons: result
            .reasons
            .iter()
            .filter(|r| tells_the_recipient(r))
            .map(|r| ReasonLine {
                zh: r.text_zh.clone(),
                en: r.text_en.clone(),
                clause: r.clause.clone(),
            })
            .collect(),
        missing_fields: result.missing_fields.clone(),
        missing_zh,
        missing_en,
        how_to_apply: content
            .benefit_items
            .iter()
            .map(|item| ApplyStep {
                name: item.name.clone(),
                channel: item.channel.clone(),
                process: item.process.clone(),
                materials: item.materials.clone(),
                online_url: item.online_url.clone(),
                offline_address: item.offline_address.clone(),
                time_limit: item.time_limit.clone(),
                hotline: item.hotline.clone(),
                window_opens: item.window_opens,
                window_closes: item.window_closes,
            })
            .collect(),
        deadline,
        estimated_amount: result.estimated_amount.as_ref().map(|a| a.total),
        estimated_amount_zh: result.estimated_amount.as_ref().map(|a| a.total_zh.clone()),
        related,
        confirm_required: matches!(
            content.delivery_mode,
            DeliveryMode::NoApplication | DeliveryMode::FastTrack
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(code: &str, contribution: Option<f64>) -> matcher::Reason {
        matcher::Reason {
            code: code.to_owned(),
            text_zh: String::new(),
            text_en: String::new(),
            contribution,
            clause: None,
        }
    }

    #[test]
    fn recipients_read_conditions_and_the_terms_that_raised_the_policy() {
        assert!(tells_the_recipient(&reason("condition.met", None)));
        assert!(tells_the_recipient(&reason("score.urgency", Some(12.5))));
        assert!(!tells_the_recipient(&reason("score.interest", Some(0.0))));
        assert!(!tells_the_recipient(&reason("score.interest", None)));
        assert!(!tells_the_recipient(&reason("score.feedback", Some(3.0))));
    }
}
