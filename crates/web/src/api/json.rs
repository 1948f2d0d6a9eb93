//! JSON request bodies as the OpenAPI document describes them. Every body the API takes is
//! a JSON object, so anything else (an array that serde would read field by field, a bare
//! string) is refused with 422; and a number written with a zero fraction (`300.0`) is the
//! integer JSON Schema says it is. Answers serialise as `axum::Json` does.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

/// A JSON body (as an extractor) or answer (as a response).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Json<T>(pub T);

/// `value` with every number that has a zero fraction and fits an integer made one.
fn integral(value: Value) -> Value {
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            // The bounds are exact powers of two, so the casts below are exact.
            let whole = float.is_finite() && float.fract() == 0.0;
            if whole && float >= -(2f64.powi(63)) && float < 2f64.powi(63) {
                Value::Number(Number::from(float as i64))
            } else if whole && float >= 0.0 && float < 2f64.powi(64) {
                Value::Number(Number::from(float as u64))
            } else {
                Value::Number(number)
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(integral).collect()),
        Value::Object(fields) => {
            Value::Object(fields.into_iter().map(|(key, value)| (key, integral(value))).collect())
        }
        other => other,
    }
}

fn unprocessable(message: String) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, message).into_response()
}

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let axum::Json(value) = axum::Json::<Value>::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !value.is_object() {
            return Err(unprocessable("the body must be a JSON object".to_owned()));
        }
        serde_path_to_error::deserialize(integral(value)).map(Json).map_err(|error| {
            unprocessable(format!(
                "the JSON body does not fit: {}: {}",
                error.path(),
                error.inner()
            ))
        })
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers_and_the_rest_stay() {
        let value = serde_json::json!({"a": 300.0, "b": [1.5, -2.0], "c": 1e300, "d": "3.0"});
        let fixed = integral(value);
        assert_eq!(fixed, serde_json::json!({"a": 300, "b": [1.5, -2], "c": 1e300, "d": "3.0"}));
        assert!(fixed["a"].is_u64() && fixed["b"][1].is_i64());
    }
}
