//! CDF's error body: `{"error":{"code":N,"message":"...","missing":[...],"duplicated":[...]}}`.

use serde_json::{json, Value};

/// An error the API returns to the client, already in CDF's shape.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub missing: Vec<Value>,
    pub duplicated: Vec<Value>,
    /// Extra headers, e.g. `Retry-After` on 429.
    pub headers: Vec<(&'static str, String)>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into(), missing: Vec::new(), duplicated: Vec::new(), headers: Vec::new() }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(401, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, message)
    }
    /// 400 with `missing`, as CDF answers unknown ids.
    pub fn missing(missing: Vec<Value>) -> Self {
        let mut e = Self::new(400, "Ids not found");
        e.missing = missing;
        e
    }
    /// 409 with `duplicated`, as CDF answers an externalId that already exists.
    pub fn duplicated(duplicated: Vec<Value>) -> Self {
        let mut e = Self::new(409, "ExternalIds duplicated");
        e.duplicated = duplicated;
        e
    }
    /// 400 with `duplicated`, as CDF answers the same identifier twice in one request.
    pub fn duplicated_in_request(duplicated: Vec<Value>) -> Self {
        let mut e = Self::new(400, "Duplicate identifiers in request");
        e.duplicated = duplicated;
        e
    }
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    pub fn body(&self) -> Value {
        let mut err = json!({"code": self.status, "message": self.message});
        if !self.missing.is_empty() {
            err["missing"] = Value::Array(self.missing.clone());
        }
        if !self.duplicated.is_empty() {
            err["duplicated"] = Value::Array(self.duplicated.clone());
        }
        json!({ "error": err })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}
