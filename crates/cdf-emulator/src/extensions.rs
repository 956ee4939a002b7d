//! Request extensions: the values the connection layer (`server`) puts into every request's
//! extensions and the handlers (`api`, `resources`) read back. Owns nothing else, so both
//! sides can depend on it without depending on each other.

use std::sync::Arc;
use tokio::sync::Notify;

/// Handed to handlers in request extensions: `drop_now()` closes the connection unanswered.
#[derive(Clone)]
pub struct ConnControl(Arc<Notify>);

impl ConnControl {
    pub fn new() -> Self {
        ConnControl(Arc::new(Notify::new()))
    }

    pub fn drop_now(&self) {
        self.0.notify_one();
    }

    /// Completes once `drop_now` was called.
    pub async fn dropped(&self) {
        self.0.notified().await
    }
}

impl Default for ConnControl {
    fn default() -> Self {
        Self::new()
    }
}

/// Request id assigned by the server, in request extensions.
#[derive(Clone)]
pub struct RequestId(pub String);

/// Scheme and address clients reach this server at, in request extensions.
#[derive(Clone)]
pub struct BaseUrl(pub String);
