//! Start-up overhead: `INIT -- /bin/true`, run after run, against bare `/bin/true`.

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::cli::Options;
use crate::clock::monotonic_ns;
use crate::error::{Context, Error, Result};
use crate::inits::Init;
use crate::stats::{Summary, mean};

/// Runs of every variant before each round's timing starts (page cache, CPU frequency).
const WARMUP_RUNS: usize = 20;

/// How long the one untimed run of each variant may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

const TRUE: &str = "/bin/true";

/// Means over runs, each the median over rounds; one entry per init, in the inits' order.
pub struct Startup {
    pub bare_us: f64,
    pub per_run_us: Vec<Summary>,
    pub overhead_us: Vec<Summary>,
}

impl Startup {
    /// Figures of a run that skipped start-up: not numbers, printed as "-".
    pub fn not_measured(inits: usize) -> Self {
        let nan = vec![Summary::NOT_MEASURED; inits];
        Startup {
            bare_us: f64::NAN,
            per_run_us: nan.clone(),
            overhead_us: nan,
        }
    }
}

/// `options.runs` start-ups of each init and of bare /bin/true, split over the rounds.
pub fn measure(inits: &[Init], options: &Options) -> Result<Startup> {
    let (rounds, runs) = (options.rounds, options.runs);
    // Variant 0 is bare /bin/true, variant i + 1 is inits[i].
    let mut commands = vec![vec![OsString::from(TRUE)]];
    commands.extend(inits.iter().map(|init| init.command(&[TRUE])));

    for argv in &commands {
        probe(argv)?;
    }
    // The runs are split over the rounds: a round's mean is one sample of the median.
    let runs_per_round = runs.div_ceil(rounds);
    let mut means: Vec<Vec<f64>> = vec![Vec::new(); commands.len()];
    for done in 0..rounds {
        eprintln!("podinit-bench: start-up, round {} of {rounds}", done + 1);
        for (variant, mean) in round(&commands, runs_per_round)?.into_iter().enumerate() {
            means[variant].push(mean);
        }
    }
    let (bare, per_init) = means.split_first().expect("bare /bin/true is variant 0");
    Ok(Startup {
        bare_us: Summary::of(bare).median,
        per_run_us: per_init.iter().map(|init| Summary::of(init)).collect(),
        overhead_us: per_init.iter().map(|init| overhead(init, bare)).collect(),
    })
}

/// How much longer a run took under the init than bare, round by round.
fn overhead(init: &[f64], bare: &[f64]) -> Summary {
    let per_round: Vec<f64> = init
        .iter()
        .zip(bare)
        .map(|(init, bare)| init - bare)
        .collect();
    Summary::of(&per_round)
}

/// The mean time of one run of each variant, in µs. Every iteration runs each variant once,
/// in a new random order, so that neither drift of the machine nor what ran just before
/// favours one of them.
fn round(commands: &[Vec<OsString>], runs: usize) -> Result<Vec<f64>> {
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); commands.len()];
    let mut order: Vec<usize> = (0..commands.len()).collect();
    let mut shuffler = Shuffler::seeded();
    for iteration in 0..WARMUP_RUNS + runs {
        shuffler.shuffle(&mut order);
        for &variant in &order {
            let micros = time_run(&commands[variant])?;
            if iteration >= WARMUP_RUNS {
                samples[variant].push(micros);
            }
        }
    }
    Ok(samples
        .iter()
        .map(|samples| mean(samples).unwrap_or(f64::NAN))
        .collect())
}

/// Runs `argv` once, giving it `PROBE_TIMEOUT` to succeed: the timed runs wait without a
/// limit, so an init that does not end would stall them.
fn probe(argv: &[OsString]) -> Result<()> {
    let mut child = command(argv)
        .spawn()
        .context(|| format!("failed to run {}", line(argv)))?;
    let deadline = Instant::now() + PROBE_TIMEOUT;
    loop {
        let status = child
            .try_wait()
            .context(|| format!("failed to wait for {}", line(argv)))?;
        match status {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                return Err(Error::new(format!("{} exited with {status}", line(argv))));
            }
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let what = format!("{} did not exit within {PROBE_TIMEOUT:?}", line(argv));
                return Err(Error::new(what));
            }
            None => thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// How long `argv` took from spawn to exit, in µs; it must succeed.
fn time_run(argv: &[OsString]) -> Result<f64> {
    let start = Instant::now();
    let status = command(argv)
        .status()
        .context(|| format!("failed to run {}", line(argv)))?;
    let micros = start.elapsed().as_secs_f64() * 1e6;
    if !status.success() {
        return Err(Error::new(format!("{} exited with {status}", line(argv))));
    }
    Ok(micros)
}

/// `argv` with every standard stream on /dev/null: what an init prints must cost the same
/// little whatever it is.
fn command(argv: &[OsString]) -> Command {
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    command
}

fn line(argv: &[OsString]) -> String {
    argv.join(" ".as_ref()).to_string_lossy().into_owned()
}

/// A xorshift64 generator: enough to shuffle an order; no figure depends on its quality.
struct Shuffler(u64);

impl Shuffler {
    fn seeded() -> Self {
        Shuffler(monotonic_ns() | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Fisher-Yates.
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for last in (1..items.len()).rev() {
            let pick = (self.next() % (last as u64 + 1)) as usize;
            items.swap(last, pick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_keeps_every_item() {
        let mut shuffler = Shuffler(42);
        let mut items: Vec<usize> = (0..6).collect();
        for _ in 0..100 {
            shuffler.shuffle(&mut items);
            let mut sorted = items.clone();
            sorted.sort();
            assert_eq!(sorted, (0..6).collect::<Vec<_>>());
        }
    }
}
