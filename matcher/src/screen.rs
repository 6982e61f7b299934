//! A policy's screen: the few bytes a forward match reads of every policy before anything else —
//! its audience mask, up to [`SCREENED`] of its condition's required leaves ([`required`]) as
//! ids in the shared leaf table, and where its tag tests are. From their memoized truths a match skips the policies that can
//! be neither eligible, undetermined nor a near miss, decides outright those whose screened leaves
//! are the whole condition, and walks the condition only for the rest.

use crate::eval::{Step, Truth, required};
use crate::leaves::{ALWAYS_TRUE, Memo};
use crate::packed::Span;

/// Required leaves kept per policy: enough for the usual region-plus-a-few-conditions policy, few
/// enough that a screen stays within 48 bytes.
const SCREENED: usize = 4;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Screen {
    /// Bits of the audience classes the policy is for; 0 for any audience.
    pub(crate) audience_mask: u64,
    /// Leaf ids, padded with [`ALWAYS_TRUE`].
    leaves: [u32; SCREENED],
    /// Where the condition's steps are; `None` without a condition.
    pub(crate) forward: Option<Span>,
    /// The screened leaves are the whole condition (none: no condition), so they decide it.
    decisive: bool,
    /// Where the policy's tag tests are: here because scoring a candidate right after its screen
    /// then reads nothing else of the policy.
    pub(crate) tag_tests: Span,
}

/// What screening concluded about one policy.
pub(crate) enum Screened {
    /// Not eligible, and not a near miss either.
    Skip,
    /// The audience verdict, and the condition's truth and near-miss cost as [`crate::eval::quick`]
    /// would find them.
    Decided(Truth, Truth, u8),
    /// The audience verdict, and the steps whose walk alone can tell the rest.
    Evaluate(Truth, Span),
}

/// The audience verdict of a policy for `mask` and a profile with the audience bits `profile`.
pub(crate) fn gate(mask: u64, profile: Option<u64>) -> Truth {
    match (mask, profile) {
        (0, _) => Truth::True,
        (_, None) => Truth::Unknown,
        (wanted, Some(has)) if wanted & has != 0 => Truth::True,
        _ => Truth::False,
    }
}

impl Screen {
    /// The screen of a policy whose condition, over leaf ids, is `steps` (empty: no condition),
    /// stored at `forward`.
    pub(crate) fn new(
        audience_mask: u64,
        steps: &[Step],
        forward: Option<Span>,
        tag_tests: Span,
    ) -> Self {
        let (required, whole) = required(steps);
        let mut leaves = [ALWAYS_TRUE; SCREENED];
        for (slot, id) in leaves.iter_mut().zip(&required) {
            *slot = *id;
        }
        Screen {
            audience_mask,
            leaves,
            forward,
            decisive: whole && required.len() <= SCREENED,
            tag_tests,
        }
    }

    /// The screened leaves, in the order a match tests them.
    pub(crate) fn leaves(&self) -> &[u32] {
        &self.leaves
    }

    /// Follows a [`crate::leaves::LeafTable::renumber`] that gave each old id `new_of[id]`.
    pub(crate) fn renumber(&mut self, new_of: &[u32]) {
        for id in &mut self.leaves {
            *id = new_of[*id as usize];
        }
    }

    #[inline]
    pub(crate) fn screen(&self, profile: Option<u64>, memo: &mut Memo<'_, '_>) -> Screened {
        let gate = gate(self.audience_mask, profile);
        if gate == Truth::False {
            return Screened::Skip;
        }
        let (mut falses, mut unknowns) = (0u8, 0u8);
        for &id in &self.leaves {
            match memo.truth(id) {
                Truth::False => falses += 1,
                Truth::Unknown => unknowns += 1,
                Truth::True => {}
            }
            // A false required leaf makes the condition false; it can then only be listed as a
            // near miss, which needs an open audience and nothing else short. Leaves are tested
            // only until that is settled, since testing one is the costly part.
            if falses > 0 && (gate != Truth::True || falses + unknowns > 1) {
                return Screened::Skip;
            }
        }
        // Saturated as the near-miss cost is: a missing leaf counts as "many".
        let cost = (falses + 2 * unknowns).min(2);
        match self.forward {
            Some(span) if !self.decisive => Screened::Evaluate(gate, span),
            _ => {
                let truth = if falses > 0 {
                    Truth::False
                } else if unknowns > 0 {
                    Truth::Unknown
                } else {
                    Truth::True
                };
                Screened::Decided(gate, truth, cost)
            }
        }
    }
}
