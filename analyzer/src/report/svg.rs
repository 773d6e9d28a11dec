//! SVG from the DOT of [`crate::report::dot`]: by Graphviz `dot -Tsvg` when it is
//! installed, otherwise by the built-in layout of [`crate::report::layout`], so
//! there is no hard system dependency.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::report::layout::{Diagram, LayoutError, render_svg};

/// Which renderer draws SVG.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SvgRenderer {
    /// Graphviz when `dot` is on `PATH`, else the built-in layout.
    #[default]
    Auto,
    /// Graphviz `dot`; an error when it is not installed.
    Graphviz,
    /// The built-in layout.
    Builtin,
}

impl SvgRenderer {
    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            SvgRenderer::Auto => "auto",
            SvgRenderer::Graphviz => "graphviz",
            SvgRenderer::Builtin => "builtin",
        }
    }
}

impl fmt::Display for SvgRenderer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SvgRenderer {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            SvgRenderer::Auto,
            SvgRenderer::Graphviz,
            SvgRenderer::Builtin,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
        .ok_or_else(|| format!("unknown SVG renderer {s:?}, expected auto, graphviz or builtin"))
    }
}

/// Why SVG could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SvgError {
    /// `--svg-renderer graphviz` without Graphviz installed.
    #[error(
        "Graphviz `dot` is not on PATH (install the graphviz package, or use --svg-renderer builtin)"
    )]
    GraphvizMissing,
    /// `dot` could not be run or talked to (the I/O error is the `source`).
    #[error("cannot run {}", program.display())]
    GraphvizIo {
        /// The program.
        program: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `dot` exited unsuccessfully.
    #[error("{} failed ({status}): {stderr}", program.display())]
    GraphvizFailed {
        /// The program.
        program: PathBuf,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// The first lines of its standard error.
        stderr: String,
    },
    /// `dot` ran longer than its time limit and was killed.
    #[error("{} did not finish within {} s and was killed", program.display(), timeout.as_secs_f64())]
    GraphvizTimedOut {
        /// The program.
        program: PathBuf,
        /// The limit it exceeded.
        timeout: Duration,
    },
    /// The built-in renderer could not read the DOT.
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// Rendered SVG and who drew it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Svg {
    /// A standalone SVG document.
    pub text: String,
    /// The renderer actually used (never [`SvgRenderer::Auto`]).
    pub renderer: SvgRenderer,
}

/// The renderer [`SvgRenderer::Auto`] resolves to on this machine.
pub fn resolve(renderer: SvgRenderer) -> SvgRenderer {
    match renderer {
        SvgRenderer::Auto if graphviz_path().is_some() => SvgRenderer::Graphviz,
        SvgRenderer::Auto => SvgRenderer::Builtin,
        other => other,
    }
}

/// Renders `dot` as SVG with `renderer`; Graphviz gets the default time limit of
/// [`GraphvizLimits`] (a timeout is an error here; [`SvgBatch`] falls back instead).
pub fn render(dot: &str, renderer: SvgRenderer) -> Result<Svg, SvgError> {
    match resolve(renderer) {
        SvgRenderer::Graphviz => {
            let program = graphviz_path().ok_or(SvgError::GraphvizMissing)?;
            Ok(Svg {
                text: run_graphviz(&program, dot, GraphvizLimits::default().timeout)?,
                renderer: SvgRenderer::Graphviz,
            })
        }
        _ => render_builtin(dot),
    }
}

fn render_builtin(dot: &str) -> Result<Svg, SvgError> {
    Ok(Svg {
        text: render_svg(&Diagram::from_dot(dot)?),
        renderer: SvgRenderer::Builtin,
    })
}

/// Bounds that keep Graphviz from stalling a report: larger graphs go to the built-in
/// layout under [`SvgRenderer::Auto`], and every `dot` call is killed after `timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GraphvizLimits {
    /// Graphs with more nodes than this are drawn by the built-in layout (auto only).
    pub max_nodes: usize,
    /// Graphs with more edges than this are drawn by the built-in layout (auto only).
    pub max_edges: usize,
    /// How long one `dot` call may run before it is killed.
    pub timeout: Duration,
}

impl Default for GraphvizLimits {
    /// 200 nodes / 400 edges: `dot` draws that in about a second; jigsaw's 1,500-node
    /// graph took it more than five minutes.
    fn default() -> Self {
        GraphvizLimits {
            max_nodes: 200,
            max_edges: 400,
            timeout: Duration::from_secs(20),
        }
    }
}

/// Why a graph meant for Graphviz was drawn by the built-in layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// The graph exceeds [`GraphvizLimits::max_nodes`] or [`GraphvizLimits::max_edges`].
    TooLarge {
        /// Its nodes.
        nodes: usize,
        /// Its edges.
        edges: usize,
    },
    /// `dot` ran past [`GraphvizLimits::timeout`] on this graph and was killed.
    TimedOut {
        /// The limit.
        timeout: Duration,
    },
    /// Not given to `dot`: a graph of the batch at most this large timed out, or
    /// [`MAX_TIMEOUTS`] graphs did.
    AfterTimeout,
}

/// A graph drawn by the built-in layout although Graphviz was chosen, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackNote {
    /// The graph's name (its file name in the report).
    pub graph: String,
    /// Why.
    pub reason: Fallback,
}

/// Timeouts after which a batch stops calling `dot` at all: a `dot` that hangs on every
/// graph would otherwise cost one timeout per finding.
pub const MAX_TIMEOUTS: usize = 3;

/// Renders the graphs of one report: one renderer choice, one [`GraphvizLimits`], and a
/// record of every graph that fell back to the built-in layout. After a `dot` call times
/// out, graphs at least as large skip Graphviz (a big whole-run graph must not cost the
/// small finding graphs theirs), and after [`MAX_TIMEOUTS`] every graph does, so a
/// report waits for at most that many timeouts.
#[derive(Clone, Debug)]
pub struct SvgBatch {
    /// The renderer asked for.
    requested: SvgRenderer,
    /// `dot`, when Graphviz is used.
    program: Option<PathBuf>,
    limits: GraphvizLimits,
    /// Graphs that timed out.
    timeouts: usize,
    /// Nodes of the smallest graph that timed out.
    smallest_timed_out: Option<usize>,
    fallbacks: Vec<FallbackNote>,
}

impl SvgBatch {
    /// A batch drawing with `renderer`; an error when Graphviz is asked for explicitly
    /// and is not installed.
    pub fn new(renderer: SvgRenderer, limits: GraphvizLimits) -> Result<SvgBatch, SvgError> {
        let program = match resolve(renderer) {
            SvgRenderer::Graphviz => Some(graphviz_path().ok_or(SvgError::GraphvizMissing)?),
            _ => None,
        };
        Ok(SvgBatch::with_program(renderer, program, limits))
    }

    fn with_program(
        requested: SvgRenderer,
        program: Option<PathBuf>,
        limits: GraphvizLimits,
    ) -> SvgBatch {
        SvgBatch {
            requested,
            program,
            limits,
            timeouts: 0,
            smallest_timed_out: None,
            fallbacks: Vec::new(),
        }
    }

    /// Renders the graph `name` (its DOT text is `dot`). Under [`SvgRenderer::Auto`] a
    /// graph over the size limits, and under any Graphviz choice a graph `dot` does not
    /// finish in time, is drawn by the built-in layout and noted in [`Self::fallbacks`].
    pub fn render(&mut self, name: &str, dot: &str) -> Result<Svg, SvgError> {
        let Some(program) = self.program.clone() else {
            return render_builtin(dot);
        };
        let diagram = Diagram::from_dot(dot)?;
        let (nodes, edges) = (diagram.nodes.len(), diagram.edges.len());
        if self.timeouts >= MAX_TIMEOUTS || self.smallest_timed_out.is_some_and(|n| nodes >= n) {
            self.fallbacks.push(FallbackNote {
                graph: name.to_owned(),
                reason: Fallback::AfterTimeout,
            });
            return Ok(Svg {
                text: render_svg(&diagram),
                renderer: SvgRenderer::Builtin,
            });
        }
        if self.requested == SvgRenderer::Auto
            && (nodes > self.limits.max_nodes || edges > self.limits.max_edges)
        {
            self.fallbacks.push(FallbackNote {
                graph: name.to_owned(),
                reason: Fallback::TooLarge { nodes, edges },
            });
            return Ok(Svg {
                text: render_svg(&diagram),
                renderer: SvgRenderer::Builtin,
            });
        }
        match run_graphviz(&program, dot, self.limits.timeout) {
            Ok(text) => Ok(Svg {
                text,
                renderer: SvgRenderer::Graphviz,
            }),
            Err(SvgError::GraphvizTimedOut { timeout, .. }) => {
                self.timeouts += 1;
                self.smallest_timed_out =
                    Some(self.smallest_timed_out.map_or(nodes, |n| n.min(nodes)));
                self.fallbacks.push(FallbackNote {
                    graph: name.to_owned(),
                    reason: Fallback::TimedOut { timeout },
                });
                Ok(Svg {
                    text: render_svg(&diagram),
                    renderer: SvgRenderer::Builtin,
                })
            }
            Err(other) => Err(other),
        }
    }

    /// The renderer the batch uses when nothing falls back.
    pub fn renderer(&self) -> SvgRenderer {
        if self.program.is_some() {
            SvgRenderer::Graphviz
        } else {
            SvgRenderer::Builtin
        }
    }

    /// Every graph drawn by the built-in layout instead of Graphviz, in render order.
    pub fn fallbacks(&self) -> &[FallbackNote] {
        &self.fallbacks
    }

    /// One sentence on the fallbacks for the user (stderr and `index.html`), or `None`
    /// when every graph was drawn by the renderer chosen.
    pub fn fallback_summary(&self) -> Option<String> {
        if self.fallbacks.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        let large: Vec<(&str, usize, usize)> = self
            .fallbacks
            .iter()
            .filter_map(|n| match n.reason {
                Fallback::TooLarge { nodes, edges } => Some((n.graph.as_str(), nodes, edges)),
                _ => None,
            })
            .collect();
        if let Some(&(graph, nodes, edges)) = large.first() {
            parts.push(format!(
                "{} more than {} nodes or {} edges and {} drawn by the built-in layout instead of \
                 Graphviz (the first, {graph}, has {nodes} nodes and {edges} edges)",
                super::plural(large.len(), "graph has", "graphs have"),
                self.limits.max_nodes,
                self.limits.max_edges,
                if large.len() == 1 { "was" } else { "were" },
            ));
        }
        let timed_out: Vec<&str> = self
            .fallbacks
            .iter()
            .filter(|n| matches!(n.reason, Fallback::TimedOut { .. }))
            .map(|n| n.graph.as_str())
            .collect();
        if !timed_out.is_empty() {
            let skipped = self
                .fallbacks
                .iter()
                .filter(|n| n.reason == Fallback::AfterTimeout)
                .count();
            let mut named = timed_out
                .iter()
                .take(3)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if timed_out.len() > 3 {
                named.push_str(", …");
            }
            parts.push(format!(
                "Graphviz was killed after {} s on {} ({named}){}; drawn by the built-in layout instead",
                self.limits.timeout.as_secs_f64(),
                super::plural(timed_out.len(), "graph", "graphs"),
                if skipped == 0 {
                    String::new()
                } else {
                    format!(
                        ", and {} not given to it after that",
                        super::plural(skipped, "graph was", "graphs were")
                    )
                }
            ));
        }
        Some(parts.join("; "))
    }
}

/// `dot` on `PATH`, if any.
pub fn graphviz_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("dot"))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

/// Runs `dot -Tsvg` on `dot`, killing it after `timeout`.
///
/// Graphviz can take minutes on a graph of a few thousand nodes; a report must not
/// hang a CI job on it, so the caller falls back to the built-in layout instead.
fn run_graphviz(program: &Path, dot: &str, timeout: Duration) -> Result<String, SvgError> {
    let io = |source| SvgError::GraphvizIo {
        program: program.to_owned(),
        source,
    };
    let mut child = Command::new(program)
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io)?;
    // Every pipe is served by its own thread: a large graph fills the stdout pipe before
    // dot reads all its input, and a killed dot may leave a pipe open in a grandchild, so
    // after a timeout these threads are left to finish on their own instead of joined.
    let mut stdin = child.stdin.take().ok_or_else(|| io(missing_pipe()))?;
    let input = dot.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let stdout = read_in_background(child.stdout.take().ok_or_else(|| io(missing_pipe()))?);
    let stderr = read_in_background(child.stderr.take().ok_or_else(|| io(missing_pipe()))?);
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            break status;
        }
        let now = Instant::now();
        if now >= deadline {
            // Already exited between the two calls is fine; kill's error is then moot.
            let _ = child.kill();
            let _ = child.wait();
            return Err(SvgError::GraphvizTimedOut {
                program: program.to_owned(),
                timeout,
            });
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(25));
    };
    let stdout = stdout.recv().unwrap_or_else(|_| Err(thread_died()));
    let stderr = stderr.recv().unwrap_or_else(|_| Err(thread_died()));
    let written = writer.join().unwrap_or_else(|_| Err(thread_died()));
    if !status.success() {
        return Err(SvgError::GraphvizFailed {
            program: program.to_owned(),
            status,
            stderr: stderr
                .unwrap_or_default()
                .lines()
                .take(5)
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    written.map_err(io)?;
    stdout.map_err(io)
}

/// Reads `pipe` to its end on another thread; the result arrives on the returned channel.
fn read_in_background(
    mut pipe: impl Read + Send + 'static,
) -> mpsc::Receiver<std::io::Result<String>> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let result = pipe.read_to_string(&mut text).map(|_| text);
        // The receiver is gone only after a timeout, when nobody wants the text.
        let _ = send.send(result);
    });
    receive
}

fn missing_pipe() -> std::io::Error {
    std::io::Error::other("a pipe to the child was not set up")
}

fn thread_died() -> std::io::Error {
    std::io::Error::other("a pipe thread panicked")
}

/// The `<svg>…</svg>` element of an SVG document, for inlining in HTML: the XML
/// declaration, doctype and comments before it are dropped.
pub fn inline(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(start) => svg[start..].trim_end(),
        None => svg.trim_end(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{dot, fixtures};

    #[test]
    fn renderer_names_round_trip() {
        for r in [
            SvgRenderer::Auto,
            SvgRenderer::Graphviz,
            SvgRenderer::Builtin,
        ] {
            assert_eq!(r.as_str().parse::<SvgRenderer>(), Ok(r));
        }
        assert!("png".parse::<SvgRenderer>().is_err());
    }

    #[test]
    fn builtin_renders_without_graphviz() {
        let svg = render(&dot::render(&fixtures::analysis()), SvgRenderer::Builtin).unwrap();
        assert_eq!(svg.renderer, SvgRenderer::Builtin);
        assert!(inline(&svg.text).starts_with("<svg"));
    }

    #[test]
    fn graphviz_renders_when_installed() {
        if graphviz_path().is_none() {
            eprintln!("skipped: graphviz not installed");
            assert!(matches!(
                render("digraph {}", SvgRenderer::Graphviz),
                Err(SvgError::GraphvizMissing)
            ));
            return;
        }
        let dot = dot::render_finding(&fixtures::abba());
        let a = render(&dot, SvgRenderer::Auto).unwrap();
        assert_eq!(a.renderer, SvgRenderer::Graphviz);
        assert!(a.text.contains("<svg"), "{}", a.text);
        assert!(a.text.contains("Coffman conditions"));
        assert_eq!(
            a,
            render(&dot, SvgRenderer::Graphviz).unwrap(),
            "deterministic"
        );
        let err = render("digraph { a -> }", SvgRenderer::Graphviz).unwrap_err();
        assert!(matches!(err, SvgError::GraphvizFailed { .. }), "{err}");
    }

    /// A chain of `n` nodes.
    fn chain(n: usize) -> String {
        let edges: Vec<String> = (1..n).map(|i| format!("n{} -> n{i};", i - 1)).collect();
        format!("digraph {{ n0; {} }}", edges.join(" "))
    }

    #[cfg(unix)]
    #[test]
    fn timeouts_skip_larger_graphs_then_all_graphs() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("dot");
        std::fs::write(&program, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let limits = GraphvizLimits {
            timeout: Duration::from_millis(200),
            ..GraphvizLimits::default()
        };
        let mut batch = SvgBatch::with_program(SvgRenderer::Graphviz, Some(program), limits);
        // 6 nodes times out; 7 is larger and skipped; 5 and 4 are smaller and tried, the
        // third timeout; after it even 2 is skipped.
        for (name, nodes) in [("a", 6), ("b", 7), ("c", 5), ("d", 4), ("e", 2)] {
            let svg = batch.render(name, &chain(nodes)).unwrap();
            assert_eq!(svg.renderer, SvgRenderer::Builtin, "{name}");
            assert!(svg.text.contains("<svg"));
        }
        let reasons: Vec<(&str, &Fallback)> = batch
            .fallbacks()
            .iter()
            .map(|n| (n.graph.as_str(), &n.reason))
            .collect();
        let out = Fallback::TimedOut {
            timeout: limits.timeout,
        };
        assert_eq!(
            reasons,
            [
                ("a", &out),
                ("b", &Fallback::AfterTimeout),
                ("c", &out),
                ("d", &out),
                ("e", &Fallback::AfterTimeout),
            ]
        );
        assert_eq!(
            batch.fallback_summary().unwrap(),
            "Graphviz was killed after 0.2 s on 3 graphs (a, c, d), and 2 graphs were not given \
             to it after that; drawn by the built-in layout instead"
        );
    }

    #[test]
    fn auto_draws_graphs_over_the_limits_itself() {
        let limits = GraphvizLimits {
            max_nodes: 3,
            ..GraphvizLimits::default()
        };
        // A program that cannot run: the small graph reaches it (and fails), the big one does not.
        let missing = PathBuf::from("/nonexistent/dot");
        let mut batch = SvgBatch::with_program(SvgRenderer::Auto, Some(missing), limits);
        let big = batch.render("big.svg", &chain(4)).unwrap();
        assert_eq!(big.renderer, SvgRenderer::Builtin);
        assert!(matches!(
            batch.render("small.svg", &chain(3)),
            Err(SvgError::GraphvizIo { .. })
        ));
        assert_eq!(
            batch.fallback_summary().unwrap(),
            "1 graph has more than 3 nodes or 400 edges and was drawn by the built-in layout \
             instead of Graphviz (the first, big.svg, has 4 nodes and 3 edges)"
        );
    }

    #[test]
    fn inline_drops_the_prolog() {
        let doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<!-- c -->\n<svg width=\"1\"></svg>\n";
        assert_eq!(inline(doc), "<svg width=\"1\"></svg>");
    }
}
