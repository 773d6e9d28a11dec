//! Graphviz DOT output, built as a `dot_structures` graph and printed by
//! graphviz-rust (never by formatting DOT by hand).
//!
//! [`render`] draws the whole-run lock-order graph: one node per lock, one edge
//! A → B per "B acquired while holding A", labelled with its witnesses; edges on
//! a reported cycle are red and bold. [`render_finding`] draws one finding: its
//! cycle and a table of the four Coffman conditions.

use std::collections::HashSet;

use graphviz_rust::dot_structures::{
    Attribute, Edge, EdgeTy, Graph, GraphAttributes, Id, Node, NodeId, Stmt, Subgraph, Vertex,
};
use graphviz_rust::printer::PrinterContext;

use crate::analysis::Analysis;
use crate::finding::{Condition, Finding, FindingKind, LockRef};
use crate::graph::GraphEdge;
use crate::report::plural;

/// Witness lines shown per edge before the rest are summarised as "+N more".
pub const MAX_WITNESSES_PER_EDGE: usize = 4;

/// Characters per line of evidence in the Coffman table, so long evidence stays readable.
const EVIDENCE_WIDTH: usize = 60;

const CYCLE_COLOR: &str = "red";

/// Renders the whole-run lock-order graph of `analysis`, every lock and edge.
pub fn render(analysis: &Analysis) -> String {
    let view = &analysis.graph;
    render_graph(
        analysis,
        &vec![true; view.nodes.len()],
        false,
        &graph_title(analysis),
    )
}

/// Whole-run graphs with more locks than this are drawn in reports as an overview:
/// only the locks and edges of reported cycles (a hairball of a thousand locks helps nobody).
pub const OVERVIEW_MAX_LOCKS: usize = 100;

/// What an overview of the whole-run graph left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeftOut {
    /// Locks not drawn.
    pub locks: usize,
    /// Edges not drawn.
    pub edges: usize,
    /// Locks drawn (those on reported cycles).
    pub drawn_locks: usize,
    /// Edges drawn (those on reported cycles).
    pub drawn_edges: usize,
    /// When the locks on reported cycles are themselves too many: the drawing holds the
    /// cycles of only this many findings, the first in report order.
    pub findings_drawn: Option<usize>,
}

impl LeftOut {
    /// One sentence for the graph label and `index.html`.
    pub fn describe(&self) -> String {
        let whose = match self.findings_drawn {
            None => "reported cycles".to_owned(),
            Some(n) => format!(
                "the cycles of the first {}",
                plural(n, "finding", "findings")
            ),
        };
        format!(
            "only the {} and {} of {whose} are drawn; {} and {} left out \
             (analyzer check --format dot writes the whole graph)",
            plural(self.drawn_locks, "lock", "locks"),
            plural(self.drawn_edges, "edge", "edges"),
            plural(self.locks, "lock", "locks"),
            plural(self.edges, "edge", "edges"),
        )
    }
}

/// The whole-run graph as a report draws it: all of it up to `max_locks` locks; above
/// that, only the locks and edges of reported cycles (other edges among those locks would
/// bring back the hairball: jigsaw's 224 cycle locks have 967 edges among them), with a
/// label saying how much was left out.
pub fn render_overview(analysis: &Analysis, max_locks: usize) -> (String, Option<LeftOut>) {
    let view = &analysis.graph;
    if view.nodes.len() <= max_locks {
        return (render(analysis), None);
    }
    let mut keep = vec![false; view.nodes.len()];
    for edge in view.edges.iter().filter(|e| e.in_cycle) {
        keep[edge.from] = true;
        keep[edge.to] = true;
    }
    let mut findings_drawn = None;
    if keep.iter().filter(|&&k| k).count() > max_locks {
        // Still a hairball: keep the cycle locks of findings in report order while they fit.
        let on_cycle = std::mem::replace(&mut keep, vec![false; view.nodes.len()]);
        let (mut kept, mut findings) = (0, 0);
        for finding in analysis.findings.iter().filter(|f| !f.cycle.is_empty()) {
            let mine: Vec<usize> = (0..view.nodes.len())
                .filter(|&i| on_cycle[i] && !keep[i])
                .filter(|&i| finding.cycle.iter().any(|s| s.holds == view.nodes[i].lock))
                .collect();
            // The first finding is drawn whatever its size: an overview must show something.
            if findings > 0 && kept + mine.len() > max_locks {
                break;
            }
            kept += mine.len();
            findings += 1;
            for i in mine {
                keep[i] = true;
            }
        }
        findings_drawn = Some(findings);
    }
    let drawn_locks = keep.iter().filter(|&&k| k).count();
    let drawn_edges = view
        .edges
        .iter()
        .filter(|e| e.in_cycle && keep[e.from] && keep[e.to])
        .count();
    let left_out = LeftOut {
        locks: view.nodes.len() - drawn_locks,
        edges: view.edges.len() - drawn_edges,
        drawn_locks,
        drawn_edges,
        findings_drawn,
    };
    let title = format!(
        "{} ({} locks, {} edges): {}",
        graph_title(analysis),
        view.nodes.len(),
        view.edges.len(),
        left_out.describe()
    );
    (render_graph(analysis, &keep, true, &title), Some(left_out))
}

/// The lock-order graph over the locks marked in `keep` and the edges among them (only
/// the edges on reported cycles when `cycle_edges_only`).
fn render_graph(analysis: &Analysis, keep: &[bool], cycle_edges_only: bool, title: &str) -> String {
    let view = &analysis.graph;
    let mut stmts = vec![
        graph_attrs(vec![
            attr("rankdir", plain("LR")),
            attr("labelloc", plain("t")),
            attr("label", quoted(title)),
        ]),
        Stmt::GAttribute(GraphAttributes::Node(vec![
            attr("shape", plain("box")),
            attr("style", plain("rounded")),
            attr("fontname", quoted("Helvetica")),
        ])),
        Stmt::GAttribute(GraphAttributes::Edge(vec![
            attr("fontname", quoted("Helvetica")),
            attr("fontsize", plain("10")),
        ])),
    ];
    // Which nodes touch a cycle edge, computed once (a per-node scan is quadratic).
    let mut on_cycle = vec![false; view.nodes.len()];
    for edge in view.edges.iter().filter(|e| e.in_cycle) {
        on_cycle[edge.from] = true;
        on_cycle[edge.to] = true;
    }
    for (i, node) in view.nodes.iter().enumerate().filter(|&(i, _)| keep[i]) {
        let mut attrs = vec![attr("label", quoted(&lock_label(&node.lock)))];
        if on_cycle[i] {
            attrs.push(attr("color", plain(CYCLE_COLOR)));
        }
        stmts.push(node_stmt(&node_name(i), attrs));
    }
    let drawn = |e: &&GraphEdge| keep[e.from] && keep[e.to] && (e.in_cycle || !cycle_edges_only);
    for edge in view.edges.iter().filter(drawn) {
        let mut attrs = vec![attr("label", quoted(&witness_label(edge)))];
        if edge.in_cycle {
            attrs.extend(cycle_edge_attrs());
        }
        stmts.push(edge_stmt(&node_name(edge.from), &node_name(edge.to), attrs));
    }
    stmts.push(Stmt::Subgraph(legend()));
    print(Graph::DiGraph {
        id: plain("lock_order"),
        strict: false,
        stmts,
    })
}

/// Renders a small graph of one finding: its cycle (or its accesses or sites)
/// and, for deadlock kinds, a table of the four Coffman conditions.
pub fn render_finding(finding: &Finding) -> String {
    let mut stmts = vec![
        graph_attrs(vec![
            attr("rankdir", plain("LR")),
            attr("labelloc", plain("t")),
            attr(
                "label",
                quoted(&format!(
                    "{}[{}] {}",
                    finding.severity, finding.kind, finding.message
                )),
            ),
        ]),
        Stmt::GAttribute(GraphAttributes::Node(vec![
            attr("shape", plain("box")),
            attr("style", plain("rounded")),
            attr("fontname", quoted("Helvetica")),
        ])),
        Stmt::GAttribute(GraphAttributes::Edge(vec![
            attr("fontname", quoted("Helvetica")),
            attr("fontsize", plain("10")),
        ])),
    ];
    // Locks in order of first appearance: the finding's lock list, then any the cycle adds.
    let mut locks: Vec<&LockRef> = Vec::new();
    let all_locks = finding
        .locks
        .iter()
        .chain(finding.cycle.iter().flat_map(|s| [&s.holds, &s.wants]));
    for lock in all_locks {
        if !locks.iter().any(|l| l.name == lock.name) {
            locks.push(lock);
        }
    }
    let index_of = |lock: &LockRef| locks.iter().position(|l| l.name == lock.name).unwrap_or(0);
    for (i, lock) in locks.iter().enumerate() {
        let mut attrs = vec![attr("label", quoted(&lock_label(lock)))];
        if !finding.cycle.is_empty() {
            attrs.push(attr("color", plain(CYCLE_COLOR)));
        }
        stmts.push(node_stmt(&node_name(i), attrs));
    }
    for step in &finding.cycle {
        let label = format!(
            "{}\nholds {} at {}\nwaits for {} at {}",
            step.thread,
            step.holds.name,
            step.held_at.display,
            step.wants.name,
            step.wanted_at.display
        );
        let mut attrs = vec![attr("label", quoted(&label))];
        attrs.extend(cycle_edge_attrs());
        stmts.push(edge_stmt(
            &node_name(index_of(&step.holds)),
            &node_name(index_of(&step.wants)),
            attrs,
        ));
    }
    if let Some(variable) = &finding.variable {
        stmts.push(node_stmt(
            "var",
            vec![
                attr("label", quoted(&lock_label(variable))),
                attr("shape", plain("ellipse")),
            ],
        ));
        for (i, access) in finding.accesses.iter().enumerate() {
            let held = if access.locks_held.is_empty() {
                "no lock".to_owned()
            } else {
                access.locks_held.join(", ")
            };
            let label = format!(
                "{} {}\nat {}\nholding {held}",
                access.thread, access.op, access.site.display
            );
            let name = format!("a{i}");
            stmts.push(node_stmt(
                &name,
                vec![attr("label", quoted(&label)), attr("shape", plain("note"))],
            ));
            stmts.push(edge_stmt(
                &name,
                "var",
                vec![attr("label", quoted(&access.op))],
            ));
            // The thread's synchronisation history leading to the access, oldest first.
            let mut prev: Option<String> = None;
            for (j, step) in access.history.iter().enumerate() {
                let h = format!("h{i}_{j}");
                let label = format!("{}: {}\nat {}", step.thread, step.role, step.site.display);
                stmts.push(node_stmt(
                    &h,
                    vec![
                        attr("label", quoted(&label)),
                        attr("shape", plain("box")),
                        attr("color", plain("gray50")),
                        attr("fontsize", plain("10")),
                    ],
                ));
                if let Some(p) = &prev {
                    stmts.push(edge_stmt(p, &h, vec![attr("color", plain("gray50"))]));
                }
                prev = Some(h);
            }
            if let Some(p) = &prev {
                stmts.push(edge_stmt(p, &name, vec![attr("color", plain("gray50"))]));
            }
        }
        // Where a happens-before edge is missing: between the two racing accesses,
        // or, for a lost update, around the interfering write (accesses[2]).
        let (missing, label): (&[(usize, usize)], &str) = match finding.kind {
            FindingKind::DataRace | FindingKind::PotentialRace => {
                (&[(0, 1)], "missing happens-before")
            }
            FindingKind::LostUpdate => (
                &[(0, 2), (2, 1)],
                "missing happens-before: can fall between",
            ),
            _ => (&[], ""),
        };
        for &(a, b) in missing {
            if a < finding.accesses.len() && b < finding.accesses.len() {
                stmts.push(edge_stmt(
                    &format!("a{a}"),
                    &format!("a{b}"),
                    vec![
                        attr("label", quoted(label)),
                        attr("style", plain("dashed")),
                        attr("color", plain(CYCLE_COLOR)),
                        attr("fontcolor", plain(CYCLE_COLOR)),
                        attr("constraint", plain("false")),
                    ],
                ));
            }
        }
    }
    if finding.cycle.is_empty() && finding.accesses.is_empty() {
        for (i, site) in finding.sites.iter().enumerate() {
            let label = format!("{} {}\nat {}", site.thread, site.role, site.site.display);
            stmts.push(node_stmt(
                &format!("s{i}"),
                vec![attr("label", quoted(&label)), attr("shape", plain("note"))],
            ));
        }
    }
    if let Some(coffman) = &finding.coffman {
        let rows: [(&str, &Condition); 4] = [
            ("mutual exclusion", &coffman.mutual_exclusion),
            ("hold and wait", &coffman.hold_and_wait),
            ("no preemption", &coffman.no_preemption),
            ("circular wait", &coffman.circular_wait),
        ];
        let mut table = String::from(
            "<TABLE BORDER=\"0\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"4\">\
             <TR><TD COLSPAN=\"3\"><B>Coffman conditions</B></TD></TR>",
        );
        for (name, condition) in rows {
            let (mark, color) = if condition.holds {
                ("✔", "darkgreen")
            } else {
                ("✘", "gray40")
            };
            table.push_str(&format!(
                "<TR><TD><FONT COLOR=\"{color}\">{mark}</FONT></TD><TD ALIGN=\"LEFT\">{}</TD>\
                 <TD ALIGN=\"LEFT\">{}</TD></TR>",
                html_escape(name),
                html_escape(&wrap(&condition.evidence, EVIDENCE_WIDTH))
            ));
        }
        table.push_str("</TABLE>");
        stmts.push(node_stmt(
            "coffman",
            vec![
                attr("shape", plain("plaintext")),
                attr("label", html(&table)),
            ],
        ));
    }
    print(Graph::DiGraph {
        id: quoted(&format!("finding {}", finding.id)),
        strict: false,
        stmts,
    })
}

fn graph_title(analysis: &Analysis) -> String {
    let inputs = match analysis.inputs.as_slice() {
        [] => "no traces".to_owned(),
        [one] => one.clone(),
        many => format!("{} traces", many.len()),
    };
    format!("lock-order graph of {inputs}")
}

/// `name\nkind @ class site`.
fn lock_label(lock: &LockRef) -> String {
    match &lock.class {
        Some(class) => format!("{}\n{} @ {}", lock.name, lock.kind, class.display),
        None => format!("{}\n{}", lock.name, lock.kind),
    }
}

/// One line per distinct `thread @ site`, capped at [`MAX_WITNESSES_PER_EDGE`].
fn witness_label(edge: &GraphEdge) -> String {
    // Witnesses differing only in trace file or held site read the same here; show each once.
    let mut seen = HashSet::new();
    let mut lines: Vec<String> = Vec::new();
    for witness in &edge.witnesses {
        let line = format!("{} @ {}", witness.thread, witness.acquired_at.display);
        if seen.insert(line.clone()) {
            lines.push(line);
        }
    }
    let hidden = lines.len().saturating_sub(MAX_WITNESSES_PER_EDGE);
    lines.truncate(MAX_WITNESSES_PER_EDGE);
    if hidden > 0 {
        lines.push(format!("+{hidden} more"));
    }
    lines.join("\n")
}

fn legend() -> Subgraph {
    let table = "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"2\">\
                 <TR><TD ALIGN=\"LEFT\">box: a lock (name, kind @ construction site)</TD></TR>\
                 <TR><TD ALIGN=\"LEFT\">A → B: B acquired while holding A</TD></TR>\
                 <TR><TD ALIGN=\"LEFT\">edge label: thread @ site of the acquisition of B</TD></TR>\
                 <TR><TD ALIGN=\"LEFT\"><FONT COLOR=\"red\"><B>red, bold</B></FONT>: on a reported cycle</TD></TR>\
                 </TABLE>";
    Subgraph {
        id: plain("cluster_legend"),
        stmts: vec![
            Stmt::Attribute(attr("label", quoted("legend"))),
            Stmt::Attribute(attr("fontname", quoted("Helvetica"))),
            node_stmt(
                "legend",
                vec![
                    attr("shape", plain("plaintext")),
                    attr("label", html(table)),
                ],
            ),
        ],
    }
}

fn cycle_edge_attrs() -> [Attribute; 4] {
    [
        attr("color", plain(CYCLE_COLOR)),
        attr("fontcolor", plain(CYCLE_COLOR)),
        attr("style", plain("bold")),
        attr("penwidth", plain("2")),
    ]
}

fn print(graph: Graph) -> String {
    let mut ctx = PrinterContext::default();
    ctx.with_semi();
    let mut out = graphviz_rust::print(graph, &mut ctx);
    out.push('\n');
    out
}

fn node_name(index: usize) -> String {
    format!("n{index}")
}

fn graph_attrs(attrs: Vec<Attribute>) -> Stmt {
    Stmt::GAttribute(GraphAttributes::Graph(attrs))
}

fn node_stmt(name: &str, attrs: Vec<Attribute>) -> Stmt {
    Stmt::Node(Node::new(NodeId(plain(name), None), attrs))
}

fn edge_stmt(from: &str, to: &str, attributes: Vec<Attribute>) -> Stmt {
    Stmt::Edge(Edge {
        ty: EdgeTy::Pair(
            Vertex::N(NodeId(plain(from), None)),
            Vertex::N(NodeId(plain(to), None)),
        ),
        attributes,
    })
}

fn attr(key: &str, value: Id) -> Attribute {
    Attribute(plain(key), value)
}

/// An identifier the caller guarantees is a DOT plain id (letters, digits, `_`).
fn plain(s: &str) -> Id {
    Id::Plain(s.to_owned())
}

/// A double-quoted DOT string: backslashes and quotes escaped, newlines as `\n`
/// (Graphviz's centred line break), carriage returns dropped.
fn quoted(s: &str) -> Id {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out.push('"');
    Id::Escaped(out)
}

/// Breaks `text` at spaces into lines of at most `width` characters (longer words stay whole).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut line_len = 0;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if line_len > 0 && line_len + 1 + len > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += len;
    }
    out
}

/// An HTML-like label from already-escaped markup.
fn html(markup: &str) -> Id {
    Id::Html(format!("<{markup}>"))
}

/// Escapes text for an HTML-like label; newlines become line breaks.
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<BR ALIGN=\"LEFT\"/>"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use graphviz_rust::dot_structures::{Graph, Id, Stmt};

    use super::*;
    use crate::report::fixtures;

    fn stmts(graph: Graph) -> Vec<Stmt> {
        match graph {
            Graph::DiGraph { stmts, .. } | Graph::Graph { stmts, .. } => stmts,
        }
    }

    fn attr_value<'a>(attrs: &'a [Attribute], key: &str) -> Option<&'a Id> {
        attrs
            .iter()
            .find(|Attribute(k, _)| *k == Id::Plain(key.into()))
            .map(|Attribute(_, v)| v)
    }

    #[test]
    fn whole_graph_parses_back_with_escaped_labels() {
        let dot = render(&fixtures::analysis());
        assert!(dot.starts_with("digraph lock_order {"), "{dot}");
        let graph = graphviz_rust::parse(&dot).expect("the DOT parses");
        let stmts = stmts(graph);
        let nodes: Vec<_> = stmts
            .iter()
            .filter_map(|s| match s {
                Stmt::Node(n) => Some(n),
                _ => None,
            })
            .collect();
        assert_eq!(nodes.len(), 3);
        assert_eq!(nodes[0].id.0, Id::Plain("n0".into()));
        assert_eq!(
            attr_value(&nodes[0].attributes, "label"),
            Some(&Id::Escaped(
                r#""accounts \"main\"\nmutex @ src/lib.rs:3:17""#.into()
            ))
        );
        assert_eq!(
            attr_value(&nodes[1].attributes, "label"),
            Some(&Id::Escaped(
                r#""audit\nlog\nmutex @ src/lib.rs:4:17""#.into()
            ))
        );
    }

    #[test]
    fn cycle_edges_are_highlighted_and_witnesses_capped() {
        let graph = graphviz_rust::parse(&render(&fixtures::analysis())).unwrap();
        let edges: Vec<Edge> = stmts(graph)
            .into_iter()
            .filter_map(|s| match s {
                Stmt::Edge(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(edges.len(), 3);
        let red = Id::Plain("red".into());
        assert_eq!(attr_value(&edges[0].attributes, "color"), Some(&red));
        assert_eq!(
            attr_value(&edges[0].attributes, "style"),
            Some(&Id::Plain("bold".into()))
        );
        assert_eq!(attr_value(&edges[1].attributes, "color"), Some(&red));
        assert_eq!(
            attr_value(&edges[2].attributes, "color"),
            None,
            "edge off the cycle stays plain"
        );
        let Some(Id::Escaped(label)) = attr_value(&edges[0].attributes, "label") else {
            panic!("label")
        };
        assert!(
            label.starts_with(r#""T0 @ src/x.rs:11:5\nT1 @ src/x.rs:12:5"#),
            "{label}"
        );
        assert!(label.ends_with(r#"\n+2 more""#), "{label}");
        let EdgeTy::Pair(Vertex::N(from), Vertex::N(to)) = &edges[2].ty else {
            panic!("pair")
        };
        assert_eq!(
            (from.0.clone(), to.0.clone()),
            (Id::Plain("n1".into()), Id::Plain("n2".into()))
        );
    }

    #[test]
    fn an_overview_draws_only_the_locks_and_edges_of_cycles() {
        let analysis = fixtures::analysis();
        let (full, none) = render_overview(&analysis, 3);
        assert_eq!((full, none), (render(&analysis), None), "3 locks fit");
        let (dot, left_out) = render_overview(&analysis, 2);
        assert_eq!(
            left_out,
            Some(LeftOut {
                locks: 1,
                edges: 1,
                drawn_locks: 2,
                drawn_edges: 2,
                findings_drawn: None,
            })
        );
        let stmts = stmts(graphviz_rust::parse(&dot).unwrap());
        let edges = stmts.iter().filter(|s| matches!(s, Stmt::Edge(_))).count();
        assert_eq!(edges, 2, "{dot}");
        assert!(!dot.contains("n2"), "the rw-lock m is on no cycle: {dot}");
        assert!(dot.contains(
            "(3 locks, 3 edges): only the 2 locks and 2 edges of reported cycles are drawn; \
             1 lock and 1 edge left out"
        ));
    }

    #[test]
    fn too_many_cycle_locks_draw_the_cycles_of_the_first_findings() {
        let mut analysis = fixtures::analysis();
        // A second cycle finding over the rw-lock m, whose edge is made a cycle edge.
        analysis.graph.edges[2].in_cycle = true;
        let mut second = fixtures::abba();
        second.id = "second".into();
        second.cycle[0].holds = analysis.graph.nodes[2].lock.clone();
        analysis.findings.push(second);
        let (dot, left_out) = render_overview(&analysis, 1);
        let left_out = left_out.unwrap();
        assert_eq!(left_out.findings_drawn, Some(1), "{left_out:?}");
        assert_eq!((left_out.drawn_locks, left_out.drawn_edges), (2, 2));
        assert_eq!((left_out.locks, left_out.edges), (1, 1));
        assert!(!dot.contains("n2"), "{dot}");
        assert!(dot.contains(
            "only the 2 locks and 2 edges of the cycles of the first 1 finding are drawn"
        ));
        // Room for 2 of the 3 cycle locks: still only the first finding's cycle.
        let (_, two) = render_overview(&analysis, 2);
        assert_eq!(two.unwrap().findings_drawn, Some(1));
        // Room for all 3 cycle locks: every cycle is drawn, with no finding count.
        let (_, three) = render_overview(&analysis, 2 + 1);
        assert_eq!(three, None, "3 locks in all fit");
    }

    #[test]
    fn whole_graph_has_a_legend_and_is_deterministic() {
        let analysis = fixtures::analysis();
        let dot = render(&analysis);
        assert!(dot.contains("subgraph cluster_legend"));
        assert!(dot.contains("on a reported cycle"));
        assert_eq!(dot, render(&analysis));
        let empty = render(&Analysis::default());
        graphviz_rust::parse(&empty).expect("an empty graph parses");
    }

    #[test]
    fn finding_graph_has_cycle_and_coffman_table() {
        let dot = render_finding(&fixtures::abba());
        let graph = graphviz_rust::parse(&dot).unwrap_or_else(|e| panic!("{e}\n{dot}"));
        let stmts = stmts(graph);
        let edges: Vec<&Edge> = stmts
            .iter()
            .filter_map(|s| match s {
                Stmt::Edge(e) => Some(e),
                _ => None,
            })
            .collect();
        assert_eq!(edges.len(), 2);
        assert!(
            edges
                .iter()
                .all(|e| attr_value(&e.attributes, "color") == Some(&Id::Plain("red".into())))
        );
        let coffman = stmts
            .iter()
            .find_map(|s| match s {
                Stmt::Node(n) if n.id.0 == Id::Plain("coffman".into()) => Some(n),
                _ => None,
            })
            .expect("coffman node");
        let Some(Id::Html(table)) = attr_value(&coffman.attributes, "label") else {
            panic!("html label")
        };
        assert_eq!(table.matches("✔").count(), 4);
        assert!(table.contains("T1 → audit → T2 → accounts → T1"));
    }

    #[test]
    fn finding_graph_escapes_html_and_shows_failed_conditions() {
        let mut finding = fixtures::abba();
        finding.coffman.as_mut().unwrap().no_preemption = Condition {
            holds: false,
            evidence: "T2 uses try_lock<T> && \"times out\" >> later".into(),
        };
        let dot = render_finding(&finding);
        assert!(
            dot.contains(
                "T2 uses try_lock&lt;T&gt; &amp;&amp; &quot;times out&quot; &gt;&gt; later"
            )
        );
        assert!(dot.contains("✘"));
        graphviz_rust::parse(&dot).unwrap_or_else(|e| panic!("{e}\n{dot}"));
    }

    /// Text rich in what DOT and HTML labels must escape, or anything at all.
    const NASTY_TEXT: &str = "(?s)[\"\\\\<>&;\n\r\t ={}\\[\\]a-z]{0,24}|(?s).{0,40}";

    proptest::proptest! {
        /// Any lock name and evidence text (quotes, backslashes, newlines, markup) yields DOT that
        /// parses back, with the node label exactly as escaped.
        #[test]
        fn arbitrary_names_and_evidence_parse_back(name in NASTY_TEXT, evidence in NASTY_TEXT) {
            let mut analysis = fixtures::analysis();
            analysis.graph.nodes[0].lock.name = name.clone();
            let dot = render(&analysis);
            let graph = graphviz_rust::parse(&dot).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{dot}")))?;
            let label = stmts(graph).into_iter().find_map(|s| match s {
                Stmt::Node(n) if n.id.0 == Id::Plain("n0".into()) => attr_value(&n.attributes, "label").cloned(),
                _ => None,
            });
            proptest::prop_assert_eq!(label, Some(quoted(&lock_label(&analysis.graph.nodes[0].lock))));

            let mut finding = fixtures::abba();
            finding.cycle[0].holds.name = name;
            finding.coffman.as_mut().unwrap().circular_wait.evidence = evidence;
            let dot = render_finding(&finding);
            proptest::prop_assert!(graphviz_rust::parse(&dot).is_ok(), "{}", dot);
        }
    }

    #[test]
    fn wrap_breaks_at_spaces_within_the_width() {
        assert_eq!(wrap("aa bb cc dd", 5), "aa bb\ncc dd");
        assert_eq!(wrap("averyverylongword x", 5), "averyverylongword\nx");
        assert_eq!(wrap("  spaced \n out ", 60), "spaced out");
        let long =
            "T1 holds A (taken at src/x.rs:10:5) while requesting B at src/x.rs:11:5; T2 holds B";
        assert!(
            wrap(long, 20)
                .lines()
                .all(|l| l.chars().count() <= 20 || !l.contains(' '))
        );
    }

    #[test]
    fn race_finding_graph_shows_accesses() {
        let dot = render_finding(&fixtures::race());
        graphviz_rust::parse(&dot).unwrap_or_else(|e| panic!("{e}\n{dot}"));
        assert!(dot.contains("a0 -> var"));
        assert!(dot.contains(r#"T2 read\nat src/y.rs:9:9\nholding no lock"#));
        assert!(!dot.contains("coffman"));
    }
}
