//! Summaries of samples: mean, median and nearest-rank percentiles.

/// The arithmetic mean; `None` for no samples.
pub fn mean(samples: &[f64]) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    Some(samples.iter().sum::<f64>() / samples.len() as f64)
}

/// The median (the mean of the two middle values for an even count); `None` for no samples.
pub fn median(samples: &[f64]) -> Option<f64> {
    let sorted = sorted(samples);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The nearest-rank percentile `p` (0 < p <= 100): the smallest sample that at least `p` % of
/// the samples do not exceed. `None` for no samples.
pub fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    let sorted = sorted(samples);
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A figure measured over several rounds: its median, and how much the rounds spread around
/// it, as the median of their absolute deviations from it divided by it (0.05 = ±5 %; not a
/// number for a single round).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    pub median: f64,
    pub spread: f64,
}

impl Summary {
    /// A figure that was not measured; printed as "-".
    pub const NOT_MEASURED: Summary = Summary {
        median: f64::NAN,
        spread: f64::NAN,
    };

    /// A figure that does not vary, such as a file's size.
    pub fn exact(value: f64) -> Self {
        Summary {
            median: value,
            spread: 0.0,
        }
    }

    pub fn of(values: &[f64]) -> Self {
        let Some(median) = median(values) else {
            return Summary::NOT_MEASURED;
        };
        // One round says nothing about how rounds spread.
        if values.len() < 2 {
            return Summary {
                median,
                spread: f64::NAN,
            };
        }
        let deviations: Vec<f64> = values.iter().map(|value| (value - median).abs()).collect();
        let spread = median_or_nan(&deviations) / median;
        Summary { median, spread }
    }
}

/// The summary of one figure of several runs.
pub fn summary_of<T>(runs: &[T], figure: impl Fn(&T) -> f64) -> Summary {
    let values: Vec<f64> = runs.iter().map(figure).collect();
    Summary::of(&values)
}

fn median_or_nan(samples: &[f64]) -> f64 {
    median(samples).unwrap_or(f64::NAN)
}

/// 0..len, starting at a different index each round so that no init always goes first.
pub fn rotated(len: usize, round: usize) -> impl Iterator<Item = usize> {
    (0..len).map(move |offset| (round + offset) % len)
}

fn sorted(samples: &[f64]) -> Vec<f64> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
    }

    #[test]
    fn summary_spread_is_relative_median_deviation() {
        let summary = Summary::of(&[90.0, 100.0, 110.0, 100.0, 300.0]);
        assert_eq!(
            summary,
            Summary {
                median: 100.0,
                spread: 0.1
            }
        );
        assert!(Summary::of(&[]).median.is_nan());
    }

    #[test]
    fn mean_of_samples() {
        assert_eq!(mean(&[1.0, 2.0, 6.0]), Some(3.0));
        assert_eq!(mean(&[]), None);
    }
}
