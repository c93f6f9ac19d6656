//! Pod mode: the apps of a pod manifest, started in parallel, supervised in
//! one loop, every exit recorded.
//!
//! Each app moves through these phases, driven only by the signals the
//! loop reads and by its deadlines:
//!
//! ```text
//! waiting -> pre-start -ok-> running -exit-> draining -tree empty-> post-stop -> done
//!               `-failed------------------------------------------------------> done
//! ```
//!
//! An app's record is written the moment its main process is reaped, before
//! anything else happens because of that exit. The pod's own exit code
//! follows the exit policy.
//!
//! XXX: the loop allocates when an app changes phase (record text, handler
//! programs, messages): a bounded number of times per app, accepted to keep
//! those paths plain. What a flood can drive does not allocate: forwarding
//! a signal, reaping an orphan, asking whether a tree is empty (see
//! `tree`). Capacity is bounded by the manifest's limits.
//!
//! TODO: moving a child into its cgroup costs 10 to 16 ms on kernels that
//! wait for an RCU grace period on every move; clone3 with
//! CLONE_INTO_CGROUP (Linux 5.7) would place it there at fork. Pre-start
//! and post-stop handlers run outside the app's cgroup, so what they leave
//! running escapes the app's stop (not the pod's).

use std::fmt;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::process::Pid;

use crate::credentials::{self, Credentials};
use crate::manifest::{App, DEFAULT_PATH, EventKind, PodManifest, RuntimeApp};
use crate::privileges::Privileges;
use crate::reap::reap_exited;
use crate::records::{Outcome, Record, StatusDir};
use crate::rootfs;
use crate::signals::{self, Received, Signal, Signals, Target};
use crate::spawn::{CANNOT_SET_UP, Program, SignalState, Step, StepError};
use crate::status::ExitStatus;
use crate::tree::{CgroupRoot, Plan, Tree};

/// When the pod ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitPolicy {
    /// rkt's default: when every app has exited; the first app that fails
    /// (exits non-zero) stops the others.
    AllExit,
    /// When any app exits.
    Any,
    /// When the named app exits; its status is the pod's.
    Main(String),
}

impl ExitPolicy {
    /// `all`, `any` or `main=<app>`.
    pub fn parse(text: &str) -> Option<ExitPolicy> {
        match text {
            "all" => Some(ExitPolicy::AllExit),
            "any" => Some(ExitPolicy::Any),
            _ => text
                .strip_prefix("main=")
                .filter(|app| !app.is_empty())
                .map(|app| ExitPolicy::Main(app.to_owned())),
        }
    }
}

/// Where the apps' roots are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Roots {
    /// One root for every app, podinit's own (pod mode): no chroot.
    Shared(PathBuf),
    /// Each app in `<dir>/<app>/rootfs`, chrooted into it before its
    /// credentials are applied (stage1: `dir` is `.../opt/stage2`).
    PerApp(PathBuf),
}

impl Roots {
    /// The root of app `name`, as podinit sees it.
    pub fn of(&self, name: &str) -> PathBuf {
        match self {
            Roots::Shared(root) => root.clone(),
            Roots::PerApp(dir) => dir.join(name).join("rootfs"),
        }
    }
}

/// How a pod is run.
#[derive(Clone, Debug)]
pub struct PodOptions {
    /// The roots the apps' users, groups and paths are resolved in.
    pub roots: Roots,
    pub status_dir: PathBuf,
    pub grace: Duration,
    pub policy: ExitPolicy,
    /// Whether the apps take podinit's terminal as their foreground
    /// process group (`--interactive`: one app, the caller's terminal).
    pub interactive: bool,
    /// What the name of the pod's cgroup directory says of it after
    /// `podinit-`, so that it can be told apart later (stage1: the pod's
    /// UUID); a random part follows.
    pub cgroup_tag: Option<String>,
}

/// Why a pod could not be run at all.
#[derive(Debug)]
pub enum PodError {
    /// `main=<app>` names no app of the manifest.
    NoSuchMainApp(String),
    /// An app has no `app` object, and pod mode has no image manifest to
    /// take one from.
    NoAppObject(String),
    /// The status directory cannot be created.
    StatusDir(PathBuf, io::Error),
    Records(crate::records::RecordError),
    Signals(io::Error),
}

impl fmt::Display for PodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodError::NoAppObject(app) => {
                write!(f, "app {app}: the manifest gives no \"app\" object to run")
            }
            PodError::NoSuchMainApp(app) => {
                write!(f, "--exit-policy main={app}: no such app in the pod")
            }
            PodError::StatusDir(path, error) => {
                write!(
                    f,
                    "cannot create status directory {}: {error}",
                    path.display()
                )
            }
            PodError::Records(error) => write!(f, "{error}"),
            PodError::Signals(error) => write!(f, "cannot read signals: {error}"),
        }
    }
}

impl std::error::Error for PodError {}

/// How a pod ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodEnd {
    /// The pod's exit code, as the exit policy decides it.
    pub code: u8,
    /// The signal to podinit that stopped the pod, if one did; the first
    /// one counts.
    pub stopped_by: Option<Signal>,
}

/// Where an app is in its life.
enum Phase {
    /// Not started yet.
    Waiting,
    /// Its pre-start handler runs.
    PreStart(Pid),
    /// Its main process runs; `report` says why, if it could not start.
    Running {
        pid: Pid,
        report: OwnedFd,
    },
    /// Its main process has exited; what it left behind is being stopped.
    Draining,
    /// Its post-stop handler runs.
    PostStop(Pid),
    Done,
}

struct AppRun {
    name: String,
    app: App,
    /// The root to chroot into, when the app has its own.
    chroot: Option<PathBuf>,
    interactive: bool,
    /// What the app runs as, or why that could not be resolved.
    credentials: Result<Credentials, String>,
    privileges: Privileges,
    tree: Option<Tree>,
    phase: Phase,
    started_at: SystemTime,
    /// When to SIGKILL what is left of the app's tree.
    kill_at: Option<Instant>,
}

/// A pod being run.
pub struct Pod<'a> {
    options: &'a PodOptions,
    signals: &'a Signals,
    records: StatusDir,
    cgroups: Option<CgroupRoot>,
    apps: Vec<AppRun>,
    /// Signals to podinit that stop the pod rather than reach the apps.
    stop_signals: Vec<Signal>,
    stopped_by: Option<Signal>,
    /// Set once the pod is stopping: no app starts any more.
    stopping: bool,
    /// The pod's exit code once decided.
    code: Option<u8>,
}

impl<'a> Pod<'a> {
    /// Checks everything that can be checked before an app starts: the
    /// status directory, the exit policy, every app's user and group.
    pub fn prepare(
        manifest: &PodManifest,
        options: &'a PodOptions,
        signals: &'a Signals,
    ) -> Result<Pod<'a>, PodError> {
        if let ExitPolicy::Main(main) = &options.policy {
            if manifest.app(main).is_none() {
                return Err(PodError::NoSuchMainApp(main.clone()));
            }
        }
        let records = open_status_dir(&options.status_dir)?;
        for app in manifest.apps() {
            if records.clear(app.name()).map_err(PodError::Records)? {
                log::info!("app {}: removed the records of an earlier run", app.name());
            }
        }
        let apps = manifest
            .apps()
            .iter()
            .map(|app| AppRun::new(app, options))
            .collect::<Result<_, _>>()?;
        Ok(Pod {
            options,
            signals,
            records,
            cgroups: CgroupRoot::create(options.cgroup_tag.as_deref()),
            apps,
            stop_signals: vec![Signal::TERM, Signal::INT],
            stopped_by: None,
            stopping: false,
            code: None,
        })
    }

    /// The cgroup directory holding the apps' cgroups, if there is one:
    /// what a pod killed outright leaves behind.
    pub fn cgroup_dir(&self) -> Option<&Path> {
        self.cgroups.as_ref().map(CgroupRoot::dir)
    }

    /// Makes `signal` stop the pod, as SIGTERM and SIGINT do, instead of
    /// being forwarded to the apps.
    pub fn stop_on(&mut self, signal: Signal) {
        if !self.stop_signals.contains(&signal) {
            self.stop_signals.push(signal);
        }
    }

    /// Starts every app and supervises them until the pod has ended;
    /// returns the pod's exit code.
    pub fn run(self) -> Result<u8, PodError> {
        self.run_to_end().map(|end| end.code)
    }

    /// As [`Pod::run`], and tells which signal, if any, stopped the pod.
    pub fn run_to_end(mut self) -> Result<PodEnd, PodError> {
        for index in 0..self.apps.len() {
            self.start(index);
        }
        while !self.apps.iter().all(|app| matches!(app.phase, Phase::Done)) {
            let received = self
                .signals
                .next(self.next_deadline())
                .map_err(PodError::Signals)?;
            match received {
                None => self.on_deadline(),
                Some(Received {
                    signal: Signal::CHLD,
                    ..
                }) => self.reap(),
                Some(Received { signal, .. }) if self.stop_signals.contains(&signal) => {
                    log::info!("{signal}: stopping the pod");
                    self.stopped_by.get_or_insert(signal);
                    self.stop_pod();
                }
                Some(received) => self.forward(received.signal),
            }
        }
        if let Some(cgroups) = &self.cgroups {
            cgroups.remove();
        }
        Ok(PodEnd {
            code: self.code.unwrap_or(0),
            stopped_by: self.stopped_by,
        })
    }

    /// Starts app `index`: its pre-start handler if it has one, else the
    /// app itself.
    fn start(&mut self, index: usize) {
        // A pod stopped while earlier apps started has recorded this one.
        if !matches!(self.apps[index].phase, Phase::Waiting) {
            return;
        }
        if self.stopping {
            return self.stopped_before_start(index);
        }
        if let Err(reason) = &self.apps[index].credentials {
            return self.failed_to_start(index, None, reason.clone(), CANNOT_SET_UP);
        }
        match self.apps[index]
            .app
            .event_handler(EventKind::PreStart)
            .map(<[String]>::to_vec)
        {
            Some(exec) => self.start_handler(index, &exec, EventKind::PreStart),
            None => self.start_main(index),
        }
    }

    fn start_main(&mut self, index: usize) {
        let plan = Plan::new(self.cgroups.as_ref(), &self.apps[index].name);
        let app = &mut self.apps[index];
        app.started_at = SystemTime::now();
        let program = match app.program(app.app.exec(), plan.join_step()) {
            Ok(program) => program,
            Err(reason) => return self.failed_to_start(index, None, reason, CANNOT_SET_UP),
        };
        match program.spawn_reporting() {
            Ok(started) => {
                log::debug!(
                    "app {} started as pid {}",
                    app.name,
                    started.pid.as_raw_nonzero()
                );
                app.tree = Some(plan.started(started.pid));
                app.phase = Phase::Running {
                    pid: started.pid,
                    report: started.report,
                };
            }
            Err(error) => {
                let reason = format!("cannot fork: {error}");
                self.failed_to_start(index, None, reason, CANNOT_SET_UP);
            }
        }
    }

    fn start_handler(&mut self, index: usize, exec: &[String], kind: EventKind) {
        let app = &mut self.apps[index];
        let spawned = app.program(exec, None).and_then(|program| {
            program
                .spawn()
                .map_err(|error| format!("cannot fork: {error}"))
        });
        match (spawned, kind) {
            (Ok(pid), EventKind::PreStart) => app.phase = Phase::PreStart(pid),
            (Ok(pid), EventKind::PostStop) => app.phase = Phase::PostStop(pid),
            (Err(reason), EventKind::PreStart) => {
                self.failed_to_start(index, None, format!("pre-start: {reason}"), CANNOT_SET_UP)
            }
            (Err(reason), EventKind::PostStop) => {
                log::warn!("app {}: post-stop: {reason}", app.name);
                app.phase = Phase::Done;
            }
        }
    }

    /// Reaps every exited child and moves the apps they belonged to on.
    fn reap(&mut self) {
        if let Err(error) = reap_exited(|pid, status| self.on_exit(pid, status)) {
            log::error!("cannot reap children: {error}");
        }
        for index in 0..self.apps.len() {
            self.finish_drain(index);
        }
    }

    fn on_exit(&mut self, pid: Pid, status: ExitStatus) {
        let Some(index) = self.apps.iter().position(|app| app.pid() == Some(pid)) else {
            log::trace!("reaped orphan {}: {status}", pid.as_raw_nonzero());
            return;
        };
        match std::mem::replace(&mut self.apps[index].phase, Phase::Draining) {
            Phase::PreStart(_) if self.stopping => self.stopped_before_start(index),
            Phase::PreStart(_) if status == ExitStatus::Code(0) => self.start_main(index),
            Phase::PreStart(_) => {
                let reason = format!("pre-start handler failed: {status}");
                self.failed_to_start(index, None, reason, status.code());
            }
            Phase::Running { report, .. } => self.main_exited(index, pid, status, &report),
            Phase::PostStop(_) => {
                self.apps[index].phase = Phase::Done;
                self.apps[index].kill_at = None;
            }
            phase => self.apps[index].phase = phase,
        }
    }

    /// The main process of app `index` has exited: record it, apply the
    /// exit policy, stop what it left behind.
    fn main_exited(&mut self, index: usize, pid: Pid, status: ExitStatus, report: &OwnedFd) {
        let app = &mut self.apps[index];
        let started_at = app.started_at;
        // An app that never ran has no pid to show, only the reason.
        let (pid, outcome) = match read_report(report) {
            Some(reason) => (
                None,
                Outcome::FailedToStart {
                    reason,
                    status: status.code(),
                },
            ),
            None => {
                let exited_at = SystemTime::now();
                (
                    Some(pid),
                    Outcome::Exited {
                        status,
                        started_at,
                        exited_at,
                    },
                )
            }
        };
        match outcome {
            Outcome::FailedToStart { .. } => {
                log::info!("app {} could not start: {status}", app.name)
            }
            _ => log::info!("app {} exited: {status}", app.name),
        }
        self.write_record(index, pid, outcome);
        self.apply_policy(index, status.code());
        let app = &mut self.apps[index];
        app.signal_tree(Signal::TERM);
        app.signal_tree(Signal::CONT);
        // A pod stop already under way keeps its own, earlier deadline.
        if app.kill_at.is_none() {
            app.kill_at = signals::deadline_after(self.options.grace);
        }
    }

    /// Records that app `index` could not start; it counts as failed.
    fn failed_to_start(&mut self, index: usize, pid: Option<Pid>, reason: String, status: u8) {
        log::error!("app {}: {reason}", self.apps[index].name);
        self.write_record(index, pid, Outcome::FailedToStart { reason, status });
        self.apps[index].phase = Phase::Done;
        self.apply_policy(index, status);
    }

    /// Records that the pod stopped before app `index` started: it never
    /// ran, so it gets the status a SIGTERM would have given it, and with
    /// `main=` that decides the pod's code as the app's own exit would have.
    fn stopped_before_start(&mut self, index: usize) {
        log::info!(
            "app {}: the pod stopped before it started",
            self.apps[index].name
        );
        let reason = "the pod stopped before the app started".to_owned();
        let status = ExitStatus::Killed(Signal::TERM).code();
        self.write_record(index, None, Outcome::FailedToStart { reason, status });
        self.apps[index].phase = Phase::Done;
        self.apply_policy(index, status);
    }

    fn write_record(&mut self, index: usize, pid: Option<Pid>, outcome: Outcome) {
        let record = Record {
            app: self.apps[index].name.clone(),
            pid: pid.map(|pid| pid.as_raw_nonzero().get() as u32),
            outcome,
        };
        if let Err(error) = self.records.record(&record) {
            // The pod goes on: losing a record must not lose the apps.
            log::error!("{error}");
        }
    }

    /// Decides, after app `index` ended with `code`, whether the pod stops.
    fn apply_policy(&mut self, index: usize, code: u8) {
        let name = &self.apps[index].name;
        if self.stopping {
            // Stopped by the pod: not a failure of its own, but the main
            // app's status is the pod's however it ended.
            if matches!(&self.options.policy, ExitPolicy::Main(main) if main == name) {
                self.code.get_or_insert(code);
            }
            return;
        }
        let decides = match &self.options.policy {
            ExitPolicy::AllExit => code != 0,
            ExitPolicy::Any => true,
            ExitPolicy::Main(main) => *main == self.apps[index].name,
        };
        if decides {
            self.code = Some(code);
            log::info!("app {} ended the pod", self.apps[index].name);
            self.stop_pod();
        }
    }

    /// Stops every app: SIGTERM to each tree, SIGKILL after the grace.
    fn stop_pod(&mut self) {
        self.stopping = true;
        let kill_at = signals::deadline_after(self.options.grace);
        for index in 0..self.apps.len() {
            if matches!(self.apps[index].phase, Phase::Waiting) {
                self.stopped_before_start(index);
            }
        }
        for app in &mut self.apps {
            match &app.phase {
                Phase::PreStart(pid) | Phase::PostStop(pid) => {
                    let _ = signals::send(Target::Group(*pid), Signal::TERM);
                }
                Phase::Running { .. } | Phase::Draining => {
                    app.signal_tree(Signal::TERM);
                    app.signal_tree(Signal::CONT);
                }
                // Waiting apps were recorded as never started just above.
                Phase::Waiting | Phase::Done => continue,
            }
            if app.kill_at.is_none() {
                app.kill_at = kill_at;
            }
        }
    }

    /// An app whose main process has exited and whose tree is empty runs
    /// its post-stop handler, then is done.
    fn finish_drain(&mut self, index: usize) {
        let app = &mut self.apps[index];
        if !matches!(app.phase, Phase::Draining)
            || app.tree.as_ref().is_some_and(|tree| !tree.is_empty())
        {
            return;
        }
        if let Some(tree) = app.tree.take() {
            tree.remove();
        }
        // A post-stop handler gets one grace period, like what it cleans
        // up after: the pod must not wait on it for ever.
        app.kill_at = signals::deadline_after(self.options.grace);
        match app
            .app
            .event_handler(EventKind::PostStop)
            .map(<[String]>::to_vec)
        {
            Some(exec) => self.start_handler(index, &exec, EventKind::PostStop),
            None => {
                app.kill_at = None;
                app.phase = Phase::Done;
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.apps.iter().filter_map(|app| app.kill_at).min()
    }

    /// SIGKILLs every tree whose grace period is over.
    fn on_deadline(&mut self) {
        let now = Instant::now();
        for app in &mut self.apps {
            if app.kill_at.is_some_and(|at| at <= now) {
                match &app.phase {
                    Phase::PreStart(pid) | Phase::PostStop(pid) => {
                        let _ = signals::send(Target::Group(*pid), Signal::KILL);
                    }
                    _ => app.signal_tree(Signal::KILL),
                }
                log::warn!("app {} outlived the grace period: sent SIGKILL", app.name);
                app.kill_at = None;
            }
        }
    }

    /// Forwards `signal` to every running app's tree.
    fn forward(&self, signal: Signal) {
        for app in &self.apps {
            if let Phase::Running { .. } = &app.phase {
                app.signal_tree(signal);
            }
        }
    }
}

impl AppRun {
    /// The run of `runtime_app`, which must carry its `app` object.
    fn new(runtime_app: &RuntimeApp, options: &PodOptions) -> Result<AppRun, PodError> {
        let name = runtime_app.name().to_owned();
        let app = runtime_app
            .app()
            .ok_or_else(|| PodError::NoAppObject(name.clone()))?
            .clone();
        let root = options.roots.of(&name);
        let credentials =
            credentials::resolve(&root, app.user(), app.group(), app.supplementary_gids());
        let privileges = Privileges::from_isolators(app.isolators());
        if let Some(warning) = privileges.warning(&name) {
            log::warn!("{warning}");
        }
        let chroot = matches!(options.roots, Roots::PerApp(_)).then_some(root);
        Ok(AppRun {
            name,
            app,
            chroot,
            interactive: options.interactive,
            credentials: credentials.map_err(|error| error.to_string()),
            privileges,
            tree: None,
            phase: Phase::Waiting,
            started_at: SystemTime::now(),
            kill_at: None,
        })
    }

    /// Sends `signal` to the app's tree, and to its main process while that
    /// runs, which may not have joined its cgroup yet.
    fn signal_tree(&self, signal: Signal) {
        let leader = match &self.phase {
            Phase::Running { pid, .. } => Some(*pid),
            _ => None,
        };
        if let Some(tree) = &self.tree {
            tree.signal(signal, leader);
        }
    }

    /// The pid the loop waits for in the current phase.
    fn pid(&self) -> Option<Pid> {
        match &self.phase {
            Phase::PreStart(pid) | Phase::PostStop(pid) | Phase::Running { pid, .. } => Some(*pid),
            Phase::Waiting | Phase::Draining | Phase::Done => None,
        }
    }

    /// A program for `exec` with everything the app runs as: environment,
    /// working directory, credentials, privileges.
    fn program(&self, exec: &[String], join: Option<Step>) -> Result<Program, String> {
        let (file, args) = exec.split_first().ok_or("empty exec")?;
        let args = args.iter().map(Into::into).collect();
        let mut program = Program::new(file.into(), args, SignalState::Clean)
            .map_err(|_| "an argument holds a NUL byte".to_owned())?;
        program.take_terminal(self.interactive);
        program.set_label(format!("app {}", self.name));
        program
            .set_env(&self.environment())
            .map_err(|_| "the environment holds a NUL byte".to_owned())?;
        // The cgroup first, while the child may still write anywhere.
        if let Some(join) = join {
            program.before_exec(join);
        }
        if let Some(root) = self.chroot.clone() {
            program.before_exec(rootfs::chroot_step(root));
        }
        let credentials = self.credentials.clone()?;
        let privileges = self.privileges.clone();
        let dir = self.app.working_directory().to_owned();
        program.before_exec(Box::new(move || {
            become_app(&privileges, &credentials, &dir)
        }));
        Ok(program)
    }

    /// The app's environment: see [`app_environment`].
    fn environment(&self) -> Vec<(String, String)> {
        app_environment(&self.name, &self.app)
    }
}

/// The environment of app `name`: its own list, `AC_APP_NAME`, and `PATH`
/// when it sets none (contract section 6). Nothing of podinit's own.
pub fn app_environment(name: &str, app: &App) -> Vec<(String, String)> {
    let mut env = app.environment().to_vec();
    env.retain(|(key, _)| key != "AC_APP_NAME");
    env.push(("AC_APP_NAME".into(), name.to_owned()));
    if app.env_var("PATH").is_none() {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    env
}

/// In the app's child: drops to the app's privileges and user, in the
/// order the privileges module prescribes, and enters its working
/// directory as that user, so that it gets no further than the app could.
fn become_app(
    privileges: &Privileges,
    credentials: &Credentials,
    dir: &str,
) -> Result<(), StepError> {
    let step = |what: &'static str| {
        move |error| StepError {
            what: what.into(),
            error,
        }
    };
    privileges
        .before_credentials()
        .map_err(io::Error::from)
        .map_err(step("apply isolators"))?;
    credentials::apply(credentials).map_err(step("change user and group"))?;
    std::env::set_current_dir(dir).map_err(|error| StepError {
        what: format!("change directory to {dir}"),
        error,
    })?;
    privileges
        .after_credentials()
        .map_err(io::Error::from)
        .map_err(step("apply capabilities"))
}

/// Creates the status directory if needed and opens it.
fn open_status_dir(path: &Path) -> Result<StatusDir, PodError> {
    if let Err(error) = std::fs::create_dir_all(path) {
        return Err(PodError::StatusDir(path.to_owned(), error));
    }
    StatusDir::open(path).map_err(PodError::Records)
}

/// What the child wrote on its report pipe: why it could not start.
fn read_report(report: &OwnedFd) -> Option<String> {
    // The child wrote one message, then exited: read to the end, which is
    // near, and keep what is there whole.
    let mut message = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(length @ 1..) = rustix::io::read(report, &mut buffer) {
        message.extend_from_slice(&buffer[..length]);
        if message.len() >= 64 * 1024 {
            break;
        }
    }
    (!message.is_empty()).then(|| String::from_utf8_lossy(&message).into_owned())
}
