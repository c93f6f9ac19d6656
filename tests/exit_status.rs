//! podinit exits with the program's status: its exit code unchanged over
//! 0–255, 128+n when signal n killed it, and 0 for a code named by `-e`.

use podinit_tests::{Finished, as_pid1, have_root, not_pid1, run, workload_arg};

/// The signals a program commonly dies of, by name and number on Linux
/// x86-64.
const COMMON_SIGNALS: [(&str, i32); 16] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("SYS", 31),
];

fn exit_as_pid1(code: u32) -> Finished {
    run(as_pid1(&[&workload_arg(), "exit", &code.to_string()]))
}

#[test]
fn every_exit_code_from_0_to_255_passes_through() {
    if !have_root() {
        return;
    }
    // Two threads: the runs are short, the machine has two cores.
    let halves = [(0..128), (128..256)].map(|codes| {
        std::thread::spawn(move || {
            codes
                .map(|code| (code, exit_as_pid1(code)))
                .filter(|(code, finished)| finished.code != *code as i32)
                .map(|(code, finished)| format!("{code} gave {finished:?}"))
                .collect::<Vec<_>>()
        })
    });
    let wrong: Vec<String> = halves
        .into_iter()
        .flat_map(|half| half.join().expect("a thread of runs"))
        .collect();
    assert!(wrong.is_empty(), "exit codes changed: {wrong:#?}");
}

#[test]
fn death_by_signal_n_exits_128_plus_n_as_pid1() {
    if !have_root() {
        return;
    }
    for (name, number) in COMMON_SIGNALS {
        let finished = run(as_pid1(&[&workload_arg(), "kill-self", name]));
        assert_eq!(finished.code, 128 + number, "SIG{name}: {finished:?}");
        assert_eq!(finished.stdout, "", "SIG{name} did not kill the program");
    }
}

/// Run directly, podinit's own end is visible: it must exit with 128+n,
/// not die of the signal itself.
#[test]
fn death_by_signal_n_is_an_exit_with_128_plus_n_not_a_death_of_podinit() {
    for (name, number) in COMMON_SIGNALS {
        let finished = run(not_pid1(&[&workload_arg(), "kill-self", name]));
        assert_eq!(finished.killed_by, None, "podinit died: {finished:?}");
        assert_eq!(finished.code, 128 + number, "SIG{name}: {finished:?}");
    }
}

#[test]
fn expect_exit_maps_only_the_named_codes_to_0() {
    if !have_root() {
        return;
    }
    let workload = workload_arg();
    let cases: [(&[&str], i32); 6] = [
        (&["-e", "3", &workload, "exit", "3"], 0),
        (&["-e", "3", &workload, "exit", "4"], 4),
        (&["-e3", "--expect-exit=9", &workload, "exit", "9"], 0),
        (&["-e3", "--expect-exit", "9", &workload, "exit", "3"], 0),
        (&["-e", "0", &workload, "exit", "0"], 0),
        // As in tini, the code compared is the one podinit would exit
        // with, so 143 names a death by SIGTERM.
        (&["-e", "143", &workload, "kill-self", "TERM"], 0),
    ];
    for (args, expected) in cases {
        let finished = run(as_pid1(args));
        assert_eq!(finished.code, expected, "podinit {args:?}: {finished:?}");
    }
}
