//! The table of results, each figure with its ratio to podinit's, and the project's goals.

use crate::cli::{Options, Sections};
use crate::inits::{Init, Slim};
use crate::reap::Reaping;
use crate::signals::RoundTrips;
use crate::startup::Startup;
use crate::stats::Summary;

/// The shipped build, which does all three jobs (container init, pod mode, stage1), must stay
/// within this size.
const SIZE_BUDGET_KIB: f64 = 768.0;

/// The slim build, the container init alone, must stay within this size: under the static
/// peers'.
const SLIM_SIZE_BUDGET_KIB: f64 = 450.0;

/// Start-up and signal round trip may be this much slower than the best peer's.
const LATENCY_TOLERANCE: f64 = 1.05;

const LABEL_WIDTH: usize = 30;
const CELL_WIDTH: usize = 17;

/// Everything measured; every vector has one entry per init, in the inits' order. A reap time
/// is infinite when the init did not reap the burst in time.
pub struct Results {
    pub inits: Vec<Init>,
    pub slim: Slim,
    pub sections: Sections,
    pub rounds: usize,
    pub runs: usize,
    pub orphans: usize,
    pub signals: usize,
    pub bare_us: f64,
    pub startup_us: Vec<Summary>,
    pub overhead_us: Vec<Summary>,
    pub reap_ms: Vec<Summary>,
    pub reap_cpu_ms: Vec<Summary>,
    pub zombies_at_100ms: Vec<Summary>,
    pub rtt_p50_us: Vec<Summary>,
    pub rtt_p99_us: Vec<Summary>,
    pub vm_hwm_kib: Vec<Summary>,
    pub size_kib: Vec<Summary>,
}

impl Results {
    pub fn new(
        inits: Vec<Init>,
        slim: Slim,
        options: &Options,
        startup: Startup,
        reaping: Reaping,
        round_trips: RoundTrips,
    ) -> Self {
        let size_kib = inits
            .iter()
            .map(|init| Summary::exact(init.size as f64 / 1024.0));
        Results {
            size_kib: size_kib.collect(),
            inits,
            slim,
            sections: options.sections,
            rounds: options.rounds,
            runs: options.runs,
            orphans: options.orphans,
            signals: options.signals,
            bare_us: startup.bare_us,
            startup_us: startup.per_run_us,
            overhead_us: startup.overhead_us,
            reap_ms: reaping.reap_ms,
            reap_cpu_ms: reaping.cpu_ms,
            zombies_at_100ms: reaping.zombies_at_100ms,
            rtt_p50_us: round_trips.p50_us,
            rtt_p99_us: round_trips.p99_us,
            vm_hwm_kib: reaping.vm_hwm_kib,
        }
    }

    fn podinit(&self) -> Option<usize> {
        self.inits.iter().position(|init| init.name == "podinit")
    }
}

pub fn print_table(results: &Results) {
    println!();
    println!(
        "medians over {} round(s); (x) = the figure divided by podinit's; lower is better",
        results.rounds
    );
    println!();
    print_line("", results.inits.iter().map(|init| init.name.to_string()));
    let podinit = results.podinit();
    for (label, figures, decimals) in rows(results) {
        // A row of a measurement not selected with --only.
        if figures.iter().all(|figure| figure.median.is_nan()) {
            continue;
        }
        let base = podinit.map(|index| figures[index].median);
        let cells = figures
            .iter()
            .map(|figure| cell(figure.median, base, decimals));
        print_line(&label, cells);
    }
    print_slim_row(results);
    let linkage = results.inits.iter().map(|init| {
        let linkage = if init.is_static { "static" } else { "dynamic" };
        linkage.to_string()
    });
    print_line("linked", linkage);
    println!();
    if !results.bare_us.is_nan() {
        println!("bare /bin/true: {:.1} µs per run", results.bare_us);
    }
    if results.sections.any_peer() {
        println!(
            "{} start-ups of each in all, one burst of {} orphans and {} signals per round",
            results.runs, results.orphans, results.signals
        );
    }
    println!(
        "podinit: the shipped build (container init, pod mode, stage1); slim build: the \
         container init alone"
    );
}

/// The slim build's size, in podinit's column, with its ratio to the shipped build's.
fn print_slim_row(results: &Results) {
    let label = "  slim build (KiB)";
    let size = match &results.slim {
        Slim::Found(slim) => slim.size as f64 / 1024.0,
        Slim::Missing(_) => f64::NAN,
    };
    // Without podinit's column the slim build's size is in its goal alone.
    let Some(podinit) = results.podinit() else {
        return;
    };
    let base = results.size_kib[podinit].median;
    let cells = (0..results.inits.len()).map(|index| match index == podinit {
        true => cell(size, Some(base), 1),
        false => String::new(),
    });
    print_line(label, cells);
}

/// Label, figures and decimals of every row of numbers, in the table's order.
fn rows(results: &Results) -> Vec<(String, &[Summary], usize)> {
    vec![
        ("start-up, per run (µs)".into(), &results.startup_us, 1),
        ("start-up overhead (µs)".into(), &results.overhead_us, 1),
        (
            format!("reap {} orphans (ms)", results.orphans),
            &results.reap_ms,
            2,
        ),
        (
            "  CPU time of the init (ms)".into(),
            &results.reap_cpu_ms,
            2,
        ),
        (
            "zombies left at 100 ms".into(),
            &results.zombies_at_100ms,
            0,
        ),
        ("signal round trip p50 (µs)".into(), &results.rtt_p50_us, 1),
        ("signal round trip p99 (µs)".into(), &results.rtt_p99_us, 1),
        ("peak RSS, VmHWM (KiB)".into(), &results.vm_hwm_kib, 0),
        ("binary size (KiB)".into(), &results.size_kib, 1),
    ]
}

fn print_line(label: &str, cells: impl Iterator<Item = String>) {
    let mut line = format!("{label:LABEL_WIDTH$}");
    for cell in cells {
        line.push_str(&format!("{cell:CELL_WIDTH$}"));
    }
    println!("{}", line.trim_end());
}

/// `value (ratio)`, the ratio to podinit's value left out where it means nothing.
fn cell(value: f64, base: Option<f64>, decimals: usize) -> String {
    if value.is_nan() {
        return "-".into();
    }
    if value.is_infinite() {
        return "timeout".into();
    }
    match base.filter(|base| base.is_finite() && *base > 0.0) {
        Some(base) => format!("{value:.decimals$} ({:.2}x)", value / base),
        None => format!("{value:.decimals$}"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Verdict {
    Met,
    NotMet,
    Unchecked,
}

pub struct Goal {
    pub verdict: Verdict,
    pub text: String,
}

impl Goal {
    fn unchecked(text: String) -> Self {
        Goal {
            verdict: Verdict::Unchecked,
            text,
        }
    }
}

/// The project's goals for podinit, judged on the medians in the table.
pub fn goals(results: &Results) -> Vec<Goal> {
    let Some(podinit) = results.podinit() else {
        let missing = "podinit was not measured: no goal of its is checked";
        return vec![
            Goal::unchecked(missing.into()),
            slim_size_goal(&results.slim),
        ];
    };
    let latency = LATENCY_TOLERANCE;
    let sections = results.sections;
    let comparisons: [(&str, &[Summary], &str, f64, bool); 4] = [
        (
            "start-up overhead",
            &results.overhead_us,
            "µs",
            latency,
            sections.startup,
        ),
        (
            "signal round trip p50",
            &results.rtt_p50_us,
            "µs",
            latency,
            sections.signals,
        ),
        (
            "signal round trip p99",
            &results.rtt_p99_us,
            "µs",
            latency,
            sections.signals,
        ),
        ("reap time", &results.reap_ms, "ms", 1.0, sections.reap),
    ];
    let mut goals: Vec<Goal> = comparisons
        .into_iter()
        .filter(|&(.., selected)| selected)
        .map(|(what, figures, unit, tolerance, _)| {
            let comparison = Comparison {
                results,
                podinit,
                what,
                figures,
                unit,
            };
            comparison.against_best_peer(tolerance)
        })
        .collect();
    if sections.reap {
        goals.push(rss_goal(results, podinit));
    }
    goals.push(size_goal(results.size_kib[podinit].median));
    goals.push(slim_size_goal(&results.slim));
    goals
}

/// One figure of podinit's against the peers'.
struct Comparison<'a> {
    results: &'a Results,
    podinit: usize,
    what: &'a str,
    figures: &'a [Summary],
    unit: &'a str,
}

impl Comparison<'_> {
    /// podinit's median within `tolerance` times the lowest median of any peer. The rounds'
    /// spread is printed along, as a difference below it may not repeat.
    fn against_best_peer(&self, tolerance: f64) -> Goal {
        let (what, unit) = (self.what, self.unit);
        let bound = match tolerance {
            1.0 => "no higher than the best peer's".to_string(),
            _ => format!("within {tolerance:.2}x of the best peer's"),
        };
        let peers = (0..self.results.inits.len()).filter(|&index| index != self.podinit);
        let best = peers.min_by(|&a, &b| self.figures[a].median.total_cmp(&self.figures[b].median));
        let Some(best) = best else {
            return Goal::unchecked(format!("{what} {bound}: no peer measured"));
        };
        let (ours, theirs) = (self.figures[self.podinit], self.figures[best]);
        if ours.median.is_nan() {
            return Goal::unchecked(format!("{what} {bound}: not measured"));
        }
        let met = ours.median.is_finite() && ours.median <= theirs.median * tolerance;
        let text = format!(
            "{what} {bound}: podinit {}, best peer {} {} ({:.2}x)",
            with_spread(ours, unit),
            self.results.inits[best].name,
            with_spread(theirs, unit),
            ours.median / theirs.median
        );
        Goal {
            verdict: judge(met),
            text,
        }
    }
}

/// `12.34 µs ±3 %`: a median with its rounds' spread.
fn with_spread(figure: Summary, unit: &str) -> String {
    match figure.spread.is_finite() {
        true => format!(
            "{:.2} {unit} ±{:.0} %",
            figure.median,
            figure.spread * 100.0
        ),
        false => format!("{:.2} {unit}", figure.median),
    }
}

fn rss_goal(results: &Results, podinit: usize) -> Goal {
    let what = "peak RSS (VmHWM) no higher than tini-static's";
    let tini = results
        .inits
        .iter()
        .position(|init| init.name == "tini-static");
    let Some(tini) = tini else {
        return Goal::unchecked(format!("{what}: tini-static not measured"));
    };
    let (ours, theirs) = (
        results.vm_hwm_kib[podinit].median,
        results.vm_hwm_kib[tini].median,
    );
    if ours.is_nan() {
        return Goal::unchecked(format!("{what}: not measured"));
    }
    let text = format!("{what}: podinit {ours:.0} KiB, tini-static {theirs:.0} KiB");
    Goal {
        verdict: judge(ours <= theirs),
        text,
    }
}

fn size_goal(size_kib: f64) -> Goal {
    let what = format!("shipped build within {SIZE_BUDGET_KIB:.0} KiB");
    Goal {
        verdict: judge(size_kib <= SIZE_BUDGET_KIB),
        text: format!("{what}: podinit {size_kib:.1} KiB"),
    }
}

fn slim_size_goal(slim: &Slim) -> Goal {
    let what = format!("slim build within {SLIM_SIZE_BUDGET_KIB:.0} KiB");
    let slim = match slim {
        Slim::Found(slim) => slim,
        Slim::Missing(path) => {
            return Goal::unchecked(format!("{what}: {} does not exist", path.display()));
        }
    };
    let size_kib = slim.size as f64 / 1024.0;
    let linked = if slim.is_static {
        ""
    } else {
        ", but dynamically linked"
    };
    Goal {
        verdict: judge(size_kib <= SLIM_SIZE_BUDGET_KIB && slim.is_static),
        text: format!("{what}: podinit slim {size_kib:.1} KiB{linked}"),
    }
}

fn judge(met: bool) -> Verdict {
    if met { Verdict::Met } else { Verdict::NotMet }
}

pub fn print_goals(goals: &[Goal]) {
    println!();
    println!("goals (± is how much the rounds spread around the median):");
    print_goal_lines(goals);
}

/// One line per goal: its verdict, then what it is and the figures it was judged on.
pub fn print_goal_lines(goals: &[Goal]) {
    for goal in goals {
        let verdict = match goal.verdict {
            Verdict::Met => "met",
            Verdict::NotMet => "NOT MET",
            Verdict::Unchecked => "unchecked",
        };
        println!("  {verdict:10} {}", goal.text);
    }
}
