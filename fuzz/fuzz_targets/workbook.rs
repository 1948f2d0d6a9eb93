//! Any bytes, read as a workbook (xlsx, xls, ods), strict and lenient: an error is fine, a
//! panic is not. The reader turns the workbook library's own panics into errors, so the
//! panic hook libFuzzer installs (which aborts even on a caught panic) is put back to the
//! default once: a panic that escapes still aborts the run.
#![no_main]

use libfuzzer_sys::fuzz_target;
use variosync_domain::time::Zone;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::table::Mode;

fuzz_target!(
    init: {
        let _ = std::panic::take_hook();
    },
    |data: &[u8]| {
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
