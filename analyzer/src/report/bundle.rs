//! The files of a report directory, rendered together so they agree.

use std::collections::BTreeMap;
use std::path::Path;

use crate::analysis::Analysis;
use crate::report::html::Drawings;
use crate::report::svg::{GraphvizLimits, SvgBatch, SvgError, SvgRenderer};
use crate::report::{ReportOptions, dot, finding_file_stem, html, json, junit, sarif, text};

/// Every file of a report directory, by name, in a stable order: `report.txt`,
/// `report.json`, `report.sarif`, `junit.xml`, `index.html`, `lock-order.{dot,svg}`
/// and `finding-<id>.{dot,svg}` per finding. Graphviz gets the default
/// [`GraphvizLimits`]; see [`render_bundle`] for other limits and the fallback notes.
///
/// ```
/// use analyzer::analysis::Analysis;
/// use analyzer::report::{ReportOptions, bundle, svg::SvgRenderer};
///
/// let files = bundle::render_files(&Analysis::default(), &ReportOptions::default(),
///     SvgRenderer::Builtin, std::path::Path::new(".")).unwrap();
/// assert!(files.contains_key("index.html"));
/// ```
pub fn render_files(
    analysis: &Analysis,
    options: &ReportOptions,
    renderer: SvgRenderer,
    repo_root: &Path,
) -> Result<BTreeMap<String, String>, SvgError> {
    let mut batch = SvgBatch::new(renderer, GraphvizLimits::default())?;
    Ok(render_bundle(analysis, options, &mut batch, repo_root)?.files)
}

/// A rendered report directory and what the reader should know about how it was drawn.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bundle {
    /// File name to contents, as [`render_files`] describes.
    pub files: BTreeMap<String, String>,
    /// Notes also shown in `index.html`: graphs drawn by the built-in layout instead of
    /// Graphviz, and what the whole-run graph left out. Empty for a plain run.
    pub notes: Vec<String>,
}

/// Renders every file of a report directory, drawing graphs with `batch`. The whole-run
/// graph is an overview above [`dot::OVERVIEW_MAX_LOCKS`] locks (see
/// [`dot::render_overview`]), and `lock-order.dot` holds what is drawn, not the full
/// graph, so the two files agree and the DOT stays small.
pub fn render_bundle(
    analysis: &Analysis,
    options: &ReportOptions,
    batch: &mut SvgBatch,
    repo_root: &Path,
) -> Result<Bundle, SvgError> {
    let mut files = BTreeMap::new();
    let (graph_dot, left_out) = dot::render_overview(analysis, dot::OVERVIEW_MAX_LOCKS);
    let graph_svg = batch.render("lock-order.svg", &graph_dot)?;
    let mut drawings = Drawings {
        graph: graph_svg.text.clone(),
        findings: BTreeMap::new(),
        notes: Vec::new(),
        graph_notes: Vec::new(),
    };
    files.insert("lock-order.dot".to_owned(), graph_dot);
    files.insert("lock-order.svg".to_owned(), graph_svg.text);
    for finding in &analysis.findings {
        let finding_dot = dot::render_finding(finding);
        let name = finding_file_stem(&finding.id);
        let drawn = batch.render(&format!("{name}.svg"), &finding_dot)?;
        drawings
            .findings
            .insert(finding.id.clone(), drawn.text.clone());
        files.insert(format!("{name}.dot"), finding_dot);
        files.insert(format!("{name}.svg"), drawn.text);
    }
    if let Some(left_out) = left_out {
        drawings.graph_notes.push(format!(
            "The whole-run graph has {} locks: {}.",
            analysis.graph.nodes.len(),
            left_out.describe()
        ));
    }
    if let Some(summary) = batch.fallback_summary() {
        drawings.notes.push(format!("{summary}."));
    }
    files.insert(
        "index.html".to_owned(),
        html::render(analysis, options, &drawings),
    );
    files.insert(
        "report.sarif".to_owned(),
        sarif::render(analysis, options, repo_root),
    );
    files.insert("junit.xml".to_owned(), junit::render(analysis, options));
    files.insert("report.json".to_owned(), json::render(analysis, options));
    files.insert("report.txt".to_owned(), text::render(analysis, options));
    let mut notes = drawings.graph_notes;
    notes.extend(drawings.notes);
    Ok(Bundle { files, notes })
}

/// Whether `name` is a per-finding file this module writes (so stale ones can be removed).
pub fn is_finding_file(name: &str) -> bool {
    name.starts_with("finding-") && (name.ends_with(".dot") || name.ends_with(".svg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_ids_are_safe() {
        assert_eq!(finding_file_stem("00ff"), "finding-00ff");
        assert_eq!(finding_file_stem("../x"), "finding-___x");
        assert!(is_finding_file("finding-00ff.svg"));
        assert!(!is_finding_file("lock-order.svg"));
    }
}
