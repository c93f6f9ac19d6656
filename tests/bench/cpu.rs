//! CPU placement. Where the processes of a measurement run changes what it measures: a
//! signal's round trip between processes on one CPU costs a few µs, across two CPUs that
//! wake from idle it can cost ten times more, varying with the scheduler's choice. Pinning
//! takes that choice away.

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

use crate::error::{Context, Result};

/// The CPUs this process was allowed to run on when the benchmark started.
pub struct Cpus {
    original: CpuSet,
    allowed: Vec<usize>,
}

impl Cpus {
    pub fn of_this_process() -> Result<Cpus> {
        let original =
            sched_getaffinity(None).context(|| "failed to get the CPU affinity".into())?;
        let allowed = (0..CpuSet::MAX_CPU)
            .filter(|&cpu| original.is_set(cpu))
            .collect();
        Ok(Cpus { original, allowed })
    }

    /// How many CPUs the benchmark may use.
    pub fn count(&self) -> usize {
        self.allowed.len()
    }

    /// One CPU to pin a measurement to: the last allowed one.
    pub fn one(&self) -> Option<usize> {
        self.allowed.last().copied()
    }

    /// Two different CPUs, when there are two: the last allowed one and the one before it.
    pub fn two(&self) -> Option<(usize, usize)> {
        match self.allowed[..] {
            [.., first, second] => Some((second, first)),
            _ => None,
        }
    }

    /// Runs this process, and every process it starts from now on, on `cpu` alone.
    pub fn pin(&self, cpu: Option<usize>) -> Result<()> {
        let Some(cpu) = cpu else { return Ok(()) };
        let mut only = CpuSet::new();
        only.set(cpu);
        sched_setaffinity(None, &only).context(|| format!("failed to pin to CPU {cpu}"))
    }

    /// Lets this process run on every CPU it was allowed at first again.
    pub fn unpin(&self) -> Result<()> {
        sched_setaffinity(None, &self.original)
            .context(|| "failed to restore the CPU affinity".into())
    }
}
