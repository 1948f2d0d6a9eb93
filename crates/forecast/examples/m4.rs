//! Fits every model on the M4 subsets and AirPassengers, holding out each series' last
//! `h` values (the competition's horizons), and writes one CSV row per series and model:
//! `dataset,id,model,chosen,seconds,forecast,lower95,upper95` (the three lists joined by
//! `;`). `bench/forecast.py` scores these rows beside statsforecast's and prophet's.
//!
//! Usage: `cargo run --release -p variosync-forecast --features prophet --example m4 --
//! DATA_DIR [MODEL...]`

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, NaiveDate};
use variosync_forecast::{Model, Series};

/// Dataset, file, horizon, season length.
const DATASETS: &[(&str, &str, usize, usize)] = &[
    ("yearly", "m4_yearly.csv", 6, 1),
    ("quarterly", "m4_quarterly.csv", 8, 4),
    ("monthly", "m4_monthly.csv", 18, 12),
    ("weekly", "m4_weekly.csv", 13, 1),
    ("daily", "m4_daily.csv", 14, 1),
    ("hourly", "m4_hourly.csv", 48, 24),
    ("air_passengers", "air_passengers.csv", 12, 12),
];

fn parse_time(text: &str) -> i64 {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_micros();
    }
    DateTime::parse_from_rfc3339(text).map(|d| d.timestamp_micros()).unwrap_or_else(|e| {
        panic!("unreadable time {text:?}: {e}");
    })
}

fn load(path: &std::path::Path) -> BTreeMap<String, (Vec<i64>, Vec<f64>)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut series: BTreeMap<String, (Vec<i64>, Vec<f64>)> = BTreeMap::new();
    for (number, line) in text.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        // Long layout `id,date,value`, or one series `date,value`.
        let (id, date, value) = match fields.as_slice() {
            [id, date, value] => (*id, *date, *value),
            [date, value] => ("AirPassengers", *date, *value),
            _ => panic!("{}:{}: expected id,date,value", path.display(), number + 1),
        };
        let value: f64 = value
            .parse()
            .unwrap_or_else(|e| panic!("{}:{}: {value:?}: {e}", path.display(), number + 1));
        let entry = series.entry(id.to_owned()).or_default();
        entry.0.push(parse_time(date));
        entry.1.push(value);
    }
    series
}

fn join(values: &[f64]) -> String {
    values.iter().map(|v| format!("{v:.6}")).collect::<Vec<_>>().join(";")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let data = std::path::PathBuf::from(args.next().expect("usage: m4 DATA_DIR [MODEL...]"));
    let models: Vec<Model> = {
        let names: Vec<String> = args.collect();
        if names.is_empty() {
            Model::ALL.to_vec()
        } else {
            names.iter().map(|n| Model::parse(n).unwrap_or_else(|e| panic!("{e}"))).collect()
        }
    };
    if models.contains(&Model::Prophet) {
        // Compiles Prophet's Stan model once per process, untimed: the first fit pays it.
        let warm: Vec<f64> = (0..30).map(|t| f64::from(t % 7)).collect();
        Model::Prophet.forecaster(1).fit(&Series::plain(&warm)).expect("Prophet warms up");
    }
    println!("dataset,id,model,chosen,seconds,forecast,lower95,upper95");
    for &(dataset, file, horizon, season) in DATASETS {
        for (id, (times, values)) in load(&data.join(file)) {
            let end = values.len() - horizon;
            // Hourly data has a weekly season too, which only MSTL uses; the others take the
            // shortest season, the competition's.
            let seasons: Vec<usize> = if season == 24 { vec![24, 168] } else { vec![season] };
            let series = Series { values: &values[..end], times: &times[..end], seasons: &seasons };
            let future = &times[end..];
            for model in &models {
                let started = Instant::now();
                let result = model
                    .forecaster(horizon)
                    .fit(&series)
                    .and_then(|f| Ok((f.describe(), f.predict(future, &[95.0])?)));
                let seconds = started.elapsed().as_secs_f64();
                match result {
                    Ok((chosen, p)) => println!(
                        "{dataset},{id},{},\"{chosen}\",{seconds:.6},{},{},{}",
                        model.name(),
                        join(&p.mean),
                        join(&p.bands[0].lower),
                        join(&p.bands[0].upper)
                    ),
                    Err(e) => eprintln!("{dataset} {id} {}: {e}", model.name()),
                }
            }
        }
    }
}
