//! Any bytes, read as a workbook (xlsx, xls, ods), strict and lenient: an error is fine, a
//! panic is not. The reader turns the workbook library's own panics into errors, so the
//! panic hook libFuzzer installs (which aborts even on a caught panic) is put back to the
//! default once: a panic that escapes still aborts the run. An allocation the system
//! refuses (the workbook library can ask for a dense grid of tens of GB) panics instead of
//! aborting, as the decoding child's memory limit turns it into a refusal in the product;
//! the reader's own guard then refuses the workbook.
#![no_main]
#![feature(alloc_error_hook)]

use libfuzzer_sys::fuzz_target;
use variosync_domain::time::Zone;
use variosync_formats::delimited::ReadOptions;
use variosync_formats::table::Mode;

fuzz_target!(
    init: {
        let _ = std::panic::take_hook();
        std::alloc::set_alloc_error_hook(|layout| {
            panic!("memory allocation of {} bytes failed", layout.size())
        });
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
