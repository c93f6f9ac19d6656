//! The table of results, each figure with its ratio to podinit's, and the project's goals.

use crate::cli::Options;
use crate::inits::Init;
use crate::reap::Reaping;
use crate::signals::RoundTrips;
use crate::startup::Startup;

/// podinit's binary must stay within this size.
const SIZE_BUDGET_KIB: f64 = 450.0;

/// Start-up and signal round trip may be this much slower than the best peer's.
const LATENCY_TOLERANCE: f64 = 1.05;

/// Everything measured; every vector has one entry per init, in the inits' order. A reap time
/// is infinite when the init did not reap the burst in time.
pub struct Results {
    pub inits: Vec<Init>,
    pub rounds: usize,
    pub runs: usize,
    pub orphans: usize,
    pub signals: usize,
    pub bare_us: f64,
    pub startup_us: Vec<f64>,
    pub overhead_us: Vec<f64>,
    pub reap_ms: Vec<f64>,
    pub reap_cpu_ms: Vec<f64>,
    pub zombies_at_100ms: Vec<f64>,
    pub rtt_p50_us: Vec<f64>,
    pub rtt_p99_us: Vec<f64>,
    pub vm_hwm_kib: Vec<f64>,
}

impl Results {
    pub fn new(
        inits: Vec<Init>,
        options: &Options,
        startup: Startup,
        reaping: Reaping,
        round_trips: RoundTrips,
    ) -> Self {
        Results {
            inits,
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

    fn sizes_kib(&self) -> Vec<f64> {
        self.inits
            .iter()
            .map(|init| init.size as f64 / 1024.0)
            .collect()
    }

    fn podinit(&self) -> Option<usize> {
        self.inits.iter().position(|init| init.name == "podinit")
    }
}

struct Row<'a> {
    label: String,
    values: &'a [f64],
    decimals: usize,
}

impl<'a> Row<'a> {
    fn new(label: &str, values: &'a [f64], decimals: usize) -> Self {
        Row {
            label: label.to_string(),
            values,
            decimals,
        }
    }
}

const LABEL_WIDTH: usize = 30;
const CELL_WIDTH: usize = 17;

pub fn print_table(results: &Results) {
    println!();
    println!(
        "medians over {} round(s); (x) = the figure divided by podinit's; lower is better",
        results.rounds
    );
    println!();
    let names = results.inits.iter().map(|init| init.name.to_string());
    print_line("", names);
    let sizes = results.sizes_kib();
    let podinit = results.podinit();
    for row in rows(results, &sizes) {
        let base = podinit.map(|index| row.values[index]);
        let cells = row
            .values
            .iter()
            .map(|&value| cell(value, base, row.decimals));
        print_line(&row.label, cells);
    }
    let linkage = results.inits.iter().map(|init| {
        let linkage = if init.is_static { "static" } else { "dynamic" };
        linkage.to_string()
    });
    print_line("linked", linkage);
    println!();
    println!(
        "bare /bin/true: {:.1} µs per run; {} start-ups of each in all, {} signals per round",
        results.bare_us, results.runs, results.signals
    );
}

fn print_line(label: &str, cells: impl Iterator<Item = String>) {
    let mut line = format!("{label:LABEL_WIDTH$}");
    for cell in cells {
        line.push_str(&format!("{cell:CELL_WIDTH$}"));
    }
    println!("{}", line.trim_end());
}

fn rows<'a>(results: &'a Results, sizes: &'a [f64]) -> Vec<Row<'a>> {
    let reap = format!("reap {} orphans (ms)", results.orphans);
    vec![
        Row::new("start-up, per run (µs)", &results.startup_us, 1),
        Row::new("start-up overhead (µs)", &results.overhead_us, 1),
        Row::new(&reap, &results.reap_ms, 2),
        Row::new("  CPU time of the init (ms)", &results.reap_cpu_ms, 2),
        Row::new("zombies left at 100 ms", &results.zombies_at_100ms, 0),
        Row::new("signal round trip p50 (µs)", &results.rtt_p50_us, 1),
        Row::new("signal round trip p99 (µs)", &results.rtt_p99_us, 1),
        Row::new("peak RSS, VmHWM (KiB)", &results.vm_hwm_kib, 0),
        Row::new("binary size (KiB)", sizes, 1),
    ]
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

/// The project's goals for podinit, judged on the medians in the table.
pub fn goals(results: &Results) -> Vec<Goal> {
    let Some(podinit) = results.podinit() else {
        let text = "podinit was not measured: no goal is checked".to_string();
        return vec![Goal {
            verdict: Verdict::Unchecked,
            text,
        }];
    };
    let sizes = results.sizes_kib();
    vec![
        near_best(
            results,
            podinit,
            "start-up overhead",
            &results.overhead_us,
            "µs",
            LATENCY_TOLERANCE,
        ),
        near_best(
            results,
            podinit,
            "signal round trip p50",
            &results.rtt_p50_us,
            "µs",
            LATENCY_TOLERANCE,
        ),
        near_best(
            results,
            podinit,
            "signal round trip p99",
            &results.rtt_p99_us,
            "µs",
            LATENCY_TOLERANCE,
        ),
        near_best(results, podinit, "reap time", &results.reap_ms, "ms", 1.0),
        rss_goal(results, podinit),
        size_goal(sizes[podinit]),
    ]
}

/// podinit's `values` within `tolerance` times the lowest of any peer.
fn near_best(
    results: &Results,
    podinit: usize,
    what: &str,
    values: &[f64],
    unit: &str,
    tolerance: f64,
) -> Goal {
    let bound = if tolerance == 1.0 {
        "no higher than the best peer's".to_string()
    } else {
        format!("within {tolerance:.2}x of the best peer's")
    };
    let peers = (0..results.inits.len()).filter(|&index| index != podinit);
    let best = peers.min_by(|&a, &b| values[a].total_cmp(&values[b]));
    let Some(best) = best else {
        let text = format!("{what} {bound}: no peer measured");
        return Goal {
            verdict: Verdict::Unchecked,
            text,
        };
    };
    let (ours, theirs) = (values[podinit], values[best]);
    if ours.is_nan() {
        let text = format!("{what} {bound}: not measured");
        return Goal {
            verdict: Verdict::Unchecked,
            text,
        };
    }
    let verdict = judge(ours.is_finite() && ours <= theirs * tolerance);
    let text = format!(
        "{what} {bound}: podinit {ours:.2} {unit}, best peer {} {theirs:.2} {unit} ({:.2}x)",
        results.inits[best].name,
        ours / theirs
    );
    Goal { verdict, text }
}

fn rss_goal(results: &Results, podinit: usize) -> Goal {
    let what = "peak RSS (VmHWM) no higher than tini-static's";
    let Some(tini) = results
        .inits
        .iter()
        .position(|init| init.name == "tini-static")
    else {
        let text = format!("{what}: tini-static not measured");
        return Goal {
            verdict: Verdict::Unchecked,
            text,
        };
    };
    let (ours, theirs) = (results.vm_hwm_kib[podinit], results.vm_hwm_kib[tini]);
    if ours.is_nan() {
        let text = format!("{what}: not measured");
        return Goal {
            verdict: Verdict::Unchecked,
            text,
        };
    }
    let text = format!("{what}: podinit {ours:.0} KiB, tini-static {theirs:.0} KiB");
    Goal {
        verdict: judge(ours <= theirs),
        text,
    }
}

fn size_goal(size_kib: f64) -> Goal {
    let text = format!("binary size within {SIZE_BUDGET_KIB:.0} KiB: podinit {size_kib:.1} KiB");
    Goal {
        verdict: judge(size_kib <= SIZE_BUDGET_KIB),
        text,
    }
}

fn judge(met: bool) -> Verdict {
    if met { Verdict::Met } else { Verdict::NotMet }
}

pub fn print_goals(goals: &[Goal]) {
    println!();
    println!("goals:");
    for goal in goals {
        let verdict = match goal.verdict {
            Verdict::Met => "met",
            Verdict::NotMet => "NOT MET",
            Verdict::Unchecked => "unchecked",
        };
        println!("  {verdict:10} {}", goal.text);
    }
}
