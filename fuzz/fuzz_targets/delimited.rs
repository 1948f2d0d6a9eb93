//! Any bytes, read as delimited text (strict and lenient, through every compression and
//! format recognised by content): an error is fine, a panic is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use variosync_domain::time::Zone;
use variosync_formats::delimited::{ReadOptions, Reader};
use variosync_formats::table::Mode;

fuzz_target!(|data: &[u8]| {
    for mode in [Mode::Strict, Mode::Lenient] {
        let options =
            ReadOptions { mode, zone: Zone::Utc, default_series: "f".into(), mapping: Default::default() };
        if let Ok(reader) = Reader::new(Box::new(std::io::Cursor::new(data.to_vec())), &options) {
            for batch in reader {
                if batch.is_err() {
                    break;
                }
            }
        }
        if let Ok((source, _)) =
            variosync_formats::source::open(Box::new(std::io::Cursor::new(data.to_vec())), &options)
        {
            for batch in source {
                if batch.is_err() {
                    break;
                }
            }
        }
    }
});
