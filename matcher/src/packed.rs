//! Many small runs of values stored end to end in one vector, addressed by [`Span`]s. The engine
//! keeps every policy's condition program and score tests this way so that a match scans memory
//! in order instead of chasing one allocation per policy. Replaced and removed runs leave holes
//! that are squeezed out once they outnumber the live values; the engine also lays the runs out
//! again in the order its matches read them.

/// Where one run lies in a [`Packed`] store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    len: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Packed<T> {
    items: Vec<T>,
    holes: usize,
}

impl<T> Default for Packed<T> {
    fn default() -> Self {
        Packed {
            items: Vec::new(),
            holes: 0,
        }
    }
}

impl<T: Clone> Packed<T> {
    pub(crate) fn add(&mut self, run: &[T]) -> Span {
        let start = u32::try_from(self.items.len()).expect("fewer than 2^32 packed values");
        self.items.extend_from_slice(run);
        Span {
            start,
            len: u32::try_from(run.len()).expect("fewer than 2^32 packed values"),
        }
    }

    pub(crate) fn get(&self, span: Span) -> &[T] {
        let start = span.start as usize;
        &self.items[start..start + span.len as usize]
    }

    /// Every value held, holes included (a hole's values are stale but harmless to rewrite).
    pub(crate) fn values_mut(&mut self) -> &mut [T] {
        &mut self.items
    }

    pub(crate) fn release(&mut self, span: Span) {
        self.holes += span.len as usize;
    }

    /// Rewrites the store without holes when they make up more than half of it; `spans` must be
    /// every live span, and are updated in place.
    pub(crate) fn compact<'s>(&mut self, spans: impl Iterator<Item = &'s mut Span>) {
        if self.holes * 2 <= self.items.len() {
            return;
        }
        self.repack(spans);
    }

    /// Rewrites the store without holes, its runs in the order of `spans`, which must be every
    /// live span and are updated in place.
    pub(crate) fn repack<'s>(&mut self, spans: impl Iterator<Item = &'s mut Span>) {
        let mut packed = Vec::with_capacity(self.items.len() - self.holes);
        for span in spans {
            let moved = u32::try_from(packed.len()).expect("fewer than 2^32 packed values");
            packed.extend_from_slice(self.get(*span));
            span.start = moved;
        }
        self.items = packed;
        self.holes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_survive_release_and_compaction() {
        let mut store = Packed::default();
        let mut spans: Vec<Span> = (0..10u32)
            .map(|i| store.add(&[i, i + 100, i + 200]))
            .collect();
        for span in spans.drain(..6) {
            store.release(span);
        }
        store.compact(spans.iter_mut());
        assert_eq!(store.items.len(), 12, "holes are squeezed out");
        let runs: Vec<&[u32]> = spans.iter().map(|s| store.get(*s)).collect();
        assert_eq!(
            runs,
            [
                &[6, 106, 206][..],
                &[7, 107, 207],
                &[8, 108, 208],
                &[9, 109, 209]
            ]
        );
    }
}
