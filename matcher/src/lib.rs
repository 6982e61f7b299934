//! The matching engine: applicability, condition trees, three-valued evaluation, scoring and
//! reasons, and the reverse-path audience index. Pure and deterministic: no I/O, no clock — the
//! evaluation day is always passed in.
//!
//! Forward: [`Engine::match_profile`] ranks live policies for one profile. Reverse:
//! [`AudienceIndex::select`] finds a policy's audience with bitmap algebra and
//! [`Engine::rank_audience`] scores the survivors. Both run the same compiled leaf tests.

pub mod amount;
pub mod applicability;
pub mod audience;
pub mod audit;
pub mod clause;
pub mod condition;
pub mod engine;
pub mod eval;
pub mod explain;
mod field;
mod leaves;
pub mod names;
mod packed;
pub mod reason;
pub mod score;
mod screen;
#[cfg(any(test, feature = "synth"))]
pub mod synth;
#[cfg(test)]
mod testing;

pub use amount::{AmountEstimate, AmountRule, Period};
pub use applicability::{Applicability, CompiledApplicability};
pub use audience::{AudienceBuilder, AudienceIndex, AudienceSets, SnapshotError, SnapshotStamp};
pub use clause::{Article, Cited, articles, clause_anchor};
pub use condition::{CompiledCondition, Condition, ConditionError, Leaf, Op};
pub use engine::{AudienceHit, Detail, Engine, EngineError, MatchReport, PolicyMatch, PolicyRule};
pub use eval::{Evaluation, LeafOutcome, LeafStatus, Verdict};
pub use explain::{Explanation, LeafDetail, NearMiss, NodeKind, Outcome, ReasonNode};
pub use field::label as fact_label;
pub use names::CodeNames;
pub use reason::{Reason, Remedy};
pub use score::{
    MAX_WEIGHT, SCORED_DIMENSIONS, Score, ScoreTerm, TagWeights, Weights, WeightsError,
};
