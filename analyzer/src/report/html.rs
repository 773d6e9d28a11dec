//! The static `index.html` of `analyzer report`: one self-contained page (inline
//! CSS and SVG, no script, no network) that opens offline from a CI artifact.
//!
//! Order: a summary table by kind and severity, baseline and warnings, one section
//! per finding (explanation, cycle, Coffman table, sites, fixes, focused graph), and
//! the whole-run lock-order graph. Every text from a trace is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analysis::Analysis;
use crate::finding::{Condition, Finding, FindingKind};
use crate::report::text::{describe_step, summary_line};
use crate::report::{ReportOptions, finding_file_stem, plural, svg};

/// The SVG drawings the page embeds, as standalone SVG documents.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drawings {
    /// The whole-run lock-order graph.
    pub graph: String,
    /// One focused graph per finding id.
    pub findings: BTreeMap<String, String>,
    /// Notes on how the graphs were drawn (Graphviz fallbacks), shown near the top;
    /// none for a plain run.
    pub notes: Vec<String>,
    /// Notes on the whole-run graph (what an overview left out), shown with it.
    pub graph_notes: Vec<String>,
}

const STYLE: &str = "
body { font-family: Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #1b1b1b; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { margin-bottom: .3em; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; }
td.mark { white-space: nowrap; }
code { font-family: Menlo, Consolas, monospace; font-size: .92em; }
.summary-line { font-family: Menlo, Consolas, monospace; background: #f6f6f6; padding: .5em; }
.finding { border: 1px solid #ddd; border-left: 6px solid #999; padding: .2em 1em 1em; margin: 1.5em 0; }
.finding.error { border-left-color: #c62828; }
.finding.warning { border-left-color: #ef8f00; }
.finding.note { border-left-color: #1565c0; }
.badge { display: inline-block; padding: .05em .5em; border-radius: .7em; color: white; font-size: .8em; font-weight: bold; }
.badge.error { background: #c62828; }
.badge.warning { background: #ef8f00; }
.badge.note { background: #1565c0; }
.holds { color: #1b7a1b; font-weight: bold; }
.fails-not { color: #777; font-weight: bold; }
.muted { color: #666; }
figure { margin: 1em 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
";

/// Renders the page. `drawings` holds the SVGs to inline (see [`crate::report::svg`]).
pub fn render(analysis: &Analysis, options: &ReportOptions, drawings: &Drawings) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>Lock analysis report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>Lock analysis report</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"summary-line\" id=\"summary-line\">{}</p>",
        esc(&summary_line(analysis, options))
    );
    write_inputs(&mut out, analysis);
    write_summary(&mut out, analysis, options);
    write_baseline(&mut out, options);
    write_diagnostics(&mut out, analysis);
    write_notes(&mut out, &drawings.notes, "drawing-notes");
    out.push_str("<h2 id=\"findings\">Findings</h2>\n");
    if analysis.findings.is_empty() {
        out.push_str("<p>No findings: no lock-order cycle, deadlock or race was seen.</p>\n");
    }
    if analysis.findings.len() > MAX_INLINE_GRAPHS {
        let _ = writeln!(
            out,
            "<p class=\"muted\" id=\"linked-graphs\">The graphs of the first {MAX_INLINE_GRAPHS} findings are \
             shown here; the other {} are linked (finding-&lt;id&gt;.svg beside this page) to keep the page small.</p>",
            analysis.findings.len() - MAX_INLINE_GRAPHS
        );
    }
    for (i, finding) in analysis.findings.iter().enumerate() {
        let drawing = drawings.findings.get(&finding.id).map(|svg| {
            if i < MAX_INLINE_GRAPHS {
                Drawing::Inline(svg)
            } else {
                Drawing::Linked(format!("{}.svg", finding_file_stem(&finding.id)))
            }
        });
        write_finding(&mut out, finding, options.fails(finding), options, drawing);
    }
    out.push_str("<h2 id=\"graph\">Whole-run lock-order graph</h2>\n");
    out.push_str(
        "<p class=\"muted\">An edge A → B means B was acquired while A was held; \
         red edges lie on a reported cycle.</p>\n",
    );
    write_notes(&mut out, &drawings.graph_notes, "graph-notes");
    let _ = writeln!(
        out,
        "<figure class=\"graph\">{}</figure>",
        svg::inline(&drawings.graph)
    );
    out.push_str("</body>\n</html>\n");
    out
}

/// Notes on how the graphs were drawn, as a list with the HTML id `id`; nothing when empty.
fn write_notes(out: &mut String, notes: &[String], id: &str) {
    if notes.is_empty() {
        return;
    }
    let _ = writeln!(out, "<ul class=\"muted\" id=\"{id}\">");
    for note in notes {
        let _ = writeln!(out, "<li>{}</li>", esc(note));
    }
    out.push_str("</ul>\n");
}

fn write_inputs(out: &mut String, analysis: &Analysis) {
    let _ = writeln!(
        out,
        "<details><summary>{} read</summary><ul>",
        esc(&plural(analysis.inputs.len(), "trace", "traces"))
    );
    for input in &analysis.inputs {
        let _ = writeln!(out, "<li><code>{}</code></li>", esc(input));
    }
    out.push_str("</ul></details>\n");
}

fn write_summary(out: &mut String, analysis: &Analysis, options: &ReportOptions) {
    out.push_str("<h2 id=\"summary\">Summary</h2>\n");
    out.push_str(
        "<table class=\"summary\" id=\"summary-table\">\n<thead><tr><th>kind</th><th>severity</th>\
         <th>findings</th><th>failing</th><th>first finding</th></tr></thead>\n<tbody>\n",
    );
    let mut total = 0;
    let mut total_failing = 0;
    for kind in FindingKind::ALL {
        let of_kind: Vec<&Finding> = analysis
            .findings
            .iter()
            .filter(|f| f.kind == kind)
            .collect();
        let Some(first) = of_kind.first() else {
            continue;
        };
        let failing = of_kind.iter().filter(|f| options.fails(f)).count();
        total += of_kind.len();
        total_failing += failing;
        let severity = kind.severity().to_string();
        let _ = writeln!(
            out,
            "<tr><td><code>{kind}</code></td><td><span class=\"badge {severity}\">{severity}</span></td>\
             <td class=\"num\">{}</td><td class=\"num\">{failing}</td>\
             <td><a href=\"#finding-{id}\"><code>{id}</code></a></td></tr>",
            of_kind.len(),
            id = esc(&first.id)
        );
    }
    let _ = writeln!(
        out,
        "</tbody>\n<tfoot><tr><th colspan=\"2\">total</th><th class=\"num\">{total}</th>\
         <th class=\"num\">{total_failing}</th><th></th></tr></tfoot>\n</table>"
    );
    let s = &analysis.summary;
    let _ = writeln!(
        out,
        "<p class=\"muted\">{} events, {} threads, {} locks.</p>",
        s.events, s.threads, s.locks
    );
}

fn write_baseline(out: &mut String, options: &ReportOptions) {
    let Some(baseline) = &options.baseline else {
        return;
    };
    out.push_str("<h2 id=\"baseline\">Baseline</h2>\n");
    let _ = writeln!(
        out,
        "<p>{} accepted by the baseline (they do not fail the check).</p>",
        esc(&plural(baseline.suppressed.len(), "finding", "findings"))
    );
    if !baseline.stale.is_empty() {
        out.push_str(
            "<p>Stale entries (no longer found; remove them from the baseline):</p>\n\
             <table class=\"stale\"><tr><th>id</th><th>kind</th><th>message</th><th>reason</th></tr>\n",
        );
        for entry in &baseline.stale {
            let _ = writeln!(
                out,
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                esc(&entry.id),
                esc(&entry.kind),
                esc(&entry.message),
                esc(&entry.reason)
            );
        }
        out.push_str("</table>\n");
    }
}

fn write_diagnostics(out: &mut String, analysis: &Analysis) {
    if analysis.warnings.is_empty() && analysis.limits.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"warnings\">Warnings and limits</h2>\n<ul>\n");
    for warning in &analysis.warnings {
        let _ = writeln!(out, "<li>warning: {}</li>", esc(&warning.to_string()));
    }
    for limit in &analysis.limits {
        let _ = writeln!(out, "<li>limit: {}</li>", esc(&limit.message));
    }
    out.push_str("</ul>\n");
}

/// Findings whose graphs are inlined in the page; later ones are linked. A real trace can
/// give a thousand findings, and a thousand inline SVGs make a page of tens of megabytes.
pub const MAX_INLINE_GRAPHS: usize = 100;

/// How a finding's graph appears on the page.
enum Drawing<'a> {
    /// The SVG itself.
    Inline(&'a str),
    /// A link to this file of the report directory.
    Linked(String),
}

fn write_finding(
    out: &mut String,
    finding: &Finding,
    fails: bool,
    options: &ReportOptions,
    drawing: Option<Drawing<'_>>,
) {
    let severity = finding.severity.to_string();
    let _ = writeln!(
        out,
        "<section class=\"finding {severity}\" id=\"finding-{}\">",
        esc(&finding.id)
    );
    let _ = writeln!(
        out,
        "<h3><span class=\"badge {severity}\">{severity}</span> <code>{}</code> {}</h3>",
        finding.kind,
        esc(&finding.message)
    );
    let verdict = if fails {
        "<span class=\"fails\">fails the check</span>".to_owned()
    } else if options
        .baseline
        .as_ref()
        .is_some_and(|b| b.suppresses(&finding.id))
    {
        "<span class=\"fails-not\">accepted by the baseline</span>".to_owned()
    } else {
        "<span class=\"fails-not\">does not fail the check under the current --fail-on</span>"
            .to_owned()
    };
    let _ = writeln!(
        out,
        "<p class=\"muted\">id <code>{}</code> · {verdict} · {} in {}</p>",
        esc(&finding.id),
        esc(&plural(finding.occurrences, "occurrence", "occurrences")),
        esc(&finding.traces.join(", "))
    );
    if let Some(reason) = &finding.reason {
        let _ = writeln!(out, "<p><b>Why this kind:</b> {}</p>", esc(reason));
    }
    if !finding.cycle.is_empty() {
        out.push_str("<p><b>Cycle</b></p>\n<ol class=\"cycle\">\n");
        for step in &finding.cycle {
            let also = if step.also_held.is_empty() {
                String::new()
            } else {
                format!(" (also holding {})", step.also_held.join(", "))
            };
            let _ = writeln!(out, "<li>{}{}</li>", esc(&describe_step(step)), esc(&also));
        }
        out.push_str("</ol>\n");
    }
    if let Some(coffman) = &finding.coffman {
        let rows: [(&str, &Condition); 4] = [
            ("mutual exclusion", &coffman.mutual_exclusion),
            ("hold and wait", &coffman.hold_and_wait),
            ("no preemption", &coffman.no_preemption),
            ("circular wait", &coffman.circular_wait),
        ];
        out.push_str(
            "<table class=\"coffman\">\n<caption>Coffman conditions</caption>\n\
             <tr><th>condition</th><th>holds</th><th>evidence</th></tr>\n",
        );
        for (name, condition) in rows {
            let mark = if condition.holds {
                "<span class=\"holds\">✔ yes</span>"
            } else {
                "<span class=\"fails-not\">✘ no</span>"
            };
            let _ = writeln!(
                out,
                "<tr><td>{name}</td><td class=\"mark\">{mark}</td><td>{}</td></tr>",
                esc(&condition.evidence)
            );
        }
        out.push_str("</table>\n");
    }
    if let Some(variable) = &finding.variable {
        let _ = writeln!(
            out,
            "<p><b>Variable:</b> <code>{}</code></p>",
            esc(&variable.name)
        );
    }
    if !finding.accesses.is_empty() {
        out.push_str(
            "<table class=\"accesses\"><caption>Accesses</caption>\n\
             <tr><th>thread</th><th>operation</th><th>site</th><th>locks held</th></tr>\n",
        );
        for access in &finding.accesses {
            let held = if access.locks_held.is_empty() {
                "none".to_owned()
            } else {
                access.locks_held.join(", ")
            };
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                esc(&access.thread),
                esc(&access.op),
                esc(&access.site.display),
                esc(&held)
            );
        }
        out.push_str("</table>\n");
    }
    if !finding.sites.is_empty() {
        out.push_str(
            "<table class=\"sites\"><caption>Sites</caption>\n\
             <tr><th>role</th><th>thread</th><th>site</th></tr>\n",
        );
        for site in &finding.sites {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&site.role),
                esc(&site.thread),
                esc(&site.site.display)
            );
        }
        out.push_str("</table>\n");
    }
    if !finding.fixes.is_empty() {
        out.push_str("<p><b>Fixes</b></p>\n<ul class=\"fixes\">\n");
        for fix in &finding.fixes {
            let _ = writeln!(
                out,
                "<li><b>breaks {}:</b> {}</li>",
                esc(&fix.breaks),
                esc(&fix.advice)
            );
        }
        out.push_str("</ul>\n");
    }
    match drawing {
        Some(Drawing::Inline(svg)) => {
            let _ = writeln!(
                out,
                "<figure class=\"finding-graph\">{}</figure>",
                svg::inline(svg)
            );
        }
        Some(Drawing::Linked(file)) => {
            let _ = writeln!(
                out,
                "<p><a class=\"finding-graph\" href=\"{0}\">graph: {0}</a></p>",
                esc(&file)
            );
        }
        None => {}
    }
    out.push_str("</section>\n");
}

/// Escapes text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::baseline::BaselineStatus;
    use crate::report::fixtures;

    fn drawings() -> Drawings {
        Drawings {
            graph: "<?xml version=\"1.0\"?>\n<svg id=\"whole\"></svg>\n".into(),
            findings: [(
                "00112233aabbccdd".to_owned(),
                "<svg id=\"abba\"></svg>".to_owned(),
            )]
            .into(),
            notes: Vec::new(),
            graph_notes: Vec::new(),
        }
    }

    #[test]
    fn page_has_summary_findings_coffman_and_graphs() {
        let html = render(
            &fixtures::analysis(),
            &ReportOptions::default(),
            &drawings(),
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.ends_with("</html>\n"));
        assert!(html.contains("<table class=\"summary\""));
        assert!(html.contains("<td><code>predicted-deadlock</code></td>"));
        assert!(html.contains("id=\"finding-00112233aabbccdd\""));
        assert!(html.contains("id=\"finding-ffeeddccbbaa9988\""));
        assert_eq!(html.matches("<table class=\"coffman\">").count(), 1);
        assert!(html.contains("<figure class=\"finding-graph\"><svg id=\"abba\"></svg></figure>"));
        assert!(html.contains("<figure class=\"graph\"><svg id=\"whole\"></svg></figure>"));
        assert!(!html.contains("<?xml"));
        assert!(!html.contains("<script"), "no script needed");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no network"
        );
    }

    #[test]
    fn text_from_traces_is_escaped() {
        let mut analysis = fixtures::analysis();
        analysis.findings[0].message = "<script>alert('x')</script> & more".into();
        let html = render(&analysis, &ReportOptions::default(), &drawings());
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
        assert!(html.contains("accounts &quot;main&quot;"));
    }

    #[test]
    fn baseline_section_lists_stale_entries() {
        let options = ReportOptions {
            baseline: Some(BaselineStatus {
                suppressed: ["00112233aabbccdd".to_owned()].into(),
                stale: vec![crate::report::baseline::BaselineEntry {
                    id: "0000000000000000".into(),
                    kind: "data-race".into(),
                    message: "gone".into(),
                    reason: "old".into(),
                }],
            }),
            ..ReportOptions::default()
        };
        let html = render(&fixtures::analysis(), &options, &drawings());
        assert!(html.contains("accepted by the baseline"));
        assert!(html.contains("<code>0000000000000000</code>"));
        assert!(html.contains("1 finding accepted"));
    }

    #[test]
    fn drawing_notes_are_shown_once_each() {
        let mut with_notes = drawings();
        with_notes.notes = vec!["dot <timed out> on finding-1.svg.".into()];
        with_notes.graph_notes = vec!["The whole-run graph has 500 locks: 490 left out.".into()];
        let html = render(
            &fixtures::analysis(),
            &ReportOptions::default(),
            &with_notes,
        );
        assert_eq!(
            html.matches("dot &lt;timed out&gt; on finding-1.svg.")
                .count(),
            1
        );
        assert_eq!(html.matches("490 left out").count(), 1);
        let top = html.find("id=\"drawing-notes\"").unwrap();
        let graph = html.find("id=\"graph-notes\"").unwrap();
        assert!(top < html.find("id=\"findings\"").unwrap());
        assert!(graph > html.find("id=\"graph\"").unwrap());
        let plain = render(
            &fixtures::analysis(),
            &ReportOptions::default(),
            &drawings(),
        );
        assert!(!plain.contains("-notes\""), "no note lists in a plain run");
    }

    #[test]
    fn graphs_beyond_the_first_hundred_findings_are_linked() {
        let mut analysis = fixtures::analysis();
        let mut drawn = drawings();
        analysis.findings = (0..MAX_INLINE_GRAPHS + 2)
            .map(|i| {
                let mut f = fixtures::abba();
                f.id = format!("{i:016x}");
                drawn
                    .findings
                    .insert(f.id.clone(), format!("<svg id=\"g{i}\"></svg>"));
                f
            })
            .collect();
        let html = render(&analysis, &ReportOptions::default(), &drawn);
        assert!(html.contains("<svg id=\"g0\"></svg>"));
        assert!(html.contains("<svg id=\"g99\"></svg>"));
        assert!(!html.contains("<svg id=\"g100\">"));
        assert!(
            html.contains("href=\"finding-0000000000000064.svg\""),
            "100 = 0x64"
        );
        assert!(html.contains("href=\"finding-0000000000000065.svg\""));
        assert!(html.contains("the other 2 are linked"));
        let few = render(
            &fixtures::analysis(),
            &ReportOptions::default(),
            &drawings(),
        );
        assert!(!few.contains("linked-graphs"));
    }

    #[test]
    fn a_clean_run_says_so() {
        let analysis = Analysis {
            inputs: vec!["t.std".into()],
            ..Analysis::default()
        };
        let html = render(&analysis, &ReportOptions::default(), &Drawings::default());
        assert!(html.contains("No findings"));
        assert!(html.contains("<tfoot><tr><th colspan=\"2\">total</th><th class=\"num\">0</th>"));
    }
}
