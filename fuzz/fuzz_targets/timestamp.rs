//! Any text, detected and read as a timestamp in every format and zone: an error is fine,
//! a panic is not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use variosync_domain::time::{DateOrder, EpochUnit, TimeFormat, Zone, detect, parse_date_and_time};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (first, second) = text.split_once('|').unwrap_or((&text, ""));
    let _ = detect([first, second], false);
    let _ = detect([first], true);
    let zones = [Zone::Utc, "+05:30".parse().unwrap(), "America/New_York".parse().unwrap()];
    let formats = [
        TimeFormat::Iso,
        TimeFormat::Dated(DateOrder::YearMonthDay),
        TimeFormat::Dated(DateOrder::DayMonthYear),
        TimeFormat::Dated(DateOrder::MonthDayYear),
        TimeFormat::Compact,
        TimeFormat::Epoch(EpochUnit::Seconds),
        TimeFormat::Epoch(EpochUnit::Nanos),
        TimeFormat::ExcelSerial,
    ];
    for zone in &zones {
        for format in formats {
            let _ = format.parse(first, zone);
            let _ = parse_date_and_time(first, second, format, zone);
        }
    }
    let _ = first.parse::<Zone>();
});
