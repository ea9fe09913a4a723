use super::*;

fn admitted(a: Admission) -> (SlotId, Option<SlotId>) {
    match a {
        Admission::Admitted { id, evicted } => (id, evicted),
        Admission::Refused => panic!("refused"),
    }
}

#[test]
fn admits_up_to_the_limit_without_evicting() {
    let mut slots = Slots::new(3);
    for _ in 0..3 {
        assert_eq!(admitted(slots.admit()).1, None);
    }
    assert_eq!(slots.len(), 3);
}

#[test]
fn a_full_table_evicts_the_connection_that_waited_on_its_client_longest() {
    let mut slots = Slots::new(3);
    let (a, _) = admitted(slots.admit());
    let (b, _) = admitted(slots.admit());
    let (c, _) = admitted(slots.admit());
    // a answered a request and waits again: now it is the youngest waiter.
    slots.on_agent(a);
    slots.on_client(a);
    assert_eq!(admitted(slots.admit()).1, Some(b));
    assert_eq!(admitted(slots.admit()).1, Some(c));
    assert_eq!(slots.len(), 3);
}

#[test]
fn never_evicts_a_connection_the_agent_is_answering_and_refuses_when_all_are() {
    let mut slots = Slots::new(2);
    let (a, _) = admitted(slots.admit());
    let (b, _) = admitted(slots.admit());
    slots.on_agent(a);
    let (c, evicted) = admitted(slots.admit());
    assert_eq!(evicted, Some(b));
    slots.on_agent(c);
    assert_eq!(slots.admit(), Admission::Refused);
    assert_eq!(slots.len(), 2, "a refusal takes no place");
    slots.on_client(a);
    assert_eq!(admitted(slots.admit()).1, Some(a));
}

#[test]
fn a_released_place_is_free_again_and_an_evicted_one_is_not_revived() {
    let mut slots = Slots::new(1);
    let (a, _) = admitted(slots.admit());
    let (b, evicted) = admitted(slots.admit());
    assert_eq!(evicted, Some(a));
    // The evicted connection's task notices late: nothing it does touches the table.
    slots.on_agent(a);
    slots.on_client(a);
    slots.release(a);
    assert_eq!(slots.len(), 1);
    slots.on_agent(b);
    assert_eq!(slots.admit(), Admission::Refused);
    slots.release(b);
    assert!(slots.is_empty());
    assert_eq!(admitted(slots.admit()).1, None);
}

#[test]
fn ids_are_never_reused() {
    let mut slots = Slots::new(1);
    let (a, _) = admitted(slots.admit());
    slots.release(a);
    let (b, _) = admitted(slots.admit());
    assert_ne!(a, b);
}
