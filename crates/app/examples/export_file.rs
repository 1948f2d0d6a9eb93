//! Writes a dataset's stored Parquet part out as a dataset's export does (the same scan and
//! the same writers, without HTTP): `export_file PART OUT`, the format and compression from
//! OUT's extension. `bench/export.py` times it against DuckDB and measures its memory.

use std::path::Path;

use variosync_formats::export::{ExportOptions, format_for_path};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [part, out] = args.as_slice() else {
        return Err("usage: export_file PART OUT (the format from OUT's extension)".into());
    };
    let (format, packing) =
        format_for_path(Path::new(out)).ok_or("OUT's extension names no export format")?;
    let options = ExportOptions { packing, ..ExportOptions::new(format) };
    let part = variosync_engine::window::Part::open(Path::new(part))?;
    let file = part.open_file_handle()?;
    let schema = part.projected_schema(&[])?;
    let mut writer =
        variosync_formats::export::writer(std::fs::File::create(out)?, schema, &options)?;
    let mut rows = 0u64;
    variosync_engine::export::scan_rows(&part, &file, &[], i64::MIN, i64::MAX, &[], |batch| {
        rows += batch.num_rows() as u64;
        writer.write(batch).map_err(|e| variosync_engine::window::QueryError::Read(e.to_string()))
    })?;
    writer.finish()?;
    eprintln!("{rows} rows");
    Ok(())
}
