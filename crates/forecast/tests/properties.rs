//! Every model gives finite forecasts, with ordered bands, on awkward series: constant,
//! linear, all negative, very short, and gappy (filled by the calendar); input no model
//! can use is a clear error, never a panic.

use proptest::prelude::*;
use variosync_forecast::calendar::regularize;
use variosync_forecast::{ForecastError, Model, Prediction, Series};

const LEVELS: [f64; 2] = [80.0, 95.0];

fn forecast(model: Model, values: &[f64], seasons: &[usize], horizon: usize) -> Prediction {
    let series = Series { values, times: &[], seasons };
    let fitted = model
        .forecaster(horizon)
        .fit(&series)
        .unwrap_or_else(|e| panic!("{model:?} on {values:?}: {e}"));
    fitted
        .predict(&vec![0; horizon], &LEVELS)
        .unwrap_or_else(|e| panic!("{model:?} on {values:?}: {e}"))
}

fn assert_sane(model: Model, values: &[f64], p: &Prediction, horizon: usize) {
    assert_eq!(p.mean.len(), horizon);
    assert_eq!(p.bands.len(), LEVELS.len());
    for (i, mean) in p.mean.iter().enumerate() {
        assert!(mean.is_finite(), "{model:?} on {values:?}: step {i} is {mean}");
        for band in &p.bands {
            let (lower, upper) = (band.lower[i], band.upper[i]);
            assert!(lower.is_finite() && upper.is_finite(), "{model:?}: band {lower}..{upper}");
            assert!(lower <= upper, "{model:?} on {values:?}: {lower} > {upper}");
        }
    }
}

fn seasons() -> impl Strategy<Value = Vec<usize>> {
    prop_oneof![Just(vec![]), Just(vec![4]), Just(vec![7]), Just(vec![12])]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn constant_series(value in -1e6f64..1e6, n in 3usize..60, seasons in seasons()) {
        let values = vec![value; n];
        for &model in Model::ALL.iter().filter(|m| m.available()) {
            let p = forecast(model, &values, &seasons, 6);
            assert_sane(model, &values, &p, 6);
            for mean in &p.mean {
                prop_assert!((mean - value).abs() <= 1e-6 * value.abs().max(1.0), "{model:?}: {mean}");
            }
        }
    }

    #[test]
    fn linear_series(start in -1e3f64..1e3, slope in -50f64..50.0, n in 3usize..80) {
        let values: Vec<f64> = (0..n).map(|t| start + slope * t as f64).collect();
        for &model in Model::ALL.iter().filter(|m| m.available()) {
            let p = forecast(model, &values, &[], 5);
            assert_sane(model, &values, &p, 5);
        }
    }

    #[test]
    fn negative_noisy_series(
        noise in proptest::collection::vec(-1.0f64..1.0, 3..120),
        level in -1e4f64..-10.0,
        seasons in seasons(),
    ) {
        let values: Vec<f64> = noise.iter().map(|e| level + e * level.abs() * 0.1).collect();
        for &model in Model::ALL.iter().filter(|m| m.available()) {
            let p = forecast(model, &values, &seasons, 8);
            assert_sane(model, &values, &p, 8);
        }
    }

    #[test]
    fn three_points(values in proptest::array::uniform3(-1e3f64..1e3)) {
        for &model in Model::ALL.iter().filter(|m| m.available()) {
            let p = forecast(model, &values, &[12], 12);
            assert_sane(model, &values, &p, 12);
        }
    }

    #[test]
    fn gappy_series_are_filled_then_forecast(
        keep in proptest::collection::vec(0u8..4, 20..200),
        seasonal in 0.0f64..50.0,
    ) {
        let hour = 3_600_000_000i64;
        // Drop about a quarter of the hours, never the first two.
        let rows: Vec<(i64, f64)> = keep
            .iter()
            .enumerate()
            .filter(|(i, k)| *i < 2 || **k != 0)
            .map(|(i, _)| (i as i64 * hour, 100.0 + seasonal * ((i % 24) as f64 / 4.0).sin()))
            .collect();
        let (times, values): (Vec<i64>, Vec<f64>) = rows.into_iter().unzip();
        let regular = regularize(&times, &values).unwrap();
        prop_assert_eq!(regular.values.len(), keep.len() - keep.iter().rev().take_while(|k| **k == 0).count().min(keep.len() - 2));
        let seasons = variosync_forecast::calendar::seasons(regular.frequency);
        for &model in Model::ALL.iter().filter(|m| m.available()) {
            let p = forecast(model, &regular.values, &seasons, 24);
            assert_sane(model, &regular.values, &p, 24);
        }
    }
}

#[test]
fn unusable_input_is_a_clear_error() {
    for &model in Model::ALL.iter().filter(|m| m.available()) {
        let forecaster = model.forecaster(4);
        let err = forecaster.fit(&Series::plain(&[])).unwrap_err();
        assert!(matches!(err, ForecastError::TooShort { got: 0, .. }), "{model:?}: {err}");
        for bad in [f64::NAN, f64::INFINITY] {
            let err = forecaster.fit(&Series::plain(&[1.0, bad, 3.0])).unwrap_err();
            assert!(matches!(err, ForecastError::NotFinite { index: 1, .. }), "{model:?}: {err}");
            assert!(err.to_string().contains("value 1 of the series"), "{err}");
        }
        let misaligned = Series { values: &[1.0, 2.0, 3.0], times: &[1, 2], seasons: &[] };
        assert!(matches!(forecaster.fit(&misaligned), Err(ForecastError::Misaligned { .. })));
        let fitted = forecaster.fit(&Series::plain(&[1.0, 2.0, 3.0, 4.0])).unwrap();
        assert!(matches!(fitted.predict(&[], &[]), Err(ForecastError::Horizon { .. })));
        assert!(matches!(fitted.predict(&[0], &[0.0]), Err(ForecastError::Level(_))));
        assert!(matches!(fitted.predict(&[0], &[f64::NAN]), Err(ForecastError::Level(_))));
    }
    assert!(matches!(Model::parse("lstm"), Err(ForecastError::UnknownModel(_))));
    assert_eq!(Model::parse(" Auto ").unwrap(), Model::Auto);
}
