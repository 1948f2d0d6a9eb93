//! Forecasting models (ETS, MSTL, Prophet, gradient boosting, a Temporal Fusion Transformer),
//! backtesting and accuracy metrics.
//!
//! Pure, synchronous compute over in-memory series: no I/O, no async runtime. Heavy
//! dependencies stay behind cargo features so that crates which do not forecast never pay
//! for their build. The models arrive with the forecasting work.
