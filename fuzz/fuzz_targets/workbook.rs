//! Any bytes, read as a workbook (xlsx, xls, ods), strict and lenient: an error is fine, a
//! panic is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use variosync_domain::time::Zone;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::table::Mode;

fuzz_target!(|data: &[u8]| {
    for mode in [Mode::Strict, Mode::Lenient] {
        let options =
            ReadOptions { mode, zone: Zone::Utc, default_series: "f".into(), mapping: Default::default() };
        let input = Box::new(std::io::Cursor::new(data.to_vec()));
        if let Ok(reader) = variosync_formats::workbook::open(input, &options) {
            for batch in reader {
                if batch.is_err() {
                    break;
                }
            }
        }
    }
});
