//! The fold is deterministic and total: any sequence of valid events folds without panicking,
//! and the same sequence always gives the same state, byte for byte.

use albedo_ledger::testkit::{arb_event, sample_event};
use albedo_ledger::{ENTRY_VERSION, Envelope, Event, Hash32};
use albedo_projections::state::State;
use proptest::prelude::*;

fn fold(events: &[Event]) -> State {
    let mut state = State::new();
    for (seq, event) in events.iter().enumerate() {
        state.apply(&Envelope {
            v: ENTRY_VERSION,
            seq: seq as u64,
            prev: Hash32::ZERO,
            time_ms: seq as u64,
            block: None,
            event: event.clone(),
        });
    }
    state
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_event_sequence_folds_deterministically(events in proptest::collection::vec(arb_event(), 0..40)) {
        let a = fold(&events);
        let b = fold(&events);
        prop_assert_eq!(a.to_canonical_json(), b.to_canonical_json());
        prop_assert_eq!(a.totals.entries, events.len() as u64);
    }

    #[test]
    fn sample_ledgers_fold_deterministically(start in 0u64..200, len in 0usize..120) {
        let events: Vec<Event> = (start..start + len as u64).map(sample_event).collect();
        prop_assert_eq!(fold(&events).to_canonical_json(), fold(&events).to_canonical_json());
    }
}

#[test]
fn folding_twice_is_not_folding_once() {
    // The canonical JSON really reflects the state: a different ledger gives different bytes.
    let events: Vec<Event> = (0..40).map(sample_event).collect();
    assert_ne!(fold(&events).to_canonical_json(), fold(&events[..39]).to_canonical_json());
}
