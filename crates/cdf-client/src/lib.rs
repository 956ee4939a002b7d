//! cdf-client: the CDF REST client of cdf_fdw — OIDC client credentials with a token cache,
//! authenticated requests with CDF's retry rules, chunked writes and typed errors. No pgrx:
//! PostgreSQL concerns (interrupt checks) are injected by the caller.

pub mod aggregates;
pub mod error;
pub mod hierarchy;
pub mod instances;
pub mod metrics;
pub mod protobuf;
pub mod reader;
pub mod references;
pub mod runtime;
pub mod session;
pub mod writer;

pub use error::CdfError;
pub use hierarchy::{HierarchyError, HierarchyOrder, ParentRef, Unwritten, UnwrittenRow};
pub use metrics::{Counters, RequestLog, RequestRecord};
pub use reader::{Reader, Row};
pub use reqwest;
pub use runtime::Runtime;
pub use session::{new_http_client, Credentials, Idempotency, ServerConfig, Session};
pub use writer::{ChangeWriter, TableWriter, WriteError};
