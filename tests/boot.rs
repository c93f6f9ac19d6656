//! podinit as the init of a real machine: a Debian kernel under qemu boots
//! an initramfs with podinit as `/init`, busybox and a pod; everything is
//! judged from the serial console. Each test prints its boot-to-poweroff
//! time (`cargo test --test boot -- --nocapture` shows them).

use podinit_tests::machine::{Boot, Booted, initramfs, machine_tools};
use podinit_tests::pod::{App, json_fields, manifest};

/// The fields of the record podinit printed for `app`, as raw JSON values.
fn record(booted: &Booted, app: &str) -> Vec<(String, String)> {
    let text = booted.status_of(app);
    json_fields(text).unwrap_or_else(|| panic!("not a record: {text:?}"))
}

fn field<'a>(fields: &'a [(String, String)], key: &str) -> &'a str {
    let found = fields.iter().find(|(name, _)| name == key);
    &found.unwrap_or_else(|| panic!("no {key} in {fields:?}")).1
}

fn print_time(test: &str, booted: &Booted) {
    let guest = booted
        .guest_seconds()
        .map_or("?".to_owned(), |s| format!("{s:.2} s"));
    println!(
        "{test}: boot to halt {:.2} s in qemu (guest clock {guest})",
        booted.took.as_secs_f64()
    );
}

#[test]
fn the_pod_runs_and_the_machine_powers_off() {
    let Some(kernel) = machine_tools() else {
        return;
    };
    // The first app checks what podinit prepared; the second fails, which
    // ends the pod with its status.
    let checks = "echo marker-$AC_APP_NAME-ran; \
         for fs in '/proc proc' '/sys sysfs' '/dev devtmpfs' '/dev/pts devpts' \
                   '/dev/shm tmpfs' '/run tmpfs' '/tmp tmpfs'; do \
             grep -q \" $fs \" /proc/mounts || echo marker-missing \"$fs\"; \
         done; \
         test -c /dev/null && test \"$(readlink /proc/$$/fd/1)\" = /dev/console \
             && echo marker-system-ready; \
         echo marker-hostname-$(hostname)";
    let pod = manifest(&[
        App::sh("alpha", checks),
        App::sh("beta", "echo marker-beta-ran; sleep 1; exit 7"),
    ]);
    let initrd = initramfs(
        "pod",
        &pod,
        &[("# a comment\nmachine-one\n", "/etc/hostname")],
    );
    // Parameters the kernel hands init as arguments and environment.
    let booted = Boot::start(&kernel, &initrd, "single some_flag=1").finish();
    print_time("pod of two apps", &booted);

    for marker in [
        "marker-alpha-ran",
        "marker-beta-ran",
        "marker-system-ready",
        "marker-hostname-machine-one",
    ] {
        assert!(booted.has_line(marker), "no {marker}: {booted}");
    }
    assert!(!booted.console.contains("marker-missing"), "{booted}");
    let alpha = record(&booted, "alpha");
    assert_eq!(field(&alpha, "status"), "0", "{booted}");
    assert_eq!(field(&alpha, "start"), "\"ok\"", "{booted}");
    let beta = record(&booted, "beta");
    assert_eq!(field(&beta, "status"), "7", "{booted}");
    assert_eq!(field(&beta, "exitCode"), "7", "{booted}");
    assert!(booted.has_line("podinit: the pod ended with 7"), "{booted}");
    booted.assert_halted(false);
}

#[test]
fn a_bad_manifest_is_reported_and_the_machine_still_powers_off() {
    let Some(kernel) = machine_tools() else {
        return;
    };
    let bad = r#"{"acVersion":"1.30.0","acKind":"PodManifest","apps":[{"name":"Not A Name"}]}"#;
    let initrd = initramfs("bad", bad, &[]);
    let booted = Boot::start(&kernel, &initrd, "").finish();
    print_time("bad manifest", &booted);

    let errors = booted.lines_starting("podinit: /etc/podinit/pod.json: apps[0].name");
    assert_eq!(errors.len(), 1, "the manifest error once: {booted}");
    assert!(booted.has_line("podinit: the pod did not run"), "{booted}");
    booted.assert_halted(false);
}

#[test]
fn kernel_parameters_name_the_pod_the_records_the_policy_and_a_reboot() {
    let Some(kernel) = machine_tools() else {
        return;
    };
    let default_pod = manifest(&[App::sh("wrong", "echo marker-wrong-pod")]);
    // The second app reads the first one's record where the kernel
    // command line put the records.
    // The pod lives as long as `second` (podinit.policy): `server` would
    // keep it up for a minute under the default policy.
    let chosen_pod = manifest(&[
        App::sh("first", "exit 0"),
        App::sh(
            "second",
            "sleep 1; echo marker-record-of-first-$(cat /tmp/records/first)",
        ),
        App::sh("server", "exec sleep 60"),
    ]);
    let initrd = initramfs("params", &default_pod, &[(&chosen_pod, "/srv/chosen.json")]);
    let append = "podinit.pod=/srv/chosen.json podinit.status=/tmp/records podinit.halt=reboot \
                  podinit.policy=main=second";
    let booted = Boot::start(&kernel, &initrd, append).finish();
    print_time("podinit.halt=reboot", &booted);

    assert!(!booted.console.contains("marker-wrong-pod"), "{booted}");
    assert!(booted.has_line("marker-record-of-first-0"), "{booted}");
    assert_eq!(field(&record(&booted, "second"), "status"), "0", "{booted}");
    assert_eq!(
        field(&record(&booted, "server"), "status"),
        "143",
        "{booted}"
    );
    booted.assert_halted(true);
}

#[test]
fn ctrl_alt_del_stops_the_pod_cleanly_and_reboots() {
    let Some(kernel) = machine_tools() else {
        return;
    };
    let server = "trap 'echo marker-server-stopped; exit 0' TERM; echo marker-server-ready; \
                  while :; do sleep 0.1 & wait; done";
    let pod = manifest(&[App::sh("server", server)]);
    let initrd = initramfs("cad", &pod, &[]);
    let mut boot = Boot::start(&kernel, &initrd, "");
    boot.wait_for_line("marker-server-ready");
    boot.ctrl_alt_del();
    let booted = boot.finish();
    print_time("Ctrl-Alt-Del", &booted);

    assert!(booted.has_line("marker-server-stopped"), "{booted}");
    assert_eq!(field(&record(&booted, "server"), "status"), "0", "{booted}");
    booted.assert_halted(true);
}

#[test]
fn sigusr2_powers_off_even_when_told_to_reboot() {
    let Some(kernel) = machine_tools() else {
        return;
    };
    let pod = manifest(&[
        App::sh("idle", "exec sleep 1000"),
        App::sh("operator", "sleep 0.5; kill -USR2 1; exec sleep 1000"),
    ]);
    let initrd = initramfs("usr2", &pod, &[]);
    let booted = Boot::start(&kernel, &initrd, "podinit.halt=reboot podinit.grace=1s").finish();
    print_time("SIGUSR2", &booted);

    for app in ["idle", "operator"] {
        assert_eq!(
            field(&record(&booted, app), "signal"),
            "\"SIGTERM\"",
            "{booted}"
        );
    }
    booted.assert_halted(false);
}
