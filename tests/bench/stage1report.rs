//! The stage1 start-up table and its goals, laid out as the pod section's: pod sizes as
//! columns, no peers.

use crate::podreport::{
    apps_heading, cells, print_line, print_section_goals, print_where, print_with_per_app,
    start_within,
};
use crate::podrun::APP_COUNTS;
use crate::report::Goal;
use crate::stage1::Stage1Startup;

/// The pod sizes, and the time from `run`'s exec their apps must all be running within.
const START_GOALS: [(usize, f64); 2] = [(10, 50.0), (100, 300.0)];

pub fn print_table(stage1: &Stage1Startup, cpus: usize) {
    println!();
    println!(
        "stage1 start-up: podinit's `run` executed as a runtime does (--net={}), with N busybox \
         apps",
        stage1.net
    );
    println!(
        "each running `podinit-bench workload app`; medians over {} round(s), ± the rounds' \
         spread",
        stage1.rounds
    );
    println!();
    print_line("", APP_COUNTS.iter().map(|&apps| apps_heading(apps)));
    print_with_per_app("all apps running (ms)", &stage1.started_ms);
    print_with_per_app("run exited after go (ms)", &stage1.exited_ms);
    print_line("pod's PID 1 VmHWM (KiB)", cells(&stage1.pod_vm_hwm_kib, 0));
    print_line("run process VmHWM (KiB)", cells(&stage1.run_vm_hwm_kib, 0));
    print_line("pod laid out (ms)", cells(&stage1.laid_out_ms, 2));
    println!();
    println!("running: from run's exec until the last app runs its own code");
    println!("exited: from the apps being told to exit (a FIFO closed) until run has exited");
    println!("VmHWM: peak RSS just before the apps are told to exit; PID 1 is what `pid` names");
    println!("laid out: the benchmark's work as the runtime before the exec, not run's");
    let (build, scratch) = (&stage1.build, &stage1.scratch);
    print_where("run: a link to", build, cpus, "pod directories", scratch);
}

/// The goals for the stage1, judged on the medians in the table.
pub fn goals(stage1: &Stage1Startup) -> Vec<Goal> {
    let goal = |goal| start_within(&stage1.started_ms, goal, "running");
    START_GOALS.map(goal).into()
}

pub fn print_goals(goals: &[Goal], cpus: usize) {
    print_section_goals("stage1", goals, cpus);
}

/// The section's one line when `run` could not be measured.
pub fn print_failure(reason: &str) {
    println!();
    println!("stage1 run failed: {reason}");
}
