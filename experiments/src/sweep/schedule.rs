//! Which sweep cell may start next. Cells that use one stage (a warm start, a GRPO run, a
//! student's warm start, a distillation run) must not train it at once: the first cell in plan
//! order that uses a stage trains it, and every later cell that uses it waits until that cell
//! has ended. A cell waits for that cell alone, not for a whole phase of the sweep, so no core
//! idles while a cell is ready. Cells that train a stage start first: the cells waiting on them
//! are freed sooner.

use std::collections::HashMap;

/// The start order of a sweep's cells under their stage dependencies.
#[derive(Debug)]
pub struct Schedule {
    /// For each cell, the earlier cells whose stages it uses.
    waits_for: Vec<Vec<usize>>,
    /// Preferred start order: cells that train a stage, then the others, each in plan order.
    order: Vec<usize>,
    started: Vec<bool>,
    ended: Vec<bool>,
}

impl Schedule {
    /// `stages[i]` names the stages cell `i` uses (any strings that are equal for one stage).
    pub fn new(stages: &[Vec<String>]) -> Schedule {
        let n = stages.len();
        let mut trainer: HashMap<&str, usize> = HashMap::new();
        let mut waits_for = vec![Vec::new(); n];
        let mut trains = vec![false; n];
        for (i, keys) in stages.iter().enumerate() {
            for key in keys {
                match trainer.get(key.as_str()) {
                    Some(&t) if t != i && !waits_for[i].contains(&t) => waits_for[i].push(t),
                    Some(_) => {}
                    None => {
                        trainer.insert(key, i);
                        trains[i] = true;
                    }
                }
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| !trains[i]);
        Schedule {
            waits_for,
            order,
            started: vec![false; n],
            ended: vec![false; n],
        }
    }

    /// The next cell that may start now, marked started; `None` when none is ready (wait for
    /// one to end) or every cell has started.
    pub fn next(&mut self) -> Option<usize> {
        let ready =
            |i: &usize| !self.started[*i] && self.waits_for[*i].iter().all(|&t| self.ended[t]);
        let i = *self.order.iter().find(|i| ready(i))?;
        self.started[i] = true;
        Some(i)
    }

    /// Marks a cell ended (finished or failed: either way its stages are no longer being
    /// trained, and a cell that finds one missing trains it itself).
    pub fn end(&mut self, i: usize) {
        self.ended[i] = true;
    }

    pub fn all_started(&self) -> bool {
        self.started.iter().all(|&s| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(cells: &[&[&str]]) -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|c| c.iter().map(|k| k.to_string()).collect())
            .collect()
    }

    #[test]
    fn a_cell_waits_only_for_the_cell_that_trains_its_stages() {
        // The distillation sweep's shape: three teachers (one per seed), then two more method
        // cells per seed that reuse the seed's teacher.
        let mut s = Schedule::new(&keys(&[
            &["w42", "g42"],
            &["w1", "g1"],
            &["w7", "g7"],
            &["w42", "g42"],
            &["w1", "g1"],
            &["w7", "g7"],
        ]));
        // Two workers: the first two teachers.
        assert_eq!((s.next(), s.next()), (Some(0), Some(1)));
        // Seed 42's teacher ends: the third teacher starts first, then seed 42's next cell
        // without waiting for seed 1's.
        s.end(0);
        assert_eq!(s.next(), Some(2));
        assert_eq!(s.next(), Some(3));
        assert_eq!(s.next(), None, "seed 1 and 7 cells wait for their teachers");
        s.end(2);
        assert_eq!(s.next(), Some(5));
        assert!(!s.all_started());
        s.end(1);
        assert_eq!(s.next(), Some(4));
        assert!(s.all_started());
        assert_eq!(s.next(), None);
    }

    #[test]
    fn a_cell_that_trains_a_later_stage_waits_for_the_earlier_one_it_shares() {
        // Cell 1 shares cell 0's warm start but trains its own GRPO run; cell 2 uses both.
        let mut s = Schedule::new(&keys(&[&["w", "g0"], &["w", "g1"], &["w", "g1"], &["x"]]));
        assert_eq!(s.next(), Some(0));
        assert_eq!(
            s.next(),
            Some(3),
            "an independent cell goes while the others wait"
        );
        assert_eq!(s.next(), None);
        s.end(0);
        assert_eq!(s.next(), Some(1));
        assert_eq!(s.next(), None, "cell 2 waits for cell 1's GRPO run");
        s.end(1);
        assert_eq!(s.next(), Some(2));
    }

    #[test]
    fn an_empty_sweep_has_nothing_to_start() {
        let mut s = Schedule::new(&[]);
        assert!(s.all_started());
        assert_eq!(s.next(), None);
    }
}
