//! Where the docs page draws each node: in layers from left to right, a node
//! one layer right of its furthest parent, and within a layer in the order
//! of its parents' places (the barycenter heuristic), so edges mostly run
//! straight and seldom cross. Computed once here, so the page draws at once
//! whatever the project's size.

use crate::graph::Graph;

/// Horizontal distance between layers and vertical between nodes, in the page's units.
pub const LAYER_WIDTH: f64 = 280.0;
pub const ROW_HEIGHT: f64 = 56.0;

/// The place of each of `drawn` (indices into `graph`, in that order).
pub fn layers(graph: &Graph, drawn: &[usize]) -> Vec<(f64, f64)> {
    let position: crate::core::hash::FastMap<usize, usize> = drawn.iter().enumerate().map(|(at, &index)| (index, at)).collect();
    let drawn_parents = |index: usize| graph.parents(index).filter_map(|p| position.get(&p).copied()).collect::<Vec<usize>>();
    let mut layer = vec![0usize; drawn.len()];
    // Parents come first in topological order, so each node's layer is final when it is reached.
    for index in graph.topological_order() {
        let Some(&at) = position.get(&index) else { continue };
        layer[at] = drawn_parents(index).iter().map(|&p| layer[p] + 1).max().unwrap_or(0);
    }
    let depth = layer.iter().copied().max().map_or(0, |d| d + 1);
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
    for (at, &l) in layer.iter().enumerate() {
        rows[l].push(at);
    }
    // Each layer sorted by its nodes' names first, then by the mean row of their parents.
    let mut row_of = vec![0f64; drawn.len()];
    for row in &mut rows {
        row.sort_by(|a, b| graph.nodes[drawn[*a]].unique_id.cmp(&graph.nodes[drawn[*b]].unique_id));
        let mut keyed: Vec<(f64, usize)> = row
            .iter()
            .enumerate()
            .map(|(order, &at)| {
                let parents = drawn_parents(drawn[at]);
                let key = if parents.is_empty() { order as f64 } else { parents.iter().map(|&p| row_of[p]).sum::<f64>() / parents.len() as f64 };
                (key, at)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
        *row = keyed.into_iter().map(|(_, at)| at).collect();
        for (order, &at) in row.iter().enumerate() {
            row_of[at] = order as f64;
        }
    }
    // Each layer centred on the tallest.
    let tallest = rows.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let mut places = vec![(0.0, 0.0); drawn.len()];
    for (l, row) in rows.iter().enumerate() {
        let offset = (tallest - row.len() as f64) / 2.0;
        for (order, &at) in row.iter().enumerate() {
            places[at] = (l as f64 * LAYER_WIDTH, (offset + order as f64) * ROW_HEIGHT);
        }
    }
    places
}
