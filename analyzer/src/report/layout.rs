//! The built-in SVG renderer, used when Graphviz is not installed.
//!
//! It reads the DOT that [`crate::report::dot`] prints (so both SVG paths draw the
//! same graph), lays it out and writes SVG:
//!
//! - a graph whose connected nodes form one simple cycle (a deadlock finding) is drawn
//!   on a circle, edges bowed outwards;
//! - any other graph is layered left to right: cycles are broken by reversing DFS back
//!   edges, layers are longest paths, and nodes within a layer are ordered by a few
//!   barycenter sweeps;
//! - nodes without edges (the legend, the Coffman table, notes) go in a row below.
//!
//! Edges are quadratic curves with arrowheads, bowed when a reverse edge or a long span
//! would otherwise overlap; edge labels sit on a white backing at the curve's midpoint.
//! Text widths are estimated from character counts, so no font metrics are needed and
//! the output is a pure function of the DOT text.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use graphviz_rust::dot_structures::{
    Attribute, EdgeTy, Graph, GraphAttributes, Id, NodeId, Stmt, Subgraph, Vertex,
};

/// Node text size, px.
const NODE_FONT: f64 = 12.0;
/// Edge label text size, px.
const EDGE_FONT: f64 = 10.0;
/// Title text size, px.
const TITLE_FONT: f64 = 14.0;
/// Estimated advance of one character, as a fraction of the font size.
const CHAR_WIDTH: f64 = 0.6;
/// Line height, as a multiple of the font size.
const LINE_HEIGHT: f64 = 1.3;
/// Space around the drawing.
const MARGIN: f64 = 20.0;
/// Vertical space between nodes of one layer.
const NODE_GAP: f64 = 36.0;
/// Characters per title line before it wraps.
const TITLE_WIDTH: usize = 110;

/// DOT the built-in renderer cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot lay out the DOT graph: {0}")]
pub struct LayoutError(pub String);

/// How a node is outlined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// A rounded box.
    Box,
    /// An ellipse.
    Ellipse,
    /// A box with a folded corner.
    Note,
    /// A table or free text: a light frame, left-aligned text.
    Plain,
}

/// A node to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagramNode {
    /// The DOT node id.
    pub id: String,
    /// Label lines.
    pub lines: Vec<String>,
    /// Outline.
    pub shape: Shape,
    /// Outline colour, when not black.
    pub color: Option<String>,
}

/// An edge to draw.
#[derive(Clone, Debug, PartialEq)]
pub struct DiagramEdge {
    /// Index of the source node.
    pub from: usize,
    /// Index of the target node.
    pub to: usize,
    /// Label lines (possibly none).
    pub lines: Vec<String>,
    /// Colour, when not black.
    pub color: Option<String>,
    /// Drawn thicker (cycle edges).
    pub bold: bool,
}

/// A graph read from DOT, ready to lay out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Diagram {
    /// The graph label, if any.
    pub title: Option<String>,
    /// Nodes in order of first mention.
    pub nodes: Vec<DiagramNode>,
    /// Edges in DOT order.
    pub edges: Vec<DiagramEdge>,
}

impl Diagram {
    /// Reads the nodes, edges and labels of a DOT graph.
    pub fn from_dot(dot: &str) -> Result<Diagram, LayoutError> {
        let graph = graphviz_rust::parse(dot).map_err(LayoutError)?;
        let stmts = match graph {
            Graph::DiGraph { stmts, .. } | Graph::Graph { stmts, .. } => stmts,
        };
        let mut diagram = Diagram::default();
        diagram.read(&stmts, true);
        Ok(diagram)
    }

    fn read(&mut self, stmts: &[Stmt], top: bool) {
        for stmt in stmts {
            match stmt {
                Stmt::GAttribute(GraphAttributes::Graph(attrs)) if top => {
                    if let Some(label) = find(attrs, "label") {
                        self.title = Some(label_lines(label).join(" "));
                    }
                }
                Stmt::Attribute(Attribute(key, value)) if top && id_text(key) == "label" => {
                    self.title = Some(label_lines(value).join(" "));
                }
                Stmt::Node(node) => {
                    let index = self.node_index(&node.id);
                    let entry = &mut self.nodes[index];
                    if let Some(label) = find(&node.attributes, "label") {
                        entry.lines = label_lines(label);
                        if matches!(label, Id::Html(_)) {
                            entry.shape = Shape::Plain;
                        }
                    }
                    if let Some(shape) = find(&node.attributes, "shape") {
                        entry.shape = match id_text(shape).as_str() {
                            "ellipse" | "oval" | "circle" => Shape::Ellipse,
                            "note" => Shape::Note,
                            "plaintext" | "plain" | "none" => Shape::Plain,
                            _ => Shape::Box,
                        };
                    }
                    if let Some(color) = find(&node.attributes, "color") {
                        entry.color = Some(id_text(color));
                    }
                }
                Stmt::Edge(edge) => {
                    let vertices: Vec<&NodeId> = match &edge.ty {
                        EdgeTy::Pair(a, b) => vec![a, b],
                        EdgeTy::Chain(chain) => chain.iter().collect(),
                    }
                    .into_iter()
                    .filter_map(|v| match v {
                        Vertex::N(id) => Some(id),
                        // Our DOT never uses subgraphs as edge ends.
                        Vertex::S(_) => None,
                    })
                    .collect();
                    let attrs = &edge.attributes;
                    for pair in vertices.windows(2) {
                        let from = self.node_index(pair[0]);
                        let to = self.node_index(pair[1]);
                        let style = find(attrs, "style").map(id_text).unwrap_or_default();
                        let pen = find(attrs, "penwidth")
                            .and_then(|p| id_text(p).parse::<f64>().ok())
                            .unwrap_or(1.0);
                        self.edges.push(DiagramEdge {
                            from,
                            to,
                            lines: find(attrs, "label").map(label_lines).unwrap_or_default(),
                            color: find(attrs, "color").map(id_text),
                            bold: style.contains("bold") || pen > 1.0,
                        });
                    }
                }
                Stmt::Subgraph(Subgraph { stmts, .. }) => self.read(stmts, false),
                _ => {}
            }
        }
    }

    fn node_index(&mut self, id: &NodeId) -> usize {
        let name = id_text(&id.0);
        if let Some(i) = self.nodes.iter().position(|n| n.id == name) {
            return i;
        }
        self.nodes.push(DiagramNode {
            lines: vec![name.clone()],
            id: name,
            shape: Shape::Box,
            color: None,
        });
        self.nodes.len() - 1
    }
}

fn find<'a>(attrs: &'a [Attribute], key: &str) -> Option<&'a Id> {
    attrs
        .iter()
        .find(|Attribute(k, _)| id_text(k) == key)
        .map(|Attribute(_, v)| v)
}

/// An id's text without DOT quoting.
fn id_text(id: &Id) -> String {
    match id {
        Id::Plain(s) | Id::Anonymous(s) | Id::Html(s) => s.clone(),
        Id::Escaped(_) => label_lines(id).join("\n"),
    }
}

/// The lines of a label: DOT escapes decoded, or an HTML table flattened to text.
fn label_lines(id: &Id) -> Vec<String> {
    match id {
        Id::Escaped(s) => unescape(s),
        Id::Html(s) => html_lines(s),
        Id::Plain(s) | Id::Anonymous(s) => vec![s.clone()],
    }
}

/// Decodes a double-quoted DOT string: `\"`, `\\`, and `\n` `\l` `\r` as line breaks.
fn unescape(quoted: &str) -> Vec<String> {
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(quoted);
    let mut lines = vec![String::new()];
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        let line = lines.last_mut().expect("lines is never empty");
        match c {
            '\\' => match chars.next() {
                Some('n' | 'l' | 'r') => lines.push(String::new()),
                Some(other) => line.push(other),
                None => line.push('\\'),
            },
            c => line.push(c),
        }
    }
    lines
}

/// Flattens an HTML-like label: one line per table row, cells separated by two
/// spaces, `<BR/>` continuing under the start of its cell; entities decoded.
fn html_lines(markup: &str) -> Vec<String> {
    let markup = markup
        .strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .unwrap_or(markup);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    let mut cell_start = 0usize;
    let mut cells_in_row = 0usize;
    let mut rest = markup;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('<') {
            let end = after.find('>').map_or(after.len(), |i| i + 1);
            let tag = after[..end.saturating_sub(1)].trim().to_ascii_uppercase();
            rest = &after[end.min(after.len())..];
            if tag.starts_with("TR") {
                if !line.trim().is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                line.clear();
                cells_in_row = 0;
            } else if tag.starts_with("TD") {
                if cells_in_row > 0 {
                    line.push_str("  ");
                }
                cells_in_row += 1;
                cell_start = line.chars().count();
            } else if tag.starts_with("BR") {
                lines.push(std::mem::take(&mut line));
                line = " ".repeat(cell_start);
            }
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            line.push_str(&decode_entities(&rest[..end]));
            rest = &rest[end..];
        }
    }
    if !line.trim().is_empty() {
        lines.push(line);
    }
    lines
}

fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix('#')
                .and_then(|n| match n.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => n.parse().ok(),
                })
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Point {
    x: f64,
    y: f64,
}

impl Point {
    fn new(x: f64, y: f64) -> Point {
        Point { x, y }
    }
    fn add(self, o: Point) -> Point {
        Point::new(self.x + o.x, self.y + o.y)
    }
    fn sub(self, o: Point) -> Point {
        Point::new(self.x - o.x, self.y - o.y)
    }
    fn scale(self, k: f64) -> Point {
        Point::new(self.x * k, self.y * k)
    }
    fn len(self) -> f64 {
        self.x.hypot(self.y)
    }
}

/// Width and height of text lines at `font` px.
fn text_size(lines: &[String], font: f64) -> (f64, f64) {
    let chars = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    (
        chars as f64 * font * CHAR_WIDTH,
        lines.len() as f64 * font * LINE_HEIGHT,
    )
}

fn node_size(node: &DiagramNode) -> (f64, f64) {
    let (w, h) = text_size(&node.lines, NODE_FONT);
    match node.shape {
        Shape::Ellipse => (w * 1.25 + 24.0, h * 1.4 + 16.0),
        _ => (w + 20.0, h + 12.0),
    }
}

fn label_size(edge: &DiagramEdge) -> (f64, f64) {
    if edge.lines.iter().all(|l| l.is_empty()) {
        return (0.0, 0.0);
    }
    let (w, h) = text_size(&edge.lines, EDGE_FONT);
    (w + 6.0, h + 4.0)
}

/// Node centres (and how far each edge bows) for the nodes that have edges.
struct Placement {
    centers: Vec<Option<Point>>,
    bends: Vec<f64>,
}

/// Lays out `diagram` and writes it as a standalone SVG document.
pub fn render_svg(diagram: &Diagram) -> String {
    let sizes: Vec<(f64, f64)> = diagram.nodes.iter().map(node_size).collect();
    let connected: BTreeSet<usize> = diagram.edges.iter().flat_map(|e| [e.from, e.to]).collect();
    let placement = match simple_cycle(diagram, &connected) {
        Some(order) => circular(diagram, &sizes, &order),
        None => layered(diagram, &sizes, &connected),
    };
    draw(diagram, &sizes, placement)
}

/// The nodes of `connected` in cycle order, when the edges form exactly one simple cycle.
fn simple_cycle(diagram: &Diagram, connected: &BTreeSet<usize>) -> Option<Vec<usize>> {
    let n = connected.len();
    if n < 2 || diagram.edges.len() != n {
        return None;
    }
    let mut next = vec![None; diagram.nodes.len()];
    let mut indegree = vec![0usize; diagram.nodes.len()];
    for e in &diagram.edges {
        if e.from == e.to || next[e.from].is_some() {
            return None;
        }
        next[e.from] = Some(e.to);
        indegree[e.to] += 1;
    }
    let start = *connected.first()?;
    let mut order = vec![start];
    let mut at = start;
    while let Some(to) = next[at] {
        if to == start {
            break;
        }
        if indegree[to] != 1 || order.contains(&to) {
            return None;
        }
        order.push(to);
        at = to;
    }
    (order.len() == n && next[at] == Some(start)).then_some(order)
}

fn circular(diagram: &Diagram, sizes: &[(f64, f64)], order: &[usize]) -> Placement {
    let n = order.len() as f64;
    let widest = order.iter().map(|&i| sizes[i].0).fold(0.0, f64::max);
    let tallest_label = diagram
        .edges
        .iter()
        .map(|e| label_size(e).1)
        .fold(0.0, f64::max);
    let chord_needed = widest + 80.0;
    let radius = (chord_needed / (2.0 * (std::f64::consts::PI / n).sin())).max(120.0);
    let mut centers = vec![None; diagram.nodes.len()];
    for (k, &i) in order.iter().enumerate() {
        // Node 0 on the left, then clockwise (y grows downwards).
        let angle = std::f64::consts::PI * (1.0 + 2.0 * k as f64 / n);
        centers[i] = Some(Point::new(radius * angle.cos(), radius * angle.sin()));
    }
    let bend = if order.len() == 2 {
        (tallest_label + 16.0).max(60.0)
    } else {
        (radius * 0.25).max(tallest_label / 2.0 + 16.0)
    };
    Placement {
        centers,
        bends: vec![bend; diagram.edges.len()],
    }
}

fn layered(diagram: &Diagram, sizes: &[(f64, f64)], connected: &BTreeSet<usize>) -> Placement {
    let count = diagram.nodes.len();
    // Orient edges acyclically: DFS in node order, reversing edges back to the stack.
    let mut out: Vec<Vec<(usize, usize)>> = vec![Vec::new(); count];
    for (k, e) in diagram.edges.iter().enumerate() {
        if e.from != e.to {
            out[e.from].push((e.to, k));
        }
    }
    let mut reversed = vec![false; diagram.edges.len()];
    let mut state = vec![0u8; count]; // 0 new, 1 on stack, 2 done
    for &root in connected {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(to, k)) = out[node].get(*next) {
                *next += 1;
                match state[to] {
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => reversed[k] = true,
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    let oriented: Vec<(usize, usize)> = diagram
        .edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.from != e.to)
        .map(|(k, e)| {
            if reversed[k] {
                (e.to, e.from)
            } else {
                (e.from, e.to)
            }
        })
        .collect();
    // Longest-path layers: relax in topological order (Kahn, smallest index first).
    let mut indegree = vec![0usize; count];
    for &(_, to) in &oriented {
        indegree[to] += 1;
    }
    let mut ready: BTreeSet<usize> = connected
        .iter()
        .copied()
        .filter(|&i| indegree[i] == 0)
        .collect();
    let mut layer = vec![0usize; count];
    while let Some(node) = ready.pop_first() {
        for &(from, to) in &oriented {
            if from == node {
                layer[to] = layer[to].max(layer[node] + 1);
                indegree[to] -= 1;
                if indegree[to] == 0 {
                    ready.insert(to);
                }
            }
        }
    }
    let layers_count = connected.iter().map(|&i| layer[i] + 1).max().unwrap_or(0);
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); layers_count];
    for &i in connected {
        layers[layer[i]].push(i);
    }
    // Barycenter sweeps to reduce crossings; ties keep the previous order.
    let mut position = vec![0.0f64; count];
    let refresh = |layers: &Vec<Vec<usize>>, position: &mut Vec<f64>| {
        for l in layers {
            for (p, &i) in l.iter().enumerate() {
                position[i] = p as f64;
            }
        }
    };
    refresh(&layers, &mut position);
    for sweep in 0..4 {
        let downwards = sweep % 2 == 0;
        let range: Vec<usize> = if downwards {
            (1..layers_count).collect()
        } else {
            (0..layers_count.saturating_sub(1)).rev().collect()
        };
        for l in range {
            let mut keyed: Vec<(f64, f64, usize)> = layers[l]
                .iter()
                .map(|&i| {
                    let neighbours: Vec<f64> = oriented
                        .iter()
                        .filter_map(|&(a, b)| {
                            let other = if downwards {
                                (b == i).then_some(a)
                            } else {
                                (a == i).then_some(b)
                            };
                            other.map(|o| position[o])
                        })
                        .collect();
                    let bary = if neighbours.is_empty() {
                        position[i]
                    } else {
                        neighbours.iter().sum::<f64>() / neighbours.len() as f64
                    };
                    (bary, position[i], i)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
            layers[l] = keyed.into_iter().map(|(_, _, i)| i).collect();
            refresh(&layers, &mut position);
        }
    }
    // Columns: wide enough for the widest node, gaps wide enough for edge labels.
    let mut gaps = vec![80.0f64; layers_count];
    for (k, e) in diagram.edges.iter().enumerate() {
        if e.from == e.to {
            continue;
        }
        let (a, b) = (
            layer[e.from].min(layer[e.to]),
            layer[e.from].max(layer[e.to]),
        );
        if b == a + 1 || reversed[k] {
            gaps[a] = gaps[a].max(label_size(e).0 + 40.0);
        }
    }
    let column_width: Vec<f64> = layers
        .iter()
        .map(|l| l.iter().map(|&i| sizes[i].0).fold(0.0, f64::max))
        .collect();
    let column_height: Vec<f64> = layers
        .iter()
        .map(|l| l.iter().map(|&i| sizes[i].1 + NODE_GAP).sum::<f64>() - NODE_GAP)
        .collect();
    let tallest = column_height.iter().copied().fold(0.0, f64::max);
    let mut centers = vec![None; count];
    let mut x = 0.0;
    for (l, nodes) in layers.iter().enumerate() {
        x += column_width[l] / 2.0;
        let mut y = (tallest - column_height[l]) / 2.0;
        for &i in nodes {
            centers[i] = Some(Point::new(x, y + sizes[i].1 / 2.0));
            y += sizes[i].1 + NODE_GAP;
        }
        x += column_width[l] / 2.0 + gaps[l];
    }
    let pairs: BTreeSet<(usize, usize)> = diagram.edges.iter().map(|e| (e.from, e.to)).collect();
    let bends = diagram
        .edges
        .iter()
        .map(|e| {
            let span = layer[e.from].abs_diff(layer[e.to]);
            // Longer spans bow deeper, so edges over the same nodes separate.
            if span > 1 {
                30.0 + 45.0 * span as f64
            } else if e.from != e.to && pairs.contains(&(e.to, e.from)) {
                (label_size(e).1 + 16.0).max(48.0)
            } else {
                0.0
            }
        })
        .collect();
    Placement { centers, bends }
}

/// Axis-aligned bounds of everything drawn.
struct Bounds {
    min: Point,
    max: Point,
}

impl Bounds {
    fn new() -> Bounds {
        Bounds {
            min: Point::new(f64::INFINITY, f64::INFINITY),
            max: Point::new(f64::NEG_INFINITY, f64::NEG_INFINITY),
        }
    }
    fn include(&mut self, center: Point, w: f64, h: f64) {
        self.min = Point::new(
            self.min.x.min(center.x - w / 2.0),
            self.min.y.min(center.y - h / 2.0),
        );
        self.max = Point::new(
            self.max.x.max(center.x + w / 2.0),
            self.max.y.max(center.y + h / 2.0),
        );
    }
    fn is_empty(&self) -> bool {
        self.min.x > self.max.x
    }
}

/// `at` moved along `outward` in small steps until a label of `size` centred there
/// overlaps none of the `placed` node boxes; `at` itself when that takes too far.
fn clear_of_nodes(
    at: Point,
    (lw, lh): (f64, f64),
    outward: Point,
    centers: &[Option<Point>],
    sizes: &[(f64, f64)],
    placed: &[bool],
) -> Point {
    const GAP: f64 = 4.0;
    const STEP: f64 = 6.0;
    const MAX_STEPS: usize = 60;
    let overlaps = |p: Point| {
        centers
            .iter()
            .zip(sizes)
            .zip(placed)
            .filter(|&(_, &placed)| placed)
            .filter_map(|((c, size), _)| c.map(|c| (c, size)))
            .any(|(c, &(w, h))| {
                (p.x - c.x).abs() < (w + lw) / 2.0 + GAP && (p.y - c.y).abs() < (h + lh) / 2.0 + GAP
            })
    };
    let mut p = at;
    for _ in 0..MAX_STEPS {
        if !overlaps(p) {
            return p;
        }
        p = p.add(outward.scale(STEP));
    }
    at
}

/// Where a ray from `center` towards `toward` leaves a node's outline.
fn clip(center: Point, (w, h): (f64, f64), shape: Shape, toward: Point) -> Point {
    let d = toward.sub(center);
    if d.len() < 1e-9 {
        return center;
    }
    let (hw, hh) = (w / 2.0, h / 2.0);
    let t = match shape {
        Shape::Ellipse => 1.0 / ((d.x / hw).powi(2) + (d.y / hh).powi(2)).sqrt(),
        _ => {
            let tx = if d.x.abs() > 1e-9 {
                hw / d.x.abs()
            } else {
                f64::INFINITY
            };
            let ty = if d.y.abs() > 1e-9 {
                hh / d.y.abs()
            } else {
                f64::INFINITY
            };
            tx.min(ty)
        }
    };
    center.add(d.scale(t.min(1.0)))
}

struct EdgeGeometry {
    path: String,
    label_at: Point,
}

fn draw(diagram: &Diagram, sizes: &[(f64, f64)], placement: Placement) -> String {
    let Placement { mut centers, bends } = placement;
    // Labels keep clear of the nodes placed by the layout (not of the unconnected row added
    // below it, which is placed after the labels are measured).
    let placed: Vec<bool> = centers.iter().map(Option::is_some).collect();
    // Edge geometry in layout coordinates, and the bounds of the connected part.
    let mut bounds = Bounds::new();
    for (i, c) in centers.iter().enumerate() {
        if let Some(c) = c {
            bounds.include(*c, sizes[i].0, sizes[i].1);
        }
    }
    let geometry = |centers: &[Option<Point>], bounds: &mut Bounds| -> Vec<EdgeGeometry> {
        diagram
            .edges
            .iter()
            .zip(&bends)
            .map(|(e, &bend)| {
                let a = centers[e.from].unwrap_or_default();
                let b = centers[e.to].unwrap_or_default();
                let (lw, lh) = label_size(e);
                if e.from == e.to {
                    let (w, h) = sizes[e.from];
                    let start = Point::new(a.x - w / 4.0, a.y - h / 2.0);
                    let end = Point::new(a.x + w / 4.0, a.y - h / 2.0);
                    let c1 = Point::new(a.x - w / 4.0 - 20.0, a.y - h / 2.0 - 60.0);
                    let c2 = Point::new(a.x + w / 4.0 + 20.0, a.y - h / 2.0 - 60.0);
                    let label_at = Point::new(a.x, a.y - h / 2.0 - 45.0 - lh / 2.0);
                    bounds.include(c1, 1.0, 1.0);
                    bounds.include(c2, 1.0, 1.0);
                    bounds.include(label_at, lw, lh);
                    return EdgeGeometry {
                        path: format!("M{} C{} {} {}", pt(start), pt(c1), pt(c2), pt(end)),
                        label_at,
                    };
                }
                let d = b.sub(a);
                let normal = if d.len() > 1e-9 {
                    Point::new(d.y, -d.x).scale(1.0 / d.len())
                } else {
                    Point::new(0.0, -1.0)
                };
                let control = a.add(d.scale(0.5)).add(normal.scale(bend));
                let start = clip(a, sizes[e.from], diagram.nodes[e.from].shape, control);
                let end = clip(b, sizes[e.to], diagram.nodes[e.to].shape, control);
                // The midpoint of a quadratic curve is halfway between chord and control point.
                // A bowed edge keeps its label just outside the curve, so the curve stays visible.
                let mut label_at = start.add(end).scale(0.25).add(control.scale(0.5));
                if bend > 0.0 {
                    label_at = label_at.add(normal.scale(lh / 2.0 + 3.0));
                }
                // A label wider than the gap between two boxes would cover one: move it
                // further out from the curve until it is clear.
                let outward = if bend < 0.0 {
                    normal.scale(-1.0)
                } else {
                    normal
                };
                label_at = clear_of_nodes(label_at, (lw, lh), outward, centers, sizes, &placed);
                bounds.include(control, 1.0, 1.0);
                bounds.include(label_at, lw, lh);
                EdgeGeometry {
                    path: format!("M{} Q{} {}", pt(start), pt(control), pt(end)),
                    label_at,
                }
            })
            .collect()
    };
    let mut scratch = Bounds::new();
    let _ = geometry(&centers, &mut scratch);
    if !scratch.is_empty() {
        bounds.include(scratch.min, 0.0, 0.0);
        bounds.include(scratch.max, 0.0, 0.0);
    }
    // Nodes without edges: a wrapped row under the graph.
    let main_width = if bounds.is_empty() {
        0.0
    } else {
        bounds.max.x - bounds.min.x
    };
    let row_limit = main_width.max(900.0);
    let origin = if bounds.is_empty() {
        Point::new(0.0, 0.0)
    } else {
        Point::new(bounds.min.x, bounds.max.y + 40.0)
    };
    let (mut x, mut y, mut row_height) = (0.0f64, 0.0f64, 0.0f64);
    for (i, size) in sizes.iter().enumerate() {
        if centers[i].is_some() {
            continue;
        }
        if x > 0.0 && x + size.0 > row_limit {
            x = 0.0;
            y += row_height + 30.0;
            row_height = 0.0;
        }
        let c = Point::new(origin.x + x + size.0 / 2.0, origin.y + y + size.1 / 2.0);
        centers[i] = Some(c);
        bounds.include(c, size.0, size.1);
        x += size.0 + 30.0;
        row_height = row_height.max(size.1);
    }
    if bounds.is_empty() {
        bounds.include(Point::new(0.0, 0.0), 200.0, 40.0);
    }
    // Title on top, then shift everything to a margin.
    let title_lines: Vec<String> = diagram
        .title
        .as_deref()
        .map(|t| wrap(t, TITLE_WIDTH))
        .unwrap_or_default();
    let (title_w, title_h) = text_size(&title_lines, TITLE_FONT);
    let title_block = if title_lines.is_empty() {
        0.0
    } else {
        title_h + 16.0
    };
    let shift = Point::new(MARGIN - bounds.min.x, MARGIN + title_block - bounds.min.y);
    for c in centers.iter_mut().flatten() {
        *c = c.add(shift);
    }
    let drawing_w = bounds.max.x - bounds.min.x;
    let width = drawing_w.max(title_w) + 2.0 * MARGIN;
    let height = bounds.max.y - bounds.min.y + title_block + 2.0 * MARGIN;
    let mut unused = Bounds::new();
    let edges = geometry(&centers, &mut unused);

    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" viewBox=\"0 0 {w:.0} {h:.0}\" \
         font-family=\"Helvetica, Arial, sans-serif\">",
        w = width.ceil(),
        h = height.ceil()
    );
    svg.push_str(
        "<defs>\
         <marker id=\"arrow-black\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"10\" markerHeight=\"10\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"black\"/></marker>\
         <marker id=\"arrow-red\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerUnits=\"userSpaceOnUse\" \
         markerWidth=\"12\" markerHeight=\"12\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"red\"/></marker>\
         </defs>\n",
    );
    let _ = writeln!(
        svg,
        "<rect x=\"0\" y=\"0\" width=\"{:.0}\" height=\"{:.0}\" fill=\"white\"/>",
        width.ceil(),
        height.ceil()
    );
    if !title_lines.is_empty() {
        write_text(
            &mut svg,
            &title_lines,
            Point::new(width / 2.0, MARGIN + title_h / 2.0),
            TITLE_FONT,
            "middle",
            "black",
            "",
        );
    }
    for (node, (i, center)) in diagram.nodes.iter().zip(centers.iter().enumerate()) {
        let c = center.unwrap_or_default();
        let (w, h) = sizes[i];
        let stroke = node.color.as_deref().unwrap_or("black");
        let stroke = escape(stroke);
        let _ = write!(svg, "<g class=\"node\" data-id=\"{}\">", escape(&node.id));
        match node.shape {
            Shape::Ellipse => {
                let _ = write!(
                    svg,
                    "<ellipse cx=\"{:.1}\" cy=\"{:.1}\" rx=\"{:.1}\" ry=\"{:.1}\" fill=\"white\" stroke=\"{stroke}\"/>",
                    c.x,
                    c.y,
                    w / 2.0,
                    h / 2.0
                );
            }
            Shape::Plain => {
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"#fafafa\" stroke=\"#bbbbbb\"/>",
                    c.x - w / 2.0,
                    c.y - h / 2.0
                );
            }
            Shape::Box => {
                let _ = write!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" rx=\"6\" fill=\"white\" stroke=\"{stroke}\" stroke-width=\"{}\"/>",
                    c.x - w / 2.0,
                    c.y - h / 2.0,
                    if node.color.is_some() { "1.5" } else { "1" }
                );
            }
            Shape::Note => {
                let (x0, y0, x1, y1) = (c.x - w / 2.0, c.y - h / 2.0, c.x + w / 2.0, c.y + h / 2.0);
                let _ = write!(
                    svg,
                    "<path d=\"M{x0:.1},{y0:.1} L{:.1},{y0:.1} L{x1:.1},{:.1} L{x1:.1},{y1:.1} L{x0:.1},{y1:.1} z \
                     M{:.1},{y0:.1} L{:.1},{:.1} L{x1:.1},{:.1}\" fill=\"#fffef0\" stroke=\"{stroke}\"/>",
                    x1 - 8.0,
                    y0 + 8.0,
                    x1 - 8.0,
                    x1 - 8.0,
                    y0 + 8.0,
                    y0 + 8.0
                );
            }
        }
        if node.shape == Shape::Plain {
            let (_, th) = text_size(&node.lines, NODE_FONT);
            write_text(
                &mut svg,
                &node.lines,
                Point::new(c.x - w / 2.0 + 10.0, c.y - h / 2.0 + 6.0 + th / 2.0),
                NODE_FONT,
                "start",
                "black",
                " xml:space=\"preserve\"",
            );
        } else {
            write_text(&mut svg, &node.lines, c, NODE_FONT, "middle", "black", "");
        }
        svg.push_str("</g>\n");
    }
    for (edge, geometry) in diagram.edges.iter().zip(&edges) {
        let color = edge.color.as_deref().unwrap_or("black");
        let marker = if color == "red" {
            "arrow-red"
        } else {
            "arrow-black"
        };
        let color = escape(color);
        let _ = write!(
            svg,
            "<g class=\"edge\"><path d=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"{}\" marker-end=\"url(#{marker})\"/>",
            geometry.path,
            if edge.bold { "2" } else { "1" }
        );
        let (lw, lh) = label_size(edge);
        if lw > 0.0 {
            let at = geometry.label_at;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{lw:.1}\" height=\"{lh:.1}\" fill=\"white\" fill-opacity=\"0.9\"/>",
                at.x - lw / 2.0,
                at.y - lh / 2.0
            );
            write_text(&mut svg, &edge.lines, at, EDGE_FONT, "middle", &color, "");
        }
        svg.push_str("</g>\n");
    }
    svg.push_str("</svg>\n");
    svg
}

fn pt(p: Point) -> String {
    format!("{:.1},{:.1}", p.x, p.y)
}

/// Writes `lines` as one `<text>` centred vertically on `at`.
fn write_text(
    svg: &mut String,
    lines: &[String],
    at: Point,
    font: f64,
    anchor: &str,
    color: &str,
    extra: &str,
) {
    let line_height = font * LINE_HEIGHT;
    let first_baseline = at.y - (lines.len() as f64 * line_height) / 2.0 + font;
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{font:.0}\" text-anchor=\"{anchor}\" fill=\"{color}\"{extra}>",
        at.x, first_baseline
    );
    for (k, line) in lines.iter().enumerate() {
        let _ = write!(
            svg,
            "<tspan x=\"{:.1}\" dy=\"{:.1}\">{}</tspan>",
            at.x,
            if k == 0 { 0.0 } else { line_height },
            escape(line)
        );
    }
    svg.push_str("</text>");
}

/// Escapes text for XML content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{dot, fixtures};

    #[test]
    fn reads_labels_colours_and_tables_from_dot() {
        let diagram = Diagram::from_dot(&dot::render_finding(&fixtures::abba())).unwrap();
        assert_eq!(
            diagram.nodes[0].lines,
            ["accounts \"main\"", "mutex @ src/lib.rs:3:17"]
        );
        assert_eq!(diagram.nodes[1].lines[..2], ["audit", "log"]);
        assert_eq!(diagram.edges.len(), 2);
        assert!(
            diagram
                .edges
                .iter()
                .all(|e| e.bold && e.color.as_deref() == Some("red"))
        );
        let table = diagram.nodes.iter().find(|n| n.id == "coffman").unwrap();
        assert_eq!(table.shape, Shape::Plain);
        assert_eq!(table.lines[0], "Coffman conditions");
        assert!(
            table.lines[1].starts_with("✔  mutual exclusion  both locks"),
            "{:?}",
            table.lines
        );
        assert!(
            diagram
                .title
                .as_deref()
                .unwrap()
                .contains("deadlock predicted")
        );
    }

    #[test]
    fn html_lines_continue_under_their_cell_and_decode_entities() {
        let lines = html_lines(
            "<<TABLE><TR><TD>a</TD><TD>x &amp; y<BR ALIGN=\"LEFT\"/>z &lt;T&gt;</TD></TR><TR><TD>&#10004;</TD></TR></TABLE>>",
        );
        assert_eq!(lines, ["a  x & y", "   z <T>", "✔"]);
    }

    #[test]
    fn a_cycle_goes_on_a_circle_and_other_graphs_are_layered() {
        let ring = Diagram::from_dot("digraph { a -> b; b -> c; c -> a; legend; }").unwrap();
        let connected: BTreeSet<usize> = [0, 1, 2].into();
        assert_eq!(simple_cycle(&ring, &connected), Some(vec![0, 1, 2]));
        let chain = Diagram::from_dot("digraph { a -> b; b -> c; a -> c; }").unwrap();
        assert_eq!(simple_cycle(&chain, &connected), None);
        let sizes: Vec<(f64, f64)> = chain.nodes.iter().map(node_size).collect();
        let placed = layered(&chain, &sizes, &connected);
        let x: Vec<f64> = placed.centers.iter().map(|c| c.unwrap().x).collect();
        assert!(x[0] < x[1] && x[1] < x[2], "{x:?}");
        assert!(
            placed.bends[2] > 0.0,
            "the a -> c edge skips a layer and bows"
        );
    }

    #[test]
    fn layered_layout_breaks_cycles_with_reverse_bows() {
        let d = Diagram::from_dot("digraph { a -> b; b -> a; b -> c; }").unwrap();
        let connected: BTreeSet<usize> = [0, 1, 2].into();
        let sizes: Vec<(f64, f64)> = d.nodes.iter().map(node_size).collect();
        let placed = layered(&d, &sizes, &connected);
        assert!(placed.bends[0] > 0.0 && placed.bends[1] > 0.0);
        assert_eq!(placed.bends[2], 0.0);
    }

    #[test]
    fn svg_is_deterministic_escaped_and_complete() {
        let analysis = fixtures::analysis();
        let d = Diagram::from_dot(&dot::render(&analysis)).unwrap();
        let svg = render_svg(&d);
        assert_eq!(
            svg,
            render_svg(&Diagram::from_dot(&dot::render(&analysis)).unwrap())
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.contains("accounts &quot;main&quot;"));
        assert_eq!(
            svg.matches("class=\"node\"").count(),
            4,
            "3 locks and the legend"
        );
        assert_eq!(svg.matches("class=\"edge\"").count(), 3);
        assert_eq!(svg.matches("marker-end=\"url(#arrow-red)\"").count(), 2);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let empty = render_svg(&Diagram::from_dot("digraph {}").unwrap());
        assert!(empty.ends_with("</svg>\n"));
    }

    #[test]
    fn labels_move_out_until_clear_of_boxes() {
        let centers = [Some(Point::new(0.0, 0.0)), None];
        let sizes = [(100.0, 40.0), (1000.0, 1000.0)];
        let placed = [true, false];
        let up = Point::new(0.0, -1.0);
        // A 200 × 12 label on the box moves up past its top edge (20 + 6 + gap 4).
        let moved = clear_of_nodes(
            Point::new(0.0, 0.0),
            (200.0, 12.0),
            up,
            &centers,
            &sizes,
            &placed,
        );
        assert_eq!(moved.x, 0.0);
        assert!(moved.y <= -30.0 && moved.y > -36.0, "{moved:?}");
        // Already clear: unchanged; unplaced nodes are ignored.
        let clear = Point::new(0.0, -100.0);
        assert_eq!(
            clear_of_nodes(clear, (200.0, 12.0), up, &centers, &sizes, &placed),
            clear
        );
        // Moving along the box's long side never clears it: the label stays put.
        let sideways = [Some(Point::new(0.0, 0.0))];
        let tall = [(40.0, 10_000.0)];
        let stuck = clear_of_nodes(
            Point::new(0.0, 0.0),
            (20.0, 12.0),
            up,
            &sideways,
            &tall,
            &[true],
        );
        assert_eq!(stuck, Point::new(0.0, 0.0));
    }

    #[test]
    fn self_loops_and_race_graphs_render() {
        let d = Diagram::from_dot("digraph { a -> a [label=\"T1 again\"]; }").unwrap();
        let svg = render_svg(&d);
        assert!(svg.contains(" C"), "a self-loop is a cubic curve");
        let race = Diagram::from_dot(&dot::render_finding(&fixtures::race())).unwrap();
        let svg = render_svg(&race);
        assert!(svg.contains("<ellipse"));
        assert!(svg.contains("holding no lock"));
    }
}
