//! Summary statistics over durations (seconds) for `!incident stats`.

/// Arithmetic mean, `None` when `values` is empty.
pub fn mean(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().sum::<f64>() / values.len() as f64)
}

/// Median (mean of the two middle values for an even count), `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let sorted = sorted(values)?;
    let n = sorted.len();
    if n % 2 == 1 {
        Some(sorted[n / 2])
    } else {
        Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0)
    }
}

/// 90th percentile (nearest rank), `None` when empty.
pub fn p90(values: &[f64]) -> Option<f64> {
    let sorted = sorted(values)?;
    let rank = (0.9 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn sorted(values: &[f64]) -> Option<Vec<f64>> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_none() {
        assert_eq!(mean(&[]), None);
        assert_eq!(median(&[]), None);
        assert_eq!(p90(&[]), None);
    }

    #[test]
    fn values() {
        let v = [3.0, 1.0, 2.0, 10.0];
        assert_eq!(mean(&v), Some(4.0));
        assert_eq!(median(&v), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(p90(&ten), Some(9.0));
        assert_eq!(p90(&[7.0]), Some(7.0));
    }
}
