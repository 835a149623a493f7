//! The DAG-aware worker pool: `--threads` workers, each with its own warehouse
//! connection; a node starts as soon as its parents succeeded; a failed node
//! marks all its descendants skipped while independent branches go on;
//! `--fail-fast` stops scheduling after the first failure; Ctrl-C (the
//! `cancelled` flag) stops scheduling.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::core::outcome::Outcome;

/// One unit of work: a node, and the tasks (indices into the plan) it waits for.
#[derive(Debug, Clone)]
pub struct Task {
    pub node: usize,
    pub parents: Vec<usize>,
    /// How messages name it (`model daily_utm_funnel`).
    pub label: String,
}

pub struct PoolOptions<'a> {
    pub fail_fast: bool,
    /// Set by the Ctrl-C handler.
    pub cancelled: &'a AtomicBool,
}

/// Marks a task that will not run, in `State::waiting_on`.
const SKIPPED: usize = usize::MAX;

struct State {
    waiting_on: Vec<usize>,
    /// Ready tasks, lowest index first, so one worker runs them in plan order.
    ready: BTreeSet<usize>,
    results: Vec<Option<Outcome>>,
    finished: usize,
    stopped: bool,
}

/// Runs `tasks` with one worker per context in `contexts` (a connection each).
/// `work` runs one task; `skip` makes the outcome of a task that will not run;
/// `finished` sees every outcome once, in completion order.
pub fn run<C, Work, Skip, Finished>(
    tasks: &[Task],
    contexts: Vec<C>,
    options: &PoolOptions<'_>,
    work: Work,
    skip: Skip,
    finished: Finished,
) -> Vec<Outcome>
where
    C: Send,
    Work: Fn(&mut C, usize) -> Outcome + Sync,
    Skip: Fn(usize, &str) -> Outcome + Sync,
    Finished: Fn(usize, &Outcome) + Sync,
{
    let pool = Pool::new(tasks, options, skip, finished);
    std::thread::scope(|scope| {
        for (worker, mut context) in contexts.into_iter().enumerate() {
            let (pool, work) = (&pool, &work);
            scope.spawn(move || pool.work(worker, &mut context, work));
        }
    });
    pool.finish()
}

/// What the workers share: the tasks and the children of each, the state
/// under its lock, and the callbacks that make and see outcomes.
struct Pool<'a, Skip, Finished> {
    tasks: &'a [Task],
    /// For each task, the tasks that wait for it.
    children: Vec<Vec<usize>>,
    options: &'a PoolOptions<'a>,
    skip: Skip,
    finished: Finished,
    state: Mutex<State>,
    /// Woken when a task completes, so idle workers look for ready tasks again.
    wake: Condvar,
}

impl<'a, Skip, Finished> Pool<'a, Skip, Finished>
where
    Skip: Fn(usize, &str) -> Outcome + Sync,
    Finished: Fn(usize, &Outcome) + Sync,
{
    /// The pool before any task ran: the tasks without parents are ready.
    fn new(tasks: &'a [Task], options: &'a PoolOptions<'a>, skip: Skip, finished: Finished) -> Self {
        let mut children = vec![Vec::new(); tasks.len()];
        for (index, task) in tasks.iter().enumerate() {
            for &parent in &task.parents {
                children[parent].push(index);
            }
        }
        let waiting_on: Vec<usize> = tasks.iter().map(|t| t.parents.len()).collect();
        let ready = waiting_on.iter().enumerate().filter(|(_, n)| **n == 0).map(|(i, _)| i).collect();
        let state = Mutex::new(State { waiting_on, ready, results: vec![None; tasks.len()], finished: 0, stopped: false });
        Pool { tasks, children, options, skip, finished, state, wake: Condvar::new() }
    }

    /// One worker: runs ready tasks with its `context` until none is left or the run stops.
    fn work<C>(&self, worker: usize, context: &mut C, work: &impl Fn(&mut C, usize) -> Outcome) {
        while let Some(task) = self.next_task() {
            let mut outcome = work(context, task);
            outcome.worker = Some(worker);
            let mut guard = lock(&self.state);
            self.complete(&mut guard, task, outcome);
            self.wake.notify_all();
        }
        self.wake.notify_all();
    }

    /// Waits for a ready task; `None` once every task finished or the run stopped.
    fn next_task(&self) -> Option<usize> {
        let mut guard = lock(&self.state);
        loop {
            if self.options.cancelled.load(Ordering::SeqCst) {
                guard.stopped = true;
            }
            if guard.finished == self.tasks.len() || guard.stopped {
                return None;
            }
            if let Some(task) = guard.ready.pop_first() {
                return Some(task);
            }
            guard =
                self.wake.wait_timeout(guard, Duration::from_millis(50)).map(|(guard, _)| guard).unwrap_or_else(|poisoned| poisoned.into_inner().0);
        }
    }

    /// Records the outcome of `task`: a failure skips all its descendants
    /// (and stops the run under `--fail-fast`); a success readies each child
    /// that waited for it last.
    fn complete(&self, state: &mut State, task: usize, outcome: Outcome) {
        let failed = outcome.status.is_failure();
        (self.finished)(task, &outcome);
        state.results[task] = Some(outcome);
        state.finished += 1;
        if failed {
            state.stopped |= self.options.fail_fast;
            // Descendants wait on this task, so none has started: skip them all.
            let reason = format!("skipped because {} failed", self.tasks[task].label);
            let mut stack = self.children[task].clone();
            while let Some(descendant) = stack.pop() {
                if state.results[descendant].is_some() {
                    continue;
                }
                state.waiting_on[descendant] = SKIPPED;
                let outcome = (self.skip)(descendant, &reason);
                (self.finished)(descendant, &outcome);
                state.results[descendant] = Some(outcome);
                state.finished += 1;
                stack.extend(self.children[descendant].iter().copied());
            }
        } else {
            for &child in &self.children[task] {
                if state.waiting_on[child] == SKIPPED {
                    continue;
                }
                state.waiting_on[child] -= 1;
                if state.waiting_on[child] == 0 {
                    state.ready.insert(child);
                }
            }
        }
    }

    /// Every task's outcome, in plan order; a task the run stopped before is skipped now.
    fn finish(&self) -> Vec<Outcome> {
        let mut state = lock(&self.state);
        let reason = if self.options.cancelled.load(Ordering::SeqCst) {
            "not run: interrupted"
        } else {
            "not run: the run stopped at the first failure (`--fail-fast`)"
        };
        (0..self.tasks.len())
            .map(|task| match state.results[task].take() {
                Some(outcome) => outcome,
                None => {
                    let outcome = (self.skip)(task, reason);
                    (self.finished)(task, &outcome);
                    outcome
                }
            })
            .collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The tasks for running `nodes` of `graph`, in topological order. A node
/// waits for its nearest ancestors among `nodes`, also through nodes that do
/// not run (sources, ephemeral models, unselected models). With
/// `tests_gate_children` (`build`), a node also waits for the tests of its
/// parents, so a failing test skips what is built on the data it checked.
pub fn plan(graph: &crate::graph::Graph, nodes: &BTreeSet<usize>, tests_gate_children: bool) -> Vec<Task> {
    use crate::graph::ResourceType;
    let order: Vec<usize> = graph.topological_order().into_iter().filter(|n| nodes.contains(n)).collect();
    let position: std::collections::HashMap<usize, usize> = order.iter().enumerate().map(|(i, &n)| (n, i)).collect();
    let mut tasks: Vec<Task> = order
        .iter()
        .map(|&node| {
            let parents = graph.nearest(node, false, |parent| position.contains_key(&parent));
            let parents = parents.into_iter().filter_map(|parent| position.get(&parent).copied()).collect::<BTreeSet<_>>();
            let n = &graph.nodes[node];
            Task { node, parents: parents.into_iter().collect(), label: format!("{} `{}`", n.resource_type.name(), n.display_name()) }
        })
        .collect();
    if tests_gate_children {
        for index in 0..tasks.len() {
            let node = tasks[index].node;
            if graph.nodes[node].resource_type == ResourceType::Test {
                continue;
            }
            let mut gates = Vec::new();
            for &parent in &tasks[index].parents {
                for child in graph.children(tasks[parent].node) {
                    let is_single_parent_test = graph.nodes[child].resource_type == ResourceType::Test && graph.parents(child).count() == 1;
                    if let (true, Some(&test)) = (is_single_parent_test, position.get(&child)) {
                        gates.push(test);
                    }
                }
            }
            tasks[index].parents.extend(gates);
            tasks[index].parents.sort_unstable();
            tasks[index].parents.dedup();
        }
    }
    tasks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::outcome::Status;

    fn task(node: usize, parents: &[usize]) -> Task {
        Task { node, parents: parents.to_vec(), label: format!("node {node}") }
    }

    fn outcome(status: Status) -> Outcome {
        Outcome::new(status, "")
    }

    #[test]
    fn failure_skips_descendants_and_independent_branches_go_on() {
        // 0 → 1 → 2, 0 → 3; 4 alone. Task 1 fails.
        let tasks = [task(0, &[]), task(1, &[0]), task(2, &[1]), task(3, &[0]), task(4, &[])];
        let cancelled = AtomicBool::new(false);
        let order = Mutex::new(Vec::new());
        let results = run(
            &tasks,
            vec![(), ()],
            &PoolOptions { fail_fast: false, cancelled: &cancelled },
            |_, task| outcome(if task == 1 { Status::Error } else { Status::Success }),
            |_, reason| {
                let mut o = outcome(Status::Skipped);
                o.message = reason.to_string();
                o
            },
            |task, _| order.lock().unwrap().push(task),
        );
        let statuses: Vec<Status> = results.iter().map(|o| o.status).collect();
        assert_eq!(statuses, [Status::Success, Status::Error, Status::Skipped, Status::Success, Status::Success]);
        assert_eq!(results[2].message, "skipped because node 1 failed");
        assert_eq!(order.lock().unwrap().len(), 5);
    }

    #[test]
    fn parents_finish_before_children() {
        let tasks: Vec<Task> = (0..50).map(|i| task(i, if i == 0 { &[] } else { &[0] })).chain([task(50, &(1..50).collect::<Vec<_>>())]).collect();
        let cancelled = AtomicBool::new(false);
        let order = Mutex::new(Vec::new());
        run(
            &tasks,
            vec![(), (), ()],
            &PoolOptions { fail_fast: false, cancelled: &cancelled },
            |_, _| outcome(Status::Success),
            |_, _| outcome(Status::Skipped),
            |task, _| order.lock().unwrap().push(task),
        );
        let order = order.into_inner().unwrap();
        assert_eq!(order.first(), Some(&0));
        assert_eq!(order.last(), Some(&50));
    }

    #[test]
    fn fail_fast_stops_scheduling() {
        let tasks = [task(0, &[]), task(1, &[]), task(2, &[])];
        let cancelled = AtomicBool::new(false);
        let results = run(
            &tasks,
            vec![()],
            &PoolOptions { fail_fast: true, cancelled: &cancelled },
            |_, task| outcome(if task == 0 { Status::Error } else { Status::Success }),
            |_, _| outcome(Status::Skipped),
            |_, _| {},
        );
        let statuses: Vec<Status> = results.iter().map(|o| o.status).collect();
        assert_eq!(statuses, [Status::Error, Status::Skipped, Status::Skipped]);
    }
}
