//! Cycle classification, explanations and bounds through the public `analyze` API.

use analyzer::analysis::{AnalysisOptions, analyze, trace_stats};
use analyzer::finding::{Finding, FindingKind};
use analyzer::model::{
    Attempt, Event, Mode, ObjectKind, ObservedReport, Op, Site, Trace, TraceBuilder,
};

/// A small trace written as lock/unlock calls at numbered lines of one file.
struct Script {
    b: TraceBuilder,
    file: String,
}

impl Script {
    fn new(source: &str) -> Script {
        Script {
            b: TraceBuilder::new(source),
            file: "src/bank.rs".to_owned(),
        }
    }

    fn site(&mut self, line: u32) -> analyzer::model::SiteIdx {
        self.b.site(Site {
            file: Some(self.file.clone()),
            line,
            column: 0,
        })
    }

    /// A lock named `name` whose class is the construction site `class_line`.
    fn class(&mut self, name: &str, class_line: u32) -> &mut Script {
        let o = self.b.object(name, ObjectKind::Mutex);
        let class = self.b.site(Site {
            file: Some("src/state.rs".into()),
            line: class_line,
            column: 0,
        });
        let obj = &mut self.b.trace_mut().objects[o.0 as usize];
        obj.class = class;
        obj.user_named = true;
        self
    }

    fn lock_mode(
        &mut self,
        thread: &str,
        lock: &str,
        mode: Mode,
        kind: ObjectKind,
        line: u32,
    ) -> &mut Script {
        let t = self.b.thread(thread);
        let l = self.b.object(lock, kind);
        let site = self.site(line);
        self.b.push(Event {
            thread: t,
            op: Op::Request { lock: l, mode },
            site,
        });
        self.b.push(Event {
            thread: t,
            op: Op::Acquire {
                lock: l,
                mode,
                attempt: Attempt::Blocking,
            },
            site,
        });
        self
    }

    fn lock(&mut self, thread: &str, lock: &str, line: u32) -> &mut Script {
        self.lock_mode(thread, lock, Mode::Write, ObjectKind::Mutex, line)
    }

    fn unlock(&mut self, thread: &str, lock: &str, line: u32) -> &mut Script {
        let t = self.b.thread(thread);
        let l = self.b.object(lock, ObjectKind::Mutex);
        let site = self.site(line);
        self.b.push(Event {
            thread: t,
            op: Op::Release {
                lock: l,
                mode: Mode::Write,
            },
            site,
        });
        self
    }

    /// `thread` takes `outer` at `line`, `inner` at `line + 1`, and releases both.
    fn nest(&mut self, thread: &str, outer: &str, inner: &str, line: u32) -> &mut Script {
        self.lock(thread, outer, line)
            .lock(thread, inner, line + 1)
            .unlock(thread, inner, line + 2)
            .unlock(thread, outer, line + 3)
    }

    fn finish(&mut self) -> Trace {
        std::mem::replace(&mut self.b, TraceBuilder::new("")).finish()
    }
}

fn options() -> AnalysisOptions {
    AnalysisOptions::default()
}

fn only(findings: &[Finding]) -> &Finding {
    assert_eq!(findings.len(), 1, "expected one finding, got {findings:#?}");
    &findings[0]
}

#[test]
fn single_thread_abba_is_one_inversion() {
    let trace = Script::new("one.trace")
        .nest("T1", "A", "B", 10)
        .nest("T1", "B", "A", 20)
        .finish();
    let analysis = analyze(&[trace], &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::LockOrderInversion);
    assert_eq!(
        f.reason.as_deref(),
        Some("all in thread T1: would deadlock if these paths ran concurrently")
    );
    assert_eq!(f.threads, vec!["T1"]);
    assert!(!f.coffman.as_ref().unwrap().circular_wait.holds);
    assert_eq!(analysis.summary.failing, 1);
    assert!(analysis.graph.edges.iter().all(|e| e.in_cycle));
}

#[test]
fn two_thread_abba_is_a_predicted_deadlock() {
    let trace = Script::new("two.trace")
        .nest("T1", "A", "B", 10)
        .nest("T2", "B", "A", 20)
        .finish();
    let analysis = analyze(&[trace], &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::PredictedDeadlock, "{f:#?}");
    assert_eq!(
        f.message,
        "deadlock predicted: thread T1 holds A (src/bank.rs:10) and waits for B; \
         thread T2 holds B (src/bank.rs:20) and waits for A"
    );
    assert_eq!(f.threads, vec!["T1", "T2"]);
    assert_eq!(f.cycle.len(), 2);
}

#[test]
fn abba_coffman_table_holds_with_both_sites() {
    // Whatever the prediction decides, the four conditions of a two-thread ABBA hold.
    let trace = Script::new("two.trace")
        .nest("T1", "A", "B", 10)
        .nest("T2", "B", "A", 20)
        .finish();
    let analysis = analyze(&[trace], &options());
    let f = only(&analysis.findings);
    let c = f
        .coffman
        .as_ref()
        .expect("cycle findings carry the Coffman conditions");
    for cond in [
        &c.mutual_exclusion,
        &c.hold_and_wait,
        &c.no_preemption,
        &c.circular_wait,
    ] {
        assert!(cond.holds, "{cond:?}");
    }
    assert!(
        c.hold_and_wait.evidence.contains("src/bank.rs:10"),
        "{}",
        c.hold_and_wait.evidence
    );
    assert!(
        c.hold_and_wait.evidence.contains("src/bank.rs:20"),
        "{}",
        c.hold_and_wait.evidence
    );
    assert!(
        c.no_preemption.evidence.contains("src/bank.rs:11")
            && c.no_preemption.evidence.contains("src/bank.rs:21")
    );
    assert_eq!(c.circular_wait.evidence, "T1 → B → T2 → A → T1");
    let order = f
        .fixes
        .iter()
        .find(|x| x.advice.starts_with("always take A before B"))
        .expect("a global-order fix");
    assert!(
        order
            .advice
            .contains("change the acquisition of A at src/bank.rs:21 in thread T2"),
        "{}",
        order.advice
    );
}

#[test]
fn gate_locked_abba_is_a_guarded_cycle() {
    let trace = Script::new("gate.trace")
        .lock("T1", "G", 5)
        .nest("T1", "A", "B", 10)
        .unlock("T1", "G", 15)
        .lock("T2", "G", 18)
        .nest("T2", "B", "A", 20)
        .unlock("T2", "G", 25)
        .finish();
    let analysis = analyze(&[trace], &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::GuardedCycle);
    assert!(
        f.reason.as_deref().unwrap().contains("gate lock G"),
        "{:?}",
        f.reason
    );
    assert!(
        f.fixes[0]
            .advice
            .starts_with("informational: the gate lock G")
    );
    assert_eq!(analysis.summary.failing, 0);
}

#[test]
fn partially_gated_cycle_suggests_taking_the_gate() {
    let trace = Script::new("half.trace")
        .lock("T1", "G", 5)
        .nest("T1", "A", "B", 10)
        .unlock("T1", "G", 15)
        .nest("T2", "B", "A", 20)
        .finish();
    let analysis = analyze(&[trace], &options());
    let f = only(&analysis.findings);
    assert_ne!(f.kind, FindingKind::GuardedCycle);
    assert!(
        f.fixes
            .iter()
            .any(|x| x.advice.starts_with("the gate lock G already protects")
                && x.advice
                    .contains("in thread T2 before taking B at src/bank.rs:20")),
        "{:#?}",
        f.fixes
    );
}

#[test]
fn consistent_order_across_threads_has_no_findings() {
    let mut s = Script::new("ordered.trace");
    for t in 0..6 {
        let thread = format!("W{t}");
        s.lock(&thread, "A", 10)
            .lock(&thread, "B", 11)
            .lock(&thread, "C", 12);
        s.unlock(&thread, "C", 13)
            .unlock(&thread, "B", 14)
            .unlock(&thread, "A", 15);
    }
    let analysis = analyze(&[s.finish()], &options());
    assert!(analysis.findings.is_empty(), "{:#?}", analysis.findings);
    assert_eq!(analysis.summary.failing, 0);
    assert_eq!(analysis.graph.nodes.len(), 3);
    assert_eq!(analysis.graph.edges.len(), 3);
    assert!(analysis.graph.edges.iter().all(|e| !e.in_cycle));
    // Six threads witness each edge at the same sites.
    assert!(analysis.graph.edges.iter().all(|e| e.witnesses.len() == 6));
}

/// A trace in which `thread` nests `outer` then `inner`, both with class sites.
fn classed_run(source: &str, outer: &str, inner: &str, line: u32) -> Trace {
    Script::new(source)
        .class("accounts", 1)
        .class("audit", 2)
        .nest("main", outer, inner, line)
        .finish()
}

#[test]
fn opposite_orders_in_separate_runs_are_one_cross_run_inversion() {
    let traces = [
        classed_run("test1.trace", "accounts", "audit", 10),
        classed_run("test2.trace", "audit", "accounts", 20),
    ];
    let analysis = analyze(&traces, &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::LockOrderInversion);
    assert_eq!(
        f.reason.as_deref(),
        Some("seen across separate runs: test1.trace, test2.trace")
    );
    assert_eq!(f.traces, vec!["test1.trace", "test2.trace"]);
    let names: Vec<&str> = f.locks.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, vec!["accounts", "audit"]);
    assert_eq!(
        analysis.graph.nodes.len(),
        2,
        "same class and name merge across runs"
    );
}

#[test]
fn same_cycle_in_many_runs_is_one_finding() {
    let traces: Vec<Trace> = (0..3)
        .map(|i| {
            Script::new(&format!("run{i}.trace"))
                .class("accounts", 1)
                .class("audit", 2)
                .nest("main", "accounts", "audit", 10)
                .nest("main", "audit", "accounts", 20)
                .finish()
        })
        .collect();
    let analysis = analyze(&traces, &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::LockOrderInversion);
    assert_eq!(f.traces, vec!["run0.trace", "run1.trace", "run2.trace"]);
    assert_eq!(f.occurrences, 3);
}

#[test]
fn unknown_classes_do_not_merge_but_findings_deduplicate() {
    // Without class sites the locks of two runs stay apart: two graph cycles, one fingerprint.
    let traces = [
        Script::new("a.trace")
            .nest("T1", "A", "B", 10)
            .nest("T1", "B", "A", 20)
            .finish(),
        Script::new("b.trace")
            .nest("T1", "A", "B", 10)
            .nest("T1", "B", "A", 20)
            .finish(),
    ];
    let analysis = analyze(&traces, &options());
    assert_eq!(analysis.graph.nodes.len(), 4);
    let f = only(&analysis.findings);
    assert_eq!(f.occurrences, 2);
    assert_eq!(f.traces, vec!["a.trace", "b.trace"]);
}

#[test]
fn analysis_is_deterministic() {
    let build = || {
        let mut s = Script::new("mix.trace");
        s.nest("T1", "A", "B", 10)
            .nest("T2", "B", "C", 20)
            .nest("T3", "C", "A", 30)
            .nest("T1", "B", "A", 40);
        s.lock("T4", "A", 50).lock("T4", "A", 51);
        vec![
            s.finish(),
            classed_run("x.trace", "accounts", "audit", 5),
            classed_run("y.trace", "audit", "accounts", 7),
        ]
    };
    let a = serde_json::to_string(&analyze(&build(), &options())).unwrap();
    let b = serde_json::to_string(&analyze(&build(), &options())).unwrap();
    assert_eq!(a, b);
    let kinds: Vec<FindingKind> = analyze(&build(), &options())
        .findings
        .iter()
        .map(|f| f.kind)
        .collect();
    let rank = |k: &FindingKind| FindingKind::ALL.iter().position(|x| x == k).unwrap();
    assert!(
        kinds.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "{kinds:?}"
    );
}

/// Every ordered pair of three locks nested in one thread each way: 3 two-cycles and 2 three-cycles.
fn dense_trace() -> Trace {
    let mut s = Script::new("dense.trace");
    let locks = ["A", "B", "C"];
    let mut line = 10;
    for a in locks {
        for b in locks {
            if a != b {
                s.nest("T1", a, b, line);
                line += 10;
            }
        }
    }
    s.finish()
}

#[test]
fn cycle_count_bound_is_reported() {
    let opts = AnalysisOptions {
        max_cycles: 2,
        ..options()
    };
    let analysis = analyze(&[dense_trace()], &opts);
    assert!(
        analysis
            .limits
            .iter()
            .any(|l| l.message == "cycle search stopped at 2 cycles; raise with --max-cycles"),
        "{:?}",
        analysis.limits
    );
    assert_eq!(analysis.findings.len(), 2);
    assert!(analyze(&[dense_trace()], &options()).limits.is_empty());
    assert_eq!(analyze(&[dense_trace()], &options()).findings.len(), 5);
}

#[test]
fn cycle_length_bound_is_reported() {
    let opts = AnalysisOptions {
        max_cycle_len: 2,
        ..options()
    };
    let analysis = analyze(&[dense_trace()], &opts);
    assert!(
        analysis
            .limits
            .iter()
            .any(|l| l.message.contains("--max-cycle-len")),
        "{:?}",
        analysis.limits
    );
    assert!(analysis.findings.iter().all(|f| f.locks.len() == 2));
}

#[test]
fn read_read_cycle_is_not_a_hazard() {
    let mut s = Script::new("rw.trace");
    for (t, a, b, line) in [("T1", "A", "B", 10), ("T2", "B", "A", 20)] {
        s.lock_mode(t, a, Mode::Read, ObjectKind::RwLock, line)
            .lock_mode(t, b, Mode::Read, ObjectKind::RwLock, line + 1);
        let (tt, la, lb) = (
            s.b.thread(t),
            s.b.object(a, ObjectKind::RwLock),
            s.b.object(b, ObjectKind::RwLock),
        );
        let site = s.site(line + 2);
        s.b.push(Event {
            thread: tt,
            op: Op::Release {
                lock: lb,
                mode: Mode::Read,
            },
            site,
        });
        s.b.push(Event {
            thread: tt,
            op: Op::Release {
                lock: la,
                mode: Mode::Read,
            },
            site,
        });
    }
    let analysis = analyze(&[s.finish()], &options());
    assert!(analysis.findings.is_empty(), "{:#?}", analysis.findings);
}

#[test]
fn self_deadlock_is_reported_once_per_site() {
    let trace = Script::new("self.trace")
        .lock("T1", "A", 10)
        .lock("T1", "A", 11)
        .finish();
    let analysis = analyze(&[trace.clone(), trace], &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::SelfDeadlock);
    assert!(
        f.message.contains("locks A again at src/bank.rs:11"),
        "{}",
        f.message
    );
    assert_eq!(f.occurrences, 2);
}

#[test]
fn observed_reports_become_findings() {
    let mut trace = Script::new("obs.trace").nest("T1", "A", "B", 10).finish();
    trace.observed.push(ObservedReport {
        kind: "observed-deadlock".into(),
        message: "deadlock: T1 and T2 wait for each other".into(),
        json: r#"{"locks":[{"name":"B","kind":"mutex"},"A"],"threads":["T2","T1"]}"#.into(),
    });
    let analysis = analyze(&[trace], &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::ObservedDeadlock);
    assert_eq!(f.message, "deadlock: T1 and T2 wait for each other");
    assert_eq!(
        f.locks.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        vec!["B", "A"]
    );
    assert_eq!(f.threads, vec!["T1", "T2"]);
}

#[test]
fn stats_count_the_trace() {
    let trace = Script::new("two.trace")
        .nest("T1", "A", "B", 10)
        .nest("T2", "B", "A", 20)
        .finish();
    let stats = trace_stats(&trace, &options());
    assert_eq!((stats.threads, stats.locks, stats.events), (2, 2, 12));
    assert_eq!(stats.dependencies, 2);
}

#[test]
fn graph_view_is_sorted_and_carries_witnesses() {
    let trace = Script::new("two.trace")
        .nest("T1", "B", "A", 10)
        .nest("T2", "A", "C", 20)
        .finish();
    let analysis = analyze(&[trace], &options());
    let ids: Vec<&str> = analysis.graph.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec!["lock_A", "lock_B", "lock_C"]);
    let edges: Vec<(usize, usize)> = analysis
        .graph
        .edges
        .iter()
        .map(|e| (e.from, e.to))
        .collect();
    assert_eq!(edges, vec![(0, 2), (1, 0)]);
    let w = &analysis.graph.edges[1].witnesses[0];
    assert_eq!(
        (
            w.thread.as_str(),
            w.held_at.display.as_str(),
            w.acquired_at.display.as_str()
        ),
        ("T1", "src/bank.rs:10", "src/bank.rs:11")
    );
    assert_eq!(w.trace, "two.trace");
}

#[test]
fn abba_ordered_by_fork_is_an_inversion_not_a_prediction() {
    // T1 finishes its A→B section, then forks T2, which takes B→A: the pattern exists but
    // happens-before orders it, so no reordering of this run deadlocks.
    let mut s = Script::new("forked.trace");
    s.nest("T1", "A", "B", 10);
    let (t1, t2) = (s.b.thread("T1"), s.b.thread("T2"));
    let site = s.site(15);
    s.b.push(Event {
        thread: t1,
        op: Op::Fork { child: t2 },
        site,
    });
    s.b.push(Event {
        thread: t2,
        op: Op::Begin,
        site,
    });
    s.nest("T2", "B", "A", 20);
    let analysis = analyze(&[s.finish()], &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::LockOrderInversion, "{f:#?}");
    assert_eq!(
        f.reason.as_deref(),
        Some("ordered by happens-before / not sync-preserving in this run")
    );
}

#[test]
fn philosophers_ring_is_one_five_lock_deadlock() {
    let mut s = Script::new("ring.trace");
    for i in 0..5 {
        let (left, right) = (format!("fork{i}"), format!("fork{}", (i + 1) % 5));
        s.nest(&format!("P{i}"), &left, &right, 10 * (i as u32 + 1));
    }
    let analysis = analyze(&[s.finish()], &options());
    let f = only(&analysis.findings);
    assert_eq!(f.kind, FindingKind::PredictedDeadlock, "{f:#?}");
    assert_eq!(f.locks.len(), 5);
    assert_eq!(
        f.coffman.as_ref().unwrap().circular_wait.evidence,
        "P0 → fork1 → P1 → fork2 → P2 → fork3 → P3 → fork4 → P4 → fork0 → P0"
    );
    // The ring closes at P4 taking fork0 while holding fork4: that is the acquisition a global order changes.
    assert!(
        f.fixes.iter().any(|x| x
            .advice
            .contains("change the acquisition of fork0 at src/bank.rs:51 in thread P4")),
        "{:#?}",
        f.fixes
    );
}

#[test]
fn same_class_nesting_is_grouped_by_class_and_sites() {
    let mut s = Script::new("accounts.trace");
    s.class("acct1", 1).class("acct2", 1).class("acct3", 1);
    s.nest("T1", "acct1", "acct2", 10)
        .nest("T1", "acct2", "acct3", 10);
    let analysis = analyze(&[s.finish()], &options());
    let nesting: Vec<&Finding> = analysis
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::SameClassNesting)
        .collect();
    assert_eq!(nesting.len(), 1, "{:#?}", analysis.findings);
    assert_eq!(nesting[0].occurrences, 2);
    assert!(
        nesting[0]
            .message
            .contains("two instances of the class src/state.rs:1"),
        "{}",
        nesting[0].message
    );
}

#[test]
fn cross_run_threads_are_qualified_by_their_run() {
    let traces = [
        classed_run("test1.trace", "accounts", "audit", 10),
        classed_run("test2.trace", "audit", "accounts", 20),
    ];
    let analysis = analyze(&traces, &options());
    let f = only(&analysis.findings);
    assert_eq!(f.threads, vec!["main [test1.trace]", "main [test2.trace]"]);
    assert!(f.coffman.as_ref().unwrap().circular_wait.holds);
}

#[test]
fn dense_lock_graph_stays_bounded() {
    // Twelve locks nested pairwise both ways: millions of elementary cycles; the bound stops the search.
    let mut s = Script::new("dense12.trace");
    let locks: Vec<String> = (0..12).map(|i| format!("L{i:02}")).collect();
    let mut line = 10;
    for a in &locks {
        for b in &locks {
            if a != b {
                s.nest(&format!("T{}", line % 4), a, b, line);
                line += 10;
            }
        }
    }
    let opts = AnalysisOptions {
        max_cycles: 2000,
        ..options()
    };
    let start = std::time::Instant::now();
    let analysis = analyze(&[s.finish()], &opts);
    assert!(
        analysis
            .limits
            .iter()
            .any(|l| l.message == "cycle search stopped at 2000 cycles; raise with --max-cycles")
    );
    assert!(!analysis.findings.is_empty());
    assert!(
        start.elapsed() < std::time::Duration::from_secs(60),
        "took {:?}",
        start.elapsed()
    );
}
