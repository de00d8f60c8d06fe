//! Comparing configurations on several objectives, each oriented so that lower is better:
//! dominance (optionally with a noise margin per objective that a gain must exceed), non-dominated
//! sorting, crowding distance, the order searches rank by ([`rank_order`]: feasible first, then
//! by front, then by crowding, as multi-objective ASHA and MOTPE do; no value of the first
//! objective last), and the hypervolume a front covers.

/// A configuration's standing: its objectives (oriented, lower is better; +∞ where it has no
/// value) and how far it breaks its constraints (0 when it keeps them all).
#[derive(Debug, Clone, PartialEq)]
pub struct Score {
    /// One per objective.
    pub values: Vec<f64>,
    /// The sum of its constraints' relative violations.
    pub violation: f64,
}

impl Score {
    /// A feasible score on one objective.
    pub fn single(value: f64) -> Score {
        Score {
            values: vec![value],
            violation: 0.0,
        }
    }

    /// The first objective (the sweep's metric).
    pub fn primary(&self) -> f64 {
        self.values.first().copied().unwrap_or(f64::INFINITY)
    }

    /// Whether it keeps its constraints.
    pub fn feasible(&self) -> bool {
        self.violation <= 0.0
    }
}

/// Whether `a` dominates `b`: at least as good on every objective, and better on one by more
/// than its margin (so a gain within the noise never decides). With zero margins, this is
/// Pareto dominance; with any margins it stays a strict partial order (transitive), so some
/// point is always undominated.
pub fn dominates(a: &[f64], b: &[f64], margins: &[f64]) -> bool {
    let margin = |i: usize| margins.get(i).copied().unwrap_or(0.0);
    let no_worse = a.iter().zip(b).all(|(x, y)| key(*x) <= key(*y));
    no_worse
        && a.iter()
            .zip(b)
            .enumerate()
            .any(|(i, (x, y))| key(*x) < key(*y) - margin(i))
}

/// NaN ranks as +∞ (no value).
fn key(x: f64) -> f64 {
    if x.is_nan() {
        f64::INFINITY
    } else {
        x
    }
}

/// Which of `points` no other point dominates (with `margins`).
pub fn non_dominated(points: &[Vec<f64>], margins: &[f64]) -> Vec<bool> {
    (0..points.len())
        .map(|i| !(0..points.len()).any(|j| j != i && dominates(&points[j], &points[i], margins)))
        .collect()
}

/// Non-dominated sorting: the first front (no point dominates them), then the front of what
/// remains, and so on; each front in index order.
pub fn fronts(points: &[Vec<f64>]) -> Vec<Vec<usize>> {
    let n = points.len();
    let beaten_by: Vec<usize> = (0..n)
        .map(|i| {
            (0..n)
                .filter(|&j| j != i && dominates(&points[j], &points[i], &[]))
                .count()
        })
        .collect();
    let mut left = beaten_by;
    let mut done = vec![false; n];
    let mut out = Vec::new();
    while done.iter().any(|d| !d) {
        let front: Vec<usize> = (0..n).filter(|&i| !done[i] && left[i] == 0).collect();
        for &i in &front {
            done[i] = true;
        }
        for &i in &front {
            for j in 0..n {
                if !done[j] && dominates(&points[i], &points[j], &[]) {
                    left[j] -= 1;
                }
            }
        }
        out.push(front);
    }
    out
}

/// The crowding distance of each point of `front` (in its order): the sum over objectives of
/// the gap between its neighbours along that objective, relative to the front's extent; the
/// two ends of each objective get +∞. An objective with no finite extent adds nothing.
pub fn crowding(points: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let mut distance = vec![0.0; front.len()];
    let objectives = front.iter().map(|&i| points[i].len()).max().unwrap_or(0);
    // A point without a value of an objective counts as +∞ on it.
    let at = |i: usize, m: usize| key(points[i].get(m).copied().unwrap_or(f64::INFINITY));
    for m in 0..objectives {
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| at(front[a], m).total_cmp(&at(front[b], m)).then(a.cmp(&b)));
        let value = |k: usize| at(front[order[k]], m);
        let extent = value(order.len() - 1) - value(0);
        if !extent.is_finite() || extent <= 0.0 {
            continue;
        }
        distance[order[0]] = f64::INFINITY;
        distance[order[order.len() - 1]] = f64::INFINITY;
        for k in 1..order.len().saturating_sub(1) {
            distance[order[k]] += (value(k + 1) - value(k - 1)) / extent;
        }
    }
    distance
}

/// The order a search ranks `scores` in, best first: feasible before infeasible (those by how
/// far they break their constraints), then by non-dominated front, within a front by crowding
/// distance (the more isolated first), ties by index; those without a value of the first
/// objective (failed) last. On one objective this is the order of the values, ties by index.
pub fn rank_order(scores: &[Score]) -> Vec<usize> {
    // No value of the first objective (a failed configuration): last, in index order.
    let (valued, failed): (Vec<usize>, Vec<usize>) =
        (0..scores.len()).partition(|&i| key(scores[i].primary()).is_finite());
    let (feasible, mut infeasible): (Vec<usize>, Vec<usize>) =
        valued.into_iter().partition(|&i| scores[i].feasible());
    infeasible.sort_by(|&a, &b| {
        scores[a]
            .violation
            .total_cmp(&scores[b].violation)
            .then(key(scores[a].primary()).total_cmp(&key(scores[b].primary())))
            .then(a.cmp(&b))
    });
    let single = scores.iter().all(|s| s.values.len() <= 1);
    let mut order = Vec::with_capacity(scores.len());
    if single {
        let mut f = feasible;
        f.sort_by(|&a, &b| {
            key(scores[a].primary())
                .total_cmp(&key(scores[b].primary()))
                .then(a.cmp(&b))
        });
        order.extend(f);
    } else {
        let points: Vec<Vec<f64>> = feasible.iter().map(|&i| scores[i].values.clone()).collect();
        for front in fronts(&points) {
            let distance = crowding(&points, &front);
            let mut members: Vec<(usize, f64)> = front.iter().copied().zip(distance).collect();
            members.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            order.extend(members.into_iter().map(|(k, _)| feasible[k]));
        }
    }
    order.extend(infeasible);
    order.extend(failed);
    order
}

/// The hypervolume `points` dominate up to `reference` (lower is better on every objective):
/// the measure of the union of the boxes between each point and the reference. Points not
/// better than the reference on every objective add nothing.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let inside: Vec<Vec<f64>> = points
        .iter()
        .filter(|p| p.iter().zip(reference).all(|(x, r)| key(*x) < *r))
        .cloned()
        .collect();
    slices(inside, reference)
}

/// Hypervolume by slicing along the last objective (exact; fine for the fronts of a sweep).
fn slices(mut points: Vec<Vec<f64>>, reference: &[f64]) -> f64 {
    let d = reference.len();
    if points.is_empty() || d == 0 {
        return 0.0;
    }
    if d == 1 {
        let best = points.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min);
        return reference[0] - best;
    }
    points.sort_by(|a, b| a[d - 1].total_cmp(&b[d - 1]));
    let mut volume = 0.0;
    for i in 0..points.len() {
        let top = points.get(i + 1).map_or(reference[d - 1], |p| p[d - 1]);
        let depth = top - points[i][d - 1];
        if depth <= 0.0 {
            continue;
        }
        let below: Vec<Vec<f64>> = points[..=i].iter().map(|p| p[..d - 1].to_vec()).collect();
        volume += depth * slices(below, &reference[..d - 1]);
    }
    volume
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[(f64, f64)]) -> Vec<Vec<f64>> {
        v.iter().map(|&(a, b)| vec![a, b]).collect()
    }

    #[test]
    fn dominance_needs_a_gain_beyond_the_margin_and_no_loss_beyond_it() {
        assert!(dominates(&[1.0, 1.0], &[2.0, 1.0], &[]));
        assert!(!dominates(&[1.0, 1.0], &[1.0, 1.0], &[]), "equal points");
        assert!(!dominates(&[1.0, 2.0], &[2.0, 1.0], &[]), "a trade-off");
        // A gain within the noise is no gain; any loss, however small, keeps `b` undominated.
        assert!(!dominates(&[1.0, 1.0], &[1.05, 1.0], &[0.1, 0.1]));
        assert!(dominates(&[1.0, 1.0], &[1.5, 1.0], &[0.1, 0.1]));
        assert!(!dominates(&[1.0, 1.05], &[1.5, 1.0], &[0.1, 0.1]));
        // With margins, dominance stays transitive: no cycle leaves the front empty.
        let cycle = [
            vec![0.0, 1.0, 1.5],
            vec![1.5, 0.0, 1.0],
            vec![1.0, 1.5, 0.0],
        ];
        assert_eq!(non_dominated(&cycle, &[1.0; 3]), [true, true, true]);
        assert!(dominates(&[1.0, 1.0], &[f64::INFINITY, 1.0], &[]));
        assert!(
            dominates(&[1.0, 1.0], &[f64::NAN, 1.0], &[]),
            "NaN is no value"
        );
    }

    #[test]
    fn fronts_peel_off_in_layers_and_the_ends_are_least_crowded() {
        let points = p(&[
            (1.0, 5.0),
            (2.0, 3.0),
            (3.0, 4.0),
            (4.0, 1.0),
            (5.0, 5.0),
            (2.5, 2.5),
        ]);
        let f = fronts(&points);
        assert_eq!(f, vec![vec![0, 1, 3, 5], vec![2], vec![4]]);
        let c = crowding(&points, &f[0]);
        assert!(c[0].is_infinite() && c[2].is_infinite());
        // Point 1 (2,3): neighbours (1,5) and (2.5,2.5) on x, (2.5,2.5) and (1,5) on y.
        assert!((c[1] - (1.5 / 3.0 + 2.5 / 4.0)).abs() < 1e-12, "{c:?}");
        assert_eq!(
            non_dominated(&points, &[]),
            [true, true, false, true, false, true]
        );
        // A point missing an objective counts as +∞ there rather than failing.
        let ragged = vec![vec![1.0, 2.0], vec![2.0], vec![0.5, 3.0]];
        assert_eq!(crowding(&ragged, &[0, 1, 2]).len(), 3);
    }

    #[test]
    fn the_rank_order_puts_feasible_fronts_first_and_is_the_value_order_on_one_objective() {
        let single: Vec<Score> = [3.0, 1.0, 2.0, 1.0, f64::INFINITY]
            .into_iter()
            .map(Score::single)
            .collect();
        assert_eq!(rank_order(&single), [1, 3, 2, 0, 4]);
        let mut scores: Vec<Score> =
            p(&[(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 1.0), (0.0, 0.0)])
                .into_iter()
                .map(|values| Score {
                    values,
                    violation: 0.0,
                })
                .collect();
        scores[4].violation = 0.5;
        scores[2].violation = 0.1;
        // Feasible: front {0, 1, 3}, ends (0, 3) first, then 1; infeasible by violation.
        assert_eq!(rank_order(&scores), [0, 3, 1, 2, 4]);
        // A failed configuration (no value of the first objective) never ranks first, though
        // nothing dominates it on the second.
        let mut with_failed = scores.clone();
        with_failed.push(Score {
            values: vec![f64::INFINITY, -100.0],
            violation: 0.0,
        });
        assert_eq!(rank_order(&with_failed), [0, 3, 1, 2, 4, 5]);
        // The order the scores come in does not change who wins.
        let mut reversed = scores.clone();
        reversed.reverse();
        let back: Vec<usize> = rank_order(&reversed).into_iter().map(|i| 4 - i).collect();
        assert_eq!(
            &back[..3],
            &[3, 0, 1][..],
            "ends first, ties to the earlier index"
        );
    }

    #[test]
    fn hypervolume_adds_the_boxes_once() {
        let r = [4.0, 4.0];
        assert_eq!(hypervolume(&p(&[(1.0, 1.0)]), &r), 9.0);
        // Two boxes overlapping in [2,4]×[2,4]: 6 + 6 − 4.
        assert_eq!(hypervolume(&p(&[(1.0, 2.0), (2.0, 1.0)]), &r), 8.0);
        // A dominated point and one outside the reference add nothing.
        assert_eq!(
            hypervolume(&p(&[(1.0, 2.0), (2.0, 1.0), (3.0, 3.0), (5.0, 0.0)]), &r),
            8.0
        );
        let cube = hypervolume(&[vec![0.0, 0.0, 0.0]], &[1.0, 2.0, 3.0]);
        assert_eq!(cube, 6.0);
        let two = hypervolume(
            &[vec![0.0, 1.0, 1.0], vec![1.0, 0.0, 0.0]],
            &[2.0, 2.0, 2.0],
        );
        // 2·1·1 + 1·2·2 − 1·1·1 (the overlap [1,2]×[1,2]×[1,2]).
        assert_eq!(two, 5.0);
    }
}
