//! The canonical table every dataset is stored as (DESIGN section 3): the series, the time
//! in UTC microseconds, then the value columns under their (sanitised) names.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};

/// The series column: dictionary-encoded text, never null.
pub const SERIES_ID: &str = "series_id";
/// The time column: microseconds since 1970 in UTC, never null.
pub const TS: &str = "ts";
/// The zone the time column is labelled with.
pub const TS_ZONE: &str = "UTC";

/// The type of the series column.
pub fn series_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// The type of the time column.
pub fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some(TS_ZONE.into()))
}

/// The schema of a dataset with these value columns (nullable, in this order).
pub fn canonical_schema(values: impl IntoIterator<Item = (String, DataType)>) -> Arc<Schema> {
    let mut fields =
        vec![Field::new(SERIES_ID, series_type(), false), Field::new(TS, ts_type(), false)];
    fields.extend(values.into_iter().map(|(name, data_type)| Field::new(name, data_type, true)));
    Arc::new(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_schema_starts_with_series_and_time() {
        let schema = canonical_schema([("close".to_owned(), DataType::Float64)]);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["series_id", "ts", "close"]);
        assert!(!schema.field(1).is_nullable());
        assert_eq!(schema.field(1).data_type(), &ts_type());
    }
}
