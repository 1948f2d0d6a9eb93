//! Any bytes, read as JSON in every layout: an error is fine, a panic is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use variosync_domain::time::Zone;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::json::{JsonReader, Shape};
use variosync_formats::table::Mode;

fuzz_target!(|data: &[u8]| {
    for shape in [Shape::Records, Shape::Lines, Shape::Columns] {
        for mode in [Mode::Strict, Mode::Lenient] {
            let options = ReadOptions {
                mode,
                zone: Zone::Utc,
                default_series: "f".into(),
                mapping: Default::default(),
            };
            let input = Box::new(std::io::Cursor::new(data.to_vec()));
            if let Ok(reader) = JsonReader::new(input, shape, &options) {
                for batch in reader {
                    if batch.is_err() {
                        break;
                    }
                }
            }
        }
    }
});
