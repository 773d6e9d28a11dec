//! The files of a report directory, rendered together so they agree.

use std::collections::BTreeMap;
use std::path::Path;

use crate::analysis::Analysis;
use crate::report::html::Drawings;
use crate::report::svg::{self, SvgError, SvgRenderer};
use crate::report::{ReportOptions, dot, html, json, junit, sarif, text};

/// Every file of a report directory, by name, in a stable order: `report.txt`,
/// `report.json`, `report.sarif`, `junit.xml`, `index.html`, `lock-order.{dot,svg}`
/// and `finding-<id>.{dot,svg}` per finding.
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
    let mut files = BTreeMap::new();
    let graph_dot = dot::render(analysis);
    let graph_svg = svg::render(&graph_dot, renderer)?;
    let mut drawings = Drawings {
        graph: graph_svg.text.clone(),
        findings: BTreeMap::new(),
    };
    files.insert("lock-order.dot".to_owned(), graph_dot);
    files.insert("lock-order.svg".to_owned(), graph_svg.text);
    for finding in &analysis.findings {
        let finding_dot = dot::render_finding(finding);
        let name = format!("finding-{}", file_safe(&finding.id));
        let drawn = svg::render(&finding_dot, renderer)?;
        drawings
            .findings
            .insert(finding.id.clone(), drawn.text.clone());
        files.insert(format!("{name}.dot"), finding_dot);
        files.insert(format!("{name}.svg"), drawn.text);
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
    Ok(files)
}

/// Whether `name` is a per-finding file this module writes (so stale ones can be removed).
pub fn is_finding_file(name: &str) -> bool {
    name.starts_with("finding-") && (name.ends_with(".dot") || name.ends_with(".svg"))
}

/// Ids are hex fingerprints; anything else is made safe for a file name anyway.
fn file_safe(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_from_ids_are_safe() {
        assert_eq!(file_safe("00ff"), "00ff");
        assert_eq!(file_safe("../x"), "___x");
        assert!(is_finding_file("finding-00ff.svg"));
        assert!(!is_finding_file("lock-order.svg"));
    }
}
