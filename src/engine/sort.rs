//! Sorting a step's events into the log's total order, in parallel by second.

use super::*;

/// About how many groups of task outputs the sort scatters in parallel (the new
/// orders' outputs start a group of their own); fixed, so that the work does not depend
/// on the thread count (the output never does: sort keys are unique).
pub(super) const SORT_GROUPS: usize = 4;

/// Sorts a step's events by (time, order id, stage) into the front of `sorted` and
/// returns how many there are: a counting sort on the second within the step's
/// `seconds`, the tasks' buffers scattered in parallel groups, then each second's few
/// events sorted in parallel. Much cheaper than one comparison sort over the step.
/// `parts[new_from..]` hold the new orders' events (see `sort_second`). `sorted` only
/// grows, so its front is never written twice.
pub(super) fn sort_step(
    parts: &[&[Event]],
    new_from: usize,
    sorted: &mut Vec<Event>,
    start: u32,
    seconds: usize,
) -> usize {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let Some(&filler) = parts.iter().find_map(|p| p.first()) else {
        return 0;
    };
    // Contiguous runs of parts with about the same number of events, the new orders'
    // in groups of their own.
    let mut groups: Vec<&[&[Event]]> = Vec::with_capacity(SORT_GROUPS + 1);
    let mut new_groups = 0;
    let (mut from, mut seen) = (0, 0);
    for (i, part) in parts.iter().enumerate() {
        seen += part.len();
        if seen * SORT_GROUPS >= total * (groups.len() + 1)
            || i + 1 == parts.len()
            || i + 1 == new_from
        {
            groups.push(&parts[from..=i]);
            from = i + 1;
            if i + 1 == new_from {
                new_groups = groups.len();
            }
        }
    }
    let second = |e: &Event| {
        debug_assert!(e.time_s >= start && ((e.time_s - start) as usize) < seconds);
        (e.time_s - start) as usize
    };
    let counts: Vec<Vec<u32>> = groups
        .par_iter()
        .map(|group| {
            let mut count = vec![0u32; seconds];
            for e in group.iter().flat_map(|p| p.iter()) {
                count[second(e)] += 1;
            }
            count
        })
        .collect();

    if sorted.len() < total {
        sorted.resize(total, filler);
    }
    // Cut the output into one piece per (group, second), each second's pieces in group
    // order, so that the groups can scatter at once without sharing a piece.
    let mut pieces: Vec<Vec<&mut [Event]>> = (0..groups.len())
        .map(|_| Vec::with_capacity(seconds))
        .collect();
    let mut in_seconds: Vec<(&mut [Event], usize)> = Vec::with_capacity(seconds);
    {
        let mut rest: &mut [Event] = &mut sorted[..total];
        for s in 0..seconds {
            for (g, count) in counts.iter().enumerate() {
                let (piece, tail) = rest.split_at_mut(count[s] as usize);
                pieces[g].push(piece);
                rest = tail;
            }
        }
    }
    pieces
        .into_par_iter()
        .zip(groups.par_iter())
        .for_each(|(mut pieces, group)| {
            for e in group.iter().flat_map(|p| p.iter()) {
                let piece = &mut pieces[second(e)];
                let (slot, rest) = std::mem::take(piece).split_first_mut().expect("counted");
                *slot = *e;
                *piece = rest;
            }
        });

    let mut rest: &mut [Event] = &mut sorted[..total];
    for s in 0..seconds {
        let older: usize = counts[..new_groups].iter().map(|c| c[s] as usize).sum();
        let len: usize = older
            + counts[new_groups..]
                .iter()
                .map(|c| c[s] as usize)
                .sum::<usize>();
        let (events, tail) = rest.split_at_mut(len);
        if len > 1 {
            in_seconds.push((events, older));
        }
        rest = tail;
    }
    in_seconds
        .into_par_iter()
        .with_min_len(64)
        .for_each(|(events, older)| sort_second(events, older));
    total
}

/// Sorts one second's events by (order id, stage), given that the first `older` come
/// from the tasks that advanced parcels (drawn before this step, or drawn in it and
/// served by a hub in it), in no particular order, and the rest from the tasks that
/// drew this step's orders. These come in order already (drawn in id order, each
/// order's events in lifecycle order) and usually above every older id, so only the
/// older ones are sorted. An order carried over from an earlier step of the hour may
/// have a higher id than some of this step's (those of a market before it in the hour's
/// ids), and an order of this step may leave its hub in this second: the two sorted
/// runs are then merged.
pub(super) fn sort_second(events: &mut [Event], older: usize) {
    let (old, new) = events.split_at_mut(older);
    old.sort_unstable_by(in_log_order);
    if !new.is_sorted_by(|a, b| in_log_order(a, b).is_lt()) {
        new.sort_unstable_by(in_log_order);
    }
    if let (Some(last), Some(first)) = (old.last(), new.first())
        && in_log_order(last, first).is_gt()
    {
        // Two sorted runs: the standard library's stable sort finds them and merges.
        events.sort_by(in_log_order);
    }
}

/// The log's order of two events in the same second: by order id, then lifecycle
/// stage, which is only worked out for events of the same order (few of them).
#[inline]
pub(super) fn in_log_order(a: &Event, b: &Event) -> std::cmp::Ordering {
    a.order_id
        .cmp(&b.order_id)
        .then_with(|| a.kind.stage().cmp(&b.kind.stage()))
}
