//! The artefact runs as PID 1 and passes the program's exit code out.

use podinit_tests::{as_pid1, have_root, run};

#[test]
fn exit_code_passes_out_of_a_pid_namespace() {
    if !have_root() {
        return;
    }
    let finished = run(as_pid1(&["sh", "-c", "echo pid $$; exit 7"]));
    assert_eq!(finished.code, 7, "{finished:?}");
    assert_eq!(finished.stdout, "pid 2\n");
}
