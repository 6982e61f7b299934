//! The distinct condition leaves of all live policies, shared: the engine stores each policy's
//! condition as [`Step`]s naming leaves by their id here, so a leaf that thousands of policies
//! have (their issuing region, a common size test) is evaluated once per match, on first use,
//! and every other policy reads its truth from a byte array.

use std::collections::HashMap;

use crate::eval::{Context, Forward, ForwardLeaf, Row, Step, Truth};

/// An id no leaf has, whose truth is always true: pads screens ([`crate::screen`]).
pub(crate) const ALWAYS_TRUE: u32 = 0;

/// Leaves by id, reference-counted so that an id no live policy uses is recycled.
#[derive(Debug, Clone)]
pub(crate) struct LeafTable {
    /// `None` marks a free id.
    leaves: Vec<Option<ForwardLeaf>>,
    refs: Vec<u32>,
    ids: HashMap<Vec<u64>, u32>,
    free: Vec<u32>,
}

impl Default for LeafTable {
    fn default() -> Self {
        LeafTable {
            leaves: vec![None],
            refs: vec![0],
            ids: HashMap::new(),
            free: Vec::new(),
        }
    }
}

impl LeafTable {
    /// `forward`'s tree with its leaf numbers replaced by ids in the table; takes a reference to
    /// each, which [`LeafTable::release`] gives back.
    pub(crate) fn intern(&mut self, forward: &Forward) -> Vec<Step> {
        forward
            .steps()
            .iter()
            .map(|step| match *step {
                Step::Leaf(at) => Step::Leaf(self.intern_leaf(&forward.leaves()[at as usize])),
                other => other,
            })
            .collect()
    }

    fn intern_leaf(&mut self, leaf: &ForwardLeaf) -> u32 {
        let key = leaf.key();
        let id = match self.ids.get(&key) {
            Some(&id) => id,
            None => {
                let id = match self.free.pop() {
                    Some(id) => {
                        self.leaves[id as usize] = Some(leaf.clone());
                        id
                    }
                    None => {
                        self.leaves.push(Some(leaf.clone()));
                        self.refs.push(0);
                        u32::try_from(self.leaves.len() - 1).expect("fewer than 2^32 leaves")
                    }
                };
                self.ids.insert(key, id);
                id
            }
        };
        self.refs[id as usize] += 1;
        id
    }

    /// Gives back the references an [`LeafTable::intern`] of `steps` took.
    pub(crate) fn release(&mut self, steps: &[Step]) {
        for step in steps {
            let Step::Leaf(id) = *step else { continue };
            let at = id as usize;
            self.refs[at] -= 1;
            if self.refs[at] == 0 {
                let leaf = self.leaves[at].take().expect("a referenced leaf is live");
                self.ids.remove(&leaf.key());
                self.free.push(id);
            }
        }
    }

    /// Gives the leaves new ids in the order `first_use` names them (the ids it repeats or leaves
    /// out follow in their old order, [`ALWAYS_TRUE`] stays first), so that a match reading
    /// leaves in that order reads the table front to back. Returns each old id's new id.
    pub(crate) fn renumber(&mut self, first_use: impl IntoIterator<Item = u32>) -> Vec<u32> {
        const UNPLACED: u32 = u32::MAX;
        let count = u32::try_from(self.leaves.len()).expect("fewer than 2^32 leaves");
        let mut new_of = vec![UNPLACED; self.leaves.len()];
        let mut old_of = Vec::with_capacity(self.leaves.len());
        let ids = std::iter::once(ALWAYS_TRUE)
            .chain(first_use)
            .chain(0..count);
        for id in ids {
            let new = &mut new_of[id as usize];
            if *new == UNPLACED {
                *new = u32::try_from(old_of.len()).expect("fewer than 2^32 leaves");
                old_of.push(id as usize);
            }
        }
        self.leaves = old_of.iter().map(|&old| self.leaves[old].take()).collect();
        self.refs = old_of.iter().map(|&old| self.refs[old]).collect();
        for id in self.ids.values_mut().chain(&mut self.free) {
            *id = new_of[*id as usize];
        }
        new_of
    }

    pub(crate) fn leaf(&self, id: u32) -> &ForwardLeaf {
        self.leaves[id as usize]
            .as_ref()
            .expect("steps name live leaves")
    }

    /// Every leaf's truth in leaf order, for explanations.
    pub(crate) fn statuses(&self, steps: &[Step], row: &Row<'_>, ctx: &Context) -> Vec<Truth> {
        steps
            .iter()
            .filter_map(|step| match *step {
                Step::Leaf(id) => Some(self.leaf(id).truth(row, ctx)),
                Step::All { .. } | Step::Any { .. } => None,
            })
            .collect()
    }

    /// Per-match memory of leaf truths, all still unknown to it.
    pub(crate) fn memo<'t, 'r>(&'t self, row: &'t Row<'r>, ctx: &'t Context) -> Memo<'t, 'r> {
        let mut truths = vec![UNSEEN; self.leaves.len()];
        truths[ALWAYS_TRUE as usize] = Truth::True as u8;
        Memo {
            table: self,
            row,
            ctx,
            truths,
        }
    }

    /// Distinct leaves in the table, for the tests.
    #[cfg(test)]
    pub(crate) fn live(&self) -> usize {
        self.ids.len()
    }
}

/// A [`Memo`] byte for a leaf not evaluated yet; otherwise the byte is the leaf's [`Truth`].
const UNSEEN: u8 = u8::MAX;

/// One match's leaf truths, each evaluated the first time a policy needs it.
pub(crate) struct Memo<'t, 'r> {
    table: &'t LeafTable,
    row: &'t Row<'r>,
    ctx: &'t Context,
    truths: Vec<u8>,
}

impl Memo<'_, '_> {
    #[inline]
    pub(crate) fn truth(&mut self, id: u32) -> Truth {
        let at = id as usize;
        match self.truths[at] {
            UNSEEN => {
                let truth = self.table.leaf(id).truth(self.row, self.ctx);
                self.truths[at] = truth as u8;
                truth
            }
            seen => Truth::from_byte(seen),
        }
    }
}
