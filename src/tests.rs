//! In-backend tests (`cargo pgrx test`): what only a running backend can check.

use pgrx::prelude::*;

#[pg_test]
fn validator_rejects_unknown_server_options() {
    let r = std::panic::catch_unwind(|| {
        Spi::run("CREATE SERVER bad FOREIGN DATA WRAPPER cdf_fdw OPTIONS (url 'http://x')")
    });
    assert!(r.is_err());
}
