//! SVG from the DOT of [`crate::report::dot`]: by Graphviz `dot -Tsvg` when it is
//! installed, otherwise by the built-in layout of [`crate::report::layout`], so
//! there is no hard system dependency.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;

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
    /// `dot` could not be run or talked to.
    #[error("cannot run {}: {source}", program.display())]
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

/// Renders `dot` as SVG with `renderer`.
pub fn render(dot: &str, renderer: SvgRenderer) -> Result<Svg, SvgError> {
    match resolve(renderer) {
        SvgRenderer::Graphviz => {
            let program = graphviz_path().ok_or(SvgError::GraphvizMissing)?;
            Ok(Svg {
                text: run_graphviz(&program, dot)?,
                renderer: SvgRenderer::Graphviz,
            })
        }
        _ => Ok(Svg {
            text: render_svg(&Diagram::from_dot(dot)?),
            renderer: SvgRenderer::Builtin,
        }),
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

fn run_graphviz(program: &Path, dot: &str) -> Result<String, SvgError> {
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
    // Feed stdin from another thread: a large graph fills the stdout pipe before dot reads all input.
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let input = dot.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .expect("stdout is piped")
        .read_to_string(&mut stdout)
        .map_err(io)?;
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut stderr)
        .map_err(io)?;
    let status = child.wait().map_err(io)?;
    let written = writer
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("stdin writer panicked")));
    if !status.success() {
        return Err(SvgError::GraphvizFailed {
            program: program.to_owned(),
            status,
            stderr: stderr.lines().take(5).collect::<Vec<_>>().join(" "),
        });
    }
    written.map_err(io)?;
    Ok(stdout)
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

    #[test]
    fn inline_drops_the_prolog() {
        let doc = "<?xml version=\"1.0\"?>\n<!DOCTYPE svg>\n<!-- c -->\n<svg width=\"1\"></svg>\n";
        assert_eq!(inline(doc), "<svg width=\"1\"></svg>");
    }
}
