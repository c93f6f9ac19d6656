//! The pod start-up table and its goals. Only podinit has a pod mode, so the columns are pod
//! sizes, not inits, and no figure has a ratio to a peer's.

use std::path::Path;

use crate::inits::Init;
use crate::podrun::APP_COUNTS;
use crate::podstart::PodStartup;
use crate::report::{self, Goal, Verdict};
use crate::stats::Summary;

/// The pod size, and the time its apps must all have started within.
const START_GOAL: (usize, f64) = (100, 100.0);

/// The pod size, and the VmHWM podinit must stay under with it.
const RSS_GOAL: (usize, f64) = (100, 2048.0);

/// What each app from the next smaller pod to the largest adds to the start may be this much
/// more than the smaller pod's cost per app and still count as linear growth: the rounds
/// spread by tens of percent on a busy machine.
const LINEARITY_TOLERANCE: f64 = 1.5;

/// The machine the goals are set for.
const GOAL_CPUS: usize = 2;

const LABEL_WIDTH: usize = 30;
const CELL_WIDTH: usize = 17;

pub fn print_table(pod: &PodStartup, cpus: usize) {
    println!();
    println!(
        "pod start-up: podinit --pod with N apps, each `podinit-bench workload app`; medians \
         over {} round(s), ± the rounds' spread",
        pod.rounds
    );
    println!();
    print_line("", APP_COUNTS.iter().map(|&apps| apps_heading(apps)));
    print_with_per_app("all apps started (ms)", &pod.started_ms);
    print_with_per_app("pod exited after go (ms)", &pod.exited_ms);
    print_line("podinit VmHWM (KiB)", cells(&pod.vm_hwm_kib, 0));
    println!();
    println!("started: from podinit's exec until the last app runs its own code");
    println!("exited: from the apps being told to exit (a FIFO closed) until podinit has exited");
    println!("VmHWM: podinit's peak RSS just before the apps are told to exit");
    println!("podinit syncs every app's records: TMPDIR picks the file system \"exited\" pays");
    print_where("pod build:", &pod.build, cpus, "pod files", &pod.scratch);
}

/// A row of times in ms, then the row of their medians per app.
pub fn print_with_per_app(label: &str, figures: &[Summary]) {
    print_line(label, cells(figures, 2));
    print_line("  per app (ms)", per_app(figures));
}

/// The last lines of a table: which build ran, on how many CPUs, and where `files` were.
pub fn print_where(label: &str, build: &Init, cpus: usize, files: &str, scratch: &Path) {
    let (path, kib) = (build.path.display(), build.size as f64 / 1024.0);
    println!("{label} {path} ({kib:.1} KiB)");
    println!(
        "{cpus} CPU(s); {files} and status records in {}",
        scratch.display()
    );
}

/// Every figure of a row, with its spread.
pub fn cells(figures: &[Summary], decimals: usize) -> impl Iterator<Item = String> + '_ {
    figures
        .iter()
        .map(move |figure| with_spread(*figure, decimals))
}

pub fn apps_heading(apps: usize) -> String {
    match apps {
        1 => "1 app".into(),
        _ => format!("{apps} apps"),
    }
}

/// Every median of a row divided by its pod's number of apps.
fn per_app(figures: &[Summary]) -> impl Iterator<Item = String> + '_ {
    let per_app = figures.iter().zip(APP_COUNTS);
    per_app.map(|(figure, apps)| plain(figure.median / apps as f64, 3))
}

pub fn print_line(label: &str, cells: impl Iterator<Item = String>) {
    let mut line = format!("{label:LABEL_WIDTH$}");
    for cell in cells {
        line.push_str(&format!("{cell:CELL_WIDTH$}"));
    }
    println!("{}", line.trim_end());
}

/// `12.34 ±5 %`; the spread left out after a single round.
pub fn with_spread(figure: Summary, decimals: usize) -> String {
    match figure.spread.is_finite() {
        true => format!(
            "{} ±{:.0} %",
            plain(figure.median, decimals),
            figure.spread * 100.0
        ),
        false => plain(figure.median, decimals),
    }
}

pub fn plain(value: f64, decimals: usize) -> String {
    match value.is_finite() {
        true => format!("{value:.decimals$}"),
        false => "-".into(),
    }
}

/// The goals for pod mode, judged on the medians in the table.
pub fn goals(pod: &PodStartup) -> Vec<Goal> {
    vec![start_goal(pod), linearity_goal(pod), rss_goal(pod)]
}

fn start_goal(pod: &PodStartup) -> Goal {
    start_within(&pod.started_ms, START_GOAL, "all started")
}

/// Whether the pod of `goal.0` apps `did` within `goal.1` ms, by the median of `started_ms`.
pub fn start_within(started_ms: &[Summary], goal: (usize, f64), did: &str) -> Goal {
    let (apps, budget) = goal;
    let what = format!("{apps} apps {did} within {budget:.0} ms");
    match figure_for(started_ms, apps) {
        Some(ms) => judged(ms <= budget, format!("{what}: podinit {ms:.2} ms")),
        None => unchecked(format!("{what}: not measured")),
    }
}

/// Linear growth, from the medians: what each app from the next smaller pod to the largest
/// adds to the start is no more than the smaller pod's start per app (which also carries
/// the pod's fixed cost), within the tolerance. Growing faster than linearly fails it. The
/// smallest pod is left out: its one app shows the fixed cost alone, which varies most.
fn linearity_goal(pod: &PodStartup) -> Goal {
    let [.., smaller, larger] = APP_COUNTS;
    let what = format!(
        "start grows linearly: each app from {smaller} to {larger} adds at most \
         {LINEARITY_TOLERANCE:.1}x the start per app of {smaller}"
    );
    let (Some(small), Some(large)) = (
        figure_for(&pod.started_ms, smaller),
        figure_for(&pod.started_ms, larger),
    ) else {
        return unchecked(format!("{what}: not measured"));
    };
    let per_app = small / smaller as f64;
    let added = (large - small) / (larger - smaller) as f64;
    let ratio = added / per_app;
    let met = ratio.is_finite() && ratio <= LINEARITY_TOLERANCE;
    let text = format!("{what}: {added:.3} ms against {per_app:.3} ms ({ratio:.2}x)");
    judged(met, text)
}

fn rss_goal(pod: &PodStartup) -> Goal {
    let (apps, budget) = RSS_GOAL;
    let what = format!("podinit's VmHWM with {apps} apps under {budget:.0} KiB");
    match figure_for(&pod.vm_hwm_kib, apps) {
        Some(kib) => judged(kib < budget, format!("{what}: podinit {kib:.0} KiB")),
        None => unchecked(format!("{what}: not measured")),
    }
}

/// The median of `figures` for the pod of `apps` apps, if it was measured.
pub fn figure_for(figures: &[Summary], apps: usize) -> Option<f64> {
    let index = APP_COUNTS.iter().position(|&n| n == apps)?;
    Some(figures[index].median).filter(|median| !median.is_nan())
}

pub fn judged(met: bool, text: String) -> Goal {
    let verdict = if met { Verdict::Met } else { Verdict::NotMet };
    Goal { verdict, text }
}

pub fn unchecked(text: String) -> Goal {
    Goal {
        verdict: Verdict::Unchecked,
        text,
    }
}

pub fn print_goals(goals: &[Goal], cpus: usize) {
    print_section_goals("pod", goals, cpus);
}

/// The goals of the `section` section, set for a machine of `GOAL_CPUS` CPUs.
pub fn print_section_goals(section: &str, goals: &[Goal], cpus: usize) {
    println!();
    match cpus {
        GOAL_CPUS => println!("{section} goals (set for {GOAL_CPUS} CPUs, as here):"),
        _ => println!("{section} goals (set for {GOAL_CPUS} CPUs; measured on {cpus}):"),
    }
    report::print_goal_lines(goals);
}
