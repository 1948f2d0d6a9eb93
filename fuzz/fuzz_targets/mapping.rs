//! Any bytes as a person's mapping (the JSON object of choices) over a small table, and the
//! first line of the bytes as that table's header: the mapping is refused with a message or
//! proposed, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use variosync_formats::mapping::{Override, propose_with};

const ROWS: &str = "2024-01-02 09:30:00,AAA,1.5,100,x\n2024-01-02 09:31:00,BBB,1.25,200,y\n\
                    2024-01-02 09:31:00,AAA,1.75,300,z\n";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (header, mapping) = text.split_once('\n').unwrap_or(("time,symbol,close,volume,note", &text));
    let names: Vec<String> = header.split(',').map(str::to_owned).collect();
    let rows: Vec<Vec<String>> =
        ROWS.lines().map(|line| line.split(',').map(str::to_owned).collect()).collect();
    if let Ok(choice) = serde_json::from_str::<Override>(mapping) {
        let _ = propose_with(&names, &rows, &choice);
    }
    let _ = propose_with(&names, &rows, &Override::default());
});
