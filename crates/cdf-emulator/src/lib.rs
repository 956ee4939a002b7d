//! `cdf-emulator`: an in-memory emulator of the Cognite Data Fusion REST API for tests and
//! benchmarks. See README.md for the API surface, the admin API and the config file.

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod errors;
pub mod extensions;
pub mod faults;
pub mod limits;
pub mod realism;
pub mod resources;
pub mod server;
pub mod stats;
pub mod store;

use parking_lot::{Mutex, RwLock};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub use config::{CapabilityConfig, ClientConfig, EmulatorConfig};
pub use realism::{IdOrder, Realism};
pub use server::{serve, serve_with_shutdown, spawn_background, RunningEmulator, TlsFiles};

/// Shared state of one emulator instance.
pub struct Emulator {
    pub clients: RwLock<HashMap<String, ClientConfig>>,
    pub tokens: Mutex<HashMap<String, auth::TokenInfo>>,
    token_ttl_secs: AtomicU64,
    pub store: store::Store<resources::Project>,
    pub stats: stats::Stats,
    pub faults: faults::Faults,
    pub limiter: limits::Limiter,
    /// Cost model, limits, list delay and id order; kept across `/_admin/reset`.
    realism: RwLock<Arc<Realism>>,
    jitter: Mutex<StdRng>,
    request_seq: AtomicU64,
}

impl Emulator {
    pub fn new(config: EmulatorConfig) -> Self {
        Emulator {
            clients: RwLock::new(config.clients.into_iter().map(|c| (c.client_id.clone(), c)).collect()),
            tokens: Mutex::new(HashMap::new()),
            token_ttl_secs: AtomicU64::new(config.token_ttl_secs),
            store: store::Store::default(),
            stats: stats::Stats::default(),
            faults: faults::Faults::default(),
            limiter: limits::Limiter::default(),
            jitter: Mutex::new(StdRng::seed_from_u64(config.realism.seed)),
            realism: RwLock::new(Arc::new(config.realism)),
            request_seq: AtomicU64::new(1),
        }
    }

    pub fn token_ttl_secs(&self) -> u64 {
        self.token_ttl_secs.load(Ordering::Relaxed)
    }

    pub fn set_token_ttl_secs(&self, secs: u64) {
        self.token_ttl_secs.store(secs, Ordering::Relaxed);
    }

    pub fn realism(&self) -> Arc<Realism> {
        self.realism.read().clone()
    }

    /// Replaces the realism settings (cost model, limits, list delay, id order) at run time.
    /// Projects created earlier keep drawing ids as they did.
    pub fn set_realism(&self, realism: Realism) {
        *self.jitter.lock() = StdRng::seed_from_u64(realism.seed);
        self.limiter.reset();
        *self.realism.write() = Arc::new(realism);
    }

    /// A uniform draw in [0, 1) for the cost model's jitter (seeded, so runs are reproducible).
    pub fn jitter_draw(&self) -> f64 {
        self.jitter.lock().random()
    }

    /// The project named in the URL, created with the current id order on first use.
    pub fn project(&self, name: &str) -> Arc<resources::Project> {
        self.store.project_with(name, || {
            let r = self.realism();
            resources::Project::new(store::IdGen::new(r.ids, r.seed, name))
        })
    }

    /// Request ids are unique per instance and sortable, like `x-request-id` values in logs.
    pub fn next_request_id(&self) -> String {
        format!("emu-{:08x}", self.request_seq.fetch_add(1, Ordering::Relaxed))
    }
}
