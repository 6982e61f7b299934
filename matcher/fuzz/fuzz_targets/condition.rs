//! Feeds arbitrary bytes as JSON to condition parsing and validation, and every condition that
//! validates to evaluation on both paths: nothing may panic, and forward and reverse verdicts
//! (three-valued and eligible-only) must agree on a small generated population.

#![no_main]

use chrono::{Days, NaiveDate};
use libfuzzer_sys::fuzz_target;
use matcher::synth::{self, SplitMix64};
use matcher::{Applicability, AudienceIndex, Condition};

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(condition) = Condition::from_json(&json) else { return };
    let schema = synth::schema();
    let Ok(compiled) = condition.compile(&schema) else { return };
    let applicability = Applicability { condition: Some(condition), ..Applicability::default() }
        .compile(&schema)
        .expect("a valid condition makes a valid applicability");

    let seed = data.iter().fold(0u64, |h, b| h.rotate_left(5) ^ u64::from(*b));
    let mut rng = SplitMix64::new(seed);
    let as_of = NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date") + Days::new(rng.below(1000));
    let population: Vec<_> = (0..16).map(|_| synth::facts(&mut rng, as_of)).collect();
    let mut index = AudienceIndex::new(&schema);
    for (id, facts) in (0u32..).zip(&population) {
        index.insert(id, facts);
    }
    let sets = index.select(&applicability, as_of);
    assert_eq!(index.eligible(&applicability, as_of), sets.eligible, "{json}: the eligible-only path");
    for (id, facts) in (0u32..).zip(&population) {
        let evaluation = compiled.evaluate(facts, as_of);
        assert_eq!(evaluation.verdict, sets.verdict(id), "{json} on {facts:?}");
        assert!(evaluation.met <= evaluation.total);
    }
});
